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
    /// Further problems found in the same file, in file order: every one
    /// is reported at once, not one per run.
    pub more: Vec<ConfigError>,
}

impl ConfigError {
    fn new(path: &Path, key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            path: path.to_path_buf(),
            key: key.into(),
            line: None,
            column: None,
            message: message.into(),
            more: Vec::new(),
        }
    }

    /// This problem and every further one, each on its own.
    pub fn all(&self) -> Vec<ConfigError> {
        let mut first = self.clone();
        let more = std::mem::take(&mut first.more);
        std::iter::once(first).chain(more).collect()
    }

    /// Many problems as one error (the first, with the rest after it).
    fn many(mut problems: Vec<ConfigError>) -> Option<ConfigError> {
        problems.sort_by_key(|e| (e.line, e.column));
        problems.dedup();
        let mut iter = problems.into_iter();
        let mut first = iter.next()?;
        first.more = iter.collect();
        Some(first)
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
        for more in &self.more {
            out.push('\n');
            out.push_str(&more.render());
        }
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
    pub syndication: SyndicationSettings,
    /// Where keys are written (`social.targets[1].url` → line, column), for
    /// problems found after loading.
    pub locations: BTreeMap<String, (u32, u32)>,
}

impl Config {
    /// The line and column of a key path, if it was written.
    pub fn locate(&self, key: &str) -> Option<(u32, u32)> {
        self.locations.get(key).copied()
    }

    /// The posting options of `target`: its own, else those under
    /// `social`.
    pub fn posting(&self, target: &Target) -> Posting {
        target.posting.over(&self.social.posting)
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
    /// The posting options of every target that does not set its own.
    pub posting: Posting,
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
    /// Its own posting options; each one it does not set comes from
    /// `social` (see `Config::posting`).
    pub posting: Posting,
}

/// The posting options a target sets, or `social` sets for every target.
#[derive(Debug, Clone, Default)]
pub struct Posting {
    /// The article's tags as hashtags.
    pub hashtags: Option<HashtagCount>,
    /// UTM parameters on the link in posts (never in feeds).
    pub utm: Option<crate::social::utm::Utm>,
    /// How long after its publish time a post waits (time to fix a typo).
    pub delay: Option<TimeSpan>,
    /// When posts may go, in `content.timezone`.
    pub windows: Option<Vec<crate::window::Window>>,
    /// Due posts are held until `herald approve`.
    pub approval: Option<bool>,
    /// A post too long for one message becomes a thread, where the
    /// platform has threads.
    pub thread: Option<bool>,
    /// The link goes in the first reply, where the platform has threads.
    pub link_in_reply: Option<bool>,
    /// Old articles announced again.
    pub reshare: Option<Reshare>,
}

/// `reshare`: a posted article is announced again `after` its post, then
/// every `every`, at most `max` times; by a boost or repost where the
/// platform has one, else by a new post whose title starts with `prefix`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reshare {
    pub after: TimeSpan,
    #[serde(default = "Reshare::default_every")]
    pub every: TimeSpan,
    #[serde(default = "Reshare::default_max")]
    pub max: u32,
    #[serde(default = "Reshare::default_prefix")]
    pub prefix: String,
}

impl Reshare {
    fn default_every() -> TimeSpan {
        TimeSpan::from_secs(90 * 86_400)
    }

    fn default_max() -> u32 {
        1
    }

    fn default_prefix() -> String {
        "From the archive:".to_string()
    }
}

impl Posting {
    /// These options, each one not set taken from `base`.
    pub fn over(&self, base: &Posting) -> Posting {
        Posting {
            hashtags: self.hashtags.or(base.hashtags),
            utm: self.utm.clone().or_else(|| base.utm.clone()),
            delay: self.delay.or(base.delay),
            windows: self.windows.clone().or_else(|| base.windows.clone()),
            approval: self.approval.or(base.approval),
            thread: self.thread.or(base.thread),
            link_in_reply: self.link_in_reply.or(base.link_in_reply),
            reshare: self.reshare.clone().or_else(|| base.reshare.clone()),
        }
    }
}

/// `hashtags: false | true | N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashtagCount {
    Off,
    All,
    AtMost(usize),
}

impl HashtagCount {
    /// How many of the article's tags become hashtags.
    pub fn limit(self) -> usize {
        match self {
            HashtagCount::Off => 0,
            HashtagCount::All => usize::MAX,
            HashtagCount::AtMost(n) => n,
        }
    }
}

impl<'de> Deserialize<'de> for HashtagCount {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Form {
            Flag(bool),
            Count(u32),
        }
        match Form::deserialize(d) {
            Ok(Form::Flag(true)) => Ok(HashtagCount::All),
            Ok(Form::Flag(false)) => Ok(HashtagCount::Off),
            Ok(Form::Count(n)) => Ok(HashtagCount::AtMost(n as usize)),
            Err(_) => Err(serde::de::Error::custom(
                "expected true, false or a number of hashtags",
            )),
        }
    }
}

impl Target {
    /// The key path of one of its keys: `social.targets[2].url`.
    pub fn key(&self, key: &str) -> String {
        format!("social.targets[{}].{key}", self.index)
    }
}

