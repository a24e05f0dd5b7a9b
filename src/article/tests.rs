use std::path::Path;

use super::*;
use crate::config;
use crate::diagnostic::Level;

fn config_with(extra: &str) -> config::Config {
    let text = format!("site: {{title: Magick AI, url: https://magick.ai/}}\n{extra}");
    config::parse(Path::new("config/herald.yaml"), &text, &|_| None).expect("test config")
}

fn parse_text(text: &str) -> Parsed {
    parse_with(text, "content: {timezone: UTC}\n")
}

fn parse_with(text: &str, extra: &str) -> Parsed {
    parse_file("content/post.md", text, extra)
}

fn parse_file(path: &str, text: &str, extra: &str) -> Parsed {
    let c = config_with(extra);
    let ctx = ParseContext {
        site: &c.site,
        content: &c.content,
    };
    parse(Path::new(path), text, true, &ctx).expect("complete text")
}

fn only_error(p: &Parsed) -> &Diagnostic {
    let errors: Vec<_> = p.diagnostics.iter().filter(|d| d.is_error()).collect();
    assert_eq!(errors.len(), 1, "{:#?}", p.diagnostics);
    assert!(p.article.is_none());
    errors[0]
}

const SEED: &str = include_str!("../../content/deepseek-paradigm-shift.md");

#[test]
fn the_seed_reads_as_its_author_meant() {
    let p = parse_file("content/deepseek-paradigm-shift.md", SEED, "");
    let a = p.article.as_ref().expect("seed parses");
    assert_eq!(
        a.title,
        "The DeepSeek Paradigm Shift: A Wake-Up Call for OpenAI and the AI Industry"
    );
    assert_eq!(
        a.subtitle.as_deref(),
        Some("How DeepSeek's efficient AI models challenge OpenAI's resource-heavy approach")
    );
    assert_eq!(
        a.cta.as_deref(),
        Some(
            "Stay ahead of the AI revolution! Follow us on LinkedIn for daily insights into groundbreaking developments like DeepSeek's efficient AI models and their impact on the industry landscape."
        )
    );
    assert_eq!(a.author.as_deref(), Some("Santiago Ramirez"));
    assert_eq!(a.read_time.as_deref(), Some("8 mins"));
    assert_eq!(a.published.to_rfc3339(), "2024-02-10T09:00:00+00:00");
    assert_eq!(
        a.hero_image.as_ref().map(Url::as_str),
        Some("https://media.magick.ai/ai-competition-abstract.jpg")
    );
    assert_eq!(a.slug, "deepseek-paradigm-shift");
    assert_eq!(
        a.permalink.as_str(),
        "https://magick.ai/articles/deepseek-paradigm-shift/"
    );
    let warnings: Vec<(Option<u32>, Level)> =
        p.diagnostics.iter().map(|d| (d.line, d.level)).collect();
    assert_eq!(
        warnings,
        vec![(Some(3), Level::Warning), (Some(10), Level::Warning)]
    );
    assert_eq!(&SEED[a.body_offset as usize..][..2], "\n!");
}

#[test]
fn bad_front_matter_gets_a_located_error() {
    let cases: &[(&str, u32, &str)] = &[
        ("", 1, "the file is empty"),
        ("# Just Markdown\n", 1, "no front matter"),
        (
            "---\ntitle: A\npublish_date: 2024-01-01\nBody\n",
            1,
            "did you forget the closing `---`?",
        ),
        ("---\n- a\n- b\n---\n", 2, "must be a mapping"),
        ("---\npublish_date: 2024-01-01\n---\n", 1, "missing `title`"),
        (
            "---\ntitle: \"\\u0000\\u0007\"\npublish_date: 2024-01-01\n---\n",
            1,
            "missing `title`",
        ),
        ("---\ntitle: A\n---\n", 1, "missing `publish_date`"),
        (
            "---\ntitle: A\npublish_date: 10/02/2024\n---\n",
            3,
            "expected YYYY-MM-DD",
        ),
        (
            "---\ntitle: A\npublish_date: 2024-01-01\ntags: [a, b\n---\n",
            4,
            "invalid YAML",
        ),
        (
            "---\ntitle: A\npublish_date: 2024-01-01\nslug: a/b\n---\n",
            4,
            "slug \"a/b\"",
        ),
    ];
    for (text, line, needle) in cases {
        let p = parse_text(text);
        let e = only_error(&p);
        assert_eq!(e.line, Some(*line), "{text:?}: {e}");
        assert!(e.message.contains(needle), "{text:?}: {e}");
    }
}

