//! Requests as values, resolving them for sending, and reading the answer.
//!
//! A `Request` keeps its secrets (webhook URLs, tokens) as `Secret`s and the
//! values an earlier step returns (a media id, a session token) as named
//! slots: `preview` shows them as `${NAME}` and `<id from …>`, and only
//! `resolve`, just before sending, fills them in. `classify` is the pure
//! decision every platform shares: done, or which kind of failure.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::image::ImageData;
use crate::secret::Secret;

/// Values earlier steps of a post returned, by name.
pub type Slots = BTreeMap<String, serde_json::Value>;

/// A piece of a URL, header value or JSON field.
#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Secret(Secret),
    /// A value an earlier step returns; `shown` is what a dry run prints.
    Slot {
        name: String,
        shown: String,
    },
    /// `base64(user ":" password)`, for HTTP Basic authentication.
    Basic {
        user: String,
        password: Secret,
    },
}

impl Part {
    pub fn slot(name: &str, shown: &str) -> Part {
        Part::Slot {
            name: name.to_string(),
            shown: shown.to_string(),
        }
    }

    fn shown(&self) -> String {
        match self {
            Part::Text(t) => t.clone(),
            Part::Secret(s) => s.redacted(),
            Part::Slot { shown, .. } => shown.clone(),
            Part::Basic { user, password } => {
                format!("<base64 of {user}:{}>", password.redacted())
            }
        }
    }

    fn resolve(&self, slots: &Slots) -> Result<serde_json::Value, DeliveryError> {
        match self {
            Part::Text(t) => Ok(serde_json::Value::String(t.clone())),
            Part::Secret(s) => s
                .expose()
                .map(serde_json::Value::String)
                .map_err(|e| DeliveryError::unbuildable(e.to_string())),
            Part::Slot { name, shown } => slots.get(name).cloned().ok_or_else(|| {
                DeliveryError::unbuildable(format!(
                    "no value for {shown}: an earlier step did not return it"
                ))
            }),
            Part::Basic { user, password } => {
                let password = password
                    .expose()
                    .map_err(|e| DeliveryError::unbuildable(e.to_string()))?;
                Ok(serde_json::Value::String(
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")),
                ))
            }
        }
    }
}

/// Text made of parts: resolved for sending, redacted for showing.
#[derive(Debug, Clone, Default)]
pub struct Template(pub Vec<Part>);

impl Template {
    pub fn text(s: impl Into<String>) -> Self {
        Template(vec![Part::Text(s.into())])
    }

    pub fn secret(s: &Secret) -> Self {
        Template(vec![Part::Secret(s.clone())])
    }

    #[must_use]
    pub fn then(mut self, s: impl Into<String>) -> Self {
        self.0.push(Part::Text(s.into()));
        self
    }

    #[must_use]
    pub fn then_secret(mut self, s: &Secret) -> Self {
        self.0.push(Part::Secret(s.clone()));
        self
    }

    #[must_use]
    pub fn then_slot(mut self, name: &str, shown: &str) -> Self {
        self.0.push(Part::slot(name, shown));
        self
    }

    #[must_use]
    pub fn then_template(mut self, t: Template) -> Self {
        self.0.extend(t.0);
        self
    }

    /// The real text; slots must hold strings.
    pub fn resolve(&self, slots: &Slots) -> Result<String, DeliveryError> {
        self.0
            .iter()
            .map(|p| match p.resolve(slots)? {
                serde_json::Value::String(s) => Ok(s),
                other => Ok(other.to_string()),
            })
            .collect()
    }

    pub fn redacted(&self) -> String {
        self.0.iter().map(Part::shown).collect()
    }
}

/// HTTP methods herald uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    /// A message on a WebSocket (not an HTTP request).
    #[serde(rename = "WEBSOCKET")]
    WebSocket,
}

impl Method {
    /// The method's name as HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::WebSocket => "WEBSOCKET",
        }
    }
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(serde_json::Value),
    /// Form fields; a value may hold a secret or a slot.
    Form(Vec<(String, Template)>),
    /// Plain text (UTF-8), as it is.
    Text(String),
    /// The post's prepared hero image as the raw body; `note` says what it
    /// will be (a dry run has no bytes).
    Image {
        note: String,
    },
    Multipart(Vec<(String, MultipartValue)>),
}

