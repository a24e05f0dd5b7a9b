//! Posting: one module per platform, and what they share.
//!
//! A platform module owns everything herald knows about its platform: the
//! keys of its targets and their secrets, its text limit, counting rule and
//! shape, what it can do (edit, idempotency), what herald learns about a
//! target before composing, the steps of a post, and how the preview page
//! draws it. `PLATFORMS` lists them; nothing outside this folder matches on
//! a platform. Adding one is a file, a line in `PLATFORMS`, and its tests.
//!
//! Shared here: the `Platform` trait, composing a `Post` (`compose`), the
//! request values (`http`), the steps (`steps`) and the one driver that runs
//! them (`driver`) over a `Transport`.

pub mod bluesky;
pub mod card;
pub mod compose;
pub mod devto;
pub mod discord;
pub mod driver;
pub mod google_chat;
pub mod http;
pub mod image;
pub mod keys;
pub mod linkedin;
pub mod mastodon;
pub mod matrix;
pub mod mattermost;
pub mod micropub;
pub mod misskey;
pub mod nostr;
pub mod ntfy;
pub mod oauth;
pub mod slack;
pub mod socket;
pub mod steps;
pub mod teams;
pub mod telegram;
pub mod threads;
pub mod transport;
pub mod utm;
pub mod webhook;
pub mod x;
pub mod zulip;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use url::Url;

use crate::secret::Secret;
use compose::{ComposeError, Composer, Fitted, PostFields, TextLimit};
use http::{DeliveryError, Request, Response};
use keys::{KeyError, Keys};
use steps::Steps;

pub use card::Card;

/// A platform herald can post to: its `type` word in the config, how a
/// target of that type reads its keys, and an example of those keys.
pub struct Entry {
    pub kind: &'static str,
    pub read: fn(&Keys<'_>) -> Result<Arc<dyn Platform>, KeyError>,
    /// The keys of a target whose every address is below `base` (a local
    /// stand-in in tests; docs show them with the platform's own host).
    pub example: fn(base: &str) -> serde_json::Value,
}

/// Every platform, in the order the docs list them.
pub static PLATFORMS: &[Entry] = &[
    Entry {
        kind: "slack",
        read: slack::read,
        example: slack::example,
    },
    Entry {
        kind: "discord",
        read: discord::read,
        example: discord::example,
    },
    Entry {
        kind: "teams",
        read: teams::read,
        example: teams::example,
    },
    Entry {
        kind: "google_chat",
        read: google_chat::read,
        example: google_chat::example,
    },
    Entry {
        kind: "mattermost",
        read: mattermost::read,
        example: mattermost::example,
    },
    Entry {
        kind: "telegram",
        read: telegram::read,
        example: telegram::example,
    },
    Entry {
        kind: "mastodon",
        read: mastodon::read,
        example: mastodon::example,
    },
    Entry {
        kind: "bluesky",
        read: bluesky::read,
        example: bluesky::example,
    },
    Entry {
        kind: "webhook",
        read: webhook::read,
        example: webhook::example,
    },
    Entry {
        kind: "linkedin",
        read: linkedin::read,
        example: linkedin::example,
    },
    Entry {
        kind: "threads",
        read: threads::read,
        example: threads::example,
    },
    Entry {
        kind: "x",
        read: x::read,
        example: x::example,
    },
    Entry {
        kind: "matrix",
        read: matrix::read,
        example: matrix::example,
    },
    Entry {
        kind: "misskey",
        read: misskey::read,
        example: misskey::example,
    },
    Entry {
        kind: "micropub",
        read: micropub::read,
        example: micropub::example,
    },
    Entry {
        kind: "devto",
        read: devto::read,
        example: devto::example,
    },
    Entry {
        kind: "nostr",
        read: nostr::read,
        example: nostr::example,
    },
    Entry {
        kind: "ntfy",
        read: ntfy::read,
        example: ntfy::example,
    },
    Entry {
        kind: "zulip",
        read: zulip::read,
        example: zulip::example,
    },
];

/// The platform whose `type` word is `kind`.
pub fn entry(kind: &str) -> Option<&'static Entry> {
    PLATFORMS.iter().find(|e| e.kind == kind)
}

