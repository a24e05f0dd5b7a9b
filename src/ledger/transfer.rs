//! `herald ledger export` and `import`: the ledger as JSON lines, in a
//! stable order (a table at a time, rows by their key), so that a site can
//! back it up, commit it, or move it to another machine, and read it back
//! into an empty ledger.
//!
//! The first line names the format and the schema version; each other line
//! is one row: `{"table":"posts","row":{…every column…}}`. The learned
//! per-target state holds sessions and tokens: an export is as secret as
//! the ledger itself (a file export is created readable by its owner only).

use std::io::{BufRead, Write};

use rusqlite::types::{Value as SqlValue, ValueRef};
use serde_json::{Map, Value};

use super::{Ledger, LedgerError, MIGRATIONS};

/// The tables exported, in order, each with the columns that order its
/// rows. `runs` (each run's record) is history, not state: it stays.
const TABLES: &[(&str, &str)] = &[
    ("meta", "key"),
    ("posts", "target, article_id"),
    ("target_state", "target, key"),
];

/// The first line's format name.
const FORMAT: &str = "herald-ledger";

/// Why an import or export did not happen.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error(
        "the export is of schema {found} and this herald's ledger is of schema {known}: import it with the herald that wrote it, or export again with this one"
    )]
    Schema { found: i64, known: i64 },
    #[error(
        "the ledger already holds {rows} rows: import only into a new ledger (move this one away first), so no record is overwritten or mixed"
    )]
    NotEmpty { rows: i64 },
}

/// How much an export or import moved, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts(pub Vec<(&'static str, usize)>);

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(t, n)| format!("{n} {t}")).collect();
        f.write_str(&parts.join(", "))
    }
}

fn schema() -> i64 {
    MIGRATIONS.len() as i64
}

/// Writes the ledger as JSON lines to `out`, in one read transaction (a
/// run writing meanwhile is seen before or after, never half).
pub fn export(ledger: &Ledger, out: &mut dyn Write) -> Result<Counts, TransferError> {
    let conn = &ledger.conn;
    conn.execute_batch("BEGIN").map_err(|e| ledger.corrupt(e))?;
    let result = (|| {
        writeln!(
            out,
            "{}",
            serde_json::json!({"format": FORMAT, "schema": schema()})
        )?;
        let mut counts = Counts::default();
        for (table, order) in TABLES {
            let mut stmt = conn
                .prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))
                .map_err(|e| ledger.corrupt(e))?;
            let names: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
            let mut rows = stmt.query([]).map_err(|e| ledger.corrupt(e))?;
            let mut n = 0;
            while let Some(row) = rows.next().map_err(|e| ledger.corrupt(e))? {
                let mut object = Map::new();
                for (i, name) in names.iter().enumerate() {
                    let value = match row.get_ref(i).map_err(|e| ledger.corrupt(e))? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(v) => Value::from(v),
                        ValueRef::Real(v) => Value::from(v),
                        ValueRef::Text(t) => Value::from(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Value::from(String::from_utf8_lossy(b).into_owned()),
                    };
                    object.insert(name.clone(), value);
                }
                writeln!(
                    out,
                    "{}",
                    serde_json::json!({"table": table, "row": object})
                )?;
                n += 1;
            }
            counts.0.push((*table, n));
        }
        out.flush()?;
        Ok(counts)
    })();
    let _ = conn.execute_batch("COMMIT");
    result
}

