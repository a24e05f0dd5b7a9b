//! A run, from the config to its report: `run` loads the articles (and the
//! details of those a feed shows), reads the ledger, decides the posts
//! (`posts`), asks the targets what the plan needs to know (an instance's
//! limit) where the ledger does not already say, builds the `Plan`
//! (`plan`), and, unless it is a dry run, carries it out: feeds (`execute`)
//! and posts (`deliver`). The binary only renders the report.

pub mod deliver;
pub mod execute;
pub mod plan;
pub mod posts;
pub mod preview;
pub mod syndication;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rayon::prelude::*;

use crate::article::{self, Article, CacheUse, Details, LoadError, ParseContext, markdown};
use crate::clock::Clock;
use crate::config::{Config, Site};
use crate::diagnostic::Diagnostic;
use crate::feed::{self, Entry};
use crate::ledger::{Ledger, LedgerError, Place, Snapshot};
use crate::lock::{self, LockError};
use crate::social::compose::PostFields;
use crate::social::driver::Stop;
use crate::social::http::Slots;
use crate::social::image::{ImageFetcher, Images};
use crate::social::socket::{Sockets, WsSockets};
use crate::social::transport::{HttpTransport, Transport};
use crate::social::{self, Draft, Learned};

pub use deliver::PostResult;
pub use execute::{Outcome, execute};
pub use plan::{FeedStatus, Plan};
pub use posts::PostOptions;

/// What kind of run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `herald feeds`: write the feeds, post nothing.
    Feeds,
    /// `herald publish`: write the feeds and post.
    Publish,
    /// `herald publish --dry-run`: decide everything, write and send nothing.
    DryRun,
}

/// What the caller asks of a run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub mode: Mode,
    /// Pretend the clock says this (`--now`); else the system clock.
    pub now: Option<DateTime<Utc>>,
    pub options: PostOptions,
    /// Also write the preview page here.
    pub preview: Option<PathBuf>,
    /// Wait this long for another run's lock instead of giving up.
    pub wait: Option<Duration>,
}

/// Told of the posting as it goes, for a progress bar.
pub trait Progress: Send + Sync {
    fn start(&self, posts: usize);
    fn done(&self, result: &PostResult);
    fn finish(&self);
}

/// The network and the signals a run uses: the real ones, or stand-ins.
pub struct Services {
    pub transport: Arc<dyn Transport>,
    /// WebSocket exchanges (for platforms that post over WebSockets).
    pub sockets: Arc<dyn Sockets>,
    pub images: Arc<dyn Images>,
    pub stop: Arc<Stop>,
    pub progress: Option<Arc<dyn Progress>>,
}

impl Services {
    /// The real network (rustls), and image fetches guarded against
    /// private addresses unless the config allows them.
    pub fn network(config: &Config) -> Result<Services, RunError> {
        let setup = |e: reqwest::Error| RunError::Setup(e.to_string());
        Ok(Services {
            transport: Arc::new(HttpTransport::new().map_err(setup)?),
            sockets: Arc::new(WsSockets),
            images: Arc::new(
                ImageFetcher::new(config.social.allow_private_network, Duration::from_secs(30))
                    .map_err(setup)?,
            ),
            stop: Arc::new(Stop::default()),
            progress: None,
        })
    }
}

/// What a run decided and did.
#[derive(Debug)]
pub struct RunReport {
    pub plan: Plan,
    pub dry_run: bool,
    /// The feeds written (none in a dry run).
    pub outcome: Option<Outcome>,
    pub results: Vec<PostResult>,
    /// Things the owner should know that stopped nothing.
    pub warnings: Vec<String>,
    /// A stop was requested while posting.
    pub stopped: bool,
}

impl RunReport {
    /// When the first post that waits for a time (`delay`, `windows`)
    /// becomes due: `herald run` wakes then, whatever its schedule says.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.plan
            .posts
            .iter()
            .filter_map(|p| p.action.due_at())
            .filter(|at| *at < DateTime::<Utc>::MAX_UTC)
            .min()
    }

    /// A feed file could not be written.
    pub fn feeds_failed(&self) -> bool {
        self.outcome.as_ref().is_some_and(Outcome::failed)
    }

    /// A post failed or may have been made twice over.
    pub fn posts_failed(&self) -> bool {
        self.results.iter().any(|r| {
            matches!(
                r.status,
                crate::ledger::Status::Failed | crate::ledger::Status::Uncertain
            )
        })
    }
}

