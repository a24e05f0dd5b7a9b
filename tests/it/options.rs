//! Posting options through the binary, against local stand-ins: UTM
//! parameters and hashtags in posts (not in feeds), an article's own
//! choices in its front matter, `delay` and `windows`, and approval.

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::support::{Site, ledger_records, output, posting_site, publish_at};

/// Mastodon and Bluesky stand-ins that accept every post.
async fn stand_ins(server: &MockServer) {
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("GET"))
        .and(path("/masto/api/v2/instance"))
        .respond_with(ok(
            json!({"configuration": {"statuses": {"max_characters": 500}}}),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/masto/api/v1/statuses"))
        .respond_with(ok(json!({"id": "s1", "url": "https://m.example/@news/s1"})))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.server.createSession"))
        .respond_with(ok(
            json!({"accessJwt": "jwt", "refreshJwt": "r", "did": "did:plc:news"}),
        ))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.createRecord"))
        .respond_with(ok(
            json!({"uri": "at://did:plc:news/app.bsky.feed.post/3k", "cid": "c"}),
        ))
        .mount(server)
        .await;
}

fn targets(base: &str, masto_extra: &str) -> String {
    format!(
        "    - {{ name: masto, type: mastodon, instance: \"{base}/masto\", token: t0ken{masto_extra} }}
    - {{ name: bsky, type: bluesky, service: \"{base}/bsky\", identifier: news.example, app_password: pw }}
"
    )
}

const NOW: &str = "2024-02-09T12:00:00Z";

fn article(site: &Site, social: &str) {
    site.article(
        "async-tips.md",
        format!(
            "---\ntitle: Async tips\npublish_date: 2024-02-09T09:00:00Z\ndescription: How to pin futures.\ntags: [rust, edge AI, food & drink]\n{social}---\n\nBody.\n"
        ),
    );
}

/// The text of `herald publish --dry-run --now NOW` on `site`.
fn dry_run(site: &Site, now: &str) -> String {
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--now", now])
        .assert()
        .success();
    output(&dry).0
}

async fn bodies(server: &MockServer, p: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r: &&Request| r.url.path() == p)
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn utm_and_hashtags_go_in_posts_and_never_in_feeds() {
    let server = MockServer::start().await;
    stand_ins(&server).await;
    let base = server.uri();
    let site = posting_site(
        "  hashtags: 2\n  utm: { source: \"{platform}\", medium: social, campaign: \"{slug}\", content: \"{target}\" }\n",
        &targets(&base, ", cw: Tech talk, visibility: unlisted"),
    );
    article(
        &site,
        "social:\n  hashtags: ['#RustLang']\n  masto: { visibility: private }\n",
    );

    // The dry run shows the tagged link and the hashtags.
    let stdout = dry_run(&site, NOW);
    assert!(
        stdout.contains("https://news.example/articles/async-tips/?utm_source=mastodon&utm_medium=social&utm_campaign=async-tips&utm_content=masto"),
        "{stdout}"
    );
    assert!(stdout.contains("#rust #EdgeAI #RustLang"), "{stdout}");

    publish_at(&site, NOW).success();
    let tagged = |platform: &str, target: &str| {
        format!(
            "https://news.example/articles/async-tips/?utm_source={platform}&utm_medium=social&utm_campaign=async-tips&utm_content={target}"
        )
    };
    let status = &bodies(&server, "/masto/api/v1/statuses").await[0];
    let text = status["status"].as_str().unwrap();
    assert!(text.contains(&tagged("mastodon", "masto")), "{text}");
    // Two of the article's tags (the target's `hashtags: 2`), then its own.
    assert!(text.ends_with("#rust #EdgeAI #RustLang"), "{text}");
    assert!(!text.contains("#FoodDrink"), "{text}");
    assert_eq!(status["spoiler_text"], "Tech talk");
    assert_eq!(status["visibility"], "private");

    let record = &bodies(&server, "/bsky/xrpc/com.atproto.repo.createRecord").await[0]["record"];
    let text = record["text"].as_str().unwrap();
    assert_eq!(
        record["embed"]["external"]["uri"],
        tagged("bluesky", "bsky")
    );
    let facets = record["facets"].as_array().unwrap();
    let slice = |f: &Value| {
        let (s, e) = (
            f["index"]["byteStart"].as_u64().unwrap() as usize,
            f["index"]["byteEnd"].as_u64().unwrap() as usize,
        );
        text[s..e].to_string()
    };
    assert_eq!(slice(&facets[0]), tagged("bluesky", "bsky"));
    assert_eq!(facets[0]["features"][0]["uri"], tagged("bluesky", "bsky"));
    let tags: Vec<(String, &str)> = facets[1..]
        .iter()
        .map(|f| (slice(f), f["features"][0]["tag"].as_str().unwrap()))
        .collect();
    assert_eq!(
        tags,
        vec![
            ("#rust".to_string(), "rust"),
            ("#EdgeAI".to_string(), "EdgeAI"),
            ("#RustLang".to_string(), "RustLang")
        ]
    );
    for f in &facets[1..] {
        assert_eq!(f["features"][0]["$type"], "app.bsky.richtext.facet#tag");
    }

    // Feeds and ids keep the clean permalink.
    for feed in ["feed.xml", "atom.xml", "feed.json"] {
        let text = site.read_public(feed);
        assert!(!text.contains("utm_"), "{feed}: {text}");
        assert!(text.contains("https://news.example/articles/async-tips/"));
    }
    let records = ledger_records(&site);
    assert!(
        records
            .iter()
            .all(|r| r["article_id"] == "https://news.example/articles/async-tips/"),
        "{records:?}"
    );
}

#[tokio::test]
async fn hashtags_give_way_before_the_summary_and_are_never_cut() {
    let server = MockServer::start().await;
    stand_ins(&server).await;
    let base = server.uri();
    let site = posting_site("  hashtags: true\n", &targets(&base, ""));
    let long = "word ".repeat(50);
    site.article(
        "long.md",
        format!(
            "---\ntitle: Long\npublish_date: 2024-02-09T09:00:00Z\ndescription: {long}\ntags: [alpha, beta, gamma, delta, epsilon, zeta]\n---\n\nBody.\n"
        ),
    );
    publish_at(&site, NOW).success();
    let record = &bodies(&server, "/bsky/xrpc/com.atproto.repo.createRecord").await[0]["record"];
    let text = record["text"].as_str().unwrap();
    assert!(text.chars().count() <= 300, "{text}");
    // The summary is whole; hashtags were dropped from the last, whole.
    assert!(text.contains(long.trim()), "{text}");
    let last_line = text.lines().last().unwrap();
    assert!(last_line.starts_with("#alpha"), "{text}");
    for word in last_line.split(' ') {
        assert!(
            ["#alpha", "#beta", "#gamma", "#delta", "#epsilon", "#zeta"].contains(&word),
            "a cut hashtag: {word:?} in {text}"
        );
    }
    assert!(!last_line.contains("#zeta"), "{text}");
}

#[tokio::test]
async fn an_article_s_own_choices_skip_targets_and_replace_the_text() {
    let server = MockServer::start().await;
    stand_ins(&server).await;
    let base = server.uri();
    let site = posting_site("", &targets(&base, ""));
    article(
        &site,
        "social:\n  skip: [bluesky]\n  masto: { text: \"Pinning, at last explained. With pictures.\", cw: Rust internals }\n",
    );
    publish_at(&site, NOW).success();
    assert!(
        bodies(&server, "/bsky/xrpc/com.atproto.repo.createRecord")
            .await
            .is_empty()
    );
    let status = &bodies(&server, "/masto/api/v1/statuses").await[0];
    assert_eq!(
        status["status"],
        "Pinning, at last explained. With pictures.\n\nhttps://news.example/articles/async-tips/"
    );
    assert_eq!(status["spoiler_text"], "Rust internals");
    let records = ledger_records(&site);
    assert_eq!(records.len(), 1, "{records:?}");

    // A change of the article's own text is an edit like any other: with
    // `on_edit: ignore` (the default) nothing is sent again.
    article(
        &site,
        "social:\n  skip: [bluesky]\n  masto: { text: \"New words.\" }\n",
    );
    publish_at(&site, NOW).success();
    assert_eq!(bodies(&server, "/masto/api/v1/statuses").await.len(), 1);
}

#[tokio::test]
async fn a_front_matter_naming_no_target_is_an_error_and_the_article_goes_nowhere() {
    let server = MockServer::start().await;
    stand_ins(&server).await;
    let base = server.uri();
    let site = posting_site("", &targets(&base, ""));
    article(
        &site,
        "social:\n  skip: [mastodn]\n  bsky: { visibility: unlisted }\n",
    );
    let check = site.herald().arg("check").assert().code(1);
    let (stdout, _) = output(&check);
    assert!(
        stdout.contains(
            "social.skip: no target is named or of type `mastodn`; did you mean `mastodon`?"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("visibility \"unlisted\" for bsky: a bluesky target has no visibility"),
        "{stdout}"
    );
    let run = publish_at(&site, NOW);
    let (stdout, stderr) = output(&run);
    assert!(
        format!("{stdout}{stderr}").contains("the article is not posted until this is fixed"),
        "{stdout}{stderr}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
    // The feeds still carry it.
    assert!(site.read_public("feed.xml").contains("Async tips"));
}

#[tokio::test]
async fn delay_and_windows_hold_a_post_until_its_time() {
    let server = MockServer::start().await;
    stand_ins(&server).await;
    let base = server.uri();
    let site = posting_site(
        "  delay: 2h\n",
        &targets(&base, ", windows: [\"Mon-Fri 14:00-16:00\"]"),
    );
    article(&site, "social:\n  only: [masto]\n");
    // Published 09:00 UTC (a Friday); at 10:00 the delay runs to 11:00.
    let stdout = dry_run(&site, "2024-02-09T10:00:00Z");
    assert!(stdout.contains("masto (mastodon) delayed"), "{stdout}");
    assert!(
        stdout.contains("it goes at 2024-02-09 11:00 UTC"),
        "{stdout}"
    );
    publish_at(&site, "2024-02-09T10:00:00Z").success();
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(ledger_records(&site).is_empty());

    // At 12:00 the delay is over but the window opens at 14:00.
    let stdout = dry_run(&site, "2024-02-09T12:00:00Z");
    assert!(stdout.contains("masto (mastodon) waiting"), "{stdout}");
    assert!(
        stdout.contains("outside its windows: it goes at 2024-02-09 14:00 UTC"),
        "{stdout}"
    );
    publish_at(&site, "2024-02-09T12:00:00Z").success();
    assert!(bodies(&server, "/masto/api/v1/statuses").await.is_empty());

    publish_at(&site, "2024-02-09T14:05:00Z").success();
    assert_eq!(bodies(&server, "/masto/api/v1/statuses").await.len(), 1);
}

#[tokio::test]
async fn approval_holds_posts_until_herald_approve_lets_them_go() {
    let server = MockServer::start().await;
    stand_ins(&server).await;
    let base = server.uri();
    let site = posting_site("  approval: true\n", &targets(&base, ""));
    article(&site, "");
    site.article(
        "other.md",
        "---\ntitle: Other\npublish_date: 2024-02-09T08:00:00Z\ndescription: Other.\n---\n\nBody.\n",
    );
    publish_at(&site, NOW).success();
    assert!(server.received_requests().await.unwrap().is_empty());
    let held = site
        .herald()
        .args(["status", "--status", "held"])
        .assert()
        .success();
    let (stdout, _) = output(&held);
    assert!(stdout.contains("held"), "{stdout}");
    assert_eq!(
        ledger_records(&site)
            .iter()
            .filter(|r| r["status"] == "held")
            .count(),
        4
    );

    // A bare `approve` lets nothing go by accident.
    let bare = site.herald().arg("approve").assert().failure();
    assert!(
        output(&bare).1.contains("or use --all"),
        "{}",
        output(&bare).1
    );
    site.herald()
        .args(["approve", "async-tips", "--target", "masto"])
        .assert()
        .success();
    publish_at(&site, NOW).success();
    let statuses = bodies(&server, "/masto/api/v1/statuses").await;
    assert_eq!(statuses.len(), 1);
    assert!(
        statuses[0]["status"]
            .as_str()
            .unwrap()
            .contains("Async tips")
    );
    assert!(
        bodies(&server, "/bsky/xrpc/com.atproto.repo.createRecord")
            .await
            .is_empty()
    );
    site.herald().args(["approve", "--all"]).assert().success();
    publish_at(&site, NOW).success();
    assert_eq!(bodies(&server, "/masto/api/v1/statuses").await.len(), 2);
    assert_eq!(
        bodies(&server, "/bsky/xrpc/com.atproto.repo.createRecord")
            .await
            .len(),
        2
    );
}

#[tokio::test]
async fn chat_details_reach_forum_channels_topics_and_silent_messages() {
    let server = MockServer::start().await;
    let ok = |body: Value| ResponseTemplate::new(200).set_body_json(body);
    Mock::given(method("POST"))
        .and(path("/discord/api/webhooks/1/tok"))
        .respond_with(ok(
            json!({"id": "900", "channel_id": "900", "guild_id": "33"}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path("/discord/api/webhooks/1/tok/messages/900"))
        .respond_with(ok(json!({"id": "900", "channel_id": "900"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/tg/bot123:SECRET/sendMessage"))
        .respond_with(ok(
            json!({"ok": true, "result": {"message_id": 7, "chat": {"id": -100}}}),
        ))
        .mount(&server)
        .await;
    let base = server.uri();
    let site = posting_site(
        "  on_edit: update\n",
        &format!(
            "    - {{ name: forum, type: discord, url: \"{base}/discord/api/webhooks/1/tok\", thread_name: \"New: {{title}}\" }}
    - {{ name: tg, type: telegram, bot_token: \"123:SECRET\", chat_id: \"-100\", api_url: \"{base}/tg\", message_thread_id: 42, silent: true }}
"
        ),
    );
    article(&site, "");
    publish_at(&site, NOW).success();
    let discord = &bodies(&server, "/discord/api/webhooks/1/tok").await[0];
    assert_eq!(discord["thread_name"], "New: Async tips");
    let telegram = &bodies(&server, "/tg/bot123:SECRET/sendMessage").await[0];
    assert_eq!(telegram["message_thread_id"], 42);
    assert_eq!(telegram["disable_notification"], true);
    assert_eq!(telegram["chat_id"], "-100");

    // An edit of a forum post names its thread (the message's own id).
    site.article(
        "async-tips.md",
        "---\ntitle: Async tips, revised\npublish_date: 2024-02-09T09:00:00Z\ndescription: How to pin futures.\n---\n\nBody.\n",
    );
    publish_at(&site, NOW).success();
    let edits: Vec<Request> = server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .collect();
    assert_eq!(edits.len(), 1);
    assert_eq!(edits[0].url.query(), Some("thread_id=900"));
}

#[tokio::test]
async fn each_posted_article_gets_a_data_file_written_only_when_it_changes() {
    let server = MockServer::start().await;
    stand_ins(&server).await;
    let base = server.uri();
    let site = Site::with_config(&crate::support::posting_config(
        "",
        &targets(&base, ""),
        "syndication:\n  data_dir: ../site/data/posts\n",
    ));
    article(&site, "");
    site.article(
        "unposted.md",
        "---\ntitle: Unposted\npublish_date: 2024-02-09T09:00:00Z\ndescription: D.\nsocial:\n  skip: [masto, bsky]\n---\n\nBody.\n",
    );
    publish_at(&site, NOW).success();
    let file = site.root().join("site/data/posts/async-tips.json");
    let data: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(data["article"], "https://news.example/articles/async-tips/");
    let posts = data["posts"].as_array().unwrap();
    assert_eq!(posts.len(), 2);
    assert_eq!(posts[0]["target"], "bsky");
    assert_eq!(posts[1]["target"], "masto");
    assert_eq!(posts[1]["url"], "https://m.example/@news/s1");
    assert!(!site.root().join("site/data/posts/unposted.json").exists());

    // Nothing changed: the file is not written again (a write replaces
    // the file, which gives it another inode).
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let before = std::fs::metadata(&file).unwrap().ino();
        publish_at(&site, NOW).success();
        assert_eq!(std::fs::metadata(&file).unwrap().ino(), before);
        // A file that no longer says what the ledger does is written again.
        let mut data: Value =
            serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        data["posts"] = json!([]);
        std::fs::write(&file, data.to_string()).unwrap();
        let tampered = std::fs::metadata(&file).unwrap().ino();
        publish_at(&site, NOW).success();
        assert_ne!(std::fs::metadata(&file).unwrap().ino(), tampered);
    }
}

/// A Mastodon stand-in numbering statuses 1, 2, …; replies fail with 503
/// while `failing` is set.
async fn numbered_mastodon(
    server: &MockServer,
    failing: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    Mock::given(method("GET"))
        .and(path("/masto/api/v2/instance"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"configuration": {"statuses": {"max_characters": 500}}})),
        )
        .mount(server)
        .await;
    let n = std::sync::Arc::new(AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/masto/api/v1/statuses"))
        .respond_with(move |r: &Request| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            if body.get("in_reply_to_id").is_some() && failing.load(Ordering::SeqCst) {
                return ResponseTemplate::new(503);
            }
            let i = n.fetch_add(1, Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(
                json!({"id": format!("{i}"), "url": format!("https://m.example/@news/{i}")}),
            )
        })
        .mount(server)
        .await;
}

fn long_article(site: &Site) {
    let summary = (1..=60)
        .map(|i| format!("Sentence number {i} says a little more."))
        .collect::<Vec<_>>()
        .join(" ");
    site.article(
        "long-read.md",
        format!(
            "---\ntitle: A long read\npublish_date: 2024-02-09T09:00:00Z\ndescription: {summary}\ncta: Read it all\ntags: [rust]\n---\n\nBody.\n"
        ),
    );
}

#[tokio::test]
async fn a_long_post_becomes_a_thread_and_a_failed_part_resumes_without_repeating_one() {
    use std::sync::atomic::Ordering;
    let server = MockServer::start().await;
    let failing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    numbered_mastodon(&server, failing.clone()).await;
    let base = server.uri();
    let site = posting_site(
        "  thread: true\n  hashtags: true\n",
        &format!(
            "    - {{ name: masto, type: mastodon, instance: \"{base}/masto\", token: t0ken }}\n"
        ),
    );
    long_article(&site);

    let stdout = dry_run(&site, NOW);
    assert!(stdout.contains("A long read (part 2 of"), "{stdout}");
    assert!(
        stdout.contains("\"in_reply_to_id\": \"<id of the part before>\""),
        "{stdout}"
    );
    assert!(stdout.contains("a thread of"), "{stdout}");

    // The first post goes; its replies fail (503, three tries each run).
    publish_at(&site, NOW);
    let statuses = bodies(&server, "/masto/api/v1/statuses").await;
    let first = &statuses[0];
    assert!(first.get("in_reply_to_id").is_none());
    let records = ledger_records(&site);
    let main = records
        .iter()
        .find(|r| r["article_id"] == "https://news.example/articles/long-read/")
        .unwrap();
    assert_eq!(main["status"], "posted");
    let parts: Vec<&Value> = records
        .iter()
        .filter(|r| r["article_id"].as_str().unwrap().contains("#part-"))
        .collect();
    assert!(parts.len() >= 2, "{records:?}");
    assert!(parts.iter().all(|r| r["status"] != "posted"), "{parts:?}");

    // The next run posts the rest, each a reply to the one before, and
    // never the first again.
    failing.store(false, Ordering::SeqCst);
    let stdout = dry_run(&site, NOW);
    assert!(stdout.contains("(part 2 of"), "{stdout}");
    publish_at(&site, NOW).success();
    // (The stand-in saw the refused replies too; none without a parent.)
    let sent = bodies(&server, "/masto/api/v1/statuses").await;
    let made = sent
        .iter()
        .filter(|b| b.get("in_reply_to_id").is_none())
        .count();
    assert_eq!(made, 1, "the first post was made once");
    let records = ledger_records(&site);
    let parts: Vec<&Value> = records
        .iter()
        .filter(|r| r["article_id"].as_str().unwrap().contains("#part-"))
        .collect();
    assert!(parts.iter().all(|r| r["status"] == "posted"), "{parts:?}");
    // Each reply answers the post made just before it.
    let all = bodies(&server, "/masto/api/v1/statuses").await;
    let replies: Vec<&Value> = all[all.len() - parts.len()..].iter().collect();
    for (k, reply) in replies.iter().enumerate() {
        assert_eq!(reply["in_reply_to_id"], format!("{}", k + 1), "{reply}");
    }
    // Nothing was cut: the whole summary, the CTA, the link and the
    // hashtag are in the thread, in order.
    let text: Vec<String> = std::iter::once(first)
        .chain(replies.iter().copied())
        .map(|b| b["status"].as_str().unwrap().to_string())
        .collect();
    let joined = text.join(" ");
    assert!(
        joined.contains("Sentence number 60 says a little more."),
        "{joined}"
    );
    assert!(
        joined.contains("Read it all https://news.example/articles/long-read/"),
        "{joined}"
    );
    assert!(joined.ends_with("#rust"), "{joined}");
    for t in &text {
        assert!(t.chars().count() <= 500, "{t}");
    }
}

#[tokio::test]
async fn link_in_reply_puts_the_link_and_the_cta_in_the_first_reply() {
    let server = MockServer::start().await;
    numbered_mastodon(
        &server,
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.server.createSession"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"accessJwt": "jwt", "refreshJwt": "r", "did": "did:plc:news"}),
            ),
        )
        .mount(&server)
        .await;
    let n = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.createRecord"))
        .respond_with(move |_: &Request| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
            ResponseTemplate::new(200).set_body_json(
                json!({"uri": format!("at://did:plc:news/app.bsky.feed.post/r{i}"), "cid": format!("cid{i}")}),
            )
        })
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/img/hero.jpg"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(crate::posting::jpeg()),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.uploadBlob"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"blob": {"$type": "blob", "ref": {"$link": "bafkreib"}, "mimeType": "image/jpeg", "size": 1234}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/masto/api/v2/media"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "m1", "url": "https://m.example/m1.jpg"})),
        )
        .mount(&server)
        .await;
    let base = server.uri();
    let site = posting_site("  link_in_reply: true\n", &targets(&base, ""));
    site.article(
        "short.md",
        format!("---\ntitle: Short\npublish_date: 2024-02-09T09:00:00Z\ndescription: A short one.\ncta: Read on\nheroImage: {base}/img/hero.jpg\nheroImageAlt: A pin\n---\n\nBody.\n"),
    );
    publish_at(&site, NOW).success();
    let statuses = bodies(&server, "/masto/api/v1/statuses").await;
    assert_eq!(statuses.len(), 2);
    assert_eq!(statuses[0]["status"], "Short\n\nA short one.");
    assert_eq!(
        statuses[1]["status"],
        "Read on https://news.example/articles/short/"
    );
    assert_eq!(statuses[1]["in_reply_to_id"], "1");

    let records = bodies(&server, "/bsky/xrpc/com.atproto.repo.createRecord").await;
    assert_eq!(records.len(), 2);
    // The post without the link shows the hero image, with its alt text.
    assert_eq!(
        records[0]["record"]["embed"],
        json!({
            "$type": "app.bsky.embed.images",
            "images": [{
                "image": {"$type": "blob", "ref": {"$link": "bafkreib"}, "mimeType": "image/jpeg", "size": 1234},
                "alt": "A pin",
            }],
        })
    );
    let reply = &records[1]["record"];
    assert_eq!(
        reply["reply"],
        json!({
            "root": {"uri": "at://did:plc:news/app.bsky.feed.post/r1", "cid": "cid1"},
            "parent": {"uri": "at://did:plc:news/app.bsky.feed.post/r1", "cid": "cid1"},
        })
    );
    assert_eq!(
        reply["embed"]["external"]["uri"],
        "https://news.example/articles/short/"
    );
    assert_ne!(records[0]["rkey"], records[1]["rkey"]);
}

#[tokio::test]
async fn old_articles_are_reshared_by_boost_repost_or_a_prefixed_post() {
    let server = MockServer::start().await;
    stand_ins(&server).await;
    for p in [
        "/masto/api/v1/statuses/s1/reblog",
        "/masto/api/v1/statuses/s1/unreblog",
    ] {
        Mock::given(method("POST"))
            .and(path(p))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"id": "b1", "url": "https://m.example/@news/b1"})),
            )
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/bsky/xrpc/com.atproto.repo.deleteRecord"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/slack/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&server)
        .await;
    let base = server.uri();
    let site = posting_site(
        "  max_age: 400d\n  reshare: { after: 30d, every: 30d, max: 2, prefix: \"Still worth a read:\" }\n",
        &format!(
            "{}    - {{ name: team, type: slack, url: \"{base}/slack/hook\" }}\n",
            targets(&base, "")
        ),
    );
    article(&site, "");
    publish_at(&site, NOW).success();
    let requests = || async { server.received_requests().await.unwrap() };
    let count = |all: &[Request], p: &str| all.iter().filter(|r| r.url.path() == p).count();
    // Not yet due.
    publish_at(&site, "2024-02-20T12:00:00Z").success();
    assert_eq!(
        count(&requests().await, "/masto/api/v1/statuses/s1/reblog"),
        0
    );

    let stdout = dry_run(&site, "2024-03-11T12:00:00Z");
    assert!(
        stdout.contains("masto (mastodon) reshare (boost)"),
        "{stdout}"
    );
    assert!(stdout.contains("team (slack) reshare"), "{stdout}");
    publish_at(&site, "2024-03-11T12:00:00Z").success();
    let all = requests().await;
    assert_eq!(count(&all, "/masto/api/v1/statuses/s1/reblog"), 1);
    assert_eq!(count(&all, "/masto/api/v1/statuses/s1/unreblog"), 0);
    assert_eq!(count(&all, "/masto/api/v1/statuses"), 1, "no second status");
    let reposts: Vec<Value> = bodies(&server, "/bsky/xrpc/com.atproto.repo.createRecord")
        .await
        .into_iter()
        .filter(|b| b["collection"] == "app.bsky.feed.repost")
        .collect();
    assert_eq!(reposts.len(), 1);
    assert_eq!(
        reposts[0]["record"]["subject"],
        json!({"uri": "at://did:plc:news/app.bsky.feed.post/3k", "cid": "c"})
    );
    let slack = bodies(&server, "/slack/hook").await;
    assert_eq!(slack.len(), 2);
    assert_eq!(
        slack[1]["blocks"][0]["text"]["text"],
        "Still worth a read: Async tips"
    );

    // The same run again: nothing more (the next is due 30 days on).
    publish_at(&site, "2024-03-11T13:00:00Z").success();
    assert_eq!(
        count(&requests().await, "/masto/api/v1/statuses/s1/reblog"),
        1
    );

    // The second reshare undoes the first boost and repost first.
    publish_at(&site, "2024-04-11T12:00:00Z").success();
    let all = requests().await;
    assert_eq!(count(&all, "/masto/api/v1/statuses/s1/unreblog"), 1);
    assert_eq!(count(&all, "/masto/api/v1/statuses/s1/reblog"), 2);
    assert_eq!(count(&all, "/bsky/xrpc/com.atproto.repo.deleteRecord"), 1);

    // max: 2 reached.
    publish_at(&site, "2024-06-11T12:00:00Z").success();
    assert_eq!(
        count(&requests().await, "/masto/api/v1/statuses/s1/reblog"),
        2
    );
    let masto = ledger_records(&site)
        .into_iter()
        .find(|r| r["target"] == "masto")
        .unwrap();
    assert_eq!(masto["reshares"], 2);
    assert_eq!(masto["status"], "posted");
}
