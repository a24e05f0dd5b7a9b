//! The config file: YAML read with serde-saphyr into `Raw*` structs (serde,
//! unknown keys denied), then validated into `Config`, whose fields have types
//! that say they were checked (`Url`, `Tz`, `Duration`, `Secret`).
//!
//! Every error names the key path (`feeds.limit`) and, where the YAML parser
//! knows it, the line and column. Relative paths resolve against the config
//! file's own folder, because cron runs herald from `$HOME`.
//!
//! This module reads the config file and the environment; nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::paths;

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

/// A value that must not appear in output: tokens, webhook URLs (which embed
/// tokens), passwords. It keeps the text as written (`${SLACK_WEBHOOK_URL}`)
/// and resolves the environment only when a request is built.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    template: String,
}

impl Secret {
    pub fn new(template: impl Into<String>) -> Self {
        Secret {
            template: template.into(),
        }
    }

    /// The real value, with `${NAME}` taken from the environment.
    pub fn expose(&self) -> Result<String, MissingEnv> {
        expand_env(&self.template, &|name| std::env::var(name).ok())
    }

    /// What a dry run shows: the variable names, never their values.
    pub fn redacted(&self) -> String {
        let names = env_names(&self.template);
        if names.is_empty() {
            "[redacted]".to_string()
        } else {
            names
                .iter()
                .map(|n| format!("${{{n}}}"))
                .collect::<Vec<_>>()
                .join("")
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", self.redacted())
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// An environment variable a value refers to is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct MissingEnv(pub String);

/// Expands `${NAME}` and `${NAME:-default}`; `$$` is a literal `$`.
pub fn expand_env(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, MissingEnv> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{')
            && let Some(end) = inner.find('}')
        {
            let spec = &inner[..end];
            let (name, default) = match spec.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (spec, None),
            };
            match lookup(name).filter(|v| !v.is_empty()) {
                Some(value) => out.push_str(&value),
                None => match default {
                    Some(d) => out.push_str(d),
                    None => return Err(MissingEnv(name.to_string())),
                },
            }
            rest = &inner[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn env_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = text;
    while let Some(pos) = rest.find("${") {
        let inner = &rest[pos + 2..];
        match inner.find('}') {
            Some(end) => {
                let spec = &inner[..end];
                names.push(spec.split(":-").next().unwrap_or(spec).to_string());
                rest = &inner[end + 1..];
            }
            None => break,
        }
    }
    names
}

// ---------------------------------------------------------------------------
// The validated config.

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

/// Posting policy and the targets posted to.
#[derive(Debug, Clone)]
pub struct SocialSettings {
    pub max_age: Duration,
    pub min_interval: Duration,
    pub max_per_run: u32,
    pub max_attempts: u32,
    pub on_edit: OnEdit,
    pub template: Option<String>,
    pub allow_private_network: bool,
    /// First retry delay; doubles per attempt, with full jitter.
    pub retry_base: Duration,
    /// The longest herald waits inside one run (a server asking for longer
    /// gets the post queued for a later run).
    pub max_wait: Duration,
    pub targets: Vec<Target>,
}

/// One place posts go to.
#[derive(Debug, Clone)]
pub struct Target {
    pub name: String,
    pub platform: Platform,
    pub template: Option<String>,
    pub enabled: bool,
    pub min_interval: Option<Duration>,
    pub max_age: Option<Duration>,
    pub max_per_run: Option<u32>,
    pub timeout: Duration,
}

/// The platform of a target and the keys only it takes.
#[derive(Debug, Clone)]
pub enum Platform {
    Slack {
        url: Secret,
    },
    Discord {
        url: Secret,
    },
    Teams {
        url: Secret,
    },
    GoogleChat {
        url: Secret,
    },
    Mattermost {
        url: Secret,
    },
    Telegram {
        bot_token: Secret,
        chat_id: String,
        api_url: Url,
    },
    Mastodon {
        instance: Url,
        token: Secret,
    },
    Bluesky {
        service: Url,
        identifier: String,
        app_password: Secret,
    },
    Webhook {
        url: Secret,
        secret: Option<Secret>,
        headers: BTreeMap<String, Secret>,
    },
}

impl Platform {
    /// The `type` word used in the config.
    pub fn type_name(&self) -> &'static str {
        match self {
            Platform::Slack { .. } => "slack",
            Platform::Discord { .. } => "discord",
            Platform::Teams { .. } => "teams",
            Platform::GoogleChat { .. } => "google_chat",
            Platform::Mattermost { .. } => "mattermost",
            Platform::Telegram { .. } => "telegram",
            Platform::Mastodon { .. } => "mastodon",
            Platform::Bluesky { .. } => "bluesky",
            Platform::Webhook { .. } => "webhook",
        }
    }
}

/// The built-in scheduler's timing (`herald run`).
#[derive(Debug, Clone)]
pub struct ScheduleSettings {
    pub cron: String,
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
}

// ---------------------------------------------------------------------------
// The raw, as-written config.

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    site: Option<RawSite>,
    #[serde(default)]
    content: RawContent,
    #[serde(default)]
    feeds: RawFeeds,
    #[serde(default)]
    social: RawSocial,
    #[serde(default)]
    schedule: RawSchedule,
    #[serde(default)]
    state: RawState,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSite {
    title: String,
    url: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    author: Option<RawAuthor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAuthor {
    name: String,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    url: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawContent {
    dir: Option<String>,
    extensions: Option<Vec<String>>,
    permalink: Option<String>,
    timezone: Option<String>,
    publish_time: Option<String>,
    max_file_size: Option<ByteSize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawFeeds {
    dir: Option<String>,
    url: Option<String>,
    title: Option<String>,
    limit: Option<Count>,
    full_content: Option<bool>,
    rss: Option<FileOrOff>,
    atom: Option<FileOrOff>,
    json: Option<FileOrOff>,
    per_tag: Option<bool>,
    websub_hubs: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSocial {
    max_age: Option<DurationText>,
    min_interval: Option<DurationText>,
    max_per_run: Option<Count>,
    max_attempts: Option<Count>,
    on_edit: Option<OnEdit>,
    template: Option<String>,
    allow_private_network: Option<bool>,
    retry_base: Option<DurationText>,
    max_wait: Option<DurationText>,
    #[serde(default)]
    targets: Vec<RawTarget>,
}

/// Every key any target type takes; which ones a type allows is checked after
/// parsing, so a misplaced key gets a message naming the type's own keys.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    url: Option<String>,
    secret: Option<String>,
    headers: Option<BTreeMap<String, String>>,
    bot_token: Option<String>,
    chat_id: Option<String>,
    api_url: Option<String>,
    instance: Option<String>,
    token: Option<String>,
    service: Option<String>,
    identifier: Option<String>,
    app_password: Option<String>,
    template: Option<String>,
    enabled: Option<bool>,
    min_interval: Option<DurationText>,
    max_age: Option<DurationText>,
    max_per_run: Option<Count>,
    timeout: Option<DurationText>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    cron: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawState {
    path: Option<String>,
    cache: Option<bool>,
}

/// A non-negative whole number, with a message users understand.
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a positive number")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Count, E> {
                Ok(Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Count, E> {
                u64::try_from(v)
                    .map(Count)
                    .map_err(|_| E::custom(format!("expected a positive number, found {v}")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Count, E> {
                Err(E::custom(format!("expected a positive number, found {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Count, E> {
                Err(E::custom(format!(
                    "expected a positive number, found {v:?}"
                )))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Count, E> {
                Err(E::custom(format!("expected a positive number, found {v}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration as written (`90s`, `15m`, `2h`, `7d`, `1h30m`), parsed after.
struct DurationText(String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 30s, 15m, 2h or 7d")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationText, E> {
                Ok(DurationText(format!("{v}s")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationText, E> {
                Err(E::custom(format!(
                    "expected a duration such as 30s, 15m, 2h or 7d, found {v}"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationText, E> {
                if let Some(ms) = v.trim().strip_suffix("ms")
                    && ms.parse::<u64>().is_ok()
                {
                    return Ok(DurationText(v.to_string()));
                }
                parse_duration(v)
                    .map(|_| DurationText(v.to_string()))
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A size in bytes, or with a unit: `10MB`, `512KB`, `1GB`.
struct ByteSize(u64);

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a size such as 10MB")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ByteSize, E> {
                Ok(ByteSize(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteSize, E> {
                parse_byte_size(v).map(ByteSize).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// A feed file name, or `false` to turn that format off.
enum FileOrOff {
    File(String),
    Off,
    Default,
}

impl<'de> Deserialize<'de> for FileOrOff {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FileOrOff;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a file name, or false")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<FileOrOff, E> {
                Ok(if v {
                    FileOrOff::Default
                } else {
                    FileOrOff::Off
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<FileOrOff, E> {
                Ok(FileOrOff::File(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<FileOrOff, E> {
                Ok(FileOrOff::Off)
            }
        }
        d.deserialize_any(V)
    }
}

/// Parses `90s`, `15m`, `2h`, `7d`, `36500d`, `1h30m`; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("expected a duration such as 30s, 15m, 2h or 7d, found {text:?}");
    let t = text.trim();
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut digits = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        let n: u64 = digits.parse().map_err(|_| bad())?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

fn parse_byte_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bad = || format!("expected a size such as 10MB, found {text:?}");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" | "k" => 1_000,
        "kib" => 1 << 10,
        "mb" | "m" => 1_000_000,
        "mib" => 1 << 20,
        "gb" | "g" => 1_000_000_000,
        "gib" => 1 << 30,
        _ => return Err(bad()),
    };
    n.checked_mul(mult).ok_or_else(bad)
}

// ---------------------------------------------------------------------------
// Loading.

/// The keys each target type takes besides the common ones.
const TARGET_KEYS: &[(&str, &[&str], &[&str])] = &[
    // (type, required, optional)
    ("slack", &["url"], &[]),
    ("discord", &["url"], &[]),
    ("teams", &["url"], &[]),
    ("google_chat", &["url"], &[]),
    ("mattermost", &["url"], &[]),
    ("telegram", &["bot_token", "chat_id"], &["api_url"]),
    ("mastodon", &["instance", "token"], &[]),
    ("bluesky", &["identifier", "app_password"], &["service"]),
    ("webhook", &["url"], &["secret", "headers"]),
];

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
    let raw = parse_raw(path, text)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let base = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base
    };
    Validator { path, base, env }.config(raw).map_err(|mut e| {
        if e.line.is_none()
            && let Some((line, column)) = locate_key(text, &e.key)
        {
            e.line = Some(line);
            e.column = Some(column);
        }
        e
    })
}

/// Finds the line and column of a key path (`social.targets[1].url`) in
/// block-style YAML, so errors found after parsing still point at a line.
/// Flow-style (`{...}`) values are located by their parent key only.
pub(crate) fn locate_key(text: &str, key: &str) -> Option<(u32, u32)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Option<(usize, usize)> = None; // (line index, indent)
    let mut from = 0;
    let mut min_indent = 0;
    for segment in key.split('.') {
        let (name, index) = match segment.split_once('[') {
            Some((n, rest)) => (n, rest.trim_end_matches(']').parse::<usize>().ok()),
            None => (segment, None),
        };
        let mut hit = None;
        for (i, line) in lines.iter().enumerate().skip(from) {
            let indent = line.len() - line.trim_start().len();
            let content = line.trim_start().trim_start_matches("- ");
            if found.is_some() && !line.trim().is_empty() && indent < min_indent {
                break;
            }
            if content.starts_with(name) && content[name.len()..].trim_start().starts_with(':') {
                hit = Some((i, indent + (line.trim_start().len() - content.len())));
                break;
            }
        }
        // A key that is missing (the usual reason for the error) is reported
        // at its parent.
        let Some((line, indent)) = hit else { break };
        found = Some((line, indent));
        from = line + 1;
        min_indent = indent + 1;
        if let Some(n) = index {
            // The n-th `- ` item below the key.
            let Some(item) = lines
                .iter()
                .enumerate()
                .skip(from)
                .filter(|(_, l)| l.trim_start().starts_with("- "))
                .nth(n)
            else {
                break;
            };
            let item_indent = item.1.len() - item.1.trim_start().len();
            found = Some((item.0, item_indent + 2));
            from = item.0;
            min_indent = item_indent;
        }
    }
    found.map(|(line, col)| (line as u32 + 1, col as u32 + 1))
}

fn parse_raw(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(ConfigError::new(
            path,
            "",
            "the config file is empty; it needs at least `site.title` and `site.url`",
        ));
    }
    let mut key = String::new();
    let result: Result<RawConfig, serde_saphyr::Error> =
        serde_saphyr::with_deserializer_from_str(text, |de| {
            serde_path_to_error::deserialize(de).map_err(|e| {
                key = e.path().to_string();
                e.into_inner()
            })
        });
    result.map_err(|err| {
        use serde_saphyr::MessageFormatter;
        let inner = err.without_snippet();
        let raw_message = serde_saphyr::DefaultMessageFormatter
            .format_message(inner)
            .into_owned();
        let key = if key == "." {
            String::new()
        } else {
            key.clone()
        };
        let message = friendly_serde_message(&raw_message);
        let mut e = ConfigError::new(path, key, message);
        if let Some(loc) = err.location() {
            e.line = u32::try_from(loc.line()).ok();
            e.column = u32::try_from(loc.column()).ok();
        }
        e
    })
}

/// Rewrites serde's wording into herald's: unknown keys get the nearest valid
/// key; type errors say what was expected and what was found.
fn friendly_serde_message(message: &str) -> String {
    if let Some(rest) = message.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        let valid: Vec<&str> = expected
            .trim_start_matches(", expected one of ")
            .trim_start_matches(", expected ")
            .split(", ")
            .map(|s| s.trim_matches('`'))
            .filter(|s| !s.is_empty())
            .collect();
        return match nearest(field, &valid) {
            Some(best) => format!("unknown key `{field}`; did you mean `{best}`?"),
            None => format!("unknown key `{field}`; valid keys are {}", valid.join(", ")),
        };
    }
    if let Some(rest) = message.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        return format!("missing required key `{field}`");
    }
    if let Some(rest) = message.strip_prefix("invalid type: ")
        && let Some((found, expected)) = rest.split_once(", expected ")
    {
        return format!("expected {expected}, found {found}");
    }
    message.to_string()
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

struct Validator<'a> {
    path: &'a Path,
    base: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Validator<'_> {
    fn err(&self, key: &str, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.path, key, message)
    }

    /// Expands `${NAME}` in a plain (non-secret) value.
    fn text(&self, key: &str, value: &str) -> Result<String, ConfigError> {
        expand_env(value, self.env).map_err(|e| self.err(key, e.to_string()))
    }

    fn http_url(&self, key: &str, value: &str) -> Result<Url, ConfigError> {
        let value = self.text(key, value)?;
        let url = Url::parse(&value).map_err(|e| {
            let hint = if matches!(e, url::ParseError::RelativeUrlWithoutBase) {
                " (it must be absolute, like https://example.com/)"
            } else {
                ""
            };
            self.err(key, format!("{value:?} is not a valid URL: {e}{hint}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(self.err(
                key,
                format!("{value:?} must be an absolute http(s) URL, like https://example.com/"),
            ));
        }
        Ok(url)
    }

    /// A URL used as a base for joins: its path must end in `/`.
    fn base_url(&self, key: &str, value: &str) -> Result<Url, ConfigError> {
        let mut url = self.http_url(key, value)?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(url)
    }

    fn local_path(&self, key: &str, value: &str) -> Result<PathBuf, ConfigError> {
        let value = self.text(key, value)?;
        if value.trim().is_empty() {
            return Err(self.err(key, "must not be empty"));
        }
        Ok(paths::resolve(self.base, Path::new(&value)))
    }

    fn duration(
        &self,
        key: &str,
        value: Option<DurationText>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match value {
            None => Ok(default),
            Some(DurationText(text)) => parse_duration(&text).map_err(|e| self.err(key, e)),
        }
    }

    /// Like `duration`, also taking milliseconds (`250ms`).
    fn duration_ms(
        &self,
        key: &str,
        value: Option<DurationText>,
        default: Duration,
    ) -> Result<Duration, ConfigError> {
        match value {
            Some(DurationText(t)) if t.trim().ends_with("ms") => t
                .trim()
                .trim_end_matches("ms")
                .parse::<u64>()
                .map(Duration::from_millis)
                .map_err(|_| {
                    self.err(
                        key,
                        format!("expected a duration such as 250ms or 2s, found {t:?}"),
                    )
                }),
            other => self.duration(key, other, default),
        }
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let site = self.site(raw.site)?;
        let content = self.content(raw.content)?;
        let feeds = self.feeds(raw.feeds, &site)?;
        let social = self.social(raw.social)?;
        let schedule = ScheduleSettings {
            cron: match raw.schedule.cron {
                Some(c) => {
                    let c = self.text("schedule.cron", &c)?;
                    if c.split_whitespace().count() != 5 {
                        return Err(self.err(
                            "schedule.cron",
                            format!(
                                "expected 5 fields (minute hour day month weekday), found {c:?}"
                            ),
                        ));
                    }
                    c
                }
                None => "*/15 * * * *".to_string(),
            },
        };
        let state = StateSettings {
            path: self.local_path(
                "state.path",
                raw.state.path.as_deref().unwrap_or("../.herald/state.db"),
            )?,
            cache: raw.state.cache.unwrap_or(true),
        };
        Ok(Config {
            file: self.path.to_path_buf(),
            site,
            content,
            feeds,
            social,
            schedule,
            state,
        })
    }

    fn site(&self, raw: Option<RawSite>) -> Result<Site, ConfigError> {
        let raw = raw.ok_or_else(|| {
            self.err(
                "site",
                "missing required section; it needs at least `title` and `url`",
            )
        })?;
        let title = self.text("site.title", &raw.title)?;
        if title.trim().is_empty() {
            return Err(self.err("site.title", "must not be empty"));
        }
        let url = self.base_url("site.url", &raw.url)?;
        let description = match raw.description {
            Some(d) => self.text("site.description", &d)?,
            None => title.clone(),
        };
        let language = match raw.language {
            Some(l) => {
                let l = self.text("site.language", &l)?;
                if !is_language_tag(&l) {
                    return Err(self.err(
                        "site.language",
                        format!("{l:?} is not a language tag such as en or pt-BR"),
                    ));
                }
                l
            }
            None => "en".to_string(),
        };
        let author = match raw.author {
            Some(a) => Author {
                name: self.text("site.author.name", &a.name)?,
                email: a
                    .email
                    .map(|e| self.text("site.author.email", &e))
                    .transpose()?,
                url: a
                    .url
                    .map(|u| self.http_url("site.author.url", &u))
                    .transpose()?,
            },
            None => Author {
                name: title.clone(),
                email: None,
                url: None,
            },
        };
        Ok(Site {
            title,
            url,
            description,
            language,
            author,
        })
    }

    fn content(&self, raw: RawContent) -> Result<ContentSettings, ConfigError> {
        let dir = self.local_path("content.dir", raw.dir.as_deref().unwrap_or("../content"))?;
        let extensions = raw
            .extensions
            .unwrap_or_else(|| vec!["md".into(), "markdown".into(), "txt".into()])
            .into_iter()
            .map(|e| e.trim_start_matches('.').to_ascii_lowercase())
            .collect::<Vec<_>>();
        if extensions.is_empty() {
            return Err(self.err(
                "content.extensions",
                "must name at least one file extension",
            ));
        }
        let permalink = raw
            .permalink
            .unwrap_or_else(|| "/articles/{slug}/".to_string());
        validate_permalink(&permalink).map_err(|m| self.err("content.permalink", m))?;
        let tz_name = raw.timezone.unwrap_or_else(|| "UTC".to_string());
        let timezone: Tz = tz_name.parse().map_err(|_| {
            let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
            let hint = nearest(&tz_name, &names)
                .map(|n| format!("; did you mean `{n}`?"))
                .unwrap_or_else(|| " (use an IANA name such as Europe/Paris)".to_string());
            self.err(
                "content.timezone",
                format!("unknown time zone {tz_name:?}{hint}"),
            )
        })?;
        let time_text = raw.publish_time.unwrap_or_else(|| "09:00".to_string());
        let publish_time = NaiveTime::parse_from_str(&time_text, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&time_text, "%H:%M:%S"))
            .map_err(|_| {
                self.err(
                    "content.publish_time",
                    format!("expected a time of day such as \"09:00\", found {time_text:?}"),
                )
            })?;
        Ok(ContentSettings {
            dir,
            extensions,
            permalink,
            timezone,
            publish_time,
            max_file_size: raw.max_file_size.map_or(10_000_000, |b| b.0),
        })
    }

    fn feeds(&self, raw: RawFeeds, site: &Site) -> Result<FeedSettings, ConfigError> {
        let file = |key: &str,
                    value: Option<FileOrOff>,
                    default: &str|
         -> Result<Option<String>, ConfigError> {
            match value {
                None | Some(FileOrOff::Default) => Ok(Some(default.to_string())),
                Some(FileOrOff::Off) => Ok(None),
                Some(FileOrOff::File(name)) => {
                    let name = self.text(key, &name)?;
                    validate_feed_file_name(&name).map_err(|m| self.err(key, m))?;
                    Ok(Some(name))
                }
            }
        };
        let rss = file("feeds.rss", raw.rss, "feed.xml")?;
        let atom = file("feeds.atom", raw.atom, "atom.xml")?;
        let json = file("feeds.json", raw.json, "feed.json")?;
        let names: Vec<&String> = [&rss, &atom, &json].into_iter().flatten().collect();
        let unique: BTreeSet<&String> = names.iter().copied().collect();
        if unique.len() != names.len() {
            return Err(self.err("feeds", "rss, atom and json must be different file names"));
        }
        let websub_hubs = raw
            .websub_hubs
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, h)| self.http_url(&format!("feeds.websub_hubs[{i}]"), h))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FeedSettings {
            dir: self.local_path("feeds.dir", raw.dir.as_deref().unwrap_or("../public"))?,
            url: match raw.url {
                Some(u) => self.base_url("feeds.url", &u)?,
                None => site.url.clone(),
            },
            title: raw
                .title
                .map(|t| self.text("feeds.title", &t))
                .transpose()?,
            limit: match raw.limit.map_or(20, |c| c.0) {
                0 => None,
                n => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            },
            full_content: raw.full_content.unwrap_or(true),
            rss,
            atom,
            json,
            per_tag: raw.per_tag.unwrap_or(false),
            websub_hubs,
        })
    }

    fn social(&self, raw: RawSocial) -> Result<SocialSettings, ConfigError> {
        let mut targets = Vec::with_capacity(raw.targets.len());
        let mut seen = BTreeSet::new();
        for (i, t) in raw.targets.into_iter().enumerate() {
            let target = self.target(i, t)?;
            if !seen.insert(target.name.clone()) {
                return Err(self.err(
                    &format!("social.targets[{i}].name"),
                    format!(
                        "two targets are named {:?}; names must be unique",
                        target.name
                    ),
                ));
            }
            targets.push(target);
        }
        let max_attempts = raw.max_attempts.map_or(5, |c| c.0);
        if max_attempts == 0 {
            return Err(self.err("social.max_attempts", "must be at least 1"));
        }
        Ok(SocialSettings {
            max_age: self.duration(
                "social.max_age",
                raw.max_age,
                Duration::from_secs(7 * 86_400),
            )?,
            min_interval: self.duration("social.min_interval", raw.min_interval, Duration::ZERO)?,
            max_per_run: u32::try_from(raw.max_per_run.map_or(5, |c| c.0)).unwrap_or(u32::MAX),
            max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
            on_edit: raw.on_edit.unwrap_or_default(),
            template: raw.template,
            allow_private_network: raw.allow_private_network.unwrap_or(false),
            retry_base: self.duration_ms(
                "social.retry_base",
                raw.retry_base,
                Duration::from_secs(1),
            )?,
            max_wait: self.duration("social.max_wait", raw.max_wait, Duration::from_secs(60))?,
            targets,
        })
    }

    fn target(&self, index: usize, raw: RawTarget) -> Result<Target, ConfigError> {
        let at = |key: &str| format!("social.targets[{index}].{key}");
        let name = raw.name.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(self.err(
                &at("name"),
                format!("{:?} must be letters, digits, '-' or '_'", raw.name),
            ));
        }
        let kind = raw.kind.trim();
        let Some((_, required, optional)) = TARGET_KEYS.iter().find(|(t, _, _)| *t == kind) else {
            let types: Vec<&str> = TARGET_KEYS.iter().map(|(t, _, _)| *t).collect();
            let hint = nearest(kind, &types)
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            return Err(self.err(
                &at("type"),
                format!(
                    "target {name:?} has unknown type {kind:?}; {hint}supported types: {}",
                    types.join(", ")
                ),
            ));
        };
        let present: Vec<(&str, bool)> = vec![
            ("url", raw.url.is_some()),
            ("secret", raw.secret.is_some()),
            ("headers", raw.headers.is_some()),
            ("bot_token", raw.bot_token.is_some()),
            ("chat_id", raw.chat_id.is_some()),
            ("api_url", raw.api_url.is_some()),
            ("instance", raw.instance.is_some()),
            ("token", raw.token.is_some()),
            ("service", raw.service.is_some()),
            ("identifier", raw.identifier.is_some()),
            ("app_password", raw.app_password.is_some()),
        ];
        let takes: Vec<&str> = required.iter().chain(optional.iter()).copied().collect();
        for (key, is_set) in &present {
            if *is_set && !takes.contains(key) {
                return Err(self.err(
                    &at(key),
                    format!(
                        "a {kind} target does not take `{key}`; it takes {}",
                        takes.join(", ")
                    ),
                ));
            }
        }
        for key in *required {
            if !present.iter().any(|(k, set)| k == key && *set) {
                return Err(self.err(
                    &at(key),
                    format!("target {name:?} ({kind}) is missing required key `{key}`"),
                ));
            }
        }
        let secret = |v: Option<String>| Secret::new(v.unwrap_or_default());
        let platform = match kind {
            "slack" => Platform::Slack {
                url: secret(raw.url),
            },
            "discord" => Platform::Discord {
                url: secret(raw.url),
            },
            "teams" => Platform::Teams {
                url: secret(raw.url),
            },
            "google_chat" => Platform::GoogleChat {
                url: secret(raw.url),
            },
            "mattermost" => Platform::Mattermost {
                url: secret(raw.url),
            },
            "telegram" => Platform::Telegram {
                bot_token: secret(raw.bot_token),
                chat_id: self.text(&at("chat_id"), raw.chat_id.as_deref().unwrap_or_default())?,
                api_url: self.http_url(
                    &at("api_url"),
                    raw.api_url.as_deref().unwrap_or("https://api.telegram.org"),
                )?,
            },
            "mastodon" => Platform::Mastodon {
                instance: self
                    .http_url(&at("instance"), raw.instance.as_deref().unwrap_or_default())?,
                token: secret(raw.token),
            },
            "bluesky" => Platform::Bluesky {
                service: self.http_url(
                    &at("service"),
                    raw.service.as_deref().unwrap_or("https://bsky.social"),
                )?,
                identifier: self.text(
                    &at("identifier"),
                    raw.identifier.as_deref().unwrap_or_default(),
                )?,
                app_password: secret(raw.app_password),
            },
            _ => Platform::Webhook {
                url: secret(raw.url),
                secret: raw.secret.map(Secret::new),
                headers: raw
                    .headers
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| (k, Secret::new(v)))
                    .collect(),
            },
        };
        Ok(Target {
            name,
            platform,
            template: raw.template,
            enabled: raw.enabled.unwrap_or(true),
            min_interval: raw
                .min_interval
                .map(|d| self.duration(&at("min_interval"), Some(d), Duration::ZERO))
                .transpose()?,
            max_age: raw
                .max_age
                .map(|d| self.duration(&at("max_age"), Some(d), Duration::ZERO))
                .transpose()?,
            max_per_run: raw
                .max_per_run
                .map(|c| u32::try_from(c.0).unwrap_or(u32::MAX)),
            timeout: self.duration(&at("timeout"), raw.timeout, Duration::from_secs(30))?,
        })
    }
}

fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let first = parts.next().unwrap_or_default();
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

fn validate_permalink(pattern: &str) -> Result<(), String> {
    if !pattern.contains("{slug}") {
        return Err(format!(
            "{pattern:?} must contain {{slug}} so that every article gets its own address"
        ));
    }
    let mut rest = pattern;
    while let Some(start) = rest.find('{') {
        let Some(end) = rest[start..].find('}') else {
            return Err(format!("{pattern:?} has a `{{` without a closing `}}`"));
        };
        let name = &rest[start + 1..start + end];
        if !matches!(name, "slug" | "year" | "month" | "day") {
            return Err(format!(
                "unknown placeholder {{{name}}} in {pattern:?}; use {{slug}}, {{year}}, {{month}} or {{day}}"
            ));
        }
        rest = &rest[start + end + 1..];
    }
    if pattern.contains("://") {
        return Err(format!(
            "{pattern:?} must be a path (like /articles/{{slug}}/); it is joined to site.url"
        ));
    }
    Ok(())
}

fn validate_feed_file_name(name: &str) -> Result<(), String> {
    let path = Path::new(name);
    if name.is_empty()
        || path.is_absolute()
        || path
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "{name:?} must be a file name inside feeds.dir (no absolute path, no `..`)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "SLACK_URL" => Some("https://hooks.slack.com/services/T/B/X".to_string()),
            "SITE" => Some("https://example.com".to_string()),
            _ => None,
        }
    }

    fn parse_ok(text: &str) -> Config {
        parse(Path::new("config/herald.yaml"), text, &env).expect("config parses")
    }

    fn parse_err(text: &str) -> ConfigError {
        parse(Path::new("config/herald.yaml"), text, &env).expect_err("config is refused")
    }

    const MINIMAL: &str = "site:\n  title: Example\n  url: https://example.com\n";

    #[test]
    fn defaults_fill_everything_optional() {
        let c = parse_ok(MINIMAL);
        assert_eq!(c.site.url.as_str(), "https://example.com/");
        assert_eq!(c.site.language, "en");
        assert_eq!(c.content.dir, PathBuf::from("content"));
        assert_eq!(c.feeds.dir, PathBuf::from("public"));
        assert_eq!(c.state.path, PathBuf::from(".herald/state.db"));
        assert_eq!(c.feeds.limit, Some(20));
        assert_eq!(c.feeds.rss.as_deref(), Some("feed.xml"));
        assert_eq!(c.social.max_age, Duration::from_secs(7 * 86_400));
        assert_eq!(
            c.content.publish_time,
            NaiveTime::from_hms_opt(9, 0, 0).unwrap()
        );
    }

    #[test]
    fn errors_name_the_key_path_and_position() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "site: {title: A, url: https://a.example}\nfeeds:\n  limit: ten\n",
                "feeds.limit",
                "expected a positive number, found \"ten\"",
            ),
            (
                "site: {title: A, url: https://a.example}\nfeeds:\n  limt: 3\n",
                "feeds.limt",
                "unknown key `limt`; did you mean `limit`?",
            ),
            (
                "site: {title: A, url: /relative}\n",
                "site.url",
                "must be absolute",
            ),
            (
                "site: {title: A, url: https://a.example}\ncontent: {timezone: Europe/Pari}\n",
                "content.timezone",
                "did you mean `Europe/Paris`?",
            ),
            (
                "site: {title: A, url: https://a.example}\nsocial:\n  max_age: 7 days\n",
                "social.max_age",
                "expected a duration",
            ),
            (
                "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: slak, url: u}\n",
                "social.targets[0].type",
                "did you mean `slack`?",
            ),
            (
                "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: mastodon, instance: https://m.example}\n",
                "social.targets[0].token",
                "missing required key `token`",
            ),
            (
                "site: {title: A, url: https://a.example}\nsocial:\n  targets:\n    - {name: x, type: slack, url: u, token: t}\n",
                "social.targets[0].token",
                "does not take `token`; it takes url",
            ),
            (
                "site: {title: A, url: \"${NOPE}\"}\n",
                "site.url",
                "environment variable NOPE is not set",
            ),
            (
                "site: {title: A, url: https://a.example}\ncontent: {permalink: /posts/}\n",
                "content.permalink",
                "must contain {slug}",
            ),
        ];
        for (text, key, needle) in cases {
            let e = parse_err(text);
            assert_eq!(&e.key, key, "{text}");
            assert!(e.message.contains(needle), "{text}: {}", e.message);
        }
        let e = parse_err("site: {title: A, url: https://a.example}\nfeeds:\n  limit: ten\n");
        assert_eq!((e.line, e.column), (Some(3), Some(10)));
        assert_eq!(
            e.to_string(),
            "config/herald.yaml:3:10: error: feeds.limit: expected a positive number, found \"ten\""
        );
    }

    #[test]
    fn environment_is_interpolated_and_secrets_stay_unexpanded() {
        let c = parse_ok(
            "site: {title: A, url: \"${SITE}\"}\nsocial:\n  targets:\n    - {name: s, type: slack, url: \"${SLACK_URL}\"}\n",
        );
        assert_eq!(c.site.url.as_str(), "https://example.com/");
        let Platform::Slack { url } = &c.social.targets[0].platform else {
            panic!("slack target");
        };
        assert_eq!(format!("{url:?}"), "Secret(${SLACK_URL})");
        assert_eq!(url.to_string(), "${SLACK_URL}");
    }

    #[test]
    fn errors_found_after_parsing_still_point_at_their_line() {
        let text = "site:\n  title: A\n  url: /relative\nsocial:\n  targets:\n    - name: a\n      type: slack\n      url: u\n    - name: b\n      type: mastodon\n      instance: https://m.example\n";
        let e = parse_err(text);
        assert_eq!(
            (e.key.as_str(), e.line, e.column),
            ("site.url", Some(3), Some(3))
        );
        let e = parse_err(&text.replace("/relative", "https://a.example"));
        assert_eq!(e.key, "social.targets[1].token");
        assert_eq!((e.line, e.column), (Some(9), Some(7)));
    }

    #[test]
    fn expand_env_handles_defaults_and_escapes() {
        let look = |n: &str| (n == "A").then(|| "x".to_string());
        assert_eq!(expand_env("${A}-${B:-d}-$$-$5", &look).unwrap(), "x-d-$-$5");
        assert_eq!(expand_env("${B}", &look), Err(MissingEnv("B".into())));
    }

    #[test]
    fn durations_parse_with_units() {
        let cases = [
            ("0s", 0),
            ("90s", 90),
            ("15m", 900),
            ("2h", 7200),
            ("7d", 604_800),
            ("36500d", 3_153_600_000),
            ("1h30m", 5400),
            ("45", 45),
        ];
        for (text, secs) in cases {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_secs(secs)),
                "{text}"
            );
        }
        for bad in ["", "7 days", "h", "1x", "5m3"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_resolve_against_the_config_folder() {
        let c = parse(
            Path::new("/srv/site/config/herald.yaml"),
            "site: {title: A, url: https://a.example}\ncontent: {dir: ../articles}\nfeeds: {dir: /var/www/feeds}\n",
            &env,
        )
        .unwrap();
        assert_eq!(c.content.dir, PathBuf::from("/srv/site/articles"));
        assert_eq!(c.feeds.dir, PathBuf::from("/var/www/feeds"));
    }

    #[test]
    fn feed_formats_can_be_turned_off() {
        let c = parse_ok(
            "site: {title: A, url: https://a.example}\nfeeds: {rss: false, json: news.json, limit: 0}\n",
        );
        assert_eq!(c.feeds.rss, None);
        assert_eq!(c.feeds.json.as_deref(), Some("news.json"));
        assert_eq!(c.feeds.limit, None);
        let e = parse_err("site: {title: A, url: https://a.example}\nfeeds: {json: ../x.json}\n");
        assert_eq!(e.key, "feeds.json");
    }
}
