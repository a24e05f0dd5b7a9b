//! An article's own posting choices: the `social:` map of its front
//! matter. Which targets it skips or is limited to, a hand-written text,
//! extra hashtags, a content warning, a delay, a hold, and the same per
//! target name or platform type.
//!
//! Names are checked against the config's targets by `unknown_names`
//! (the article does not know them when it is read); a run posts nothing
//! of an article whose `social:` names a target that does not exist, as a
//! typo in `skip` must not post where the author said not to.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::units::TimeSpan;

/// `social:` as written. Every key but the listed ones must be a target's
/// name or a platform's type, holding a map of its own.
#[derive(Debug, Deserialize, Default)]
pub(super) struct RawSocial {
    #[serde(default)]
    skip: Vec<String>,
    #[serde(default)]
    only: Vec<String>,
    text: Option<String>,
    #[serde(default)]
    hashtags: Vec<String>,
    cw: Option<String>,
    sensitive: Option<bool>,
    delay: Option<TimeSpan>,
    #[serde(default)]
    hold: bool,
    #[serde(flatten)]
    per_target: BTreeMap<String, RawPerTarget>,
}

/// A map under a target's name or a platform's type.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPerTarget {
    text: Option<String>,
    cw: Option<String>,
    sensitive: Option<bool>,
    visibility: Option<String>,
    #[serde(default)]
    skip: bool,
}

/// The keys of `social:` itself (every other key names a target).
pub const KEYS: &[&str] = &[
    "skip",
    "only",
    "text",
    "hashtags",
    "cw",
    "sensitive",
    "delay",
    "hold",
];

/// An article's posting choices, validated; empty when it has none.
/// Stored in the article cache, so every field is a plain value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overrides {
    pub skip: Vec<String>,
    pub only: Vec<String>,
    pub text: Option<String>,
    pub hashtags: Vec<String>,
    pub cw: Option<String>,
    pub sensitive: Option<bool>,
    /// `delay`, in seconds.
    pub delay_secs: Option<u64>,
    pub hold: bool,
    /// By target name or platform type, in the order of their names.
    pub per_target: Vec<(String, PerTarget)>,
}

/// The choices of an article that makes none.
pub static NO_OVERRIDES: Overrides = Overrides {
    skip: Vec::new(),
    only: Vec::new(),
    text: None,
    hashtags: Vec::new(),
    cw: None,
    sensitive: None,
    delay_secs: None,
    hold: false,
    per_target: Vec::new(),
};

/// What an article sets for one target name or platform type.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PerTarget {
    pub text: Option<String>,
    pub cw: Option<String>,
    pub sensitive: Option<bool>,
    pub visibility: Option<String>,
    pub skip: bool,
}

/// The choices that apply to one target, the target's name over its
/// type over the article's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ForTarget {
    pub text: Option<String>,
    pub cw: Option<String>,
    pub sensitive: Option<bool>,
    pub visibility: Option<String>,
}

