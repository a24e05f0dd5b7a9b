//! Feeds: which files to write and what goes in them, as pure functions from
//! articles to bytes. `rss`, `atom` and `json` each turn the same `Channel`
//! and `Entry` list into one format; each entry's HTML is rendered once and
//! shared by every feed that lists it.
//!
//! A feed is written as a stream: the document's frame, made by the
//! format's own crate (`rss`, `atom_syndication`, `serde_json`) and cut
//! where its items go (a layout not as expected is an error naming the
//! crate), then each item, written as that crate writes one (`xml`, and
//! serde_json's string escaping), in parallel batches. A feed of 50,000
//! full-content items (hundreds of MB) is thus never whole in memory, and
//! the bytes are exactly those of the crate rendering the whole document
//! (tests compare the two).
//!
//! Output is deterministic: entries sorted by date then permalink, dates in
//! fixed formats, no wall-clock time anywhere (an empty feed's Atom `updated`
//! is the Unix epoch rather than "now").

pub mod atom;
pub mod json;
pub mod memo;
pub mod rss;
mod xml;

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use rayon::prelude::*;
use serde::Serialize;
use url::Url;

use crate::article::{Article, Details, markdown::xml_safe, slugify};
use crate::config::{Author, Config};

/// The generator's name, version and home, written into every feed.
pub const GENERATOR: &str = "herald";

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The three formats herald writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Rss,
    Atom,
    Json,
}

impl Format {
    pub fn label(self) -> &'static str {
        match self {
            Format::Rss => "RSS 2.0",
            Format::Atom => "Atom 1.0",
            Format::Json => "JSON Feed 1.1",
        }
    }

    pub fn mime_type(self) -> &'static str {
        match self {
            Format::Rss => "application/rss+xml",
            Format::Atom => "application/atom+xml",
            Format::Json => "application/feed+json",
        }
    }
}

/// What a feed says about itself.
#[derive(Debug, Clone)]
pub struct Channel {
    pub title: String,
    pub description: String,
    pub home: Url,
    pub self_url: Url,
    pub language: String,
    pub author: Author,
    pub hubs: Vec<Url>,
    /// Its place among RFC 5005 archive pages, with `feeds.archive`.
    pub archive: Option<Archive>,
}

/// RFC 5005 (Feed Paging and Archiving) links of a feed document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// The subscription document (the current feed).
    pub current: Url,
    /// The archive page just older than this document.
    pub prev: Option<Url>,
    /// The archive page just newer (an archive page's successor, named
    /// before it exists, so that a full page never changes).
    pub next: Option<Url>,
    /// An archive document (`fh:archive`): complete, never to change.
    pub complete: bool,
}

/// The namespace of RFC 5005's `fh:archive`.
pub const HISTORY_NS: &str = "http://purl.org/syndication/history/1.0";

/// One article as feeds show it: text made XML-safe, summary chosen, HTML
/// rendered (when full content is on).
#[derive(Debug, Clone)]
pub struct Entry {
    pub article: Article,
    pub details: Arc<Details>,
    pub title: String,
    pub summary: String,
    pub content_html: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
}

impl Entry {
    /// Builds the entry; `body_html` is the rendered body when full content is
    /// wanted.
    pub fn new(article: &Article, details: Arc<Details>, body_html: Option<String>) -> Self {
        Entry {
            article: article.clone(),
            title: xml_safe(&article.title),
            summary: xml_safe(details.summary(&article.title)),
            content_html: body_html,
            author: details.author.as_deref().map(xml_safe),
            details,
            tags: article.tags.iter().map(|t| xml_safe(t)).collect(),
        }
    }

    pub fn published(&self) -> DateTime<FixedOffset> {
        self.article.published
    }

    pub fn modified(&self) -> DateTime<FixedOffset> {
        self.article.modified()
    }
}

/// A feed file to write: where, which format, which articles (indices into
/// the newest-first list of published articles).
#[derive(Debug, Clone)]
pub struct FeedSpec {
    /// Relative to `feeds.dir`.
    pub path: PathBuf,
    pub format: Format,
    pub title: String,
    pub self_url: Url,
    /// The tag this feed is for, if it is a per-tag feed.
    pub tag: Option<String>,
    pub entries: Vec<usize>,
    pub archive: Option<Archive>,
}

