//! Which posts a run makes, and what each one says: pure functions of the
//! config, the published articles, the ledger snapshot, what was learned
//! about each target and `now`.
//!
//! An article is due for a target when it is published (see `plan::select`),
//! no older than `max_age`, and the ledger has no posted, seen or uncertain
//! record of it there. Due posts go oldest first; `min_interval` and
//! `max_per_run` queue the rest for later runs. Edits (`on_edit`) are
//! decided by the fingerprint of the article's facts, are paced by the same
//! `max_age`, `max_per_run` and `min_interval`, and never follow a change of
//! template or limit. A pending record (a run died mid-send) is resent with
//! the same key where the platform honours one, and otherwise marked
//! uncertain and never silently resent.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use chrono::Datelike;
use chrono::{DateTime, Utc};
use serde::Serialize;
use url::Url;

use crate::article::Article;
use crate::config::{Config, HashtagCount, OnEdit, OnUnpublish, Target};
use crate::ledger::{Record, Snapshot, Status};
use crate::social::compose::{ComposeError, Composer};
use crate::social::steps::Steps;
use crate::social::{self, Draft, Learned, Post};
use crate::units::TimeSpan;

/// Narrowing a run: `--target`, `--article`, `--mark-seen`, `--retry-uncertain`.
#[derive(Debug, Clone, Default)]
pub struct PostOptions {
    pub targets: Vec<String>,
    pub articles: Vec<String>,
    pub mark_seen: bool,
    pub retry_uncertain: bool,
}

/// What happens to one (target, article).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Action {
    /// Post it now.
    Send,
    /// A run died while sending it: send again with the same key, which the
    /// platform uses to drop a duplicate.
    Resend,
    /// Edit the post already made (the article changed; `on_edit: update`).
    Update { remote_id: String },
    /// Post it again (the article changed; `on_edit: repost`).
    Repost,
    /// Record as handled without sending (`--mark-seen`).
    MarkSeen,
    /// A run died while sending it and the platform has no idempotency key:
    /// it may or may not have been posted.
    MarkUncertain,
    /// Due, but held back for a later run.
    Queue,
    /// Posted before fingerprints covered the article's facts: record the
    /// current fingerprint, send nothing.
    Adopt,
    /// It waited (queued, or failed and due for a retry) until it grew older
    /// than `max_age`: never sent.
    Drop,
    /// The article was unpublished: delete the post made earlier
    /// (`on_unpublish: delete`).
    Delete,
    /// Waits for `herald approve` (`approval`, or `hold` in the article).
    Hold,
    /// Waits out `delay` after the publish time: goes at `until`.
    Delay { until: DateTime<Utc> },
    /// Due outside the target's `windows`: goes when the next one opens.
    Wait { until: DateTime<Utc> },
    /// The thread's first post is made; its later parts are not all:
    /// post the rest, each a reply to the one before.
    Continue,
    /// Announce an old article again (`reshare`): a boost or repost of
    /// the post where the platform has them, else a new post.
    Reshare { boost: bool },
}

impl Action {
    pub fn sends(&self) -> bool {
        matches!(
            self,
            Action::Send
                | Action::Resend
                | Action::Update { .. }
                | Action::Repost
                | Action::Delete
                | Action::Continue
                | Action::Reshare { .. }
        )
    }

    /// The word the dry run and `status` use.
    pub fn word(&self) -> &'static str {
        match self {
            Action::Send => "send",
            Action::Resend => "resend",
            Action::Update { .. } => "update",
            Action::Repost => "repost",
            Action::MarkSeen => "mark seen",
            Action::MarkUncertain => "mark uncertain",
            Action::Queue => "queued",
            Action::Adopt => "adopt",
            Action::Drop => "drop",
            Action::Delete => "delete",
            Action::Hold => "held",
            Action::Delay { .. } => "delayed",
            Action::Wait { .. } => "waiting",
            Action::Continue => "continue thread",
            Action::Reshare { boost: true } => "reshare (boost)",
            Action::Reshare { boost: false } => "reshare",
        }
    }

    /// When a post that waits for a time becomes due.
    pub fn due_at(&self) -> Option<DateTime<Utc>> {
        match self {
            Action::Delay { until } | Action::Wait { until } => Some(*until),
            _ => None,
        }
    }
}

/// A decision before composing.
#[derive(Debug, Clone)]
pub struct Decision<'a> {
    pub target: &'a Target,
    pub article: &'a Article,
    pub action: Action,
    pub reason: String,
}

fn matches_article(article: &Article, filters: &[String]) -> bool {
    filters.is_empty()
        || filters
            .iter()
            .any(|f| *f == article.slug || *f == article.id())
}

fn targets<'a>(config: &'a Config, options: &PostOptions) -> Vec<&'a Target> {
    config
        .social
        .targets
        .iter()
        .filter(|t| t.enabled)
        .filter(|t| options.targets.is_empty() || options.targets.contains(&t.name))
        .collect()
}

