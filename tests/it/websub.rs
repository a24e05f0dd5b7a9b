//! WebSub: hubs are told when a feed's bytes change, never in a dry run, and
//! a failed ping is a warning.

use wiremock::matchers::{body_string_contains, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{BASE_CONFIG, Site, output};

fn site_with_hub(hub: &str) -> Site {
    let config = BASE_CONFIG.replace(
        "  dir: ../public\n",
        &format!("  dir: ../public\n  rss: false\n  json: false\n  websub_hubs: [\"{hub}\"]\n"),
    );
    let site = Site::with_config(&config);
    site.simple("a", "2024-01-01");
    site
}

#[tokio::test]
async fn hubs_are_pinged_when_a_feed_changes_and_only_then() {
    let hub = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hub"))
        .and(body_string_contains("hub.mode=publish"))
        .and(body_string_contains(
            "hub.url=https%3A%2F%2Fnews.example%2Fatom.xml",
        ))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&hub)
        .await;
    let site = site_with_hub(&format!("{}/hub", hub.uri()));

    site.herald()
        .args(["publish", "--dry-run"])
        .assert()
        .success();
    assert_eq!(
        hub.received_requests().await.unwrap().len(),
        0,
        "a dry run pings nothing"
    );

    site.herald().arg("feeds").assert().success();
    assert!(
        site.read_public("atom.xml")
            .contains(&format!(r#"<link href="{}/hub" rel="hub"/>"#, hub.uri()))
    );
    site.herald().arg("feeds").assert().success();
    // `expect(1)` is verified when the server drops: the unchanged second run
    // sent nothing.
}

#[tokio::test]
async fn a_failed_ping_is_a_warning() {
    let hub = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("hub is down"))
        .mount(&hub)
        .await;
    let site = site_with_hub(&format!("{}/hub", hub.uri()));
    let assert = site.herald().arg("feeds").assert().success();
    let (_, stderr) = output(&assert);
    assert!(stderr.contains("warning: WebSub hub"), "{stderr}");
    assert!(
        stderr.contains("HTTP 500 Internal Server Error: hub is down"),
        "{stderr}"
    );
    assert!(site.public("atom.xml").exists());
}
