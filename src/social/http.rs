//! Requests as values, sending them, and reading the answer.
//!
//! A `Request` keeps its secrets (webhook URLs, tokens) as `Secret`s inside
//! `Template`s: `preview` shows them as `${NAME}`, and only `send` resolves
//! them. `classify` is the pure decision every platform shares: done,
//! retryable, rate-limited (with the server's delay) or permanent (with the
//! platform's own message).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::config::{MissingEnv, Secret};

/// A piece of a URL or header value.
#[derive(Debug, Clone)]
pub enum Part {
    Text(String),
    Secret(Secret),
}

/// Text with secret parts: resolved for sending, redacted for showing.
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

    pub fn resolve(&self) -> Result<String, MissingEnv> {
        self.0
            .iter()
            .map(|p| match p {
                Part::Text(t) => Ok(t.clone()),
                Part::Secret(s) => s.expose(),
            })
            .collect()
    }

    pub fn redacted(&self) -> String {
        self.0
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.clone(),
                Part::Secret(s) => s.redacted(),
            })
            .collect()
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
}

/// A request body.
#[derive(Debug, Clone)]
pub enum Body {
    Empty,
    Json(serde_json::Value),
    Form(Vec<(String, String)>),
    Bytes {
        content_type: String,
        bytes: Arc<Vec<u8>>,
    },
    Multipart(Vec<(String, MultipartValue)>),
}

/// A multipart field.
#[derive(Debug, Clone)]
pub enum MultipartValue {
    Text(String),
    File {
        file_name: String,
        content_type: String,
        bytes: Arc<Vec<u8>>,
    },
}

/// Standard Webhooks headers, made at send time (the timestamp is then):
/// `webhook-id` and `webhook-timestamp` always, `webhook-signature` when
/// there is a secret.
#[derive(Debug, Clone)]
pub struct Signing {
    pub id: String,
    pub secret: Option<Secret>,
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
    /// Top-level JSON fields whose values are secrets, filled in at send.
    pub json_secrets: Vec<(String, Secret)>,
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
            json_secrets: Vec::new(),
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

    /// The URL with the added path and query, resolved or redacted.
    fn full_url(&self, base: String) -> String {
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
        let sep = if head.contains('?') { '&' } else { '?' };
        format!("{head}{sep}{extra}{fragment}")
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: Template) -> Self {
        self.headers.push((name.to_string(), value));
        self
    }

    /// What the dry run shows: secrets as `${NAME}`, binary bodies by size.
    pub fn preview(&self) -> RequestPreview {
        let mut headers: BTreeMap<String, String> = self
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.redacted()))
            .collect();
        if let Some(s) = &self.signing {
            headers.insert("webhook-id".into(), s.id.clone());
            headers.insert("webhook-timestamp".into(), "<unix time when sent>".into());
            if let Some(secret) = &s.secret {
                headers.insert(
                    "webhook-signature".into(),
                    format!("v1,<HMAC-SHA256 with {} when sent>", secret.redacted()),
                );
            }
        }
        let body = match &self.body {
            Body::Empty => serde_json::Value::Null,
            Body::Json(v) => {
                let mut v = v.clone();
                for (key, secret) in &self.json_secrets {
                    v[key.as_str()] = serde_json::Value::String(secret.redacted());
                }
                v
            }
            Body::Form(pairs) => serde_json::Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect(),
            ),
            Body::Bytes {
                content_type,
                bytes,
            } => serde_json::Value::String(format!("<{} bytes of {content_type}>", bytes.len())),
            Body::Multipart(fields) => serde_json::Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let shown = match v {
                            MultipartValue::Text(t) => t.clone(),
                            MultipartValue::File {
                                file_name,
                                content_type,
                                bytes,
                            } => format!(
                                "<file {file_name}: {} bytes of {content_type}>",
                                bytes.len()
                            ),
                        };
                        (k.clone(), serde_json::Value::String(shown))
                    })
                    .collect(),
            ),
        };
        RequestPreview {
            method: self.method,
            url: self.full_url(self.url.redacted()),
            headers,
            body,
        }
    }
}

/// A request as shown in a dry run.
#[derive(Debug, Clone, Serialize)]
pub struct RequestPreview {
    pub method: Method,
    pub url: String,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    pub body: serde_json::Value,
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

/// Why a delivery did not (or may not have) happen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeliveryError {
    /// Try again later (network error, timeout, 5xx).
    #[error("{message}")]
    Retryable {
        message: String,
        after: Option<Duration>,
    },
    /// The platform asked to slow down, and said for how long.
    #[error("rate limited: {message}")]
    RateLimited { message: String, after: Duration },
    /// The platform refused the post; resending will not help.
    #[error("{message}")]
    Permanent { message: String },
    /// The request may have been acted on, but the answer is not what the
    /// platform promises: resending could post twice.
    #[error("{message}")]
    Uncertain { message: String },
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

    /// Whether another attempt may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            DeliveryError::Retryable { .. } | DeliveryError::RateLimited { .. }
        )
    }

    /// The delay the server asked for, if it did.
    pub fn server_delay(&self) -> Option<Duration> {
        match self {
            DeliveryError::Retryable { after, .. } => *after,
            DeliveryError::RateLimited { after, .. } => Some(*after),
            _ => None,
        }
    }
}

