//! Bluesky (AT Protocol): a session (`createSession`) kept in the ledger and
//! reused across runs, refreshed with `refreshSession` when its access token
//! ends, so cron runs do not spend the account's 30-per-5-minutes and
//! 300-a-day logins; the hero image re-encoded to fit 1,000,000 bytes
//! without metadata and uploaded with `uploadBlob`; then `createRecord` with
//! an `app.bsky.embed.external` link card, link facets at exact UTF-8 byte
//! offsets, `langs` and `createdAt`.
//!
//! The record key is a TID derived from the publish time and the idempotency
//! key, so a resend targets the same record: the PDS refuses it instead of
//! making a second post, and that refusal counts as posted.

use std::io::Cursor;
use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use super::card::{Card, esc};
use super::compose::{CountUnit, TextLimit, url_spans};
use super::http::{
    Body, DeliveryError, Method, Part, Request, Response, Slots, Template, body_excerpt, classify,
    endpoint,
};
use super::image::ImageData;
use super::keys::{KeyError, Keys};
use super::steps::{CallStep, SendStep, Session, SessionStep, Step, Steps, UploadStep, Verify};
use super::{
    Capabilities, Delivered, Hashtags, Idempotency, Learned, Platform, Post, SecretField,
    SecretKind, Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// Blobs for images and link-card thumbnails must not be larger.
pub const MAX_BLOB_BYTES: usize = 1_000_000;

/// An account on a PDS.
#[derive(Debug)]
pub struct Bluesky {
    service: Url,
    identifier: String,
    app_password: Secret,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlueskyKeys {
    service: Option<String>,
    identifier: Text,
    app_password: Secret,
}

/// Example keys: an account on a PDS at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"service": base, "identifier": "example.bsky.social", "app_password": "abcd-efgh-ijkl-mnop"})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: BlueskyKeys = keys.read()?;
    Ok(Arc::new(Bluesky {
        service: keys.url(
            "service",
            k.service.as_deref().unwrap_or("https://bsky.social"),
        )?,
        identifier: keys.text("identifier", &k.identifier.0)?,
        app_password: k.app_password,
    }))
}

const ACCESS: &str = "<accessJwt from createSession>";
const DID: &str = "<did from createSession>";

impl Bluesky {
    fn xrpc(&self, method: &str) -> Template {
        Template::text(endpoint(&self.service, &format!("xrpc/{method}")))
    }

    fn bearer() -> Template {
        Template::text("Bearer ").then_slot("access_token", ACCESS)
    }

    fn session_step(&self) -> SessionStep {
        let login = Request::new(
            Method::Post,
            self.xrpc("com.atproto.server.createSession"),
            Body::Json(json!({"identifier": self.identifier, "password": "<app password>"})),
        )
        .fill("/password", Part::Secret(self.app_password.clone()));
        let refresh = Request::new(
            Method::Post,
            self.xrpc("com.atproto.server.refreshSession"),
            Body::Empty,
        )
        .header(
            "Authorization",
            Template::text("Bearer ")
                .then_slot("refresh_token", "<refreshJwt kept from an earlier session>"),
        );
        SessionStep {
            login: Some(login),
            refresh: Some(refresh),
            read: read_session,
            seed_refresh: None,
            renew_within: None,
        }
    }

    fn upload_step(&self, image: &Url) -> UploadStep {
        UploadStep {
            image: image.clone(),
            prepare: prepare_thumb,
            request: Request::new(
                Method::Post,
                self.xrpc("com.atproto.repo.uploadBlob"),
                Body::Image {
                    note: format!("the image at {image}, re-encoded as JPEG under 1,000,000 bytes"),
                },
            )
            .header("Authorization", Self::bearer()),
            read: read_upload,
            without: Slots::new(),
            needs: None,
        }
    }

    /// `getRecord` for the post's record: a PDS answers a `createRecord`
    /// whose key exists with `500 InternalServerError`, so after a lost or
    /// refused answer the repository is asked whether the record is there.
    fn record_request(&self, rkey: &str) -> Request {
        Request::new(
            Method::Get,
            self.xrpc("com.atproto.repo.getRecord")
                .then("?repo=")
                .then_slot("did", DID)
                .then(format!("&collection=app.bsky.feed.post&rkey={rkey}")),
            Body::Empty,
        )
    }

    fn create_request(&self, post: &Post, rkey: &str, thumb: bool) -> Request {
        let mut record = record(post);
        let card = record.pointer("/embed/external").is_some();
        let images = thumb && record.pointer("/embed/images").is_some();
        let thumb = thumb && card;
        if thumb {
            record["embed"]["external"]["thumb"] = json!("<blob from uploadBlob>");
        }
        let mut request = Request::new(
            Method::Post,
            self.xrpc("com.atproto.repo.createRecord"),
            Body::Json(json!({
                "repo": DID,
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
                "record": record,
            })),
        )
        .header("Authorization", Self::bearer())
        .fill("/repo", Part::slot("did", DID))
        .fill(
            "/record/createdAt",
            Part::slot("sent_at", "<time when sent>"),
        );
        if thumb {
            request = request.fill(
                "/record/embed/external/thumb",
                Part::slot("thumb", "<blob from uploadBlob>"),
            );
        }
        if images {
            // Without an uploaded image the post goes without the embed.
            request = request
                .fill(
                    "/record/embed",
                    Part::slot("images", "<image embed of the blob from uploadBlob>"),
                )
                .fill(
                    "/record/embed/images/0/alt",
                    Part::Text(post.image_alt.clone()),
                );
        }
        request
    }
}

fn message(r: &Response) -> String {
    match r.json() {
        Some(v) => {
            let error = v.get("error").and_then(|e| e.as_str()).unwrap_or_default();
            let message = v
                .get("message")
                .and_then(|e| e.as_str())
                .unwrap_or_default();
            match (error.is_empty(), message.is_empty()) {
                (false, false) => format!("{error}: {message}"),
                (false, true) => error.to_string(),
                (true, false) => message.to_string(),
                (true, true) => body_excerpt(&r.text()),
            }
        }
        None => body_excerpt(&r.text()),
    }
}

/// `classify`, with an ended or refused token (`ExpiredToken`,
/// `InvalidToken`) told apart, so the driver renews the session.
fn classify_xrpc(response: &Response, now: DateTime<Utc>) -> Result<(), DeliveryError> {
    let error = response
        .json()
        .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string));
    match classify(response, message, |_| None, now) {
        Err(DeliveryError::Permanent { message })
            if matches!(response.status, 400 | 401)
                && matches!(error.as_deref(), Some("ExpiredToken" | "InvalidToken")) =>
        {
            Err(DeliveryError::AuthExpired { message })
        }
        other => other,
    }
}

