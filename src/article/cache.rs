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
//! Format: a header line and the fingerprint of what parsing depends on;
//! then the details of every article (`Details`: summary, hero image, call
//! to action…), each a length-prefixed postcard encoding (postcard: a
//! compact, well-kept serde format); then the index, a record per file
//! (path, identity, front matter but its details, where its details are);
//! then a footer saying where the index starts. A run reads the index only
//! and reads back the details of the few articles it shows or posts, by
//! offset, from the file it keeps open: a cron run over a large archive
//! neither decodes nor holds the details of all of it.

use std::fs::{self, File, Metadata};
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Article, Details, Kept, ParseContext, Parsed};
use crate::diagnostic::Diagnostic;

const MAGIC: &[u8] = b"herald front-matter cache 2\n";

/// The footer's last bytes, after the index's offset.
const END: &[u8; 8] = b"index.\n\0";

/// Files modified this recently are parsed every time rather than cached.
const SETTLE: Duration = Duration::from_secs(2);

/// A record larger than this is taken as corruption.
const MAX_RECORD: usize = 16 * 1024 * 1024;

/// What identifies a version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    len: u64,
    /// Nanoseconds since 1970 (an `i64` reaches the year 2262).
    modified_ns: i64,
    changed_ns: i64,
    inode: u64,
}

impl Identity {
    /// The file's size when it was listed.
    pub fn size(&self) -> u64 {
        self.len
    }

    /// The identity of a file from its metadata; `None` when the times
    /// cannot be read (such files are never cached).
    pub fn of(meta: &Metadata) -> Option<Identity> {
        let modified_ns = nanos(meta.modified().ok()?);
        #[cfg(unix)]
        let (changed_ns, inode) = {
            use std::os::unix::fs::MetadataExt;
            (
                meta.ctime()
                    .saturating_mul(1_000_000_000)
                    .saturating_add(meta.ctime_nsec()),
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
        let limit = nanos(now).saturating_sub(SETTLE.as_nanos() as i64);
        self.modified_ns < limit && self.changed_ns < limit
    }
}

fn nanos(t: SystemTime) -> i64 {
    let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => ns(d),
        Err(e) => -ns(e.duration()),
    }
}

/// One cached file, as read: where the body starts, what the front matter
/// gave but the details, and where the details are. The path is borrowed
/// from the record's bytes: only matched against the files found, never
/// held (the article takes the path the folder walk found).
#[derive(Deserialize)]
struct Record<'a> {
    path: &'a str,
    identity: Identity,
    body_offset: u64,
    body_line: u32,
    article: Option<Article>,
    details: Option<Place>,
    digest: Option<crate::article::Digest>,
    diagnostics: Vec<Diagnostic>,
}

/// `Record`, borrowed, for writing.
#[derive(Serialize)]
struct RecordRef<'a> {
    path: &'a str,
    identity: Identity,
    body_offset: u64,
    body_line: u32,
    article: Option<&'a Article>,
    details: Option<Place>,
    digest: Option<crate::article::Digest>,
    diagnostics: &'a [Diagnostic],
}

/// Where an article's encoded details are in a cache file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Place {
    offset: u64,
    len: u32,
}

/// An article's details left in the cache file a run read (kept open, so
/// a later run replacing the file changes nothing for this one).
#[derive(Debug, Clone)]
pub struct Stored {
    file: Arc<File>,
    place: Place,
}

impl Stored {
    /// Reads the details back (one positioned read).
    pub fn read(&self) -> io::Result<Details> {
        let bytes = read_at(&self.file, self.place)?;
        postcard::from_bytes(&bytes).map_err(|e| invalid(format!("bad details: {e}")))
    }
}

