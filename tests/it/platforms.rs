//! Every platform in the registry, from its own example keys: the requests a
//! real run sends to a local stand-in are, step by step, the requests the
//! dry run printed for the same plan (secrets, ids from earlier steps and
//! send-time values aside, which the dry run names instead of showing).

use regex::Regex;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::posting::{NOW, jpeg, seed_site};
use crate::support::output;

/// One answer every platform's reader accepts: each takes what it needs.
fn universal_answer(base: &str) -> Value {
    json!({
        "value": {"uploadUrl": format!("{base}/upload/hero"), "image": "urn:li:image:C4E"},
        "status": "FINISHED",
        "permalink": "https://remote.example/permalink/100",
        "ok": true,
        "id": "100",
        "data": {"id": "100"},
        "createdNote": {"id": "9y100"},
        "content_uri": "mxc://stand-in/abc",
        "event_id": "$ev100",
        "maxNoteTextLength": 3000,
        "url": "https://remote.example/100",
        "channel_id": "2",
        "guild_id": "3",
        "name": "spaces/S/messages/1",
        "uri": "at://did:plc:stand-in/app.bsky.feed.post/3k",
        "cid": "bafyc",
        "accessJwt": "access-jwt",
        "refreshJwt": "refresh-jwt",
        "did": "did:plc:stand-in",
        "blob": {"$type": "blob", "ref": {"$link": "bafkrei"}, "mimeType": "image/jpeg", "size": 1},
        "result": {"message_id": 7, "chat": {"id": -100, "username": "stand_in"}},
        "configuration": {"statuses": {"max_characters": 500, "characters_reserved_per_url": 23}},
    })
}

/// A stand-in for every platform: the hero image, and the universal answer
/// to anything else.
async fn stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/img/hero.jpg"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(jpeg()),
        )
        .mount(&server)
        .await;
    Mock::given(wiremock::matchers::any())
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("location", format!("{}/posts/100", server.uri()).as_str())
                .set_body_json(universal_answer(&server.uri())),
        )
        .mount(&server)
        .await;
    server
}

/// A target of every platform, built from its example keys below `base`
/// (WebSocket addresses below `base` go to `relay`).
fn example_target(entry: &herald::social::Entry, base: &str, relay: &str) -> (Value, Value) {
    let keys = (entry.example)(&format!("{base}/{}", entry.kind));
    let keys: Value = serde_json::from_str(
        &keys
            .to_string()
            .replace(&base.replacen("http", "ws", 1), relay),
    )
    .unwrap();
    let mut target = json!({"name": entry.kind, "type": entry.kind});
    for (k, v) in keys.as_object().unwrap() {
        target[k] = v.clone();
    }
    (target, keys)
}

/// A pattern for a printed text: placeholders (`<…>`, `${…}`) match any
/// text, `[redacted]` matches one of the target's configured values.
fn pattern(printed: &str, secrets: &[String]) -> Regex {
    let token = Regex::new(r"<[^<>]*>|\$\{[^}]*\}|\[redacted\]").unwrap();
    let mut out = String::from("^");
    let mut last = 0;
    for m in token.find_iter(printed) {
        out.push_str(&regex::escape(&printed[last..m.start()]));
        if m.as_str() == "[redacted]" {
            // A whole secret, or (after a URL's shown scheme and host) the
            // rest of a secret URL.
            let any: Vec<String> = secrets
                .iter()
                .flat_map(|s| {
                    let rest = url::Url::parse(s).ok().map(|u| {
                        let path = u.path().trim_start_matches('/').to_string();
                        match u.query() {
                            Some(q) => format!("{path}?{q}"),
                            None => path,
                        }
                    });
                    std::iter::once(s.clone()).chain(rest)
                })
                .map(|s| regex::escape(&s))
                .collect();
            out.push_str(&format!("(?:{})", any.join("|")));
        } else {
            out.push_str(".+?");
        }
        last = m.end();
    }
    out.push_str(&regex::escape(&printed[last..]));
    out.push('$');
    Regex::new(&out).unwrap()
}