/// Everything herald knows about one platform, for one target's settings.
pub trait Platform: fmt::Debug + Send + Sync {
    /// The `type` word of the config.
    fn kind(&self) -> &'static str;

    /// The target's secrets, each with its key and what its value must be.
    fn secrets(&self) -> Vec<SecretField<'_>>;

    /// How long a post may be, counted how, and how it is shown, given
    /// what herald learned about the target.
    fn text(&self, learned: &Learned) -> TextRule;

    /// What the platform can do, given what herald learned about the
    /// target (which server software answers).
    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities::default()
    }

    /// A question to ask the target before composing (an instance's text
    /// limit), when what was learned is missing or old.
    fn learn(&self, _learned: &Learned, _now: DateTime<Utc>) -> Option<Learning> {
        None
    }

    /// The steps that make the post, or edit the post `edit` names.
    fn steps(&self, post: &Post, edit: Option<&str>, _learned: &Learned) -> Steps;

    /// The post as the preview page draws it (inside the platform's frame).
    fn card(&self, post: &Post, card: &Card<'_>) -> String;

    /// Who the target posts as, where the config says (an account, a
    /// channel, a room), for the preview; `None`: the target's name.
    fn account(&self) -> Option<String> {
        None
    }

    /// CSS for this platform's cards, scoped by its `kind` as a class.
    fn card_style(&self) -> &'static str;

    /// The steps that delete a post made earlier (`on_unpublish: delete`),
    /// where the platform allows it; None where it cannot.
    fn delete(&self, _remote: &Remote<'_>) -> Option<Steps> {
        None
    }

    /// The steps that post `part` (a later part of a thread: its text in
    /// `fitted.text`, its own key) as a reply. Its requests use the slots
    /// `PARENT_ID` and `PARENT_REF` (the part before) and `ROOT_ID` and
    /// `ROOT_REF` (the first), which the executor fills from the ledger.
    /// None where the platform has no threads.
    fn reply_steps(&self, _part: &Post, _learned: &Learned) -> Option<Steps> {
        None
    }

    /// How the platform takes hashtags (`hashtags`): not at all (chat),
    /// in the text, or as one topic apart from it.
    fn hashtags(&self) -> Hashtags {
        Hashtags::None
    }

    /// The `visibility` words the platform takes (empty: it has none), so
    /// an article's own `visibility` is checked before a run.
    fn visibilities(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether a post may carry a content warning and a sensitive flag
    /// (`cw`, `sensitive`), and whether the warning counts in the text's
    /// limit.
    fn content_warnings(&self) -> ContentWarnings {
        ContentWarnings::None
    }

    /// The target's own content warning, for articles that set none.
    fn default_content_warning(&self) -> Option<&str> {
        None
    }

    /// The steps that boost or repost a post made earlier (`reshare`),
    /// undoing `previous` (the last boost, by its id) first where the
    /// platform allows one boost at a time; None where the platform has
    /// no boosts (a new post announces the article again instead).
    fn reshare(&self, _remote: &Remote<'_>, _previous: Option<&str>) -> Option<Steps> {
        None
    }

    /// How `herald auth` gets this target's tokens, when they come from a
    /// person's consent and are kept in the ledger (not given in the
    /// config): what `auth --status`, the expiry warnings and the upkeep
    /// of idle targets work from.
    fn authorization(&self) -> Option<Authorization> {
        None
    }
}

/// The slot of the id of the post a reply answers.
pub const PARENT_ID: &str = "parent_id";
/// The slot of that post's reference (`Delivered::reference`).
pub const PARENT_REF: &str = "parent_ref";
/// The slot of the id of a thread's first post.
pub const ROOT_ID: &str = "root_id";
/// The slot of the first post's reference.
pub const ROOT_REF: &str = "root_ref";

/// The most parts a thread has: a text that needs more is shortened to
/// one post instead.
pub const MAX_THREAD_PARTS: usize = 6;

/// How a platform takes hashtags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hashtags {
    /// Not at all: chat messages, where `#word` means a channel or
    /// nothing.
    None,
    /// Written at the end of the text, counted in its limit, and dropped
    /// from the last before the summary is shortened.
    InText,
    /// One topic, sent apart from the text (Threads' `topic_tag`).
    Topic,
}

