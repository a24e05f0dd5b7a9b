//! The ledger: what was posted where, and what herald learned about each
//! target. The only SQL in herald. Keyed by (target, article id); what was
//! posted (content hash, remote id and URL) is recorded beside the key, so
//! an edit never changes it.
//!
//! Two stores hold it, behind one interface and one set of statements
//! (written in the SQL both speak): an SQLite file for one host (the
//! default, `state.path`) and PostgreSQL for several (`state.url`). A post
//! is claimed by the one statement that records it pending: it succeeds
//! only while the row is as the run read it (its revision) or already the
//! run's own, so of any number of hosts exactly one sends it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::social::Learned;

mod postgres;
mod sqlite;
pub mod transfer;

pub use postgres::DatabaseUrl;
use postgres::Postgres;
use sqlite::Sqlite;

/// The schema version this herald writes: the count of SQLite's
/// migrations, which PostgreSQL's schema matches.
pub fn schema_version() -> i64 {
    sqlite::MIGRATIONS.len() as i64
}

/// How long a claim holds when its holder is not known to be dead: longer
/// than any one post's attempts take, so a live run's claim never expires
/// under it. A claim that expires is handled as SPEC §6 says for a run
/// that died while sending (resent where an idempotency key protects it,
/// `uncertain` elsewhere), never sent blindly.
pub const CLAIM_HOLDS: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

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

/// Where the ledger is, as the config says: for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    File(PathBuf),
    /// `state.url`, without its password.
    Database(String),
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Place::File(path) => write!(f, "state.path {}", crate::paths::display(path)),
            Place::Database(url) => write!(f, "state.url {url}"),
        }
    }
}

/// Where the config keeps the ledger.
#[derive(Debug, Clone)]
pub enum Location {
    File(PathBuf),
    Database(DatabaseUrl),
}

/// Why the ledger cannot be used. Nothing is sent when it cannot.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("{place}: {message}")]
    Open { place: Place, message: String },
    #[error(
        "{place}: this ledger was written by a newer herald (schema {found}; this herald knows up to {known}); upgrade herald, it is left as it is"
    )]
    TooNew {
        place: Place,
        found: i64,
        known: i64,
    },
    #[error(
        "{place}: not a herald ledger or damaged ({message}); it is left as it is: restore it from a backup, or move it away and adopt the published articles with `herald publish --mark-seen` (so that nothing is posted again)"
    )]
    Corrupt { place: Place, message: String },
    #[error("{place}: {message}")]
    Write { place: Place, message: String },
    #[error(
        "{place}: this ledger belongs to the site {owner} and this config is for {site}; give each site its own ledger (target names are the ledger's keys, so two sites in one ledger would hide each other's posts)"
    )]
    OtherSite {
        place: Place,
        owner: String,
        site: String,
    },
    #[error(
        "{place}: the ledger cannot be written ({message}): the disk is full, a file size limit was reached, or the disk is failing; free some space and run again (the ledger is not damaged: keep it where it is; nothing more was sent)"
    )]
    Disk { place: Place, message: String },
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
    /// The run that last changed the status (`host/pid/nonce`): while
    /// pending, the claim's holder.
    pub holder: Option<String>,
    /// Until when a pending post's claim holds.
    pub claim_expires_at: Option<DateTime<Utc>>,
    /// Raised by every change of status: a run sends a post only while
    /// it is as the run read it.
    pub revision: i64,
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
    /// Whether other hosts may be running now (a shared ledger): then a
    /// pending post may be in flight elsewhere.
    pub shared: bool,
    /// The holders of pending claims known to be dead when the ledger was
    /// read: runs of this machine whose process is gone.
    pub dead_holders: std::collections::HashSet<String>,
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

    /// Whether `record` is being sent by another run now: pending under a
    /// claim that has not expired and whose holder is not known to be
    /// dead. With one host (SQLite and its run lock) nothing is.
    pub fn in_flight(&self, record: &Record, now: DateTime<Utc>) -> bool {
        self.shared
            && record.status == Status::Pending
            && record.claim_expires_at.is_some_and(|at| at > now)
            && record
                .holder
                .as_deref()
                .is_some_and(|h| !self.dead_holders.contains(h))
    }

    /// What was learned about `target` (nothing yet: empty).
    pub fn learned(&self, target: &str) -> Learned {
        self.learned.get(target).cloned().unwrap_or_default()
    }
}