impl From<RawSocial> for Overrides {
    fn from(raw: RawSocial) -> Self {
        let clean = |v: Option<String>| v.map(|t| t.trim().to_string()).filter(|t| !t.is_empty());
        Overrides {
            skip: raw.skip,
            only: raw.only,
            text: clean(raw.text),
            hashtags: raw
                .hashtags
                .into_iter()
                .map(|h| h.trim().trim_start_matches('#').to_string())
                .filter(|h| !h.is_empty())
                .collect(),
            cw: clean(raw.cw),
            sensitive: raw.sensitive,
            delay_secs: raw.delay.map(|d| d.std().as_secs()),
            hold: raw.hold,
            per_target: raw
                .per_target
                .into_iter()
                .map(|(name, p)| {
                    (
                        name,
                        PerTarget {
                            text: clean(p.text),
                            cw: clean(p.cw),
                            sensitive: p.sensitive,
                            visibility: clean(p.visibility),
                            skip: p.skip,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl Overrides {
    /// Whether the article is not posted to the target `name` of type
    /// `kind`.
    pub fn skips(&self, name: &str, kind: &str) -> bool {
        let names = |list: &[String]| list.iter().any(|n| n == name || n == kind);
        names(&self.skip)
            || (!self.only.is_empty() && !names(&self.only))
            || self.own(name, kind).any(|p| p.skip)
    }

    /// The choices for the target `name` of type `kind`.
    pub fn for_target(&self, name: &str, kind: &str) -> ForTarget {
        let mut out = ForTarget {
            text: self.text.clone(),
            cw: self.cw.clone(),
            sensitive: self.sensitive,
            visibility: None,
        };
        // The type's map, then the name's, each over what came before.
        let mut own: Vec<&PerTarget> = self.own(name, kind).collect();
        own.reverse();
        for p in own {
            if p.text.is_some() {
                out.text.clone_from(&p.text);
            }
            if p.cw.is_some() {
                out.cw.clone_from(&p.cw);
            }
            if p.sensitive.is_some() {
                out.sensitive = p.sensitive;
            }
            if p.visibility.is_some() {
                out.visibility.clone_from(&p.visibility);
            }
        }
        out
    }

    /// The maps for `name` then for `kind`.
    fn own<'a>(&'a self, name: &'a str, kind: &'a str) -> impl Iterator<Item = &'a PerTarget> {
        let find = move |key: &str| {
            self.per_target
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, p)| p)
        };
        find(name)
            .into_iter()
            .chain(find(kind).filter(|_| name != kind))
    }

    /// How long after the publish time a post waits.
    pub fn delay(&self) -> Option<TimeSpan> {
        self.delay_secs.map(TimeSpan::from_secs)
    }

    /// Every target name or platform type the article names, with where.
    pub fn names(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.skip
            .iter()
            .map(|n| ("skip", n.as_str()))
            .chain(self.only.iter().map(|n| ("only", n.as_str())))
            .chain(self.per_target.iter().map(|(n, _)| ("", n.as_str())))
    }

    /// The hand-written texts and content warnings, as one text (for the
    /// fingerprint: a change of them is an edit).
    pub fn own_words(&self) -> String {
        let mut words: Vec<&str> = Vec::new();
        words.extend(self.text.as_deref());
        words.extend(self.cw.as_deref());
        for (name, p) in &self.per_target {
            if p.text.is_some() || p.cw.is_some() {
                words.push(name);
                words.extend(p.text.as_deref());
                words.extend(p.cw.as_deref());
            }
        }
        words.join("\u{1e}")
    }

    /// The article names target names or platform types that none of
    /// `targets` (name, type) answers to: each with the key it is under
    /// and the nearest valid word.
    pub fn unknown_names(&self, targets: &[(&str, &str)]) -> Vec<String> {
        let mut words: Vec<&str> = targets.iter().flat_map(|(n, k)| [*n, *k]).collect();
        words.sort_unstable();
        words.dedup();
        self.names()
            .filter(|(_, n)| !words.contains(n))
            .map(|(under, n)| {
                let place = if under.is_empty() {
                    format!("social.{n}")
                } else {
                    format!("social.{under}")
                };
                let hint = crate::config::nearest(n, &words)
                    .map(|b| format!("; did you mean `{b}`?"))
                    .unwrap_or_default();
                format!("{place}: no target is named or of type `{n}`{hint}")
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(yaml: &str) -> Overrides {
        serde_saphyr::from_str::<RawSocial>(yaml).unwrap().into()
    }

    #[test]
    fn skip_only_and_per_target_maps_decide_where_an_article_goes() {
        let o = read(
            "skip: [x]\nmasto: { text: own words, cw: spoilers }\nmastodon: { visibility: unlisted, cw: type cw }\nslack: { skip: true }\n",
        );
        assert!(o.skips("x", "x"));
        assert!(o.skips("team", "slack"));
        assert!(!o.skips("masto", "mastodon"));
        let t = o.for_target("masto", "mastodon");
        assert_eq!(t.text.as_deref(), Some("own words"));
        assert_eq!(t.cw.as_deref(), Some("spoilers"));
        assert_eq!(t.visibility.as_deref(), Some("unlisted"));
        let only = read("only: [bsky]\n");
        assert!(only.skips("masto", "mastodon"));
        assert!(!only.skips("bsky", "bluesky"));
        assert_eq!(
            o.unknown_names(&[("masto", "mastodon"), ("team", "slack")]),
            vec!["social.skip: no target is named or of type `x`".to_string()]
        );
        assert_eq!(
            read("skip: [mastodn]\n").unknown_names(&[("masto", "mastodon")]),
            vec!["social.skip: no target is named or of type `mastodn`; did you mean `mastodon`?"]
        );
    }

    #[test]
    fn a_per_target_map_refuses_keys_it_does_not_know() {
        assert!(serde_saphyr::from_str::<RawSocial>("masto: { txet: a }\n").is_err());
        assert_eq!(
            read("delay: 2h\nhold: true\n").delay(),
            Some(TimeSpan::from_secs(7200))
        );
        assert_eq!(
            read("hashtags: ['#rust', ' ', go]\n").hashtags,
            vec!["rust", "go"]
        );
    }
}
