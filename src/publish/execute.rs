//! Carrying out a plan: write the feed files that changed (atomically), then
//! tell each WebSub hub which feeds changed. The only I/O of a run, besides
//! reading the input in `prepare`.

use std::path::PathBuf;
use std::time::Duration;

use rayon::prelude::*;
use serde::Serialize;

use super::plan::{FeedStatus, Plan};

/// What a run did.
#[derive(Debug, Default, Serialize)]
pub struct Outcome {
    /// Feed files written.
    pub written: Vec<PathBuf>,
    /// Feed files that could not be written; the old file is intact.
    pub write_errors: Vec<String>,
    /// Their paths.
    #[serde(skip)]
    pub unwritten: Vec<PathBuf>,
    /// WebSub hubs that did not accept a ping (a warning: feeds are still fine).
    pub ping_warnings: Vec<String>,
}

impl Outcome {
    pub fn failed(&self) -> bool {
        !self.write_errors.is_empty()
    }

    /// The feed files that could not be written.
    pub fn failed_paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.unwritten.iter()
    }
}

/// Writes the changed feeds and pings the hubs for them.
pub async fn execute(plan: &Plan, hubs: &[url::Url]) -> Outcome {
    let mut outcome = Outcome::default();
    let mut changed_urls = Vec::new();
    // Feeds are written side by side: while one waits on the disk (the
    // final sync), another renders.
    let changed: Vec<_> = plan
        .feeds
        .iter()
        .filter(|f| f.status != FeedStatus::Unchanged)
        .collect();
    // The files of one feed (its RSS, Atom and JSON) are written together:
    // each body is read and rendered once for all three.
    let groups = super::plan::same_entries(&changed);
    let results: Vec<Vec<std::io::Result<()>>> = groups
        .par_iter()
        .map(|group| {
            let paths: Vec<&std::path::Path> = group.iter().map(|f| f.path.as_path()).collect();
            // No buffer: a frame is one write, and a batch of items (a
            // MB or more) one vectored write of the items as they were made.
            crate::fsio::write_atomic_many(&paths, |files| {
                plan.write_group(
                    group,
                    files
                        .iter_mut()
                        .map(|f| f as &mut (dyn std::io::Write + Send))
                        .collect(),
                )
            })
        })
        .collect();
    let changed: Vec<&super::plan::PlannedFeed> = groups.into_iter().flatten().collect();
    let results: Vec<std::io::Result<()>> = results.into_iter().flatten().collect();
    for (feed, written) in changed.into_iter().zip(results) {
        match written {
            Ok(()) => {
                outcome.written.push(feed.path.clone());
                changed_urls.push(feed.url.clone());
            }
            Err(e) => {
                outcome.unwritten.push(feed.path.clone());
                outcome.write_errors.push(format!(
                    "cannot write {}: {e}; the previous file is left as it was",
                    crate::paths::display(&feed.path)
                ));
            }
        }
    }
    if !hubs.is_empty() && !changed_urls.is_empty() {
        outcome.ping_warnings = ping_hubs(hubs, &changed_urls).await;
    }
    outcome
}

/// Sends a WebSub publish notification (`hub.mode=publish`, `hub.url`) for
/// each changed feed to each hub. Returns one warning per failed ping.
async fn ping_hubs(hubs: &[url::Url], feeds: &[url::Url]) -> Vec<String> {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(c) => c,
        Err(e) => return vec![format!("WebSub pings not sent: {e}")],
    };
    let pings = hubs
        .iter()
        .flat_map(|hub| feeds.iter().map(move |feed| (hub, feed)));
    let results = futures_util::future::join_all(pings.map(|(hub, feed)| {
        let client = client.clone();
        async move {
            let response = client
                .post(hub.clone())
                .form(&[("hub.mode", "publish"), ("hub.url", feed.as_str())])
                .send()
                .await;
            match response {
                Ok(r) if r.status().is_success() => None,
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    let body = body.trim();
                    let detail = if body.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", body.chars().take(200).collect::<String>())
                    };
                    Some(format!(
                        "WebSub hub {hub} refused the ping for {feed}: HTTP {status}{detail}"
                    ))
                }
                Err(e) => Some(format!(
                    "WebSub hub {hub} could not be reached for {feed}: {e}"
                )),
            }
        }
    }))
    .await;
    results.into_iter().flatten().collect()
}
