-- The slugs of the communities an annotation is live-shared with, space-separated,
-- written with the annotation in the same transaction. Feeds and page lookups read
-- it instead of joining annotation_shares and communities for every row they send.
ALTER TABLE annotations ADD COLUMN share_slugs TEXT;
UPDATE annotations SET share_slugs = (
    SELECT group_concat(c.slug, ' ') FROM annotation_shares s JOIN communities c ON c.id = s.community_id
    WHERE s.annotation_id = annotations.id AND s.removed_at IS NULL)
WHERE body_json IS NOT NULL;
