//! Google Chat incoming webhook: a cardsV2 card (header, image, text, an
//! open-link button). The `requestId` query is the idempotency key, so a
//! resend returns the message already made instead of a second one.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Slots, Template, body_excerpt, classify,
    json_message,
};
use super::keys::{KeyError, Keys, WebhookUrl};
use super::steps::{SendStep, Step, Steps};
use super::{
    Capabilities, Delivered, Idempotency, Learned, Platform, Post, READ_LABEL, SecretField,
    SecretKind, Shape, TextRule,
};
use crate::secret::Secret;

/// A Google Chat space's incoming webhook.
#[derive(Debug)]
pub struct GoogleChat {
    url: Secret,
}

/// Example keys: the webhook URL below `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"url": format!("{base}/v1/spaces/AAA/messages?key=k&token=t")})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let WebhookUrl { url } = keys.read()?;
    Ok(Arc::new(GoogleChat { url }))
}

/// Chat's text widgets take a small HTML subset.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn request(post: &Post, url: &Secret) -> Request {
    let mut widgets = Vec::new();
    if let Some(image) = &post.image {
        widgets.push(json!({"image": {"imageUrl": image, "altText": post.image_alt}}));
    }
    widgets.push(json!({"textParagraph": {"text": escape(&post.fitted.text)}}));
    widgets.push(json!({"buttonList": {"buttons": [{"text": READ_LABEL, "onClick": {"openLink": {"url": post.url}}}]}}));
    Request::new(
        Method::Post,
        Template::secret(url),
        Body::Json(json!({
            "cardsV2": [{
                "cardId": post.idempotency_key,
                "card": {
                    "header": {"title": post.card_title, "subtitle": post.fields.site},
                    "sections": [{"widgets": widgets}],
                },
            }],
        })),
    )
    .query("requestId", &post.idempotency_key)
}

fn message(r: &Response) -> String {
    json_message(r, "/error/message")
}

/// 200 with the Message (`name` = `spaces/…/messages/…`).
fn parse(response: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(response, message, |_| None, now)?;
    let name = response
        .json()
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .ok_or_else(|| {
            DeliveryError::uncertain(format!(
                "Google Chat answered {} without the message: {}",
                response.status,
                body_excerpt(&response.text())
            ))
        })?;
    Ok(Delivered {
        reference: None,
        remote_id: Some(name),
        remote_url: None,
    })
}

impl Platform for GoogleChat {
    fn kind(&self) -> &'static str {
        "google_chat"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("url", &self.url, SecretKind::Url)]
    }

    /// A message ≤ 32,000 bytes; 4000 characters of body keeps well under.
    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::CodePoints, 4000),
            shape: Shape::Card { title_max: 256 },
        }
    }

    /// A reused `requestId` returns the existing message.
    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            idempotency: Idempotency::Key { kept_for: None },
            ..Capabilities::default()
        }
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        Steps(vec![Step::send(SendStep::new(
            request(post, &self.url),
            parse,
        ))])
    }

    fn card(&self, _post: &Post, c: &Card<'_>) -> String {
        format!(
            "<strong>{}</strong>{}<div>{}</div><a class=\"btn\" href=\"{}\">{READ_LABEL}</a><div class=\"meta\">{}</div>",
            c.title, c.hero, c.text, c.url, c.site
        )
    }

    fn card_style(&self) -> &'static str {
        ".google_chat{background:#fff}.google_chat .bar{background:#1a73e8}.google_chat .btn{color:#1a73e8;border:1px solid #dadce0}"
    }
}
