//! Feeds: which files to write and what goes in them, as pure functions from
//! articles to bytes. `rss`, `atom` and `json` each turn the same `Channel`
//! and `Entry` list into one format; each entry's HTML is rendered once and
//! shared by every feed that lists it.
//!
//! Output is deterministic: entries sorted by date then permalink, dates in
//! fixed formats, no wall-clock time anywhere (an empty feed's Atom `updated`
//! is the Unix epoch rather than "now").

pub mod atom;
pub mod json;
pub mod rss;

use std::path::PathBuf;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use url::Url;

use crate::article::{Article, markdown::xml_safe, slugify};
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
pub struct Channel<'a> {
    pub title: String,
    pub description: String,
    pub home: &'a Url,
    pub self_url: Url,
    pub language: &'a str,
    pub author: &'a Author,
    pub hubs: &'a [Url],
}

/// One article as feeds show it: text made XML-safe, summary chosen, HTML
/// rendered (when full content is on).
#[derive(Debug, Clone)]
pub struct Entry<'a> {
    pub article: &'a Article,
    pub title: String,
    pub summary: String,
    pub content_html: Option<String>,
    pub author: Option<String>,
    pub tags: Vec<String>,
}

impl<'a> Entry<'a> {
    /// Builds the entry; `body_html` is the rendered body when full content is
    /// wanted, `first_paragraph` the fallback summary.
    pub fn new(
        article: &'a Article,
        body_html: Option<String>,
        first_paragraph: Option<String>,
    ) -> Self {
        Entry {
            article,
            title: xml_safe(&article.title),
            summary: xml_safe(&summary(article, first_paragraph)),
            content_html: body_html,
            author: article.author.as_deref().map(xml_safe),
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

/// The summary a feed (and a post) shows: `description`, else `subtitle`,
/// else the body's first paragraph, else the title.
pub fn summary(article: &Article, first_paragraph: Option<String>) -> String {
    article
        .description
        .clone()
        .or_else(|| article.subtitle.clone())
        .or(first_paragraph)
        .unwrap_or_else(|| article.title.clone())
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
    let mut add = |dir: &str, title: &str, tag: Option<&str>, entries: &[usize]| {
        let formats = [
            (Format::Rss, &feeds.rss),
            (Format::Atom, &feeds.atom),
            (Format::Json, &feeds.json),
        ];
        for (format, name) in formats {
            let Some(name) = name else { continue };
            let rel = format!("{dir}{name}");
            let self_url = feeds.url.join(&rel).unwrap_or_else(|_| feeds.url.clone());
            specs.push(FeedSpec {
                path: PathBuf::from(&rel),
                format,
                title: title.to_string(),
                self_url,
                tag: tag.map(str::to_string),
                entries: entries.to_vec(),
            });
        }
    };
    let all: Vec<usize> = (0..limit(published.len())).collect();
    add("", &title, None, &all);
    if feeds.per_tag {
        // Tags that slugify alike ("AI", "ai") share one folder; the first
        // spelling met (newest article first) names it.
        let mut tags: std::collections::BTreeMap<String, (String, Vec<usize>)> = Default::default();
        for (i, a) in published.iter().enumerate() {
            for t in &a.tags {
                let entry = tags
                    .entry(tag_folder(t))
                    .or_insert_with(|| (t.clone(), Vec::new()));
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

/// Renders one feed file.
pub fn render(format: Format, channel: &Channel<'_>, entries: &[&Entry<'_>]) -> Vec<u8> {
    match format {
        Format::Rss => rss::render(channel, entries),
        Format::Atom => atom::render(channel, entries),
        Format::Json => json::render(channel, entries),
    }
}

/// The newest modification among the entries: the feed's own "updated".
fn newest(entries: &[&Entry<'_>]) -> Option<DateTime<FixedOffset>> {
    entries.iter().map(|e| e.modified()).max()
}

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
