//! dev.to (Forem API v1): the whole article cross-posted, not a summary.
//! `body_markdown` is the article's Markdown with its relative links made
//! absolute; `canonical_url` is the permalink, so search engines credit the
//! site; `main_image` is the hero (its alt text goes with the image in the
//! Markdown, dev.to's cover has none); at most four tags, in dev.to's form
//! (lowercase letters and digits). Edits `PUT` the same article.
//!
//! A canonical URL is unique across dev.to: a resend of an article that
//! went out is refused with 422, and herald then finds the article among
//! the account's own by that URL, so a resend never makes a second one.
//! A tag dev.to refuses sends the article again without tags, with a
//! warning. 429s are honoured.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::card::{Card, esc};
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Request, Response, Slots, Template, body_excerpt, classify,
    endpoint, json_message,
};
use super::keys::{KeyError, Keys};
use super::steps::{Fallback, SendStep, Step, Steps, Verify};
use super::{
    Capabilities, Delivered, Idempotency, Learned, Platform, Post, SecretField, SecretKind, Shape,
    TextRule,
};
use crate::secret::Secret;

/// dev.to's limits: title, tags, and the body in bytes.
pub const MAX_TITLE: usize = 128;
pub const MAX_TAGS: usize = 4;
pub const MAX_BODY_BYTES: usize = 800_000;
/// dev.to's description is shown in cards and feeds; longer is cut there.
const MAX_DESCRIPTION: usize = 250;

/// An account on dev.to (or another Forem).
#[derive(Debug)]
pub struct DevTo {
    api: Url,
    api_key: Secret,
    published: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevToKeys {
    api_key: Secret,
    published: Option<bool>,
    api_url: Option<String>,
}

/// Example keys: an account on a Forem at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"api_key": "example-api-key", "api_url": base})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: DevToKeys = keys.read()?;
    Ok(Arc::new(DevTo {
        api: keys.url("api_url", k.api_url.as_deref().unwrap_or("https://dev.to"))?,
        api_key: k.api_key,
        published: k.published.unwrap_or(true),
    }))
}

/// Tags as dev.to takes them: lowercase ASCII letters and digits only,
/// without duplicates, at most four.
pub fn tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        let t: String = t
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        if !t.is_empty() && !out.contains(&t) {
            out.push(t);
        }
        if out.len() == MAX_TAGS {
            break;
        }
    }
    out
}

impl DevTo {
    fn api(&self, path: &str) -> Template {
        Template::text(endpoint(&self.api, &format!("api/{path}")))
    }

    fn authorized(&self, request: Request) -> Request {
        request
            .header("api-key", Template::secret(&self.api_key))
            .header(
                "Accept",
                Template::text("application/vnd.forem.api-v1+json"),
            )
    }

    fn article(&self, post: &Post, with_tags: bool) -> serde_json::Value {
        let mut body = post
            .markdown
            .as_deref()
            .unwrap_or(post.fitted.text.as_str())
            .trim_start_matches(['\n', '\r'])
            .to_string();
        if body.len() > MAX_BODY_BYTES {
            let mut cut = MAX_BODY_BYTES;
            while !body.is_char_boundary(cut) {
                cut -= 1;
            }
            body.truncate(cut);
        }
        let mut article = json!({
            "title": super::truncate_words(&post.fields.title, MAX_TITLE),
            "body_markdown": body,
            "published": self.published,
            "canonical_url": post.url.as_str(),
            "description": super::truncate_words(&post.fields.summary, MAX_DESCRIPTION),
        });
        if let Some(image) = &post.image {
            article["main_image"] = json!(image.as_str());
        }
        if with_tags {
            article["tags"] = json!(tags(&post.fields.tags));
        }
        json!({ "article": article })
    }

    fn create_step(&self, post: &Post) -> SendStep {
        let request = |with_tags| {
            self.authorized(Request::new(
                Method::Post,
                self.api("articles"),
                Body::Json(self.article(post, with_tags)),
            ))
        };
        let mut step = SendStep::new(request(true), read_article);
        if !tags(&post.fields.tags).is_empty() {
            step.fallback = Some(Fallback {
                when: refused_a_tag,
                request: request(false),
                note: "sent again without tags if dev.to refuses one".to_string(),
                warning: "dev.to refused the tags; the article went out without them".to_string(),
            });
        }
        step.verify = Some(Verify {
            request: self
                .authorized(Request::new(
                    Method::Get,
                    self.api("articles/me/all"),
                    Body::Empty,
                ))
                .query("per_page", "1000"),
            read: find_by_canonical_url,
        });
        step.known
            .insert("canonical_url".into(), json!(post.url.as_str()));
        step
    }
}

