use std::path::Path;

use chrono::{DateTime, Utc};

use std::collections::HashMap;

use super::*;
use crate::article::{ParseContext, parse};
use crate::config;
use crate::ledger::Record;

fn config(social: &str) -> Config {
    let text = format!(
        "site: {{title: S, url: https://s.example/}}\nsocial:\n{social}  targets:\n    - {{name: masto, type: mastodon, instance: https://m.example, token: t}}\n    - {{name: disc, type: discord, url: u}}\n    - {{name: hook, type: webhook, url: u}}\n"
    );
    config::parse(Path::new("config/herald.yaml"), &text, &|_| None).unwrap()
}

fn articles(c: &Config, days: &[u32]) -> Vec<Article> {
    let ctx = ParseContext {
        site: &c.site,
        content: &c.content,
    };
    days.iter()
        .map(|d| {
            let text = format!("---\ntitle: Day {d}\npublish_date: 2024-03-{d:02}\n---\nBody\n");
            parse(Path::new(&format!("content/d{d:02}.md")), &text, true, &ctx)
                .unwrap()
                .article
                .unwrap()
        })
        .collect()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().to_utc()
}

fn newest_first(a: &[Article]) -> Vec<&Article> {
    let mut v: Vec<&Article> = a.iter().collect();
    v.sort_by_key(|x| std::cmp::Reverse(x.published));
    v
}

fn record(
    target: &str,
    article: &Article,
    status: Status,
    attempts: u32,
    last: DateTime<Utc>,
) -> Record {
    Record {
        target: target.to_string(),
        article_id: article.id().to_string(),
        status,
        attempts,
        first_attempt_at: Some(last),
        last_attempt_at: Some(last),
        last_error: Some("HTTP 503".to_string()),
        content_hash: Some("h".to_string()),
        idempotency_key: "k".to_string(),
        remote_id: Some("r".to_string()),
        remote_url: None,
        posted_at: (status == Status::Posted).then_some(last),
        edited_at: None,
        updated_at: last,
        not_before: None,
        title: Some(article.title.clone()),
        published_at: Some(article.published.to_rfc3339()),
        approved_at: None,
        reference: None,
        reshares: 0,
        reshared_at: None,
        reshare_id: None,
        holder: None,
        claim_expires_at: None,
        revision: 1,
    }
}

fn snapshot(records: Vec<Record>) -> Snapshot {
    let mut s = Snapshot::default();
    for r in records {
        if r.status == Status::Posted {
            s.last_posted.insert(r.target.clone(), r.posted_at.unwrap());
        }
        s.records
            .insert((r.target.clone(), r.article_id.clone()), r);
    }
    s
}

fn no_edits() -> HashMap<String, String> {
    HashMap::new()
}

fn summary(decisions: &[Decision<'_>], target: &str) -> Vec<(String, Action)> {
    decisions
        .iter()
        .filter(|d| d.target.name == target)
        .map(|d| (d.article.title.clone(), d.action.clone()))
        .collect()
}

#[test]
fn due_posts_go_oldest_first_and_max_per_run_queues_the_rest() {
    let c = config("  max_per_run: 2\n  max_age: 30d\n");
    let a = articles(&c, &[3, 1, 2, 4]);
    let Decided {
        decisions: d,
        notes,
        ..
    } = decide(
        &c,
        &newest_first(&a),
        &Snapshot::default(),
        at("2024-03-10T00:00:00Z"),
        &PostOptions::default(),
        &no_edits(),
    );
    assert_eq!(
        summary(&d, "hook"),
        [
            ("Day 1".to_string(), Action::Send),
            ("Day 2".to_string(), Action::Send),
            ("Day 3".to_string(), Action::Queue),
            ("Day 4".to_string(), Action::Queue),
        ]
    );
    assert!(notes.is_empty());
}

#[test]
fn old_articles_are_left_out_and_counted_per_target() {
    let c = config("  max_age: 2d\n");
    let a = articles(&c, &[1, 2, 9]);
    let Decided {
        decisions: d,
        notes,
        ..
    } = decide(
        &c,
        &newest_first(&a),
        &Snapshot::default(),
        at("2024-03-10T00:00:00Z"),
        &PostOptions::default(),
        &no_edits(),
    );
    assert_eq!(summary(&d, "masto"), [("Day 9".to_string(), Action::Send)]);
    assert_eq!(
        notes[0],
        "masto: 2 articles older than max_age (2d) are not posted"
    );
}

#[test]
fn min_interval_counts_from_the_last_post() {
    let c = config("  min_interval: 1h\n  max_age: 30d\n");
    let a = articles(&c, &[1, 2]);
    let snap = snapshot(vec![record(
        "hook",
        &a[0],
        Status::Posted,
        1,
        at("2024-03-10T00:00:00Z"),
    )]);
    let opts = PostOptions::default();
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &snap,
        at("2024-03-10T00:59:00Z"),
        &opts,
        &no_edits(),
    );
    assert_eq!(summary(&d, "hook"), [("Day 2".to_string(), Action::Queue)]);
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &snap,
        at("2024-03-10T01:00:01Z"),
        &opts,
        &no_edits(),
    );
    assert_eq!(summary(&d, "hook"), [("Day 2".to_string(), Action::Send)]);
}

