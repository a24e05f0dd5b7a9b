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

use serde_json::{Map, Value};

use super::{Ledger, LedgerError, Value as SqlValue};

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
    super::schema_version()
}

fn json(value: SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Int(i) => Value::from(i),
        SqlValue::Text(t) => Value::from(t),
    }
}

/// Writes the ledger as JSON lines to `out`, from one consistent read (a
/// run writing meanwhile is seen before or after, never half). Both stores
/// write the same lines for the same ledger.
pub fn export(ledger: &Ledger, out: &mut dyn Write) -> Result<Counts, TransferError> {
    let reads = TABLES
        .iter()
        .map(|(table, order)| {
            (
                format!("SELECT * FROM {table} ORDER BY {order}"),
                Vec::new(),
            )
        })
        .collect();
    let tables = ledger.transaction(reads, false).map_err(|(_, e)| e)?;
    writeln!(
        out,
        "{}",
        serde_json::json!({"format": FORMAT, "schema": schema()})
    )?;
    let mut counts = Counts::default();
    for ((table, _), rows) in TABLES.iter().zip(tables) {
        let n = rows.rows.len();
        for row in rows.rows {
            let mut object = Map::new();
            for (name, value) in rows.columns.iter().zip(row) {
                object.insert(name.clone(), json(value));
            }
            writeln!(
                out,
                "{}",
                serde_json::json!({"table": table, "row": object})
            )?;
        }
        counts.0.push((*table, n));
    }
    out.flush()?;
    Ok(counts)
}

/// Reads an export into `ledger`, which must be new (no post, no learned
/// state), in one transaction: all of it, or nothing.
pub fn import(ledger: &Ledger, input: &mut dyn BufRead) -> Result<Counts, TransferError> {
    let rows = ledger
        .transaction(
            vec![(
                "SELECT (SELECT count(*) FROM posts) + (SELECT count(*) FROM target_state)"
                    .to_string(),
                Vec::new(),
            )],
            false,
        )
        .map_err(|(_, e)| e)?;
    let rows = rows
        .first()
        .and_then(|r| r.rows.first())
        .and_then(|r| r.first())
        .map_or(0, |v| match v {
            SqlValue::Int(i) => *i,
            _ => 0,
        });
    if rows > 0 {
        return Err(TransferError::NotEmpty { rows });
    }
    let mut counts: Vec<(&'static str, usize)> = TABLES.iter().map(|(t, _)| (*t, 0)).collect();
    let mut statements = Vec::new();
    let mut lines = Vec::new();
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
        let Some((slot, (_, keys))) = counts
            .iter_mut()
            .zip(TABLES)
            .find(|((t, _), _)| *t == table)
        else {
            return Err(bad(format!("unknown table {table:?}")));
        };
        let Some(row) = value.get("row").and_then(Value::as_object) else {
            return Err(bad("no \"row\" object".to_string()));
        };
        let columns: Vec<&str> = row.keys().map(String::as_str).collect();
        if columns
            .iter()
            .any(|c| c.is_empty() || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
        {
            return Err(bad("a column name that is not a plain word".to_string()));
        }
        let values: Vec<SqlValue> = row
            .values()
            .map(|v| match v {
                Value::Null => SqlValue::Null,
                Value::Number(n) => n
                    .as_i64()
                    .map_or_else(|| SqlValue::Text(n.to_string()), SqlValue::Int),
                Value::String(s) => SqlValue::Text(s.clone()),
                other => SqlValue::Text(other.to_string()),
            })
            .collect();
        let placeholders: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let updates: Vec<String> = columns
            .iter()
            .map(|c| format!("{c} = excluded.{c}"))
            .collect();
        statements.push((
            format!(
                "INSERT INTO {table} ({}) VALUES ({}) ON CONFLICT ({keys}) DO UPDATE SET {}",
                columns.join(", "),
                placeholders.join(", "),
                updates.join(", ")
            ),
            values,
        ));
        lines.push(number);
        slot.1 += 1;
    }
    if !header {
        return Err(TransferError::Line {
            line: 1,
            message: "empty: no header line".to_string(),
        });
    }
    ledger.transaction(statements, true).map_err(|(index, e)| {
        match index.and_then(|i| lines.get(i)) {
            Some(line) => TransferError::Line {
                line: *line,
                message: format!("the ledger refused the row: {e}"),
            },
            None => TransferError::Ledger(e),
        }
    })?;
    Ok(Counts(counts))
}

/// `herald ledger export`: the ledger at `location` to `output` (stdout
/// when None); an export file is created readable by its owner only. A
/// missing ledger exports as empty.
pub fn export_to(
    location: &super::Location,
    output: Option<&std::path::Path>,
) -> Result<Counts, TransferError> {
    let Some(ledger) = Ledger::open_read_only_at(location)? else {
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

/// `herald ledger migrate --to URL`: copies the SQLite ledger at `path`
/// into a new ledger in PostgreSQL (all of it or nothing, never into one
/// with records), under the run lock so no run writes meanwhile.
pub fn migrate(path: &std::path::Path, to: &super::DatabaseUrl) -> Result<Counts, TransferError> {
    let _held = crate::lock::acquire(path, None)
        .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?;
    let Some(from) = Ledger::open_read_only(path)? else {
        return Err(TransferError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "no ledger at state.path {}: nothing to migrate",
                crate::paths::display(path)
            ),
        )));
    };
    let mut text = Vec::new();
    export(&from, &mut text)?;
    let to = Ledger::open_at(&super::Location::Database(to.clone()))?;
    import(&to, &mut std::io::Cursor::new(text))
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
/// ledger at `location`, holding the run lock of an SQLite ledger so no
/// run writes meanwhile (a shared ledger refuses any but an empty one).
pub fn import_from(
    location: &super::Location,
    file: &std::path::Path,
) -> Result<Counts, TransferError> {
    let _held = match location {
        super::Location::File(path) => Some(
            crate::lock::acquire(path, None)
                .map_err(|e| TransferError::Io(std::io::Error::other(e.to_string())))?,
        ),
        super::Location::Database(_) => None,
    };
    let mut input: Box<dyn BufRead> = if file == std::path::Path::new("-") {
        Box::new(std::io::BufReader::new(std::io::stdin().lock()))
    } else {
        Box::new(std::io::BufReader::new(std::fs::File::open(file).map_err(
            |e| std::io::Error::new(e.kind(), format!("{}: {e}", crate::paths::display(file))),
        )?))
    };
    let ledger = Ledger::open_at(location)?;
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
