//! The feed memo: for each feed file, a fingerprint of everything it was
//! rendered from (herald's version, the site and feed settings, the feed's
//! title and address, and each entry's front matter and file identity) and
//! the identity of the file written. When both still match, the feed is
//! unchanged without reading or rendering a single article body: an
//! unchanged archive of 100,000 articles then costs one `stat` per file.
//!
//! The memo is a plain file beside the ledger (`<state>.feeds.memo`),
//! written whole and atomically after a run wrote or confirmed its feeds.
//! Anything it does not prove (no memo, another fingerprint, a file
//! touched since, an article changed within the last seconds) is rendered
//! and compared as before: it can only spare work, never change a byte.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::FeedSpec;
use crate::article::Article;
use crate::article::cache::{Identity, identity_of};
use crate::config::Config;

const MAGIC: &str = "herald feed memo 2";

/// What was remembered of one feed file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Remembered {
    fingerprint: String,
    file: Identity,
}

#[derive(Serialize, Deserialize)]
struct Stored {
    magic: String,
    feeds: Vec<(PathBuf, Remembered)>,
}

/// The memo as read at the start of a run.
#[derive(Debug, Default)]
pub struct Memo {
    feeds: HashMap<PathBuf, Remembered>,
}

impl Memo {
    /// The memo at `path`; empty when there is none or it cannot be read.
    pub fn read(path: &Path) -> Memo {
        let stored: Option<Stored> = std::fs::read(path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .filter(|s: &Stored| s.magic == MAGIC);
        Memo {
            feeds: stored
                .map(|s| s.feeds.into_iter().collect())
                .unwrap_or_default(),
        }
    }

    /// Whether the file at `path` is known to be what `fingerprint`
    /// renders to: the same fingerprint, and the file untouched since.
    pub fn proves(&self, path: &Path, fingerprint: &str) -> bool {
        self.feeds.get(path).is_some_and(|r| {
            r.fingerprint == fingerprint && identity_of(path).as_ref() == Some(&r.file)
        })
    }

    /// Writes the memo for `feeds` (path and fingerprint), each with the
    /// identity its file has now.
    pub fn write(path: &Path, feeds: &[(PathBuf, String)]) -> std::io::Result<()> {
        let stored = Stored {
            magic: MAGIC.to_string(),
            feeds: feeds
                .iter()
                .filter_map(|(feed, fingerprint)| {
                    Some((
                        feed.clone(),
                        Remembered {
                            fingerprint: fingerprint.clone(),
                            file: identity_of(feed)?,
                        },
                    ))
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&stored).map_err(std::io::Error::other)?;
        crate::fsio::write_atomic(path, &bytes)
    }
}

/// The part of a fingerprint of each published article some feed shows
/// (`shown` says which): the digest its front matter and file identity got
/// when the file was parsed (`Article::digest`); `None` when its file has
/// no trusted identity (changed too recently, or no cache), and for
/// articles no feed shows (a cron run's feeds show twenty of an archive).
pub fn article_digests(
    published: &[&Article],
    shown: &[bool],
) -> Vec<Option<crate::article::Digest>> {
    published
        .iter()
        .zip(shown.iter().copied().chain(std::iter::repeat(false)))
        .map(|(article, shown)| article.digest.filter(|_| shown))
        .collect()
}

/// The fingerprint of what `spec` renders from, given the digests of the
/// published articles; `None` when one of its entries has none.
pub fn fingerprint(
    config: &Config,
    spec: &FeedSpec,
    digests: &[Option<crate::article::Digest>],
) -> Option<String> {
    let mut hash = Sha256::new();
    let mut put = |bytes: &[u8]| {
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    put(MAGIC.as_bytes());
    put(super::VERSION.as_bytes());
    put(format!("{:?}", spec.format).as_bytes());
    put(spec.path.to_string_lossy().as_bytes());
    put(spec.title.as_bytes());
    put(spec.self_url.as_str().as_bytes());
    put(spec.tag.as_deref().unwrap_or_default().as_bytes());
    put(format!("{:?}", spec.archive).as_bytes());
    // Every setting a feed's bytes may depend on (more than it needs: a
    // change anywhere there only costs one full render).
    put(format!("{:?}", config.site).as_bytes());
    put(format!("{:?}", config.feeds).as_bytes());
    put(format!("{:?}", config.content).as_bytes());
    for &i in &spec.entries {
        put(digests.get(i).copied().flatten()?.as_slice());
    }
    Some(format!("{:x}", hash.finalize()))
}
