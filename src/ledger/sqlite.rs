//! The ledger in one SQLite file (WAL), for one host: the default. One
//! run at a time holds the run lock beside it, so every claim it finds
//! pending was left by a run that died.
//!
//! The schema lives in numbered files under `migrations/`, applied at open
//! and tracked in `PRAGMA user_version`. A ledger from a newer herald is
//! refused; a file that is not a ledger is reported and never overwritten.
//! The file is created 0600: it holds remote ids and the history of posts.

use std::path::{Path, PathBuf};

use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{Connection, OpenFlags};

use super::{LedgerError, Place, Rows, Value};

/// The migrations, in order; the schema version is their count.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/0001_ledger.sql"),
    include_str!("../../migrations/0002_target_state.sql"),
    include_str!("../../migrations/0003_waits_moves_sites.sql"),
    include_str!("../../migrations/0004_deleted.sql"),
    include_str!("../../migrations/0005_held.sql"),
    include_str!("../../migrations/0006_reference.sql"),
    include_str!("../../migrations/0007_reshares.sql"),
    include_str!("../../migrations/0008_claims.sql"),
];

/// An open SQLite ledger.
pub(super) struct Sqlite {
    pub(super) conn: Connection,
    place: Place,
}

impl Sqlite {
    /// Opens (creating on first use, 0600) the ledger at `path` for a run.
    pub(super) fn open(path: &Path) -> Result<Sqlite, LedgerError> {
        let place = Place::File(path.to_path_buf());
        let open_err = |message: String| LedgerError::Open {
            place: place.clone(),
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
        let ledger = Sqlite { conn, place };
        ledger.prepare(true)?;
        Ok(ledger)
    }

    /// Opens an existing ledger without changing anything on disk (no
    /// journal, no lock files). `None` when there is no ledger yet.
    pub(super) fn open_read_only(path: &Path) -> Result<Option<Sqlite>, LedgerError> {
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
        let ledger = Sqlite {
            conn,
            place: Place::File(path.to_path_buf()),
        };
        ledger.prepare(false)?;
        Ok(Some(ledger))
    }

    pub(super) fn place(&self) -> &Place {
        &self.place
    }

    fn path(&self) -> PathBuf {
        match &self.place {
            Place::File(p) => p.clone(),
            Place::Database(_) => PathBuf::new(),
        }
    }

    /// An error reading the ledger: damage, unless the disk itself failed.
    pub(super) fn corrupt(&self, e: rusqlite::Error) -> LedgerError {
        disk_error(&self.path(), &e).unwrap_or_else(|| LedgerError::Corrupt {
            place: self.place.clone(),
            message: e.to_string(),
        })
    }

    pub(super) fn write_err(&self, e: rusqlite::Error) -> LedgerError {
        if let Some(disk) = disk_error(&self.path(), &e) {
            return disk;
        }
        let message = match &e {
            rusqlite::Error::SqliteFailure(f, _) if f.code == rusqlite::ErrorCode::ReadOnly => {
                "the ledger is read-only; herald needs to write it to record posts".to_string()
            }
            _ => e.to_string(),
        };
        LedgerError::Write {
            place: self.place.clone(),
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
                place: self.place.clone(),
                message: check,
            });
        }
        if version > known {
            return Err(LedgerError::TooNew {
                place: self.place.clone(),
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
                    place: self.place.clone(),
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

    pub(super) fn execute(&self, sql: &str, params: &[Value]) -> Result<u64, LedgerError> {
        self.conn
            .execute(sql, rusqlite::params_from_iter(params.iter().map(to_sql)))
            .map(|n| n as u64)
            .map_err(|e| self.write_err(e))
    }

    pub(super) fn query(&self, sql: &str, params: &[Value]) -> Result<Rows, LedgerError> {
        self.read(sql, params).map_err(|e| self.corrupt(e))
    }

    fn read(&self, sql: &str, params: &[Value]) -> rusqlite::Result<Rows> {
        let mut stmt = self.conn.prepare_cached(sql)?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let width = columns.len();
        let mut rows = stmt.query(rusqlite::params_from_iter(params.iter().map(to_sql)))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(match row.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Real(v) => Value::Text(v.to_string()),
                    ValueRef::Text(t) | ValueRef::Blob(t) => {
                        Value::Text(String::from_utf8_lossy(t).into_owned())
                    }
                });
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    /// Runs `statements` in one transaction: all of them, or none. A
    /// failure says which statement (by index).
    pub(super) fn transaction(
        &self,
        statements: &[(String, Vec<Value>)],
        write: bool,
    ) -> Result<Vec<Rows>, (Option<usize>, LedgerError)> {
        let begin = if write { "BEGIN IMMEDIATE" } else { "BEGIN" };
        self.conn
            .execute_batch(begin)
            .map_err(|e| (None, self.write_err(e)))?;
        let mut out = Vec::new();
        for (i, (sql, params)) in statements.iter().enumerate() {
            let result = if write {
                self.execute(sql, params).map(|n| Rows {
                    columns: Vec::new(),
                    rows: vec![vec![Value::Int(n as i64)]],
                })
            } else {
                self.query(sql, params)
            };
            match result {
                Ok(rows) => out.push(rows),
                Err(e) => {
                    let _ = self.conn.execute_batch("ROLLBACK");
                    return Err((Some(i), e));
                }
            }
        }
        self.conn
            .execute_batch("COMMIT")
            .map_err(|e| (None, self.write_err(e)))?;
        Ok(out)
    }
}

fn to_sql(v: &Value) -> SqlValue {
    match v {
        Value::Null => SqlValue::Null,
        Value::Int(i) => SqlValue::Integer(*i),
        Value::Text(t) => SqlValue::Text(t.clone()),
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
                place: Place::File(path.to_path_buf()),
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
    let place = Place::File(path.to_path_buf());
    match &e {
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(
                f.code,
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
            ) =>
        {
            LedgerError::Corrupt {
                place,
                message: e.to_string(),
            }
        }
        _ => LedgerError::Open {
            place,
            message: e.to_string(),
        },
    }
}

/// The file SQLite keeps beside the ledger (`state.db-wal`).
pub(super) fn sidecar(path: &Path, suffix: &str) -> PathBuf {
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
