//! Bad input gets a clear error and loses nothing: each broken article is
//! named with its line and left out, and the good article still reaches the
//! feeds.

use std::fs;

use crate::support::{BASE_CONFIG, Site, feeds_at, output};

const NOW: &str = "2026-01-01T00:00:00Z";

/// Runs `check` and `feeds` on a site holding one good article and `bad`,
/// and returns check's stdout and feeds' stderr.
fn with_bad_article(name: &str, bad: impl AsRef<[u8]>) -> (Site, String, String) {
    let site = Site::new();
    site.simple("good", "2024-01-01").article(name, bad);
    let check = site.herald().arg("check").assert().code(1);
    let (check_out, _) = output(&check);
    let feeds = feeds_at(&site, NOW).success();
    let (_, feeds_err) = output(&feeds);
    let atom = site.read_public("atom.xml");
    assert!(
        atom.contains("https://news.example/articles/good/"),
        "the good article is lost"
    );
    assert!(
        feeds_err.contains(&format!("content/{name}")),
        "feeds must name the invalid file on stderr: {feeds_err}"
    );
    (site, check_out, feeds_err)
}

fn expect(name: &str, bad: impl AsRef<[u8]>, location: &str, needle: &str) {
    let (_, check_out, _) = with_bad_article(name, bad);
    let line = check_out
        .lines()
        .find(|l| l.contains(": error: "))
        .unwrap_or_else(|| panic!("no error for {name}: {check_out}"));
    assert!(
        line.starts_with(&format!("content/{name}:{location}: error: ")),
        "{line}"
    );
    assert!(line.contains(needle), "{line}");
}

#[test]
fn empty_file() {
    expect("empty.md", "", "1:1", "the file is empty");
}

#[test]
fn no_front_matter() {
    expect(
        "plain.md",
        "# Title\n\nJust text.\n",
        "1:1",
        "no front matter",
    );
}

#[test]
fn unclosed_front_matter() {
    expect(
        "open.md",
        "---\ntitle: A\npublish_date: 2024-01-01\n\nBody\n",
        "1:1",
        "did you forget the closing `---`?",
    );
}

#[test]
fn front_matter_that_is_a_list() {
    expect(
        "list.md",
        "---\n- title\n- date\n---\nBody\n",
        "2:1",
        "must be a mapping",
    );
}

#[test]
fn missing_title() {
    expect(
        "untitled.md",
        "---\npublish_date: 2024-01-01\n---\nBody\n",
        "1:1",
        "missing `title`",
    );
}

#[test]
fn missing_publish_date() {
    expect(
        "undated.md",
        "---\ntitle: A\n---\nBody\n",
        "1:1",
        "missing `publish_date`",
    );
}

#[test]
fn unparsable_publish_date() {
    expect(
        "baddate.md",
        "---\ntitle: A\npublish_date: next Tuesday\n---\nBody\n",
        "3:1",
        "expected YYYY-MM-DD or an RFC 3339 date-time",
    );
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    expect(
        "yaml.md",
        "---\ntitle: A\npublish_date: 2024-01-01\ntags: [a, b\n---\nBody\n",
        "4:7",
        "invalid YAML",
    );
}

#[test]
fn non_utf8_bytes() {
    let mut bytes = b"---\ntitle: Caf".to_vec();
    bytes.extend([0xE9, b'\n']);
    bytes.extend(b"publish_date: 2024-01-01\n---\nBody\n");
    expect("latin1.md", bytes, "2:11", "not valid UTF-8 (byte 0xE9)");
}

#[test]
fn non_utf8_bytes_in_the_body() {
    let mut bytes = b"---\ntitle: A\npublish_date: 2024-01-01\n---\nline one\nbad ".to_vec();
    bytes.push(0xFF);
    expect("badbody.md", bytes, "6:5", "not valid UTF-8 (byte 0xFF)");
}