fn is_placeholder(s: &str) -> bool {
    Regex::new(r"^(<[^<>]*>|\$\{[^}]*\}|\[redacted\])$")
        .unwrap()
        .is_match(s)
}

/// Whether the sent JSON is the printed JSON, placeholders aside.
fn same_json(printed: &Value, sent: &Value, secrets: &[String], at: &str) -> Result<(), String> {
    match (printed, sent) {
        (Value::String(p), _) if is_placeholder(p) => Ok(()),
        (Value::String(p), Value::String(s)) => {
            if pattern(p, secrets).is_match(s) {
                Ok(())
            } else {
                Err(format!("{at}: printed {p:?}, sent {s:?}"))
            }
        }
        (Value::Object(p), Value::Object(s)) => {
            let pk: Vec<&String> = p.keys().collect();
            let sk: Vec<&String> = s.keys().collect();
            if pk != sk {
                return Err(format!("{at}: printed keys {pk:?}, sent keys {sk:?}"));
            }
            for (k, v) in p {
                same_json(v, &s[k], secrets, &format!("{at}/{k}"))?;
            }
            Ok(())
        }
        (Value::Array(p), Value::Array(s)) if p.len() == s.len() => {
            for (i, (a, b)) in p.iter().zip(s).enumerate() {
                same_json(a, b, secrets, &format!("{at}/{i}"))?;
            }
            Ok(())
        }
        _ if printed == sent => Ok(()),
        _ => Err(format!("{at}: printed {printed}, sent {sent}")),
    }
}

/// Whether `sent` (received by the stand-in at `origin`) is the printed
/// request.
fn same_request(
    printed: &Value,
    sent: &Request,
    origin: &str,
    secrets: &[String],
) -> Result<(), String> {
    let method = printed["method"].as_str().unwrap_or_default();
    if method != sent.method.as_str() {
        return Err(format!("method: printed {method}, sent {}", sent.method));
    }
    let url = printed["url"].as_str().unwrap_or_default();
    let sent_url = format!(
        "{origin}{}{}",
        sent.url.path(),
        sent.url
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    if !pattern(url, secrets).is_match(&sent_url) {
        return Err(format!("url: printed {url}, sent {sent_url}"));
    }
    for (name, value) in printed["headers"].as_object().into_iter().flatten() {
        let value = value.as_str().unwrap_or_default();
        let got = sent
            .headers
            .get(name.as_str())
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| format!("header {name}: printed, not sent"))?;
        if !pattern(value, secrets).is_match(got) {
            return Err(format!("header {name}: printed {value:?}, sent {got:?}"));
        }
    }
    let content_type = sent
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let body = &printed["body"];
    if content_type.starts_with("application/json") {
        let sent: Value = serde_json::from_slice(&sent.body).map_err(|e| e.to_string())?;
        same_json(body, &sent, secrets, "body")
    } else if content_type.starts_with("multipart/form-data") {
        // Each printed field is a part, a text part with the printed value.
        let text = String::from_utf8_lossy(&sent.body);
        for (field, value) in body.as_object().into_iter().flatten() {
            let value = value.as_str().unwrap_or_default();
            if !text.contains(&format!("name=\"{field}\"")) {
                return Err(format!("multipart field {field}: printed, not sent"));
            }
            if !is_placeholder(value) && !text.contains(value) {
                return Err(format!("multipart field {field}: {value:?} not sent"));
            }
        }
        Ok(())
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let sent: serde_json::Map<String, Value> = url::form_urlencoded::parse(&sent.body)
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        same_json(body, &Value::Object(sent), secrets, "body")
    } else if content_type.starts_with("text/plain") {
        let sent = Value::String(String::from_utf8_lossy(&sent.body).into_owned());
        same_json(body, &sent, secrets, "body")
    } else if content_type.starts_with("image/") {
        match body.as_str() {
            Some(p) if is_placeholder(p) && sent.body.starts_with(&[0xFF, 0xD8]) => Ok(()),
            _ => Err(format!("an image body: printed {body}")),
        }
    } else if body.is_null() && sent.body.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "body: printed {body}, sent {} bytes of {content_type:?}",
            sent.body.len()
        ))
    }
}

