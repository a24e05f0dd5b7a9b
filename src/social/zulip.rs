//! Zulip: a message to a stream's topic (`POST /api/v1/messages`, form
//! fields), authenticated as a bot with HTTP Basic `email:api_key`.
//!
//! The content is Zulip Markdown: the post's text with Markdown's special
//! characters escaped (a title's `*` or `_` stays as written, and no
//! `@**mention**` or `$$math$$` forms by accident), the link kept as it
//! is, and the hero image as a link Zulip previews inline. The topic is
//! the configured one, or the article's title cut to Zulip's 60
//! characters. 10,000 characters. Edits replace the content (`PATCH`).
//! No idempotency: a resend is a second message.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::card::Card;
use super::compose::{CountUnit, Counter, TextLimit, url_spans};
use super::http::{
    Body, DeliveryError, Method, Part, Request, Response, Slots, Template, body_excerpt, classify,
    endpoint, json_message,
};
use super::keys::{KeyError, Keys};
use super::steps::{SendStep, Step, Steps};
use super::{
    Capabilities, Delivered, Learned, Platform, Post, SecretField, SecretKind, Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// The longest message (Zulip's default `max_message_length`).
pub const MAX_CONTENT: usize = 10_000;
/// The longest topic (Zulip's `max_topic_length`).
pub const MAX_TOPIC: usize = 60;
/// Room kept for the image line after the text.
const IMAGE_LINE: usize = 2_100;

/// A stream on a Zulip server.
#[derive(Debug)]
pub struct Zulip {
    site: Url,
    email: String,
    api_key: Secret,
    stream: String,
    topic: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZulipKeys {
    site: String,
    email: Text,
    api_key: Secret,
    stream: Text,
    topic: Option<Text>,
}

/// Example keys: a bot on a server at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"site": base, "email": "herald-bot@zulip.example", "api_key": "example-api-key", "stream": "announcements"})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: ZulipKeys = keys.read()?;
    let topic = match &k.topic {
        Some(t) => {
            let t = keys.text("topic", &t.0)?;
            if t.chars().count() > MAX_TOPIC {
                return Err(KeyError::invalid(
                    "topic",
                    format!("longer than Zulip's {MAX_TOPIC} characters"),
                ));
            }
            Some(t)
        }
        None => None,
    };
    Ok(Arc::new(Zulip {
        site: keys.url("site", &k.site)?,
        email: keys.text("email", &k.email.0)?,
        api_key: k.api_key,
        stream: keys.text("stream", &k.stream.0)?,
        topic,
    }))
}

/// Characters as sent, escapes included.
pub static AS_ESCAPED: Counter = Counter {
    label: "characters (escapes included)",
    count: escaped_length,
};

fn escaped_length(text: &str) -> usize {
    escape_markdown(text).chars().count()
}

/// Text as Zulip Markdown shows it as written: URLs kept, the characters
/// that start Markdown, mentions, emoji and math escaped.
pub fn escape_markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut last = 0;
    let plain = |s: &str, out: &mut String| {
        for c in s.chars() {
            if matches!(
                c,
                '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '~' | '|' | '$' | '#' | '@' | ':'
            ) {
                out.push('\\');
            }
            out.push(c);
        }
    };
    for (start, end) in url_spans(text) {
        plain(&text[last..start], &mut out);
        out.push_str(&text[start..end]);
        last = end;
    }
    plain(&text[last..], &mut out);
    out
}

impl Zulip {
    fn auth(&self) -> Template {
        Template(vec![
            Part::Text("Basic ".into()),
            Part::Basic {
                user: self.email.clone(),
                password: self.api_key.clone(),
            },
        ])
    }

    fn content(&self, post: &Post) -> String {
        let mut content = escape_markdown(&post.fitted.text);
        if let Some(image) = &post.image {
            let alt = escape_markdown(&super::truncate_words(&post.image_alt, 200));
            content.push_str(&format!("\n[{alt}]({image})"));
        }
        content
    }

    fn topic(&self, post: &Post) -> String {
        self.topic
            .clone()
            .unwrap_or_else(|| super::truncate_words(&post.fields.title, MAX_TOPIC))
    }
}