/// How far a recorded time may run ahead of now before herald says the
/// clock was wrong (hosts' clocks differ by seconds, not by this).
const CLOCK_SLACK: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

/// A target's `max_age`.
fn max_age(config: &Config, target: &Target) -> TimeSpan {
    target.max_age.unwrap_or(config.social.max_age)
}

/// The articles whose fingerprint `decide` needs: posted somewhere that
/// edits (`on_edit` is not `ignore`) and young enough to be edited.
pub fn edit_candidates<'a>(
    config: &Config,
    published: &[&'a Article],
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    options: &PostOptions,
) -> Vec<&'a Article> {
    if config.social.on_edit == OnEdit::Ignore || options.mark_seen {
        return Vec::new();
    }
    published
        .iter()
        .copied()
        .filter(|a| matches_article(a, &options.articles))
        .filter(|a| {
            targets(config, options).iter().any(|t| {
                now - a.published.to_utc() <= max_age(config, t).delta()
                    && snapshot
                        .get(&t.name, a.id())
                        .is_some_and(|r| r.status == Status::Posted)
            })
        })
        .collect()
}

/// What `decide` found.
#[derive(Debug, Default)]
pub struct Decided<'a> {
    pub decisions: Vec<Decision<'a>>,
    /// One line per target about what was left out and why, so a first run
    /// on an archive says why it posts nothing.
    pub notes: Vec<String>,
    /// What the owner should know (a clock that was wrong).
    pub warnings: Vec<String>,
}

impl Decided<'_> {
    /// The earliest time a post that waits (`delay`, `windows`) becomes
    /// due: when `herald run` wakes for it.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.decisions
            .iter()
            .filter_map(|d| d.action.due_at())
            .min()
    }
}

