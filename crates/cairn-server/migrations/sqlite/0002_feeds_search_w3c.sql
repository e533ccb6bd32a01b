-- Per-user change feed, search columns, W3C extras, community lifecycle and invites.

-- The caller's own feed (GET /v1/me/changes): every change to one of a user's
-- annotations takes the user's next number inside the write transaction.
ALTER TABLE users ADD COLUMN next_seq INTEGER NOT NULL DEFAULT 1;
ALTER TABLE annotations ADD COLUMN author_seq INTEGER;
UPDATE annotations SET author_seq = (
    SELECT COUNT(*) FROM annotations b WHERE b.author_id = annotations.author_id AND b.rowid <= annotations.rowid);
UPDATE users SET next_seq = 1 + (SELECT COUNT(*) FROM annotations a WHERE a.author_id = users.id);
CREATE UNIQUE INDEX annotations_author_feed ON annotations(author_id, author_seq);

-- Lowercased note, quote and tags for search; tags_text is "\n" + tags joined by "\n" + "\n".
-- Filled by the server on every write (and for older rows when it starts).
ALTER TABLE annotations ADD COLUMN search_text TEXT;
ALTER TABLE annotations ADD COLUMN tags_text TEXT;
-- W3C protocol properties Cairn's model does not carry (canonical, via), as JSON.
ALTER TABLE annotations ADD COLUMN extra_json TEXT;
CREATE INDEX annotations_created ON annotations(created_at, id);

ALTER TABLE communities ADD COLUMN archived_at INTEGER;

CREATE TABLE invites (
    -- SHA-256 hex of the code; the code itself is shown once.
    code_hash     TEXT PRIMARY KEY NOT NULL,
    community_id  TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    created_by    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER,
    -- NULL: usable until it expires; otherwise how many joins are left.
    uses_left     INTEGER
);