#[test]
fn duplicate_permalinks_are_errors_in_both_files() {
    let site = Site::new();
    site.simple("good", "2024-01-01")
        .article(
            "one.md",
            "---\ntitle: One\npublish_date: 2024-01-02\nslug: same\n---\nx\n",
        )
        .article(
            "two.md",
            "---\ntitle: Two\npublish_date: 2024-01-03\nslug: same\n---\ny\n",
        );
    let check = site.herald().arg("check").assert().code(1);
    let (out, _) = output(&check);
    assert!(out.contains("content/one.md:1:1: error: permalink https://news.example/articles/same/ is also claimed by content/two.md"), "{out}");
    assert!(out.contains("content/two.md:1:1: error: permalink https://news.example/articles/same/ is also claimed by content/one.md"), "{out}");
    feeds_at(&site, NOW).success();
    let atom = site.read_public("atom.xml");
    assert!(!atom.contains("/articles/same/"), "neither is published");
    assert!(atom.contains("/articles/good/"));
}

#[test]
fn control_characters_in_a_title_are_removed_with_a_warning() {
    let site = Site::new();
    site.article(
        "ctl.md",
        "---\ntitle: \"Null\\0 and bell\\a here\"\npublish_date: 2024-01-01\n---\nBody\n",
    );
    let check = site.herald().arg("check").assert().success();
    assert!(
        output(&check)
            .0
            .contains("content/ctl.md:2:1: warning: the title contains control characters")
    );
    feeds_at(&site, NOW).success();
    for name in ["feed.xml", "atom.xml", "feed.json"] {
        let text = site.read_public(name);
        assert!(text.contains("Null and bell here"), "{name}");
        assert!(!text.contains('\u{0}') && !text.contains('\u{7}'), "{name}");
    }
}

#[test]
fn a_raw_control_character_in_yaml_is_an_error_with_its_position() {
    expect(
        "rawctl.md",
        "---\ntitle: Bad \u{1} title\npublish_date: 2024-01-01\n---\nBody\n",
        "2:8",
        "invalid YAML",
    );
}

#[test]
fn a_five_megabyte_body_is_published() {
    let site = Site::new();
    let paragraph = "A sentence of a long article, repeated to fill the body. ".repeat(20) + "\n\n";
    let body = paragraph.repeat(5 * 1024 * 1024 / paragraph.len() + 1);
    site.article(
        "huge.md",
        format!("---\ntitle: Huge\npublish_date: 2024-01-01\n---\n{body}"),
    );
    site.herald().arg("check").assert().success();
    feeds_at(&site, NOW).success();
    let json = site.read_public("feed.json");
    assert!(
        json.len() > 5 * 1024 * 1024,
        "the whole body is in the feed"
    );
}

#[test]
fn files_over_the_size_limit_are_refused() {
    let config = BASE_CONFIG.replace(
        "  timezone: UTC\n",
        "  timezone: UTC\n  max_file_size: 1KB\n",
    );
    let site = Site::with_config(&config);
    site.simple("good", "2024-01-01");
    site.article(
        "big.md",
        format!(
            "---\ntitle: Big\npublish_date: 2024-01-01\n---\n{}",
            "x".repeat(2000)
        ),
    );
    let check = site.herald().arg("check").assert().code(1);
    let (out, _) = output(&check);
    assert!(out.contains("content/big.md: error: the file is "), "{out}");
    assert!(
        out.contains("bytes, over content.max_file_size (1000 bytes)"),
        "{out}"
    );
}

#[test]
fn a_hero_image_that_is_not_http_is_dropped_with_a_warning() {
    let site = Site::new();
    site.article(
        "hero.md",
        "---\ntitle: Hero\npublish_date: 2024-01-01\nheroImage: ftp://files.example/a.jpg\n---\nBody\n",
    );
    let check = site.herald().arg("check").assert().success();
    assert!(output(&check).0.contains("content/hero.md:4:1: warning: heroImage \"ftp://files.example/a.jpg\" is not an http(s) URL"));
    feeds_at(&site, NOW).success();
    assert!(!site.read_public("feed.xml").contains("ftp://"));
}

#[test]
fn a_relative_hero_image_is_resolved_against_the_permalink() {
    let site = Site::new();
    site.article(
        "rel.md",
        "---\ntitle: Rel\npublish_date: 2024-01-01\nheroImage: /images/rel.png\n---\nBody\n",
    );
    feeds_at(&site, NOW).success();
    let json: serde_json::Value = serde_json::from_str(&site.read_public("feed.json")).unwrap();
    assert_eq!(
        json["items"][0]["image"],
        "https://news.example/images/rel.png"
    );
}

// --- config -----------------------------------------------------------------

