//! The ledger: what was posted where, in SQLite (WAL). The only SQL in
//! herald. Keyed by (target, article id); what was posted (content hash,
//! remote id and URL) is recorded beside the key, so an edit never changes
//! it.
//!
//! The schema lives in numbered files under `migrations/`, applied at open
//! and tracked in `PRAGMA user_version`. A ledger from a newer herald is
//! refused; a file that is not a ledger is reported and never overwritten.
//! The file is created 0600: it holds remote ids and the history of posts.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, params};
use serde::Serialize;

use crate::social::Learned;

pub mod transfer;

/// The migrations, in order; the schema version is their count.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_ledger.sql"),
    include_str!("../../migrations/0002_target_state.sql"),
    include_str!("../../migrations/0003_waits_moves_sites.sql"),
    include_str!("../../migrations/0004_deleted.sql"),
    include_str!("../../migrations/0005_held.sql"),
    include_str!("../../migrations/0006_reference.sql"),
    include_str!("../../migrations/0007_reshares.sql"),
];

/// What marks the id of a thread's later part: `{article id}#part-{n}`,
/// n from 2. Each part is a row of its own, with the guarantees of any
/// post (pending before it is sent, posted after), so a killed run goes on
/// with the thread without repeating a part.
pub const PART_MARK: &str = "#part-";

/// The ledger id of part `n` (from 2) of the thread of `article_id`.
pub fn part_id(article_id: &str, n: usize) -> String {
    format!("{article_id}{PART_MARK}{n}")
}

/// The article a row belongs to and, for a thread's later part, its
/// number.
pub fn part_of(article_id: &str) -> (&str, Option<usize>) {
    match article_id.rsplit_once(PART_MARK) {
        Some((main, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
            (main, n.parse().ok())
        }
        _ => (article_id, None),
    }
}

/// Why the ledger cannot be used. Nothing is sent when it cannot.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("state.path {}: {message}", crate::paths::display(.path))]
    Open { path: PathBuf, message: String },
    #[error(
        "state.path {}: this ledger was written by a newer herald (schema {found}; this herald knows up to {known}); upgrade herald, it is left as it is",
        crate::paths::display(.path)
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "state.path {}: not a herald ledger or damaged ({message}); it is left as it is: restore it from a backup, or move it away and adopt the published articles with `herald publish --mark-seen` (so that nothing is posted again)",
        crate::paths::display(.path)
    )]
    Corrupt { path: PathBuf, message: String },
    #[error("state.path {}: {message}", crate::paths::display(.path))]
    Write { path: PathBuf, message: String },
    #[error(
        "state.path {}: this ledger belongs to the site {owner} and this config is for {site}; give each site its own state.path (target names are the ledger's keys, so two sites in one ledger would hide each other's posts)",
        crate::paths::display(.path)
    )]
    OtherSite {
        path: PathBuf,
        owner: String,
        site: String,
    },
    #[error(
        "state.path {}: the ledger cannot be written ({message}): the disk is full, a file size limit was reached, or the disk is failing; free some space and run again (the ledger is not damaged: keep it where it is; nothing more was sent)",
        crate::paths::display(.path)
    )]
    Disk { path: PathBuf, message: String },
}

/// Where a post stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Recorded before sending; still pending means the run died mid-send.
    Pending,
    Posted,
    /// Due, but held back by min_interval, max_per_run or a rate limit.
    Queued,
    Failed,
    /// Maybe posted, maybe not: not resent without --retry-uncertain.
    Uncertain,
    /// Adopted with --mark-seen: handled without sending.
    Seen,
    /// Never sent: it grew older than `max_age` while it waited.
    Dropped,
    /// Posted, then deleted because the article was unpublished.
    Deleted,
    /// Due, waiting for `herald approve` (`approval`, or `hold` in the
    /// article).
    Held,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Posted => "posted",
            Status::Queued => "queued",
            Status::Failed => "failed",
            Status::Uncertain => "uncertain",
            Status::Seen => "seen",
            Status::Dropped => "dropped",
            Status::Deleted => "deleted",
            Status::Held => "held",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "pending" => Status::Pending,
            "posted" => Status::Posted,
            "queued" => Status::Queued,
            "failed" => Status::Failed,
            "uncertain" => Status::Uncertain,
            "dropped" => Status::Dropped,
            "deleted" => Status::Deleted,
            "held" => Status::Held,
            _ => Status::Seen,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One (target, article) row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    pub target: String,
    pub article_id: String,
    pub status: Status,
    pub attempts: u32,
    pub first_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub content_hash: Option<String>,
    pub idempotency_key: String,
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    pub posted_at: Option<DateTime<Utc>>,
    /// When the post was last edited in place.
    pub edited_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
    /// Not to be tried before this time (a server asked to wait).
    pub not_before: Option<DateTime<Utc>>,
    /// The article's title and publish time when it was recorded, so that
    /// its records can follow it if its id changes.
    pub title: Option<String>,
    pub published_at: Option<String>,
    /// When `herald approve` let it go (a post that needs approval is
    /// sent only once this is set).
    pub approved_at: Option<DateTime<Utc>>,
    /// What a reply to the post needs besides its id (a record's content id).
    pub reference: Option<String>,
    /// How often the post was announced again (`reshare`), when last,
    /// and the boost or repost that did it.
    pub reshares: u32,
    pub reshared_at: Option<DateTime<Utc>>,
    pub reshare_id: Option<String>,
}

