use std::path::Path;

use super::*;
use crate::article::{ParseContext, parse};
use crate::config;

fn config(extra: &str) -> Config {
    let text = format!("site: {{title: Site & Co, url: https://example.com/blog/}}\n{extra}");
    config::parse(Path::new("config/herald.yaml"), &text, &|_| None).unwrap()
}

fn article(c: &Config, name: &str, front: &str) -> Article {
    let ctx = ParseContext {
        site: &c.site,
        content: &c.content,
    };
    let text = format!("---\n{front}\n---\nBody of {name}.\n");
    parse(Path::new(&format!("content/{name}.md")), &text, true, &ctx)
        .unwrap()
        .article
        .unwrap()
}

#[test]
fn per_tag_feeds_merge_tags_that_slugify_alike_and_respect_the_limit() {
    let c = config("feeds: {per_tag: true, limit: 1}\n");
    let a = article(
        &c,
        "a",
        "title: A\npublish_date: 2024-01-02\ntags: [AI, Policy]",
    );
    let b = article(&c, "b", "title: B\npublish_date: 2024-01-01\ntags: [ai]");
    let specs = plan_feeds(&c, &[&a, &b]);
    let paths: Vec<String> = specs.iter().map(|s| s.path.display().to_string()).collect();
    assert_eq!(
        paths,
        [
            "feed.xml",
            "atom.xml",
            "feed.json",
            "tags/ai/feed.xml",
            "tags/ai/atom.xml",
            "tags/ai/feed.json",
            "tags/policy/feed.xml",
            "tags/policy/atom.xml",
            "tags/policy/feed.json",
        ]
    );
    assert!(specs.iter().all(|s| s.entries == vec![0]));
    assert_eq!(specs[3].title, "Site & Co: AI");
    assert_eq!(
        specs[3].self_url.as_str(),
        "https://example.com/blog/tags/ai/feed.xml"
    );
}

#[test]
fn every_format_escapes_and_is_deterministic() {
    let c = config("");
    let a = article(
        &c,
        "a",
        "title: \"Fish & <Chips> \\\"quoted\\\"\"\npublish_date: 2024-01-02\nauthor: Ann",
    );
    let entry = Entry::new(&a, Some("<p>x &amp; y</p>".into()), None);
    let channel = Channel {
        title: c.site.title.clone(),
        description: c.site.description.clone(),
        home: &c.site.url,
        self_url: c.site.url.join("feed.xml").unwrap(),
        language: "en",
        author: &c.site.author,
        hubs: &[],
    };
    for format in [Format::Rss, Format::Atom, Format::Json] {
        let one = render(format, &channel, &[&entry]);
        let two = render(format, &channel, &[&entry]);
        assert_eq!(one, two);
        let text = String::from_utf8(one).unwrap();
        assert!(
            text.contains("Fish &amp; &lt;Chips&gt;") || text.contains("Fish & <Chips>"),
            "{format:?}: {text}"
        );
    }
}

#[test]
fn image_types_come_from_the_extension() {
    let u = |s: &str| url::Url::parse(s).unwrap();
    assert_eq!(
        image_mime_type(&u("https://x.example/a.JPG")),
        Some("image/jpeg")
    );
    assert_eq!(
        image_mime_type(&u("https://x.example/a.webp?w=2")),
        Some("image/webp")
    );
    assert_eq!(image_mime_type(&u("https://x.example/a")), None);
}

#[test]
fn tag_folders_cannot_escape_or_use_reserved_names() {
    let cases = [
        ("../../etc", "etc"),
        ("/abs/path", "abs-path"),
        ("a\u{0}b", "a-b"),
        ("CON", "con-tag"),
        ("com1", "com1-tag"),
        ("..", "untitled"),
        (".", "untitled"),
        ("Café Society", "café-society"),
    ];
    for (tag, want) in cases {
        assert_eq!(tag_folder(tag), want, "{tag:?}");
    }
}
