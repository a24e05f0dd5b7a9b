//! From the spanned raw config to `Config`: defaults, `${ENV}` in plain
//! values, URLs, paths, time zones, the schedule, and each target read by
//! its platform. Every error carries the key path and the span serde-saphyr
//! recorded for the value.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::NaiveTime;
use chrono_tz::Tz;
use url::Url;

use super::raw::{
    At, FileOrOff, RawConfig, RawContent, RawFeeds, RawSite, RawSocial, RawTarget, line_col,
};
use super::{
    Author, Config, ConfigError, ContentSettings, FeedSettings, MonitoringSettings, Schedule,
    ScheduleSettings, Site, SocialSettings, StateSettings, SyndicationSettings, Target, nearest,
};
use crate::paths;
use crate::secret::expand_env;
use crate::social::keys::{KeyProblem, Keys, SerdeProblem, http_url, serde_problem};
use crate::units::{Count, Text, TimeSpan};

/// The keys every target takes, whatever its platform.
const COMMON_TARGET_KEYS: &[&str] = &[
    "name",
    "type",
    "template",
    "enabled",
    "min_interval",
    "max_age",
    "max_per_run",
    "timeout",
    "on_unpublish",
    "hashtags",
    "utm",
    "delay",
    "windows",
    "approval",
    "thread",
    "link_in_reply",
    "reshare",
];

/// Reads the posting options among `values` (a target's keys, or those
/// under `social`); an error names the key and says what it must be.
fn posting(
    values: &BTreeMap<String, &At<serde_json::Value>>,
) -> Result<crate::config::Posting, (&'static str, String)> {
    fn read<T: serde::de::DeserializeOwned>(
        values: &BTreeMap<String, &At<serde_json::Value>>,
        key: &'static str,
    ) -> Result<Option<T>, (&'static str, String)> {
        values
            .get(key)
            .map(|v| {
                serde_json::from_value::<T>(v.value.clone())
                    .map_err(|e| (key, friendly_serde_message(&e.to_string())))
            })
            .transpose()
    }
    let utm: Option<crate::social::utm::Utm> = read(values, "utm")?;
    if let Some(name) = utm.as_ref().and_then(|u| u.unknown_placeholder()) {
        return Err((
            "utm",
            format!("unknown placeholder {{{name}}}; use {{target}}, {{platform}} or {{slug}}"),
        ));
    }
    let reshare: Option<crate::config::Reshare> = read(values, "reshare")?;
    if let Some(r) = &reshare {
        if r.after.is_zero() || r.every.is_zero() {
            return Err(("reshare", "after and every must be longer than 0s".into()));
        }
        if r.max == 0 {
            return Err(("reshare", "max must be at least 1".into()));
        }
    }
    let windows: Option<Vec<crate::window::Window>> = read(values, "windows")?;
    if windows.as_ref().is_some_and(Vec::is_empty) {
        return Err((
            "windows",
            "an empty list would never post; leave `windows` out to post at any time".into(),
        ));
    }
    Ok(crate::config::Posting {
        hashtags: read(values, "hashtags")?,
        utm,
        delay: read(values, "delay")?,
        windows,
        approval: read(values, "approval")?,
        thread: read(values, "thread")?,
        link_in_reply: read(values, "link_in_reply")?,
        reshare,
    })
}

/// Parses the YAML into the raw types, with the key path and position of
/// any error.
pub(super) fn parse_raw(path: &Path, text: &str) -> Result<RawConfig, ConfigError> {
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
        let key = people_key(&key);
        let mut e = ConfigError::new(path, key, friendly_serde_message(&raw_message));
        if let Some(loc) = err.location() {
            e = e.at(line_col(&loc));
        }
        e
    })
}