impl Record {
    /// Whether the row is a thread's later part, not an article's post.
    pub fn is_part(&self) -> bool {
        part_of(&self.article_id).1.is_some()
    }
}

/// A post recorded without being sent: why, and under which key.
#[derive(Debug, Clone, Copy)]
pub struct Unsent<'a> {
    pub status: Status,
    pub reason: &'a str,
    pub idempotency_key: &'a str,
    pub content_hash: &'a str,
}

/// Everything a plan needs from the ledger, read once at the start.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    pub records: HashMap<(String, String), Record>,
    /// The time of each target's latest post or edit, for min_interval.
    pub last_posted: HashMap<String, DateTime<Utc>>,
    pub meta: HashMap<String, String>,
    /// What herald learned about each target.
    pub learned: HashMap<String, Learned>,
}

impl Snapshot {
    pub fn get(&self, target: &str, article_id: &str) -> Option<&Record> {
        self.records
            .get(&(target.to_string(), article_id.to_string()))
    }

    /// An article's records, moved to its new id (see `Ledger::move_article`).
    pub fn move_article(&mut self, from: &str, to: &str) {
        let keys: Vec<(String, String)> = self
            .records
            .keys()
            .filter(|(_, id)| part_of(id).0 == from)
            .cloned()
            .collect();
        for key in keys {
            let moved = format!("{to}{}", &key.1[from.len()..]);
            let target_key = (key.0.clone(), moved.clone());
            if self.records.contains_key(&target_key) {
                continue;
            }
            if let Some(mut r) = self.records.remove(&key) {
                r.article_id = moved;
                self.records.insert(target_key, r);
            }
        }
    }

    /// How many posts (and edits, which some platforms bill as posts)
    /// `target` made at or after `since`.
    pub fn sent_since(&self, target: &str, since: DateTime<Utc>) -> usize {
        self.records
            .values()
            .filter(|r| r.target == target)
            .map(|r| {
                usize::from(r.status == Status::Posted && r.posted_at.is_some_and(|at| at >= since))
                    + usize::from(r.edited_at.is_some_and(|at| at >= since))
            })
            .sum()
    }

    /// What was learned about `target` (nothing yet: empty).
    pub fn learned(&self, target: &str) -> Learned {
        self.learned.get(target).cloned().unwrap_or_default()
    }
}

/// An open ledger.
pub struct Ledger {
    conn: Connection,
    path: PathBuf,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.to_utc())
}

