//! The command line, as clap derive types. No logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Turns a folder of Markdown articles into RSS, Atom and JSON feeds.
#[derive(Debug, Parser)]
#[command(name = "herald", version, about, long_about = None)]
pub struct Cli {
    /// The config file [default: $HERALD_CONFIG, else config/herald.yaml]
    #[arg(long, global = true, env = "HERALD_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// More detail on stderr (-v: warnings and progress, -vv: debug)
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,

    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// When to colour output
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto, value_name = "WHEN")]
    pub color: ColorChoice,

    /// The form of log lines on stderr: text for people, json for a log collector
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

/// Log lines: for people, or one JSON object a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Colour output: only on a terminal unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Output format of `publish` and `feeds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write the feeds and post every due article; the cron entry point (safe to repeat)
    Publish(PublishArgs),
    /// Write the feeds only
    Feeds(FeedsArgs),
    /// Validate the config and every article; exit 1 on any error
    Check(CheckArgs),
    /// Show the ledger: per article and target, posted, queued, failed, uncertain
    Status(StatusArgs),
    /// Stay up and run `publish` at each time of schedule.cron
    Run(ScheduleArgs),
    /// The ledger as JSON lines: export it (a backup, a move), import it into a new ledger
    #[command(subcommand)]
    Ledger(LedgerCommand),
    /// Let posts held for approval go (by slug, --target, or --all); the next publish sends them
    Approve(ApproveArgs),
    /// Get tokens for a target by its owner's consent (OAuth); --status shows every target's tokens
    Auth(AuthArgs),
    /// Print a shell completion script (bash, zsh or fish)
    Completions(CompletionsArgs),
    /// Write a first herald.yaml for the site in DIR (Hugo, Jekyll, Zola, Eleventy, Astro or plain Markdown), then check it
    Init(InitArgs),
}

/// `herald ledger …`.
#[derive(Debug, Subcommand)]
pub enum LedgerCommand {
    /// Write the ledger as JSON lines, in a stable order (stdout, or --output FILE, created readable by its owner only: it holds the targets' sessions)
    Export {
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Read an export into a new ledger where the config keeps it (all of it or nothing; never into a ledger with records)
    Import {
        /// The export (- for stdin)
        file: PathBuf,
    },
    /// Copy the SQLite ledger at state.path into a new PostgreSQL ledger, for several hosts (then set state.url)
    Migrate {
        /// The database: postgres://USER@HOST/DATABASE (a password through ${NAME})
        #[arg(long, value_name = "URL")]
        to: String,
    },
}

#[derive(Debug, Args)]
pub struct ApproveArgs {
    /// The articles whose held posts go, by slug or permalink
    #[arg(value_name = "SLUG")]
    pub articles: Vec<String>,

    /// Only the posts to these targets (repeatable)
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,

    /// Every held post (of --target, if given)
    #[arg(long, conflicts_with = "articles")]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The site's folder
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: CompletionShell,
}

/// Shells herald writes completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Args)]
pub struct AuthArgs {
    /// The target to authorize, by name
    #[arg(required_unless_present = "status")]
    pub target: Option<String>,

    /// Show each target's tokens: when set, when they end, what to do
    #[arg(long, conflicts_with_all = ["port", "no_browser", "redirect_uri"])]
    pub status: bool,

    /// The loopback port the browser is sent back to (the redirect URI registered with the platform names it)
    #[arg(long, default_value_t = 8765)]
    pub port: u16,

    /// Listen for nothing: paste back the address the browser was sent to (for servers)
    #[arg(long)]
    pub no_browser: bool,

    /// The redirect URI registered with the platform, when it is not http://127.0.0.1:PORT/callback (implies --no-browser)
    #[arg(long, value_name = "URI")]
    pub redirect_uri: Option<String>,

    /// text for people, json for machines (with --status)
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Decide everything, print the plan, write and send nothing
    #[arg(long)]
    pub dry_run: bool,

    /// Record every post due now as handled, without sending (to adopt an archive)
    #[arg(long)]
    pub mark_seen: bool,

    /// Also resend posts whose earlier delivery is uncertain
    #[arg(long)]
    pub retry_uncertain: bool,

    /// Wait up to this many seconds for another run to finish, instead of exiting 3
    #[arg(long, value_name = "SECONDS")]
    pub wait: Option<u64>,

    /// Pretend the clock says this (RFC 3339, e.g. 2024-02-10T09:00:00Z)
    #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<Now>,

    /// text for people, json for machines (one document on stdout)
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Only post to these targets (repeatable)
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,

    /// Only post these articles, by slug or permalink (repeatable)
    #[arg(long = "article", value_name = "SLUG")]
    pub articles: Vec<String>,

    /// Write an HTML page showing each post as it will look on its platform
    #[arg(long, value_name = "FILE.html")]
    pub preview: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Only these targets (repeatable)
    #[arg(long = "target", value_name = "NAME")]
    pub targets: Vec<String>,

    /// Only these articles, by slug or permalink (repeatable)
    #[arg(long = "article", value_name = "SLUG")]
    pub articles: Vec<String>,

    /// Only these statuses: posted, queued, held, failed, uncertain, dropped, deleted, pending, seen (repeatable)
    #[arg(long = "status", value_name = "STATUS")]
    pub statuses: Vec<String>,

    /// text for people, json for machines
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    /// Run publish once now, before waiting for the first scheduled time
    #[arg(long)]
    pub now_first: bool,
}

#[derive(Debug, Args)]
pub struct FeedsArgs {
    /// Pretend the clock says this (RFC 3339, e.g. 2024-02-10T09:00:00Z)
    #[arg(long, value_name = "RFC3339", value_parser = parse_now)]
    pub now: Option<Now>,

    /// text for people, json for machines (one document on stdout)
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// text for people, json for machines
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,
}

/// `--now`: a moment, or a date alone (midnight in `content.timezone`,
/// which is known once the config is read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Now {
    At(chrono::DateTime<chrono::Utc>),
    Date(chrono::NaiveDate),
}

impl Now {
    /// The moment, a date taken as midnight in `zone` (the first moment of
    /// that day where midnight does not exist).
    pub fn resolve(self, zone: chrono_tz::Tz) -> chrono::DateTime<chrono::Utc> {
        use chrono::TimeZone;
        match self {
            Now::At(at) => at,
            Now::Date(date) => {
                let midnight = date.and_time(chrono::NaiveTime::MIN);
                zone.from_local_datetime(&midnight)
                    .earliest()
                    .map(|d| d.to_utc())
                    .unwrap_or_else(|| {
                        // A day that starts in a gap: an hour later exists.
                        zone.from_local_datetime(&(midnight + chrono::TimeDelta::hours(1)))
                            .earliest()
                            .map_or_else(|| midnight.and_utc(), |d| d.to_utc())
                    })
            }
        }
    }
}

fn parse_now(text: &str) -> Result<Now, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(text) {
        return Ok(Now::At(at.to_utc()));
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map(Now::Date)
        .map_err(|_| {
            format!(
                "expected an RFC 3339 date-time such as 2024-02-10T09:00:00Z, or a date such as 2024-02-10 (midnight in content.timezone); got {text:?}"
            )
        })
}
