//! At most once means at most once: the real binary against stand-ins that
//! misbehave as servers, clocks, disks and owners do (SPEC §4 and §6).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::posting::{NOW, jpeg, seed_site};
use crate::support::{
    answer, ledger_records, output, posting_config, posting_site, publish_at, read_http_message,
};

fn record<'r>(records: &'r [Value], target: &str) -> &'r Value {
    records
        .iter()
        .find(|r| r["target"] == target)
        .unwrap_or_else(|| panic!("no record for {target}: {records:?}"))
}

/// A server that reads each request whole and then does what `answer`
/// says with the connection, by its number (0, 1, …); it counts them.
async fn raw_server<F>(answer: F) -> (std::net::SocketAddr, Arc<AtomicUsize>)
where
    F: Fn(usize, tokio::net::TcpStream) -> tokio::task::JoinHandle<()> + Send + 'static,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                break;
            };
            let _ = read_http_message(&mut socket).await;
            let n = counter.fetch_add(1, Ordering::SeqCst);
            answer(n, socket);
        }
    });
    (addr, count)
}

fn drop_connection(socket: tokio::net::TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move { drop(socket) })
}

fn answer_ok(mut socket: tokio::net::TcpStream) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let body = "{\"id\": \"1\"}";
        let _ = socket
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )
                .as_bytes(),
            )
            .await;
    })
}

/// Issue 1: the server did the work but the answer never came. Resending
/// made a second post on platforms that cannot tell a resend from a new
/// post; now such a post is `uncertain` at once and never resent, while a
/// platform with an idempotency key gets the same request again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_never_came_is_uncertain_where_a_resend_would_duplicate() {
    let (dropping, dropped) = raw_server(|_, socket| drop_connection(socket)).await;
    let (hanging, hung) = raw_server(|_, socket| {
        // Hangs on purpose: it holds the connection and never answers.
        tokio::spawn(async move {
            std::future::pending::<()>().await;
            drop(socket);
        })
    })
    .await;
    let (keyed, keyed_count) = raw_server(|n, socket| {
        if n == 0 {
            drop_connection(socket)
        } else {
            answer_ok(socket)
        }
    })
    .await;
    let server = MockServer::start().await;
    answer(&server, "POST", "/mm", ResponseTemplate::new(502)).await;
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: slack, type: slack, url: \"http://{dropping}/slack\" }}\n    - {{ name: discord, type: discord, url: \"http://{hanging}/discord\", timeout: 100ms }}\n    - {{ name: mm, type: mattermost, url: \"{}/mm\" }}\n    - {{ name: hooks, type: webhook, url: \"http://{keyed}/hook\" }}\n",
            server.uri()
        ),
    );
    site.simple("a", "2024-02-10");
    let ran = publish_at(&site, NOW).code(2);
    let stderr = output(&ran).1;
    for target in ["slack", "discord", "mm"] {
        assert!(
            stderr.contains(&format!("herald: uncertain: {target} ")),
            "{target}: {stderr}"
        );
    }
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "slack: sent once");
    assert_eq!(hung.load(Ordering::SeqCst), 1, "discord: sent once");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "mattermost: sent once"
    );
    assert_eq!(
        keyed_count.load(Ordering::SeqCst),
        2,
        "the webhook is resent with its key"
    );
    let all = ledger_records(&site);
    for target in ["slack", "discord", "mm"] {
        let r = record(&all, target);
        assert_eq!(
            (r["status"].as_str(), r["attempts"].as_u64()),
            (Some("uncertain"), Some(1)),
            "{r}"
        );
    }
    assert_eq!(record(&all, "hooks")["status"], "posted");
    // A later run sends none of them again.
    publish_at(&site, NOW).code(0);
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert_eq!(hung.load(Ordering::SeqCst), 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// Issue 2: a 302 turned the POST into a GET that answered 200 (recorded
/// posted, nothing delivered), and a 307 to another host carried the
/// target's secret headers there.
#[tokio::test]
async fn a_redirect_is_never_followed_when_posting() {
    let server = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    answer(
        &server,
        "POST",
        "/moved",
        ResponseTemplate::new(302).insert_header("location", format!("{}/landing", server.uri())),
    )
    .await;
    answer(&server, "GET", "/landing", ResponseTemplate::new(200)).await;
    answer(
        &server,
        "POST",
        "/hook",
        ResponseTemplate::new(307).insert_header("location", format!("{}/steal", elsewhere.uri())),
    )
    .await;
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: slack, type: slack, url: \"{}/moved\" }}\n    - name: hooks\n      type: webhook\n      url: \"{}/hook\"\n      headers: {{ X-Api-Key: \"${{HOOK_KEY}}\" }}\n",
            server.uri(),
            server.uri()
        ),
    );
    site.simple("a", "2024-02-10");
    let ran = site
        .herald()
        .env("HOOK_KEY", "very-secret-key")
        .args(["publish", "--now", NOW])
        .assert()
        .code(2);
    let stderr = output(&ran).1;
    let methods: Vec<String> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert_eq!(methods.len(), 2, "{methods:?}");
    assert!(
        methods.iter().all(|m| m.starts_with("POST")),
        "no GET: {methods:?}"
    );
    assert!(
        elsewhere.received_requests().await.unwrap().is_empty(),
        "nothing reached the other host"
    );
    let all = ledger_records(&site);
    for target in ["slack", "hooks"] {
        let r = record(&all, target);
        assert_eq!(r["status"], "failed", "{r}");
        assert!(
            r["last_error"].as_str().unwrap().contains("redirected"),
            "{r}"
        );
    }
    assert!(
        stderr.contains("127.0.0.1"),
        "the new location's host is named: {stderr}"
    );
}

