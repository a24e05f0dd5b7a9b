//! ntfy against a local stand-in: the message and its headers, encoded
//! titles, the 4,096-byte limit, and a 429.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::posting::{NOW, seed_site};
use crate::support::{ledger_records, posting_site, publish_at};

fn target(base: &str) -> String {
    format!(
        "    - {{ name: push, type: ntfy, url: \"{base}/newsroom-8f3a\", token: \"${{NTFY_TOKEN}}\" }}\n"
    )
}

async fn accepts(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/newsroom-8f3a"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "sPs71M8A2T", "time": 1_700_000_000, "event": "message", "topic": "newsroom-8f3a"}),
        ))
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_push_carries_title_link_image_and_token_as_headers() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    accepts(&server).await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    site.herald()
        .env("NTFY_TOKEN", "tk_secretvalue")
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    let sent = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.url.path() == "/newsroom-8f3a")
        .unwrap();
    let header = |name: &str| {
        sent.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    assert!(header("title").starts_with("The DeepSeek Paradigm Shift"));
    assert_eq!(
        header("click"),
        "https://news.example/articles/deepseek-paradigm-shift/"
    );
    assert_eq!(header("attach"), format!("{}/img/hero.jpg", server.uri()));
    assert_eq!(header("markdown"), "yes");
    assert!(
        header("actions").starts_with("view, "),
        "{}",
        header("actions")
    );
    assert_eq!(header("authorization"), "Bearer tk_secretvalue");
    let body = String::from_utf8(sent.body.clone()).unwrap();
    assert!(body.starts_with("Explore how DeepSeek"), "{body}");
    assert_eq!(ledger_records(&site)[0]["remote_id"], "sPs71M8A2T");
}

#[tokio::test]
async fn a_non_ascii_title_is_an_encoded_word_and_the_message_fits_4096_bytes() {
    let server = MockServer::start().await;
    accepts(&server).await;
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: push, type: ntfy, url: \"{}/newsroom-8f3a\" }}\n",
            server.uri()
        ),
    );
    let long = "Ünïcödé wörds ".repeat(400);
    site.article(
        "a.md",
        format!(
            "---\ntitle: Café crème\npublish_date: 2024-02-10\ndescription: {long}\n---\n\nBody.\n"
        ),
    );
    publish_at(&site, NOW).success();
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(
        sent.headers.get("title").unwrap().to_str().unwrap(),
        "=?UTF-8?B?Q2Fmw6kgY3LDqG1l?="
    );
    assert!(sent.body.len() <= 4096, "{} bytes", sent.body.len());
    assert!(sent.headers.get("authorization").is_none());
}

/// ntfy's 429 says nothing of how long: herald waits its own second (on
/// tokio's paused clock here) and sends again.
#[tokio::test(start_paused = true)]
async fn a_429_is_retried() {
    use crate::support::{Answer, Scripted, publish_in_process};
    let site = posting_site(
        "",
        "    - { name: push, type: ntfy, url: \"http://ntfy.test/newsroom-8f3a\" }\n",
    );
    site.simple("one", "2024-02-10");
    let transport = Scripted::new();
    transport.on(
        "/newsroom-8f3a",
        vec![
            Answer::json(
                429,
                json!({"code": 42901, "http": 429, "error": "limit reached: too many requests"}),
            ),
            Answer::json(200, json!({"id": "sPs71M8A2T"})),
        ],
    );
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "posted");
    let sent = transport.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].at - sent[0].at, std::time::Duration::from_secs(1));
}
