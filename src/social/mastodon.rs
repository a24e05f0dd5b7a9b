//! Mastodon: the instance's real text limit (`/api/v2/instance`, learned
//! before composing and kept a day), the hero image uploaded with its alt
//! text (`/api/v2/media`, polled while the server processes it), then the
//! status with `media_ids`, `language` and an `Idempotency-Key`, which
//! Mastodon honours for an hour: a resend with the same key returns the
//! first status instead of a second one. Edits use PUT on the status.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, MultipartValue, Part, Request, Response, Slots, Template,
    body_excerpt, classify, endpoint, json_message,
};
use super::image::ImageData;
use super::keys::{KeyError, Keys};
use super::steps::{CallStep, PollStep, Polled, SendStep, Step, Steps, UploadStep};
use super::{
    Capabilities, ContentWarnings, Delivered, Hashtags, Idempotency, Learned, Learning, Platform,
    Post, SecretField, SecretKind, Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// A stock instance's limit, used until the instance has been asked.
pub const DEFAULT_MAX_CHARACTERS: usize = 500;
/// Every URL counts as this many characters.
pub const URL_LENGTH: usize = 23;
/// Alt text longer than this is refused.
pub const MAX_ALT: usize = 1500;
/// Mastodon keeps an `Idempotency-Key` for an hour.
pub const KEY_LIFETIME: Duration = Duration::from_secs(3600);
/// The learned key of the instance's text limit.
pub const MAX_CHARACTERS: &str = "max_characters";
/// The learned key of the server software (`mastodon`, `pleroma`, …).
pub const SOFTWARE: &str = "software";
/// Servers known to honour `Idempotency-Key` (Mastodon for an hour;
/// Pleroma and Akkoma took it from Mastodon). GoToSocial and others are
/// not counted on: a lost answer there is `uncertain`, never resent.
const IDEMPOTENT_SOFTWARE: &[&str] = &["mastodon", "pleroma", "akkoma"];
/// How long a learned limit is trusted before the instance is asked again.
const LIMIT_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// The longest herald waits for an uploaded image to be processed.
const PROCESSING_LIMIT: Duration = Duration::from_secs(60);

/// An account on a Mastodon instance.
#[derive(Debug)]
pub struct Mastodon {
    instance: Url,
    token: Secret,
    visibility: String,
    sensitive: bool,
    cw: Option<String>,
    /// The posts' language (ISO 639), else the site's.
    language: Option<String>,
}

/// The visibilities a status may have.
const VISIBILITIES: &[&str] = &["public", "unlisted", "private", "direct"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MastodonKeys {
    instance: String,
    token: Secret,
    visibility: Option<Text>,
    #[serde(default)]
    sensitive: bool,
    cw: Option<Text>,
    language: Option<Text>,
}

/// Example keys: an account on an instance at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"instance": base, "token": "example-token"})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: MastodonKeys = keys.read()?;
    let visibility = match &k.visibility {
        Some(v) => keys.text("visibility", &v.0)?,
        None => "public".to_string(),
    };
    if !VISIBILITIES.contains(&visibility.as_str()) {
        return Err(KeyError::invalid(
            "visibility",
            format!("{visibility:?}: expected public, unlisted, private or direct"),
        ));
    }
    let language = k
        .language
        .map(|l| keys.text("language", &l.0))
        .transpose()?;
    if let Some(l) = &language
        && !(2..=3).contains(&l.len())
    {
        return Err(KeyError::invalid(
            "language",
            format!("{l:?}: expected an ISO 639 code such as en or de"),
        ));
    }
    Ok(Arc::new(Mastodon {
        instance: keys.url("instance", &k.instance)?,
        token: k.token,
        visibility,
        sensitive: k.sensitive,
        cw: k.cw.map(|c| keys.text("cw", &c.0)).transpose()?,
        language,
    }))
}

impl Mastodon {
    fn bearer(&self) -> Template {
        Template::text("Bearer ").then_secret(&self.token)
    }

    fn api(&self, path: &str) -> Template {
        Template::text(endpoint(&self.instance, path))
    }

    fn media_step(&self, post: &Post, image: &Url) -> UploadStep {
        let request = Request::new(
            Method::Post,
            self.api("api/v2/media"),
            Body::Multipart(vec![
                (
                    "file".to_string(),
                    MultipartValue::Image {
                        stem: "hero".to_string(),
                        note: format!("the image at {image}, fetched when sent"),
                    },
                ),
                (
                    "description".to_string(),
                    MultipartValue::Text(super::truncate_words(&post.image_alt, MAX_ALT)),
                ),
            ]),
        )
        .header("Authorization", self.bearer());
        let mut without = Slots::new();
        without.insert("media_ids".into(), json!([]));
        UploadStep {
            image: image.clone(),
            prepare: as_fetched,
            request,
            read: read_upload,
            without,
            needs: None,
        }
    }

    fn poll_step(&self) -> PollStep {
        PollStep {
            request: Request::new(
                Method::Get,
                self.api("api/v1/media/")
                    .then_slot("media_id", "<id from /api/v2/media>"),
                Body::Empty,
            )
            .header("Authorization", self.bearer()),
            when: "media_processing".to_string(),
            read: read_poll,
            limit: PROCESSING_LIMIT,
        }
    }

    fn status_request(&self, post: &Post, edit: Option<&str>, media: bool) -> Request {
        let mut body = json!({
            "status": post.fitted.text,
            "media_ids": if media { json!(["<id from /api/v2/media>"]) } else { json!([]) },
            "visibility": post.visibility.as_deref().unwrap_or(&self.visibility),
            "language": self.language.as_deref().unwrap_or(&post.language),
        });
        if let Some(cw) = &post.content_warning {
            body["spoiler_text"] = json!(cw);
        }
        if post.sensitive.unwrap_or(self.sensitive) {
            body["sensitive"] = json!(true);
        }
        let mut request = match edit {
            Some(id) => Request::new(
                Method::Put,
                self.api(&format!("api/v1/statuses/{id}")),
                Body::Json(body),
            )
            .header("Authorization", self.bearer()),
            None => Request::new(Method::Post, self.api("api/v1/statuses"), Body::Json(body))
                .header("Authorization", self.bearer())
                .header(
                    "Idempotency-Key",
                    Template::text(post.idempotency_key.clone()),
                ),
        };
        if media {
            request = request.fill(
                "/media_ids",
                Part::slot("media_ids", "<id from /api/v2/media>"),
            );
        }
        request
    }
}

/// Mastodon takes the image as it is; the fetch already checked its type
/// and size.
fn as_fetched(image: &ImageData) -> Result<ImageData, String> {
    Ok(image.clone())
}

fn message(r: &Response) -> String {
    json_message(r, "/error")
}

fn media_id(response: &Response) -> Result<String, DeliveryError> {
    response
        .json()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
        .ok_or_else(|| {
            DeliveryError::retryable(format!(
                "the media answer has no id: {}",
                body_excerpt(&response.text())
            ))
        })
}

/// `POST /api/v2/media`: 200 ready, 202 still processing.
fn read_upload(response: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    classify(response, message, |_| None, now)?;
    let id = media_id(response)?;
    let mut slots = Slots::new();
    slots.insert("media_processing".into(), json!(response.status == 202));
    slots.insert("media_ids".into(), json!([id]));
    slots.insert("media_id".into(), json!(id));
    Ok(slots)
}

/// `GET /api/v1/media/:id`: 200 ready, 206 still processing.
fn read_poll(response: &Response, now: DateTime<Utc>) -> Result<Polled, DeliveryError> {
    classify(response, message, |_| None, now)?;
    let id = media_id(response)?;
    if response.status == 206 {
        return Ok(Polled::Pending);
    }
    let mut slots = Slots::new();
    slots.insert("media_processing".into(), json!(false));
    slots.insert("media_ids".into(), json!([id]));
    Ok(Polled::Ready(slots))
}

/// The instance's text limit (`configuration.statuses.max_characters`,
/// or Pleroma's and Akkoma's `max_toot_chars`) and which software it runs
/// (from `version` and `source_url`), from its v2 or v1 instance.
fn read_instance(
    response: &Response,
    now: DateTime<Utc>,
) -> Result<Vec<(String, String)>, DeliveryError> {
    classify(response, message, |_| None, now)?;
    let v = response.json().unwrap_or_default();
    let max = v
        .pointer("/configuration/statuses/max_characters")
        .or_else(|| v.get("max_toot_chars"))
        .and_then(serde_json::Value::as_u64)
        .filter(|m| *m > 0)
        .ok_or_else(|| DeliveryError::permanent("the instance did not say its max_characters"))?;
    let version = v
        .get("version")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    let source = v
        .get("source_url")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    Ok(vec![
        (MAX_CHARACTERS.to_string(), max.to_string()),
        (SOFTWARE.to_string(), software(version, source).to_string()),
    ])
}

/// Which Mastodon-API server answers: Pleroma and Akkoma say so in their
/// `version` ("2.7.2 (compatible; Akkoma 3.13.2)"), GoToSocial in its
/// `source_url`.
pub fn software(version: &str, source_url: &str) -> &'static str {
    let version = version.to_lowercase();
    if version.contains("akkoma") {
        "akkoma"
    } else if version.contains("pleroma") {
        "pleroma"
    } else if source_url.contains("gotosocial") || version.contains("gotosocial") {
        "gotosocial"
    } else if source_url.contains("mastodon/mastodon") || !version.contains("compatible") {
        "mastodon"
    } else {
        "other"
    }
}

fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    super::read_deletion(r, message, now)
}

/// An answer whose body nothing needs.
fn read_any(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    classify(r, message, |_| None, now)?;
    Ok(Slots::new())
}

/// 200 with the Status (`id`, `url`).
fn read_status(
    response: &Response,
    _: &Slots,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    classify(response, message, |_| None, now)?;
    let body = response.json().ok_or_else(|| {
        DeliveryError::uncertain(format!(
            "Mastodon answered {} without the status JSON: {}",
            response.status,
            body_excerpt(&response.text())
        ))
    })?;
    let id = body.get("id").and_then(|i| i.as_str()).map(str::to_string);
    if id.is_none() {
        return Err(DeliveryError::uncertain(format!(
            "Mastodon's answer has no status id: {}",
            body_excerpt(&response.text())
        )));
    }
    Ok(Delivered {
        reference: None,
        remote_id: id,
        remote_url: body.get("url").and_then(|u| u.as_str()).map(str::to_string),
    })
}

impl Platform for Mastodon {
    fn kind(&self) -> &'static str {
        "mastodon"
    }

    /// In the text, counted in its limit.
    fn hashtags(&self) -> Hashtags {
        Hashtags::InText
    }

    fn visibilities(&self) -> &'static [&'static str] {
        VISIBILITIES
    }

    /// `spoiler_text` counts in the status's limit.
    fn content_warnings(&self) -> ContentWarnings {
        ContentWarnings::Counted
    }

    fn default_content_warning(&self) -> Option<&str> {
        self.cw.as_deref()
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("token", &self.token, SecretKind::Token)]
    }

    /// Graphemes, every URL 23, up to the instance's limit (500 until the
    /// instance has been asked).
    fn text(&self, learned: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit {
                unit: CountUnit::Graphemes,
                max: learned
                    .get(MAX_CHARACTERS)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(DEFAULT_MAX_CHARACTERS),
                url_length: Some(URL_LENGTH),
                max_bytes: None,
            },
            shape: Shape::Text,
        }
    }

    /// Idempotency where the server is known to keep the key; an instance
    /// not asked yet is taken to be Mastodon (the first run asks before it
    /// sends anything).
    fn capabilities(&self, learned: &Learned) -> Capabilities {
        let software = learned.get(SOFTWARE).unwrap_or("mastodon");
        Capabilities {
            edit: true,
            idempotency: if IDEMPOTENT_SOFTWARE.contains(&software) {
                Idempotency::Key {
                    kept_for: Some(KEY_LIFETIME),
                }
            } else {
                Idempotency::None
            },
            threads: true,
            ..Capabilities::default()
        }
    }

    fn learn(&self, learned: &Learned, now: DateTime<Utc>) -> Option<Learning> {
        learned
            .stale(MAX_CHARACTERS, now, LIMIT_KEPT)
            .then(|| Learning {
                request: Request::new(Method::Get, self.api("api/v2/instance"), Body::Empty),
                read: read_instance,
                what: "the instance's text limit and software",
                // Older Pleroma and Akkoma have no v2 instance.
                otherwise: Some(Request::new(
                    Method::Get,
                    self.api("api/v1/instance"),
                    Body::Empty,
                )),
            })
    }

    fn steps(&self, post: &Post, edit: Option<&str>, _learned: &Learned) -> Steps {
        let mut steps = Vec::new();
        if let Some(image) = &post.image {
            steps.push(Step::Upload(self.media_step(post, image)));
            steps.push(Step::Poll(self.poll_step()));
        }
        steps.push(Step::send(SendStep::new(
            self.status_request(post, edit, post.image.is_some()),
            read_status,
        )));
        Steps(steps)
    }

    /// `in_reply_to_id`, under the part's own `Idempotency-Key`.
    fn reply_steps(&self, part: &Post, _learned: &Learned) -> Option<Steps> {
        let mut request = self.status_request(part, None, false);
        if let Body::Json(body) = &mut request.body {
            body["in_reply_to_id"] = json!("<id of the part before>");
        }
        let request = request.fill(
            "/in_reply_to_id",
            Part::slot(super::PARENT_ID, "<id of the part before>"),
        );
        Some(Steps(vec![Step::send(SendStep::new(request, read_status))]))
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id = remote.id?;
        Some(Steps(vec![Step::send(SendStep::new(
            Request::new(
                Method::Delete,
                self.api(&format!("api/v1/statuses/{id}")),
                Body::Empty,
            )
            .header("Authorization", self.bearer()),
            read_deleted,
        ))]))
    }

    /// A reblog of the status, after undoing the last one (a status is
    /// reblogged once at a time; undoing and reblogging brings it up
    /// again).
    fn reshare(&self, remote: &super::Remote<'_>, previous: Option<&str>) -> Option<Steps> {
        let id = remote.id?;
        let mut steps = Vec::new();
        if previous.is_some() {
            steps.push(Step::Call(CallStep {
                request: Request::new(
                    Method::Post,
                    self.api(&format!("api/v1/statuses/{id}/unreblog")),
                    Body::Empty,
                )
                .header("Authorization", self.bearer()),
                read: read_any,
                when: None,
                optional: Some("the last reblog could not be undone".to_string()),
                note: "undo the last reblog, so the new one shows".to_string(),
            }));
        }
        steps.push(Step::send(SendStep::new(
            Request::new(
                Method::Post,
                self.api(&format!("api/v1/statuses/{id}/reblog")),
                Body::Empty,
            )
            .header("Authorization", self.bearer()),
            read_status,
        )));
        Some(Steps(steps))
    }

    fn account(&self) -> Option<String> {
        self.instance
            .host_str()
            .map(|h| format!("the token's account on {h}"))
    }

    fn card(&self, _post: &Post, c: &Card<'_>) -> String {
        c.timeline()
    }

    fn card_style(&self) -> &'static str {
        ".mastodon{background:#191b22;color:#fff}.mastodon .bar{background:#6364ff}.mastodon .avatar{background:#6364ff}.mastodon a{color:#8c8dff}"
    }
}