/// Decides what a response means. `message` extracts the platform's own
/// error text; `body_delay` reads a delay from the body (Discord's
/// `retry_after`, Telegram's `parameters.retry_after`).
pub fn classify(
    response: &Response,
    message: impl Fn(&Response) -> String,
    body_delay: impl Fn(&Response) -> Option<Duration>,
    now: chrono::DateTime<chrono::Utc>,
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
        429 => Err(DeliveryError::RateLimited {
            message: described(),
            after: delay().unwrap_or(Duration::from_secs(1)),
        }),
        408 | 500..=599 => Err(DeliveryError::Retryable {
            message: described(),
            after: delay(),
        }),
        _ => Err(DeliveryError::permanent(described())),
    }
}

/// `Retry-After` as seconds (`120`, `1.5`) or an HTTP date.
pub fn retry_after(value: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let v = value?.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(86_400.0)));
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

/// Answers larger than this are cut: no platform's answer needs more.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Sends `request` and reads the answer (at most `MAX_RESPONSE_BYTES`).
/// Network failures and timeouts are retryable; a missing environment
/// variable is permanent.
pub async fn send(
    client: &reqwest::Client,
    request: &Request,
    timeout: Duration,
) -> Result<Response, DeliveryError> {
    let url = request.full_url(
        request
            .url
            .resolve()
            .map_err(|e| DeliveryError::permanent(e.to_string()))?,
    );
    let method = match request.method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
    };
    let mut builder = client.request(method, &url).timeout(timeout);
    for (name, value) in &request.headers {
        let value = value
            .resolve()
            .map_err(|e| DeliveryError::permanent(e.to_string()))?;
        builder = builder.header(name, value);
    }
    let body_bytes: Option<Vec<u8>> = match &request.body {
        Body::Json(v) => {
            let mut v = v.clone();
            for (key, secret) in &request.json_secrets {
                let value = secret
                    .expose()
                    .map_err(|e| DeliveryError::permanent(e.to_string()))?;
                v[key.as_str()] = serde_json::Value::String(value);
            }
            Some(serde_json::to_vec(&v).unwrap_or_default())
        }
        _ => None,
    };
    if let Some(signing) = &request.signing {
        let timestamp = chrono::Utc::now().timestamp();
        builder = builder
            .header("webhook-id", &signing.id)
            .header("webhook-timestamp", timestamp.to_string());
        if let Some(secret) = &signing.secret {
            let secret = secret
                .expose()
                .map_err(|e| DeliveryError::permanent(e.to_string()))?;
            let payload = body_bytes.clone().unwrap_or_default();
            let signature = sign(&secret, &signing.id, timestamp, &payload)
                .map_err(DeliveryError::permanent)?;
            builder = builder.header("webhook-signature", signature);
        }
    }
    builder = match &request.body {
        Body::Empty => builder,
        Body::Json(_) => builder
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body_bytes.unwrap_or_default()),
        Body::Form(pairs) => builder.form(pairs),
        Body::Bytes {
            content_type,
            bytes,
        } => builder
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(bytes.as_ref().clone()),
        Body::Multipart(fields) => {
            let mut form = reqwest::multipart::Form::new();
            for (name, value) in fields {
                form = match value {
                    MultipartValue::Text(t) => form.text(name.clone(), t.clone()),
                    MultipartValue::File {
                        file_name,
                        content_type,
                        bytes,
                    } => {
                        let part = reqwest::multipart::Part::bytes(bytes.as_ref().clone())
                            .file_name(file_name.clone())
                            .mime_str(content_type)
                            .map_err(|e| DeliveryError::permanent(e.to_string()))?;
                        form.part(name.clone(), part)
                    }
                };
            }
            builder.multipart(form)
        }
    };
    let mut response = builder.send().await.map_err(|e| network_error(&e))?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = MAX_RESPONSE_BYTES.saturating_sub(body.len());
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if body.len() >= MAX_RESPONSE_BYTES {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => {
                // The status line arrived; the body broke off. A 2xx may
                // have been acted on.
                let message = format!("the answer broke off: {}", redact_url(&e.to_string()));
                return Err(if (200..300).contains(&status) {
                    DeliveryError::uncertain(message)
                } else {
                    DeliveryError::retryable(message)
                });
            }
        }
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn network_error(e: &reqwest::Error) -> DeliveryError {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    // reqwest's messages include the URL, which may embed a token.
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    let detail = redact_url(&detail);
    DeliveryError::retryable(if detail.is_empty() {
        what.to_string()
    } else {
        format!("{what}: {detail}")
    })
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

    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    #[test]
    fn classifies_statuses() {
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
    fn previews_redact_secrets() {
        let secret = Secret::new("${HOOK_URL}");
        let req = Request::new(
            Method::Post,
            Template::secret(&secret).then("?wait=true"),
            Body::Json(serde_json::json!({"a": 1})),
        )
        .header(
            "Authorization",
            Template::text("Bearer ").then_secret(&Secret::new("${TOKEN}")),
        );
        let p = req.preview();
        assert_eq!(p.url, "${HOOK_URL}?wait=true");
        assert_eq!(p.headers["Authorization"], "Bearer ${TOKEN}");
    }

    #[test]
    fn urls_are_removed_from_error_texts() {
        assert_eq!(
            redact_url("error sending request for url (https://hooks.example/T/B/secret): refused"),
            "error sending request for url (<url>): refused"
        );
    }
}
