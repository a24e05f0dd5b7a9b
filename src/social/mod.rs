//! Social posts: composing the call-to-action post for each target
//! (`compose`), the request each platform needs (one file per platform, each
//! a pure request builder and response parser), and classifying a response
//! as done, retryable, rate-limited or failed (`http`).
//!
//! `Post` is the domain value; platform payloads are built from it and never
//! leak back. Requests keep secrets as `Secret`s until `http::send` resolves
//! them, so the dry run prints the very request that would be sent, redacted.

pub mod bluesky;
pub mod compose;
pub mod discord;
pub mod google_chat;
pub mod http;
pub mod image;
pub mod mastodon;
pub mod mattermost;
pub mod slack;
pub mod teams;
pub mod telegram;
pub mod webhook;

use chrono::{DateTime, FixedOffset};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::article::Article;
use crate::config::{Platform, Site, Target};
use compose::{ComposeError, Composer, CountUnit, Fitted, PostFields, TextLimit};

pub use http::{Body, DeliveryError, Part, Request, Template};

/// One announcement of one article on one target, fitted to its platform.
#[derive(Debug, Clone, Serialize)]
pub struct Post {
    pub target: String,
    pub platform: &'static str,
    pub article_id: String,
    pub url: Url,
    pub fields: PostFields,
    pub fitted: Fitted,
    /// The title as a card shows it (cut to the card's own limit).
    pub card_title: String,
    pub image: Option<Url>,
    pub image_alt: String,
    pub language: String,
    pub published: DateTime<FixedOffset>,
    /// Stable for (target, article): a resend carries the same key.
    pub idempotency_key: String,
    /// What was posted, to notice edits.
    pub content_hash: String,
}

/// What a platform said it made: its id and, where it has one, a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
}

/// The label of a card's link button: the CTA is in the text, so the
/// button says where it goes.
pub const READ_LABEL: &str = "Read the article";

/// The default template of card platforms: the card already shows the title,
/// the image and the link, so the text is the summary and the CTA.
pub const CARD_TEMPLATE: &str = "{{ summary }}{% if cta %}\n\n{{ cta }}{% endif %}";

/// How a platform presents a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The text is the post (Mastodon, Bluesky, Telegram, webhook).
    Text,
    /// A card with title, image and link; the text is its body.
    Card { title_max: usize },
}

/// The limit and shape of each platform's text.
pub fn platform_text(platform: &Platform, mastodon_limit: Option<usize>) -> (TextLimit, Shape) {
    use CountUnit::*;
    match platform {
        // Section text ≤ 3000; a line for the link goes below it.
        Platform::Slack { .. } => (
            TextLimit::new(CodePoints, 2900),
            Shape::Card { title_max: 150 },
        ),
        // Embed description ≤ 4096, title ≤ 256; all embeds ≤ 6000.
        Platform::Discord { .. } => (
            TextLimit::new(CodePoints, 4096),
            Shape::Card { title_max: 256 },
        ),
        // A card must stay under 28 KB; 4000 characters of body is ample.
        Platform::Teams { .. } => (
            TextLimit::new(CodePoints, 4000),
            Shape::Card { title_max: 256 },
        ),
        // A message ≤ 32,000 bytes.
        Platform::GoogleChat { .. } => (
            TextLimit::new(CodePoints, 4000),
            Shape::Card { title_max: 256 },
        ),
        // 16,383 characters per post; longer text is split into several posts.
        Platform::Mattermost { .. } => (
            TextLimit::new(CodePoints, 4000),
            Shape::Card { title_max: 256 },
        ),
        // Captions ≤ 1024 after entity parsing; counted in UTF-16 to be safe.
        Platform::Telegram { .. } => (TextLimit::new(Utf16, 1024), Shape::Text),
        Platform::Mastodon { .. } => (
            TextLimit {
                unit: Graphemes,
                max: mastodon_limit.unwrap_or(mastodon::DEFAULT_MAX_CHARACTERS),
                url_length: Some(mastodon::URL_LENGTH),
                max_bytes: None,
            },
            Shape::Text,
        ),
        Platform::Bluesky { .. } => (
            TextLimit {
                unit: Graphemes,
                max: 300,
                url_length: None,
                max_bytes: Some(3000),
            },
            Shape::Text,
        ),
        // Receivers are ours to define: a generous cap keeps payloads small.
        Platform::Webhook { .. } => (TextLimit::new(CodePoints, 10_000), Shape::Text),
    }
}

