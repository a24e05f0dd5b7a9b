//! Sending the planned posts. Each target is served by its own task, all at
//! once; a target's posts go one at a time, in plan order. Every post is
//! recorded pending (with its idempotency key) before its first byte is
//! sent, and posted (with the remote id and URL) after success.
//!
//! Connection errors, timeouts, 5xx and 429 are retried: the server's delay
//! first (`Retry-After`, Discord's and Telegram's body fields), else
//! exponential backoff with full jitter. At most 3 attempts per run and
//! `max_attempts` over all runs. A delay longer than `max_wait` queues the
//! post for a later run instead of holding this one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use serde::Serialize;

use super::posts::{Action, PlannedPost};
use crate::config::{Config, Platform, Target};
use crate::ledger::{Ledger, LedgerError, Status, Unsent};
use crate::social::compose::Composer;
use crate::social::http::{DeliveryError, Request, send};
use crate::social::image::ImageFetcher;
use crate::social::{self, Delivered, Post, bluesky, mastodon};

/// Attempts within one run.
pub const ATTEMPTS_PER_RUN: u32 = 3;

/// What became of one planned post.
#[derive(Debug, Clone, Serialize)]
pub struct PostResult {
    pub target: String,
    pub article_id: String,
    pub title: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// Everything a delivery needs, shared by the target tasks.
pub struct Deliverer {
    pub client: reqwest::Client,
    pub images: ImageFetcher,
    pub ledger: Arc<Mutex<Ledger>>,
    pub config: Arc<Config>,
    /// Set on SIGINT/SIGTERM: no new post starts; the one in flight is
    /// finished and recorded.
    pub stop: Arc<AtomicBool>,
    /// Called after each post, for the progress bar.
    pub on_done: Arc<dyn Fn(&PostResult) + Send + Sync>,
    pub clock: Clock,
}

/// The run's clock: the plan's `now` (which `--now` sets) moved on by the
/// time elapsed since the run started, so ledger times and the plan's
/// decisions (`min_interval`) use one timeline.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    pub base: chrono::DateTime<Utc>,
    pub started: std::time::Instant,
}

impl Clock {
    pub fn new(base: chrono::DateTime<Utc>) -> Self {
        Clock {
            base,
            started: std::time::Instant::now(),
        }
    }

    pub fn now(&self) -> chrono::DateTime<Utc> {
        self.base + chrono::Duration::from_std(self.started.elapsed()).unwrap_or_default()
    }
}