fn config_error(config: &str) -> String {
    let site = Site::with_config(config);
    site.simple("a", "2024-01-01");
    let assert = feeds_at(&site, NOW).code(1);
    assert!(!site.root().join("public").exists(), "nothing is written");
    output(&assert).1
}

#[test]
fn config_with_an_unknown_key() {
    let err =
        config_error(&BASE_CONFIG.replace("  dir: ../public\n", "  dir: ../public\n  limt: 5\n"));
    assert_eq!(
        err.trim(),
        "config/herald.yaml:12:3: error: feeds.limt: unknown key `limt`; did you mean `limit`?"
    );
}

#[test]
fn config_with_a_relative_site_url() {
    let err = config_error(&BASE_CONFIG.replace("https://news.example/", "/news/"));
    assert!(
        err.starts_with("config/herald.yaml:3:8: error: site.url: \"/news/\" is not a valid URL"),
        "{err}"
    );
    assert!(err.contains("it must be absolute"), "{err}");
}

#[test]
fn config_with_an_unknown_timezone() {
    let err = config_error(&BASE_CONFIG.replace("timezone: UTC", "timezone: Europe/Pari"));
    assert!(
        err.contains(
            "content.timezone: unknown time zone \"Europe/Pari\"; did you mean `Europe/Paris`?"
        ),
        "{err}"
    );
}

#[test]
fn config_with_a_word_for_a_number() {
    let err = config_error(
        &BASE_CONFIG.replace("  dir: ../public\n", "  dir: ../public\n  limit: ten\n"),
    );
    assert!(
        err.contains("feeds.limit: expected a positive number, found \"ten\""),
        "{err}"
    );
}

#[test]
fn a_missing_content_dir() {
    let site = Site::new();
    fs::remove_dir(site.root().join("content")).unwrap();
    let assert = site.herald().arg("feeds").assert().code(1);
    let err = output(&assert).1;
    assert!(
        err.contains("content.dir content: no such folder (a relative content.dir is resolved against the config file's folder, config"),
        "{err}"
    );
    let check = site.herald().arg("check").assert().code(1);
    assert!(output(&check).0.contains("content: error: no such folder"));
}

#[test]
fn a_missing_config_file() {
    let site = Site::new();
    let mut cmd = assert_cmd::Command::cargo_bin("herald").unwrap();
    cmd.current_dir(site.root())
        .args(["--config", "nowhere.yaml", "check"]);
    let assert = cmd.assert().code(1);
    assert!(
        output(&assert)
            .0
            .contains("nowhere.yaml: error: cannot read the config file")
    );
}

#[test]
fn an_output_dir_that_cannot_be_created() {
    let site = Site::with_config(&BASE_CONFIG.replace("dir: ../public", "dir: ../blocker/public"));
    site.simple("a", "2024-01-01");
    fs::write(
        site.root().join("blocker"),
        "a file where a folder should be",
    )
    .unwrap();
    let assert = site.herald().arg("feeds").assert().code(1);
    let err = output(&assert).1;
    assert!(
        err.contains("cannot write blocker/public/feed.xml"),
        "{err}"
    );
}

