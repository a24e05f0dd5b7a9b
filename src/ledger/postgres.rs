//! The ledger in PostgreSQL (`state.url`), for several hosts: the same
//! tables as the SQLite file, in a schema of their own (`herald` unless the
//! URL says `schema=NAME`), reached over TLS with rustls.
//!
//! The connection lives on a thread of its own: the `postgres` client runs
//! its own small runtime, which may not run inside the publish runtime,
//! and a ledger call blocks its caller as an SQLite call does. A connection
//! lost mid-run is made again for up to `RECONNECT_FOR`, and the statement
//! is repeated: every statement herald writes may run twice with the same
//! effect (a claim the run already holds is granted again).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use super::{LedgerError, Place, Rows, Value};
use crate::secret::Secret;

/// PostgreSQL's schema, which SQLite's migrations up to this version
/// leave; a later SQLite migration needs its PostgreSQL counterpart here.
const SCHEMA: &[(i64, &str)] = &[(8, include_str!("../../migrations/postgres/0008_schema.sql"))];

/// How long a connection lost mid-run is tried again before the run
/// stops (its post in flight stays pending, and the next run settles it).
const RECONNECT_FOR: Duration = Duration::from_secs(30);

/// A statement that runs longer than this is cancelled (a lock held by a
/// stuck host, a server under load): the run stops with an error rather
/// than hanging; `statement_timeout=MS` in the URL changes it.
const STATEMENT_TIMEOUT_MS: u64 = 30_000;

/// The key that serialises schema changes between hosts starting at once.
const MIGRATION_LOCK: i64 = 0x6865_7261_6c64; // "herald"

/// `state.url`: where the shared ledger is. The text stays a secret (it
/// may hold a password) until the ledger is opened.
#[derive(Debug, Clone)]
pub struct DatabaseUrl {
    pub url: Secret,
}

/// A `state.url`, read.
#[derive(Clone)]
struct Target {
    config: postgres::Config,
    tls: TlsMode,
    root_cert: Option<std::path::PathBuf>,
    schema: String,
    statement_timeout_ms: u64,
    /// The URL without its password, for messages.
    shown: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TlsMode {
    Disable,
    Prefer,
    /// `require`, `verify-ca` and `verify-full`: herald always verifies
    /// the server's certificate and name (against the system's web roots
    /// and `sslrootcert`), stricter than libpq's `require`.
    Require,
}

impl DatabaseUrl {
    /// Checks the URL's text (with `${NAME}` expanded): what `open` would
    /// refuse, said when the config is read.
    pub fn check(text: &str) -> Result<(), String> {
        parse(text).map(drop)
    }

