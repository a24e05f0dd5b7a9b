//! The binary's side of each command: turn the arguments into a request,
//! call the library, render its report, and map it to the exit status of
//! SPEC §1: 0 all done; 1 bad config or arguments, an unusable ledger, a
//! feed that could not be written, or an article error under `check`; 2 a
//! post failed or was found uncertain; 3 another run holds the lock.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use serde::Serialize;

use crate::auth;
use crate::check;
use crate::cli::{
    AuthArgs, CheckArgs, Cli, ColorChoice, Command, FeedsArgs, OutputFormat, PublishArgs,
    ScheduleArgs, StatusArgs,
};
use crate::clock::Clock;
use crate::config::{self, Config};
use crate::diagnostic::Diagnostic;
use crate::ledger::{Ledger, Status};
use crate::lock::LockError;
use crate::publish::{
    self, Mode, PostOptions, PostResult, Progress, RunError, RunReport, RunRequest, Services,
};
use crate::report::{self, Palette};
use crate::social::driver::Stop;

impl auth::Prompt for Session {
    fn say(&self, text: &str) {
        self.eprint(text);
    }

    fn open(&self, url: &url::Url) {
        self.print(&format!("{url}\n"));
    }

    fn paste(&self) -> std::io::Result<String> {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        Ok(line)
    }
}

/// The level of a line herald writes to stderr, for `--log-format json`.
fn log_level(line: &str) -> &'static str {
    let rest = line.strip_prefix("herald: ").unwrap_or(line);
    if rest.starts_with("error")
        || rest.starts_with("failed")
        || rest.starts_with("uncertain")
        || line.contains(": error:")
    {
        "ERROR"
    } else if rest.starts_with("warning") || line.contains(": warning:") {
        "WARN"
    } else {
        "INFO"
    }
}

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
        Command::Feeds(args) => session.feeds(args),
        Command::Publish(args) => session.publish(args),
        Command::Status(args) => session.status(args),
        Command::Run(args) => session.run(args),
        Command::Auth(args) => session.auth(args),
        Command::Approve(args) => session.approve(args),
        Command::Ledger(command) => session.ledger(command),
        Command::Completions(args) => session.completions(args),
        Command::Init(args) => session.init(args),
    };
    exit.into()
}