/// Why a run did not happen (or stopped before posting).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("--target {name:?} is not a target in the config (targets: {known})")]
    UnknownTarget { name: String, known: String },
    #[error("--article {name:?} is no article's slug or permalink{suggestion}")]
    UnknownArticle { name: String, suggestion: String },
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("cannot write the preview {}: {message}", crate::paths::display(.path))]
    Preview { path: PathBuf, message: String },
    #[error("cannot set up the network client: {0}")]
    Setup(String),
    #[error(
        "{place}: the ledger {} no posts, but earlier runs left traces: {}. Starting afresh would post every article within max_age again. Restore the ledger from a backup, or adopt what is published as it is with `herald publish --mark-seen` (it records every due post as handled and sends nothing)",
        match .place { Place::File(p) if !p.exists() => "is missing, so it holds", _ => "holds" },
        .found.join("; ")
    )]
    LostLedger { place: Place, found: Vec<String> },
}

/// The articles, and the details of those a feed shows.
struct Loaded {
    articles: Vec<Article>,
    shown: HashMap<String, Arc<Details>>,
    problems: Vec<Diagnostic>,
    /// Feed files the memo proves unchanged: their articles were not read.
    proven: HashSet<PathBuf>,
    /// Each feed file's fingerprint, where every entry's file is trusted.
    fingerprints: HashMap<PathBuf, String>,
}