/// A multipart field.
#[derive(Debug, Clone)]
pub enum MultipartValue {
    Text(String),
    /// The post's prepared hero image, as a file named `{stem}.{extension}`.
    Image {
        stem: String,
        note: String,
    },
}

/// Headers made at send time, from the request as it is sent.
#[derive(Debug, Clone)]
pub enum Signing {
    /// Standard Webhooks: `webhook-id` and `webhook-timestamp` always,
    /// `webhook-signature` when there is a secret.
    Webhook { id: String, secret: Option<Secret> },
    /// OAuth 1.0a (HMAC-SHA1) user context: the `Authorization` header,
    /// over the method, URL, query and form fields, with a fresh nonce.
    OAuth1(OAuth1Keys),
}

/// The four values of an OAuth 1.0a user context.
#[derive(Debug, Clone)]
pub struct OAuth1Keys {
    pub consumer_key: Secret,
    pub consumer_secret: Secret,
    pub token: Secret,
    pub token_secret: Secret,
}

impl OAuth1Keys {
    /// The `Authorization` header for `method` and `url` (whose query, and
    /// the form fields, are signed too), with a fresh nonce and the time
    /// now (or the given ones, for checking against a known signature).
    fn authorization(
        &self,
        method: Method,
        url: &str,
        form: &[(String, String)],
        fixed: Option<(&str, u64)>,
    ) -> Result<String, DeliveryError> {
        let reveal = |s: &Secret| {
            s.expose()
                .map_err(|e| DeliveryError::unbuildable(e.to_string()))
        };
        let token = oauth::Token::from_parts(
            reveal(&self.consumer_key)?,
            reveal(&self.consumer_secret)?,
            reveal(&self.token)?,
            reveal(&self.token_secret)?,
        );
        let parsed = url::Url::parse(url)
            .map_err(|e| DeliveryError::unbuildable(format!("the URL is not valid: {e}")))?;
        let mut params: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .chain(form.iter().cloned())
            .collect();
        params.sort();
        let mut bare = parsed;
        bare.set_query(None);
        bare.set_fragment(None);
        let mut builder = oauth::Builder::with_token(token, oauth::HMAC_SHA1);
        builder.version(true);
        if let Some((nonce, timestamp)) = fixed {
            builder
                .nonce(nonce)
                .timestamp(std::num::NonZeroU64::new(timestamp));
        }
        Ok(builder.authorize(
            method.as_str(),
            bare.as_str(),
            &oauth::ParameterList::new(params),
        ))
    }
}

/// A JSON field set when the request is resolved: a secret or a slot. A
/// slot with no value, or null, removes the field (an image that could not
/// be used).
#[derive(Debug, Clone)]
pub struct Fill {
    /// A JSON pointer into the body (`/record/createdAt`).
    pub pointer: String,
    pub value: Part,
}

/// A request as a value.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub url: Template,
    /// Added to the URL's path, before its query (a webhook URL is a secret
    /// whose query, such as Discord's `thread_id`, must stay last).
    pub path_suffix: String,
    /// Added to the URL's own query (which is kept as given).
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, Template)>,
    pub body: Body,
    pub fills: Vec<Fill>,
    pub signing: Option<Signing>,
}

impl Request {
    pub fn new(method: Method, url: Template, body: Body) -> Self {
        Request {
            method,
            url,
            path_suffix: String::new(),
            query: Vec::new(),
            headers: Vec::new(),
            body,
            fills: Vec::new(),
            signing: None,
        }
    }

