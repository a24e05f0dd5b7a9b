//! The config file: read with serde-saphyr into spanned raw types
//! (`raw`), then validated into `Config` (`validate`), whose fields have
//! types that say they were checked (`Url`, `Tz`, `TimeSpan`, `Schedule`,
//! a platform's own settings behind `Arc<dyn Platform>`).
//!
//! Every error names the key path (`feeds.limit`) and its line and column.
//! Relative paths resolve against the config file's own folder, because
//! cron runs herald from `$HOME`. This module reads the config file and the
//! environment; nothing else. Secrets and units live beside it (`secret`,
//! `units`) because platform modules use them too.

mod raw;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::paths;
use crate::social::Platform;
use crate::units::TimeSpan;

pub use crate::secret::{MissingEnv, Secret};

/// A config problem, located as precisely as the YAML parser allows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct ConfigError {
    pub path: PathBuf,
    /// The key path, e.g. `social.targets[2].url`; empty for file-level problems.
    pub key: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub message: String,
}

impl ConfigError {
    fn new(path: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            key: key.into(),
            line: None,
            column: None,
            message: message.into(),
        }
    }

    #[must_use]
    fn at(mut self, at: Option<(u32, u32)>) -> Self {
        if let Some((line, column)) = at {
            self.line = Some(line);
            self.column = Some(column);
        }
        self
    }

    fn render(&self) -> String {
        let mut out = paths::display(&self.path);
        if let Some(line) = self.line {
            out.push_str(&format!(":{line}"));
            if let Some(col) = self.column {
                out.push_str(&format!(":{col}"));
            }
        }
        out.push_str(": error: ");
        if !self.key.is_empty() {
            out.push_str(&self.key);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        out
    }
}

/// The whole validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The config file itself, for messages.
    pub file: PathBuf,
    pub site: Site,
    pub content: ContentSettings,
    pub feeds: FeedSettings,
    pub social: SocialSettings,
    pub schedule: ScheduleSettings,
    pub state: StateSettings,
    pub monitoring: MonitoringSettings,
    /// Where keys are written (`social.targets[1].url` → line, column), for
    /// problems found after loading.
    pub locations: BTreeMap<String, (u32, u32)>,
}

impl Config {
    /// The line and column of a key path, if it was written.
    pub fn locate(&self, key: &str) -> Option<(u32, u32)> {
        self.locations.get(key).copied()
    }
}

/// Who publishes: feed titles, the base of every link.
#[derive(Debug, Clone)]
pub struct Site {
    pub title: String,
    /// Absolute http(s), always ending in `/` so joins keep its path.
    pub url: Url,
    pub description: String,
    pub language: String,
    pub author: Author,
}

/// The publisher as a person or organisation, for feed authors.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Author {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Url>,
}

/// Where the articles are and how their dates and permalinks are read.
#[derive(Debug, Clone)]
pub struct ContentSettings {
    pub dir: PathBuf,
    pub extensions: Vec<String>,
    pub permalink: String,
    pub timezone: Tz,
    pub publish_time: NaiveTime,
    /// Files larger than this are refused rather than read into memory.
    pub max_file_size: u64,
}

/// Which feed files to write and how.
#[derive(Debug, Clone)]
pub struct FeedSettings {
    pub dir: PathBuf,
    /// Where `dir` is served; feed self links are built on it.
    pub url: Url,
    /// Items per feed; `None` means every article.
    pub limit: Option<usize>,
    pub full_content: bool,
    /// File names inside `dir`; `None` turns that format off.
    pub rss: Option<String>,
    pub atom: Option<String>,
    pub json: Option<String>,
    pub per_tag: bool,
    pub websub_hubs: Vec<Url>,
    /// Optional title override; defaults to `site.title`.
    pub title: Option<String>,
    /// RFC 5005 archive pages of this many entries each (`feeds.archive`).
    pub archive_page_size: Option<usize>,
}

/// What to do when an already-posted article is edited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnEdit {
    #[default]
    Ignore,
    Update,
    Repost,
}

/// What to do when a posted article is unpublished (a draft again, dated
/// in the future, or its file gone).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnUnpublish {
    /// Leave the remote posts.
    #[default]
    Ignore,
    /// Delete them where the platform allows.
    Delete,
}

