//! Discord execute-webhook: one embed (title, link, description, image,
//! footer, timestamp), `?wait=true` so the message id comes back, mentions
//! disabled so article text cannot ping @everyone. Edits use PATCH on the
//! message.

use std::time::Duration;

use serde_json::json;

use super::http::{
    Body, DeliveryError, Method, Request, Response, Template, body_excerpt, classify,
};
use super::{Delivered, Post};
use crate::config::Secret;

fn payload(post: &Post) -> serde_json::Value {
    let mut embed = json!({
        "title": post.card_title,
        "url": post.url,
        "description": post.fitted.text,
        "footer": {"text": post.fields.site},
        "timestamp": post.published.to_rfc3339(),
    });
    if let Some(image) = &post.image {
        embed["image"] = json!({"url": image});
    }
    if let Some(author) = &post.fields.author {
        embed["author"] = json!({"name": super::truncate_words(author, 256)});
    }
    json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
}

pub fn request(post: &Post, url: &Secret) -> Request {
    Request::new(
        Method::Post,
        Template::secret(url),
        Body::Json(payload(post)),
    )
    .query("wait", "true")
}

/// Edits the message `message_id` that this webhook posted.
pub fn edit_request(post: &Post, url: &Secret, message_id: &str) -> Request {
    Request::new(
        Method::Patch,
        Template::secret(url),
        Body::Json(payload(post)),
    )
    .path_suffix(&format!("/messages/{message_id}"))
}

fn message(r: &Response) -> String {
    match r.json() {
        Some(v) if v.get("message").is_some() => {
            let mut m = v["message"].as_str().unwrap_or_default().to_string();
            if let Some(code) = v.get("code").and_then(|c| c.as_i64()) {
                m.push_str(&format!(" (code {code})"));
            }
            if let Some(errors) = v.get("errors") {
                m.push_str(&format!(": {}", body_excerpt(&errors.to_string())));
            }
            m
        }
        _ => body_excerpt(&r.text()),
    }
}

fn body_delay(r: &Response) -> Option<Duration> {
    let secs = r.json()?.get("retry_after")?.as_f64()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// With `wait=true`, 200 and the message (its `id`).
pub fn parse(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Delivered, DeliveryError> {
    classify(response, message, body_delay, now)?;
    let body = response.json().ok_or_else(|| {
        DeliveryError::uncertain(format!(
            "Discord answered {} without the message JSON: {}",
            response.status,
            body_excerpt(&response.text())
        ))
    })?;
    let id = body.get("id").and_then(|v| v.as_str()).map(str::to_string);
    if id.is_none() {
        return Err(DeliveryError::uncertain(format!(
            "Discord's answer has no message id: {}",
            body_excerpt(&response.text())
        )));
    }
    let url = match (
        body.get("guild_id").and_then(|v| v.as_str()),
        body.get("channel_id").and_then(|v| v.as_str()),
        &id,
    ) {
        (Some(g), Some(c), Some(m)) => Some(format!("https://discord.com/channels/{g}/{c}/{m}")),
        _ => None,
    };
    Ok(Delivered {
        remote_id: id,
        remote_url: url,
    })
}
