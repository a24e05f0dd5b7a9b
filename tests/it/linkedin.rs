//! LinkedIn against a local stand-in: the thumbnail through the Images
//! API, the card herald supplies, "little" escaping, the URN from
//! `x-restli-id`, a duplicate refusal, edits, and tokens that end.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::posting::{NOW, seed_site};
use crate::support::{answer, ledger_records, output, posting_site, publish_at};

fn target(base: &str) -> String {
    format!(
        "    - {{ name: li, type: linkedin, author: \"urn:li:organization:5515715\", token: li-token-value, version: \"202601\", api_url: \"{base}/li\" }}\n"
    )
}

async fn images(server: &MockServer) {
    answer(
        server,
        "POST",
        "/li/rest/images",
        ResponseTemplate::new(200).set_body_json(json!({"value": {
            "uploadUrlExpiresAt": 1_650_567_510_704_i64,
            "uploadUrl": format!("{}/dms-uploads/C4E10AQ", server.uri()),
            "image": "urn:li:image:C4E10AQFoyyAjHPMQuQ"
        }})),
    )
    .await;
    answer(
        server,
        "PUT",
        "/dms-uploads/C4E10AQ",
        ResponseTemplate::new(201),
    )
    .await;
}

async fn posts(server: &MockServer) {
    answer(
        server,
        "POST",
        "/li/rest/posts",
        ResponseTemplate::new(201).insert_header("x-restli-id", "urn:li:share:6844785523593134080"),
    )
    .await;
}

async fn to(server: &MockServer, p: &str) -> Vec<Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == p)
        .collect()
}

#[tokio::test]
async fn the_thumbnail_is_uploaded_and_the_card_is_herald_s_own() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    images(&server).await;
    posts(&server).await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    publish_at(&site, NOW).success();

    let init = &to(&server, "/li/rest/images").await[0];
    assert_eq!(init.url.query(), Some("action=initializeUpload"));
    let body: Value = serde_json::from_slice(&init.body).unwrap();
    assert_eq!(
        body,
        json!({"initializeUploadRequest": {"owner": "urn:li:organization:5515715"}})
    );
    let put = &to(&server, "/dms-uploads/C4E10AQ").await[0];
    assert_eq!(put.method.as_str(), "PUT");
    assert!(put.body.starts_with(&[0xFF, 0xD8]), "the image's bytes");
    assert_eq!(
        put.headers.get("authorization").unwrap(),
        "Bearer li-token-value"
    );

    let post = &to(&server, "/li/rest/posts").await[0];
    for (name, value) in [
        ("linkedin-version", "202601"),
        ("x-restli-protocol-version", "2.0.0"),
        ("authorization", "Bearer li-token-value"),
    ] {
        assert_eq!(post.headers.get(name).unwrap(), value, "{name}");
    }
    let body: Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(body["author"], "urn:li:organization:5515715");
    let article = &body["content"]["article"];
    assert_eq!(
        article["source"],
        "https://news.example/articles/deepseek-paradigm-shift/"
    );
    assert_eq!(article["thumbnail"], "urn:li:image:C4E10AQFoyyAjHPMQuQ");
    assert!(
        article["title"]
            .as_str()
            .unwrap()
            .starts_with("The DeepSeek")
    );
    assert!(!article["description"].as_str().unwrap().is_empty());
    let record = &ledger_records(&site)[0];
    assert_eq!(record["remote_id"], "urn:li:share:6844785523593134080");
    assert_eq!(
        record["remote_url"],
        "https://www.linkedin.com/feed/update/urn:li:share:6844785523593134080/"
    );
}