    fn resolve(&self) -> Result<Target, LedgerError> {
        let text = self.url.expose().map_err(|e| LedgerError::Open {
            place: Place::Database(self.url.redacted()),
            message: e.to_string(),
        })?;
        parse(&text).map_err(|message| LedgerError::Open {
            place: Place::Database(self.url.redacted()),
            message,
        })
    }
}

/// Reads a libpq-style URL: `postgres://USER:PASSWORD@HOST:PORT/DB?...`
/// with `sslmode`, `sslrootcert`, `connect_timeout`, `application_name`,
/// `host` (a Unix socket's folder), and herald's own `schema` and
/// `statement_timeout` (ms).
fn parse(text: &str) -> Result<Target, String> {
    let url = url::Url::parse(text).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "the scheme is {:?}; a shared ledger is PostgreSQL: postgres://USER@HOST/DATABASE",
            url.scheme()
        ));
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut config = postgres::Config::new();
    if let Some(host) = url.host_str().filter(|h| !h.is_empty()) {
        config.host(host.trim_start_matches('[').trim_end_matches(']'));
    }
    if let Some(port) = url.port() {
        config.port(port);
    }
    if !url.username().is_empty() {
        config.user(&decode(url.username()));
    }
    if let Some(password) = url.password() {
        config.password(decode(password));
    }
    let db = url.path().trim_start_matches('/');
    if !db.is_empty() {
        config.dbname(&decode(db));
    }
    config.application_name("herald");
    config.connect_timeout(Duration::from_secs(10));
    let mut tls = TlsMode::Prefer;
    let mut root_cert = None;
    let mut schema = "herald".to_string();
    let mut statement_timeout_ms = STATEMENT_TIMEOUT_MS;
    for (key, value) in url.query_pairs() {
        match key.as_ref() {
            "sslmode" => {
                tls = match value.as_ref() {
                    "disable" => TlsMode::Disable,
                    "allow" | "prefer" => TlsMode::Prefer,
                    "require" | "verify-ca" | "verify-full" => TlsMode::Require,
                    other => {
                        return Err(format!(
                            "sslmode={other}: herald knows disable, allow, prefer, require, verify-ca and verify-full"
                        ));
                    }
                }
            }
            "sslrootcert" => root_cert = Some(std::path::PathBuf::from(value.as_ref())),
            "connect_timeout" => {
                let secs: u64 = value
                    .parse()
                    .map_err(|_| format!("connect_timeout={value}: a number of seconds"))?;
                config.connect_timeout(Duration::from_secs(secs.max(1)));
            }
            "application_name" => {
                config.application_name(value.as_ref());
            }
            "host" => {
                config.host(value.as_ref());
            }
            "port" => {
                let port = value
                    .parse()
                    .map_err(|_| format!("port={value}: a port number"))?;
                config.port(port);
            }
            "user" => {
                config.user(value.as_ref());
            }
            "dbname" => {
                config.dbname(value.as_ref());
            }
            "schema" => {
                let ok = value
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
                    && value
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                if !ok {
                    return Err(format!(
                        "schema={value}: lower-case letters, digits and _, not starting with a digit"
                    ));
                }
                schema = value.into_owned();
            }
            "statement_timeout" => {
                statement_timeout_ms = value
                    .parse()
                    .map_err(|_| format!("statement_timeout={value}: milliseconds"))?;
            }
            other => {
                return Err(format!(
                    "{other}: not a parameter herald reads (sslmode, sslrootcert, connect_timeout, application_name, host, port, user, dbname, schema, statement_timeout)"
                ));
            }
        }
    }
    if config.get_hosts().is_empty() {
        return Err("no host: postgres://USER@HOST/DATABASE".to_string());
    }
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    shown.set_query(None);
    Ok(Target {
        config,
        tls,
        root_cert,
        schema,
        statement_timeout_ms,
        shown: shown.to_string(),
    })
}

