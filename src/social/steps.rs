//! The steps one post takes on its platform, as data: a session, an image
//! upload whose answer the next request uses, polling until the upload is
//! ready, and the request that makes (or edits) the post.
//!
//! A platform module builds the `Steps` of a post; the plan holds them; the
//! dry run prints them (`preview`); the driver runs that same value, filling
//! the slots each answer provides. So what a dry run shows is, step by step,
//! what a real run sends.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use url::Url;

use super::Delivered;
use super::http::{DeliveryError, Request, RequestPreview, Response, Slots};
use super::image::ImageData;

/// Reads a login's answer.
pub type ReadSession = fn(&Response, DateTime<Utc>) -> Result<Session, DeliveryError>;
/// Reads an upload's answer into slots for the steps after it.
pub type ReadValues = fn(&Response, DateTime<Utc>) -> Result<Slots, DeliveryError>;
/// Reads one poll's answer.
pub type ReadPoll = fn(&Response, DateTime<Utc>) -> Result<Polled, DeliveryError>;
/// Reads the answer to the post itself.
pub type ReadDelivered = fn(&Response, &Slots, DateTime<Utc>) -> Result<Delivered, DeliveryError>;
/// Reads the answer to a `Verify`: `Some` when the post is there.
pub type ReadVerify =
    fn(&Response, &Slots, DateTime<Utc>) -> Result<Option<Delivered>, DeliveryError>;
/// Turns the fetched hero image into what the platform takes.
pub type Prepare = fn(&ImageData) -> Result<ImageData, String>;

/// The steps of one post, in order.
#[derive(Debug, Clone, Default)]
pub struct Steps(pub Vec<Step>);

/// One step.
#[derive(Debug, Clone)]
pub enum Step {
    Session(SessionStep),
    Call(CallStep),
    Upload(UploadStep),
    Poll(PollStep),
    /// Boxed: it holds up to three requests.
    Send(Box<SendStep>),
    /// The post itself, sealed once and sent to several servers over
    /// WebSocket (Nostr relays).
    Broadcast(Box<BroadcastStep>),
}

impl Step {
    /// The step that makes the post.
    pub fn send(step: SendStep) -> Step {
        Step::Send(Box::new(step))
    }
}

/// Log in, unless a session kept from an earlier run (or made earlier in
/// this one) is still good; a kept session past its time is refreshed.
/// Platforms whose tokens come from `herald auth` have no login: their
/// session is the one `herald auth` kept, renewed by `refresh`.
#[derive(Debug, Clone)]
pub struct SessionStep {
    pub login: Option<Request>,
    /// Renews a kept session; its requests use the slots `refresh_token`
    /// and `access_token`.
    pub refresh: Option<Request>,
    pub read: ReadSession,
    /// A refresh token given in the config, used when nothing is kept yet.
    pub seed_refresh: Option<crate::secret::Secret>,
    /// Renew a kept session whose access token ends within this long
    /// (Threads' tokens are renewed days ahead); default: minutes.
    pub renew_within: Option<chrono::TimeDelta>,
}

/// A request whose answer later steps use (a container, an upload slot).
/// An `optional` step that fails leaves the post to go on without what it
/// gives (`optional` says what gave way).
#[derive(Debug, Clone)]
pub struct CallStep {
    pub request: Request,
    pub read: ReadValues,
    /// Sent only when this slot is true (absent: always).
    pub when: Option<String>,
    pub optional: Option<String>,
    /// What the dry run says the step is for.
    pub note: String,
}

/// Fetch the hero image, prepare it and upload it. When the image cannot
/// be fetched or prepared, or the platform refuses it, the post goes
/// without it: the slots take the values in `without` (or stay empty).
#[derive(Debug, Clone)]
pub struct UploadStep {
    pub image: Url,
    pub prepare: Prepare,
    pub request: Request,
    pub read: ReadValues,
    pub without: Slots,
    /// Done only when this slot is there (an upload address an earlier
    /// step gave); absent: always.
    pub needs: Option<String>,
}

/// Ask again, while the slot `when` is true, until the resource is ready;
/// at most `limit` in all.
#[derive(Debug, Clone)]
pub struct PollStep {
    pub request: Request,
    pub when: String,
    pub read: ReadPoll,
    pub limit: Duration,
}

