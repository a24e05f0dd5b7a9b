//! Matrix (client-server API): the hero image uploaded to the media
//! repository (`mxc://`) and sent as an `m.image` event with its alt text,
//! then the post as an `m.text` message with a plain `body` and an HTML
//! `formatted_body`. Both are `PUT …/send/m.room.message/{txnId}` with
//! transaction ids derived from the post's idempotency key, so a resend is
//! recognised by the homeserver and returns the first event. 429
//! `M_LIMIT_EXCEEDED` waits what `retry_after_ms` says. Edits are a new
//! event with an `m.replace` relation to the post.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::card::{Card, rich};
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Part, Request, Response, Slots, Template, body_excerpt, classify,
    endpoint,
};
use super::image::ImageData;
use super::keys::{KeyError, Keys};
use super::steps::{CallStep, SendStep, Step, Steps, UploadStep};
use super::{
    Capabilities, Delivered, Idempotency, Learned, Platform, Post, SecretField, SecretKind, Shape,
    TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// An event's JSON must stay under 65,536 bytes; the text is sent twice
/// (plain and HTML), so it gets well under half.
pub const MAX_TEXT_BYTES: usize = 24_000;
/// How long Synapse remembers a transaction id (its transaction cache).
pub const TXN_KEPT: Duration = Duration::from_secs(30 * 60);

/// A room on a Matrix homeserver.
#[derive(Debug)]
pub struct Matrix {
    homeserver: Url,
    room_id: String,
    access_token: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MatrixKeys {
    homeserver: String,
    room_id: Text,
    access_token: Secret,
}

/// Example keys: a room on a homeserver at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"homeserver": base, "room_id": "!news:example.org", "access_token": "syt_example"})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: MatrixKeys = keys.read()?;
    let room_id = keys.text("room_id", &k.room_id.0)?;
    if !room_id.starts_with('!') || room_id.len() < 2 || room_id.contains(char::is_whitespace) {
        return Err(KeyError::invalid(
            "room_id",
            format!(
                "{room_id:?} is not a room id (it starts with `!`; an alias such as #news:example.org is not accepted: the room's settings show its id)"
            ),
        ));
    }
    Ok(Arc::new(Matrix {
        homeserver: keys.url("homeserver", &k.homeserver)?,
        room_id,
        access_token: k.access_token,
    }))
}

/// `text` as one URL path segment.
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// A transaction id for `purpose` of the post keyed `key`: stable across
/// resends, distinct per event.
fn txn(key: &str, purpose: &str) -> String {
    format!("{key}-{purpose}")
}

impl Matrix {
    fn bearer(&self) -> Template {
        Template::text("Bearer ").then_secret(&self.access_token)
    }

    fn send_url(&self, txn_id: &str) -> Template {
        Template::text(endpoint(
            &self.homeserver,
            &format!(
                "_matrix/client/v3/rooms/{}/send/m.room.message/{}",
                segment(&self.room_id),
                segment(txn_id)
            ),
        ))
    }

    fn upload_step(&self, image: &Url) -> UploadStep {
        UploadStep {
            image: image.clone(),
            prepare: as_fetched,
            request: Request::new(
                Method::Post,
                Template::text(endpoint(&self.homeserver, "_matrix/media/v3/upload")),
                Body::Image {
                    note: format!("the image at {image}"),
                },
            )
            .query("filename", "hero.jpg")
            .header("Authorization", self.bearer()),
            read: read_upload,
            without: Slots::new(),
            needs: None,
        }
    }

    fn image_step(&self, post: &Post) -> CallStep {
        let body = json!({
            "msgtype": "m.image",
            "body": super::truncate_words(&post.image_alt, 1000),
            "url": "<mxc:// from the upload>",
        });
        CallStep {
            request: Request::new(
                Method::Put,
                self.send_url(&txn(&post.idempotency_key, "image")),
                Body::Json(body),
            )
            .header("Authorization", self.bearer())
            .fill("/url", Part::slot("mxc", "<mxc:// from the upload>")),
            read: read_event,
            when: Some("image_uploaded".to_string()),
            optional: Some("the image event could not be sent; the text went alone".to_string()),
            note: "the hero image as an m.image event, with its alt text".to_string(),
        }
    }

    fn content(post: &Post) -> serde_json::Value {
        json!({
            "msgtype": "m.text",
            "body": post.fitted.text,
            "format": "org.matrix.custom.html",
            "formatted_body": rich(&post.fitted.text),
        })
    }

    fn text_request(&self, post: &Post, edit: Option<&str>) -> Request {
        let (txn_id, body) = match edit {
            None => (txn(&post.idempotency_key, "text"), Self::content(post)),
            Some(event_id) => {
                let new = Self::content(post);
                let hash: String = post.content_hash.chars().take(12).collect();
                (
                    txn(&post.idempotency_key, &format!("edit-{hash}")),
                    json!({
                        "msgtype": "m.text",
                        "body": format!("* {}", post.fitted.text),
                        "format": "org.matrix.custom.html",
                        "formatted_body": format!("* {}", rich(&post.fitted.text)),
                        "m.new_content": new,
                        "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
                    }),
                )
            }
        };
        Request::new(Method::Put, self.send_url(&txn_id), Body::Json(body))
            .header("Authorization", self.bearer())
    }
}

/// The media repository takes the image as it is.
fn as_fetched(image: &ImageData) -> Result<ImageData, String> {
    Ok(image.clone())
}

/// `M_FORBIDDEN: You are not invited to this room.`, with what to do.
fn message(r: &Response) -> String {
    let v = r.json().unwrap_or_default();
    let code = v
        .get("errcode")
        .and_then(|c| c.as_str())
        .unwrap_or_default();
    let text = v
        .get("error")
        .and_then(|c| c.as_str())
        .map_or_else(|| body_excerpt(&r.text()), str::to_string);
    match code {
        "" => text,
        "M_FORBIDDEN" => format!(
            "M_FORBIDDEN: {text} (the token's user must have joined the room and be allowed to send messages; an encrypted room cannot be posted to)"
        ),
        code => format!("{code}: {text}"),
    }
}

/// `retry_after_ms` of an `M_LIMIT_EXCEEDED`.
fn body_delay(r: &Response) -> Option<Duration> {
    r.json()?
        .get("retry_after_ms")
        .and_then(serde_json::Value::as_u64)
        .map(Duration::from_millis)
}

/// 401 `M_UNKNOWN_TOKEN` is a token that ended or was revoked.
fn check(r: &Response, now: DateTime<Utc>) -> Result<(), DeliveryError> {
    if r.status == 401 {
        return Err(DeliveryError::AuthExpired {
            message: format!("HTTP 401: {}", message(r)),
        });
    }
    classify(r, message, body_delay, now)
}

/// `{"content_uri":"mxc://…"}`.
fn read_upload(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    check(r, now)?;
    let uri = r
        .json()
        .and_then(|v| {
            v.get("content_uri")
                .and_then(|u| u.as_str())
                .map(str::to_string)
        })
        .filter(|u| u.starts_with("mxc://"))
        .ok_or_else(|| {
            DeliveryError::retryable(format!(
                "the upload answer has no mxc:// content_uri: {}",
                body_excerpt(&r.text())
            ))
        })?;
    let mut slots = Slots::new();
    slots.insert("mxc".into(), json!(uri));
    slots.insert("image_uploaded".into(), json!(true));
    Ok(slots)
}

fn event_id(r: &Response) -> Option<String> {
    r.json().and_then(|v| {
        v.get("event_id")
            .and_then(|e| e.as_str())
            .map(str::to_string)
    })
}

fn read_event(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    check(r, now).map(|()| Slots::new())
}

/// A redaction's `{"event_id":…}`; an event already gone is gone.
fn read_redacted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if matches!(r.status, 404 | 410) {
        return Ok(Delivered::default());
    }
    check(r, now).map(|()| Delivered::default())
}

