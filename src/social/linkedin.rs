//! LinkedIn: a member's or an organization's post through the Posts API,
//! with a pinned `LinkedIn-Version` and Rest.li 2.0.0 on every call.
//!
//! LinkedIn does not read the article's page, so herald supplies the card:
//! title, description and a thumbnail uploaded through the Images API
//! (`initializeUpload`, then a PUT of the bytes to the address it gives).
//! The commentary is LinkedIn's "little" text, in which `\ | { } @ [ ] ( )
//! < > # * _ ~` are reserved: each is escaped, since an unescaped one cuts
//! the post short without an error. The post's URN comes back in the
//! `x-restli-id` header. A duplicate is refused with 422 naming the first
//! post's URN, which is recorded as the post. Edits patch the commentary.
//!
//! Tokens: `token` from the config, used as given; or `herald auth` with
//! `client_id` and `client_secret` (60-day tokens; refresh tokens only for
//! LinkedIn's approved partners, used when given).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use url::Url;

use super::card::{Card, esc};
use super::compose::{CountUnit, Counter, TextLimit};
use super::http::{
    Body, DeliveryError, Method, Part, Request, Response, Slots, Template, body_excerpt, classify,
    endpoint, json_message,
};
use super::image::ImageData;
use super::keys::{KeyError, Keys};
use super::oauth;
use super::steps::{CallStep, SendStep, SessionStep, Step, Steps, UploadStep};
use super::{
    Authorization, Capabilities, Delivered, Learned, Platform, Post, SecretField, SecretKind,
    Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// The longest commentary, counted as sent (escapes included).
pub const MAX_COMMENTARY: usize = 3000;
/// The API version herald was written against (`LinkedIn-Version`).
pub const DEFAULT_VERSION: &str = "202610";
/// Characters LinkedIn's "little" format reserves.
pub const RESERVED: &[char] = &[
    '\\', '|', '{', '}', '@', '[', ']', '(', ')', '<', '>', '#', '*', '_', '~',
];
/// The longest article description herald sends.
const MAX_DESCRIPTION: usize = 300;

/// Code points as sent: each reserved character counts twice, for the
/// backslash that escapes it.
pub static AS_ESCAPED: Counter = Counter {
    label: "characters (escapes included)",
    count: escaped_length,
};

fn escaped_length(text: &str) -> usize {
    escape_little(text).chars().count()
}

/// `text` as "little" text that shows as written, except that a word of
/// `#` and letters and digits only (`#Rust`) stays a hashtag (the
/// format's `HashtagElement`), as it would typed in LinkedIn itself.
pub fn escape_little(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for (i, c) in text.char_indices() {
        let hashtag = c == '#' && {
            let word = text[i + 1..]
                .split(char::is_whitespace)
                .next()
                .unwrap_or_default();
            text[..i]
                .chars()
                .next_back()
                .is_none_or(char::is_whitespace)
                && !word.is_empty()
                && word.chars().all(char::is_alphanumeric)
        };
        if RESERVED.contains(&c) && !hashtag {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A member or organization page on LinkedIn.
#[derive(Debug)]
pub struct LinkedIn {
    author: String,
    api: Url,
    auth_url: Url,
    version: String,
    token: Tokens,
}

#[derive(Debug)]
enum Tokens {
    /// A token from the config, used as it is.
    Given(Secret),
    /// Tokens `herald auth` kept in the ledger.
    Kept {
        client_id: String,
        client_secret: Secret,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkedInKeys {
    author: Text,
    token: Option<Secret>,
    client_id: Option<Text>,
    client_secret: Option<Secret>,
    version: Option<Text>,
    api_url: Option<String>,
    auth_url: Option<String>,
}

/// Example keys: an organization page, with the API at `base`.
pub fn example(base: &str) -> serde_json::Value {
    json!({"author": "urn:li:organization:5515715", "token": "example-token", "api_url": base})
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: LinkedInKeys = keys.read()?;
    let author = keys.text("author", &k.author.0)?;
    let id = author
        .strip_prefix("urn:li:person:")
        .or_else(|| author.strip_prefix("urn:li:organization:"));
    if id.is_none_or(|id| id.is_empty() || id.contains(char::is_whitespace)) {
        return Err(KeyError::invalid(
            "author",
            format!("{author:?} is not urn:li:person:ID or urn:li:organization:ID"),
        ));
    }
    let version = match &k.version {
        Some(v) => keys.text("version", &v.0)?,
        None => DEFAULT_VERSION.to_string(),
    };
    if version.len() != 6 || !version.bytes().all(|b| b.is_ascii_digit()) {
        return Err(KeyError::invalid(
            "version",
            format!("{version:?} is not a LinkedIn API version (YYYYMM, e.g. {DEFAULT_VERSION})"),
        ));
    }
    let token = match (k.token, k.client_id, k.client_secret) {
        (Some(token), None, None) => Tokens::Given(token),
        (None, Some(id), Some(client_secret)) => Tokens::Kept {
            client_id: keys.text("client_id", &id.0)?,
            client_secret,
        },
        (Some(_), _, _) => {
            return Err(KeyError::invalid(
                "token",
                "give either token, or client_id and client_secret (then run `herald auth`), not both",
            ));
        }
        (None, None, _) | (None, _, None) => {
            return Err(KeyError::invalid(
                "token",
                "missing: give token, or client_id and client_secret and run `herald auth`",
            ));
        }
    };
    Ok(Arc::new(LinkedIn {
        author,
        api: keys.url(
            "api_url",
            k.api_url.as_deref().unwrap_or("https://api.linkedin.com"),
        )?,
        auth_url: keys.url(
            "auth_url",
            k.auth_url
                .as_deref()
                .unwrap_or("https://www.linkedin.com/oauth/v2"),
        )?,
        version,
        token,
    }))
}

const IMAGE_URN: &str = "<image from initializeUpload>";

impl LinkedIn {
    fn rest(&self, path: &str) -> Template {
        Template::text(endpoint(&self.api, &format!("rest/{path}")))
    }

    fn bearer(&self) -> Template {
        match &self.token {
            Tokens::Given(token) => Template::text("Bearer ").then_secret(token),
            Tokens::Kept { .. } => Template::text("Bearer ")
                .then_slot("access_token", "<access token kept by herald auth>"),
        }
    }

    /// Every `/rest/` call: the token, the pinned version, Rest.li 2.0.0.
    fn api_request(&self, method: Method, path: &str, body: Body) -> Request {
        Request::new(method, self.rest(path), body)
            .header("Authorization", self.bearer())
            .header("LinkedIn-Version", Template::text(self.version.clone()))
            .header("X-Restli-Protocol-Version", Template::text("2.0.0"))
    }

    /// LinkedIn's token endpoint takes the client's id and secret in the
    /// form.
    fn token_request(&self, fields: Vec<(&str, Template)>) -> Option<Request> {
        let Tokens::Kept {
            client_id,
            client_secret,
        } = &self.token
        else {
            return None;
        };
        Some(oauth::token_request(
            Template::text(endpoint(&self.auth_url, "accessToken")),
            fields,
            oauth::Client::InForm {
                id: client_id,
                secret: client_secret,
            },
        ))
    }

    fn session_step(&self) -> Option<SessionStep> {
        let refresh = self.token_request(oauth::refresh_fields())?;
        Some(SessionStep {
            login: None,
            refresh: Some(refresh),
            read: oauth::read_token,
            seed_refresh: None,
            renew_within: None,
        })
    }

    fn initialize_step(&self) -> CallStep {
        CallStep {
            request: self
                .api_request(
                    Method::Post,
                    "images",
                    Body::Json(json!({"initializeUploadRequest": {"owner": self.author}})),
                )
                .query("action", "initializeUpload"),
            read: read_initialize,
            when: None,
            optional: Some("the post went out without its thumbnail".to_string()),
            note: "an upload address for the thumbnail".to_string(),
        }
    }

    fn upload_step(&self, image: &Url) -> UploadStep {
        let mut without = Slots::new();
        without.insert("image_urn".into(), serde_json::Value::Null);
        UploadStep {
            image: image.clone(),
            prepare: as_fetched,
            request: Request::new(
                Method::Put,
                Template::text("").then_slot("upload_url", "<uploadUrl from initializeUpload>"),
                Body::Image {
                    note: format!("the image at {image}"),
                },
            )
            .header("Authorization", self.bearer()),
            read: read_uploaded,
            without,
            needs: Some("upload_url".to_string()),
        }
    }

    fn post_request(&self, post: &Post) -> Request {
        let mut article = json!({
            "source": post.url.as_str(),
            "title": post.card_title,
            "description": super::truncate_words(&post.fitted.summary, MAX_DESCRIPTION),
        });
        if post.image.is_some() {
            article["thumbnail"] = json!(IMAGE_URN);
        }
        let body = json!({
            "author": self.author,
            "commentary": escape_little(&post.fitted.text),
            "visibility": "PUBLIC",
            "distribution": {
                "feedDistribution": "MAIN_FEED",
                "targetEntities": [],
                "thirdPartyDistributionChannels": [],
            },
            "content": {"article": article},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": false,
        });
        self.api_request(Method::Post, "posts", Body::Json(body))
            .fill(
                "/content/article/thumbnail",
                Part::slot("image_urn", IMAGE_URN),
            )
    }

    fn edit_request(&self, post: &Post, urn: &str) -> Request {
        let encoded: String = url::form_urlencoded::byte_serialize(urn.as_bytes()).collect();
        self.api_request(
            Method::Post,
            &format!("posts/{encoded}"),
            Body::Json(
                json!({"patch": {"$set": {"commentary": escape_little(&post.fitted.text)}}}),
            ),
        )
        .header("X-RestLi-Method", Template::text("PARTIAL_UPDATE"))
    }
}

/// LinkedIn takes JPEG, PNG and GIF as they are; the fetch checked the
/// type and size.
fn as_fetched(image: &ImageData) -> Result<ImageData, String> {
    Ok(image.clone())
}

fn message(r: &Response) -> String {
    json_message(r, "/message")
}

/// 401 is a token that ended or was revoked.
fn check(r: &Response, now: DateTime<Utc>) -> Result<(), DeliveryError> {
    if r.status == 401 {
        return Err(DeliveryError::AuthExpired {
            message: format!("HTTP 401: {}", message(r)),
        });
    }
    classify(r, message, |_| None, now)
}

/// `{"value":{"uploadUrl":…,"image":"urn:li:image:…"}}`.
fn read_initialize(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    check(r, now)?;
    let v = r.json().unwrap_or_default();
    let field = |name: &str| {
        v.pointer(&format!("/value/{name}"))
            .and_then(|s| s.as_str())
            .map(str::to_string)
    };
    let (Some(upload_url), Some(image)) = (field("uploadUrl"), field("image")) else {
        return Err(DeliveryError::permanent(format!(
            "initializeUpload gave no uploadUrl and image: {}",
            body_excerpt(&r.text())
        )));
    };
    let mut slots = Slots::new();
    slots.insert("upload_url".into(), json!(upload_url));
    slots.insert("image_urn".into(), json!(image));
    Ok(slots)
}

fn read_uploaded(r: &Response, now: DateTime<Utc>) -> Result<Slots, DeliveryError> {
    check(r, now).map(|()| Slots::new())
}

/// The first post's URN in a duplicate refusal's message.
fn duplicate_of(message: &str) -> Option<String> {
    let start = message.find("urn:li:")?;
    let urn: String = message[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
        .collect();
    (urn.matches(':').count() >= 3).then_some(urn)
}

fn delivered(urn: String) -> Delivered {
    Delivered {
        reference: None,
        remote_url: Some(format!("https://www.linkedin.com/feed/update/{urn}/")),
        remote_id: Some(urn),
    }
}

/// 201 with the URN in `x-restli-id`; 422 `DUPLICATE_POST` names the
/// post already made.
fn read_post(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if r.status == 422 {
        let text = r.text();
        if text.contains("DUPLICATE_POST")
            && let Some(urn) = duplicate_of(&message(r))
        {
            return Ok(delivered(urn));
        }
    }
    check(r, now)?;
    let urn = r
        .header("x-restli-id")
        .map(str::to_string)
        .or_else(|| {
            r.json()
                .and_then(|v| v.get("id").and_then(|i| i.as_str()).map(str::to_string))
        })
        .ok_or_else(|| {
            DeliveryError::uncertain(format!(
                "LinkedIn answered {} without the post's URN (x-restli-id)",
                r.status
            ))
        })?;
    Ok(delivered(urn))
}

/// 204; a post already gone is gone.
fn read_deleted(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    if matches!(r.status, 404 | 410) {
        return Ok(Delivered::default());
    }
    check(r, now).map(|()| Delivered::default())
}

/// 204 for a patched post.
fn read_edit(r: &Response, _: &Slots, now: DateTime<Utc>) -> Result<Delivered, DeliveryError> {
    check(r, now)?;
    Ok(Delivered {
        reference: None,
        remote_id: None,
        remote_url: None,
    })
}

impl Platform for LinkedIn {
    fn kind(&self) -> &'static str {
        "linkedin"
    }

    /// In the commentary, written as the "little" format's hashtag markup.
    fn hashtags(&self) -> super::Hashtags {
        super::Hashtags::InText
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        match &self.token {
            Tokens::Given(token) => vec![SecretField::new("token", token, SecretKind::Token)],
            Tokens::Kept { client_secret, .. } => vec![SecretField::new(
                "client_secret",
                client_secret,
                SecretKind::Text,
            )],
        }
    }

    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(CountUnit::Custom(AS_ESCAPED), MAX_COMMENTARY),
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
        let mut steps = Vec::new();
        if let Some(session) = self.session_step() {
            steps.push(Step::Session(session));
        }
        if let Some(urn) = edit {
            steps.push(Step::send(SendStep::new(
                self.edit_request(post, urn),
                read_edit,
            )));
            return Steps(steps);
        }
        if let Some(image) = &post.image {
            steps.push(Step::Call(self.initialize_step()));
            steps.push(Step::Upload(self.upload_step(image)));
        }
        steps.push(Step::send(SendStep::new(
            self.post_request(post),
            read_post,
        )));
        Steps(steps)
    }

    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let urn: String = url::form_urlencoded::byte_serialize(remote.id?.as_bytes()).collect();
        let mut steps = Vec::new();
        if let Some(session) = self.session_step() {
            steps.push(Step::Session(session));
        }
        steps.push(Step::send(SendStep::new(
            self.api_request(Method::Delete, &format!("posts/{urn}"), Body::Empty),
            read_deleted,
        )));
        Some(Steps(steps))
    }

    fn account(&self) -> Option<String> {
        Some(self.author.clone())
    }

    fn card(&self, post: &Post, c: &Card<'_>) -> String {
        // LinkedIn shows the article below the commentary: thumbnail,
        // title and the site's host.
        let host = post.url.host_str().unwrap_or_default();
        format!(
            "{}<div>{}</div><a class=\"article\" href=\"{}\" style=\"display:block;color:inherit;text-decoration:none\">{}<div class=\"lc\"><strong>{}</strong><div class=\"d\">{}</div></div></a>",
            c.who(),
            c.text,
            c.url,
            c.hero,
            esc(&post.card_title),
            esc(host)
        )
    }

    fn card_style(&self) -> &'static str {
        ".linkedin{background:#fff;color:#000000e6}.linkedin .bar{background:#0a66c2}.linkedin .avatar{background:#0a66c2}.linkedin a{color:#0a66c2}"
    }

    fn authorization(&self) -> Option<Authorization> {
        let Tokens::Kept { client_id, .. } = &self.token else {
            return None;
        };
        let scope = if self.author.starts_with("urn:li:organization:") {
            "w_organization_social"
        } else {
            "w_member_social"
        };
        let mut authorize = Url::parse(&endpoint(&self.auth_url, "authorization")).ok()?;
        authorize
            .query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("scope", scope);
        let exchange = self.token_request(oauth::code_fields(false))?;
        Some(Authorization {
            authorize,
            pkce: false,
            exchange,
            read: oauth::read_token,
            upgrade: None,
            session: self.session_step()?,
            setup: "an app at developer.linkedin.com with the product \"Share on LinkedIn\" (member posts, scope w_member_social) or the Community Management API (organization posts, scope w_organization_social; the member must administer the page), and the redirect URL herald prints under Auth → Authorized redirect URLs",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reserved_character_is_escaped_and_counted_twice() {
        let text = "Async (part 1): #rust_lang @home [x] {y} <z> *a* ~b~ | c\\d";
        let escaped = escape_little(text);
        assert_eq!(
            escaped,
            "Async \\(part 1\\): \\#rust\\_lang \\@home \\[x\\] \\{y\\} \\<z\\> \\*a\\* \\~b\\~ \\| c\\\\d"
        );
        assert_eq!(escaped_length(text), escaped.chars().count());
        // A hashtag stays one; a `#` inside a word or before other
        // characters is text.
        assert_eq!(
            escape_little("#Rust #EdgeAI C# #1."),
            "#Rust #EdgeAI C\\# \\#1."
        );
    }

    #[test]
    fn a_duplicate_message_names_the_first_post() {
        assert_eq!(
            duplicate_of(
                "Content is a duplicate of urn:li:share:7141234567890123456, please retry"
            )
            .as_deref(),
            Some("urn:li:share:7141234567890123456")
        );
        assert_eq!(duplicate_of("no urn here"), None);
    }
}
