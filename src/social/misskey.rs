//! Misskey (and its forks: Firefish, Sharkey, …): the instance's own text
//! limit (`POST /api/meta`, `maxNoteTextLength`, learned before composing
//! and kept a day), the hero image uploaded to the drive with its alt text
//! as the file's comment, then `notes/create` with `visibility`, an
//! optional content warning (`cw`) and the file's id. Every call is a POST
//! with the token as a Bearer header. No idempotency and, upstream, no
//! edit: a resend is a second note.

use std::sync::Arc;

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
use super::steps::{SendStep, Step, Steps, UploadStep};
use super::{
    ContentWarnings, Delivered, Hashtags, Learned, Learning, Platform, Post, SecretField,
    SecretKind, Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// Misskey's default `maxNoteTextLength`, used until the instance is asked.
pub const DEFAULT_MAX_TEXT: usize = 3000;
/// A drive file's comment (its alt text) longer than this is refused.
pub const MAX_ALT: usize = 512;
/// The learned key of the instance's text limit.
pub const MAX_TEXT: &str = "max_note_text_length";
/// How long a learned limit is trusted before the instance is asked again.
const LIMIT_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(1);
/// Who may see a note.
const VISIBILITIES: &[&str] = &["public", "home", "followers"];

/// The longest content warning `notes/create` takes.
const MAX_CW: usize = 100;

/// An account on a Misskey instance.
#[derive(Debug)]
pub struct Misskey {
    instance: Url,
    token: Secret,
    visibility: String,
    cw: Option<String>,
    sensitive: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MisskeyKeys {
    instance: String,
    token: Secret,
    visibility: Option<Text>,
    cw: Option<Text>,
    #[serde(default)]
    sensitive: bool,
}

/// Example keys: an account on an instance at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"instance": base, "token": "example-token", "visibility": "public"})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: MisskeyKeys = keys.read()?;
    let visibility = match &k.visibility {
        Some(v) => keys.text("visibility", &v.0)?,
        None => "public".to_string(),
    };
    if !VISIBILITIES.contains(&visibility.as_str()) {
        return Err(KeyError::invalid(
            "visibility",
            format!("{visibility:?}: expected public, home or followers"),
        ));
    }
    Ok(Arc::new(Misskey {
        instance: keys.url("instance", &k.instance)?,
        token: k.token,
        visibility,
        cw: k.cw.map(|c| keys.text("cw", &c.0)).transpose()?,
        sensitive: k.sensitive,
    }))
}

impl Misskey {
    fn api(&self, path: &str) -> Template {
        Template::text(endpoint(&self.instance, &format!("api/{path}")))
    }

    fn bearer(&self) -> Template {
        Template::text("Bearer ").then_secret(&self.token)
    }

    fn upload_step(&self, post: &Post, image: &Url) -> UploadStep {
        let mut without = Slots::new();
        without.insert("file_ids".into(), json!([]));
        UploadStep {
            image: image.clone(),
            prepare: as_fetched,
            request: Request::new(
                Method::Post,
                self.api("drive/files/create"),
                Body::Multipart(vec![
                    (
                        "file".to_string(),
                        MultipartValue::Image {
                            stem: "hero".to_string(),
                            note: format!("the image at {image}, fetched when sent"),
                        },
                    ),
                    (
                        "comment".to_string(),
                        MultipartValue::Text(super::truncate_words(&post.image_alt, MAX_ALT)),
                    ),
                    (
                        "isSensitive".to_string(),
                        MultipartValue::Text(post.sensitive.unwrap_or(self.sensitive).to_string()),
                    ),
                ]),
            )
            .header("Authorization", self.bearer()),
            read: read_upload,
            without,
            needs: None,
        }
    }

    fn note_request(&self, post: &Post) -> Request {
        let body = json!({
            "text": post.fitted.text,
            "visibility": post.visibility.as_deref().unwrap_or(&self.visibility),
            "cw": post.content_warning.as_deref().map(|cw| super::truncate_words(cw, MAX_CW)),
            "fileIds": if post.image.is_some() { json!(["<id from drive/files/create>"]) } else { json!([]) },
        });
        let mut request = Request::new(Method::Post, self.api("notes/create"), Body::Json(body))
            .header("Authorization", self.bearer());
        if post.image.is_some() {
            request = request.fill(
                "/fileIds",
                Part::slot("file_ids", "<id from drive/files/create>"),
            );
        }
        request
    }
}

/// Misskey takes the image as it is; the fetch checked its type and size.
fn as_fetched(image: &ImageData) -> Result<ImageData, String> {
    Ok(image.clone())
}

fn message(r: &Response) -> String {
    let code = r.json().and_then(|v| {
        v.pointer("/error/code")
            .and_then(|c| c.as_str())
            .map(str::to_string)
    });
    let text = json_message(r, "/error/message");
    match code {
        Some(code) => format!("{code}: {text}"),
        None => text,
    }
}

/// A DriveFile: its `id`.
fn read_upload(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    classify(r, message, |_| None, now)?;
    let id = r
        .json()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
        .ok_or_else(|| {
            DeliveryError::retryable(format!(
                "the drive answer has no file id: {}",
                body_excerpt(&r.text())
            ))
        })?;
    let mut slots = Slots::new();
    slots.insert("file_ids".into(), json!([id]));
    Ok(slots)
}

/// 204; a note already gone (`NO_SUCH_NOTE`) is gone.
fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if r.status == 400 && message(r).starts_with("NO_SUCH_NOTE") {
        return Ok(Delivered::default());
    }
    super::read_deletion(r, message, now)
}

