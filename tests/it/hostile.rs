//! Hostile networks: servers that never answer, answer too much, loop,
//! break off, or answer 200 with something else than they promise. Each
//! run ends, records what it knows, and never posts twice.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::posting::NOW;
use crate::support::{Site, answer, ledger_records, output, posting_site, publish_at};

fn site(targets: &str) -> Site {
    let site = posting_site("", targets);
    site.simple("a", "2024-02-10");
    site
}

/// A server that reads each request and then does `answer` with the socket.
async fn raw_server<F>(answer: F) -> std::net::SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> tokio::task::JoinHandle<()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                break;
            };
            let mut buf = vec![0u8; 65536];
            let _ = tokio::time::timeout(Duration::from_millis(500), socket.read(&mut buf)).await;
            answer(socket);
        }
    });
    addr
}

// The raw server runs on worker threads while this thread waits for herald.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_times_out_is_retried_and_the_run_ends() {
    let addr = raw_server(|socket| {
        // Hangs on purpose: it holds the connection and never answers.
        tokio::spawn(async move {
            std::future::pending::<()>().await;
            drop(socket);
        })
    })
    .await;
    let site = site(&format!(
        "    - {{ name: hooks, type: webhook, url: \"http://{addr}/hook\", timeout: 100ms }}\n"
    ));
    let started = Instant::now();
    let assert = publish_at(&site, NOW).code(2);
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300),
        "three attempts of 100 ms each: {elapsed:?}"
    );
    assert!(
        elapsed < Duration::from_secs(20),
        "the run ends: {elapsed:?}"
    );
    assert!(output(&assert).1.contains("timed out"));
    let r = &ledger_records(&site)[0];
    assert_eq!(
        (r["status"].as_str(), r["attempts"].as_u64()),
        (Some("failed"), Some(3))
    );
}

#[tokio::test]
async fn a_fifty_megabyte_answer_is_read_only_up_to_the_cap() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 50 * 1024 * 1024]))
        .mount(&server)
        .await;
    let site = site(&format!(
        "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
        server.uri()
    ));
    let out = std::process::Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg(assert_cmd::cargo::cargo_bin("herald"))
        .current_dir(site.root())
        .args(["--config", "config/herald.yaml", "publish", "--now", NOW])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let max_kb: u64 = String::from_utf8_lossy(&out.stderr)
        .trim()
        .lines()
        .last()
        .unwrap()
        .parse()
        .unwrap();
    // A run with a ten-byte answer peaks near 45 MB (mimalloc's per-thread
    // heaps); reading the 50 MB body whole would pass 95 MB.
    assert!(
        max_kb < 80 * 1024,
        "peak memory {max_kb} KB: the body was read whole"
    );
    assert_eq!(ledger_records(&site)[0]["status"], "posted");
}

#[tokio::test]
async fn a_redirect_loop_fails_the_post() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/hook",
        ResponseTemplate::new(307).insert_header("location", "/hook"),
    )
    .await;
    let site = site(&format!(
        "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
        server.uri()
    ));
    publish_at(&site, NOW).code(2);
    let r = &ledger_records(&site)[0];
    assert_eq!(r["status"], "failed");
    assert!(
        r["last_error"].as_str().unwrap().contains("redirect"),
        "{r}"
    );
}

// The raw server runs on worker threads while this thread waits for herald.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_answer_to_a_post_is_uncertain_not_posted_and_not_resent() {
    let addr = raw_server(|mut socket| {
        tokio::spawn(async move {
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"id\": \"12")
                .await;
            drop(socket);
        })
    })
    .await;
    let site = site(&format!(
        "    - {{ name: discord, type: discord, url: \"http://{addr}/discord\" }}\n"
    ));
    let assert = publish_at(&site, NOW).code(2);
    assert!(output(&assert).1.contains("uncertain"));
    let r = &ledger_records(&site)[0];
    assert_eq!(r["status"], "uncertain");
    assert!(
        r["last_error"].as_str().unwrap().contains("broke off"),
        "{r}"
    );
    publish_at(&site, NOW).success();
    assert_eq!(ledger_records(&site)[0]["attempts"], 1, "not resent");
}

#[tokio::test]
async fn a_200_that_is_not_the_promised_json_is_uncertain_with_the_bodys_start() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_string("<html><body>Cloudflare says hello</body></html>"),
        )
        .mount(&server)
        .await;
    let site = site(&format!(
        "    - {{ name: discord, type: discord, url: \"{}/discord\" }}\n",
        server.uri()
    ));
    publish_at(&site, NOW).code(2);
    let r = &ledger_records(&site)[0];
    assert_eq!(r["status"], "uncertain");
    assert!(
        r["last_error"]
            .as_str()
            .unwrap()
            .contains("Cloudflare says hello"),
        "{r}"
    );
}

#[tokio::test]
async fn an_image_that_is_a_web_page_is_not_uploaded_and_the_post_goes_without_it() {
    let server = MockServer::start().await;
    answer(
        &server,
        "GET",
        "/img/hero.jpg",
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/html")
            .set_body_bytes(b"<html>".to_vec()),
    )
    .await;
    answer(
        &server,
        "GET",
        "/masto/api/v2/instance",
        ResponseTemplate::new(200)
            .set_body_json(json!({"configuration": {"statuses": {"max_characters": 500}}})),
    )
    .await;
    answer(
        &server,
        "POST",
        "/masto/api/v1/statuses",
        ResponseTemplate::new(200).set_body_json(json!({"id": "1", "url": "https://m.example/1"})),
    )
    .await;
    let base = server.uri();
    let site = site(&format!(
        "    - {{ name: masto, type: mastodon, instance: \"{base}/masto\", token: t }}\n"
    ));
    site.article(
        "a.md",
        format!(
            "---\ntitle: A\npublish_date: 2024-02-10\nheroImage: {base}/img/hero.jpg\n---\nBody\n"
        ),
    );
    let assert = publish_at(&site, NOW).success();
    assert!(
        output(&assert).1.contains("is not an image"),
        "{}",
        output(&assert).1
    );
    let all = server.received_requests().await.unwrap();
    assert!(
        all.iter().all(|r| r.url.path() != "/masto/api/v2/media"),
        "nothing uploaded"
    );
    let status: serde_json::Value = serde_json::from_slice(
        &all.iter()
            .find(|r| r.url.path() == "/masto/api/v1/statuses")
            .unwrap()
            .body,
    )
    .unwrap();
    assert_eq!(status["media_ids"], json!([]));
}
