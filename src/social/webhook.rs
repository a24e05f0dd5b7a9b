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
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;

use super::card::{Card, esc};
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Signing, Slots, Template, body_excerpt,
    classify,
};
use super::keys::{KeyError, Keys};
use super::steps::{SendStep, Step, Steps};
use super::{
    Capabilities, Delivered, Idempotency, Learned, Platform, Post, SecretField, SecretKind, Shape,
    TextRule,
};
use crate::secret::Secret;

/// The event type of a new article.
pub const EVENT: &str = "article.published";

/// A receiver of signed JSON documents.
#[derive(Debug)]
pub struct Webhook {
    url: Secret,
    secret: Option<Secret>,
    headers: BTreeMap<String, Secret>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookKeys {
    url: Secret,
    secret: Option<Secret>,
    #[serde(default)]
    headers: BTreeMap<String, Secret>,
}

/// Example keys: a receiver below `base`, signed, with a header.
pub fn example(base: &str) -> serde_json::Value {
    json!({
        "url": format!("{base}/hooks/herald"),
        "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "headers": {"X-Api-Key": "example-key"},
    })
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: WebhookKeys = keys.read()?;
    for name in k.headers.keys() {
        if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            return Err(KeyError::invalid(
                &format!("headers.{name}"),
                format!("{name:?} is not a valid HTTP header name"),
            ));
        }
    }
    Ok(Arc::new(Webhook {
        url: k.url,
        secret: k.secret,
        headers: k.headers,
    }))
}

/// The JSON document a receiver gets.
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

impl Webhook {
    fn request(&self, post: &Post) -> Request {
        let mut request = Request::new(
            Method::Post,
            Template::secret(&self.url),
            Body::Json(document(post)),
        );
        for (name, value) in &self.headers {
            request = request.header(name, Template::secret(value));
        }
        request.signing = Some(Signing::Webhook {
            id: post.idempotency_key.clone(),
            secret: self.secret.clone(),
        });
        request
    }
}

/// Any 2xx is success; 410 means the receiver is gone (permanent).
fn parse(response: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(response, |r| body_excerpt(&r.text()), |_| None, now)?;
    let id = response.json().and_then(|v| {
        v.get("id")
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_string))
    });
    Ok(Delivered {
        reference: None,
        remote_id: id,
        remote_url: None,
    })
}

impl Platform for Webhook {
    fn kind(&self) -> &'static str {
        "webhook"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        let mut out = vec![SecretField::new("url", &self.url, SecretKind::Url)];
        out.extend(
            self.secret
                .iter()
                .map(|s| SecretField::new("secret", s, SecretKind::Text)),
        );
        out.extend(self.headers.iter().map(|(name, value)| {
            SecretField::new(format!("headers.{name}"), value, SecretKind::HeaderValue)
        }));
        out
    }

    /// Receivers are ours to define: a generous cap keeps payloads small.
    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::CodePoints, 10_000),
            shape: Shape::Text,
        }
    }

    /// `webhook-id` lets a receiver drop a resend, for good.
    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            idempotency: Idempotency::Key { kept_for: None },
            ..Capabilities::default()
        }
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        Steps(vec![Step::send(SendStep::new(self.request(post), parse))])
    }

    fn card(&self, post: &Post, _c: &Card<'_>) -> String {
        let doc = serde_json::to_string_pretty(&document(post)).unwrap_or_default();
        format!("<pre>{}</pre>", esc(&doc))
    }

    fn card_style(&self) -> &'static str {
        ".webhook{background:#fff}.webhook .bar{background:#555}.webhook pre{font-size:12px;white-space:pre-wrap;word-break:break-word;margin:0}"
    }
}
