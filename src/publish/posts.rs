//! Which posts a run makes, and what each one says: pure functions of the
//! config, the published articles, the ledger snapshot and `now`.
//!
//! An article is due for a target when it is published (see `plan::select`),
//! no older than `max_age`, and the ledger has no posted, seen or uncertain
//! record of it there. Due posts go oldest first; `min_interval` and
//! `max_per_run` queue the rest for later runs. A pending record (a run died
//! mid-send) is resent with the same key where the platform honours one, and
//! otherwise marked uncertain and never silently resent.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use url::Url;

use crate::article::Article;
use crate::config::{Config, OnEdit, Platform, Target};
use crate::ledger::{Snapshot, Status};
use crate::social::compose::{ComposeError, Composer};
use crate::social::http::RequestPreview;
use crate::social::{self, Post};

/// Narrowing a run: `--target`, `--article`, `--mark-seen`, `--retry-uncertain`.
#[derive(Debug, Clone, Default)]
pub struct PostOptions {
    pub targets: Vec<String>,
    pub articles: Vec<String>,
    pub mark_seen: bool,
    pub retry_uncertain: bool,
}

/// What happens to one (target, article).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Action {
    /// Post it now.
    Send,
    /// A run died while sending it: send again with the same key, which the
    /// platform uses to drop a duplicate.
    Resend,
    /// Edit the post already made (the article changed; `on_edit: update`).
    Update { remote_id: String },
    /// Post it again (the article changed; `on_edit: repost`).
    Repost,
    /// Record as handled without sending (`--mark-seen`).
    MarkSeen,
    /// A run died while sending it and the platform has no idempotency key:
    /// it may or may not have been posted.
    MarkUncertain,
    /// Due, but held back for a later run.
    Queue,
}

impl Action {
    pub fn sends(&self) -> bool {
        matches!(
            self,
            Action::Send | Action::Resend | Action::Update { .. } | Action::Repost
        )
    }
}

/// A decision before composing.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub target: &'a Target,
    pub article: &'a Article,
    pub action: Action,
    pub reason: String,
}

/// Whether a resend with the same key cannot make a second post there.
pub fn honours_idempotency(platform: &Platform) -> bool {
    matches!(
        platform,
        Platform::Mastodon { .. }
            | Platform::Webhook { .. }
            | Platform::GoogleChat { .. }
            | Platform::Bluesky { .. }
    )
}

/// Mastodon keeps an Idempotency-Key for an hour.
const MASTODON_KEY_LIFETIME: Duration = Duration::from_secs(3600);

fn matches_article(article: &Article, filters: &[String]) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|f| *f == article.slug || *f == article.id())
}