#[test]
fn a_post_another_host_is_sending_is_left_to_it_until_its_claim_dies() {
    let c = config("  max_age: 30d\n");
    let a = articles(&c, &[1]);
    let when = at("2024-03-10T00:00:00Z");
    let held = |holder: &str, expires: &str| {
        let mut r = record("masto", &a[0], Status::Pending, 1, when);
        r.holder = Some(holder.to_string());
        r.claim_expires_at = Some(at(expires));
        r
    };
    let decide_at = |snap: &Snapshot, now: &str| {
        let Decided { decisions, .. } = decide(
            &c,
            &newest_first(&a),
            snap,
            at(now),
            &PostOptions::default(),
            &no_edits(),
        );
        summary(&decisions, "masto")
    };
    // Another machine's run holds a live claim: nothing to decide.
    let mut snap = snapshot(vec![held("elsewhere/1/ab", "2024-03-10T00:15:00Z")]);
    snap.shared = true;
    assert!(decide_at(&snap, "2024-03-10T00:05:00Z").is_empty());
    // Its claim expired: handled as a run that died while sending.
    assert_eq!(
        decide_at(&snap, "2024-03-10T00:20:00Z"),
        [("Day 1".to_string(), Action::Resend)]
    );
    // A run known dead when the ledger was read holds nothing.
    let mut snap = snapshot(vec![held("this/42/ab", "2024-03-10T00:15:00Z")]);
    snap.shared = true;
    snap.dead_holders.insert("this/42/ab".to_string());
    assert_eq!(
        decide_at(&snap, "2024-03-10T00:05:00Z"),
        [("Day 1".to_string(), Action::Resend)]
    );
    // One host (SQLite, under the run lock): a pending post is never in flight.
    let snap = snapshot(vec![held("elsewhere/1/ab", "2024-03-10T00:15:00Z")]);
    assert_eq!(
        decide_at(&snap, "2024-03-10T00:05:00Z"),
        [("Day 1".to_string(), Action::Resend)]
    );
}

#[test]
fn pending_records_are_resent_only_where_a_key_protects_them() {
    let c = config("  max_age: 30d\n");
    let a = articles(&c, &[1]);
    let when = at("2024-03-10T00:00:00Z");
    let snap = snapshot(
        ["masto", "disc", "hook"]
            .iter()
            .map(|t| record(t, &a[0], Status::Pending, 1, when))
            .collect(),
    );
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &snap,
        at("2024-03-10T00:10:00Z"),
        &PostOptions::default(),
        &no_edits(),
    );
    assert_eq!(
        summary(&d, "masto"),
        [("Day 1".to_string(), Action::Resend)]
    );
    assert_eq!(
        summary(&d, "disc"),
        [("Day 1".to_string(), Action::MarkUncertain)]
    );
    assert_eq!(summary(&d, "hook"), [("Day 1".to_string(), Action::Resend)]);
    // A key kept for an hour is forgotten after it: then a resend could duplicate.
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &snap,
        at("2024-03-10T02:00:00Z"),
        &PostOptions::default(),
        &no_edits(),
    );
    assert_eq!(
        summary(&d, "masto"),
        [("Day 1".to_string(), Action::MarkUncertain)]
    );
}

