//! The `mastodon` type against the answers of Pleroma, Akkoma and
//! GoToSocial where they differ from Mastodon's: instance metadata (no v2
//! instance on older Pleroma, `max_toot_chars`), media processed at once or
//! later, and whether a resend is recognised.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::posting::{NOW, seed_site};
use crate::support::{Site, ledger_records, output, publish_at};

fn target(base: &str) -> String {
    format!(
        "    - {{ name: fedi, type: mastodon, instance: \"{base}/fedi\", token: fedi-token }}\n"
    )
}

/// An article whose summary is 1,200 characters: cut by Mastodon's 500,
/// whole under a 5,000 limit.
fn long_site(base: &str) -> Site {
    let site = seed_site(base, &target(base));
    let summary = "word ".repeat(240);
    site.article(
        "long.md",
        format!(
            "---\ntitle: Long one\npublish_date: 2024-02-10\ndescription: \"{}\"\n---\n\nBody.\n",
            summary.trim()
        ),
    );
    site
}

async fn statuses(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/fedi/api/v1/statuses"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"id": "AbC123", "url": "https://fedi.example/notice/AbC123"}),
            ),
        )
        .mount(server)
        .await;
}

async fn media_at_once(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/fedi/api/v2/media"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "m1", "type": "image", "url": "https://fedi.example/media/m1.jpg"}),
        ))
        .mount(server)
        .await;
}

fn status_texts(all: &[wiremock::Request]) -> Vec<String> {
    all.iter()
        .filter(|r| r.url.path() == "/fedi/api/v1/statuses")
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn an_older_pleroma_without_a_v2_instance_is_asked_at_v1() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    Mock::given(method("GET"))
        .and(path("/fedi/api/v2/instance"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "Not found"})))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fedi/api/v1/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "uri": "fedi.example", "version": "2.7.2 (compatible; Pleroma 2.5.0)", "max_toot_chars": 5000
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    media_at_once(&server).await;
    statuses(&server).await;
    let site = long_site(&server.uri());
    let ran = publish_at(&site, NOW).success();
    assert!(
        !output(&ran).1.contains("could not ask"),
        "{}",
        output(&ran).1
    );
    let all = server.received_requests().await.unwrap();
    // Media processed at once: no poll.
    assert!(
        !all.iter()
            .any(|r| r.url.path().starts_with("/fedi/api/v1/media/"))
    );
    let texts = status_texts(&all);
    let long = texts.iter().find(|t| t.starts_with("Long one")).unwrap();
    assert!(
        long.chars().count() > 1200,
        "not cut to 500: {}",
        long.len()
    );
    assert!(!long.contains('…'), "{long}");
}

#[tokio::test]
async fn akkoma_s_v2_instance_gives_its_limit_and_keeps_resends_safe() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    Mock::given(method("GET"))
        .and(path("/fedi/api/v2/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "domain": "fedi.example", "version": "2.7.2 (compatible; Akkoma 3.13.2)",
            "configuration": {"statuses": {"max_characters": 5000}}
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    media_at_once(&server).await;
    // The first answer is lost; Akkoma keeps the Idempotency-Key, so the
    // status is sent again under it.
    Mock::given(method("POST"))
        .and(path("/fedi/api/v1/statuses"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    statuses(&server).await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    publish_at(&site, NOW).success();
    let all = server.received_requests().await.unwrap();
    let keys: Vec<String> = all
        .iter()
        .filter(|r| r.url.path() == "/fedi/api/v1/statuses")
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0], keys[1]);
    assert_eq!(ledger_records(&site)[0]["status"], "posted");
}

#[tokio::test]
async fn gotosocial_processes_media_later_and_a_lost_answer_is_not_resent() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    Mock::given(method("GET"))
        .and(path("/fedi/api/v2/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "domain": "fedi.example", "version": "0.17.3+git-1a2b3c4",
            "source_url": "https://github.com/superseriousbusiness/gotosocial",
            "configuration": {"statuses": {"max_characters": 5000}}
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/fedi/api/v2/media"))
        .respond_with(ResponseTemplate::new(202).set_body_json(json!({"id": "m1", "url": null})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/fedi/api/v1/media/m1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "m1", "url": "https://fedi.example/media/m1.jpg"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/fedi/api/v1/statuses"))
        .respond_with(ResponseTemplate::new(502))
        .mount(&server)
        .await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    let ran = publish_at(&site, NOW).code(2);
    assert!(
        output(&ran).1.contains("would not recognise a resend"),
        "{}",
        output(&ran).1
    );
    let all = server.received_requests().await.unwrap();
    assert!(
        all.iter().any(|r| r.url.path() == "/fedi/api/v1/media/m1"),
        "polled"
    );
    assert_eq!(status_texts(&all).len(), 1, "not resent");
    assert_eq!(ledger_records(&site)[0]["status"], "uncertain");
}
