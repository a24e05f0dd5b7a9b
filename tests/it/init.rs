//! `herald init`: a first config for a Hugo, Jekyll, Zola, Eleventy, Astro
//! or plain Markdown site, with paths that resolve from the site, checked.

use std::fs;
use std::path::Path;

use assert_cmd::Command;

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

const POST: &str = "---\ntitle: First post\ndate: 2024-02-10\n---\n\nHello.\n";

/// Runs `herald init DIR` from elsewhere; returns stderr and the config.
fn init(dir: &Path) -> (bool, String, String) {
    let out = Command::cargo_bin("herald")
        .unwrap()
        .current_dir(std::env::temp_dir())
        .env("NO_COLOR", "1")
        .env_remove("HERALD_CONFIG")
        .arg("init")
        .arg(dir)
        .output()
        .unwrap();
    let config = fs::read_to_string(dir.join("herald.yaml")).unwrap_or_default();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        config,
    )
}

/// The site's dry run, from another working directory.
fn dry_run(dir: &Path) -> String {
    let out = Command::cargo_bin("herald")
        .unwrap()
        .current_dir(std::env::temp_dir())
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(dir.join("herald.yaml"))
        .args(["publish", "--dry-run", "--now", "2024-02-11T00:00:00Z"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn hugo() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "hugo.toml",
        "baseURL = 'https://blog.example/'\nlanguageCode = 'fr'\ntitle = 'Mon blog'\n",
    );
    write(dir.path(), "content/posts/first.md", POST);
    let (ok, err, config) = init(dir.path());
    assert!(ok, "{err}");
    assert!(err.contains("found Hugo"), "{err}");
    for line in [
        "title: \"Mon blog\"",
        "url: \"https://blog.example/\"",
        "language: \"fr\"",
        "dir: \"content/posts\"",
        "dir: \"static\"",
        "permalink: \"/posts/{slug}/\"",
    ] {
        assert!(config.contains(line), "{line} in {config}");
    }
    let plan = dry_run(dir.path());
    assert!(plan.contains("First post"), "{plan}");
    assert!(plan.contains("https://blog.example/posts/first/"), "{plan}");
}

#[test]
fn jekyll() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "_config.yml",
        "title: Jekyll Notes\nurl: https://notes.example\nbaseurl: /blog\nlang: en-GB\n",
    );
    write(dir.path(), "_posts/2024-02-10-first.md", POST);
    let (ok, err, config) = init(dir.path());
    assert!(ok, "{err}");
    assert!(
        config.contains("url: \"https://notes.example/blog/\""),
        "{config}"
    );
    assert!(config.contains("dir: \"_posts\""), "{config}");
    assert!(config.contains("language: \"en-GB\""), "{config}");
    assert!(dry_run(dir.path()).contains("First post"));
}

#[test]
fn zola() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "config.toml",
        "base_url = \"https://zola.example\"\ntitle = \"Zola site\"\ndefault_language = \"de\"\n",
    );
    write(
        dir.path(),
        "content/blog/first.md",
        "+++\ntitle = \"x\"\n+++\n",
    );
    write(dir.path(), "content/blog/second.md", POST);
    let (ok, err, config) = init(dir.path());
    assert!(err.contains("found Zola"), "{err}");
    assert!(config.contains("dir: \"content/blog\""), "{config}");
    assert!(config.contains("title: \"Zola site\""), "{config}");
    // Zola's TOML front matter is not herald's: check names the file.
    let _ = ok;
}

#[test]
fn eleventy_astro_and_plain() {
    let eleventy = tempfile::tempdir().unwrap();
    write(
        eleventy.path(),
        "eleventy.config.js",
        "module.exports = {};\n",
    );
    write(eleventy.path(), "src/posts/first.md", POST);
    let (ok, err, config) = init(eleventy.path());
    assert!(ok, "{err}");
    assert!(err.contains("found Eleventy"), "{err}");
    assert!(config.contains("dir: \"src/posts\""), "{config}");
    assert!(config.contains("dir: \"_site\""), "{config}");

    let astro = tempfile::tempdir().unwrap();
    write(
        astro.path(),
        "astro.config.mjs",
        "import { defineConfig } from 'astro/config';\nexport default defineConfig({ site: 'https://astro.example' });\n",
    );
    write(astro.path(), "src/content/blog/first.md", POST);
    let (ok, err, config) = init(astro.path());
    assert!(ok, "{err}");
    assert!(
        config.contains("url: \"https://astro.example/\""),
        "{config}"
    );
    assert!(config.contains("dir: \"src/content/blog\""), "{config}");
    assert!(config.contains("dir: \"public\""), "{config}");

    let plain = tempfile::tempdir().unwrap();
    write(plain.path(), "posts/first.md", POST);
    let (ok, err, config) = init(plain.path());
    assert!(ok, "{err}");
    assert!(err.contains("found a plain folder of Markdown"), "{err}");
    assert!(err.contains("set site.url"), "{err}");
    assert!(config.contains("dir: \"posts\""), "{config}");
    assert!(dry_run(plain.path()).contains("First post"));
}

#[test]
fn an_existing_config_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "herald.yaml", "# mine\n");
    let (ok, err, config) = init(dir.path());
    assert!(!ok);
    assert!(err.contains("exists already"), "{err}");
    assert_eq!(config, "# mine\n");
}
