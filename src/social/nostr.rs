//! Nostr (NIP-01): a signed event sent to every relay over WebSocket; the
//! post is made when `min_acks` relays answer `["OK", id, true, …]`.
//!
//! `kind: note` (the default) is a kind 1 note: the post's text, then the
//! hero image's URL with an `imeta` tag (NIP-92) carrying its alt text,
//! the link as an `r` tag and the article's tags as `t` tags. `kind:
//! article` is a NIP-23 long-form event (kind 30023): the article's
//! Markdown as content, `d` = its slug (so an edit replaces it), `title`,
//! `summary`, `image`, `published_at`.
//!
//! An event's id is the SHA-256 of its content, and it is signed with a
//! BIP-340 Schnorr signature (k256). The event is made and signed at the
//! first attempt and kept in the ledger until it is out, so every resend,
//! in this run or a later one, is the very same event: a relay that has it
//! answers `duplicate:` and nothing is posted twice.

use std::sync::Arc;

use bech32::{Bech32, Hrp};
use chrono::{DateTime, Utc};
use k256::schnorr::SigningKey;
use k256::schnorr::signature::hazmat::PrehashSigner;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

use super::card::Card;
use super::compose::{CountUnit, TextLimit};
use super::driver::SEALED_PREFIX;
use super::keys::{KeyError, Keys};
use super::socket::Reply;
use super::steps::{BroadcastStep, Step, Steps};
use super::{
    Capabilities, Idempotency, Learned, Platform, Post, SecretField, SecretKind, Shape, TextRule,
};
use crate::secret::Secret;
use crate::units::Text;

/// A note's length: clients show more, but fold long ones.
pub const MAX_NOTE: usize = 2000;
/// NIP-23 articles carry the whole Markdown; this bounds the composed
/// text, which only serves as their summary.
const MAX_SUMMARY: usize = 500;

/// What a target publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EventKind {
    Note,
    Article,
}