/// Settings every command shares.
struct Session {
    config_path: PathBuf,
    verbose: u8,
    quiet: bool,
    stdout: Palette,
    stderr: Palette,
    stderr_is_terminal: bool,
    /// `--log-format json`.
    log_json: bool,
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
            log_json: cli.log_format == crate::cli::LogFormat::Json,
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
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_target(false);
        let _ = if self.log_json {
            // For a collector: a time on every line, no colour.
            builder.json().with_ansi(false).try_init()
        } else {
            builder
                .with_ansi(self.stderr.color)
                .without_time()
                .try_init()
        };
    }

    fn eprint(&self, line: &str) {
        let line = if self.log_json {
            // One JSON object a line, as the log lines are.
            serde_json::json!({
                "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": log_level(line),
                "fields": {"message": line.strip_prefix("herald: ").unwrap_or(line)},
            })
            .to_string()
        } else {
            line.to_string()
        };
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }

    fn print(&self, text: &str) {
        let _ = write!(std::io::stdout().lock(), "{text}");
    }

    fn fail(&self, message: &str) -> Exit {
        self.eprint(&format!("herald: error: {message}"));
        Exit::Invalid
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
            .map_err(|e| self.fail(&format!("cannot start the async runtime: {e}")))
    }

    /// `herald check`: every problem in the config and the articles.
    fn check(&self, args: &CheckArgs) -> Exit {
        #[derive(Serialize)]
        struct CheckJson<'a> {
            files: usize,
            articles: usize,
            errors: usize,
            warnings: usize,
            problems: &'a [Diagnostic],
        }
        let report = check::check(&self.config_path);
        let errors = report.errors();
        let warnings = report.problems.len() - errors;
        let (files, articles) = (report.files, report.articles);
        match args.format {
            OutputFormat::Json => {
                let json = CheckJson {
                    files,
                    articles,
                    errors,
                    warnings,
                    problems: &report.problems,
                };
                self.print(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&json).unwrap_or_default()
                ));
            }
            OutputFormat::Text => {
                for d in &report.problems {
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

    /// `herald feeds`.
    fn feeds(&self, args: &FeedsArgs) -> Exit {
        let request = RunRequest {
            mode: Mode::Feeds,
            now: None,
            options: PostOptions::default(),
            preview: None,
            wait: None,
        };
        self.run_once(request, args.now, args.format)
    }

    /// `herald publish [--dry-run]`.
    fn publish(&self, args: &PublishArgs) -> Exit {
        let request = RunRequest {
            mode: if args.dry_run {
                Mode::DryRun
            } else {
                Mode::Publish
            },
            now: None,
            options: PostOptions {
                targets: args.targets.clone(),
                articles: args.articles.clone(),
                mark_seen: args.mark_seen,
                retry_uncertain: args.retry_uncertain,
            },
            preview: args.preview.clone(),
            wait: args.wait.map(std::time::Duration::from_secs),
        };
        self.run_once(request, args.now, args.format)
    }

    fn run_once(
        &self,
        mut request: RunRequest,
        now: Option<crate::cli::Now>,
        format: OutputFormat,
    ) -> Exit {
        let config = match self.load_config() {
            Ok(c) => Arc::new(c),
            Err(e) => return e,
        };
        // A date alone is midnight in the content's time zone.
        request.now = now.map(|n| n.resolve(config.content.timezone));
        let runtime = match self.runtime() {
            Ok(rt) => rt,
            Err(e) => return e,
        };
        let stop = Arc::new(Stop::default());
        runtime.block_on(async {
            watch_signals(stop.clone());
            let (exit, report) = self.publish_with(&config, request, format, stop).await;
            // The process ends with this run: freeing a large archive's
            // plan one allocation at a time would be its last step, on one
            // core (14 ms of a 10,000-article first run's 480), for memory
            // the exit gives back at once.
            std::mem::forget(report);
            exit
        })
    }

    /// Runs one publish and renders it; the report is handed back.
    async fn publish_with(
        &self,
        config: &Arc<Config>,
        request: RunRequest,
        format: OutputFormat,
        stop: Arc<Stop>,
    ) -> (Exit, Option<RunReport>) {
        let mut services = match Services::network(config) {
            Ok(s) => s,
            Err(e) => return (self.fail(&e.to_string()), None),
        };
        services.stop = stop;
        if self.stderr_is_terminal && !self.quiet {
            services.progress = Some(Arc::new(Bar::default()));
        }
        let started = std::time::Instant::now();
        let dry_run = request.mode == Mode::DryRun;
        let (exit, report) = match publish::run(config.clone(), request, &services).await {
            Ok(report) => (self.render(config, &report, format), Some(report)),
            Err(RunError::Lock(e @ LockError::Held { .. })) => {
                // Another run is at work: nothing to tell the monitors.
                self.eprint(&format!("herald: {e}"));
                return (Exit::Locked, None);
            }
            Err(e) => (self.fail(&e.to_string()), None),
        };
        if !dry_run {
            let warnings = crate::monitor::report(
                &config.monitoring,
                report.as_ref(),
                exit == Exit::Ok,
                started.elapsed(),
            )
            .await;
            for w in warnings {
                self.eprint(&format!("herald: warning: {w}"));
            }
        }
        (exit, report)
    }

    fn render(&self, config: &Config, report: &RunReport, format: OutputFormat) -> Exit {
        let plan = &report.plan;
        for w in &report.warnings {
            self.eprint(&format!("herald: warning: {w}"));
        }
        if report.dry_run {
            match format {
                OutputFormat::Json => {
                    self.print(&format!("{}\n", report::plan_json(plan, None, None)))
                }
                OutputFormat::Text => {
                    self.print(&report::plan_text(plan, self.stdout, config, true))
                }
            }
            return Exit::Ok;
        }
        // Invalid articles are named on stderr on every run, so cron mails
        // the owner until they are fixed; warnings only with -v.
        for d in &plan.problems {
            if d.is_error() || self.verbose > 0 {
                self.eprint(&report::diagnostic(d, self.stderr));
            }
        }
        let outcome = report.outcome.as_ref();
        for w in outcome.iter().flat_map(|o| &o.ping_warnings) {
            self.eprint(&format!("herald: warning: {w}"));
        }
        for e in outcome.iter().flat_map(|o| &o.write_errors) {
            self.eprint(&format!("herald: error: {e}"));
        }
        for r in &report.results {
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
        match format {
            OutputFormat::Json => self.print(&format!(
                "{}\n",
                report::plan_json(plan, outcome, Some(&report.results))
            )),
            OutputFormat::Text => {
                if let Some(o) = outcome
                    && let Some(line) = report::outcome_line(plan, o, &report.results)
                    && !self.quiet
                {
                    self.print(&format!("{line}\n"));
                }
            }
        }
        if report.stopped {
            self.eprint(
                "herald: stopped by a signal; posts not yet started go out on the next run",
            );
        }
        if report.feeds_failed() {
            Exit::Invalid
        } else if report.posts_failed() {
            Exit::PostFailed
        } else {
            Exit::Ok
        }
    }

    /// `herald status`: the ledger as a table or JSON.
    fn status(&self, args: &StatusArgs) -> Exit {
        let config = match self.load_config() {
            Ok(c) => c,
            Err(e) => return e,
        };
        for s in &args.statuses {
            if ![
                "pending",
                "posted",
                "queued",
                "failed",
                "uncertain",
                "seen",
                "dropped",
                "deleted",
                "held",
            ]
            .contains(&s.as_str())
            {
                return self.fail(&format!(
                    "--status {s:?}: expected posted, queued, held, failed, uncertain, dropped, deleted, pending or seen"
                ));
            }
        }
        let records = match Ledger::open_read_only_at(&config.state.location()) {
            Ok(Some(l)) => match l.records() {
                Ok(r) => r,
                Err(e) => return self.fail(&e.to_string()),
            },
            Ok(None) => Vec::new(),
            Err(e) => return self.fail(&e.to_string()),
        };
        // A filter that names nothing is a mistake, not an empty ledger.
        for name in &args.targets {
            if !config.social.targets.iter().any(|t| t.name == *name)
                && !records.iter().any(|r| r.target == *name)
            {
                let known: Vec<&str> = config
                    .social
                    .targets
                    .iter()
                    .map(|t| t.name.as_str())
                    .collect();
                return self.fail(&format!(
                    "--target {name:?} is not a target in the config (targets: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                ));
            }
        }
        let total = records.len();
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
            OutputFormat::Text if records.is_empty() && total > 0 => self.print(&format!(
                "no recorded post matches (the ledger has {total}; the filters left none)\n"
            )),
            OutputFormat::Text => self.print(&report::status_table(&records, site, self.stdout)),
        }
        Exit::Ok
    }

    /// `herald init [DIR]`: the config written, then checked.
    fn init(&self, args: &crate::cli::InitArgs) -> Exit {
        let (site, path) = match crate::init::init(&args.dir) {
            Ok(found) => found,
            Err(e) => return self.fail(&e.to_string()),
        };
        self.eprint(&format!(
            "herald init: found {}; wrote {} (content: {}, feeds: {})",
            site.generator.name(),
            crate::paths::display(&path),
            site.content.display(),
            site.feeds.display()
        ));
        if site.url.is_none() {
            self.eprint("herald init: set site.url to the site's real address before publishing");
        }
        let report = check::check(&path);
        for d in &report.problems {
            self.print(&format!("{}\n", report::diagnostic(d, self.stdout)));
        }
        self.eprint(&format!(
            "herald check: {} files, {} valid articles, {} errors",
            report.files,
            report.articles,
            report.errors()
        ));
        if report.errors() > 0 {
            Exit::Invalid
        } else {
            Exit::Ok
        }
    }

    /// `herald completions SHELL`: the script on stdout.
    fn completions(&self, args: &crate::cli::CompletionsArgs) -> Exit {
        use clap::CommandFactory;
        use clap_complete::Shell;
        let shell = match args.shell {
            crate::cli::CompletionShell::Bash => Shell::Bash,
            crate::cli::CompletionShell::Zsh => Shell::Zsh,
            crate::cli::CompletionShell::Fish => Shell::Fish,
        };
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "herald", &mut script);
        self.print(&String::from_utf8_lossy(&script));
        Exit::Ok
    }

    /// `herald ledger export|import`.
    fn ledger(&self, command: &crate::cli::LedgerCommand) -> Exit {
        use crate::ledger::transfer;
        let config = match self.load_config() {
            Ok(c) => c,
            Err(e) => return e,
        };
        let location = config.state.location();
        let (done, what) = match command {
            crate::cli::LedgerCommand::Export { output } => (
                transfer::export_to(&location, output.as_deref()),
                "exported",
            ),
            crate::cli::LedgerCommand::Import { file } => {
                (transfer::import_from(&location, file), "imported")
            }
            crate::cli::LedgerCommand::Migrate { to } => {
                let url = crate::ledger::DatabaseUrl {
                    url: crate::secret::Secret::new(to.clone()),
                };
                (
                    transfer::migrate(&config.state.path, &url),
                    "migrated (now set state.url to it in the config)",
                )
            }
        };
        match done {
            Ok(counts) => {
                self.eprint(&format!("herald ledger: {what} {counts}"));
                Exit::Ok
            }
            Err(e) => self.fail(&format!("herald ledger: {e}")),
        }
    }

    /// `herald approve [SLUG…] [--target NAME] [--all]`.
    fn approve(&self, args: &crate::cli::ApproveArgs) -> Exit {
        let config = match self.load_config() {
            Ok(c) => c,
            Err(e) => return e,
        };
        let choice = crate::approve::Choice {
            articles: args.articles.clone(),
            targets: args.targets.clone(),
            all: args.all,
        };
        match crate::approve::approve(&config, &choice, chrono::Utc::now()) {
            Err(e) => self.fail(&e.to_string()),
            Ok(done) => {
                for r in &done.released {
                    self.print(&format!("approved {} → {}\n", r.article_id, r.target));
                }
                self.eprint(&format!(
                    "herald approve: {} approved (the next publish sends them), {} still held",
                    done.released.len(),
                    done.still_held
                ));
                if done.released.is_empty() && !args.articles.is_empty() {
                    return self.fail("no held post matches");
                }
                Exit::Ok
            }
        }
    }

    /// `herald auth TARGET` and `herald auth --status`.
    fn auth(&self, args: &AuthArgs) -> Exit {
        let config = match self.load_config() {
            Ok(c) => c,
            Err(e) => return e,
        };
        if args.status {
            let snapshot = match Ledger::open_read_only_at(&config.state.location()) {
                Ok(Some(l)) => match l.snapshot() {
                    Ok(s) => s,
                    Err(e) => return self.fail(&e.to_string()),
                },
                Ok(None) => Default::default(),
                Err(e) => return self.fail(&e.to_string()),
            };
            let statuses = auth::status(&config, &snapshot, chrono::Utc::now());
            match args.format {
                OutputFormat::Json => self.print(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(&statuses).unwrap_or_default()
                )),
                OutputFormat::Text => {
                    for s in &statuses {
                        self.print(&format!("{} ({}): {}\n", s.target, s.kind, s.summary));
                    }
                }
            }
            return Exit::Ok;
        }
        let Some(name) = &args.target else {
            return self.fail("give the target to authorize, or --status");
        };
        let runtime = match self.runtime() {
            Ok(rt) => rt,
            Err(e) => return e,
        };
        let services = match Services::network(&config) {
            Ok(s) => s,
            Err(e) => return self.fail(&e.to_string()),
        };
        let redirect = match (&args.redirect_uri, args.no_browser) {
            (Some(uri), _) => auth::Redirect::Paste { uri: uri.clone() },
            (None, true) => auth::Redirect::Paste {
                uri: format!("http://127.0.0.1:{}/callback", args.port),
            },
            (None, false) => auth::Redirect::Listen { port: args.port },
        };
        let outcome = runtime.block_on(auth::authorize(
            &config,
            name,
            &redirect,
            self,
            services.transport.as_ref(),
        ));
        match outcome {
            Ok(session) => {
                let ends = session.access_expires.map_or_else(
                    || "no stated end".to_string(),
                    |at| format!("ends {}", at.format("%Y-%m-%d %H:%M UTC")),
                );
                self.eprint(&format!(
                    "herald auth {name}: authorized; the access token {ends}{}; kept in {}",
                    if session.refresh.is_some() {
                        ", with a refresh token"
                    } else {
                        ""
                    },
                    crate::paths::display(&config.state.path)
                ));
                Exit::Ok
            }
            Err(e) => self.fail(&format!("auth {name}: {e}")),
        }
    }

    /// `herald run`: publish at each time of `schedule.cron` until a signal.
    fn run(&self, args: &ScheduleArgs) -> Exit {
        let config = match self.load_config() {
            Ok(c) => Arc::new(c),
            Err(e) => return e,
        };
        let runtime = match self.runtime() {
            Ok(rt) => rt,
            Err(e) => return e,
        };
        let stop = Arc::new(Stop::default());
        let ended = runtime.block_on(async {
            watch_signals(stop.clone());
            crate::schedule::run(
                &config.schedule.cron,
                config.content.timezone,
                &Clock::system(),
                &stop,
                args.now_first,
                |next| {
                    tracing::info!("next run at {}", next.format("%Y-%m-%d %H:%M:%S %Z"));
                    if !self.quiet {
                        self.eprint(&format!(
                            "herald run: next publish at {}",
                            next.format("%Y-%m-%d %H:%M:%S %Z")
                        ));
                    }
                },
                || async {
                    let request = RunRequest {
                        mode: Mode::Publish,
                        now: None,
                        options: PostOptions::default(),
                        preview: None,
                        wait: Some(std::time::Duration::from_secs(60)),
                    };
                    // A failed run is reported and the scheduler goes on.
                    let (exit, report) = self
                        .publish_with(&config, request, OutputFormat::Text, stop.clone())
                        .await;
                    let next_due = report.as_ref().and_then(RunReport::next_due);
                    if exit != Exit::Ok {
                        self.eprint(&format!(
                            "herald run: this publish ended with exit status {}",
                            exit as u8
                        ));
                    }
                    next_due
                },
            )
            .await
        });
        if ended == crate::schedule::Ended::NoNextTime {
            return self.fail("schedule.cron has no next time");
        }
        if !self.quiet {
            self.eprint("herald run: stopped");
        }
        Exit::Ok
    }
}

/// The progress bar shown on a terminal while posts go out.
#[derive(Default)]
struct Bar(std::sync::OnceLock<indicatif::ProgressBar>);

impl Progress for Bar {
    fn start(&self, posts: usize) {
        let bar = indicatif::ProgressBar::new(posts as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} posting {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let _ = self.0.set(bar);
    }

    fn done(&self, r: &PostResult) {
        if let Some(b) = self.0.get() {
            b.set_message(format!("{}: {}", r.target, r.status));
            b.inc(1);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.0.get() {
            b.finish_and_clear();
        }
    }
}

/// Requests a stop on SIGINT or SIGTERM: no new post starts, the one in
/// flight is finished and recorded.
fn watch_signals(stop: Arc<Stop>) {
    tokio::spawn(async move {
        wait_for_signal().await;
        stop.request();
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
