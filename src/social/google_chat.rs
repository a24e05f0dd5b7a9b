//! Google Chat incoming webhook: a cardsV2 card (header, image, text, an
//! open-link button). The `requestId` query is the idempotency key, so a
//! resend returns the message already made instead of a second one.

use serde_json::json;

use super::http::{
    Body, DeliveryError, Method, Request, Response, Template, body_excerpt, classify, json_message,
};
use super::{Delivered, Post, READ_LABEL};
use crate::config::Secret;

/// Chat's text widgets take a small HTML subset.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn request(post: &Post, url: &Secret) -> Request {
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
pub fn parse(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Delivered, DeliveryError> {
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
        remote_id: Some(name),
        remote_url: None,
    })
}
