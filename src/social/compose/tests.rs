use super::*;
use crate::social::mastodon::URL_LENGTH;

const URL: &str = "https://news.example/articles/a-rather-long-permalink-for-counting/";

fn fields(summary: &str) -> PostFields {
    PostFields {
        title: "Title".to_string(),
        summary: summary.to_string(),
        cta: Some("Read more!".to_string()),
        url: URL.to_string(),
        ..PostFields::default()
    }
}

fn limits() -> Vec<(&'static str, TextLimit)> {
    let mut all: Vec<(&'static str, TextLimit)> = crate::social::examples("https://x.example")
        .iter()
        .map(|p| (p.kind(), p.text(&crate::social::Learned::default()).limit))
        .collect();
    all.extend(vec![
        (
            "mastodon",
            TextLimit {
                unit: CountUnit::Graphemes,
                max: 500,
                url_length: Some(URL_LENGTH),
                max_bytes: None,
            },
        ),
        (
            "bluesky",
            TextLimit {
                unit: CountUnit::Graphemes,
                max: 300,
                url_length: None,
                max_bytes: Some(3000),
            },
        ),
        ("discord", TextLimit::new(CountUnit::CodePoints, 4096)),
        ("telegram", TextLimit::new(CountUnit::Utf16, 1024)),
    ]);
    all
}

/// A summary that makes the rendered default template exactly `target` long
/// by `limit`'s counting (words of "ab " plus padding).
fn summary_for(limit: TextLimit, target: usize) -> String {
    let composer = Composer::new(None).unwrap();
    // The summary brings its own blank line ("\n\n") into the text.
    let base = limit.count(&composer.render(&fields("")).unwrap()) + 2;
    let room = target - base;
    // ASCII words, so every unit counts one; never ending in a space.
    let mut s = "ab ".repeat(room / 3);
    while s.len() < room {
        s.push('x');
    }
    if s.ends_with(' ') {
        s.pop();
        s.push('x');
    }
    s
}

#[test]
fn at_one_under_and_one_over_each_limit() {
    let composer = Composer::new(None).unwrap();
    // A limit beyond what a field may hold (dev.to's 800 KB body) cannot
    // be reached by a summary: fields are cut to `guard::MAX_FIELD` first.
    for (name, limit) in limits()
        .into_iter()
        .filter(|(_, l)| (l.max as u64) < guard::MAX_FIELD)
    {
        for (delta, shortened) in [(-1i64, false), (0, false), (1, true)] {
            let target = (limit.max as i64 + delta) as usize;
            let f = fields(&summary_for(limit, target));
            let fitted = composer.fit(&f, limit).unwrap();
            assert!(limit.fits(&fitted.text), "{name} {delta}: {}", fitted.count);
            assert!(fitted.count <= limit.max, "{name} {delta}");
            assert_eq!(fitted.summary != f.summary, shortened, "{name} {delta}");
            assert!(
                fitted.text.ends_with(&format!("Read more! {URL}")),
                "{name} {delta}: link and CTA intact"
            );
            if shortened {
                assert!(fitted.summary.ends_with('…'), "{name}");
                assert!(fitted.notes[0].contains("summary was shortened"), "{name}");
            } else {
                assert_eq!(fitted.count, target, "{name} {delta}");
            }
        }
    }
}

#[test]
fn counting_rules_differ_by_platform() {
    let family = "👩🏽‍💻";
    assert_eq!(count_units(family, CountUnit::Graphemes), 1);
    assert_eq!(count_units(family, CountUnit::CodePoints), 4);
    assert_eq!(count_units(family, CountUnit::Utf16), 7);
    assert_eq!(count_units(family, CountUnit::Bytes), 15);
    let mastodon = TextLimit {
        unit: CountUnit::Graphemes,
        max: 500,
        url_length: Some(23),
        max_bytes: None,
    };
    assert_eq!(mastodon.count(&format!("Hi {URL}")), 3 + 23);
    assert_eq!(mastodon.count(&format!("{URL}. {URL}")), 23 + 2 + 23);
}

#[test]
fn bluesky_byte_cap_applies_too() {
    let limit = TextLimit {
        unit: CountUnit::Graphemes,
        max: 300,
        url_length: None,
        max_bytes: Some(3000),
    };
    // 250 graphemes of 15 bytes each: under 300 graphemes, over 3000 bytes.
    let f = fields(&"👩🏽‍💻 ".repeat(125));
    let fitted = Composer::new(None).unwrap().fit(&f, limit).unwrap();
    assert!(fitted.text.len() <= 3000);
    assert!(fitted.text.ends_with(URL));
}

#[test]
fn summaries_are_cut_at_word_boundaries_never_mid_word_or_mid_link() {
    let summary = format!("Alpha beta gamma {URL} delta epsilon zeta eta theta iota kappa lambda");
    let f = PostFields {
        summary,
        cta: None,
        ..fields("")
    };
    let limit = TextLimit::new(CountUnit::CodePoints, 150);
    let fitted = Composer::new(None).unwrap().fit(&f, limit).unwrap();
    let kept = fitted.summary.trim_end_matches('…');
    assert!(f.summary.starts_with(kept), "{}", fitted.summary);
    let next = f.summary[kept.len()..].chars().next();
    assert_eq!(
        next,
        Some(' '),
        "cut at a word boundary: {}",
        fitted.summary
    );
    assert!(
        !kept.contains("https://") || kept.contains(URL),
        "a link is whole or absent"
    );
}

#[test]
fn a_cut_after_a_whole_sentence_has_no_ellipsis() {
    let f = PostFields {
        summary: "First sentence here. Second sentence is much longer and will not fit at all."
            .to_string(),
        cta: None,
        ..fields("")
    };
    let limit = TextLimit::new(CountUnit::CodePoints, URL.len() + 35);
    let fitted = Composer::new(None).unwrap().fit(&f, limit).unwrap();
    assert_eq!(fitted.summary, "First sentence here.");
}

#[test]
fn text_without_spaces_is_cut_between_graphemes() {
    let f = PostFields {
        summary: "日本語の文章はスペースがありません。".repeat(20),
        cta: None,
        ..fields("")
    };
    let limit = TextLimit::new(CountUnit::Graphemes, 120);
    let fitted = Composer::new(None).unwrap().fit(&f, limit).unwrap();
    assert!(fitted.count <= 120);
    assert!(fitted.summary.chars().count() > 10 && fitted.summary.chars().count() < 120);
}

#[test]
fn the_cta_is_dropped_whole_when_nothing_else_can_give() {
    let f = PostFields {
        title: "T".to_string(),
        summary: "S".to_string(),
        cta: Some("A call to action that is far too long to fit beside the link".to_string()),
        url: URL.to_string(),
        ..PostFields::default()
    };
    let limit = TextLimit::new(CountUnit::CodePoints, URL.len() + 5);
    let fitted = Composer::new(None).unwrap().fit(&f, limit).unwrap();
    assert!(fitted.cta_dropped);
    assert!(!fitted.text.contains("call to action"));
    assert!(fitted.text.ends_with(URL));
    assert!(
        fitted
            .notes
            .iter()
            .any(|n| n.contains("call to action was dropped"))
    );
}

#[test]
fn a_link_longer_than_the_limit_is_an_error() {
    let f = PostFields {
        cta: None,
        ..fields("s")
    };
    let e = Composer::new(None)
        .unwrap()
        .fit(&f, TextLimit::new(CountUnit::CodePoints, 10))
        .unwrap_err();
    assert!(matches!(e, ComposeError::LinkTooLong { max: 10, .. }));
}

#[test]
fn templates_render_every_variable_and_hashtags() {
    let composer = Composer::new(Some(
        "{{ title }} by {{ author }} ({{ read_time }}) {{ tags | hashtags }} {{ site }}",
    ))
    .unwrap();
    let f = PostFields {
        author: Some("Ann".into()),
        read_time: Some("5 mins".into()),
        tags: vec![
            "rust".into(),
            "edge-ai".into(),
            "food & drink".into(),
            "AI".into(),
        ],
        site: "Site".into(),
        ..fields("s")
    };
    assert_eq!(
        composer.render(&f).unwrap(),
        "Title by Ann (5 mins) #rust #EdgeAi #FoodDrink #AI Site"
    );
}

#[test]
fn template_errors_are_reported_and_runaway_loops_stop() {
    assert!(matches!(
        Composer::new(Some("{% if %}")),
        Err(ComposeError::Template(_))
    ));
    // Nested loops over a long field: fuel stops them.
    let looping = Composer::new(Some(
        "{% for i in summary %}{% for j in summary %}x{% endfor %}{% endfor %}",
    ))
    .unwrap();
    assert!(matches!(
        looping.render(&fields(&"s".repeat(5000))),
        Err(ComposeError::Template(_))
    ));
    // Calls (such as `range`) are not part of what post templates may do.
    assert!(matches!(
        Composer::new(Some("{% for i in range(100000) %}x{% endfor %}")),
        Err(ComposeError::Template(m)) if m.contains("a call")
    ));
}

#[test]
fn a_template_writes_at_most_its_cap() {
    // Every loop over a 60 KB title writes it again: the output cap stops
    // it long before fuel would.
    let composer = Composer::new(Some(
        "{% for c in tags %}{% for d in tags %}{{ title }}{{ title }}{% endfor %}{% endfor %}",
    ))
    .unwrap();
    let f = PostFields {
        title: "t".repeat(60_000),
        tags: (0..30).map(|i| i.to_string()).collect(),
        ..fields("s")
    };
    match composer.render(&f) {
        Err(ComposeError::Template(m)) => assert!(m.contains("writes more than 1024 KB"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_summary_leaves_no_gap() {
    let composer = Composer::new(None).unwrap();
    let text = composer
        .render(&PostFields {
            summary: String::new(),
            ..fields("")
        })
        .unwrap();
    assert_eq!(text, format!("Title\n\nRead more! {URL}"));
}
