//! Delivery guarantees: exactly once across runs, retries (their waits are
//! tested in `retries`, on a paused clock), failures that stay put, a killed
//! run that neither loses nor duplicates, one run at a time, and the due
//! decisions (future dates, max_per_run, min_interval, max_age, --mark-seen).

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::posting::{NOW, secrets, seed_site};
use crate::support::{answer, ledger_records, output, posting_site, publish_at};

fn discord(base: &str) -> String {
    format!("    - {{ name: discord, type: discord, url: \"{base}/discord\" }}\n")
}

fn hook(base: &str) -> String {
    format!("    - {{ name: hooks, type: webhook, url: \"{base}/hook\" }}\n")
}

async fn count(server: &MockServer, p: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == p)
        .count()
}

#[tokio::test]
async fn two_runs_in_a_row_post_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/discord"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1"})))
        .expect(2)
        .mount(&server)
        .await;
    let site = posting_site("", &discord(&server.uri()));
    site.simple("a", "2024-02-10").simple("b", "2024-02-09");
    let first = publish_at(&site, NOW).success();
    assert!(output(&first).0.contains("posted 2 (discord 2)"));
    let second = publish_at(&site, NOW).success();
    assert_eq!(
        output(&second),
        (String::new(), String::new()),
        "the second run prints nothing"
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_they_pass() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/discord"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    answer(
        &server,
        "POST",
        "/discord",
        ResponseTemplate::new(200).set_body_json(json!({"id": "9"})),
    )
    .await;
    let site = posting_site("", &discord(&server.uri()));
    site.simple("a", "2024-02-10");
    publish_at(&site, NOW).success();
    assert_eq!(count(&server, "/discord").await, 3);
    let records = ledger_records(&site);
    assert_eq!(records[0]["status"], "posted");
    assert_eq!(records[0]["attempts"], 3);
    assert_eq!(records[0]["remote_id"], "9");
}

#[tokio::test]
async fn a_400_fails_at_once_with_the_platforms_message_and_spares_other_targets() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/discord", ResponseTemplate::new(400).set_body_json(
            json!({"code": 50035, "message": "Invalid Form Body", "errors": {"embeds": {"0": {"description": {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH"}]}}}}}),
        )).await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let site = posting_site(
        "",
        &format!("{}{}", discord(&server.uri()), hook(&server.uri())),
    );
    site.simple("a", "2024-02-10");
    let assert = publish_at(&site, NOW).code(2);
    assert!(
        output(&assert).1.contains("Invalid Form Body"),
        "the failure is named on stderr"
    );
    assert_eq!(count(&server, "/discord").await, 1, "a 400 is not retried");
    assert_eq!(count(&server, "/hook").await, 1);
    let table = output(&site.herald().arg("status").assert().success()).0;
    let discord_row = table.lines().find(|l| l.contains("discord")).unwrap();
    assert!(
        discord_row.contains("failed") && discord_row.contains("Invalid Form Body (code 50035)"),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.contains("hooks") && l.contains("posted"))
    );
}

#[tokio::test]
async fn failures_stop_after_max_attempts_over_all_runs() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/hook",
        ResponseTemplate::new(500).set_body_string("boom"),
    )
    .await;
    let site = posting_site("  max_attempts: 4\n", &hook(&server.uri()));
    site.simple("a", "2024-02-10");
    publish_at(&site, NOW).code(2);
    assert_eq!(
        count(&server, "/hook").await,
        3,
        "three attempts in one run"
    );
    publish_at(&site, NOW).code(2);
    assert_eq!(
        count(&server, "/hook").await,
        4,
        "one more, up to max_attempts"
    );
    publish_at(&site, NOW).success();
    assert_eq!(count(&server, "/hook").await, 4, "then it stays failed");
    let r = &ledger_records(&site)[0];
    assert_eq!(
        (r["status"].as_str(), r["attempts"].as_u64()),
        (Some("failed"), Some(4))
    );
    assert_eq!(r["last_error"], "HTTP 500: boom");
}