/// Decides every (target, article) of this run. `published` is newest
/// first; posts are decided oldest first. `fingerprints` holds the current
/// fingerprint of each `edit_candidates` article.
pub fn decide<'a>(
    config: &'a Config,
    published: &[&'a Article],
    snapshot: &Snapshot,
    now: DateTime<Utc>,
    options: &PostOptions,
    fingerprints: &HashMap<String, String>,
) -> Decided<'a> {
    let mut decisions = Vec::new();
    let mut notes = Vec::new();
    let mut warnings = Vec::new();
    let social = &config.social;
    for target in targets(config, options) {
        let max_age = max_age(config, target);
        let min_interval = target.min_interval.unwrap_or(social.min_interval);
        let max_per_run = target.max_per_run.unwrap_or(social.max_per_run) as usize;
        let capabilities = target
            .platform
            .capabilities(&snapshot.learned(&target.name));
        // Without an interval there is nothing to wait for (even when the
        // last post's time is past `now`, as with a repeated `--now`).
        // A last post dated after now was recorded under a wrong clock
        // (then or now): it does not hold back every later post.
        let last = snapshot.last_posted.get(&target.name).copied();
        if let Some(last) = last.filter(|last| *last - now > CLOCK_SLACK) {
            warnings.push(format!(
                "{}: the last post is recorded at {}, after now ({}): the clock was wrong then, or is now; min_interval does not count from it",
                target.name,
                last.format("%Y-%m-%d %H:%M:%S UTC"),
                now.format("%Y-%m-%d %H:%M:%S UTC"),
            ));
        }
        let mut next_allowed = last
            .filter(|last| *last - now <= CLOCK_SLACK)
            .filter(|_| !min_interval.is_zero())
            .map(|last| later(last, min_interval));
        let mut sending = 0usize;
        // Posts already made this month, where the target caps them.
        let month_start = now
            .date_naive()
            .with_day(1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
            .unwrap_or(now);
        let sent_this_month = capabilities
            .monthly_cap
            .map(|cap| (cap, snapshot.sent_since(&target.name, month_start)));
        let posting = config.posting(target);
        // The threads whose first post is made and some later part is not
        // (while the target still makes threads: parts left when it
        // stopped stay as they are).
        let threads_on = posting.thread == Some(true) || posting.link_in_reply == Some(true);
        let unfinished: HashSet<&str> = snapshot
            .records
            .values()
            .filter(|_| threads_on)
            .filter(|r| {
                r.target == target.name
                    && matches!(r.status, Status::Queued | Status::Failed | Status::Pending)
                    && (r.status != Status::Failed || r.attempts < social.max_attempts)
            })
            .filter_map(|r| match crate::ledger::part_of(&r.article_id) {
                (main, Some(_)) => Some(main),
                _ => None,
            })
            .collect();
        let mut too_old = 0usize;
        let mut edits_waiting = 0usize;
        let mut reshares_waiting = 0usize;
        let mut waiting: Option<DateTime<Utc>> = None;
        let mut waiting_count = 0usize;
        for article in published.iter().rev().copied() {
            if !matches_article(article, &options.articles)
                || article.social().skips(&target.name, target.platform.kind())
                || !social_problems(config, article).is_empty()
            {
                continue;
            }
            let record = snapshot.get(&target.name, article.id());
            let decided = |action: Action, reason: String| Decision {
                target,
                article,
                action,
                reason,
            };
            let age = now - article.published.to_utc();
            let young = age <= max_age.delta();
            // Records that settle the matter.
            let (mut action, mut reason) = match record {
                Some(r) if r.status == Status::Posted && unfinished.contains(article.id()) => (
                    Action::Continue,
                    "the thread's first post is made; its later parts go now".to_string(),
                ),
                Some(r) if r.status == Status::Posted => {
                    match edit(social.on_edit, r, fingerprints.get(article.id()), young) {
                        Some(Edit::Adopt) => {
                            decisions.push(decided(
                                Action::Adopt,
                                "posted before fingerprints: the current one is recorded".into(),
                            ));
                            continue;
                        }
                        Some(Edit::Changed) => {
                            let action = match (social.on_edit, &r.remote_id) {
                                (OnEdit::Update, Some(id)) if capabilities.edit => Action::Update {
                                    remote_id: id.clone(),
                                },
                                (OnEdit::Repost, _) => Action::Repost,
                                _ => continue,
                            };
                            (action, "edited since posted".to_string())
                        }
                        None => match reshare_due(posting.reshare.as_ref(), r, now) {
                            Some(reason) => {
                                let boost = target
                                    .platform
                                    .reshare(&remote_of(r), r.reshare_id.as_deref())
                                    .is_some();
                                (Action::Reshare { boost }, reason)
                            }
                            None => continue,
                        },
                    }
                }
                Some(r) if r.status == Status::Seen => continue,
                // Published again after its posts were deleted: a new post,
                // under a key of its own.
                Some(r) if r.status == Status::Deleted => (
                    Action::Repost,
                    "published again after its posts were deleted".to_string(),
                ),
                Some(r)
                    if r.status == Status::Uncertain
                        && !options.retry_uncertain
                        && !options.mark_seen =>
                {
                    continue;
                }
                Some(r) if r.status == Status::Failed && r.attempts >= social.max_attempts => {
                    continue;
                }
                // Another host is sending it now (a shared ledger): its run
                // records the outcome.
                Some(r) if snapshot.in_flight(r, now) => continue,
                Some(r) if r.status == Status::Pending && !options.mark_seen => {
                    let since = r
                        .last_attempt_at
                        .map_or(chrono::TimeDelta::MAX, |at| now - at);
                    if capabilities.idempotency.covers(since) {
                        decisions.push(decided(
                            Action::Resend,
                            "an earlier run stopped while sending it; resent with the same idempotency key".to_string(),
                        ));
                        sending += 1;
                    } else {
                        decisions.push(decided(
                            Action::MarkUncertain,
                            format!(
                                "an earlier run stopped while sending it and {} would not recognise a resend: it may or may not be posted, so it is not resent (use --retry-uncertain to send it anyway)",
                                target.platform.kind()
                            ),
                        ));
                    }
                    continue;
                }
                Some(r) if r.status == Status::Uncertain => (
                    Action::Resend,
                    "uncertain, resent because of --retry-uncertain".to_string(),
                ),
                // A server asked to wait: not tried before that time, and
                // no attempt is used.
                Some(r)
                    if r.status == Status::Queued
                        && r.not_before.is_some_and(|at| at > now)
                        && !options.mark_seen =>
                {
                    waiting_count += 1;
                    waiting = waiting.max(r.not_before);
                    continue;
                }
                // What waited is sent only while it is young enough.
                Some(r)
                    if matches!(r.status, Status::Queued | Status::Failed)
                        && !young
                        && !options.mark_seen =>
                {
                    decisions.push(decided(
                        Action::Drop,
                        format!(
                            "dropped: published {}, it waited until it grew older than max_age ({max_age})",
                            article.published.format("%Y-%m-%d %H:%M %:z")
                        ),
                    ));
                    continue;
                }
                Some(r) if r.status == Status::Failed => (
                    Action::Send,
                    format!(
                        "retrying: attempt {} of {} failed with {}",
                        r.attempts,
                        social.max_attempts,
                        r.last_error.clone().unwrap_or_default()
                    ),
                ),
                Some(r) if r.status == Status::Queued => {
                    (Action::Send, "queued by an earlier run".to_string())
                }
                _ => (
                    Action::Send,
                    format!(
                        "published {}, not yet posted here",
                        article.published.format("%Y-%m-%d %H:%M %:z")
                    ),
                ),
            };
            // Adopting an archive (--mark-seen) marks old articles too.
            if record.is_none() && !options.mark_seen && !young {
                too_old += 1;
                continue;
            }
            if action == Action::Send
                && !options.mark_seen
                && let Some(waits) = timing(config, &posting, article, record, now)
            {
                decisions.push(decided(waits.0, waits.1));
                continue;
            }
            // A reshare keeps to the target's windows (no delay, no
            // approval: the article went out before).
            if let (Action::Reshare { .. }, Some(windows)) = (&action, &posting.windows)
                && let Some(until) = crate::window::next_open(windows, config.content.timezone, now)
                    .filter(|at| *at > now)
            {
                decisions.push(decided(
                    Action::Wait { until },
                    format!(
                        "a reshare outside its windows: it goes at {}",
                        until
                            .with_timezone(&config.content.timezone)
                            .format("%Y-%m-%d %H:%M %Z")
                    ),
                ));
                continue;
            }
            let is_edit = matches!(
                action,
                Action::Update { .. } | Action::Repost | Action::Reshare { .. }
            );
            if options.mark_seen {
                action = Action::MarkSeen;
                reason = "--mark-seen: recorded as handled, not sent".to_string();
            } else if sending >= max_per_run
                || next_allowed.is_some_and(|at| at > now)
                || sent_this_month.is_some_and(|(cap, sent)| sent + sending >= cap as usize)
            {
                if matches!(action, Action::Reshare { .. }) {
                    // Decided again on a later run, like an edit.
                    reshares_waiting += 1;
                    continue;
                }
                if is_edit {
                    // A posted record stays posted; the edit is decided
                    // again on a later run.
                    edits_waiting += 1;
                    continue;
                }
                reason = if let Some((cap, sent)) =
                    sent_this_month.filter(|(cap, sent)| sent + sending >= *cap as usize)
                {
                    format!(
                        "max_posts_per_month ({cap}) reached: {sent} made since {}; it waits for next month (or until it is older than max_age)",
                        month_start.format("%Y-%m-%d")
                    )
                } else if sending >= max_per_run {
                    format!("max_per_run ({max_per_run}) reached; it goes out on a later run")
                } else {
                    format!(
                        "min_interval: the next post to {} may go after {}",
                        target.name,
                        next_allowed.unwrap_or(now).format("%Y-%m-%d %H:%M:%S UTC")
                    )
                };
                action = Action::Queue;
            } else {
                sending += 1;
                if !min_interval.is_zero() {
                    next_allowed = Some(later(now, min_interval));
                }
            }
            decisions.push(decided(action, reason));
        }
        if let Some((cap, sent)) = sent_this_month {
            notes.push(format!(
                "{}: {sent} of max_posts_per_month ({cap}) made since {}, {} more in this run",
                target.name,
                month_start.format("%Y-%m-%d"),
                sending
            ));
        }
        let mut left_out = Vec::new();
        if too_old > 0 {
            left_out.push(format!(
                "{too_old} {} older than max_age ({max_age}) {} not posted",
                if too_old == 1 { "article" } else { "articles" },
                if too_old == 1 { "is" } else { "are" },
            ));
        }
        if let Some(until) = waiting {
            left_out.push(format!(
                "{waiting_count} {} for the server, which asked to wait until {}",
                if waiting_count == 1 {
                    "post waits"
                } else {
                    "posts wait"
                },
                until.format("%Y-%m-%d %H:%M:%S UTC")
            ));
        }
        if edits_waiting > 0 {
            left_out.push(format!(
                "{edits_waiting} {} for a later run (max_per_run or min_interval)",
                if edits_waiting == 1 {
                    "edit waits"
                } else {
                    "edits wait"
                },
            ));
        }
        if reshares_waiting > 0 {
            left_out.push(format!(
                "{reshares_waiting} {} for a later run (max_per_run or min_interval)",
                if reshares_waiting == 1 {
                    "reshare waits"
                } else {
                    "reshares wait"
                },
            ));
        }
        if !left_out.is_empty() {
            notes.push(format!("{}: {}", target.name, left_out.join("; ")));
        }
    }
    Decided {
        decisions,
        notes,
        warnings,
    }
}

