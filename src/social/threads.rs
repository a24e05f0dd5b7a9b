//! Threads (Meta): a media container (`/{user}/threads`), polled until it
//! is `FINISHED`, then published (`/{user}/threads_publish`), then its
//! permalink asked for.
//!
//! Threads fetches the hero image itself from its public URL; a post
//! without one is a text post whose link card comes from
//! `link_attachment`. 500 characters, an emoji counting as its UTF-8
//! bytes. There is no idempotency key: after a lost answer the container
//! is asked whether it was published, and a second container is never
//! made for a post that may be out.
//!
//! Tokens: `token` from the config, used as given; or `herald auth` with
//! `app_id` and `app_secret`, whose 60-day token herald renews by itself
//! (`refresh_access_token`) once fewer than 30 days are left, on any run,
//! posting or not.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::card::Card;
use super::compose::{CountUnit, Counter, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Slots, Template, body_excerpt, classify,
    endpoint, json_message,
};
use super::keys::{KeyError, Keys};
use super::oauth;
use super::steps::{CallStep, PollStep, Polled, SendStep, SessionStep, Step, Steps, Verify};
use super::{
    Authorization, Delivered, Learned, Platform, Post, SecretField, SecretKind, Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// The longest post.
pub const MAX_TEXT: usize = 500;
/// Alt text longer than this is refused (Threads' documented limit).
pub const MAX_ALT: usize = 1000;
/// How long herald waits for a container to finish, per post and run.
pub const CONTAINER_LIMIT: Duration = Duration::from_secs(120);
/// A kept token with less than this left is renewed.
pub const RENEW_WITHIN: TimeDelta = TimeDelta::days(30);
/// The scopes `herald auth` asks for.
pub const SCOPES: &str = "threads_basic,threads_content_publish";

/// Characters, with an emoji counted as its UTF-8 bytes.
pub static EMOJI_AS_BYTES: Counter = Counter {
    label: "characters (an emoji as its UTF-8 bytes)",
    count: emoji_as_bytes,
};

fn emoji_as_bytes(text: &str) -> usize {
    text.chars()
        .map(|c| {
            let code = u32::from(c);
            if code >= 0x1F000 || (0x2600..=0x27BF).contains(&code) || code == 0xFE0F {
                c.len_utf8()
            } else {
                1
            }
        })
        .sum()
}

/// A Threads profile.
#[derive(Debug)]
pub struct Threads {
    api: Url,
    auth_url: Url,
    user_id: String,
    token: Tokens,
}

#[derive(Debug)]
enum Tokens {
    Given(Secret),
    Kept { app_id: String, app_secret: Secret },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ThreadsKeys {
    user_id: Option<Text>,
    token: Option<Secret>,
    app_id: Option<Text>,
    app_secret: Option<Secret>,
    api_url: Option<String>,
    auth_url: Option<String>,
}

/// Example keys: the token's own profile, with the API at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"token": "example-token", "api_url": base})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: ThreadsKeys = keys.read()?;
    let user_id = match &k.user_id {
        Some(id) => keys.text("user_id", &id.0)?,
        None => "me".to_string(),
    };
    if user_id.is_empty() || !user_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(KeyError::invalid(
            "user_id",
            format!("{user_id:?} is not a Threads user id (digits, or `me`)"),
        ));
    }
    let token = match (k.token, k.app_id, k.app_secret) {
        (Some(token), None, None) => Tokens::Given(token),
        (None, Some(id), Some(app_secret)) => Tokens::Kept {
            app_id: keys.text("app_id", &id.0)?,
            app_secret,
        },
        (Some(_), _, _) => {
            return Err(KeyError::invalid(
                "token",
                "give either token, or app_id and app_secret (then run `herald auth`), not both",
            ));
        }
        (None, None, _) | (None, _, None) => {
            return Err(KeyError::invalid(
                "token",
                "missing: give token, or app_id and app_secret and run `herald auth`",
            ));
        }
    };
    Ok(Arc::new(Threads {
        api: keys.url(
            "api_url",
            k.api_url.as_deref().unwrap_or("https://graph.threads.net"),
        )?,
        auth_url: keys.url(
            "auth_url",
            k.auth_url
                .as_deref()
                .unwrap_or("https://threads.net/oauth/authorize"),
        )?,
        user_id,
        token,
    }))
}