/// Runs one `herald feeds`, `publish` or `publish --dry-run`.
pub async fn run(
    config: Arc<Config>,
    request: RunRequest,
    services: &Services,
) -> Result<RunReport, RunError> {
    for name in &request.options.targets {
        if !config.social.targets.iter().any(|t| &t.name == name) {
            let names: Vec<&str> = config
                .social
                .targets
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            return Err(RunError::UnknownTarget {
                name: name.clone(),
                known: if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
            });
        }
    }
    let clock = Clock::starting_at(request.now.unwrap_or_else(Utc::now));
    let now = clock.now();
    let dry_run = request.mode == Mode::DryRun;
    let posting = request.mode != Mode::Feeds && config.social.targets.iter().any(|t| t.enabled);

    let mut warnings = Vec::new();
    let (_lock, ledger, mut snapshot) = if posting {
        open_ledger(&config, &request, &mut warnings)?
    } else {
        (None, None, Snapshot::default())
    };
    let run_id = ledger.as_ref().map(|l| l.start_run(now)).transpose()?;
    // Tokens live on the real clock, whatever `--now` says.
    let token_now = Utc::now();
    if posting {
        warnings.extend(
            crate::auth::expiry_warnings(&config, &snapshot, token_now)
                .into_iter()
                .map(|(_, w)| w),
        );
    }

    // A dry run reads the front-matter cache but creates nothing under the
    // state path.
    let cache = if dry_run {
        CacheUse::Read
    } else {
        CacheUse::ReadWrite
    };
    let Loaded {
        articles,
        mut shown,
        mut problems,
        proven,
        fingerprints: feed_fingerprints,
    } = load(&config, now, cache, std::time::SystemTime::now())?;
    // An --article that names nothing is a mistake, not "nothing due".
    for name in &request.options.articles {
        let known = articles
            .iter()
            .any(|a| a.slug == *name || a.id() == name.as_str());
        if !known {
            let nearest = articles
                .iter()
                .map(|a| (strsim::damerau_levenshtein(&a.slug, name), &a.slug))
                .min()
                .filter(|(distance, _)| *distance <= 3)
                .map(|(_, slug)| format!(" (did you mean {slug:?}?)"))
                .unwrap_or_default();
            return Err(RunError::UnknownArticle {
                name: name.clone(),
                suggestion: nearest,
            });
        }
    }
    let selection = plan::select(&articles, now);
    let specs = feed::plan_feeds(&config, &selection.published);

    let mut planned_posts = Vec::new();
    let mut post_notes = Vec::new();
    let mut learned = snapshot.learned.clone();
    let mut pending_learning = Vec::new();
    if posting {
        follow_moves(
            &articles,
            &selection.published,
            &mut snapshot,
            ledger.as_ref(),
            &mut warnings,
        )?;
        let options = &request.options;
        // Counted apart from unreadable files (which stop deletions).
        let mut social_problems = Vec::new();
        for a in &selection.published {
            for message in posts::social_problems(&config, a) {
                social_problems.push(crate::diagnostic::Diagnostic::error(
                    &a.source,
                    format!("{message}; the article is not posted until this is fixed"),
                ));
            }
        }
        let candidates =
            posts::edit_candidates(&config, &selection.published, &snapshot, now, options);
        let whole = config
            .social
            .targets
            .iter()
            .any(|t| t.enabled && t.platform.capabilities(&Learned::default()).full_article);
        let mut drafts = drafts(&config, &candidates, &shown, whole, &mut problems);
        let fingerprints: HashMap<String, String> = drafts
            .iter()
            .map(|(id, d)| (id.clone(), d.fingerprint()))
            .collect();
        let posts::Decided {
            decisions,
            notes,
            warnings: decided_warnings,
        } = posts::decide(
            &config,
            &selection.published,
            &snapshot,
            now,
            options,
            &fingerprints,
        );
        post_notes = notes;
        warnings.extend(decided_warnings);
        let decided: Vec<&Article> = decisions
            .iter()
            .map(|d| d.article)
            .filter(|a| !drafts.contains_key(a.id()))
            .collect();
        drafts.extend(self::drafts(
            &config,
            &decided,
            &shown,
            whole,
            &mut problems,
        ));
        let sending: Vec<&crate::config::Target> = config
            .social
            .targets
            .iter()
            .filter(|t| {
                decisions
                    .iter()
                    .any(|d| d.target.name == t.name && d.action.sends())
            })
            .collect();
        match &ledger {
            Some(ledger) => {
                warnings.extend(learn(&sending, &mut learned, &clock, services, ledger).await?);
            }
            // A dry run asks nothing: it says what a real run would ask.
            None => pending_learning = questions(&sending, &learned, now),
        }
        planned_posts = posts::compose(&config, decisions, &drafts, &snapshot, &learned, now);
        // Files whose article could not be read (an error names them).
        let unreadable = problems
            .iter()
            .filter(|d| d.is_error())
            .map(|d| &d.path)
            .collect::<HashSet<_>>()
            .len();
        let (deletions, notes, deletion_warnings) = posts::deletions(
            &config,
            &selection.published,
            articles.len(),
            unreadable,
            &snapshot,
            options,
        );
        planned_posts.extend(deletions);
        post_notes.extend(notes);
        warnings.extend(deletion_warnings);
        problems.extend(social_problems);
    }

    // The entry of each article a feed the memo does not prove unchanged
    // shows (a proven feed is neither rendered nor compared), built in
    // parallel.
    let listed = plan::shown_indices(
        specs
            .iter()
            .filter(|s| !proven.contains(&config.feeds.dir.join(&s.path))),
        selection.published.len(),
    );
    let listed: Vec<(usize, &Article, Option<Arc<Details>>)> = listed
        .into_iter()
        .map(|i| {
            let a = selection.published[i];
            (i, a, shown.remove(a.id()))
        })
        .collect();
    // `load` read each of them moments ago; reading again is for a run
    // that finds one missing all the same, and its failure is reported.
    let ctx = ParseContext::of(&config);
    let built: Vec<(usize, Result<Entry, Diagnostic>)> = listed
        .into_par_iter()
        .map(|(i, a, details)| {
            let details = details.map_or_else(|| shown_details(a, &ctx), Ok);
            (i, details.map(|details| Entry::new(a, details, None)))
        })
        .collect();
    let mut entries: Vec<(usize, Entry)> = Vec::with_capacity(built.len());
    for (i, entry) in built {
        match entry {
            Ok(entry) => entries.push((i, entry)),
            Err(d) => problems.push(d),
        }
    }
    let existing: HashSet<PathBuf> = specs
        .iter()
        .map(|s| config.feeds.dir.join(&s.path))
        .filter(|path| path.is_file())
        .collect();
    problems.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
    let mut plan = plan::build(&config, now, selection, specs, entries, &existing, problems);
    for feed in &mut plan.feeds {
        feed.proven = proven.contains(&feed.path);
    }
    plan::confirm_unchanged(&mut plan, |plan, feed| {
        crate::fsio::same_as(&feed.path, |out| plan.write_feed(feed, out))
    });
    plan.posts = planned_posts;
    plan.post_notes = post_notes;
    // Kept tokens due for renewal on targets that post nothing this run
    // (a target that posts renews its token as its first step).
    let renewals: Vec<&crate::config::Target> = if posting {
        crate::auth::renewals_due(&config, &snapshot, token_now)
            .into_iter()
            .filter(|(t, _)| {
                !plan
                    .posts
                    .iter()
                    .any(|p| p.target == t.name && p.action.sends())
            })
            .map(|(t, ends)| {
                plan.post_notes.push(format!(
                    "{}: its token ends {}; {}",
                    t.name,
                    ends.format("%Y-%m-%d %H:%M UTC"),
                    if dry_run {
                        "a real run now renews it"
                    } else {
                        "this run renews it"
                    }
                ));
                t
            })
            .collect()
    } else {
        Vec::new()
    };
    plan.learning = pending_learning;

    if let Some(path) = &request.preview {
        crate::fsio::write_atomic(path, preview::html(&plan, &config).as_bytes()).map_err(|e| {
            RunError::Preview {
                path: path.clone(),
                message: e.to_string(),
            }
        })?;
    }
    if dry_run {
        return Ok(RunReport {
            plan,
            dry_run,
            outcome: None,
            results: Vec::new(),
            warnings,
            stopped: false,
        });
    }

    let outcome = execute(&plan, &config.feeds.websub_hubs).await;
    // What the feeds now hold, for the next run to prove them unchanged
    // without rendering; kept only when a feed was not already proven.
    if let Some(memo) = config
        .state
        .memo_file()
        .filter(|_| cache == CacheUse::ReadWrite)
        && plan.feeds.iter().any(|f| !f.proven)
    {
        let failed: HashSet<&PathBuf> = outcome.failed_paths().collect();
        let remembered: Vec<(PathBuf, String)> = plan
            .feeds
            .iter()
            .filter(|f| !failed.contains(&f.path))
            .filter_map(|f| Some((f.path.clone(), feed_fingerprints.get(&f.path)?.clone())))
            .collect();
        if !remembered.is_empty()
            && let Err(e) = feed::memo::Memo::write(&memo, &remembered)
        {
            warnings.push(format!(
                "cannot write the feed memo {} (the next run renders every feed to compare it): {e}",
                crate::paths::display(&memo)
            ));
        }
    }
    let ledger = ledger.map(|l| Arc::new(Mutex::new(l)));
    let mut results = Vec::new();
    if let Some(ledger) = &ledger
        && (!plan.posts.is_empty() || !renewals.is_empty())
    {
        if let Some(p) = &services.progress {
            p.start(plan.posts.len());
        }
        let progress = services.progress.clone();
        let deliverer = Arc::new(deliver::Deliverer {
            transport: services.transport.clone(),
            sockets: services.sockets.clone(),
            images: services.images.clone(),
            ledger: ledger.clone(),
            config: config.clone(),
            learned: learned.clone(),
            stop: services.stop.clone(),
            on_done: Arc::new(move |r: &PostResult| {
                if let Some(p) = &progress {
                    p.done(r);
                }
            }),
            clock,
            seen: snapshot
                .records
                .iter()
                .map(|(key, r)| (key.clone(), r.revision))
                .collect(),
            run_started: now,
            shared: snapshot.shared,
        });
        warnings.extend(deliverer.renew_tokens(&renewals).await?);
        let delivered = deliverer.deliver_all(plan.posts.clone()).await;
        if let Some(p) = &services.progress {
            p.finish();
        }
        results = delivered?;
    }
    // syndication.json and the run's record, from the ledger as it now stands.
    if let Some(ledger) = &ledger {
        let ledger = ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Ok(records) = ledger.records() {
            let bytes = syndication::syndication_json(&records, &config);
            let path = config.feeds.dir.join("syndication.json");
            if let Err(e) = crate::fsio::write_if_changed(&path, bytes.as_bytes()) {
                warnings.push(format!(
                    "cannot write {}: {e}",
                    crate::paths::display(&path)
                ));
            }
            let slugs: HashMap<&str, &str> =
                articles.iter().map(|a| (a.id(), a.slug.as_str())).collect();
            for (path, text) in syndication::data_files(&records, &config, &slugs) {
                let written = path
                    .parent()
                    .map_or(Ok(()), std::fs::create_dir_all)
                    .and_then(|()| crate::fsio::write_if_changed(&path, text.as_bytes()).map(drop));
                if let Err(e) = written {
                    warnings.push(format!(
                        "cannot write {}: {e}",
                        crate::paths::display(&path)
                    ));
                }
            }
        }
        if let Some(id) = run_id {
            let summary = deliver::summary(&results);
            let _ = ledger.finish_run(id, clock.now(), &summary);
        }
    }
    // Every article is done with. Freeing a large archive allocation by
    // allocation takes a while (5 ms of a first run at 10,000 articles,
    // 20–35 ms of any run at 100,000): on a thread of its own, the report
    // does not wait for it, and a process that ends with this run does not
    // wait at all. (Where no thread can be started, the failed start
    // frees them here.)
    let _ = std::thread::Builder::new()
        .name("herald-free".into())
        .spawn(move || drop(articles));
    Ok(RunReport {
        plan,
        dry_run,
        outcome: Some(outcome),
        results,
        warnings,
        stopped: services.stop.is_requested(),
    })
}