/// serde's wording in herald's: unknown keys get the nearest valid key;
/// type errors say what was expected and what was found.
fn friendly_serde_message(message: &str) -> String {
    match serde_problem(message) {
        SerdeProblem::Unknown { field, expected } => {
            let valid: Vec<&str> = expected.iter().map(String::as_str).collect();
            match nearest(&field, &valid) {
                Some(best) => format!("unknown key `{field}`; did you mean `{best}`?"),
                None => format!("unknown key `{field}`; valid keys are {}", valid.join(", ")),
            }
        }
        SerdeProblem::Missing { field } => format!("missing required key `{field}`"),
        SerdeProblem::Other(m) => yaml_for_people(&m),
    }
}

/// The YAML library's wording, written for its own users, in herald's.
fn yaml_for_people(message: &str) -> String {
    if message.contains("tabs disallowed") {
        return "a tab in the indentation: YAML is indented with spaces only".to_string();
    }
    if let Some(rest) = message.split("duplicate mapping key: ").nth(1) {
        let name = rest.split(',').next().unwrap_or(rest).trim();
        return format!("the key `{name}` is given twice; keep one of them");
    }
    if message.contains("mapping values are not allowed") {
        return "a `: ` inside a value: quote the value (title: \"Notes: a blog\")".to_string();
    }
    message.to_string()
}

/// serde's key path as a person reads it: no `?` for a key it could not
/// name, no `.value` of a spanned value.
fn people_key(key: &str) -> String {
    key.split('.')
        .filter(|part| !matches!(*part, "" | "?" | "value"))
        .collect::<Vec<_>>()
        .join(".")
}

pub(super) struct Validator<'a> {
    path: &'a Path,
    base: &'a Path,
    env: &'a dyn Fn(&str) -> Option<String>,
    locations: BTreeMap<String, (u32, u32)>,
    /// Problems that left the rest to check (a target that is wrong is
    /// left out, and the others are still read).
    pub(super) problems: Vec<ConfigError>,
}

