//! Command-line behaviour: exit codes, output formats, colour.

use crate::support::{Site, output};

#[test]
fn bad_arguments_exit_1_and_help_exits_0() {
    let site = Site::new();
    site.herald()
        .arg("publish")
        .arg("--frobnicate")
        .assert()
        .code(1);
    site.herald()
        .args(["publish", "--now", "yesterday"])
        .assert()
        .code(1);
    site.herald().arg("--help").assert().code(0);
}

#[test]
fn dry_run_json_is_exactly_one_document() {
    let site = Site::new();
    site.simple("a", "2024-01-01");
    let assert = site
        .herald()
        .args(["publish", "--dry-run", "--format", "json"])
        .assert()
        .success();
    let (stdout, _) = output(&assert);
    let mut stream = serde_json::Deserializer::from_str(&stdout).into_iter::<serde_json::Value>();
    let doc = stream.next().unwrap().unwrap();
    assert!(stream.next().is_none(), "more than one document");
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["feeds"][0]["status"], "new");
    assert_eq!(
        doc["feeds"][0]["items"][0],
        "https://news.example/articles/a/"
    );
}

#[test]
fn config_comes_from_herald_config_when_no_flag_is_given() {
    let site = Site::new();
    site.simple("a", "2024-01-01");
    let mut cmd = assert_cmd::Command::cargo_bin("herald").unwrap();
    cmd.current_dir(std::env::temp_dir())
        .env("HERALD_CONFIG", site.root().join("config/herald.yaml"))
        .arg("feeds")
        .assert()
        .success();
    assert!(
        site.public("feed.xml").exists(),
        "paths resolve against the config file"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let site = Site::new();
    site.article("bad.md", "no front matter\n");
    let plain = site.herald().arg("check").assert().code(1);
    assert!(!output(&plain).0.contains('\u{1b}'));
    let coloured = site
        .herald()
        .args(["--color", "always", "check"])
        .assert()
        .code(1);
    assert!(output(&coloured).0.contains("\u{1b}["));
}

#[test]
fn check_json_counts_problems() {
    let site = Site::new();
    site.simple("a", "2024-01-01").article("bad.md", "");
    let assert = site
        .herald()
        .args(["check", "--format", "json"])
        .assert()
        .code(1);
    let doc: serde_json::Value = serde_json::from_str(&output(&assert).0).unwrap();
    assert_eq!(doc["errors"], 1);
    assert_eq!(doc["articles"], 1);
    assert_eq!(doc["problems"][0]["level"], "error");
}

/// SPEC §1: a date alone is midnight in `content.timezone`.
#[test]
fn now_as_a_date_is_midnight_in_the_content_time_zone() {
    let site = Site::with_config(
        &crate::support::BASE_CONFIG.replace("timezone: UTC", "timezone: Europe/Paris"),
    );
    site.simple("one", "2024-02-10");
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", "2024-02-11"])
        .assert()
        .success();
    assert!(
        output(&dry)
            .0
            .starts_with("Dry run at 2024-02-10 23:00:00 UTC"),
        "{}",
        output(&dry).0
    );
    let bad = site
        .herald()
        .args(["feeds", "--now", "tomorrow"])
        .assert()
        .code(1);
    assert!(
        output(&bad).1.contains("or a date such as 2024-02-10"),
        "{}",
        output(&bad).1
    );
}

/// A filter that names nothing says so, rather than "nothing due" or "no
/// posts recorded yet".
#[tokio::test]
async fn filters_that_name_nothing_say_so() {
    let server = wiremock::MockServer::start().await;
    crate::support::answer(
        &server,
        "POST",
        "/hook",
        wiremock::ResponseTemplate::new(200),
    )
    .await;
    let site = crate::support::posting_site(
        "",
        &format!(
            "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
            server.uri()
        ),
    );
    site.simple("one-article", "2024-02-10");
    crate::support::publish_at(&site, "2024-02-11T00:00:00Z").success();

    let ran = site
        .herald()
        .args(["publish", "--dry-run", "--article", "one-articel"])
        .assert()
        .code(1);
    assert!(
        output(&ran).1.contains("--article \"one-articel\" is no article's slug or permalink (did you mean \"one-article\"?)"),
        "{}",
        output(&ran).1
    );
    let status = site
        .herald()
        .args(["status", "--target", "nosuch"])
        .assert()
        .code(1);
    assert!(
        output(&status)
            .1
            .contains("--target \"nosuch\" is not a target"),
        "{}",
        output(&status).1
    );
    let none = site
        .herald()
        .args(["status", "--status", "failed"])
        .assert()
        .success();
    assert!(
        output(&none)
            .0
            .contains("no recorded post matches (the ledger has 1"),
        "{}",
        output(&none).0
    );
}

#[test]
fn completions_for_bash_zsh_and_fish_name_the_commands() {
    let site = Site::new();
    for (shell, mark) in [
        ("bash", "_herald()"),
        ("zsh", "#compdef herald"),
        ("fish", "complete -c herald"),
    ] {
        let out = site
            .herald()
            .args(["completions", shell])
            .assert()
            .success();
        let script = output(&out).0;
        assert!(script.contains(mark), "{shell}: {script}");
        for command in ["publish", "feeds", "check", "status", "run", "auth"] {
            assert!(script.contains(command), "{shell} lacks {command}");
        }
    }
    site.herald().args(["completions", "tcsh"]).assert().code(1);
}

/// `--log-format json`: every line on stderr is one JSON object.
#[test]
fn log_lines_can_be_json_for_a_collector() {
    let site = Site::new();
    site.article("bad.md", "---\ntitle: [unclosed\n---\nBody\n");
    site.simple("good", "2024-02-10");
    let ran = site
        .herald()
        .args([
            "--log-format",
            "json",
            "-vv",
            "feeds",
            "--now",
            "2024-02-11T00:00:00Z",
        ])
        .assert()
        .success();
    let err = output(&ran).1;
    let lines: Vec<&str> = err.lines().collect();
    assert!(!lines.is_empty());
    for line in lines {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        assert!(
            v["level"].is_string() && v["timestamp"].is_string(),
            "{line}"
        );
    }
}

#[test]
fn a_config_at_the_site_root_keeps_every_default_path_inside_the_site() {
    let dir = tempfile::tempdir().unwrap();
    let site = dir.path().join("site");
    std::fs::create_dir_all(site.join("content")).unwrap();
    std::fs::write(
        site.join("content/a.md"),
        "---\ntitle: A\npublish_date: 2024-01-01\n---\n\nBody.\n",
    )
    .unwrap();
    std::fs::write(
        site.join("herald.yaml"),
        "site:\n  title: T\n  url: https://x.example/\nsocial:\n  targets:\n    - { name: hook, type: webhook, url: \"https://hooks.example/h\" }\n",
    )
    .unwrap();
    assert_cmd::Command::cargo_bin("herald")
        .unwrap()
        .current_dir(dir.path())
        .args(["--config", "site/herald.yaml", "publish", "--mark-seen"])
        .assert()
        .success();
    assert!(site.join("public/feed.xml").exists());
    assert!(site.join(".herald/state.db").exists());
    // Nothing beside the site.
    let beside: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("site")]);
}