/// The string values of the example keys: what `[redacted]` stands for.
fn values(keys: &Value) -> Vec<String> {
    match keys {
        Value::String(s) => vec![s.clone()],
        Value::Object(m) => m.values().flat_map(values).collect(),
        Value::Array(a) => a.iter().flat_map(values).collect(),
        _ => Vec::new(),
    }
}

/// The steps a dry run printed: what it would ask first, then each post's.
fn printed_steps(plan: &Value) -> Vec<(String, Value)> {
    let mut printed: Vec<(String, Value)> = plan["learning"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| ("learn".to_string(), l["request"].clone()))
        .collect();
    for post in plan["posts"].as_array().into_iter().flatten() {
        for step in post["steps"].as_array().into_iter().flatten() {
            printed.push((
                step["step"].as_str().unwrap().to_string(),
                step["request"].clone(),
            ));
        }
    }
    printed
}

/// Holds what a real run sent (HTTP requests to `server`, messages to the
/// relay) equal, step by step, to what the dry run printed.
fn assert_sent_as_printed(
    kind: &str,
    printed: Vec<(String, Value)>,
    sent: &[Request],
    received: &[crate::relay::Received],
    server: &str,
    secrets: &[String],
) {
    // Messages on WebSockets went to the relay: each printed one was
    // received there, signed, as printed but for what sealing adds.
    let (sockets, printed): (Vec<_>, Vec<_>) = printed
        .into_iter()
        .partition(|(_, r)| r["method"] == "WEBSOCKET");
    assert_eq!(received.len(), sockets.len(), "{kind}: relay messages");
    for (_, request) in &sockets {
        let url = request["url"].as_str().unwrap();
        let path = url::Url::parse(url).unwrap().path().to_string();
        let got = received
            .iter()
            .find(|r| r.path == path)
            .unwrap_or_else(|| panic!("{kind}: nothing received at {url}"));
        assert!(got.valid, "{kind}: the relay found the event invalid");
        same_json(&request["body"][1], &got.event, secrets, "event")
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
    }
    // Each printed step was sent, in order; a poll is sent only while the
    // platform is still processing (the stand-in never is), a session step
    // only when no session is kept from an earlier run.
    let mut sent_iter = sent.iter().peekable();
    for (step, request) in &printed {
        match sent_iter.peek() {
            Some(s) if same_request(request, s, server, secrets).is_ok() => {
                sent_iter.next();
            }
            Some(_) if step == "poll" || step == "session" => {}
            Some(s) => panic!(
                "{kind}: the {step} step differs: {}",
                same_request(request, s, server, secrets).unwrap_err()
            ),
            None if step == "poll" || step == "session" => {}
            None => panic!("{kind}: the {step} step was printed but not sent"),
        }
    }
    let rest: Vec<String> = sent_iter
        .map(|r| format!("{} {}", r.method, r.url))
        .collect();
    assert!(rest.is_empty(), "{kind}: sent but not printed: {rest:?}");
    assert!(
        !sent.is_empty() || !received.is_empty(),
        "{kind}: nothing sent"
    );
}

fn dry_plan(site: &crate::support::Site, now: &str) -> Value {
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--format", "json", "--now", now])
        .assert()
        .success();
    serde_json::from_str(&output(&dry).0).unwrap()
}

async fn sent_to(server: &MockServer, after: usize) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() != "/img/hero.jpg")
        .skip(after)
        .collect()
}

#[tokio::test]
async fn every_platform_sends_step_by_step_what_its_dry_run_printed() {
    for entry in herald::social::PLATFORMS {
        let server = stand_in().await;
        let relay = crate::relay::start(vec![crate::relay::Behaviour::Accept]).await;
        let (target, keys) = example_target(entry, &server.uri(), &relay.url);
        // A JSON object is a YAML flow mapping.
        let site = seed_site(&server.uri(), &format!("    - {target}\n"));

        let plan = dry_plan(&site, NOW);
        let posts = plan["posts"].as_array().unwrap();
        assert_eq!(posts.len(), 1, "{}: one post planned", entry.kind);
        let printed = printed_steps(&plan);
        site.herald()
            .args(["publish", "--now", NOW])
            .assert()
            .success();
        assert_sent_as_printed(
            entry.kind,
            printed,
            &sent_to(&server, 0).await,
            &relay.events(),
            &server.uri(),
            &values(&keys),
        );
    }
}

