-- What herald learns about each target (an instance's text limit, a
-- session), kept between runs and read by dry runs.
CREATE TABLE target_state (
    target      TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    PRIMARY KEY (target, key)
) WITHOUT ROWID;

-- Instance limits kept in `meta` by earlier versions move here, dated long
-- ago so that the next posting run asks the instance again.
INSERT INTO target_state (target, key, value, updated_at)
    SELECT substr(key, 25), 'max_characters', value, '1970-01-01T00:00:00.000Z'
    FROM meta WHERE key LIKE 'mastodon.max_characters.%';
DELETE FROM meta WHERE key LIKE 'mastodon.max_characters.%';

-- The content hash is now a fingerprint of the article's facts, not of the
-- rendered text: old hashes cannot be compared, so they are cleared and the
-- next run adopts the current fingerprint without editing anything.
UPDATE posts SET content_hash = NULL;

-- When a post was last edited in place, for min_interval.
ALTER TABLE posts ADD COLUMN edited_at TEXT;