/// rustls for the connection: the system's web roots and `sslrootcert`,
/// no exception to verification.
fn tls(target: &Target) -> Result<tokio_postgres_rustls::MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = &target.root_cert {
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "sslrootcert {}: cannot read it: {e}",
                crate::paths::display(path)
            )
        })?;
        let mut added = 0;
        for cert in rustls::pki_types::pem::PemObject::pem_slice_iter(&pem) {
            let cert: rustls::pki_types::CertificateDer<'static> = cert.map_err(|e| {
                format!(
                    "sslrootcert {}: not PEM certificates: {e}",
                    crate::paths::display(path)
                )
            })?;
            roots.add(cert).map_err(|e| {
                format!(
                    "sslrootcert {}: a certificate rustls refuses: {e}",
                    crate::paths::display(path)
                )
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(format!(
                "sslrootcert {}: no certificate in it",
                crate::paths::display(path)
            ));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                _ => i.to_string().to_sql(ty, out),
            },
            Value::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.parse::<i32>()?.to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// `?1` → `$1`: the statements are written for both stores.
fn dollars(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

fn read_rows(rows: &[postgres::Row]) -> Rows {
    let columns = rows
        .first()
        .map(|r| r.columns().iter().map(|c| c.name().to_string()).collect())
        .unwrap_or_default();
    let rows = rows
        .iter()
        .map(|row| {
            (0..row.len())
                .map(|i| {
                    let ty = row.columns()[i].type_().clone();
                    let value = match ty {
                        Type::INT8 => row.get::<_, Option<i64>>(i).map(Value::Int),
                        Type::INT4 => row.get::<_, Option<i32>>(i).map(|v| Value::Int(v.into())),
                        Type::INT2 => row.get::<_, Option<i16>>(i).map(|v| Value::Int(v.into())),
                        Type::BOOL => row.get::<_, Option<bool>>(i).map(|v| Value::Int(v.into())),
                        _ => row
                            .try_get::<_, Option<String>>(i)
                            .ok()
                            .flatten()
                            .map(Value::Text),
                    };
                    value.unwrap_or(Value::Null)
                })
                .collect()
        })
        .collect();
    Rows { columns, rows }
}

/// The connection, on its thread.
struct Conn {
    target: Target,
    client: Option<postgres::Client>,
    statements: HashMap<String, postgres::Statement>,
    place: Place,
}

/// Whether an error means the connection is gone (as opposed to the
/// server refusing the statement): closed, or failing underneath.
fn connection_lost(e: &postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

impl Conn {
    fn connect(&mut self) -> Result<(), LedgerError> {
        let unreachable = |e: String| LedgerError::Open {
            place: self.place.clone(),
            message: format!(
                "cannot reach the database: {e}; nothing was sent (check that PostgreSQL runs and that state.url, its user and password are right)"
            ),
        };
        let mut config = self.target.config.clone();
        config.ssl_mode(match self.target.tls {
            TlsMode::Disable => postgres::config::SslMode::Disable,
            TlsMode::Prefer => postgres::config::SslMode::Prefer,
            TlsMode::Require => postgres::config::SslMode::Require,
        });
        let tls = tls(&self.target).map_err(&unreachable)?;
        let mut client = config.connect(tls).map_err(|e| unreachable(describe(&e)))?;
        client
            .batch_execute(&format!(
                "SET statement_timeout = {}; SET lock_timeout = {}; SET search_path TO \"{}\"",
                self.target.statement_timeout_ms,
                self.target.statement_timeout_ms,
                self.target.schema
            ))
            .map_err(|e| unreachable(describe(&e)))?;
        self.client = Some(client);
        self.statements.clear();
        Ok(())
    }

    /// Runs `work` on the connection, making it again (for up to
    /// `RECONNECT_FOR`) when it was lost, and repeating `work`.
    fn with<R>(
        &mut self,
        mut work: impl FnMut(
            &mut postgres::Client,
            &mut HashMap<String, postgres::Statement>,
        ) -> Result<R, postgres::Error>,
    ) -> Result<R, LedgerError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(100);
        loop {
            if self.client.as_ref().is_none_or(postgres::Client::is_closed)
                && let Err(e) = self.connect()
            {
                if started.elapsed() >= RECONNECT_FOR {
                    return Err(e);
                }
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(2));
                continue;
            }
            let Some(client) = self.client.as_mut() else {
                continue;
            };
            match work(client, &mut self.statements) {
                Ok(r) => return Ok(r),
                Err(e) if connection_lost(&e) && started.elapsed() < RECONNECT_FOR => {
                    tracing::warn!(error = %describe(&e), "the ledger's database connection was lost; connecting again");
                    self.client = None;
                }
                Err(e) => return Err(self.error(&e)),
            }
        }
    }

    fn error(&self, e: &postgres::Error) -> LedgerError {
        let place = self.place.clone();
        match e.code() {
            Some(c) if *c == postgres::error::SqlState::QUERY_CANCELED => LedgerError::Write {
                place,
                message: format!(
                    "a statement ran longer than {} ms and was cancelled (statement_timeout): the database is overloaded, or another host holds a lock; nothing more was sent",
                    self.target.statement_timeout_ms
                ),
            },
            Some(c) if *c == postgres::error::SqlState::LOCK_NOT_AVAILABLE => LedgerError::Write {
                place,
                message: format!(
                    "waited longer than {} ms for a lock another host holds; nothing more was sent",
                    self.target.statement_timeout_ms
                ),
            },
            _ if connection_lost(e) => LedgerError::Write {
                place,
                message: format!(
                    "the database connection was lost and did not come back within {} s ({}); a post in flight stays pending, and the next run settles it",
                    RECONNECT_FOR.as_secs(),
                    describe(e)
                ),
            },
            _ => LedgerError::Write {
                place,
                message: describe(e),
            },
        }
    }
}

/// A PostgreSQL error as the server said it.
fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

fn prepared<'a>(
    client: &mut postgres::Client,
    cache: &'a mut HashMap<String, postgres::Statement>,
    sql: &str,
) -> Result<&'a postgres::Statement, postgres::Error> {
    if !cache.contains_key(sql) {
        let statement = client.prepare(&dollars(sql))?;
        cache.insert(sql.to_string(), statement);
    }
    Ok(&cache[sql])
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// An open PostgreSQL ledger: a handle to its connection's thread.
pub(super) struct Postgres {
    jobs: mpsc::Sender<Job>,
    place: Place,
}

impl Postgres {
    /// Connects (once: a database that cannot be reached at the start
    /// stops the run before anything is sent) and creates or checks the
    /// schema.
    pub(super) fn open(url: &DatabaseUrl) -> Result<Postgres, LedgerError> {
        let store = Postgres::connect(url)?;
        store.call(migrate)??;
        Ok(store)
    }

