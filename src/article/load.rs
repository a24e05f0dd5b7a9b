//! Reading the content folder: find the article files, read each one's front
//! matter (each file read whole, its front matter parsed), parse them in
//! parallel, and refuse duplicate permalinks. Bodies are read by
//! `read_body`, for the articles that are shown: from the text kept when
//! the file was parsed, within `HELD_TEXT_BUDGET`, else from the file.

use std::borrow::Cow;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::SystemTime;

use rayon::prelude::*;

use super::cache::{self, Identity, Lookup};
use super::{Article, Details, ParseContext, Parsed, parse};
use crate::config::Config;
use crate::diagnostic::Diagnostic;

/// Every usable article and every problem met while reading the folder.
#[derive(Debug, Default)]
pub struct Corpus {
    /// Sorted by file path; none of them share a permalink.
    pub articles: Vec<Article>,
    pub diagnostics: Vec<Diagnostic>,
    /// How many files were read.
    pub files: usize,
    /// How many of them the front-matter cache answered for.
    pub from_cache: usize,
}

impl Corpus {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The content folder itself cannot be read: nothing can be published.
#[derive(Debug, thiserror::Error)]
#[error("content.dir {}: {reason}", crate::paths::display(.dir))]
pub struct LoadError {
    pub dir: PathBuf,
    pub reason: String,
}

/// Whether loading may use the front-matter cache (`cache`), and whether it
/// may write it. Dry runs and `check` only read it: they create nothing
/// under the state path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    Off,
    Read,
    ReadWrite,
}

/// How many bytes of the files it parses a run keeps in memory, so that
/// their bodies are rendered without reading the files again: all of the
/// benchmark's 10,000 articles (67 MB), a seventh of its 100,000, whose
/// full archive must stay within 500 MB.
pub const HELD_TEXT_BUDGET: usize = 96 << 20;

/// Reads every article's front matter under `content.dir`, parsing every
/// file.
pub fn load(config: &Config) -> Result<Corpus, LoadError> {
    load_with(config, CacheUse::Off)
}

/// Reads every article's front matter under `content.dir`, taking from the
/// front-matter cache what is still valid when `cache` allows.
pub fn load_with(config: &Config, cache_use: CacheUse) -> Result<Corpus, LoadError> {
    load_at(config, cache_use, SystemTime::now())
}

