//! `herald approve`: lets posts held for a person (`approval: true` on a
//! target, `hold: true` in an article) go. The next run sends them, within
//! its pacing; nothing is sent here.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::config::Config;
use crate::ledger::{Ledger, LedgerError, Record};

/// Which held posts to let go.
#[derive(Debug, Clone, Default)]
pub struct Choice {
    /// Articles by slug or permalink; all when empty.
    pub articles: Vec<String>,
    /// Targets by name; all when empty.
    pub targets: Vec<String>,
    /// Every held post (needed when no article is named, so that a bare
    /// `herald approve` does not release everything by accident).
    pub all: bool,
}

/// What `approve` did.
#[derive(Debug, Default)]
pub struct Approved {
    /// The posts let go.
    pub released: Vec<Record>,
    /// Held posts the choice left held.
    pub still_held: usize,
}

/// Why nothing was approved.
#[derive(Debug, thiserror::Error)]
pub enum ApproveError {
    #[error("name the articles to approve (by slug), or use --all")]
    NothingChosen,
    #[error("--target {name:?} is not a target in the config")]
    UnknownTarget { name: String },
    #[error("no ledger at {}: nothing has been held yet", crate::paths::display(.0))]
    NoLedger(PathBuf),
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

/// Whether the record `r` is of one of the articles named.
fn names_article(r: &Record, names: &[String]) -> bool {
    names.is_empty()
        || names.iter().any(|a| {
            r.article_id == *a || r.article_id.trim_end_matches('/').rsplit('/').next() == Some(a)
        })
}

/// Lets the chosen held posts go.
pub fn approve(
    config: &Config,
    choice: &Choice,
    now: DateTime<Utc>,
) -> Result<Approved, ApproveError> {
    if choice.articles.is_empty() && !choice.all {
        return Err(ApproveError::NothingChosen);
    }
    if let Some(name) = choice
        .targets
        .iter()
        .find(|n| !config.social.targets.iter().any(|t| t.name == **n))
    {
        return Err(ApproveError::UnknownTarget { name: name.clone() });
    }
    let path = &config.state.path;
    if config.state.url.is_none() && !path.exists() {
        return Err(ApproveError::NoLedger(path.clone()));
    }
    let ledger = Ledger::open_at(&config.state.location())?;
    let chosen = |r: &Record| {
        (choice.targets.is_empty() || choice.targets.contains(&r.target))
            && names_article(r, &choice.articles)
    };
    let released = ledger.approve(chosen, now)?;
    let still_held = ledger
        .records()?
        .iter()
        .filter(|r| r.status == crate::ledger::Status::Held)
        .count();
    Ok(Approved {
        released,
        still_held,
    })
}