/// Make (or edit) the post. If the platform refuses it in a way `fallback`
/// recognises, send the fallback request instead.
#[derive(Debug, Clone)]
pub struct SendStep {
    pub request: Request,
    pub read: ReadDelivered,
    pub fallback: Option<Fallback>,
    /// Values known when the step is built that reading the answer needs
    /// (Bluesky's record key).
    pub known: Slots,
    /// Asks whether the post exists after all, when the answer to the post
    /// was lost or refused: a resend under a key herald chose may be
    /// refused because the first send made the post.
    pub verify: Option<Verify>,
    /// Asks where the post can be seen, after it is made, when the answer
    /// does not say (Threads' permalink); best effort.
    pub address: Option<Verify>,
}

/// A message sealed (signed) at the first attempt and kept, so every later
/// attempt sends the very same one, then sent to each server over
/// WebSocket; the post is made when `needed` of them accept it.
#[derive(Debug, Clone)]
pub struct BroadcastStep {
    pub servers: Vec<Url>,
    /// The message before it is sealed, with placeholders for what sealing
    /// adds: what the dry run shows.
    pub draft: serde_json::Value,
    /// Values of the draft (by JSON pointer) that come from slots (by
    /// name), filled before it is sealed: a reply's parent's id.
    pub fills: Vec<(String, String)>,
    pub seal: Seal,
    pub secret: crate::secret::Secret,
    /// The text frame that carries a (sealed or draft) message.
    pub frame: fn(&serde_json::Value) -> String,
    /// Reads a frame from a server: `Some` when it answers the message
    /// whose id is given.
    pub read: fn(&str, &str) -> Option<super::socket::Reply>,
    pub needed: usize,
    /// The learned key the sealed message is kept under between attempts.
    pub keep_as: String,
    /// Where the post can be seen, from its id.
    pub address: fn(&str) -> Option<String>,
    /// What the dry run says of it.
    pub note: String,
}

/// Seals a draft with the secret at a time: the sealed message and its id.
pub type Seal =
    fn(&serde_json::Value, &str, DateTime<Utc>) -> Result<(serde_json::Value, String), String>;

/// A question whose answer says whether the post was made.
#[derive(Debug, Clone)]
pub struct Verify {
    pub request: Request,
    /// `Some` when the post is there.
    pub read: ReadVerify,
}

impl SendStep {
    pub fn new(request: Request, read: ReadDelivered) -> Self {
        SendStep {
            request,
            read,
            fallback: None,
            known: Slots::new(),
            verify: None,
            address: None,
        }
    }
}

/// A second way to make the post.
#[derive(Debug, Clone)]
pub struct Fallback {
    pub when: fn(&DeliveryError) -> bool,
    pub request: Request,
    /// When it is used, for the dry run.
    pub note: String,
    /// What gave way when it was used, for the run's warnings.
    pub warning: String,
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    Ready(Slots),
    Pending,
}

/// A logged-in session: kept in the ledger between runs, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub access: String,
    #[serde(default)]
    pub refresh: Option<String>,
    /// Other values the login returned (Bluesky's `did`).
    #[serde(default)]
    pub values: BTreeMap<String, String>,
    #[serde(default)]
    pub access_expires: Option<DateTime<Utc>>,
    #[serde(default)]
    pub refresh_expires: Option<DateTime<Utc>>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("access", &"[redacted]")
            .field("refresh", &self.refresh.as_ref().map(|_| "[redacted]"))
            .field("values", &self.values)
            .field("access_expires", &self.access_expires)
            .finish()
    }
}

/// A token within this long of its end is treated as ended.
const EXPIRY_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(2);

impl Session {
    /// The slots later requests use: `access_token`, `refresh_token` and
    /// each of `values`.
    pub fn slots(&self) -> Slots {
        let mut slots: Slots = self
            .values
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
            .collect();
        slots.insert("access_token".into(), self.access.clone().into());
        if let Some(r) = &self.refresh {
            slots.insert("refresh_token".into(), r.clone().into());
        }
        slots
    }

    /// The token values, to scrub from any text herald prints.
    pub fn secrets(&self) -> Vec<String> {
        std::iter::once(self.access.clone())
            .chain(self.refresh.clone())
            .collect()
    }

    pub fn access_usable(&self, now: DateTime<Utc>) -> bool {
        lasts(self.access_expires, now)
    }

    pub fn refresh_usable(&self, now: DateTime<Utc>) -> bool {
        self.refresh.is_some() && lasts(self.refresh_expires, now)
    }
}

