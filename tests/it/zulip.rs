//! Zulip against a local stand-in: the stream message, Basic credentials,
//! escaped Markdown, the topic, edits, a 429 and a refused key.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::posting::NOW;
use crate::support::{Site, ledger_records, output, posting_site};

fn site(base: &str, social: &str, extra: &str) -> Site {
    posting_site(
        social,
        &format!(
            "    - {{ name: zl, type: zulip, site: \"{base}\", email: herald-bot@zulip.example, api_key: \"${{ZULIP_KEY}}\", stream: announcements{extra} }}\n"
        ),
    )
}

async fn accepts(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/api/v1/messages"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"result": "success", "msg": "", "id": 42})),
        )
        .mount(server)
        .await;
}

fn form(r: &Request) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(&r.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn publish(site: &Site, now: &str) -> assert_cmd::assert::Assert {
    site.herald()
        .env("ZULIP_KEY", "zulip-api-key-value")
        .args(["publish", "--now", now])
        .assert()
}

#[tokio::test]
async fn a_stream_message_in_a_topic_with_escaped_markdown() {
    let server = MockServer::start().await;
    accepts(&server).await;
    let site = site(&server.uri(), "", "");
    site.article(
        "a.md",
        "---\ntitle: \"Rust_lang *tips*: a very long title that goes on past Zulip's sixty characters\"\npublish_date: 2024-02-10\ndescription: \"Ping @all with $$x$$.\"\n---\n\nBody.\n",
    );
    publish(&site, NOW).success();
    let sent = &server.received_requests().await.unwrap()[0];
    use base64::Engine as _;
    assert_eq!(
        sent.headers.get("authorization").unwrap().to_str().unwrap(),
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode("herald-bot@zulip.example:zulip-api-key-value")
        )
    );
    let f = form(sent);
    assert_eq!(f["type"], "stream");
    assert_eq!(f["to"], "announcements");
    assert!(f["topic"].chars().count() <= 60, "{}", f["topic"]);
    assert!(f["topic"].starts_with("Rust_lang *tips*"), "{}", f["topic"]);
    assert!(
        f["content"].starts_with("Rust\\_lang \\*tips\\*\\: a very long"),
        "{}",
        f["content"]
    );
    assert!(
        f["content"].contains("Ping \\@all with \\$\\$x\\$\\$."),
        "{}",
        f["content"]
    );
    assert!(
        f["content"].contains("https://news.example/articles/a/"),
        "{}",
        f["content"]
    );
    let record = &ledger_records(&site)[0];
    assert_eq!(record["remote_id"], "42");
    assert_eq!(
        record["remote_url"],
        format!("{}/#narrow/near/42", server.uri())
    );
}

#[tokio::test]
async fn a_configured_topic_and_an_edit_in_place() {
    let server = MockServer::start().await;
    accepts(&server).await;
    Mock::given(method("PATCH"))
        .and(path("/api/v1/messages/42"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"result": "success", "msg": ""})),
        )
        .mount(&server)
        .await;
    let site = site(&server.uri(), "  on_edit: update\n", ", topic: Newsroom");
    site.simple("one", "2024-02-10");
    publish(&site, NOW).success();
    assert_eq!(
        form(&server.received_requests().await.unwrap()[0])["topic"],
        "Newsroom"
    );
    site.article(
        "one.md",
        "---\ntitle: Article one, corrected\npublish_date: 2024-02-10\ndescription: About one.\n---\n\nBody.\n",
    );
    publish(&site, "2024-02-11T01:00:00Z").success();
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].method.as_str(), "PATCH");
    assert!(form(&sent[1])["content"].starts_with("Article one, corrected"));
}

#[tokio::test]
async fn a_429_waits_what_the_body_says_and_a_refused_key_fails_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/messages"))
        .respond_with(ResponseTemplate::new(429).set_body_json(
            json!({"result": "error", "msg": "API usage exceeded rate limit", "code": "RATE_LIMIT_HIT", "retry-after": 0.02}),
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    accepts(&server).await;
    let site = site(&server.uri(), "", "");
    site.simple("one", "2024-02-10");
    publish(&site, NOW).success();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);

    let refused = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/messages"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"result": "error", "msg": "Invalid API key", "code": "INVALID_API_KEY"}),
        ))
        .mount(&refused)
        .await;
    let site = self::site(&refused.uri(), "", "");
    site.simple("one", "2024-02-10");
    let ran = publish(&site, NOW).code(2);
    assert!(
        output(&ran).1.contains("Invalid API key"),
        "{}",
        output(&ran).1
    );
    assert_eq!(refused.received_requests().await.unwrap().len(), 1);
}