/// An answer whose body nothing needs; a record already gone is gone.
fn read_any(response: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    if matches!(response.status, 404 | 410) {
        return Ok(Slots::new());
    }
    classify_xrpc(response, now).map(|()| Slots::new())
}

/// A repost's `uri` (to delete it before the next one).
fn read_repost(
    response: &Response,
    _: &Slots,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    classify_xrpc(response, now)?;
    Ok(Delivered {
        remote_id: response
            .json()
            .and_then(|v| v.get("uri").and_then(|u| u.as_str()).map(str::to_string)),
        ..Delivered::default()
    })
}

/// `deleteRecord` answers 200; a record already gone is gone.
fn read_deleted(
    response: &Response,
    _: &Slots,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    if matches!(response.status, 404 | 410) {
        return Ok(Delivered::default());
    }
    classify_xrpc(response, now).map(|()| Delivered::default())
}

/// How long until `RateLimit-Reset` (a Unix time), which the PDS sends
/// with a 429.
fn reset_delay(response: &Response) -> Option<std::time::Duration> {
    let reset: i64 = response.header("ratelimit-reset")?.trim().parse().ok()?;
    let reset = DateTime::from_timestamp(reset, 0)?;
    Some((reset - Utc::now()).to_std().unwrap_or_default())
}

/// The `exp` claim of a JWT, if it has one that can be read.
fn jwt_expiry(jwt: &str) -> Option<DateTime<Utc>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let exp = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_i64()?;
    DateTime::from_timestamp(exp, 0)
}

