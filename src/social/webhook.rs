//! Generic webhook: a documented JSON document, signed per Standard Webhooks
//! (`webhook-id` = the idempotency key, so receivers can drop a resend;
//! `webhook-timestamp`; `webhook-signature: v1,<base64 HMAC-SHA256>` with a
//! `whsec_` secret), plus the configured extra headers.
//!
//! The document:
//! ```json
//! {"type": "article.published", "timestamp": "<publish time, RFC 3339>",
//!  "data": {"id", "url", "title", "subtitle", "summary", "cta", "author",
//!           "tags", "image": {"url", "alt"} | null, "published", "read_time",
//!           "site", "target", "text"}}
//! ```

use std::collections::BTreeMap;

use serde_json::json;

use super::http::{
    Body, DeliveryError, Method, Request, Response, Signing, Template, body_excerpt, classify,
};
use super::{Delivered, Post};
use crate::config::Secret;

/// The event type of a new article.
pub const EVENT: &str = "article.published";

pub fn document(post: &Post) -> serde_json::Value {
    let f = &post.fields;
    json!({
        "type": EVENT,
        "timestamp": post.published.to_rfc3339(),
        "data": {
            "id": post.article_id,
            "url": post.url,
            "title": f.title,
            "subtitle": f.subtitle,
            "summary": f.summary,
            "cta": f.cta,
            "author": f.author,
            "tags": f.tags,
            "image": post.image.as_ref().map(|u| json!({"url": u, "alt": post.image_alt})),
            "published": f.published,
            "read_time": f.read_time,
            "site": f.site,
            "target": post.target,
            "text": post.fitted.text,
        },
    })
}

pub fn request(
    post: &Post,
    url: &Secret,
    secret: Option<&Secret>,
    headers: &BTreeMap<String, Secret>,
) -> Request {
    let mut request = Request::new(
        Method::Post,
        Template::secret(url),
        Body::Json(document(post)),
    );
    for (name, value) in headers {
        request = request.header(name, Template::secret(value));
    }
    request.signing = Some(Signing {
        id: post.idempotency_key.clone(),
        secret: secret.cloned(),
    });
    request
}

/// Any 2xx is success; 410 means the receiver is gone (permanent).
pub fn parse(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Delivered, DeliveryError> {
    classify(response, |r| body_excerpt(&r.text()), |_| None, now)?;
    let id = response.json().and_then(|v| {
        v.get("id")
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
    });
    Ok(Delivered {
        remote_id: id,
        remote_url: None,
    })
}