#[test]
fn uncertain_posts_wait_for_retry_uncertain() {
    let c = config("  max_age: 30d\n");
    let a = articles(&c, &[1]);
    let snap = snapshot(vec![record(
        "disc",
        &a[0],
        Status::Uncertain,
        1,
        at("2024-03-10T00:00:00Z"),
    )]);
    let now = at("2024-03-10T01:00:00Z");
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &snap,
        now,
        &PostOptions::default(),
        &no_edits(),
    );
    assert!(summary(&d, "disc").is_empty());
    let retry = PostOptions {
        retry_uncertain: true,
        ..PostOptions::default()
    };
    let Decided { decisions: d, .. } =
        decide(&c, &newest_first(&a), &snap, now, &retry, &no_edits());
    assert_eq!(summary(&d, "disc"), [("Day 1".to_string(), Action::Resend)]);
}

#[test]
fn failures_are_retried_until_max_attempts() {
    let c = config("  max_attempts: 3\n  max_age: 30d\n");
    let a = articles(&c, &[1]);
    let now = at("2024-03-10T01:00:00Z");
    for (attempts, due) in [(1, true), (2, true), (3, false), (4, false)] {
        let snap = snapshot(vec![record(
            "hook",
            &a[0],
            Status::Failed,
            attempts,
            at("2024-03-10T00:00:00Z"),
        )]);
        let Decided { decisions: d, .. } = decide(
            &c,
            &newest_first(&a),
            &snap,
            now,
            &PostOptions::default(),
            &no_edits(),
        );
        assert_eq!(!summary(&d, "hook").is_empty(), due, "{attempts}");
    }
}

#[test]
fn filters_and_mark_seen() {
    let c = config("  max_age: 1d\n");
    let a = articles(&c, &[1, 2]);
    let opts = PostOptions {
        targets: vec!["disc".to_string()],
        articles: vec!["d01".to_string()],
        mark_seen: true,
        ..PostOptions::default()
    };
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &Snapshot::default(),
        at("2024-06-01T00:00:00Z"),
        &opts,
        &no_edits(),
    );
    let all: Vec<_> = d
        .iter()
        .map(|d| {
            (
                d.target.name.as_str(),
                d.article.title.as_str(),
                d.action.clone(),
            )
        })
        .collect();
    assert_eq!(all, [("disc", "Day 1", Action::MarkSeen)]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Whatever the ledger holds, an article it shows as posted (or seen) on
    /// a target is never sent there again, under any options.
    #[test]
    fn the_plan_never_sends_what_the_ledger_shows_posted(
        picks in proptest::collection::vec(0usize..7, 18),
        option in 0usize..3,
        minutes in 0i64..600,
    ) {
        let c = config("  max_age: 30d\n  max_per_run: 100\n  min_interval: 0s\n");
        let a = articles(&c, &[1, 2, 3, 4, 5, 6]);
        let statuses = [
            None,
            Some(Status::Pending),
            Some(Status::Posted),
            Some(Status::Queued),
            Some(Status::Failed),
            Some(Status::Uncertain),
            Some(Status::Seen),
        ];
        let when = at("2024-03-10T00:00:00Z");
        let mut records = Vec::new();
        for (i, article) in a.iter().enumerate() {
            for (j, target) in ["masto", "disc", "hook"].iter().enumerate() {
                if let Some(s) = statuses[picks[i * 3 + j]] {
                    records.push(record(target, article, s, 1, when));
                }
            }
        }
        let snap = snapshot(records);
        let opts = match option {
            0 => PostOptions::default(),
            1 => PostOptions { retry_uncertain: true, ..PostOptions::default() },
            _ => PostOptions { mark_seen: true, ..PostOptions::default() },
        };
        let now = when + chrono::Duration::minutes(minutes);
        let Decided { decisions: d, .. } = decide(&c, &newest_first(&a), &snap, now, &opts, &no_edits());
        for decision in d.iter().filter(|d| d.action.sends() || d.action == Action::MarkSeen) {
            let status = snap.get(&decision.target.name, decision.article.id()).map(|r| r.status);
            proptest::prop_assert!(
                !matches!(status, Some(Status::Posted | Status::Seen)),
                "{} {} planned {:?} over {:?}",
                decision.target.name,
                decision.article.title,
                decision.action,
                status
            );
        }
    }
}