/// A key and the relays its events go to.
#[derive(Debug)]
pub struct Nostr {
    relays: Vec<Url>,
    secret_key: Secret,
    kind: EventKind,
    min_acks: usize,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NostrKeys {
    relays: Vec<String>,
    secret_key: Secret,
    kind: Option<Text>,
    min_acks: Option<usize>,
}

/// Example keys: two relays at `base` (as WebSocket URLs).
pub fn example(base: &str) -> Value {
    let ws = base.replacen("http", "ws", 1);
    json!({
        "relays": [format!("{ws}/relay-a"), format!("{ws}/relay-b")],
        "secret_key": "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a",
        "min_acks": 2,
    })
}

pub fn read(keys: &Keys<'_>) -> Result<Arc<dyn Platform>, KeyError> {
    let k: NostrKeys = keys.read()?;
    let mut relays = Vec::with_capacity(k.relays.len());
    for r in &k.relays {
        let r = keys.text("relays", r)?;
        let url = Url::parse(&r)
            .ok()
            .filter(|u| matches!(u.scheme(), "ws" | "wss") && u.host_str().is_some())
            .ok_or_else(|| {
                KeyError::invalid("relays", format!("{r:?} is not a ws:// or wss:// URL"))
            })?;
        relays.push(url);
    }
    if relays.is_empty() {
        return Err(KeyError::invalid("relays", "give at least one relay"));
    }
    let kind = match k.kind.as_ref().map(|t| t.0.as_str()) {
        None | Some("note") => EventKind::Note,
        Some("article") => EventKind::Article,
        Some(other) => {
            return Err(KeyError::invalid(
                "kind",
                format!("{other:?}: expected note or article"),
            ));
        }
    };
    let min_acks = k.min_acks.unwrap_or(1);
    if min_acks == 0 || min_acks > relays.len() {
        return Err(KeyError::invalid(
            "min_acks",
            format!(
                "{min_acks}: expected 1 to {} (the number of relays)",
                relays.len()
            ),
        ));
    }
    Ok(Arc::new(Nostr {
        relays,
        secret_key: k.secret_key,
        kind,
        min_acks,
    }))
}

/// The 32 bytes of a secret key written as `nsec1…` (NIP-19) or 64 hex
/// digits.
pub fn secret_bytes(text: &str) -> Result<[u8; 32], String> {
    let text = text.trim();
    let bytes = if text.starts_with("nsec1") {
        let (hrp, data) =
            bech32::decode(text).map_err(|e| format!("the nsec1 key does not decode: {e}"))?;
        if hrp.as_str() != "nsec" {
            return Err("the key is not an nsec1 key".to_string());
        }
        data
    } else {
        hex_decode(text).ok_or("the key is neither nsec1… nor 64 hex digits")?
    };
    bytes
        .try_into()
        .map_err(|_| "the key is not 32 bytes long".to_string())
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The event's id: SHA-256 of `[0, pubkey, created_at, kind, tags,
/// content]` serialized without white space. serde_json writes strings as
/// NIP-01 asks (`\n \" \\ \r \t \b \f` escaped, other characters as they
/// are); a test checks it against an id written out by hand.
pub fn event_id(pubkey: &str, created_at: i64, kind: u64, tags: &Value, content: &str) -> [u8; 32] {
    let serialized = json!([0, pubkey, created_at, kind, tags, content]).to_string();
    Sha256::digest(serialized.as_bytes()).into()
}

/// Signs `draft` (its kind, tags and content) with `secret` at `now`.
fn seal(draft: &Value, secret: &str, now: DateTime<Utc>) -> Result<(Value, String), String> {
    let key = SigningKey::from_bytes(&secret_bytes(secret)?.into())
        .map_err(|_| "the secret key is not a valid secp256k1 key".to_string())?;
    let pubkey = hex(&key.verifying_key().to_bytes());
    let kind = draft.get("kind").and_then(Value::as_u64).unwrap_or(1);
    let tags = draft.get("tags").cloned().unwrap_or_else(|| json!([]));
    let content = draft
        .get("content")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let created_at = now.timestamp();
    let id = event_id(&pubkey, created_at, kind, &tags, content);
    let sig: k256::schnorr::Signature = key
        .sign_prehash(&id)
        .map_err(|e| format!("signing failed: {e}"))?;
    let id = hex(&id);
    let event = json!({
        "id": id,
        "pubkey": pubkey,
        "created_at": created_at,
        "kind": kind,
        "tags": tags,
        "content": content,
        "sig": hex(&sig.to_bytes()),
    });
    Ok((event, id))
}

fn frame(event: &Value) -> String {
    json!(["EVENT", event]).to_string()
}

/// A relay's `["OK", id, accepted, "prefix: message"]` for this event.
/// `duplicate:` means the relay has it (some answer it with `false`);
/// `rate-limited:` and `error:` may pass; the rest will not.
fn read_ok(text: &str, id: &str) -> Option<Reply> {
    let v: Value = serde_json::from_str(text).ok()?;
    let a = v.as_array()?;
    if a.first()?.as_str()? != "OK" || a.get(1)?.as_str()? != id {
        return None;
    }
    let accepted = a.get(2)?.as_bool()?;
    let message = a
        .get(3)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let prefix = message.split(':').next().unwrap_or_default();
    Some(match (accepted, prefix) {
        (true, _) | (false, "duplicate") => Reply::Accepted(message),
        (false, "rate-limited" | "error") => Reply::Refused {
            message,
            retry: true,
        },
        (false, "auth-required") => Reply::Refused {
            message: format!(
                "{message} (the relay wants NIP-42 authentication, which herald does not do)"
            ),
            retry: false,
        },
        (false, _) => Reply::Refused {
            message,
            retry: false,
        },
    })
}

/// `nostr:note1…` (NIP-19, NIP-21): the event in any client.
fn address(id: &str) -> Option<String> {
    let bytes = hex_decode(id)?;
    let hrp = Hrp::parse("note").ok()?;
    bech32::encode::<Bech32>(hrp, &bytes)
        .ok()
        .map(|note| format!("nostr:{note}"))
}

impl Nostr {
    fn draft(&self, post: &Post) -> Value {
        let mut tags: Vec<Value> = Vec::new();
        let (kind, content) = match self.kind {
            EventKind::Note => {
                let mut content = post.fitted.text.clone();
                if let Some(image) = &post.image {
                    content.push('\n');
                    content.push_str(image.as_str());
                    tags.push(json!([
                        "imeta",
                        format!("url {image}"),
                        format!("alt {}", post.image_alt)
                    ]));
                }
                tags.push(json!(["r", post.url.as_str()]));
                (1, content)
            }
            EventKind::Article => {
                let slug = post
                    .url
                    .path_segments()
                    .and_then(|mut s| s.rfind(|p| !p.is_empty()))
                    .unwrap_or("article")
                    .to_string();
                tags.push(json!(["d", slug]));
                tags.push(json!(["title", post.fields.title]));
                tags.push(json!(["summary", post.fields.summary]));
                if let Some(image) = &post.image {
                    tags.push(json!(["image", image.as_str()]));
                }
                tags.push(json!([
                    "published_at",
                    post.published.timestamp().to_string()
                ]));
                tags.push(json!(["r", post.url.as_str()]));
                let content = post
                    .markdown
                    .as_deref()
                    .unwrap_or(post.fitted.text.as_str())
                    .trim_start_matches(['\n', '\r'])
                    .to_string();
                (30023, content)
            }
        };
        for t in &post.fields.tags {
            tags.push(json!(["t", t.to_lowercase()]));
        }
        json!({
            "id": "<SHA-256 of the event, when first sent>",
            "pubkey": "<public key of secret_key>",
            "created_at": "<the first attempt's time>",
            "kind": kind,
            "tags": tags,
            "content": content,
            "sig": "<BIP-340 signature>",
        })
    }
}

impl Platform for Nostr {
    fn kind(&self) -> &'static str {
        "nostr"
    }

    /// In the text; clients find them by the event's `t` tags.
    fn hashtags(&self) -> super::Hashtags {
        super::Hashtags::InText
    }

    fn secrets(&self) -> Vec<SecretField<'_>> {
        vec![SecretField::new(
            "secret_key",
            &self.secret_key,
            SecretKind::Token,
        )]
    }