/// Whether a post due now waits for a person or a time, and why: held
/// for approval (unless approved), delayed after its publish time, or
/// waiting for the target's next window.
fn timing(
    config: &Config,
    posting: &crate::config::Posting,
    article: &Article,
    record: Option<&Record>,
    now: DateTime<Utc>,
) -> Option<(Action, String)> {
    let approved = record.is_some_and(|r| r.approved_at.is_some());
    if !approved && article.social().hold {
        return Some((
            Action::Hold,
            "hold: true in the article; `herald approve` lets it go".to_string(),
        ));
    }
    if !approved && posting.approval == Some(true) {
        return Some((
            Action::Hold,
            "approval: it waits for `herald approve`".to_string(),
        ));
    }
    let tz = config.content.timezone;
    let local = |at: DateTime<Utc>| at.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z");
    if let Some(delay) = article.social().delay().or(posting.delay) {
        let until = later(article.published.to_utc(), delay);
        if until > now {
            return Some((
                Action::Delay { until },
                format!("delay ({delay}): it goes at {}", local(until)),
            ));
        }
    }
    if let Some(windows) = &posting.windows {
        match crate::window::next_open(windows, tz, now) {
            Some(at) if at <= now => {}
            Some(until) => {
                return Some((
                    Action::Wait { until },
                    format!("outside its windows: it goes at {}", local(until)),
                ));
            }
            None => {
                return Some((
                    Action::Wait {
                        until: DateTime::<Utc>::MAX_UTC,
                    },
                    "no window opens in the coming week".to_string(),
                ));
            }
        }
    }
    None
}