/// Issue 3: `Retry-After: 86400` was retried on every later run, each try
/// using an attempt, until the post failed for good.
#[tokio::test]
async fn a_long_retry_after_waits_across_runs_and_uses_no_attempt() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "86400"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
            server.uri()
        ),
    );
    site.simple("a", "2024-02-10");
    publish_at(&site, "2024-02-11T00:00:00Z").success();
    let r = &ledger_records(&site)[0];
    assert_eq!(
        (r["status"].as_str(), r["attempts"].as_u64()),
        (Some("queued"), Some(0)),
        "{r}"
    );
    for hour in 1..=6 {
        let ran = publish_at(&site, &format!("2024-02-11T{hour:02}:00:00Z")).success();
        assert_eq!(
            output(&ran),
            (String::new(), String::new()),
            "quiet while it waits"
        );
    }
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not tried before its time"
    );
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", "2024-02-11T07:00:00Z"])
        .assert()
        .success();
    assert!(
        output(&dry)
            .0
            .contains("1 post waits for the server, which asked to wait until")
    );
    publish_at(&site, "2024-02-12T01:00:00Z").success();
    let r = &ledger_records(&site)[0];
    assert_eq!(
        (r["status"].as_str(), r["attempts"].as_u64()),
        (Some("posted"), Some(1)),
        "{r}"
    );
}

/// Issue 4: a queue drained by `min_interval` over weeks posted articles
/// long past `max_age`. Now `max_age` holds when the post would be sent.
#[tokio::test]
async fn a_queued_post_that_grows_too_old_is_dropped_and_says_so() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let site = posting_site(
        "  max_age: 3d\n  min_interval: 2d\n",
        &format!(
            "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
            server.uri()
        ),
    );
    site.simple("a", "2024-02-08")
        .simple("b", "2024-02-09")
        .simple("c", "2024-02-10");
    publish_at(&site, "2024-02-10T12:00:00Z").success();
    let ran = publish_at(&site, "2024-02-12T13:00:00Z").success();
    assert!(
        output(&ran).0.contains("dropped 1 (hooks 1)"),
        "{}",
        output(&ran).0
    );
    let all = ledger_records(&site);
    let by_article = |slug: &str| {
        all.iter()
            .find(|r| {
                r["article_id"]
                    .as_str()
                    .unwrap()
                    .ends_with(&format!("/{slug}/"))
            })
            .unwrap()
            .clone()
    };
    assert_eq!(by_article("a")["status"], "posted");
    assert_eq!(by_article("b")["status"], "dropped");
    assert!(
        by_article("b")["last_error"]
            .as_str()
            .unwrap()
            .contains("older than max_age")
    );
    assert_eq!(by_article("c")["status"], "posted");
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Issue 5: after one run with the clock a year ahead, every later run
/// queued everything until that future time.
#[tokio::test]
async fn a_last_post_dated_in_the_future_does_not_block_posting() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let site = posting_site(
        "  max_age: 36500d\n  min_interval: 1h\n",
        &format!(
            "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
            server.uri()
        ),
    );
    site.simple("a", "2024-02-09");
    publish_at(&site, "2025-02-11T00:00:00Z").success();
    site.simple("b", "2024-02-10");
    let ran = publish_at(&site, "2024-02-11T00:00:00Z").success();
    let (stdout, stderr) = output(&ran);
    assert!(stdout.contains("posted 1 (hooks 1)"), "{stdout}");
    assert!(
        stderr.contains("the clock was wrong then, or is now"),
        "{stderr}"
    );
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