    fn text(&self, _: &Learned) -> TextRule {
        TextRule {
            limit: TextLimit::new(
                CountUnit::CodePoints,
                match self.kind {
                    EventKind::Note => MAX_NOTE,
                    EventKind::Article => MAX_SUMMARY,
                },
            ),
            shape: Shape::Text,
        }
    }

    fn capabilities(&self, _learned: &Learned) -> Capabilities {
        Capabilities {
            // Notes answer notes (NIP-10); a long-form article is whole.
            threads: self.kind == EventKind::Note,
            // An article with the same `d` replaces the first.
            edit: self.kind == EventKind::Article,
            // A resend is the same event, which a relay keeps once.
            idempotency: Idempotency::Key { kept_for: None },
            full_article: self.kind == EventKind::Article,
            ..Capabilities::default()
        }
    }

    fn steps(&self, post: &Post, edit: Option<&str>, _learned: &Learned) -> Steps {
        let keep_as = match edit {
            None => format!("{SEALED_PREFIX}{}", post.idempotency_key),
            Some(_) => format!(
                "{SEALED_PREFIX}{}-{}",
                post.idempotency_key,
                post.content_hash.chars().take(12).collect::<String>()
            ),
        };
        Steps(vec![Step::Broadcast(Box::new(BroadcastStep {
            servers: self.relays.clone(),
            draft: self.draft(post),
            fills: Vec::new(),
            seal,
            secret: self.secret_key.clone(),
            frame,
            read: read_ok,
            needed: self.min_acks,
            keep_as,
            address,
            note: format!(
                "signed at the first attempt and kept, so every resend is the same event; posted when {} of {} relays accept it",
                self.min_acks,
                self.relays.len()
            ),
        }))])
    }

    /// A note whose `e` tags (NIP-10, marked) name the thread's first note
    /// and the note before; sealed once like any note.
    fn reply_steps(&self, part: &Post, _learned: &Learned) -> Option<Steps> {
        if self.kind != EventKind::Note {
            return None;
        }
        let mut draft = self.draft(part);
        if let Some(tags) = draft["tags"].as_array_mut() {
            tags.insert(0, json!(["e", "<id of the part before>", "", "reply"]));
            tags.insert(0, json!(["e", "<id of the first part>", "", "root"]));
        }
        Some(Steps(vec![Step::Broadcast(Box::new(BroadcastStep {
            servers: self.relays.clone(),
            draft,
            fills: vec![
                ("/tags/0/1".to_string(), super::ROOT_ID.to_string()),
                ("/tags/1/1".to_string(), super::PARENT_ID.to_string()),
            ],
            seal,
            secret: self.secret_key.clone(),
            frame,
            read: read_ok,
            needed: self.min_acks,
            keep_as: format!("{SEALED_PREFIX}{}", part.idempotency_key),
            address,
            note: format!(
                "a reply, signed at the first attempt and kept; posted when {} of {} relays accept it",
                self.min_acks,
                self.relays.len()
            ),
        }))]))
    }