/// Why the posted record `r` is due to be announced again, if it is: a
/// first reshare `after` its post, the next ones `every` after the last,
/// at most `max` in all.
fn reshare_due(
    reshare: Option<&crate::config::Reshare>,
    r: &Record,
    now: DateTime<Utc>,
) -> Option<String> {
    let reshare = reshare?;
    if r.reshares >= reshare.max {
        return None;
    }
    let due = match r.reshared_at {
        Some(last) => later(last, reshare.every),
        None => later(r.posted_at?, reshare.after),
    };
    (due <= now).then(|| {
        format!(
            "reshare {} of {}: posted {}",
            r.reshares + 1,
            reshare.max,
            r.posted_at
                .map(|p| p.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        )
    })
}

/// A posted record as the platform's steps name it.
pub fn remote_of(r: &Record) -> social::Remote<'_> {
    social::Remote {
        id: r.remote_id.as_deref(),
        url: r.remote_url.as_deref(),
        key: &r.idempotency_key,
        reference: r.reference.as_deref(),
    }
}

/// `at` moved on by `span`, or the end of time if that is past it.
fn later(at: DateTime<Utc>, span: TimeSpan) -> DateTime<Utc> {
    at.checked_add_signed(span.delta())
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// An article whose id changed: its records move from `from` to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Move {
    pub from: String,
    pub to: String,
    pub source: PathBuf,
}

/// Articles that moved: a published article with no record whose title
/// and publish time match the records of exactly one id that no article
/// has any more (a new slug, a renamed file, a new date in a dated
/// permalink).
pub fn moves(all: &[Article], published: &[&Article], snapshot: &Snapshot) -> Vec<Move> {
    let current: std::collections::HashSet<&str> = all.iter().map(Article::id).collect();
    let recorded: std::collections::HashSet<&str> = snapshot
        .records
        .values()
        .map(|r| r.article_id.as_str())
        .collect();
    let mut orphans: HashMap<(&str, &str), std::collections::BTreeSet<&str>> = HashMap::new();
    for r in snapshot.records.values() {
        // A thread's later parts move with their article.
        if current.contains(r.article_id.as_str()) || r.is_part() {
            continue;
        }
        if let (Some(title), Some(published)) = (&r.title, &r.published_at) {
            orphans
                .entry((title.as_str(), published.as_str()))
                .or_default()
                .insert(r.article_id.as_str());
        }
    }
    let mut out = Vec::new();
    for a in published {
        if recorded.contains(a.id()) {
            continue;
        }
        let published = a.published.to_rfc3339();
        if let Some(ids) = orphans.get(&(a.title.as_str(), published.as_str()))
            && ids.len() == 1
            && let Some(from) = ids.iter().next()
        {
            out.push(Move {
                from: from.to_string(),
                to: a.id().to_string(),
                source: a.source.clone(),
            });
        }
    }
    out
}

/// What an edit check found.
enum Edit {
    /// The post predates fingerprints: adopt this one.
    Adopt,
    /// The article's facts changed since it was posted.
    Changed,
}

/// Whether the posted record `r` needs an edit, given the article's current
/// fingerprint. Only young articles are edited.
fn edit(on_edit: OnEdit, r: &Record, current: Option<&String>, young: bool) -> Option<Edit> {
    if on_edit == OnEdit::Ignore || !young {
        return None;
    }
    let current = current?;
    match &r.content_hash {
        None => Some(Edit::Adopt),
        Some(old) if old != current => Some(Edit::Changed),
        Some(_) => None,
    }
}

/// A post as the plan shows it and the executor performs it.
#[derive(Debug, Clone, Serialize)]
pub struct PlannedPost {
    pub target: String,
    pub platform: &'static str,
    pub article_id: String,
    pub source: PathBuf,
    pub title: String,
    pub action: Action,
    pub reason: String,
    /// The fitted text, its length by the platform's rule, and the limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<Url>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The steps the executor runs, in order; printed with secrets
    /// redacted and later steps' inputs named after the step giving them.
    #[serde(skip_serializing_if = "steps_empty")]
    pub steps: Steps,
    /// Why the post cannot be made as configured (a template error, a
    /// secret that is not valid).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A real run would fail this post as things stand (a secret not set
    /// or not valid, a post that cannot be composed): the dry run counts
    /// these apart from the posts that would go.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub would_fail: bool,
    /// The fingerprint to record (also for posts not sent).
    #[serde(skip)]
    pub content_hash: String,
    /// The article's publish time (RFC 3339), recorded with its title so
    /// that its records can follow it if its id changes.
    #[serde(skip)]
    pub published: String,
    #[serde(skip)]
    pub post: Option<Post>,
    /// For a thread's later part: the posts it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo>,
}

