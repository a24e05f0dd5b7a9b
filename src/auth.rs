//! `herald auth`: a person's consent turned into tokens kept in the ledger,
//! and what herald says about those tokens afterwards.
//!
//! The flow is OAuth 2.0's authorization code (RFC 6749 §4.1), with PKCE
//! (RFC 7636, S256) where the platform takes it: herald prints the consent
//! page's address, receives the redirect on a loopback address (or reads
//! it pasted back, on a machine without a browser), checks its `state`,
//! exchanges the code and keeps the session under the target's name. The
//! tokens are never printed and never written to the config.
//!
//! `status` and `expiry_warnings` read the kept sessions; `renewals_due`
//! names the targets whose token should be renewed on this run even when
//! nothing is posted (some platforms' tokens die when left unused).

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

use crate::config::{Config, Target};
use crate::ledger::{Ledger, LedgerError, Snapshot};
use crate::social::driver::SESSION_KEY;
use crate::social::http::{DeliveryError, Slots};
use crate::social::steps::Session;
use crate::social::transport::Transport;
use crate::social::{Authorization, EXPIRY_WARNING, Learned};

/// The longest herald waits for the browser to come back.
pub const CONSENT_WAIT: Duration = Duration::from_secs(600);
/// The loopback port `herald auth` listens on unless told otherwise: the
/// redirect URI registered with the platform must name it.
pub const DEFAULT_PORT: u16 = 8765;

/// Why `herald auth` could not keep a token.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no target is named {name:?} (targets: {known})")]
    UnknownTarget { name: String, known: String },
    #[error("{name}: a {kind} target takes no `herald auth`: {why}")]
    NotOAuth {
        name: String,
        kind: &'static str,
        why: &'static str,
    },
    #[error(
        "cannot listen on {address}: {message} (try another --port, registered with the platform too)"
    )]
    Listen { address: String, message: String },
    #[error("no answer from the browser within {} minutes", CONSENT_WAIT.as_secs() / 60)]
    Timeout,
    #[error("the redirected address could not be read: {0}")]
    Redirect(String),
    #[error(
        "the redirect's state does not match this request: it belongs to another attempt, or someone else's; start again"
    )]
    StateMismatch,
    #[error("the platform did not grant access: {0}")]
    Refused(String),
    #[error("{target}: exchanging the code failed: {message}")]
    Exchange { target: String, message: String },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// One consent request: the page to open, and what must come back.
#[derive(Debug, Clone)]
pub struct Consent {
    pub target: String,
    /// The consent page, with `redirect_uri`, `state` and the PKCE
    /// challenge.
    pub url: Url,
    pub redirect_uri: String,
    state: String,
    verifier: Option<String>,
}

/// The target `name` and how it is authorized.
pub fn authorization<'a>(
    config: &'a Config,
    name: &str,
) -> Result<(&'a Target, Authorization), AuthError> {
    let Some(target) = config.social.targets.iter().find(|t| t.name == name) else {
        let known: Vec<&str> = config
            .social
            .targets
            .iter()
            .filter(|t| t.platform.authorization().is_some())
            .map(|t| t.name.as_str())
            .collect();
        return Err(AuthError::UnknownTarget {
            name: name.to_string(),
            known: if known.is_empty() {
                "none takes herald auth".to_string()
            } else {
                known.join(", ")
            },
        });
    };
    let authorization = target
        .platform
        .authorization()
        .ok_or(AuthError::NotOAuth {
            name: target.name.clone(),
            kind: target.platform.kind(),
            why: "its credentials come from the config, or its platform has no consent flow; to use herald auth, give the target its app's id (and secret) instead of a token (see the README's section on the platform)",
        })?;
    Ok((target, authorization))
}

/// A random URL-safe text of `bytes` random bytes.
fn random_text(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    rand::thread_rng().fill(raw.as_mut_slice());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
}