/// Bug class: an unescaped `(` or `#` silently cut the post at that point.
#[tokio::test]
async fn reserved_characters_are_escaped_so_nothing_is_cut() {
    let server = MockServer::start().await;
    posts(&server).await;
    let site = posting_site("", &target(&server.uri()));
    site.article(
        "a.md",
        "---\ntitle: \"Async tips (part 1): #rust_lang @ scale\"\npublish_date: 2024-02-10\ndescription: \"Pinning [explained] *simply*.\"\n---\n\nBody.\n",
    );
    publish_at(&site, NOW).success();
    let body: Value = serde_json::from_slice(&to(&server, "/li/rest/posts").await[0].body).unwrap();
    let commentary = body["commentary"].as_str().unwrap();
    assert!(
        commentary.starts_with("Async tips \\(part 1\\): \\#rust\\_lang \\@ scale"),
        "{commentary}"
    );
    assert!(
        commentary.contains("Pinning \\[explained\\] \\*simply\\*."),
        "{commentary}"
    );
    // No article image: no thumbnail field, no upload.
    assert!(body["content"]["article"].get("thumbnail").is_none());
    assert!(to(&server, "/li/rest/images").await.is_empty());
}

#[tokio::test]
async fn a_duplicate_refusal_records_the_first_post() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/li/rest/posts",
        ResponseTemplate::new(422).set_body_json(json!({
            "message": "ERROR :: /commentary :: Content is a duplicate of urn:li:share:7141234567890123456",
            "errorDetails": {"inputErrors": [{"code": "DUPLICATE_POST"}]},
            "status": 422
        })),
    )
    .await;
    let site = posting_site("", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    publish_at(&site, NOW).success();
    publish_at(&site, NOW).success();
    assert_eq!(to(&server, "/li/rest/posts").await.len(), 1);
    let record = &ledger_records(&site)[0];
    assert_eq!(record["status"], "posted");
    assert_eq!(record["remote_id"], "urn:li:share:7141234567890123456");
}

#[tokio::test]
async fn an_image_linkedin_refuses_leaves_the_card_without_a_thumbnail() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    answer(
        &server,
        "POST",
        "/li/rest/images",
        ResponseTemplate::new(403)
            .set_body_json(json!({"status": 403, "message": "Not enough permissions to upload"})),
    )
    .await;
    posts(&server).await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    let ran = publish_at(&site, NOW).success();
    assert!(
        output(&ran).1.contains("Not enough permissions to upload"),
        "{}",
        output(&ran).1
    );
    let body: Value = serde_json::from_slice(&to(&server, "/li/rest/posts").await[0].body).unwrap();
    assert!(
        body["content"]["article"].get("thumbnail").is_none(),
        "{body}"
    );
}

#[tokio::test]
async fn an_edit_patches_the_commentary_of_the_same_post() {
    let server = MockServer::start().await;
    posts(&server).await;
    Mock::given(method("POST"))
        .and(path(
            "/li/rest/posts/urn%3Ali%3Ashare%3A6844785523593134080",
        ))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let site = posting_site("  on_edit: update\n", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    publish_at(&site, NOW).success();
    site.article(
        "one.md",
        "---\ntitle: Article one, corrected\npublish_date: 2024-02-10\ndescription: About one.\n---\n\nBody.\n",
    );
    publish_at(&site, "2024-02-11T01:00:00Z").success();
    let edits = to(
        &server,
        "/li/rest/posts/urn%3Ali%3Ashare%3A6844785523593134080",
    )
    .await;
    assert_eq!(edits.len(), 1);
    assert_eq!(
        edits[0].headers.get("x-restli-method").unwrap(),
        "PARTIAL_UPDATE"
    );
    let body: Value = serde_json::from_slice(&edits[0].body).unwrap();
    assert!(
        body["patch"]["$set"]["commentary"]
            .as_str()
            .unwrap()
            .starts_with("Article one, corrected"),
        "{body}"
    );
    assert_eq!(to(&server, "/li/rest/posts").await.len(), 1);
}

/// A token from the config that LinkedIn refuses is not retried in a loop.
#[tokio::test]
async fn a_refused_token_fails_once_and_names_the_fix() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/li/rest/posts",
        ResponseTemplate::new(401).set_body_json(
            json!({"status": 401, "serviceErrorCode": 65601, "code": "REVOKED_ACCESS_TOKEN", "message": "The token used in the request has been revoked by the user"}),
        ),
    )
    .await;
    let site = posting_site("", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    let ran = publish_at(&site, NOW).code(2);
    let err = output(&ran).1;
    assert!(err.contains("has been revoked"), "{err}");
    assert!(err.contains("replace it in the config"), "{err}");
    assert_eq!(to(&server, "/li/rest/posts").await.len(), 1);
}
