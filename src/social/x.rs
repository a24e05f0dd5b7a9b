//! X: the hero image uploaded (`/2/media/upload`), its alt text set
//! (`/2/media/metadata`, best effort), then the post (`/2/tweets`).
//!
//! Two ways in. OAuth 2.0 user context: tokens from `herald auth` (code
//! flow with PKCE) or a `refresh_token` in the config; access tokens last
//! two hours and each refresh answers with a new refresh token, which is
//! kept in the ledger before the new access token is used. Or OAuth 1.0a
//! user keys, which do not expire, each request signed with HMAC-SHA1.
//!
//! Length is X's weighted count: NFC text, most scripts 1 per character,
//! CJK and emoji 2, every URL 23 (t.co), 280 at most. X charges per post:
//! `max_posts_per_month` caps a target, and the dry run shows the month's
//! count. A duplicate is refused with 403 and no id: that refusal means
//! the post is there.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;
use url::Url;

use super::card::Card;
use super::compose::{CountUnit, Counter, TextLimit};
use super::http::{
    Body, DeliveryError, Method, MultipartValue, OAuth1Keys, Part, Request, Response, Signing,
    Slots, Template, body_excerpt, classify, endpoint,
};
use super::image::ImageData;
use super::keys::{KeyError, Keys};
use super::oauth;
use super::steps::{CallStep, SendStep, SessionStep, Step, Steps, UploadStep};
use super::{
    Authorization, Capabilities, Delivered, Learned, Platform, Post, SecretField, SecretKind,
    Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// The longest post, in weighted characters.
pub const MAX_WEIGHT: usize = 280;
/// Every URL counts as this many (t.co).
pub const URL_LENGTH: usize = 23;
/// Alt text longer than this is refused.
pub const MAX_ALT: usize = 1000;
/// Images larger than this are refused by the simple upload.
pub const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;
/// The scopes `herald auth` asks for: posting, media, and a refresh token.
pub const SCOPES: &str = "tweet.read tweet.write users.read media.write offline.access";

/// X's weighted count: each character weighs 1 in the ranges below and 2
/// elsewhere; an emoji (a grapheme cluster holding a pictograph, a
/// variation selector 16 or a keycap) weighs 2 whatever its length.
/// twitter-text's v3 configuration is the source of the ranges.
pub static WEIGHTED: Counter = Counter {
    label: "weighted characters",
    count: weighted_count,
};

const LIGHT: &[(u32, u32)] = &[
    (0x0000, 0x10FF),
    (0x2000, 0x200D),
    (0x2010, 0x201F),
    (0x2032, 0x2037),
];

fn weighted_count(text: &str) -> usize {
    let normalized: String = text.nfc().collect();
    normalized
        .graphemes(true)
        .map(|cluster| {
            let emoji = cluster.chars().any(|c| {
                let c = u32::from(c);
                c >= 0x1F000 || c == 0xFE0F || c == 0x20E3
            });
            if emoji {
                2
            } else {
                cluster
                    .chars()
                    .map(|c| {
                        let c = u32::from(c);
                        if LIGHT.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c)) {
                            1
                        } else {
                            2
                        }
                    })
                    .sum()
            }
        })
        .sum()
}

/// An account on X.
#[derive(Debug)]
pub struct X {
    api: Url,
    auth: Auth,
    authorize_url: Url,
    max_posts_per_month: Option<u32>,
}