/// Posting policy and the targets posted to.
#[derive(Debug, Clone)]
pub struct SocialSettings {
    pub max_age: TimeSpan,
    pub min_interval: TimeSpan,
    pub max_per_run: u32,
    pub max_attempts: u32,
    pub on_edit: OnEdit,
    pub on_unpublish: OnUnpublish,
    pub template: Option<String>,
    pub allow_private_network: bool,
    /// First retry delay; doubles per attempt, with full jitter.
    pub retry_base: TimeSpan,
    /// The longest herald waits inside one run (a server asking for longer
    /// gets the post queued for a later run).
    pub max_wait: TimeSpan,
    pub targets: Vec<Target>,
}

/// One place posts go to: its name, its platform's settings, and the
/// posting policy it overrides.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    /// Its position in `social.targets`, for key paths in messages.
    pub index: usize,
    pub platform: Arc<dyn Platform>,
    pub template: Option<String>,
    pub enabled: bool,
    pub min_interval: Option<TimeSpan>,
    pub max_age: Option<TimeSpan>,
    pub max_per_run: Option<u32>,
    pub timeout: TimeSpan,
    /// Its own `on_unpublish`, else the one under `social`.
    pub on_unpublish: Option<OnUnpublish>,
}

impl Target {
    /// The key path of one of its keys: `social.targets[2].url`.
    pub fn key(&self, key: &str) -> String {
        format!("social.targets[{}].{key}", self.index)
    }
}

/// How a run tells the outside it ran: a health-check ping and a
/// Prometheus text file.
#[derive(Debug, Clone, Default)]
pub struct MonitoringSettings {
    /// Pinged after each `publish` (`/fail` appended when it failed), the
    /// convention of healthchecks.io and Uptime Kuma. A secret: such URLs
    /// hold the check's key.
    pub healthcheck_url: Option<crate::secret::Secret>,
    /// Rewritten after each `publish` with its numbers.
    pub metrics_file: Option<PathBuf>,
}

/// The built-in scheduler's timing (`herald run`).
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    pub cron: Schedule,
}

/// A 5-field cron expression, checked at load to have a next time.
#[derive(Debug, Clone)]
pub struct Schedule {
    text: String,
    cron: croner::Cron,
}

impl Schedule {
    /// Parses `text` and checks that it ever fires.
    pub fn parse(text: &str) -> Result<Schedule, String> {
        if text.split_whitespace().count() != 5 {
            return Err(format!(
                "expected 5 fields (minute hour day month weekday), found {text:?}"
            ));
        }
        let cron: croner::Cron = text.parse().map_err(|e| format!("{text:?}: {e}"))?;
        // A day that never comes (30 February) parses but never fires.
        let from = chrono::Utc
            .with_ymd_and_hms(2000, 1, 1, 0, 0, 0)
            .single()
            .ok_or_else(|| "no reference date".to_string())?;
        cron.find_next_occurrence(&from, false)
            .map_err(|e| format!("{text:?} never fires ({e})"))?;
        Ok(Schedule {
            text: text.to_string(),
            cron,
        })
    }

    /// The first time after `after` it fires.
    pub fn next_after<Z: TimeZone>(&self, after: &DateTime<Z>) -> Option<DateTime<Z>> {
        self.cron.find_next_occurrence(after, false).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// Where the ledger lives.
#[derive(Debug, Clone)]
pub struct StateSettings {
    pub path: PathBuf,
    /// Whether parsed front matter is cached beside the ledger.
    pub cache: bool,
}

impl StateSettings {
    /// The front-matter cache's file (`state.db` → `state.articles.cache`),
    /// unless `state.cache` is off.
    pub fn cache_file(&self) -> Option<PathBuf> {
        self.cache
            .then(|| self.path.with_extension("articles.cache"))
    }

    /// The feed memo's file (`state.db` → `state.feeds.memo`), unless
    /// `state.cache` is off.
    pub fn memo_file(&self) -> Option<PathBuf> {
        self.cache.then(|| self.path.with_extension("feeds.memo"))
    }
}

/// Reads and validates the config file at `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            " (herald reads --config FILE, else $HERALD_CONFIG, else config/herald.yaml)"
        } else {
            ""
        };
        ConfigError::new(path, "", format!("cannot read the config file: {e}{hint}"))
    })?;
    parse(path, &text, &|name| std::env::var(name).ok())
}

/// Validates config text; `path` locates relative paths and messages, and
/// `env` looks up `${NAME}` references (injectable for tests).
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    let raw = validate::parse_raw(path, text)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    validate::Validator::new(path, base, env).config(raw)
}

/// The candidate closest to `word`, if it is close enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score >= 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests;
