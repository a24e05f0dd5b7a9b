//! UTM parameters on the links in posts (`utm`, per target or under
//! `social`), so a site's analytics can tell which network a visit came
//! from. Feeds, ids and idempotency keys keep the clean permalink; only
//! the link a post carries (its text, card, facets, attachments) is
//! tagged.
//!
//! Each value is a small template: `{target}` (the target's name),
//! `{platform}` (its type) and `{slug}` (the article's) are filled in.

use serde::Deserialize;
use url::Url;

/// The placeholders a UTM value may use.
pub const PLACEHOLDERS: &[&str] = &["target", "platform", "slug"];

/// `utm_source`, `utm_medium`, `utm_campaign` and `utm_content`, each set
/// or not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub content: Option<String>,
}

impl Utm {
    /// The first placeholder no value may use, if any.
    pub fn unknown_placeholder(&self) -> Option<String> {
        self.values().find_map(|(_, v)| {
            let mut rest = v;
            while let Some(start) = rest.find('{') {
                let end = rest[start..].find('}')? + start;
                let name = &rest[start + 1..end];
                if !PLACEHOLDERS.contains(&name) {
                    return Some(name.to_string());
                }
                rest = &rest[end + 1..];
            }
            None
        })
    }

    fn values(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("utm_source", &self.source),
            ("utm_medium", &self.medium),
            ("utm_campaign", &self.campaign),
            ("utm_content", &self.content),
        ]
        .into_iter()
        .filter_map(|(k, v)| Some((k, v.as_deref()?)))
    }

    /// `url` with these parameters (replacing any `utm_*` it had), for the
    /// article `slug` on the target named `target` of type `platform`.
    pub fn tag(&self, url: &Url, target: &str, platform: &str, slug: &str) -> Url {
        let fill = |v: &str| {
            v.replace("{target}", target)
                .replace("{platform}", platform)
                .replace("{slug}", slug)
        };
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| !k.starts_with("utm_"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut tagged = url.clone();
        {
            let mut query = tagged.query_pairs_mut();
            query.clear();
            for (k, v) in &kept {
                query.append_pair(k, v);
            }
            for (k, v) in self.values() {
                query.append_pair(k, &fill(v));
            }
        }
        if tagged.query() == Some("") {
            tagged.set_query(None);
        }
        tagged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_is_tagged_with_its_target_platform_and_slug() {
        let utm = Utm {
            source: Some("{platform}".into()),
            medium: Some("social".into()),
            campaign: Some("{slug}".into()),
            content: Some("{target}".into()),
        };
        let url =
            Url::parse("https://news.example/articles/async-tips/?ref=a&utm_source=old").unwrap();
        assert_eq!(
            utm.tag(&url, "masto", "mastodon", "async-tips").as_str(),
            "https://news.example/articles/async-tips/?ref=a&utm_source=mastodon&utm_medium=social&utm_campaign=async-tips&utm_content=masto"
        );
        assert_eq!(utm.unknown_placeholder(), None);
        let bad = Utm {
            source: Some("{site}".into()),
            ..Utm::default()
        };
        assert_eq!(bad.unknown_placeholder().as_deref(), Some("site"));
    }
}
