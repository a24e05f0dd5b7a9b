//! Composing a post: the template (built in, or set in the config globally or
//! per target) rendered over the article, then fitted to the platform's limit
//! by the platform's own counting rule.
//!
//! Fitting shortens the summary first, at a word boundary with an ellipsis,
//! then the title; the link and the call to action are never cut. If even the
//! title and link leave no room for the CTA, the CTA is dropped and the plan
//! says so. Pure: no I/O.

pub mod guard;

use std::fmt;

use minijinja::{Environment, Value};
use serde::Serialize;
use unicode_segmentation::UnicodeSegmentation;

/// The built-in template: title, summary, call to action and link.
pub const DEFAULT_TEMPLATE: &str = "{{ title }}\n\n{{ summary }}\n\n{% if cta %}{{ cta }} {% endif %}{{ url }}{% if hashtags %}\n\n{{ hashtags }}{% endif %}";

/// How a platform counts the length of a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CountUnit {
    /// User-perceived characters (Mastodon, Bluesky).
    Graphemes,
    /// Unicode scalar values (Discord, Slack, Mattermost).
    CodePoints,
    /// UTF-16 code units (Telegram counts entities this way).
    Utf16,
    /// UTF-8 bytes.
    Bytes,
    /// A platform's own rule (X's weighted characters), given by its module.
    Custom(Counter),
}

/// A counting rule none of the common units describes.
#[derive(Clone, Copy)]
pub struct Counter {
    /// The unit's name in messages ("weighted characters").
    pub label: &'static str,
    /// The length of a text without URLs (each URL is counted apart, as
    /// `TextLimit::url_length` says).
    pub count: fn(&str) -> usize,
}

impl fmt::Debug for Counter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label)
    }
}

impl PartialEq for Counter {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label
    }
}

impl Eq for Counter {}

impl CountUnit {
    pub fn label(self) -> &'static str {
        match self {
            CountUnit::Graphemes => "graphemes",
            CountUnit::CodePoints => "characters",
            CountUnit::Utf16 => "UTF-16 units",
            CountUnit::Bytes => "bytes",
            CountUnit::Custom(c) => c.label,
        }
    }

    /// The name machines read (`--format json`).
    fn key(self) -> &'static str {
        match self {
            CountUnit::Graphemes => "graphemes",
            CountUnit::CodePoints => "code_points",
            CountUnit::Utf16 => "utf16",
            CountUnit::Bytes => "bytes",
            CountUnit::Custom(c) => c.label,
        }
    }
}

impl Serialize for CountUnit {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.key())
    }
}

/// A platform's limit on the post text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TextLimit {
    pub unit: CountUnit,
    pub max: usize,
    /// Every URL counts as this many, whatever its length (Mastodon's
    /// `characters_reserved_per_url`, X's t.co).
    pub url_length: Option<usize>,
    /// A second cap in UTF-8 bytes (Bluesky: 3000).
    pub max_bytes: Option<usize>,
}

impl TextLimit {
    pub const fn new(unit: CountUnit, max: usize) -> Self {
        TextLimit {
            unit,
            max,
            url_length: None,
            max_bytes: None,
        }
    }

    /// The length of `text` by this platform's rule.
    pub fn count(&self, text: &str) -> usize {
        match self.url_length {
            None => count_units(text, self.unit),
            Some(per_url) => {
                let mut total = 0;
                let mut last = 0;
                for (start, end) in url_spans(text) {
                    total += count_units(&text[last..start], self.unit) + per_url;
                    last = end;
                }
                total + count_units(&text[last..], self.unit)
            }
        }
    }

    pub fn fits(&self, text: &str) -> bool {
        self.count(text) <= self.max && self.max_bytes.is_none_or(|b| text.len() <= b)
    }
}

fn count_units(text: &str, unit: CountUnit) -> usize {
    match unit {
        CountUnit::Graphemes => text.graphemes(true).count(),
        CountUnit::CodePoints => text.chars().count(),
        CountUnit::Utf16 => text.encode_utf16().count(),
        CountUnit::Bytes => text.len(),
        CountUnit::Custom(c) => (c.count)(text),
    }
}

