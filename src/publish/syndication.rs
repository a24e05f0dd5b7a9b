//! `syndication.json`: for each article, where it was posted, so the site
//! can link to the discussion. Written by `publish` from the ledger.

use serde::Serialize;

use crate::config::Config;
use crate::ledger::{Record, Status};

#[derive(Serialize)]
struct Syndicated<'a> {
    target: &'a str,
    platform: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    posted_at: Option<String>,
}

/// `syndication.json`: for each article, where it was posted, so the site
/// can link to the discussion. Sorted, so the same ledger gives the same
/// bytes.
pub fn syndication_json(records: &[Record], config: &Config) -> String {
    let mut by_article: std::collections::BTreeMap<&str, Vec<Syndicated<'_>>> = Default::default();
    for r in records.iter().filter(|r| r.status == Status::Posted) {
        let platform = config
            .social
            .targets
            .iter()
            .find(|t| t.name == r.target)
            .map_or("", |t| t.platform.kind());
        by_article
            .entry(&r.article_id)
            .or_default()
            .push(Syndicated {
                target: &r.target,
                platform,
                url: r.remote_url.as_deref(),
                id: r.remote_id.as_deref(),
                posted_at: r
                    .posted_at
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
            });
    }
    let mut out = serde_json::to_string_pretty(&by_article).unwrap_or_else(|_| "{}".to_string());
    out.push('\n');
    out
}