#[tokio::test]
async fn a_killed_run_is_neither_lost_nor_duplicated() {
    let server = MockServer::start().await;
    // Both receivers hold the request long enough for the kill.
    Mock::given(method("POST"))
        .and(path("/discord"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "1"}))
                .set_delay(Duration::from_secs(30)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(30)))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    let site = posting_site(
        "",
        &format!("{}{}", discord(&server.uri()), hook(&server.uri())),
    );
    site.simple("a", "2024-02-10");
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("herald"))
        .current_dir(site.root())
        .args(["--config", "config/herald.yaml", "publish", "--now", NOW])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while count(&server, "/discord").await + count(&server, "/hook").await < 2 {
        assert!(Instant::now() < deadline, "the requests never arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let first_id = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .find(|r| r.url.path() == "/hook")
        .and_then(|r| {
            r.headers
                .get("webhook-id")
                .map(|v| v.to_str().unwrap().to_string())
        })
        .unwrap();

    answer(
        &server,
        "POST",
        "/discord",
        ResponseTemplate::new(200).set_body_json(json!({"id": "2"})),
    )
    .await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    // The lock died with the process: the next run is not blocked.
    let assert = publish_at(&site, NOW).code(2);
    let (_, stderr) = output(&assert);
    assert!(stderr.contains("uncertain"), "{stderr}");
    assert_eq!(count(&server, "/discord").await, 1, "Discord is not resent");
    let hooks: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path() == "/hook")
        .map(|r| {
            r.headers
                .get("webhook-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        hooks,
        [first_id.clone(), first_id],
        "the webhook is resent with the same webhook-id"
    );
    let records = ledger_records(&site);
    let by = |t: &str| records.iter().find(|r| r["target"] == t).unwrap()["status"].clone();
    assert_eq!(by("discord"), "uncertain");
    assert_eq!(by("hooks"), "posted");
    let table = output(&site.herald().arg("status").assert().success()).0;
    assert!(table.contains("uncertain"));

    // --retry-uncertain sends it after all.
    site.herald()
        .args(["publish", "--now", NOW, "--retry-uncertain"])
        .assert()
        .success();
    assert_eq!(count(&server, "/discord").await, 2);
}

#[tokio::test]
async fn two_runs_started_together_post_once_and_one_exits_3() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/hook",
        ResponseTemplate::new(200).set_delay(Duration::from_millis(1500)),
    )
    .await;
    let site = posting_site("", &hook(&server.uri()));
    site.simple("a", "2024-02-10").simple("b", "2024-02-09");
    let spawn = || {
        std::process::Command::new(assert_cmd::cargo::cargo_bin("herald"))
            .current_dir(site.root())
            .args(["--config", "config/herald.yaml", "publish", "--now", NOW])
            .output()
    };
    let (one, two) = std::thread::scope(|s| {
        let a = s.spawn(spawn);
        let b = s.spawn(spawn);
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    let mut codes = [one.status.code().unwrap(), two.status.code().unwrap()];
    codes.sort();
    assert_eq!(codes, [0, 3]);
    let loser = if one.status.code() == Some(3) {
        &one
    } else {
        &two
    };
    let message = String::from_utf8_lossy(&loser.stderr);
    assert!(message.contains("another herald run (pid "), "{message}");
    assert_eq!(count(&server, "/hook").await, 2, "each post arrives once");
}

#[tokio::test]
async fn wait_lets_a_second_run_queue_behind_the_first() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/hook",
        ResponseTemplate::new(200).set_delay(Duration::from_millis(800)),
    )
    .await;
    let site = posting_site("", &hook(&server.uri()));
    site.simple("a", "2024-02-10");
    let spawn = |extra: &'static [&'static str]| {
        let site_root = site.root().to_path_buf();
        move || {
            std::process::Command::new(assert_cmd::cargo::cargo_bin("herald"))
                .current_dir(site_root)
                .args(["--config", "config/herald.yaml", "publish", "--now", NOW])
                .args(extra)
                .output()
                .unwrap()
        }
    };
    let lock = site.root().join("state/herald.db.lock");
    let (one, two) = std::thread::scope(|s| {
        let a = s.spawn(spawn(&[]));
        // The first run writes its pid once it holds the lock.
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::fs::read_to_string(&lock).map_or(true, |pid| pid.trim().is_empty()) {
            assert!(
                Instant::now() < deadline,
                "the first run never took the lock"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let b = s.spawn(spawn(&["--wait", "10"]));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!((one.status.code(), two.status.code()), (Some(0), Some(0)));
    assert_eq!(count(&server, "/hook").await, 1);
}

#[tokio::test]
async fn a_future_article_waits_for_its_time() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site("", &hook(&server.uri()));
    site.article(
        "later.md",
        "---\ntitle: Later\npublish_date: 2024-03-01T12:00:00+01:00\n---\nBody\n",
    );
    publish_at(&site, "2024-03-01T10:59:59Z").success();
    assert_eq!(count(&server, "/hook").await, 0);
    publish_at(&site, "2024-03-01T11:00:00Z").success();
    assert_eq!(count(&server, "/hook").await, 1);
}

fn titles_sent(requests: &[wiremock::Request]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.url.path() == "/hook")
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["data"]["title"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn max_per_run_sends_the_oldest_first_and_queues_the_rest() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site("  max_per_run: 5\n  max_age: 30d\n", &hook(&server.uri()));
    for day in 1..=20 {
        site.simple(&format!("a{day:02}"), &format!("2024-02-{day:02}"));
    }
    let now = "2024-02-21T00:00:00Z";
    let first = publish_at(&site, now).success();
    assert!(
        output(&first).0.contains("queued 15"),
        "{}",
        output(&first).0
    );
    let sent = titles_sent(&server.received_requests().await.unwrap());
    assert_eq!(
        sent,
        (1..=5)
            .map(|d| format!("Article a{d:02}"))
            .collect::<Vec<_>>()
    );
    let queued = ledger_records(&site)
        .iter()
        .filter(|r| r["status"] == "queued")
        .count();
    assert_eq!(queued, 15);
    for _ in 0..3 {
        publish_at(&site, now).success();
    }
    let sent = titles_sent(&server.received_requests().await.unwrap());
    assert_eq!(
        sent,
        (1..=20)
            .map(|d| format!("Article a{d:02}"))
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn min_interval_allows_one_post_per_interval() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site("  min_interval: 1h\n  max_age: 30d\n", &hook(&server.uri()));
    for day in 1..=3 {
        site.simple(&format!("a{day}"), &format!("2024-02-0{day}"));
    }
    let run = |now: &str| {
        publish_at(&site, now).success();
    };
    run("2024-02-10T00:00:00Z");
    run("2024-02-10T00:30:00Z");
    assert_eq!(
        titles_sent(&server.received_requests().await.unwrap()),
        ["Article a1"]
    );
    run("2024-02-10T01:00:01Z");
    run("2024-02-10T01:10:00Z");
    assert_eq!(
        titles_sent(&server.received_requests().await.unwrap()),
        ["Article a1", "Article a2"]
    );
    run("2024-02-10T02:00:02Z");
    assert_eq!(
        titles_sent(&server.received_requests().await.unwrap()).len(),
        3
    );
}

#[tokio::test]
async fn a_first_run_on_an_old_archive_posts_nothing_and_mark_seen_adopts_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site("  max_age: 7d\n", &hook(&server.uri()));
    for i in 0..200 {
        let date = chrono::NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + chrono::Duration::days(i);
        site.simple(&format!("old{i:03}"), &date.to_string());
    }
    let now = "2024-06-01T00:00:00Z";
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", now])
        .assert()
        .success();
    assert!(output(&dry).0.contains(
        "hooks (webhook): nothing due; 200 articles older than max_age (7d) are not posted"
    ));
    publish_at(&site, now).success();
    assert_eq!(count(&server, "/hook").await, 0);
    site.herald()
        .args(["publish", "--mark-seen", "--now", now])
        .assert()
        .success();
    assert_eq!(count(&server, "/hook").await, 0);
    let records = ledger_records(&site);
    assert_eq!(records.len(), 200);
    assert!(records.iter().all(|r| r["status"] == "seen"));
}

#[tokio::test]
async fn a_dry_run_writes_no_ledger_row_and_sends_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site(
        "",
        &format!("{}{}", discord(&server.uri()), hook(&server.uri())),
    );
    site.simple("a", "2024-02-10");
    // With an existing ledger, too.
    publish_at(&site, "2024-02-10T00:00:00Z").success();
    let ledger = site.root().join("state/herald.db");
    let before = std::fs::read(&ledger).unwrap();
    let requests = server.received_requests().await.unwrap().len();
    site.simple("b", "2024-02-10");
    let assert = site
        .herald()
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .success();
    assert!(
        output(&assert)
            .0
            .contains("discord (discord) send  Article b")
    );
    assert_eq!(server.received_requests().await.unwrap().len(), requests);
    assert_eq!(std::fs::read(&ledger).unwrap(), before);
}

#[tokio::test]
async fn a_corrupt_ledger_is_reported_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site("", &hook(&server.uri()));
    site.simple("a", "2024-02-10");
    std::fs::create_dir_all(site.root().join("state")).unwrap();
    let junk = "not a ledger, but a text file someone put here by mistake, long enough to look like a header";
    std::fs::write(site.root().join("state/herald.db"), junk).unwrap();
    let assert = publish_at(&site, NOW).code(1);
    let err = output(&assert).1;
    assert!(
        err.contains("state.path state/herald.db: not a herald ledger or damaged"),
        "{err}"
    );
    assert!(err.contains("it is left as it is"), "{err}");
    assert_eq!(count(&server, "/hook").await, 0);
    assert_eq!(
        std::fs::read_to_string(site.root().join("state/herald.db")).unwrap(),
        junk
    );
}