/// `{"event_id":"$…"}`; its address is a matrix.to link.
fn read_sent(r: &Response, slots: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    check(r, now)?;
    let id = event_id(r).ok_or_else(|| {
        DeliveryError::uncertain(format!(
            "the homeserver answered {} without the event id: {}",
            r.status,
            body_excerpt(&r.text())
        ))
    })?;
    let room = slots
        .get("room_id")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    Ok(Delivered {
        reference: None,
        remote_url: Some(format!(
            "https://matrix.to/#/{}/{}",
            segment(room),
            segment(&id)
        )),
        remote_id: Some(id),
    })
}

impl Platform for Matrix {
    fn kind(&self) -> &'static str {
        "matrix"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new(
            "access_token",
            &self.access_token,
            SecretKind::Token,
        )]
    }

    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::Bytes, MAX_TEXT_BYTES),
            shape: Shape::Text,
        }
    }

    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            edit: true,
            idempotency: Idempotency::Key {
                kept_for: Some(TXN_KEPT),
            },
            ..Capabilities::default()
        }
    }

    fn steps(&self, post: &Post, edit: Option<&str>, _learned: &Learned) -> Steps {
        let mut steps = Vec::new();
        if let (Some(image), None) = (&post.image, edit) {
            steps.push(Step::Upload(self.upload_step(image)));
            steps.push(Step::Call(self.image_step(post)));
        }
        let mut send = SendStep::new(self.text_request(post, edit), read_sent);
        send.known.insert("room_id".into(), json!(self.room_id));
        steps.push(Step::send(send));
        Steps(steps)
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let event = remote.id?;
        let url = Template::text(endpoint(
            &self.homeserver,
            &format!(
                "_matrix/client/v3/rooms/{}/redact/{}/{}",
                segment(&self.room_id),
                segment(event),
                segment(&txn(remote.key, "redact"))
            ),
        ));
        Some(Steps(vec![Step::send(SendStep::new(
            Request::new(
                Method::Put,
                url,
                Body::Json(json!({"reason": "The article was unpublished."})),
            )
            .header("Authorization", self.bearer()),
            read_redacted,
        ))]))
    }

    fn account(&self) -> Option<String> {
        Some(format!("the token's user, in {}", self.room_id))
    }

    fn card(&self, _post: &Post, c: &Card<'_>) -> String {
        format!("{}{}<div>{}</div>", c.who(), c.hero, c.text)
    }

    fn card_style(&self) -> &'static str {
        ".matrix{background:#fff;color:#17191c}.matrix .bar{background:#0dbd8b}.matrix .avatar{background:#0dbd8b}.matrix a{color:#0086e6}"
    }
}