/// Articles whose id changed while their title and publish time did not
/// are the same articles moved: their records follow them (in the ledger
/// too, in a real run), with a warning each. Rows that do not carry their
/// article's title and publish time yet (or carry old ones) learn them, so
/// that a later move is recognised.
fn follow_moves(
    articles: &[Article],
    published: &[&Article],
    snapshot: &mut Snapshot,
    ledger: Option<&Ledger>,
    warnings: &mut Vec<String>,
) -> Result<(), LedgerError> {
    for m in posts::moves(articles, published, snapshot) {
        warnings.push(format!(
            "{}: moved from {} to {}; its posts follow it and it is not posted again{}",
            crate::paths::display(&m.source),
            m.from,
            m.to,
            if ledger.is_some() {
                ""
            } else {
                " (a real run records the move)"
            }
        ));
        if let Some(l) = ledger {
            l.move_article(&m.from, &m.to)?;
        }
        snapshot.move_article(&m.from, &m.to);
    }
    let Some(l) = ledger else {
        return Ok(());
    };
    let by_id: HashMap<&str, &Article> = published.iter().map(|a| (a.id(), *a)).collect();
    let mut stale: Vec<&Article> = snapshot
        .records
        .values()
        .filter_map(|r| {
            let a = by_id.get(r.article_id.as_str())?;
            let published = a.published.to_rfc3339();
            (r.title.as_deref() != Some(a.title.as_str())
                || r.published_at.as_deref() != Some(published.as_str()))
            .then_some(*a)
        })
        .collect();
    stale.sort_by_key(|a| a.id());
    stale.dedup_by_key(|a| a.id());
    for a in stale {
        l.describe(a.id(), &a.title, &a.published.to_rfc3339())?;
    }
    Ok(())
}

