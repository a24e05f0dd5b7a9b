//! Articles: one Markdown file each, with YAML front matter.
//!
//! `parse` turns a file's front matter into an `Article` (validated: a real
//! date in a real zone, an absolute permalink, a checked hero image URL) plus
//! the diagnostics met on the way. The body is kept only while a run's
//! budget for file texts lasts; otherwise `load::read_body` reads it again
//! for the articles a feed or a post shows. Nor are an
//! article's `Details` once they are in the front-matter cache: a run over a
//! large archive holds what choosing and ordering need, and reads the rest
//! back for the articles it shows or posts.

pub mod cache;
mod flat;
pub mod front_matter;
pub mod load;
pub mod markdown;
pub mod social;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::config::{ContentSettings, Site, nearest};
use crate::diagnostic::Diagnostic;

pub use load::{CacheUse, Corpus, LoadError, load, load_at, load_with, read_body};

/// A validated article, without its body (but for the file's text this
/// run read, within a budget): what every run holds of every file. What
/// only a shown or posted article needs (its summary, hero image, call to
/// action…) is its `Details`, read on demand (`details`), so that a
/// cron run over a large archive holds little more than dates, titles and
/// permalinks.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Article {
    /// The file it came from (a cache record carries it apart).
    #[serde(skip)]
    pub source: PathBuf,
    /// Where the body starts in that file (bytes) and on which line.
    #[serde(skip)]
    pub body_offset: u64,
    #[serde(skip)]
    pub body_line: u32,
    /// A digest of the whole front matter and the file's identity, when
    /// that identity changed long enough ago to be trusted (with the cache
    /// on): what a feed's memo fingerprints. Computed once, when the file
    /// is parsed, and kept in the front-matter cache.
    #[serde(skip)]
    pub digest: Option<Digest>,
    /// The absolute URL of the article; also its id in feeds and the ledger.
    pub permalink: Permalink,
    pub slug: String,
    pub title: String,
    #[serde(with = "instant")]
    pub published: DateTime<FixedOffset>,
    #[serde(with = "instant::optional")]
    pub updated: Option<DateTime<FixedOffset>>,
    /// Boxed slices: no spare capacity in what every run holds.
    pub tags: Box<[Box<str>]>,
    pub draft: bool,
    /// Its own posting choices (`social:`), read through `social()`; `None`
    /// when it has none, as most articles do (every run holds every
    /// article, so the empty choices take no room).
    pub(crate) social: Option<Box<social::Overrides>>,
    /// Read through `details`; `Default::default()` (no details) where a
    /// test builds an article by hand, then `with_details`.
    #[serde(skip)]
    pub(crate) details: Kept,
    /// The whole file as this run read it to parse it, when the run's
    /// budget for such texts (`load::HELD_TEXT_BUDGET`) allowed: a first
    /// run then renders the body without opening the file again. `None`
    /// for an article the cache answered for.
    #[serde(skip)]
    pub(crate) text: Option<Arc<String>>,
}

/// An article's absolute URL as text: every run holds every article's, and
/// parses it (`Article::url`) only for the few it shows or posts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Permalink(Box<str>);

impl Permalink {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Url> for Permalink {
    fn from(url: Url) -> Self {
        Permalink(String::from(url).into_boxed_str())
    }
}

impl fmt::Display for Permalink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An article's digest: the first 128 bits of a SHA-256 (enough to tell
/// versions of one article apart; half the room in every article held).
pub type Digest = [u8; 16];

/// What an article says that only a feed item or a post shows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Details {
    /// `created_date`, checked and kept, though no feed or post shows it.
    #[serde(with = "instant::optional")]
    pub created: Option<DateTime<FixedOffset>>,
    pub subtitle: Option<String>,
    pub description: Option<String>,
    pub author: Option<String>,
    pub read_time: Option<String>,
    pub hero_image: Option<Url>,
    pub hero_alt: Option<String>,
    pub cta: Option<String>,
    /// The body's first paragraph (plain text), kept when the front matter
    /// gives no summary: what feeds and posts then show. Taken as the file
    /// is parsed, so that showing an article never reads its body for it.
    pub lead: Option<String>,
}

