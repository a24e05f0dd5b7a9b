use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "SLACK_URL" => Some("https://hooks.slack.com/services/T/B/X".to_string()),
        "SITE" => Some("https://example.com".to_string()),
        _ => None,
    }
}

fn parse_ok(text: &str) -> Config {
    parse(Path::new("config/herald.yaml"), text, &env).expect("config parses")
}

fn parse_err(text: &str) -> ConfigError {
    parse(Path::new("config/herald.yaml"), text, &env).expect_err("config is refused")
}

const MINIMAL: &str = "site:\n  title: Example\n  url: https://example.com\n";

#[test]
fn defaults_fill_everything_optional() {
    let c = parse_ok(MINIMAL);
    assert_eq!(c.site.url.as_str(), "https://example.com/");
    assert_eq!(c.site.language, "en");
    assert_eq!(c.content.dir, PathBuf::from("content"));
    assert_eq!(c.feeds.dir, PathBuf::from("public"));
    assert_eq!(c.state.path, PathBuf::from(".herald/state.db"));
    assert_eq!(c.feeds.limit, Some(20));
    assert_eq!(c.feeds.rss.as_deref(), Some("feed.xml"));
    assert_eq!(c.social.max_age.std(), Duration::from_secs(7 * 86_400));
    assert_eq!(c.schedule.cron.as_str(), "*/15 * * * *");
    assert_eq!(
        c.content.publish_time,
        NaiveTime::from_hms_opt(9, 0, 0).unwrap()
    );
}

#[test]
fn errors_name_the_key_path_and_position() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "site: {title: A, url: https://a.example}\nfeeds:\n  limit: ten\n",
            "feeds.limit",
            "expected a positive number, found \"ten\"",
        ),
        (
            "site: {title: A, url: https://a.example}\nfeeds:\n  limt: 3\n",
            "feeds.limt",
            "unknown key `limt`; did you mean `limit`?",
        ),
        (
            "site: {title: A, url: /relative}\n",
            "site.url",
            "must be absolute",
        ),
        (
            "site: {title: A, url: https://a.example}\ncontent: {timezone: Europe/Pari}\n",
            "content.timezone",
            "did you mean `Europe/Paris`?",
        ),
        (
            "site: {title: A, url: https://a.example}\nsocial:\n  max_age: 7 days\n",
            "social.max_age",
            "expected a duration",
        ),
        (
            "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: slak, url: u}\n",
            "social.targets[0].type",
            "did you mean `slack`?",
        ),
        (
            "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: mastodon, instance: https://m.example}\n",
            "social.targets[0].token",
            "missing required key `token`",
        ),
        (
            "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: slack, url: u, token: t}\n",
            "social.targets[0].token",
            "does not take `token`; it takes url",
        ),
        (
            "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: mastodon, instance: https://m.example, tokn: t}\n",
            "social.targets[0].tokn",
            "unknown key `tokn`; did you mean `token`?",
        ),
        (
            "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: slack, url: u, templat: t}\n",
            "social.targets[0].templat",
            "did you mean `template`?",
        ),
        (
            "site: {title: A, url: \"${NOPE}\"}\n",
            "site.url",
            "environment variable NOPE is not set",
        ),
        (
            "site: {title: A, url: https://a.example}\ncontent: {permalink: /posts/}\n",
            "content.permalink",
            "must contain {slug}",
        ),
        (
            "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: webhook, url: u, headers: {\"Bad Header\": v}}\n",
            "social.targets[0].headers.Bad Header",
            "not a valid HTTP header name",
        ),
    ];
    for (text, key, needle) in cases {
        let e = parse_err(text);
        assert_eq!(&e.key, key, "{text}");
        assert!(e.message.contains(needle), "{text}: {}", e.message);
        assert!(e.line.is_some(), "{text}: no line for {}", e.message);
    }
    let e = parse_err("site: {title: A, url: https://a.example}\nfeeds:\n  limit: ten\n");
    assert_eq!((e.line, e.column), (Some(3), Some(10)));
    assert_eq!(
        e.to_string(),
        "config/herald.yaml:3:10: error: feeds.limit: expected a positive number, found \"ten\""
    );
}

#[test]
fn environment_is_interpolated_and_secrets_stay_unexpanded() {
    let c = parse_ok(
        "site: {title: A, url: \"${SITE}\"}\nsocial:\n  targets:\n    - {name: s, type: slack, url: \"${SLACK_URL}\"}\n",
    );
    assert_eq!(c.site.url.as_str(), "https://example.com/");
    let target = &c.social.targets[0];
    let secrets = target.platform.secrets();
    assert_eq!(secrets[0].key, "url");
    assert_eq!(format!("{:?}", secrets[0].secret), "Secret(${SLACK_URL})");
    assert!(!format!("{target:?}").contains("hooks.slack.com"));
}