/// `createSession` and `refreshSession` answer `accessJwt`, `refreshJwt`
/// and `did`.
fn read_session(response: &Response, now: DateTime<Utc>) -> Result<Session, DeliveryError> {
    classify(response, message, reset_delay, now)?;
    let v = response
        .json()
        .ok_or_else(|| DeliveryError::retryable("the session answer is not JSON"))?;
    let (Some(access), Some(did)) = (
        v.get("accessJwt").and_then(|j| j.as_str()),
        v.get("did").and_then(|d| d.as_str()),
    ) else {
        return Err(DeliveryError::retryable(
            "the session answer has no accessJwt and did",
        ));
    };
    let refresh = v.get("refreshJwt").and_then(|j| j.as_str());
    Ok(Session {
        access: access.to_string(),
        refresh: refresh.map(str::to_string),
        values: [("did".to_string(), did.to_string())].into(),
        access_expires: jwt_expiry(access),
        refresh_expires: refresh.and_then(jwt_expiry),
    })
}

/// Decodes any supported image and encodes it as JPEG (which carries no
/// EXIF or other metadata), scaling down until it fits `MAX_BLOB_BYTES`.
pub fn prepare_thumb(fetched: &ImageData) -> Result<ImageData, String> {
    let image = ::image::load_from_memory(&fetched.bytes)
        .map_err(|e| format!("the hero image cannot be decoded: {e}"))?;
    let mut image = image.to_rgb8();
    // Link cards show at most ~1200 px wide; start at 2000.
    let (w, h) = image.dimensions();
    let longest = w.max(h);
    if longest > 2000 {
        let scale = 2000.0 / longest as f32;
        image = ::image::imageops::resize(
            &image,
            ((w as f32 * scale) as u32).max(1),
            ((h as f32 * scale) as u32).max(1),
            ::image::imageops::FilterType::Triangle,
        );
    }
    for _ in 0..12 {
        let mut out = Cursor::new(Vec::new());
        ::image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 82)
            .encode_image(&image)
            .map_err(|e| format!("the hero image cannot be encoded: {e}"))?;
        let out = out.into_inner();
        if out.len() <= MAX_BLOB_BYTES {
            return Ok(ImageData {
                url: fetched.url.clone(),
                content_type: "image/jpeg".to_string(),
                bytes: Arc::new(out),
            });
        }
        let (w, h) = image.dimensions();
        image = ::image::imageops::resize(
            &image,
            ((w as f32 * 0.75) as u32).max(1),
            ((h as f32 * 0.75) as u32).max(1),
            ::image::imageops::FilterType::Triangle,
        );
    }
    Err("the hero image could not be made smaller than 1,000,000 bytes".to_string())
}

/// The `blob` object to put in the record.
fn read_upload(response: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    classify_xrpc(response, now)?;
    let blob = response
        .json()
        .and_then(|v| v.get("blob").cloned())
        .ok_or_else(|| DeliveryError::retryable("uploadBlob answered without a blob"))?;
    // The blob as a link card's thumbnail, and as the image of a post
    // without a link (its alt text is filled in by the request).
    let images = json!({
        "$type": "app.bsky.embed.images",
        "images": [{"image": blob.clone(), "alt": ""}],
    });
    Ok([("thumb".to_string(), blob), ("images".to_string(), images)].into())
}

/// Link facets for every URL in `text`, and tag facets for each of
/// `hashtags` written in it as a word of its own (`#Rust`, not inside a
/// link or a longer tag), at UTF-8 byte offsets, in the order they appear.
/// Bluesky shows `#word` as plain text without a facet.
pub fn facets(text: &str, hashtags: &[String]) -> Vec<serde_json::Value> {
    let links = url_spans(text);
    let mut out: Vec<(usize, serde_json::Value)> = links
        .iter()
        .map(|&(start, end)| {
            (
                start,
                json!({
                    "index": {"byteStart": start, "byteEnd": end},
                    "features": [{"$type": "app.bsky.richtext.facet#link", "uri": &text[start..end]}],
                }),
            )
        })
        .collect();
    for tag in hashtags {
        let written = format!("#{tag}");
        for (start, _) in text.match_indices(&written) {
            let end = start + written.len();
            let before_ok = text[..start]
                .chars()
                .next_back()
                .is_none_or(char::is_whitespace);
            let after_ok = text[end..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
            let in_link = links.iter().any(|&(s, e)| start < e && s < end);
            if before_ok && after_ok && !in_link {
                out.push((
                    start,
                    json!({
                        "index": {"byteStart": start, "byteEnd": end},
                        "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": tag}],
                    }),
                ));
            }
        }
    }
    out.sort_by_key(|(start, _)| *start);
    out.into_iter().map(|(_, f)| f).collect()
}