/// The bytes at `place` in `file`, read without moving a shared cursor.
fn read_at(file: &File, place: Place) -> io::Result<Vec<u8>> {
    let mut bytes = vec![0; place.len as usize];
    #[cfg(unix)]
    std::os::unix::fs::FileExt::read_exact_at(file, &mut bytes, place.offset)?;
    #[cfg(windows)]
    {
        let mut done = 0;
        while done < bytes.len() {
            let n = std::os::windows::fs::FileExt::seek_read(
                file,
                &mut bytes[done..],
                place.offset + done as u64,
            )?;
            if n == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            done += n;
        }
    }
    Ok(bytes)
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
const FORMAT: u32 = 5;

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

/// Reads the index (its records are in the same sorted order as `files`)
/// in batches decoded in parallel, and matches it to `files` in one pass.
fn read_records(
    path: &Path,
    fingerprint: &str,
    files: &[PathBuf],
    identities: &[Option<Identity>],
    lookup: &mut Lookup,
) -> io::Result<()> {
    let file = Arc::new(File::open(path)?);
    let mut reader = BufReader::with_capacity(256 * 1024, &*file);
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
    let index_end = reader.seek(SeekFrom::End(-16))?;
    let mut footer = [0u8; 16];
    reader.read_exact(&mut footer)?;
    let (start, end) = footer.split_at(8);
    if end != END {
        return Err(invalid("cut short".to_string()));
    }
    let index_start = u64::from_le_bytes(start.try_into().unwrap_or_default());
    if index_start > index_end {
        return Err(invalid("an index past its end".to_string()));
    }
    reader.seek(SeekFrom::Start(index_start))?;
    let mut reader = reader.take(index_end - index_start);
    let mut next = 0;
    // A batch's records side by side in one buffer, reused.
    let mut bytes: Vec<u8> = Vec::new();
    let mut spans: Vec<std::ops::Range<usize>> = Vec::with_capacity(BATCH);
    loop {
        bytes.clear();
        spans.clear();
        while spans.len() < BATCH {
            let start = bytes.len();
            if !read_chunk_onto(&mut reader, &mut bytes)? {
                break;
            }
            spans.push(start..bytes.len());
        }
        if spans.is_empty() {
            return Ok(());
        }
        let records = spans
            .par_iter()
            .map(|span| postcard::from_bytes::<Record<'_>>(&bytes[span.clone()]))
            .collect::<Result<Vec<Record<'_>>, _>>()
            .map_err(|e| invalid(format!("bad record: {e}")))?;
        lookup.cached_files += records.len();
        for record in records {
            let path = Path::new(record.path);
            let mut order = std::cmp::Ordering::Greater;
            while next < files.len() {
                order = path_order(&files[next], path);
                if order.is_ge() {
                    break;
                }
                next += 1;
            }
            if order.is_eq() && identities[next] == Some(record.identity) {
                let article = match (record.article, record.details) {
                    (Some(mut a), Some(place)) => {
                        a.body_offset = record.body_offset;
                        a.body_line = record.body_line;
                        a.digest = record.digest;
                        a.details = Kept::Cached(Stored {
                            file: file.clone(),
                            place,
                        });
                        Some(a)
                    }
                    (None, None) => None,
                    _ => return Err(invalid("an article without its details".to_string())),
                };
                lookup.known[next] = Some(Parsed {
                    article,
                    diagnostics: record.diagnostics,
                });
            }
        }
    }
}

/// The order of `Path`'s `Ord` (component by component) for the clean
/// paths a folder walk gives, found on the bytes: the separator sorts
/// before every other byte. `Path::cmp` splits both paths into components
/// on every comparison, and matching the index to the files found makes
/// one or two per file.
pub(super) fn path_order(a: &Path, b: &Path) -> std::cmp::Ordering {
    let (a, b) = (
        a.as_os_str().as_encoded_bytes(),
        b.as_os_str().as_encoded_bytes(),
    );
    if a == b {
        // The usual answer when matching the cache to the files found.
        return std::cmp::Ordering::Equal;
    }
    let rank = |byte: u8| {
        if std::path::is_separator(byte as char) {
            0
        } else {
            u16::from(byte) + 1
        }
    };
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => rank(a[i]).cmp(&rank(b[i])),
        None => a.len().cmp(&b.len()),
    }
}

fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads one length-prefixed chunk into `buf`; `false` at a clean end.
fn read_chunk(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
    buf.clear();
    read_chunk_onto(reader, buf)
}

/// Reads one length-prefixed chunk onto the end of `buf`; `false` at a
/// clean end.
fn read_chunk_onto(reader: &mut impl Read, buf: &mut Vec<u8>) -> io::Result<bool> {
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
    let start = buf.len();
    buf.resize(start + len, 0);
    reader.read_exact(&mut buf[start..])?;
    Ok(true)
}

fn write_chunk(writer: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "record too long"))?;
    writer.write_all(&len.to_le_bytes())?;
    writer.write_all(bytes)
}

