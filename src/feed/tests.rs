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

fn details(c: &Config, a: &Article) -> std::sync::Arc<crate::article::Details> {
    a.details(&ParseContext::of(c)).unwrap()
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
    let entry = Entry::new(&a, details(&c, &a), Some("<p>x &amp; y</p>".into()));
    let channel = Channel {
        title: c.site.title.clone(),
        description: c.site.description.clone(),
        home: c.site.url.clone(),
        self_url: c.site.url.join("feed.xml").unwrap(),
        language: "en".into(),
        author: c.site.author.clone(),
        hubs: vec![],
        archive: None,
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

/// An entry with every optional part decided by `n`, and awkward text.
fn varied_entry(c: &Config, n: usize, body: &str) -> Entry {
    let mut front = format!(
        "title: \"Item {n} & <b>bold</b> \\\"q\\\" ]]> é 👩‍💻\"\npublish_date: 2024-01-{:02}T{:02}:00:00+02:00\n",
        n % 28 + 1,
        n % 24
    );
    if n.is_multiple_of(2) {
        front.push_str(&format!(
            "heroImage: https://img.example/{n}.jpg\nhero_alt: \"alt <{n}>\"\n"
        ));
    }
    if n.is_multiple_of(3) {
        front.push_str("author: \"Ann & Bob\"\n");
    }
    if !n.is_multiple_of(5) {
        front.push_str(&format!("tags: [\"t{}\", \"a&b\"]\n", n % 7));
    }
    if n.is_multiple_of(4) {
        front.push_str("description: \"Plain <summary> & more\"\n");
    }
    if n.is_multiple_of(6) {
        front.push_str("updated_date: 2024-03-01\n");
    }
    let a = article(c, &format!("a{n}"), &front);
    let html = (!n.is_multiple_of(7)).then(|| body.replace("{n}", &n.to_string()));
    Entry::new(&a, details(c, &a), html)
}

fn channel_for(c: &Config, hubs: Vec<url::Url>) -> Channel {
    Channel {
        title: "Site & <Co>".into(),
        description: "About \"us\"".into(),
        home: c.site.url.clone(),
        self_url: c.site.url.join("feed.xml").unwrap(),
        language: "en".into(),
        author: c.site.author.clone(),
        hubs,
        archive: None,
    }
}

/// Streaming (frame plus items cut from the crate's own rendering, in
/// parallel batches) gives exactly the bytes of the crate rendering the whole
/// document at once: for no items, one, and more than a batch.
#[test]
fn streamed_feeds_equal_the_crates_whole_documents() {
    let c = config("");
    let body = "<p>Body {n} with &amp; and ]]&gt; and a CDATA end ]]> in raw text</p>\n<pre><code>line\r\nnext\ttab\n</code></pre>\n";
    let entries: Vec<Entry> = (0..(BATCH * 2 + 37))
        .map(|n| varied_entry(&c, n, body))
        .collect();
    let all: Vec<&Entry> = entries.iter().collect();
    let hubs = vec![url::Url::parse("https://hub.example/").unwrap()];
    // An archive page: its links, `fh:archive` and `next_url` too.
    let mut page = channel_for(&c, hubs.clone());
    page.archive = Some(super::Archive {
        current: c.site.url.join("feed.xml").unwrap(),
        prev: Some(c.site.url.join("archive/feed-1.xml").unwrap()),
        next: Some(c.site.url.join("archive/feed-3.xml").unwrap()),
        complete: true,
    });
    for (channel, shown) in [
        (channel_for(&c, vec![]), &all[..0]),
        (channel_for(&c, hubs.clone()), &all[..1]),
        (channel_for(&c, vec![]), &all[1..2]),
        (channel_for(&c, hubs), &all[..]),
        (page.clone(), &all[..0]),
        (page, &all[..3]),
    ] {
        for format in [Format::Rss, Format::Atom, Format::Json] {
            let whole = match format {
                Format::Rss => rss::render_whole(&channel, shown),
                Format::Atom => atom::render_whole(&channel, shown),
                Format::Json => json::render_whole(&channel, shown),
            };
            let streamed = render(format, &channel, shown);
            assert!(
                streamed == whole,
                "{format:?} with {} items differs at byte {}",
                shown.len(),
                streamed
                    .iter()
                    .zip(&whole)
                    .position(|(a, b)| a != b)
                    .unwrap_or(streamed.len().min(whole.len()))
            );
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The same for arbitrary text in every part of an item (the HTML, the
    /// title, summary, author and tags): whatever the crates do with it
    /// (CDATA sections split at `]]>`, escapes, JSON's `\n`), herald's items
    /// do identically.
    #[test]
    fn streamed_feeds_equal_whole_documents_for_any_text(
        texts in proptest::collection::vec("(<p>|]]>|]]|&|\n|\r|\"|'|\\|/|[a-z é👩‍💻]){0,40}", 4..12),
    ) {
        let c = config("");
        let entries: Vec<Entry> = texts
            .chunks(4)
            .enumerate()
            .map(|(n, t)| {
                let mut e = varied_entry(&c, n + 1, &t[0]);
                let text = |i: usize| crate::article::markdown::xml_safe(t.get(i).map_or("", String::as_str));
                e.title = text(1);
                e.summary = text(2);
                if e.author.is_some() {
                    e.author = Some(text(3));
                }
                e.tags.push(text(3));
                e
            })
            .collect();
        let shown: Vec<&Entry> = entries.iter().collect();
        let channel = channel_for(&c, vec![]);
        proptest::prop_assert_eq!(render(Format::Rss, &channel, &shown), rss::render_whole(&channel, &shown));
        proptest::prop_assert_eq!(render(Format::Atom, &channel, &shown), atom::render_whole(&channel, &shown));
        proptest::prop_assert_eq!(render(Format::Json, &channel, &shown), json::render_whole(&channel, &shown));
    }
}

/// A crate whose layout changed is an error naming it, never a feed cut
/// in the wrong place.
#[test]
fn a_layout_not_as_expected_is_an_error_naming_the_crate() {
    let e = super::split_before(b"<rss><channel>".to_vec(), b"</channel>", "rss").unwrap_err();
    assert_eq!(e.krate, "rss");
    assert!(e.to_string().contains("no </channel>"), "{e}");
    let e = super::split_before(b"<feed>".to_vec(), b"</feed>", "atom_syndication").unwrap_err();
    assert!(e.to_string().contains("atom_syndication crate"), "{e}");
    assert!(e.to_string().contains("no feed was written"), "{e}");
}

/// Bodies made as items are written (the archive is never held whole),
/// for three formats in one pass, give the bytes of entries built with
/// their bodies, written one format at a time.
#[test]
fn a_group_with_bodies_made_on_the_way_equals_each_feed_written_whole() {
    struct Lazy;
    impl super::Contents for Lazy {
        fn full(&self) -> bool {
            true
        }
        fn html(&self, entry: &Entry) -> std::io::Result<Option<String>> {
            Ok(Some(format!("<p>Body of {}</p>", entry.article.slug)))
        }
    }
    let c = config("");
    let bare: Vec<Entry> = (0..(BATCH + 9))
        .map(|n| {
            let mut e = varied_entry(&c, n, "");
            e.content_html = None;
            e
        })
        .collect();
    let whole: Vec<Entry> = bare
        .iter()
        .map(|e| {
            let mut e = e.clone();
            e.content_html = Some(format!("<p>Body of {}</p>", e.article.slug));
            e
        })
        .collect();
    let channel = channel_for(&c, vec![]);
    let (mut rss_out, mut atom_out, mut json_out) = (Vec::new(), Vec::new(), Vec::new());
    super::write_group(
        &mut [
            super::Output {
                format: Format::Rss,
                channel: &channel,
                out: &mut rss_out,
            },
            super::Output {
                format: Format::Atom,
                channel: &channel,
                out: &mut atom_out,
            },
            super::Output {
                format: Format::Json,
                channel: &channel,
                out: &mut json_out,
            },
        ],
        &bare.iter().collect::<Vec<_>>(),
        &Lazy,
    )
    .unwrap();
    let whole: Vec<&Entry> = whole.iter().collect();
    assert!(rss_out == render(Format::Rss, &channel, &whole));
    assert!(atom_out == render(Format::Atom, &channel, &whole));
    assert!(json_out == render(Format::Json, &channel, &whole));
}

#[test]
fn a_feed_fingerprints_the_digests_of_the_articles_it_shows_only() {
    let c = config("");
    let mut a = article(&c, "a", "title: A\npublish_date: 2024-01-02");
    a.digest = Some([7; 16]);
    assert_eq!(memo::article_digests(&[&a], &[true]), [Some([7; 16])]);
    // Not shown, or no trusted identity (no digest): none.
    assert_eq!(memo::article_digests(&[&a], &[false]), [None]);
    a.digest = None;
    assert_eq!(memo::article_digests(&[&a], &[true]), [None]);
}