/// Issue 6: a new slug or a renamed file made a new id, and the article
/// was posted again everywhere.
#[tokio::test]
async fn a_moved_article_keeps_its_posts_and_is_not_posted_again() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
            server.uri()
        ),
    );
    site.simple("a", "2024-02-10");
    publish_at(&site, NOW).success();
    let content = site.root().join("content");
    std::fs::rename(content.join("a.md"), content.join("a-renamed.md")).unwrap();
    let ran = publish_at(&site, NOW).success();
    let stderr = output(&ran).1;
    assert!(
        stderr.contains("moved from https://news.example/articles/a/ to https://news.example/articles/a-renamed/"),
        "{stderr}"
    );
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "not posted again"
    );
    let r = &ledger_records(&site)[0];
    assert_eq!(
        (r["article_id"].as_str(), r["status"].as_str()),
        (
            Some("https://news.example/articles/a-renamed/"),
            Some("posted")
        )
    );
    // A new slug in the front matter: the same.
    let text = std::fs::read_to_string(content.join("a-renamed.md")).unwrap();
    std::fs::write(
        content.join("a-renamed.md"),
        text.replacen("---\n", "---\nslug: a-new-slug\n", 1),
    )
    .unwrap();
    publish_at(&site, NOW).success();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
    assert_eq!(
        ledger_records(&site)[0]["article_id"],
        "https://news.example/articles/a-new-slug/"
    );
}

/// Issue 7: SIGTERM while Mastodon processed the image took 76 s to end.
#[tokio::test]
async fn a_stop_during_image_processing_ends_the_run_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/img/hero.jpg"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(jpeg()),
        )
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
        "/masto/api/v2/media",
        ResponseTemplate::new(202).set_body_json(json!({"id": "m1", "url": null})),
    )
    .await;
    answer(
        &server,
        "GET",
        "/masto/api/v1/media/m1",
        ResponseTemplate::new(206).set_body_json(json!({"id": "m1"})),
    )
    .await;
    let site = seed_site(
        &server.uri(),
        &format!(
            "    - {{ name: masto, type: mastodon, instance: \"{}/masto\", token: t }}\n",
            server.uri()
        ),
    );
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("herald"))
        .current_dir(site.root())
        .args(["--config", "config/herald.yaml", "publish", "--now", NOW])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .any(|r| r.url.path() == "/masto/api/v1/media/m1")
    {
        assert!(Instant::now() < deadline, "no poll arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let stopped = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        stopped.elapsed() < Duration::from_secs(3),
        "ended {:?} after the stop",
        stopped.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("stopped by a signal"), "{stderr}");
    let r = &ledger_records(&site)[0];
    assert_eq!(
        r["status"], "failed",
        "not made, so tried again next run: {r}"
    );
    assert!(
        !server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .any(|r| r.url.path().ends_with("/statuses")),
        "no post without its image"
    );
}

/// Issue 8: a `<state>.lock` symbolic link had the file it points to
/// overwritten with the pid.
#[cfg(unix)]
#[test]
fn a_lock_file_that_is_a_symbolic_link_is_refused() {
    let site = posting_site(
        "",
        "    - { name: hooks, type: webhook, url: \"http://127.0.0.1:9/hook\" }\n",
    );
    site.simple("a", "2024-02-10");
    std::fs::create_dir_all(site.root().join("state")).unwrap();
    let victim = site.root().join("precious.txt");
    std::fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, site.root().join("state/herald.db.lock")).unwrap();
    let ran = publish_at(&site, NOW).code(1);
    assert!(
        output(&ran).1.contains("symbolic link"),
        "{}",
        output(&ran).1
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
}

