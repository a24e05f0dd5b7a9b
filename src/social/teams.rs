//! Microsoft Teams through a Workflows webhook ("When a Teams webhook request
//! is received"): an Adaptive Card 1.4 attachment. The retired Office 365
//! connector's MessageCard is not used. The flow URL (its `sig=`) is the
//! secret. No idempotency key: a resend is a second message.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Slots, Template, body_excerpt, classify,
};
use super::keys::{KeyError, Keys, WebhookUrl};
use super::steps::{SendStep, Step, Steps};
use super::{
    Delivered, Learned, Platform, Post, READ_LABEL, SecretField, SecretKind, Shape, TextRule,
};
use crate::secret::Secret;

/// A Teams Workflows webhook.
#[derive(Debug)]
pub struct Teams {
    url: Secret,
}

/// Example keys: the flow URL below `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"url": format!("{base}/workflows/1/triggers/manual/paths/invoke?sig=s")})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let WebhookUrl { url } = keys.read()?;
    Ok(Arc::new(Teams { url }))
}

fn request(post: &Post, url: &Secret) -> Request {
    let mut body = vec![
        json!({"type": "TextBlock", "text": post.card_title, "weight": "Bolder", "size": "Medium", "wrap": true}),
    ];
    if let Some(image) = &post.image {
        body.push(
            json!({"type": "Image", "url": image, "altText": post.image_alt, "size": "Stretch"}),
        );
    }
    body.push(json!({"type": "TextBlock", "text": post.fitted.text, "wrap": true}));
    body.push(json!({"type": "TextBlock", "text": post.fields.site, "isSubtle": true, "size": "Small", "wrap": true}));
    Request::new(
        Method::Post,
        Template::secret(url),
        Body::Json(json!({
            "type": "message",
            "attachments": [{
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": null,
                "content": {
                    "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                    "type": "AdaptiveCard",
                    "version": "1.4",
                    "body": body,
                    "actions": [{"type": "Action.OpenUrl", "title": READ_LABEL, "url": post.url}],
                },
            }],
        })),
    )
}

/// Workflows answer 202 (queued); the legacy connector 200 with `1`, or 200
/// with an error text, which is a failure.
fn parse(response: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(response, |r| body_excerpt(&r.text()), |_| None, now)?;
    let text = response.text();
    if text.contains("returned HTTP error") {
        return Err(DeliveryError::permanent(body_excerpt(&text)));
    }
    Ok(Delivered::default())
}

impl Platform for Teams {
    fn kind(&self) -> &'static str {
        "teams"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("url", &self.url, SecretKind::Url)]
    }

    /// A card must stay under 28 KB; 4000 characters of body is ample.
    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::CodePoints, 4000),
            shape: Shape::Card { title_max: 256 },
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
        ".teams{background:#fff}.teams .bar{background:#5b5fc7}.teams .btn{background:#5b5fc7;color:#fff}"
    }
}