/// What a real run would first ask the targets that post (a dry run asks
/// nothing).
fn questions(
    targets: &[&crate::config::Target],
    learned: &HashMap<String, Learned>,
    now: DateTime<Utc>,
) -> Vec<plan::PlannedLearning> {
    targets
        .iter()
        .filter_map(|t| {
            let known = learned.get(&t.name).cloned().unwrap_or_default();
            t.platform
                .learn(&known, now)
                .map(|q| plan::PlannedLearning {
                    target: t.name.clone(),
                    what: q.what,
                    request: q.request.preview(),
                })
        })
        .collect()
}

/// Opens the ledger for a posting run: read without touching the file in a
/// dry run; under the run lock otherwise. Refuses a ledger of another site,
/// and a missing or empty ledger where earlier runs left traces (starting
/// afresh would post every article within `max_age` again), unless the run
/// adopts the archive (`--mark-seen`); a dry run only warns.
fn open_ledger(
    config: &Config,
    request: &RunRequest,
    warnings: &mut Vec<String>,
) -> Result<(Option<lock::RunLock>, Option<Ledger>, Snapshot), RunError> {
    let path = &config.state.path;
    let location = config.state.location();
    let shared = config.state.url.is_some();
    let place = match &location {
        crate::ledger::Location::File(p) => Place::File(p.clone()),
        crate::ledger::Location::Database(u) => Place::Database(u.url.redacted()),
    };
    let site = config.site.url.as_str();
    // A shared ledger has no lock file: the traces are in the feeds.
    let ledger_existed = shared || path.exists();
    let lock_existed = !shared && lock::lock_path(path).exists();
    if request.mode == Mode::DryRun {
        let snapshot = match Ledger::open_read_only_at(&location)? {
            Some(l) => l.snapshot()?,
            None => Snapshot {
                shared,
                ..Snapshot::default()
            },
        };
        if let Some(owner) = snapshot.meta.get("site.url").filter(|o| o.as_str() != site) {
            return Err(RunError::Ledger(LedgerError::OtherSite {
                place,
                owner: owner.clone(),
                site: site.to_string(),
            }));
        }
        if !request.options.mark_seen
            && let Some(found) = traces(config, ledger_existed, lock_existed, &snapshot)
        {
            warnings.push(format!(
                "a real run would refuse to start: {}",
                RunError::LostLedger {
                    place: place.clone(),
                    found
                }
            ));
        }
        return Ok((None, None, snapshot));
    }
    // Hosts sharing a ledger claim posts one by one instead.
    let held = if shared {
        None
    } else {
        Some(lock::acquire(path, request.wait)?)
    };
    let ledger = Ledger::open_at(&location)?;
    let snapshot = ledger.snapshot()?;
    if !request.options.mark_seen
        && let Some(found) = traces(config, ledger_existed, lock_existed, &snapshot)
    {
        return Err(RunError::LostLedger { place, found });
    }
    ledger.claim_site(site)?;
    Ok((held, Some(ledger), snapshot))
}

