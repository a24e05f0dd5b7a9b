//! dev.to against a local stand-in: the whole article with absolute links,
//! the canonical URL, tags in dev.to's form, a refused tag, a resend found
//! by its canonical URL, and edits.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::posting::NOW;
use crate::support::{Site, ledger_records, output, posting_site, publish_at};

fn site(base: &str, social: &str) -> Site {
    let site = posting_site(
        social,
        &format!(
            "    - {{ name: dev, type: devto, api_key: devto-key-value, api_url: \"{base}\" }}\n"
        ),
    );
    site.article(
        "async.md",
        "---\ntitle: Async tips\npublish_date: 2024-02-10\ndescription: Pinning, explained.\ntags: [Rust-Lang, async, C++, web, more]\nheroImage: https://news.example/a.jpg\n---\n\nSee [the chart](../chart/) and ![a pin](img/pin.png).\n\nAbsolute [link](https://other.example/).\n",
    );
    site
}

async fn accepts(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/api/articles"))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"id": 1_734_001, "url": "https://dev.to/news/async-tips-3k1a", "canonical_url": "https://news.example/articles/async/"}),
        ))
        .mount(server)
        .await;
}

fn posts(all: &[Request]) -> Vec<Value> {
    all.iter()
        .filter(|r| r.url.path() == "/api/articles" && r.method.as_str() == "POST")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn the_whole_article_goes_with_absolute_links_and_its_canonical_url() {
    let server = MockServer::start().await;
    accepts(&server).await;
    let site = site(&server.uri(), "");
    publish_at(&site, NOW).success();
    let all = server.received_requests().await.unwrap();
    assert_eq!(all[0].headers.get("api-key").unwrap(), "devto-key-value");
    assert_eq!(
        all[0].headers.get("accept").unwrap(),
        "application/vnd.forem.api-v1+json"
    );
    let article = &posts(&all)[0]["article"];
    assert_eq!(article["title"], "Async tips");
    assert_eq!(
        article["canonical_url"],
        "https://news.example/articles/async/"
    );
    assert_eq!(article["main_image"], "https://news.example/a.jpg");
    assert_eq!(article["published"], true);
    assert_eq!(article["tags"], json!(["rustlang", "async", "c", "web"]));
    let body = article["body_markdown"].as_str().unwrap();
    assert!(
        body.contains("[the chart](https://news.example/articles/chart/)"),
        "{body}"
    );
    assert!(
        body.contains("![a pin](https://news.example/articles/async/img/pin.png)"),
        "{body}"
    );
    assert!(body.contains("[link](https://other.example/)"), "{body}");
    let record = &ledger_records(&site)[0];
    assert_eq!(record["remote_id"], "1734001");
    assert_eq!(record["remote_url"], "https://dev.to/news/async-tips-3k1a");
}

#[tokio::test]
async fn a_refused_tag_sends_the_article_without_tags_and_warns() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/articles"))
        .and(wiremock::matchers::body_string_contains("\"tags\""))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"error": "Validation failed: Tag \"web\" is not allowed", "status": 422}),
        ))
        .with_priority(1)
        .mount(&server)
        .await;
    accepts(&server).await;
    let site = site(&server.uri(), "");
    let ran = publish_at(&site, NOW).success();
    assert!(
        output(&ran).1.contains("went out without them"),
        "{}",
        output(&ran).1
    );
    let sent = posts(&server.received_requests().await.unwrap());
    assert_eq!(sent.len(), 2);
    assert!(sent[1]["article"].get("tags").is_none());
    assert_eq!(ledger_records(&site)[0]["status"], "posted");
}

/// A resend after a lost answer is refused for its canonical URL; the
/// article is then found among the account's own: posted once.
#[tokio::test]
async fn a_resend_refused_for_its_canonical_url_is_found_and_recorded() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/articles"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/articles"))
        .respond_with(
            ResponseTemplate::new(422).set_body_json(
                json!({"error": "Canonical url has already been taken", "status": 422}),
            ),
        )
        .mount(&server)
        .await;
    // Asked after the lost answer, the list does not show it yet.
    Mock::given(method("GET"))
        .and(path("/api/articles/me/all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/articles/me/all"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": 1, "url": "https://dev.to/news/older", "canonical_url": "https://news.example/articles/older/"},
            {"id": 1_734_001, "url": "https://dev.to/news/async-tips-3k1a", "canonical_url": "https://news.example/articles/async/"}
        ])))
        .mount(&server)
        .await;
    let site = site(&server.uri(), "");
    publish_at(&site, NOW).success();
    let record = &ledger_records(&site)[0];
    assert_eq!(record["status"], "posted");
    assert_eq!(record["remote_id"], "1734001");
    let all = server.received_requests().await.unwrap();
    assert_eq!(posts(&all).len(), 2);
    assert_eq!(
        all.iter()
            .filter(|r| r.url.path() == "/api/articles/me/all")
            .count(),
        2
    );
}

#[tokio::test]
async fn an_edit_puts_the_same_article() {
    let server = MockServer::start().await;
    accepts(&server).await;
    Mock::given(method("PUT"))
        .and(path("/api/articles/1734001"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"id": 1_734_001, "url": "https://dev.to/news/async-tips-3k1a"}),
            ),
        )
        .mount(&server)
        .await;
    let site = site(&server.uri(), "  on_edit: update\n");
    publish_at(&site, NOW).success();
    site.article(
        "async.md",
        "---\ntitle: Async tips, revised\npublish_date: 2024-02-10\ndescription: Pinning, explained.\n---\n\nNew body.\n",
    );
    publish_at(&site, "2024-02-11T01:00:00Z").success();
    let all = server.received_requests().await.unwrap();
    let put = all.iter().find(|r| r.method.as_str() == "PUT").unwrap();
    let article: Value = serde_json::from_slice(&put.body).unwrap();
    assert_eq!(article["article"]["title"], "Async tips, revised");
    assert_eq!(article["article"]["body_markdown"], "New body.\n");
}