    /// Connects and reads, creating nothing: `None` when the database
    /// holds no ledger yet.
    pub(super) fn open_read_only(url: &DatabaseUrl) -> Result<Option<Postgres>, LedgerError> {
        let store = Postgres::connect(url)?;
        let version = store.call(version)??;
        match version {
            None => Ok(None),
            Some(found) if found > super::schema_version() => Err(LedgerError::TooNew {
                place: store.place.clone(),
                found,
                known: super::schema_version(),
            }),
            Some(_) => Ok(Some(store)),
        }
    }

    fn connect(url: &DatabaseUrl) -> Result<Postgres, LedgerError> {
        let target = url.resolve()?;
        let place = Place::Database(target.shown.clone());
        let mut conn = Conn {
            target,
            client: None,
            statements: HashMap::new(),
            place: place.clone(),
        };
        let (jobs, inbox) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("herald-ledger".to_string())
            .spawn(move || {
                for job in inbox {
                    job(&mut conn);
                }
            })
            .map_err(|e| LedgerError::Open {
                place: place.clone(),
                message: format!("cannot start the connection's thread: {e}"),
            })?;
        let store = Postgres { jobs, place };
        // Once: a database that cannot be reached at the start stops the run.
        store.call(Conn::connect)??;
        Ok(store)
    }

    pub(super) fn place(&self) -> &Place {
        &self.place
    }

    /// Runs `work` on the connection's thread and waits for it.
    fn call<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Conn) -> R + Send + 'static,
    ) -> Result<R, LedgerError> {
        let (reply, answer) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(work(conn));
        });
        let stopped = || LedgerError::Write {
            place: self.place.clone(),
            message: "the database connection's thread stopped".to_string(),
        };
        self.jobs.send(job).map_err(|_| stopped())?;
        answer.recv().map_err(|_| stopped())
    }

    pub(super) fn execute(&self, sql: &str, params: Vec<Value>) -> Result<u64, LedgerError> {
        let sql = sql.to_string();
        self.call(move |conn| {
            conn.with(|client, cache| {
                let statement = prepared(client, cache, &sql)?.clone();
                client.execute(&statement, &refs(&params))
            })
        })?
    }

    pub(super) fn query(&self, sql: &str, params: Vec<Value>) -> Result<Rows, LedgerError> {
        let sql = sql.to_string();
        self.call(move |conn| {
            conn.with(|client, cache| {
                let statement = prepared(client, cache, &sql)?.clone();
                let rows = client.query(&statement, &refs(&params))?;
                let mut read = read_rows(&rows);
                if read.columns.is_empty() {
                    read.columns = statement
                        .columns()
                        .iter()
                        .map(|c| c.name().to_string())
                        .collect();
                }
                Ok(read)
            })
        })?
    }

    /// A claim: under a lock on the target (held to the end of the
    /// transaction), so that hosts claiming different posts of one target
    /// at once see each other's claims when they check its pacing.
    pub(super) fn claim(
        &self,
        target: &str,
        sql: &str,
        params: Vec<Value>,
    ) -> Result<u64, LedgerError> {
        let sql = sql.to_string();
        let key = format!("herald:target:{target}");
        self.call(move |conn| {
            conn.with(|client, cache| {
                let statement = prepared(client, cache, &sql)?.clone();
                let mut tx = client.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock(hashtext($1))", &[&key])?;
                let n = tx.execute(&statement, &refs(&params))?;
                tx.commit()?;
                Ok(n)
            })
        })?
    }

    pub(super) fn transaction(
        &self,
        statements: Vec<(String, Vec<Value>)>,
        write: bool,
    ) -> Result<Vec<Rows>, (Option<usize>, LedgerError)> {
        let result = self.call(move |conn| {
            let mut failed_at = None;
            let result = conn.with(|client, _| {
                let mut tx = if write {
                    client.transaction()?
                } else {
                    client
                        .build_transaction()
                        .isolation_level(postgres::IsolationLevel::RepeatableRead)
                        .read_only(true)
                        .start()?
                };
                let mut out = Vec::new();
                for (i, (sql, params)) in statements.iter().enumerate() {
                    failed_at = Some(i);
                    let read = if write {
                        let n = tx.execute(&dollars(sql), &refs(params))?;
                        Rows {
                            columns: Vec::new(),
                            rows: vec![vec![Value::Int(n as i64)]],
                        }
                    } else {
                        read_rows(&tx.query(&dollars(sql), &refs(params))?)
                    };
                    out.push(read);
                }
                failed_at = None;
                tx.commit()?;
                Ok(out)
            });
            result.map_err(|e| (failed_at, e))
        });
        result.unwrap_or_else(|e| Err((None, e)))
    }

    /// Takes `target`'s session lock if no other host holds it.
    pub(super) fn try_lock_target(&self, target: &str) -> Result<bool, LedgerError> {
        let rows = self.query(
            "SELECT pg_try_advisory_lock(hashtext(CAST(?1 AS TEXT)))",
            vec![Value::Text(format!("herald:session:{target}"))],
        )?;
        Ok(rows
            .rows
            .first()
            .and_then(|r| r.first())
            .is_some_and(|v| *v == Value::Int(1)))
    }

    pub(super) fn unlock_target(&self, target: &str) -> Result<(), LedgerError> {
        self.query(
            "SELECT pg_advisory_unlock(hashtext(CAST(?1 AS TEXT)))",
            vec![Value::Text(format!("herald:session:{target}"))],
        )
        .map(drop)
    }
}