/// What shows that posting runs happened before, when the ledger holds no
/// post: `syndication.json` listing posts, or (with no ledger file) the
/// lock file such runs leave. The front-matter cache is named beside them,
/// but is no trace alone (`herald feeds` writes it too).
fn traces(
    config: &Config,
    ledger_existed: bool,
    lock_existed: bool,
    snapshot: &Snapshot,
) -> Option<Vec<String>> {
    if !snapshot.records.is_empty() {
        return None;
    }
    let mut found = Vec::new();
    let syndication = config.feeds.dir.join("syndication.json");
    if let Ok(text) = std::fs::read_to_string(&syndication)
        && let Ok(serde_json::Value::Object(articles)) = serde_json::from_str(&text)
        && !articles.is_empty()
    {
        found.push(format!(
            "{} lists posts of {} {}",
            crate::paths::display(&syndication),
            articles.len(),
            if articles.len() == 1 {
                "article"
            } else {
                "articles"
            }
        ));
    }
    if !ledger_existed && lock_existed {
        found.push(format!(
            "the lock file {} that posting runs leave",
            crate::paths::display(&lock::lock_path(&config.state.path))
        ));
    }
    if found.is_empty() {
        return None;
    }
    if let Some(cache) = config.state.cache_file().filter(|c| c.exists()) {
        found.push(format!(
            "the front-matter cache {}",
            crate::paths::display(&cache)
        ));
    }
    Some(found)
}

/// Asks each target that will post what the plan needs to know and the
/// ledger does not say (or says from too long ago), keeping each answer in
/// the ledger. A question that fails is a warning: the last known value,
/// else the platform's default, is used.
async fn learn(
    targets: &[&crate::config::Target],
    learned: &mut HashMap<String, Learned>,
    clock: &Clock,
    services: &Services,
    ledger: &Ledger,
) -> Result<Vec<String>, LedgerError> {
    let mut warnings = Vec::new();
    for target in targets {
        let known = learned.entry(target.name.clone()).or_default();
        let Some(question) = target.platform.learn(known, clock.now()) else {
            continue;
        };
        let ask = |request: &social::http::Request| {
            let outgoing = request.resolve(&Slots::new(), None, clock.now());
            async move {
                let response = services
                    .transport
                    .send(outgoing?, target.timeout.std())
                    .await?;
                (question.read)(&response, clock.now())
            }
        };
        let mut answer = ask(&question.request).await;
        // A server without this address may have an older one.
        if let (Err(social::http::DeliveryError::Permanent { .. }), Some(otherwise)) =
            (&answer, &question.otherwise)
        {
            answer = ask(otherwise).await;
        }
        match answer {
            Ok(values) => {
                for (key, value) in values {
                    ledger.set_learned(&target.name, &key, Some(&value), clock.now())?;
                    known.set(&key, value, clock.now());
                }
            }
            Err(e) => {
                let secrets = social::secret_values(target.platform.as_ref());
                warnings.push(format!(
                    "{}: could not ask for {} ({}); the last known value, else the platform's default, is used",
                    target.name,
                    question.what,
                    social::scrub(&e.to_string(), &secrets)
                ));
            }
        }
    }
    Ok(warnings)
}

