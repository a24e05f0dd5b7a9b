//! RFC 5005 archive pages (`feeds.archive`): full pages of the oldest
//! articles, linked with prev-archive, next-archive and current (JSON Feed
//! with next_url), marked fh:archive, and never changed once full.

use std::fs;

use crate::support::{BASE_CONFIG, Site, feeds_at};

const NOW: &str = "2024-03-01T00:00:00Z";

fn site(n: usize) -> Site {
    let site = Site::with_config(&format!("{BASE_CONFIG}  archive: {{ page_size: 2 }}\n"));
    for i in 1..=n {
        site.simple(&format!("a{i}"), &format!("2024-02-{i:02}"));
    }
    site
}

fn links(xml: &str, rel: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in xml
        .split("<")
        .filter(|p| p.contains(&format!("rel=\"{rel}\"")))
    {
        if let Some(href) = part.split("href=\"").nth(1) {
            out.push(href.split('"').next().unwrap().to_string());
        }
    }
    out
}

#[test]
fn full_pages_of_the_oldest_articles_linked_both_ways_and_to_the_current_feed() {
    let site = site(5);
    feeds_at(&site, NOW).success();
    let archive = site.root().join("public/archive");
    let mut files: Vec<String> = fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "atom-1.xml",
            "atom-2.xml",
            "feed-1.json",
            "feed-1.xml",
            "feed-2.json",
            "feed-2.xml"
        ]
    );

    let page1 = site.read_public("archive/atom-1.xml");
    let page2 = site.read_public("archive/atom-2.xml");
    let current = site.read_public("atom.xml");
    // Oldest first: page 1 holds a1 and a2, page 2 a3 and a4.
    assert!(page1.contains("articles/a1/") && page1.contains("articles/a2/"));
    assert!(!page1.contains("articles/a3/"));
    assert!(page2.contains("articles/a3/") && page2.contains("articles/a4/"));
    assert!(
        page1.contains("<fh:archive") && page1.contains("http://purl.org/syndication/history/1.0")
    );
    assert!(!current.contains("<fh:archive"));
    assert!(links(&page1, "prev-archive").is_empty());
    assert_eq!(
        links(&page1, "next-archive"),
        ["https://news.example/archive/atom-2.xml"]
    );
    assert_eq!(
        links(&page2, "prev-archive"),
        ["https://news.example/archive/atom-1.xml"]
    );
    assert_eq!(
        links(&page2, "next-archive"),
        ["https://news.example/archive/atom-3.xml"]
    );
    assert_eq!(links(&page2, "current"), ["https://news.example/atom.xml"]);
    assert_eq!(
        links(&current, "prev-archive"),
        ["https://news.example/archive/atom-2.xml"]
    );
    // The current feed still shows every article (limit 20).
    assert!(current.contains("articles/a1/") && current.contains("articles/a5/"));

    let rss = site.read_public("archive/feed-1.xml");
    assert!(rss.contains("<fh:archive"), "{rss}");
    assert_eq!(
        links(&rss, "next-archive"),
        ["https://news.example/archive/feed-2.xml"]
    );

    // JSON Feed pages chain older with next_url.
    let json: serde_json::Value = serde_json::from_str(&site.read_public("feed.json")).unwrap();
    assert_eq!(json["next_url"], "https://news.example/archive/feed-2.json");
    let json2: serde_json::Value =
        serde_json::from_str(&site.read_public("archive/feed-2.json")).unwrap();
    assert_eq!(
        json2["next_url"],
        "https://news.example/archive/feed-1.json"
    );
    let json1: serde_json::Value =
        serde_json::from_str(&site.read_public("archive/feed-1.json")).unwrap();
    assert!(json1.get("next_url").is_none());

    // Every page parses as its format.
    for name in [
        "archive/atom-1.xml",
        "archive/feed-2.xml",
        "archive/feed-1.json",
    ] {
        let bytes = fs::read(site.public(name)).unwrap();
        feed_rs::parser::parse(&bytes[..]).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn a_full_page_never_changes_and_the_next_one_appears_when_full() {
    let site = site(5);
    feeds_at(&site, NOW).success();
    let before: Vec<Vec<u8>> = [
        "archive/atom-1.xml",
        "archive/atom-2.xml",
        "archive/feed-2.json",
    ]
    .iter()
    .map(|n| fs::read(site.public(n)).unwrap())
    .collect();
    site.simple("a6", "2024-02-06");
    feeds_at(&site, NOW).success();
    let after: Vec<Vec<u8>> = [
        "archive/atom-1.xml",
        "archive/atom-2.xml",
        "archive/feed-2.json",
    ]
    .iter()
    .map(|n| fs::read(site.public(n)).unwrap())
    .collect();
    assert_eq!(before, after, "full pages are byte for byte the same");
    let page3 = site.read_public("archive/atom-3.xml");
    assert!(page3.contains("articles/a5/") && page3.contains("articles/a6/"));
    assert_eq!(
        links(&site.read_public("atom.xml"), "prev-archive"),
        ["https://news.example/archive/atom-3.xml"]
    );
}

#[test]
fn the_current_feed_keeps_every_article_not_yet_in_a_full_page() {
    let site = Site::with_config(&format!(
        "{BASE_CONFIG}  limit: 1\n  archive: {{ page_size: 3 }}\n"
    ));
    for i in 1..=5 {
        site.simple(&format!("a{i}"), &format!("2024-02-{i:02}"));
    }
    feeds_at(&site, NOW).success();
    let current = site.read_public("atom.xml");
    // One full page (a1–a3); a4 and a5 are only in the current feed, so it
    // shows both though the limit is 1.
    assert!(current.contains("articles/a5/") && current.contains("articles/a4/"));
    assert!(!current.contains("articles/a3/"));
}
