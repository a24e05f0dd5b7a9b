//! Mattermost incoming webhook (Slack-compatible): a message attachment with
//! title, link, text and image.

use serde_json::json;

use super::http::{
    Body, DeliveryError, Method, Request, Response, Template, classify, json_message,
};
use super::{Delivered, Post};
use crate::config::Secret;

pub fn request(post: &Post, url: &Secret) -> Request {
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
pub fn parse(
    response: &Response,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Delivered, DeliveryError> {
    classify(response, message, |_| None, now)?;
    Ok(Delivered::default())
}
