//! `herald run`: the built-in scheduler survives a failed run, says when it
//! runs next, and stops on SIGTERM only after the post in flight is recorded.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{BASE_CONFIG, Site, output};

fn site(base: &str) -> Site {
    let config = format!(
        "{BASE_CONFIG}social:\n  allow_private_network: true\n  retry_base: 10ms\n  max_age: 36500d\n  targets:\n    - {{ name: hooks, type: webhook, url: \"{base}/hook\" }}\nschedule:\n  cron: \"0 3 * * *\"\nstate:\n  path: ../state/herald.db\n"
    );
    let site = Site::with_config(&config);
    site.simple("a", "2024-02-10");
    site
}

/// `herald run --now-first` on `site`, its output captured.
fn spawn_run(site: &Site) -> std::process::Child {
    Command::new(assert_cmd::cargo::cargo_bin("herald"))
        .current_dir(site.root())
        .args(["--config", "config/herald.yaml", "run", "--now-first"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn terminate(pid: u32) {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
}

async fn wait_for_requests(server: &MockServer, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.received_requests().await.unwrap().len() < n {
        assert!(Instant::now() < deadline, "no request arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn run_survives_a_failed_publish_and_stops_on_sigterm_after_recording_the_post_in_flight() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)))
        .mount(&server)
        .await;
    let site = site(&server.uri());
    let child = spawn_run(&site);
    wait_for_requests(&server, 1).await;
    // The post is in flight: the receiver holds it for 1.5 s.
    terminate(child.id());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("herald run: stopped"), "{stderr}");
    let status = site
        .herald()
        .args(["status", "--format", "json"])
        .assert()
        .success();
    let records: serde_json::Value = serde_json::from_str(&output(&status).0).unwrap();
    assert_eq!(
        records[0]["status"], "posted",
        "the post in flight was recorded"
    );
}

#[tokio::test]
async fn run_goes_on_after_a_failed_publish_and_names_the_next_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad"))
        .mount(&server)
        .await;
    let site = site(&server.uri());
    let child = spawn_run(&site);
    wait_for_requests(&server, 1).await;
    // Give it time to finish the failed run and start waiting.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = site
            .herald()
            .args(["status", "--format", "json"])
            .assert()
            .success();
        let records: serde_json::Value = serde_json::from_str(&output(&status).0).unwrap();
        if records[0]["status"] == "failed" {
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    terminate(child.id());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("this publish ended with exit status 2"),
        "{stderr}"
    );
    assert!(stderr.contains("herald run: next publish at "), "{stderr}");
    assert!(
        stderr.contains(" 03:00:00 UTC"),
        "the next fire time is in content.timezone: {stderr}"
    );
}