/// The article fields every template sees.
pub fn post_fields(article: &Article, summary: &str, site: &Site) -> PostFields {
    PostFields {
        title: article.title.clone(),
        subtitle: article.subtitle.clone(),
        summary: summary.to_string(),
        cta: article.cta.clone(),
        url: article.permalink.to_string(),
        author: article.author.clone(),
        tags: article.tags.clone(),
        hero_image: article.hero_image.as_ref().map(Url::to_string),
        hero_alt: article.alt_text().to_string(),
        read_time: article.read_time.clone(),
        published: article.published.to_rfc3339(),
        site: site.title.clone(),
    }
}

/// The template a target's posts use: its own, else the global one
/// (`social.template`), else its platform's default.
pub fn template_for<'a>(target: &'a Target, global_template: Option<&'a str>) -> &'a str {
    let default = match platform_text(&target.platform, None).1 {
        Shape::Text => compose::DEFAULT_TEMPLATE,
        Shape::Card { .. } => CARD_TEMPLATE,
    };
    target
        .template
        .as_deref()
        .or(global_template)
        .unwrap_or(default)
}

/// Composes the post of `article` for `target` with the target's compiled
/// template (see `template_for`).
pub fn compose(
    article: &Article,
    summary: &str,
    target: &Target,
    site: &Site,
    composer: &Composer,
    mastodon_limit: Option<usize>,
) -> Result<Post, ComposeError> {
    let (limit, shape) = platform_text(&target.platform, mastodon_limit);
    let fields = post_fields(article, summary, site);
    let fitted = composer.fit(&fields, limit)?;
    let card_title = match shape {
        Shape::Card { title_max } => truncate_words(&article.title, title_max),
        Shape::Text => fitted.title.clone(),
    };
    let content_hash = hex(&Sha256::digest(
        [
            fitted.text.as_str(),
            &card_title,
            fields.hero_image.as_deref().unwrap_or_default(),
            &fields.hero_alt,
        ]
        .join("\u{1f}")
        .as_bytes(),
    ))[..32]
        .to_string();
    Ok(Post {
        target: target.name.clone(),
        platform: target.platform.type_name(),
        article_id: article.id().to_string(),
        url: article.permalink.clone(),
        card_title,
        image: article.hero_image.clone(),
        image_alt: article.alt_text().to_string(),
        language: site.language.clone(),
        published: article.published,
        idempotency_key: idempotency_key(&target.name, article.id()),
        content_hash,
        fields,
        fitted,
    })
}

/// `herald-` and 32 hex digits of SHA-256(target, article id): stable across
/// runs and machines, unique per (target, article).
pub fn idempotency_key(target: &str, article_id: &str) -> String {
    let digest = Sha256::digest(format!("{target}\n{article_id}").as_bytes());
    format!("herald-{}", &hex(&digest)[..32])
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Cuts `text` to at most `max` characters at a word boundary, with an
/// ellipsis; unchanged when it fits.
pub fn truncate_words(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let budget = max.saturating_sub(1);
    let mut end = 0;
    let mut last_space_end = None;
    for (count, (i, c)) in text.char_indices().enumerate() {
        if count >= budget {
            break;
        }
        end = i + c.len_utf8();
        if c.is_whitespace() {
            last_space_end = Some(i);
        }
    }
    let cut = last_space_end.filter(|&s| s > 0).unwrap_or(end);
    format!("{}…", text[..cut].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_distinct() {
        let a = idempotency_key("mastodon", "https://x.example/a/");
        assert_eq!(a, idempotency_key("mastodon", "https://x.example/a/"));
        assert_ne!(a, idempotency_key("discord", "https://x.example/a/"));
        assert_eq!(a.len(), "herald-".len() + 32);
    }

    #[test]
    fn truncate_words_cuts_at_a_space() {
        assert_eq!(truncate_words("short", 10), "short");
        assert_eq!(truncate_words("one two three four", 12), "one two…");
        assert_eq!(truncate_words("abcdefghijkl", 5), "abcd…");
        assert!(truncate_words(&"word ".repeat(100), 150).chars().count() <= 150);
    }
}
