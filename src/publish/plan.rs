//! The plan: what a run will write, decided by pure functions of the config,
//! the articles, their rendered entries, the current feed files and `now`.
//! Nothing here reads a clock, a file or the network; `--dry-run` prints the
//! very `Plan` that `execute` would carry out.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, FixedOffset, Utc};
use rayon::prelude::*;
use serde::Serialize;
use url::Url;

use crate::article::Article;
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::feed::{self, Channel, Entry, FeedSpec, Format};

/// Everything one run decides.
#[derive(Debug, Serialize)]
pub struct Plan {
    pub now: DateTime<Utc>,
    /// The folder feeds are written to.
    pub feeds_dir: PathBuf,
    pub feeds: Vec<PlannedFeed>,
    /// Articles that are valid but not published yet (drafts, future dates).
    pub skipped: Vec<Skipped>,
    /// Problems with articles; error-level ones left their article out.
    pub problems: Vec<Diagnostic>,
    /// How many articles are published (before any feed limit).
    pub published: usize,
    /// The articles some feed shows, newest first.
    pub entries: Vec<PlannedEntry>,
    /// What the feeds show of each entry (same order as `entries`); the
    /// bodies are read and rendered as the feeds are written.
    #[serde(skip)]
    pub contents: Vec<Entry>,
    /// Whether items carry the article's whole body (`feeds.full_content`).
    #[serde(skip)]
    pub full_content: bool,
    /// Each (target, article) this run acts on, in the order it will.
    pub posts: Vec<super::posts::PlannedPost>,
    /// What was left out of posting and why, in a line per target.
    pub post_notes: Vec<String>,
    /// What a dry run would first ask a target that posts (a real run asks
    /// before composing, so its plan never holds any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub learning: Vec<PlannedLearning>,
}

/// A question a run asks a target before composing its posts.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedLearning {
    pub target: String,
    pub what: &'static str,
    pub request: crate::social::http::RequestPreview,
}

/// An article as the plan shows it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedEntry {
    pub id: String,
    pub title: String,
    pub published: DateTime<FixedOffset>,
    pub source: PathBuf,
}

impl Plan {
    /// Feeds whose bytes differ from what is on disk.
    pub fn changed_feeds(&self) -> impl Iterator<Item = &PlannedFeed> {
        self.feeds
            .iter()
            .filter(|f| f.status != FeedStatus::Unchanged)
    }

    /// Streams the bytes of one of this plan's feeds to `out`.
    pub fn write_feed(&self, feed: &PlannedFeed, out: &mut (dyn Write + Send)) -> io::Result<()> {
        feed::write(
            feed.format,
            &feed.channel,
            &self.entries_of(feed),
            &Bodies {
                full: self.full_content,
            },
            out,
        )
    }

    /// Streams several feeds that show the same entries (`same_entries`
    /// groups them) in one pass, each body read and rendered once.
    pub fn write_group(
        &self,
        feeds: &[&PlannedFeed],
        outs: Vec<&mut (dyn Write + Send)>,
    ) -> io::Result<()> {
        let Some(first) = feeds.first() else {
            return Ok(());
        };
        let mut outputs: Vec<feed::Output<'_>> = feeds
            .iter()
            .zip(outs)
            .map(|(f, out)| feed::Output {
                format: f.format,
                channel: &f.channel,
                out,
            })
            .collect();
        feed::write_group(
            &mut outputs,
            &self.entries_of(first),
            &Bodies {
                full: self.full_content,
            },
        )
    }

    fn entries_of(&self, feed: &PlannedFeed) -> Vec<&Entry> {
        feed.contents
            .iter()
            .filter_map(|&i| self.contents.get(i))
            .collect()
    }
}

/// The feeds among `feeds` grouped by the entries they show, in order.
pub fn same_entries<'p>(feeds: &[&'p PlannedFeed]) -> Vec<Vec<&'p PlannedFeed>> {
    let mut groups: Vec<Vec<&PlannedFeed>> = Vec::new();
    for f in feeds {
        match groups.iter_mut().find(|g| g[0].contents == f.contents) {
            Some(g) => g.push(f),
            None => groups.push(vec![f]),
        }
    }
    groups
}

/// Reads and renders an entry's body when its item is written, so a run
/// holds the bodies of one batch, never the archive's.
struct Bodies {
    full: bool,
}

impl feed::Contents for Bodies {
    fn full(&self) -> bool {
        self.full
    }

    fn html(&self, entry: &Entry) -> io::Result<Option<String>> {
        if !self.full {
            return Ok(None);
        }
        let unreadable = |d: Diagnostic| io::Error::other(d.to_string());
        let body = crate::article::read_body(&entry.article).map_err(unreadable)?;
        let base = entry.article.url().map_err(unreadable)?;
        Ok(Some(crate::article::markdown::render(&body, &base)))
    }
}

