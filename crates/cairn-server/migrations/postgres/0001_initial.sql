-- Cairn server schema, PostgreSQL flavour; the same tables as migrations/sqlite/ after all its steps.
-- Times are Unix milliseconds (BIGINT). Ids are text: UUIDs, annotations their client-made urn:uuid (v7).

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT,
    created_at    BIGINT NOT NULL,
    -- The number the next change to one of this user's annotations gets (GET /v1/me/changes).
    next_seq      BIGINT NOT NULL DEFAULT 1
);

CREATE TABLE tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    prefix      TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX tokens_prefix ON tokens(prefix);

CREATE TABLE communities (
    id          TEXT PRIMARY KEY,
    slug        TEXT NOT NULL UNIQUE,
    name        TEXT NOT NULL,
    -- Taken with UPDATE ... RETURNING inside the write transaction: the row lock
    -- makes commit order equal sequence order.
    next_seq    BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL,
    archived_at BIGINT
);

CREATE TABLE memberships (
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    community_id  TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    role          TEXT NOT NULL CHECK (role IN ('owner', 'moderator', 'member')),
    created_at    BIGINT NOT NULL,
    PRIMARY KEY (user_id, community_id)
);
CREATE INDEX memberships_community ON memberships(community_id);

CREATE TABLE annotations (
    id           TEXT PRIMARY KEY,
    author_id    TEXT NOT NULL REFERENCES users(id),
    page_key     TEXT,
    source_url   TEXT,
    body_json    TEXT,
    note_html    TEXT,
    created_at   BIGINT NOT NULL,
    modified_at  BIGINT NOT NULL,
    deleted_at   BIGINT,
    author_seq   BIGINT,
    search_text  TEXT,
    tags_text    TEXT,
    extra_json   TEXT
);
CREATE INDEX annotations_page ON annotations(page_key, created_at);
CREATE INDEX annotations_author ON annotations(author_id);
CREATE UNIQUE INDEX annotations_author_feed ON annotations(author_id, author_seq);
CREATE INDEX annotations_created ON annotations(created_at, id);

CREATE TABLE annotation_shares (
    annotation_id  TEXT NOT NULL REFERENCES annotations(id) ON DELETE CASCADE,
    community_id   TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    seq            BIGINT NOT NULL,
    removed_at     BIGINT,
    PRIMARY KEY (annotation_id, community_id)
);
CREATE UNIQUE INDEX annotation_shares_feed ON annotation_shares(community_id, seq);

CREATE TABLE applied_mutations (
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    device_id  TEXT NOT NULL,
    seq        BIGINT NOT NULL,
    applied_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, seq)
);

CREATE TABLE invites (
    code_hash     TEXT PRIMARY KEY,
    community_id  TEXT NOT NULL REFERENCES communities(id) ON DELETE CASCADE,
    created_by    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT,
    uses_left     BIGINT
);
