//! Several hosts, one ledger in PostgreSQL: the real binary against a
//! throwaway cluster (see `pg.rs`) and stand-ins on 127.0.0.1. These tests
//! run real processes, so they wait on real time (bounded), not on a
//! clock of their own.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::pg::Cluster;
use crate::sessions::jwt;
use crate::support::{Site, output, posting_config};

/// A cluster with a new database (its URL), and stand-ins answering after
/// `delay`; `None` where PostgreSQL cannot be had here.
async fn shared_ledger(delay: Duration) -> Option<(Cluster, String, MockServer)> {
    let cluster = Cluster::start()?;
    let url = cluster.url(&cluster.database());
    let server = MockServer::start().await;
    mount(&server, delay).await;
    Some((cluster, url, server))
}

/// A host's site: its own folders, the shared ledger at `url`.
fn host(base: &str, url: &str, social: &str) -> Site {
    let targets = format!(
        "    - {{ name: masto, type: mastodon, instance: \"{base}/masto\", token: \"${{MASTODON_TOKEN}}\" }}
    - {{ name: disc, type: discord, url: \"{base}/discord/api/webhooks/1/tok\" }}
"
    );
    let config = posting_config(social, &targets, "");
    Site::with_config(&format!("{config}  url: \"{url}\"\n"))
}

async fn mount(server: &MockServer, delay: Duration) {
    Mock::given(method("GET"))
        .and(path("/masto/api/v2/instance"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!(
            {"configuration": {"statuses": {"max_characters": 500, "characters_reserved_per_url": 23}}}
        )))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/masto/api/v1/statuses"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(
                    serde_json::json!({"id": "s1", "url": "https://masto.example/@news/s1"}),
                )
                .set_delay(delay),
        )
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/discord/api/webhooks/1/tok"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"id": "1111", "channel_id": "22"}))
                .set_delay(delay),
        )
        .mount(server)
        .await;
}

fn article(site: &Site, slug: &str, date: &str) {
    site.article(
        &format!("{slug}.md"),
        format!("---\ntitle: Story {slug}\npublish_date: {date}\ndescription: What happened in {slug}.\n---\n\nBody of {slug}.\n"),
    );
}

/// The posts each stand-in received, by target: the article's slug and
/// the request's idempotency key.
async fn received(server: &MockServer) -> Vec<(String, String, Option<String>)> {
    let permalink = regex::Regex::new(r"news\.example/articles/(s\d+)/").unwrap();
    let mut out = Vec::new();
    for r in server.received_requests().await.unwrap_or_default() {
        let target = match r.url.path() {
            "/masto/api/v1/statuses" => "masto",
            "/discord/api/webhooks/1/tok" => "disc",
            _ => continue,
        };
        let body = String::from_utf8_lossy(&r.body).into_owned();
        let slug = permalink
            .captures(&body)
            .map(|c| c[1].to_string())
            .unwrap_or_default();
        let key = r
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        out.push((target.to_string(), slug, key));
    }
    out
}

