//! `on_unpublish: delete`: a posted article that becomes a draft or whose
//! file is gone has its posts deleted, with a safety stop when too much
//! vanishes at once; an article published again is posted anew.

use serde_json::json;
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Site, ledger_records, output, posting_site, publish_at};

const NOW: &str = "2024-02-11T00:00:00Z";

fn site(base: &str, social: &str) -> Site {
    posting_site(
        social,
        &format!("    - {{ name: masto, type: mastodon, instance: \"{base}\", token: t0ken }}\n"),
    )
}

async fn instance(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/api/v2/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"version": "4.3.0", "configuration": {"statuses": {"max_characters": 500}}}),
        ))
        .mount(server)
        .await;
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/api/v1/statuses"))
        .respond_with(move |_: &Request| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(
                json!({"id": format!("{i}"), "url": format!("https://m.example/@news/{i}")}),
            )
        })
        .mount(server)
        .await;
}

async fn deletes(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "DELETE")
        .map(|r| r.url.path().to_string())
        .collect()
}

async fn accept_deletes(server: &MockServer) {
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/api/v1/statuses/\d+$"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .mount(server)
        .await;
}

fn articles(site: &Site, n: usize) {
    for i in 1..=n {
        site.simple(&format!("a{i}"), "2024-02-10");
    }
    // Older, never posted: the folder is not empty when the others go.
    site.simple("old", "2024-01-01");
}

#[tokio::test]
async fn by_default_an_unpublished_article_s_posts_stay() {
    let server = MockServer::start().await;
    instance(&server).await;
    accept_deletes(&server).await;
    let site = site(&server.uri(), "  max_per_run: 20\n");
    articles(&site, 1);
    publish_at(&site, NOW).success();
    std::fs::remove_file(site.root().join("content/a1.md")).unwrap();
    publish_at(&site, NOW).success();
    assert!(deletes(&server).await.is_empty());
    assert_eq!(
        ledger_records(&site)
            .iter()
            .filter(|r| r["status"] == "posted")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_draft_again_is_deleted_and_published_again_is_posted_anew() {
    let server = MockServer::start().await;
    instance(&server).await;
    accept_deletes(&server).await;
    let site = site(&server.uri(), "  on_unpublish: delete\n  max_per_run: 20\n");
    articles(&site, 1);
    publish_at(&site, NOW).success();
    site.article(
        "a1.md",
        "---\ntitle: Article a1\npublish_date: 2024-02-10\ndescription: About a1.\ndraft: true\n---\n\nBody.\n",
    );
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .success();
    assert!(output(&dry).0.contains("delete"), "{}", output(&dry).0);
    let ran = publish_at(&site, NOW).success();
    assert!(
        output(&ran).0.contains("deleted 1 (masto 1)"),
        "{}",
        output(&ran).0
    );
    assert_eq!(deletes(&server).await, ["/api/v1/statuses/1"]);
    let record = &ledger_records(&site)[0];
    assert_eq!(record["status"], "deleted");

    // Published again: a new post, under a key of its own.
    site.simple("a1", "2024-02-10");
    publish_at(&site, NOW).success();
    let keys: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/api/v1/statuses" && r.method.as_str() == "POST")
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
    assert_ne!(keys[0], keys[1]);
    assert_eq!(ledger_records(&site)[0]["status"], "posted");
}

#[tokio::test]
async fn too_much_vanishing_at_once_deletes_nothing() {
    let server = MockServer::start().await;
    instance(&server).await;
    accept_deletes(&server).await;
    let site = site(&server.uri(), "  on_unpublish: delete\n  max_per_run: 20\n");
    articles(&site, 3);
    publish_at(&site, NOW).success();
    std::fs::remove_file(site.root().join("content/a1.md")).unwrap();
    std::fs::remove_file(site.root().join("content/a2.md")).unwrap();
    let ran = publish_at(&site, NOW).success();
    assert!(
        output(&ran)
            .1
            .contains("2 of 3 posted articles are no longer published at once"),
        "{}",
        output(&ran).1
    );
    assert!(deletes(&server).await.is_empty());

    // An empty content folder deletes nothing either.
    for name in ["a3.md", "old.md"] {
        std::fs::remove_file(site.root().join("content").join(name)).unwrap();
    }
    let ran = publish_at(&site, NOW).success();
    assert!(
        output(&ran).1.contains("no article was loaded"),
        "{}",
        output(&ran).1
    );
    assert!(deletes(&server).await.is_empty());
}

#[tokio::test]
async fn a_deletion_that_fails_stays_posted_and_is_tried_again() {
    let server = MockServer::start().await;
    instance(&server).await;
    Mock::given(method("DELETE"))
        .and(path_regex(r"^/api/v1/statuses/\d+$"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"error": "This action is not allowed"})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    accept_deletes(&server).await;
    let site = site(&server.uri(), "  on_unpublish: delete\n  max_per_run: 20\n");
    articles(&site, 1);
    publish_at(&site, NOW).success();
    std::fs::remove_file(site.root().join("content/a1.md")).unwrap();
    let ran = publish_at(&site, NOW).code(2);
    assert!(
        output(&ran).1.contains("This action is not allowed"),
        "{}",
        output(&ran).1
    );
    assert_eq!(ledger_records(&site)[0]["status"], "posted");
    publish_at(&site, NOW).success();
    assert_eq!(ledger_records(&site)[0]["status"], "deleted");
    assert_eq!(deletes(&server).await.len(), 2);
}

/// Bug class: a typo in an article's front matter made it look unpublished
/// and its posts were deleted. An unreadable file stops every deletion.
#[tokio::test]
async fn a_file_with_an_error_deletes_nothing() {
    let server = MockServer::start().await;
    instance(&server).await;
    accept_deletes(&server).await;
    let site = site(&server.uri(), "  on_unpublish: delete\n  max_per_run: 20\n");
    articles(&site, 1);
    publish_at(&site, NOW).success();
    site.article(
        "a1.md",
        "---\ntitle: [broken\npublish_date: 2024-02-10\n---\n\nBody.\n",
    );
    let ran = publish_at(&site, NOW).success();
    assert!(
        output(&ran)
            .1
            .contains("1 article file could not be read, so no post is deleted"),
        "{}",
        output(&ran).1
    );
    assert!(deletes(&server).await.is_empty());
    assert_eq!(ledger_records(&site)[0]["status"], "posted");
}