/// `load_with` at a given time (which decides which files changed too
/// recently to be cached).
pub fn load_at(config: &Config, cache_use: CacheUse, now: SystemTime) -> Result<Corpus, LoadError> {
    let dir = &config.content.dir;
    let meta = std::fs::metadata(dir).map_err(|e| LoadError {
        dir: dir.clone(),
        reason: if e.kind() == std::io::ErrorKind::NotFound {
            let folder = config
                .file
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            format!(
                "no such folder (a relative content.dir is resolved against the config file's folder, {}; `herald init` writes a config with the site's own folders)",
                crate::paths::display(folder)
            )
        } else {
            e.to_string()
        },
    })?;
    if !meta.is_dir() {
        return Err(LoadError {
            dir: dir.clone(),
            reason: "is not a folder".to_string(),
        });
    }
    let mut diagnostics = Vec::new();
    let ctx = ParseContext::of(config);
    let max = config.content.max_file_size;
    let cache_path = config
        .state
        .cache_file()
        .filter(|_| cache_use != CacheUse::Off);
    let (files, identities) = find_files(
        dir,
        &config.content.extensions,
        cache_path.is_some(),
        &mut diagnostics,
    )?;
    let Lookup {
        known: mut results,
        cached_files,
    } = match &cache_path {
        Some(path) => cache::read(path, &ctx, &files, &identities),
        None => Lookup::empty(files.len()),
    };
    let hits = results.iter().filter(|r| r.is_some()).count();
    // Parse what the cache did not know, in place (a large archive is not
    // held twice). A file that could not be read is not cached. A file
    // whose identity can be trusted gets its digest now, while its details
    // are in hand.
    let mut cacheable = vec![true; files.len()];
    let budget = AtomicUsize::new(HELD_TEXT_BUDGET);
    results
        .par_iter_mut()
        .zip(cacheable.par_iter_mut())
        .zip(files.par_iter().zip(identities.par_iter()))
        .filter(|((slot, _), _)| slot.is_none())
        .for_each(|((slot, cacheable), (path, identity))| {
            let (mut parsed, ok) =
                read_front(path, &ctx, max, identity.map(|i| i.size()), Some(&budget));
            if let (Some(article), Some(identity)) =
                (&mut parsed.article, identity.filter(|i| i.settled(now)))
                && let Some(details) = article.held_details()
            {
                article.digest = Some(article.digest_of(details, &identity));
            }
            *slot = Some(parsed);
            *cacheable = ok;
        });
    if let Some(path) = cache_path.filter(|_| cache_use == CacheUse::ReadWrite)
        && (hits < files.len() || hits < cached_files)
    {
        let entries: Vec<(&Path, Identity, &Parsed)> = files
            .iter()
            .zip(&identities)
            .zip(&results)
            .zip(&cacheable)
            .filter_map(|(((file, identity), parsed), cacheable)| {
                Some((file.as_path(), (*identity)?, parsed.as_ref()?)).filter(|_| *cacheable)
            })
            .collect();
        if let Err(e) = cache::write(&path, &ctx, &entries, now) {
            diagnostics.push(Diagnostic::warning(
                &path,
                format!("cannot write the front-matter cache (the next run parses every file again): {e}"),
            ));
        }
    }

    // `into_iter().filter_map().collect()` reuses `results`' allocation for
    // the articles (std collects in place), so a large archive is not held
    // twice at its peak. Each article takes its path from the folder's walk
    // (a cached record's path is never decoded into a string of its own).
    let file_count = files.len();
    // A digest only counts for a file trusted at `now` (a cache written by
    // a run with a later clock may hold one for a file changed just now).
    let mut articles: Vec<Article> = results
        .into_iter()
        .zip(files)
        .zip(&identities)
        .filter_map(|((p, file), identity)| {
            let p = p?;
            diagnostics.extend(p.diagnostics);
            p.article.map(|mut a| {
                a.source = file;
                if !identity.is_some_and(|i| i.settled(now)) {
                    a.digest = None;
                }
                a
            })
        })
        .collect();
    reject_duplicate_permalinks(&mut articles, &mut diagnostics);
    diagnostics.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    tracing::debug!("{file_count} article files, {hits} answered by the front-matter cache");
    Ok(Corpus {
        articles,
        diagnostics,
        files: file_count,
        from_cache: hits,
    })
}