#[derive(Debug)]
enum Auth {
    /// OAuth 2.0: the session `herald auth` (or `refresh_token`) started.
    OAuth2 {
        client_id: String,
        client_secret: Option<Secret>,
        refresh_token: Option<Secret>,
    },
    OAuth1(OAuth1Keys),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct XKeys {
    api_url: Option<String>,
    auth_url: Option<String>,
    client_id: Option<Text>,
    client_secret: Option<Secret>,
    refresh_token: Option<Secret>,
    consumer_key: Option<Secret>,
    consumer_secret: Option<Secret>,
    access_token: Option<Secret>,
    access_token_secret: Option<Secret>,
    max_posts_per_month: Option<u32>,
}

/// Example keys: OAuth 1.0a user keys, with the API at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({
        "api_url": base,
        "consumer_key": "example-consumer-key",
        "consumer_secret": "example-consumer-secret",
        "access_token": "example-access-token",
        "access_token_secret": "example-access-secret",
        "max_posts_per_month": 100,
    })
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: XKeys = keys.read()?;
    let missing: Vec<&str> = [
        ("consumer_key", k.consumer_key.is_none()),
        ("consumer_secret", k.consumer_secret.is_none()),
        ("access_token", k.access_token.is_none()),
        ("access_token_secret", k.access_token_secret.is_none()),
    ]
    .into_iter()
    .filter_map(|(key, absent)| absent.then_some(key))
    .collect();
    let auth = match (
        k.client_id,
        k.consumer_key,
        k.consumer_secret,
        k.access_token,
        k.access_token_secret,
    ) {
        (Some(id), None, None, None, None) => Auth::OAuth2 {
            client_id: keys.text("client_id", &id.0)?,
            client_secret: k.client_secret,
            refresh_token: k.refresh_token,
        },
        (None, Some(consumer_key), Some(consumer_secret), Some(token), Some(token_secret)) => {
            Auth::OAuth1(OAuth1Keys {
                consumer_key,
                consumer_secret,
                token,
                token_secret,
            })
        }
        (Some(_), ..) => {
            return Err(KeyError::invalid(
                "client_id",
                "give either client_id (OAuth 2.0) or the four OAuth 1.0a keys, not both",
            ));
        }
        (None, None, None, None, None) => {
            return Err(KeyError::invalid(
                "client_id",
                "missing: give client_id (OAuth 2.0, then run `herald auth`) or consumer_key, consumer_secret, access_token and access_token_secret (OAuth 1.0a)",
            ));
        }
        (None, ..) => {
            return Err(KeyError::invalid(
                missing.first().copied().unwrap_or("consumer_key"),
                format!(
                    "OAuth 1.0a needs all four keys; missing: {}",
                    missing.join(", ")
                ),
            ));
        }
    };
    if k.max_posts_per_month == Some(0) {
        return Err(KeyError::invalid(
            "max_posts_per_month",
            "0 would never post: leave the target out, or set enabled: false",
        ));
    }
    Ok(Arc::new(X {
        api: keys.url(
            "api_url",
            k.api_url.as_deref().unwrap_or("https://api.x.com"),
        )?,
        authorize_url: keys.url(
            "auth_url",
            k.auth_url
                .as_deref()
                .unwrap_or("https://x.com/i/oauth2/authorize"),
        )?,
        auth,
        max_posts_per_month: k.max_posts_per_month,
    }))
}

const ACCESS: &str = "<access token kept by herald auth>";
const MEDIA_ID: &str = "<id from /2/media/upload>";

impl X {
    fn api(&self, path: &str) -> Template {
        Template::text(endpoint(&self.api, path))
    }

    /// The request, authorized the way the target is set up.
    fn authorized(&self, request: Request) -> Request {
        match &self.auth {
            Auth::OAuth2 { .. } => request.header(
                "Authorization",
                Template::text("Bearer ").then_slot("access_token", ACCESS),
            ),
            Auth::OAuth1(keys) => {
                let mut request = request;
                request.signing = Some(Signing::OAuth1(keys.clone()));
                request
            }
        }
    }

    /// `POST /2/oauth2/token`, with the client's Basic credentials when it
    /// is a confidential client.
    fn token_request(&self, fields: Vec<(&str, Template)>) -> Option<Request> {
        let Auth::OAuth2 {
            client_id,
            client_secret,
            ..
        } = &self.auth
        else {
            return None;
        };
        let client = match client_secret {
            Some(secret) => oauth::Client::Basic {
                id: client_id,
                secret,
            },
            None => oauth::Client::Public { id: client_id },
        };
        Some(oauth::token_request(
            self.api("2/oauth2/token"),
            fields,
            client,
        ))
    }

    fn session_step(&self) -> Option<SessionStep> {
        let Auth::OAuth2 { refresh_token, .. } = &self.auth else {
            return None;
        };
        let refresh = self.token_request(oauth::refresh_fields())?;
        Some(SessionStep {
            login: None,
            refresh: Some(refresh),
            read: oauth::read_token,
            seed_refresh: refresh_token.clone(),
            renew_within: None,
        })
    }

    fn upload_step(&self, image: &Url) -> UploadStep {
        let request = Request::new(
            Method::Post,
            self.api("2/media/upload"),
            Body::Multipart(vec![
                (
                    "media".to_string(),
                    MultipartValue::Image {
                        stem: "hero".to_string(),
                        note: format!("the image at {image}, at most 5 MB"),
                    },
                ),
                (
                    "media_category".to_string(),
                    MultipartValue::Text("tweet_image".to_string()),
                ),
            ]),
        );
        UploadStep {
            image: image.clone(),
            prepare: within_limit,
            request: self.authorized(request),
            read: read_upload,
            without: Slots::new(),
            needs: None,
        }
    }

