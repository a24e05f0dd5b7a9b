//! A temporary site (config + content + public) and the binary run on it.

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The repository root, where the example config and content live.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A site in a temporary folder: `config/herald.yaml`, `content/`, `public/`.
pub struct Site {
    pub dir: tempfile::TempDir,
}

pub const BASE_CONFIG: &str = "site:
  title: Test Site
  url: https://news.example/
  description: Test news
  language: en
  author: { name: Test Desk, email: desk@news.example }
content:
  dir: ../content
  timezone: UTC
feeds:
  dir: ../public
";

impl Site {
    pub fn new() -> Self {
        Self::with_config(BASE_CONFIG)
    }

    pub fn with_config(config: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::create_dir_all(dir.path().join("config")).unwrap();
        fs::create_dir_all(dir.path().join("content")).unwrap();
        let site = Site { dir };
        site.write_config(config);
        site
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn write_config(&self, text: &str) {
        fs::write(self.root().join("config/herald.yaml"), text).unwrap();
    }

    pub fn article(&self, name: &str, text: impl AsRef<[u8]>) -> &Self {
        let path = self.root().join("content").join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
        self
    }

    /// A valid article with a title and date.
    pub fn simple(&self, slug: &str, date: &str) -> &Self {
        self.article(
            &format!("{slug}.md"),
            format!("---\ntitle: Article {slug}\npublish_date: {date}\ndescription: About {slug}.\n---\n\nBody of {slug}.\n"),
        )
    }

    pub fn public(&self, name: &str) -> PathBuf {
        self.root().join("public").join(name)
    }

    pub fn read_public(&self, name: &str) -> String {
        fs::read_to_string(self.public(name))
            .unwrap_or_else(|e| panic!("reading public/{name}: {e}"))
    }

    /// `herald --config config/herald.yaml ARGS`, run from the site's root.
    pub fn herald(&self) -> Command {
        let mut cmd = Command::cargo_bin("herald").expect("binary");
        cmd.current_dir(self.root())
            .env_remove("HERALD_CONFIG")
            .env_remove("HERALD_LOG")
            .env("NO_COLOR", "1")
            .arg("--config")
            .arg("config/herald.yaml");
        cmd
    }
}

/// stdout and stderr of a finished command, as text.
pub fn output(assert: &assert_cmd::assert::Assert) -> (String, String) {
    let out = assert.get_output();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Makes a file or folder immutable (even root cannot write it) for the
/// guard's life; `None` where the file system has no such attribute.
pub struct Immutable(std::path::PathBuf);

impl Immutable {
    pub fn new(path: &std::path::Path) -> Option<Self> {
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Immutable(path.to_path_buf()))
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

/// `herald publish --now NOW` on `site`.
pub fn publish_at(site: &Site, now: &str) -> assert_cmd::assert::Assert {
    site.herald().args(["publish", "--now", now]).assert()
}

/// Answers `method path` on `server` with `response`, for as long as the
/// server lives.
pub async fn answer(
    server: &wiremock::MockServer,
    method: &str,
    path: &str,
    response: wiremock::ResponseTemplate,
) {
    wiremock::Mock::given(wiremock::matchers::method(method))
        .and(wiremock::matchers::path(path))
        .respond_with(response)
        .mount(server)
        .await;
}

/// `herald feeds --now NOW` on `site`.
pub fn feeds_at(site: &Site, now: &str) -> assert_cmd::assert::Assert {
    site.herald().args(["feeds", "--now", now]).assert()
}

/// A site that posts: `social` holds extra lines under `social:` (each
/// indented two spaces), `targets` the lines under `targets:`. Images may be
/// on loopback, retries start at 10 ms, the ledger is `state/herald.db`.
pub fn posting_site(social: &str, targets: &str) -> Site {
    Site::with_config(&posting_config(social, targets, ""))
}

/// The config of `posting_site`, with `more` top-level sections.
pub fn posting_config(social: &str, targets: &str, more: &str) -> String {
    let targets = if targets.is_empty() {
        " []\n".to_string()
    } else {
        format!("\n{targets}")
    };
    let retry_base = if social.contains("retry_base:") {
        ""
    } else {
        "  retry_base: 10ms\n"
    };
    format!(
        "{BASE_CONFIG}social:\n  allow_private_network: true\n{retry_base}{social}  targets:{targets}{more}state:\n  path: ../state/herald.db\n"
    )
}

/// A request the scripted transport received, and when on tokio's clock.
#[derive(Debug, Clone)]
pub struct Sent {
    pub at: tokio::time::Instant,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Sent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// What the scripted transport answers.
#[derive(Debug, Clone)]
pub enum Answer {
    /// A status, headers and a body.
    Http(u16, Vec<(&'static str, String)>, String),
    /// A timeout after the request went out.
    Timeout,
}

impl Answer {
    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer::Http(status, Vec::new(), body.to_string())
    }
}

/// A transport that answers from a script, without sockets, so a test can
/// run a whole publish on tokio's paused clock. Each rule answers requests
/// whose URL path ends with its suffix, in turn; its last answer repeats.
#[derive(Default)]
pub struct Scripted {
    rules: std::sync::Mutex<Vec<(String, std::collections::VecDeque<Answer>)>>,
    pub sent: std::sync::Mutex<Vec<Sent>>,
}

impl Scripted {
    pub fn new() -> std::sync::Arc<Scripted> {
        std::sync::Arc::new(Scripted::default())
    }

    /// Answers requests to a path ending in `suffix` with `answers`, in turn.
    pub fn on(&self, suffix: &str, answers: Vec<Answer>) {
        self.rules
            .lock()
            .unwrap()
            .push((suffix.to_string(), answers.into()));
    }

    pub fn sent(&self) -> Vec<Sent> {
        self.sent.lock().unwrap().clone()
    }

    fn answer(&self, path: &str) -> Answer {
        let mut rules = self.rules.lock().unwrap();
        let Some((_, answers)) = rules.iter_mut().find(|(s, _)| path.ends_with(s.as_str())) else {
            return Answer::Http(404, Vec::new(), format!("no rule for {path}"));
        };
        if answers.len() > 1 {
            answers.pop_front().unwrap()
        } else {
            answers
                .front()
                .cloned()
                .unwrap_or(Answer::Http(500, Vec::new(), String::new()))
        }
    }
}

impl herald::social::transport::Transport for Scripted {
    fn send(
        &self,
        request: herald::social::http::Outgoing,
        _timeout: std::time::Duration,
    ) -> futures_util::future::BoxFuture<
        '_,
        Result<herald::social::http::Response, herald::social::http::DeliveryError>,
    > {
        use herald::social::http::{DeliveryError, OutgoingBody, Response};
        let body = match &request.body {
            OutgoingBody::Bytes { bytes, .. } => bytes.as_ref().clone(),
            _ => Vec::new(),
        };
        let path = url::Url::parse(&request.url)
            .map_or_else(|_| request.url.clone(), |u| u.path().to_string());
        self.sent.lock().unwrap().push(Sent {
            at: tokio::time::Instant::now(),
            method: format!("{:?}", request.method).to_uppercase(),
            url: request.url.clone(),
            headers: request.headers.clone(),
            body,
        });
        let answer = self.answer(&path);
        Box::pin(async move {
            match answer {
                Answer::Timeout => Err(DeliveryError::MaybeDelivered {
                    message: "timed out waiting for the answer".to_string(),
                    after: None,
                }),
                Answer::Http(status, headers, body) => Ok(Response {
                    status,
                    headers: headers
                        .into_iter()
                        .map(|(k, v)| (k.to_ascii_lowercase(), v))
                        .collect(),
                    body: body.into_bytes(),
                }),
            }
        })
    }
}

/// Hero images for in-process runs: a small JPEG for any `.jpg` URL, and
/// a failed fetch for anything else.
pub struct StubImages;

impl herald::social::image::Images for StubImages {
    fn image<'a>(
        &'a self,
        url: &'a url::Url,
    ) -> futures_util::future::BoxFuture<
        'a,
        Result<std::sync::Arc<herald::social::image::ImageData>, String>,
    > {
        Box::pin(async move {
            if !url.path().ends_with(".jpg") {
                return Err(format!("hero image {url} answered HTTP 404"));
            }
            Ok(std::sync::Arc::new(herald::social::image::ImageData {
                url: url.clone(),
                content_type: "image/jpeg".to_string(),
                bytes: std::sync::Arc::new(crate::posting::jpeg()),
            }))
        })
    }
}

/// `herald publish --now NOW` run in this process over `transport`, on
/// whatever clock the test runs (tokio's paused one, mostly).
pub async fn publish_in_process(
    site: &Site,
    now: &str,
    transport: std::sync::Arc<Scripted>,
) -> herald::publish::RunReport {
    let stop = std::sync::Arc::new(herald::social::driver::Stop::default());
    publish_in_process_with_stop(site, now, transport, stop).await
}

/// `publish_in_process`, with a stop the test can request.
pub async fn publish_in_process_with_stop(
    site: &Site,
    now: &str,
    transport: std::sync::Arc<Scripted>,
    stop: std::sync::Arc<herald::social::driver::Stop>,
) -> herald::publish::RunReport {
    let config = herald::config::load(&site.root().join("config/herald.yaml")).expect("config");
    let services = herald::publish::Services {
        transport,
        sockets: std::sync::Arc::new(herald::social::socket::WsSockets),
        images: std::sync::Arc::new(StubImages),
        stop,
        progress: None,
    };
    let request = herald::publish::RunRequest {
        mode: herald::publish::Mode::Publish,
        now: Some(chrono::DateTime::parse_from_rfc3339(now).unwrap().to_utc()),
        options: herald::publish::PostOptions::default(),
        preview: None,
        wait: None,
    };
    herald::publish::run(std::sync::Arc::new(config), request, &services)
        .await
        .expect("the run")
}

/// `herald status --format json` on `site`: the ledger's rows.
pub fn ledger_records(site: &Site) -> Vec<serde_json::Value> {
    let assert = site
        .herald()
        .args(["status", "--format", "json"])
        .assert()
        .success();
    serde_json::from_str(&output(&assert).0).expect("status JSON")
}

/// Reads one HTTP message (its headers, then `Content-Length` bytes of
/// body) from a stand-in's connection; `None` if it ends first.
pub async fn read_http_message(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut message = Vec::new();
    let mut buf = [0u8; 16384];
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        message.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&message);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                })
                .unwrap_or(0);
            if message.len() >= end + 4 + length {
                return Some(message);
            }
        }
    }
}

/// The requests `server` received at a path ending in `suffix`, in order.
pub async fn requests_at(server: &wiremock::MockServer, suffix: &str) -> Vec<wiremock::Request> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path().ends_with(suffix))
        .collect()
}

/// How many requests `server` received at a path ending in `suffix`.
pub async fn requests_to(server: &wiremock::MockServer, suffix: &str) -> usize {
    requests_at(server, suffix).await.len()
}
