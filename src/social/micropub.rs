//! Micropub (W3C): micro.blog, WordPress with the IndieWeb plugins, Known,
//! and any other endpoint. The post is an h-entry in Micropub's JSON syntax
//! (the text as `content`, the hero image as `photo` with its alt text, the
//! tags as `category`); its address is the `Location` the server answers.
//!
//! The image is uploaded to the media endpoint (the `media_endpoint` key,
//! else the one the server names when asked `q=config`, learned and kept a
//! day) and the uploaded file's `Location` is used; a server without one,
//! or an upload it refuses, gets the image by its public URL. Edits replace
//! the content (`action: update`). No idempotency: a resend is a second
//! post.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::http::{
    Body, DeliveryError, Method, MultipartValue, Part, Request, Response, Slots, Template,
    body_excerpt, classify,
};
use super::image::ImageData;
use super::keys::{KeyError, Keys};
use super::oauth;
use super::steps::{SendStep, Step, Steps, UploadStep};
use super::{
    Capabilities, Delivered, Learned, Learning, Platform, Post, SecretField, SecretKind, Shape,
    TextRule,
};
use crate::secret::Secret;

/// A post's length when the config does not say: what micro.blog shows in
/// full in a timeline (longer posts without a title are cut there).
pub const DEFAULT_MAX_LENGTH: usize = 280;
/// The learned key of the media endpoint ("" when the server has none).
pub const MEDIA_ENDPOINT: &str = "media_endpoint";
/// How long a learned media endpoint is trusted.
const ENDPOINT_KEPT: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// A site's Micropub endpoint.
#[derive(Debug)]
pub struct Micropub {
    endpoint: Url,
    token: Secret,
    media_endpoint: Option<Url>,
    max_length: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MicropubKeys {
    endpoint: String,
    token: Secret,
    media_endpoint: Option<String>,
    max_length: Option<usize>,
}

/// Example keys: an endpoint at `base`, its media endpoint found by asking.
pub fn example(base: &str) -> serde_json::Value {
    json!({"endpoint": format!("{base}/micropub"), "token": "example-token"})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: MicropubKeys = keys.read()?;
    if k.max_length == Some(0) {
        return Err(KeyError::invalid("max_length", "must be at least 1"));
    }
    Ok(Arc::new(Micropub {
        endpoint: keys.url("endpoint", &k.endpoint)?,
        token: k.token,
        media_endpoint: k
            .media_endpoint
            .map(|m| keys.url("media_endpoint", &m))
            .transpose()?,
        max_length: k.max_length.unwrap_or(DEFAULT_MAX_LENGTH),
    }))
}

const PHOTO: &str = "<Location of the uploaded file>";

impl Micropub {
    fn bearer(&self) -> Template {
        Template::text("Bearer ").then_secret(&self.token)
    }

    /// The media endpoint: the configured one, else the learned one.
    fn media_endpoint(&self, learned: &Learned) -> Option<Url> {
        self.media_endpoint.clone().or_else(|| {
            learned
                .get(MEDIA_ENDPOINT)
                .filter(|u| !u.is_empty())
                .and_then(|u| Url::parse(u).ok())
        })
    }

    fn upload_step(&self, media: &Url, image: &Url) -> UploadStep {
        // Refused or unusable: the server gets the image by its URL.
        let mut without = Slots::new();
        without.insert("photo".into(), json!(image.as_str()));
        UploadStep {
            image: image.clone(),
            prepare: as_fetched,
            request: Request::new(
                Method::Post,
                Template::text(media.as_str()),
                Body::Multipart(vec![(
                    "file".to_string(),
                    MultipartValue::Image {
                        stem: "hero".to_string(),
                        note: format!("the image at {image}, fetched when sent"),
                    },
                )]),
            )
            .header("Authorization", self.bearer()),
            read: read_upload,
            without,
            needs: None,
        }
    }

    fn create_request(&self, post: &Post, uploaded: bool) -> Request {
        let mut properties = json!({"content": [post.fitted.text]});
        if let Some(image) = &post.image {
            let value = if uploaded { PHOTO } else { image.as_str() };
            properties["photo"] = json!([{"value": value, "alt": post.image_alt}]);
        }
        if !post.fields.tags.is_empty() {
            properties["category"] = json!(post.fields.tags);
        }
        let mut request = Request::new(
            Method::Post,
            Template::text(self.endpoint.as_str()),
            Body::Json(json!({"type": ["h-entry"], "properties": properties})),
        )
        .header("Authorization", self.bearer());
        if uploaded {
            request = request.fill("/properties/photo/0/value", Part::slot("photo", PHOTO));
        }
        request
    }

