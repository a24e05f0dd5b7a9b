//! Threads, run in this process on tokio's paused clock: the container and
//! its states, publishing, the permalink, a lost answer, and the 60-day
//! token renewed before it ends.

use std::time::Duration;

use serde_json::json;

use crate::posting::NOW;
use crate::support::{Answer, Scripted, Site, posting_site, publish_in_process};

const API: &str = "http://threads.test/th";

fn site(keys: &str) -> Site {
    let site = posting_site(
        "",
        &format!("    - {{ name: th, type: threads, api_url: \"{API}\", {keys} }}\n"),
    );
    site.article(
        "a.md",
        "---\ntitle: Async tips\npublish_date: 2024-02-10\ndescription: Pinning, explained.\nheroImage: https://news.example/a.jpg\nheroImageAlt: A pin\n---\n\nBody.\n",
    );
    site
}

fn script(statuses: Vec<Answer>) -> std::sync::Arc<Scripted> {
    let transport = Scripted::new();
    transport.on(
        "/th/v1.0/me/threads",
        vec![Answer::json(200, json!({"id": "c1"}))],
    );
    transport.on("/th/v1.0/c1", statuses);
    transport.on(
        "/th/v1.0/me/threads_publish",
        vec![Answer::json(200, json!({"id": "m1"}))],
    );
    transport.on(
        "/th/v1.0/m1",
        vec![Answer::json(
            200,
            json!({"permalink": "https://www.threads.net/@news/post/C1", "id": "m1"}),
        )],
    );
    transport
}

fn status(s: &str) -> Answer {
    Answer::json(200, json!({"status": s, "id": "c1"}))
}

fn paths(transport: &Scripted) -> Vec<String> {
    transport
        .sent()
        .iter()
        .map(|s| {
            let url = url::Url::parse(&s.url).unwrap();
            format!("{} {}", s.method, url.path().trim_start_matches("/th/"))
        })
        .collect()
}

fn form(body: &[u8]) -> std::collections::BTreeMap<String, String> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn a_container_is_polled_until_finished_then_published_and_its_permalink_kept() {
    let site = site("token: th-token-value");
    let transport = script(vec![
        status("IN_PROGRESS"),
        status("IN_PROGRESS"),
        status("FINISHED"),
    ]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    let r = &report.results[0];
    assert_eq!(r.status.as_str(), "posted", "{r:?}");
    assert_eq!(
        r.remote_url.as_deref(),
        Some("https://www.threads.net/@news/post/C1")
    );
    assert_eq!(
        paths(&transport),
        [
            "POST v1.0/me/threads",
            "GET v1.0/c1",
            "GET v1.0/c1",
            "GET v1.0/c1",
            "POST v1.0/me/threads_publish",
            "GET v1.0/m1",
        ]
    );
    let sent = transport.sent();
    let container = form(&sent[0].body);
    assert_eq!(container["media_type"], "IMAGE");
    assert_eq!(container["image_url"], "https://news.example/a.jpg");
    assert_eq!(container["alt_text"], "A pin");
    assert!(container["text"].starts_with("Async tips"));
    assert_eq!(container["access_token"], "th-token-value");
    assert_eq!(form(&sent[4].body)["creation_id"], "c1");
    assert!(sent[1].url.contains("fields=status,error_message"));
}

#[tokio::test(start_paused = true)]
async fn a_text_post_carries_its_link_as_an_attachment() {
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: th, type: threads, api_url: \"{API}\", token: th-token-value }}\n"
        ),
    );
    site.simple("one", "2024-02-10");
    let transport = script(vec![status("FINISHED")]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "posted");
    let container = form(&transport.sent()[0].body);
    assert_eq!(container["media_type"], "TEXT");
    assert_eq!(
        container["link_attachment"],
        "https://news.example/articles/one/"
    );
    assert!(!container.contains_key("image_url"));
}

#[tokio::test(start_paused = true)]
async fn a_container_in_error_fails_with_threads_reason_and_is_not_published() {
    let site = site("token: th-token-value");
    let transport = script(vec![Answer::json(
        200,
        json!({"status": "ERROR", "error_message": "MEDIA_DOWNLOAD_FAILED: could not fetch the image"}),
    )]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    let r = &report.results[0];
    assert_eq!(r.status.as_str(), "failed", "{r:?}");
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("MEDIA_DOWNLOAD_FAILED"),
        "{r:?}"
    );
    assert!(
        !paths(&transport)
            .iter()
            .any(|p| p.contains("threads_publish")),
        "{:?}",
        paths(&transport)
    );
}

