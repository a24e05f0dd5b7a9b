//! herald against real servers that install from PyPI and run offline on
//! 127.0.0.1: Synapse (Matrix) and `nostr-relay`. They are installed into
//! a virtual environment in the build folder on first use (pinned by
//! `tests/servers/requirements.txt`, about half a minute), and each test
//! starts its own with its own data and a free port.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::posting::{NOW, mount_all, seed_site};
use crate::support::{ledger_records, output, publish_at};

static INSTALL: Mutex<()> = Mutex::new(());

/// The virtual environment with the servers, made once per build folder.
fn venv() -> PathBuf {
    let _once = INSTALL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("servers-venv");
    let requirements = crate::support::repo().join("tests/servers/requirements.txt");
    let stamp = dir.join("installed.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap();
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return dir;
    }
    if !dir.join("bin/python").exists() {
        let status = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .expect("python3 (with venv) is needed for the real-server tests");
        assert!(
            status.success(),
            "python3 -m venv failed (on Debian: apt install python3-venv)"
        );
    }
    let status = Command::new(dir.join("bin/pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "pip install -r tests/servers/requirements.txt failed"
    );
    std::fs::write(&stamp, wanted).unwrap();
    dir
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (for the server process, not on a clock of the test's) until `url`
/// answers, at most 60 s.
async fn wait_for(url: &str, child: &mut Child, log: &Path) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(60) {
        if client.get(url).send().await.is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the server exited ({status}): {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the server did not answer at {url}");
}

/// A server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    /// The server's data, removed when it stops.
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn synapse() -> Server {
    let venv = venv();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let d = dir.path().display();
    let config = format!(
        "server_name: localhost
pid_file: {d}/homeserver.pid
listeners:
  - port: {port}
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources: [{{names: [client], compress: false}}]
database: {{name: sqlite3, args: {{database: {d}/homeserver.db}}}}
media_store_path: {d}/media_store
registration_shared_secret: test-shared-secret
report_stats: false
macaroon_secret_key: macaroon-secret-for-tests
form_secret: form-secret-for-tests
signing_key_path: {d}/localhost.signing.key
trusted_key_servers: []
suppress_key_server_warning: true
rc_message: {{per_second: 1000, burst_count: 1000}}
rc_login: {{address: {{per_second: 1000, burst_count: 1000}}, account: {{per_second: 1000, burst_count: 1000}}, failed_attempts: {{per_second: 1000, burst_count: 1000}}}}
"
    );
    let yaml = dir.path().join("homeserver.yaml");
    std::fs::write(&yaml, config).unwrap();
    let python = venv.join("bin/python");
    let keys = Command::new(&python)
        .args(["-m", "synapse.app.homeserver", "--generate-keys", "-c"])
        .arg(&yaml)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(keys.success(), "synapse --generate-keys failed");
    let log = dir.path().join("log.txt");
    let mut child = Command::new(&python)
        .args(["-m", "synapse.app.homeserver", "-c"])
        .arg(&yaml)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for(
        &format!("http://127.0.0.1:{port}/_matrix/client/versions"),
        &mut child,
        &log,
    )
    .await;
    Server {
        child,
        port,
        _dir: dir,
    }
}

impl Server {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Registers `user` with the shared secret and returns an access token.
    async fn matrix_user(&self, user: &str) -> String {
        let registered = Command::new(venv().join("bin/register_new_matrix_user"))
            .args([
                "-u",
                user,
                "-p",
                "a-long-password",
                "--no-admin",
                "-k",
                "test-shared-secret",
            ])
            .arg(self.url())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(registered.success(), "registering {user} failed");
        let login: Value = reqwest::Client::new()
            .post(format!("{}/_matrix/client/v3/login", self.url()))
            .json(&json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": "a-long-password"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        login["access_token"].as_str().unwrap().to_string()
    }

    async fn matrix(&self, method: reqwest::Method, path: &str, token: &str, body: Value) -> Value {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.url()))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Sets a posted row back to `pending`, as a run killed after sending
/// leaves it.
fn as_if_killed_while_sending(site: &crate::support::Site) {
    let db = rusqlite::Connection::open(site.root().join("state/herald.db")).unwrap();
    db.execute("UPDATE posts SET status = 'pending', posted_at = NULL", [])
        .unwrap();
}

#[tokio::test]
async fn matrix_on_a_real_synapse() {
    let homeserver = synapse().await;
    let token = homeserver.matrix_user("herald").await;
    let room = homeserver
        .matrix(
            reqwest::Method::POST,
            "/_matrix/client/v3/createRoom",
            &token,
            json!({}),
        )
        .await["room_id"]
        .as_str()
        .unwrap()
        .to_string();
    let images = wiremock::MockServer::start().await;
    mount_all(&images).await;
    let target = format!(
        "    - {{ name: mx, type: matrix, homeserver: \"{}\", room_id: \"{room}\", access_token: \"{token}\" }}\n",
        homeserver.url()
    );
    let site = seed_site(&images.uri(), &target);
    publish_at(&site, NOW).success();
    let record = ledger_records(&site)[0].clone();
    assert_eq!(record["status"], "posted", "{record}");

    // A run killed after sending resends under the same transaction id:
    // Synapse answers with the first event, and the room has one text.
    as_if_killed_while_sending(&site);
    publish_at(&site, NOW).success();
    assert_eq!(ledger_records(&site)[0]["remote_id"], record["remote_id"]);

    let messages = homeserver
        .matrix(
            reqwest::Method::GET,
            &format!(
                "/_matrix/client/v3/rooms/{}/messages?dir=b&limit=50",
                encode(&room)
            ),
            &token,
            Value::Null,
        )
        .await;
    let events: Vec<&Value> = messages["chunk"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "m.room.message")
        .collect();
    let texts: Vec<&&Value> = events
        .iter()
        .filter(|e| e["content"]["msgtype"] == "m.text")
        .collect();
    let images_sent: Vec<&&Value> = events
        .iter()
        .filter(|e| e["content"]["msgtype"] == "m.image")
        .collect();
    assert_eq!(texts.len(), 1, "{events:?}");
    assert_eq!(images_sent.len(), 1, "{events:?}");
    assert_eq!(texts[0]["event_id"], record["remote_id"]);
    assert!(
        texts[0]["content"]["formatted_body"]
            .as_str()
            .unwrap()
            .contains("<a href=\"https://news.example/articles/deepseek-paradigm-shift/\">")
    );
    assert!(
        images_sent[0]["content"]["url"]
            .as_str()
            .unwrap()
            .starts_with("mxc://localhost/")
    );

    // A room the token's user is not in: a clear, permanent error.
    let other = homeserver.matrix_user("someone").await;
    let closed = homeserver
        .matrix(
            reqwest::Method::POST,
            "/_matrix/client/v3/createRoom",
            &other,
            json!({"preset": "private_chat"}),
        )
        .await["room_id"]
        .as_str()
        .unwrap()
        .to_string();
    let site = seed_site(
        &images.uri(),
        &format!(
            "    - {{ name: mx, type: matrix, homeserver: \"{}\", room_id: \"{closed}\", access_token: \"{token}\" }}\n",
            homeserver.url()
        ),
    );
    let ran = publish_at(&site, NOW).code(2);
    let err = output(&ran).1;
    assert!(err.contains("M_FORBIDDEN"), "{err}");
    assert!(err.contains("must have joined the room"), "{err}");
}

async fn nostr_relay() -> Server {
    let venv = venv();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let d = dir.path().display();
    let config = format!(
        "DEBUG: false
relay_name: test relay
storage:
  sqlalchemy.url: sqlite+aiosqlite:///{d}/nostr.sqlite3
  num_concurrent_reqs: 4
  num_concurrent_adds: 1
  validators:
    - nostr_relay.validators.is_not_too_large
    - nostr_relay.validators.is_signed
    - nostr_relay.validators.is_recent
verification:
  nip05_verification: disabled
gunicorn:
  bind: 127.0.0.1:{port}
  workers: 1
  loglevel: warning
purple:
  host: 127.0.0.1
  port: {port}
  workers: 1
  disable_compression: true
authentication:
  enabled: false
message_timeout: 60
subscription_limit: 32
"
    );
    let yaml = dir.path().join("config.yaml");
    std::fs::write(&yaml, config).unwrap();
    let log = dir.path().join("log.txt");
    let mut child = Command::new(venv.join("bin/nostr-relay"))
        .arg("-c")
        .arg(&yaml)
        .arg("serve")
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for(&format!("http://127.0.0.1:{port}/"), &mut child, &log).await;
    Server {
        child,
        port,
        _dir: dir,
    }
}

/// The events with `id` the relay keeps, asked with a REQ.
async fn stored(port: u16, id: &str) -> Vec<Value> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{port}/"))
        .await
        .unwrap();
    ws.send(Message::text(
        json!(["REQ", "q", {"ids": [id]}]).to_string(),
    ))
    .await
    .unwrap();
    let mut found = Vec::new();
    while let Some(Ok(Message::Text(text))) = ws.next().await {
        let frame: Value = serde_json::from_str(text.as_str()).unwrap();
        match frame[0].as_str() {
            Some("EVENT") => found.push(frame[2].clone()),
            Some("EOSE") => break,
            _ => {}
        }
    }
    found
}

#[tokio::test]
async fn nostr_on_a_real_relay() {
    let relay = nostr_relay().await;
    let images = wiremock::MockServer::start().await;
    mount_all(&images).await;
    let site = seed_site(
        &images.uri(),
        &format!(
            "    - {{ name: nostr, type: nostr, relays: [\"ws://127.0.0.1:{}/\"], secret_key: \"7f7ff03d123792d6ac594bfa67bf6d0c0ab55b6b1fdb6249303fe861f1ccba9a\" }}\n",
            relay.port
        ),
    );
    publish_at(&site, NOW).success();
    let record = ledger_records(&site)[0].clone();
    assert_eq!(record["status"], "posted", "{record}");
    let id = record["remote_id"].as_str().unwrap().to_string();
    let events = stored(relay.port, &id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["kind"], 1);
    assert!(
        events[0]["content"]
            .as_str()
            .unwrap()
            .starts_with("The DeepSeek Paradigm Shift")
    );

    // The same event again (a killed run's resend): the relay answers
    // `false, "duplicate: …"`, which means it has it.
    as_if_killed_while_sending(&site);
    let db = rusqlite::Connection::open(site.root().join("state/herald.db")).unwrap();
    let sealed = json!({"id": id, "message": events[0]}).to_string();
    db.execute(
        "INSERT INTO target_state (target, key, value, updated_at) VALUES ('nostr', ?1, ?2, '2024-02-11T00:00:00Z')",
        rusqlite::params![format!("sealed:{}", record["idempotency_key"].as_str().unwrap_or_default()), sealed],
    )
    .unwrap();
    publish_at(&site, NOW).success();
    let after = ledger_records(&site)[0].clone();
    assert_eq!(after["status"], "posted", "{after}");
    assert_eq!(after["remote_id"], record["remote_id"]);
    assert_eq!(stored(relay.port, &id).await.len(), 1);
}
