//! Matrix against a local stand-in: the image in the media repository and
//! as an `m.image` event, the text with HTML, transaction ids that make a
//! resend safe, rate limits, a room the token cannot post to, and edits.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::posting::{NOW, seed_site};
use crate::support::{ledger_records, output, posting_site, publish_at};

fn target(base: &str) -> String {
    format!(
        "    - {{ name: mx, type: matrix, homeserver: \"{base}\", room_id: \"!news:example.org\", access_token: syt_token_value }}\n"
    )
}

async fn homeserver(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/_matrix/media/v3/upload"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"content_uri": "mxc://example.org/AbC"})),
        )
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path_regex(
            r"^/_matrix/client/v3/rooms/.+/send/m\.room\.message/.+$",
        ))
        .respond_with(|r: &Request| {
            // The same transaction id gives the same event, as a homeserver does.
            let txn = r.url.path().rsplit('/').next().unwrap().to_string();
            ResponseTemplate::new(200).set_body_json(json!({"event_id": format!("$ev-{txn}")}))
        })
        .mount(server)
        .await;
}

fn sends(requests: &[Request]) -> Vec<&Request> {
    requests
        .iter()
        .filter(|r| r.url.path().contains("/send/m.room.message/"))
        .collect()
}

#[tokio::test]
async fn the_image_then_the_text_each_under_a_stable_transaction_id() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    homeserver(&server).await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    publish_at(&site, NOW).success();
    let all = server.received_requests().await.unwrap();
    let upload = all
        .iter()
        .find(|r| r.url.path() == "/_matrix/media/v3/upload")
        .unwrap();
    assert_eq!(upload.url.query(), Some("filename=hero.jpg"));
    assert_eq!(
        upload.headers.get("authorization").unwrap(),
        "Bearer syt_token_value"
    );
    let sent = sends(&all);
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0]
            .url
            .path()
            .starts_with("/_matrix/client/v3/rooms/%21news%3Aexample.org/send/")
    );
    assert!(sent[0].url.path().ends_with("-image"), "{}", sent[0].url);
    assert!(sent[1].url.path().ends_with("-text"), "{}", sent[1].url);
    let image: Value = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(image["msgtype"], "m.image");
    assert_eq!(image["url"], "mxc://example.org/AbC");
    let text: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(text["msgtype"], "m.text");
    assert_eq!(text["format"], "org.matrix.custom.html");
    assert!(
        text["formatted_body"]
            .as_str()
            .unwrap()
            .contains("<a href=\"https://news.example/articles/deepseek-paradigm-shift/\">")
    );
    let record = &ledger_records(&site)[0];
    let event = record["remote_id"].as_str().unwrap();
    assert!(
        event.starts_with("$ev-") && event.ends_with("-text"),
        "{event}"
    );
    assert!(
        record["remote_url"]
            .as_str()
            .unwrap()
            .starts_with("https://matrix.to/#/%21news%3Aexample.org/%24ev-")
    );
}

/// A lost answer is resent under the same transaction id, which the
/// homeserver recognises: one event, not two.
#[tokio::test]
async fn a_lost_answer_is_resent_under_the_same_transaction_id() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex(r"/send/m\.room\.message/"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    homeserver(&server).await;
    let site = posting_site("", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    publish_at(&site, NOW).success();
    let all = server.received_requests().await.unwrap();
    let sent = sends(&all);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].url.path(), sent[1].url.path());
    assert_eq!(ledger_records(&site)[0]["status"], "posted");
}

#[tokio::test]
async fn m_limit_exceeded_waits_retry_after_ms() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex(r"/send/m\.room\.message/"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"errcode": "M_LIMIT_EXCEEDED", "error": "Too many requests", "retry_after_ms": 20}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    homeserver(&server).await;
    let site = posting_site("", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    publish_at(&site, NOW).success();
    assert_eq!(sends(&server.received_requests().await.unwrap()).len(), 2);
}

#[tokio::test]
async fn a_room_the_token_cannot_post_to_is_a_clear_permanent_error() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path_regex(r"/send/m\.room\.message/"))
        .respond_with(ResponseTemplate::new(403).set_body_json(
            json!({"errcode": "M_FORBIDDEN", "error": "User @herald:example.org not in room !news:example.org"}),
        ))
        .mount(&server)
        .await;
    let site = posting_site("", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    let ran = publish_at(&site, NOW).code(2);
    let err = output(&ran).1;
    assert!(
        err.contains("M_FORBIDDEN: User @herald:example.org not in room"),
        "{err}"
    );
    assert!(err.contains("must have joined the room"), "{err}");
    assert_eq!(sends(&server.received_requests().await.unwrap()).len(), 1);
}

#[tokio::test]
async fn an_edit_replaces_the_post_with_an_m_replace_event() {
    let server = MockServer::start().await;
    homeserver(&server).await;
    let site = posting_site("  on_edit: update\n", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    publish_at(&site, NOW).success();
    let first = ledger_records(&site)[0]["remote_id"]
        .as_str()
        .unwrap()
        .to_string();
    site.article(
        "one.md",
        "---\ntitle: Article one, corrected\npublish_date: 2024-02-10\ndescription: About one.\n---\n\nBody.\n",
    );
    publish_at(&site, "2024-02-11T01:00:00Z").success();
    let all = server.received_requests().await.unwrap();
    let sent = sends(&all);
    assert_eq!(sent.len(), 2);
    let edit: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(edit["m.relates_to"]["rel_type"], "m.replace");
    assert_eq!(edit["m.relates_to"]["event_id"], first);
    assert!(
        edit["m.new_content"]["body"]
            .as_str()
            .unwrap()
            .starts_with("Article one, corrected")
    );
    assert!(
        edit["body"]
            .as_str()
            .unwrap()
            .starts_with("* Article one, corrected")
    );
    assert_ne!(
        sent[0].url.path(),
        sent[1].url.path(),
        "an edit has its own transaction"
    );
}
