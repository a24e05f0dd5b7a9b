//! Slack incoming webhook: Block Kit header, section, image and context, with
//! a `text` fallback for notifications. The webhook URL is the secret.
//! No idempotency key: a resend is a second message.

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

/// A Slack incoming webhook.
#[derive(Debug)]
pub struct Slack {
    url: Secret,
}

/// Example keys: the webhook URL below `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"url": format!("{base}/services/T000/B000/XXXX")})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let WebhookUrl { url } = keys.read()?;
    Ok(Arc::new(Slack { url }))
}

/// Slack's mrkdwn treats `&`, `<` and `>` as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn request(post: &Post, url: &Secret) -> Request {
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": post.card_title, "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "{}\n<{}|{READ_LABEL}>", escape(&post.fitted.text), post.url
        )}}),
    ];
    if let Some(image) = post.image.as_ref().filter(|u| u.as_str().len() <= 3000) {
        blocks.push(json!({"type": "image", "image_url": image, "alt_text": super::truncate_words(&post.image_alt, 2000)}));
    }
    let mut context = vec![post.fields.site.clone()];
    context.extend(post.fields.author.clone());
    context.extend(post.fields.read_time.clone());
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": escape(&context.join(" · "))}]}));
    Request::new(
        Method::Post,
        Template::secret(url),
        Body::Json(json!({
            "text": format!("{}: {}", post.card_title, post.url),
            "blocks": blocks,
            "unfurl_links": false,
            "unfurl_media": false,
        })),
    )
}

/// 200 is success (the body is `ok`); errors are plain text such as
/// `invalid_blocks`.
fn parse(response: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(response, |r| body_excerpt(&r.text()), |_| None, now)?;
    Ok(Delivered::default())
}

impl Platform for Slack {
    fn kind(&self) -> &'static str {
        "slack"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("url", &self.url, SecretKind::Url)]
    }

    /// Section text ≤ 3000; a line for the link goes below it. Header ≤ 150.
    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::CodePoints, 2900),
            shape: Shape::Card { title_max: 150 },
        }
    }

    fn steps(&self, post: &Post, _edit: Option<&str>, _learned: &Learned) -> Steps {
        Steps(vec![Step::send(SendStep::new(
            request(post, &self.url),
            parse,
        ))])
    }

    /// The blocks as Slack shows them: header, section with the link,
    /// image, and the context line (site · author · read time).
    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        let mut context = vec![post.fields.site.clone()];
        context.extend(post.fields.author.clone());
        context.extend(post.fields.read_time.clone());
        format!(
            "<div class=\"card\"><h3>{}</h3><div>{}</div><a href=\"{}\">{READ_LABEL}</a>{}<div class=\"meta\">{}</div></div>",
            c.title,
            c.text,
            c.url,
            c.hero,
            super::card::esc(&context.join(" · "))
        )
    }

    fn card_style(&self) -> &'static str {
        ".slack{background:#fff}.slack .bar{background:#4a154b}.slack .card{border-left:4px solid #ddd;padding-left:10px}\n\
         .slack h3{margin:0 0 6px;font-size:16px}.slack a{color:#1264a3}"
    }
}