/// Whether a platform takes content warnings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentWarnings {
    None,
    /// Beside the text, with a limit of its own.
    Apart,
    /// Beside the text, counted with it in one limit (Mastodon).
    Counted,
}

/// What a target's settings and an article's `social:` front matter add
/// to a post, beyond what the template makes of the article.
#[derive(Debug, Clone, Default)]
pub struct Extras<'a> {
    /// UTM parameters for the post's link.
    pub utm: Option<&'a utm::Utm>,
    /// Hashtag words (no `#`), most wanted first.
    pub hashtags: Vec<String>,
    /// A hand-written text that replaces the template's output.
    pub text: Option<String>,
    pub content_warning: Option<String>,
    pub sensitive: Option<bool>,
    pub visibility: Option<String>,
    /// A text too long for one post becomes a thread (`thread`).
    pub thread: bool,
    /// The link (and the call to action) go in the first reply.
    pub link_in_reply: bool,
}

/// The template of a hand-written text: the text, then the link unless
/// the text has it, then the hashtags.
const HAND_TEMPLATE: &str = "{{ summary }}{% if url %}\n\n{{ url }}{% endif %}{% if hashtags %}\n\n{{ hashtags }}{% endif %}";

/// A post made earlier, as the ledger recorded it.
#[derive(Debug, Clone, Copy)]
pub struct Remote<'a> {
    pub id: Option<&'a str>,
    pub url: Option<&'a str>,
    /// The key it was posted under (for keys of its own that a deletion
    /// derives from it).
    pub key: &'a str,
    /// What the platform needs besides the id (a Bluesky cid).
    pub reference: Option<&'a str>,
}

/// The answer to a deletion: done when the platform says so, or says the
/// post is gone already (404, 410).
pub fn read_deletion(
    response: &Response,
    message: impl Fn(&Response) -> String,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    if matches!(response.status, 404 | 410) {
        return Ok(Delivered::default());
    }
    http::classify(response, message, |_| None, now)?;
    Ok(Delivered::default())
}

/// An OAuth 2.0 authorization-code flow, and how its tokens are renewed.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The consent page with the platform's own query (client id, scopes);
    /// herald adds `response_type`, `redirect_uri`, `state` and, with
    /// `pkce`, the S256 challenge.
    pub authorize: Url,
    pub pkce: bool,
    /// Exchanges the code; it uses the slots `code`, `redirect_uri` and
    /// `code_verifier`.
    pub exchange: Request,
    pub read: steps::ReadSession,
    /// Exchanges the first token for a longer-lived one (Threads); it uses
    /// the slot `access_token`.
    pub upgrade: Option<Request>,
    /// How the kept session is renewed without a person.
    pub session: steps::SessionStep,
    /// What the developer app must be set up with, for `herald auth`'s
    /// messages (products, scopes, the redirect URI).
    pub setup: &'static str,
}

/// Token lifetimes within this long of their end are warned about in
/// `check`, `publish` and `run`.
pub const EXPIRY_WARNING: chrono::TimeDelta = chrono::TimeDelta::days(14);

impl Authorization {
    /// When the kept session stops working unless a person runs `herald
    /// auth` again (None: no known end). A refresh token outlives its
    /// access tokens; a token renewed by itself (Threads) lasts until its
    /// own end, which upkeep pushes back while it can.
    pub fn lapses(&self, session: &steps::Session) -> Option<DateTime<Utc>> {
        match (&self.session.refresh, &session.refresh) {
            (Some(_), Some(_)) => session.refresh_expires,
            _ => session.access_expires,
        }
    }
}

/// A secret of a target: where it is set, and what its value must be.
pub struct SecretField<'a> {
    pub key: String,
    pub secret: &'a Secret,
    pub kind: SecretKind,
}

impl<'a> SecretField<'a> {
    pub fn new(key: impl Into<String>, secret: &'a Secret, kind: SecretKind) -> Self {
        SecretField {
            key: key.into(),
            secret,
            kind,
        }
    }
}

/// What a secret's value must be for a request to be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// An absolute http(s) URL (a webhook URL).
    Url,
    /// A token sent in a header or a URL path: no white space or control
    /// characters.
    Token,
    /// A header's value.
    HeaderValue,
    /// Any text (a password sent in a JSON body, a signing key).
    Text,
}