/// With `on_unpublish: delete`, an article that disappears has its post
/// deleted where the platform can: the dry run prints the deletion's steps,
/// and a real run sends exactly those and records the post `deleted`.
#[tokio::test]
async fn every_platform_that_can_delete_deletes_as_its_dry_run_printed() {
    let mut deleting = Vec::new();
    for entry in herald::social::PLATFORMS {
        let server = stand_in().await;
        let relay = crate::relay::start(vec![crate::relay::Behaviour::Accept]).await;
        let (target, keys) = example_target(entry, &server.uri(), &relay.url);
        let site = crate::posting::seed_site_with(
            &server.uri(),
            "  on_unpublish: delete\n",
            &format!("    - {target}\n"),
        );
        // An older article that stays (too old to be posted): the content
        // folder is not empty once the seed is gone.
        site.simple("older", "2024-01-10");
        site.herald()
            .args(["publish", "--now", NOW])
            .assert()
            .success();
        let before = sent_to(&server, 0).await.len();
        let relayed = relay.events().len();
        std::fs::remove_file(site.root().join("content/deepseek-paradigm-shift.md")).unwrap();

        let plan = dry_plan(&site, NOW);
        let posts = plan["posts"].as_array().unwrap();
        if posts.is_empty() {
            let notes = plan["post_notes"].to_string();
            assert!(
                notes.contains("cannot delete posts"),
                "{}: {notes}",
                entry.kind
            );
            continue;
        }
        deleting.push(entry.kind);
        assert_eq!(posts[0]["action"]["kind"], "delete", "{}", entry.kind);
        let printed = printed_steps(&plan);
        site.herald()
            .args(["publish", "--now", NOW])
            .assert()
            .success();
        assert_sent_as_printed(
            entry.kind,
            printed,
            &sent_to(&server, before).await,
            &relay.events()[relayed..],
            &server.uri(),
            &values(&keys),
        );
        let records = crate::support::ledger_records(&site);
        assert_eq!(
            records[0]["status"], "deleted",
            "{}: {records:?}",
            entry.kind
        );
        // Nothing more on the next run.
        site.herald()
            .args(["publish", "--now", NOW])
            .assert()
            .success();
        assert_eq!(
            sent_to(&server, 0).await.len(),
            before + sent_to(&server, before).await.len(),
        );
    }
    assert_eq!(
        deleting,
        [
            "discord", "telegram", "mastodon", "bluesky", "linkedin", "threads", "x", "matrix",
            "misskey", "micropub", "devto", "nostr", "zulip"
        ]
    );
}

#[tokio::test]
async fn ten_cron_runs_with_nothing_due_make_no_request_at_all() {
    let server = stand_in().await;
    let relay = crate::relay::start(vec![crate::relay::Behaviour::Accept]).await;
    let mut targets = String::new();
    for entry in herald::social::PLATFORMS {
        let (target, _) = example_target(entry, &server.uri(), &relay.url);
        targets.push_str(&format!("    - {target}\n"));
    }
    let site = seed_site(&server.uri(), &targets);
    let first = site
        .herald()
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    assert!(
        output(&first)
            .0
            .contains(&format!("posted {}", herald::social::PLATFORMS.len())),
        "{}",
        output(&first).0
    );
    let after_first = server.received_requests().await.unwrap().len();
    for minutes in 1..=10 {
        let now = format!("2024-02-11T00:{:02}:00Z", minutes * 5);
        let ran = site
            .herald()
            .args(["publish", "--now", &now])
            .assert()
            .success();
        assert_eq!(output(&ran), (String::new(), String::new()), "a quiet run");
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        after_first,
        "no request of any kind: no session, no question, no image"
    );
}