const CONTAINER: &str = "<id from the container>";

impl Threads {
    fn url(&self, path: &str) -> Template {
        Template::text(endpoint(&self.api, path))
    }

    /// The access token as Graph APIs take it: a form field or a query
    /// parameter.
    fn access(&self) -> Template {
        match &self.token {
            Tokens::Given(token) => Template::secret(token),
            Tokens::Kept { .. } => {
                Template::text("").then_slot("access_token", "<access token kept by herald auth>")
            }
        }
    }

    /// A GET whose query carries the token.
    fn get(&self, url: Template, fields: &str) -> Request {
        let url = url
            .then(format!("?fields={fields}&access_token="))
            .then_template(self.access());
        Request::new(Method::Get, url, Body::Empty)
    }

    fn session_step(&self) -> Option<SessionStep> {
        let Tokens::Kept { .. } = &self.token else {
            return None;
        };
        let refresh = Request::new(
            Method::Get,
            self.url("refresh_access_token")
                .then("?grant_type=th_refresh_token&access_token=")
                .then_template(self.access()),
            Body::Empty,
        );
        Some(SessionStep {
            login: None,
            refresh: Some(refresh),
            read: oauth::read_token,
            seed_refresh: None,
            renew_within: Some(RENEW_WITHIN),
        })
    }

    /// The container of `post`; of a reply (`reply`) it names the part
    /// before and carries no topic.
    fn container_step(&self, post: &Post, reply: bool) -> CallStep {
        let mut form: Vec<(String, Template)> = Vec::new();
        match &post.image {
            Some(image) => {
                form.push(("media_type".into(), Template::text("IMAGE")));
                form.push(("image_url".into(), Template::text(image.as_str())));
                form.push((
                    "alt_text".into(),
                    Template::text(super::truncate_words(&post.image_alt, MAX_ALT)),
                ));
            }
            None => {
                form.push(("media_type".into(), Template::text("TEXT")));
                // The link preview goes with the text that has the link.
                if post.fitted.text.contains(post.url.as_str()) {
                    form.push(("link_attachment".into(), Template::text(post.url.as_str())));
                }
            }
        }
        form.push(("text".into(), Template::text(post.fitted.text.clone())));
        if reply {
            form.push((
                "reply_to_id".into(),
                Template::text("").then_slot(super::PARENT_ID, "<id of the part before>"),
            ));
        }
        // One topic per post: 1 to 50 characters, no `.` or `&` (a
        // hashtag word has neither).
        if let Some(topic) = post.hashtags.first().filter(|_| !reply) {
            let topic: String = topic.chars().take(50).collect();
            form.push(("topic_tag".into(), Template::text(topic)));
        }
        form.push(("access_token".into(), self.access()));
        CallStep {
            request: Request::new(
                Method::Post,
                self.url(&format!("v1.0/{}/threads", self.user_id)),
                Body::Form(form),
            ),
            read: read_container,
            when: None,
            optional: None,
            note: "the media container Threads publishes from".to_string(),
        }
    }

    /// The session, the container (of a reply, with `reply`), its polling
    /// and its publication.
    fn post_steps(&self, post: &Post, reply: bool) -> Steps {
        let mut steps = Vec::new();
        if let Some(session) = self.session_step() {
            steps.push(Step::Session(session));
        }
        steps.push(Step::Call(self.container_step(post, reply)));
        steps.push(Step::Poll(self.poll_step()));
        steps.push(Step::send(self.publish_step()));
        Steps(steps)
    }

    fn container_url(&self) -> Template {
        self.url("v1.0/").then_slot("container_id", CONTAINER)
    }

    fn poll_step(&self) -> PollStep {
        PollStep {
            request: self.get(self.container_url(), "status,error_message"),
            when: "container_pending".to_string(),
            read: read_status,
            limit: CONTAINER_LIMIT,
        }
    }