/// Decides every (target, article) of this run. `published` is newest
/// first; posts are decided oldest first. Also returns one note per target
/// about articles left out for age, so a first run on an archive says why it
/// posts nothing.
pub fn decide<'a>(
    config: &'a Config,
    published: &[&'a Article],
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    options: &PostOptions,
) -> (Vec<Decision<'a>>, Vec<String>) {
    let mut decisions = Vec::new();
    let mut notes = Vec::new();
    let social = &config.social;
    for target in social.targets.iter().filter(|t| t.enabled) {
        if !options.targets.is_empty() && !options.targets.contains(&target.name) {
            continue;
        }
        let max_age = target.max_age.unwrap_or(social.max_age);
        let min_interval = target.min_interval.unwrap_or(social.min_interval);
        let max_per_run = target.max_per_run.unwrap_or(social.max_per_run) as usize;
        // Without an interval there is nothing to wait for (even when the
        // last post's time is past `now`, as with a repeated `--now`).
        let mut next_allowed = snapshot
            .last_posted
            .get(&target.name)
            .filter(|_| !min_interval.is_zero())
            .map(|last| *last + chrono::Duration::from_std(min_interval).unwrap_or_default());
        let mut sending = 0usize;
        let mut too_old = 0usize;
        for article in published.iter().rev().copied() {
            if !matches_article(article, &options.articles) {
                continue;
            }
            let record = snapshot.get(&target.name, article.id());
            let decided = |action: Action, reason: String| Decision {
                target,
                article,
                action,
                reason,
            };
            // Records that settle the matter.
            let mut action = match record.map(|r| r.status) {
                Some(Status::Posted) => {
                    let r = record.map(|r| (r.content_hash.clone(), r.remote_id.clone()));
                    match (social.on_edit, r) {
                        (OnEdit::Ignore, _) | (_, None) => continue,
                        (on_edit, Some((hash, remote_id))) => {
                            // Whether the article changed is known only once
                            // the post is composed: `compose` drops the
                            // decision when the hash is the same.
                            let hash = hash.unwrap_or_default();
                            match (on_edit, remote_id) {
                                (OnEdit::Update, Some(id)) if can_edit(&target.platform) => {
                                    decisions.push(decided(
                                        Action::Update { remote_id: id },
                                        format!("edited since posted (was {hash})"),
                                    ));
                                }
                                (OnEdit::Repost, _) => {
                                    decisions.push(decided(
                                        Action::Repost,
                                        format!("edited since posted (was {hash})"),
                                    ));
                                }
                                _ => {}
                            }
                            continue;
                        }
                    }
                }
                Some(Status::Seen) => continue,
                Some(Status::Uncertain) if !options.retry_uncertain && !options.mark_seen => {
                    continue;
                }
                Some(Status::Failed)
                    if record.is_some_and(|r| r.attempts >= social.max_attempts) =>
                {
                    continue;
                }
                Some(Status::Pending) if !options.mark_seen => {
                    let r = record.expect("a status implies a record");
                    let young = r.last_attempt_at.is_some_and(|at| {
                        now - at
                            < chrono::Duration::from_std(MASTODON_KEY_LIFETIME).unwrap_or_default()
                    });
                    let resend = honours_idempotency(&target.platform)
                        && (young || !matches!(target.platform, Platform::Mastodon { .. }));
                    if resend {
                        decisions.push(decided(
                            Action::Resend,
                            "an earlier run stopped while sending it; resent with the same idempotency key".to_string(),
                        ));
                    } else {
                        decisions.push(decided(
                            Action::MarkUncertain,
                            format!(
                                "an earlier run stopped while sending it and {} has no idempotency key: it may or may not be posted, so it is not resent (use --retry-uncertain to send it anyway)",
                                target.platform.type_name()
                            ),
                        ));
                    }
                    sending += usize::from(resend);
                    continue;
                }
                Some(Status::Uncertain) if options.retry_uncertain => Action::Resend,
                _ => Action::Send,
            };
            let age = now - article.published.to_utc();
            // Adopting an archive (--mark-seen) marks old articles too.
            if record.is_none()
                && !options.mark_seen
                && age > chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX)
            {
                too_old += 1;
                continue;
            }
            let mut reason = match record.map(|r| r.status) {
                Some(Status::Failed) => format!(
                    "retrying: attempt {} of {} failed with {}",
                    record.map_or(0, |r| r.attempts),
                    social.max_attempts,
                    record
                        .and_then(|r| r.last_error.clone())
                        .unwrap_or_default()
                ),
                Some(Status::Queued) => "queued by an earlier run".to_string(),
                Some(Status::Uncertain) => {
                    "uncertain, resent because of --retry-uncertain".to_string()
                }
                _ => format!(
                    "published {}, not yet posted here",
                    article.published.format("%Y-%m-%d %H:%M %:z")
                ),
            };
            if options.mark_seen {
                action = Action::MarkSeen;
                reason = "--mark-seen: recorded as handled, not sent".to_string();
            } else if sending >= max_per_run {
                action = Action::Queue;
                reason = format!("max_per_run ({max_per_run}) reached; it goes out on a later run");
            } else if let Some(at) = next_allowed.filter(|at| *at > now) {
                action = Action::Queue;
                reason = format!(
                    "min_interval: the next post to {} may go after {}",
                    target.name,
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                );
            } else {
                sending += 1;
                if !min_interval.is_zero() {
                    next_allowed =
                        Some(now + chrono::Duration::from_std(min_interval).unwrap_or_default());
                }
            }
            decisions.push(decided(action, reason));
        }
        if too_old > 0 {
            notes.push(format!(
                "{}: {too_old} {} older than max_age ({}) {} not posted",
                target.name,
                if too_old == 1 { "article" } else { "articles" },
                humantime(max_age),
                if too_old == 1 { "is" } else { "are" },
            ));
        }
    }
    (decisions, notes)
}