    #[must_use]
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_string(), value.to_string()));
        self
    }

    #[must_use]
    pub fn path_suffix(mut self, suffix: &str) -> Self {
        self.path_suffix = suffix.to_string();
        self
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: Template) -> Self {
        self.headers.push((name.to_string(), value));
        self
    }

    /// Sets the JSON field at `pointer` when the request is resolved. The
    /// body holds a placeholder there: a dry run shows it for a slot, and
    /// the variables' names for a secret.
    #[must_use]
    pub fn fill(mut self, pointer: &str, value: Part) -> Self {
        self.fills.push(Fill {
            pointer: pointer.to_string(),
            value,
        });
        self
    }

    /// The URL with the added path and query. `base_has_query` says
    /// whether the URL as sent has a query of its own, which a redacted
    /// one cannot show.
    fn full_url(&self, base: String, base_has_query: bool) -> String {
        let base = if self.path_suffix.is_empty() {
            base
        } else {
            let cut = base.find(['?', '#']).unwrap_or(base.len());
            format!(
                "{}{}{}",
                base[..cut].trim_end_matches('/'),
                self.path_suffix,
                &base[cut..]
            )
        };
        if self.query.is_empty() {
            return base;
        }
        let extra: String = self
            .query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let (head, fragment) = match base.split_once('#') {
            Some((h, f)) => (h.to_string(), format!("#{f}")),
            None => (base, String::new()),
        };
        let sep = if base_has_query || head.contains('?') {
            '&'
        } else {
            '?'
        };
        format!("{head}{sep}{extra}{fragment}")
    }

    /// What the dry run shows: secrets as `${NAME}`, slots as where their
    /// value comes from, images by what they will be.
    pub fn preview(&self) -> RequestPreview {
        let mut headers: BTreeMap<String, String> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.redacted()))
            .collect();
        match &self.signing {
            Some(Signing::Webhook { id, secret }) => {
                headers.insert("webhook-id".into(), id.clone());
                headers.insert("webhook-timestamp".into(), "<unix time when sent>".into());
                if let Some(secret) = secret {
                    headers.insert(
                        "webhook-signature".into(),
                        format!("v1,<HMAC-SHA256 with {} when sent>", secret.redacted()),
                    );
                }
            }
            Some(Signing::OAuth1(keys)) => {
                headers.insert(
                    "Authorization".into(),
                    format!(
                        "OAuth <HMAC-SHA1 signature with {}, {}, {} and {} when sent>",
                        keys.consumer_key.redacted(),
                        keys.consumer_secret.redacted(),
                        keys.token.redacted(),
                        keys.token_secret.redacted()
                    ),
                );
            }
            None => {}
        }
        let body = match &self.body {
            Body::Empty => serde_json::Value::Null,
            Body::Json(v) => {
                // A slot's place holds the platform's own placeholder; a
                // secret shows as its variables.
                let mut v = v.clone();
                for fill in &self.fills {
                    if let (Part::Secret(_), Some(slot)) =
                        (&fill.value, v.pointer_mut(&fill.pointer))
                    {
                        *slot = serde_json::Value::String(fill.value.shown());
                    }
                }
                v
            }
            Body::Form(pairs) => serde_json::Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.redacted())))
                    .collect(),
            ),
            Body::Image { note } => serde_json::Value::String(format!("<{note}>")),
            Body::Text(text) => serde_json::Value::String(text.clone()),
            Body::Multipart(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let shown = match v {
                            MultipartValue::Text(t) => t.clone(),
                            MultipartValue::Image { note, .. } => format!("<{note}>"),
                        };
                        (k.clone(), serde_json::Value::String(shown))
                    })
                    .collect(),
            ),
        };
        // Whether the secret URL has a query of its own decides how the
        // added query joins it; nothing else of its value is shown.
        let secret_query = self
            .url
            .resolve(&Slots::new())
            .is_ok_and(|u| u.contains('?'));
        RequestPreview {
            method: self.method,
            url: self.full_url(self.url.redacted(), secret_query),
            headers,
            body,
        }
    }

    /// The request as it is sent: secrets from the environment, slots from
    /// earlier steps, the image's bytes, the signature at `now`. A request
    /// that cannot be built is `Unbuildable`: nothing is sent, and another
    /// attempt would fail the same way.
    pub fn resolve(
        &self,
        slots: &Slots,
        image: Option<&ImageData>,
        now: DateTime<Utc>,
    ) -> Result<Outgoing, DeliveryError> {
        let url = self.full_url(self.url.resolve(slots)?, false);
        if let Err(e) = url::Url::parse(&url) {
            return Err(DeliveryError::unbuildable(format!(
                "the URL built from {} is not valid: {e}",
                self.url.redacted()
            )));
        }
        let mut headers = Vec::with_capacity(self.headers.len() + 3);
        for (name, value) in &self.headers {
            let value = value.resolve(slots)?;
            check_header(name, &value)?;
            headers.push((name.clone(), value));
        }
        // The form's fields as sent, which an OAuth 1.0a signature covers.
        let mut form: Vec<(String, String)> = Vec::new();
        let image_needed = || {
            image.ok_or_else(|| {
                DeliveryError::unbuildable(
                    "the request needs the hero image, which was not fetched",
                )
            })
        };
        let body = match &self.body {
            Body::Empty => OutgoingBody::Empty,
            Body::Json(v) => {
                let mut v = v.clone();
                for fill in &self.fills {
                    match fill.value.resolve(slots) {
                        // A slot set to null: the step that gives it gave way.
                        Ok(serde_json::Value::Null) => remove_pointer(&mut v, &fill.pointer),
                        Ok(value) => {
                            if let Some(slot) = v.pointer_mut(&fill.pointer) {
                                *slot = value;
                            }
                        }
                        Err(_) if matches!(fill.value, Part::Slot { .. }) => {
                            remove_pointer(&mut v, &fill.pointer);
                        }
                        Err(e) => return Err(e),
                    }
                }
                let bytes = serde_json::to_vec(&v).map_err(|e| {
                    DeliveryError::unbuildable(format!("the JSON body cannot be written: {e}"))
                })?;
                OutgoingBody::Bytes {
                    content_type: "application/json".to_string(),
                    bytes: Arc::new(bytes),
                }
            }
            Body::Form(pairs) => {
                let mut resolved = Vec::with_capacity(pairs.len());
                for (name, value) in pairs {
                    resolved.push((name.clone(), value.resolve(slots)?));
                }
                form = resolved;
                let encoded = url::form_urlencoded::Serializer::new(String::new())
                    .extend_pairs(&form)
                    .finish();
                OutgoingBody::Bytes {
                    content_type: "application/x-www-form-urlencoded".to_string(),
                    bytes: Arc::new(encoded.into_bytes()),
                }
            }
            Body::Text(text) => OutgoingBody::Bytes {
                content_type: "text/plain; charset=utf-8".to_string(),
                bytes: Arc::new(text.clone().into_bytes()),
            },
            Body::Image { .. } => {
                let image = image_needed()?;
                OutgoingBody::Bytes {
                    content_type: image.content_type.clone(),
                    bytes: image.bytes.clone(),
                }
            }
            Body::Multipart(fields) => {
                let mut parts = Vec::with_capacity(fields.len());
                for (name, value) in fields {
                    parts.push((
                        name.clone(),
                        match value {
                            MultipartValue::Text(t) => OutgoingPart::Text(t.clone()),
                            MultipartValue::Image { stem, .. } => {
                                let image = image_needed()?;
                                let extension =
                                    image.content_type.rsplit('/').next().unwrap_or("jpg");
                                OutgoingPart::File {
                                    file_name: format!("{stem}.{extension}"),
                                    content_type: image.content_type.clone(),
                                    bytes: image.bytes.clone(),
                                }
                            }
                        },
                    ));
                }
                OutgoingBody::Multipart(parts)
            }
        };
        match &self.signing {
            Some(Signing::Webhook { id, secret }) => {
                let timestamp = now.timestamp();
                headers.push(("webhook-id".to_string(), id.clone()));
                headers.push(("webhook-timestamp".to_string(), timestamp.to_string()));
                if let Some(secret) = secret {
                    let secret = secret
                        .expose()
                        .map_err(|e| DeliveryError::unbuildable(e.to_string()))?;
                    let payload = match &body {
                        OutgoingBody::Bytes { bytes, .. } => bytes.as_slice(),
                        _ => &[],
                    };
                    let signature = sign(&secret, id, timestamp, payload)
                        .map_err(DeliveryError::unbuildable)?;
                    headers.push(("webhook-signature".to_string(), signature));
                }
            }
            Some(Signing::OAuth1(keys)) => {
                let authorization = keys.authorization(self.method, &url, &form, None)?;
                headers.push(("Authorization".to_string(), authorization));
            }
            None => {}
        }
        Ok(Outgoing {
            method: self.method,
            url,
            headers,
            body,
        })
    }
}

