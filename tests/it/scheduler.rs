//! `herald run`: the built-in scheduler survives a failed run, says when it
//! runs next, and stops on SIGTERM only after the post in flight is recorded.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Site, output, posting_config};

fn site(base: &str) -> Site {
    let site = Site::with_config(&posting_config(
        "  max_age: 36500d\n",
        &format!("    - {{ name: hooks, type: webhook, url: \"{base}/hook\" }}\n"),
        "schedule:\n  cron: \"0 3 * * *\"\n",
    ));
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
    use std::io::BufRead;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string("bad"))
        .mount(&server)
        .await;
    let site = site(&server.uri());
    let mut child = spawn_run(&site);
    // stderr, line by line, as the scheduler writes it.
    let (lines, seen) = std::sync::mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line);
        }
    });
    // Ready when, after the failed publish, it says when it runs next.
    let mut stderr = Vec::new();
    while !stderr
        .iter()
        .any(|l: &String| l.contains("herald run: next publish at "))
    {
        let line = seen
            .recv_timeout(Duration::from_secs(20))
            .expect("the scheduler names its next time");
        stderr.push(line);
    }
    terminate(child.id());
    let status = child.wait().unwrap();
    reader.join().unwrap();
    stderr.extend(seen.try_iter());
    let stderr = stderr.join("\n");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("this publish ended with exit status 2"),
        "{stderr}"
    );
    assert!(stderr.contains("herald run: stopped"), "{stderr}");
    assert!(
        stderr.contains(" 03:00:00 UTC"),
        "the next fire time is in content.timezone: {stderr}"
    );
}