/// The schema's version, `None` when there is no ledger yet.
fn version(conn: &mut Conn) -> Result<Option<i64>, LedgerError> {
    let schema = conn.target.schema.clone();
    conn.with(|client, _| {
        let table = format!("{schema}.schema_version");
        let exists: Option<String> = client
            .query_one("SELECT CAST(to_regclass($1) AS TEXT)", &[&table])?
            .get(0);
        if exists.is_none() {
            return Ok(None);
        }
        let version: Option<i64> = client
            .query_one("SELECT max(version) FROM schema_version", &[])?
            .get(0);
        Ok(Some(version.unwrap_or(0)))
    })
}

/// Creates the schema on first use, refusing one from a newer herald or a
/// schema of the same name that herald did not make. Hosts that start at
/// once take turns.
fn migrate(conn: &mut Conn) -> Result<(), LedgerError> {
    let schema = conn.target.schema.clone();
    let place = conn.place.clone();
    let known = super::schema_version();
    let outcome = conn.with(|client, _| {
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        tx.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\""))?;
        let table = format!("{schema}.schema_version");
        let exists: Option<String> = tx
            .query_one("SELECT CAST(to_regclass($1) AS TEXT)", &[&table])?
            .get(0);
        let found: i64 = if exists.is_some() {
            tx.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?
                .get(0)
        } else {
            let others: i64 = tx
                .query_one(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
                    &[&schema],
                )?
                .get(0);
            if others > 0 {
                return Ok(Err(format!(
                    "the schema {schema} holds {others} tables herald did not make; give herald a schema of its own (schema=NAME in state.url)"
                )));
            }
            tx.batch_execute("CREATE TABLE schema_version (version BIGINT NOT NULL)")?;
            0
        };
        if found > known {
            return Ok(Ok(Some(found)));
        }
        for (version, sql) in SCHEMA.iter().filter(|(v, _)| *v > found) {
            tx.batch_execute(sql)?;
            tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[version])?;
        }
        tx.commit()?;
        Ok(Ok(None))
    })?;
    match outcome {
        Err(message) => Err(LedgerError::Corrupt { place, message }),
        Ok(Some(found)) => Err(LedgerError::TooNew {
            place,
            found,
            known,
        }),
        Ok(None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libpq_urls_and_refuses_what_it_does_not_know() {
        let t =
            parse("postgres://herald:s3cret@db.example:6543/news?sslmode=verify-full&schema=blog")
                .unwrap();
        assert_eq!(t.tls, TlsMode::Require);
        assert_eq!(t.schema, "blog");
        assert_eq!(t.config.get_ports(), &[6543]);
        assert_eq!(t.config.get_dbname(), Some("news"));
        assert_eq!(t.config.get_user(), Some("herald"));
        assert!(!t.shown.contains("s3cret"), "{}", t.shown);
        assert!(parse("postgres://u@h/db?sslmode=sometimes").is_err());
        assert!(parse("postgres://u@h/db?sslcert=x").is_err());
        assert!(parse("postgres://u@h/db?schema=Robert;drop").is_err());
        assert!(parse("mysql://u@h/db").is_err());
        assert_eq!(
            dollars("a = ?1 AND b = ?12 OR c = '?'"),
            "a = $1 AND b = $12 OR c = '?'"
        );
    }
}
