-- A community's feed positions are handed out when a push commits, not while it
-- runs. Positions must follow commit order (a reader's cursor may never pass a
-- position that is still to commit), so handing one out locks the community's
-- counter until commit; taken mid-transaction, that lock was held across the
-- push's remaining round trips and every other push to the community queued
-- behind them. Now a push writes its share rows without a position (seq NULL)
-- and this deferred trigger numbers them inside COMMIT: the lock is held for
-- microseconds, with no client round trip under it.
--
-- The counters live in their own table: each position taken updates the counter
-- row, and `communities` is read by every request.

CREATE TABLE community_positions (
    community_id TEXT PRIMARY KEY REFERENCES communities(id) ON DELETE CASCADE,
    next_seq     BIGINT NOT NULL
);
INSERT INTO community_positions (community_id, next_seq) SELECT id, next_seq FROM communities;

ALTER TABLE annotation_shares ALTER COLUMN seq DROP NOT NULL;

-- Numbers one share row of the committing transaction. Rows are numbered in the
-- order they were written; a row written twice is numbered once. Only this
-- transaction's rows can have no number: committed rows always have one.
CREATE FUNCTION cairn_number_share() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    position BIGINT;
BEGIN
    PERFORM 1 FROM annotation_shares
        WHERE annotation_id = NEW.annotation_id AND community_id = NEW.community_id AND seq IS NULL;
    IF FOUND THEN
        INSERT INTO community_positions AS p (community_id, next_seq) VALUES (NEW.community_id, 2)
            ON CONFLICT (community_id) DO UPDATE SET next_seq = p.next_seq + 1
            RETURNING p.next_seq - 1 INTO position;
        UPDATE annotation_shares SET seq = position
            WHERE annotation_id = NEW.annotation_id AND community_id = NEW.community_id;
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER annotation_shares_number_at_commit
    AFTER INSERT OR UPDATE ON annotation_shares
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.seq IS NULL)
    EXECUTE FUNCTION cairn_number_share();