impl<'a> Validator<'a> {
    pub(super) fn new(
        path: &'a Path,
        base: &'a Path,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> Self {
        Validator {
            path,
            base,
            env,
            locations: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    fn err<T>(&self, key: &str, at: Option<&At<T>>, message: impl Into<String>) -> ConfigError {
        ConfigError::new(self.path, key, message).at(at.and_then(|a| line_col(&a.referenced)))
    }

    fn remember<T>(&mut self, key: &str, at: &At<T>) {
        if let Some(lc) = line_col(&at.referenced) {
            self.locations.insert(key.to_string(), lc);
        }
    }

    /// Where default paths start, from the config file's folder: the
    /// site's folder is that folder, or its parent when the config sits in
    /// a folder named `config` (`config/herald.yaml`), so that no default
    /// lands outside the site.
    fn site_prefix(&self) -> &'static str {
        if self.base.file_name().is_some_and(|n| n == "config") {
            "../"
        } else {
            ""
        }
    }

    /// A plain (non-secret) value with `${NAME}` expanded.
    fn text(&self, key: &str, value: &At<Text>) -> Result<String, ConfigError> {
        expand_env(&value.value.0, self.env).map_err(|e| self.err(key, Some(value), e.to_string()))
    }

    fn http_url(&self, key: &str, value: &At<Text>) -> Result<Url, ConfigError> {
        let text = self.text(key, value)?;
        http_url(&text).map_err(|m| self.err(key, Some(value), m))
    }

    /// A URL used as a base for joins: its path must end in `/`.
    fn base_url(&self, key: &str, value: &At<Text>) -> Result<Url, ConfigError> {
        let mut url = self.http_url(key, value)?;
        if !url.path().ends_with('/') {
            let path = format!("{}/", url.path());
            url.set_path(&path);
        }
        Ok(url)
    }

    fn local_path(
        &self,
        key: &str,
        value: Option<&At<Text>>,
        default: &str,
    ) -> Result<PathBuf, ConfigError> {
        let text = match value {
            Some(v) => self.text(key, v)?,
            None if default.is_empty() => String::new(),
            None => format!("{}{default}", self.site_prefix()),
        };
        if text.trim().is_empty() {
            return Err(self.err(key, value, "must not be empty"));
        }
        Ok(paths::resolve(self.base, Path::new(&text)))
    }

    /// The config, and the problems that left it usable (with the wrong
    /// targets left out); `Err` for a problem that leaves nothing to use.
    pub(super) fn config(
        mut self,
        raw: RawConfig,
    ) -> Result<(Config, Vec<ConfigError>), ConfigError> {
        let site = self.site(raw.site)?;
        let content = self.content(raw.content)?;
        let feeds = self.feeds(raw.feeds, &site)?;
        let social = self.social(raw.social)?;
        let cron = match &raw.schedule.cron {
            Some(c) => {
                let text = self.text("schedule.cron", c)?;
                Schedule::parse(&text).map_err(|m| self.err("schedule.cron", Some(c), m))?
            }
            None => Schedule::parse("*/15 * * * *")
                .map_err(|m| self.err::<Text>("schedule.cron", None, m))?,
        };
        let state = StateSettings {
            path: self.local_path("state.path", raw.state.path.as_ref(), ".herald/state.db")?,
            cache: raw.state.cache.unwrap_or(true),
            url: match &raw.state.url {
                Some(u) => {
                    let text = self.text("state.url", u)?;
                    crate::ledger::DatabaseUrl::check(&text)
                        .map_err(|m| self.err("state.url", Some(u), m))?;
                    Some(crate::ledger::DatabaseUrl {
                        url: crate::secret::Secret::new(u.value.0.clone()),
                    })
                }
                None => None,
            },
        };
        let monitoring = MonitoringSettings {
            healthcheck_url: raw.monitoring.healthcheck_url,
            metrics_file: match &raw.monitoring.metrics_file {
                Some(p) => Some(self.local_path("monitoring.metrics_file", Some(p), "")?),
                None => None,
            },
        };
        let syndication = SyndicationSettings {
            data_dir: match &raw.syndication.data_dir {
                Some(p) => Some(self.local_path("syndication.data_dir", Some(p), "")?),
                None => None,
            },
        };
        let problems = std::mem::take(&mut self.problems);
        Ok((
            Config {
                file: self.path.to_path_buf(),
                site,
                content,
                feeds,
                social,
                schedule: ScheduleSettings { cron },
                state,
                monitoring,
                syndication,
                locations: self.locations,
            },
            problems,
        ))
    }

    fn site(&self, raw: Option<At<RawSite>>) -> Result<Site, ConfigError> {
        let raw = raw.ok_or_else(|| {
            self.err::<Text>(
                "site",
                None,
                "missing required section; it needs at least `title` and `url`",
            )
        })?;
        let raw = raw.value;
        let title = self.text("site.title", &raw.title)?;
        if title.trim().is_empty() {
            return Err(self.err("site.title", Some(&raw.title), "must not be empty"));
        }
        let url = self.base_url("site.url", &raw.url)?;
        let description = match &raw.description {
            Some(d) => self.text("site.description", d)?,
            None => title.clone(),
        };
        let language = match &raw.language {
            Some(l) => {
                let text = self.text("site.language", l)?;
                if !is_language_tag(&text) {
                    return Err(self.err(
                        "site.language",
                        Some(l),
                        format!("{text:?} is not a language tag such as en or pt-BR"),
                    ));
                }
                text
            }
            None => "en".to_string(),
        };
        let author = match &raw.author {
            Some(a) => Author {
                name: self.text("site.author.name", &a.name)?,
                email: a
                    .email
                    .as_ref()
                    .map(|e| self.text("site.author.email", e))
                    .transpose()?,
                url: a
                    .url
                    .as_ref()
                    .map(|u| self.http_url("site.author.url", u))
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
        let dir = self.local_path("content.dir", raw.dir.as_ref(), "content")?;
        let extensions: Vec<String> = match &raw.extensions {
            Some(list) => list
                .value
                .iter()
                .map(|e| e.0.trim_start_matches('.').to_ascii_lowercase())
                .collect(),
            None => vec!["md".into(), "markdown".into(), "txt".into()],
        };
        if extensions.is_empty() {
            return Err(self.err(
                "content.extensions",
                raw.extensions.as_ref(),
                "must name at least one file extension",
            ));
        }
        let permalink = match &raw.permalink {
            Some(p) => {
                let text = self.text("content.permalink", p)?;
                validate_permalink(&text).map_err(|m| self.err("content.permalink", Some(p), m))?;
                text
            }
            None => "/articles/{slug}/".to_string(),
        };
        let timezone: Tz = match &raw.timezone {
            None => Tz::UTC,
            Some(t) => {
                let name = self.text("content.timezone", t)?;
                name.parse().map_err(|_| {
                    let names: Vec<&str> =
                        chrono_tz::TZ_VARIANTS.iter().map(|t| t.name()).collect();
                    let hint = nearest(&name, &names)
                        .map(|n| format!("; did you mean `{n}`?"))
                        .unwrap_or_else(|| " (use an IANA name such as Europe/Paris)".to_string());
                    self.err(
                        "content.timezone",
                        Some(t),
                        format!("unknown time zone {name:?}{hint}"),
                    )
                })?
            }
        };
        let publish_time = match &raw.publish_time {
            None => NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            Some(t) => {
                let text = self.text("content.publish_time", t)?;
                NaiveTime::parse_from_str(&text, "%H:%M")
                    .or_else(|_| NaiveTime::parse_from_str(&text, "%H:%M:%S"))
                    .map_err(|_| {
                        self.err(
                            "content.publish_time",
                            Some(t),
                            format!("expected a time of day such as \"09:00\", found {text:?}"),
                        )
                    })?
            }
        };
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
                    value: &Option<At<FileOrOff>>,
                    default: &str|
         -> Result<Option<String>, ConfigError> {
            match value.as_ref().map(|v| &v.value) {
                None | Some(FileOrOff::Default) => Ok(Some(default.to_string())),
                Some(FileOrOff::Off) => Ok(None),
                Some(FileOrOff::File(name)) => {
                    let name = expand_env(name, self.env)
                        .map_err(|e| self.err(key, value.as_ref(), e.to_string()))?;
                    validate_feed_file_name(&name).map_err(|m| self.err(key, value.as_ref(), m))?;
                    Ok(Some(name))
                }
            }
        };
        let rss = file("feeds.rss", &raw.rss, "feed.xml")?;
        let atom = file("feeds.atom", &raw.atom, "atom.xml")?;
        let json = file("feeds.json", &raw.json, "feed.json")?;
        let names: Vec<&String> = [&rss, &atom, &json].into_iter().flatten().collect();
        let unique: BTreeSet<&String> = names.iter().copied().collect();
        if unique.len() != names.len() {
            return Err(self.err(
                "feeds",
                raw.json.as_ref().or(raw.atom.as_ref()),
                "rss, atom and json must be different file names",
            ));
        }
        let websub_hubs = raw
            .websub_hubs
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, h)| self.http_url(&format!("feeds.websub_hubs[{i}]"), h))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FeedSettings {
            dir: self.local_path("feeds.dir", raw.dir.as_ref(), "public")?,
            url: match &raw.url {
                Some(u) => self.base_url("feeds.url", u)?,
                None => site.url.clone(),
            },
            title: raw
                .title
                .as_ref()
                .map(|t| self.text("feeds.title", t))
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
            archive_page_size: match &raw.archive {
                None => None,
                Some(a) if a.value.page_size.0 == 0 => {
                    return Err(self.err("feeds.archive.page_size", Some(a), "must be at least 1"));
                }
                Some(a) => Some(usize::try_from(a.value.page_size.0).unwrap_or(usize::MAX)),
            },
        })
    }