/// The ledger ids of the posts a thread's later part answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplyTo {
    /// The thread's first post (the article's own row).
    pub root: String,
    /// The part just before.
    pub parent: String,
}

/// The posts to delete because their article is no longer published (a
/// draft again, dated in the future, or its file gone), on targets with
/// `on_unpublish: delete`; with the notes and warnings to show. Pure.
///
/// A safety stop: when no article was loaded at all, when an article file
/// could not be read (its article would look unpublished), or when more of
/// the posted articles vanished at once than a tenth of them (and more
/// than one), nothing is deleted and a warning says why: a moved or
/// emptied content folder, or a typo in one file, must not wipe posts.
pub fn deletions(
    config: &Config,
    published: &[&Article],
    loaded: usize,
    unreadable: usize,
    snapshot: &Snapshot,
    options: &PostOptions,
) -> (Vec<PlannedPost>, Vec<String>, Vec<String>) {
    let (mut planned, mut notes, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
    let deleting: Vec<&Target> = targets(config, options)
        .into_iter()
        .filter(|t| t.on_unpublish.unwrap_or(config.social.on_unpublish) == OnUnpublish::Delete)
        .collect();
    if deleting.is_empty() || options.mark_seen {
        return (planned, notes, warnings);
    }
    let live: HashSet<&str> = published.iter().map(|a| a.id()).collect();
    let posted: HashSet<&str> = snapshot
        .records
        .values()
        .filter(|r| r.status == Status::Posted && !r.is_part())
        .map(|r| r.article_id.as_str())
        .collect();
    let vanished = posted.iter().filter(|id| !live.contains(*id)).count();
    if vanished == 0 {
        return (planned, notes, warnings);
    }
    if unreadable > 0 {
        warnings.push(format!(
            "{unreadable} article {} could not be read, so no post is deleted in this run (on_unpublish: delete): an article with an error would look unpublished",
            if unreadable == 1 { "file" } else { "files" }
        ));
        return (planned, notes, warnings);
    }
    if loaded == 0 {
        warnings.push(format!(
            "no article was loaded from the content folder, so the posts of {vanished} posted articles are not deleted (on_unpublish: delete); check content.dir"
        ));
        return (planned, notes, warnings);
    }
    if vanished > 1 && vanished * 10 > posted.len() {
        warnings.push(format!(
            "{vanished} of {} posted articles are no longer published at once, more than a tenth: nothing is deleted (on_unpublish: delete). If that is meant, unpublish them in smaller steps",
            posted.len()
        ));
        return (planned, notes, warnings);
    }
    for target in deleting {
        let mut cannot = 0;
        let mut gone: Vec<&Record> = snapshot
            .records
            .values()
            .filter(|r| {
                // A thread's later parts go with their article.
                let article = crate::ledger::part_of(&r.article_id).0;
                r.target == target.name
                    && r.status == Status::Posted
                    && !live.contains(article)
                    && (options.articles.is_empty()
                        || options.articles.iter().any(|a| {
                            article == *a
                                || article.trim_end_matches('/').rsplit('/').next()
                                    == Some(a.as_str())
                        }))
            })
            .collect();
        gone.sort_by(|a, b| a.article_id.cmp(&b.article_id));
        for r in gone {
            let remote = remote_of(r);
            let Some(steps) = target.platform.delete(&remote) else {
                cannot += 1;
                continue;
            };
            planned.push(PlannedPost {
                target: target.name.clone(),
                platform: target.platform.kind(),
                article_id: r.article_id.clone(),
                source: std::path::PathBuf::new(),
                title: r.title.clone().unwrap_or_else(|| r.article_id.clone()),
                action: Action::Delete,
                reason: "no longer published (on_unpublish: delete)".to_string(),
                text: None,
                count: None,
                limit: None,
                unit: None,
                image: None,
                notes: Vec::new(),
                steps,
                error: None,
                would_fail: false,
                content_hash: r.content_hash.clone().unwrap_or_default(),
                published: r.published_at.clone().unwrap_or_default(),
                post: None,
                reply_to: None,
            });
        }
        if cannot > 0 {
            notes.push(format!(
                "{}: {cannot} {} of unpublished articles {} ({} cannot delete posts)",
                target.name,
                if cannot == 1 { "post" } else { "posts" },
                if cannot == 1 { "stays" } else { "stay" },
                target.platform.kind()
            ));
        }
    }
    (planned, notes, warnings)
}

/// The hashtag words of a post of `article`: its tags (as many as the
/// target's `hashtags` allows), then the ones its front matter adds, each
/// once whatever its case.
fn hashtag_words(article: &Article, setting: Option<HashtagCount>) -> Vec<String> {
    let limit = setting.map_or(0, HashtagCount::limit);
    let mut words: Vec<String> = Vec::new();
    let from_tags = article
        .tags
        .iter()
        .filter_map(|t| social::compose::hashtag(t))
        .take(limit);
    let own = article
        .social()
        .hashtags
        .iter()
        .filter_map(|t| social::compose::hashtag(t));
    for word in from_tags.chain(own) {
        if !words.iter().any(|w| w.eq_ignore_ascii_case(&word)) {
            words.push(word);
        }
    }
    words
}

fn steps_empty(steps: &Steps) -> bool {
    steps.0.is_empty()
}

/// What is wrong with an article's own posting choices (`social:`) for
/// this config: target names or types that none answers to (with the
/// nearest), and a `visibility` a platform does not take. An article with
/// such a problem is posted nowhere until it is fixed.
pub fn social_problems(config: &Config, article: &Article) -> Vec<String> {
    let own = article.social();
    if *own == crate::article::social::NO_OVERRIDES {
        return Vec::new();
    }
    let targets: Vec<(&str, &str)> = config
        .social
        .targets
        .iter()
        .map(|t| (t.name.as_str(), t.platform.kind()))
        .collect();
    let mut problems = own.unknown_names(&targets);
    for target in &config.social.targets {
        let kind = target.platform.kind();
        if let Some(v) = own.for_target(&target.name, kind).visibility {
            let takes = target.platform.visibilities();
            if takes.is_empty() {
                problems.push(format!(
                    "social: visibility {v:?} for {}: a {kind} target has no visibility",
                    target.name
                ));
            } else if !takes.contains(&v.as_str()) {
                problems.push(format!(
                    "social: visibility {v:?} for {}: {kind} takes {}",
                    target.name,
                    takes.join(", ")
                ));
            }
        }
    }
    problems
}

/// The idempotency key of a decision: the one the ledger holds for a post
/// not yet made (so every retry of a repost keeps its own key), a new one
/// for a repost, else the post's own.
fn key_for(action: &Action, post: &Post, record: Option<&Record>) -> String {
    match (action, record) {
        (Action::Repost, _) => format!("{}-{}", post.idempotency_key, &post.content_hash[..8]),
        // Each reshare that is a new post has a key of its own.
        (Action::Reshare { .. }, Some(r)) => {
            format!("{}-reshare-{}", post.idempotency_key, r.reshares + 1)
        }
        (_, Some(r)) if r.status != Status::Posted && !r.idempotency_key.is_empty() => {
            r.idempotency_key.clone()
        }
        _ => post.idempotency_key.clone(),
    }
}

/// Composes each decision's post: its text by the platform's rule for what
/// was learned about the target, and its steps. `drafts` holds each decided
/// article's draft.
pub fn compose(
    config: &Config,
    decisions: Vec<Decision<'_>>,
    drafts: &HashMap<String, Draft>,
    snapshot: &Snapshot,
    learned: &HashMap<String, Learned>,
    now: DateTime<Utc>,
) -> Vec<PlannedPost> {
    let mut planned = Vec::with_capacity(decisions.len());
    let mut composers: HashMap<&str, Result<Composer, ComposeError>> = HashMap::new();
    let nothing = Learned::default();
    for d in decisions {
        let target = d.target;
        let platform = target.platform.as_ref();
        let Some(draft) = drafts.get(d.article.id()) else {
            continue;
        };
        // Each target's template is compiled once, not once per post.
        let composer = composers.entry(target.name.as_str()).or_insert_with(|| {
            Composer::new(Some(social::template_for(
                target.template.as_deref(),
                config.social.template.as_deref(),
                platform,
            )))
        });
        let learned = learned.get(&target.name).unwrap_or(&nothing);
        let posting = config.posting(target);
        let own = d.article.social().for_target(&target.name, platform.kind());
        let extras = social::Extras {
            utm: posting.utm.as_ref(),
            hashtags: hashtag_words(d.article, posting.hashtags),
            text: own.text,
            content_warning: own.cw,
            sensitive: own.sensitive,
            visibility: own.visibility,
            thread: posting.thread == Some(true),
            link_in_reply: posting.link_in_reply == Some(true),
        };
        // A reshare by a new post says so before the title.
        let prefixed;
        let draft = match (&d.action, &posting.reshare) {
            (Action::Reshare { boost: false }, Some(reshare)) => {
                let mut again = draft.clone();
                again.fields.title = format!("{} {}", reshare.prefix, again.fields.title);
                prefixed = again;
                &prefixed
            }
            _ => draft,
        };
        let composed = composer
            .as_ref()
            .map_err(Clone::clone)
            .and_then(|composer| {
                social::compose(draft, &target.name, platform, composer, learned, &extras)
            });
        let mut p = PlannedPost {
            target: target.name.clone(),
            platform: platform.kind(),
            article_id: d.article.id().to_string(),
            source: d.article.source.clone(),
            title: d.article.title.clone(),
            action: d.action.clone(),
            reason: d.reason,
            text: None,
            count: None,
            limit: None,
            unit: None,
            image: draft.image.clone(),
            notes: Vec::new(),
            steps: Steps::default(),
            error: None,
            would_fail: false,
            content_hash: draft.fingerprint(),
            published: d.article.published.to_rfc3339(),
            post: None,
            reply_to: None,
        };
        match composed {
            Ok(mut post) => {
                post.idempotency_key =
                    key_for(&d.action, &post, snapshot.get(&target.name, d.article.id()));
                p.text = Some(post.fitted.text.clone());
                p.count = Some(post.fitted.count);
                p.limit = Some(post.fitted.limit.max);
                p.unit = Some(post.fitted.limit.unit.label());
                p.notes = post.fitted.notes.clone();
                if d.action.sends() {
                    let edit = match &d.action {
                        Action::Update { remote_id } => Some(remote_id.as_str()),
                        _ => None,
                    };
                    let record = snapshot.get(&target.name, d.article.id());
                    p.steps = match (&d.action, record) {
                        (Action::Reshare { boost: true }, Some(r)) => {
                            p.text = None;
                            p.count = None;
                            p.notes = vec![format!(
                                "boosts the post made {}",
                                r.remote_url.as_deref().unwrap_or("earlier")
                            )];
                            platform
                                .reshare(&remote_of(r), r.reshare_id.as_deref())
                                .unwrap_or_default()
                        }
                        _ => platform.steps(&post, edit, learned),
                    };
                    for problem in social::secret_problems(platform) {
                        p.would_fail = true;
                        let key = target.key(&problem.key);
                        if problem.missing {
                            p.notes.push(format!(
                                "{key}: {}; the post fails until it is set",
                                problem.message
                            ));
                        } else {
                            p.error = Some(format!("would fail: {key}: {}", problem.message));
                        }
                    }
                }
                let threads = matches!(d.action, Action::Send | Action::Resend | Action::Continue)
                    && !post.parts.is_empty();
                let parts = if threads {
                    thread_parts(target, &post, &p, snapshot, learned, now)
                } else {
                    Vec::new()
                };
                p.post = Some(post);
                // Continuing, the first post is made: only the rest go.
                if d.action != Action::Continue {
                    planned.push(p);
                }
                planned.extend(parts);
                continue;
            }
            Err(e) => {
                p.error = Some(format!("cannot compose the post: {e}"));
                p.would_fail = true;
            }
        }
        planned.push(p);
    }
    planned
}

/// The later parts of the thread of `main` still to post, each a reply to
/// the one before: those the ledger has as posted are skipped; one a run
/// died sending is resent where the platform recognises a resend, and
/// otherwise marked uncertain, and the thread stops there.
fn thread_parts(
    target: &Target,
    post: &Post,
    main: &PlannedPost,
    snapshot: &Snapshot,
    learned: &Learned,
    now: DateTime<Utc>,
) -> Vec<PlannedPost> {
    let platform = target.platform.as_ref();
    let total = post.parts.len() + 1;
    let capabilities = platform.capabilities(learned);
    let mut out = Vec::new();
    let mut parent = main.article_id.clone();
    for n in 2..=total {
        let id = crate::ledger::part_id(&main.article_id, n);
        let record = snapshot.get(&target.name, &id);
        let (action, reason) = match record {
            Some(r) if r.status == Status::Posted => {
                parent = id;
                continue;
            }
            Some(r) if matches!(r.status, Status::Uncertain | Status::Dropped | Status::Seen) => {
                break;
            }
            Some(r) if snapshot.in_flight(r, now) => break,
            Some(r) if r.status == Status::Pending => {
                let since = r
                    .last_attempt_at
                    .map_or(chrono::TimeDelta::MAX, |at| now - at);
                if capabilities.idempotency.covers(since) {
                    (
                        Action::Resend,
                        "a run stopped while sending this part; resent with the same key"
                            .to_string(),
                    )
                } else {
                    (
                        Action::MarkUncertain,
                        format!(
                            "a run stopped while sending this part and {} would not recognise a resend: the thread stops here",
                            platform.kind()
                        ),
                    )
                }
            }
            _ => (
                Action::Send,
                format!("part {n} of {total}, a reply to the part before"),
            ),
        };
        let Some(part) = post.part(n, &id) else {
            break;
        };
        let stop = action == Action::MarkUncertain;
        let steps = if action.sends() {
            platform.reply_steps(&part, learned).unwrap_or_default()
        } else {
            Steps::default()
        };
        out.push(PlannedPost {
            target: target.name.clone(),
            platform: platform.kind(),
            article_id: id.clone(),
            source: main.source.clone(),
            title: format!("{} (part {n} of {total})", main.title),
            action,
            reason,
            text: Some(part.fitted.text.clone()),
            count: Some(part.fitted.count),
            limit: Some(part.fitted.limit.max),
            unit: Some(part.fitted.limit.unit.label()),
            image: None,
            notes: Vec::new(),
            steps,
            error: None,
            would_fail: false,
            content_hash: main.content_hash.clone(),
            published: main.published.clone(),
            post: Some(part),
            reply_to: Some(ReplyTo {
                root: main.article_id.clone(),
                parent: parent.clone(),
            }),
        });
        if stop {
            break;
        }
        parent = id;
    }
    out
}

#[cfg(test)]
mod tests;
