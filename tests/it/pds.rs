//! Bluesky against a real PDS (`@atproto/pds`, on 127.0.0.1, installed
//! from the npm registry into the test build's folder on first use): a run
//! killed while `createRecord` was being answered is resent under the same
//! record key by the next run; the real PDS refuses that with `500
//! InternalServerError`, and herald asks the repository before deciding.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::posting::NOW;
use crate::support::{output, posting_site, publish_at, read_http_message};

/// The PDS's packages, installed once per build folder.
fn installed() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pds");
    let source = crate::support::repo().join("tests/pds");
    std::fs::create_dir_all(&dir).unwrap();
    for file in ["package.json", "package-lock.json", "run.js"] {
        std::fs::copy(source.join(file), dir.join(file)).unwrap();
    }
    if !dir.join("node_modules/@atproto/pds/package.json").exists() {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) is needed for the PDS test");
        assert!(status.success(), "npm ci of tests/pds failed");
    }
    dir
}

/// A PDS with one account, stopped (killed) when dropped.
struct Pds {
    child: Child,
    port: u16,
    handle: String,
    password: String,
    did: String,
    _data: tempfile::TempDir,
}

impl Pds {
    fn start() -> Pds {
        let dir = installed();
        let data = tempfile::tempdir().unwrap();
        let mut child = Command::new("node")
            .arg(dir.join("run.js"))
            .arg(data.path())
            .current_dir(&dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            parts.first(),
            Some(&"READY"),
            "the PDS did not start: {line:?}"
        );
        Pds {
            port: parts[1].parse().unwrap(),
            handle: parts[2].to_string(),
            password: parts[3].to_string(),
            did: parts[4].to_string(),
            child,
            _data: data,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Pds {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Adds `Connection: close` to a message's headers, so that every request
/// has a connection of its own.
fn closing(message: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(message);
    let Some(end) = text.find("\r\n\r\n") else {
        return message.to_vec();
    };
    let head: Vec<&str> = text[..end]
        .lines()
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .collect();
    let mut out = format!("{}\r\nConnection: close\r\n\r\n", head.join("\r\n")).into_bytes();
    out.extend_from_slice(&message[end + 4..]);
    out
}

/// A proxy to the PDS that, while `hold` is set, passes `createRecord` on
/// and keeps its answer: the record is made, the caller never hears so.
async fn proxy(upstream: u16, hold: Arc<AtomicBool>, held: Arc<tokio::sync::Notify>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (hold, held) = (hold.clone(), held.clone());
            tokio::spawn(async move {
                let Some(request) = read_http_message(&mut client).await else {
                    return;
                };
                let mut server = TcpStream::connect(("127.0.0.1", upstream)).await.unwrap();
                server.write_all(&closing(&request)).await.unwrap();
                let mut answer = Vec::new();
                let _ = server.read_to_end(&mut answer).await;
                let is_create = String::from_utf8_lossy(&request).contains("createRecord");
                if is_create && hold.load(Ordering::SeqCst) {
                    held.notify_one();
                    // Hangs on purpose: the answer is never passed on.
                    std::future::pending::<()>().await;
                }
                let _ = client.write_all(&closing(&answer)).await;
            });
        }
    });
    port
}

async fn records_in_repo(pds: &Pds) -> usize {
    let url = format!(
        "{}/xrpc/com.atproto.repo.listRecords?repo={}&collection=app.bsky.feed.post",
        pds.url(),
        pds.did
    );
    let body: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    body["records"].as_array().map_or(0, Vec::len)
}

fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_while_a_record_was_made_is_completed_not_failed_on_a_real_pds() {
    let pds = tokio::task::spawn_blocking(Pds::start).await.unwrap();
    let hold = Arc::new(AtomicBool::new(true));
    let held = Arc::new(tokio::sync::Notify::new());
    let port = proxy(pds.port, hold.clone(), held.clone()).await;
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: bsky, type: bluesky, service: \"http://127.0.0.1:{port}\", identifier: {}, app_password: {} }}\n",
            pds.handle, pds.password
        ),
    );
    site.simple("a", "2024-02-10");

    // The first run is killed while createRecord is being answered.
    let mut first = Command::new(assert_cmd::cargo::cargo_bin("herald"))
        .current_dir(site.root())
        .args(["--config", "config/herald.yaml", "publish", "--now", NOW])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(60), held.notified())
        .await
        .unwrap_or_else(|_| panic!("no createRecord after {:?}", started.elapsed()));
    kill(&mut first);
    assert_eq!(records_in_repo(&pds).await, 1, "the record was made");
    let status = site
        .herald()
        .args(["status", "--format", "json"])
        .assert()
        .success();
    assert!(
        output(&status).0.contains("\"pending\""),
        "{}",
        output(&status).0
    );

    // The next run resends under the same record key; the PDS refuses it
    // with a 500, and the repository says the record is there.
    hold.store(false, Ordering::SeqCst);
    let ran = publish_at(&site, NOW).success();
    assert!(
        output(&ran).0.contains("posted 1 (bsky 1)"),
        "{:?}",
        output(&ran)
    );
    assert_eq!(records_in_repo(&pds).await, 1, "still one post");
    let status = site
        .herald()
        .args(["status", "--format", "json"])
        .assert()
        .success();
    let records: serde_json::Value = serde_json::from_str(&output(&status).0).unwrap();
    assert_eq!(records[0]["status"], "posted");
    assert!(
        records[0]["remote_id"]
            .as_str()
            .unwrap()
            .starts_with(&format!("at://{}/app.bsky.feed.post/", pds.did)),
        "{records}"
    );
}
