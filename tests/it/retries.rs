//! Retries, waits and polling, run in this process on tokio's paused clock:
//! a server asking for 30 seconds gets 30 seconds of the run's clock, and
//! the test takes no time.

use std::time::Duration;

use serde_json::json;

use crate::posting::NOW;
use crate::support::{Answer, Scripted, posting_site, publish_in_process};

fn hook_site(social: &str) -> crate::support::Site {
    let site = posting_site(
        social,
        "    - { name: hooks, type: webhook, url: \"http://stand-in.test/hook\" }\n",
    );
    site.simple("a", "2024-02-10");
    site
}

fn gaps(sent: &[crate::support::Sent]) -> Vec<Duration> {
    sent.windows(2).map(|w| w[1].at - w[0].at).collect()
}

#[tokio::test(start_paused = true)]
async fn a_429_waits_exactly_what_retry_after_asks() {
    let site = hook_site("  max_wait: 60s\n");
    let transport = Scripted::new();
    transport.on(
        "/hook",
        vec![
            Answer::Http(429, vec![("Retry-After", "30".into())], String::new()),
            Answer::Http(200, Vec::new(), String::new()),
        ],
    );
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "posted");
    let sent = transport.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(gaps(&sent), [Duration::from_secs(30)]);
}

#[tokio::test(start_paused = true)]
async fn discords_retry_after_in_the_body_is_honoured() {
    let site = posting_site(
        "",
        "    - { name: discord, type: discord, url: \"http://stand-in.test/discord\" }\n",
    );
    site.simple("a", "2024-02-10");
    let transport = Scripted::new();
    transport.on(
        "/discord",
        vec![
            Answer::json(
                429,
                json!({"message": "You are being rate limited.", "retry_after": 0.6, "global": false}),
            ),
            Answer::json(200, json!({"id": "1"})),
        ],
    );
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "posted");
    assert_eq!(gaps(&transport.sent()), [Duration::from_millis(600)]);
}

#[tokio::test(start_paused = true)]
async fn server_errors_back_off_within_their_ceiling() {
    let site = hook_site("  retry_base: 2s\n");
    let transport = Scripted::new();
    transport.on(
        "/hook",
        vec![
            Answer::Http(503, Vec::new(), "busy".into()),
            Answer::Http(503, Vec::new(), "busy".into()),
            Answer::Http(200, Vec::new(), String::new()),
        ],
    );
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "posted");
    assert_eq!(report.results[0].attempts, 3);
    let gaps = gaps(&transport.sent());
    // Full jitter: the n-th wait is at most base × 2^(n-1).
    assert!(gaps[0] <= Duration::from_secs(2), "{gaps:?}");
    assert!(gaps[1] <= Duration::from_secs(4), "{gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn a_wait_longer_than_max_wait_queues_the_post_for_a_later_run() {
    let site = hook_site("  max_wait: 60s\n");
    let transport = Scripted::new();
    transport.on(
        "/hook",
        vec![Answer::Http(
            429,
            vec![("Retry-After", "86400".into())],
            String::new(),
        )],
    );
    let started = tokio::time::Instant::now();
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "queued");
    assert_eq!(transport.sent().len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no wait in the run"
    );
}

fn masto_site() -> crate::support::Site {
    let site = posting_site(
        "",
        "    - { name: masto, type: mastodon, instance: \"http://stand-in.test/masto\", token: t }\n",
    );
    site.article(
        "a.md",
        "---\ntitle: A\npublish_date: 2024-02-10\ndescription: About a.\nheroImage: http://stand-in.test/a.jpg\n---\nBody\n",
    );
    site
}

fn masto_script(polls: Vec<Answer>) -> std::sync::Arc<Scripted> {
    let transport = Scripted::new();
    transport.on(
        "/api/v2/instance",
        vec![Answer::json(
            200,
            json!({"configuration": {"statuses": {"max_characters": 500}}}),
        )],
    );
    transport.on(
        "/api/v2/media",
        vec![Answer::json(202, json!({"id": "m1", "url": null}))],
    );
    transport.on("/api/v1/media/m1", polls);
    transport.on(
        "/api/v1/statuses",
        vec![Answer::json(
            200,
            json!({"id": "s1", "url": "https://m.example/s1"}),
        )],
    );
    transport
}

#[tokio::test(start_paused = true)]
async fn mastodon_polls_a_processing_image_with_growing_waits() {
    let site = masto_site();
    let transport = masto_script(vec![
        Answer::json(206, json!({"id": "m1"})),
        Answer::json(206, json!({"id": "m1"})),
        Answer::json(200, json!({"id": "m1", "url": "https://m.example/m1.jpg"})),
    ]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "posted");
    let sent = transport.sent();
    let paths: Vec<&str> = sent
        .iter()
        .map(|s| s.url.rsplit("/masto/").next().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "api/v2/instance",
            "api/v2/media",
            "api/v1/media/m1",
            "api/v1/media/m1",
            "api/v1/media/m1",
            "api/v1/statuses"
        ]
    );
    assert_eq!(
        gaps(&sent)[1..4],
        [
            Duration::from_millis(500),
            Duration::from_secs(1),
            Duration::from_secs(2)
        ]
    );
    assert_eq!(sent[5].json()["media_ids"], json!(["m1"]));
}

