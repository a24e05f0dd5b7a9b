//! Microsoft Teams through a Workflows webhook ("When a Teams webhook request
//! is received"): an Adaptive Card 1.4 attachment. The retired Office 365
//! connector's MessageCard is not used. The flow URL (its `sig=`) is the
//! secret.

use serde_json::json;

use super::http::{
    Body, DeliveryError, Method, Request, Response, Template, body_excerpt, classify,
};
use super::{Delivered, Post, READ_LABEL};
use crate::config::Secret;

pub fn request(post: &Post, url: &Secret) -> Request {
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
pub fn parse(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Delivered, DeliveryError> {
    classify(response, |r| body_excerpt(&r.text()), |_| None, now)?;
    let text = response.text();
    if text.contains("returned HTTP error") {
        return Err(DeliveryError::permanent(body_excerpt(&text)));
    }
    Ok(Delivered::default())
}