/// Issue 10: a missing or empty ledger was a fresh start, reposting every
/// article within `max_age`, though syndication.json and the lock file
/// showed earlier runs.
#[tokio::test]
async fn a_lost_ledger_is_refused_not_started_afresh() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let site = posting_site(
        "",
        &format!(
            "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
            server.uri()
        ),
    );
    site.simple("a", "2024-02-10");
    publish_at(&site, NOW).success();
    std::fs::remove_file(site.root().join("state/herald.db")).unwrap();
    let ran = publish_at(&site, NOW).code(1);
    let stderr = output(&ran).1;
    assert!(
        stderr.contains("syndication.json lists posts of 1 article"),
        "{stderr}"
    );
    assert!(stderr.contains("herald.db.lock"), "{stderr}");
    assert!(stderr.contains("--mark-seen"), "{stderr}");
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .success();
    assert!(output(&dry).1.contains("a real run would refuse to start"));
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "nothing reposted"
    );
    // Adopting the archive is the way on: recorded, not sent.
    site.herald()
        .args(["publish", "--mark-seen", "--now", NOW])
        .assert()
        .success();
    publish_at(&site, NOW).success();
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// Issue 11: two sites in one ledger: rows are keyed by target name, so
/// the second site's posts were hidden by the first's.
#[tokio::test]
async fn a_ledger_belongs_to_one_site() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let targets = format!(
        "    - {{ name: hooks, type: webhook, url: \"{}/hook\" }}\n",
        server.uri()
    );
    let site = posting_site("", &targets);
    site.simple("a", "2024-02-10");
    publish_at(&site, NOW).success();
    site.write_config(
        &posting_config("", &targets, "")
            .replace("url: https://news.example/", "url: https://other.example/"),
    );
    let ran = publish_at(&site, NOW).code(1);
    let stderr = output(&ran).1;
    assert!(
        stderr.contains("this ledger belongs to the site https://news.example/ and this config is for https://other.example/"),
        "{stderr}"
    );
    site.herald()
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .code(1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// Issue 13: a server that echoes the request's path wrote the secret in
/// its percent-encoded form, which redaction missed.
#[tokio::test]
async fn secrets_are_scrubbed_in_every_url_encoding() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            "no hook at /hook/s3cr3t%2Btok%3Den%21 (also tried /hook/s3cr3t%2btok%3den%21)",
        ))
        .mount(&server)
        .await;
    let site = posting_site(
        "",
        "    - { name: hooks, type: webhook, url: \"${HOOK_URL}\" }\n",
    );
    site.simple("a", "2024-02-10");
    let ran = site
        .herald()
        .env("HOOK_URL", format!("{}/hook/s3cr3t+tok=en!", server.uri()))
        .args(["publish", "--now", NOW])
        .assert()
        .code(2);
    let stderr = output(&ran).1;
    let status = serde_json::to_string(&ledger_records(&site)).unwrap();
    for text in [&stderr, &status] {
        for leaked in ["s3cr3t", "%2Btok", "%2btok"] {
            assert!(!text.contains(leaked), "{leaked} leaked: {text}");
        }
        assert!(text.contains("[redacted]"), "{text}");
    }
}

/// Issue 12: thirty doublings of a string aborted the process (exit 134) in
/// `publish` and the dry run, and `check` passed it, and templates that
/// always fail when rendered.
#[tokio::test]
async fn templates_cannot_exhaust_memory_and_check_renders_them() {
    let server = MockServer::start().await;
    answer(&server, "POST", "/hook", ResponseTemplate::new(200)).await;
    let doubling: String = std::iter::once("{% set s = title %}")
        .chain((0..30).map(|_| "{% set s = s ~ s %}"))
        .chain(std::iter::once("{{ s }}"))
        .collect();
    let chained = format!("{{{{ title{} }}}}", "|replace('e', 'eeeeeeee')".repeat(30));
    for (template, line) in [
        (doubling, "line 1: `set`"),
        (chained, "could make a value of"),
    ] {
        let site = posting_site(
            "",
            &format!(
                "    - name: hooks\n      type: webhook\n      url: \"{}/hook\"\n      template: {}\n",
                server.uri(),
                serde_json::to_string(&template).unwrap()
            ),
        );
        site.simple("a", "2024-02-10");
        let checked = site.herald().arg("check").assert().code(1);
        let stdout = output(&checked).0;
        assert!(
            stdout.contains("config/herald.yaml:19:7: error: social.targets[0].template:")
                && stdout.contains(line),
            "{stdout}"
        );
        let dry = site
            .herald()
            .args(["publish", "--dry-run", "--now", NOW])
            .assert()
            .success();
        assert!(output(&dry).0.contains(line), "{}", output(&dry).0);
        let ran = publish_at(&site, NOW).code(2);
        assert!(output(&ran).1.contains(line), "{}", output(&ran).1);
    }
    assert!(server.received_requests().await.unwrap().is_empty());

    // A template that compiles but fails on the articles: check renders it.
    let site = posting_site(
        "",
        &format!(
            "    - name: hooks\n      type: webhook\n      url: \"{}/hook\"\n      template: \"{{{{ summary.first.word }}}}\"\n",
            server.uri()
        ),
    );
    site.simple("a", "2024-02-10");
    let checked = site.herald().arg("check").assert().code(1);
    let stdout = output(&checked).0;
    assert!(
        stdout.contains("social.targets[0].template:")
            && stdout.contains("rendering the post of content/a.md"),
        "{stdout}"
    );
}
