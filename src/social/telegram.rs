//! Telegram Bot API: `sendPhoto` with the hero image URL and an HTML caption
//! (escaped, at most 1024 characters after entity parsing), or `sendMessage`
//! with a large link preview when there is no image, or when Telegram
//! cannot use the image. A button opens the article. The bot token sits in
//! the URL path and is the secret. No idempotency key: a resend is a second
//! message.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Slots, Template, body_excerpt, classify,
    endpoint, json_message,
};
use super::keys::{KeyError, Keys};
use super::steps::{Fallback, SendStep, Step, Steps};
use super::{
    Delivered, Learned, Platform, Post, READ_LABEL, SecretField, SecretKind, Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// A chat a bot posts to.
#[derive(Debug)]
pub struct Telegram {
    bot_token: Secret,
    chat_id: String,
    api_url: Url,
    /// A forum topic of the chat (a supergroup with topics).
    message_thread_id: Option<i64>,
    /// Sent without a notification sound.
    silent: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TelegramKeys {
    bot_token: Secret,
    chat_id: Text,
    api_url: Option<String>,
    message_thread_id: Option<i64>,
    #[serde(default)]
    silent: bool,
}

/// Example keys: a bot and a channel, the API below `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"bot_token": "123456:ABC-token", "chat_id": "@example_channel", "api_url": base})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: TelegramKeys = keys.read()?;
    if let Some(id) = k.message_thread_id
        && id <= 0
    {
        return Err(KeyError::invalid(
            "message_thread_id",
            format!(
                "{id}: a topic's id is a positive number (the number after the chat in the topic's link)"
            ),
        ));
    }
    Ok(Arc::new(Telegram {
        message_thread_id: k.message_thread_id,
        silent: k.silent,
        bot_token: k.bot_token,
        chat_id: keys.text("chat_id", &k.chat_id.0)?,
        api_url: keys.url(
            "api_url",
            k.api_url.as_deref().unwrap_or("https://api.telegram.org"),
        )?,
    }))
}

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

impl Telegram {
    fn method_url(&self, method: &str) -> Template {
        // `{api_url}/bot{token}/{method}`, keeping any path prefix and query.
        let base = endpoint(&self.api_url, "bot");
        let (head, query) = match base.split_once('?') {
            Some((h, q)) => (h.to_string(), format!("?{q}")),
            None => (base, String::new()),
        };
        Template::text(head)
            .then_secret(&self.bot_token)
            .then(format!("/{method}{query}"))
    }

    /// The chat, and the topic and notification choices, of every send.
    fn addressed(&self, mut body: serde_json::Value) -> serde_json::Value {
        body["chat_id"] = json!(self.chat_id);
        if let Some(topic) = self.message_thread_id {
            body["message_thread_id"] = json!(topic);
        }
        if self.silent {
            body["disable_notification"] = json!(true);
        }
        body
    }

    fn photo_request(&self, post: &Post, image: &Url) -> Request {
        Request::new(
            Method::Post,
            self.method_url("sendPhoto"),
            Body::Json(self.addressed(json!({
                "photo": image,
                "caption": caption(post),
                "parse_mode": "HTML",
                "reply_markup": keyboard(post),
            }))),
        )
    }

    /// `sendMessage` with the article's link preview.
    fn message_request(&self, post: &Post) -> Request {
        Request::new(
            Method::Post,
            self.method_url("sendMessage"),
            Body::Json(self.addressed(json!({
                "text": caption(post),
                "parse_mode": "HTML",
                "link_preview_options": {"url": post.url, "prefer_large_media": true},
                "reply_markup": keyboard(post),
            }))),
        )
    }
}

fn keyboard(post: &Post) -> serde_json::Value {
    json!({"inline_keyboard": [[{"text": READ_LABEL, "url": post.url}]]})
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

/// `{"ok":true,"result":true}`; a message already gone is gone.
fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if r.status == 400 && message(r).contains("message to delete not found") {
        return Ok(Delivered::default());
    }
    super::read_deletion(r, message, now)
}

/// `{"ok":true,"result":{"message_id":…,"chat":{…}}}`.
fn parse(response: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
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
        reference: None,
        remote_id: id.map(|i| i.to_string()),
        remote_url: match (username, id) {
            (Some(u), Some(i)) => Some(format!("https://t.me/{u}/{i}")),
            _ => None,
        },
    })
}

impl Platform for Telegram {
    fn kind(&self) -> &'static str {
        "telegram"
    }

    /// In the text, where Telegram links them.
    fn hashtags(&self) -> super::Hashtags {
        super::Hashtags::InText
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new(
            "bot_token",
            &self.bot_token,
            SecretKind::Token,
        )]
    }

    /// Captions ≤ 1024 after entity parsing; counted in UTF-16 to be safe.
    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::Utf16, 1024),
            shape: Shape::Text,
        }
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        let send = match &post.image {
            Some(image) => SendStep {
                fallback: Some(Fallback {
                    when: is_photo_problem,
                    request: self.message_request(post),
                    note: "if Telegram cannot use the hero image, the text goes with a link preview instead".to_string(),
                    warning: "Telegram could not use the hero image, so the text went with a link preview instead".to_string(),
                }),
                ..SendStep::new(self.photo_request(post, image), parse)
            },
            None => SendStep::new(self.message_request(post), parse),
        };
        Steps(vec![Step::send(send)])
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id: i64 = remote.id?.parse().ok()?;
        Some(Steps(vec![Step::send(SendStep::new(
            Request::new(
                Method::Post,
                self.method_url("deleteMessage"),
                Body::Json(json!({"chat_id": self.chat_id, "message_id": id})),
            ),
            read_deleted,
        ))]))
    }

    fn account(&self) -> Option<String> {
        Some(format!("the bot, in {}", self.chat_id))
    }

    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        format!(
            "<div class=\"bubble\">{}<div class=\"cap\">{}</div><a class=\"btn\" href=\"{}\">{READ_LABEL}</a></div>",
            c.hero
                .replace("class=\"hero\"", "class=\"hero\" style=\"margin-top:0\""),
            caption(post).replace('\n', "<br>"),
            c.url
        )
    }

    fn card_style(&self) -> &'static str {
        ".telegram{background:#dfe7cf}.telegram .bar{background:#229ed9}.telegram .bubble{background:#fff;border-radius:12px;padding:6px;max-width:360px}\n\
         .telegram .bubble .cap{padding:4px 6px}.telegram .btn{display:block;text-align:center;background:rgba(0,0,0,.06);color:#168acd;margin:6px 0 0}"
    }
}
