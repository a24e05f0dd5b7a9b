//! A Nostr relay for tests, on 127.0.0.1: it checks every event's id and
//! BIP-340 signature independently of herald (the id serialized by hand as
//! NIP-01 describes it, the signature with k256), keeps what it received,
//! and answers each connection as told.

use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sha2::Digest;
use tokio_tungstenite::tungstenite::Message;

/// How the relay answers one connection.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// `["OK", id, true, ""]` (or `false, "duplicate: …"` for an event it has).
    Accept,
    /// `["OK", id, false, message]`.
    Refuse(&'static str),
    /// Reads the event and says nothing.
    Silent,
    /// Closes the connection on receiving the event.
    Close,
}

/// An event as received, and whether its id and signature held.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub event: Value,
    pub valid: bool,
}

pub struct Relay {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

impl Relay {
    pub fn events(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// NIP-01's serialization, by hand: strings escape only `\n \" \\ \r \t
/// \b \f`; everything else is written as it is.
fn nip01_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn nip01_value(v: &Value) -> String {
    match v {
        Value::String(s) => nip01_string(s),
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(nip01_value).collect::<Vec<_>>().join(",")
        ),
        other => other.to_string(),
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether `event`'s id is its NIP-01 hash and its signature verifies.
pub fn verify(event: &Value) -> bool {
    let field = |k: &str| event.get(k).cloned().unwrap_or(Value::Null);
    let serialized = format!(
        "[0,{},{},{},{},{}]",
        nip01_value(&field("pubkey")),
        field("created_at"),
        field("kind"),
        nip01_value(&field("tags")),
        nip01_value(&field("content"))
    );
    let id: [u8; 32] = sha2::Sha256::digest(serialized.as_bytes()).into();
    let Some(given) = event["id"].as_str().and_then(unhex) else {
        return false;
    };
    if given != id {
        return false;
    }
    let (Some(pubkey), Some(sig)) = (
        event["pubkey"].as_str().and_then(unhex),
        event["sig"].as_str().and_then(unhex),
    ) else {
        return false;
    };
    let Ok(key) = k256::schnorr::VerifyingKey::from_slice(&pubkey) else {
        return false;
    };
    let Ok(sig) = k256::schnorr::Signature::try_from(sig.as_slice()) else {
        return false;
    };
    key.verify_raw(&id, &sig).is_ok()
}

/// Starts a relay whose n-th connection is answered as `behaviours[n]`
/// (the last one for the rest). It runs on a thread of its own, so a test
/// that waits for the herald binary does not stop it.
pub async fn start(behaviours: Vec<Behaviour>) -> Relay {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::<Received>::new()));
    let kept = received.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(serve(listener, behaviours, kept));
    });
    Relay { url, received }
}

// The handshake callback's error type is tungstenite's own, and large.
#[allow(clippy::result_large_err)]
async fn serve(
    listener: std::net::TcpListener,
    behaviours: Vec<Behaviour>,
    kept: Arc<Mutex<Vec<Received>>>,
) {
    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
    {
        let mut n = 0;
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let behaviour = behaviours
                .get(n)
                .or(behaviours.last())
                .cloned()
                .unwrap_or(Behaviour::Accept);
            n += 1;
            let kept = kept.clone();
            tokio::spawn(async move {
                let path = Arc::new(Mutex::new(String::new()));
                let seen = path.clone();
                let callback =
                    move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp| {
                        *seen.lock().unwrap() = req.uri().path().to_string();
                        Ok(resp)
                    };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
                    return;
                };
                while let Some(Ok(Message::Text(text))) = ws.next().await {
                    let Ok(frame) = serde_json::from_str::<Value>(text.as_str()) else {
                        continue;
                    };
                    if frame[0] != "EVENT" {
                        continue;
                    }
                    let event = frame[1].clone();
                    let id = event["id"].as_str().unwrap_or_default().to_string();
                    let valid = verify(&event);
                    let had = kept
                        .lock()
                        .unwrap()
                        .iter()
                        .any(|r| r.event["id"] == event["id"]);
                    kept.lock().unwrap().push(Received {
                        path: path.lock().unwrap().clone(),
                        event,
                        valid,
                    });
                    let answer = match (&behaviour, valid, had) {
                        (_, false, _) => json!(["OK", id, false, "invalid: bad id or signature"]),
                        (Behaviour::Accept, true, true) => {
                            json!(["OK", id, false, "duplicate: already have it"])
                        }
                        (Behaviour::Accept, true, false) => json!(["OK", id, true, ""]),
                        (Behaviour::Refuse(m), true, _) => json!(["OK", id, false, m]),
                        (Behaviour::Silent, true, _) => continue,
                        (Behaviour::Close, true, _) => {
                            let _ = ws.close(None).await;
                            return;
                        }
                    };
                    let _ = ws
                        .send(Message::text(json!(["NOTICE", "hello"]).to_string()))
                        .await;
                    let _ = ws.send(Message::text(answer.to_string())).await;
                }
            });
        }
    }
}