/// Loads the articles (at `files_now` on the file system's clock, which
/// decides which files changed too recently to be trusted) and the details
/// of the articles the feeds show, but for feeds the memo proves unchanged.
fn load(
    config: &Config,
    now: DateTime<Utc>,
    cache: CacheUse,
    files_now: std::time::SystemTime,
) -> Result<Loaded, LoadError> {
    let corpus = article::load_at(config, cache, files_now)?;
    let ctx = ParseContext::of(config);
    let mut problems = corpus.diagnostics;
    let mut articles = corpus.articles;
    let memo = config
        .state
        .memo_file()
        .filter(|_| cache != CacheUse::Off)
        .map(|path| feed::memo::Memo::read(&path))
        .unwrap_or_default();
    let mut shown_details: HashMap<String, Arc<Details>> = HashMap::new();
    // A body that cannot be read leaves its article out, which can bring an
    // older article into a feed: repeat until every shown article has its
    // body.
    loop {
        let selection = plan::select(&articles, now);
        let specs = feed::plan_feeds(config, &selection.published);
        // Feeds the memo proves unchanged need no body at all.
        let mut proven = HashSet::new();
        let mut fingerprints = HashMap::new();
        let shown = plan::shown_marks(specs.iter(), selection.published.len());
        let digests = feed::memo::article_digests(&selection.published, &shown);
        for spec in &specs {
            let path = config.feeds.dir.join(&spec.path);
            if let Some(fingerprint) = feed::memo::fingerprint(config, spec, &digests) {
                if memo.proves(&path, &fingerprint) {
                    proven.insert(path.clone());
                }
                fingerprints.insert(path, fingerprint);
            }
        }
        let needed: HashSet<usize> = specs
            .iter()
            .filter(|s| !proven.contains(&config.feeds.dir.join(&s.path)))
            .flat_map(|s| s.entries.iter().copied())
            .collect();
        let to_read: Vec<&Article> = needed
            .iter()
            .map(|&i| selection.published[i])
            .filter(|a| !shown_details.contains_key(a.id()))
            .collect();
        let results: Vec<(String, Result<Arc<Details>, Diagnostic>)> = to_read
            .par_iter()
            .map(|a| (a.id().to_string(), self::shown_details(a, &ctx)))
            .collect();
        let mut failed = HashSet::new();
        for (id, result) in results {
            match result {
                Ok(details) => {
                    shown_details.insert(id, details);
                }
                Err(d) => {
                    problems.push(d);
                    failed.insert(id);
                }
            }
        }
        if failed.is_empty() {
            return Ok(Loaded {
                articles,
                shown: shown_details,
                problems,
                proven,
                fingerprints,
            });
        }
        articles.retain(|a| !failed.contains(a.id()));
    }
}

/// What the feeds show of an article: its details, once its body is known
/// to be readable (else the article is left out, before any feed is
/// written). Its HTML is made later, as its item is written
/// (`plan::Bodies`), so the archive's HTML is never all held.
///
/// A file parsed by this run was read whole moments ago (and its text may
/// be kept, `load::HELD_TEXT_BUDGET`). One the cache
/// answered for was read whole, as valid UTF-8, when it was parsed, and is
/// unchanged since (the cache trusts its size, times and inode): opening
/// it proves it still readable without reading it.
fn shown_details(article: &Article, ctx: &ParseContext<'_>) -> Result<Arc<Details>, Diagnostic> {
    if article.held_details().is_none() {
        article::load::check_readable(article)?;
    }
    article.details(ctx)
}

/// What composing a post of each article needs: its details (those the
/// feeds show already in hand) and the facts a post shows.
fn drafts(
    config: &Config,
    articles: &[&Article],
    shown: &HashMap<String, Arc<Details>>,
    whole: bool,
    problems: &mut Vec<Diagnostic>,
) -> HashMap<String, Draft> {
    let ctx = ParseContext::of(config);
    let mut out = HashMap::new();
    for a in articles {
        if out.contains_key(a.id()) {
            continue;
        }
        let read = shown
            .get(a.id())
            .map_or_else(|| a.details(&ctx), |details| Ok(details.clone()))
            .and_then(|details| Ok((details, a.url()?)));
        let (details, url) = match read {
            Ok(read) => read,
            Err(d) => {
                problems.push(d);
                continue;
            }
        };
        let mut d = draft(a, url, &details, details.summary(&a.title), &config.site);
        if whole {
            match article::read_body(a) {
                Ok(body) => {
                    d.markdown = Some(markdown::absolute_links(&body, &d.url).into());
                }
                Err(e) => problems.push(e),
            }
        }
        out.insert(a.id().to_string(), d);
    }
    out
}

