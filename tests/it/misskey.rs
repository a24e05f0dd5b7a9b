//! Misskey against a local stand-in: the instance's own limit, the drive
//! upload with its alt text, the note's visibility and content warning.

use serde_json::{Value, json};
use wiremock::{MockServer, ResponseTemplate};

use crate::posting::{NOW, seed_site};
use crate::support::{answer, ledger_records, output, publish_at};

async fn instance(server: &MockServer, limit: u64) {
    answer(
        server,
        "POST",
        "/mk/api/meta",
        ResponseTemplate::new(200).set_body_json(json!({"maxNoteTextLength": limit, "name": "mk"})),
    )
    .await;
    answer(
        server,
        "POST",
        "/mk/api/drive/files/create",
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": "9x1", "url": "https://mk.example/files/9x1"})),
    )
    .await;
    answer(
        server,
        "POST",
        "/mk/api/notes/create",
        ResponseTemplate::new(200)
            .set_body_json(json!({"createdNote": {"id": "9y2", "text": "…"}})),
    )
    .await;
}

fn target(base: &str) -> String {
    format!(
        "    - {{ name: mk, type: misskey, instance: \"{base}/mk\", token: mk-token-value, visibility: home, cw: \"AI news\" }}\n"
    )
}

#[tokio::test]
async fn a_lower_instance_limit_fits_the_text_and_the_image_goes_to_the_drive() {
    let server = MockServer::start().await;
    crate::posting::mount_all(&server).await;
    instance(&server, 280).await;
    let site = seed_site(&server.uri(), &target(&server.uri()));
    publish_at(&site, NOW).success();
    let sent: Vec<_> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().starts_with("/mk/"))
        .collect();
    let paths: Vec<&str> = sent.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        [
            "/mk/api/meta",
            "/mk/api/drive/files/create",
            "/mk/api/notes/create"
        ]
    );
    for r in &sent[1..] {
        assert_eq!(
            r.headers.get("authorization").unwrap(),
            "Bearer mk-token-value"
        );
    }
    let upload = String::from_utf8_lossy(&sent[1].body);
    assert!(upload.contains("name=\"comment\""), "the alt text");
    let note: Value = serde_json::from_slice(&sent[2].body).unwrap();
    assert!(
        note["text"].as_str().unwrap().chars().count() <= 280,
        "{note}"
    );
    assert_eq!(note["visibility"], "home");
    assert_eq!(note["cw"], "AI news");
    assert_eq!(note["fileIds"], json!(["9x1"]));
    let record = &ledger_records(&site)[0];
    assert_eq!(
        record["remote_url"],
        format!("{}/mk/notes/9y2", server.uri())
    );
}

#[tokio::test]
async fn a_refused_token_is_named_with_misskey_s_code() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/mk/api/meta",
        ResponseTemplate::new(200).set_body_json(json!({"maxNoteTextLength": 3000})),
    )
    .await;
    answer(
        &server,
        "POST",
        "/mk/api/notes/create",
        ResponseTemplate::new(401).set_body_json(json!({"error": {
            "message": "Authentication failed. Please ensure your token is correct.",
            "code": "AUTHENTICATION_FAILED",
            "id": "b0a7f5f8-dc2f-4171-b91f-de88ad238e14"
        }})),
    )
    .await;
    let site = crate::support::posting_site("", &target(&server.uri()));
    site.simple("one", "2024-02-10");
    let ran = publish_at(&site, NOW).code(2);
    assert!(
        output(&ran)
            .1
            .contains("AUTHENTICATION_FAILED: Authentication failed"),
        "{}",
        output(&ran).1
    );
}

#[test]
fn an_unknown_visibility_is_a_config_error() {
    let site = crate::support::posting_site(
        "",
        "    - { name: mk, type: misskey, instance: https://mk.example, token: t, visibility: everyone }\n",
    );
    let ran = site.herald().arg("check").assert().code(1);
    assert!(
        output(&ran)
            .0
            .contains("expected public, home or followers"),
        "{}",
        output(&ran).0
    );
}
