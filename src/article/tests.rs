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
    let d = a.held_details().expect("just parsed");
    assert_eq!(
        a.title,
        "The DeepSeek Paradigm Shift: A Wake-Up Call for OpenAI and the AI Industry"
    );
    assert_eq!(
        d.subtitle.as_deref(),
        Some("How DeepSeek's efficient AI models challenge OpenAI's resource-heavy approach")
    );
    assert_eq!(
        d.cta.as_deref(),
        Some(
            "Stay ahead of the AI revolution! Follow us on LinkedIn for daily insights into groundbreaking developments like DeepSeek's efficient AI models and their impact on the industry landscape."
        )
    );
    assert_eq!(d.author.as_deref(), Some("Santiago Ramirez"));
    assert_eq!(d.read_time.as_deref(), Some("8 mins"));
    assert_eq!(a.published.to_rfc3339(), "2024-02-10T09:00:00+00:00");
    assert_eq!(
        d.hero_image.as_ref().map(Url::as_str),
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
    assert_eq!(*a.tags, ["ai".into(), "ml".into()]);
    let d = a.held_details().expect("just parsed");
    assert_eq!(
        d.hero_image.as_ref().unwrap().as_str(),
        "https://magick.ai/img/a.png"
    );
    assert_eq!(d.alt_text(&a.title), "A cat");
}

#[test]
fn an_article_digest_streamed_into_the_hash_equals_the_digest_of_its_encoding() {
    use sha2::{Digest, Sha256};
    let p = parse_text(
        "---\ntitle: A\npublish_date: 2024-01-02\ndescription: D\ntags: [AI]\nheroImage: https://img.example/a.jpg\n---\n",
    );
    let a = p.article.unwrap();
    let details = a.held_details().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.md");
    std::fs::write(&file, "x").unwrap();
    let identity = super::cache::Identity::of(&std::fs::metadata(&file).unwrap()).unwrap();
    let mut hash = Sha256::new();
    hash.update(postcard::to_allocvec(&a.source.to_string_lossy()).unwrap());
    hash.update(postcard::to_allocvec(&a).unwrap());
    hash.update(postcard::to_allocvec(details).unwrap());
    hash.update(postcard::to_allocvec(&identity).unwrap());
    let whole: [u8; 32] = hash.finalize().into();
    let expected: crate::article::Digest = whole[..16].try_into().unwrap();
    assert_eq!(a.digest_of(details, &identity), expected);
    // Any field, the details' too, changes it.
    let mut other = details.clone();
    other.description = Some("E".into());
    assert_ne!(a.digest_of(&other, &identity), expected);
}

#[test]
fn canonical_url_is_the_permalink() {
    let p = parse_text(
        "---\ntitle: A\npublish_date: 2024-03-05\ncanonical_url: https://news.example/a\n---\n",
    );
    assert_eq!(p.article.unwrap().id(), "https://news.example/a");
}