/// A secret that would stop a request from being built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretProblem {
    pub key: String,
    /// The environment variables the value comes from.
    pub variables: Vec<String>,
    /// A variable is not set (rather than set to something unusable).
    pub missing: bool,
    pub message: String,
}

/// Checks every secret of `platform` whose variables are set (and names
/// those that are not): the same check `check`, the dry run and the
/// executor make, so a mistake in the config is found before anything is
/// sent, and never retried as if the network had failed.
pub fn secret_problems(platform: &dyn Platform) -> Vec<SecretProblem> {
    let mut out = Vec::new();
    for field in platform.secrets() {
        let variables = field.secret.variables();
        let shown = field.secret.redacted();
        match field.secret.expose() {
            Err(e) => out.push(SecretProblem {
                key: field.key,
                variables,
                missing: true,
                message: e.to_string(),
            }),
            Ok(value) => {
                let wrong = match field.kind {
                    SecretKind::Url => keys::http_url(&value)
                        .err()
                        .map(|_| format!("{shown} is not an absolute http(s) URL")),
                    SecretKind::Token => (value.is_empty()
                        || value.chars().any(|c| c.is_whitespace() || c.is_control()))
                    .then(|| format!("{shown} is empty or holds white space or control characters")),
                    SecretKind::HeaderValue => reqwest::header::HeaderValue::from_str(&value)
                        .is_err()
                        .then(|| format!("{shown} is not a valid header value (a line break or a control character?)")),
                    SecretKind::Text => None,
                };
                if let Some(message) = wrong {
                    out.push(SecretProblem {
                        key: field.key,
                        variables,
                        missing: false,
                        message,
                    });
                }
            }
        }
    }
    out
}

/// The target's secret values, and the parts of them that may appear on
/// their own in an answer (a URL's path and query), in every encoding a
/// URL may give them: for scrubbing texts herald records or prints.
pub fn secret_values(platform: &dyn Platform) -> Vec<String> {
    let mut out = Vec::new();
    for field in platform.secrets() {
        let Ok(value) = field.secret.expose() else {
            continue;
        };
        if let Ok(u) = Url::parse(&value) {
            if u.path().len() > 8 {
                out.push(u.path().to_string());
            }
            // A token is often one path segment, echoed on its own.
            out.extend(
                u.path_segments()
                    .into_iter()
                    .flatten()
                    .filter(|s| s.len() >= 8)
                    .map(str::to_string),
            );
            if let Some(q) = u.query() {
                out.push(q.to_string());
            }
        }
        out.push(value);
    }
    out
}

/// Removes URLs and the given secret values (as written, and
/// percent-encoded either way) from a text: a platform's error message may
/// echo what it was sent, and that text goes to the ledger and the terminal.
pub fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = http::redact_url(text);
    let mut forms: Vec<String> = Vec::new();
    for s in secrets.iter().filter(|s| s.len() >= 6) {
        forms.push(s.clone());
        forms.push(url::form_urlencoded::byte_serialize(s.as_bytes()).collect());
        // A URL's own text, and the text a server decoded from it.
        if let Ok(decoded) = url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .ok_or(())
        {
            forms.push(decoded);
        }
        for lower in [false, true] {
            forms.push(percent_encode_all(s, lower));
        }
    }
    forms.sort_by_key(|s| std::cmp::Reverse(s.len()));
    forms.dedup();
    for s in &forms {
        out = out.replace(s.as_str(), "[redacted]");
    }
    out
}

/// Every byte outside RFC 3986's unreserved set as `%XX`.
fn percent_encode_all(s: &str, lower: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else if lower {
            out.push_str(&format!("%{b:02x}"));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A platform's text limit and shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextRule {
    pub limit: TextLimit,
    pub shape: Shape,
}

/// How a platform presents a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The text is the post (Mastodon, Bluesky, Telegram, webhook).
    Text,
    /// A card with title, image and link; the text is its body.
    Card { title_max: usize },
}

impl Shape {
    /// The built-in template for this shape.
    pub fn default_template(self) -> &'static str {
        match self {
            Shape::Text => compose::DEFAULT_TEMPLATE,
            Shape::Card { .. } => CARD_TEMPLATE,
        }
    }
}