fn fingerprints(pairs: &[(&Article, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(a, h)| (a.id().to_string(), h.to_string()))
        .collect()
}

#[test]
fn edits_follow_the_facts_not_the_template_and_are_paced() {
    let c = config("  on_edit: update\n  max_age: 30d\n  max_per_run: 1\n");
    let a = articles(&c, &[1, 2, 3]);
    let when = at("2024-03-05T00:00:00Z");
    let snap = snapshot(
        a.iter()
            .map(|x| record("masto", x, Status::Posted, 1, when))
            .collect(),
    );
    let opts = PostOptions {
        targets: vec!["masto".to_string()],
        ..PostOptions::default()
    };
    let now = at("2024-03-10T00:00:00Z");
    // The records hold fingerprint "h": the same facts are no edit.
    let same = fingerprints(&[(&a[0], "h"), (&a[1], "h"), (&a[2], "h")]);
    let Decided { decisions: d, .. } = decide(&c, &newest_first(&a), &snap, now, &opts, &same);
    assert!(d.is_empty(), "{:?}", summary(&d, "masto"));
    // All three changed: one edit this run, the others wait and are counted.
    let changed = fingerprints(&[(&a[0], "x"), (&a[1], "x"), (&a[2], "x")]);
    let Decided {
        decisions: d,
        notes,
        ..
    } = decide(&c, &newest_first(&a), &snap, now, &opts, &changed);
    assert_eq!(
        summary(&d, "masto"),
        [(
            "Day 1".to_string(),
            Action::Update {
                remote_id: "r".to_string()
            }
        )]
    );
    assert_eq!(
        notes,
        ["masto: 2 edits wait for a later run (max_per_run or min_interval)"]
    );
    // Too old to edit: nothing.
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &snap,
        at("2024-06-01T00:00:00Z"),
        &opts,
        &changed,
    );
    assert!(d.is_empty());
}

#[test]
fn posts_made_before_fingerprints_adopt_the_current_one() {
    let c = config("  on_edit: repost\n  max_age: 30d\n");
    let a = articles(&c, &[1]);
    let mut r = record("hook", &a[0], Status::Posted, 1, at("2024-03-05T00:00:00Z"));
    r.content_hash = None;
    let snap = snapshot(vec![r]);
    let opts = PostOptions {
        targets: vec!["hook".to_string()],
        ..PostOptions::default()
    };
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &snap,
        at("2024-03-10T00:00:00Z"),
        &opts,
        &fingerprints(&[(&a[0], "x")]),
    );
    assert_eq!(summary(&d, "hook"), [("Day 1".to_string(), Action::Adopt)]);
    assert!(!d[0].action.sends());
}