/// The summary is decided as the file is parsed: the body's first
/// paragraph is kept only when the front matter gives none, so a feed or a
/// post never reads a body for it.
#[test]
fn the_lead_is_kept_only_when_the_front_matter_gives_no_summary() {
    let body = "\n![hero](a.png)\n\nFirst  words\nof the body.\n\nSecond.\n";
    let details = |front: &str| {
        let p = parse_text(&format!(
            "---\ntitle: T\npublish_date: 2024-03-05\n{front}---\n{body}"
        ));
        p.article.unwrap().held_details().unwrap().clone()
    };
    let bare = details("");
    assert_eq!(bare.lead.as_deref(), Some("First words of the body."));
    assert_eq!(bare.summary("T"), "First words of the body.");
    for front in ["description: Given.\n", "subtitle: Given.\n"] {
        let given = details(front);
        assert_eq!(given.lead, None, "{front}");
        assert_eq!(given.summary("T"), "Given.");
    }
    let empty = parse_text("---\ntitle: T\npublish_date: 2024-03-05\n---\n");
    let empty = empty.article.unwrap();
    assert_eq!(empty.held_details().unwrap().summary(&empty.title), "T");
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
    assert!(a.held_details().expect("just parsed").hero_image.is_none());
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

mod cache {
    use std::fs;
    use std::time::{Duration, SystemTime};

    use super::super::{CacheUse, Details, ParseContext, load::load_at};
    use crate::config;

    struct Site {
        dir: tempfile::TempDir,
    }

    impl Site {
        fn new() -> Site {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join("content/2024")).unwrap();
            let site = Site { dir };
            site.write(
                "2024/a.md",
                "---\ntitle: 'A'\npublish_date: '2024-01-01'\n---\nBody.\n",
            );
            site.write(
                "b.md",
                "---\ntitle: 'Priya's plan'\npublish_date: '2024-01-02'\n---\nBody.\n",
            );
            site.write("c.md", "---\ntitle: [\n---\n");
            site
        }

        fn write(&self, name: &str, text: &str) {
            fs::write(self.dir.path().join("content").join(name), text).unwrap();
        }

        fn config(&self, url: &str) -> config::Config {
            let text = format!(
                "site: {{title: T, url: '{url}'}}\ncontent: {{dir: content, timezone: UTC}}\nstate: {{path: state/herald.db}}\n"
            );
            config::parse(&self.dir.path().join("herald.yaml"), &text, &|_| None).unwrap()
        }

        fn cache_file(&self) -> std::path::PathBuf {
            self.dir.path().join("state/herald.articles.cache")
        }
    }

    /// What a corpus holds of each article, its details read back: the
    /// front matter (postcard), path, body position, digest and details.
    #[allow(clippy::type_complexity)]
    fn whole(
        config: &config::Config,
        corpus: &crate::article::Corpus,
    ) -> Vec<(
        Vec<u8>,
        std::path::PathBuf,
        (u64, u32),
        Option<crate::article::Digest>,
        Details,
    )> {
        let ctx = ParseContext::of(config);
        corpus
            .articles
            .iter()
            .map(|a| {
                (
                    postcard::to_allocvec(a).unwrap(),
                    a.source.clone(),
                    (a.body_offset, a.body_line),
                    a.digest,
                    (*a.details(&ctx).unwrap()).clone(),
                )
            })
            .collect()
    }

    /// Files written by the test are seconds old: the cache is asked to
    /// trust them by running "an hour later".
    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(3600)
    }

    #[test]
    fn answers_for_unchanged_files_and_reparses_changed_ones() {
        let site = Site::new();
        let config = site.config("https://example.com/");
        let first = load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!((first.files, first.from_cache), (3, 0));
        assert!(site.cache_file().exists());

        let second = load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(second.from_cache, 3);
        assert!(
            second.articles.iter().all(|a| a.held_details().is_none()),
            "details are left in the cache"
        );
        assert_eq!(
            whole(&config, &second),
            whole(&config, &first),
            "same articles, body offsets, digests and details too"
        );
        assert_eq!(
            second.diagnostics, first.diagnostics,
            "warnings and errors kept"
        );
        assert!(
            second.diagnostics.iter().any(|d| d.is_error()),
            "c.md's error"
        );
        assert!(
            second.diagnostics.iter().any(|d| !d.is_error()),
            "b.md's repair"
        );

        site.write(
            "2024/a.md",
            "---\ntitle: 'A, edited'\npublish_date: '2024-01-01'\n---\nBody.\n",
        );
        let third = load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(third.from_cache, 2);
        assert!(third.articles.iter().any(|a| a.title == "A, edited"));
        // The rewritten cache carries the details it copied from the one
        // before, and the edited file's new ones.
        let fresh = load_at(&config, CacheUse::Off, later()).unwrap();
        let again = load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(again.from_cache, 3);
        assert_eq!(whole(&config, &again), whole(&config, &third));
        assert_eq!(
            whole(&config, &again)
                .into_iter()
                .map(|w| w.4)
                .collect::<Vec<_>>(),
            whole(&config, &fresh)
                .into_iter()
                .map(|w| w.4)
                .collect::<Vec<_>>()
        );

        // A new file, a removed one.
        site.write("d.md", "---\ntitle: 'D'\npublish_date: '2024-01-03'\n---\n");
        fs::remove_file(site.dir.path().join("content/b.md")).unwrap();
        let fourth = load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!((fourth.files, fourth.from_cache), (3, 2));
        let titles: Vec<&str> = fourth.articles.iter().map(|a| a.title.as_str()).collect();
        assert_eq!(titles, ["A, edited", "D"]);
    }

    #[test]
    fn details_come_back_from_the_cache_a_run_read_or_from_the_file() {
        let site = Site::new();
        site.write(
            "2024/a.md",
            "---\ntitle: A\npublish_date: 2024-01-01\ndescription: About A.\nheroImage: https://img.example/a.jpg\n---\nBody.\n",
        );
        let config = site.config("https://example.com/");
        let ctx = ParseContext::of(&config);
        load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        let held = load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        let a = &held.articles[0];
        assert!(a.held_details().is_none(), "left in the cache");
        assert_eq!(
            a.details(&ctx).unwrap().description.as_deref(),
            Some("About A.")
        );

        // Another run replaces the cache (the file changed): this run
        // still reads what it loaded, from the file it keeps open.
        site.write(
            "2024/a.md",
            "---\ntitle: A\npublish_date: 2024-01-01\ndescription: Now about B.\n---\nBody.\n",
        );
        let other = load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(other.from_cache, 2, "b.md and c.md; a.md parsed again");
        assert_eq!(
            a.details(&ctx).unwrap().description.as_deref(),
            Some("About A.")
        );

        // The cache it read damaged where the details are: the file is
        // parsed again, and says what it says now.
        let reread = load_at(&config, CacheUse::ReadWrite, later()).unwrap();
        let a = &reread.articles[0];
        assert!(a.held_details().is_none());
        let mut bytes = fs::read(site.cache_file()).unwrap();
        let at = bytes
            .windows(12)
            .position(|w| w == b"Now about B.")
            .unwrap();
        bytes[at - 1] = 0xff;
        fs::OpenOptions::new()
            .write(true)
            .open(site.cache_file())
            .and_then(|mut f| std::io::Write::write_all(&mut f, &bytes))
            .unwrap();
        assert_eq!(
            a.details(&ctx).unwrap().description.as_deref(),
            Some("Now about B.")
        );
    }

    #[test]
    fn other_settings_or_a_damaged_cache_mean_parsing_again() {
        let site = Site::new();
        let config = site.config("https://example.com/");
        load_at(&config, CacheUse::ReadWrite, later()).unwrap();

        let moved = site.config("https://news.example.org/");
        let corpus = load_at(&moved, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(corpus.from_cache, 0, "permalinks depend on site.url");
        assert!(
            corpus.articles[0]
                .id()
                .starts_with("https://news.example.org/")
        );

        let bytes = fs::read(site.cache_file()).unwrap();
        fs::write(site.cache_file(), &bytes[..bytes.len() - 7]).unwrap();
        let corpus = load_at(&moved, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!((corpus.articles.len(), corpus.from_cache), (2, 0));
        fs::write(site.cache_file(), b"garbage").unwrap();
        assert_eq!(
            load_at(&moved, CacheUse::Read, later()).unwrap().from_cache,
            0
        );
        assert_eq!(
            fs::read(site.cache_file()).unwrap(),
            b"garbage",
            "read-only"
        );
        let rebuilt = load_at(&moved, CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(rebuilt.from_cache, 0);
        assert_eq!(
            load_at(&moved, CacheUse::Read, later()).unwrap().from_cache,
            3
        );
    }

    #[test]
    fn read_only_and_off_write_nothing_and_fresh_files_are_not_trusted() {
        let site = Site::new();
        let config = site.config("https://example.com/");
        load_at(&config, CacheUse::Read, later()).unwrap();
        load_at(&config, CacheUse::Off, later()).unwrap();
        assert!(!site.dir.path().join("state").exists());

        // Written just now: a second edit in the same clock tick could keep
        // the same identity, so these are parsed every time until they settle.
        load_at(&config, CacheUse::ReadWrite, SystemTime::now()).unwrap();
        let again = load_at(&config, CacheUse::ReadWrite, SystemTime::now()).unwrap();
        assert_eq!(again.from_cache, 0);

        let off = config::parse(
            &site.dir.path().join("herald.yaml"),
            "site: {title: T, url: 'https://example.com/'}\ncontent: {dir: content}\nstate: {path: other/herald.db, cache: false}\n",
            &|_| None,
        )
        .unwrap();
        load_at(&off, CacheUse::ReadWrite, later()).unwrap();
        assert!(!site.dir.path().join("other").exists());
    }

    #[cfg(unix)]
    #[test]
    fn the_cache_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let site = Site::new();
        load_at(
            &site.config("https://example.com/"),
            CacheUse::ReadWrite,
            later(),
        )
        .unwrap();
        let mode = fs::metadata(site.cache_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// The clean paths a folder walk gives (no trailing or doubled separators)
/// sort alike by bytes and by components.
#[test]
fn path_order_is_the_order_of_paths() {
    let names = [
        "a",
        "a/b",
        "a-b",
        "a.b",
        "a/b/c",
        "a/b-c",
        "ab",
        "a b",
        "b",
        "a/c",
        "A",
        "a~",
        "é",
        "a/é",
        "2024/01/x.md",
        "2024-notes/x.md",
        "2024/01-x.md",
        "2024/1/x.md",
    ];
    for x in names {
        for y in names {
            let (x, y) = (Path::new(x), Path::new(y));
            assert_eq!(
                super::cache::path_order(x, y),
                x.cmp(y),
                "{} vs {}",
                x.display(),
                y.display()
            );
        }
    }
}

/// A walk lists a folder's files in path order, however the folder and
/// file names mix separators, dots and dashes.
#[test]
fn the_walk_lists_files_in_path_order() {
    let dir = tempfile::tempdir().unwrap();
    let content = dir.path().join("content");
    for (i, name) in [
        "a.md",
        "a-b.md",
        "a/b.md",
        "a/b/c.md",
        "a-b/c.md",
        "a.b/c.md",
        "ab.md",
        "A.md",
        "é.md",
        "2024/01/x.md",
        "2024-notes/x.md",
        "2024/01-x.md",
        "2024/1/x.md",
        "2024/01/x/y.md",
        "b.md",
    ]
    .iter()
    .enumerate()
    {
        let path = content.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(
            &path,
            format!("---\ntitle: T\npublish_date: 2024-01-01\nslug: s{i}\n---\n"),
        )
        .unwrap();
    }
    let config = config::parse(
        &dir.path().join("herald.yaml"),
        "site: {title: T, url: 'https://example.com/'}\ncontent: {dir: content}\nstate: {path: state/herald.db}\n",
        &|_| None,
    )
    .unwrap();
    let corpus = super::load_with(&config, super::CacheUse::Read).unwrap();
    assert_eq!((corpus.files, corpus.articles.len()), (15, 15));
    let listed: Vec<&Path> = corpus.articles.iter().map(|a| a.source.as_path()).collect();
    let mut sorted = listed.clone();
    sorted.sort();
    assert_eq!(listed, sorted);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
    /// Wherever the direct reading of `YYYY-MM-DD` answers, chrono's
    /// `%Y-%m-%d` gives the same date; on a well-formed date it answers.
    #[test]
    fn plain_dates_read_as_chrono_reads_them(
        t in "[0-9]{4}-[0-9]{2}-[0-9]{2}|[+-]?[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,3}|[0-9 a-]{8,11}"
    ) {
        let chrono = NaiveDate::parse_from_str(&t, "%Y-%m-%d").ok();
        match super::plain_date(&t) {
            Some(date) => proptest::prop_assert_eq!(Some(date), chrono),
            None => {
                let b = t.as_bytes();
                let well_formed = b.len() == 10
                    && b.iter().enumerate().all(|(i, c)| {
                        if i == 4 || i == 7 { *c == b'-' } else { c.is_ascii_digit() }
                    });
                proptest::prop_assert!(
                    chrono.is_none() || !well_formed,
                    "{t:?} is a date chrono reads: {chrono:?}"
                );
            }
        }
    }
}
