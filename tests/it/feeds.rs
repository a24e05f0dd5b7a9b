//! Feed output: snapshots of awkward text, per-tag feeds, limits, and
//! byte-identical output for the same input.

use crate::support::{BASE_CONFIG, Site, feeds_at, output};

const NOW: &str = "2026-01-01T00:00:00Z";

/// Articles whose text tries hard to break XML and JSON.
fn awkward_site(config: &str) -> Site {
    let site = Site::with_config(config);
    let long_title = "A very long title ".repeat(17) + "that ends here";
    assert!(long_title.chars().count() >= 300);
    site.article(
        "ampersand.md",
        "---\ntitle: \"Fish & Chips <b>not bold</b> \\\"quoted\\\" 'single'\"\ndescription: 'Less-than < and ampersand & in a summary, with \"quotes\"'\nauthor: O'Brien & Sons\npublish_date: 2024-05-04T10:00:00+02:00\nheroImage: https://img.news.example/fish&chips.jpg?w=800&h=400\nhero_alt: Fish & chips <on> a plate\ntags: [food & drink, \"<tag>\"]\n---\n\nBody with <script>alert('x')</script> & an [relative link](../other/) and `a < b`.\n\n<p onclick=\"evil()\">html</p>\n",
    )
    .article(
        "emoji.md",
        "---\ntitle: \"👩🏽‍💻 Developers ❤️ Rust 🦀 👍🏿\"\nsubtitle: Family emoji 👨‍👩‍👧‍👦 and flags 🇺🇦🇯🇵\npublish_date: 2024-05-03\ntags: [rust, café]\n---\n\nEmoji body 🎉 with a ZWJ sequence 🏳️‍🌈.\n",
    )
    .article(
        "rtl.md",
        "---\ntitle: مرحبا بالعالم — שלום עולם\npublish_date: 2024-05-02\nauthor: ليلى\n---\n\nنص عربي في المتن. טקסט בעברית.\n",
    )
    .article(
        "long-title.md",
        format!("---\ntitle: \"{long_title}\"\npublish_date: 2024-05-01\n---\n\nThe first paragraph\nbecomes the summary.\n\nThe second does not.\n"),
    );
    site
}

#[test]
fn snapshots_of_all_three_feeds_with_awkward_text() {
    let site = awkward_site(BASE_CONFIG);
    feeds_at(&site, NOW).success();
    insta::assert_snapshot!("awkward_rss", site.read_public("feed.xml"));
    insta::assert_snapshot!("awkward_atom", site.read_public("atom.xml"));
    insta::assert_snapshot!("awkward_json", site.read_public("feed.json"));
}

#[test]
fn awkward_feeds_reparse_with_titles_intact() {
    let site = awkward_site(BASE_CONFIG);
    feeds_at(&site, NOW).success();
    let long_title = "A very long title ".repeat(17) + "that ends here";
    for name in ["feed.xml", "atom.xml", "feed.json"] {
        let feed = feed_rs::parser::parse(site.read_public(name).as_bytes()).unwrap();
        let titles: Vec<String> = feed
            .entries
            .iter()
            .map(|e| e.title.as_ref().unwrap().content.clone())
            .collect();
        assert_eq!(
            titles,
            [
                "Fish & Chips <b>not bold</b> \"quoted\" 'single'".to_string(),
                "👩🏽‍💻 Developers ❤️ Rust 🦀 👍🏿".to_string(),
                "مرحبا بالعالم — שלום עולם".to_string(),
                long_title.clone(),
            ],
            "{name}"
        );
        let html = feed.entries[0]
            .content
            .as_ref()
            .unwrap()
            .body
            .clone()
            .unwrap();
        assert!(
            !html.contains("<script") && !html.contains("onclick"),
            "{name}: {html}"
        );
        assert!(
            html.contains("https://news.example/articles/other/"),
            "{name}: {html}"
        );
    }
}

#[test]
fn the_same_input_gives_byte_identical_feeds_in_another_folder() {
    let one = awkward_site(BASE_CONFIG);
    let two = awkward_site(BASE_CONFIG);
    feeds_at(&one, NOW).success();
    feeds_at(&two, "2027-06-01T00:00:00Z").success();
    for name in ["feed.xml", "atom.xml", "feed.json"] {
        assert_eq!(one.read_public(name), two.read_public(name), "{name}");
    }
}

#[test]
fn per_tag_feeds_and_limits() {
    let config = format!("{BASE_CONFIG}  per_tag: true\n  limit: 2\n");
    let site = Site::with_config(&config);
    for (slug, date, tags) in [
        ("a", "2024-01-01", "[News, ai]"),
        ("b", "2024-01-02", "[news]"),
        ("c", "2024-01-03", "[AI]"),
        ("d", "2024-01-04", "[news]"),
    ] {
        site.article(
            &format!("{slug}.md"),
            format!("---\ntitle: {slug}\npublish_date: {date}\ntags: {tags}\n---\nBody.\n"),
        );
    }
    feeds_at(&site, NOW).success();
    let ids = |name: &str| -> Vec<String> {
        let feed = feed_rs::parser::parse(site.read_public(name).as_bytes()).unwrap();
        feed.entries.iter().map(|e| e.id.clone()).collect()
    };
    let url = |s: &str| format!("https://news.example/articles/{s}/");
    assert_eq!(ids("atom.xml"), [url("d"), url("c")]);
    assert_eq!(ids("tags/news/atom.xml"), [url("d"), url("b")]);
    assert_eq!(ids("tags/ai/feed.json"), [url("c"), url("a")]);
    let tag_feed = site.read_public("tags/ai/feed.xml");
    assert!(
        tag_feed.contains("<title>Test Site: AI</title>"),
        "{tag_feed}"
    );
    assert!(tag_feed.contains(r#"href="https://news.example/tags/ai/feed.xml" rel="self""#));
}

#[test]
fn summary_only_feeds_when_full_content_is_off() {
    let config = format!("{BASE_CONFIG}  full_content: false\n  rss: false\n");
    let site = Site::with_config(&config);
    site.simple("a", "2024-01-01");
    let assert = feeds_at(&site, NOW).success();
    assert!(output(&assert).0.contains("wrote 2 feed files"));
    assert!(!site.public("feed.xml").exists());
    let json: serde_json::Value = serde_json::from_str(&site.read_public("feed.json")).unwrap();
    assert_eq!(json["items"][0]["content_text"], "About a.");
    assert!(json["items"][0].get("content_html").is_none());
    assert!(!site.read_public("atom.xml").contains("<content"));
}

#[test]
fn a_change_that_keeps_the_length_is_still_a_change() {
    let site = Site::new();
    site.article(
        "a.md",
        "---\ntitle: Alpha\npublish_date: 2024-01-01\n---\nBody\n",
    );
    feeds_at(&site, NOW).success();
    let before = site.read_public("atom.xml");
    site.article(
        "a.md",
        "---\ntitle: Omega\npublish_date: 2024-01-01\n---\nBody\n",
    );
    let dry = site
        .herald()
        .args(["publish", "--dry-run", "--format", "json", "--now", NOW])
        .assert()
        .success();
    let plan: serde_json::Value = serde_json::from_str(&output(&dry).0).unwrap();
    assert!(
        plan["feeds"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["status"] == "changed"),
        "{plan}"
    );
    feeds_at(&site, NOW).success();
    let after = site.read_public("atom.xml");
    assert_eq!(before.len(), after.len());
    assert!(after.contains("Omega"));
}
