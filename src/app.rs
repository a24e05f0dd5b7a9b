//! The commands, run from parsed arguments, each returning the exit status
//! of SPEC §1: 0 all done; 1 bad config or arguments, an unusable ledger, a
//! feed that could not be written, or an article error under `check`; 2 a
//! post failed or was found uncertain; 3 another run holds the lock.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use clap::Parser;
use rayon::prelude::*;
use serde::Serialize;

use crate::article::{self, CacheUse};
use crate::cli::{
    CheckArgs, Cli, ColorChoice, Command, OutputFormat, PublishArgs, RunArgs, ScheduleArgs,
    StatusArgs,
};
use crate::config::{self, Config};
use crate::diagnostic::Diagnostic;
use crate::ledger::{Ledger, Snapshot, Status};
use crate::lock;
use crate::publish::deliver::{Deliverer, PostResult};
use crate::publish::posts::PostOptions;
use crate::publish::{self, Posting};
use crate::report::{self, Palette};
use crate::social::image::ImageFetcher;

/// The exit statuses herald uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Invalid = 1,
    PostFailed = 2,
    Locked = 3,
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> Self {
        ExitCode::from(e as u8)
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // Help and version go to stdout and succeed; anything else is a
            // usage error, which SPEC §1 makes exit 1 (clap's own is 2, which
            // herald keeps for failed posts).
            return if e.use_stderr() {
                Exit::Invalid
            } else {
                Exit::Ok
            }
            .into();
        }
    };
    let session = Session::new(&cli);
    session.init_logging();
    let exit = match &cli.command {
        Command::Check(args) => session.check(args),
        Command::Feeds(args) => session.publish(&feeds_only(args), false),
        Command::Publish(args) => session.publish(args, true),
        Command::Status(args) => session.status(args),
        Command::Run(args) => session.run(args),
    };
    exit.into()
}

fn feeds_only(run: &RunArgs) -> PublishArgs {
    PublishArgs {
        dry_run: false,
        mark_seen: false,
        retry_uncertain: false,
        wait: None,
        run: RunArgs {
            now: run.now,
            format: run.format,
            targets: Vec::new(),
            articles: Vec::new(),
            preview: None,
        },
    }
}

/// Settings every command shares.
struct Session {
    config_path: PathBuf,
    verbose: u8,
    quiet: bool,
    stdout: Palette,
    stderr: Palette,
    stderr_is_terminal: bool,
}