    fn publish_step(&self) -> SendStep {
        let request = Request::new(
            Method::Post,
            self.url(&format!("v1.0/{}/threads_publish", self.user_id)),
            Body::Form(vec![
                (
                    "creation_id".into(),
                    Template::text("").then_slot("container_id", CONTAINER),
                ),
                ("access_token".into(), self.access()),
            ]),
        );
        let mut step = SendStep::new(request, read_published);
        step.verify = Some(Verify {
            request: self.get(self.container_url(), "status"),
            read: read_verify,
        });
        step.address = Some(Verify {
            request: self.get(
                self.url("v1.0/")
                    .then_slot("remote_id", "<id from threads_publish>"),
                "permalink",
            ),
            read: read_permalink,
        });
        step
    }
}

fn message(r: &Response) -> String {
    json_message(r, "/error/message")
}

/// Graph answers: 401, or 400 with `OAuthException` code 190, is a token
/// that ended.
fn check(r: &Response, now: DateTime<Utc>) -> Result<(), DeliveryError> {
    let expired = r.status == 401
        || r.json()
            .and_then(|v| v.pointer("/error/code").and_then(serde_json::Value::as_i64))
            == Some(190);
    if expired {
        return Err(DeliveryError::AuthExpired {
            message: format!("HTTP {}: {}", r.status, message(r)),
        });
    }
    classify(r, message, |_| None, now)
}

fn id_of(r: &Response) -> Option<String> {
    r.json()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
}

/// `{"id": container}`: Threads now fetches the image and prepares it.
fn read_container(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    check(r, now)?;
    let id = id_of(r).ok_or_else(|| {
        DeliveryError::retryable(format!(
            "the container answer has no id: {}",
            body_excerpt(&r.text())
        ))
    })?;
    let mut slots = Slots::new();
    slots.insert("container_id".into(), json!(id));
    slots.insert("container_pending".into(), json!(true));
    Ok(slots)
}

/// `IN_PROGRESS` waits; `FINISHED` may be published; `ERROR` and
/// `EXPIRED` say why it never will be.
fn read_status(r: &Response, now: DateTime<Utc>) -> Result<Polled, DeliveryError> {
    check(r, now)?;
    let v = r.json().unwrap_or_default();
    let status = v.get("status").and_then(|s| s.as_str()).unwrap_or("");
    let ready = || {
        let mut slots = Slots::new();
        slots.insert("container_pending".into(), json!(false));
        Polled::Ready(slots)
    };
    match status {
        "FINISHED" | "PUBLISHED" => Ok(ready()),
        "IN_PROGRESS" => Ok(Polled::Pending),
        "ERROR" => Err(DeliveryError::permanent(format!(
            "Threads could not prepare the post: {}",
            v.get("error_message")
                .and_then(|m| m.as_str())
                .unwrap_or("no reason given")
        ))),
        "EXPIRED" => Err(DeliveryError::permanent(
            "the container expired before it was published",
        )),
        other => Err(DeliveryError::retryable(format!(
            "the container's status is {other:?}: {}",
            body_excerpt(&r.text())
        ))),
    }
}

/// `{"success":true}`; a post already gone is gone.
fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if matches!(r.status, 404 | 410) {
        return Ok(Delivered::default());
    }
    check(r, now).map(|()| Delivered::default())
}

/// `{"id": media}`.
fn read_published(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    check(r, now)?;
    let id = id_of(r).ok_or_else(|| {
        DeliveryError::uncertain(format!(
            "Threads answered {} without the post's id: {}",
            r.status,
            body_excerpt(&r.text())
        ))
    })?;
    Ok(Delivered {
        reference: None,
        remote_id: Some(id),
        remote_url: None,
    })
}

/// A container whose status is `PUBLISHED` is out.
fn read_verify(
    r: &Response,
    _: &Slots,
    now: DateTime<Utc>,
) -> Result<Option<Delivered>, DeliveryError> {
    check(r, now)?;
    let published = r
        .json()
        .and_then(|v| v.get("status").and_then(|s| s.as_str()).map(str::to_string))
        .is_some_and(|s| s == "PUBLISHED");
    Ok(published.then_some(Delivered {
        reference: None,
        remote_id: None,
        remote_url: None,
    }))
}