impl Details {
    /// Whether the front matter gives a summary (else a feed or post takes
    /// the body's first paragraph).
    pub fn has_summary(&self) -> bool {
        self.description.is_some() || self.subtitle.is_some()
    }

    /// The summary a feed (and a post) shows: `description`, else
    /// `subtitle`, else the body's first paragraph, else the title.
    pub fn summary<'a>(&'a self, title: &'a str) -> &'a str {
        self.description
            .as_deref()
            .or(self.subtitle.as_deref())
            .or(self.lead.as_deref())
            .unwrap_or(title)
    }

    /// Alt text for the hero image: never empty (the title when the front
    /// matter gives none).
    pub fn alt_text<'a>(&'a self, title: &'a str) -> &'a str {
        self.hero_alt
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or(title)
    }
}

/// Where an article's details are: in memory (just parsed), or in the
/// front-matter cache the run read its front matter from.
#[derive(Debug, Clone)]
pub(crate) enum Kept {
    Held(Arc<Details>),
    Cached(cache::Stored),
}

impl Default for Kept {
    fn default() -> Self {
        Kept::Held(Arc::default())
    }
}

impl Article {
    /// The stable id: the permalink as a string.
    pub fn id(&self) -> &str {
        self.permalink.as_str()
    }

    /// The permalink parsed, to resolve the body's relative links against
    /// and to hand to a platform. It was a parsed URL when the front
    /// matter was read; a damaged cache can make it otherwise, and then
    /// the article is said to be unreadable.
    pub fn url(&self) -> Result<Url, Diagnostic> {
        Url::parse(self.permalink.as_str()).map_err(|e| {
            Diagnostic::error(
                &self.source,
                format!(
                    "permalink {}: {e}; delete the front-matter cache",
                    self.permalink
                ),
            )
        })
    }

    /// When the article last changed, for feeds' `updated`: the later of the
    /// publish date and `updated_date`.
    pub fn modified(&self) -> DateTime<FixedOffset> {
        match self.updated {
            Some(u) if u > self.published => u,
            _ => self.published,
        }
    }

    /// Its own posting choices (`social:`), empty when it has none.
    pub fn social(&self) -> &social::Overrides {
        self.social.as_deref().unwrap_or(&social::NO_OVERRIDES)
    }

    /// The article's details: from memory, from the front-matter cache, or,
    /// when the cache cannot give them back, from the file parsed again.
    pub fn details(&self, ctx: &ParseContext<'_>) -> Result<Arc<Details>, Diagnostic> {
        match &self.details {
            Kept::Held(d) => Ok(d.clone()),
            Kept::Cached(stored) => match stored.read() {
                Ok(d) => Ok(Arc::new(d)),
                Err(e) => {
                    tracing::debug!(
                        "front-matter cache: details of {} not read back ({e}); parsing the file again",
                        self.source.display()
                    );
                    load::reread_details(&self.source, ctx)
                }
            },
        }
    }

    /// The article with these details (a test builds articles this way).
    pub fn with_details(mut self, details: Details) -> Article {
        self.details = Kept::Held(Arc::new(details));
        self
    }

    /// Whether the details are in memory (not to be read back).
    pub(crate) fn held_details(&self) -> Option<&Details> {
        match &self.details {
            Kept::Held(d) => Some(d),
            Kept::Cached(_) => None,
        }
    }

    /// The digest a feed's memo fingerprints: every field of the front
    /// matter, the file's path and its identity, streamed into SHA-256
    /// (postcard: every field, compactly, with no buffer per article).
    pub fn digest_of(&self, details: &Details, identity: &cache::Identity) -> Digest {
        use sha2::{Digest, Sha256};
        let mut hash = Hashing(Sha256::new());
        let path = self.source.to_string_lossy();
        // Writing into a hash cannot fail; a field that cannot be encoded
        // (none can) would leave the digest short, never wrong for another.
        let _ = postcard::to_io(&path, &mut hash);
        let _ = postcard::to_io(self, &mut hash);
        let _ = postcard::to_io(details, &mut hash);
        let _ = postcard::to_io(identity, &mut hash);
        let whole: [u8; 32] = hash.0.finalize().into();
        let mut digest: self::Digest = [0; 16];
        let len = digest.len();
        digest.copy_from_slice(&whole[..len]);
        digest
    }
}