    fn social(&mut self, raw: RawSocial) -> Result<SocialSettings, ConfigError> {
        let mut targets = Vec::with_capacity(raw.targets.len());
        let mut seen = BTreeSet::new();
        for (i, t) in raw.targets.into_iter().enumerate() {
            let target = match self.target(i, t) {
                Ok(target) => target,
                Err(e) => {
                    self.problems.push(e);
                    continue;
                }
            };
            if !seen.insert(target.name.clone()) {
                return Err(ConfigError::new(
                    self.path,
                    target.key("name"),
                    format!(
                        "two targets are named {:?}; names must be unique",
                        target.name
                    ),
                )
                .at(self.locations.get(&target.key("name")).copied()));
            }
            targets.push(target);
        }
        let max_attempts = raw.max_attempts.as_ref().map_or(5, |c| c.value.0);
        if max_attempts == 0 {
            return Err(self.err(
                "social.max_attempts",
                raw.max_attempts.as_ref(),
                "must be at least 1",
            ));
        }
        if let Some(t) = &raw.template {
            self.remember("social.template", t);
        }
        let given: BTreeMap<String, &At<serde_json::Value>> = [
            ("hashtags", &raw.hashtags),
            ("utm", &raw.utm),
            ("delay", &raw.delay),
            ("windows", &raw.windows),
            ("approval", &raw.approval),
            ("thread", &raw.thread),
            ("link_in_reply", &raw.link_in_reply),
            ("reshare", &raw.reshare),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.as_ref()?)))
        .collect();
        let posting = posting(&given).map_err(|(key, message)| {
            self.err(&format!("social.{key}"), given.get(key).copied(), message)
        })?;
        Ok(SocialSettings {
            max_age: raw.max_age.unwrap_or(TimeSpan::from_secs(7 * 86_400)),
            min_interval: raw.min_interval.unwrap_or(TimeSpan::ZERO),
            max_per_run: raw.max_per_run.map_or(5, Count::saturating_u32),
            max_attempts: u32::try_from(max_attempts).unwrap_or(u32::MAX),
            on_edit: raw.on_edit.unwrap_or_default(),
            on_unpublish: raw.on_unpublish.unwrap_or_default(),
            posting,
            template: raw.template.map(|t| t.value),
            allow_private_network: raw.allow_private_network.unwrap_or(false),
            retry_base: raw.retry_base.unwrap_or(TimeSpan::from_secs(1)),
            max_wait: raw.max_wait.unwrap_or(TimeSpan::from_secs(60)),
            targets,
        })
    }

    /// One target: the common keys here, the rest read by its platform.
    fn target(&mut self, index: usize, raw: At<RawTarget>) -> Result<Target, ConfigError> {
        let at = |key: &str| format!("social.targets[{index}].{key}");
        let whole = line_col(&raw.referenced);
        let mut values: BTreeMap<String, &At<serde_json::Value>> = BTreeMap::new();
        let mut keys_at: BTreeMap<String, Option<(u32, u32)>> = BTreeMap::new();
        for (key, value) in &raw.value.entries {
            keys_at.insert(key.value.clone(), line_col(&key.referenced));
            values.insert(key.value.clone(), value);
            if let Some(lc) = line_col(&key.referenced) {
                self.locations.insert(at(&key.value), lc);
            }
        }
        let located = |key: &str, message: String| -> ConfigError {
            let place = values
                .get(key)
                .and_then(|v| line_col(&v.referenced))
                .or_else(|| keys_at.get(key).copied().flatten())
                .or(whole);
            ConfigError::new(self.path, at(key), message).at(place)
        };
        fn common<T: serde::de::DeserializeOwned>(
            values: &BTreeMap<String, &At<serde_json::Value>>,
            key: &str,
        ) -> Result<Option<T>, String> {
            values
                .get(key)
                .map(|v| {
                    serde_json::from_value::<T>(v.value.clone())
                        .map_err(|e| friendly_serde_message(&e.to_string()))
                })
                .transpose()
        }
        let text = |key: &str| -> Result<Option<String>, ConfigError> {
            common::<Text>(&values, key)
                .map_err(|m| located(key, m))
                .map(|t| t.map(|t| t.0))
        };
        let span = |key: &str| -> Result<Option<TimeSpan>, ConfigError> {
            common::<TimeSpan>(&values, key).map_err(|m| located(key, m))
        };

        let name_text = text("name")?.ok_or_else(|| {
            ConfigError::new(self.path, at("name"), "missing required key `name`").at(whole)
        })?;
        let name = name_text.trim().to_string();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(located(
                "name",
                format!("{name_text:?} must be letters, digits, '-' or '_'"),
            ));
        }
        let kinds: Vec<&str> = crate::social::PLATFORMS.iter().map(|e| e.kind).collect();
        let kind = text("type")?.ok_or_else(|| {
            ConfigError::new(
                self.path,
                at("type"),
                format!(
                    "target {name:?} has no `type`; supported types: {}",
                    kinds.join(", ")
                ),
            )
            .at(whole)
        })?;
        let kind = kind.trim();
        let Some(entry) = crate::social::entry(kind) else {
            let hint = nearest(kind, &kinds)
                .map(|n| format!("did you mean `{n}`? "))
                .unwrap_or_default();
            return Err(located(
                "type",
                format!(
                    "target {name:?} has unknown type {kind:?}; {hint}supported types: {}",
                    kinds.join(", ")
                ),
            ));
        };

        let own: serde_json::Map<String, serde_json::Value> = raw
            .value
            .entries
            .iter()
            .filter(|(k, _)| !COMMON_TARGET_KEYS.contains(&k.value.as_str()))
            .map(|(k, v)| (k.value.clone(), v.value.clone()))
            .collect();
        let keys = Keys::new(own, self.env);
        let platform = (entry.read)(&keys).map_err(|e| {
            let top = e.key.split('.').next().unwrap_or_default().to_string();
            match e.problem {
                KeyProblem::Unknown { expected } => {
                    let mut candidates: Vec<&str> = expected.iter().map(String::as_str).collect();
                    candidates.extend(COMMON_TARGET_KEYS.iter().copied());
                    let message = match nearest(&e.key, &candidates) {
                        Some(best) => format!("unknown key `{}`; did you mean `{best}`?", e.key),
                        None => format!(
                            "a {kind} target does not take `{}`; it takes {} (and {})",
                            e.key,
                            expected.join(", "),
                            COMMON_TARGET_KEYS.join(", ")
                        ),
                    };
                    ConfigError::new(self.path, at(&e.key), message).at(keys_at
                        .get(&top)
                        .copied()
                        .flatten()
                        .or(whole))
                }
                KeyProblem::Missing => ConfigError::new(
                    self.path,
                    at(&e.key),
                    format!(
                        "target {name:?} ({kind}) is missing required key `{}`",
                        e.key
                    ),
                )
                .at(whole),
                KeyProblem::Invalid(message) => located(&top, message).with_key(at(&e.key)),
            }
        })?;

        let template = text("template")?;
        let timeout = span("timeout")?.unwrap_or(TimeSpan::from_secs(30));
        if timeout.is_zero() {
            return Err(located("timeout", "must be longer than 0s".to_string()));
        }
        Ok(Target {
            name,
            index,
            platform,
            template,
            enabled: common::<bool>(&values, "enabled")
                .map_err(|m| located("enabled", m))?
                .unwrap_or(true),
            min_interval: span("min_interval")?,
            max_age: span("max_age")?,
            max_per_run: common::<Count>(&values, "max_per_run")
                .map_err(|m| located("max_per_run", m))?
                .map(Count::saturating_u32),
            timeout,
            on_unpublish: common::<crate::config::OnUnpublish>(&values, "on_unpublish")
                .map_err(|m| located("on_unpublish", m))?,
            posting: posting(&values).map_err(|(key, message)| located(key, message))?,
        })
    }
}

impl ConfigError {
    #[must_use]
    fn with_key(mut self, key: String) -> Self {
        self.key = key;
        self
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
