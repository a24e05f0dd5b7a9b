//! The bundled example (config/herald.yaml + content/), as the README runs it.

use std::fs;

use feed_rs::model::{Entry, Feed, FeedType};

use crate::support::{Site, feeds_at, output, repo};

/// A copy of the example site in a temporary folder, so tests write nothing
/// into the repository.
fn example_site() -> Site {
    let config = fs::read_to_string(repo().join("config/herald.yaml")).unwrap();
    let site = Site::with_config(&config);
    for entry in fs::read_dir(repo().join("content")).unwrap() {
        let entry = entry.unwrap();
        site.article(
            &entry.file_name().to_string_lossy(),
            fs::read(entry.path()).unwrap(),
        );
    }
    site
}

const NOW: &str = "2026-11-28T12:00:00Z";

/// The example site with its feeds written at `NOW`.
fn built_example() -> Site {
    let site = example_site();
    feeds_at(&site, NOW).success();
    site
}

#[test]
fn check_on_the_example_warns_exactly_about_the_seed_apostrophes() {
    let assert = example_site().herald().arg("check").assert().success();
    let (stdout, stderr) = output(&assert);
    // Of all the article lines (the config's lines may warn about unset
    // environment variables of the example's targets).
    let lines: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("content/"))
        .collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(
        lines[0].starts_with("content/deepseek-paradigm-shift.md:3:"),
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("content/deepseek-paradigm-shift.md:10:"),
        "{stdout}"
    );
    assert!(lines.iter().all(|l| l.contains(": warning: ")), "{stdout}");
    assert!(stderr.contains("0 errors,"), "{stderr}");
    assert!(
        stdout.lines().all(|l| l.contains(": warning: ")),
        "{stdout}"
    );
}

#[test]
fn check_warns_about_target_secrets_that_are_not_set() {
    let assert = example_site()
        .herald()
        .env_remove("MASTODON_TOKEN")
        .env("SLACK_WEBHOOK_URL", "https://hooks.slack.example/T/B/x")
        .arg("check")
        .assert()
        .success();
    let (stdout, _) = output(&assert);
    assert!(
        stdout.contains(
            ": warning: social.targets[0].token: environment variable MASTODON_TOKEN is not set"
        ),
        "{stdout}"
    );
    assert!(
        !stdout.contains("SLACK_WEBHOOK_URL"),
        "a set variable is not reported: {stdout}"
    );
}

#[test]
fn check_runs_from_the_repository_with_the_default_config_path() {
    let mut cmd = assert_cmd::Command::cargo_bin("herald").unwrap();
    cmd.current_dir(repo())
        .env_remove("HERALD_CONFIG")
        .arg("check");
    cmd.assert().success();
}

fn parse(site: &Site, name: &str) -> Feed {
    feed_rs::parser::parse(site.read_public(name).as_bytes())
        .unwrap_or_else(|e| panic!("{name} does not parse: {e}"))
}

fn entry<'f>(feed: &'f Feed, id: &str) -> &'f Entry {
    feed.entries
        .iter()
        .find(|e| e.id == id || e.links.iter().any(|l| l.href == id))
        .unwrap_or_else(|| panic!("no entry {id}"))
}

const SEED_ID: &str = "https://magick.ai/articles/deepseek-paradigm-shift/";
const SEED_TITLE: &str =
    "The DeepSeek Paradigm Shift: A Wake-Up Call for OpenAI and the AI Industry";
const SEED_DESCRIPTION: &str = "Explore how DeepSeek emerges as a game-changer in AI development, achieving GPT-4-level performance with a fraction of resources, challenging OpenAI and industry assumptions about computational requirements. This paradigm shift suggests a future where AI development becomes more accessible and efficient.";
const EDGE_ID: &str = "https://magick.ai/articles/small-models-at-the-edge/";

#[test]
fn the_seed_title_and_description_appear_exactly_in_all_three_feeds() {
    let site = built_example();
    for name in ["feed.xml", "atom.xml", "feed.json"] {
        let feed = parse(&site, name);
        let seed = entry(&feed, SEED_ID);
        assert_eq!(seed.title.as_ref().unwrap().content, SEED_TITLE, "{name}");
        assert_eq!(
            seed.summary.as_ref().unwrap().content,
            SEED_DESCRIPTION,
            "{name}"
        );
    }
}

