//! Mattermost incoming webhook (Slack-compatible): a message attachment with
//! title, link, text and image. No idempotency key: a resend is a second
//! message.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Slots, Template, classify, json_message,
};
use super::keys::{KeyError, Keys, WebhookUrl};
use super::steps::{SendStep, Step, Steps};
use super::{Delivered, Learned, Platform, Post, SecretField, SecretKind, Shape, TextRule};
use crate::secret::Secret;

/// A Mattermost incoming webhook.
#[derive(Debug)]
pub struct Mattermost {
    url: Secret,
}

/// Example keys: the webhook URL below `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"url": format!("{base}/hooks/abc123")})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let WebhookUrl { url } = keys.read()?;
    Ok(Arc::new(Mattermost { url }))
}

fn request(post: &Post, url: &Secret) -> Request {
    let mut attachment = json!({
        "fallback": format!("{}: {}", post.card_title, post.url),
        "title": post.card_title,
        "title_link": post.url,
        "text": post.fitted.text,
        "footer": post.fields.site,
    });
    if let Some(image) = &post.image {
        attachment["image_url"] = json!(image);
    }
    if let Some(author) = &post.fields.author {
        attachment["author_name"] = json!(author);
    }
    Request::new(
        Method::Post,
        Template::secret(url),
        Body::Json(json!({"attachments": [attachment]})),
    )
}

fn message(r: &Response) -> String {
    json_message(r, "/message")
}

/// 200 with `ok`.
fn parse(response: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(response, message, |_| None, now)?;
    Ok(Delivered::default())
}

impl Platform for Mattermost {
    fn kind(&self) -> &'static str {
        "mattermost"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("url", &self.url, SecretKind::Url)]
    }

    /// 16,383 characters per post, and longer text is split into several
    /// posts: 4000 keeps one post.
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

    /// The attachment as Mattermost shows it: author, title link, text,
    /// image, footer.
    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        let author = post
            .fields
            .author
            .as_deref()
            .map(|a| format!("<div class=\"author\">{}</div>", super::card::esc(a)))
            .unwrap_or_default();
        format!(
            "<div class=\"att\">{author}<a class=\"t\" href=\"{}\">{}</a><div>{}</div>{}<div class=\"meta\">{}</div></div>",
            c.url, c.title, c.text, c.hero, c.site
        )
    }

    fn card_style(&self) -> &'static str {
        ".mattermost{background:#fff}.mattermost .bar{background:#1e325c}.mattermost .att{border-left:4px solid #1e325c;padding-left:10px}\n\
         .mattermost a.t{font-weight:700;color:#2389d7}"
    }
}