/// A header herald can send: the error names the header, never its value.
fn check_header(name: &str, value: &str) -> Result<(), DeliveryError> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(DeliveryError::unbuildable(format!(
            "{name:?} is not a valid HTTP header name"
        )));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(DeliveryError::unbuildable(format!(
            "the value of the header {name} is not a valid header value (a line break or a control character?)"
        )));
    }
    Ok(())
}

fn remove_pointer(v: &mut serde_json::Value, pointer: &str) {
    let Some((parent, key)) = pointer.rsplit_once('/') else {
        return;
    };
    if let Some(object) = v.pointer_mut(parent).and_then(|p| p.as_object_mut()) {
        object.remove(key);
    }
}

/// A request as shown in a dry run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RequestPreview {
    pub method: Method,
    pub url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    pub body: serde_json::Value,
}

/// A request ready for the wire: nothing left to fill in.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: OutgoingBody,
}

/// The body of an `Outgoing` request.
#[derive(Debug, Clone)]
pub enum OutgoingBody {
    Empty,
    Bytes {
        content_type: String,
        bytes: Arc<Vec<u8>>,
    },
    Multipart(Vec<(String, OutgoingPart)>),
}

/// A part of a multipart body.
#[derive(Debug, Clone)]
pub enum OutgoingPart {
    Text(String),
    File {
        file_name: String,
        content_type: String,
        bytes: Arc<Vec<u8>>,
    },
}