/// One feed file and what will happen to it.
#[derive(Debug, Serialize)]
pub struct PlannedFeed {
    pub path: PathBuf,
    pub format: Format,
    pub url: Url,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The ids (permalinks) of its items, newest first.
    pub items: Vec<String>,
    pub status: FeedStatus,
    /// What the feed says about itself.
    #[serde(skip)]
    pub channel: Channel,
    /// Its items: indices into `Plan::contents`.
    #[serde(skip)]
    pub contents: Vec<usize>,
    /// The feed memo proves the file unchanged: its entries' bodies were
    /// not read, and it is neither rendered nor compared.
    #[serde(skip)]
    pub proven: bool,
}

/// Whether a feed file will be created, replaced or left alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedStatus {
    New,
    Changed,
    Unchanged,
}

/// A valid article that this run leaves out, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub source: PathBuf,
    pub id: String,
    pub title: String,
    pub reason: SkipReason,
}

/// Why a valid article is not published now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SkipReason {
    Draft,
    Scheduled { publish_at: DateTime<FixedOffset> },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Draft => f.write_str("draft"),
            SkipReason::Scheduled { publish_at } => {
                write!(
                    f,
                    "scheduled for {}",
                    publish_at.format("%Y-%m-%d %H:%M %:z")
                )
            }
        }
    }
}

/// Published articles newest first, and the ones left out.
#[derive(Debug)]
pub struct Selection<'a> {
    pub published: Vec<&'a Article>,
    pub skipped: Vec<Skipped>,
}

/// Splits articles into published (not a draft, publish time at or before
/// `now`) and skipped. Published ones are sorted newest first, ties broken by
/// permalink, so the order never depends on the file system.
pub fn select(articles: &[Article], now: DateTime<Utc>) -> Selection<'_> {
    let mut published = Vec::with_capacity(articles.len());
    let mut skipped = Vec::new();
    for a in articles {
        let reason = if a.draft {
            Some(SkipReason::Draft)
        } else if a.published > now {
            Some(SkipReason::Scheduled {
                publish_at: a.published,
            })
        } else {
            None
        };
        match reason {
            Some(reason) => skipped.push(Skipped {
                source: a.source.clone(),
                id: a.id().to_string(),
                title: a.title.clone(),
                reason,
            }),
            None => published.push(a),
        }
    }
    // Ids are unique (duplicates were refused), so an unstable sort gives
    // the one order there is.
    published.sort_unstable_by(|a, b| {
        b.published
            .cmp(&a.published)
            .then_with(|| a.id().cmp(b.id()))
    });
    Selection { published, skipped }
}

/// Builds the plan from the selection, the feed specs, the rendered entries
/// (keyed by index into `selection.published`) and the feed files that
/// exist now. An existing file is `Unchanged` until the caller compares its
/// bytes (`confirm_unchanged`), so old feeds are never held in memory.
pub fn build(
    config: &Config,
    now: DateTime<Utc>,
    selection: Selection<'_>,
    specs: Vec<FeedSpec>,
    entries: Vec<(usize, Entry)>,
    existing: &HashSet<PathBuf>,
    problems: Vec<Diagnostic>,
) -> Plan {
    // Published index → position in `contents` (`entries` is in index
    // order).
    let mut position = vec![None; selection.published.len()];
    for (pos, (i, _)) in entries.iter().enumerate() {
        if let Some(slot) = position.get_mut(*i) {
            *slot = Some(pos);
        }
    }
    let contents: Vec<Entry> = entries.into_iter().map(|(_, entry)| entry).collect();
    // Every article some feed shows, newest first, for the plan's list.
    let listed = shown_indices(specs.iter(), selection.published.len());
    let feeds = specs
        .into_iter()
        .map(|spec| {
            let channel = Channel {
                title: feed_title(&spec),
                description: config.site.description.clone(),
                home: config.site.url.clone(),
                self_url: spec.self_url.clone(),
                language: config.site.language.clone(),
                author: config.site.author.clone(),
                hubs: config.feeds.websub_hubs.clone(),
                archive: spec.archive.clone(),
            };
            // Positions of its entries; a feed the memo proves unchanged
            // has none built (it is neither written nor compared).
            let shown: Vec<usize> = spec
                .entries
                .iter()
                .filter_map(|&i| position.get(i).copied().flatten())
                .collect();
            let path = config.feeds.dir.join(&spec.path);
            let status = if existing.contains(&path) {
                FeedStatus::Unchanged
            } else {
                FeedStatus::New
            };
            PlannedFeed {
                path,
                format: spec.format,
                url: spec.self_url,
                tag: spec.tag,
                // A full archive lists every article in each of its
                // files: made in parallel.
                items: spec
                    .entries
                    .par_iter()
                    .filter_map(|&i| selection.published.get(i))
                    .map(|a| a.id().to_string())
                    .collect(),
                status,
                channel,
                contents: shown,
                proven: false,
            }
        })
        .collect();
    Plan {
        now,
        entries: listed
            .into_par_iter()
            .filter_map(|i| selection.published.get(i))
            .map(|a| PlannedEntry {
                id: a.id().to_string(),
                title: crate::article::markdown::xml_safe(&a.title),
                published: a.published,
                source: a.source.clone(),
            })
            .collect(),
        contents,
        full_content: config.feeds.full_content,
        feeds_dir: config.feeds.dir.clone(),
        feeds,
        skipped: selection.skipped,
        problems,
        published: selection.published.len(),
        posts: Vec::new(),
        post_notes: Vec::new(),
        learning: Vec::new(),
    }
}