/// Writes the cache for the files just read: `(path, identity, result)` in
/// `load`'s sorted order, leaving out files changed too recently to be
/// trusted (see `SETTLE`) and paths that are not UTF-8. Details this run
/// did not parse are copied from the cache it read, in runs of adjacent
/// records (a few large reads, not one per article).
pub fn write<'a>(
    path: &Path,
    ctx: &ParseContext<'_>,
    files: &[(&'a Path, Identity, &'a Parsed)],
    now: SystemTime,
) -> io::Result<()> {
    crate::fsio::write_atomic_with(path, |out| {
        // Drafts and scheduled articles are in it: only the owner reads it,
        // like the ledger.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            out.file()
                .set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        let mut out = Counting {
            inner: BufWriter::with_capacity(256 * 1024, out),
            written: 0,
        };
        out.write_all(MAGIC)?;
        write_chunk(&mut out, fingerprint(ctx).as_bytes())?;
        let kept = |file: &(&'a Path, Identity, &'a Parsed)| kept(file, now);
        // The details first, remembering where each went. Each chunk of
        // files is encoded in parallel, then written in order.
        let mut places: Vec<Option<Place>> = vec![None; files.len()];
        let mut copy = CopyRun::default();
        for (chunk, start) in files.chunks(ENCODE_CHUNK).zip((0..).step_by(ENCODE_CHUNK)) {
            let encoded: Vec<Option<postcard::Result<Vec<u8>>>> = chunk
                .par_iter()
                .map(|file| match kept(file)?.2.article.as_ref()?.details {
                    Kept::Held(ref details) => Some(postcard::to_stdvec(&**details)),
                    Kept::Cached(_) => None,
                })
                .collect();
            for (offset, (file, encoded)) in chunk.iter().zip(encoded).enumerate() {
                let i = start + offset;
                let Some(article) = kept(file).and_then(|(_, _, parsed)| parsed.article.as_ref())
                else {
                    continue;
                };
                match (&article.details, encoded) {
                    (Kept::Held(_), Some(bytes)) => {
                        let bytes =
                            bytes.map_err(|e| invalid(format!("details not encoded: {e}")))?;
                        copy.flush(&mut out, &mut places)?;
                        let offset = out.written + 4;
                        write_chunk(&mut out, &bytes)?;
                        places[i] = Some(Place {
                            offset,
                            len: bytes.len() as u32,
                        });
                    }
                    // Held details are always encoded above.
                    (Kept::Held(_), None) => {
                        return Err(invalid("details not encoded".to_string()));
                    }
                    (Kept::Cached(stored), _) => copy.add(i, stored, &mut out, &mut places)?,
                }
            }
        }
        copy.flush(&mut out, &mut places)?;
        let index_start = out.written;
        for (chunk, start) in files.chunks(ENCODE_CHUNK).zip((0..).step_by(ENCODE_CHUNK)) {
            let encoded: Vec<Option<Vec<u8>>> = chunk
                .par_iter()
                .enumerate()
                .map(|(offset, file)| {
                    let (path, identity, parsed) = kept(file)?;
                    let record = RecordRef {
                        path,
                        identity,
                        body_offset: parsed.article.as_ref().map_or(0, |a| a.body_offset),
                        body_line: parsed.article.as_ref().map_or(0, |a| a.body_line),
                        article: parsed.article.as_ref(),
                        details: places[start + offset],
                        digest: parsed.article.as_ref().and_then(|a| a.digest),
                        diagnostics: &parsed.diagnostics,
                    };
                    // A record that cannot be encoded (none can fail but
                    // for a path, left out above) is left uncached.
                    postcard::to_stdvec(&record).ok()
                })
                .collect();
            for bytes in encoded.iter().flatten() {
                write_chunk(&mut out, bytes)?;
            }
        }
        out.write_all(&index_start.to_le_bytes())?;
        out.write_all(END)?;
        out.inner.flush()
    })
}

