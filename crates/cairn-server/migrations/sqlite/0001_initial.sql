-- Cairn server schema, SQLite flavour. Times are Unix milliseconds (INTEGER).
-- Ids are text: users and tokens use UUIDs, annotations their client-made urn:uuid (v7).

CREATE TABLE users (
    id            TEXT PRIMARY KEY NOT NULL,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    -- NULL: the account cannot sign in with a password (tokens issued by an admin only).
    password_hash TEXT,
    created_at    INTEGER NOT NULL
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    -- SHA-256 hex of the whole token; the token itself is never stored.
    token_hash  TEXT NOT NULL UNIQUE,
    -- The first characters of the token, so an admin can name it for revocation.
    prefix      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER,
    revoked_at  INTEGER
);
CREATE INDEX tokens_prefix ON tokens(prefix);

CREATE TABLE communities (
    id          TEXT PRIMARY KEY NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    -- The sequence number the next change shared with this community gets.
    -- Taken inside the write transaction, so commit order equals sequence order.
    next_seq    INTEGER NOT NULL DEFAULT 1,
    created_at  INTEGER NOT NULL
);

CREATE TABLE memberships (
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    community_id  TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'member')),
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (user_id, community_id)
);
CREATE INDEX memberships_community ON memberships(community_id);

CREATE TABLE annotations (
    id           TEXT PRIMARY KEY NOT NULL,
    author_id    TEXT NOT NULL REFERENCES users(id),
    -- NULL only for a tombstone of an id the server never saw alive.
    page_key     TEXT,
    source_url   TEXT,
    body_json    TEXT,
    note_html    TEXT,
    created_at   INTEGER NOT NULL,
    modified_at  INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE INDEX annotations_page ON annotations(page_key, created_at);
CREATE INDEX annotations_author ON annotations(author_id);

CREATE TABLE annotation_shares (
    annotation_id  TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    community_id   TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    -- Bumped on every change the community must hear about (edit, unshare, delete).
    seq            INTEGER NOT NULL,
    -- Set when the author stops sharing with this community; the row stays so that
    -- the community's change feed can tell members to drop it.
    removed_at     INTEGER,
    PRIMARY KEY (annotation_id, community_id)
);
CREATE UNIQUE INDEX annotation_shares_feed ON annotation_shares(community_id, seq);

CREATE TABLE applied_mutations (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id  TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, device_id, seq)
);