/// Byte spans of `http://` and `https://` URLs in `text` (up to white space).
pub fn url_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(found) = ["https://", "http://"]
        .iter()
        .filter_map(|p| text[from..].find(p).map(|i| from + i))
        .min()
    {
        let end = text[found..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| found + i);
        // Trailing sentence punctuation is not part of a link.
        let trimmed =
            text[found..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']);
        spans.push((found, found + trimmed.len()));
        from = end;
    }
    spans
}

/// The article fields a template can use.
#[derive(Debug, Clone, Serialize, Default)]
pub struct PostFields {
    pub title: String,
    pub subtitle: Option<String>,
    pub summary: String,
    pub cta: Option<String>,
    pub url: String,
    pub author: Option<String>,
    pub tags: Vec<String>,
    pub hero_image: Option<String>,
    pub hero_alt: String,
    pub read_time: Option<String>,
    /// RFC 3339.
    pub published: String,
    /// The site's title.
    pub site: String,
    /// The post's hashtags as written (`#Rust #EdgeAi`): those of
    /// `hashtag_words` that fit.
    pub hashtags: String,
    /// The hashtags the target takes, without `#`, most wanted first:
    /// fitting drops them from the end before it shortens the summary.
    #[serde(skip)]
    pub hashtag_words: Vec<String>,
}