/// Whether some of `specs` shows each of `published` articles: a mark per
/// article rather than a tree of them.
pub fn shown_marks<'a>(specs: impl Iterator<Item = &'a FeedSpec>, published: usize) -> Vec<bool> {
    let mut shown = vec![false; published];
    for i in specs.flat_map(|s| s.entries.iter()) {
        if let Some(slot) = shown.get_mut(*i) {
            *slot = true;
        }
    }
    shown
}

/// The published indices some of `specs` shows, each once, in order (newest
/// first).
pub fn shown_indices<'a>(
    specs: impl Iterator<Item = &'a FeedSpec>,
    published: usize,
) -> Vec<usize> {
    let shown = shown_marks(specs, published);
    (0..published).filter(|&i| shown[i]).collect()
}

/// Turns `Unchanged` into `Changed` where `same_bytes` says the file on disk
/// differs from what the plan would write.
pub fn confirm_unchanged(plan: &mut Plan, same_bytes: impl Fn(&Plan, &PlannedFeed) -> bool) {
    let differs: Vec<bool> = plan
        .feeds
        .iter()
        .map(|f| f.status == FeedStatus::Unchanged && !f.proven && !same_bytes(plan, f))
        .collect();
    for (feed, differs) in plan.feeds.iter_mut().zip(differs) {
        if differs {
            feed.status = FeedStatus::Changed;
        }
    }
}

fn feed_title(spec: &FeedSpec) -> String {
    crate::article::markdown::xml_safe(spec.title.trim())
}

/// A path under the feeds folder, for display.
pub fn relative_to<'p>(path: &'p Path, dir: &Path) -> &'p Path {
    path.strip_prefix(dir).unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn article(slug: &str, date: &str, draft: bool) -> Article {
        let published = DateTime::parse_from_rfc3339(date).unwrap();
        Article {
            source: PathBuf::from(format!("content/{slug}.md")),
            body_offset: 0,
            body_line: 1,
            digest: None,
            permalink: Url::parse(&format!("https://example.com/{slug}/"))
                .unwrap()
                .into(),
            slug: slug.to_string(),
            title: slug.to_uppercase(),
            published,
            updated: None,
            tags: [].into(),
            draft,
            social: Default::default(),
            details: Default::default(),
            text: None,
        }
    }

    #[test]
    fn select_orders_newest_first_and_explains_what_it_leaves_out() {
        let articles = vec![
            article("old", "2024-01-01T09:00:00Z", false),
            article("draft", "2024-01-02T09:00:00Z", true),
            article("new", "2024-03-01T09:00:00+01:00", false),
            article("future", "2024-06-01T09:00:00Z", false),
            article("same-time-b", "2024-02-01T09:00:00Z", false),
            article("same-time-a", "2024-02-01T09:00:00Z", false),
        ];
        let now = DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
            .unwrap()
            .to_utc();
        let s = select(&articles, now);
        let order: Vec<&str> = s.published.iter().map(|a| a.slug.as_str()).collect();
        assert_eq!(order, ["new", "same-time-a", "same-time-b", "old"]);
        let reasons: Vec<String> = s.skipped.iter().map(|k| k.reason.to_string()).collect();
        assert_eq!(reasons, ["draft", "scheduled for 2024-06-01 09:00 +00:00"]);
    }

    #[test]
    fn an_article_is_published_at_its_exact_time() {
        let articles = vec![article("a", "2024-06-01T09:00:00+02:00", false)];
        let at = DateTime::parse_from_rfc3339("2024-06-01T07:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(select(&articles, at).published.len(), 1);
        let before = at - chrono::Duration::seconds(1);
        assert_eq!(select(&articles, before).published.len(), 0);
    }

    #[test]
    fn relative_paths_for_display() {
        assert_eq!(
            relative_to(Path::new("public/tags/ai/feed.xml"), Path::new("public")),
            Path::new("tags/ai/feed.xml")
        );
    }
}