/// The article files under `dir` in path order, each with its identity
/// when `stat` asks for it (one `stat` per file, only when there is a
/// cache to check against). Folders are walked in parallel and each one's
/// entries sorted by name, so the whole list comes out in path order with
/// no sort of all of it; a file's identity is read as it is listed, its
/// folder at hand. Hidden files and folders are skipped; a symbolic link
/// is followed only to a place inside the folder.
fn find_files(
    dir: &Path,
    extensions: &[String],
    stat: bool,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(Vec<PathBuf>, Vec<Option<Identity>>), LoadError> {
    let root = dir.canonicalize().map_err(|e| LoadError {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let walk = Walk {
        root: &root,
        extensions,
        stat,
    };
    let mut found = Found::default();
    walk.folder(dir, &mut found);
    diagnostics.append(&mut found.diagnostics);
    // Held for the whole load: no spare capacity from growing.
    found.files.shrink_to_fit();
    found.identities.shrink_to_fit();
    Ok((found.files, found.identities))
}

/// What a walk is looking for.
struct Walk<'a> {
    /// The content folder, resolved: links may only point inside it.
    root: &'a Path,
    extensions: &'a [String],
    stat: bool,
}

/// What a walk found, in path order.
#[derive(Default)]
struct Found {
    files: Vec<PathBuf>,
    identities: Vec<Option<Identity>>,
    diagnostics: Vec<Diagnostic>,
}

/// One entry of a folder. A plain file keeps its directory entry until
/// its identity is read: `DirEntry::metadata` asks relative to the open
/// folder, sparing the kernel the walk down the whole path.
enum Listed {
    File(PathBuf, Option<Identity>, Option<std::fs::DirEntry>),
    Folder(PathBuf),
}

impl Listed {
    /// The entry's name.
    fn name(&self) -> &[u8] {
        let (Listed::File(path, ..) | Listed::Folder(path)) = self;
        name_of(path)
    }
}

/// A path's last part: its bytes after the last separator (found without
/// splitting the path into components).
fn name_of(path: &Path) -> &[u8] {
    let bytes = path.as_os_str().as_encoded_bytes();
    let start = bytes
        .iter()
        .rposition(|&b| std::path::is_separator(b as char))
        .map_or(0, |i| i + 1);
    &bytes[start..]
}

impl Walk<'_> {
    fn folder(&self, dir: &Path, found: &mut Found) {
        let unreadable = |e: std::io::Error| Diagnostic::error(dir, format!("cannot read: {e}"));
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) => {
                found.diagnostics.push(unreadable(e));
                return;
            }
        };
        let mut listed = Vec::new();
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    found.diagnostics.push(unreadable(e));
                    continue;
                }
            };
            match self.entry(entry) {
                Ok(Some(item)) => listed.push(item),
                Ok(None) => {}
                Err(d) => found.diagnostics.push(d),
            }
        }
        listed.par_sort_unstable_by(|a, b| {
            name_order(
                a.name(),
                matches!(a, Listed::Folder(_)),
                b.name(),
                matches!(b, Listed::Folder(_)),
            )
        });
        // Each file's identity, then each folder's contents, in parallel.
        if self.stat {
            listed.par_iter_mut().for_each(|l| {
                if let Listed::File(path, identity, entry) = l {
                    *identity = match entry.take() {
                        Some(entry) => entry.metadata().ok().as_ref().and_then(Identity::of),
                        // A link: the identity of the file it leads to.
                        None => cache::identity_of(path),
                    };
                }
            });
        }
        let inner: Vec<Option<Found>> = listed
            .par_iter()
            .map(|l| {
                let Listed::Folder(path) = l else {
                    return None;
                };
                let mut inner = Found::default();
                self.folder(path, &mut inner);
                Some(inner)
            })
            .collect();
        for (l, inner) in listed.into_iter().zip(inner) {
            match (l, inner) {
                (Listed::File(path, identity, _), _) => {
                    found.files.push(path);
                    found.identities.push(identity);
                }
                (Listed::Folder(_), Some(mut inner)) => {
                    found.files.append(&mut inner.files);
                    found.identities.append(&mut inner.identities);
                    found.diagnostics.append(&mut inner.diagnostics);
                }
                (Listed::Folder(_), None) => {}
            }
        }
    }

    /// What one entry is to the walk: a file to read, a folder to walk, or
    /// nothing (another kind of file, a link left alone).
    fn entry(&self, entry: std::fs::DirEntry) -> Result<Option<Listed>, Diagnostic> {
        // Held by its article for the whole run: no spare capacity.
        let mut path = entry.path();
        if name_of(&path).starts_with(b".") {
            return Ok(None);
        }
        path.shrink_to_fit();
        let file_type = entry
            .file_type()
            .map_err(|e| Diagnostic::error(&path, format!("cannot read: {e}")))?;
        // Extensions are written in lower case (`content.extensions`).
        let wanted = path.extension().is_some_and(|e| {
            let e = e.as_encoded_bytes();
            self.extensions
                .iter()
                .any(|x| e.eq_ignore_ascii_case(x.as_bytes()))
        });
        if file_type.is_symlink() {
            return match path.canonicalize() {
                Ok(target) if target.starts_with(self.root) => {
                    Ok((target.is_file() && wanted).then_some(Listed::File(path, None, None)))
                }
                Ok(_) if wanted || path.is_dir() => Err(Diagnostic::warning(
                    &path,
                    "skipped: a symbolic link to a place outside the content folder is not followed",
                )),
                Ok(_) => Ok(None),
                Err(e) => Err(Diagnostic::warning(
                    &path,
                    format!("skipped: broken symbolic link ({e})"),
                )),
            };
        }
        if file_type.is_dir() {
            return Ok(Some(Listed::Folder(path)));
        }
        Ok((file_type.is_file() && wanted).then(|| Listed::File(path, None, Some(entry))))
    }
}

/// The order of two names in one folder, a folder's name read with a
/// separator after it: so listing each folder in this order, and walking
/// a folder where its name falls, gives the files in path order.
fn name_order(a: &[u8], a_folder: bool, b: &[u8], b_folder: bool) -> std::cmp::Ordering {
    if a_folder == b_folder {
        // A separator after both names (or neither) keeps their byte
        // order: names hold no separator, and it ranks below every byte.
        return a.cmp(b);
    }
    // The byte at `i`, ranked as `cache::path_order` ranks it; `None` past
    // the end.
    let at = |name: &[u8], folder: bool, i: usize| match name.get(i) {
        Some(&byte) => Some(u16::from(byte) + 1),
        None if folder && i == name.len() => Some(0),
        None => None,
    };
    let mut i = 0;
    loop {
        match (at(a, a_folder, i), at(b, b_folder, i)) {
            (None, None) => return std::cmp::Ordering::Equal,
            (x, y) if x != y => return x.cmp(&y),
            _ => i += 1,
        }
    }
}

