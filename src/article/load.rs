//! Reading the content folder: find the article files, read each one's front
//! matter (only the start of the file, not the body), parse them in parallel,
//! and refuse duplicate permalinks. Bodies are read later, one at a time, by
//! `read_body`, for the articles that are shown.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use rayon::prelude::*;

use super::cache::{self, Identity, Lookup};
use super::{Article, ParseContext, Parsed, parse};
use crate::article::front_matter::SplitError;
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

/// How much of a file is read first; front matter almost always fits.
const HEAD_BYTES: usize = 8 * 1024;

/// Whether loading may use the front-matter cache (`cache`), and whether it
/// may write it. Dry runs and `check` only read it: they create nothing
/// under the state path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheUse {
    Off,
    Read,
    ReadWrite,
}

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
    let files = find_files(dir, &config.content.extensions, &mut diagnostics)?;
    let ctx = ParseContext {
        site: &config.site,
        content: &config.content,
    };
    let max = config.content.max_file_size;
    let cache_path = config
        .state
        .cache_file()
        .filter(|_| cache_use != CacheUse::Off);
    // One `stat` per file, only when there is a cache to check against.
    let identities: Vec<Option<Identity>> = if cache_path.is_some() {
        files.par_iter().map(|p| cache::identity_of(p)).collect()
    } else {
        vec![None; files.len()]
    };
    let Lookup {
        known: mut results,
        cached_files,
    } = match &cache_path {
        Some(path) => cache::read(path, &ctx, &files, &identities),
        None => Lookup::empty(files.len()),
    };
    let hits = results.iter().filter(|r| r.is_some()).count();
    // Parse what the cache did not know, in place (a large archive is not
    // held twice). A file that could not be read is not cached.
    let mut cacheable = vec![true; files.len()];
    results
        .par_iter_mut()
        .zip(cacheable.par_iter_mut())
        .zip(files.par_iter())
        .filter(|((slot, _), _)| slot.is_none())
        .for_each(|((slot, cacheable), path)| {
            let (parsed, ok) = read_front(path, &ctx, max);
            *slot = Some(parsed);
            *cacheable = ok;
        });
    if let Some(path) = cache_path.filter(|_| cache_use == CacheUse::ReadWrite)
        && (hits < files.len() || hits < cached_files)
    {
        let entries = files
            .iter()
            .zip(&identities)
            .zip(&results)
            .zip(&cacheable)
            .filter_map(|(((file, identity), parsed), cacheable)| {
                Some((file.as_path(), (*identity)?, parsed.as_ref()?)).filter(|_| *cacheable)
            });
        if let Err(e) = cache::write(&path, &ctx, entries, now) {
            diagnostics.push(Diagnostic::warning(
                &path,
                format!("cannot write the front-matter cache (the next run parses every file again): {e}"),
            ));
        }
    }

    // `into_iter().filter_map().collect()` reuses `results`' allocation for
    // the articles (std collects in place), so a large archive is not held
    // twice at its peak.
    let mut articles: Vec<Article> = results
        .into_iter()
        .zip(&identities)
        .filter_map(|(p, identity)| {
            let p = p?;
            diagnostics.extend(p.diagnostics);
            p.article.map(|mut a| {
                a.identity = identity.filter(|i| i.settled(now));
                a
            })
        })
        .collect();
    reject_duplicate_permalinks(&mut articles, &mut diagnostics);
    diagnostics.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    tracing::debug!(
        "{} article files, {hits} answered by the front-matter cache",
        files.len()
    );
    Ok(Corpus {
        articles,
        diagnostics,
        files: files.len(),
        from_cache: hits,
    })
}

fn find_files(
    dir: &Path,
    extensions: &[String],
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<Vec<PathBuf>, LoadError> {
    let root = dir.canonicalize().map_err(|e| LoadError {
        dir: dir.to_path_buf(),
        reason: e.to_string(),
    })?;
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walker {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                let path = e.path().unwrap_or(dir).to_path_buf();
                diagnostics.push(Diagnostic::error(&path, format!("cannot read: {e}")));
                continue;
            }
        };
        let path = entry.path();
        let wanted = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .is_some_and(|e| extensions.contains(&e));
        if entry.file_type().is_symlink() {
            match path.canonicalize() {
                Ok(target) if target.starts_with(&root) => {
                    if target.is_file() && wanted {
                        files.push(path.to_path_buf());
                    }
                }
                Ok(_) if wanted || path.is_dir() => diagnostics.push(Diagnostic::warning(
                    path,
                    "skipped: a symbolic link to a place outside the content folder is not followed",
                )),
                Ok(_) => {}
                Err(e) => diagnostics.push(Diagnostic::warning(path, format!("skipped: broken symbolic link ({e})"))),
            }
            continue;
        }
        if entry.file_type().is_file() && wanted {
            files.push(path.to_path_buf());
        }
    }
    // The walk's order already is path order; sorting makes sure (the
    // front-matter cache is matched against it in one pass).
    files.sort();
    Ok(files)
}

/// Reads the start of a file and parses its front matter, reading more only
/// when the front matter is longer than the first chunk. The flag says
/// whether the result may be cached: not when reading the file failed, which
/// may pass.
fn read_front(path: &Path, ctx: &ParseContext<'_>, max_size: u64) -> (Parsed, bool) {
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
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    if len > max_size {
        return fail(format!(
            "the file is {len} bytes, over content.max_file_size ({max_size} bytes); it is not read"
        ));
    }
    let mut buf = Vec::with_capacity(HEAD_BYTES.min(len as usize + 1));
    let mut want = HEAD_BYTES;
    loop {
        let before = buf.len();
        if let Err(e) = (&mut file)
            .take((want - before) as u64)
            .read_to_end(&mut buf)
        {
            return fail(format!("cannot read: {e}"));
        }
        let complete = buf.len() < want;
        let text = match std::str::from_utf8(&buf) {
            Ok(t) => t,
            Err(e) if e.error_len().is_none() && !complete => {
                // A character cut by the chunk's end; fine for now.
                std::str::from_utf8(&buf[..e.valid_up_to()]).unwrap_or_default()
            }
            Err(e) => {
                let (line, column) = position(&buf, e.valid_up_to());
                let byte = buf.get(e.valid_up_to()).copied().unwrap_or(0);
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
        match parse(path, text, complete, ctx) {
            Ok(parsed) => return (parsed, true),
            Err(SplitError::NeedMore) if !complete => want = want.saturating_mul(4),
            Err(_) => return fail("the front matter could not be read".to_string()),
        }
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

/// Reads an article's body (the Markdown after its front matter).
pub fn read_body(article: &Article) -> Result<String, Diagnostic> {
    let path = &article.source;
    let mut file =
        File::open(path).map_err(|e| Diagnostic::error(path, format!("cannot open: {e}")))?;
    file.seek(SeekFrom::Start(article.body_offset))
        .map_err(|e| Diagnostic::error(path, format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| Diagnostic::error(path, format!("cannot read: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
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