/// What a platform can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Edits a post in place (`on_edit: update`).
    pub edit: bool,
    pub idempotency: Idempotency,
    /// At most this many posts (and edits) in a calendar month (UTC): the
    /// target's own cap where the platform charges per post.
    pub monthly_cap: Option<u32>,
    /// The post is the whole article (a cross-post): its Markdown is read
    /// for the post.
    pub full_article: bool,
    /// A post may be answered by the same account (`reply_steps`), so a
    /// text too long for one post can be a thread.
    pub threads: bool,
}

/// Whether a resend can be told apart from a new post.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Idempotency {
    /// A resend makes a second post.
    #[default]
    None,
    /// The platform drops a resend that carries the same key; `kept_for`
    /// is how long it remembers one (None: for good).
    Key { kept_for: Option<Duration> },
}

impl Idempotency {
    /// Whether a resend made `since` after the first attempt is dropped.
    pub fn covers(self, since: chrono::TimeDelta) -> bool {
        match self {
            Idempotency::None => false,
            Idempotency::Key { kept_for: None } => true,
            Idempotency::Key {
                kept_for: Some(kept),
            } => chrono::TimeDelta::from_std(kept).is_ok_and(|kept| since < kept),
        }
    }
}

/// What herald learned about a target (an instance's limit, a session),
/// kept in the ledger per target and read by dry runs. Never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Learned(BTreeMap<String, Fact>);

/// One learned value and when it was learned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub value: String,
    pub at: DateTime<Utc>,
}

impl Learned {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(|f| f.value.as_str())
    }

    pub fn fact(&self, key: &str) -> Option<&Fact> {
        self.0.get(key)
    }

    pub fn set(&mut self, key: &str, value: String, at: DateTime<Utc>) {
        self.0.insert(key.to_string(), Fact { value, at });
    }

    pub fn remove(&mut self, key: &str) {
        self.0.remove(key);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Fact)> {
        self.0.iter()
    }

    /// Whether `key` is missing or was learned more than `max_age` before
    /// `now`.
    pub fn stale(&self, key: &str, now: DateTime<Utc>, max_age: chrono::TimeDelta) -> bool {
        self.fact(key).is_none_or(|f| now - f.at > max_age)
    }
}

impl fmt::Debug for Learned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// Reads a learning answer into values by key.
pub type ReadLearned = fn(&Response, DateTime<Utc>) -> Result<Vec<(String, String)>, DeliveryError>;

/// A question for the target, asked before composing.
pub struct Learning {
    pub request: Request,
    /// The learned values, by key.
    pub read: ReadLearned,
    /// What is asked, for warnings ("the instance's text limit").
    pub what: &'static str,
    /// Asked when the server refuses `request` (an older API's address).
    pub otherwise: Option<Request>,
}

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
    /// A fingerprint of the article's facts the post shows (title, summary,
    /// call to action, link, image and its alt text): a change here is an
    /// edit; a change of template or limit is not.
    pub content_hash: String,
    /// The whole article, for platforms that post it (`full_article`);
    /// the dry run shows it in the request that carries it.
    #[serde(skip)]
    pub markdown: Option<Arc<str>>,
    /// The hashtags the post carries (no `#`): those in its text, or its
    /// one topic.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hashtags: Vec<String>,
    /// A content warning (spoiler text) where the platform has them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_warning: Option<String>,
    /// Marks the media sensitive; None: the target's own setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensitive: Option<bool>,
    /// The article's own visibility; None: the target's own setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visibility: Option<String>,
    /// The texts of the thread's later parts, each posted as a reply to
    /// the one before (`thread`, `link_in_reply`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<String>,
}

impl Post {
    /// Part `n` (from 2) of the thread, as a post of its own: its text,
    /// its own idempotency key, no image.
    pub fn part(&self, n: usize, article_id: &str) -> Option<Post> {
        let text = self.parts.get(n.checked_sub(2)?)?;
        let mut part = self.clone();
        part.parts = Vec::new();
        part.image = None;
        part.fitted.count = part.fitted.limit.count(text);
        part.fitted.text = text.clone();
        part.fitted.notes = Vec::new();
        part.idempotency_key = idempotency_key(&self.target, article_id);
        Some(part)
    }
}