/// An answer as a value, headers lower-cased.
#[derive(Debug, Clone, Default)]
pub struct Response {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// Why a delivery did not (or may not have) happen. What the executor may
/// do next depends on whether the request may have been acted on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// Certainly not acted on (no connection, 503, 408): another attempt may
    /// succeed.
    #[error("{message}")]
    Retryable {
        message: String,
        after: Option<Duration>,
    },
    /// The platform asked to slow down (429), and perhaps said how long.
    #[error("rate limited: {message}")]
    RateLimited { message: String, after: Duration },
    /// Perhaps acted on (a timeout or a dropped connection after the request
    /// went out; 500, 502, 504): sent again only with an idempotency key.
    #[error("{message}")]
    MaybeDelivered {
        message: String,
        after: Option<Duration>,
    },
    /// The session or token is no longer valid: renew it, then try again.
    #[error("{message}")]
    AuthExpired { message: String },
    /// The platform refused the post; resending will not help.
    #[error("{message}")]
    Permanent { message: String },
    /// The platform acted, but its answer is not what it promises: resending
    /// could post twice.
    #[error("{message}")]
    Uncertain { message: String },
    /// herald could not build the request (a secret that is not set or not
    /// valid): nothing was sent.
    #[error("{message}")]
    Unbuildable { message: String },
    /// No token that works, and none herald can get on its own: a person
    /// must run `herald auth`. Nothing was sent; the post stays due.
    #[error("{message}")]
    NeedsAuthorization { message: String },
}

impl DeliveryError {
    pub fn retryable(message: impl Into<String>) -> Self {
        DeliveryError::Retryable {
            message: message.into(),
            after: None,
        }
    }

    pub fn permanent(message: impl Into<String>) -> Self {
        DeliveryError::Permanent {
            message: message.into(),
        }
    }

    pub fn uncertain(message: impl Into<String>) -> Self {
        DeliveryError::Uncertain {
            message: message.into(),
        }
    }

    pub fn unbuildable(message: impl Into<String>) -> Self {
        DeliveryError::Unbuildable {
            message: message.into(),
        }
    }

    /// The error's text without its kind.
    pub fn message(&self) -> &str {
        match self {
            DeliveryError::Retryable { message, .. }
            | DeliveryError::RateLimited { message, .. }
            | DeliveryError::MaybeDelivered { message, .. }
            | DeliveryError::AuthExpired { message }
            | DeliveryError::Permanent { message }
            | DeliveryError::Uncertain { message }
            | DeliveryError::Unbuildable { message }
            | DeliveryError::NeedsAuthorization { message } => message,
        }
    }

