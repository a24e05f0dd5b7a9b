-- Claims, for several hosts sharing one ledger: the run that last changed
-- a post's status (`host/pid/nonce`), until when a pending post's claim
-- holds, and a revision that every change of status increases, so that a
-- run sends only what is still as it read it.
ALTER TABLE posts ADD COLUMN holder TEXT;
ALTER TABLE posts ADD COLUMN claim_expires_at TEXT;
ALTER TABLE posts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN holder TEXT;
-- A claim's pacing (with several hosts) reads a target's latest attempts.
CREATE INDEX posts_by_target_time ON posts (target, last_attempt_at);