/// What composing a post needs from its article.
#[derive(Debug, Clone)]
pub struct Draft {
    pub article_id: String,
    /// The article's slug (for UTM templates).
    pub slug: String,
    pub url: Url,
    /// The article's Markdown with its links made absolute, when a target
    /// posts whole articles.
    pub markdown: Option<Arc<str>>,
    pub published: DateTime<FixedOffset>,
    pub image: Option<Url>,
    pub image_alt: String,
    pub language: String,
    pub fields: PostFields,
    /// The hand-written texts and content warnings of the article's
    /// `social:` front matter, as one text: a change there is an edit.
    pub own_words: String,
}

impl Draft {
    /// The fingerprint of what a post of this article shows.
    pub fn fingerprint(&self) -> String {
        let f = &self.fields;
        let mut facts = vec![
            f.title.as_str(),
            f.summary.as_str(),
            f.cta.as_deref().unwrap_or_default(),
            self.url.as_str(),
            self.image.as_ref().map_or("", Url::as_str),
            &self.image_alt,
        ];
        // Without own words the fingerprint is what it was before they
        // counted, so no post is edited for the upgrade alone.
        if !self.own_words.is_empty() {
            facts.push(&self.own_words);
        }
        hex(&Sha256::digest(facts.join("\u{1f}").as_bytes()))[..32].to_string()
    }
}

/// What a platform said it made: its id and, where it has one, a URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Delivered {
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
    /// What a reply to the post needs besides its id (a Bluesky record's
    /// cid); kept in the ledger, so a thread can go on in a later run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The label of a card's link button: the CTA is in the text, so the
/// button says where it goes.
pub const READ_LABEL: &str = "Read the article";

/// The default template of card platforms: the card already shows the title,
/// the image and the link, so the text is the summary and the CTA.
pub const CARD_TEMPLATE: &str = "{{ summary }}{% if cta %}\n\n{{ cta }}{% endif %}";

/// The template a target's posts use: its own, else the global one, else
/// its platform's default.
pub fn template_for<'a>(
    own: Option<&'a str>,
    global: Option<&'a str>,
    platform: &dyn Platform,
) -> &'a str {
    own.or(global)
        .unwrap_or(platform.text(&Learned::default()).shape.default_template())
}