#[test]
fn errors_found_after_parsing_point_at_their_value() {
    let text = "site:\n  title: A\n  url: /relative\nsocial:\n  targets:\n    - name: a\n      type: slack\n      url: u\n    - name: b\n      type: mastodon\n      instance: https://m.example\n";
    let e = parse_err(text);
    assert_eq!(
        (e.key.as_str(), e.line, e.column),
        ("site.url", Some(3), Some(8))
    );
    let e = parse_err(&text.replace("/relative", "https://a.example"));
    assert_eq!(e.key, "social.targets[1].token");
    assert_eq!(e.line, Some(9));
    let e = parse_err(&text.replace("/relative", "https://a.example").replace(
        "instance: https://m.example",
        "instance: ftp://m.example\n      token: t",
    ));
    assert_eq!(e.key, "social.targets[1].instance");
    assert_eq!((e.line, e.column), (Some(11), Some(17)));
}

#[test]
fn keys_are_located_for_later_messages() {
    let c = parse_ok(
        "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - name: s\n      type: slack\n      url: \"${SLACK_URL}\"\n",
    );
    assert_eq!(c.locate("social.targets[0].url"), Some((6, 7)));
}

#[test]
fn a_numeric_chat_id_is_read_as_written() {
    let c = parse_ok(
        "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: t, type: telegram, bot_token: \"1:x\", chat_id: -1001234567890}\n",
    );
    assert!(format!("{:?}", c.social.targets[0].platform).contains("-1001234567890"));
}

#[test]
fn spans_too_long_for_the_calendar_are_refused_where_written() {
    for key in ["min_interval", "max_age"] {
        let e = parse_err(&format!(
            "site: {{title: A, url: https://a.example}}\nsocial:\n  {key}: 100000000d\n"
        ));
        assert_eq!(e.key, format!("social.{key}"));
        assert!(
            e.message.contains("longer than herald allows"),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(3));
        let e = parse_err(&format!(
            "site: {{title: A, url: https://a.example}}\nsocial:\n  targets:\n    - {{name: s, type: slack, url: u, {key}: 100000000d}}\n"
        ));
        assert_eq!(e.key, format!("social.targets[0].{key}"));
        assert!(
            e.message.contains("longer than herald allows"),
            "{}",
            e.message
        );
    }
}

#[test]
fn a_cron_expression_that_run_would_refuse_is_refused_at_load() {
    for bad in ["61 * * * *", "0 0 30 2 *", "* * *", "*/0 * * * *"] {
        let e = parse_err(&format!(
            "site: {{title: A, url: https://a.example}}\nschedule:\n  cron: \"{bad}\"\n"
        ));
        assert_eq!(e.key, "schedule.cron", "{bad}");
        assert_eq!(e.line, Some(3), "{bad}");
    }
    let c =
        parse_ok("site: {title: A, url: https://a.example}\nschedule:\n  cron: \"0 9 * * 1-5\"\n");
    let monday = chrono::DateTime::parse_from_rfc3339("2024-01-01T10:00:00Z").unwrap();
    assert_eq!(
        c.schedule.cron.next_after(&monday).unwrap().to_rfc3339(),
        "2024-01-02T09:00:00+00:00"
    );
}

#[test]
fn paths_resolve_against_the_config_folder() {
    let c = parse(
        Path::new("/srv/site/config/herald.yaml"),
        "site: {title: A, url: https://a.example}\ncontent: {dir: ../articles}\nfeeds: {dir: /var/www/feeds}\n",
        &env,
    )
    .unwrap();
    assert_eq!(c.content.dir, PathBuf::from("/srv/site/articles"));
    assert_eq!(c.feeds.dir, PathBuf::from("/var/www/feeds"));
}

#[test]
fn feed_formats_can_be_turned_off() {
    let c = parse_ok(
        "site: {title: A, url: https://a.example}\nfeeds: {rss: false, json: news.json, limit: 0}\n",
    );
    assert_eq!(c.feeds.rss, None);
    assert_eq!(c.feeds.json.as_deref(), Some("news.json"));
    assert_eq!(c.feeds.limit, None);
    let e = parse_err("site: {title: A, url: https://a.example}\nfeeds: {json: ../x.json}\n");
    assert_eq!(e.key, "feeds.json");
}