/// The names a template can use: the fields of `PostFields`, as serde
/// names them (so the list cannot drift from the struct).
pub fn field_names() -> Vec<String> {
    match serde_json::to_value(PostFields::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// The fitted text and how it was fitted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fitted {
    pub text: String,
    pub count: usize,
    pub limit: TextLimit,
    /// What had to give way, in words a user understands.
    pub notes: Vec<String>,
    /// The summary and title as they appear in the text (cards use them).
    pub summary: String,
    pub title: String,
    pub cta_dropped: bool,
    /// The hashtags the text carries, without `#`.
    pub hashtags: Vec<String>,
}

/// Why a post could not be composed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComposeError {
    #[error("the template does not render: {0}")]
    Template(String),
    #[error("the link alone is longer than the limit of {max} {unit}")]
    LinkTooLong { max: usize, unit: &'static str },
}

/// Fuel for one template rendering: enough for any sane template, a stop
/// for one that loops without end.
const TEMPLATE_FUEL: u64 = 50_000;

/// The most a template may write, before fitting: ample for any post.
pub const MAX_OUTPUT: usize = 1024 * 1024;

/// A writer that refuses to grow past `MAX_OUTPUT`.
struct Capped(Vec<u8>);

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.0.len() + buf.len() > MAX_OUTPUT {
            self.0
                .extend_from_slice(&buf[..MAX_OUTPUT.saturating_sub(self.0.len())]);
            return Err(std::io::Error::other("the post text is too long"));
        }
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The fields cut to what a template may see: each text at most
/// `guard::MAX_FIELD` bytes (at a character boundary), the tags together
/// too. No platform takes a post anywhere near as long.
fn cut_fields(fields: &PostFields) -> PostFields {
    let max = guard::MAX_FIELD as usize;
    let cut = |s: &str| -> String {
        if s.len() <= max {
            return s.to_string();
        }
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s[..end].to_string()
    };
    let mut total = 0;
    let tags = fields
        .tags
        .iter()
        .take_while(|t| {
            total += t.len();
            total <= max
        })
        .cloned()
        .collect();
    PostFields {
        title: cut(&fields.title),
        subtitle: fields.subtitle.as_deref().map(cut),
        summary: cut(&fields.summary),
        cta: fields.cta.as_deref().map(cut),
        url: cut(&fields.url),
        author: fields.author.as_deref().map(cut),
        tags,
        hero_image: fields.hero_image.as_deref().map(cut),
        hero_alt: cut(&fields.hero_alt),
        read_time: fields.read_time.as_deref().map(cut),
        published: cut(&fields.published),
        site: cut(&fields.site),
        hashtags: cut(&fields.hashtags),
        hashtag_words: fields.hashtag_words.clone(),
    }
}

/// A template ready to render posts.
pub struct Composer {
    env: Environment<'static>,
}

impl Composer {
    /// Compiles `source` (the built-in template when `None`).
    /// Compiles `source` (the built-in template when `None`), refusing a
    /// template outside what post templates may do (see `guard`).
    pub fn new(source: Option<&str>) -> Result<Self, ComposeError> {
        let source = source.unwrap_or(DEFAULT_TEMPLATE);
        guard::check(source).map_err(|r| ComposeError::Template(r.to_string()))?;
        let mut env = Environment::new();
        env.set_fuel(Some(TEMPLATE_FUEL));
        env.set_keep_trailing_newline(false);
        env.add_filter("hashtags", hashtags);
        env.add_template_owned("post", source.to_string())
            .map_err(|e| ComposeError::Template(template_error(&e)))?;
        Ok(Composer { env })
    }

    /// Renders the template over `fields`, as they are (`fit` cuts them to
    /// `guard::MAX_FIELD` first), writing at most `MAX_OUTPUT` bytes.
    pub fn render(&self, fields: &PostFields) -> Result<String, ComposeError> {
        let template = self
            .env
            .get_template("post")
            .map_err(|e| ComposeError::Template(template_error(&e)))?;
        let mut out = Capped(Vec::new());
        template
            .render_captured_to(Value::from_serialize(fields), &mut out)
            .map_err(|e| {
                if out.0.len() >= MAX_OUTPUT {
                    ComposeError::Template(format!(
                        "the template writes more than {} KB",
                        MAX_OUTPUT / 1024
                    ))
                } else {
                    ComposeError::Template(template_error(&e))
                }
            })?;
        Ok(tidy(&String::from_utf8_lossy(&out.0)))
    }

    /// Renders the template over `fields` as a post would see them (cut to
    /// `guard::MAX_FIELD`): for checking a template on real articles.
    pub fn try_render(&self, fields: &PostFields) -> Result<String, ComposeError> {
        self.render(&cut_fields(fields))
    }

    /// Renders and fits the post to `limit`.
    pub fn fit(&self, fields: &PostFields, limit: TextLimit) -> Result<Fitted, ComposeError> {
        let mut fields = cut_fields(fields);
        let mut notes = Vec::new();
        // Hashtags give way first, from the last, before any word of the
        // summary does; none is ever cut.
        let words = std::mem::take(&mut fields.hashtag_words);
        for n in (1..=words.len()).rev() {
            let mut f = fields.clone();
            f.hashtags = written_hashtags(&words[..n]);
            let full = self.render(&f)?;
            if limit.fits(&full) {
                if n < words.len() {
                    notes.push(format!(
                        "{} of {} hashtags were left out to fit: {}",
                        words.len() - n,
                        words.len(),
                        written_hashtags(&words[n..])
                    ));
                }
                let mut fitted = self.fitted(full, &f, limit, notes, false);
                fitted.hashtags = words[..n].to_vec();
                return Ok(fitted);
            }
        }
        if !words.is_empty() {
            notes.push(format!(
                "the hashtags were left out to fit: {}",
                written_hashtags(&words)
            ));
        }
        fields.hashtags = String::new();
        let fields = &fields;
        for drop_cta in [false, true] {
            let mut f = fields.clone();
            if drop_cta {
                if f.cta.is_none() {
                    break;
                }
                f.cta = None;
            }
            let full = self.render(&f)?;
            if limit.fits(&full) {
                if drop_cta {
                    notes.push(
                        "the call to action was dropped: even a one-word title left no room for it"
                            .to_string(),
                    );
                }
                return Ok(self.fitted(full, &f, limit, notes, drop_cta));
            }
            // Shorten the summary, keeping as many words as fit.
            let summary_words = cut_points(&f.summary);
            if let Some(k) = self.largest_fitting(&f, limit, summary_words.len(), |f, k| {
                f.summary = shorten_to(&fields.summary, &summary_words, k);
            })? {
                f.summary = shorten_to(&fields.summary, &summary_words, k);
                notes.push(shortening_note("summary", &fields.summary, &f.summary));
                if drop_cta {
                    notes.push(
                        "the call to action was dropped: even an empty summary left no room for it"
                            .to_string(),
                    );
                }
                let text = self.render(&f)?;
                return Ok(self.fitted(text, &f, limit, notes, drop_cta));
            }
            // No summary at all, and shorten the title.
            f.summary = String::new();
            let title_words = cut_points(&f.title);
            if let Some(k) = self.largest_fitting(&f, limit, title_words.len(), |f, k| {
                f.title = shorten_to(&fields.title, &title_words, k);
            })? {
                f.title = shorten_to(&fields.title, &title_words, k);
                notes.push(
                    "the summary was left out: the title and link fill the limit".to_string(),
                );
                notes.push(shortening_note("title", &fields.title, &f.title));
                if drop_cta {
                    notes.push(
                        "the call to action was dropped: the title and link fill the limit"
                            .to_string(),
                    );
                }
                let text = self.render(&f)?;
                return Ok(self.fitted(text, &f, limit, notes, drop_cta));
            }
        }
        Err(ComposeError::LinkTooLong {
            max: limit.max,
            unit: limit.unit.label(),
        })
    }

    /// The post as a thread: the whole text (nothing shortened, every
    /// hashtag kept) in parts that each fit `limit`, cut at white space
    /// only, so no word, link or hashtag is ever split. None when the text
    /// fits in one post, or needs more than `max_parts`.
    pub fn thread(
        &self,
        fields: &PostFields,
        limit: TextLimit,
        max_parts: usize,
    ) -> Result<Option<(Fitted, Vec<String>)>, ComposeError> {
        let mut f = cut_fields(fields);
        f.hashtags = written_hashtags(&f.hashtag_words);
        let full = self.render(&f)?;
        if limit.fits(&full) {
            return Ok(None);
        }
        let Some(mut parts) = split_parts(&full, limit, max_parts) else {
            return Ok(None);
        };
        let first = parts.remove(0);
        let notes = vec![format!(
            "too long for one post: a thread of {} parts, nothing shortened",
            parts.len() + 1
        )];
        let mut fitted = self.fitted(first, &f, limit, notes, false);
        fitted.hashtags = f.hashtag_words.clone();
        Ok(Some((fitted, parts)))
    }

    /// The largest `k` in `0..n` for which the text fits once `apply(k)` is
    /// done, by binary search (fitting is monotonic in `k`).
    fn largest_fitting(
        &self,
        base: &PostFields,
        limit: TextLimit,
        n: usize,
        apply: impl Fn(&mut PostFields, usize),
    ) -> Result<Option<usize>, ComposeError> {
        let fits = |k: usize| -> Result<bool, ComposeError> {
            let mut f = base.clone();
            apply(&mut f, k);
            Ok(limit.fits(&self.render(&f)?))
        };
        if n == 0 || !fits(0)? {
            return Ok(None);
        }
        let (mut lo, mut hi) = (0, n - 1); // fits(lo) holds
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if fits(mid)? {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Ok(Some(lo))
    }

    fn fitted(
        &self,
        text: String,
        f: &PostFields,
        limit: TextLimit,
        notes: Vec<String>,
        cta_dropped: bool,
    ) -> Fitted {
        Fitted {
            count: limit.count(&text),
            text,
            limit,
            notes,
            summary: f.summary.clone(),
            title: f.title.clone(),
            cta_dropped,
            hashtags: Vec::new(),
        }
    }
}

fn template_error(e: &minijinja::Error) -> String {
    let mut message = e.to_string();
    if let Some(line) = e.line() {
        message = format!("line {line}: {message}");
    }
    message
}

/// Removes trailing spaces on lines, runs of more than one blank line, and
/// white space at both ends (a missing summary must not leave a gap).
fn tidy(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_run = 0;
    for line in text.trim().lines() {
        let line = line.trim_end();
        if line.is_empty() {
            blank_run += 1;
            if blank_run > 1 {
                continue;
            }
        } else {
            blank_run = 0;
        }
        out.push_str(line);
        out.push('\n');
    }
    out.trim_end().to_string()
}

/// `text` in as few parts as fit `limit` each, cut at white space (a
/// paragraph break or a sentence's end when one is near enough), or None
/// when that takes more than `max_parts` or a single word does not fit.
pub fn split_parts(text: &str, limit: TextLimit, max_parts: usize) -> Option<Vec<String>> {
    let words: Vec<&str> = text.split_inclusive(char::is_whitespace).collect();
    let mut parts: Vec<String> = Vec::new();
    let mut start = 0;
    while start < words.len() {
        // The most words from `start` that fit.
        let mut end = start;
        let mut current = String::new();
        while end < words.len() {
            let candidate = format!("{current}{}", words[end]);
            if !limit.fits(candidate.trim()) {
                break;
            }
            current = candidate;
            end += 1;
        }
        if end == start {
            return None;
        }
        // Prefer to end a part at a paragraph break, else at the end of a
        // sentence, in the last half of what fits.
        if end < words.len() {
            let from = start + (end - start) / 2;
            let sentence_end = |i: usize| {
                words[i]
                    .trim_end()
                    .ends_with(['.', '!', '?', '…', '。', '！', '？'])
            };
            let better = (from..end)
                .rev()
                .find(|&i| words[i].ends_with('\n'))
                .or_else(|| (from..end).rev().find(|&i| sentence_end(i)));
            if let Some(p) = better {
                end = p + 1;
                current = words[start..end].concat();
            }
        }
        let part = current.trim().to_string();
        if !part.is_empty() {
            parts.push(part);
        }
        if parts.len() > max_parts {
            return None;
        }
        start = end;
    }
    Some(parts)
}

/// Byte offsets where `text` may be cut: after each word, or after each
/// grapheme when the text has no spaces to cut at (Chinese, Japanese).
fn cut_points(text: &str) -> Vec<usize> {
    let words: Vec<usize> = text
        .split_word_bound_indices()
        .filter(|(_, w)| !w.trim().is_empty())
        .map(|(i, w)| i + w.len())
        .collect();
    let spaced = text.split_whitespace().count() > 1;
    if spaced {
        // Cut after white-space-separated words only: a URL or a hyphenated
        // word is never split.
        let mut points = Vec::new();
        let mut offset = 0;
        for part in text.split_inclusive(char::is_whitespace) {
            let word_end = offset + part.trim_end().len();
            if !part.trim().is_empty() {
                points.push(word_end);
            }
            offset += part.len();
        }
        points
    } else if words.len() > 1 {
        text.grapheme_indices(true)
            .map(|(i, g)| i + g.len())
            .collect()
    } else {
        words
    }
}

/// The first `k` pieces of `text` followed by an ellipsis; empty for 0.
fn shorten_to(text: &str, points: &[usize], k: usize) -> String {
    if k == 0 {
        return String::new();
    }
    let end = points[(k - 1).min(points.len() - 1)];
    if end >= text.len() {
        return text.to_string();
    }
    let head = text[..end].trim_end_matches([',', ';', ':', '-', '–', '—', ' ']);
    // A cut after a whole sentence needs no ellipsis.
    if head.ends_with(['.', '!', '?', '。', '！', '？']) {
        return head.to_string();
    }
    format!("{head}…")
}

fn shortening_note(what: &str, before: &str, after: &str) -> String {
    format!(
        "the {what} was shortened from {} to {} characters",
        before.chars().count(),
        after.chars().count()
    )
}

/// `{{ tags | hashtags }}`: `#rust #EdgeAi #FoodDrink`.
fn hashtags(tags: Vec<String>) -> String {
    written_hashtags(&tags.iter().filter_map(|t| hashtag(t)).collect::<Vec<_>>())
}

/// `#a #b` from the words `a`, `b`.
pub fn written_hashtags(words: &[String]) -> String {
    words
        .iter()
        .map(|w| format!("#{w}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A tag as a hashtag's word (no `#`): a single word as written, several
/// words in CamelCase (`edge AI` → `EdgeAI`, `food & drink` →
/// `FoodDrink`); None when the tag has no letter or digit. A hashtag ends
/// at the first character that is not a letter, digit or `_` on every
/// network, so nothing else may stay in it.
pub fn hashtag(tag: &str) -> Option<String> {
    let words: Vec<&str> = tag
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .filter(|w| !w.is_empty())
        .collect();
    match words.len() {
        0 => None,
        1 => Some(words[0].to_string()),
        _ => Some(
            words
                .iter()
                .map(|w| {
                    let mut c = w.chars();
                    c.next()
                        .map(|f| f.to_uppercase().chain(c).collect::<String>())
                        .unwrap_or_default()
                })
                .collect::<String>(),
        ),
    }
}

#[cfg(test)]
mod tests;