/// Composes the post of `draft` for the target `target` with its compiled
/// template, by the rule its platform gives for what was learned.
pub fn compose(
    draft: &Draft,
    target: &str,
    platform: &dyn Platform,
    composer: &Composer,
    learned: &Learned,
    extras: &Extras<'_>,
) -> Result<Post, ComposeError> {
    let mut rule = platform.text(learned);
    let warnings = platform.content_warnings();
    let content_warning = match warnings {
        ContentWarnings::None => None,
        _ => extras
            .content_warning
            .clone()
            .or_else(|| platform.default_content_warning().map(str::to_string)),
    };
    if let (ContentWarnings::Counted, Some(cw)) = (warnings, &content_warning) {
        rule.limit.max = rule.limit.max.saturating_sub(rule.limit.count(cw));
    }
    // The post's link is tagged; the fingerprint below keeps the clean one.
    let url = extras.utm.map_or_else(
        || draft.url.clone(),
        |u| u.tag(&draft.url, target, platform.kind(), &draft.slug),
    );
    let mut fields = draft.fields.clone();
    fields.url = url.to_string();
    let style = platform.hashtags();
    if style == Hashtags::InText {
        fields.hashtag_words = extras.hashtags.clone();
    }
    let threads = platform.capabilities(learned).threads && rule.shape == Shape::Text;
    let mut parts = Vec::new();
    // With the link in the first reply, the post itself has neither link
    // nor call to action; the reply has both.
    let link_reply = (threads && extras.link_in_reply).then(|| {
        let reply = match &fields.cta {
            Some(cta) => format!("{cta} {}", fields.url),
            None => fields.url.clone(),
        };
        fields.url = String::new();
        fields.cta = None;
        reply
    });
    let threaded = match (&extras.text, threads && extras.thread) {
        (None, true) => composer.thread(&fields, rule.limit, MAX_THREAD_PARTS)?,
        _ => None,
    };
    let fitted = match (&extras.text, threaded) {
        (None, Some((fitted, rest))) => {
            parts = rest;
            fitted
        }
        (Some(text), _) => {
            // The text is the post: the card's body, or the whole text
            // with the link after it unless it has it already.
            let mut own = fields.clone();
            own.summary = text.clone();
            own.cta = None;
            let template = match rule.shape {
                Shape::Card { .. } => CARD_TEMPLATE,
                Shape::Text => {
                    if text.contains(draft.url.as_str()) || text.contains(url.as_str()) {
                        own.url = String::new();
                    }
                    HAND_TEMPLATE
                }
            };
            Composer::new(Some(template))?.fit(&own, rule.limit)?
        }
        (None, None) => composer.fit(&fields, rule.limit)?,
    };
    if let Some(reply) = link_reply {
        // The link is never cut: a reply too long for its CTA keeps the link.
        let reply = if rule.limit.fits(&reply) {
            reply
        } else {
            url.to_string()
        };
        parts.insert(0, reply);
    }
    let hashtags = match style {
        Hashtags::None => Vec::new(),
        Hashtags::InText => fitted.hashtags.clone(),
        Hashtags::Topic => extras.hashtags.iter().take(1).cloned().collect(),
    };
    let card_title = match rule.shape {
        Shape::Card { title_max } => truncate_words(&draft.fields.title, title_max),
        Shape::Text => fitted.title.clone(),
    };
    Ok(Post {
        target: target.to_string(),
        platform: platform.kind(),
        article_id: draft.article_id.clone(),
        url,
        card_title,
        image: draft.image.clone(),
        image_alt: draft.image_alt.clone(),
        language: draft.language.clone(),
        published: draft.published,
        idempotency_key: idempotency_key(target, &draft.article_id),
        content_hash: draft.fingerprint(),
        markdown: draft.markdown.clone(),
        fields,
        fitted,
        hashtags,
        content_warning,
        sensitive: extras
            .sensitive
            .filter(|_| warnings != ContentWarnings::None),
        visibility: extras
            .visibility
            .clone()
            .filter(|v| platform.visibilities().contains(&v.as_str())),
        parts,
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

/// Every platform, built from its example keys with addresses below `base`.
#[cfg(test)]
pub(crate) fn examples(base: &str) -> Vec<Arc<dyn Platform>> {
    PLATFORMS
        .iter()
        .map(|e| {
            let serde_json::Value::Object(keys) = (e.example)(base) else {
                panic!("{}: example keys are not a map", e.kind)
            };
            (e.read)(&Keys::new(keys, &|_| None))
                .unwrap_or_else(|err| panic!("{}: example keys refused: {err:?}", e.kind))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_reads_back_as_its_own_platform_with_usable_secrets() {
        for (entry, platform) in PLATFORMS.iter().zip(examples("https://x.example")) {
            assert_eq!(platform.kind(), entry.kind);
            assert_eq!(secret_problems(platform.as_ref()), vec![], "{}", entry.kind);
        }
    }

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

    #[test]
    fn the_registry_names_each_platform_once_and_each_module_answers_to_its_name() {
        let mut kinds: Vec<&str> = PLATFORMS.iter().map(|e| e.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), PLATFORMS.len());
        for e in PLATFORMS {
            assert!(std::ptr::eq(entry(e.kind).unwrap(), e));
        }
    }

    #[test]
    fn scrub_removes_secrets_in_every_encoding() {
        let secrets = vec!["tok/en+value=1".to_string()];
        for shown in [
            "tok/en+value=1",
            "tok%2Fen%2Bvalue%3D1",
            "tok%2fen%2bvalue%3d1",
            "tok%2Fen%2Bvalue%3D1",
        ] {
            let out = scrub(&format!("the server said: {shown} is wrong"), &secrets);
            assert_eq!(out, "the server said: [redacted] is wrong", "{shown}");
        }
    }

    #[test]
    fn idempotency_keys_are_covered_for_their_lifetime() {
        let hour = Idempotency::Key {
            kept_for: Some(Duration::from_secs(3600)),
        };
        assert!(hour.covers(chrono::TimeDelta::minutes(59)));
        assert!(!hour.covers(chrono::TimeDelta::minutes(61)));
        assert!(Idempotency::Key { kept_for: None }.covers(chrono::TimeDelta::days(400)));
        assert!(!Idempotency::None.covers(chrono::TimeDelta::zero()));
    }
}