/// `{"createdNote":{"id":…}}`; its page is `{instance}/notes/{id}`.
fn read_note(r: &Response, slots: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(r, message, |_| None, now)?;
    let id = r
        .json()
        .and_then(|v| {
            v.pointer("/createdNote/id")
                .and_then(|i| i.as_str())
                .map(str::to_string)
        })
        .ok_or_else(|| {
            DeliveryError::uncertain(format!(
                "Misskey answered {} without the note's id: {}",
                r.status,
                body_excerpt(&r.text())
            ))
        })?;
    let instance = slots
        .get("instance")
        .and_then(|s| s.as_str())
        .unwrap_or_default()
        .trim_end_matches('/');
    Ok(Delivered {
        reference: None,
        remote_url: Some(format!("{instance}/notes/{id}")),
        remote_id: Some(id),
    })
}

/// `maxNoteTextLength` of the instance.
fn read_meta(r: &Response, now: DateTime<Utc>) -> Result<Vec<(String, String)>, DeliveryError> {
    classify(r, message, |_| None, now)?;
    r.json()
        .and_then(|v| {
            v.get("maxNoteTextLength")
                .and_then(serde_json::Value::as_u64)
        })
        .filter(|n| *n > 0)
        .map(|n| vec![(MAX_TEXT.to_string(), n.to_string())])
        .ok_or_else(|| DeliveryError::permanent("the instance did not say its maxNoteTextLength"))
}

impl Platform for Misskey {
    fn kind(&self) -> &'static str {
        "misskey"
    }

    fn hashtags(&self) -> Hashtags {
        Hashtags::InText
    }

    fn visibilities(&self) -> &'static [&'static str] {
        VISIBILITIES
    }

    /// `cw` has a limit of its own (100 characters).
    fn content_warnings(&self) -> ContentWarnings {
        ContentWarnings::Apart
    }

    fn default_content_warning(&self) -> Option<&str> {
        self.cw.as_deref()
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("token", &self.token, SecretKind::Token)]
    }

    /// Characters, up to the instance's limit (3,000 until it is asked).
    fn text(&self, learned: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(
                CountUnit::CodePoints,
                learned
                    .get(MAX_TEXT)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(DEFAULT_MAX_TEXT),
            ),
            shape: Shape::Text,
        }
    }

    fn learn(&self, learned: &Learned, now: DateTime<Utc>) -> Option<Learning> {
        learned.stale(MAX_TEXT, now, LIMIT_KEPT).then(|| Learning {
            request: Request::new(
                Method::Post,
                self.api("meta"),
                Body::Json(json!({"detail": false})),
            ),
            read: read_meta,
            what: "the instance's text limit",
            otherwise: None,
        })
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        let mut steps = Vec::new();
        if let Some(image) = &post.image {
            steps.push(Step::Upload(self.upload_step(post, image)));
        }
        let mut send = SendStep::new(self.note_request(post), read_note);
        send.known
            .insert("instance".into(), json!(self.instance.as_str()));
        steps.push(Step::send(send));
        Steps(steps)
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id = remote.id?;
        Some(Steps(vec![Step::send(SendStep::new(
            Request::new(
                Method::Post,
                self.api("notes/delete"),
                Body::Json(json!({"noteId": id})),
            )
            .header("Authorization", self.bearer()),
            read_deleted,
        ))]))
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
        ".misskey{background:#fff;color:#5f5f5f}.misskey .bar{background:#86b300}.misskey .avatar{background:#86b300}.misskey a{color:#86b300}"
    }
}
