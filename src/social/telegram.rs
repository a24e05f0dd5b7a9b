//! Telegram Bot API: `sendPhoto` with the hero image URL and an HTML caption
//! (escaped, at most 1024 characters after entity parsing), or `sendMessage`
//! with a large link preview when there is no image. A button opens the
//! article. The bot token sits in the URL path and is the secret.

use std::time::Duration;

use serde_json::json;
use url::Url;

use super::http::{
    Body, DeliveryError, Method, Request, Response, Template, body_excerpt, classify, endpoint,
    json_message,
};
use super::{Delivered, Post, READ_LABEL};
use crate::config::Secret;

/// Telegram's HTML mode needs `<`, `>` and `&` escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The caption: the fitted text escaped, the title (where the text starts
/// with it) in bold. Bold adds no visible characters, so the fitted length
/// holds.
pub fn caption(post: &Post) -> String {
    let text = &post.fitted.text;
    let title = &post.fitted.title;
    if !title.is_empty()
        && let Some(rest) = text.strip_prefix(title.as_str())
    {
        return format!("<b>{}</b>{}", escape(title), escape(rest));
    }
    escape(text)
}

fn method_url(api_url: &Url, bot_token: &Secret, method: &str) -> Template {
    // `{api_url}/bot{token}/{method}`, keeping any path prefix and query.
    let base = endpoint(api_url, "bot");
    let (head, query) = match base.split_once('?') {
        Some((h, q)) => (h.to_string(), format!("?{q}")),
        None => (base, String::new()),
    };
    Template::text(head)
        .then_secret(bot_token)
        .then(format!("/{method}{query}"))
}

/// `sendPhoto` when the post has an image, else `sendMessage`.
pub fn request(post: &Post, api_url: &Url, bot_token: &Secret, chat_id: &str) -> Request {
    match &post.image {
        Some(image) => photo_request(post, image, api_url, bot_token, chat_id),
        None => message_request(post, api_url, bot_token, chat_id),
    }
}

fn keyboard(post: &Post) -> serde_json::Value {
    json!({"inline_keyboard": [[{"text": READ_LABEL, "url": post.url}]]})
}

fn photo_request(
    post: &Post,
    image: &Url,
    api_url: &Url,
    bot_token: &Secret,
    chat_id: &str,
) -> Request {
    Request::new(
        Method::Post,
        method_url(api_url, bot_token, "sendPhoto"),
        Body::Json(json!({
            "chat_id": chat_id,
            "photo": image,
            "caption": caption(post),
            "parse_mode": "HTML",
            "reply_markup": keyboard(post),
        })),
    )
}

/// `sendMessage` with the article's link preview; also the fallback when
/// Telegram cannot fetch the hero image.
pub fn message_request(post: &Post, api_url: &Url, bot_token: &Secret, chat_id: &str) -> Request {
    Request::new(
        Method::Post,
        method_url(api_url, bot_token, "sendMessage"),
        Body::Json(json!({
            "chat_id": chat_id,
            "text": caption(post),
            "parse_mode": "HTML",
            "link_preview_options": {"url": post.url, "prefer_large_media": true},
            "reply_markup": keyboard(post),
        })),
    )
}

fn message(r: &Response) -> String {
    json_message(r, "/description")
}

fn body_delay(r: &Response) -> Option<Duration> {
    let secs = r.json()?.pointer("/parameters/retry_after")?.as_f64()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// Whether a refusal is about the photo (Telegram could not fetch or read
/// it), so sending without it can still succeed.
pub fn is_photo_problem(error: &DeliveryError) -> bool {
    let DeliveryError::Permanent { message } = error else {
        return false;
    };
    let m = message.to_ascii_lowercase();
    m.contains("http url content")
        || m.contains("wrong file identifier")
        || m.contains("photo_invalid")
        || m.contains("image_process_failed")
        || m.contains("wrong type of the web page content")
}

/// `{"ok":true,"result":{"message_id":…,"chat":{…}}}`.
pub fn parse(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Delivered, DeliveryError> {
    classify(response, message, body_delay, now)?;
    let body = response
        .json()
        .filter(|v| v.get("ok") == Some(&json!(true)))
        .ok_or_else(|| {
            DeliveryError::uncertain(format!(
                "Telegram answered {} without ok:true: {}",
                response.status,
                body_excerpt(&response.text())
            ))
        })?;
    let id = body.pointer("/result/message_id").and_then(|v| v.as_i64());
    let username = body
        .pointer("/result/chat/username")
        .and_then(|v| v.as_str());
    Ok(Delivered {
        remote_id: id.map(|i| i.to_string()),
        remote_url: match (username, id) {
            (Some(u), Some(i)) => Some(format!("https://t.me/{u}/{i}")),
            _ => None,
        },
    })
}