/// The draft of a post of `article`.
pub fn draft(
    article: &Article,
    url: url::Url,
    details: &Details,
    summary: &str,
    site: &Site,
) -> Draft {
    let alt = details.alt_text(&article.title);
    Draft {
        article_id: article.id().to_string(),
        slug: article.slug.clone(),
        own_words: article.social().own_words(),
        url,
        markdown: None,
        published: article.published,
        image: details.hero_image.clone(),
        image_alt: alt.to_string(),
        language: site.language.clone(),
        fields: PostFields {
            title: article.title.clone(),
            subtitle: details.subtitle.clone(),
            summary: summary.to_string(),
            cta: details.cta.clone(),
            url: article.permalink.to_string(),
            author: details.author.clone(),
            tags: article.tags.iter().map(ToString::to_string).collect(),
            hero_image: details.hero_image.as_ref().map(url::Url::to_string),
            hero_alt: alt.to_string(),
            read_time: details.read_time.clone(),
            published: article.published.to_rfc3339(),
            site: site.title.clone(),
            hashtags: String::new(),
            hashtag_words: Vec::new(),
        },
    }
}

#[cfg(test)]
mod memo_tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn later() -> SystemTime {
        SystemTime::now() + Duration::from_secs(60)
    }

    fn setup() -> (tempfile::TempDir, Config) {
        let dir = tempfile::tempdir().unwrap();
        let content = dir.path().join("content");
        std::fs::create_dir_all(&content).unwrap();
        for slug in ["a", "b"] {
            std::fs::write(
                content.join(format!("{slug}.md")),
                format!("---\ntitle: {slug}\npublish_date: 2024-02-10\n---\n\nBody of {slug}.\n"),
            )
            .unwrap();
        }
        let config = crate::config::parse(
            &dir.path().join("herald.yaml"),
            "site: {title: T, url: 'https://example.com/'}\ncontent: {dir: content}\nfeeds: {dir: public}\nstate: {path: state/herald.db}\n",
            &|_| None,
        )
        .unwrap();
        (dir, config)
    }

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-03-01T00:00:00Z")
            .unwrap()
            .to_utc()
    }

    /// Writes a stand-in for each feed and remembers it, as a run does.
    fn remember(config: &Config, loaded: &Loaded) {
        for path in loaded.fingerprints.keys() {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"feed").unwrap();
        }
        let feeds: Vec<(PathBuf, String)> = loaded
            .fingerprints
            .iter()
            .map(|(p, f)| (p.clone(), f.clone()))
            .collect();
        feed::memo::Memo::write(&config.state.memo_file().unwrap(), &feeds).unwrap();
    }

    #[test]
    fn an_unchanged_archive_reads_no_body_and_any_change_is_rendered_again() {
        let (dir, config) = setup();
        let first = load(&config, now(), CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(first.fingerprints.len(), 3, "RSS, Atom and JSON");
        assert!(first.proven.is_empty());
        assert_eq!(first.shown.len(), 2);
        remember(&config, &first);

        let second = load(&config, now(), CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(second.proven.len(), 3);
        assert!(second.shown.is_empty(), "no Markdown read or rendered");

        // A dry run reads the memo too, and writes nothing.
        let dry = load(&config, now(), CacheUse::Read, later()).unwrap();
        assert_eq!(dry.proven.len(), 3);

        // An article changed: every feed showing it is rendered again.
        std::fs::write(
            dir.path().join("content/a.md"),
            "---\ntitle: a\npublish_date: 2024-02-10\n---\n\nA new body.\n",
        )
        .unwrap();
        let third = load(&config, now(), CacheUse::ReadWrite, later()).unwrap();
        assert!(third.proven.is_empty());
        assert_eq!(third.shown.len(), 2);

        // A feed file touched since it was remembered is compared again.
        remember(&config, &third);
        std::fs::write(config.feeds.dir.join("feed.xml"), b"edited by hand").unwrap();
        let fourth = load(&config, now(), CacheUse::ReadWrite, later()).unwrap();
        assert_eq!(fourth.proven.len(), 2);
        assert!(!fourth.proven.contains(&config.feeds.dir.join("feed.xml")));

        // Files changed just now are not trusted: nothing is proven.
        let fresh = load(&config, now(), CacheUse::ReadWrite, SystemTime::now()).unwrap();
        assert!(fresh.proven.is_empty());
    }
}
