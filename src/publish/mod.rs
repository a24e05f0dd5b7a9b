//! A run: `prepare` gathers what the plan needs (front matter, the bodies of
//! the articles a feed shows, the current feed files) and calls the pure
//! `plan`; `execute` carries a plan out. `--dry-run` stops after `prepare`.

pub mod execute;
pub mod plan;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::article::{self, Article, LoadError, markdown};
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

/// Loads the articles and decides the run at `now`.
pub fn prepare(config: &Config, now: DateTime<Utc>) -> Result<Plan, LoadError> {
    let corpus = article::load(config)?;
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
    let mut entries = HashMap::new();
    for spec in &specs {
        for &i in &spec.entries {
            entries.entry(i).or_insert_with(|| {
                let a = selection.published[i];
                let r = bodies.remove(a.id());
                let (html, first) = r.map_or((None, None), |r| (r.html, r.first_paragraph));
                Entry::new(a, html, first)
            });
        }
    }
    let existing: HashMap<PathBuf, Vec<u8>> = specs
        .iter()
        .filter_map(|s| {
            let path = config.feeds.dir.join(&s.path);
            std::fs::read(&path).ok().map(|b| (path, b))
        })
        .collect();
    problems.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    Ok(plan::build(
        config, now, selection, specs, &entries, &existing, problems,
    ))
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
