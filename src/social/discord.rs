//! Discord execute-webhook: one embed (title, link, description, image,
//! footer, timestamp), `?wait=true` so the message id comes back, mentions
//! disabled so article text cannot ping @everyone. Edits use PATCH on the
//! message. No idempotency key: a resend is a second message.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Slots, Template, body_excerpt, classify,
};
use super::keys::{KeyError, Keys};
use super::steps::{SendStep, Step, Steps};
use super::{
    Capabilities, Delivered, Learned, Platform, Post, SecretField, SecretKind, Shape, TextRule,
};
use crate::secret::Secret;

/// A Discord channel webhook.
#[derive(Debug)]
pub struct Discord {
    url: Secret,
    /// For a forum channel: each post opens a thread named by this
    /// (`{title}` is the article's title), at most 100 characters.
    thread_name: Option<String>,
}

/// A Discord webhook's keys.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DiscordKeys {
    url: Secret,
    thread_name: Option<crate::units::Text>,
}

/// The longest thread name Discord takes.
const MAX_THREAD_NAME: usize = 100;

/// Example keys: the webhook URL below `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"url": format!("{base}/api/webhooks/1/token")})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: DiscordKeys = keys.read()?;
    let thread_name = k
        .thread_name
        .map(|t| keys.text("thread_name", &t.0))
        .transpose()?;
    if thread_name.as_deref().is_some_and(|t| t.trim().is_empty()) {
        return Err(KeyError::invalid(
            "thread_name",
            "is empty; write a name such as \"{title}\"",
        ));
    }
    Ok(Arc::new(Discord {
        url: k.url,
        thread_name,
    }))
}

/// The forum thread's name for `post`.
fn thread_name(template: &str, post: &Post) -> String {
    super::truncate_words(
        &template.replace("{title}", &post.fields.title),
        MAX_THREAD_NAME,
    )
}

fn payload(post: &Post) -> serde_json::Value {
    let mut embed = json!({
        "title": post.card_title,
        "url": post.url,
        "description": post.fitted.text,
        "footer": {"text": post.fields.site},
        "timestamp": post.published.to_rfc3339(),
    });
    if let Some(image) = &post.image {
        embed["image"] = json!({"url": image});
    }
    if let Some(author) = &post.fields.author {
        embed["author"] = json!({"name": super::truncate_words(author, 256)});
    }
    json!({"embeds": [embed], "allowed_mentions": {"parse": []}})
}

impl Discord {
    fn request(&self, post: &Post) -> Request {
        let mut body = payload(post);
        if let Some(name) = &self.thread_name {
            body["thread_name"] = json!(thread_name(name, post));
        }
        Request::new(Method::Post, Template::secret(&self.url), Body::Json(body))
            .query("wait", "true")
    }

    /// Edits (or, with `method` DELETE, deletes) the message `message_id`
    /// that this webhook posted. In a forum the message opened a thread
    /// whose id is the message's own, and the request must name it.
    fn message_request(&self, method: Method, body: Body, message_id: &str) -> Request {
        let request = Request::new(method, Template::secret(&self.url), body)
            .path_suffix(&format!("/messages/{message_id}"));
        if self.thread_name.is_some() {
            request.query("thread_id", message_id)
        } else {
            request
        }
    }
}

fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    super::read_deletion(r, message, now)
}

fn message(r: &Response) -> String {
    match r.json() {
        Some(v) if v.get("message").is_some() => {
            let mut m = v["message"].as_str().unwrap_or_default().to_string();
            if let Some(code) = v.get("code").and_then(|c| c.as_i64()) {
                m.push_str(&format!(" (code {code})"));
            }
            if let Some(errors) = v.get("errors") {
                m.push_str(&format!(": {}", body_excerpt(&errors.to_string())));
            }
            m
        }
        _ => body_excerpt(&r.text()),
    }
}

fn body_delay(r: &Response) -> Option<Duration> {
    let secs = r.json()?.get("retry_after")?.as_f64()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// With `wait=true`, 200 and the message (its `id`).
fn parse(response: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(response, message, body_delay, now)?;
    let body = response.json().ok_or_else(|| {
        DeliveryError::uncertain(format!(
            "Discord answered {} without the message JSON: {}",
            response.status,
            body_excerpt(&response.text())
        ))
    })?;
    let id = body.get("id").and_then(|v| v.as_str()).map(str::to_string);
    if id.is_none() {
        return Err(DeliveryError::uncertain(format!(
            "Discord's answer has no message id: {}",
            body_excerpt(&response.text())
        )));
    }
    let url = match (
        body.get("guild_id").and_then(|v| v.as_str()),
        body.get("channel_id").and_then(|v| v.as_str()),
        &id,
    ) {
        (Some(g), Some(c), Some(m)) => Some(format!("https://discord.com/channels/{g}/{c}/{m}")),
        _ => None,
    };
    Ok(Delivered {
        reference: None,
        remote_id: id,
        remote_url: url,
    })
}

impl Platform for Discord {
    fn kind(&self) -> &'static str {
        "discord"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("url", &self.url, SecretKind::Url)]
    }

    /// Embed description ≤ 4096, title ≤ 256; all embeds ≤ 6000.
    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::CodePoints, 4096),
            shape: Shape::Card { title_max: 256 },
        }
    }

    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            edit: true,
            ..Capabilities::default()
        }
    }

    fn steps(&self, post: &Post, edit: Option<&str>, _learned: &Learned) -> Steps {
        let request = match edit {
            Some(id) => self.message_request(Method::Patch, Body::Json(payload(post)), id),
            None => self.request(post),
        };
        Steps(vec![Step::send(SendStep::new(request, parse))])
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id = remote.id?;
        Some(Steps(vec![Step::send(SendStep::new(
            self.message_request(Method::Delete, Body::Empty, id),
            read_deleted,
        ))]))
    }

    /// The embed as Discord shows it: author, title link, description,
    /// image, and the footer with the publish time.
    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        let author = post
            .fields
            .author
            .as_deref()
            .map(|a| format!("<div class=\"author\">{}</div>", super::card::esc(a)))
            .unwrap_or_default();
        let thread = self
            .thread_name
            .as_deref()
            .map(|t| {
                format!(
                    "<div class=\"thread\">new forum thread: {}</div>",
                    super::card::esc(&thread_name(t, post))
                )
            })
            .unwrap_or_default();
        format!(
            "{thread}<div class=\"embed\">{author}<a class=\"t\" href=\"{}\">{}</a><div>{}</div>{}<div class=\"foot\">{} · {}</div></div>",
            c.url,
            c.title,
            c.text,
            c.hero,
            c.site,
            post.published.format("%Y-%m-%d %H:%M")
        )
    }

    fn card_style(&self) -> &'static str {
        ".discord{background:#313338;color:#dbdee1}.discord .bar{background:#5865f2}\n\
         .discord .embed{background:#2b2d31;border-left:4px solid #5865f2;border-radius:4px;padding:10px 14px}\n\
         .discord .embed a.t{color:#00a8fc;font-weight:700;text-decoration:none}.discord .foot{font-size:12px;opacity:.7;margin-top:8px}\n\
         .discord .author{font-size:13px;font-weight:600;margin-bottom:4px}.discord .thread{font-size:13px;opacity:.8;margin-bottom:6px}"
    }
}