impl Deliverer {
    fn record<T>(
        &self,
        f: impl FnOnce(&Ledger) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let guard = self
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    /// Delivers every planned post; returns the results in plan order.
    pub async fn deliver_all(
        self: Arc<Self>,
        posts: Vec<PlannedPost>,
    ) -> Result<Vec<PostResult>, LedgerError> {
        let mut by_target: Vec<(String, Vec<(usize, PlannedPost)>)> = Vec::new();
        for (i, p) in posts.into_iter().enumerate() {
            match by_target.iter_mut().find(|(t, _)| *t == p.target) {
                Some((_, list)) => list.push((i, p)),
                None => by_target.push((p.target.clone(), vec![(i, p)])),
            }
        }
        let mut tasks = Vec::new();
        for (name, list) in by_target {
            let this = self.clone();
            tasks.push(tokio::spawn(async move {
                this.deliver_target(&name, list).await
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            match task.await {
                Ok(r) => results.extend(r?),
                Err(e) => {
                    return Err(LedgerError::Write {
                        path: std::path::PathBuf::new(),
                        message: format!("a delivery task failed: {e}"),
                    });
                }
            }
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }

    async fn deliver_target(
        &self,
        name: &str,
        posts: Vec<(usize, PlannedPost)>,
    ) -> Result<Vec<(usize, PostResult)>, LedgerError> {
        let Some(target) = self.config.social.targets.iter().find(|t| t.name == name) else {
            return Ok(Vec::new());
        };
        let mut state = TargetState::default();
        let mut results = Vec::new();
        for (i, planned) in posts {
            if self.stop.load(Ordering::SeqCst) && planned.action.sends() {
                // Not started: no ledger row changes, the next run plans it again.
                continue;
            }
            let mut result = self.deliver_one(target, planned, &mut state).await?;
            result.error = result.error.map(|e| scrub(&e, target));
            result.warnings = result.warnings.iter().map(|w| scrub(w, target)).collect();
            (self.on_done)(&result);
            results.push((i, result));
        }
        Ok(results)
    }

    async fn deliver_one(
        &self,
        target: &Target,
        planned: PlannedPost,
        state: &mut TargetState,
    ) -> Result<PostResult, LedgerError> {
        let now = self.clock.now();
        let mut result = PostResult {
            target: planned.target.clone(),
            article_id: planned.article_id.clone(),
            title: planned.title.clone(),
            status: Status::Queued,
            remote_url: None,
            error: None,
            attempts: 0,
            warnings: Vec::new(),
        };
        let key = planned
            .post
            .as_ref()
            .map(|p| p.idempotency_key.clone())
            .unwrap_or_else(|| social::idempotency_key(&planned.target, &planned.article_id));
        let hash = planned
            .post
            .as_ref()
            .map(|p| p.content_hash.clone())
            .unwrap_or_default();
        match &planned.action {
            Action::Queue | Action::MarkSeen => {
                let status = if planned.action == Action::Queue {
                    Status::Queued
                } else {
                    Status::Seen
                };
                let unsent = Unsent {
                    status,
                    reason: &planned.reason,
                    idempotency_key: &key,
                    content_hash: &hash,
                };
                self.record(|l| {
                    l.record_unsent(&planned.target, &planned.article_id, &unsent, now)
                })?;
                result.status = status;
                if status == Status::Queued {
                    result.error = Some(planned.reason.clone());
                }
                return Ok(result);
            }
            Action::MarkUncertain => {
                self.record(|l| {
                    l.mark(
                        &planned.target,
                        &planned.article_id,
                        Status::Uncertain,
                        &planned.reason,
                        now,
                    )
                })?;
                result.status = Status::Uncertain;
                result.error = Some(planned.reason.clone());
                return Ok(result);
            }
            _ => {}
        }
        let Some(mut post) = planned.post.clone() else {
            let message = planned
                .error
                .clone()
                .unwrap_or_else(|| "the post could not be composed".to_string());
            self.record(|l| {
                l.begin_attempt(&planned.target, &planned.article_id, &key, &hash, now)?;
                l.mark(
                    &planned.target,
                    &planned.article_id,
                    Status::Failed,
                    &message,
                    now,
                )
            })?;
            result.status = Status::Failed;
            result.error = Some(message);
            result.attempts = 1;
            return Ok(result);
        };
        if let Platform::Mastodon { instance, .. } = &target.platform
            && let Err(w) = self
                .mastodon_limit(target, instance, &mut post, state)
                .await?
        {
            result.warnings.push(w);
        }

        let social = &self.config.social;
        let prior_attempts = self
            .record(|l| l.get(&planned.target, &planned.article_id))?
            .map_or(0, |r| {
                if r.status == Status::Posted {
                    0
                } else {
                    r.attempts
                }
            });
        let mut attempt_in_run = 0;
        loop {
            attempt_in_run += 1;
            let total = prior_attempts + attempt_in_run;
            let now = self.clock.now();
            if !matches!(planned.action, Action::Update { .. }) {
                self.record(|l| {
                    l.begin_attempt(
                        &planned.target,
                        &planned.article_id,
                        &key,
                        &post.content_hash,
                        now,
                    )
                })?;
            }
            result.attempts = total;
            let outcome = self
                .attempt(target, &post, &planned.action, state, &mut result.warnings)
                .await;
            let now = self.clock.now();
            match outcome {
                Ok(delivered) => {
                    if let Action::Update { .. } = planned.action {
                        self.record(|l| {
                            l.mark_updated(
                                &planned.target,
                                &planned.article_id,
                                &post.content_hash,
                                now,
                            )
                        })?;
                    } else {
                        self.record(|l| {
                            l.mark_posted(
                                &planned.target,
                                &planned.article_id,
                                delivered.remote_id.as_deref(),
                                delivered.remote_url.as_deref(),
                                now,
                            )
                        })?;
                    }
                    result.status = Status::Posted;
                    result.remote_url = delivered.remote_url;
                    result.error = None;
                    return Ok(result);
                }
                Err(e) => {
                    let message = scrub(&e.to_string(), target);
                    tracing::debug!(target = %planned.target, attempt = total, error = %message, "delivery attempt failed");
                    result.error = Some(message.clone());
                    let can_retry = e.is_retryable()
                        && attempt_in_run < ATTEMPTS_PER_RUN
                        && total < social.max_attempts;
                    let delay = e.server_delay().unwrap_or_else(|| {
                        backoff(social.retry_base, attempt_in_run, social.max_wait)
                    });
                    if matches!(e, DeliveryError::Uncertain { .. }) {
                        self.record(|l| {
                            l.mark(
                                &planned.target,
                                &planned.article_id,
                                Status::Uncertain,
                                &message,
                                now,
                            )
                        })?;
                        result.status = Status::Uncertain;
                        return Ok(result);
                    }
                    if e.is_retryable() && delay > social.max_wait && total < social.max_attempts {
                        let reason = format!(
                            "{message}; the server asked to wait {}s, so it goes out on a later run",
                            delay.as_secs()
                        );
                        self.record(|l| {
                            l.mark(
                                &planned.target,
                                &planned.article_id,
                                Status::Queued,
                                &reason,
                                now,
                            )
                        })?;
                        result.status = Status::Queued;
                        result.error = Some(reason);
                        return Ok(result);
                    }
                    if !can_retry || self.stop.load(Ordering::SeqCst) {
                        let status = if matches!(planned.action, Action::Update { .. }) {
                            Status::Posted
                        } else {
                            Status::Failed
                        };
                        self.record(|l| {
                            l.mark(&planned.target, &planned.article_id, status, &message, now)
                        })?;
                        result.status = Status::Failed;
                        return Ok(result);
                    }
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// One attempt of one post: all the requests it takes on its platform.
    async fn attempt(
        &self,
        target: &Target,
        post: &Post,
        action: &Action,
        state: &mut TargetState,
        warnings: &mut Vec<String>,
    ) -> Result<Delivered, DeliveryError> {
        use crate::social::{discord, google_chat, mattermost, slack, teams, telegram, webhook};
        let timeout = target.timeout;
        let client = &self.client;
        let call = |request: Request| async move { send(client, &request, timeout).await };
        match &target.platform {
            Platform::Slack { url } => {
                slack::parse(&call(slack::request(post, url)).await?, Utc::now())
            }
            Platform::Discord { url } => {
                let request = match action {
                    Action::Update { remote_id } => discord::edit_request(post, url, remote_id),
                    _ => discord::request(post, url),
                };
                discord::parse(&call(request).await?, Utc::now())
            }
            Platform::Teams { url } => {
                teams::parse(&call(teams::request(post, url)).await?, Utc::now())
            }
            Platform::GoogleChat { url } => {
                google_chat::parse(&call(google_chat::request(post, url)).await?, Utc::now())
            }
            Platform::Mattermost { url } => {
                mattermost::parse(&call(mattermost::request(post, url)).await?, Utc::now())
            }
            Platform::Webhook {
                url,
                secret,
                headers,
            } => webhook::parse(
                &call(webhook::request(post, url, secret.as_ref(), headers)).await?,
                Utc::now(),
            ),
            Platform::Telegram {
                bot_token,
                chat_id,
                api_url,
            } => {
                let first = telegram::parse(
                    &call(telegram::request(post, api_url, bot_token, chat_id)).await?,
                    Utc::now(),
                );
                match first {
                    Err(e) if post.image.is_some() && telegram::is_photo_problem(&e) => {
                        warnings.push(format!(
                            "{}: Telegram could not use the hero image ({e}); sent without it",
                            target.name
                        ));
                        telegram::parse(
                            &call(telegram::message_request(post, api_url, bot_token, chat_id))
                                .await?,
                            Utc::now(),
                        )
                    }
                    other => other,
                }
            }
            Platform::Mastodon { instance, token } => {
                let media_ids = match state.mastodon_media.get(&post.article_id) {
                    Some(ids) => ids.clone(),
                    None => {
                        let ids = self
                            .mastodon_media(target, instance, token, post, warnings)
                            .await?;
                        state
                            .mastodon_media
                            .insert(post.article_id.clone(), ids.clone());
                        ids
                    }
                };
                let request = match action {
                    Action::Update { remote_id } => {
                        mastodon::edit_request(post, instance, token, remote_id, &media_ids)
                    }
                    _ => mastodon::status_request(post, instance, token, &media_ids),
                };
                mastodon::parse_status(&call(request).await?, Utc::now())
            }
            Platform::Bluesky {
                service,
                identifier,
                app_password,
            } => {
                let session = match &state.bluesky_session {
                    Some(s) => s.clone(),
                    None => {
                        let s = bluesky::parse_session(
                            &call(bluesky::session_request(service, identifier, app_password))
                                .await?,
                            Utc::now(),
                        )?;
                        state.bluesky_session = Some(s.clone());
                        s
                    }
                };
                let thumb = match &post.image {
                    None => None,
                    Some(url) => match self
                        .images
                        .get(url)
                        .await
                        .and_then(|img| bluesky::prepare_thumb(&img.bytes))
                    {
                        Ok(jpeg) => Some(bluesky::parse_upload(
                            &call(bluesky::upload_request(service, &session, jpeg)).await?,
                            Utc::now(),
                        )?),
                        Err(e) => {
                            warnings
                                .push(format!("{}: {e}; posted without the image", target.name));
                            None
                        }
                    },
                };
                let rkey = bluesky::tid(post.published, &post.idempotency_key);
                let record = bluesky::record(post, Utc::now(), thumb);
                let response =
                    call(bluesky::create_request(service, &session, &rkey, record)).await?;
                bluesky::parse_create(&response, &session.did, &rkey, Utc::now())
            }
        }
    }

    /// Uploads the hero image to Mastodon and waits while it is processed.
    async fn mastodon_media(
        &self,
        target: &Target,
        instance: &url::Url,
        token: &crate::config::Secret,
        post: &Post,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<String>, DeliveryError> {
        let Some(url) = &post.image else {
            return Ok(Vec::new());
        };
        let image = match self.images.get(url).await {
            Ok(i) => i,
            Err(e) => {
                warnings.push(format!("{}: {e}; posted without the image", target.name));
                return Ok(Vec::new());
            }
        };
        let upload = mastodon::media_request(instance, token, &image, &post.image_alt);
        let response = send(&self.client, &upload, target.timeout).await?;
        let mut media = match mastodon::parse_media(&response, Utc::now()) {
            Ok(m) => m,
            Err(DeliveryError::Permanent { message }) => {
                warnings.push(format!(
                    "{}: Mastodon refused the image ({message}); posted without it",
                    target.name
                ));
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let mut delay = Duration::from_millis(500);
        for _ in 0..30 {
            match media {
                mastodon::Media::Ready(id) => return Ok(vec![id]),
                mastodon::Media::Processing(id) => {
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                    let response = send(
                        &self.client,
                        &mastodon::media_status_request(instance, token, &id),
                        target.timeout,
                    )
                    .await?;
                    media = mastodon::parse_media(&response, Utc::now())?;
                }
            }
        }
        Err(DeliveryError::retryable(
            "Mastodon kept processing the image for too long",
        ))
    }

    /// Asks the instance its limit once per run and refits the post if it
    /// differs from the one the plan used. `Err` carries a warning.
    async fn mastodon_limit(
        &self,
        target: &Target,
        instance: &url::Url,
        post: &mut Post,
        state: &mut TargetState,
    ) -> Result<Result<(), String>, LedgerError> {
        if state.mastodon_limit.is_none() {
            let response = send(
                &self.client,
                &mastodon::instance_request(instance),
                target.timeout,
            )
            .await;
            match response.and_then(|r| mastodon::parse_instance(&r, Utc::now())) {
                Ok(limit) => {
                    state.mastodon_limit = Some(limit);
                    self.record(|l| {
                        l.set_meta(&mastodon_meta_key(&target.name), &limit.to_string())
                    })?;
                }
                Err(e) => {
                    state.mastodon_limit = Some(post.fitted.limit.max);
                    return Ok(Err(format!(
                        "{}: could not read the instance's limit ({e}); used {}",
                        target.name, post.fitted.limit.max
                    )));
                }
            }
        }
        let limit = state
            .mastodon_limit
            .unwrap_or(mastodon::DEFAULT_MAX_CHARACTERS);
        if limit != post.fitted.limit.max {
            let (text_limit, _) = social::platform_text(&target.platform, Some(limit));
            let source = social::template_for(target, self.config.social.template.as_deref());
            let refit = Composer::new(Some(source)).and_then(|c| c.fit(&post.fields, text_limit));
            if let Ok(fitted) = refit {
                post.fitted = fitted;
            }
        }
        Ok(Ok(()))
    }
}

/// Removes the target's secret values (tokens, webhook URLs and their
/// token-bearing parts) from a text: a platform's error message may echo the
/// URL it was called at, and that text goes to the ledger and the terminal.
pub fn scrub(text: &str, target: &Target) -> String {
    let mut out = crate::social::http::redact_url(text);
    let mut secrets: Vec<String> = Vec::new();
    let mut add = |s: &crate::config::Secret| {
        if let Ok(v) = s.expose() {
            // Also the URL's path, which may appear without the host.
            if let Ok(u) = url::Url::parse(&v) {
                if u.path().len() > 8 {
                    secrets.push(u.path().to_string());
                }
                if let Some(q) = u.query() {
                    secrets.push(q.to_string());
                }
            }
            secrets.push(v);
        }
    };
    match &target.platform {
        Platform::Slack { url }
        | Platform::Discord { url }
        | Platform::Teams { url }
        | Platform::GoogleChat { url }
        | Platform::Mattermost { url } => add(url),
        Platform::Telegram { bot_token, .. } => add(bot_token),
        Platform::Mastodon { token, .. } => add(token),
        Platform::Bluesky { app_password, .. } => add(app_password),
        Platform::Webhook {
            url,
            secret,
            headers,
        } => {
            add(url);
            if let Some(s) = secret {
                add(s);
            }
            headers.values().for_each(&mut add);
        }
    }
    secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    for s in secrets.iter().filter(|s| s.len() >= 6) {
        out = out.replace(s.as_str(), "[redacted]");
    }
    out
}

/// The ledger's meta key for a Mastodon target's instance limit.
pub fn mastodon_meta_key(target: &str) -> String {
    format!("mastodon.max_characters.{target}")
}

/// What one target learns during a run.
#[derive(Default)]
struct TargetState {
    mastodon_limit: Option<usize>,
    mastodon_media: HashMap<String, Vec<String>>,
    bluesky_session: Option<bluesky::Session>,
}

/// Full-jitter backoff: a random delay in `[0, min(cap, base × 2^(n-1))]`.
pub fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(cap);
    let fraction: f64 = rand::random();
    ceiling.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_its_ceiling() {
        let base = Duration::from_millis(100);
        for attempt in 1..=10 {
            for _ in 0..50 {
                let d = backoff(base, attempt, Duration::from_secs(2));
                let ceiling = (base * 2u32.pow(attempt - 1)).min(Duration::from_secs(2));
                assert!(d <= ceiling, "{attempt}: {d:?} > {ceiling:?}");
            }
        }
    }
}
