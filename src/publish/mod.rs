//! A run: `prepare` gathers what the plan needs (front matter, the bodies of
//! the articles a feed shows, the current feed files) and calls the pure
//! `plan`; `execute` carries a plan out. `--dry-run` stops after `prepare`.

pub mod deliver;
pub mod execute;
pub mod plan;
pub mod posts;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::article::{self, Article, CacheUse, LoadError, markdown};
use crate::config::Config;
use crate::diagnostic::Diagnostic;
use crate::feed::{self, Entry};

pub use execute::{Outcome, execute};
pub use plan::{FeedStatus, Plan};

/// A body read and rendered for the feeds.
struct Rendered {
    html: Option<String>,
    first_paragraph: Option<String>,
}

/// What posting needs from the caller: the ledger as it stands and the
/// run's options. `None` plans feeds only.
pub struct Posting<'a> {
    pub snapshot: &'a crate::ledger::Snapshot,
    pub options: &'a posts::PostOptions,
}

/// Loads the articles and decides the run at `now`.
pub fn prepare(
    config: &Config,
    now: DateTime<Utc>,
    posting: Option<Posting<'_>>,
    cache: CacheUse,
) -> Result<Plan, LoadError> {
    let corpus = article::load_with(config, cache)?;
    let mut problems = corpus.diagnostics;
    let mut articles = corpus.articles;
    let mut bodies: HashMap<String, Rendered> = HashMap::new();
    // Bodies are read only for the articles the feeds show. A body that
    // cannot be read leaves its article out, which can bring an older article
    // into a feed: repeat until every shown article has its body.
    loop {
        let selection = plan::select(&articles, now);
        let specs = feed::plan_feeds(config, &selection.published);
        let needed: HashSet<usize> = specs
            .iter()
            .flat_map(|s| s.entries.iter().copied())
            .collect();
        let to_read: Vec<&Article> = needed
            .iter()
            .map(|&i| selection.published[i])
            .filter(|a| !bodies.contains_key(a.id()))
            .collect();
        let results: Vec<(String, Result<Rendered, Diagnostic>)> = to_read
            .par_iter()
            .map(|a| {
                (
                    a.id().to_string(),
                    render_body(a, config.feeds.full_content),
                )
            })
            .collect();
        let mut failed = HashSet::new();
        for (id, result) in results {
            match result {
                Ok(r) => {
                    bodies.insert(id, r);
                }
                Err(d) => {
                    problems.push(d);
                    failed.insert(id);
                }
            }
        }
        if failed.is_empty() {
            break;
        }
        articles.retain(|a| !failed.contains(a.id()));
    }

    let selection = plan::select(&articles, now);
    let specs = feed::plan_feeds(config, &selection.published);

    // Posts: decide, read the summaries they need, compose.
    let mut planned_posts = Vec::new();
    let mut post_notes = Vec::new();
    if let Some(posting) = &posting {
        let (decisions, notes) = posts::decide(
            config,
            &selection.published,
            posting.snapshot,
            now,
            posting.options,
        );
        post_notes = notes;
        let mut summaries: HashMap<String, String> = HashMap::new();
        for d in &decisions {
            let a = d.article;
            if summaries.contains_key(a.id()) {
                continue;
            }
            let first = match bodies.get(a.id()) {
                Some(r) => r.first_paragraph.clone(),
                None if a.description.is_none() && a.subtitle.is_none() => {
                    match article::read_body(a) {
                        Ok(body) => markdown::first_paragraph(&body),
                        Err(d) => {
                            problems.push(d);
                            None
                        }
                    }
                }
                None => None,
            };
            summaries.insert(a.id().to_string(), feed::summary(a, first));
        }
        let limits: HashMap<String, usize> = config
            .social
            .targets
            .iter()
            .filter_map(|t| {
                posting
                    .snapshot
                    .meta
                    .get(&deliver::mastodon_meta_key(&t.name))
                    .and_then(|v| v.parse().ok())
                    .map(|l| (t.name.clone(), l))
            })
            .collect();
        planned_posts = posts::compose(config, decisions, &summaries, posting.snapshot, &limits);
    }

    // Each shown article's entry, its rendered body moved (not copied) in,
    // built in parallel.
    let shown: std::collections::BTreeSet<usize> = specs
        .iter()
        .flat_map(|s| s.entries.iter().copied())
        .collect();
    let shown: Vec<(usize, &Article, Option<Rendered>)> = shown
        .into_iter()
        .map(|i| {
            let a = selection.published[i];
            (i, a, bodies.remove(a.id()))
        })
        .collect();
    let entries: BTreeMap<usize, Entry> = shown
        .into_par_iter()
        .map(|(i, a, rendered)| {
            let (html, first) = rendered.map_or((None, None), |r| (r.html, r.first_paragraph));
            (i, Entry::new(a, html, first))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let existing: HashSet<PathBuf> = specs
        .iter()
        .map(|s| config.feeds.dir.join(&s.path))
        .filter(|path| path.is_file())
        .collect();
    problems.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    let mut plan = plan::build(config, now, selection, specs, entries, &existing, problems);
    plan::confirm_unchanged(&mut plan, |plan, feed| {
        crate::fsio::same_as(&feed.path, |out| plan.write_feed(feed, out))
    });
    plan.posts = planned_posts;
    plan.post_notes = post_notes;
    Ok(plan)
}

fn render_body(article: &Article, full_content: bool) -> Result<Rendered, Diagnostic> {
    let body = article::read_body(article)?;
    let needs_summary = article.description.is_none() && article.subtitle.is_none();
    Ok(Rendered {
        html: full_content.then(|| markdown::render(&body, &article.permalink)),
        first_paragraph: needs_summary
            .then(|| markdown::first_paragraph(&body))
            .flatten(),
    })
}