/// A date-time with its offset as three numbers (seconds, nanoseconds,
/// offset), for the front-matter cache: chrono's own serde form is an RFC
/// 3339 string, which every run would parse again for every article.
mod instant {
    use chrono::{DateTime, FixedOffset};
    use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error};

    pub fn serialize<S: Serializer>(t: &DateTime<FixedOffset>, s: S) -> Result<S::Ok, S::Error> {
        (
            t.timestamp(),
            t.timestamp_subsec_nanos(),
            t.offset().local_minus_utc(),
        )
            .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<FixedOffset>, D::Error> {
        let (secs, nanos, offset) = <(i64, u32, i32)>::deserialize(d)?;
        let offset = FixedOffset::east_opt(offset).ok_or_else(|| D::Error::custom("bad offset"))?;
        DateTime::from_timestamp(secs, nanos)
            .map(|t| t.with_timezone(&offset))
            .ok_or_else(|| D::Error::custom("bad time"))
    }

    pub mod optional {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<FixedOffset>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            t.map(|t| {
                (
                    t.timestamp(),
                    t.timestamp_subsec_nanos(),
                    t.offset().local_minus_utc(),
                )
            })
            .serialize(s)
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
            #[derive(Deserialize)]
            struct Wrapped(#[serde(with = "super")] DateTime<FixedOffset>);
            Ok(Option::<Wrapped>::deserialize(d)?.map(|w| w.0))
        }
    }
}