/// Reads an export into `ledger`, which must be new (no post, no learned
/// state), in one transaction: all of it, or nothing.
pub fn import(ledger: &Ledger, input: &mut dyn BufRead) -> Result<Counts, TransferError> {
    let conn = &ledger.conn;
    let rows: i64 = conn
        .query_row(
            "SELECT (SELECT count(*) FROM posts) + (SELECT count(*) FROM target_state)",
            [],
            |r| r.get(0),
        )
        .map_err(|e| ledger.corrupt(e))?;
    if rows > 0 {
        return Err(TransferError::NotEmpty { rows });
    }
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(|e| ledger.write_err(e))?;
    let result = (|| {
        let mut counts: Vec<(&'static str, usize)> = TABLES.iter().map(|(t, _)| (*t, 0)).collect();
        let mut header = false;
        for (index, line) in input.lines().enumerate() {
            let number = index + 1;
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let bad = |message: String| TransferError::Line {
                line: number,
                message,
            };
            let value: Value =
                serde_json::from_str(&line).map_err(|e| bad(format!("not JSON: {e}")))?;
            if !header {
                if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
                    return Err(bad(format!(
                        "not a herald ledger export (no \"format\": \"{FORMAT}\")"
                    )));
                }
                let found = value.get("schema").and_then(Value::as_i64).unwrap_or(0);
                if found != schema() {
                    return Err(TransferError::Schema {
                        found,
                        known: schema(),
                    });
                }
                header = true;
                continue;
            }
            let table = value
                .get("table")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let Some(slot) = counts.iter_mut().find(|(t, _)| *t == table) else {
                return Err(bad(format!("unknown table {table:?}")));
            };
            let Some(row) = value.get("row").and_then(Value::as_object) else {
                return Err(bad("no \"row\" object".to_string()));
            };
            let columns: Vec<&String> = row.keys().collect();
            if columns
                .iter()
                .any(|c| !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
            {
                return Err(bad("a column name that is not a plain word".to_string()));
            }
            let values: Vec<SqlValue> = row
                .values()
                .map(|v| match v {
                    Value::Null => SqlValue::Null,
                    Value::Number(n) => n
                        .as_i64()
                        .map(SqlValue::Integer)
                        .unwrap_or_else(|| SqlValue::Real(n.as_f64().unwrap_or_default())),
                    Value::String(s) => SqlValue::Text(s.clone()),
                    other => SqlValue::Text(other.to_string()),
                })
                .collect();
            let sql = format!(
                "INSERT OR REPLACE INTO {table} ({}) VALUES ({})",
                columns
                    .iter()
                    .map(|c| c.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                vec!["?"; columns.len()].join(", ")
            );
            conn.execute(&sql, rusqlite::params_from_iter(values))
                .map_err(|e| bad(format!("the ledger refused the row: {e}")))?;
            slot.1 += 1;
        }
        if !header {
            return Err(TransferError::Line {
                line: 1,
                message: "empty: no header line".to_string(),
            });
        }
        Ok(Counts(counts))
    })();
    match &result {
        Ok(_) => conn
            .execute_batch("COMMIT")
            .map_err(|e| ledger.write_err(e))?,
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    result
}

/// `herald ledger export`: the ledger at `path` to `output` (stdout when
/// None); an export file is created readable by its owner only. A missing
/// ledger exports as empty.
pub fn export_to(
    path: &std::path::Path,
    output: Option<&std::path::Path>,
) -> Result<Counts, TransferError> {
    let Some(ledger) = Ledger::open_read_only(path)? else {
        let mut out = sink(output)?;
        writeln!(
            out,
            "{}",
            serde_json::json!({"format": FORMAT, "schema": schema()})
        )?;
        return Ok(Counts(TABLES.iter().map(|(t, _)| (*t, 0)).collect()));
    };
    let mut out = sink(output)?;
    export(&ledger, &mut out)
}

fn sink(output: Option<&std::path::Path>) -> std::io::Result<Box<dyn Write>> {
    Ok(match output {
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
        Some(path) => {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            Box::new(std::io::BufWriter::new(options.open(path)?))
        }
    })
}

/// `herald ledger import FILE`: reads an export (`-`: stdin) into the
/// ledger at `path`, holding the run lock so no run writes meanwhile.
pub fn import_from(
    path: &std::path::Path,
    file: &std::path::Path,
) -> Result<Counts, TransferError> {
    let _held = crate::lock::acquire(path, None)
        .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
    let mut input: Box<dyn BufRead> = if file == std::path::Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(file).map_err(
            |e| std::io::Error::new(e.kind(), format!("{}: {e}", crate::paths::display(file))),
        )?))
    };
    let ledger = Ledger::open(path)?;
    import(&ledger, &mut input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{Status, Unsent};

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn an_export_reads_back_into_a_new_ledger_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let a = Ledger::open(&dir.path().join("a.db")).unwrap();
        a.claim_site("https://x.example/").unwrap();
        a.begin_attempt("masto", "https://x.example/a/", "k1", "h1", now())
            .unwrap();
        a.mark_posted(
            "masto",
            "https://x.example/a/",
            &crate::social::Delivered {
                remote_id: Some("1".into()),
                remote_url: Some("https://m.example/1".into()),
                reference: None,
            },
            now(),
        )
        .unwrap();
        let unsent = Unsent {
            status: Status::Held,
            reason: "approval \"quoted\"\nand a line break",
            idempotency_key: "k2",
            content_hash: "h2",
        };
        a.record_unsent("bsky", "https://x.example/b/", &unsent, now())
            .unwrap();
        a.set_learned("bsky", "session", Some("{\"a\":1}"), now())
            .unwrap();
        let mut first = Vec::new();
        let counts = export(&a, &mut first).unwrap();
        assert_eq!(counts.to_string(), "1 meta, 2 posts, 1 target_state");

        let b = Ledger::open(&dir.path().join("b.db")).unwrap();
        let read = import(&b, &mut first.as_slice()).unwrap();
        assert_eq!(read, counts);
        let mut second = Vec::new();
        export(&b, &mut second).unwrap();
        assert_eq!(
            String::from_utf8(second).unwrap(),
            String::from_utf8(first.clone()).unwrap()
        );
        assert_eq!(
            b.get("bsky", "https://x.example/b/")
                .unwrap()
                .unwrap()
                .status,
            Status::Held
        );

        // Never into a ledger with records; nothing half-read.
        assert!(matches!(
            import(&b, &mut first.as_slice()),
            Err(TransferError::NotEmpty { .. })
        ));
        let c = Ledger::open(&dir.path().join("c.db")).unwrap();
        let mut broken = first.clone();
        broken.extend_from_slice(b"{\"table\":\"nope\",\"row\":{}}\n");
        let e = import(&c, &mut broken.as_slice()).unwrap_err();
        assert!(e.to_string().starts_with("line 6: unknown table"), "{e}");
        assert!(c.records().unwrap().is_empty(), "all or nothing");
        let old = b"{\"format\":\"herald-ledger\",\"schema\":1}\n";
        assert!(matches!(
            import(&c, &mut old.as_slice()),
            Err(TransferError::Schema { found: 1, .. })
        ));
    }
}