fn herald(site: &Site) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("herald"));
    cmd.current_dir(site.root())
        .env_remove("HERALD_CONFIG")
        .env_remove("HERALD_LOG")
        .env("NO_COLOR", "1")
        .env("MASTODON_TOKEN", "mastodon-secret-token")
        .args(["--config", "config/herald.yaml", "publish"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hosts_killed_at_random_post_every_due_article_once_or_say_uncertain() {
    let Some((cluster, url, server)) = shared_ledger(Duration::from_millis(150)).await else {
        return;
    };
    let hosts: Vec<Site> = (0..4)
        .map(|_| {
            host(
                &server.uri(),
                &url,
                "  min_interval: 0s\n  max_per_run: 100\n",
            )
        })
        .collect();
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut killed = 0;
    let mut runs = 0;
    let mut written = 0;
    let rounds = 10;
    for round in 0..rounds {
        // New articles appear on every host (each has its own copy).
        for _ in 0..rng.gen_range(1..=3) {
            let date = (chrono::Utc::now() - chrono::TimeDelta::minutes(5)).to_rfc3339();
            for h in &hosts {
                article(h, &format!("s{written}"), &date);
            }
            written += 1;
        }
        let mut children = Vec::new();
        for h in &hosts {
            children.push(herald(h).spawn().unwrap());
        }
        runs += children.len();
        // Some runs die mid-flight: at start, while claiming, while sending.
        let mut doomed: Vec<(Duration, usize)> = Vec::new();
        for i in 0..children.len() {
            if round < rounds - 1 && rng.gen_bool(0.5) {
                doomed.push((Duration::from_millis(rng.gen_range(0..700)), i));
            }
        }
        doomed.sort();
        let started = std::time::Instant::now();
        for (after, i) in doomed {
            tokio::time::sleep(after.saturating_sub(started.elapsed())).await;
            let pid = children[i].id() as libc::pid_t;
            unsafe { libc::kill(pid, libc::SIGKILL) };
            killed += 1;
        }
        for mut c in children {
            let out = tokio::task::spawn_blocking(move || {
                let status = c.wait().unwrap();
                let mut err = String::new();
                if let Some(mut e) = c.stderr.take() {
                    use std::io::Read;
                    let _ = e.read_to_string(&mut err);
                }
                (status, err)
            })
            .await
            .unwrap();
            // A run that was not killed ends well.
            if out.0.code().is_some() {
                assert!(
                    matches!(out.0.code(), Some(0 | 2)),
                    "a run failed: {:?} {}",
                    out.0,
                    out.1
                );
            }
        }
    }
    // Every host runs once more, undisturbed: what the killed runs left is settled.
    for h in &hosts {
        let status = herald(h).status().unwrap();
        assert!(matches!(status.code(), Some(0 | 2)), "{status:?}");
    }

    let records = ledger_rows(&cluster, &url);
    let sent = received(&server).await;
    let mut posted = 0;
    let mut uncertain = 0;
    for target in ["masto", "disc"] {
        for n in 0..written {
            let slug = format!("s{n}");
            let status = records
                .get(&(target.to_string(), slug.clone()))
                .unwrap_or_else(|| panic!("{target} {slug}: never recorded (lost)"));
            let requests: Vec<&(String, String, Option<String>)> = sent
                .iter()
                .filter(|(t, s, _)| t == target && *s == slug)
                .collect();
            // Resends carry the first attempt's key: the platform makes one post.
            let keys: HashSet<Option<&String>> =
                requests.iter().map(|(_, _, k)| k.as_ref()).collect();
            let made = if target == "masto" {
                keys.len()
            } else {
                requests.len()
            };
            match status.as_str() {
                "posted" => {
                    posted += 1;
                    assert_eq!(made, 1, "{target} {slug}: posted, made {made} times");
                }
                "uncertain" => {
                    uncertain += 1;
                    assert!(made <= 1, "{target} {slug}: uncertain, made {made} times");
                }
                other => panic!("{target} {slug}: left {other}"),
            }
        }
    }
    let keyed: HashSet<(&String, &String, &Option<String>)> =
        sent.iter().map(|(t, s, k)| (t, s, k)).collect();
    println!(
        "4 hosts, {runs} runs ({killed} killed), {written} articles × 2 targets: {posted} posted exactly once, {uncertain} uncertain, 0 lost, 0 made twice ({} requests, {} of them resends under the first attempt's idempotency key)",
        sent.len(),
        sent.len() - keyed.len()
    );
    assert_eq!(posted + uncertain, 2 * written);
}

/// (target, slug) → status, read through herald's own export.
fn ledger_rows(cluster: &Cluster, url: &str) -> HashMap<(String, String), String> {
    let _ = cluster;
    let location = herald::ledger::Location::Database(herald::ledger::DatabaseUrl {
        url: herald::secret::Secret::new(url),
    });
    let ledger = herald::ledger::Ledger::open_at(&location).unwrap();
    ledger
        .records()
        .unwrap()
        .into_iter()
        .map(|r| {
            let slug = r
                .article_id
                .trim_end_matches('/')
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            ((r.target, slug), r.status.to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_database_that_cannot_be_reached_at_the_start_stops_the_run_before_anything_is_sent() {
    let server = MockServer::start().await;
    mount(&server, Duration::ZERO).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = host(
        &server.uri(),
        &format!(
            "postgres://herald:pw-s3cret@127.0.0.1:{closed}/news?sslmode=disable&connect_timeout=2"
        ),
        "",
    );
    site.simple("s0", "2024-02-10T10:00:00Z");
    let assert = site
        .herald()
        .env("MASTODON_TOKEN", "t")
        .args(["publish", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .code(1);
    let (_, err) = output(&assert);
    assert!(err.contains("cannot reach the database"), "{err}");
    assert!(err.contains("nothing was sent"), "{err}");
    assert!(!err.contains("pw-s3cret"), "the password leaked: {err}");
    assert!(received(&server).await.is_empty());
    // `check` says so first, at the key.
    let checked = site.herald().arg("check").assert().failure();
    let (out, err) = output(&checked);
    let said = format!("{out}{err}");
    assert!(said.contains("herald.yaml"), "{said}");
    assert!(said.contains("cannot reach the database"), "{said}");
    assert!(!said.contains("pw-s3cret"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_lost_mid_send_is_made_again_and_the_post_recorded_once() {
    // The post takes a while: the database goes away meanwhile.
    let Some((mut cluster, url, server)) = shared_ledger(Duration::from_millis(1500)).await else {
        return;
    };
    let site = host(&server.uri(), &url, "");
    article(
        &site,
        "s0",
        &(chrono::Utc::now() - chrono::TimeDelta::minutes(5)).to_rfc3339(),
    );
    let child = herald(&site).spawn().unwrap();
    let started = std::time::Instant::now();
    while received(&server).await.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing was sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // While it is in flight, any host's status shows whose claim it is.
    let status = tokio::task::block_in_place(|| site.herald().arg("status").assert().success());
    let shown = output(&status).0;
    assert!(
        shown.contains("pending") && shown.contains(&format!("/{}/", child.id())),
        "{shown}"
    );
    assert!(
        shown.contains("claimed by") && shown.contains(" until "),
        "{shown}"
    );
    tokio::task::block_in_place(|| {
        // Down (as a crash leaves it) until it has started again.
        cluster.restart();
    });
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("connecting again"),
        "the connection was lost: {err}"
    );
    let rows = ledger_rows(&cluster, &url);
    assert_eq!(rows[&("masto".to_string(), "s0".to_string())], "posted");
    assert_eq!(rows[&("disc".to_string(), "s0".to_string())], "posted");
    // The next run sends nothing.
    let status = herald(&site).status().unwrap();
    assert_eq!(status.code(), Some(0));
    assert_eq!(received(&server).await.len(), 2, "each post made once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_that_waits_too_long_stops_the_run_with_a_clear_message() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let db = cluster.database();
    let url = format!("{}&statement_timeout=300", cluster.url(&db));
    let server = MockServer::start().await;
    mount(&server, Duration::ZERO).await;
    let site = host(&server.uri(), &url, "");
    site.simple("s0", "2024-02-10T10:00:00Z");
    // The schema exists; another session holds the posts table.
    drop(herald::ledger::Ledger::open_at(
        &herald::ledger::Location::Database(herald::ledger::DatabaseUrl {
            url: herald::secret::Secret::new(&url),
        }),
    ));
    let hold_url = cluster.url(&db);
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&hold_url, postgres::NoTls).unwrap();
        let mut tx = client.transaction().unwrap();
        tx.batch_execute("LOCK TABLE herald.posts IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        locked_tx.send(()).unwrap();
        let _ = release_rx.recv_timeout(Duration::from_secs(30));
        tx.rollback().unwrap();
    });
    locked_rx.recv().unwrap();
    let assert = site
        .herald()
        .env("MASTODON_TOKEN", "t")
        .args(["publish", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .code(1);
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    let (_, err) = output(&assert);
    assert!(err.contains("300 ms"), "{err}");
    assert!(received(&server).await.is_empty());
}

#[tokio::test]
async fn hosts_sharing_a_ledger_write_the_same_feeds_and_post_once() {
    let Some((cluster, url, server)) = shared_ledger(Duration::ZERO).await else {
        return;
    };
    let (a, b) = (host(&server.uri(), &url, ""), host(&server.uri(), &url, ""));
    for h in [&a, &b] {
        h.simple("s0", "2024-02-10T10:00:00Z");
    }
    // A dry run reads the shared ledger and creates nothing in it.
    let dry = a
        .herald()
        .env("MASTODON_TOKEN", "t")
        .args(["publish", "--dry-run", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .success();
    assert!(output(&dry).0.contains("masto"), "{}", output(&dry).0);
    let db = url.rsplit('/').next().unwrap().split('?').next().unwrap();
    assert_eq!(
        cluster.sql(
            db,
            "SELECT count(*) FROM pg_namespace WHERE nspname = 'herald'"
        ),
        [Some("0".to_string())]
    );
    for h in [&a, &b] {
        h.herald()
            .env("MASTODON_TOKEN", "t")
            .args(["publish", "--now", "2024-02-11T00:00:00Z"])
            .assert()
            .success();
    }
    assert_eq!(received(&server).await.len(), 2, "one post per target");
    for name in ["feed.xml", "atom.xml", "syndication.json"] {
        assert_eq!(a.read_public(name), b.read_public(name), "{name}");
    }
    // Any host shows the shared ledger.
    let status = b.herald().args(["status"]).assert().success();
    assert_eq!(
        output(&status).0.matches("posted").count(),
        2,
        "{}",
        output(&status).0
    );
    // The export reads the shared ledger from any host.
    let assert = a.herald().args(["ledger", "export"]).assert().success();
    let (out, _) = output(&assert);
    assert_eq!(out.lines().filter(|l| l.contains("\"posted\"")).count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_renew_a_rotating_refresh_token_one_at_a_time_and_share_the_new_one() {
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let url = cluster.url(&cluster.database());
    let server = MockServer::start().await;
    // The login's access token has ended by the next run.
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.server.createSession"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "accessJwt": jwt("login", -60),
            "refreshJwt": jwt("refresh1", 90 * 86_400),
            "did": "did:plc:news",
        })))
        .mount(&server)
        .await;
    // Renewing takes a while, so that both hosts want to at once.
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.server.refreshSession"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({
                    "accessJwt": jwt("renewed", 7200),
                    "refreshJwt": jwt("refresh2", 90 * 86_400),
                    "did": "did:plc:news",
                }))
                .set_delay(Duration::from_millis(500)),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.createRecord"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"uri": "at://did:plc:news/app.bsky.feed.post/1", "cid": "c"}),
        ))
        .mount(&server)
        .await;
    let targets = format!(
        "    - {{ name: bsky, type: bluesky, service: \"{}/bsky\", identifier: news.example, app_password: app-pass }}\n",
        server.uri()
    );
    let shared = |_: ()| {
        let config = posting_config("  min_interval: 0s\n  max_per_run: 10\n", &targets, "");
        Site::with_config(&format!("{config}  url: \"{url}\"\n"))
    };
    let (a, b) = (shared(()), shared(()));
    a.simple("a0", "2024-02-09T10:00:00Z");
    a.herald()
        .args(["publish", "--now", "2024-02-11T00:00:00Z"])
        .assert()
        .success();
    // Each host has a new article (their copies of the site differ for a
    // moment): both need the session, whose access token has ended.
    a.simple("a1", "2024-02-10T10:00:00Z");
    b.simple("b1", "2024-02-10T11:00:00Z");
    let run = |site: &Site| {
        let mut cmd = herald(site);
        cmd.args(["--now", "2024-02-11T00:00:00Z"])
            .stdout(Stdio::piped());
        cmd.spawn().unwrap()
    };
    let children = [run(&a), run(&b)];
    for child in children {
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        crate::support::requests_to(&server, "createSession").await,
        1,
        "one login in all"
    );
    assert_eq!(
        crate::support::requests_to(&server, "refreshSession").await,
        1,
        "one host renewed; the other used its session"
    );
    assert_eq!(
        crate::support::requests_to(&server, "createRecord").await,
        3
    );
    let requests = server.received_requests().await.unwrap();
    let renewed_posts = requests
        .iter()
        .filter(|r| r.url.path().ends_with("createRecord"))
        .filter(|r| {
            r.headers["authorization"]
                .to_str()
                .unwrap()
                .contains("sig-renewed")
        })
        .count();
    assert_eq!(renewed_posts, 2, "both hosts posted with the renewed token");
}

#[tokio::test]
async fn a_site_moves_its_ledger_to_postgres_and_posts_nothing_again() {
    let Some((_cluster, url, server)) = shared_ledger(Duration::ZERO).await else {
        return;
    };
    let targets = format!(
        "    - {{ name: disc, type: discord, url: \"{}/discord/api/webhooks/1/tok\" }}\n",
        server.uri()
    );
    let config = posting_config("", &targets, "");
    let site = Site::with_config(&config);
    site.simple("s0", "2024-02-10T10:00:00Z");
    let publish = |site: &Site| {
        site.herald()
            .args(["publish", "--now", "2024-02-11T00:00:00Z"])
            .assert()
    };
    publish(&site).success();
    assert_eq!(received(&server).await.len(), 1);
    // Pointed at the database before moving the ledger: refused, not a
    // second announcement of everything.
    site.write_config(&format!("{config}  url: \"{url}\"\n"));
    let refused = publish(&site).code(1);
    let (_, err) = output(&refused);
    assert!(err.contains("earlier runs left traces"), "{err}");
    assert_eq!(received(&server).await.len(), 1);
    // Moved: the same posts, nothing sent again.
    site.write_config(&config);
    let moved = site
        .herald()
        .args(["ledger", "migrate", "--to", &url])
        .assert()
        .success();
    assert!(output(&moved).1.contains("1 posts"), "{:?}", output(&moved));
    site.write_config(&format!("{config}  url: \"{url}\"\n"));
    let again = publish(&site).success();
    assert!(!output(&again).0.contains("posted"), "{:?}", output(&again));
    assert_eq!(received(&server).await.len(), 1);
}