/// Decides every feed file for the given newest-first articles: the main
/// feeds, and with `per_tag` the same three under `tags/<tag>/`.
pub fn plan_feeds(config: &Config, published: &[&Article]) -> Vec<FeedSpec> {
    let feeds = &config.feeds;
    let limit = |n: usize| feeds.limit.map_or(n, |l| l.min(n));
    let title = feeds
        .title
        .clone()
        .unwrap_or_else(|| config.site.title.clone());
    let mut specs = Vec::new();
    let formats = [
        (Format::Rss, &feeds.rss),
        (Format::Atom, &feeds.atom),
        (Format::Json, &feeds.json),
    ];
    let url_of = |rel: &str| feeds.url.join(rel).unwrap_or_else(|_| feeds.url.clone());
    let mut add = |dir: &str, title: &str, tag: Option<&str>, entries: &[usize]| {
        for (format, name) in formats {
            let Some(name) = name else { continue };
            let rel = format!("{dir}{name}");
            specs.push(FeedSpec {
                path: PathBuf::from(&rel),
                format,
                title: title.to_string(),
                self_url: url_of(&rel),
                tag: tag.map(str::to_string),
                entries: entries.to_vec(),
                archive: None,
            });
        }
    };
    let main = match feeds.archive_page_size {
        None => {
            let all: Vec<usize> = (0..limit(published.len())).collect();
            add("", &title, None, &all);
            Vec::new()
        }
        Some(size) => archived(published.len(), size, limit, &title, &formats, &url_of),
    };
    if feeds.per_tag {
        // Tags that slugify alike ("AI", "ai") share one folder; the first
        // spelling met (newest article first) names it.
        let mut tags: std::collections::BTreeMap<String, (String, Vec<usize>)> = Default::default();
        for (i, a) in published.iter().enumerate() {
            for t in &a.tags {
                let entry = tags
                    .entry(tag_folder(t))
                    .or_insert_with(|| (t.to_string(), Vec::new()));
                if entry.1.last() != Some(&i) {
                    entry.1.push(i);
                }
            }
        }
        for (slug, (name, mut entries)) in tags {
            entries.truncate(limit(entries.len()));
            add(
                &format!("tags/{slug}/"),
                &format!("{title}: {name}"),
                Some(&name),
                &entries,
            );
        }
    }
    // The current feeds and their archive pages come first.
    let mut all = main;
    all.extend(specs);
    all
}

/// The current feeds and their RFC 5005 archive pages: the articles,
/// oldest first, in pages of `size` (`archive/<name>-<n>.<ext>`); only full
/// pages are written, and a full page's entries and links never change
/// (its `next-archive` names the page that will follow it). The current
/// feed shows at least every article not yet in a full page, else `limit`.
fn archived(
    total: usize,
    size: usize,
    limit: impl Fn(usize) -> usize,
    title: &str,
    formats: &[(Format, &Option<String>)],
    url_of: &dyn Fn(&str) -> Url,
) -> Vec<FeedSpec> {
    let full = total / size;
    let remainder = total - full * size;
    let page_rel = |name: &str, n: usize| {
        let path = std::path::Path::new(name);
        let stem = path.file_stem().unwrap_or_default().to_string_lossy();
        match path.extension() {
            Some(ext) => format!("archive/{stem}-{n}.{}", ext.to_string_lossy()),
            None => format!("archive/{stem}-{n}"),
        }
    };
    let mut specs = Vec::new();
    for &(format, name) in formats {
        let Some(name) = name else { continue };
        let current = url_of(name);
        let current_entries: Vec<usize> = (0..limit(total).max(remainder)).collect();
        specs.push(FeedSpec {
            path: PathBuf::from(name),
            format,
            title: title.to_string(),
            self_url: current.clone(),
            tag: None,
            entries: current_entries,
            archive: Some(Archive {
                current: current.clone(),
                prev: (full > 0).then(|| url_of(&page_rel(name, full))),
                next: None,
                complete: false,
            }),
        });
        for n in 1..=full {
            // Published indices run newest first: page 1 is the oldest.
            let entries: Vec<usize> = (total - n * size..total - (n - 1) * size).collect();
            let rel = page_rel(name, n);
            specs.push(FeedSpec {
                path: PathBuf::from(&rel),
                format,
                title: format!("{title} (archive {n})"),
                self_url: url_of(&rel),
                tag: None,
                entries,
                archive: Some(Archive {
                    current: current.clone(),
                    prev: (n > 1).then(|| url_of(&page_rel(name, n - 1))),
                    next: Some(url_of(&page_rel(name, n + 1))),
                    complete: true,
                }),
            });
        }
    }
    specs
}