/// A write that fails halfway (here: the file size limit, as a full disk
/// would) leaves the previous feed files exactly as they were.
#[test]
fn a_failed_write_leaves_the_old_feed_files_intact() {
    let site = Site::new();
    site.simple("a", "2024-01-01");
    feeds_at(&site, NOW).success();
    let old: Vec<Vec<u8>> = ["feed.xml", "atom.xml", "feed.json"]
        .iter()
        .map(|n| fs::read(site.public(n)).unwrap())
        .collect();
    let big = "Long body text. ".repeat(2000);
    site.article(
        "b.md",
        format!("---\ntitle: B\npublish_date: 2024-01-02\n---\n{big}\n"),
    );
    let herald = assert_cmd::cargo::cargo_bin("herald");
    let status = std::process::Command::new("bash")
        .current_dir(site.root())
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 8; exec \"$0\" --config config/herald.yaml feeds --now 2026-01-01T00:00:00Z",
        ])
        .arg(&herald)
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        stderr.contains("the previous file is left as it was"),
        "{stderr}"
    );
    for (name, old) in ["feed.xml", "atom.xml", "feed.json"].iter().zip(old) {
        assert_eq!(fs::read(site.public(name)).unwrap(), old, "{name} changed");
    }
    let leftovers: Vec<String> = fs::read_dir(site.root().join("public"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn tags_that_try_to_escape_stay_inside_the_feeds_folder() {
    let site = Site::with_config(&format!("{BASE_CONFIG}  per_tag: true\n"));
    site.article(
        "evil.md",
        "---\ntitle: Evil\npublish_date: 2024-01-01\ntags: [\"../../etc\", \"/abs/path\", \"a\\0b\", \"CON\", \"..\"]\n---\nBody\n",
    );
    feeds_at(&site, NOW).success();
    let mut dirs: Vec<String> = fs::read_dir(site.root().join("public/tags"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert_eq!(dirs, ["ab", "abs-path", "con-tag", "etc", "untitled"]);
    let mut everything: Vec<String> = walk(site.root())
        .into_iter()
        .map(|p| p.display().to_string())
        .collect();
    everything.retain(|p| !p.contains("/content/") && !p.contains("/config/"));
    // herald's own state folder holds the front-matter cache and the feed
    // memo.
    everything.retain(|p| {
        !p.ends_with("/.herald/state.articles.cache") && !p.ends_with("/.herald/state.feeds.memo")
    });
    assert!(
        everything.iter().all(|p| p.contains("/public/")),
        "{everything:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn symbolic_links_out_of_the_content_folder_are_not_followed() {
    let site = Site::new();
    site.simple("inside", "2024-01-01");
    let outside = tempfile::tempdir().unwrap();
    fs::write(
        outside.path().join("secret.md"),
        "---\ntitle: Outside\npublish_date: 2024-01-01\n---\nprivate notes\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("secret.md"),
        site.root().join("content/leak.md"),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path(), site.root().join("content/leakdir")).unwrap();
    std::os::unix::fs::symlink(
        site.root().join("content/inside.md"),
        site.root().join("content/alias.md"),
    )
    .unwrap();
    let check = site.herald().arg("check").assert().success();
    let out = output(&check).0;
    assert!(out.contains("content/leak.md: warning: skipped: a symbolic link to a place outside the content folder is not followed"), "{out}");
    assert!(out.contains("content/leakdir: warning: skipped"), "{out}");
    // A link inside the folder is read (and here duplicates a permalink only
    // through its own slug, which differs).
    feeds_at(&site, NOW).success();
    let atom = site.read_public("atom.xml");
    assert!(!atom.contains("Outside") && !atom.contains("private notes"));
    assert!(
        atom.contains("/articles/alias/"),
        "a link inside the folder is followed"
    );
}

/// A read-only feeds folder (immutable: binding even for root): the run
/// says which file it cannot write and the previous feeds stay as they were.
#[test]
fn a_read_only_feeds_folder_keeps_the_previous_feeds() {
    let site = Site::new();
    site.simple("a", "2024-01-01");
    feeds_at(&site, NOW).success();
    let old = site.read_public("atom.xml");
    site.simple("b", "2024-01-02");
    let guard = crate::support::Immutable::new(&site.root().join("public"));
    if guard.is_none() {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(
            site.root().join("public"),
            fs::Permissions::from_mode(0o555),
        )
        .unwrap();
    }
    let assert = feeds_at(&site, NOW).code(1);
    let err = output(&assert).1;
    assert!(
        err.contains("cannot write public/atom.xml")
            && err.contains("the previous file is left as it was"),
        "{err}"
    );
    drop(guard);
    assert_eq!(site.read_public("atom.xml"), old);
}

/// The YAML library's wording, which speaks to its own users, is said in
/// herald's: a tab, a key given twice, an unquoted colon.
#[test]
fn yaml_mistakes_are_explained_for_people() {
    let tab = config_error("site:\n\ttitle: T\n  url: https://a.example/\n");
    assert!(
        tab.contains(":2:2: error: a tab in the indentation: YAML is indented with spaces only"),
        "{tab}"
    );
    let twice = config_error(
        "site: {title: T, url: 'https://a.example/'}\nfeeds: {limit: 3}\nfeeds: {limit: 4}\n",
    );
    assert!(
        twice.contains(":3:1: error: the key `feeds` is given twice; keep one of them"),
        "{twice}"
    );
    let colon = config_error("site:\n  title: Notes: a blog\n  url: https://a.example/\n");
    assert!(
        colon.contains("site: a `: ` inside a value: quote the value"),
        "{colon}"
    );
}
