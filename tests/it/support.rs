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