/// How many files' details and records are encoded together, in
/// parallel, before they are written in order.
const ENCODE_CHUNK: usize = 1024;

/// A file's record as written, unless it is left out: changed too recently
/// to be trusted, or a path that is not UTF-8.
fn kept<'a>(
    &(file, identity, parsed): &(&'a Path, Identity, &'a Parsed),
    now: SystemTime,
) -> Option<(&'a str, Identity, &'a Parsed)> {
    Some((file.to_str()?, identity, parsed)).filter(|_| identity.settled(now))
}

/// A writer that counts what went through it (the offsets of the details).
struct Counting<W> {
    inner: W,
    written: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(bytes)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Details to copy from the cache read into the one written, gathered
/// while they lie side by side in the old file (each payload 4 bytes, its
/// length, after the one before).
#[derive(Default)]
struct CopyRun {
    file: Option<Arc<File>>,
    /// The old file's range, from the first length prefix on.
    start: u64,
    end: u64,
    /// Which record each payload is, and its place in the old file.
    members: Vec<(usize, Place)>,
}

/// The most one copy reads at once.
const COPY_RUN: u64 = 4 * 1024 * 1024;

impl CopyRun {
    fn add<W: Write>(
        &mut self,
        record: usize,
        stored: &Stored,
        out: &mut Counting<W>,
        places: &mut [Option<Place>],
    ) -> io::Result<()> {
        let adjacent = self
            .file
            .as_ref()
            .is_some_and(|f| Arc::ptr_eq(f, &stored.file))
            && stored.place.offset == self.end + 4
            && self.end - self.start < COPY_RUN;
        if !adjacent {
            self.flush(out, places)?;
            self.file = Some(stored.file.clone());
            self.start = stored
                .place
                .offset
                .checked_sub(4)
                .ok_or_else(|| invalid("details at offset 0".to_string()))?;
        }
        self.end = stored.place.offset + u64::from(stored.place.len);
        self.members.push((record, stored.place));
        Ok(())
    }

    fn flush<W: Write>(
        &mut self,
        out: &mut Counting<W>,
        places: &mut [Option<Place>],
    ) -> io::Result<()> {
        let Some(file) = self.file.take() else {
            return Ok(());
        };
        let bytes = read_at(
            &file,
            Place {
                offset: self.start,
                len: u32::try_from(self.end - self.start)
                    .map_err(|_| invalid("a run too long".to_string()))?,
            },
        )?;
        let at = out.written;
        out.write_all(&bytes)?;
        for (record, old) in self.members.drain(..) {
            places[record] = Some(Place {
                offset: at + (old.offset - self.start),
                len: old.len,
            });
        }
        Ok(())
    }
}

/// A file's identity now (one `stat`), for `load` to compare with the
/// cached one; `None` when it cannot be read (the file is then parsed).
pub fn identity_of(path: &Path) -> Option<Identity> {
    fs::metadata(path).ok().as_ref().and_then(Identity::of)
}
