//! Micropub against a local stand-in: the media endpoint found with
//! `q=config`, the photo uploaded (or given by URL when there is no media
//! endpoint), the h-entry in JSON, the post's Location, and updates.

use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::posting::{NOW, seed_site};
use crate::support::{ledger_records, posting_site, publish_at};

fn target(base: &str) -> String {
    format!(
        "    - {{ name: mp, type: micropub, endpoint: \"{base}/micropub\", token: mp-token-value }}\n"
    )
}

async fn endpoint(server: &MockServer, media: bool) {
    let config = if media {
        json!({"media-endpoint": format!("{}/media", server.uri()), "syndicate-to": []})
    } else {
        json!({"syndicate-to": []})
    };
    Mock::given(method("GET"))
        .and(path("/micropub"))
        .and(query_param("q", "config"))
        .respond_with(ResponseTemplate::new(200).set_body_json(config))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/media"))
        .respond_with(ResponseTemplate::new(201).insert_header(
            "location",
            format!("{}/uploads/hero.jpg", server.uri()).as_str(),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/micropub"))
        .respond_with(ResponseTemplate::new(201).insert_header("location", "/2024/02/10/async"))
        .mount(server)
        .await;
}

fn to(all: &[Request], p: &str, m: &str) -> Vec<Request> {
    all.iter()
        .filter(|r| r.url.path() == p && r.method.as_str() == m)
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_photo_goes_to_the_media_endpoint_the_server_names() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    endpoint(&server, true).await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    publish_at(&site, NOW).success();
    let all = server.received_requests().await.unwrap();
    assert_eq!(to(&all, "/micropub", "GET").len(), 1, "q=config asked once");
    let upload = &to(&all, "/media", "POST")[0];
    assert_eq!(
        upload.headers.get("authorization").unwrap(),
        "Bearer mp-token-value"
    );
    let create = &to(&all, "/micropub", "POST")[0];
    let entry: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(entry["type"], json!(["h-entry"]));
    assert_eq!(
        entry["properties"]["photo"][0]["value"],
        format!("{}/uploads/hero.jpg", server.uri())
    );
    assert!(
        !entry["properties"]["photo"][0]["alt"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let content = entry["properties"]["content"][0].as_str().unwrap();
    assert!(content.chars().count() <= 280, "{content}");
    // A relative Location is resolved against the endpoint.
    assert_eq!(
        ledger_records(&site)[0]["remote_url"],
        format!("{}/2024/02/10/async", server.uri())
    );
    // The next run does not ask again (kept a day).
    site.simple("two", "2024-02-10");
    publish_at(&site, NOW).success();
    let all = server.received_requests().await.unwrap();
    assert_eq!(to(&all, "/micropub", "GET").len(), 1);
}

#[tokio::test]
async fn without_a_media_endpoint_the_photo_is_given_by_its_url() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    endpoint(&server, false).await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    publish_at(&site, NOW).success();
    let all = server.received_requests().await.unwrap();
    assert!(to(&all, "/media", "POST").is_empty());
    let entry: Value = serde_json::from_slice(&to(&all, "/micropub", "POST")[0].body).unwrap();
    assert_eq!(
        entry["properties"]["photo"][0]["value"],
        format!("{}/img/hero.jpg", server.uri())
    );
}

#[tokio::test]
async fn an_edit_is_an_update_action_on_the_post_s_url() {
    let server = MockServer::start().await;
    endpoint(&server, false).await;
    let site = posting_site("  on_edit: update\n", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    publish_at(&site, NOW).success();
    site.article(
        "one.md",
        "---\ntitle: Article one, corrected\npublish_date: 2024-02-10\ndescription: About one.\n---\n\nBody.\n",
    );
    publish_at(&site, "2024-02-11T01:00:00Z").success();
    let all = server.received_requests().await.unwrap();
    let posts = to(&all, "/micropub", "POST");
    assert_eq!(posts.len(), 2);
    let update: Value = serde_json::from_slice(&posts[1].body).unwrap();
    assert_eq!(update["action"], "update");
    assert_eq!(update["url"], format!("{}/2024/02/10/async", server.uri()));
    assert!(
        update["replace"]["content"][0]
            .as_str()
            .unwrap()
            .starts_with("Article one, corrected")
    );
}