/// The consent page for `authorization`, sending the browser back to
/// `redirect_uri`.
pub fn consent(target: &str, authorization: &Authorization, redirect_uri: &str) -> Consent {
    let state = random_text(24);
    // 32 random bytes: a 43-character verifier (RFC 7636 §4.1).
    let verifier = authorization.pkce.then(|| random_text(32));
    let mut url = authorization.authorize.clone();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", &state);
        if let Some(v) = &verifier {
            let challenge =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(v));
            query
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
        }
    }
    Consent {
        target: target.to_string(),
        url,
        redirect_uri: redirect_uri.to_string(),
        state,
        verifier,
    }
}

/// The code in the address the browser was sent back to (a whole URL, or
/// only its path and query), once its `state` is this request's.
pub fn code_from(consent: &Consent, redirected: &str) -> Result<String, AuthError> {
    let redirected = redirected.trim();
    if redirected.is_empty() {
        return Err(AuthError::Redirect("nothing was pasted".to_string()));
    }
    let url = Url::parse(redirected)
        .or_else(|_| Url::parse("http://127.0.0.1").and_then(|base| base.join(redirected)))
        .map_err(|e| AuthError::Redirect(e.to_string()))?;
    let value = |key: &str| {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    if let Some(error) = value("error") {
        let detail = value("error_description").unwrap_or_default();
        return Err(AuthError::Refused(
            format!("{error} {detail}").trim().to_string(),
        ));
    }
    if value("state").as_deref() != Some(consent.state.as_str()) {
        return Err(AuthError::StateMismatch);
    }
    value("code").ok_or_else(|| AuthError::Redirect("it has no code".to_string()))
}

/// Exchanges `code` for a session (and, where the platform has one, for
/// its longer-lived token).
pub async fn exchange(
    consent: &Consent,
    authorization: &Authorization,
    code: &str,
    transport: &dyn Transport,
    timeout: Duration,
) -> Result<Session, AuthError> {
    let failed = |e: DeliveryError| AuthError::Exchange {
        target: consent.target.clone(),
        message: e.to_string(),
    };
    let mut slots = Slots::new();
    slots.insert("code".into(), code.into());
    slots.insert("redirect_uri".into(), consent.redirect_uri.clone().into());
    if let Some(v) = &consent.verifier {
        slots.insert("code_verifier".into(), v.clone().into());
    }
    let ask = |request: &crate::social::http::Request, slots: &Slots| {
        let outgoing = request.resolve(slots, None, Utc::now());
        async move {
            let response = transport.send(outgoing?, timeout).await?;
            (authorization.read)(&response, Utc::now())
        }
    };
    let mut session = ask(&authorization.exchange, &slots).await.map_err(failed)?;
    if let Some(upgrade) = &authorization.upgrade {
        let mut longer = ask(upgrade, &session.slots()).await.map_err(failed)?;
        longer.values.extend(session.values.clone());
        session = longer;
    }
    Ok(session)
}

/// Where the browser is sent back to.
#[derive(Debug, Clone)]
pub enum Redirect {
    /// `http://127.0.0.1:PORT/callback`, answered by herald itself (port 0:
    /// any free one).
    Listen { port: u16 },
    /// A URI registered with the platform; the person pastes back the
    /// address the browser ended on.
    Paste { uri: String },
}

/// How `authorize` talks to the person at the terminal.
pub trait Prompt {
    /// Says something (on stderr).
    fn say(&self, text: &str);
    /// Gives the consent page's address (on stdout, for scripts).
    fn open(&self, url: &Url);
    /// Reads the address the browser ended on.
    fn paste(&self) -> std::io::Result<String>;
}

/// The whole flow for the target `name`: consent, the redirect, the code
/// exchanged, the session kept in the ledger at `config.state.path`.
pub async fn authorize(
    config: &Config,
    name: &str,
    redirect: &Redirect,
    prompt: &dyn Prompt,
    transport: &dyn Transport,
) -> Result<Session, AuthError> {
    let (target, authorization) = self::authorization(config, name)?;
    let (listener, redirect_uri) = match redirect {
        Redirect::Listen { port } => {
            let address = format!("127.0.0.1:{port}");
            let listener =
                tokio::net::TcpListener::bind(&address)
                    .await
                    .map_err(|e| AuthError::Listen {
                        address,
                        message: e.to_string(),
                    })?;
            let port = listener.local_addr().map_or(*port, |a| a.port());
            (Some(listener), format!("http://127.0.0.1:{port}/callback"))
        }
        Redirect::Paste { uri } => (None, uri.clone()),
    };
    let consent = consent(&target.name, &authorization, &redirect_uri);
    prompt.say(&format!(
        "herald auth {}: this needs {}.\nRedirect URI to register: {redirect_uri}\nOpen this address in a browser and allow access:",
        target.name, authorization.setup
    ));
    prompt.open(&consent.url);
    let redirected = match &listener {
        Some(l) => {
            prompt.say("Waiting for the browser to come back…");
            wait_for_redirect(l).await?
        }
        None => {
            prompt.say("Then paste here the whole address the browser was sent to:");
            prompt
                .paste()
                .map_err(|e| AuthError::Redirect(e.to_string()))?
        }
    };
    let code = code_from(&consent, &redirected)?;
    let session = exchange(
        &consent,
        &authorization,
        &code,
        transport,
        target.timeout.std(),
    )
    .await?;
    let ledger = Ledger::open_at(&config.state.location())?;
    keep(&ledger, &target.name, &session)?;
    Ok(session)
}

/// Keeps `session` as `target`'s, replacing any earlier one.
pub fn keep(ledger: &Ledger, target: &str, session: &Session) -> Result<(), AuthError> {
    let value = serde_json::to_string(session).map_err(|e| AuthError::Exchange {
        target: target.to_string(),
        message: e.to_string(),
    })?;
    ledger.set_learned(target, SESSION_KEY, Some(&value), Utc::now())?;
    Ok(())
}

/// Waits on `listener` for the browser's redirect to `/callback`, answers
/// it with a page saying the window may be closed, and returns the
/// requested path and query. Other requests (a favicon) get a 404.
///
/// Written by hand: one GET line from a loopback socket, where an HTTP
/// server crate would be a large dependency for a single request.
pub async fn wait_for_redirect(listener: &tokio::net::TcpListener) -> Result<String, AuthError> {
    let accept = async {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let mut buf = Vec::with_capacity(1024);
            let mut chunk = [0u8; 1024];
            while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            let head = String::from_utf8_lossy(&buf);
            let target = head
                .lines()
                .next()
                .and_then(|line| line.strip_prefix("GET "))
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or_default()
                .to_string();
            let found = target.starts_with("/callback");
            let (status, body) = if found {
                (
                    "200 OK",
                    "<!doctype html><meta charset=utf-8><title>herald</title><p>herald has the answer; you may close this window and go back to the terminal.</p>",
                )
            } else {
                ("404 Not Found", "not found")
            };
            let _ = stream
                .write_all(
                    format!(
                        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                    .as_bytes(),
                )
                .await;
            let _ = stream.shutdown().await;
            if found {
                return target;
            }
        }
    };
    tokio::time::timeout(CONSENT_WAIT, accept)
        .await
        .map_err(|_| AuthError::Timeout)
}

/// What `herald auth --status` says about one target.
#[derive(Debug, Clone, Serialize)]
pub struct TokenStatus {
    pub target: String,
    pub kind: &'static str,
    /// Whether herald keeps this target's tokens (`herald auth`).
    pub kept: bool,
    /// When the kept session was last set (by `herald auth` or a renewal).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_expires: Option<DateTime<Utc>>,
    pub has_refresh_token: bool,
    /// When it stops working unless a person acts (None: no known end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lapses: Option<DateTime<Utc>>,
    /// In words.
    pub summary: String,
}

fn kept_session(learned: &Learned) -> Option<Session> {
    learned
        .get(SESSION_KEY)
        .and_then(|v| serde_json::from_str(v).ok())
}

fn date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `span` in days, or hours under two days.
fn span(span: chrono::TimeDelta) -> String {
    if span.num_days() >= 2 {
        format!("{} days", span.num_days())
    } else if span.num_hours() >= 1 {
        format!("{} h", span.num_hours())
    } else {
        format!("{} min", span.num_minutes().max(0))
    }
}

/// Every target's credentials: kept tokens with their age and ends, or
/// where they come from.
pub fn status(config: &Config, snapshot: &Snapshot, now: DateTime<Utc>) -> Vec<TokenStatus> {
    config
        .social
        .targets
        .iter()
        .map(|t| {
            let base = TokenStatus {
                target: t.name.clone(),
                kind: t.platform.kind(),
                kept: false,
                since: None,
                access_expires: None,
                has_refresh_token: false,
                lapses: None,
                summary: String::new(),
            };
            let Some(authorization) = t.platform.authorization() else {
                return TokenStatus {
                    summary: "credentials from the config; herald does not know when they end"
                        .to_string(),
                    ..base
                };
            };
            let learned = snapshot.learned(&t.name);
            let Some(session) = kept_session(&learned) else {
                let summary = if authorization.session.seed_refresh.is_some() {
                    "no token kept yet: the refresh_token in the config starts one on the next run"
                        .to_string()
                } else {
                    format!("no token: run `herald auth {}`", t.name)
                };
                return TokenStatus {
                    kept: true,
                    summary,
                    ..base
                };
            };
            let since = learned.fact(SESSION_KEY).map(|f| f.at);
            let lapses = authorization.lapses(&session);
            let mut words = Vec::new();
            if let Some(at) = since {
                words.push(format!("set {} ({} ago)", date(at), span(now - at)));
            }
            match session.access_expires {
                Some(at) if at > now => {
                    words.push(format!(
                        "access token ends {} (in {})",
                        date(at),
                        span(at - now)
                    ));
                }
                Some(at) => words.push(format!("access token ended {}", date(at))),
                None => words.push("access token has no stated end".to_string()),
            }
            if session.refresh.is_some() {
                words.push(match session.refresh_expires {
                    Some(at) => format!("refresh token ends {}", date(at)),
                    None => "refresh token has no stated end".to_string(),
                });
            }
            words.push(match lapses {
                Some(at) if at <= now => format!("ended: run `herald auth {}`", t.name),
                Some(at) if at - now <= EXPIRY_WARNING => format!(
                    "ends in {}: run `herald auth {}` before then",
                    span(at - now),
                    t.name
                ),
                Some(_) if authorization.session.renew_within.is_some() => {
                    "renewed by herald before it ends".to_string()
                }
                Some(_) => "a person must run herald auth again before it ends".to_string(),
                None => "renewed by herald as it is used".to_string(),
            });
            TokenStatus {
                kept: true,
                since,
                access_expires: session.access_expires,
                has_refresh_token: session.refresh.is_some(),
                lapses,
                summary: words.join("; "),
                ..base
            }
        })
        .collect()
}

/// Warnings for tokens that end within 14 days (or have ended), and for
/// targets waiting for their first `herald auth`: each with its target's
/// name.
pub fn expiry_warnings(
    config: &Config,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for t in config.social.targets.iter().filter(|t| t.enabled) {
        let Some(authorization) = t.platform.authorization() else {
            continue;
        };
        let learned = snapshot.learned(&t.name);
        match kept_session(&learned) {
            None if authorization.session.seed_refresh.is_none() => out.push((
                t.name.clone(),
                format!(
                    "{}: no token yet: run `herald auth {}` (its posts stay due until then)",
                    t.name, t.name
                ),
            )),
            None => {}
            Some(session) => match authorization.lapses(&session) {
                Some(at) if at <= now => out.push((
                    t.name.clone(),
                    format!(
                        "{}: its token ended {}: run `herald auth {}`",
                        t.name,
                        date(at),
                        t.name
                    ),
                )),
                Some(at) if at - now <= EXPIRY_WARNING => out.push((
                    t.name.clone(),
                    format!(
                        "{}: its token ends {} (in {}): run `herald auth {}` before then",
                        t.name,
                        date(at),
                        span(at - now),
                        t.name
                    ),
                )),
                _ => {}
            },
        }
    }
    out
}

/// Targets whose kept token renews itself and is due for it (fewer days
/// left than the platform renews within), with when it ends.
pub fn renewals_due<'a>(
    config: &'a Config,
    snapshot: &Snapshot,
    now: DateTime<Utc>,
) -> Vec<(&'a Target, DateTime<Utc>)> {
    config
        .social
        .targets
        .iter()
        .filter(|t| t.enabled)
        .filter_map(|t| {
            let within = t.platform.authorization()?.session.renew_within?;
            let session = kept_session(&snapshot.learned(&t.name))?;
            let ends = session.access_expires?;
            (ends > now && ends - now < within).then_some((t, ends))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authorization(pkce: bool) -> Authorization {
        use crate::social::http::{Body, Method, Request, Template};
        let request = Request::new(
            Method::Post,
            Template::text("https://p.example/token"),
            Body::Empty,
        );
        Authorization {
            authorize: Url::parse("https://p.example/authorize?client_id=c").unwrap(),
            pkce,
            exchange: request.clone(),
            read: crate::social::oauth::read_token,
            upgrade: None,
            session: crate::social::steps::SessionStep {
                login: None,
                refresh: None,
                read: crate::social::oauth::read_token,
                seed_refresh: None,
                renew_within: None,
            },
            setup: "",
        }
    }

    fn query(url: &Url, key: &str) -> Option<String> {
        url.query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    }

    /// RFC 7636: the challenge is base64url(SHA-256(verifier)), no padding.
    #[test]
    fn the_consent_page_carries_state_and_the_s256_challenge_of_its_verifier() {
        let c = consent("x", &authorization(true), "http://127.0.0.1:8765/callback");
        assert_eq!(query(&c.url, "client_id").as_deref(), Some("c"));
        assert_eq!(query(&c.url, "response_type").as_deref(), Some("code"));
        assert_eq!(
            query(&c.url, "redirect_uri").as_deref(),
            Some("http://127.0.0.1:8765/callback")
        );
        assert_eq!(
            query(&c.url, "code_challenge_method").as_deref(),
            Some("S256")
        );
        let verifier = c.verifier.clone().unwrap();
        assert_eq!(verifier.len(), 43);
        let expected =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(&verifier));
        assert_eq!(query(&c.url, "code_challenge"), Some(expected));
        let other = consent("x", &authorization(true), "http://127.0.0.1:8765/callback");
        assert_ne!(c.state, other.state, "a fresh state each time");
    }

    #[test]
    fn without_pkce_there_is_no_challenge() {
        let c = consent(
            "li",
            &authorization(false),
            "http://127.0.0.1:8765/callback",
        );
        assert!(query(&c.url, "code_challenge").is_none());
        assert!(c.verifier.is_none());
    }

    #[test]
    fn the_code_is_taken_only_with_this_request_s_state() {
        let c = consent("x", &authorization(true), "http://127.0.0.1:8765/callback");
        let good = format!("http://127.0.0.1:8765/callback?state={}&code=abc", c.state);
        assert_eq!(code_from(&c, &good).unwrap(), "abc");
        // Only the path and query, as the loopback server receives it.
        let path = format!("/callback?code=abc&state={}", c.state);
        assert_eq!(code_from(&c, &path).unwrap(), "abc");
        assert!(matches!(
            code_from(&c, "/callback?code=abc&state=forged"),
            Err(AuthError::StateMismatch)
        ));
        assert!(matches!(
            code_from(&c, "/callback?error=access_denied&error_description=The+user+said+no"),
            Err(AuthError::Refused(m)) if m == "access_denied The user said no"
        ));
    }
}