    fn alt_step(&self, post: &Post) -> CallStep {
        let request = Request::new(
            Method::Post,
            self.api("2/media/metadata"),
            Body::Json(json!({
                "id": MEDIA_ID,
                "metadata": {"alt_text": {"text": super::truncate_words(&post.image_alt, MAX_ALT)}},
            })),
        )
        .fill("/id", Part::slot("media_id", MEDIA_ID));
        CallStep {
            request: self.authorized(request),
            read: read_nothing,
            when: Some("media_uploaded".to_string()),
            optional: Some("the image went out without its alt text".to_string()),
            note: "the image's alt text, once the upload gave an id".to_string(),
        }
    }

    fn post_request(&self, post: &Post) -> Request {
        let mut body = json!({"text": post.fitted.text});
        if post.image.is_some() {
            body["media"] = json!({"media_ids": [MEDIA_ID]});
        }
        let request = Request::new(Method::Post, self.api("2/tweets"), Body::Json(body))
            .fill("/media", Part::slot("media", MEDIA_ID));
        self.authorized(request)
    }
}

/// The simple upload takes images up to 5 MB as they are.
fn within_limit(image: &ImageData) -> Result<ImageData, String> {
    if image.bytes.len() > MAX_IMAGE_BYTES {
        return Err(format!(
            "the image is {} bytes; X takes at most {MAX_IMAGE_BYTES}",
            image.bytes.len()
        ));
    }
    Ok(image.clone())
}

/// X's own error text: `detail`, `errors[0].message`, or OAuth's
/// `error_description`.
fn message(r: &Response) -> String {
    let Some(v) = r.json() else {
        return body_excerpt(&r.text());
    };
    [
        "/detail",
        "/errors/0/message",
        "/error_description",
        "/title",
    ]
    .iter()
    .find_map(|p| v.pointer(p).and_then(|m| m.as_str()).map(str::to_string))
    .unwrap_or_else(|| body_excerpt(&r.text()))
}

/// How long until `x-rate-limit-reset` (epoch seconds), when X says.
fn reset_delay(r: &Response, now: DateTime<Utc>) -> Option<Duration> {
    let reset: i64 = r.header("x-rate-limit-reset")?.trim().parse().ok()?;
    let at = DateTime::<Utc>::from_timestamp(reset, 0)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// X's answers: 401 is a token that ended (renewed once), 429 waits until
/// the window resets.
fn check(r: &Response, now: DateTime<Utc>) -> Result<(), DeliveryError> {
    if r.status == 401 {
        return Err(DeliveryError::AuthExpired {
            message: format!("HTTP 401: {}", message(r)),
        });
    }
    classify(r, message, |r| reset_delay(r, now), now)
}

/// `{"data":{"id":…}}` (also read: v1.1's `media_id_string`).
fn read_upload(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    check(r, now)?;
    let v = r.json().unwrap_or_default();
    let id = v
        .pointer("/data/id")
        .or_else(|| v.get("media_id_string"))
        .and_then(|i| i.as_str())
        .ok_or_else(|| {
            DeliveryError::retryable(format!(
                "the upload answer has no media id: {}",
                body_excerpt(&r.text())
            ))
        })?;
    let mut slots = Slots::new();
    slots.insert("media_id".into(), json!(id));
    slots.insert("media".into(), json!({"media_ids": [id]}));
    slots.insert("media_uploaded".into(), json!(true));
    Ok(slots)
}

fn read_nothing(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    check(r, now).map(|()| Slots::new())
}

/// `{"data":{"deleted":true}}`; a post already gone is gone.
fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if matches!(r.status, 404 | 410) {
        return Ok(Delivered::default());
    }
    check(r, now).map(|()| Delivered::default())
}

/// 201 `{"data":{"id":…}}`; 403 "duplicate content" means the post is
/// already there (X gives no id).
fn read_post(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if r.status == 403 && message(r).to_lowercase().contains("duplicate") {
        return Ok(Delivered {
            reference: None,
            remote_id: None,
            remote_url: None,
        });
    }
    check(r, now)?;
    let id = r
        .json()
        .and_then(|v| {
            v.pointer("/data/id")
                .and_then(|i| i.as_str())
                .map(str::to_string)
        })
        .ok_or_else(|| {
            DeliveryError::uncertain(format!(
                "X answered {} without the post's id: {}",
                r.status,
                body_excerpt(&r.text())
            ))
        })?;
    Ok(Delivered {
        reference: None,
        remote_url: Some(format!("https://x.com/i/web/status/{id}")),
        remote_id: Some(id),
    })
}