#[test]
fn rss_parses_back_with_every_field() {
    let site = built_example();
    let feed = parse(&site, "feed.xml");
    assert_eq!(feed.feed_type, FeedType::RSS2);
    assert_eq!(feed.title.as_ref().unwrap().content, "Magick AI");
    assert_eq!(
        feed.description.as_ref().unwrap().content,
        "AI news and analysis"
    );
    assert_eq!(feed.language.as_deref(), Some("en"));
    assert!(feed.links.iter().any(|l| l.href == "https://magick.ai/"));
    // lastBuildDate is the newest item's date, never the wall clock.
    assert_eq!(
        feed.updated.unwrap().to_rfc3339(),
        "2024-03-18T09:00:00+00:00"
    );
    assert_eq!(feed.generator.as_ref().unwrap().content, "herald 0.1.0");
    let raw = site.read_public("feed.xml");
    assert!(raw.contains(
        r#"<atom:link href="https://magick.ai/feed.xml" rel="self" type="application/rss+xml"/>"#
    ));
    assert_eq!(feed.entries.len(), 2);
    assert_eq!(feed.entries[0].id, EDGE_ID, "newest first");

    let edge = entry(&feed, EDGE_ID);
    assert_eq!(edge.links[0].href, EDGE_ID);
    assert_eq!(
        edge.published.unwrap().to_rfc3339(),
        "2024-03-18T09:00:00+00:00"
    );
    assert_eq!(edge.authors[0].name, "Amara Okafor");
    let content = edge.content.as_ref().unwrap().body.as_deref().unwrap();
    assert!(content.contains("<table>"));
    assert!(
        content.contains(
            r#"src="https://magick.ai/articles/small-models-at-the-edge/edge/phone.jpg""#
        )
    );
    let tags: Vec<&str> = edge.categories.iter().map(|c| c.term.as_str()).collect();
    assert_eq!(tags, ["edge-ai", "on-device", "quantisation"]);
    let media = &edge.media[0];
    assert_eq!(
        media.content[0].url.as_ref().unwrap().as_str(),
        "https://media.magick.ai/edge-models-phone.jpg"
    );
    assert_eq!(
        media.thumbnails[0].image.uri,
        "https://media.magick.ai/edge-models-phone.jpg"
    );
    assert!(raw.contains("<guid>https://magick.ai/articles/small-models-at-the-edge/</guid>"));
}

#[test]
fn atom_parses_back_with_every_field() {
    let site = built_example();
    let feed = parse(&site, "atom.xml");
    assert_eq!(feed.feed_type, FeedType::Atom);
    assert_eq!(feed.id, "https://magick.ai/atom.xml");
    assert_eq!(feed.title.as_ref().unwrap().content, "Magick AI");
    assert_eq!(
        feed.description.as_ref().unwrap().content,
        "AI news and analysis"
    );
    assert_eq!(
        feed.updated.unwrap().to_rfc3339(),
        "2024-03-18T09:00:00+00:00"
    );
    assert_eq!(feed.authors[0].name, "Magick AI");
    assert_eq!(feed.authors[0].email.as_deref(), Some("news@magick.ai"));
    let rel = |rel: &str| {
        feed.links
            .iter()
            .find(|l| l.rel.as_deref() == Some(rel))
            .map(|l| l.href.as_str())
    };
    assert_eq!(rel("self"), Some("https://magick.ai/atom.xml"));
    assert_eq!(rel("alternate"), Some("https://magick.ai/"));
    let generator = feed.generator.as_ref().unwrap();
    assert_eq!(
        (generator.content.as_str(), generator.version.as_deref()),
        ("herald", Some("0.1.0"))
    );

    let edge = entry(&feed, EDGE_ID);
    assert_eq!(edge.id, EDGE_ID);
    assert_eq!(
        edge.title.as_ref().unwrap().content,
        "Small Models at the Edge: Running Language Models on a Phone"
    );
    let link = |rel: &str| {
        edge.links
            .iter()
            .find(|l| l.rel.as_deref() == Some(rel))
            .unwrap()
    };
    assert_eq!(link("alternate").href, EDGE_ID);
    let enclosure = link("enclosure");
    assert_eq!(
        enclosure.href,
        "https://media.magick.ai/edge-models-phone.jpg"
    );
    assert_eq!(enclosure.media_type.as_deref(), Some("image/jpeg"));
    assert_eq!(
        edge.published.unwrap().to_rfc3339(),
        "2024-03-18T09:00:00+00:00"
    );
    assert_eq!(
        edge.updated.unwrap().to_rfc3339(),
        "2024-03-18T09:00:00+00:00"
    );
    assert_eq!(edge.authors[0].name, "Amara Okafor");
    assert!(
        edge.summary
            .as_ref()
            .unwrap()
            .content
            .starts_with("Phones now run")
    );
    let content = edge.content.as_ref().unwrap();
    assert_eq!(content.content_type.to_string(), "text/html");
    assert!(
        content
            .body
            .as_deref()
            .unwrap()
            .contains("<h2>What made it possible</h2>")
    );
    assert_eq!(edge.categories.len(), 3);
}