/// The post record; `createdAt` is filled when it is sent.
fn record(post: &Post) -> serde_json::Value {
    let external = json!({
        "uri": post.url,
        "title": post.fields.title,
        "description": post.fields.summary,
    });
    let mut record = json!({
        "$type": "app.bsky.feed.post",
        "text": post.fitted.text,
        "createdAt": "<time when sent>",
        "langs": [post.language],
    });
    // The link card goes with the text that has the link (with
    // `link_in_reply`, the first reply); a post without it shows the hero
    // image itself.
    if post.fitted.text.contains(post.url.as_str()) {
        record["embed"] = json!({"$type": "app.bsky.embed.external", "external": external});
    } else if post.image.is_some() {
        record["embed"] = json!({
            "$type": "app.bsky.embed.images",
            "images": [{"image": "<blob from uploadBlob>", "alt": post.image_alt}],
        });
    }
    let facets = facets(&post.fitted.text, &post.hashtags);
    if !facets.is_empty() {
        record["facets"] = json!(facets);
    }
    record
}

/// The time format records use.
pub fn record_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `{"uri": "at://…", "cid": …}`. A refusal because the record key is taken
/// means an earlier attempt made the post: it counts as posted. (The PDS
/// answers such a write with `InvalidSwap` or a message saying the record
/// already exists; both are accepted.)
fn read_create(
    response: &Response,
    slots: &Slots,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    let (did, rkey) = record_of(slots);
    parse_create(response, did, rkey, now)
}

/// The post's repository and record key, from the session and the step.
fn record_of(slots: &Slots) -> (&str, &str) {
    let get = |k: &str| slots.get(k).and_then(|v| v.as_str()).unwrap_or_default();
    (get("did"), get("rkey"))
}

/// Where bsky.app shows a post.
fn web_url(did: &str, rkey: &str) -> String {
    format!("https://bsky.app/profile/{did}/post/{rkey}")
}

fn parse_create(
    response: &Response,
    did: &str,
    rkey: &str,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    let web_url = web_url(did, rkey);
    match classify_xrpc(response, now) {
        Ok(()) => {}
        Err(DeliveryError::Permanent { message }) if already_exists(&message) => {
            return Ok(Delivered {
                reference: None,
                remote_id: Some(format!("at://{did}/app.bsky.feed.post/{rkey}")),
                remote_url: Some(web_url),
            });
        }
        Err(e) => return Err(e),
    }
    let uri = response
        .json()
        .and_then(|v| v.get("uri").and_then(|u| u.as_str()).map(str::to_string))
        .ok_or_else(|| {
            DeliveryError::uncertain(format!(
                "createRecord answered {} without a uri: {}",
                response.status,
                body_excerpt(&response.text())
            ))
        })?;
    Ok(Delivered {
        reference: cid(response),
        remote_id: Some(uri),
        remote_url: Some(web_url),
    })
}

/// The record's `cid` in an answer: what a reply names with its uri.
fn cid(response: &Response) -> Option<String> {
    response
        .json()
        .and_then(|v| v.get("cid").and_then(|c| c.as_str()).map(str::to_string))
}

/// `getRecord`: 200 with the record's `uri` when it exists; 400
/// `RecordNotFound` when not.
fn read_record(
    response: &Response,
    slots: &Slots,
    now: DateTime<Utc>,
) -> Result<Option<Delivered>, DeliveryError> {
    if response.status == 400
        && response
            .json()
            .is_some_and(|v| v.get("error").and_then(|e| e.as_str()) == Some("RecordNotFound"))
    {
        return Ok(None);
    }
    classify_xrpc(response, now)?;
    let Some(uri) = response
        .json()
        .and_then(|v| v.get("uri").and_then(|u| u.as_str()).map(str::to_string))
    else {
        return Ok(None);
    };
    let (did, rkey) = record_of(slots);
    Ok(Some(Delivered {
        reference: cid(response),
        remote_id: Some(uri),
        remote_url: Some(web_url(did, rkey)),
    }))
}

