//! The config as written: serde types with unknown keys denied, and
//! serde-saphyr's spans on every value that is checked after parsing, so
//! those errors point at their line and column too.

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_saphyr::{Location, Spanned};

use super::{OnEdit, OnUnpublish};
use crate::units::{ByteSize, Count, Text, TimeSpan};

/// Text as written, and where.
pub(super) type At<T> = Spanned<T>;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub site: Option<At<RawSite>>,
    #[serde(default)]
    pub content: RawContent,
    #[serde(default)]
    pub feeds: RawFeeds,
    #[serde(default)]
    pub social: RawSocial,
    #[serde(default)]
    pub schedule: RawSchedule,
    #[serde(default)]
    pub state: RawState,
    #[serde(default)]
    pub monitoring: RawMonitoring,
    #[serde(default)]
    pub syndication: RawSyndication,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSyndication {
    pub data_dir: Option<At<Text>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMonitoring {
    pub healthcheck_url: Option<crate::secret::Secret>,
    pub metrics_file: Option<At<Text>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSite {
    pub title: At<Text>,
    pub url: At<Text>,
    #[serde(default)]
    pub description: Option<At<Text>>,
    #[serde(default)]
    pub language: Option<At<Text>>,
    #[serde(default)]
    pub author: Option<RawAuthor>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthor {
    pub name: At<Text>,
    #[serde(default)]
    pub email: Option<At<Text>>,
    #[serde(default)]
    pub url: Option<At<Text>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawContent {
    pub dir: Option<At<Text>>,
    pub extensions: Option<At<Vec<Text>>>,
    pub permalink: Option<At<Text>>,
    pub timezone: Option<At<Text>>,
    pub publish_time: Option<At<Text>>,
    pub max_file_size: Option<ByteSize>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeeds {
    pub dir: Option<At<Text>>,
    pub url: Option<At<Text>>,
    pub title: Option<At<Text>>,
    pub limit: Option<Count>,
    pub full_content: Option<bool>,
    pub rss: Option<At<FileOrOff>>,
    pub atom: Option<At<FileOrOff>>,
    pub json: Option<At<FileOrOff>>,
    pub per_tag: Option<bool>,
    pub websub_hubs: Option<Vec<At<Text>>>,
    pub archive: Option<At<RawArchive>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArchive {
    pub page_size: Count,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSocial {
    pub max_age: Option<TimeSpan>,
    pub min_interval: Option<TimeSpan>,
    pub max_per_run: Option<Count>,
    pub max_attempts: Option<At<Count>>,
    pub on_edit: Option<OnEdit>,
    pub on_unpublish: Option<OnUnpublish>,
    pub hashtags: Option<At<serde_json::Value>>,
    pub utm: Option<At<serde_json::Value>>,
    pub delay: Option<At<serde_json::Value>>,
    pub windows: Option<At<serde_json::Value>>,
    pub approval: Option<At<serde_json::Value>>,
    pub thread: Option<At<serde_json::Value>>,
    pub link_in_reply: Option<At<serde_json::Value>>,
    pub reshare: Option<At<serde_json::Value>>,
    pub template: Option<At<String>>,
    pub allow_private_network: Option<bool>,
    pub retry_base: Option<TimeSpan>,
    pub max_wait: Option<TimeSpan>,
    #[serde(default)]
    pub targets: Vec<At<RawTarget>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub cron: Option<At<Text>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct RawState {
    pub path: Option<At<Text>>,
    pub cache: Option<bool>,
    pub url: Option<At<Text>>,
}

/// A feed file name, or `false` to turn that format off.
pub(super) enum FileOrOff {
    File(String),
    Off,
    Default,
}

impl<'de> Deserialize<'de> for FileOrOff {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = FileOrOff;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
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

/// A target as written: its keys in order, each with its value and where
/// both are. Which keys a target takes depends on its `type`, so the keys
/// are read after the `type` is known (see `validate`).
pub(super) struct RawTarget {
    pub entries: Vec<(At<String>, At<serde_json::Value>)>,
}

impl<'de> Deserialize<'de> for RawTarget {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawTarget;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a target: a map with `name`, `type` and its platform's keys")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawTarget, A::Error> {
                let mut entries: Vec<(At<String>, At<serde_json::Value>)> = Vec::new();
                while let Some(key) = map.next_key::<At<String>>()? {
                    let value = map.next_value::<At<serde_json::Value>>()?;
                    if entries.iter().any(|(k, _)| k.value == key.value) {
                        return Err(de::Error::custom(format!(
                            "the key `{}` is given twice",
                            key.value
                        )));
                    }
                    entries.push((key, value));
                }
                Ok(RawTarget { entries })
            }
        }
        d.deserialize_map(V)
    }
}

/// A location as (line, column), when it is known.
pub(super) fn line_col(at: &Location) -> Option<(u32, u32)> {
    let line = u32::try_from(at.line()).ok().filter(|l| *l > 0)?;
    let column = u32::try_from(at.column()).ok()?;
    Some((line, column))
}