#[test]
fn dates_take_the_zone_and_publish_time() {
    let p = parse_with(
        "---\ntitle: A\npublish_date: 2024-07-01\n---\n",
        "content: {timezone: Europe/Paris, publish_time: \"07:30\"}\n",
    );
    let a = p.article.unwrap();
    assert_eq!(a.published.to_rfc3339(), "2024-07-01T07:30:00+02:00");

    let tz: chrono_tz::Tz = "America/New_York".parse().unwrap();
    let nine = chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap();
    let cases = [
        ("2024-02-10", "2024-02-10T09:00:00-05:00"),
        ("2024-02-10T14:30:00+01:00", "2024-02-10T14:30:00+01:00"),
        ("2024-02-10T14:30:00Z", "2024-02-10T14:30:00+00:00"),
        ("2024-02-10 14:30:00+01:00", "2024-02-10T14:30:00+01:00"),
        ("2024-02-10T14:30", "2024-02-10T14:30:00-05:00"),
        // 02:30 does not exist on 10 March 2024 in New York: an hour later.
        ("2024-03-10T02:30", "2024-03-10T03:30:00-04:00"),
    ];
    for (text, want) in cases {
        assert_eq!(
            parse_date(text, tz, nine).unwrap().to_rfc3339(),
            want,
            "{text}"
        );
    }
    assert!(parse_date("2024-02-30", tz, nine).is_err());
}

#[test]
fn aliases_tags_and_permalink_patterns() {
    let p = parse_with(
        "---\ntitle: A\ndate: 2024-03-05\nhero_image: /img/a.png\nhero_alt: A cat\ntags: ai, ml, ai\nslug: my-post\n---\n",
        "content: {permalink: \"/{year}/{month}/{day}/{slug}/\"}\n",
    );
    let a = p.article.unwrap();
    assert_eq!(
        a.permalink.as_str(),
        "https://magick.ai/2024/03/05/my-post/"
    );
    assert_eq!(a.tags, vec!["ai", "ml"]);
    assert_eq!(
        a.hero_image.as_ref().unwrap().as_str(),
        "https://magick.ai/img/a.png"
    );
    assert_eq!(a.alt_text(), "A cat");
}

#[test]
fn canonical_url_is_the_permalink() {
    let p = parse_text(
        "---\ntitle: A\npublish_date: 2024-03-05\ncanonical_url: https://news.example/a\n---\n",
    );
    assert_eq!(p.article.unwrap().id(), "https://news.example/a");
}

#[test]
fn control_characters_in_title_are_removed_with_a_warning() {
    let p = parse_text("---\ntitle: \"Bad\\u0000 \\u0007title\"\npublish_date: 2024-03-05\n---\n");
    let a = p.article.as_ref().expect("still published");
    assert_eq!(a.title, "Bad title");
    assert_eq!(p.diagnostics.len(), 1);
    assert_eq!(p.diagnostics[0].level, Level::Warning);
}

#[test]
fn non_http_hero_image_is_dropped_with_a_warning() {
    let p = parse_text(
        "---\ntitle: A\npublish_date: 2024-03-05\nheroImage: javascript:alert(1)\n---\n",
    );
    let a = p.article.as_ref().expect("still published");
    assert!(a.hero_image.is_none());
    assert_eq!(p.diagnostics[0].level, Level::Warning);
    assert_eq!(p.diagnostics[0].line, Some(4));
}

#[test]
fn typos_of_known_keys_are_warned() {
    let p =
        parse_text("---\ntitle: A\npublish_date: 2024-03-05\ndescripton: x\nmy_site_key: y\n---\n");
    assert!(p.article.is_some());
    assert_eq!(p.diagnostics.len(), 1, "{:?}", p.diagnostics);
    assert!(
        p.diagnostics[0]
            .message
            .contains("did you mean `description`?")
    );
}

#[test]
fn slugs_from_file_names() {
    assert_eq!(slug_from_file_name(Path::new("a/My Post!.md")), "my-post");
    assert_eq!(
        slug_from_file_name(Path::new("a/keep-Me_1.md")),
        "keep-Me_1"
    );
    assert_eq!(slugify("../../etc"), "etc");
    assert_eq!(slugify("***"), "untitled");
}
