//! `herald check`: every problem in the config (templates, secrets) and in
//! every article (bodies included), as diagnostics placed at their line.
//! Nothing is written and nothing is sent.

use std::path::Path;

use rayon::prelude::*;

use crate::article::{self, CacheUse};
use crate::config::{self, Config};
use crate::diagnostic::Diagnostic;
use crate::social;
use crate::social::compose::Composer;

/// What `check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Article files read.
    pub files: usize,
    /// Articles without an error.
    pub articles: usize,
    /// Sorted by file, line and column.
    pub problems: Vec<Diagnostic>,
}

impl CheckReport {
    pub fn errors(&self) -> usize {
        self.problems.iter().filter(|d| d.is_error()).count()
    }
}

/// Checks the config at `path` and, if it loads, every article.
pub fn check(path: &Path) -> CheckReport {
    let mut report = CheckReport::default();
    let (config, problems) = config::load_all(path);
    for e in problems {
        report.problems.push(
            Diagnostic::error(
                &e.path,
                if e.key.is_empty() {
                    e.message.clone()
                } else {
                    format!("{}: {}", e.key, e.message)
                },
            )
            .at(e.line.unwrap_or(0), e.column.unwrap_or(0)),
        );
    }
    // What of the config is usable is checked further: its articles too.
    match config {
        None => {}
        Some(config) => {
            report.problems.extend(config_problems(&config));
            report.problems.extend(token_problems(&config));
            match article::load_with(&config, CacheUse::Read) {
                Err(e) => report.problems.push(Diagnostic::error(&e.dir, e.reason)),
                Ok(corpus) => {
                    report.files = corpus.files;
                    report.articles = corpus.articles.len();
                    report.problems.extend(corpus.diagnostics);
                    for a in &corpus.articles {
                        for message in crate::publish::posts::social_problems(&config, a) {
                            report.problems.push(Diagnostic::error(&a.source, message));
                        }
                    }
                    // Every body is read, so a bad byte anywhere is found
                    // now rather than when the article reaches a feed.
                    let ctx = article::ParseContext::of(&config);
                    let read: Vec<_> = corpus
                        .articles
                        .par_iter()
                        .map(|a| {
                            let read = a
                                .details(&ctx)
                                .and_then(|d| Ok((article::read_body(a)?, d, a.url()?)));
                            (a, read)
                        })
                        .collect();
                    let mut drafts = Vec::with_capacity(read.len());
                    for (a, read) in read {
                        match read {
                            Ok((_, details, url)) => {
                                let summary = details.summary(&a.title);
                                drafts.push((
                                    a,
                                    crate::publish::draft(a, url, &details, summary, &config.site),
                                ));
                            }
                            Err(d) => {
                                report.articles -= 1;
                                report.problems.push(d);
                            }
                        }
                    }
                    report.problems.extend(template_problems(&config, &drafts));
                }
            }
        }
    }
    report
        .problems
        .sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    report
}

/// Renders every template the targets use on every article, so a template
/// that fails on some article (an attribute it lacks, a filter given the
/// wrong kind of value) is found now, not by a post. One problem per
/// template, naming the first article it fails on.
fn template_problems(
    config: &Config,
    drafts: &[(&crate::article::Article, social::Draft)],
) -> Vec<Diagnostic> {
    let mut sources: Vec<(String, &str)> = Vec::new();
    if let Some(t) = &config.social.template
        && config
            .social
            .targets
            .iter()
            .any(|target| target.enabled && target.template.is_none())
    {
        sources.push(("social.template".to_string(), t));
    }
    for target in config.social.targets.iter().filter(|t| t.enabled) {
        if let Some(t) = &target.template {
            sources.push((target.key("template"), t));
        }
    }
    let mut out = Vec::new();
    for (key, source) in sources {
        // A template that does not compile is reported by `config_problems`.
        let Ok(composer) = Composer::new(Some(source)) else {
            continue;
        };
        let failed = drafts
            .par_iter()
            .find_map_first(|(a, d)| composer.try_render(&d.fields).err().map(|e| (a, e)));
        if let Some((a, e)) = failed {
            let (line, column) = config.locate(&key).unwrap_or((0, 0));
            out.push(
                Diagnostic::error(
                    &config.file,
                    format!(
                        "{key}: {e} (rendering the post of {})",
                        crate::paths::display(&a.source)
                    ),
                )
                .at(line, column),
            );
        }
    }
    out
}

/// Tokens kept in the ledger that end within 14 days, or that a target
/// still waits for: warnings at the target, read from the ledger without
/// changing it; and a ledger that cannot be read, as an error.
fn token_problems(config: &Config) -> Vec<Diagnostic> {
    let mut problems = Vec::new();
    let read = crate::ledger::Ledger::open_read_only_at(&config.state.location())
        .and_then(|l| l.map(|l| l.snapshot()).transpose());
    let snapshot = match read {
        Ok(snapshot) => snapshot.unwrap_or_default(),
        // A ledger a run could not use (a database out of reach, a file
        // from a newer herald) stops every posting run: said here first.
        Err(e) => {
            let key = if config.state.url.is_some() {
                "state.url"
            } else {
                "state.path"
            };
            let (line, column) = config.locate(key).unwrap_or((0, 0));
            problems.push(Diagnostic::error(&config.file, e.to_string()).at(line, column));
            Default::default()
        }
    };
    problems.extend(
        crate::auth::expiry_warnings(config, &snapshot, chrono::Utc::now())
            .into_iter()
            .map(|(name, message)| {
                let key = config
                    .social
                    .targets
                    .iter()
                    .find(|t| t.name == name)
                    .map(|t| t.key("type"))
                    .unwrap_or_default();
                let (line, column) = config.locate(&key).unwrap_or((0, 0));
                Diagnostic::warning(&config.file, message).at(line, column)
            }),
    );
    problems
}

/// Problems in a loaded config that only show when posting: templates that
/// do not compile, and secrets that cannot make a request. A secret whose
/// variable is not set is a warning (`check` may run where the production
/// environment is not); one that is set to something unusable is an error.
pub fn config_problems(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let place = |d: Diagnostic, key: &str| {
        let (line, column) = config.locate(key).unwrap_or((0, 0));
        d.at(line, column)
    };
    let mut template = |key: String, source: &str| {
        if let Err(e) = Composer::new(Some(source)) {
            out.push(place(
                Diagnostic::error(&config.file, format!("{key}: {e}")),
                &key,
            ));
        }
    };
    if let Some(t) = &config.social.template {
        template("social.template".to_string(), t);
    }
    for target in &config.social.targets {
        if let Some(t) = &target.template {
            template(target.key("template"), t);
        }
    }
    for target in config.social.targets.iter().filter(|t| t.enabled) {
        for problem in social::secret_problems(target.platform.as_ref()) {
            let key = target.key(&problem.key);
            let top = target.key(problem.key.split('.').next().unwrap_or_default());
            let d = if problem.missing {
                Diagnostic::warning(
                    &config.file,
                    format!(
                        "{key}: {}; posts to {:?} will fail until it is",
                        problem.message, target.name
                    ),
                )
            } else {
                Diagnostic::error(
                    &config.file,
                    format!(
                        "{key}: {}; posts to {:?} would fail",
                        problem.message, target.name
                    ),
                )
            };
            out.push(place(d, &top));
        }
    }
    out
}