impl Platform for X {
    fn kind(&self) -> &'static str {
        "x"
    }

    /// In the text, counted by the weighted rule.
    fn hashtags(&self) -> super::Hashtags {
        super::Hashtags::InText
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        match &self.auth {
            Auth::OAuth2 {
                client_secret,
                refresh_token,
                ..
            } => client_secret
                .iter()
                .map(|s| SecretField::new("client_secret", s, SecretKind::Text))
                .chain(
                    refresh_token
                        .iter()
                        .map(|s| SecretField::new("refresh_token", s, SecretKind::Token)),
                )
                .collect(),
            Auth::OAuth1(k) => vec![
                SecretField::new("consumer_key", &k.consumer_key, SecretKind::Token),
                SecretField::new("consumer_secret", &k.consumer_secret, SecretKind::Token),
                SecretField::new("access_token", &k.token, SecretKind::Token),
                SecretField::new("access_token_secret", &k.token_secret, SecretKind::Token),
            ],
        }
    }

    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit {
                unit: CountUnit::Custom(WEIGHTED),
                max: MAX_WEIGHT,
                url_length: Some(URL_LENGTH),
                max_bytes: None,
            },
            shape: Shape::Text,
        }
    }

    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            monthly_cap: self.max_posts_per_month,
            threads: true,
            ..Capabilities::default()
        }
    }

    /// `reply.in_reply_to_tweet_id`: the part before.
    fn reply_steps(&self, part: &Post, _learned: &Learned) -> Option<Steps> {
        let body = json!({
            "text": part.fitted.text,
            "reply": {"in_reply_to_tweet_id": "<id of the part before>"},
        });
        let request = Request::new(Method::Post, self.api("2/tweets"), Body::Json(body)).fill(
            "/reply/in_reply_to_tweet_id",
            Part::slot(super::PARENT_ID, "<id of the part before>"),
        );
        let mut steps = Vec::new();
        if let Some(session) = self.session_step() {
            steps.push(Step::Session(session));
        }
        steps.push(Step::send(SendStep::new(
            self.authorized(request),
            read_post,
        )));
        Some(Steps(steps))
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        let mut steps = Vec::new();
        if let Some(session) = self.session_step() {
            steps.push(Step::Session(session));
        }
        if let Some(image) = &post.image {
            steps.push(Step::Upload(self.upload_step(image)));
            steps.push(Step::Call(self.alt_step(post)));
        }
        steps.push(Step::send(SendStep::new(
            self.post_request(post),
            read_post,
        )));
        Steps(steps)
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id = remote.id?;
        let mut steps = Vec::new();
        if let Some(session) = self.session_step() {
            steps.push(Step::Session(session));
        }
        let request = Request::new(
            Method::Delete,
            self.api(&format!("2/tweets/{id}")),
            Body::Empty,
        );
        steps.push(Step::send(SendStep::new(
            self.authorized(request),
            read_deleted,
        )));
        Some(Steps(steps))
    }

    fn account(&self) -> Option<String> {
        Some("the token's account".to_string())
    }

    fn card(&self, _post: &Post, c: &Card<'_>) -> String {
        c.timeline()
    }

    fn card_style(&self) -> &'static str {
        ".x{background:#000;color:#e7e9ea}.x .bar{background:#333}.x .avatar{background:#1d9bf0}.x a{color:#1d9bf0}"
    }

    fn authorization(&self) -> Option<Authorization> {
        let Auth::OAuth2 { client_id, .. } = &self.auth else {
            return None;
        };
        let mut authorize = self.authorize_url.clone();
        authorize
            .query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("scope", SCOPES);
        let exchange = self.token_request(oauth::code_fields(true))?;
        Some(Authorization {
            authorize,
            pkce: true,
            exchange,
            read: oauth::read_token,
            upgrade: None,
            session: self.session_step()?,
            setup: "an app in the X developer portal with OAuth 2.0 user authentication on (type: native app for a public client, or web app with client_secret), read and write permissions, and the callback URL herald prints",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_follow_twitter_text() {
        assert_eq!(weighted_count("hello"), 5);
        // CJK weighs 2 per character.
        assert_eq!(weighted_count("日本語"), 6);
        // An emoji weighs 2, even a ZWJ family of several code points.
        assert_eq!(weighted_count("👍"), 2);
        assert_eq!(weighted_count("👨\u{200d}👩\u{200d}👧"), 2);
        // Latin with diacritics, decomposed, is one character after NFC.
        assert_eq!(weighted_count("e\u{301}"), 1);
        // Curly quotes and dashes are light.
        assert_eq!(weighted_count("“—”"), 3);
    }

    #[test]
    fn every_url_counts_23() {
        let limit = TextLimit {
            unit: CountUnit::Custom(WEIGHTED),
            max: MAX_WEIGHT,
            url_length: Some(URL_LENGTH),
            max_bytes: None,
        };
        let long = format!("see https://example.com/{}", "a".repeat(200));
        assert_eq!(limit.count(&long), 4 + 23);
    }
}
