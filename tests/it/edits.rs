//! Edits (`on_edit`): only a change of what a post shows is an edit; edits
//! are paced like new posts; a repost keeps its own key across retries.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::posting::NOW;
use crate::support::{Site, answer, output, posting_site, publish_at};

async fn requests(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap()
}

fn article(site: &Site, slug: &str, title: &str, date: &str) {
    site.article(
        &format!("{slug}.md"),
        format!(
            "---\ntitle: {title}\npublish_date: {date}\ndescription: {}\n---\n\nBody of {slug}.\n",
            "A summary long enough that a short limit must cut it at a word boundary. ".repeat(4)
        ),
    );
}

/// Bug: delivery re-fitted Mastodon's text to the instance's limit after the
/// plan recorded the fingerprint of the text it planned, so the next run saw
/// an edit that nobody made. Now the limit is learned before composing, and
/// the fingerprint covers the article's facts.
#[tokio::test]
async fn a_limit_learned_from_the_instance_makes_no_edit_on_the_next_run() {
    let server = MockServer::start().await;
    answer(
        &server,
        "GET",
        "/masto/api/v2/instance",
        ResponseTemplate::new(200)
            .set_body_json(json!({"configuration": {"statuses": {"max_characters": 200}}})),
    )
    .await;
    answer(
        &server,
        "POST",
        "/masto/api/v1/statuses",
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": "s1", "url": "https://m.example/s1"})),
    )
    .await;
    let site = posting_site(
        "  on_edit: update\n",
        &format!(
            "    - {{ name: masto, type: mastodon, instance: \"{}/masto\", token: t }}\n",
            server.uri()
        ),
    );
    article(&site, "a", "First", "2024-02-10");
    publish_at(&site, NOW).success();
    let first = requests(&server).await;
    let status = first
        .iter()
        .find(|r| r.url.path() == "/masto/api/v1/statuses")
        .expect("the status was posted");
    let text = serde_json::from_slice::<Value>(&status.body).unwrap()["status"]
        .as_str()
        .unwrap()
        .to_string();
    // Mastodon counts a URL as 23 characters.
    let counted = text
        .replace("https://news.example/articles/a/", &"x".repeat(23))
        .chars()
        .count();
    assert!(
        counted <= 200 && counted > 150 && text.contains('…'),
        "fitted to the instance's 200 before sending ({counted}): {text}"
    );
    publish_at(&site, NOW).success();
    assert_eq!(
        requests(&server).await.len(),
        first.len(),
        "the second run sends nothing: no edit, no new question"
    );
}

/// Bug: the fingerprint covered the rendered template, so a new template
/// edited (or reposted) every article ever posted, all in one run.
#[tokio::test]
async fn a_new_template_edits_nothing_and_edits_are_paced_and_young() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/discord"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m1"})))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "m1"})))
        .mount(&server)
        .await;
    let targets = format!(
        "    - {{ name: discord, type: discord, url: \"{}/discord\" }}\n",
        server.uri()
    );
    let site = posting_site(
        "  on_edit: update\n  max_age: 30d\n  max_per_run: 1\n",
        &targets,
    );
    for (slug, date) in [
        ("a", "2024-02-08"),
        ("b", "2024-02-09"),
        ("c", "2024-02-10"),
    ] {
        article(&site, slug, &format!("Title {slug}"), date);
    }
    for _ in 0..3 {
        publish_at(&site, NOW).success();
    }
    assert_eq!(requests(&server).await.len(), 3, "three posts, one per run");

    // A new template: nothing to edit.
    site.write_config(&crate::support::posting_config(
        "  on_edit: update\n  max_age: 30d\n  max_per_run: 1\n  template: \"NEW {{ title }} {{ url }}\"\n",
        &targets,
        "",
    ));
    publish_at(&site, NOW).success();
    assert_eq!(
        requests(&server).await.len(),
        3,
        "a template change edits nothing"
    );

    // Every article's title changes: one edit per run, max_per_run holds.
    for (slug, date) in [
        ("a", "2024-02-08"),
        ("b", "2024-02-09"),
        ("c", "2024-02-10"),
    ] {
        article(&site, slug, &format!("Title {slug}, revised"), date);
    }
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .success();
    assert!(
        output(&dry).0.contains("2 edits wait for a later run"),
        "{}",
        output(&dry).0
    );
    publish_at(&site, NOW).success();
    let edits = |all: &[Request]| all.iter().filter(|r| r.method.as_str() == "PATCH").count();
    assert_eq!(
        edits(&requests(&server).await),
        1,
        "one edit in the first run"
    );
    publish_at(&site, NOW).success();
    publish_at(&site, NOW).success();
    assert_eq!(edits(&requests(&server).await), 3);
    publish_at(&site, NOW).success();
    assert_eq!(edits(&requests(&server).await), 3, "each edited once");

    // An article older than max_age is not edited.
    article(&site, "a", "Title a, revised again", "2024-02-08");
    publish_at(&site, "2024-04-01T00:00:00Z").success();
    assert_eq!(edits(&requests(&server).await), 3, "too old to edit");
}

/// Bug: a repost whose first attempt failed was retried under the original
/// post's key, so receivers dropped it and Bluesky answered "already
/// exists": the repost never happened.
#[tokio::test]
async fn a_failed_repost_is_retried_under_its_own_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(400).set_body_string("not now"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    answer(
        &server,
        "POST",
        "/bsky/xrpc/com.atproto.server.createSession",
        ResponseTemplate::new(200)
            .set_body_json(json!({"accessJwt": "a", "refreshJwt": "r", "did": "did:plc:x"})),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.createRecord"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"uri": "at://did:plc:x/app.bsky.feed.post/1"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.createRecord"))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(json!({"error": "InvalidRequest", "message": "not now"})),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    answer(
        &server,
        "POST",
        "/bsky/xrpc/com.atproto.repo.createRecord",
        ResponseTemplate::new(200)
            .set_body_json(json!({"uri": "at://did:plc:x/app.bsky.feed.post/2"})),
    )
    .await;
    let base = server.uri();
    let site = posting_site(
        "  on_edit: repost\n",
        &format!(
            "    - {{ name: hooks, type: webhook, url: \"{base}/hook\" }}\n    - {{ name: bsky, type: bluesky, service: \"{base}/bsky\", identifier: x, app_password: p }}\n"
        ),
    );
    article(&site, "a", "First", "2024-02-10");
    publish_at(&site, NOW).success();
    article(&site, "a", "First, corrected", "2024-02-10");
    publish_at(&site, NOW).code(2);
    publish_at(&site, NOW).success();

    let all = requests(&server).await;
    let keys: Vec<String> = all
        .iter()
        .filter(|r| r.url.path() == "/hook")
        .map(|r| {
            r.headers
                .get("webhook-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(keys.len(), 3);
    assert_ne!(keys[1], keys[0], "the repost has a key of its own");
    assert_eq!(keys[2], keys[1], "its retry keeps it");
    let rkeys: Vec<String> = all
        .iter()
        .filter(|r| r.url.path().ends_with("createRecord"))
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["rkey"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(rkeys.len(), 3);
    assert_ne!(rkeys[1], rkeys[0], "the repost is a new record");
    assert_eq!(rkeys[2], rkeys[1], "its retry targets the same record");
}