#[test]
fn json_feed_parses_back_with_every_field() {
    let site = built_example();
    let raw: serde_json::Value = serde_json::from_str(&site.read_public("feed.json")).unwrap();
    assert_eq!(raw["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(raw["home_page_url"], "https://magick.ai/");
    assert_eq!(raw["feed_url"], "https://magick.ai/feed.json");
    let feed = parse(&site, "feed.json");
    assert_eq!(feed.feed_type, FeedType::JSON);
    assert_eq!(feed.title.as_ref().unwrap().content, "Magick AI");
    let edge = entry(&feed, EDGE_ID);
    assert_eq!(edge.links[0].href, EDGE_ID);
    assert!(
        edge.summary
            .as_ref()
            .unwrap()
            .content
            .starts_with("Phones now run")
    );
    assert!(
        edge.content
            .as_ref()
            .unwrap()
            .body
            .as_deref()
            .unwrap()
            .contains("<table>")
    );
    assert_eq!(
        edge.published.unwrap().to_rfc3339(),
        "2024-03-18T09:00:00+00:00"
    );
    assert_eq!(
        edge.updated.unwrap().to_rfc3339(),
        "2024-03-18T09:00:00+00:00"
    );
    assert_eq!(edge.authors[0].name, "Amara Okafor");
    assert_eq!(edge.categories.len(), 3);
    let item = &raw["items"][0];
    assert_eq!(item["id"], EDGE_ID);
    assert_eq!(
        item["image"],
        "https://media.magick.ai/edge-models-phone.jpg"
    );
    assert_eq!(
        item["tags"],
        serde_json::json!(["edge-ai", "on-device", "quantisation"])
    );
}

#[test]
fn the_dry_run_names_feeds_items_and_what_is_left_out() {
    let site = example_site();
    let assert = site
        .herald()
        .args(["publish", "--dry-run", "--now", NOW])
        .assert()
        .success();
    let (stdout, _) = output(&assert);
    for needle in [
        "new        feed.xml",
        "new        atom.xml",
        "new        feed.json",
        "2024-03-18  Small Models at the Edge",
        "2024-02-10  The DeepSeek Paradigm Shift",
        "content/agents-in-the-newsroom.md  draft",
        "content/ai-safety-summit-preview.md  scheduled for 2030-01-15 08:00 +01:00",
        "deepseek-paradigm-shift.md:3:24: warning",
    ] {
        assert!(stdout.contains(needle), "missing {needle:?} in:\n{stdout}");
    }
    assert!(
        !site.root().join("public").exists(),
        "a dry run writes nothing"
    );
    assert!(
        !site.root().join(".herald").exists(),
        "a dry run creates no state"
    );
}

/// The dry run's JSON plan at `now`.
fn plan_at(site: &Site, now: &str) -> serde_json::Value {
    let assert = site
        .herald()
        .args(["publish", "--dry-run", "--format", "json", "--now", now])
        .assert()
        .success();
    serde_json::from_str(&output(&assert).0).unwrap()
}

#[test]
fn a_scheduled_article_appears_once_its_time_has_come() {
    let site = example_site();
    // 08:00 at +01:00 is 07:00 UTC.
    assert_eq!(plan_at(&site, "2030-01-15T06:59:59Z")["published"], 2);
    let plan = plan_at(&site, "2030-01-15T07:00:00Z");
    assert_eq!(plan["published"], 3);
    assert_eq!(
        plan["feeds"][0]["items"][0],
        "https://magick.ai/articles/ai-safety-summit-preview/"
    );
}

#[test]
fn feeds_twice_changes_no_bytes_and_no_modification_time() {
    let site = example_site();
    let first = feeds_at(&site, NOW).success();
    assert!(output(&first).0.contains("wrote 3 feed files"));
    let snapshot = |name: &str| {
        let path = site.public(name);
        (
            fs::read(&path).unwrap(),
            fs::metadata(&path).unwrap().modified().unwrap(),
        )
    };
    let before: Vec<_> = ["feed.xml", "atom.xml", "feed.json"].map(snapshot).into();
    let second = feeds_at(&site, NOW).success();
    let (stdout, stderr) = output(&second);
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("", ""),
        "a run that changes nothing prints nothing"
    );
    let after: Vec<_> = ["feed.xml", "atom.xml", "feed.json"].map(snapshot).into();
    assert_eq!(before, after);
}