#[tokio::test(start_paused = true)]
async fn polling_is_bounded_per_post_whatever_the_attempts() {
    let site = masto_site();
    let transport = masto_script(vec![Answer::json(206, json!({"id": "m1"}))]);
    let started = tokio::time::Instant::now();
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    let r = &report.results[0];
    assert_eq!(r.status.as_str(), "failed", "{r:?}");
    assert!(
        r.error
            .as_deref()
            .unwrap()
            .contains("still processing the image"),
        "{r:?}"
    );
    let statuses = transport
        .sent()
        .iter()
        .filter(|s| s.url.ends_with("/statuses"))
        .count();
    assert_eq!(statuses, 0, "no post without its image being ready");
    assert!(
        started.elapsed() <= Duration::from_secs(70),
        "one bound for the post, not one per attempt: {:?}",
        started.elapsed()
    );
}

#[tokio::test(start_paused = true)]
async fn a_stop_request_ends_a_poll_at_once() {
    let site = masto_site();
    let transport = masto_script(vec![Answer::json(206, json!({"id": "m1"}))]);
    let stop = std::sync::Arc::new(herald::social::driver::Stop::default());
    let stopper = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(5)).await;
        stopper.request();
    });
    let started = tokio::time::Instant::now();
    let report =
        crate::support::publish_in_process_with_stop(&site, NOW, transport.clone(), stop).await;
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    let r = &report.results[0];
    assert_eq!(
        r.status.as_str(),
        "failed",
        "not made, so sent again next run: {r:?}"
    );
    assert!(report.stopped);
}

#[tokio::test(start_paused = true)]
async fn an_image_that_cannot_be_fetched_leaves_the_post_without_it() {
    let site = posting_site(
        "",
        "    - { name: masto, type: mastodon, instance: \"http://stand-in.test/masto\", token: t }\n",
    );
    site.article(
        "a.md",
        "---\ntitle: A\npublish_date: 2024-02-10\ndescription: About a.\nheroImage: http://stand-in.test/missing.png\n---\nBody\n",
    );
    let transport = masto_script(Vec::new());
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results[0].status.as_str(), "posted");
    assert!(
        report.results[0].warnings[0].contains("posted without the image"),
        "{:?}",
        report.results[0].warnings
    );
    let status = transport.sent().pop().unwrap();
    assert_eq!(status.json()["media_ids"], json!([]));
}

/// SPEC §6: what may have been delivered is sent again only where the
/// platform drops a duplicate (the webhook's `webhook-id`), and is
/// `uncertain` at once elsewhere (Discord).
#[tokio::test(start_paused = true)]
async fn a_timeout_after_sending_is_resent_only_under_an_idempotency_key() {
    let site = posting_site(
        "",
        "    - { name: hooks, type: webhook, url: \"http://stand-in.test/hook\" }\n    - { name: discord, type: discord, url: \"http://stand-in.test/discord\" }\n",
    );
    site.simple("a", "2024-02-10");
    let transport = Scripted::new();
    transport.on(
        "/hook",
        vec![
            Answer::Timeout,
            Answer::Http(200, Vec::new(), String::new()),
        ],
    );
    transport.on("/discord", vec![Answer::Timeout]);
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    let status = |t: &str| {
        report
            .results
            .iter()
            .find(|r| r.target == t)
            .map(|r| r.status.as_str())
    };
    assert_eq!(status("hooks"), Some("posted"));
    assert_eq!(status("discord"), Some("uncertain"));
    let sent = transport.sent();
    let hooks: Vec<_> = sent.iter().filter(|s| s.url.ends_with("/hook")).collect();
    assert_eq!(hooks.len(), 2);
    assert!(hooks.iter().all(|s| s.method == "POST"));
    assert_eq!(hooks[0].header("webhook-id"), hooks[1].header("webhook-id"));
    assert_eq!(
        sent.iter().filter(|s| s.url.contains("/discord")).count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn polling_is_bounded_per_run_too() {
    let site = posting_site(
        "  max_per_run: 10\n",
        "    - { name: masto, type: mastodon, instance: \"http://stand-in.test/masto\", token: t }\n",
    );
    for day in 1..=5 {
        site.article(
            &format!("a{day}.md"),
            format!(
                "---\ntitle: A{day}\npublish_date: 2024-02-{:02}\ndescription: About.\nheroImage: http://stand-in.test/a.jpg\n---\nBody\n",
                day + 5
            ),
        );
    }
    let transport = masto_script(vec![Answer::json(206, json!({"id": "m1"}))]);
    let started = tokio::time::Instant::now();
    let report = publish_in_process(&site, NOW, transport.clone()).await;
    assert_eq!(report.results.len(), 5);
    assert!(
        started.elapsed() <= Duration::from_secs(130),
        "five posts wait at most the run's bound: {:?}",
        started.elapsed()
    );
    assert!(report.results.iter().all(|r| r.status.as_str() == "failed"));
    assert!(
        report.results[4]
            .error
            .as_deref()
            .unwrap()
            .contains("this run already waited"),
        "{:?}",
        report.results[4]
    );
}