    /// Whether the request certainly was not acted on, so that sending it
    /// again cannot make a second post.
    pub fn not_delivered(&self) -> bool {
        matches!(
            self,
            DeliveryError::Retryable { .. }
                | DeliveryError::RateLimited { .. }
                | DeliveryError::AuthExpired { .. }
                | DeliveryError::Unbuildable { .. }
                | DeliveryError::NeedsAuthorization { .. }
        )
    }

    /// The delay the server asked for, if it did.
    pub fn server_delay(&self) -> Option<Duration> {
        match self {
            DeliveryError::Retryable { after, .. }
            | DeliveryError::MaybeDelivered { after, .. } => *after,
            DeliveryError::RateLimited { after, .. } => Some(*after),
            _ => None,
        }
    }

    /// The same kind of error with another text (for scrubbing secrets).
    #[must_use]
    pub fn map_message(self, f: impl FnOnce(&str) -> String) -> Self {
        match self {
            DeliveryError::Retryable { message, after } => DeliveryError::Retryable {
                message: f(&message),
                after,
            },
            DeliveryError::RateLimited { message, after } => DeliveryError::RateLimited {
                message: f(&message),
                after,
            },
            DeliveryError::MaybeDelivered { message, after } => DeliveryError::MaybeDelivered {
                message: f(&message),
                after,
            },
            DeliveryError::AuthExpired { message } => DeliveryError::AuthExpired {
                message: f(&message),
            },
            DeliveryError::Permanent { message } => DeliveryError::Permanent {
                message: f(&message),
            },
            DeliveryError::Uncertain { message } => DeliveryError::Uncertain {
                message: f(&message),
            },
            DeliveryError::Unbuildable { message } => DeliveryError::Unbuildable {
                message: f(&message),
            },
            DeliveryError::NeedsAuthorization { message } => DeliveryError::NeedsAuthorization {
                message: f(&message),
            },
        }
    }
}

/// Decides what a response means. `message` extracts the platform's own
/// error text; `body_delay` reads a delay from the body (Discord's
/// `retry_after`, Telegram's `parameters.retry_after`).
///
/// 503 and 408 say the server did not act; 500, 502 and 504 (and other
/// 5xx) do not say, so the request may have been acted on. A redirect is
/// never followed for a post: it is refused naming where it pointed.
pub fn classify(
    response: &Response,
    message: impl Fn(&Response) -> String,
    body_delay: impl Fn(&Response) -> Option<Duration>,
    now: DateTime<Utc>,
) -> Result<(), DeliveryError> {
    let status = response.status;
    let delay =
        || retry_after(response.header("retry-after"), now).or_else(|| body_delay(response));
    let described = || {
        let m = message(response);
        if m.is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {m}")
        }
    };
    match status {
        200..=299 => Ok(()),
        300..=399 => {
            let host = response
                .header("location")
                .and_then(|l| url::Url::parse(l).ok())
                .and_then(|u| u.host_str().map(str::to_string));
            Err(DeliveryError::permanent(format!(
                "HTTP {status}: the server redirected the request{}; herald does not follow redirects when posting (check the target's URL)",
                host.map(|h| format!(" to {h}")).unwrap_or_default()
            )))
        }
        429 => Err(DeliveryError::RateLimited {
            message: described(),
            after: delay().unwrap_or(Duration::from_secs(1)),
        }),
        408 | 503 => Err(DeliveryError::Retryable {
            message: described(),
            after: delay(),
        }),
        500..=599 => Err(DeliveryError::MaybeDelivered {
            message: described(),
            after: delay(),
        }),
        _ => Err(DeliveryError::permanent(described())),
    }
}

/// `Retry-After` as seconds (`120`, `1.5`) or an HTTP date.
pub fn retry_after(value: Option<&str>, now: DateTime<Utc>) -> Option<Duration> {
    let v = value?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(crate::units::MAX_SPAN.as_secs_f64())));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = at.to_utc() - now;
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// The start of a body, for messages: at most 300 characters, one line.
pub fn body_excerpt(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 300 {
        format!("{}…", flat.chars().take(300).collect::<String>())
    } else {
        flat
    }
}

