-- What a token is for (shown to its owner in GET /v1/me/tokens), and when it was
-- last used (written at most once per 10 minutes per token and server process).
ALTER TABLE tokens ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN last_used_at INTEGER;
CREATE INDEX tokens_user ON tokens(user_id);
