//! The commands, run from parsed arguments, each returning the exit status
//! of SPEC §1: 0 all done; 1 bad config or arguments, or an article error
//! under `check`; 2 a post failed; 3 another run holds the lock.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rayon::prelude::*;
use serde::Serialize;

use crate::article;
use crate::cli::{CheckArgs, Cli, ColorChoice, Command, OutputFormat, PublishArgs, RunArgs};
use crate::config::{self, Config};
use crate::diagnostic::Diagnostic;
use crate::publish;
use crate::report::{self, Palette};

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
        Command::Feeds(args) => session.publish(args, false, false),
        Command::Publish(PublishArgs { dry_run, run }) => session.publish(run, *dry_run, true),
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

    fn load_config(&self) -> Result<Config, Exit> {
        config::load(&self.config_path).map_err(|e| {
            self.eprint(&e.to_string());
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
        let (config, mut problems, files, articles) = match config::load(&self.config_path) {
            Err(e) => {
                let d = Diagnostic::error(
                    &e.path,
                    if e.key.is_empty() {
                        e.message.clone()
                    } else {
                        format!("{}: {}", e.key, e.message)
                    },
                )
                .at(e.line.unwrap_or(0), e.column.unwrap_or(0));
                (None, vec![d], 0, 0)
            }
            Ok(c) => (Some(c), Vec::new(), 0, 0),
        };
        let (mut files, mut articles) = (files, articles);
        if let Some(config) = &config {
            match article::load(config) {
                Err(e) => problems.push(Diagnostic::error(&e.dir, e.reason)),
                Ok(corpus) => {
                    files = corpus.files;
                    articles = corpus.articles.len();
                    problems.extend(corpus.diagnostics);
                    // check reads every body, so a bad byte anywhere is found
                    // now rather than when the article reaches a feed.
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
        problems.sort_by(|a, b| (&a.path, a.line, a.column).cmp(&(&b.path, b.line, b.column)));
        let errors = problems.iter().filter(|d| d.is_error()).count();
        let warnings = problems.len() - errors;
        let mut out = std::io::stdout().lock();
        match args.format {
            OutputFormat::Json => {
                let report = CheckReport {
                    files,
                    articles,
                    errors,
                    warnings,
                    problems: &problems,
                };
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string_pretty(&report).unwrap_or_default()
                );
            }
            OutputFormat::Text => {
                for d in &problems {
                    let _ = writeln!(out, "{}", report::diagnostic(d, self.stdout));
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

    /// `herald feeds` and `herald publish [--dry-run]`.
    fn publish(&self, args: &RunArgs, dry_run: bool, posting: bool) -> Exit {
        let config = match self.load_config() {
            Ok(c) => c,
            Err(e) => return e,
        };
        let now = args.now.unwrap_or_else(chrono::Utc::now);
        let plan = match publish::prepare(&config, now) {
            Ok(p) => p,
            Err(e) => {
                self.eprint(&format!("herald: error: {e}"));
                return Exit::Invalid;
            }
        };
        let targets = config.social.targets.iter().filter(|t| t.enabled).count();
        if dry_run {
            let text = match args.format {
                OutputFormat::Json => report::plan_json(&plan, None),
                OutputFormat::Text => {
                    report::plan_text(&plan, self.stdout, if posting { targets } else { 0 })
                }
            };
            let _ = write!(std::io::stdout().lock(), "{text}");
            if args.format == OutputFormat::Json {
                let _ = writeln!(std::io::stdout().lock());
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
        let runtime = match tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                self.eprint(&format!(
                    "herald: error: cannot start the async runtime: {e}"
                ));
                return Exit::Invalid;
            }
        };
        let outcome = runtime.block_on(publish::execute(&plan, &config.feeds.websub_hubs));
        for w in &outcome.ping_warnings {
            self.eprint(&format!("herald: warning: {w}"));
        }
        for e in &outcome.write_errors {
            self.eprint(&format!("herald: error: {e}"));
        }
        match args.format {
            OutputFormat::Json => {
                let _ = writeln!(
                    std::io::stdout().lock(),
                    "{}",
                    report::plan_json(&plan, Some(&outcome))
                );
            }
            OutputFormat::Text => {
                if let Some(line) = report::outcome_line(&plan, &outcome)
                    && !self.quiet
                {
                    let _ = writeln!(std::io::stdout().lock(), "{line}");
                }
            }
        }
        if posting && targets > 0 && !self.quiet {
            self.eprint(&format!(
                "herald: warning: {targets} social targets are configured, but this version of herald writes feeds only; nothing was posted"
            ));
        }
        if outcome.failed() {
            Exit::Invalid
        } else {
            Exit::Ok
        }
    }
}