fn message(r: &Response) -> String {
    json_message(r, "/msg")
}

/// Zulip's 429 says how long in its body (`retry-after`, seconds).
fn body_delay(r: &Response) -> Option<std::time::Duration> {
    r.json()?
        .get("retry-after")
        .and_then(serde_json::Value::as_f64)
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(std::time::Duration::from_secs_f64)
}

/// `{"result":"success","id":42}`; the message's address is the server's
/// `#narrow/near/{id}`.
fn read_sent(r: &Response, slots: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(r, message, body_delay, now)?;
    let v = r.json().unwrap_or_default();
    let id = v
        .get("id")
        .and_then(|i| i.as_i64().or_else(|| i.as_str()?.parse().ok()))
        .ok_or_else(|| {
            DeliveryError::uncertain(format!(
                "Zulip answered {} without the message's id: {}",
                r.status,
                body_excerpt(&r.text())
            ))
        })?;
    let site = slots
        .get("site")
        .and_then(|s| s.as_str())
        .unwrap_or_default();
    Ok(Delivered {
        reference: None,
        remote_id: Some(id.to_string()),
        remote_url: Some(format!("{}/#narrow/near/{id}", site.trim_end_matches('/'))),
    })
}

/// A message already gone (`BAD_REQUEST` "Invalid message(s)") is gone.
fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if r.status == 400 && message(r).contains("Invalid message") {
        return Ok(Delivered::default());
    }
    super::read_deletion(r, message, now)
}

fn read_edited(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(r, message, body_delay, now)?;
    Ok(Delivered {
        reference: None,
        remote_id: None,
        remote_url: None,
    })
}

impl Platform for Zulip {
    fn kind(&self) -> &'static str {
        "zulip"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("api_key", &self.api_key, SecretKind::Text)]
    }

    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            // Counted as sent (escapes included); the image line gets the rest.
            limit: TextLimit::new(CountUnit::Custom(AS_ESCAPED), MAX_CONTENT - IMAGE_LINE),
            shape: Shape::Text,
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
            Some(id) => Request::new(
                Method::Patch,
                Template::text(endpoint(&self.site, &format!("api/v1/messages/{id}"))),
                Body::Form(vec![("content".into(), Template::text(self.content(post)))]),
            ),
            None => Request::new(
                Method::Post,
                Template::text(endpoint(&self.site, "api/v1/messages")),
                Body::Form(vec![
                    ("type".into(), Template::text("stream")),
                    ("to".into(), Template::text(self.stream.clone())),
                    ("topic".into(), Template::text(self.topic(post))),
                    ("content".into(), Template::text(self.content(post))),
                ]),
            ),
        }
        .header("Authorization", self.auth());
        let mut step = SendStep::new(
            request,
            if edit.is_some() {
                read_edited
            } else {
                read_sent
            },
        );
        step.known.insert("site".into(), json!(self.site.as_str()));
        Steps(vec![Step::send(step)])
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id = remote.id?;
        Some(Steps(vec![Step::send(SendStep::new(
            Request::new(
                Method::Delete,
                Template::text(endpoint(&self.site, &format!("api/v1/messages/{id}"))),
                Body::Empty,
            )
            .header("Authorization", self.auth()),
            read_deleted,
        ))]))
    }

    fn account(&self) -> Option<String> {
        Some(self.email.clone())
    }

    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        format!(
            "<div class=\"bar\">#{} › {}</div>{}<div>{}</div>{}",
            super::card::esc(&self.stream),
            super::card::esc(&self.topic(post)),
            c.who(),
            c.text,
            c.hero
        )
    }

    fn card_style(&self) -> &'static str {
        ".zulip{background:#fff;color:#333}.zulip .bar{background:#e1e5f2;padding:2px 6px;font-size:12px}"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_is_escaped_but_links_are_kept() {
        assert_eq!(
            escape_markdown("Rust_lang *fast* @all $$x$$: https://a.example/x_y"),
            "Rust\\_lang \\*fast\\* \\@all \\$\\$x\\$\\$\\: https://a.example/x_y"
        );
    }
}