/// A value bound to or read from a statement: what both stores share.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl Value {
    fn text(self) -> Option<String> {
        match self {
            Value::Text(t) => Some(t),
            Value::Int(i) => Some(i.to_string()),
            Value::Null => None,
        }
    }

    fn int(&self) -> i64 {
        match self {
            Value::Int(i) => *i,
            Value::Text(t) => t.parse().unwrap_or_default(),
            Value::Null => 0,
        }
    }

    fn time(self) -> Option<DateTime<Utc>> {
        parse_time(self.text())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<&String> for Value {
    fn from(s: &String) -> Value {
        Value::Text(s.clone())
    }
}

impl From<Option<&str>> for Value {
    fn from(s: Option<&str>) -> Value {
        s.map_or(Value::Null, Value::from)
    }
}

impl From<&Option<String>> for Value {
    fn from(s: &Option<String>) -> Value {
        Value::from(s.as_deref())
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

impl From<DateTime<Utc>> for Value {
    fn from(t: DateTime<Utc>) -> Value {
        Value::Text(time(t))
    }
}

/// What a query read: its column names and rows.
#[derive(Debug, Default)]
pub(crate) struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// The statements' parameters, written `?1`, `?2`… in the SQL both stores
/// speak.
macro_rules! params {
    ($($v:expr),* $(,)?) => { vec![$(Value::from($v)),*] };
}

/// The store behind a ledger.
enum Store {
    Sqlite(Sqlite),
    Postgres(Postgres),
}

/// An open ledger.
pub struct Ledger {
    store: Store,
    /// This run's name in claims: `host/pid/nonce`.
    holder: String,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn parse_time(s: Option<String>) -> Option<DateTime<Utc>> {
    s.and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
        .map(|d| d.to_utc())
}

/// This machine's name, for claims.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at
    // most that many bytes and a NUL when it fits.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).replace('/', "_")
}

/// A new run's name in claims.
fn new_holder() -> String {
    format!(
        "{}/{}/{:08x}",
        host_name(),
        std::process::id(),
        rand::random::<u32>()
    )
}

/// Whether the run named `holder` may still be alive: a run on this
/// machine whose process is gone is not (its claims need not wait to
/// expire); one on another machine may be.
fn holder_alive(holder: &str) -> bool {
    let mut parts = holder.splitn(3, '/');
    let (Some(host), Some(pid)) = (parts.next(), parts.next()) else {
        return true;
    };
    if host != host_name() {
        return true;
    }
    let Ok(pid) = pid.parse::<libc::pid_t>() else {
        return true;
    };
    if pid == std::process::id() as libc::pid_t {
        return true;
    }
    // SAFETY: signal 0 sends nothing; it only asks whether the process
    // exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Whether a claim was granted, and if not, why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// Recorded pending under this run's name: send it.
    Granted,
    /// Another run changed the post since this run read the ledger (it is
    /// sending it, or sent it): left to it.
    Taken,
    /// Another host posted to the target within `min_interval`, or the
    /// targets' posts since this run began reached `max_per_run`.
    Paced,
}

/// The pacing a claim keeps across hosts (a shared ledger only: one host's
/// plan keeps it alone).
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub min_interval: chrono::TimeDelta,
    pub max_per_run: u32,
    pub run_started: DateTime<Utc>,
}

/// What every change of a post's status writes besides it: the claim is
/// released and the revision raised, so a plan that read the row before
/// can no longer claim it (`Ledger::claim`).
const RELEASED: &str = "claim_expires_at = NULL, revision = posts.revision + 1";

/// The condition that a row is not under another run's live claim (its
/// columns prefixed by `row`; `?holder`, `?now` and `?shared` the numbers
/// of the parameters holding this run's name, the time and whether the
/// ledger is shared): with one host every claim found is dead.
fn not_claimed_elsewhere(row: &str, holder: u8, now: u8, shared: u8) -> String {
    format!(
        "({row}status <> 'pending' OR {row}holder IS NULL OR {row}holder = ?{holder}
          OR {row}claim_expires_at IS NULL OR {row}claim_expires_at <= ?{now} OR ?{shared} = 0)"
    )
}

const RECORD_COLUMNS: &str =
    "target, article_id, status, attempts, first_attempt_at, last_attempt_at, last_error,
    content_hash, idempotency_key, remote_id, remote_url, posted_at, edited_at, updated_at,
    not_before, title, published_at, approved_at, reference,
    reshares, reshared_at, reshare_id, holder, claim_expires_at, revision";

fn record(row: Vec<Value>) -> Record {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    Record {
        target: next().text().unwrap_or_default(),
        article_id: next().text().unwrap_or_default(),
        status: Status::parse(&next().text().unwrap_or_default()),
        attempts: u32::try_from(next().int()).unwrap_or_default(),
        first_attempt_at: next().time(),
        last_attempt_at: next().time(),
        last_error: next().text(),
        content_hash: next().text(),
        idempotency_key: next().text().unwrap_or_default(),
        remote_id: next().text(),
        remote_url: next().text(),
        posted_at: next().time(),
        edited_at: next().time(),
        updated_at: next().time().unwrap_or_default(),
        not_before: next().time(),
        title: next().text(),
        published_at: next().text(),
        approved_at: next().time(),
        reference: next().text(),
        reshares: u32::try_from(next().int()).unwrap_or_default(),
        reshared_at: next().time(),
        reshare_id: next().text(),
        holder: next().text(),
        claim_expires_at: next().time(),
        revision: next().int(),
    }
}

impl Ledger {
    /// Opens (creating on first use, 0600) the SQLite ledger at `path`.
    pub fn open(path: &Path) -> Result<Ledger, LedgerError> {
        Ok(Ledger::new(Store::Sqlite(Sqlite::open(path)?)))
    }

    /// Opens an existing SQLite ledger without changing anything on disk
    /// (no journal, no lock files): for dry runs and `status`. `None` when
    /// there is no ledger yet.
    pub fn open_read_only(path: &Path) -> Result<Option<Ledger>, LedgerError> {
        Ok(Sqlite::open_read_only(path)?.map(|s| Ledger::new(Store::Sqlite(s))))
    }

    /// Opens the ledger where the config keeps it, for a run: created and
    /// migrated as needed.
    pub fn open_at(location: &Location) -> Result<Ledger, LedgerError> {
        match location {
            Location::File(path) => Ledger::open(path),
            Location::Database(url) => Ok(Ledger::new(Store::Postgres(Postgres::open(url)?))),
        }
    }

    /// Opens the ledger where the config keeps it, changing nothing (no
    /// file, no table is created): `None` when there is none yet.
    pub fn open_read_only_at(location: &Location) -> Result<Option<Ledger>, LedgerError> {
        match location {
            Location::File(path) => Ledger::open_read_only(path),
            Location::Database(url) => {
                Ok(Postgres::open_read_only(url)?.map(|p| Ledger::new(Store::Postgres(p))))
            }
        }
    }

    fn new(store: Store) -> Ledger {
        Ledger {
            store,
            holder: new_holder(),
        }
    }

    /// Whether other hosts may use this ledger at the same time.
    pub fn shared(&self) -> bool {
        matches!(self.store, Store::Postgres(_))
    }

    /// Where the ledger is, for messages.
    pub fn place(&self) -> &Place {
        match &self.store {
            Store::Sqlite(s) => s.place(),
            Store::Postgres(p) => p.place(),
        }
    }

    /// This run's name in claims.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, LedgerError> {
        match &self.store {
            Store::Sqlite(s) => s.execute(sql, &params),
            Store::Postgres(p) => p.execute(sql, params),
        }
    }

    fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows, LedgerError> {
        match &self.store {
            Store::Sqlite(s) => s.query(sql, &params),
            Store::Postgres(p) => p.query(sql, params),
        }
    }

    /// Runs `statements` in one transaction (`write`: changes; else one
    /// consistent read).
    pub(crate) fn transaction(
        &self,
        statements: Vec<(String, Vec<Value>)>,
        write: bool,
    ) -> Result<Vec<Rows>, (Option<usize>, LedgerError)> {
        match &self.store {
            Store::Sqlite(s) => s.transaction(&statements, write),
            Store::Postgres(p) => p.transaction(statements, write),
        }
    }

    /// Reads everything a plan needs.
    pub fn snapshot(&self) -> Result<Snapshot, LedgerError> {
        let mut snapshot = Snapshot {
            shared: self.shared(),
            ..Snapshot::default()
        };
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
            if let Some(holder) = r.holder.as_ref().filter(|_| r.status == Status::Pending)
                && !snapshot.dead_holders.contains(holder)
                && !holder_alive(holder)
            {
                snapshot.dead_holders.insert(holder.clone());
            }
            snapshot
                .records
                .insert((r.target.clone(), r.article_id.clone()), r);
        }
        for row in self.query("SELECT key, value FROM meta", params![])?.rows {
            let mut it = row.into_iter();
            if let (Some(k), Some(v)) = (
                it.next().and_then(Value::text),
                it.next().and_then(Value::text),
            ) {
                snapshot.meta.insert(k, v);
            }
        }
        for row in self
            .query(
                "SELECT target, key, value, updated_at FROM target_state",
                params![],
            )?
            .rows
        {
            let mut it = row.into_iter().map(Value::text);
            let mut next = || it.next().flatten().unwrap_or_default();
            let (target, key, value, at) = (next(), next(), next(), next());
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
        self.select("1 = 1", params![])
    }

    /// One (target, article) row.
    pub fn get(&self, target: &str, article_id: &str) -> Result<Option<Record>, LedgerError> {
        Ok(self
            .select(
                "target = ?1 AND article_id = ?2",
                params![target, article_id],
            )?
            .pop())
    }

    fn select(&self, filter: &str, args: Vec<Value>) -> Result<Vec<Record>, LedgerError> {
        let rows = self.query(
            &format!(
                "SELECT {RECORD_COLUMNS} FROM posts WHERE {filter} ORDER BY article_id, target"
            ),
            args,
        )?;
        Ok(rows.rows.into_iter().map(record).collect())
    }

    /// Claims a post and records the attempt about to be made: pending,
    /// with its key, under this run's name, before anything is sent.
    /// Granted only while the row is as the run read it (`seen`: its
    /// revision then, `None` for no row) or is already this run's, and,
    /// in a shared ledger, while `pace` allows.
    pub fn claim(
        &self,
        attempt: &Attempt<'_>,
        seen: Option<i64>,
        pace: Option<&Pace>,
    ) -> Result<Claim, LedgerError> {
        let Attempt {
            target,
            article_id,
            key,
            hash,
            now,
        } = *attempt;
        let pace = pace.filter(|_| self.shared());
        let paced = match pace {
            None => "1 = 1".to_string(),
            Some(_) => format!(
                "NOT EXISTS (SELECT 1 FROM posts p WHERE p.target = ?1 AND p.article_id <> ?2
                   AND p.article_id NOT LIKE '%{PART_MARK}%' AND p.holder IS NOT NULL AND p.holder <> ?6
                   AND p.status IN ('pending', 'posted') AND p.last_attempt_at > ?9)
                 AND (SELECT count(*) FROM (SELECT 1 FROM posts p WHERE p.target = ?1 AND p.article_id <> ?2
                   AND p.article_id NOT LIKE '%{PART_MARK}%' AND p.holder IS NOT NULL
                   AND p.status IN ('pending', 'posted') AND p.last_attempt_at >= ?10 LIMIT ?11) AS recent) < ?11"
            ),
        };
        let sql = format!(
            "INSERT INTO posts (target, article_id, status, attempts, first_attempt_at, last_attempt_at,
                                content_hash, idempotency_key, updated_at, holder, claim_expires_at, revision)
             SELECT ?1, ?2, 'pending', 1, ?3, ?3, ?4, ?5, ?3, ?6, ?7, 1
             WHERE {paced}
             ON CONFLICT (target, article_id) DO UPDATE SET
                status = 'pending', attempts = posts.attempts + 1,
                first_attempt_at = coalesce(posts.first_attempt_at, ?3), last_attempt_at = ?3,
                content_hash = ?4, idempotency_key = ?5, updated_at = ?3, not_before = NULL,
                holder = ?6, claim_expires_at = ?7, revision = posts.revision + 1
             WHERE posts.revision = ?8 OR posts.holder = ?6"
        );
        let (since, started, most) = match pace {
            Some(p) => (
                now - p.min_interval,
                p.run_started,
                i64::from(p.max_per_run),
            ),
            None => (now, now, 0),
        };
        let mut args = params![
            target,
            article_id,
            now,
            hash,
            key,
            self.holder.as_str(),
            now + CLAIM_HOLDS
        ];
        args.push(seen.map_or(Value::Null, Value::Int));
        if let Some(p) = pace {
            // No interval: nothing another host sent holds this one back
            // (`> NULL` matches no row).
            let since = if p.min_interval > chrono::TimeDelta::zero() {
                Value::from(since)
            } else {
                Value::Null
            };
            args.push(since);
            args.extend(params![started, most]);
        }
        let changed = match &self.store {
            Store::Sqlite(s) => s.execute(&sql, &args)?,
            Store::Postgres(p) => p.claim(target, &sql, args)?,
        };
        if changed > 0 {
            return Ok(Claim::Granted);
        }
        let now_row = self.get(target, article_id)?;
        let untouched = match (&now_row, seen) {
            (None, None) => true,
            (Some(r), Some(rev)) => r.revision == rev,
            _ => false,
        };
        Ok(if untouched {
            Claim::Paced
        } else {
            Claim::Taken
        })
    }

    /// Records an attempt about to be made without conditions: for a post
    /// this run holds, or one that sends nothing (it cannot be composed).
    pub fn begin_attempt(
        &self,
        target: &str,
        article_id: &str,
        key: &str,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.execute(
            "INSERT INTO posts (target, article_id, status, attempts, first_attempt_at, last_attempt_at,
                                content_hash, idempotency_key, updated_at, holder, claim_expires_at, revision)
             VALUES (?1, ?2, 'pending', 1, ?3, ?3, ?4, ?5, ?3, ?6, ?7, 1)
             ON CONFLICT (target, article_id) DO UPDATE SET
                status = 'pending', attempts = posts.attempts + 1,
                first_attempt_at = coalesce(posts.first_attempt_at, ?3), last_attempt_at = ?3,
                content_hash = ?4, idempotency_key = ?5, updated_at = ?3, not_before = NULL,
                holder = ?6, claim_expires_at = ?7, revision = posts.revision + 1",
            params![
                target,
                article_id,
                now,
                hash,
                key,
                self.holder.as_str(),
                now + CLAIM_HOLDS
            ],
        )
        .map(drop)
    }

    /// The platform made the post.
    pub fn mark_posted(
        &self,
        target: &str,
        article_id: &str,
        delivered: &crate::social::Delivered,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.execute(
            &format!(
                "UPDATE posts SET status = 'posted', remote_id = coalesce(?3, remote_id),
                        remote_url = coalesce(?4, remote_url), reference = coalesce(?6, reference),
                        last_error = NULL, posted_at = ?5, updated_at = ?5, holder = ?7, {RELEASED}
                 WHERE target = ?1 AND article_id = ?2"
            ),
            params![
                target,
                article_id,
                &delivered.remote_id,
                &delivered.remote_url,
                now,
                &delivered.reference,
                self.holder.as_str()
            ],
        )
        .map(drop)
    }

    /// Sets the status (failed, uncertain, dropped, deleted) with a
    /// reason. Never over another run's live claim, and never over a
    /// posted row but to say it was deleted.
    pub fn mark(
        &self,
        target: &str,
        article_id: &str,
        status: Status,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.execute(
            &format!(
                "UPDATE posts SET status = ?3, last_error = ?4, updated_at = ?5, holder = ?6, {RELEASED}
                 WHERE target = ?1 AND article_id = ?2 AND {}
                   AND (status <> 'posted' OR ?3 = 'deleted' OR holder = ?6 OR ?7 = 0)",
                not_claimed_elsewhere("", 6, 5, 7)
            ),
            params![
                target,
                article_id,
                status.as_str(),
                error,
                now,
                self.holder.as_str(),
                i64::from(self.shared())
            ],
        )
        .map(drop)
    }

    /// Sets the status a plan decided from what it read (uncertain for a
    /// run that died while sending, dropped for a post grown too old):
    /// only while the row is still at the revision read (`seen`), so that
    /// of several hosts deciding at once one writes, and none over a post
    /// another host has taken since.
    pub fn settle(
        &self,
        target: &str,
        article_id: &str,
        status: Status,
        reason: &str,
        seen: i64,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        self.execute(
            &format!(
                "UPDATE posts SET status = ?3, last_error = ?4, updated_at = ?5, holder = ?6, {RELEASED}
                 WHERE target = ?1 AND article_id = ?2 AND revision = ?7"
            ),
            params![
                target,
                article_id,
                status.as_str(),
                reason,
                now,
                self.holder.as_str(),
                seen
            ],
        )
        .map(drop)
    }

    /// Records a post held back (or adopted) without an attempt: queued,
    /// held, failed or seen. Never downgrades a posted row, nor one
    /// another run is sending.
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
        self.execute(
            &format!(
                "INSERT INTO posts (target, article_id, status, content_hash, idempotency_key, last_error,
                                    updated_at, holder, revision)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1)
                 ON CONFLICT (target, article_id) DO UPDATE SET
                    status = ?3, content_hash = coalesce(posts.content_hash, ?4), last_error = ?6,
                    updated_at = ?7, holder = ?8, {RELEASED}
                 WHERE posts.status <> 'posted' AND {}",
                not_claimed_elsewhere("posts.", 8, 7, 9)
            ),
            params![
                target,
                article_id,
                status.as_str(),
                hash,
                key,
                reason,
                now,
                self.holder.as_str(),
                i64::from(self.shared())
            ],
        )
        .map(drop)
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
        self.execute(
            "UPDATE posts SET reshares = reshares + 1, reshared_at = ?3, reshare_id = ?4, updated_at = ?3
             WHERE target = ?1 AND article_id = ?2 AND status = 'posted'",
            params![target, article_id, now, id],
        )
        .map(drop)
    }

    /// Lets the held posts that `chosen` picks go: the next run sends
    /// them, within its pacing. Returns those let go.
    pub fn approve(
        &self,
        chosen: impl Fn(&Record) -> bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Record>, LedgerError> {
        let mut released = Vec::new();
        for r in self.select("status = 'held'", params![])? {
            if !chosen(&r) {
                continue;
            }
            self.execute(
                "UPDATE posts SET status = 'queued', approved_at = ?3, last_error = 'approved',
                        updated_at = ?3, holder = ?4, revision = revision + 1
                 WHERE target = ?1 AND article_id = ?2 AND status = 'held'",
                params![&r.target, &r.article_id, now, self.holder.as_str()],
            )?;
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
        self.execute(
            "UPDATE posts SET content_hash = ?3, last_error = NULL, edited_at = ?4, updated_at = ?4
             WHERE target = ?1 AND article_id = ?2",
            params![target, article_id, hash, now],
        )
        .map(drop)
    }

    /// Records the fingerprint of a post made before fingerprints covered
    /// the article's facts, so that only later changes count as edits.
    pub fn adopt_fingerprint(
        &self,
        target: &str,
        article_id: &str,
        hash: &str,
    ) -> Result<(), LedgerError> {
        self.execute(
            "UPDATE posts SET content_hash = ?3 WHERE target = ?1 AND article_id = ?2 AND content_hash IS NULL",
            params![target, article_id, hash],
        )
        .map(drop)
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
        self.execute(
            &format!(
                "UPDATE posts SET status = 'queued',
                        attempts = CASE WHEN attempts > ?6 THEN attempts - ?6 ELSE 0 END, last_error = ?3,
                        not_before = ?4, updated_at = ?5, holder = ?7, {RELEASED}
                 WHERE target = ?1 AND article_id = ?2"
            ),
            params![
                target,
                article_id,
                reason,
                not_before,
                now,
                i64::from(refund),
                self.holder.as_str()
            ],
        )
        .map(drop)
    }

    /// Records the title and publish time of an article's rows, where
    /// they are not recorded yet.
    pub fn describe(
        &self,
        article_id: &str,
        title: &str,
        published: &str,
    ) -> Result<(), LedgerError> {
        self.execute(
            "UPDATE posts SET title = ?2, published_at = ?3
             WHERE article_id = ?1 AND (title IS DISTINCT FROM ?2 OR published_at IS DISTINCT FROM ?3)",
            params![article_id, title, published],
        )
        .map(drop)
    }

    /// An article's id changed (a new slug, a renamed file): its rows (and
    /// its thread's parts) follow it, in one statement.
    pub fn move_article(&self, from: &str, to: &str) -> Result<(), LedgerError> {
        self.execute(
            "UPDATE posts SET article_id = CAST(?2 AS TEXT) || substr(article_id, length(CAST(?1 AS TEXT)) + 1)
             WHERE (article_id = ?1
                    OR substr(article_id, 1, length(CAST(?1 AS TEXT)) + length(CAST(?3 AS TEXT))) = CAST(?1 AS TEXT) || CAST(?3 AS TEXT))
             AND NOT EXISTS (SELECT 1 FROM posts p
                             WHERE p.article_id = CAST(?2 AS TEXT) || substr(posts.article_id, length(CAST(?1 AS TEXT)) + 1)
                             AND p.target = posts.target)",
            params![from, to, PART_MARK],
        )
        .map(drop)
    }

    /// Makes this ledger the one of `site` (its `site.url`), or refuses a
    /// ledger another site already uses: target names are the ledger's
    /// keys, so two sites in one ledger would hide each other's posts.
    pub fn claim_site(&self, site: &str) -> Result<(), LedgerError> {
        self.execute(
            "INSERT INTO meta (key, value) VALUES ('site.url', ?1) ON CONFLICT (key) DO NOTHING",
            params![site],
        )?;
        let owner = self
            .query("SELECT value FROM meta WHERE key = 'site.url'", params![])?
            .rows
            .pop()
            .and_then(|r| r.into_iter().next())
            .and_then(Value::text);
        match owner {
            Some(owner) if owner != site => Err(LedgerError::OtherSite {
                place: self.place().clone(),
                owner,
                site: site.to_string(),
            }),
            _ => Ok(()),
        }
    }

    /// Whether the ledger has recorded any post or run.
    pub fn is_empty(&self) -> Result<bool, LedgerError> {
        let rows = self.query(
            "SELECT (SELECT count(*) FROM posts) + (SELECT count(*) FROM runs)",
            params![],
        )?;
        Ok(rows
            .rows
            .first()
            .and_then(|r| r.first())
            .is_none_or(|v| v.int() == 0))
    }

    /// Keeps (`Some`) or forgets (`None`) a value learned about a target.
    pub fn set_learned(
        &self,
        target: &str,
        key: &str,
        value: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), LedgerError> {
        match value {
            Some(v) => self.execute(
                "INSERT INTO target_state (target, key, value, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (target, key) DO UPDATE SET value = ?3, updated_at = ?4",
                params![target, key, v, now],
            ),
            None => self.execute(
                "DELETE FROM target_state WHERE target = ?1 AND key = ?2",
                params![target, key],
            ),
        }
        .map(drop)
    }

    /// The value learned about `target` under `key`, as the ledger holds
    /// it now (another host may have changed it since the run began).
    pub fn learned_now(&self, target: &str, key: &str) -> Result<Option<String>, LedgerError> {
        Ok(self
            .query(
                "SELECT value FROM target_state WHERE target = ?1 AND key = ?2",
                params![target, key],
            )?
            .rows
            .pop()
            .and_then(|r| r.into_iter().next())
            .and_then(Value::text))
    }

    /// Holds `target`'s learned state for this run alone (a token refresh
    /// that rotates the refresh token must be done by one host at a
    /// time): until `unlock_target`, or the end of the connection. With
    /// one host (SQLite, under the run lock) there is nothing to wait for.
    pub fn lock_target(&self, target: &str) -> Result<bool, LedgerError> {
        match &self.store {
            Store::Sqlite(_) => Ok(true),
            Store::Postgres(p) => p.try_lock_target(target),
        }
    }

    /// Lets another host renew `target`'s session.
    pub fn unlock_target(&self, target: &str) -> Result<(), LedgerError> {
        match &self.store {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(p) => p.unlock_target(target),
        }
    }

    pub fn start_run(&self, now: DateTime<Utc>) -> Result<i64, LedgerError> {
        let rows = self.query(
            "INSERT INTO runs (started_at, holder) VALUES (?1, ?2) RETURNING id",
            params![now, self.holder.as_str()],
        )?;
        Ok(rows
            .rows
            .first()
            .and_then(|r| r.first())
            .map_or(0, Value::int))
    }

    pub fn finish_run(
        &self,
        id: i64,
        now: DateTime<Utc>,
        summary: &str,
    ) -> Result<(), LedgerError> {
        self.execute(
            "UPDATE runs SET finished_at = ?2, summary = ?3 WHERE id = ?1",
            params![id, now, summary],
        )
        .map(drop)
    }
}

/// An attempt about to be made.
#[derive(Debug, Clone, Copy)]
pub struct Attempt<'a> {
    pub target: &'a str,
    pub article_id: &'a str,
    pub key: &'a str,
    pub hash: &'a str,
    pub now: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::sqlite::{MIGRATIONS, sidecar};
    use super::*;
    use rusqlite::Connection;

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
    fn a_snapshot_knows_the_claims_of_this_machine_whose_process_is_gone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let ledger = Ledger::open(&path).unwrap();
        ledger.begin_attempt("t", "alive", "k", "h", now()).unwrap();
        ledger.begin_attempt("t", "dead", "k", "h", now()).unwrap();
        let host = ledger.holder().split('/').next().unwrap().to_string();
        let dead = format!("{host}/{}/ab", i32::MAX);
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE posts SET holder = ?1 WHERE article_id = 'dead'",
                [&dead],
            )
            .unwrap();
        let snap = ledger.snapshot().unwrap();
        assert_eq!(snap.dead_holders, [dead].into_iter().collect());
        // Another machine's run may be alive: only its claim's expiry tells.
        assert!(holder_alive("elsewhere/1/ab"));
        assert!(holder_alive(ledger.holder()));
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
