-- Replies (W3C motivation `replying`): the annotation a reply answers. A reply
-- is on its parent's page (`page_key` copied from it) and shared with exactly
-- its parent's communities; the server keeps both so when the parent changes
-- (`store/replies.rs`), which reads a parent's replies by this column.
ALTER TABLE annotations ADD COLUMN parent_id TEXT;
CREATE INDEX annotations_parent ON annotations(parent_id) WHERE parent_id IS NOT NULL;