/// The folder name of a tag's feeds: letters and digits joined by `-`
/// (so `../../etc`, `/abs` or a NUL cannot leave `tags/`), and never a name
/// Windows reserves (`con`, `nul`, `com1`…), which gets a `-tag` suffix.
pub fn tag_folder(tag: &str) -> String {
    let slug = slugify(tag);
    let reserved = matches!(slug.as_str(), "con" | "prn" | "aux" | "nul")
        || ((slug.starts_with("com") || slug.starts_with("lpt"))
            && slug.len() == 4
            && slug.as_bytes()[3].is_ascii_digit());
    if reserved {
        format!("{slug}-tag")
    } else {
        slug
    }
}

/// How many items are rendered together, in parallel, before being written.
const BATCH: usize = 128;

/// `Write::write_all_vectored`, which is not yet stable.
fn write_all_vectored(out: &mut dyn Write, mut slices: &mut [io::IoSlice<'_>]) -> io::Result<()> {
    // Leading empty slices go first: writing nothing would read as WriteZero.
    io::IoSlice::advance_slices(&mut slices, 0);
    while !slices.is_empty() {
        match out.write_vectored(slices) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => io::IoSlice::advance_slices(&mut slices, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The HTML of an entry's body, made when its item is written (reading
/// and rendering the article then), so that a run holds the bodies of one
/// batch at a time, never of the whole archive. `None` for an entry whose
/// `content_html` is already set, or when feeds carry summaries only.
pub trait Contents: Sync {
    /// Whether entries have full content (the frames declare it).
    fn full(&self) -> bool;

    /// The body of `entry` as HTML.
    fn html(&self, entry: &Entry) -> io::Result<Option<String>>;
}

/// The content each entry already has (tests, and entries built whole).
pub struct Given;

impl Contents for Given {
    fn full(&self) -> bool {
        false
    }

    fn html(&self, _entry: &Entry) -> io::Result<Option<String>> {
        Ok(None)
    }
}

/// One output of `write_group`.
pub struct Output<'a> {
    pub format: Format,
    pub channel: &'a Channel,
    pub out: &'a mut (dyn Write + Send),
}

/// Writes one feed file to `out` as a stream: the frame's head, each item in
/// order (rendered in parallel batches), the frame's tail.
pub fn write(
    format: Format,
    channel: &Channel,
    entries: &[&Entry],
    contents: &dyn Contents,
    out: &mut (dyn Write + Send),
) -> io::Result<()> {
    write_group(
        &mut [Output {
            format,
            channel,
            out,
        }],
        entries,
        contents,
    )
}

/// Writes several feed files that show the same entries (a feed's RSS,
/// Atom and JSON files) in one pass: each batch of entries has its bodies
/// read and rendered once, in parallel, and its items written to every
/// output; then the batch is dropped.
pub fn write_group(
    outputs: &mut [Output<'_>],
    entries: &[&Entry],
    contents: &dyn Contents,
) -> io::Result<()> {
    let full = contents.full() || entries.iter().any(|e| e.content_html.is_some());
    let mut tails = Vec::with_capacity(outputs.len());
    for o in outputs.iter_mut() {
        let (head, tail) = match o.format {
            Format::Rss => rss::frame(o.channel, entries, full),
            Format::Atom => atom::frame(o.channel, entries),
            Format::Json => json::frame(o.channel, entries),
        }?;
        o.out.write_all(&head)?;
        tails.push(tail);
    }
    let formats: Vec<Format> = outputs.iter().map(|o| o.format).collect();
    // Each entry of a batch in one task: its body read and rendered once,
    // then its item in every format.
    let make = |n: usize, batch: &[&Entry]| -> io::Result<Vec<Vec<Vec<u8>>>> {
        batch
            .par_iter()
            .enumerate()
            .map(|(i, e)| -> io::Result<Vec<Vec<u8>>> {
                let made = match e.content_html {
                    Some(_) => None,
                    None => contents.html(e)?,
                };
                let html = e.content_html.as_deref().or(made.as_deref());
                Ok(formats
                    .iter()
                    .map(|format| {
                        let mut item = Vec::with_capacity(item_capacity(*format, e, html));
                        match format {
                            Format::Rss => rss::item(e, html, &mut item),
                            Format::Atom => atom::item(e, html, &mut item),
                            Format::Json => json::item(e, html, n == 0 && i == 0, &mut item),
                        }
                        item
                    })
                    .collect())
            })
            .collect()
    };
    // A batch's items go to each file in one vectored write: no copy into
    // a buffer on the way.
    let put = |outputs: &mut [Output<'_>], items: Vec<Vec<Vec<u8>>>| -> io::Result<()> {
        for (k, o) in outputs.iter_mut().enumerate() {
            let mut slices: Vec<io::IoSlice<'_>> = items
                .iter()
                .map(|entry_items| io::IoSlice::new(&entry_items[k]))
                .collect();
            write_all_vectored(&mut *o.out, &mut slices)?;
        }
        Ok(())
    };
    // While one batch is written, the next is made.
    let mut made: Option<Vec<Vec<Vec<u8>>>> = None;
    for (n, batch) in entries.chunks(BATCH).enumerate() {
        let done = made.take();
        let (next, written) = rayon::join(
            || make(n, batch),
            || done.map_or(Ok(()), |items| put(outputs, items)),
        );
        written?;
        made = Some(next?);
    }
    if let Some(items) = made {
        put(outputs, items)?;
    }
    for (o, tail) in outputs.iter_mut().zip(tails) {
        o.out.write_all(&tail)?;
    }
    Ok(())
}

/// Room enough for an item, most of the time, so that writing it does not
/// grow its buffer (each growth a copy, and fresh pages to fault in): the
/// body once, with room for what escaping adds (Atom escapes every `<`, `>`
/// and `"` of the HTML: a tenth more at 10,000 articles), and a kilobyte or
/// so for the rest.
fn item_capacity(format: Format, entry: &Entry, html: Option<&str>) -> usize {
    let rest = 1024 + 2 * (entry.title.len() + entry.summary.len());
    let body = html.map_or(0, str::len);
    rest + match format {
        Format::Rss => body,
        Format::Atom => body + body / 4,
        Format::Json => body + body / 8,
    }
}

/// Renders one feed file into memory, for tests.
#[cfg(test)]
pub(crate) fn render(format: Format, channel: &Channel, entries: &[&Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    write(format, channel, entries, &Given, &mut out).expect("the crates' layout, as pinned");
    out
}

/// The output of a feed crate is not laid out the way herald cuts it: a
/// new version of the crate changed its layout. No feed is written rather
/// than a broken one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {krate} crate's output is not laid out as herald expects ({what}); no feed was written. This is a bug in herald with this version of {krate}: please report it"
)]
pub struct LayoutError {
    pub krate: &'static str,
    pub what: String,
}

impl From<LayoutError> for io::Error {
    fn from(e: LayoutError) -> Self {
        io::Error::other(e)
    }
}

/// `document` split before its last `close` tag: the frame items go into.
fn split_before(
    mut document: Vec<u8>,
    close: &[u8],
    krate: &'static str,
) -> Result<(Vec<u8>, Vec<u8>), LayoutError> {
    let at = rfind(&document, close).ok_or_else(|| LayoutError {
        krate,
        what: format!("no {} in the document", String::from_utf8_lossy(close)),
    })?;
    let tail = document.split_off(at);
    Ok((document, tail))
}

#[cfg(test)]
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(haystack, needle)
}

/// The newest modification among the entries: the feed's own "updated".
fn newest(entries: &[&Entry]) -> Option<DateTime<FixedOffset>> {
    entries.iter().map(|e| e.modified()).max()
}

/// The high bit of each byte of `word` that equals `c`, exact up to the
/// lowest such byte (above it a borrow may mark others): the classic
/// "has zero byte" test on `word ^ c…c`. For escaping eight bytes at a time.
fn bytes_equal(word: u64, c: u8) -> u64 {
    bytes_below(word ^ (ONES * u64::from(c)), 1)
}

/// The high bit of each byte of `word` below `n` (at most 128), exact up
/// to the lowest such byte.
fn bytes_below(word: u64, n: u8) -> u64 {
    word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Escapes text for use as HTML (RSS `description` is HTML by convention, so
/// a plain-text summary must be escaped once more to show as written).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// A MIME type for an image URL, from its extension, when it is a known one.
pub fn image_mime_type(url: &Url) -> Option<&'static str> {
    let path = url.path().to_ascii_lowercase();
    let ext = path.rsplit('.').next()?;
    Some(match ext {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        _ => return None,
    })
}

#[cfg(test)]
mod tests;
