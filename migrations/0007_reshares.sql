-- Old articles announced again (`reshare`): how often, when last, and the
-- boost or repost that did it (undone before the next one).
ALTER TABLE posts ADD COLUMN reshares INTEGER NOT NULL DEFAULT 0;
ALTER TABLE posts ADD COLUMN reshared_at TEXT;
ALTER TABLE posts ADD COLUMN reshare_id TEXT;
