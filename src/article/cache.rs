//! The front-matter cache: what each article file's front matter parsed to,
//! keyed by the file's identity (size, modification and change times, inode),
//! so a cron run over a large archive parses only the files that changed.
//! Parsing YAML is most of what such a run costs; checking a file's identity
//! is one `stat`.
//!
//! The cache is a plain file beside the ledger (`<state>.articles.cache`),
//! written whole, atomically, and only when something changed. It holds
//! nothing that cannot be rebuilt: a missing, unreadable, corrupt or
//! outdated cache (another herald version, other `site` or `content`
//! settings) is ignored and rebuilt. A file changed within the last few
//! seconds is not cached, because a second edit in the same clock tick
//! could leave its identity unchanged.
//!
//! Format: a header line, the fingerprint of what parsing depends on, then
//! records, each a length-prefixed postcard encoding (postcard: a compact,
//! well-kept serde format), so reading streams without holding the file.

use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Article, ParseContext, Parsed};
use crate::diagnostic::Diagnostic;

const MAGIC: &[u8] = b"herald front-matter cache 1\n";

/// Files modified this recently are parsed every time rather than cached.
const SETTLE: Duration = Duration::from_secs(2);

/// A record larger than this is taken as corruption.
const MAX_RECORD: usize = 16 * 1024 * 1024;

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    len: u64,
    modified_ns: i128,
    changed_ns: i128,
    inode: u64,
}

impl Identity {
    /// The identity of a file from its metadata; `None` when the times
    /// cannot be read (such files are never cached).
    pub fn of(meta: &Metadata) -> Option<Identity> {
        let modified_ns = nanos(meta.modified().ok()?);
        #[cfg(unix)]
        let (changed_ns, inode) = {
            use std::os::unix::fs::MetadataExt;
            (
                i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec()),
                meta.ino(),
            )
        };
        #[cfg(not(unix))]
        let (changed_ns, inode) = (modified_ns, 0);
        Some(Identity {
            len: meta.len(),
            modified_ns,
            changed_ns,
            inode,
        })
    }

    /// Whether the file changed long enough before `now` to be cached.
    pub fn settled(&self, now: SystemTime) -> bool {
        let limit = nanos(now) - SETTLE.as_nanos() as i128;
        self.modified_ns < limit && self.changed_ns < limit
    }
}

fn nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// One cached file: where the body starts, and what the front matter gave.
/// The file's path is the article's `source`; it is written apart only for
/// a file that gave no article (one path per record to decode, not two).
#[derive(Serialize, Deserialize)]
struct Record {
    path: Option<PathBuf>,
    identity: Identity,
    body_offset: u64,
    body_line: u32,
    article: Option<Article>,
    diagnostics: Vec<Diagnostic>,
}

/// How many records are decoded together, in parallel.
const BATCH: usize = 2048;

/// What an earlier run's cache knows about the files of this one.
pub struct Lookup {
    /// The cached result of each file (by index into the files given to
    /// `read`) whose identity is unchanged.
    pub known: Vec<Option<Parsed>>,
    /// How many files the cache held.
    pub cached_files: usize,
}

impl Lookup {
    /// Nothing known about `files` files.
    pub fn empty(files: usize) -> Lookup {
        Lookup {
            known: std::iter::repeat_with(|| None).take(files).collect(),
            cached_files: 0,
        }
    }
}

/// Reads the cache at `path` for `files` (sorted, as `load` lists them) and
/// their current identities; anything unusable reads as an empty cache.
pub fn read(
    path: &Path,
    ctx: &ParseContext<'_>,
    files: &[PathBuf],
    identities: &[Option<Identity>],
) -> Lookup {
    let mut lookup = Lookup::empty(files.len());
    if let Err(e) = read_records(path, &fingerprint(ctx), files, identities, &mut lookup) {
        if e.kind() != io::ErrorKind::NotFound {
            tracing::debug!("front-matter cache {} not used: {e}", path.display());
        }
        return Lookup::empty(files.len());
    }
    lookup
}

/// The shape of a cached article: raised whenever `Article` changes, so a
/// cache written by a build of the same version with another shape is
/// read as outdated, not misread.
const FORMAT: u32 = 3;

/// What parsing depends on besides the file: herald's version and the
/// `site` and `content` settings. A cache made under another is ignored.
fn fingerprint(ctx: &ParseContext<'_>) -> String {
    format!(
        "{}+{FORMAT}\n{:?}\n{:?}",
        env!("CARGO_PKG_VERSION"),
        ctx.site,
        ctx.content
    )
}