/// Where the posts of each article are written for the site's theme,
/// besides `syndication.json` in the feeds folder.
#[derive(Debug, Clone, Default)]
pub struct SyndicationSettings {
    /// `<slug>.json` per posted article goes here (a Hugo `data/` or an
    /// Eleventy `_data/` folder).
    pub data_dir: Option<PathBuf>,
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
    /// The SQLite ledger, and the folder of the caches (which stay per
    /// host when the ledger is shared).
    pub path: PathBuf,
    /// Whether parsed front matter is cached beside the ledger.
    pub cache: bool,
    /// A ledger shared by several hosts (`state.url: postgres://…`).
    pub url: Option<crate::ledger::DatabaseUrl>,
}

impl StateSettings {
    /// Where the ledger is: PostgreSQL when `state.url` is set, else the
    /// SQLite file.
    pub fn location(&self) -> crate::ledger::Location {
        match &self.url {
            Some(url) => crate::ledger::Location::Database(url.clone()),
            None => crate::ledger::Location::File(self.path.clone()),
        }
    }

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
/// `env` looks up `${NAME}` references (injectable for tests). Every
/// problem is in the error, not only the first.
pub fn parse(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigError> {
    match parse_all(path, text, env) {
        (Some(config), problems) if problems.is_empty() => Ok(config),
        (_, problems) => Err(ConfigError::many(problems)
            .unwrap_or_else(|| ConfigError::new(path, "", "the config could not be read"))),
    }
}

/// Reads `path` as `parse_all` does.
pub fn load_all(path: &Path) -> (Option<Config>, Vec<ConfigError>) {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_all(path, &text, &|name| std::env::var(name).ok()),
        Err(_) => match load(path) {
            Err(e) => (None, e.all()),
            Ok(config) => (Some(config), Vec::new()),
        },
    }
}

/// Every problem of the config, with the config as far as it is usable
/// (wrong targets left out): for `check`, which then checks the articles
/// too. A key the YAML parser refuses is blanked out and the file read
/// again, so one run finds every such key (up to a bound), not one per run.
pub fn parse_all(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> (Option<Config>, Vec<ConfigError>) {
    const MAX_PROBLEMS: usize = 50;
    let mut problems: Vec<ConfigError> = Vec::new();
    let mut removed: Vec<String> = Vec::new();
    let mut text = text.to_string();
    let raw = loop {
        match validate::parse_raw(path, &text) {
            Ok(raw) => break Some(raw),
            Err(e) => {
                // A key this loop blanked out is not missing for real.
                let follows_a_removal = e.message.starts_with("missing required key")
                    && removed
                        .iter()
                        .any(|k| e.message.contains(&format!("`{k}`")));
                if !follows_a_removal {
                    problems.push(e.clone());
                }
                let repaired = (problems.len() < MAX_PROBLEMS && !follows_a_removal)
                    .then(|| e.line.and_then(|line| blank_key(&text, line)))
                    .flatten();
                match repaired {
                    Some((next, key)) => {
                        removed.push(key);
                        text = next;
                    }
                    None => break None,
                }
            }
        }
    };
    let Some(raw) = raw else {
        return (None, problems);
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    match validate::Validator::new(path, base, env).config(raw) {
        Ok((config, more)) => {
            problems.extend(more);
            (Some(config), problems)
        }
        Err(e) => {
            problems.push(e);
            (None, problems)
        }
    }
}

/// `text` with the key on `line` (1-based) and the lines nested under it
/// made blank (so later lines keep their numbers), and the key's name;
/// `None` where that cannot be done safely (a flow mapping on the line, a
/// line that is not a key).
fn blank_key(text: &str, line: u32) -> Option<(String, String)> {
    let lines: Vec<&str> = text.split('\n').collect();
    let at = usize::try_from(line).ok()?.checked_sub(1)?;
    let target = lines.get(at)?;
    if target.contains('{') || target.contains('[') {
        return None;
    }
    let indent = target.len() - target.trim_start().len();
    let key = target
        .trim_start()
        .trim_start_matches("- ")
        .split(':')
        .next()?
        .trim();
    if key.is_empty() || !target.contains(':') {
        return None;
    }
    let mut end = at + 1;
    while end < lines.len() {
        let l = lines[end];
        if !l.trim().is_empty() && l.len() - l.trim_start().len() <= indent {
            break;
        }
        end += 1;
    }
    let mut out: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if (at..end).contains(&i) {
                String::new()
            } else {
                (*l).to_string()
            }
        })
        .collect();
    // A parent mapping left with no key is written `{}`, not left null.
    let indent_of = |l: &str| l.len() - l.trim_start().len();
    if let Some(parent) = (0..at)
        .rev()
        .find(|&i| !out[i].trim().is_empty() && indent_of(&out[i]) < indent)
        && out[parent].trim_end().ends_with(':')
    {
        let parent_indent = indent_of(&out[parent]);
        let has_child = out[parent + 1..]
            .iter()
            .find(|l| !l.trim().is_empty())
            .is_some_and(|l| indent_of(l) > parent_indent);
        if !has_child {
            out[parent] = format!("{} {{}}", out[parent].trim_end());
        }
    }
    Some((out.join("\n"), key.to_string()))
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