impl Ledger {
    /// Opens (creating on first use, 0600) the ledger at `path` for a run.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        let open_err = |message: String| LedgerError::Open {
            path: path.to_path_buf(),
            message,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create its folder: {e}")))?;
        }
        if !path.exists() {
            create_private(path).map_err(|e| open_err(format!("cannot create the ledger: {e}")))?;
        }
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
            .map_err(|e| classify_open_error(path, e))?;
        let ledger = Ledger {
            conn,
            path: path.to_path_buf(),
        };
        ledger.prepare(true)?;
        Ok(ledger)
    }

    /// Opens an existing ledger without changing anything on disk (no
    /// journal, no lock files): for dry runs and `status`. `None` when there
    /// is no ledger yet.
    pub fn open_read_only(path: &Path) -> Result<Option<Ledger>, LedgerError> {
        if !path.exists() {
            return Ok(None);
        }
        // A run that was killed leaves its last writes in the write-ahead
        // log (with its index, `-shm`): they are read from there, without
        // writing. With no log, the file is read as immutable, which needs
        // no lock file either.
        let wal = sidecar(path, "-wal");
        let shm = sidecar(path, "-shm");
        let has_log = wal.metadata().is_ok_and(|m| m.len() > 0) && shm.exists();
        let uri = format!(
            "file:{}{}",
            url::form_urlencoded::byte_serialize(path.to_string_lossy().as_bytes())
                .collect::<String>()
                .replace("%2F", "/"),
            if has_log { "" } else { "?immutable=1" }
        );
        let conn = Connection::open_with_flags(
            uri,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        )
        .map_err(|e| classify_open_error(path, e))?;
        let ledger = Ledger {
            conn,
            path: path.to_path_buf(),
        };
        ledger.prepare(false)?;
        Ok(Some(ledger))
    }

    /// An error reading the ledger: damage, unless the disk itself failed.
    fn corrupt(&self, e: rusqlite::Error) -> LedgerError {
        disk_error(&self.path, &e).unwrap_or_else(|| LedgerError::Corrupt {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    fn write_err(&self, e: rusqlite::Error) -> LedgerError {
        if let Some(disk) = disk_error(&self.path, &e) {
            return disk;
        }
        let message = match &e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly => {
                "the ledger is read-only; herald needs to write it to record posts".to_string()
            }
            _ => e.to_string(),
        };
        LedgerError::Write {
            path: self.path.clone(),
            message,
        }
    }

    /// Checks the schema version and, when writable, migrates.
    fn prepare(&self, writable: bool) -> Result<(), LedgerError> {
        let known = MIGRATIONS.len() as i64;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.corrupt(e))?;
        // A quick look at the file's structure: a damaged page shows here.
        let check: String = self
            .conn
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(|e| self.corrupt(e))?;
        if check != "ok" {
            return Err(LedgerError::Corrupt {
                path: self.path.clone(),
                message: check,
            });
        }
        if version > known {
            return Err(LedgerError::TooNew {
                path: self.path.clone(),
                found: version,
                known,
            });
        }
        if version == 0 {
            let tables: i64 = self
                .conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| self.corrupt(e))?;
            if tables > 0 {
                return Err(LedgerError::Corrupt {
                    path: self.path.clone(),
                    message: "an SQLite database with other tables".to_string(),
                });
            }
        }
        if !writable {
            return Ok(());
        }
        self.conn
            .busy_timeout(std::time::Duration::from_secs(10))
            .map_err(|e| self.write_err(e))?;
        self.conn
            .query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .map_err(|e| self.write_err(e))?;
        self.conn
            .execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")
            .map_err(|e| self.write_err(e))?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let next = i as i64 + 1;
            self.conn
                .execute_batch(&format!(
                    "BEGIN;\n{sql}\nPRAGMA user_version = {next};\nCOMMIT;"
                ))
                .map_err(|e| {
                    let _ = self.conn.execute_batch("ROLLBACK;");
                    self.write_err(e)
                })?;
        }
        Ok(())
    }

    /// Reads everything a plan needs.
    pub fn snapshot(&self) -> Result<Snapshot, LedgerError> {
        let mut snapshot = Snapshot::default();
        for r in self.records()? {
            let sent = [
                r.posted_at.filter(|_| r.status == Status::Posted),
                r.edited_at,
            ];
            if let Some(at) = sent.into_iter().flatten().max() {
                let last = snapshot.last_posted.entry(r.target.clone()).or_insert(at);
                if at > *last {
                    *last = at;
                }
            }
            snapshot
                .records
                .insert((r.target.clone(), r.article_id.clone()), r);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta")
            .map_err(|e| self.corrupt(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.corrupt(e))?;
        for row in rows {
            let (k, v) = row.map_err(|e| self.corrupt(e))?;
            snapshot.meta.insert(k, v);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT target, key, value, updated_at FROM target_state")
            .map_err(|e| self.corrupt(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })
            .map_err(|e| self.corrupt(e))?;
        for row in rows {
            let (target, key, value, at) = row.map_err(|e| self.corrupt(e))?;
            snapshot.learned.entry(target).or_default().set(
                &key,
                value,
                parse_time(Some(at)).unwrap_or_default(),
            );
        }
        Ok(snapshot)
    }

    /// Every row, ordered by article then target.
    pub fn records(&self) -> Result<Vec<Record>, LedgerError> {
        self.query("1 = 1", [])
    }

    /// One (target, article) row.
    pub fn get(&self, target: &str, article_id: &str) -> Result<Option<Record>, LedgerError> {
        Ok(self
            .query(
                "target = ?1 AND article_id = ?2",
                params![target, article_id],
            )?
            .pop())
    }

    fn query(&self, filter: &str, args: impl rusqlite::Params) -> Result<Vec<Record>, LedgerError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT target, article_id, status, attempts, first_attempt_at, last_attempt_at, last_error,
                        content_hash, idempotency_key, remote_id, remote_url, posted_at, edited_at, updated_at,
                        not_before, title, published_at, approved_at, reference,
                        reshares, reshared_at, reshare_id
                 FROM posts WHERE {filter} ORDER BY article_id, target"
            ))
            .map_err(|e| self.corrupt(e))?;
        let rows = stmt
            .query_map(args, |r| {
                Ok(Record {
                    target: r.get(0)?,
                    article_id: r.get(1)?,
                    status: Status::parse(&r.get::<_, String>(2)?),
                    attempts: r.get(3)?,
                    first_attempt_at: parse_time(r.get(4)?),
                    last_attempt_at: parse_time(r.get(5)?),
                    last_error: r.get(6)?,
                    content_hash: r.get(7)?,
                    idempotency_key: r.get(8)?,
                    remote_id: r.get(9)?,
                    remote_url: r.get(10)?,
                    posted_at: parse_time(r.get(11)?),
                    edited_at: parse_time(r.get(12)?),
                    updated_at: parse_time(r.get(13)?).unwrap_or_default(),
                    not_before: parse_time(r.get(14)?),
                    title: r.get(15)?,
                    published_at: r.get(16)?,
                    approved_at: parse_time(r.get(17)?),
                    reference: r.get(18)?,
                    reshares: r.get(19)?,
                    reshared_at: parse_time(r.get(20)?),
                    reshare_id: r.get(21)?,
                })
            })
            .map_err(|e| self.corrupt(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.corrupt(e))
    }

    /// Records an attempt about to be made: pending, with its key, before
    /// anything is sent.
    pub fn begin_attempt(
        &self,
        target: &str,
        article_id: &str,
        key: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "INSERT INTO posts (target, article_id, status, attempts, first_attempt_at, last_attempt_at,
                                    content_hash, idempotency_key, updated_at)
                 VALUES (?1, ?2, 'pending', 1, ?3, ?3, ?4, ?5, ?3)
                 ON CONFLICT (target, article_id) DO UPDATE SET
                    status = 'pending', attempts = attempts + 1,
                    first_attempt_at = coalesce(first_attempt_at, ?3), last_attempt_at = ?3,
                    content_hash = ?4, idempotency_key = ?5, updated_at = ?3, not_before = NULL",
                params![target, article_id, time(now), hash, key],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// The platform made the post.
    pub fn mark_posted(
        &self,
        target: &str,
        article_id: &str,
        delivered: &crate::social::Delivered,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE posts SET status = 'posted', remote_id = coalesce(?3, remote_id),
                        remote_url = coalesce(?4, remote_url), reference = coalesce(?6, reference),
                        last_error = NULL, posted_at = ?5, updated_at = ?5
                 WHERE target = ?1 AND article_id = ?2",
                params![
                    target,
                    article_id,
                    delivered.remote_id,
                    delivered.remote_url,
                    time(now),
                    delivered.reference
                ],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// Sets the status (failed, uncertain, queued) with a reason.
    pub fn mark(
        &self,
        target: &str,
        article_id: &str,
        status: Status,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE posts SET status = ?3, last_error = ?4, updated_at = ?5 WHERE target = ?1 AND article_id = ?2",
                params![target, article_id, status.as_str(), error, time(now)],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// Records a post held back (or adopted) without an attempt: queued or
    /// seen. Never downgrades a posted row.
    pub fn record_unsent(
        &self,
        target: &str,
        article_id: &str,
        unsent: &Unsent<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let Unsent {
            status,
            reason,
            idempotency_key: key,
            content_hash: hash,
        } = *unsent;
        self.conn
            .execute(
                "INSERT INTO posts (target, article_id, status, content_hash, idempotency_key, last_error, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (target, article_id) DO UPDATE SET
                    status = ?3, content_hash = coalesce(content_hash, ?4), last_error = ?6, updated_at = ?7
                 WHERE status != 'posted'",
                params![target, article_id, status.as_str(), hash, key, reason, time(now)],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// A posted article was announced again; `id` is the boost or repost
    /// that did it, where there is one.
    pub fn mark_reshared(
        &self,
        target: &str,
        article_id: &str,
        id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE posts SET reshares = reshares + 1, reshared_at = ?3, reshare_id = ?4, updated_at = ?3
                 WHERE target = ?1 AND article_id = ?2 AND status = 'posted'",
                params![target, article_id, time(now), id],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// Lets the held posts that `chosen` picks go: the next run sends
    /// them, within its pacing. Returns those let go.
    pub fn approve(
        &self,
        chosen: impl Fn(&Record) -> bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Record>, LedgerError> {
        let mut released = Vec::new();
        for r in self.query("status = 'held'", [])? {
            if !chosen(&r) {
                continue;
            }
            self.conn
                .execute(
                    "UPDATE posts SET status = 'queued', approved_at = ?3, last_error = 'approved', updated_at = ?3
                     WHERE target = ?1 AND article_id = ?2 AND status = 'held'",
                    params![r.target, r.article_id, time(now)],
                )
                .map_err(|e| self.write_err(e))?;
            released.push(r);
        }
        Ok(released)
    }

    /// An edited article's post was updated in place.
    pub fn mark_updated(
        &self,
        target: &str,
        article_id: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE posts SET content_hash = ?3, last_error = NULL, edited_at = ?4, updated_at = ?4
                 WHERE target = ?1 AND article_id = ?2",
                params![target, article_id, hash, time(now)],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// Records the fingerprint of a post made before fingerprints covered
    /// the article's facts, so that only later changes count as edits.
    pub fn adopt_fingerprint(
        &self,
        target: &str,
        article_id: &str,
        hash: &str,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE posts SET content_hash = ?3 WHERE target = ?1 AND article_id = ?2 AND content_hash IS NULL",
                params![target, article_id, hash],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// The server asked to wait until `not_before`: queued until then. An
    /// attempt that certainly was not acted on (`refund`) is not counted.
    pub fn wait_until(
        &self,
        target: &str,
        article_id: &str,
        reason: &str,
        not_before: DateTime<Utc>,
        refund: bool,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE posts SET status = 'queued', attempts = max(attempts - ?6, 0), last_error = ?3,
                        not_before = ?4, updated_at = ?5
                 WHERE target = ?1 AND article_id = ?2",
                params![target, article_id, reason, time(not_before), time(now), i64::from(refund)],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// Records the title and publish time of an article's rows, where
    /// they are not recorded yet.
    pub fn describe(
        &self,
        article_id: &str,
        title: &str,
        published: &str,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE posts SET title = ?2, published_at = ?3
                 WHERE article_id = ?1 AND (title IS NOT ?2 OR published_at IS NOT ?3)",
                params![article_id, title, published],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }

    /// An article's id changed (a new slug, a renamed file): its rows follow
    /// it, in one transaction.
    pub fn move_article(&self, from: &str, to: &str) -> Result<(), LedgerError> {
        self.conn
            .execute_batch("BEGIN IMMEDIATE")
            .map_err(|e| self.write_err(e))?;
        let moved = self
            .conn
            .execute(
                "UPDATE posts SET article_id = ?2 || substr(article_id, length(?1) + 1)
                 WHERE (article_id = ?1 OR substr(article_id, 1, length(?1) + length(?3)) = ?1 || ?3)
                 AND NOT EXISTS (SELECT 1 FROM posts p
                                 WHERE p.article_id = ?2 || substr(posts.article_id, length(?1) + 1)
                                 AND p.target = posts.target)",
                params![from, to, PART_MARK],
            )
            .and_then(|_| self.conn.execute_batch("COMMIT"));
        moved.map_err(|e| {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.write_err(e)
        })
    }

    /// Makes this ledger the one of `site` (its `site.url`), or refuses a
    /// ledger another site already uses: target names are the ledger's
    /// keys, so two sites in one ledger would hide each other's posts.
    pub fn claim_site(&self, site: &str) -> Result<(), LedgerError> {
        let owner: Option<String> = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'site.url'", [], |r| {
                r.get(0)
            })
            .map(Some)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(None),
                e => Err(e),
            })
            .map_err(|e| self.corrupt(e))?;
        match owner {
            Some(owner) if owner != site => Err(LedgerError::OtherSite {
                path: self.path.clone(),
                owner,
                site: site.to_string(),
            }),
            Some(_) => Ok(()),
            None => self
                .conn
                .execute(
                    "INSERT INTO meta (key, value) VALUES ('site.url', ?1)",
                    params![site],
                )
                .map(drop)
                .map_err(|e| self.write_err(e)),
        }
    }

    /// Whether the ledger has recorded any post or run.
    pub fn is_empty(&self) -> Result<bool, LedgerError> {
        self.conn
            .query_row(
                "SELECT NOT EXISTS (SELECT 1 FROM posts) AND NOT EXISTS (SELECT 1 FROM runs)",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.corrupt(e))
    }

    /// Keeps (`Some`) or forgets (`None`) a value learned about a target.
    pub fn set_learned(
        &self,
        target: &str,
        key: &str,
        value: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        let result = match value {
            Some(v) => self.conn.execute(
                "INSERT INTO target_state (target, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (target, key) DO UPDATE SET value = ?3, updated_at = ?4",
                params![target, key, v, time(now)],
            ),
            None => self.conn.execute(
                "DELETE FROM target_state WHERE target = ?1 AND key = ?2",
                params![target, key],
            ),
        };
        result.map(drop).map_err(|e| self.write_err(e))
    }

    pub fn start_run(&self, now: DateTime<Utc>) -> Result<i64, LedgerError> {
        self.conn
            .execute(
                "INSERT INTO runs (started_at) VALUES (?1)",
                params![time(now)],
            )
            .map_err(|e| self.write_err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    pub fn finish_run(
        &self,
        id: i64,
        now: DateTime<Utc>,
        summary: &str,
    ) -> Result<(), LedgerError> {
        self.conn
            .execute(
                "UPDATE runs SET finished_at = ?2, summary = ?3 WHERE id = ?1",
                params![id, time(now), summary],
            )
            .map(drop)
            .map_err(|e| self.write_err(e))
    }
}

/// A full disk, a file size limit or a failing disk: the ledger is not
/// damaged, and nothing about it should be moved or deleted.
fn disk_error(path: &Path, e: &rusqlite::Error) -> Option<LedgerError> {
    match e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure
            ) =>
        {
            Some(LedgerError::Disk {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        }
        _ => None,
    }
}

fn classify_open_error(path: &Path, e: rusqlite::Error) -> LedgerError {
    if let Some(disk) = disk_error(path, &e) {
        return disk;
    }
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            LedgerError::Corrupt {
                path: path.to_path_buf(),
                message: e.to_string(),
            }
        }
        _ => LedgerError::Open {
            path: path.to_path_buf(),
            message: e.to_string(),
        },
    }
}

/// The file SQLite keeps beside the ledger (`state.db-wal`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_os_string();
    name.push(suffix);
    PathBuf::from(name)
}

/// Creates an empty file readable and writable by its owner only.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn records_the_life_of_a_post() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/state.db");
        let ledger = Ledger::open(&path).unwrap();
        ledger
            .begin_attempt("mastodon", "https://x/a/", "k", "h1", now())
            .unwrap();
        let snap = ledger.snapshot().unwrap();
        let r = snap.get("mastodon", "https://x/a/").unwrap();
        assert_eq!((r.status, r.attempts), (Status::Pending, 1));
        ledger
            .mark(
                "mastodon",
                "https://x/a/",
                Status::Failed,
                "HTTP 503",
                now(),
            )
            .unwrap();
        ledger
            .begin_attempt("mastodon", "https://x/a/", "k", "h1", now())
            .unwrap();
        ledger
            .mark_posted(
                "mastodon",
                "https://x/a/",
                &crate::social::Delivered {
                    remote_id: Some("1".into()),
                    remote_url: Some("https://m/1".into()),
                    reference: None,
                },
                now(),
            )
            .unwrap();
        let snap = ledger.snapshot().unwrap();
        let r = snap.get("mastodon", "https://x/a/").unwrap();
        assert_eq!(
            (r.status, r.attempts, r.remote_url.as_deref()),
            (Status::Posted, 2, Some("https://m/1"))
        );
        assert_eq!(r.last_error, None);
        assert_eq!(snap.last_posted["mastodon"], now());
        // A queued or seen record never overwrites a posted one.
        let unsent = Unsent {
            status: Status::Queued,
            reason: "later",
            idempotency_key: "k",
            content_hash: "h2",
        };
        ledger
            .record_unsent("mastodon", "https://x/a/", &unsent, now())
            .unwrap();
        assert_eq!(
            ledger
                .snapshot()
                .unwrap()
                .get("mastodon", "https://x/a/")
                .unwrap()
                .status,
            Status::Posted
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    #[test]
    fn a_first_version_ledger_moves_its_limits_and_adopts_new_fingerprints() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(&format!(
            "{}\nPRAGMA user_version = 1;\n\
             INSERT INTO meta VALUES ('mastodon.max_characters.masto', '1000');\n\
             INSERT INTO posts (target, article_id, status, attempts, content_hash, idempotency_key, updated_at)\n\
             VALUES ('masto', 'https://x/a/', 'posted', 1, 'old-text-hash', 'k', '2024-01-01T00:00:00.000Z');",
            MIGRATIONS[0]
        ))
        .unwrap();
        drop(old);
        let snap = Ledger::open(&path).unwrap().snapshot().unwrap();
        let learned = snap.learned("masto");
        assert_eq!(learned.get("max_characters"), Some("1000"));
        // Dated long ago, so the instance is asked again.
        assert!(learned.stale("max_characters", now(), chrono::TimeDelta::days(1)));
        assert!(snap.meta.is_empty());
        let r = snap.get("masto", "https://x/a/").unwrap();
        assert_eq!(
            (r.status, r.content_hash.as_deref()),
            (Status::Posted, None)
        );
    }

    #[test]
    fn learned_values_are_kept_and_forgotten_per_target() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("state.db")).unwrap();
        ledger
            .set_learned("a", "session", Some("{}"), now())
            .unwrap();
        ledger
            .set_learned("b", "session", Some("other"), now())
            .unwrap();
        ledger.set_learned("a", "session", None, now()).unwrap();
        let snap = ledger.snapshot().unwrap();
        assert_eq!(snap.learned("a").get("session"), None);
        assert_eq!(snap.learned("b").get("session"), Some("other"));
        assert_eq!(snap.learned("b").fact("session").unwrap().at, now());
    }

    #[test]
    fn a_read_only_open_sees_what_a_killed_run_left_in_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let ledger = Ledger::open(&path).unwrap();
        ledger.begin_attempt("t", "a", "k", "h", now()).unwrap();
        // A killed run never checkpoints: the writes stay in the log.
        std::mem::forget(ledger);
        assert!(sidecar(&path, "-wal").metadata().unwrap().len() > 0);
        let before: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let ro = Ledger::open_read_only(&path).unwrap().unwrap();
        let snap = ro.snapshot().unwrap();
        assert_eq!(snap.get("t", "a").unwrap().status, Status::Pending);
        drop(ro);
        let after: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(before, after, "nothing created or removed");
    }

    #[test]
    fn refuses_a_newer_ledger_and_a_foreign_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        drop(Ledger::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        assert!(matches!(
            Ledger::open(&path),
            Err(LedgerError::TooNew { found: 99, .. })
        ));

        let junk = dir.path().join("junk.db");
        std::fs::write(
            &junk,
            b"this is not a database, just some text that is long enough to look like a header",
        )
        .unwrap();
        assert!(matches!(
            Ledger::open(&junk),
            Err(LedgerError::Corrupt { .. })
        ));
        assert_eq!(
            std::fs::read(&junk).unwrap(),
            b"this is not a database, just some text that is long enough to look like a header"
        );
    }

    #[test]
    fn read_only_open_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        assert!(Ledger::open_read_only(&path).unwrap().is_none());
        assert!(!path.exists());
        let ledger = Ledger::open(&path).unwrap();
        ledger.begin_attempt("t", "a", "k", "h", now()).unwrap();
        drop(ledger);
        let before: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        let ro = Ledger::open_read_only(&path).unwrap().unwrap();
        assert_eq!(ro.snapshot().unwrap().records.len(), 1);
        drop(ro);
        let after: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(before, after);
    }
}