    fn update_request(&self, post: &Post, url: &str) -> Request {
        Request::new(
            Method::Post,
            Template::text(self.endpoint.as_str()),
            Body::Json(json!({
                "action": "update",
                "url": url,
                "replace": {"content": [post.fitted.text]},
            })),
        )
        .header("Authorization", self.bearer())
    }
}

/// The media endpoint takes the image as it is.
fn as_fetched(image: &ImageData) -> Result<ImageData, String> {
    Ok(image.clone())
}

/// The `Location` of an answer, made absolute against the request's URL.
fn location(r: &Response, base: Option<&str>) -> Option<String> {
    let l = r.header("location")?.trim();
    match base.and_then(|b| Url::parse(b).ok()) {
        Some(base) => base.join(l).ok().map(String::from),
        None => Url::parse(l).ok().map(String::from),
    }
}

/// 201 with the file's `Location`.
fn read_upload(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    classify(r, oauth::message, |_| None, now)?;
    let url = location(r, None).ok_or_else(|| {
        DeliveryError::permanent(format!(
            "the media endpoint answered {} without an absolute Location",
            r.status
        ))
    })?;
    let mut slots = Slots::new();
    slots.insert("photo".into(), json!(url));
    Ok(slots)
}

/// 201 or 202 with the post's `Location`.
fn read_created(
    r: &Response,
    slots: &Slots,
    now: DateTime<Utc>,
) -> Result<Delivered, DeliveryError> {
    classify(r, oauth::message, |_| None, now)?;
    let endpoint = slots.get("endpoint").and_then(|e| e.as_str());
    let url = location(r, endpoint).ok_or_else(|| {
        DeliveryError::uncertain(format!(
            "the Micropub endpoint answered {} without the post's Location: {}",
            r.status,
            body_excerpt(&r.text())
        ))
    })?;
    Ok(Delivered {
        reference: None,
        remote_id: Some(url.clone()),
        remote_url: Some(url),
    })
}

fn read_updated(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    classify(r, oauth::message, |_| None, now)?;
    Ok(Delivered {
        reference: None,
        remote_id: None,
        remote_url: None,
    })
}

fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    super::read_deletion(r, oauth::message, now)
}

/// `q=config`'s `media-endpoint`, or "" when the server has none.
fn read_config(r: &Response, now: DateTime<Utc>) -> Result<Vec<(String, String)>, DeliveryError> {
    classify(r, oauth::message, |_| None, now)?;
    let media = r
        .json()
        .and_then(|v| {
            v.get("media-endpoint")
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .filter(|m| Url::parse(m).is_ok())
        .unwrap_or_default();
    Ok(vec![(MEDIA_ENDPOINT.to_string(), media)])
}

impl Platform for Micropub {
    fn kind(&self) -> &'static str {
        "micropub"
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new("token", &self.token, SecretKind::Token)]
    }

    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::CodePoints, self.max_length),
            shape: Shape::Text,
        }
    }

    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            edit: true,
            ..Capabilities::default()
        }
    }

    fn learn(&self, learned: &Learned, now: DateTime<Utc>) -> Option<Learning> {
        (self.media_endpoint.is_none() && learned.stale(MEDIA_ENDPOINT, now, ENDPOINT_KEPT)).then(
            || Learning {
                request: Request::new(
                    Method::Get,
                    Template::text(self.endpoint.as_str()),
                    Body::Empty,
                )
                .query("q", "config")
                .header("Authorization", self.bearer()),
                read: read_config,
                what: "the server's media endpoint",
                otherwise: None,
            },
        )
    }

    fn steps(&self, post: &Post, edit: Option<&str>, learned: &Learned) -> Steps {
        if let Some(url) = edit {
            return Steps(vec![Step::send(SendStep::new(
                self.update_request(post, url),
                read_updated,
            ))]);
        }
        let mut steps = Vec::new();
        let media = post
            .image
            .as_ref()
            .and_then(|image| Some((self.media_endpoint(learned)?, image)));
        if let Some((media, image)) = &media {
            steps.push(Step::Upload(self.upload_step(media, image)));
        }
        let mut send = SendStep::new(self.create_request(post, media.is_some()), read_created);
        send.known
            .insert("endpoint".into(), json!(self.endpoint.as_str()));
        steps.push(Step::send(send));
        Steps(steps)
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let url = remote.url.or(remote.id)?;
        Some(Steps(vec![Step::send(SendStep::new(
            Request::new(
                Method::Post,
                Template::text(self.endpoint.as_str()),
                Body::Json(json!({"action": "delete", "url": url})),
            )
            .header("Authorization", self.bearer()),
            read_deleted,
        ))]))
    }

    fn account(&self) -> Option<String> {
        self.endpoint.host_str().map(str::to_string)
    }

    fn card(&self, _post: &Post, c: &Card<'_>) -> String {
        c.timeline()
    }

    fn card_style(&self) -> &'static str {
        ".micropub{background:#fff;color:#222}.micropub .bar{background:#5c3566}.micropub .avatar{background:#5c3566}"
    }
}
