//! Bluesky (AT Protocol): `createSession` once per run; the hero image
//! re-encoded to fit 1,000,000 bytes without metadata and uploaded with
//! `uploadBlob`; then `createRecord` with an `app.bsky.embed.external` link
//! card, link facets at exact UTF-8 byte offsets, `langs` and `createdAt`.
//!
//! The record key is a TID derived from the publish time and the idempotency
//! key, so a resend targets the same record: the PDS refuses it instead of
//! making a second post, and that refusal counts as posted.

use std::io::Cursor;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};
use url::Url;

use super::compose::url_spans;
use super::http::{
    Body, DeliveryError, Method, Request, Response, Template, body_excerpt, classify, endpoint,
};
use super::{Delivered, Post};
use crate::config::Secret;

/// Blobs for images and link-card thumbnails must not be larger.
pub const MAX_BLOB_BYTES: usize = 1_000_000;

/// An authenticated session.
#[derive(Debug, Clone)]
pub struct Session {
    pub access_jwt: Secret,
    pub did: String,
}

fn xrpc(service: &Url, method: &str) -> Template {
    Template::text(endpoint(service, &format!("xrpc/{method}")))
}

fn bearer(session: &Session) -> Template {
    Template::text("Bearer ").then_secret(&session.access_jwt)
}

pub fn session_request(service: &Url, identifier: &str, app_password: &Secret) -> Request {
    let mut r = Request::new(
        Method::Post,
        xrpc(service, "com.atproto.server.createSession"),
        Body::Json(json!({"identifier": identifier})),
    );
    r.json_secrets
        .push(("password".to_string(), app_password.clone()));
    r
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

pub fn parse_session(response: &Response, now: DateTime<Utc>) -> Result<Session, DeliveryError> {
    classify(response, message, |_| None, now)?;
    let v = response
        .json()
        .ok_or_else(|| DeliveryError::retryable("createSession answered without JSON"))?;
    match (
        v.get("accessJwt").and_then(|j| j.as_str()),
        v.get("did").and_then(|d| d.as_str()),
    ) {
        (Some(jwt), Some(did)) => Ok(Session {
            // A runtime token: held as a secret so it never prints.
            access_jwt: Secret::new(jwt.replace('$', "$$")),
            did: did.to_string(),
        }),
        _ => Err(DeliveryError::retryable(
            "createSession answered without accessJwt and did",
        )),
    }
}

/// Decodes any supported image and encodes it as JPEG (which carries no
/// EXIF or other metadata), scaling down until it fits `MAX_BLOB_BYTES`.
pub fn prepare_thumb(bytes: &[u8]) -> Result<Vec<u8>, String> {
    let image = ::image::load_from_memory(bytes)
        .map_err(|e| format!("the hero image cannot be decoded: {e}"))?;
    let mut image = image.to_rgb8();
    // Link cards show at most ~1200 px wide; start there.
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
            return Ok(out);
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

pub fn upload_request(service: &Url, session: &Session, jpeg: Vec<u8>) -> Request {
    Request::new(
        Method::Post,
        xrpc(service, "com.atproto.repo.uploadBlob"),
        Body::Bytes {
            content_type: "image/jpeg".to_string(),
            bytes: jpeg.into(),
        },
    )
    .header("Authorization", bearer(session))
}

/// The `blob` object to put in the record.
pub fn parse_upload(
    response: &Response,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, DeliveryError> {
    classify(response, message, |_| None, now)?;
    response
        .json()
        .and_then(|v| v.get("blob").cloned())
        .ok_or_else(|| DeliveryError::retryable("uploadBlob answered without a blob"))
}

/// Link facets for every URL in `text`, at UTF-8 byte offsets.
pub fn facets(text: &str) -> Vec<serde_json::Value> {
    url_spans(text)
        .into_iter()
        .map(|(start, end)| {
            json!({
                "index": {"byteStart": start, "byteEnd": end},
                "features": [{"$type": "app.bsky.richtext.facet#link", "uri": &text[start..end]}],
            })
        })
        .collect()
}

/// The post record. `thumb` is the uploaded blob, if any.
pub fn record(
    post: &Post,
    created_at: DateTime<Utc>,
    thumb: Option<serde_json::Value>,
) -> serde_json::Value {
    let mut external = json!({
        "uri": post.url,
        "title": post.fields.title,
        "description": post.fields.summary,
    });
    if let Some(thumb) = thumb {
        external["thumb"] = thumb;
    }
    let mut record = json!({
        "$type": "app.bsky.feed.post",
        "text": post.fitted.text,
        "createdAt": created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        "langs": [post.language],
        "embed": {"$type": "app.bsky.embed.external", "external": external},
    });
    let facets = facets(&post.fitted.text);
    if !facets.is_empty() {
        record["facets"] = json!(facets);
    }
    record
}

pub fn create_request(
    service: &Url,
    session: &Session,
    rkey: &str,
    record: serde_json::Value,
) -> Request {
    Request::new(
        Method::Post,
        xrpc(service, "com.atproto.repo.createRecord"),
        Body::Json(json!({
            "repo": session.did,
            "collection": "app.bsky.feed.post",
            "rkey": rkey,
            "record": record,
        })),
    )
    .header("Authorization", bearer(session))
}

/// `{"uri": "at://…", "cid": …}`. A refusal because the record key is taken
/// means an earlier attempt made the post: it counts as posted. (The PDS
/// answers such a write with `InvalidSwap` or a message saying the record
/// already exists; both are accepted.)
pub fn parse_create(
    response: &Response,
    did: &str,
    rkey: &str,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    let web_url = format!("https://bsky.app/profile/{did}/post/{rkey}");
    match classify(response, message, |_| None, now) {
        Ok(()) => {}
        Err(DeliveryError::Permanent { message }) if already_exists(&message) => {
            return Ok(Delivered {
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
        remote_id: Some(uri),
        remote_url: Some(web_url),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facets_slice_exactly_the_url() {
        let text = "Ünïcödé 👩🏽‍💻 title\n\nRead it: https://news.example/a/ and more";
        let f = facets(text);
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
        let out = prepare_thumb(png.get_ref()).unwrap();
        assert!(out.len() <= MAX_BLOB_BYTES);
        assert_eq!(&out[..2], &[0xFF, 0xD8]);
        assert!(!out.windows(4).any(|w| w == b"Exif"));
    }
}