fn can_edit(platform: &Platform) -> bool {
    matches!(
        platform,
        Platform::Mastodon { .. } | Platform::Discord { .. }
    )
}

fn humantime(d: Duration) -> String {
    let s = d.as_secs();
    if s > 0 && s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s > 0 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s > 0 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A post as the plan shows it and the executor performs it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedPost {
    pub target: String,
    pub platform: &'static str,
    pub article_id: String,
    pub source: PathBuf,
    pub title: String,
    pub action: Action,
    pub reason: String,
    /// The fitted text, its length by the platform's rule, and the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Url>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The requests, in order, with secrets redacted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub requests: Vec<RequestPreview>,
    /// Why the post cannot be composed (a template error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip)]
    pub post: Option<Post>,
}

/// Composes each decision's post. `summaries` holds each article's summary;
/// `mastodon_limits` the instance limits known from the ledger. A decision
/// to update or repost an article whose post did not change is dropped.
pub fn compose(
    config: &Config,
    decisions: Vec<Decision<'_>>,
    summaries: &HashMap<String, String>,
    snapshot: &Snapshot,
    mastodon_limits: &HashMap<String, usize>,
) -> Vec<PlannedPost> {
    let mut planned = Vec::with_capacity(decisions.len());
    let mut composers: HashMap<&str, Result<Composer, ComposeError>> = HashMap::new();
    for d in decisions {
        let summary = summaries
            .get(d.article.id())
            .cloned()
            .unwrap_or_else(|| crate::feed::summary(d.article, None));
        // Each target's template is compiled once, not once per post.
        let composer = composers.entry(d.target.name.as_str()).or_insert_with(|| {
            Composer::new(Some(social::template_for(
                d.target,
                config.social.template.as_deref(),
            )))
        });
        let composed = composer
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|composer| {
                social::compose(
                    d.article,
                    &summary,
                    d.target,
                    &config.site,
                    composer,
                    mastodon_limits.get(&d.target.name).copied(),
                )
            });
        if matches!(d.action, Action::Update { .. } | Action::Repost)
            && let Ok(post) = &composed
        {
            let old = snapshot
                .get(&d.target.name, d.article.id())
                .and_then(|r| r.content_hash.clone());
            if old.as_deref() == Some(post.content_hash.as_str()) {
                continue;
            }
        }
        let mut p = PlannedPost {
            target: d.target.name.clone(),
            platform: d.target.platform.type_name(),
            article_id: d.article.id().to_string(),
            source: d.article.source.clone(),
            title: d.article.title.clone(),
            action: d.action.clone(),
            reason: d.reason,
            text: None,
            count: None,
            limit: None,
            unit: None,
            image: d.article.hero_image.clone(),
            notes: Vec::new(),
            requests: Vec::new(),
            error: None,
            post: None,
        };
        match composed {
            Ok(mut post) => {
                if d.action == Action::Resend
                    && let Some(r) = snapshot.get(&d.target.name, d.article.id())
                {
                    // The key the interrupted attempt was sent with.
                    post.idempotency_key = r.idempotency_key.clone();
                }
                if d.action == Action::Repost {
                    // A new post of edited content needs a key of its own, or
                    // the platform (or receiver) would take it for a resend.
                    post.idempotency_key =
                        format!("{}-{}", post.idempotency_key, &post.content_hash[..8]);
                }
                p.text = Some(post.fitted.text.clone());
                p.count = Some(post.fitted.count);
                p.limit = Some(post.fitted.limit.max);
                p.unit = Some(post.fitted.limit.unit.label());
                p.notes = post.fitted.notes.clone();
                if d.action.sends() {
                    p.requests = preview_requests(&post, d.target, &d.action);
                }
                p.post = Some(post);
            }
            Err(e) => p.error = Some(format!("cannot compose the post: {e}")),
        }
        planned.push(p);
    }
    planned
}

