//! ntfy: a push to a topic (`POST {server}/{topic}`), the message as the
//! body and the rest as headers: `Title`, `Click` (the article), `Attach`
//! (the hero image, by URL), `Tags`, `Actions` (a "read" button) and
//! `Markdown: yes`. The topic URL is the secret (on a public server the
//! topic's name is its only protection); an access token is optional.
//! Non-ASCII header values are RFC 2047 encoded, as ntfy reads them.
//! Messages longer than 4,096 bytes would become attachments: the text is
//! fitted to that. No idempotency: a resend is a second notification.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Slots, Template, body_excerpt, classify,
    json_message,
};
use super::keys::{KeyError, Keys};
use super::steps::{SendStep, Step, Steps};
use super::{
    Delivered, Learned, Platform, Post, READ_LABEL, SecretField, SecretKind, Shape, TextRule,
};
use crate::secret::Secret;

/// A message longer than this (in bytes) becomes an attachment.
pub const MAX_MESSAGE_BYTES: usize = 4096;
/// The longest title herald sends.
const MAX_TITLE: usize = 250;
/// ntfy shows at most this many tags usefully; more clutter the notification.
const MAX_TAGS: usize = 5;

/// A topic on an ntfy server.
#[derive(Debug)]
pub struct Ntfy {
    url: Secret,
    token: Option<Secret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NtfyKeys {
    url: Secret,
    token: Option<Secret>,
}

/// Example keys: a topic on a server at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"url": format!("{base}/newsroom-8f3a"), "token": "tk_example"})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: NtfyKeys = keys.read()?;
    Ok(Arc::new(Ntfy {
        url: k.url,
        token: k.token,
    }))
}

/// A header value ntfy reads back as written: ASCII as it is, anything
/// else as an RFC 2047 encoded word (UTF-8, base64).
pub fn header_text(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.is_ascii() {
        flat
    } else {
        format!(
            "=?UTF-8?B?{}?=",
            base64::engine::general_purpose::STANDARD.encode(flat.as_bytes())
        )
    }
}

impl Ntfy {
    fn request(&self, post: &Post) -> Request {
        let mut request = Request::new(
            Method::Post,
            Template::secret(&self.url),
            Body::Text(post.fitted.text.clone()),
        )
        .header(
            "Title",
            Template::text(header_text(&super::truncate_words(
                &post.card_title,
                MAX_TITLE,
            ))),
        )
        .header("Click", Template::text(post.url.as_str()))
        .header("Markdown", Template::text("yes"))
        .header(
            "Actions",
            Template::text(format!("view, {READ_LABEL}, {}", post.url)),
        );
        if let Some(image) = &post.image {
            request = request.header("Attach", Template::text(image.as_str()));
        }
        let tags: Vec<String> = post
            .fields
            .tags
            .iter()
            .take(MAX_TAGS)
            .map(|t| t.replace(',', " "))
            .collect();
        if !tags.is_empty() {
            request = request.header("Tags", Template::text(header_text(&tags.join(","))));
        }
        if let Some(token) = &self.token {
            request = request.header(
                "Authorization",
                Template::text("Bearer ").then_secret(token),
            );
        }
        request
    }
}

fn message(r: &Response) -> String {
    json_message(r, "/error")
}

/// 200 with the message (`id`).
fn read_sent(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(r, message, |_| None, now)?;
    let id = r
        .json()
        .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string));
    if id.is_none() {
        return Err(DeliveryError::uncertain(format!(
            "ntfy answered {} without the message's id: {}",
            r.status,
            body_excerpt(&r.text())
        )));
    }
    Ok(Delivered {
        reference: None,
        remote_id: id,
        remote_url: None,
    })
}

impl Platform for Ntfy {
    fn kind(&self) -> &'static str {
        "ntfy"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        let mut out = vec![SecretField::new("url", &self.url, SecretKind::Url)];
        out.extend(
            self.token
                .iter()
                .map(|t| SecretField::new("token", t, SecretKind::Token)),
        );
        out
    }

    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::Bytes, MAX_MESSAGE_BYTES),
            shape: Shape::Card {
                title_max: MAX_TITLE,
            },
        }
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        Steps(vec![Step::send(SendStep::new(
            self.request(post),
            read_sent,
        ))])
    }

    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        format!(
            "<div class=\"bar\"></div><strong>{}</strong><div>{}</div>{}",
            super::card::esc(&post.card_title),
            c.text,
            c.hero
        )
    }

    fn card_style(&self) -> &'static str {
        ".ntfy{background:#fff;color:#222}.ntfy .bar{background:#338574;height:4px}"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_header_values_are_encoded_words() {
        assert_eq!(header_text("Async tips"), "Async tips");
        assert_eq!(header_text("Café"), "=?UTF-8?B?Q2Fmw6k=?=");
        assert_eq!(header_text("a\nb"), "a b");
    }
}