#[tokio::test]
async fn a_read_only_ledger_is_reported_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site("", &hook(&server.uri()));
    site.simple("a", "2024-02-10");
    publish_at(&site, "2024-01-01T00:00:00Z").success();
    let ledger = site.root().join("state/herald.db");
    // Root ignores permission bits; the immutable attribute binds it too.
    let guard = crate::support::Immutable::new(&ledger);
    if guard.is_none() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&ledger, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    let assert = publish_at(&site, NOW).code(1);
    let err = output(&assert).1;
    assert!(err.contains("state.path state/herald.db"), "{err}");
    assert_eq!(count(&server, "/hook").await, 0, "nothing is sent");
    drop(guard);
}

#[tokio::test]
async fn the_ledger_file_is_private() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = seed_site(&server.uri(), &hook(&server.uri()));
    let mut cmd = site.herald();
    secrets(&mut cmd)
        .args(["publish", "--now", NOW])
        .assert()
        .success();
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(site.root().join("state/herald.db"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn on_edit_update_edits_the_post_in_place() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/discord",
        ResponseTemplate::new(200).set_body_json(json!({"id": "555"})),
    )
    .await;
    Mock::given(method("PATCH"))
        .and(path("/discord/messages/555"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "555"})))
        .expect(1)
        .mount(&server)
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
        ResponseTemplate::new(200)
            .set_body_json(json!({"id": "77", "url": "https://m.example/@n/77"})),
    )
    .await;
    Mock::given(method("PUT"))
        .and(path("/masto/api/v1/statuses/77"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "77", "url": "https://m.example/@n/77"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let base = server.uri();
    let targets = format!(
        "{}    - {{ name: masto, type: mastodon, instance: \"{base}/masto\", token: t }}\n",
        discord(&base)
    );
    let site = posting_site("  on_edit: update\n", &targets);
    site.simple("a", "2024-02-10");
    publish_at(&site, NOW).success();
    // Unchanged: nothing to update.
    publish_at(&site, NOW).success();
    site.article(
        "a.md",
        "---\ntitle: Article a\npublish_date: 2024-02-10\ndescription: A corrected summary.\n---\nBody\n",
    );
    publish_at(&site, NOW).success();
    let all = server.received_requests().await.unwrap();
    let put = all.iter().find(|r| r.method.as_str() == "PUT").unwrap();
    let body: Value = serde_json::from_slice(&put.body).unwrap();
    assert!(
        body["status"]
            .as_str()
            .unwrap()
            .contains("A corrected summary.")
    );
    // Edited once: a further run changes nothing.
    publish_at(&site, NOW).success();
    let records = ledger_records(&site);
    assert!(records.iter().all(|r| r["status"] == "posted"));
}

/// A full disk (here: the file size limit) while the ledger must grow: the
/// run stops before sending, says why, and the ledger keeps its old rows.
#[tokio::test]
async fn a_ledger_that_cannot_grow_stops_the_run_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let site = posting_site("", &hook(&server.uri()));
    site.simple("a", "2024-02-10");
    publish_at(&site, "2024-02-10T12:00:00Z").success();
    assert_eq!(count(&server, "/hook").await, 1);
    for i in 0..40 {
        site.simple(&format!("more{i:02}"), "2024-02-10");
    }
    let ledger = site.root().join("state/herald.db");
    let before = ledger_records(&site);
    let out = std::process::Command::new("bash")
        .current_dir(site.root())
        .args([
            "-c",
            "trap '' XFSZ; ulimit -f 1; exec \"$0\" --config config/herald.yaml publish --now 2024-02-11T00:00:00Z",
        ])
        .arg(assert_cmd::cargo::cargo_bin("herald"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("state.path state/herald.db"), "{stderr}");
    // Issue: a full disk was reported as a damaged ledger, with advice to
    // move it away (which would repost everything).
    assert!(stderr.contains("the disk is full"), "{stderr}");
    assert!(!stderr.contains("move it away"), "{stderr}");
    assert!(!stderr.contains("damaged ("), "{stderr}");
    assert_eq!(count(&server, "/hook").await, 1, "nothing more was sent");
    assert_eq!(ledger_records(&site), before, "the ledger is intact");
    assert!(ledger.exists());
}

#[tokio::test]
async fn on_edit_repost_posts_again_under_a_new_key() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let site = posting_site("  on_edit: repost\n", &hook(&server.uri()));
    site.simple("a", "2024-02-10");
    publish_at(&site, NOW).success();
    publish_at(&site, NOW).success();
    assert_eq!(count(&server, "/hook").await, 1, "unchanged: not reposted");
    site.article(
        "a.md",
        "---\ntitle: Article a\npublish_date: 2024-02-10\ndescription: Edited.\n---\nBody\n",
    );
    publish_at(&site, NOW).success();
    let ids: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            r.headers
                .get("webhook-id")
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 2, "reposted once");
    assert_ne!(
        ids[0], ids[1],
        "a repost is not a resend: receivers must not drop it"
    );
    publish_at(&site, NOW).success();
    assert_eq!(count(&server, "/hook").await, 2);
}

