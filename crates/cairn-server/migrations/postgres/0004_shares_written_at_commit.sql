-- A push's share rows are written once, with their feed positions, inside
-- COMMIT. Migration 0003 had the push write them without a position and a
-- deferred trigger per row number them at commit: three statements per row
-- (each counter upsert checking its foreign key), and an UPDATE of a row the
-- same transaction inserted, which writes it twice and checks its foreign keys
-- twice. A push of 10 spent more there than in any statement of its own, with
-- the community's counter locked.
--
-- Now a push hands each community's share rows to the database as one
-- `share_batches` row: the annotation ids in push order and when each was
-- unshared (NULL: shared). Its deferred trigger fires at COMMIT, once per
-- community: it takes the community's counter (locked until the commit is done,
-- so positions follow commit order, and for no client round trip), writes the
-- share rows with their positions in one statement, and deletes the batch. A
-- batch never outlives its transaction, so the table is UNLOGGED: a crash
-- loses only batches of transactions that did not commit.
--
-- The same trigger announces the community's new position on `cairn_changes`
-- (a ChangeNotice as JSON), and a trigger on `users` announces the author's
-- personal feed: PostgreSQL delivers a transaction's notifications when, and
-- only if, it commits, so every server process on the database, the pushing
-- one included, hears exactly the committed changes, with their positions, and
-- a push needs no statement after COMMIT to learn them.

CREATE UNLOGGED TABLE share_batches (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    community_id   TEXT NOT NULL,
    slug           TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    annotation_ids TEXT[] NOT NULL,
    removed_ats    BIGINT[] NOT NULL,
    CHECK (cardinality(annotation_ids) = cardinality(removed_ats))
);

CREATE FUNCTION cairn_write_share_batch() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    taken BIGINT := cardinality(NEW.annotation_ids);
    first BIGINT;
BEGIN
    INSERT INTO community_positions AS p (community_id, next_seq) VALUES (NEW.community_id, 1 + taken)
        ON CONFLICT (community_id) DO UPDATE SET next_seq = p.next_seq + taken
        RETURNING p.next_seq - taken INTO first;
    INSERT INTO annotation_shares (annotation_id, community_id, seq, removed_at)
        SELECT b.annotation_id, NEW.community_id, first + b.place - 1, b.removed_at
        FROM unnest(NEW.annotation_ids, NEW.removed_ats) WITH ORDINALITY AS b(annotation_id, removed_at, place)
        ON CONFLICT (annotation_id, community_id) DO UPDATE SET seq = excluded.seq, removed_at = excluded.removed_at;
    DELETE FROM share_batches WHERE id = NEW.id;
    PERFORM pg_notify('cairn_changes',
        json_build_object('community', NEW.slug, 'author_id', NEW.author_id, 'seq', first + taken - 1)::text);
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER share_batches_write_at_commit
    AFTER INSERT ON share_batches
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION cairn_write_share_batch();

-- A push takes numbers of its author's personal feed and writes the next one
-- back at its end (`store::apply`): the last one taken is announced.
CREATE FUNCTION cairn_announce_personal_feed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('cairn_changes',
        json_build_object('community', NULL, 'author_id', NEW.id, 'seq', NEW.next_seq - 1)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER users_announce_personal_feed
    AFTER UPDATE OF next_seq ON users
    FOR EACH ROW WHEN (NEW.next_seq <> OLD.next_seq)
    EXECUTE FUNCTION cairn_announce_personal_feed();

DROP TRIGGER annotation_shares_number_at_commit ON annotation_shares;
DROP FUNCTION cairn_number_share();
-- Every committed share row has its position.
ALTER TABLE annotation_shares ALTER COLUMN seq SET NOT NULL;

-- (author_id, author_seq) answers every lookup by author this index did; one
-- index fewer to write for every annotation written.
DROP INDEX annotations_author;