#[test]
fn a_ledger_exported_and_imported_elsewhere_is_the_same_ledger() {
    let site = crate::support::posting_site(
        "",
        "    - { name: hook, type: webhook, url: \"https://hooks.example/h\" }\n",
    );
    site.simple("a", "2024-02-10");
    site.simple("b", "2024-02-10");
    site.herald()
        .args(["publish", "--mark-seen", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .success();
    let export = site.herald().args(["ledger", "export"]).assert().success();
    let (lines, stderr) = output(&export);
    assert!(
        stderr.contains("exported 1 meta, 2 posts, 0 target_state"),
        "{stderr}"
    );
    assert_eq!(lines.lines().count(), 4, "{lines}");
    site.herald()
        .args(["ledger", "export", "--output", "backup.jsonl"])
        .assert()
        .success();
    let backup = site.root().join("backup.jsonl");
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), lines);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&backup).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let before = crate::support::ledger_records(&site);

    // Another machine: the same site, no ledger yet.
    std::fs::remove_dir_all(site.root().join("state")).unwrap();
    site.herald()
        .args(["ledger", "import", "backup.jsonl"])
        .assert()
        .success();
    assert_eq!(crate::support::ledger_records(&site), before);
    // Nothing is posted again, and a second import is refused.
    let run = site
        .herald()
        .args(["publish", "--dry-run", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .success();
    assert!(
        output(&run).0.contains("hook (webhook): nothing due"),
        "{}",
        output(&run).0
    );
    let again = site
        .herald()
        .args(["ledger", "import", "backup.jsonl"])
        .assert()
        .code(1);
    assert!(
        output(&again).1.contains("import only into a new ledger"),
        "{}",
        output(&again).1
    );
}