/// The instance's own limit is used when sending (the post is refitted to
/// it) and remembered, so a later dry run, which asks nothing, uses it too.
#[tokio::test]
async fn mastodons_instance_limit_is_used_and_remembered_for_dry_runs() {
    let server = MockServer::start().await;
    answer(
        &server,
        "GET",
        "/masto/api/v2/instance",
        ResponseTemplate::new(200)
            .set_body_json(json!({"configuration": {"statuses": {"max_characters": 1000}}})),
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
    let site = posting_site(
        "",
        &format!("    - {{ name: masto, type: mastodon, instance: \"{base}/masto\", token: t }}\n"),
    );
    // A summary of about 700 characters: cut at 500, whole at 1000.
    let summary = "Seven hundred characters of summary text. ".repeat(17);
    site.article(
        "a.md",
        format!(
            "---\ntitle: A\npublish_date: 2024-02-10\ndescription: \"{}\"\n---\nBody\n",
            summary.trim()
        ),
    );
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--format", "json", "--now", NOW])
        .assert()
        .success();
    let plan: Value = serde_json::from_str(&output(&dry).0).unwrap();
    assert_eq!(
        plan["posts"][0]["limit"], 500,
        "before any run: the stock limit"
    );
    let run = publish_at(&site, NOW).success();
    assert_eq!(
        output(&run).1,
        "",
        "no progress bar or other noise when stderr is not a terminal"
    );
    let all = server.received_requests().await.unwrap();
    let status: Value = serde_json::from_slice(
        &all.iter()
            .find(|r| r.url.path() == "/masto/api/v1/statuses")
            .unwrap()
            .body,
    )
    .unwrap();
    assert!(
        status["status"].as_str().unwrap().contains(summary.trim()),
        "refitted to 1000: the summary is whole"
    );
    site.simple("b", "2024-02-10");
    let requests = all.len();
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--format", "json", "--now", NOW])
        .assert()
        .success();
    let plan: Value = serde_json::from_str(&output(&dry).0).unwrap();
    assert_eq!(
        plan["posts"][0]["limit"], 1000,
        "the dry run uses the remembered limit"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        requests,
        "and asks nothing"
    );
}