impl Session {
    fn new(cli: &Cli) -> Self {
        let color = |is_terminal: bool| Palette {
            color: match cli.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => is_terminal && std::env::var_os("NO_COLOR").is_none(),
            },
        };
        Session {
            config_path: cli
                .config
                .clone()
                .unwrap_or_else(|| PathBuf::from("config/herald.yaml")),
            verbose: cli.verbose,
            quiet: cli.quiet,
            stdout: color(std::io::stdout().is_terminal()),
            stderr: color(std::io::stderr().is_terminal()),
            stderr_is_terminal: std::io::stderr().is_terminal(),
        }
    }

    fn init_logging(&self) {
        let level = match (self.quiet, self.verbose) {
            (true, _) => "error",
            (false, 0) => "warn",
            (false, 1) => "info",
            (false, 2) => "debug",
            _ => "trace",
        };
        let filter = tracing_subscriber::EnvFilter::try_from_env("HERALD_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("herald={level}")));
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(self.stderr.color)
            .with_target(false)
            .without_time()
            .try_init();
    }

    fn eprint(&self, line: &str) {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn print(&self, text: &str) {
        let _ = write!(std::io::stdout().lock(), "{text}");
    }

    fn load_config(&self) -> Result<Config, Exit> {
        config::load(&self.config_path).map_err(|e| {
            self.eprint(&e.to_string());
            Exit::Invalid
        })
    }

    fn runtime(&self) -> Result<tokio::runtime::Runtime, Exit> {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| {
                self.eprint(&format!(
                    "herald: error: cannot start the async runtime: {e}"
                ));
                Exit::Invalid
            })
    }

    /// `herald check`: every problem in the config and the articles.
    fn check(&self, args: &CheckArgs) -> Exit {
        #[derive(Serialize)]
        struct CheckReport<'a> {
            files: usize,
            articles: usize,
            errors: usize,
            warnings: usize,
            problems: &'a [Diagnostic],
        }
        let mut problems = Vec::new();
        let (mut files, mut articles) = (0, 0);
        match config::load(&self.config_path) {
            Err(e) => problems.push(
                Diagnostic::error(
                    &e.path,
                    if e.key.is_empty() {
                        e.message.clone()
                    } else {
                        format!("{}: {}", e.key, e.message)
                    },
                )
                .at(e.line.unwrap_or(0), e.column.unwrap_or(0)),
            ),
            Ok(config) => {
                problems.extend(check_templates(&config));
                match article::load_with(&config, CacheUse::Read) {
                    Err(e) => problems.push(Diagnostic::error(&e.dir, e.reason)),
                    Ok(corpus) => {
                        files = corpus.files;
                        articles = corpus.articles.len();
                        problems.extend(corpus.diagnostics);
                        // check reads every body, so a bad byte anywhere is
                        // found now rather than when the article reaches a feed.
                        let body_problems: Vec<Diagnostic> = corpus
                            .articles
                            .par_iter()
                            .filter_map(|a| article::read_body(a).err())
                            .collect();
                        articles -= body_problems.len();
                        problems.extend(body_problems);
                    }
                }
            }
        }
        problems.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        let errors = problems.iter().filter(|d| d.is_error()).count();
        let warnings = problems.len() - errors;
        match args.format {
            OutputFormat::Json => {
                let report = CheckReport {
                    files,
                    articles,
                    errors,
                    warnings,
                    problems: &problems,
                };
                self.print(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                ));
            }
            OutputFormat::Text => {
                for d in &problems {
                    self.print(&format!("{}\n", report::diagnostic(d, self.stdout)));
                }
                if !self.quiet {
                    self.eprint(&format!(
                        "herald check: {files} {}, {articles} valid {}, {errors} {}, {warnings} {}",
                        if files == 1 { "file" } else { "files" },
                        if articles == 1 { "article" } else { "articles" },
                        if errors == 1 { "error" } else { "errors" },
                        if warnings == 1 { "warning" } else { "warnings" },
                    ));
                }
            }
        }
        if errors > 0 { Exit::Invalid } else { Exit::Ok }
    }

    /// `herald feeds` (posting = false) and `herald publish [--dry-run]`.
    fn publish(&self, args: &PublishArgs, posting: bool) -> Exit {
        let config = match self.load_config() {
            Ok(c) => c,
            Err(e) => return e,
        };
        let run = &args.run;
        let started = chrono::Utc::now();
        let now = run.now.unwrap_or(started);
        let options = PostOptions {
            targets: run.targets.clone(),
            articles: run.articles.clone(),
            mark_seen: args.mark_seen,
            retry_uncertain: args.retry_uncertain,
        };
        for name in &options.targets {
            if !config.social.targets.iter().any(|t| &t.name == name) {
                let names: Vec<&str> = config
                    .social
                    .targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect();
                self.eprint(&format!(
                    "herald: error: --target {name:?} is not a target in the config (targets: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ));
                return Exit::Invalid;
            }
        }
        let has_targets = posting && config.social.targets.iter().any(|t| t.enabled);

        if args.dry_run {
            // No lock, no ledger writes: an existing ledger is read without
            // touching the file; a missing one is an empty history.
            let snapshot = if has_targets {
                match Ledger::open_read_only(&config.state.path) {
                    Ok(Some(l)) => match l.snapshot() {
                        Ok(s) => s,
                        Err(e) => return self.fail(&e.to_string()),
                    },
                    Ok(None) => Snapshot::default(),
                    Err(e) => return self.fail(&e.to_string()),
                }
            } else {
                Snapshot::default()
            };
            let plan = match self.plan(
                &config,
                now,
                has_targets.then_some((&snapshot, &options)),
                run,
                args.dry_run,
            ) {
                Ok(p) => p,
                Err(e) => return e,
            };
            match run.format {
                OutputFormat::Json => {
                    self.print(&format!("{}\n", report::plan_json(&plan, None, None)))
                }
                OutputFormat::Text => {
                    self.print(&report::plan_text(&plan, self.stdout, &config, posting))
                }
            }
            return Exit::Ok;
        }

        // A real run: one at a time per ledger.
        let _lock = if has_targets {
            match lock::acquire(
                &config.state.path,
                args.wait.map(std::time::Duration::from_secs),
            ) {
                Ok(l) => Some(l),
                Err(e @ lock::LockError::Held { .. }) => {
                    self.eprint(&format!("herald: {e}"));
                    return Exit::Locked;
                }
                Err(e) => return self.fail(&e.to_string()),
            }
        } else {
            None
        };
        let ledger = if has_targets {
            match Ledger::open(&config.state.path) {
                Ok(l) => Some(l),
                Err(e) => return self.fail(&e.to_string()),
            }
        } else {
            None
        };
        let snapshot = match ledger.as_ref().map(Ledger::snapshot).transpose() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => return self.fail(&e.to_string()),
        };
        let run_id = match ledger.as_ref().map(|l| l.start_run(now)).transpose() {
            Ok(id) => id,
            Err(e) => return self.fail(&e.to_string()),
        };
        let plan = match self.plan(
            &config,
            now,
            has_targets.then_some((&snapshot, &options)),
            run,
            false,
        ) {
            Ok(p) => p,
            Err(e) => return e,
        };

        // Invalid articles are named on stderr on every run, so cron mails
        // the owner until they are fixed; warnings only with -v.
        for d in &plan.problems {
            if d.is_error() || self.verbose > 0 {
                self.eprint(&report::diagnostic(d, self.stderr));
            }
        }
        // One connection for the whole run, shared with the delivery tasks
        // and used again for syndication.json and the run's record.
        let ledger = ledger.map(|l| Arc::new(Mutex::new(l)));
        let runtime = match self.runtime() {
            Ok(rt) => rt,
            Err(e) => return e,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let config = Arc::new(config);
        let (outcome, results) = runtime.block_on(async {
            let outcome = publish::execute(&plan, &config.feeds.websub_hubs).await;
            let sending: Vec<_> = plan.posts.clone();
            if sending.is_empty() {
                return (outcome, Ok(Vec::new()));
            }
            let Some(ledger) = ledger.clone() else {
                return (outcome, Ok(Vec::new()));
            };
            watch_signals(stop.clone());
            let results = self
                .deliver(now, &config, ledger, sending, stop.clone())
                .await;
            (outcome, results)
        });
        let results = match results {
            Ok(r) => r,
            Err(e) => return self.fail(&e),
        };
        // syndication.json and the run's record, from the ledger as it now stands.
        if let Some(ledger) = &ledger {
            let ledger = ledger
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Ok(records) = ledger.records() {
                let bytes = report::syndication_json(&records, &config);
                let path = config.feeds.dir.join("syndication.json");
                if let Err(e) = crate::fsio::write_if_changed(&path, bytes.as_bytes()) {
                    self.eprint(&format!(
                        "herald: warning: cannot write {}: {e}",
                        crate::paths::display(&path)
                    ));
                }
            }
            if let Some(id) = run_id {
                let summary = report::results_summary(&results);
                let finished = now + (chrono::Utc::now() - started);
                let _ = ledger.finish_run(id, finished, &summary);
            }
        }

        for w in &outcome.ping_warnings {
            self.eprint(&format!("herald: warning: {w}"));
        }
        for e in &outcome.write_errors {
            self.eprint(&format!("herald: error: {e}"));
        }
        for r in &results {
            for w in &r.warnings {
                self.eprint(&format!("herald: warning: {w}"));
            }
            if matches!(r.status, Status::Failed | Status::Uncertain) {
                self.eprint(&format!(
                    "herald: {}: {} {:?}: {}",
                    r.status,
                    r.target,
                    r.title,
                    r.error.as_deref().unwrap_or("no detail")
                ));
            }
        }
        match run.format {
            OutputFormat::Json => self.print(&format!(
                "{}\n",
                report::plan_json(&plan, Some(&outcome), Some(&results))
            )),
            OutputFormat::Text => {
                if let Some(line) = report::outcome_line(&plan, &outcome, &results)
                    && !self.quiet
                {
                    self.print(&format!("{line}\n"));
                }
            }
        }
        if stop.load(Ordering::SeqCst) {
            self.eprint(
                "herald: stopped by a signal; posts not yet started go out on the next run",
            );
        }
        if outcome.failed() {
            Exit::Invalid
        } else if results
            .iter()
            .any(|r| matches!(r.status, Status::Failed | Status::Uncertain))
        {
            Exit::PostFailed
        } else {
            Exit::Ok
        }
    }

    /// Decides the run (with posts when `posting` holds the ledger snapshot
    /// and options) and writes the `--preview` page if asked: the same for a
    /// dry run and a real one.
    fn plan(
        &self,
        config: &Config,
        now: chrono::DateTime<chrono::Utc>,
        posting: Option<(&Snapshot, &PostOptions)>,
        run: &RunArgs,
        dry_run: bool,
    ) -> Result<publish::Plan, Exit> {
        let posting = posting.map(|(snapshot, options)| Posting { snapshot, options });
        // A dry run reads the front-matter cache but creates nothing under
        // the state path.
        let cache = if dry_run {
            CacheUse::Read
        } else {
            CacheUse::ReadWrite
        };
        let plan =
            publish::prepare(config, now, posting, cache).map_err(|e| self.fail(&e.to_string()))?;
        if let Some(path) = &run.preview
            && let Err(e) =
                crate::fsio::write_atomic(path, crate::preview::html(&plan, config).as_bytes())
        {
            return Err(self.fail(&format!(
                "cannot write the preview {}: {e}",
                crate::paths::display(path)
            )));
        }
        Ok(plan)
    }

    fn fail(&self, message: &str) -> Exit {
        self.eprint(&format!("herald: error: {message}"));
        Exit::Invalid
    }

    async fn deliver(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        config: &Arc<Config>,
        ledger: Arc<Mutex<Ledger>>,
        posts: Vec<publish::posts::PlannedPost>,
        stop: Arc<AtomicBool>,
    ) -> Result<Vec<PostResult>, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::limited(5))
            .pool_max_idle_per_host(4)
            .build()
            .map_err(|e| e.to_string())?;
        let images = ImageFetcher::new(
            config.social.allow_private_network,
            std::time::Duration::from_secs(30),
        )?;
        let sending = posts.iter().filter(|p| p.action.sends()).count() as u64;
        let bar = (self.stderr_is_terminal && !self.quiet && sending > 0).then(|| {
            let bar = indicatif::ProgressBar::new(posts.len() as u64);
            bar.set_style(
                indicatif::ProgressStyle::with_template("{spinner} posting {pos}/{len} {wide_msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        let progress = bar.clone();
        let deliverer = Arc::new(Deliverer {
            client,
            images,
            ledger,
            config: config.clone(),
            stop,
            clock: crate::publish::deliver::Clock::new(now),
            on_done: Arc::new(move |r: &PostResult| {
                if let Some(b) = &progress {
                    b.set_message(format!("{}: {}", r.target, r.status));
                    b.inc(1);
                }
            }),
        });
        let results = deliverer
            .deliver_all(posts)
            .await
            .map_err(|e| e.to_string());
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        results
    }

    /// `herald status`: the ledger as a table or JSON.
    fn status(&self, args: &StatusArgs) -> Exit {
        let config = match self.load_config() {
            Ok(c) => c,
            Err(e) => return e,
        };
        for s in &args.statuses {
            if !["pending", "posted", "queued", "failed", "uncertain", "seen"].contains(&s.as_str())
            {
                return self.fail(&format!(
                    "--status {s:?}: expected posted, queued, failed, uncertain, pending or seen"
                ));
            }
        }
        let records = match Ledger::open_read_only(&config.state.path) {
            Ok(Some(l)) => match l.records() {
                Ok(r) => r,
                Err(e) => return self.fail(&e.to_string()),
            },
            Ok(None) => Vec::new(),
            Err(e) => return self.fail(&e.to_string()),
        };
        let site = config.site.url.as_str();
        let records: Vec<_> = records
            .into_iter()
            .filter(|r| args.targets.is_empty() || args.targets.contains(&r.target))
            .filter(|r| {
                args.statuses.is_empty() || args.statuses.iter().any(|s| s == r.status.as_str())
            })
            .filter(|r| {
                args.articles.is_empty()
                    || args.articles.iter().any(|a| {
                        r.article_id == *a
                            || r.article_id.trim_end_matches('/').rsplit('/').next()
                                == Some(a.as_str())
                    })
            })
            .collect();
        match args.format {
            OutputFormat::Json => self.print(&format!(
                "{}\n",
                serde_json::to_string_pretty(&records).unwrap_or_default()
            )),
            OutputFormat::Text => self.print(&report::status_table(&records, site, self.stdout)),
        }
        Exit::Ok
    }

    /// `herald run`: publish at each time of `schedule.cron` until a signal.
    fn run(&self, args: &ScheduleArgs) -> Exit {
        let config = match self.load_config() {
            Ok(c) => c,
            Err(e) => return e,
        };
        let schedule = match config.schedule.cron.parse::<croner::Cron>() {
            Ok(s) => s,
            Err(e) => return self.fail(&format!("schedule.cron {:?}: {e}", config.schedule.cron)),
        };
        let tz = config.content.timezone;
        let runtime = match self.runtime() {
            Ok(rt) => rt,
            Err(e) => return e,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let notify = Arc::new(tokio::sync::Notify::new());
        {
            let (stop, notify) = (stop.clone(), notify.clone());
            runtime.spawn(async move {
                wait_for_signal().await;
                stop.store(true, Ordering::SeqCst);
                notify.notify_waiters();
            });
        }
        let mut first = args.now_first;
        loop {
            if !first {
                let now = chrono::Utc::now().with_timezone(&tz);
                let next = match schedule.find_next_occurrence(&now, false) {
                    Ok(n) => n,
                    Err(e) => return self.fail(&format!("schedule.cron: no next time ({e})")),
                };
                tracing::info!("next run at {}", next.format("%Y-%m-%d %H:%M:%S %Z"));
                if !self.quiet {
                    self.eprint(&format!(
                        "herald run: next publish at {}",
                        next.format("%Y-%m-%d %H:%M:%S %Z")
                    ));
                }
                let wait = (next.with_timezone(&chrono::Utc) - chrono::Utc::now())
                    .to_std()
                    .unwrap_or_default();
                let notified = runtime.block_on(async {
                    tokio::select! {
                        _ = tokio::time::sleep(wait) => false,
                        _ = notify.notified() => true,
                    }
                });
                if notified || stop.load(Ordering::SeqCst) {
                    break;
                }
            }
            first = false;
            // A failed run is reported and the scheduler goes on.
            let exit = self.publish(
                &PublishArgs {
                    dry_run: false,
                    mark_seen: false,
                    retry_uncertain: false,
                    wait: Some(60),
                    run: RunArgs {
                        now: None,
                        format: OutputFormat::Text,
                        targets: Vec::new(),
                        articles: Vec::new(),
                        preview: None,
                    },
                },
                true,
            );
            if exit != Exit::Ok {
                self.eprint(&format!(
                    "herald run: this publish ended with exit status {}",
                    exit as u8
                ));
            }
            if stop.load(Ordering::SeqCst) {
                break;
            }
        }
        if !self.quiet {
            self.eprint("herald run: stopped");
        }
        Exit::Ok
    }
}

/// Sets `stop` on SIGINT or SIGTERM: no new post starts, the one in flight is
/// finished and recorded.
fn watch_signals(stop: Arc<AtomicBool>) {
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.store(true, Ordering::SeqCst);
    });
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Template errors in the config, found before any post is made.
fn check_templates(config: &Config) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut check = |key: String, source: &str| {
        if let Err(e) = crate::social::compose::Composer::new(Some(source)) {
            out.push(Diagnostic::error(&config.file, format!("{key}: {e}")));
        }
    };
    if let Some(t) = &config.social.template {
        check("social.template".to_string(), t);
    }
    for (i, target) in config.social.targets.iter().enumerate() {
        if let Some(t) = &target.template {
            check(format!("social.targets[{i}].template"), t);
        }
    }
    // Read once, to place each warning at its key's line.
    let config_text = std::fs::read_to_string(&config.file).unwrap_or_default();
    // Secrets resolve only when sending; say now which are not set, so a
    // missing token shows before cron runs (a warning: `check` may run
    // where the production environment is not).
    for (i, target) in config
        .social
        .targets
        .iter()
        .enumerate()
        .filter(|(_, t)| t.enabled)
    {
        for (key, secret) in target_secrets(&target.platform) {
            if let Err(e) = secret.expose() {
                let path = format!("social.targets[{i}].{key}");
                let (line, column) = config::locate_key(&config_text, &path).unwrap_or((0, 0));
                out.push(
                    Diagnostic::warning(
                        &config.file,
                        format!(
                            "{path}: {e}; posts to {:?} will fail until it is",
                            target.name
                        ),
                    )
                    .at(line, column),
                );
            }
        }
    }
    out
}

fn target_secrets(platform: &crate::config::Platform) -> Vec<(String, &crate::config::Secret)> {
    use crate::config::Platform;
    match platform {
        Platform::Slack { url }
        | Platform::Discord { url }
        | Platform::Teams { url }
        | Platform::GoogleChat { url }
        | Platform::Mattermost { url } => vec![("url".into(), url)],
        Platform::Telegram { bot_token, .. } => vec![("bot_token".into(), bot_token)],
        Platform::Mastodon { token, .. } => vec![("token".into(), token)],
        Platform::Bluesky { app_password, .. } => vec![("app_password".into(), app_password)],
        Platform::Webhook {
            url,
            secret,
            headers,
        } => {
            let mut v = vec![("url".to_string(), url)];
            v.extend(secret.iter().map(|s| ("secret".to_string(), s)));
            v.extend(headers.iter().map(|(k, s)| (format!("headers.{k}"), s)));
            v
        }
    }
}
