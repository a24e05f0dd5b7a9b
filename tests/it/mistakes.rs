//! Mistakes in the config are found by `check` and the dry run, named by
//! key, variable and line, and never taken for network trouble: nothing is
//! sent and no attempt is used.

use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::posting::NOW;
use crate::support::{ledger_records, output, posting_config, posting_site, publish_at};

/// Bug: a header value that is not valid, or a secret URL that is not a
/// URL, failed while the request was built, was classified as a network
/// error and burned `max_attempts`; `check` said nothing though the
/// variable was set.
#[tokio::test]
async fn secrets_that_cannot_make_a_request_are_named_and_cost_nothing() {
    let server = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site(
        "",
        &format!(
            "    - name: hooks\n      type: webhook\n      url: \"{}/hook\"\n      headers:\n        X-Key: \"${{HOOK_KEY}}\"\n    - name: slack\n      type: slack\n      url: \"${{SLACK_URL}}\"\n",
            server.uri()
        ),
    );
    site.simple("a", "2024-02-10");
    let with_env = |cmd: &mut assert_cmd::Command| {
        cmd.env("HOOK_KEY", "first line\nsecond line")
            .env("SLACK_URL", "hooks.slack.com/services/T/B/X");
    };

    let mut check = site.herald();
    with_env(&mut check);
    let checked = check.arg("check").assert().code(1);
    let stdout = output(&checked).0;
    assert!(
        stdout.contains("config/herald.yaml:19:7: error: social.targets[0].headers.X-Key: ${HOOK_KEY} is not a valid header value"),
        "{stdout}"
    );
    assert!(
        stdout.contains("config/herald.yaml:23:7: error: social.targets[1].url: ${SLACK_URL} is not an absolute http(s) URL"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("second line"),
        "values never print: {stdout}"
    );

    let mut dry = site.herald();
    with_env(&mut dry);
    let planned = dry
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .success();
    let plan = output(&planned).0;
    assert!(
        plan.contains(
            "error: would fail: social.targets[1].url: ${SLACK_URL} is not an absolute http(s) URL"
        ),
        "{plan}"
    );

    for _ in 0..3 {
        let mut run = site.herald();
        with_env(&mut run);
        let ran = run.args(["publish", "--now", NOW]).assert().code(2);
        let stderr = output(&ran).1;
        assert!(
            stderr.contains("social.targets[0].headers.X-Key (${HOOK_KEY})"),
            "{stderr}"
        );
    }
    assert!(
        server.received_requests().await.unwrap().is_empty(),
        "nothing is sent"
    );
    for record in ledger_records(&site) {
        assert_eq!(record["status"], "failed");
        assert_eq!(record["attempts"], 0, "no attempt used: {record}");
        assert!(
            record["last_error"]
                .as_str()
                .unwrap()
                .contains("nothing was sent"),
            "{record}"
        );
    }

    // Fixed, it posts at once: no attempt was spent on the mistake.
    let mut fixed = site.herald();
    fixed
        .env("HOOK_KEY", "key")
        .env("SLACK_URL", format!("{}/slack", server.uri()));
    fixed.args(["publish", "--now", NOW]).assert().success();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Bug: `check` accepted a cron expression that `run` then rejected.
#[test]
fn a_cron_expression_run_cannot_use_fails_check_too() {
    for cron in ["0 0 30 2 *", "61 * * * *"] {
        let site = crate::support::Site::with_config(&posting_config(
            "",
            "",
            &format!("schedule:\n  cron: \"{cron}\"\n"),
        ));
        let checked = site.herald().arg("check").assert().code(1);
        let stdout = output(&checked).0;
        assert!(
            stdout.contains("config/herald.yaml:17:9: error: schedule.cron:"),
            "{cron}: {stdout}"
        );
        site.herald().arg("run").assert().code(1);
    }
}

/// Bug: `min_interval: 100000000d` panicked on date overflow, and spans
/// past what a date can hold silently became zero.
#[test]
fn a_span_too_long_for_the_calendar_is_an_error_not_a_panic() {
    for (social, line) in [
        ("  min_interval: 100000000d\n", 15),
        ("  max_age: 99999999999999999999s\n", 15),
    ] {
        let site = posting_site(
            social,
            "    - { name: s, type: slack, url: \"http://127.0.0.1:9/s\" }\n",
        );
        site.simple("a", "2024-02-10");
        let checked = site.herald().arg("check").assert().code(1);
        let stdout = output(&checked).0;
        assert!(
            stdout.contains(&format!("config/herald.yaml:{line}:"))
                && stdout.contains("longer than herald allows"),
            "{stdout}"
        );
        let ran = publish_at(&site, NOW).code(1);
        assert!(output(&ran).1.contains("longer than herald allows"));
    }
}

/// A typo in a template variable fails `check` at the template's key,
/// naming the nearest field, instead of posting text without the title.
#[test]
fn a_template_variable_typo_is_an_error_in_check() {
    let site = crate::support::posting_site(
        "  template: \"{{ titel }} {{ url }}\"\n",
        "    - { name: hooks, type: webhook, url: \"https://hooks.example/x\" }\n",
    );
    site.simple("one", "2024-02-10");
    let ran = site.herald().arg("check").assert().code(1);
    let out = crate::support::output(&ran).0;
    assert!(out.contains("social.template"), "{out}");
    assert!(
        out.contains("unknown variable `titel` (did you mean `title`?)"),
        "{out}"
    );
}

/// Every mistake in one `check`: an unknown key, a target of an unknown
/// type, and an article that does not parse, each with its line, where
/// before each took a run of its own.
#[test]
fn a_config_with_three_mistakes_gives_three_errors_in_one_check() {
    let site = crate::support::Site::with_config(
        "site:\n  title: T\n  url: https://news.example/\ncontent:\n  dir: ../content\nfeeds:\n  dir: ../public\n  limt: 5\nsocial:\n  targets:\n    - name: m\n      type: mastadon\n      instance: https://m.example\n      token: t\n",
    );
    site.simple("good", "2024-02-10");
    site.article("bad.md", "---\ntitle: [unclosed\n---\nBody\n");
    let ran = site.herald().arg("check").assert().code(1);
    let out = crate::support::output(&ran).0;
    assert!(
        out.contains(
            "herald.yaml:8:3: error: feeds.limt: unknown key `limt`; did you mean `limit`?"
        ),
        "{out}"
    );
    assert!(
        out.contains("herald.yaml:12:") && out.contains("mastadon"),
        "{out}"
    );
    assert!(out.contains("did you mean `mastodon`?"), "{out}");
    assert!(out.contains("bad.md:2:"), "{out}");
    let errors = out.lines().filter(|l| l.contains(": error: ")).count();
    assert_eq!(errors, 3, "{out}");
    // Every other command says all the config's problems too.
    let feeds = site.herald().arg("feeds").assert().code(1);
    let err = crate::support::output(&feeds).1;
    assert!(err.contains("limt") && err.contains("mastadon"), "{err}");
}

#[test]
fn the_dry_run_counts_the_posts_that_would_fail_as_configured() {
    let site = crate::support::posting_site(
        "",
        "    - { name: masto, type: mastodon, instance: \"https://m.example\", token: \"${HERALD_TEST_UNSET_TOKEN}\" }
    - { name: hook, type: webhook, url: \"https://hooks.example/h\" }
",
    );
    site.simple("a", "2024-02-10");
    let dry = site
        .herald()
        .env_remove("HERALD_TEST_UNSET_TOKEN")
        .args(["publish", "--dry-run", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .success();
    let (stdout, _) = crate::support::output(&dry);
    assert!(
        stdout.contains("(2 to send, of which 1 would fail as configured; 2 in all)"),
        "{stdout}"
    );
    let json = site
        .herald()
        .env_remove("HERALD_TEST_UNSET_TOKEN")
        .args([
            "publish",
            "--dry-run",
            "--format",
            "json",
            "--now",
            "2024-02-11T00:00:00Z",
        ])
        .assert()
        .success();
    let plan: serde_json::Value = serde_json::from_str(&crate::support::output(&json).0).unwrap();
    let posts = plan["posts"].as_array().unwrap();
    let failing: Vec<&str> = posts
        .iter()
        .filter(|p| p["would_fail"] == true)
        .map(|p| p["target"].as_str().unwrap())
        .collect();
    assert_eq!(failing, ["masto"]);
}