/// Reads a whole file and parses its front matter (and the lead of its
/// body); `known_len` is its size when the walk already asked. The article
/// keeps the file's text when what is left of `budget` holds it. The flag
/// says whether the result may be cached: not when reading the file
/// failed, which may pass.
fn read_front(
    path: &Path,
    ctx: &ParseContext<'_>,
    max_size: u64,
    known_len: Option<u64>,
    budget: Option<&AtomicUsize>,
) -> (Parsed, bool) {
    let fail = |message: String| {
        let parsed = Parsed {
            article: None,
            diagnostics: vec![Diagnostic::error(path, message)],
        };
        (parsed, false)
    };
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return fail(format!("cannot open: {e}")),
    };
    let len = known_len.unwrap_or_else(|| file.metadata().map_or(0, |m| m.len()));
    if len > max_size {
        return fail(format!(
            "the file is {len} bytes, over content.max_file_size ({max_size} bytes); it is not read"
        ));
    }
    // The whole file, in one read when its size holds: the body's first
    // paragraph is taken now, and the rest must be valid UTF-8 too.
    let mut buf = Vec::with_capacity(len as usize + 1);
    if let Err(e) = (&mut file).take(max_size + 1).read_to_end(&mut buf) {
        return fail(format!("cannot read: {e}"));
    }
    if buf.len() as u64 > max_size {
        return fail(format!(
            "the file grew over content.max_file_size ({max_size} bytes) while it was read; it is not read"
        ));
    }
    let text = match String::from_utf8(buf) {
        Ok(t) => t,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let buf = e.into_bytes();
            let (line, column) = position(&buf, valid);
            let byte = buf.get(valid).copied().unwrap_or(0);
            let parsed = Parsed {
                article: None,
                diagnostics: vec![
                    Diagnostic::error(
                        path,
                        format!(
                            "the file is not valid UTF-8 (byte 0x{byte:02X}); save it as UTF-8"
                        ),
                    )
                    .at(line, column),
                ],
            };
            return (parsed, true);
        }
    };
    match parse(path, &text, true, ctx) {
        Ok(mut parsed) => {
            if let (Some(article), Some(budget)) = (&mut parsed.article, budget)
                && budget
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                        left.checked_sub(text.capacity())
                    })
                    .is_ok()
            {
                article.text = Some(Arc::new(text));
            }
            (parsed, true)
        }
        Err(_) => fail("the front matter could not be read".to_string()),
    }
}

/// An article's details parsed from its file again, when the cache that
/// was to give them back cannot.
pub(super) fn reread_details(
    path: &Path,
    ctx: &ParseContext<'_>,
) -> Result<std::sync::Arc<Details>, Diagnostic> {
    let (parsed, _) = read_front(path, ctx, ctx.content.max_file_size, None, None);
    match parsed.article.as_ref().and_then(Article::held_details) {
        Some(details) => Ok(std::sync::Arc::new(details.clone())),
        None => Err(parsed
            .diagnostics
            .into_iter()
            .find(Diagnostic::is_error)
            .unwrap_or_else(|| {
                Diagnostic::error(
                    path,
                    "changed while herald ran: it no longer reads as an article",
                )
            })),
    }
}

/// Line and character column (1-based) of a byte offset.
fn position(bytes: &[u8], offset: usize) -> (u32, u32) {
    let before = &bytes[..offset.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line as u32, column as u32)
}