fn read_permalink(
    r: &Response,
    _: &Slots,
    now: DateTime<Utc>,
) -> Result<Option<Delivered>, DeliveryError> {
    check(r, now)?;
    Ok(r.json()
        .and_then(|v| {
            v.get("permalink")
                .and_then(|p| p.as_str())
                .map(str::to_string)
        })
        .map(|url| Delivered {
            reference: None,
            remote_id: None,
            remote_url: Some(url),
        }))
}

impl Platform for Threads {
    fn kind(&self) -> &'static str {
        "threads"
    }

    /// One topic tag per post, sent as `topic_tag` and not written in the text.
    fn hashtags(&self) -> super::Hashtags {
        super::Hashtags::Topic
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        match &self.token {
            Tokens::Given(token) => vec![SecretField::new("token", token, SecretKind::Token)],
            Tokens::Kept { app_secret, .. } => vec![SecretField::new(
                "app_secret",
                app_secret,
                SecretKind::Token,
            )],
        }
    }

    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::Custom(EMOJI_AS_BYTES), MAX_TEXT),
            shape: Shape::Text,
        }
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        self.post_steps(post, false)
    }

    fn capabilities(&self, _learned: &Learned) -> super::Capabilities {
        super::Capabilities {
            threads: true,
            ..super::Capabilities::default()
        }
    }

    /// A container with `reply_to_id`, then published like any post.
    fn reply_steps(&self, part: &Post, _learned: &Learned) -> Option<Steps> {
        Some(self.post_steps(part, true))
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id = remote.id?;
        let mut steps = Vec::new();
        if let Some(session) = self.session_step() {
            steps.push(Step::Session(session));
        }
        let request = Request::new(
            Method::Delete,
            self.url(&format!("v1.0/{id}"))
                .then("?access_token=")
                .then_template(self.access()),
            Body::Empty,
        );
        steps.push(Step::send(SendStep::new(request, read_deleted)));
        Some(Steps(steps))
    }

    fn account(&self) -> Option<String> {
        Some(if self.user_id == "me" {
            "the token's profile".to_string()
        } else {
            format!("profile {}", self.user_id)
        })
    }

    fn card(&self, _post: &Post, c: &Card<'_>) -> String {
        c.timeline()
    }

    fn card_style(&self) -> &'static str {
        ".threads{background:#101010;color:#f3f5f7}.threads .bar{background:#333}.threads .avatar{background:#777}.threads a{color:#0095f6}"
    }

    fn authorization(&self) -> Option<Authorization> {
        let Tokens::Kept { app_id, app_secret } = &self.token else {
            return None;
        };
        let mut authorize = self.auth_url.clone();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", app_id)
            .append_pair("scope", SCOPES);
        let exchange = oauth::token_request(
            self.url("oauth/access_token"),
            vec![
                ("grant_type", Template::text("authorization_code")),
                (
                    "redirect_uri",
                    oauth::slot("redirect_uri", "<redirect URI>"),
                ),
                ("code", oauth::slot("code", "<code>")),
            ],
            oauth::Client::InForm {
                id: app_id,
                secret: app_secret,
            },
        );
        // The hour-long token is exchanged at once for a 60-day one.
        let upgrade = Request::new(
            Method::Get,
            self.url("access_token")
                .then("?grant_type=th_exchange_token&client_secret=")
                .then_secret(app_secret)
                .then("&access_token=")
                .then_slot("access_token", "<the short-lived token>"),
            Body::Empty,
        );
        Some(Authorization {
            authorize,
            pkce: false,
            exchange,
            read: oauth::read_token,
            upgrade: Some(upgrade),
            session: self.session_step()?,
            setup: "a Meta app with the Threads use case, the permissions threads_basic and threads_content_publish, your account added as a Threads tester, and the redirect callback URL herald prints (Threads takes only https ones: use --redirect-uri with a page of your site and --no-browser)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emoji_counts_as_its_bytes() {
        assert_eq!(emoji_as_bytes("hello"), 5);
        assert_eq!(emoji_as_bytes("👍"), 4);
        assert_eq!(emoji_as_bytes("é日"), 2);
    }
}
