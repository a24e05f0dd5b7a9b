//! What OAuth 2.0 token endpoints answer (RFC 6749 §5.1), shared by the
//! platforms whose tokens come from `herald auth`.

use chrono::{DateTime, TimeDelta, Utc};

use super::http::{
    Body, DeliveryError, Method, Part, Request, Response, Template, body_excerpt, classify,
};
use super::steps::Session;
use crate::secret::Secret;

/// How a client proves who it is to a token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy)]
pub enum Client<'a> {
    /// A public client: its id in the form, nothing secret.
    Public { id: &'a str },
    /// Id and secret as HTTP Basic credentials.
    Basic { id: &'a str, secret: &'a Secret },
    /// Id and secret in the form.
    InForm { id: &'a str, secret: &'a Secret },
}

/// A form POST to the token endpoint at `url`: `fields`, then the client's
/// id (and secret) as the platform takes them.
pub fn token_request(url: Template, fields: Vec<(&str, Template)>, client: Client<'_>) -> Request {
    let mut form: Vec<(String, Template)> = fields
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let (Client::Public { id } | Client::Basic { id, .. } | Client::InForm { id, .. }) = client;
    form.push(("client_id".into(), Template::text(id)));
    if let Client::InForm { secret, .. } = client {
        form.push(("client_secret".into(), Template::secret(secret)));
    }
    let request = Request::new(Method::Post, url, Body::Form(form));
    match client {
        Client::Basic { id, secret } => request.header(
            "Authorization",
            Template(vec![
                Part::Text("Basic ".into()),
                Part::Basic {
                    user: id.to_string(),
                    password: secret.clone(),
                },
            ]),
        ),
        Client::Public { .. } | Client::InForm { .. } => request,
    }
}

/// The fields of a refresh (RFC 6749 §6): the refresh token kept in the
/// ledger.
pub fn refresh_fields() -> Vec<(&'static str, Template)> {
    vec![
        ("grant_type", Template::text("refresh_token")),
        (
            "refresh_token",
            slot("refresh_token", "<refresh token kept in the ledger>"),
        ),
    ]
}

/// The fields of a code exchange (RFC 6749 §4.1.3), with the PKCE
/// verifier (RFC 7636 §4.5) where the platform takes one.
pub fn code_fields(pkce: bool) -> Vec<(&'static str, Template)> {
    let mut fields = vec![
        ("grant_type", Template::text("authorization_code")),
        ("code", slot("code", "<code>")),
        ("redirect_uri", slot("redirect_uri", "<redirect URI>")),
    ];
    if pkce {
        fields.push(("code_verifier", slot("code_verifier", "<PKCE verifier>")));
    }
    fields
}

/// A form field whose value an earlier step (or `herald auth`) gives.
pub fn slot(name: &str, shown: &str) -> Template {
    Template(vec![Part::slot(name, shown)])
}

/// The token endpoint's error text: RFC 6749's `error_description` and
/// `error`, or a Graph-style `error.message`, or LinkedIn's `message`.
pub fn message(r: &Response) -> String {
    let Some(v) = r.json() else {
        return body_excerpt(&r.text());
    };
    let text = |p: &str| v.pointer(p).and_then(|m| m.as_str()).map(str::to_string);
    match (text("/error_description"), text("/error")) {
        (Some(d), Some(e)) => format!("{e}: {d}"),
        (Some(d), None) => d,
        (None, Some(e)) => e,
        (None, None) => ["/error/message", "/message", "/detail"]
            .iter()
            .find_map(|p| text(p))
            .unwrap_or_else(|| body_excerpt(&r.text())),
    }
}

/// `access_token`, `expires_in`, and where given `refresh_token`,
/// `refresh_token_expires_in` and `user_id` (kept among the values).
pub fn read_token(r: &Response, now: DateTime<Utc>) -> Result<Session, DeliveryError> {
    classify(r, message, |_| None, now)?;
    let v = r.json().unwrap_or_default();
    let access = v
        .get("access_token")
        .and_then(|t| t.as_str())
        .ok_or_else(|| {
            DeliveryError::permanent(format!(
                "the token answer has no access_token: {}",
                body_excerpt(&r.text())
            ))
        })?;
    let ends = |key: &str| {
        v.get(key)
            .and_then(serde_json::Value::as_i64)
            .and_then(|s| now.checked_add_signed(TimeDelta::try_seconds(s)?))
    };
    let mut values = std::collections::BTreeMap::new();
    if let Some(id) = v.get("user_id") {
        let id = id.as_str().map_or_else(|| id.to_string(), str::to_string);
        values.insert("user_id".to_string(), id);
    }
    Ok(Session {
        access: access.to_string(),
        refresh: v
            .get("refresh_token")
            .and_then(|t| t.as_str())
            .map(str::to_string),
        values,
        access_expires: ends("expires_in"),
        refresh_expires: ends("refresh_token_expires_in"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: serde_json::Value) -> Response {
        Response {
            status,
            headers: Default::default(),
            body: body.to_string().into_bytes(),
        }
    }

    #[test]
    fn a_token_answer_gives_both_tokens_and_their_ends() {
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let s = read_token(
            &answer(
                200,
                serde_json::json!({"access_token": "a", "expires_in": 5_184_000, "refresh_token": "r", "refresh_token_expires_in": 31_536_000, "user_id": 17}),
            ),
            now,
        )
        .unwrap();
        assert_eq!(s.access, "a");
        assert_eq!(s.refresh.as_deref(), Some("r"));
        assert_eq!(s.access_expires, Some(now + TimeDelta::days(60)));
        assert_eq!(s.refresh_expires, Some(now + TimeDelta::days(365)));
        assert_eq!(s.values["user_id"], "17");
    }

    #[test]
    fn a_refusal_carries_the_endpoint_s_own_words() {
        let e = read_token(
            &answer(
                400,
                serde_json::json!({"error": "invalid_grant", "error_description": "The token expired"}),
            ),
            Utc::now(),
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("invalid_grant: The token expired"),
            "{e}"
        );
    }
}