/// Two files claiming one permalink are both errors: herald cannot know which
/// one the publisher meant, and guessing would post the wrong one.
fn reject_duplicate_permalinks(articles: &mut Vec<Article>, diagnostics: &mut Vec<Diagnostic>) {
    // Indices sorted by permalink: duplicates sit side by side (no map of
    // every article, which a large archive would build on every run).
    let mut order: Vec<usize> = (0..articles.len()).collect();
    order.par_sort_unstable_by(|&a, &b| articles[a].id().cmp(articles[b].id()).then(a.cmp(&b)));
    let groups: Vec<Vec<usize>> = order
        .chunk_by(|&a, &b| articles[a].id() == articles[b].id())
        .filter(|group| group.len() > 1)
        .map(|group| {
            let mut group = group.to_vec();
            group.sort_unstable();
            group
        })
        .collect();
    let mut drop = vec![false; articles.len()];
    for indices in &groups {
        for &i in indices {
            drop[i] = true;
            let others: Vec<String> = indices
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| crate::paths::display(&articles[j].source))
                .collect();
            diagnostics.push(
                Diagnostic::error(
                    &articles[i].source,
                    format!(
                        "permalink {} is also claimed by {}; give one of them another `slug`",
                        articles[i].permalink,
                        others.join(", ")
                    ),
                )
                .at(1, 1),
            );
        }
    }
    let mut index = 0;
    articles.retain(|_| {
        let keep = !drop[index];
        index += 1;
        keep
    });
}

/// The rest of `file`, read into a buffer that doubles as it fills: unlike
/// `read_to_end`, which first asks the file's size and position (two
/// system calls more per body, when a body is a few reads at most).
fn read_rest(file: &mut File) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0; 16 * 1024];
    let mut len = 0;
    loop {
        if len == bytes.len() {
            bytes.resize(len * 2, 0);
        }
        match file.read(&mut bytes[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    bytes.truncate(len);
    Ok(bytes)
}

/// Whether an article's file can still be opened for reading, without
/// reading it: for an article the cache answered for, whose whole file was
/// read (and found valid UTF-8) when it was parsed.
pub fn check_readable(article: &Article) -> Result<(), Diagnostic> {
    File::open(&article.source)
        .map(drop)
        .map_err(|e| Diagnostic::error(&article.source, format!("cannot open: {e}")))
}

/// An article's body (the Markdown after its front matter): from the text
/// kept when the file was parsed, else read from the file.
pub fn read_body(article: &Article) -> Result<Cow<'_, str>, Diagnostic> {
    if let Some(body) = article
        .text
        .as_ref()
        .and_then(|text| text.get(article.body_offset as usize..))
    {
        return Ok(Cow::Borrowed(body));
    }
    let path = &article.source;
    let mut file =
        File::open(path).map_err(|e| Diagnostic::error(path, format!("cannot open: {e}")))?;
    file.seek(SeekFrom::Start(article.body_offset))
        .map_err(|e| Diagnostic::error(path, format!("cannot read: {e}")))?;
    let bytes =
        read_rest(&mut file).map_err(|e| Diagnostic::error(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map(Cow::Owned).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let (line, column) = position(bytes, offset);
        let byte = bytes.get(offset).copied().unwrap_or(0);
        Diagnostic::error(
            path,
            format!("the file is not valid UTF-8 (byte 0x{byte:02X}); save it as UTF-8"),
        )
        .at(article.body_line + line - 1, column)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A parsed file keeps its text while the budget lasts, and its body is
    /// then the one parsed, whatever the file holds later; past the budget,
    /// the body is read from the file.
    #[test]
    fn a_parsed_file_keeps_its_text_within_the_budget() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.md");
        let text = "---\ntitle: T\npublish_date: 2024-01-01\n---\n\nBody text.\n";
        std::fs::write(&path, text).unwrap();
        let config = crate::config::parse(
            &dir.path().join("herald.yaml"),
            "site: {title: T, url: 'https://example.com/'}\ncontent: {dir: .}\n",
            &|_| None,
        )
        .unwrap();
        let ctx = ParseContext::of(&config);

        let budget = AtomicUsize::new(1 << 20);
        let (parsed, _) = read_front(&path, &ctx, 1 << 20, None, Some(&budget));
        let kept = parsed.article.expect("parses");
        assert!(kept.text.is_some());
        assert!(budget.load(Ordering::Relaxed) <= (1 << 20) - text.len());
        std::fs::write(
            &path,
            "---\ntitle: T\npublish_date: 2024-01-01\n---\n\nEdited.\n",
        )
        .unwrap();
        assert_eq!(read_body(&kept).unwrap(), "\nBody text.\n");

        let spent = AtomicUsize::new(10);
        let (parsed, _) = read_front(&path, &ctx, 1 << 20, None, Some(&spent));
        let read_again = parsed.article.expect("parses");
        assert!(read_again.text.is_none());
        assert_eq!(spent.load(Ordering::Relaxed), 10);
        assert_eq!(read_body(&read_again).unwrap(), "\nEdited.\n");
    }
}
