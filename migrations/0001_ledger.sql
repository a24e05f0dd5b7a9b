-- The ledger: one row per (target, article id), and one per run.
CREATE TABLE posts (
    target            TEXT NOT NULL,
    article_id        TEXT NOT NULL,
    status            TEXT NOT NULL
                      CHECK (status IN ('pending', 'posted', 'queued', 'failed', 'uncertain', 'seen')),
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
    PRIMARY KEY (target, article_id)
) WITHOUT ROWID;

CREATE INDEX posts_by_status ON posts (status);

CREATE TABLE runs (
    id          INTEGER PRIMARY KEY,
    started_at  TEXT NOT NULL,
    finished_at TEXT,
    summary     TEXT
);

-- Small facts learned from platforms (a Mastodon instance's limit).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