/// Streams the records (written in the same sorted order as `files`) in
/// batches decoded in parallel, and matches them to `files` in one pass.
fn read_records(
    path: &Path,
    fingerprint: &str,
    files: &[PathBuf],
    identities: &[Option<Identity>],
    lookup: &mut Lookup,
) -> io::Result<()> {
    let mut reader = BufReader::with_capacity(256 * 1024, File::open(path)?);
    let mut magic = [0u8; MAGIC.len()];
    reader.read_exact(&mut magic)?;
    if magic != MAGIC {
        return Err(invalid("not a herald cache of this format".to_string()));
    }
    let mut buf = Vec::new();
    if !read_chunk(&mut reader, &mut buf)? || buf != fingerprint.as_bytes() {
        return Err(invalid(
            "made by another herald version or other settings".to_string(),
        ));
    }
    let mut next = 0;
    let mut batch: Vec<Vec<u8>> = Vec::with_capacity(BATCH);
    loop {
        batch.clear();
        while batch.len() < BATCH {
            let mut record = Vec::new();
            if !read_chunk(&mut reader, &mut record)? {
                break;
            }
            batch.push(record);
        }
        if batch.is_empty() {
            return Ok(());
        }
        let records = batch
            .par_iter()
            .map(|bytes| postcard::from_bytes::<Record>(bytes))
            .collect::<Result<Vec<Record>, _>>()
            .map_err(|e| invalid(format!("bad record: {e}")))?;
        lookup.cached_files += records.len();
        for record in records {
            let Some(path) = record
                .article
                .as_ref()
                .map(|a| &a.source)
                .or(record.path.as_ref())
            else {
                return Err(invalid("a record without a path".to_string()));
            };
            while next < files.len() && files[next] < *path {
                next += 1;
            }
            if next < files.len()
                && files[next] == *path
                && identities[next] == Some(record.identity)
            {
                let article = record.article.map(|mut a| {
                    a.body_offset = record.body_offset;
                    a.body_line = record.body_line;
                    a
                });
                lookup.known[next] = Some(Parsed {
                    article,
                    diagnostics: record.diagnostics,
                });
            }
        }
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads one length-prefixed chunk into `buf`; `false` at a clean end.
fn read_chunk(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut len = [0u8; 4];
    match reader.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(false),
        Err(e) => return Err(e),
    }
    let len = u32::from_le_bytes(len) as usize;
    if len > MAX_RECORD {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "record too long",
        ));
    }
    buf.resize(len, 0);
    reader.read_exact(buf)?;
    Ok(true)
}

fn write_chunk(writer: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "record too long"))?;
    writer.write_all(&len.to_le_bytes())?;
    writer.write_all(bytes)
}

/// Writes the cache for the files just read: `(path, identity, result)` in
/// `load`'s sorted order, leaving out files changed too recently to be trusted (see `SETTLE`).
pub fn write<'a>(
    path: &Path,
    ctx: &ParseContext<'_>,
    files: impl Iterator<Item = (&'a Path, Identity, &'a Parsed)>,
    now: SystemTime,
) -> io::Result<()> {
    crate::fsio::write_atomic_with(path, |out| {
        // Drafts and scheduled articles are in it: only the owner reads it,
        // like the ledger.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            out.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        let mut out = BufWriter::with_capacity(256 * 1024, out);
        out.write_all(MAGIC)?;
        write_chunk(&mut out, fingerprint(ctx).as_bytes())?;
        let mut buf = Vec::new();
        for (file, identity, parsed) in files {
            if !identity.settled(now) {
                continue;
            }
            let record = RecordRef {
                path: parsed.article.is_none().then_some(file),
                identity,
                body_offset: parsed.article.as_ref().map_or(0, |a| a.body_offset),
                body_line: parsed.article.as_ref().map_or(0, |a| a.body_line),
                article: parsed.article.as_ref(),
                diagnostics: &parsed.diagnostics,
            };
            buf.clear();
            // A path that is not UTF-8 cannot be encoded: leave it uncached.
            if let Ok(bytes) = postcard::to_extend(&record, std::mem::take(&mut buf)) {
                write_chunk(&mut out, &bytes)?;
                buf = bytes;
            }
        }
        out.flush()
    })
}

/// `Record`, borrowed, for writing.
#[derive(Serialize)]
struct RecordRef<'a> {
    path: Option<&'a Path>,
    identity: Identity,
    body_offset: u64,
    body_line: u32,
    article: Option<&'a Article>,
    diagnostics: &'a [Diagnostic],
}

/// A file's identity now (one `stat`), for `load` to compare with the
/// cached one; `None` when it cannot be read (the file is then parsed).
pub fn identity_of(path: &Path) -> Option<Identity> {
    fs::metadata(path).ok().as_ref().and_then(Identity::of)
}
