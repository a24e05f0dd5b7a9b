-- Posts that wait for a person (`approval: true`, or `hold: true` in an
-- article) are recorded 'held'; `herald approve` sets `approved_at` and
-- lets them go. SQLite cannot widen a CHECK in place: the table is
-- rebuilt, every column kept.
CREATE TABLE posts_new (
    target            TEXT NOT NULL,
    article_id        TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('pending', 'posted', 'queued', 'failed', 'uncertain', 'seen', 'dropped', 'deleted', 'held')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    first_attempt_at  TEXT,
    last_attempt_at   TEXT,
    last_error        TEXT,
    content_hash      TEXT,
    idempotency_key   TEXT NOT NULL,
    remote_id         TEXT,
    remote_url        TEXT,
    posted_at         TEXT,
    updated_at        TEXT NOT NULL,
    edited_at         TEXT,
    not_before        TEXT,
    title             TEXT,
    published_at      TEXT,
    approved_at       TEXT,
    PRIMARY KEY (target, article_id)
) WITHOUT ROWID;

INSERT INTO posts_new SELECT target, article_id, status, attempts, first_attempt_at, last_attempt_at,
                             last_error, content_hash, idempotency_key, remote_id, remote_url, posted_at,
                             updated_at, edited_at, not_before, title, published_at, NULL
    FROM posts;

DROP TABLE posts;
ALTER TABLE posts_new RENAME TO posts;
CREATE INDEX posts_by_status ON posts (status);
CREATE INDEX posts_by_title ON posts (title, published_at);
