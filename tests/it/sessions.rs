//! Bluesky sessions: kept in the ledger between runs, refreshed when their
//! access token ends, renewed once when the PDS says a token ended, and at
//! most one login per run, whose refusal stops the target for the run.

use base64::Engine as _;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::posting::NOW;
use crate::support::{Site, answer, output, posting_site, publish_at, requests_to};

/// A JWT (unsigned: herald only reads its `exp`) ending `secs` from now.
pub fn jwt(name: &str, secs: i64) -> String {
    let exp = chrono::Utc::now().timestamp() + secs;
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("{{\"exp\":{exp},\"sub\":\"{name}\"}}"));
    format!("eyJhbGciOiJIUzI1NiJ9.{claims}.sig-{name}")
}

fn site(base: &str) -> Site {
    posting_site(
        "",
        &format!(
            "    - {{ name: bsky, type: bluesky, service: \"{base}/bsky\", identifier: news.example, app_password: app-pass }}\n"
        ),
    )
}

async fn records_posted(server: &MockServer) {
    answer(
        server,
        "POST",
        "/bsky/xrpc/com.atproto.repo.createRecord",
        ResponseTemplate::new(200)
            .set_body_json(json!({"uri": "at://did:plc:news/app.bsky.feed.post/1", "cid": "c"})),
    )
    .await;
}

async fn logins(server: &MockServer, access_secs: i64) {
    answer(
        server,
        "POST",
        "/bsky/xrpc/com.atproto.server.createSession",
        ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": jwt("login", access_secs),
            "refreshJwt": jwt("refresh", 90 * 86_400),
            "did": "did:plc:news",
        })),
    )
    .await;
}

/// Bug: every run that posted made a new `createSession`; Bluesky allows 30
/// per 5 minutes and 300 a day, which a cron job every few minutes uses up.
#[tokio::test]
async fn ten_runs_that_each_post_one_article_log_in_once() {
    let server = MockServer::start().await;
    logins(&server, 7200).await;
    records_posted(&server).await;
    let site = site(&server.uri());
    for day in 1..=10 {
        site.simple(&format!("a{day}"), &format!("2024-02-{day:02}"));
        let now = format!("2024-02-{day:02}T12:00:00Z");
        let ran = publish_at(&site, &now).success();
        assert!(
            output(&ran).0.contains("posted 1 (bsky 1)"),
            "{}",
            output(&ran).0
        );
    }
    assert_eq!(requests_to(&server, "createRecord").await, 10);
    assert_eq!(
        requests_to(&server, "createSession").await,
        1,
        "one login in all"
    );
    let status = site
        .herald()
        .args(["status", "--format", "json"])
        .assert()
        .success();
    assert!(
        !output(&status).0.contains("sig-login"),
        "tokens never print"
    );
}

#[tokio::test]
async fn a_kept_session_whose_token_ended_is_refreshed_not_logged_in_again() {
    let server = MockServer::start().await;
    // The access token the login gives ends at once.
    logins(&server, -60).await;
    answer(
        &server,
        "POST",
        "/bsky/xrpc/com.atproto.server.refreshSession",
        ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": jwt("refreshed", 7200),
            "refreshJwt": jwt("refresh2", 90 * 86_400),
            "did": "did:plc:news",
        })),
    )
    .await;
    records_posted(&server).await;
    let site = site(&server.uri());
    site.simple("a", "2024-02-09");
    publish_at(&site, NOW).success();
    site.simple("b", "2024-02-10");
    publish_at(&site, NOW).success();
    assert_eq!(requests_to(&server, "createSession").await, 1);
    assert_eq!(requests_to(&server, "refreshSession").await, 1);
    let requests = server.received_requests().await.unwrap();
    let refresh = requests
        .iter()
        .find(|r| r.url.path().ends_with("refreshSession"))
        .unwrap();
    assert!(
        refresh.headers["authorization"]
            .to_str()
            .unwrap()
            .contains("sig-refresh"),
        "the refresh token renews the session"
    );
    let last = requests
        .iter()
        .rev()
        .find(|r| r.url.path().ends_with("createRecord"))
        .unwrap();
    assert!(
        last.headers["authorization"]
            .to_str()
            .unwrap()
            .contains("sig-refreshed")
    );
}

#[tokio::test]
async fn a_token_the_pds_says_ended_is_renewed_once_and_the_post_made() {
    let server = MockServer::start().await;
    logins(&server, 7200).await;
    answer(
        &server,
        "POST",
        "/bsky/xrpc/com.atproto.server.refreshSession",
        ResponseTemplate::new(200).set_body_json(json!({
            "accessJwt": jwt("refreshed", 7200),
            "refreshJwt": jwt("refresh2", 90 * 86_400),
            "did": "did:plc:news",
        })),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.createRecord"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "ExpiredToken", "message": "Token has expired"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    records_posted(&server).await;
    let site = site(&server.uri());
    site.simple("a", "2024-02-09");
    publish_at(&site, NOW).success();
    site.simple("b", "2024-02-10");
    let ran = publish_at(&site, NOW).success();
    assert!(output(&ran).0.contains("posted 1 (bsky 1)"));
    // Run 1 logs in and posts (its first try meets the ended token, so it
    // logs in again); run 2 reuses the kept session.
    assert_eq!(requests_to(&server, "createRecord").await, 3);
}

/// A wrong app password or a rate-limited login: one login attempt in the
/// run, one message, and the target's other posts wait for a later run.
#[tokio::test]
async fn a_refused_login_is_tried_once_and_stops_the_target_for_the_run() {
    let in_an_hour = (chrono::Utc::now().timestamp() + 3600).to_string();
    for (refusal, exit) in [
        (
            ResponseTemplate::new(401).set_body_json(
                json!({"error": "AuthenticationRequired", "message": "Invalid identifier or password"}),
            ),
            2,
        ),
        (
            ResponseTemplate::new(429)
                .insert_header("RateLimit-Reset", in_an_hour.as_str())
                .set_body_json(json!({"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"})),
            0,
        ),
    ] {
        let server = MockServer::start().await;
        answer(
            &server,
            "POST",
            "/bsky/xrpc/com.atproto.server.createSession",
            refusal,
        )
        .await;
        records_posted(&server).await;
        let site = site(&server.uri());
        for day in 5..=9 {
            site.simple(&format!("a{day}"), &format!("2024-02-{day:02}"));
        }
        let ran = publish_at(&site, NOW).code(exit);
        let stderr = output(&ran).1;
        assert_eq!(requests_to(&server, "createSession").await, 1, "{stderr}");
        assert_eq!(requests_to(&server, "createRecord").await, 0);
        assert_eq!(
            stderr.matches("could not log in").count(),
            1,
            "one message: {stderr}"
        );
        let status = site
            .herald()
            .args(["status", "--format", "json"])
            .assert()
            .success();
        let records: serde_json::Value = serde_json::from_str(&output(&status).0).unwrap();
        let queued = records
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == "queued")
            .count();
        // A refused login fails the post that tried it; a rate-limited one
        // only makes every post wait.
        assert_eq!(queued, if exit == 2 { 4 } else { 5 }, "the other posts wait: {records}");
        if exit == 0 {
            // The platform's wait is kept: the next runs do not log in.
            publish_at(&site, "2024-02-11T00:10:00Z").success();
            publish_at(&site, "2024-02-11T00:20:00Z").success();
            assert_eq!(requests_to(&server, "createSession").await, 1);
            assert!(records.as_array().unwrap().iter().all(|r| r["attempts"] == 0), "{records}");
        }
    }
}