fn message(r: &Response) -> String {
    json_message(r, "/error")
}

/// A 422 that names a tag.
fn refused_a_tag(e: &DeliveryError) -> bool {
    matches!(e, DeliveryError::Permanent { message } if message.contains("HTTP 422") && message.to_lowercase().contains("tag"))
}

/// 201 (or 200 for an update) with the article's `id` and `url`.
fn read_article(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(r, message, |_| None, now)?;
    let v = r.json().unwrap_or_default();
    let id = v
        .get("id")
        .and_then(|i| {
            i.as_i64()
                .map(|n| n.to_string())
                .or_else(|| i.as_str().map(str::to_string))
        })
        .ok_or_else(|| {
            DeliveryError::uncertain(format!(
                "dev.to answered {} without the article's id: {}",
                r.status,
                body_excerpt(&r.text())
            ))
        })?;
    Ok(Delivered {
        reference: None,
        remote_id: Some(id),
        remote_url: v.get("url").and_then(|u| u.as_str()).map(str::to_string),
    })
}

fn read_unpublished(
    r: &Response,
    _: &Slots,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    super::read_deletion(r, message, now)
}

/// The account's article whose `canonical_url` is this post's.
fn find_by_canonical_url(
    r: &Response,
    slots: &Slots,
    now: DateTime<Utc>,
) -> Result<Option<Delivered>, DeliveryError> {
    classify(r, message, |_| None, now)?;
    let wanted = slots.get("canonical_url").and_then(|u| u.as_str());
    let found = r.json().and_then(|v| {
        v.as_array()?
            .iter()
            .find(|a| a.get("canonical_url").and_then(|u| u.as_str()) == wanted)
            .cloned()
    });
    Ok(found.map(|a| Delivered {
        reference: None,
        remote_id: a.get("id").and_then(|i| {
            i.as_i64()
                .map(|n| n.to_string())
                .or_else(|| i.as_str().map(str::to_string))
        }),
        remote_url: a.get("url").and_then(|u| u.as_str()).map(str::to_string),
    }))
}

impl Platform for DevTo {
    fn kind(&self) -> &'static str {
        "devto"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new(
            "api_key",
            &self.api_key,
            SecretKind::Token,
        )]
    }

    /// The composed text is only a fallback body and the summary; the
    /// article itself is its Markdown.
    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::Bytes, MAX_BODY_BYTES),
            shape: Shape::Card {
                title_max: MAX_TITLE,
            },
        }
    }

    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            edit: true,
            // The canonical URL is unique on dev.to: a resend is refused,
            // and the first article is then found by it.
            idempotency: Idempotency::Key { kept_for: None },
            full_article: true,
            ..Capabilities::default()
        }
    }

    fn steps(&self, post: &Post, edit: Option<&str>, _learned: &Learned) -> Steps {
        let step = match edit {
            Some(id) => SendStep::new(
                self.authorized(Request::new(
                    Method::Put,
                    self.api(&format!("articles/{id}")),
                    Body::Json(self.article(post, true)),
                )),
                read_article,
            ),
            None => self.create_step(post),
        };
        Steps(vec![Step::send(step)])
    }

    /// dev.to has no deletion: the article is unpublished (a draft again).
    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id = remote.id?;
        Some(Steps(vec![Step::send(SendStep::new(
            self.authorized(Request::new(
                Method::Put,
                self.api(&format!("articles/{id}")),
                Body::Json(json!({"article": {"published": false}})),
            )),
            read_unpublished,
        ))]))
    }

    fn account(&self) -> Option<String> {
        self.api
            .host_str()
            .map(|h| format!("the key's account on {h}"))
    }

    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        format!(
            "{}{}<h3>{}</h3><div class=\"d\">{}</div>",
            c.who(),
            c.hero,
            esc(&post.fields.title),
            esc(&post.fields.summary)
        )
    }

    fn card_style(&self) -> &'static str {
        ".devto{background:#fff;color:#171717}.devto .bar{background:#000}.devto .avatar{background:#3b49df}"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_take_dev_to_s_form() {
        let given: Vec<String> = ["Rust-Lang", "async", "C++", "rust_lang", "Web Dev", "ai"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(tags(&given), ["rustlang", "async", "c", "webdev"]);
    }
}
