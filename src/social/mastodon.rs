//! Mastodon: the instance's real limits (`/api/v2/instance`), the hero image
//! uploaded with its alt text (`/api/v2/media`, polled while the server
//! processes it), then the status with `media_ids`, `language` and an
//! `Idempotency-Key`, which Mastodon honours for an hour: a resend with the
//! same key returns the first status instead of a second one.

use serde_json::json;
use url::Url;

use super::http::{
    Body, DeliveryError, Method, MultipartValue, Request, Response, Template, body_excerpt,
    classify, endpoint, json_message,
};
use super::image::ImageData;
use super::{Delivered, Post};
use crate::config::Secret;

/// A stock instance's limit, used until the instance has been asked.
pub const DEFAULT_MAX_CHARACTERS: usize = 500;
/// Every URL counts as this many characters.
pub const URL_LENGTH: usize = 23;
/// Alt text longer than this is refused.
pub const MAX_ALT: usize = 1500;

fn bearer(token: &Secret) -> Template {
    Template::text("Bearer ").then_secret(token)
}

pub fn instance_request(instance: &Url) -> Request {
    Request::new(
        Method::Get,
        Template::text(endpoint(instance, "api/v2/instance")),
        Body::Empty,
    )
}

/// `configuration.statuses.max_characters` of the instance.
pub fn parse_instance(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, DeliveryError> {
    classify(response, message, |_| None, now)?;
    response
        .json()
        .and_then(|v| {
            v.pointer("/configuration/statuses/max_characters")
                .and_then(|m| m.as_u64())
        })
        .map(|m| m as usize)
        .ok_or_else(|| DeliveryError::permanent("the instance did not say its max_characters"))
}

pub fn media_request(instance: &Url, token: &Secret, image: &ImageData, alt: &str) -> Request {
    let extension = image.content_type.rsplit('/').next().unwrap_or("jpg");
    Request::new(
        Method::Post,
        Template::text(endpoint(instance, "api/v2/media")),
        Body::Multipart(vec![
            (
                "file".to_string(),
                MultipartValue::File {
                    file_name: format!("hero.{extension}"),
                    content_type: image.content_type.clone(),
                    bytes: image.bytes.clone(),
                },
            ),
            (
                "description".to_string(),
                MultipartValue::Text(super::truncate_words(alt, MAX_ALT)),
            ),
        ]),
    )
    .header("Authorization", bearer(token))
}

/// An uploaded attachment: usable now, or still being processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Media {
    Ready(String),
    Processing(String),
}

/// `POST /api/v2/media`: 200 ready, 202 processing; `GET /api/v1/media/:id`:
/// 200 ready, 206 processing.
pub fn parse_media(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Media, DeliveryError> {
    classify(response, message, |_| None, now)?;
    let id = response
        .json()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
        .ok_or_else(|| {
            DeliveryError::retryable(format!(
                "the media answer has no id: {}",
                body_excerpt(&response.text())
            ))
        })?;
    Ok(match response.status {
        202 | 206 => Media::Processing(id),
        _ => Media::Ready(id),
    })
}

pub fn media_status_request(instance: &Url, token: &Secret, id: &str) -> Request {
    Request::new(
        Method::Get,
        Template::text(endpoint(instance, &format!("api/v1/media/{id}"))),
        Body::Empty,
    )
    .header("Authorization", bearer(token))
}

fn status_body(post: &Post, media_ids: &[String]) -> serde_json::Value {
    json!({
        "status": post.fitted.text,
        "media_ids": media_ids,
        "visibility": "public",
        "language": post.language,
    })
}

pub fn status_request(
    post: &Post,
    instance: &Url,
    token: &Secret,
    media_ids: &[String],
) -> Request {
    Request::new(
        Method::Post,
        Template::text(endpoint(instance, "api/v1/statuses")),
        Body::Json(status_body(post, media_ids)),
    )
    .header("Authorization", bearer(token))
    .header(
        "Idempotency-Key",
        Template::text(post.idempotency_key.clone()),
    )
}

/// Edits an existing status (for `on_edit: update`).
pub fn edit_request(
    post: &Post,
    instance: &Url,
    token: &Secret,
    status_id: &str,
    media_ids: &[String],
) -> Request {
    Request::new(
        Method::Put,
        Template::text(endpoint(instance, &format!("api/v1/statuses/{status_id}"))),
        Body::Json(status_body(post, media_ids)),
    )
    .header("Authorization", bearer(token))
}

fn message(r: &Response) -> String {
    json_message(r, "/error")
}

/// 200 with the Status (`id`, `url`).
pub fn parse_status(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
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
        remote_id: id,
        remote_url: body.get("url").and_then(|u| u.as_str()).map(str::to_string),
    })
}