/// The requests a post will make, in order, as the dry run shows them.
pub fn preview_requests(post: &Post, target: &Target, action: &Action) -> Vec<RequestPreview> {
    use crate::social::{
        bluesky, discord, google_chat, mastodon, mattermost, slack, teams, telegram, webhook,
    };
    let upload_note =
        |url: &Url| serde_json::Value::String(format!("<the image at {url}, fetched when sent>"));
    match &target.platform {
        Platform::Slack { url } => vec![slack::request(post, url).preview()],
        Platform::Discord { url } => vec![match action {
            Action::Update { remote_id } => discord::edit_request(post, url, remote_id).preview(),
            _ => discord::request(post, url).preview(),
        }],
        Platform::Teams { url } => vec![teams::request(post, url).preview()],
        Platform::GoogleChat { url } => vec![google_chat::request(post, url).preview()],
        Platform::Mattermost { url } => vec![mattermost::request(post, url).preview()],
        Platform::Telegram {
            bot_token,
            chat_id,
            api_url,
        } => vec![telegram::request(post, api_url, bot_token, chat_id).preview()],
        Platform::Webhook {
            url,
            secret,
            headers,
        } => {
            vec![webhook::request(post, url, secret.as_ref(), headers).preview()]
        }
        Platform::Mastodon { instance, token } => {
            let mut out = Vec::new();
            let media_ids = if let Some(image) = &post.image {
                let mut upload = mastodon::status_request(post, instance, token, &[]).preview();
                upload.url = crate::social::http::endpoint(instance, "api/v2/media");
                upload.headers.remove("Idempotency-Key");
                upload.body =
                    serde_json::json!({"file": upload_note(image), "description": post.image_alt});
                out.push(upload);
                vec!["<id from /api/v2/media>".to_string()]
            } else {
                Vec::new()
            };
            out.push(match action {
                Action::Update { remote_id } => {
                    mastodon::edit_request(post, instance, token, remote_id, &media_ids).preview()
                }
                _ => mastodon::status_request(post, instance, token, &media_ids).preview(),
            });
            out
        }
        Platform::Bluesky {
            service,
            identifier,
            app_password,
        } => {
            let mut out =
                vec![bluesky::session_request(service, identifier, app_password).preview()];
            let session = bluesky::Session {
                access_jwt: crate::config::Secret::new("${accessJwt from createSession}"),
                did: "<did from createSession>".to_string(),
            };
            let thumb = post.image.as_ref().map(|image| {
                let mut upload = bluesky::upload_request(service, &session, Vec::new()).preview();
                upload.body = serde_json::json!(format!(
                    "<the image at {image}, re-encoded as JPEG under 1,000,000 bytes>"
                ));
                out.push(upload);
                serde_json::json!("<blob from uploadBlob>")
            });
            let rkey = bluesky::tid(post.published, &post.idempotency_key);
            let mut create = bluesky::create_request(
                service,
                &session,
                &rkey,
                bluesky::record(post, Utc::now(), thumb),
            )
            .preview();
            create.body["record"]["createdAt"] = serde_json::json!("<time when sent>");
            out.push(create);
            out
        }
    }
}

#[cfg(test)]
mod tests;
