//! `syndication.json`: for each article, where it was posted, so the site
//! can link to the discussion. Written by `publish` from the ledger; with
//! `syndication.data_dir`, also one `<slug>.json` per article for a static
//! site's data folder.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

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
    let mut out =
        serde_json::to_string_pretty(&by_article(records, config)).unwrap_or_else(|_| "{}".into());
    out.push('\n');
    out
}

/// One article's data file: its permalink and where it was posted.
#[derive(Serialize)]
struct DataFile<'a> {
    article: &'a str,
    posts: &'a [Syndicated<'a>],
}

/// The `<slug>.json` files of `syndication.data_dir`: one per article that
/// was ever posted (its list empty once its posts are deleted), for the
/// articles `slugs` names (by id). Sorted, so the same ledger gives the
/// same bytes; the caller writes only those that changed.
pub fn data_files(
    records: &[Record],
    config: &Config,
    slugs: &HashMap<&str, &str>,
) -> Vec<(PathBuf, String)> {
    let Some(dir) = &config.syndication.data_dir else {
        return Vec::new();
    };
    let posted = by_article(records, config);
    let mut ids: Vec<&str> = records
        .iter()
        .filter(|r| matches!(r.status, Status::Posted | Status::Deleted) && !r.is_part())
        .map(|r| r.article_id.as_str())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .filter_map(|id| {
            let slug = slugs.get(id)?;
            let posts = posted.get(id).map_or(&[][..], Vec::as_slice);
            let mut text = serde_json::to_string_pretty(&DataFile { article: id, posts }).ok()?;
            text.push('\n');
            Some((dir.join(format!("{slug}.json")), text))
        })
        .collect()
}

/// The posted records by article id, each list in the ledger's order.
fn by_article<'a>(
    records: &'a [Record],
    config: &'a Config,
) -> BTreeMap<&'a str, Vec<Syndicated<'a>>> {
    let mut by_article: BTreeMap<&str, Vec<Syndicated<'_>>> = BTreeMap::new();
    for r in records
        .iter()
        .filter(|r| r.status == Status::Posted && !r.is_part())
    {
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
    by_article
}