    /// A kind 5 deletion request naming the event (NIP-09); relays may
    /// keep the event anyway.
    fn delete(&self, remote: &super::Remote<'_>) -> Option<Steps> {
        let id = remote.id?;
        let draft = json!({
            "id": "<SHA-256 of the event, when first sent>",
            "pubkey": "<public key of secret_key>",
            "created_at": "<the first attempt's time>",
            "kind": 5,
            "tags": [["e", id]],
            "content": "The article was unpublished.",
            "sig": "<BIP-340 signature>",
        });
        Some(Steps(vec![Step::Broadcast(Box::new(BroadcastStep {
            servers: self.relays.clone(),
            draft,
            fills: Vec::new(),
            seal,
            secret: self.secret_key.clone(),
            frame,
            read: read_ok,
            needed: self.min_acks,
            keep_as: format!("{SEALED_PREFIX}{}-delete", remote.key),
            address,
            note: format!(
                "a deletion request (kind 5), signed once; done when {} of {} relays accept it",
                self.min_acks,
                self.relays.len()
            ),
        }))]))
    }

    fn account(&self) -> Option<String> {
        Some(format!(
            "the key's profile, on {} relays",
            self.relays.len()
        ))
    }

    fn card(&self, _post: &Post, c: &Card<'_>) -> String {
        c.timeline()
    }

    fn card_style(&self) -> &'static str {
        ".nostr{background:#1c1b22;color:#f2f2f2}.nostr .bar{background:#8e30eb}.nostr .avatar{background:#8e30eb}.nostr a{color:#b88cff}"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::schnorr::VerifyingKey;

    const SECRET: &str = "7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a";

    /// The id over the serialization NIP-01 describes, written out by hand.
    #[test]
    fn the_id_is_the_hash_of_nip_01_s_serialization() {
        let tags = json!([["t", "rust"]]);
        let content = "Line \"one\"\nTab\there, back\\slash, é 👍";
        let by_hand = format!(
            "[0,\"{}\",1736933400,1,[[\"t\",\"rust\"]],\"{}\"]",
            "ab".repeat(32),
            "Line \\\"one\\\"\\nTab\\there, back\\\\slash, é 👍"
        );
        assert_eq!(
            event_id(&"ab".repeat(32), 1_736_933_400, 1, &tags, content),
            <[u8; 32]>::from(Sha256::digest(by_hand.as_bytes()))
        );
    }

    #[test]
    fn a_sealed_event_verifies_and_both_key_forms_are_read() {
        let draft = json!({"kind": 1, "tags": [], "content": "hello"});
        let now = DateTime::parse_from_rfc3339("2025-01-15T09:30:00Z")
            .unwrap()
            .to_utc();
        let (event, id) = seal(&draft, SECRET, now).unwrap();
        assert_eq!(event["id"], id);
        assert_eq!(event["created_at"], 1_736_933_400);
        let pubkey = hex_decode(event["pubkey"].as_str().unwrap()).unwrap();
        let key = VerifyingKey::from_slice(&pubkey).unwrap();
        let sig = k256::schnorr::Signature::try_from(
            hex_decode(event["sig"].as_str().unwrap())
                .unwrap()
                .as_slice(),
        )
        .unwrap();
        key.verify_raw(&hex_decode(&id).unwrap(), &sig).unwrap();
        // The same key as nsec1 (NIP-19).
        let nsec =
            bech32::encode::<Bech32>(Hrp::parse("nsec").unwrap(), &hex_decode(SECRET).unwrap())
                .unwrap();
        assert_eq!(
            secret_bytes(&nsec).unwrap().to_vec(),
            hex_decode(SECRET).unwrap()
        );
        assert!(secret_bytes("nsec1notakey").is_err());
        assert!(secret_bytes("12ab").is_err());
    }

    #[test]
    fn relay_answers_are_read_by_their_prefix() {
        let id = "aa";
        assert_eq!(
            read_ok(r#"["OK","aa",true,""]"#, id),
            Some(Reply::Accepted(String::new()))
        );
        assert_eq!(
            read_ok(r#"["OK","aa",false,"duplicate: exists"]"#, id),
            Some(Reply::Accepted("duplicate: exists".into()))
        );
        assert!(matches!(
            read_ok(r#"["OK","aa",false,"rate-limited: slow down"]"#, id),
            Some(Reply::Refused { retry: true, .. })
        ));
        assert!(matches!(
            read_ok(r#"["OK","aa",false,"invalid: bad signature"]"#, id),
            Some(Reply::Refused { retry: false, .. })
        ));
        assert_eq!(read_ok(r#"["OK","bb",true,""]"#, id), None);
        assert_eq!(read_ok(r#"["NOTICE","hello"]"#, id), None);
    }
}
