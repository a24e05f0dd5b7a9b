//! A health-check ping and a Prometheus text file after each run, so a
//! dead or failing cron job is noticed.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Site, output, posting_config};

fn site(hook: &str, check: &str) -> Site {
    let site = Site::with_config(&posting_config(
        "",
        &format!("    - {{ name: hooks, type: webhook, url: \"{hook}\" }}\n"),
        &format!(
            "monitoring:\n  healthcheck_url: \"{check}\"\n  metrics_file: ../metrics/herald.prom\n"
        ),
    ));
    site.simple("one", "2024-02-10");
    site
}

#[tokio::test]
async fn a_good_run_pings_the_check_and_writes_its_numbers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping/abc-123"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = site(
        &format!("{}/hook", server.uri()),
        &format!("{}/ping/abc-123", server.uri()),
    );
    site.herald()
        .args(["publish", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .success();
    let pings: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(pings, ["/ping/abc-123"]);
    let metrics = std::fs::read_to_string(site.root().join("metrics/herald.prom")).unwrap();
    assert!(
        metrics.contains("herald_posts{target=\"hooks\",outcome=\"posted\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("herald_run_success 1"), "{metrics}");
    assert!(metrics.contains("herald_feeds_written 3"), "{metrics}");
    assert!(
        metrics.contains("herald_last_success_timestamp_seconds "),
        "{metrics}"
    );
    // A dry run tells no one.
    site.herald()
        .args(["publish", "--dry-run"])
        .assert()
        .success();
    assert_eq!(
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.method.as_str() == "GET")
            .count(),
        1
    );
}

#[tokio::test]
async fn a_failed_run_pings_fail_and_keeps_the_last_success() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook2"))
        .respond_with(ResponseTemplate::new(400))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping/abc-123"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/ping/abc-123/fail"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = site(
        &format!("{}/hook", server.uri()),
        &format!("{}/ping/abc-123", server.uri()),
    );
    site.herald()
        .args(["publish", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .success();
    let first = std::fs::read_to_string(site.root().join("metrics/herald.prom")).unwrap();
    let success_line = first
        .lines()
        .find(|l| l.starts_with("herald_last_success_timestamp_seconds "))
        .unwrap()
        .to_string();
    // A target that refuses: exit 2, the check hears of the failure.
    let config = std::fs::read_to_string(site.root().join("config/herald.yaml")).unwrap();
    site.write_config(&config.replace("/hook\"", "/hook2\""));
    site.simple("two", "2024-02-10");
    let ran = site
        .herald()
        .args(["publish", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .code(2);
    let _ = output(&ran);
    let pings: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "GET")
        .map(|r| r.url.path().to_string())
        .collect();
    assert_eq!(pings, ["/ping/abc-123", "/ping/abc-123/fail"]);
    let metrics = std::fs::read_to_string(site.root().join("metrics/herald.prom")).unwrap();
    assert!(metrics.contains("herald_run_success 0"), "{metrics}");
    assert!(
        metrics.contains(&success_line),
        "the last success is kept: {metrics}"
    );
}

#[test]
fn a_check_that_cannot_be_reached_is_a_warning_not_a_failure() {
    let site = site("http://127.0.0.1:9/hook", "http://127.0.0.1:9/ping");
    let ran = site
        .herald()
        .args(["feeds", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .success();
    assert!(
        output(&ran)
            .1
            .contains("the health check could not be pinged"),
        "{}",
        output(&ran).1
    );
}