/// The platform's own error text: the string at `pointer` in a JSON body
/// (e.g. `/error/message`), else the start of the body.
pub fn json_message(response: &Response, pointer: &str) -> String {
    response
        .json()
        .and_then(|v| {
            v.pointer(pointer)
                .and_then(|m| m.as_str())
                .map(str::to_string)
        })
        .unwrap_or_else(|| body_excerpt(&response.text()))
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// A URL below `base` (`base` may carry a path prefix and a query, which are
/// kept): `endpoint("https://m.example/x?k=1", "api/v1/statuses")` is
/// `https://m.example/x/api/v1/statuses?k=1`.
pub fn endpoint(base: &url::Url, path: &str) -> String {
    let mut url = base.clone();
    let joined = format!(
        "{}/{}",
        base.path().trim_end_matches('/'),
        path.trim_start_matches('/')
    );
    url.set_path(&joined);
    url.to_string()
}

/// Removes anything that looks like a URL from an error text.
pub fn redact_url(text: &str) -> String {
    let mut out = text.to_string();
    for (start, end) in super::compose::url_spans(text).into_iter().rev() {
        out.replace_range(start..end, "<url>");
    }
    out
}

/// `v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>` per Standard
/// Webhooks; the key is the base64 after `whsec_` (or the raw secret).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let key = match secret.strip_prefix("whsec_") {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("the webhook secret after whsec_ is not base64: {e}"))?,
        None => secret.as_bytes().to_vec(),
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).map_err(|e| e.to_string())?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    Ok(format!("v1,{signature}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    fn now() -> DateTime<Utc> {
        chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn classifies_statuses_by_whether_they_may_have_been_acted_on() {
        let msg = |r: &Response| r.text();
        let none = |_: &Response| None;
        assert_eq!(classify(&response(200, &[], ""), msg, none, now()), Ok(()));
        assert_eq!(classify(&response(204, &[], ""), msg, none, now()), Ok(()));
        assert_eq!(
            classify(&response(503, &[], "busy"), msg, none, now()),
            Err(DeliveryError::Retryable {
                message: "HTTP 503: busy".into(),
                after: None
            })
        );
        for status in [500, 502, 504] {
            let e = classify(&response(status, &[], ""), msg, none, now()).unwrap_err();
            assert!(
                matches!(e, DeliveryError::MaybeDelivered { .. }),
                "{status}: {e:?}"
            );
            assert!(!e.not_delivered());
        }
        assert_eq!(
            classify(
                &response(429, &[("retry-after", "7")], ""),
                msg,
                none,
                now()
            ),
            Err(DeliveryError::RateLimited {
                message: "HTTP 429".into(),
                after: Duration::from_secs(7)
            })
        );
        assert_eq!(
            classify(&response(400, &[], "invalid_blocks"), msg, none, now()),
            Err(DeliveryError::permanent("HTTP 400: invalid_blocks"))
        );
        let body_delay = |_: &Response| Some(Duration::from_millis(1500));
        assert_eq!(
            classify(&response(429, &[], ""), msg, body_delay, now())
                .unwrap_err()
                .server_delay(),
            Some(Duration::from_millis(1500))
        );
        let moved = classify(
            &response(302, &[("location", "https://elsewhere.example/x")], ""),
            msg,
            none,
            now(),
        )
        .unwrap_err();
        assert!(matches!(moved, DeliveryError::Permanent { .. }));
        assert!(moved.message().contains("elsewhere.example"), "{moved}");
    }

    #[test]
    fn retry_after_takes_seconds_or_a_date() {
        assert_eq!(
            retry_after(Some("120"), now()),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            retry_after(Some("0.5"), now()),
            Some(Duration::from_millis(500))
        );
        assert_eq!(
            retry_after(Some("Mon, 01 Jan 2024 00:00:30 GMT"), now()),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(Some("Sun, 31 Dec 2023 00:00:00 GMT"), now()),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after(Some("soon"), now()), None);
        assert_eq!(retry_after(Some("-3"), now()), None);
        assert_eq!(retry_after(None, now()), None);
    }

    #[test]
    fn signs_like_the_standard_webhooks_reference() {
        // The reference libraries' test vector.
        let sig = sign(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            br#"{"test": 2432232314}"#,
        )
        .unwrap();
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn path_suffixes_go_before_the_query() {
        let r = Request::new(
            Method::Patch,
            Template::text("https://d.example/api/webhooks/1/t?thread_id=5"),
            Body::Empty,
        )
        .path_suffix("/messages/9")
        .query("wait", "true");
        assert_eq!(
            r.preview().url,
            "https://d.example/api/webhooks/1/t/messages/9?thread_id=5&wait=true"
        );
    }

    #[test]
    fn previews_redact_secrets_and_show_slots() {
        let secret = Secret::new("${HOOK_URL}");
        let req = Request::new(
            Method::Post,
            Template::secret(&secret).then("?wait=true"),
            Body::Json(serde_json::json!({"a": 1, "id": "<id>"})),
        )
        .header(
            "Authorization",
            Template::text("Bearer ").then_secret(&Secret::new("${TOKEN}")),
        )
        .fill("/id", Part::slot("media", "<id from the upload>"))
        .fill("/a", Part::Secret(Secret::new("${PASSWORD}")));
        let p = req.preview();
        assert_eq!(p.url, "${HOOK_URL}?wait=true");
        assert_eq!(p.headers["Authorization"], "Bearer ${TOKEN}");
        assert_eq!(p.body["id"], "<id>");
        assert_eq!(p.body["a"], "${PASSWORD}");
    }

    #[test]
    fn resolving_fills_slots_and_removes_absent_ones() {
        let req = Request::new(
            Method::Post,
            Template::text("https://x.example/a/").then_slot("id", "<id>"),
            Body::Json(serde_json::json!({"media": "<m>", "thumb": "<t>"})),
        )
        .fill("/media", Part::slot("media", "<m>"))
        .fill("/thumb", Part::slot("thumb", "<t>"));
        let mut slots = Slots::new();
        slots.insert("id".into(), serde_json::json!("7"));
        slots.insert("media".into(), serde_json::json!(["7"]));
        let out = req.resolve(&slots, None, now()).unwrap();
        assert_eq!(out.url, "https://x.example/a/7");
        let OutgoingBody::Bytes { bytes, .. } = out.body else {
            panic!("json body")
        };
        assert_eq!(
            serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            serde_json::json!({"media": ["7"]})
        );
    }

    /// The worked example of X's "Creating a signature" page: the same
    /// keys, nonce and time give the signature it prints.
    #[test]
    fn oauth1_signature_matches_the_published_example() {
        let keys = OAuth1Keys {
            consumer_key: Secret::literal("xvz1evFS4wEEPTGEFPHBog"),
            consumer_secret: Secret::literal("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
            token: Secret::literal("370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
            token_secret: Secret::literal("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
        };
        let header = keys
            .authorization(
                Method::Post,
                "https://api.twitter.com/1.1/statuses/update.json?include_entities=true",
                &[(
                    "status".to_string(),
                    "Hello Ladies + Gentlemen, a signed OAuth request!".to_string(),
                )],
                Some(("kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg", 1_318_622_958)),
            )
            .unwrap();
        assert!(
            header.contains(r#"oauth_signature="hCtSmYh%2BiHYCEqBWrE7C7hYmtUk%3D""#),
            "{header}"
        );
        assert!(header.starts_with("OAuth "), "{header}");
    }

    #[test]
    fn a_header_that_cannot_be_sent_is_unbuildable_and_named() {
        let secret = Secret::literal("bad\nvalue-xyz");
        let req = Request::new(
            Method::Post,
            Template::text("https://x.example/"),
            Body::Empty,
        )
        .header("X-Key", Template::secret(&secret));
        let e = req.resolve(&Slots::new(), None, now()).unwrap_err();
        assert!(matches!(e, DeliveryError::Unbuildable { .. }), "{e:?}");
        assert!(e.message().contains("X-Key"), "{e}");
        assert!(!e.message().contains("xyz"), "{e}");
    }

    #[test]
    fn urls_are_removed_from_error_texts() {
        assert_eq!(
            redact_url("error sending request for url (https://hooks.example/T/B/secret): refused"),
            "error sending request for url (<url>): refused"
        );
    }
}
