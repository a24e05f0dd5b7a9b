//! Slack incoming webhook: Block Kit header, section, image and context, with
//! a `text` fallback for notifications. The webhook URL is the secret.

use serde_json::json;

use super::http::{
    Body, DeliveryError, Method, Request, Response, Template, body_excerpt, classify,
};
use super::{Delivered, Post, READ_LABEL};
use crate::config::Secret;

/// Slack's mrkdwn treats `&`, `<` and `>` as markup.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

pub fn request(post: &Post, url: &Secret) -> Request {
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
pub fn parse(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Delivered, DeliveryError> {
    classify(response, |r| body_excerpt(&r.text()), |_| None, now)?;
    Ok(Delivered::default())
}