/// Whether a token ending at `end` (never, if `None`) lasts past `now` by
/// the margin. Any date a token may carry is compared without overflow.
fn lasts(end: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match end {
        None => true,
        Some(at) => at
            .checked_sub_signed(EXPIRY_MARGIN)
            .is_some_and(|margin| margin > now),
    }
}

/// A step as the dry run shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepPreview {
    pub step: &'static str,
    pub note: String,
    pub request: RequestPreview,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<RequestPreview>,
    /// Sent only when the post's answer is lost or refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<RequestPreview>,
}

impl Steps {
    /// What a dry run prints: each step's request, and when it is sent.
    pub fn preview(&self) -> Vec<StepPreview> {
        let mut out: Vec<StepPreview> = self.0
            .iter()
            .filter_map(|step| match step {
                Step::Session(s) => match (&s.login, &s.refresh) {
                    (Some(login), refresh) => Some(StepPreview {
                        step: "session",
                        note: if refresh.is_some() {
                            "only when no session kept from an earlier run is valid (a kept one is refreshed first)".to_string()
                        } else {
                            "only when no session kept from an earlier run is valid".to_string()
                        },
                        request: login.preview(),
                        otherwise: refresh.as_ref().map(Request::preview),
                        check: None,
                    }),
                    (None, Some(refresh)) => Some(StepPreview {
                        step: "session",
                        note: "the token `herald auth` kept; this request renews it only when it is due".to_string(),
                        request: refresh.preview(),
                        otherwise: None,
                        check: None,
                    }),
                    // The token `herald auth` kept, used as it is: no request.
                    (None, None) => None,
                },
                Step::Call(c) => Some(StepPreview {
                    step: "call",
                    note: c.note.clone(),
                    request: c.request.preview(),
                    otherwise: None,
                    check: None,
                }),
                Step::Upload(u) => Some(StepPreview {
                    step: "upload",
                    note: format!(
                        "the hero image {}, fetched when sent; if it cannot be used the post goes without it",
                        u.image
                    ),
                    request: u.request.preview(),
                    otherwise: None,
                    check: None,
                }),
                Step::Poll(p) => Some(StepPreview {
                    step: "poll",
                    note: format!(
                        "only while the platform is still processing it, at most {}s in all",
                        p.limit.as_secs()
                    ),
                    request: p.request.preview(),
                    otherwise: None,
                    check: None,
                }),
                Step::Broadcast(_) => None,
                Step::Send(s) => Some(StepPreview {
                    step: "send",
                    note: match &s.fallback {
                        Some(f) => format!("the post; {}", f.note),
                        None => "the post".to_string(),
                    },
                    request: s.request.preview(),
                    otherwise: s.fallback.as_ref().map(|f| f.request.preview()),
                    check: s.verify.as_ref().map(|v| v.request.preview()),
                }),
            })
            .collect();
        // A message sealed once goes to each server.
        for step in &self.0 {
            if let Step::Broadcast(b) = step {
                let body = serde_json::from_str((b.frame)(&b.draft).as_str())
                    .unwrap_or(serde_json::Value::Null);
                for server in &b.servers {
                    out.push(StepPreview {
                        step: "publish",
                        note: b.note.clone(),
                        request: RequestPreview {
                            method: super::http::Method::WebSocket,
                            url: server.to_string(),
                            headers: Default::default(),
                            body: body.clone(),
                        },
                        otherwise: None,
                        check: None,
                    });
                }
            }
        }
        // After the post, where it can be seen, when its answer does not say.
        for step in &self.0 {
            if let Step::Send(s) = step
                && let Some(address) = &s.address
            {
                out.push(StepPreview {
                    step: "address",
                    note: "once the post is made, where it can be seen (best effort)".to_string(),
                    request: address.request.preview(),
                    otherwise: None,
                    check: None,
                });
            }
        }
        out
    }
}

impl Serialize for Steps {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.preview().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ends_at_the_edges_of_the_calendar_are_compared_without_overflow() {
        let now = Utc::now();
        assert!(!lasts(Some(DateTime::<Utc>::MIN_UTC), now));
        assert!(lasts(Some(DateTime::<Utc>::MAX_UTC), now));
        assert!(lasts(None, now));
        assert!(
            !lasts(Some(now + chrono::TimeDelta::minutes(1)), now),
            "within the margin"
        );
    }
}