fn already_exists(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("already exist") || m.contains("invalidswap")
}

const TID_ALPHABET: &[u8; 32] = b"234567abcdefghijklmnopqrstuvwxyz";

/// A valid TID (13 base32-sortable characters: 53 bits of microseconds, 10
/// bits of clock id) from the publish time and the idempotency key: the
/// same (target, article) always gets the same record key.
pub fn tid(published: DateTime<FixedOffset>, key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let h = u64::from_be_bytes([
        digest[0], digest[1], digest[2], digest[3], digest[4], digest[5], digest[6], digest[7],
    ]);
    let seconds = published.timestamp().max(0) as u64;
    let micros = (seconds * 1_000_000 + h % 1_000_000) & ((1 << 53) - 1);
    let clock = (h >> 20) & 0x3ff;
    let mut value = (micros << 10) | clock;
    let mut out = [b'2'; 13];
    for slot in out.iter_mut().rev() {
        *slot = TID_ALPHABET[(value & 31) as usize];
        value >>= 5;
    }
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

impl Platform for Bluesky {
    fn kind(&self) -> &'static str {
        "bluesky"
    }

    /// In the text, each with a tag facet.
    fn hashtags(&self) -> Hashtags {
        Hashtags::InText
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new(
            "app_password",
            &self.app_password,
            SecretKind::Text,
        )]
    }

    /// ≤ 300 graphemes and ≤ 3000 UTF-8 bytes; a URL counts in full.
    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit {
                unit: CountUnit::Graphemes,
                max: 300,
                url_length: None,
                max_bytes: Some(3000),
            },
            shape: Shape::Text,
        }
    }

    /// The record key is fixed per (target, article): a resend is refused.
    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            idempotency: Idempotency::Key { kept_for: None },
            threads: true,
            ..Capabilities::default()
        }
    }

    /// A record whose `reply` names the first part and the part before,
    /// each by uri and cid; the part's own record key makes a resend the
    /// same record.
    fn reply_steps(&self, part: &Post, _learned: &Learned) -> Option<Steps> {
        let rkey = tid(part.published, &part.idempotency_key);
        let mut request = self.create_request(part, &rkey, false);
        if let Body::Json(body) = &mut request.body {
            body["record"]["reply"] = json!({
                "root": {"uri": "<uri of the first part>", "cid": "<cid of the first part>"},
                "parent": {"uri": "<uri of the part before>", "cid": "<cid of the part before>"},
            });
        }
        // Each end of the thread the reply names, by uri and cid.
        for (end, id, reference, which) in [
            ("root", super::ROOT_ID, super::ROOT_REF, "the first part"),
            (
                "parent",
                super::PARENT_ID,
                super::PARENT_REF,
                "the part before",
            ),
        ] {
            request = request
                .fill(
                    &format!("/record/reply/{end}/uri"),
                    Part::slot(id, &format!("<uri of {which}>")),
                )
                .fill(
                    &format!("/record/reply/{end}/cid"),
                    Part::slot(reference, &format!("<cid of {which}>")),
                );
        }
        Some(Steps(vec![
            Step::Session(self.session_step()),
            Step::send(SendStep {
                known: [("rkey".to_string(), json!(rkey))].into(),
                verify: Some(Verify {
                    request: self.record_request(&rkey),
                    read: read_record,
                }),
                ..SendStep::new(request, read_create)
            }),
        ]))
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        let mut steps = vec![Step::Session(self.session_step())];
        let image = post.image.as_ref();
        if let Some(image) = image {
            steps.push(Step::Upload(self.upload_step(image)));
        }
        let rkey = tid(post.published, &post.idempotency_key);
        steps.push(Step::send(SendStep {
            known: [("rkey".to_string(), json!(rkey))].into(),
            verify: Some(Verify {
                request: self.record_request(&rkey),
                read: read_record,
            }),
            ..SendStep::new(
                self.create_request(post, &rkey, image.is_some()),
                read_create,
            )
        }));
        Steps(steps)
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        // `at://{did}/app.bsky.feed.post/{rkey}`
        let rkey = remote.id?.rsplit('/').next()?.to_string();
        let request = Request::new(
            Method::Post,
            self.xrpc("com.atproto.repo.deleteRecord"),
            Body::Json(json!({"repo": DID, "collection": "app.bsky.feed.post", "rkey": rkey})),
        )
        .header("Authorization", Self::bearer())
        .fill("/repo", Part::slot("did", DID));
        Some(Steps(vec![
            Step::Session(self.session_step()),
            Step::send(SendStep::new(request, read_deleted)),
        ]))
    }

    /// An `app.bsky.feed.repost` record of the post (by uri and cid),
    /// after deleting the last repost, so the new one shows.
    fn reshare(&self, remote: &super::Remote<'_>, previous: Option<&str>) -> Option<Steps> {
        let (uri, cid) = (remote.id?, remote.reference?);
        let mut steps = vec![Step::Session(self.session_step())];
        if let Some(rkey) = previous.and_then(|p| p.rsplit('/').next()) {
            steps.push(Step::Call(CallStep {
                request: Request::new(
                    Method::Post,
                    self.xrpc("com.atproto.repo.deleteRecord"),
                    Body::Json(
                        json!({"repo": DID, "collection": "app.bsky.feed.repost", "rkey": rkey}),
                    ),
                )
                .header("Authorization", Self::bearer())
                .fill("/repo", Part::slot("did", DID)),
                read: read_any,
                when: None,
                optional: Some("the last repost could not be deleted".to_string()),
                note: "delete the last repost, so the new one shows".to_string(),
            }));
        }
        let request = Request::new(
            Method::Post,
            self.xrpc("com.atproto.repo.createRecord"),
            Body::Json(json!({
                "repo": DID,
                "collection": "app.bsky.feed.repost",
                "record": {
                    "$type": "app.bsky.feed.repost",
                    "subject": {"uri": uri, "cid": cid},
                    "createdAt": "<time when sent>",
                },
            })),
        )
        .header("Authorization", Self::bearer())
        .fill("/repo", Part::slot("did", DID))
        .fill(
            "/record/createdAt",
            Part::slot("sent_at", "<time when sent>"),
        );
        steps.push(Step::send(SendStep::new(request, read_repost)));
        Some(Steps(steps))
    }

    fn account(&self) -> Option<String> {
        Some(format!("@{}", self.identifier))
    }

    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        let domain = post.url.host_str().unwrap_or_default();
        format!(
            "{}<div>{}</div><a class=\"linkcard\" href=\"{}\" style=\"display:block;color:inherit;text-decoration:none\">{}<div class=\"lc\"><strong>{}</strong><div class=\"d\">{}</div><div class=\"d\">{}</div></div></a>",
            c.who(),
            c.text,
            c.url,
            c.hero,
            esc(&post.fields.title),
            esc(&post.fields.summary),
            esc(domain)
        )
    }

    fn card_style(&self) -> &'static str {
        ".bluesky{background:#fff}.bluesky .bar{background:#1185fe}.bluesky .avatar{background:#1185fe}.bluesky a{color:#1185fe}"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_slice_exactly_the_url() {
        let text = "Ünïcödé 👩🏽‍💻 title\n\nRead it: https://news.example/a/ and more";
        let f = facets(text, &[]);
        assert_eq!(f.len(), 1);
        let start = f[0]["index"]["byteStart"].as_u64().unwrap() as usize;
        let end = f[0]["index"]["byteEnd"].as_u64().unwrap() as usize;
        assert_eq!(&text.as_bytes()[start..end], b"https://news.example/a/");
    }

    #[test]
    fn tids_are_valid_stable_and_distinct() {
        let date = DateTime::parse_from_rfc3339("2024-02-10T09:00:00Z").unwrap();
        let a = tid(date, "herald-a");
        assert_eq!(a, tid(date, "herald-a"));
        assert_ne!(a, tid(date, "herald-b"));
        assert_eq!(a.len(), 13);
        // The first character holds the top bits, which are 0: 2..j.
        assert!(b"234567abcdefghij".contains(&a.as_bytes()[0]), "{a}");
        assert!(a.bytes().all(|b| TID_ALPHABET.contains(&b)));
    }

    #[test]
    fn an_existing_record_key_counts_as_posted() {
        let now = Utc::now();
        let r = Response {
            status: 400,
            body: br#"{"error":"InvalidRequest","message":"Record already exists"}"#.to_vec(),
            ..Response::default()
        };
        let d = parse_create(&r, "did:plc:x", "3kabc", now).unwrap();
        assert_eq!(
            d.remote_id.as_deref(),
            Some("at://did:plc:x/app.bsky.feed.post/3kabc")
        );
        let other = Response {
            status: 400,
            body: br#"{"error":"InvalidRequest","message":"Invalid record"}"#.to_vec(),
            ..Response::default()
        };
        assert!(matches!(
            parse_create(&other, "d", "k", now),
            Err(DeliveryError::Permanent { .. })
        ));
    }

    #[test]
    fn an_ended_token_asks_for_a_new_session() {
        let r = Response {
            status: 400,
            body: br#"{"error":"ExpiredToken","message":"Token has expired"}"#.to_vec(),
            ..Response::default()
        };
        assert!(matches!(
            classify_xrpc(&r, Utc::now()),
            Err(DeliveryError::AuthExpired { .. })
        ));
    }

    #[test]
    fn sessions_read_their_expiry_from_the_tokens() {
        let claims = |exp: i64| {
            format!(
                "h.{}.s",
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .encode(format!("{{\"exp\":{exp}}}"))
            )
        };
        let r = Response {
            status: 200,
            body: json!({"accessJwt": claims(1_700_000_000), "refreshJwt": claims(1_800_000_000), "did": "did:plc:x"})
                .to_string()
                .into_bytes(),
            ..Response::default()
        };
        let s = read_session(&r, Utc::now()).unwrap();
        assert_eq!(s.access_expires.unwrap().timestamp(), 1_700_000_000);
        assert_eq!(s.refresh_expires.unwrap().timestamp(), 1_800_000_000);
        assert_eq!(s.values["did"], "did:plc:x");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]
    /// Link facets slice exactly their URL out of the UTF-8 text.
    #[test]
    fn facets_slice_exactly_their_urls(before in "\\PC{0,80}", after in "\\PC{0,80}", path in "[a-z0-9/_-]{0,40}") {
        let url = format!("https://x.example/{path}");
        let text = format!("{before} {url} {after}");
        let f = facets(&text, &[]);
        let mut found = false;
        for facet in &f {
            let start = facet["index"]["byteStart"].as_u64().unwrap() as usize;
            let end = facet["index"]["byteEnd"].as_u64().unwrap() as usize;
            let slice = text.get(start..end);
            proptest::prop_assert!(slice.is_some(), "facet not on char boundaries");
            let slice = slice.unwrap();
            proptest::prop_assert_eq!(slice, facet["features"][0]["uri"].as_str().unwrap());
            proptest::prop_assert!(slice.starts_with("http"));
            found |= slice.starts_with(url.trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '"', '\'']));
        }
        proptest::prop_assert!(found, "the URL has a facet: {:?}", f);
    }
    }

    #[test]
    fn thumbs_fit_and_carry_no_metadata() {
        // Noise does not compress: its JPEG is well over the limit.
        let mut img = ::image::RgbImage::new(1000, 800);
        let mut state: u32 = 12345;
        for p in img.pixels_mut() {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let [a, b, c, _] = state.to_le_bytes();
            *p = ::image::Rgb([a, b, c]);
        }
        let mut png = Cursor::new(Vec::new());
        img.write_to(&mut png, ::image::ImageFormat::Png).unwrap();
        assert!(
            png.get_ref().len() > MAX_BLOB_BYTES,
            "the input must need shrinking"
        );
        let fetched = ImageData {
            url: Url::parse("https://img.example/a.png").unwrap(),
            content_type: "image/png".to_string(),
            bytes: Arc::new(png.into_inner()),
        };
        let out = prepare_thumb(&fetched).unwrap();
        assert!(out.bytes.len() <= MAX_BLOB_BYTES);
        assert_eq!(out.content_type, "image/jpeg");
        assert_eq!(&out.bytes[..2], &[0xFF, 0xD8]);
        assert!(!out.bytes.windows(4).any(|w| w == b"Exif"));
    }
}