/// A SHA-256 fed as a writer.
struct Hashing(sha2::Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        sha2::Digest::update(&mut self.0, bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The front matter as written. Unknown keys are ignored (publishers carry
/// keys for their own site); near-misses of known keys get a warning.
#[derive(Debug, Deserialize, Default)]
struct RawFrontMatter {
    title: Option<String>,
    subtitle: Option<String>,
    #[serde(alias = "summary", alias = "excerpt")]
    description: Option<String>,
    author: Option<AuthorField>,
    #[serde(alias = "readTime", alias = "reading_time")]
    read_time: Option<String>,
    #[serde(alias = "publishDate", alias = "pubDate", alias = "date")]
    publish_date: Option<String>,
    #[serde(alias = "createdDate", alias = "created")]
    created_date: Option<String>,
    #[serde(alias = "updatedDate", alias = "updated", alias = "lastmod")]
    updated_date: Option<String>,
    #[serde(rename = "heroImage", alias = "hero_image", alias = "image")]
    hero_image: Option<String>,
    #[serde(alias = "heroAlt", alias = "heroImageAlt", alias = "image_alt")]
    hero_alt: Option<String>,
    cta: Option<String>,
    #[serde(alias = "categories")]
    tags: Option<Tags>,
    slug: Option<String>,
    draft: Option<bool>,
    #[serde(alias = "canonicalUrl", alias = "canonical")]
    canonical_url: Option<String>,
    social: Option<social::RawSocial>,
}

/// Both readings of front matter `yaml` when the flat reader answers for
/// it: its own and serde-saphyr's, each as `Debug` text. For the
/// differential fuzz target (`fuzz/fuzz_targets/front_matter_flat.rs`),
/// which must find them equal.
#[doc(hidden)]
pub fn front_matter_both_ways(yaml: &str) -> Option<(String, String)> {
    let flat: RawFrontMatter = flat::read(yaml)?;
    let full: Result<RawFrontMatter, _> = serde_saphyr::from_str(yaml);
    Some((
        format!("{:?}", Ok::<_, ()>(flat)),
        format!("{:?}", full.map_err(|_| ())),
    ))
}

/// The keys herald reads, for typo suggestions.
const KNOWN_KEYS: &[&str] = &[
    "title",
    "subtitle",
    "description",
    "author",
    "read_time",
    "publish_date",
    "created_date",
    "updated_date",
    "heroImage",
    "hero_image",
    "hero_alt",
    "cta",
    "tags",
    "slug",
    "draft",
    "canonical_url",
    "social",
];

/// `author: Name` or `author: {name: Name}` or a list of names.
#[derive(Debug)]
struct AuthorField(String);

impl<'de> Deserialize<'de> for AuthorField {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Name(String),
            Person { name: String },
            Many(Vec<String>),
        }
        Ok(AuthorField(match Form::deserialize(d)? {
            Form::Name(n) | Form::Person { name: n } => n,
            Form::Many(names) => names.join(", "),
        }))
    }
}

/// `tags: [a, b]` or `tags: a, b`.
#[derive(Debug)]
struct Tags(Vec<String>);

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Tags;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of tags, or tags separated by commas")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tags, E> {
                Ok(Tags(v.split(',').map(|t| t.trim().to_string()).collect()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tags, A::Error> {
                let mut tags = Vec::new();
                while let Some(tag) = seq.next_element::<String>()? {
                    tags.push(tag);
                }
                Ok(Tags(tags))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tags, E> {
                Ok(Tags(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// What `parse` needs besides the text.
pub struct ParseContext<'a> {
    pub site: &'a Site,
    pub content: &'a ContentSettings,
}

impl<'a> ParseContext<'a> {
    /// The context of `config`'s articles.
    pub fn of(config: &'a crate::config::Config) -> Self {
        ParseContext {
            site: &config.site,
            content: &config.content,
        }
    }
}

/// The outcome of reading one file's front matter: the article, if it is
/// usable, and every problem found (warnings may come with an article).
#[derive(Debug, Default)]
pub struct Parsed {
    pub article: Option<Article>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses the front matter of `text` (the whole file, or its start when
/// `complete` is false; `NeedMore` is then returned as `Err` for the caller to
/// read the rest). Only the whole file gives the details their `lead`.
pub fn parse(
    path: &Path,
    text: &str,
    complete: bool,
    ctx: &ParseContext<'_>,
) -> Result<Parsed, front_matter::SplitError> {
    use front_matter::SplitError;
    let mut out = Parsed::default();
    let split = match front_matter::split(text, complete) {
        Ok(s) => s,
        Err(SplitError::NeedMore) => return Err(SplitError::NeedMore),
        Err(e) => {
            out.diagnostics.push(split_error(path, &e));
            return Ok(out);
        }
    };

    let (yaml, repairs) = front_matter::repair_apostrophes(split.yaml);
    for r in &repairs {
        out.diagnostics.push(
            Diagnostic::warning(
                path,
                "raw apostrophe inside a single-quoted value; read as an apostrophe (write it as '' or use double quotes)",
            )
            .at(split.yaml_first_line + r.line as u32, r.column as u32),
        );
    }
    for (line, key) in front_matter::top_level_keys(&yaml) {
        if KNOWN_KEYS.contains(&key) || is_alias(key) {
            continue;
        }
        if let Some(best) = nearest(key, KNOWN_KEYS)
            && strsim::levenshtein(key, best) <= 2
        {
            out.diagnostics.push(
                Diagnostic::warning(
                    path,
                    format!("unknown key `{key}` is ignored; did you mean `{best}`?"),
                )
                .at(split.yaml_first_line + line as u32, 1),
            );
        }
    }

    let raw: RawFrontMatter = if yaml.trim().is_empty() {
        RawFrontMatter::default()
    } else {
        match flat::read(&yaml).map_or_else(|| serde_saphyr::from_str(&yaml), Ok) {
            Ok(raw) => raw,
            Err(err) => {
                out.diagnostics
                    .push(yaml_error(path, &err, split.yaml_first_line));
                return Ok(out);
            }
        }
    };
    let at_open = |d: Diagnostic| d.at(split.open_line, 1);
    let key_line = |names: &[&str]| -> u32 {
        front_matter::top_level_keys(&yaml)
            .iter()
            .find(|(_, k)| names.contains(k))
            .map_or(split.open_line, |(l, _)| split.yaml_first_line + *l as u32)
    };

    let mut errors = Vec::new();
    let title = match raw.title.as_deref().map(|t| strip_control(t).0) {
        Some(t) if !t.trim().is_empty() => {
            let (clean, removed) = strip_control(raw.title.as_deref().unwrap_or_default());
            if removed {
                out.diagnostics.push(
                    Diagnostic::warning(
                        path,
                        "the title contains control characters; they were removed",
                    )
                    .at(key_line(&["title"]), 1),
                );
            }
            clean
        }
        _ => {
            errors.push(at_open(Diagnostic::error(
                path,
                "missing `title`: every article needs one",
            )));
            String::new()
        }
    };

    let tz = ctx.content.timezone;
    let time = ctx.content.publish_time;
    let date_field = |value: &Option<String>, names: &[&str], errors: &mut Vec<Diagnostic>| {
        value
            .as_deref()
            .and_then(|v| match parse_date(v, tz, time) {
                Ok(d) => Some(d),
                Err(m) => {
                    errors.push(
                        Diagnostic::error(path, format!("{}: {m}", names[0]))
                            .at(key_line(names), 1),
                    );
                    None
                }
            })
    };
    let published = match &raw.publish_date {
        None => {
            errors.push(at_open(Diagnostic::error(
                path,
                "missing `publish_date`: write it as YYYY-MM-DD or as an RFC 3339 date-time",
            )));
            None
        }
        Some(_) => date_field(
            &raw.publish_date,
            &["publish_date", "publishDate", "pubDate", "date"],
            &mut errors,
        ),
    };
    let created = date_field(
        &raw.created_date,
        &["created_date", "createdDate", "created"],
        &mut errors,
    );
    let updated = date_field(
        &raw.updated_date,
        &["updated_date", "updatedDate", "updated", "lastmod"],
        &mut errors,
    );

    let slug = match raw.slug.as_deref().map(str::trim) {
        Some(s) => {
            if is_valid_slug(s) {
                s.to_string()
            } else {
                errors.push(
                    Diagnostic::error(
                        path,
                        format!("slug {s:?} may only contain letters, digits, '-', '_' and '.'"),
                    )
                    .at(key_line(&["slug"]), 1),
                );
                String::new()
            }
        }
        None => slug_from_file_name(path),
    };

    let permalink = match raw.canonical_url.as_deref().map(str::trim) {
        Some(c) => match Url::parse(c) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            _ => {
                errors.push(
                    Diagnostic::error(
                        path,
                        format!("canonical_url {c:?} must be an absolute http(s) URL"),
                    )
                    .at(key_line(&["canonical_url", "canonicalUrl", "canonical"]), 1),
                );
                None
            }
        },
        None => published.and_then(|p| {
            match expand_permalink(&ctx.content.permalink, &ctx.site.url, &slug, p) {
                Ok(u) => Some(u),
                Err(m) => {
                    errors.push(at_open(Diagnostic::error(path, m)));
                    None
                }
            }
        }),
    };

    let hero_image = raw.hero_image.as_deref().map(str::trim).filter(|s| !s.is_empty()).and_then(|h| {
        let base = permalink.as_ref().unwrap_or(&ctx.site.url);
        match base.join(h) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            _ => {
                out.diagnostics.push(
                    Diagnostic::warning(
                        path,
                        format!("heroImage {h:?} is not an http(s) URL; the article goes out without a hero image"),
                    )
                    .at(key_line(&["heroImage", "hero_image", "image"]), 1),
                );
                None
            }
        }
    });

    let has_errors = !errors.is_empty();
    out.diagnostics.extend(errors);
    if has_errors {
        return Ok(out);
    }
    let (Some(published), Some(permalink)) = (published, permalink) else {
        return Ok(out);
    };
    let clean = |s: Option<String>| {
        s.map(|v| strip_control(v.trim()).0)
            .filter(|v| !v.is_empty())
    };
    let (subtitle, description) = (clean(raw.subtitle), clean(raw.description));
    let mut tags: Vec<String> = Vec::new();
    for t in raw.tags.map(|t| t.0).unwrap_or_default() {
        let t = strip_control(t.trim()).0;
        if !t.is_empty() && !tags.contains(&t) {
            tags.push(t);
        }
    }
    out.article = Some(Article {
        source: path.to_path_buf(),
        body_offset: split.body_offset as u64,
        body_line: split.body_line,
        digest: None,
        permalink: permalink.into(),
        slug,
        title,
        published,
        updated,
        tags: tags.into_iter().map(String::into_boxed_str).collect(),
        draft: raw.draft.unwrap_or(false),
        social: raw
            .social
            .map(social::Overrides::from)
            .filter(|o| *o != social::NO_OVERRIDES)
            .map(Box::new),
        details: Kept::Held(Arc::new(Details {
            lead: (complete && description.is_none() && subtitle.is_none())
                .then(|| markdown::first_paragraph(&text[split.body_offset..]))
                .flatten(),
            created,
            subtitle,
            description,
            author: clean(raw.author.map(|a| a.0)),
            read_time: clean(raw.read_time),
            hero_image,
            hero_alt: clean(raw.hero_alt),
            cta: clean(raw.cta),
        })),
        text: None,
    });
    Ok(out)
}

/// Why a file has no usable front matter, as the user reads it.
fn split_error(path: &Path, e: &front_matter::SplitError) -> Diagnostic {
    use front_matter::SplitError;
    match e {
        SplitError::Empty => Diagnostic::error(
            path,
            "the file is empty; an article needs front matter between `---` lines with at least `title` and `publish_date`",
        )
        .at(1, 1),
        SplitError::Missing => Diagnostic::error(
            path,
            "no front matter: an article starts with a `---` line, then `title:` and `publish_date:`, then another `---` line",
        )
        .at(1, 1),
        SplitError::Unclosed { open_line } => Diagnostic::error(
            path,
            "the front matter opened here is never closed; did you forget the closing `---`?",
        )
        .at(*open_line, 1),
        // Only a partial read asks for more; a whole file never does.
        SplitError::NeedMore => Diagnostic::error(path, "the front matter is never closed; did you forget the closing `---`?"),
    }
}

fn is_alias(key: &str) -> bool {
    matches!(
        key,
        "summary"
            | "excerpt"
            | "readTime"
            | "reading_time"
            | "publishDate"
            | "pubDate"
            | "date"
            | "createdDate"
            | "created"
            | "updatedDate"
            | "updated"
            | "lastmod"
            | "image"
            | "heroAlt"
            | "heroImageAlt"
            | "image_alt"
            | "categories"
            | "canonicalUrl"
            | "canonical"
    )
}

/// A YAML error as a diagnostic at its file position, in plain words.
fn yaml_error(path: &Path, err: &serde_saphyr::Error, first_line: u32) -> Diagnostic {
    use serde_saphyr::MessageFormatter;
    let message = serde_saphyr::DefaultMessageFormatter
        .format_message(err.without_snippet())
        .into_owned();
    let message = if message.contains("expected mapping") {
        "the front matter must be a mapping of keys (title: ..., publish_date: ...), not a list or a single value".to_string()
    } else {
        format!("invalid YAML in the front matter: {message}")
    };
    let (line, column) = err
        .location()
        .map_or((0, 0), |l| (l.line() as u32, l.column() as u32));
    let line = if line == 0 {
        first_line
    } else {
        first_line + line - 1
    };
    Diagnostic::error(path, message).at(line, column.max(1))
}

/// Removes characters that XML 1.0 forbids and other C0/C1 controls (tab and
/// newline excepted); says whether anything was removed.
pub fn strip_control(text: &str) -> (String, bool) {
    if !text.chars().any(is_unwanted_control) {
        return (text.to_string(), false);
    }
    (
        text.chars().filter(|c| !is_unwanted_control(*c)).collect(),
        true,
    )
}

fn is_unwanted_control(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
}

/// Reads `YYYY-MM-DD` (at `time` in `tz`), a date-time without offset (in
/// `tz`), or RFC 3339 with an offset.
pub fn parse_date(
    text: &str,
    tz: chrono_tz::Tz,
    time: chrono::NaiveTime,
) -> Result<DateTime<FixedOffset>, String> {
    let t = text.trim();
    if let Some(date) = plain_date(t) {
        return in_zone(date.and_time(time), text, tz);
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(d);
    }
    for fmt in [
        "%Y-%m-%d %H:%M:%S%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S %z",
    ] {
        if let Ok(d) = DateTime::parse_from_str(t, fmt) {
            return Ok(d);
        }
    }
    let naive = NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .map(|d| d.and_time(time))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S"))
        .or_else(|_| NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M"))
        .map_err(|_| {
            format!(
                "expected YYYY-MM-DD or an RFC 3339 date-time such as 2024-02-10T09:00:00+01:00, found {text:?}"
            )
        })?;
    in_zone(naive, text, tz)
}

/// A wall time (`text` as written, for the error) in time zone `tz`.
fn in_zone(
    naive: NaiveDateTime,
    text: &str,
    tz: chrono_tz::Tz,
) -> Result<DateTime<FixedOffset>, String> {
    let local = match tz.from_local_datetime(&naive) {
        LocalResult::Single(d) => d,
        LocalResult::Ambiguous(first, _) => first,
        // A time skipped by a daylight-saving change: take the same wall time
        // an hour later, as clocks read then.
        LocalResult::None => tz
            .from_local_datetime(&(naive + chrono::Duration::hours(1)))
            .earliest()
            .ok_or_else(|| format!("{text:?} does not exist in time zone {}", tz.name()))?,
    };
    Ok(local.fixed_offset())
}

/// `YYYY-MM-DD`, the form most articles use, read without chrono's format
/// parser (which `parse_date` otherwise tries form by form, four times
/// before this one): the date `NaiveDate::parse_from_str(t, "%Y-%m-%d")`
/// gives, or `None` (a test holds the two equal wherever this answers).
fn plain_date(t: &str) -> Option<NaiveDate> {
    let b = t.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let number = |digits: &[u8]| {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    NaiveDate::from_ymd_opt(
        i32::try_from(number(&b[..4])?).ok()?,
        number(&b[5..7])?,
        number(&b[8..])?,
    )
}

fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug != "."
        && slug != ".."
        && slug
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The file's stem as a slug: kept as is when it is a valid slug, otherwise
/// lower-cased with runs of other characters turned into `-`.
pub fn slug_from_file_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if is_valid_slug(&stem) {
        return stem;
    }
    slugify(&stem)
}

/// Lower-case letters and digits joined by single `-`.
pub fn slugify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        out.push_str("untitled");
    }
    out
}

/// Fills the permalink pattern and joins it to the site URL (keeping any path
/// prefix the site URL has).
pub fn expand_permalink(
    pattern: &str,
    site: &Url,
    slug: &str,
    published: DateTime<FixedOffset>,
) -> Result<Url, String> {
    use chrono::Datelike;
    use std::fmt::Write;
    // One pass, each placeholder written in place (a slug holds no braces,
    // so nothing it brings in is read as a placeholder).
    let mut path = String::with_capacity(pattern.len() + slug.len());
    let mut rest = pattern;
    let date = published.date_naive();
    while let Some(at) = rest.find('{') {
        path.push_str(&rest[..at]);
        rest = &rest[at..];
        let taken = if rest.starts_with("{slug}") {
            path.push_str(slug);
            "{slug}".len()
        } else if rest.starts_with("{year}") {
            let _ = write!(path, "{:04}", date.year());
            "{year}".len()
        } else if rest.starts_with("{month}") {
            let _ = write!(path, "{:02}", date.month());
            "{month}".len()
        } else if rest.starts_with("{day}") {
            let _ = write!(path, "{:02}", date.day());
            "{day}".len()
        } else {
            path.push('{');
            1
        };
        rest = &rest[taken..];
    }
    path.push_str(rest);
    site.join(path.trim_start_matches('/'))
        .map_err(|e| format!("the permalink {path:?} is not a valid URL path: {e}"))
}

#[cfg(test)]
mod tests;
