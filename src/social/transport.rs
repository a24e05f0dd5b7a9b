//! The network edge of posting: a `Transport` sends one resolved request
//! and returns the answer, or says whether a failure may have reached the
//! server. `HttpTransport` is the real one (reqwest with rustls); tests give
//! the driver their own, so that retries and waits run on a paused clock.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::http::{
    DeliveryError, Method, Outgoing, OutgoingBody, OutgoingPart, Response, redact_url,
};

/// Answers larger than this are cut: no platform's answer needs more.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Sends resolved requests.
pub trait Transport: Send + Sync {
    fn send(
        &self,
        request: Outgoing,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Response, DeliveryError>>;
}

/// reqwest with rustls. Redirects are never followed: a POST must not turn
/// into a GET, and a target's secret headers must not go to another origin.
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    pub fn new() -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(4)
            .build()?;
        Ok(HttpTransport { client })
    }

    async fn send_now(
        &self,
        request: Outgoing,
        timeout: Duration,
    ) -> Result<Response, DeliveryError> {
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
            Method::WebSocket => {
                return Err(DeliveryError::unbuildable(
                    "a WebSocket message is not an HTTP request",
                ));
            }
        };
        let mut builder = self.client.request(method, &request.url).timeout(timeout);
        for (name, value) in &request.headers {
            builder = builder.header(name, value);
        }
        builder = match request.body {
            OutgoingBody::Empty => builder,
            OutgoingBody::Bytes {
                content_type,
                bytes,
            } => builder
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes.as_ref().clone()),
            OutgoingBody::Multipart(parts) => {
                let mut form = reqwest::multipart::Form::new();
                for (name, part) in parts {
                    form = match part {
                        OutgoingPart::Text(t) => form.text(name, t),
                        OutgoingPart::File {
                            file_name,
                            content_type,
                            bytes,
                        } => {
                            let part = reqwest::multipart::Part::bytes(bytes.as_ref().clone())
                                .file_name(file_name)
                                .mime_str(&content_type)
                                .map_err(|e| {
                                    DeliveryError::unbuildable(redact_url(&e.to_string()))
                                })?;
                            form.part(name, part)
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
                    // The status line arrived; the body broke off. A 2xx was
                    // acted on; anything else may have been.
                    let message = format!("the answer broke off: {}", redact_url(&e.to_string()));
                    return Err(if (200..300).contains(&status) {
                        DeliveryError::uncertain(message)
                    } else {
                        DeliveryError::MaybeDelivered {
                            message,
                            after: None,
                        }
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
}

impl Transport for HttpTransport {
    fn send(
        &self,
        request: Outgoing,
        timeout: Duration,
    ) -> BoxFuture<'_, Result<Response, DeliveryError>> {
        Box::pin(self.send_now(request, timeout))
    }
}

/// A failure before any answer: a connection that was never made certainly
/// delivered nothing; a timeout or a drop after the request went out may
/// have.
fn network_error(e: &reqwest::Error) -> DeliveryError {
    // reqwest's messages include the URL, which may embed a token.
    let mut source = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    let detail = redact_url(&detail);
    let with = |what: &str| {
        if detail.is_empty() {
            what.to_string()
        } else {
            format!("{what}: {detail}")
        }
    };
    if e.is_builder() {
        DeliveryError::unbuildable(with("the request cannot be built"))
    } else if e.is_connect() {
        DeliveryError::retryable(with("could not connect"))
    } else if e.is_timeout() {
        DeliveryError::MaybeDelivered {
            message: with("timed out waiting for the answer"),
            after: None,
        }
    } else {
        DeliveryError::MaybeDelivered {
            message: with("the connection failed after the request was sent"),
            after: None,
        }
    }
}