#[tokio::test(start_paused = true)]
async fn an_expired_container_fails_and_says_so() {
    let site = site("token: th-token-value");
    let transport = script(vec![status("EXPIRED")]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    let r = &report.results[0];
    assert_eq!(r.status.as_str(), "failed", "{r:?}");
    assert!(r.error.as_deref().unwrap().contains("expired"), "{r:?}");
}

#[tokio::test(start_paused = true)]
async fn a_container_that_never_finishes_is_given_up_in_bounded_time_with_one_container() {
    let site = site("token: th-token-value");
    let transport = script(vec![status("IN_PROGRESS")]);
    let started = tokio::time::Instant::now();
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    let r = &report.results[0];
    assert_eq!(r.status.as_str(), "failed", "{r:?}");
    assert!(
        started.elapsed() <= Duration::from_secs(130),
        "{:?}",
        started.elapsed()
    );
    let made = paths(&transport)
        .iter()
        .filter(|p| *p == "POST v1.0/me/threads")
        .count();
    assert_eq!(made, 1, "attempts reuse the container");
    assert!(
        !paths(&transport)
            .iter()
            .any(|p| p.contains("threads_publish"))
    );
}

/// Threads has no idempotency key: after a lost answer the container says
/// whether it was published, and nothing is sent twice.
#[tokio::test(start_paused = true)]
async fn a_lost_publish_answer_is_settled_by_the_container_status() {
    let site = site("token: th-token-value");
    let transport = Scripted::new();
    transport.on(
        "/th/v1.0/me/threads",
        vec![Answer::json(200, json!({"id": "c1"}))],
    );
    transport.on("/th/v1.0/c1", vec![status("FINISHED"), status("PUBLISHED")]);
    transport.on("/th/v1.0/me/threads_publish", vec![Answer::Timeout]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    let r = &report.results[0];
    assert_eq!(r.status.as_str(), "posted", "{r:?}");
    let publishes = paths(&transport)
        .iter()
        .filter(|p| p.contains("threads_publish"))
        .count();
    assert_eq!(publishes, 1);
}

/// The ledger's `session` row for `th`, as `herald auth` keeps it.
fn keep_session(site: &Site, access: &str, ends_in: chrono::TimeDelta) {
    let db = rusqlite::Connection::open(site.root().join("state/herald.db")).unwrap();
    let session = json!({
        "access": access,
        "access_expires": (chrono::Utc::now() + ends_in).to_rfc3339(),
    });
    db.execute(
        "INSERT INTO target_state (target, key, value, updated_at) VALUES ('th', 'session', ?1, ?2)
         ON CONFLICT (target, key) DO UPDATE SET value = ?1",
        rusqlite::params![session.to_string(), chrono::Utc::now().to_rfc3339()],
    )
    .unwrap();
}

fn kept_access(site: &Site) -> String {
    let db = rusqlite::Connection::open(site.root().join("state/herald.db")).unwrap();
    let value: String = db
        .query_row(
            "SELECT value FROM target_state WHERE target = 'th' AND key = 'session'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    serde_json::from_str::<serde_json::Value>(&value).unwrap()["access"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test(start_paused = true)]
async fn a_kept_token_with_under_30_days_left_is_renewed_before_it_is_used() {
    let site = site("app_id: \"1234\", app_secret: app-secret-value");
    // A first run makes the ledger; no token yet, so it says to run auth.
    let first = publish_in_process(&site, NOW, script(vec![status("FINISHED")])).await;
    assert!(
        first.results[0]
            .error
            .as_deref()
            .unwrap()
            .contains("run `herald auth th`"),
        "{:?}",
        first.results
    );
    keep_session(&site, "old-token", chrono::TimeDelta::days(20));
    let transport = script(vec![status("FINISHED")]);
    transport.on(
        "/th/refresh_access_token",
        vec![Answer::json(
            200,
            json!({"access_token": "new-token", "token_type": "bearer", "expires_in": 5_184_000}),
        )],
    );
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(
        report.results[0].status.as_str(),
        "posted",
        "{:?}",
        report.results
    );
    let sent = transport.sent();
    assert!(
        sent[0]
            .url
            .contains("/refresh_access_token?grant_type=th_refresh_token&access_token=old-token")
    );
    assert_eq!(form(&sent[1].body)["access_token"], "new-token");
    assert_eq!(kept_access(&site), "new-token");
}

#[tokio::test(start_paused = true)]
async fn a_kept_token_with_time_left_is_used_as_it_is() {
    let site = site("app_id: \"1234\", app_secret: app-secret-value");
    publish_in_process(&site, NOW, script(vec![status("FINISHED")])).await;
    keep_session(&site, "fresh-token", chrono::TimeDelta::days(50));
    let transport = script(vec![status("FINISHED")]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "posted");
    assert!(
        !paths(&transport)
            .iter()
            .any(|p| p.contains("refresh_access_token"))
    );
    assert_eq!(
        form(&transport.sent()[0].body)["access_token"],
        "fresh-token"
    );
}

/// A revoked token (Graph error 190) is not retried in a loop: the post
/// stays due and the message says what to run.
#[tokio::test(start_paused = true)]
async fn a_revoked_kept_token_says_to_run_herald_auth() {
    let site = site("app_id: \"1234\", app_secret: app-secret-value");
    publish_in_process(&site, NOW, script(vec![status("FINISHED")])).await;
    keep_session(&site, "revoked-token", chrono::TimeDelta::days(50));
    let transport = Scripted::new();
    transport.on(
        "/th/v1.0/me/threads",
        vec![Answer::json(
            400,
            json!({"error": {"message": "Error validating access token: The session has been invalidated", "type": "OAuthException", "code": 190}}),
        )],
    );
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    let r = &report.results[0];
    assert_eq!(r.status.as_str(), "failed", "{r:?}");
    assert_eq!(r.attempts, 0, "{r:?}");
    assert!(
        r.error.as_deref().unwrap().contains("run `herald auth th`"),
        "{r:?}"
    );
    assert_eq!(transport.sent().len(), 1, "{:?}", paths(&transport));
}

#[tokio::test(start_paused = true)]
async fn link_in_reply_publishes_a_reply_container_naming_the_post() {
    let site = posting_site(
        "  link_in_reply: true\n",
        &format!(
            "    - {{ name: th, type: threads, api_url: \"{API}\", token: th-token-value }}\n"
        ),
    );
    site.simple("one", "2024-02-10");
    let transport = Scripted::new();
    transport.on(
        "/th/v1.0/me/threads",
        vec![
            Answer::json(200, json!({"id": "c1"})),
            Answer::json(200, json!({"id": "c2"})),
        ],
    );
    transport.on("/th/v1.0/c1", vec![status("FINISHED")]);
    transport.on(
        "/th/v1.0/c2",
        vec![Answer::json(200, json!({"status": "FINISHED", "id": "c2"}))],
    );
    transport.on(
        "/th/v1.0/me/threads_publish",
        vec![
            Answer::json(200, json!({"id": "m1"})),
            Answer::json(200, json!({"id": "m2"})),
        ],
    );
    transport.on("/th/v1.0/m1", vec![Answer::json(200, json!({"id": "m1"}))]);
    transport.on("/th/v1.0/m2", vec![Answer::json(200, json!({"id": "m2"}))]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert!(
        report.results.iter().all(|r| r.status.as_str() == "posted"),
        "{:?}",
        report.results
    );
    let containers: Vec<_> = transport
        .sent()
        .into_iter()
        .filter(|s| s.url.ends_with("/me/threads"))
        .map(|s| form(&s.body))
        .collect();
    assert_eq!(containers.len(), 2);
    assert!(!containers[0].contains_key("link_attachment"));
    assert!(!containers[0].contains_key("reply_to_id"));
    assert_eq!(containers[1]["text"], "https://news.example/articles/one/");
    assert_eq!(
        containers[1]["link_attachment"],
        "https://news.example/articles/one/"
    );
    assert_eq!(containers[1]["reply_to_id"], "m1");
}
