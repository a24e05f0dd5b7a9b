-- A post's reference for replies to it, where the platform needs more
-- than its id (a Bluesky record's cid), so a thread can go on in a later run.
ALTER TABLE posts ADD COLUMN reference TEXT;