#[test]
fn a_last_post_in_the_future_warns_and_blocks_nothing_and_no_span_overflows() {
    let c = config("  min_interval: 365000d\n  max_age: 365000d\n");
    let a = articles(&c, &[1, 2]);
    let now = at("2024-03-10T00:00:00Z");
    let snap = snapshot(vec![record(
        "hook",
        &a[0],
        Status::Posted,
        1,
        at("9999-12-31T00:00:00Z"),
    )]);
    let d = decide(
        &c,
        &newest_first(&a),
        &snap,
        now,
        &PostOptions::default(),
        &no_edits(),
    );
    assert_eq!(
        summary(&d.decisions, "hook"),
        [("Day 2".to_string(), Action::Send)]
    );
    assert!(
        d.warnings
            .iter()
            .any(|w| w.starts_with("hook: the last post is recorded at 9999-12-31")),
        "{:?}",
        d.warnings
    );
    // A last post just now, with the longest interval: queued, no overflow.
    let snap = snapshot(vec![record("hook", &a[0], Status::Posted, 1, now)]);
    let d = decide(
        &c,
        &newest_first(&a),
        &snap,
        now,
        &PostOptions::default(),
        &no_edits(),
    );
    assert_eq!(
        summary(&d.decisions, "hook"),
        [("Day 2".to_string(), Action::Queue)]
    );
    assert!(d.warnings.is_empty());
}

#[test]
fn a_thread_goes_on_from_the_part_a_run_stopped_at() {
    let c = config("  max_age: 30d\n  thread: true\n");
    let a = articles(&c, &[1]);
    let id = a[0].id().to_string();
    let when = at("2024-03-10T00:00:00Z");
    let part = |n: usize, status: Status| {
        let mut r = record("masto", &a[0], status, 1, when);
        r.article_id = crate::ledger::part_id(&id, n);
        r
    };
    let snap = snapshot(vec![
        record("masto", &a[0], Status::Posted, 1, when),
        part(2, Status::Posted),
        part(3, Status::Pending),
        part(4, Status::Queued),
    ]);
    let Decided { decisions: d, .. } = decide(
        &c,
        &newest_first(&a),
        &snap,
        at("2024-03-10T00:10:00Z"),
        &PostOptions::default(),
        &no_edits(),
    );
    assert_eq!(
        summary(&d, "masto"),
        [("Day 1".to_string(), Action::Continue)]
    );

    // The parts still to go: part 2 is posted; part 3 was being sent when
    // the run stopped, and the platform keeps its key for an hour.
    let target = &c.social.targets[0];
    let words = "word ".repeat(300);
    let details = a[0].held_details().cloned().unwrap_or_default();
    let draft = crate::publish::draft(&a[0], a[0].url().unwrap(), &details, &words, &c.site);
    let composer = Composer::new(None).unwrap();
    let extras = social::Extras {
        thread: true,
        ..social::Extras::default()
    };
    let post = social::compose(
        &draft,
        "masto",
        target.platform.as_ref(),
        &composer,
        &Learned::default(),
        &extras,
    )
    .unwrap();
    assert!(post.parts.len() >= 3, "{}", post.parts.len());
    let main_planned = PlannedPost {
        target: "masto".into(),
        platform: "mastodon",
        article_id: id.clone(),
        source: a[0].source.clone(),
        title: "Day 1".into(),
        action: Action::Continue,
        reason: String::new(),
        text: None,
        count: None,
        limit: None,
        unit: None,
        image: None,
        notes: Vec::new(),
        steps: Steps::default(),
        error: None,
        would_fail: false,
        content_hash: "h".into(),
        published: String::new(),
        post: None,
        reply_to: None,
    };
    let actions = |now: &str| -> Vec<(String, Action, String)> {
        thread_parts(
            target,
            &post,
            &main_planned,
            &snap,
            &Learned::default(),
            at(now),
        )
        .into_iter()
        .map(|p| {
            let parent = p.reply_to.map(|r| r.parent).unwrap_or_default();
            (p.article_id, p.action, parent)
        })
        .collect()
    };
    let soon = actions("2024-03-10T00:10:00Z");
    assert_eq!(
        soon[0],
        (
            crate::ledger::part_id(&id, 3),
            Action::Resend,
            crate::ledger::part_id(&id, 2)
        )
    );
    assert_eq!(
        soon[1],
        (
            crate::ledger::part_id(&id, 4),
            Action::Send,
            crate::ledger::part_id(&id, 3)
        )
    );
    // After the key is forgotten, a resend could make a second part 3:
    // uncertain, and the thread stops there.
    let late = actions("2024-03-10T02:00:00Z");
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].1, Action::MarkUncertain);
}
