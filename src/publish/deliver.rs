//! Sending the planned posts. Each target is served by its own task, all at
//! once; a target's posts go one at a time, in plan order. Every post is
//! recorded pending (with its idempotency key) before its first request is
//! sent, and posted (with the remote id and URL) after success. The steps
//! run are the plan's own (`social::driver` runs them).
//!
//! What is retried depends on whether the request may have been acted on:
//! what certainly was not (no connection, 503, 429) is retried with backoff,
//! the server's delay first (`Retry-After`, or a delay the platform gives
//! in its answer's body), else exponential backoff with full jitter; what may have been
//! (a timeout or a drop after sending; 500, 502, 504) is retried only where
//! the platform recognises a resend, and is `uncertain` elsewhere. At most 3
//! attempts per run and `max_attempts` over all runs. A delay longer than
//! `max_wait` queues the post for a later run instead of holding this one.
//! A target whose secrets cannot make a request sends nothing and uses no
//! attempt.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Serialize;

use super::posts::{Action, PlannedPost};
use crate::clock::Clock;
use crate::config::{Config, Target};
use crate::ledger::{Attempt, Claim, Ledger, LedgerError, Pace, Status, Unsent};
use crate::social::driver::{
    Driver, KeepFailed, KeepLearned, PostRun, SESSION_KEY, SharedSessions, Stop, TargetRun,
};
use crate::social::http::{DeliveryError, Slots};
use crate::social::image::Images;
use crate::social::socket::Sockets;
use crate::social::transport::Transport;
use crate::social::{self, Learned};

/// Attempts within one run.
pub const ATTEMPTS_PER_RUN: u32 = 3;

/// What became of one planned post.
#[derive(Debug, Clone, Serialize)]
pub struct PostResult {
    pub target: String,
    pub article_id: String,
    pub title: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Another host took the post since this run read the ledger: that
    /// host's run reports it, this one does not.
    #[serde(skip)]
    pub taken_elsewhere: bool,
}

/// Everything a delivery needs, shared by the target tasks.
pub struct Deliverer {
    pub transport: Arc<dyn Transport>,
    pub images: Arc<dyn Images>,
    pub ledger: Arc<Mutex<Ledger>>,
    pub config: Arc<Config>,
    /// What was learned about each target before the run (sessions).
    pub learned: HashMap<String, Learned>,
    pub stop: Arc<Stop>,
    /// Called after each post, for the progress bar.
    pub on_done: Arc<dyn Fn(&PostResult) + Send + Sync>,
    pub clock: Clock,
    /// WebSocket exchanges (for platforms that post over WebSockets).
    pub sockets: Arc<dyn Sockets>,
    /// Each post's revision when the plan read the ledger: a post is sent
    /// only while it is still so (another host may have taken it since).
    pub seen: HashMap<(String, String), i64>,
    /// When the run began, for `max_per_run` across hosts.
    pub run_started: chrono::DateTime<chrono::Utc>,
    /// Whether other hosts share the ledger (their claims and sessions).
    pub shared: bool,
}

impl SharedSessions for Deliverer {
    fn try_lock(&self, target: &str) -> Result<bool, KeepFailed> {
        self.record(|l| l.lock_target(target))
            .map_err(|e| KeepFailed(e.to_string()))
    }

    fn unlock(&self, target: &str) {
        if let Err(e) = self.record(|l| l.unlock_target(target)) {
            // The lock ends with the connection in any case.
            tracing::warn!(target, error = %e, "could not release a session's renewal lock");
        }
    }

    fn current(&self, target: &str) -> Result<Option<String>, KeepFailed> {
        self.record(|l| l.learned_now(target, SESSION_KEY))
            .map_err(|e| KeepFailed(e.to_string()))
    }
}

impl Deliverer {
    /// The post's revision when the plan read the ledger (`None`: no row).
    fn seen_revision(&self, planned: &PlannedPost) -> Option<i64> {
        self.seen
            .get(&(planned.target.clone(), planned.article_id.clone()))
            .copied()
    }

    fn ledger_place(&self) -> crate::ledger::Place {
        self.record(|l| Ok(l.place().clone()))
            .unwrap_or_else(|_| crate::ledger::Place::File(std::path::PathBuf::new()))
    }

    fn record<T>(
        &self,
        f: impl FnOnce(&Ledger) -> Result<T, LedgerError>,
    ) -> Result<T, LedgerError> {
        let guard = self
            .ledger
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&guard)
    }

    /// Delivers every planned post; returns the results in plan order.
    pub async fn deliver_all(
        self: Arc<Self>,
        posts: Vec<PlannedPost>,
    ) -> Result<Vec<PostResult>, LedgerError> {
        let mut by_target: Vec<(String, Vec<(usize, PlannedPost)>)> = Vec::new();
        for (i, p) in posts.into_iter().enumerate() {
            match by_target.iter_mut().find(|(t, _)| *t == p.target) {
                Some((_, list)) => list.push((i, p)),
                None => by_target.push((p.target.clone(), vec![(i, p)])),
            }
        }
        let mut tasks = Vec::new();
        for (name, list) in by_target {
            let this = self.clone();
            tasks.push(tokio::spawn(async move {
                this.deliver_target(&name, list).await
            }));
        }
        let mut results = Vec::new();
        for task in tasks {
            match task.await {
                Ok(r) => results.extend(r?),
                Err(e) => {
                    return Err(LedgerError::Write {
                        place: self.ledger_place(),
                        message: format!("a delivery task failed: {e}"),
                    });
                }
            }
        }
        results.sort_by_key(|(i, _)| *i);
        Ok(results.into_iter().map(|(_, r)| r).collect())
    }

    async fn deliver_target(
        &self,
        name: &str,
        posts: Vec<(usize, PlannedPost)>,
    ) -> Result<Vec<(usize, PostResult)>, LedgerError> {
        let Some(target) = self.config.social.targets.iter().find(|t| t.name == name) else {
            return Ok(Vec::new());
        };
        let learned = self.learned.get(name).cloned().unwrap_or_default();
        let mut run = TargetRun::new(name, &learned);
        // A request that cannot be built is not the network's fault: say
        // which key and variable, send nothing, use no attempt.
        let unbuildable: Option<String> = social::secret_problems(target.platform.as_ref())
            .first()
            .map(|p| {
                let variables = if p.variables.is_empty() {
                    String::new()
                } else {
                    format!(
                        " ({})",
                        p.variables
                            .iter()
                            .map(|v| format!("${{{v}}}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                format!(
                    "cannot build the request: {}{variables}: {}; nothing was sent",
                    target.key(&p.key),
                    p.message
                )
            });
        let mut results = Vec::new();
        let mut announced = false;
        for (i, planned) in posts {
            if self.stop.is_requested() && planned.action.sends() {
                // Not started: no ledger row changes, the next run plans it again.
                continue;
            }
            if planned.action == Action::Adopt {
                // Bookkeeping, not a post: no result to report.
                self.record(|l| {
                    l.adopt_fingerprint(&planned.target, &planned.article_id, &planned.content_hash)
                })?;
                continue;
            }
            let planned_id = (
                planned.article_id.clone(),
                planned.title.clone(),
                planned.published.clone(),
            );
            if let Some(post) = planned
                .post
                .as_ref()
                .filter(|_| matches!(planned.action, Action::Send | Action::Resend))
            {
                self.record_parts(&planned, post)?;
            }
            let slots = match &planned.reply_to {
                None => Slots::new(),
                Some(reply_to) => match self.reply_slots(name, reply_to)? {
                    Some(slots) => slots,
                    None => {
                        let result = self.wait_for_parent(&planned)?;
                        (self.on_done)(&result);
                        results.push((i, result));
                        continue;
                    }
                },
            };
            let mut result = match (&unbuildable, planned.action.sends()) {
                (Some(message), true) => self.refuse(&planned, message)?,
                _ => self.deliver_one(target, planned, &mut run, slots).await?,
            };
            self.record(|l| l.describe(&planned_id.0, &planned_id.1, &planned_id.2))?;
            // A login that stopped the target is said once: as the failure
            // of the post that tried it, or, when the platform only asked to
            // wait, as a warning.
            if let Some(blocked) = run.blocked.as_ref().filter(|_| !announced) {
                announced = true;
                if result.status == Status::Queued {
                    result.warnings.push(blocked.to_string());
                }
            }
            for (key, value) in run.learned.drain(..) {
                let now = self.clock.now();
                self.record(|l| l.set_learned(name, &key, value.as_deref(), now))?;
            }
            let secrets = secrets(target, &run);
            result.error = result.error.map(|e| social::scrub(&e, &secrets));
            result.warnings = result
                .warnings
                .iter()
                .map(|w| format!("{name}: {}", social::scrub(w, &secrets)))
                .collect();
            (self.on_done)(&result);
            if result.taken_elsewhere {
                tracing::info!(target = name, article = %result.article_id, "left to another host, which took it first");
                continue;
            }
            results.push((i, result));
        }
        Ok(results)
    }

    /// Records the later parts of a thread as queued before its first post
    /// is sent, so that a run that dies after it goes on with them.
    fn record_parts(&self, planned: &PlannedPost, post: &social::Post) -> Result<(), LedgerError> {
        let now = self.clock.now();
        for n in 2..=post.parts.len() + 1 {
            let id = crate::ledger::part_id(&planned.article_id, n);
            let key = social::idempotency_key(&planned.target, &id);
            self.record(|l| {
                if l.get(&planned.target, &id)?.is_some() {
                    return Ok(());
                }
                let unsent = Unsent {
                    status: Status::Queued,
                    reason: "a later part of a thread: it follows the part before",
                    idempotency_key: &key,
                    content_hash: &planned.content_hash,
                };
                l.record_unsent(&planned.target, &id, &unsent, now)
            })?;
        }
        Ok(())
    }

    /// The slots a thread's later part is sent with: the ids and
    /// references of the posts it answers, from the ledger; None while the
    /// part before is not posted.
    fn reply_slots(
        &self,
        target: &str,
        reply_to: &super::posts::ReplyTo,
    ) -> Result<Option<Slots>, LedgerError> {
        let (parent, root) = self.record(|l| {
            Ok((
                l.get(target, &reply_to.parent)?,
                l.get(target, &reply_to.root)?,
            ))
        })?;
        let posted = |r: Option<crate::ledger::Record>| {
            r.filter(|r| r.status == Status::Posted)
                .and_then(|r| Some((r.remote_id.clone()?, r.reference.or(r.remote_id)?)))
        };
        let (Some((parent_id, parent_ref)), Some((root_id, root_ref))) =
            (posted(parent), posted(root))
        else {
            return Ok(None);
        };
        Ok(Some(
            [
                (social::PARENT_ID.to_string(), serde_json::json!(parent_id)),
                (
                    social::PARENT_REF.to_string(),
                    serde_json::json!(parent_ref),
                ),
                (social::ROOT_ID.to_string(), serde_json::json!(root_id)),
                (social::ROOT_REF.to_string(), serde_json::json!(root_ref)),
            ]
            .into(),
        ))
    }

    /// A later part whose part before is not posted (it failed in this
    /// run): it stays queued for the run that posts that one.
    fn wait_for_parent(&self, planned: &PlannedPost) -> Result<PostResult, LedgerError> {
        self.unsent(
            planned,
            Status::Queued,
            "waits for the part before it, which is not posted yet",
        )
    }

    /// Keeps what the driver learns about `target` in the ledger at once.
    fn keeper<'a>(
        &'a self,
        target: &'a Target,
    ) -> impl Fn(&str, Option<&str>) -> Result<(), KeepFailed> + Send + Sync + 'a {
        move |key, value| {
            let now = self.clock.now();
            self.record(|l| l.set_learned(&target.name, key, value, now))
                .map_err(|e| KeepFailed(e.to_string()))
        }
    }

    /// The driver for `target`'s requests.
    fn driver<'a>(&'a self, target: &Target, keep: &'a KeepLearned<'a>) -> Driver<'a> {
        Driver {
            transport: self.transport.as_ref(),
            images: self.images.as_ref(),
            clock: &self.clock,
            stop: &self.stop,
            timeout: target.timeout.std(),
            keep,
            sockets: self.sockets.as_ref(),
            shared: self.shared.then_some(self as &dyn SharedSessions),
        }
    }

    /// Runs a post's steps once in this run (a later run tries again), for
    /// what changes no row's status while it is tried: a deletion, a
    /// reshare. `None`: the target's login failed earlier in the run, and
    /// `result` says so.
    async fn once(
        &self,
        target: &Target,
        planned: &PlannedPost,
        run: &mut TargetRun,
        result: &mut PostResult,
        what: &str,
    ) -> Option<Result<social::Delivered, DeliveryError>> {
        if let Some(blocked) = &run.blocked {
            result.status = Status::Queued;
            result.error = Some(format!("not {what} in this run: {blocked}"));
            return None;
        }
        let keep = self.keeper(target);
        let driver = self.driver(target, &keep);
        let mut post_run = PostRun::default();
        let outcome = driver.run(&planned.steps, run, &mut post_run).await;
        result.warnings.append(&mut post_run.warnings);
        result.attempts = 1;
        Some(outcome.map_err(|e| e.map_message(|m| social::scrub(m, &secrets(target, run)))))
    }

    /// Deletes a post made earlier: the row stays `posted` until the
    /// platform confirms.
    async fn delete_one(
        &self,
        target: &Target,
        planned: PlannedPost,
        run: &mut TargetRun,
        mut result: PostResult,
    ) -> Result<PostResult, LedgerError> {
        let Some(outcome) = self
            .once(target, &planned, run, &mut result, "deleted")
            .await
        else {
            return Ok(result);
        };
        let now = self.clock.now();
        match outcome {
            Ok(_) => {
                self.record(|l| {
                    l.mark(
                        &planned.target,
                        &planned.article_id,
                        Status::Deleted,
                        "deleted: the article was unpublished",
                        now,
                    )
                })?;
                result.status = Status::Deleted;
            }
            Err(e) => {
                result.status = Status::Failed;
                result.error = Some(format!(
                    "could not delete the post (it stays recorded as posted; the next run tries again): {e}"
                ));
            }
        }
        Ok(result)
    }

    /// Announces a posted article again: the row stays `posted` whatever
    /// happens; its count of reshares goes up only when the platform
    /// confirms.
    async fn reshare_one(
        &self,
        target: &Target,
        planned: PlannedPost,
        run: &mut TargetRun,
        mut result: PostResult,
        boost: bool,
    ) -> Result<PostResult, LedgerError> {
        let Some(outcome) = self
            .once(target, &planned, run, &mut result, "reshared")
            .await
        else {
            return Ok(result);
        };
        let now = self.clock.now();
        match outcome {
            Ok(delivered) => {
                let id = delivered.remote_id.as_deref().filter(|_| boost);
                self.record(|l| l.mark_reshared(&planned.target, &planned.article_id, id, now))?;
                result.status = Status::Posted;
                result.remote_url = delivered.remote_url;
            }
            Err(e) => {
                result.status = Status::Failed;
                result.error = Some(format!(
                    "could not reshare it (the next run tries again): {e}"
                ));
            }
        }
        Ok(result)
    }

    /// Renews the kept token of each target in `due` (none of which posts
    /// in this run); what fails is a warning, and the post-less run goes on.
    pub async fn renew_tokens(&self, due: &[&Target]) -> Result<Vec<String>, LedgerError> {
        let mut warnings = Vec::new();
        for target in due {
            let Some(authorization) = target.platform.authorization() else {
                continue;
            };
            let learned = self.learned.get(&target.name).cloned().unwrap_or_default();
            let mut run = TargetRun::new(&target.name, &learned);
            let keep = self.keeper(target);
            let driver = self.driver(target, &keep);
            if let Err(e) = driver.renew(&authorization.session, &mut run).await {
                let e = e.map_message(|m| social::scrub(m, &secrets(target, &run)));
                warnings.push(format!(
                    "{}: its token could not be renewed: {e}",
                    target.name
                ));
            }
            for (key, value) in run.learned.drain(..) {
                let now = self.clock.now();
                self.record(|l| l.set_learned(&target.name, &key, value.as_deref(), now))?;
            }
        }
        Ok(warnings)
    }

    /// A post whose request cannot be built: failed, no attempt used.
    fn refuse(&self, planned: &PlannedPost, message: &str) -> Result<PostResult, LedgerError> {
        self.unsent(planned, Status::Failed, message)
    }

    /// Records `planned` as `status` for `reason` without sending it (no
    /// attempt used), and says so.
    fn unsent(
        &self,
        planned: &PlannedPost,
        status: Status,
        reason: &str,
    ) -> Result<PostResult, LedgerError> {
        let now = self.clock.now();
        let key = planned
            .post
            .as_ref()
            .map(|p| p.idempotency_key.clone())
            .unwrap_or_default();
        let unsent = Unsent {
            status,
            reason,
            idempotency_key: &key,
            content_hash: &planned.content_hash,
        };
        self.record(|l| l.record_unsent(&planned.target, &planned.article_id, &unsent, now))?;
        Ok(PostResult {
            target: planned.target.clone(),
            article_id: planned.article_id.clone(),
            title: planned.title.clone(),
            status,
            remote_url: None,
            error: Some(reason.to_string()),
            attempts: 0,
            warnings: Vec::new(),
            taken_elsewhere: false,
        })
    }

    async fn deliver_one(
        &self,
        target: &Target,
        planned: PlannedPost,
        run: &mut TargetRun,
        slots: Slots,
    ) -> Result<PostResult, LedgerError> {
        let now = self.clock.now();
        let mut result = PostResult {
            target: planned.target.clone(),
            article_id: planned.article_id.clone(),
            title: planned.title.clone(),
            status: Status::Queued,
            remote_url: None,
            error: None,
            attempts: 0,
            warnings: Vec::new(),
            taken_elsewhere: false,
        };
        let key = planned
            .post
            .as_ref()
            .map(|p| p.idempotency_key.clone())
            .unwrap_or_else(|| social::idempotency_key(&planned.target, &planned.article_id));
        let hash = planned.content_hash.as_str();
        match &planned.action {
            // Waiting for a time is decided again by each run: nothing is
            // recorded. (A thread's continuation only reaches here when its
            // parts could not be composed.)
            Action::Delay { .. } | Action::Wait { .. } | Action::Continue => {
                result.error = Some(planned.reason.clone());
                return Ok(result);
            }
            Action::Queue | Action::MarkSeen | Action::Hold => {
                let status = match planned.action {
                    Action::Queue => Status::Queued,
                    Action::Hold => Status::Held,
                    _ => Status::Seen,
                };
                let unsent = Unsent {
                    status,
                    reason: &planned.reason,
                    idempotency_key: &key,
                    content_hash: hash,
                };
                self.record(|l| {
                    l.record_unsent(&planned.target, &planned.article_id, &unsent, now)
                })?;
                result.status = status;
                if matches!(status, Status::Queued | Status::Held) {
                    result.error = Some(planned.reason.clone());
                }
                return Ok(result);
            }
            Action::MarkUncertain | Action::Drop => {
                let status = if planned.action == Action::Drop {
                    Status::Dropped
                } else {
                    Status::Uncertain
                };
                let seen = self.seen_revision(&planned).unwrap_or_default();
                self.record(|l| {
                    l.settle(
                        &planned.target,
                        &planned.article_id,
                        status,
                        &planned.reason,
                        seen,
                        now,
                    )
                })?;
                result.status = status;
                result.error = Some(planned.reason.clone());
                return Ok(result);
            }
            Action::Adopt => return Ok(result),
            Action::Delete => return self.delete_one(target, planned, run, result).await,
            Action::Reshare { boost } => {
                let boost = *boost;
                return self.reshare_one(target, planned, run, result, boost).await;
            }
            Action::Send | Action::Resend | Action::Update { .. } | Action::Repost => {}
        }
        let editing = matches!(planned.action, Action::Update { .. });
        let Some(_) = planned.post.as_ref().filter(|_| planned.error.is_none()) else {
            let message = planned
                .error
                .clone()
                .unwrap_or_else(|| "the post could not be composed".to_string());
            if !editing {
                self.record(|l| {
                    l.begin_attempt(&planned.target, &planned.article_id, &key, hash, now)?;
                    l.mark(
                        &planned.target,
                        &planned.article_id,
                        Status::Failed,
                        &message,
                        now,
                    )
                })?;
            }
            result.status = Status::Failed;
            result.error = Some(message);
            result.attempts = 1;
            return Ok(result);
        };
        if let Some(blocked) = &run.blocked {
            // The target's login failed earlier in this run: try on a later one.
            let reason = format!("not tried: {blocked}");
            if !editing {
                let unsent = Unsent {
                    status: Status::Queued,
                    reason: &reason,
                    idempotency_key: &key,
                    content_hash: hash,
                };
                self.record(|l| {
                    l.record_unsent(&planned.target, &planned.article_id, &unsent, now)
                })?;
            }
            result.error = Some(reason);
            return Ok(result);
        }

        let social = &self.config.social;
        let recognises_resend = editing
            || !matches!(
                target
                    .platform
                    .capabilities(&self.learned.get(&target.name).cloned().unwrap_or_default())
                    .idempotency,
                social::Idempotency::None
            );
        let prior_attempts = self
            .record(|l| l.get(&planned.target, &planned.article_id))?
            .map_or(0, |r| {
                if r.status == Status::Posted {
                    0
                } else {
                    r.attempts
                }
            });
        let keep = self.keeper(target);
        let driver = self.driver(target, &keep);
        let mut post_run = PostRun::default();
        post_run.slots = slots;
        let mut attempt_in_run = 0;
        loop {
            attempt_in_run += 1;
            let total = prior_attempts + attempt_in_run;
            let now = self.clock.now();
            if !editing {
                let attempt = Attempt {
                    target: &planned.target,
                    article_id: &planned.article_id,
                    key: &key,
                    hash,
                    now,
                };
                let seen = self.seen_revision(&planned);
                let pace = Pace {
                    min_interval: target.min_interval.unwrap_or(social.min_interval).delta(),
                    max_per_run: target.max_per_run.unwrap_or(social.max_per_run),
                    run_started: self.run_started,
                };
                // A thread's later part follows its first post at once.
                let pace = crate::ledger::part_of(&planned.article_id)
                    .1
                    .is_none()
                    .then_some(&pace);
                match self.record(|l| l.claim(&attempt, seen, pace))? {
                    Claim::Granted => {}
                    Claim::Taken => {
                        result.attempts = 0;
                        result.taken_elsewhere = true;
                        result.error = Some(
                            "another host took it since this run read the ledger (it is sending it, or sent it); left to it"
                                .to_string(),
                        );
                        return Ok(result);
                    }
                    Claim::Paced => {
                        result.attempts = 0;
                        result.error = Some(
                            "another host posted to this target within min_interval, or this run's max_per_run is reached across hosts; it goes out on a later run"
                                .to_string(),
                        );
                        return Ok(result);
                    }
                }
            }
            result.attempts = total;
            let outcome = driver.run(&planned.steps, run, &mut post_run).await;
            result.warnings.append(&mut post_run.warnings);
            let now = self.clock.now();
            let error = match outcome {
                Ok(delivered) => {
                    if editing {
                        self.record(|l| {
                            l.mark_updated(&planned.target, &planned.article_id, hash, now)
                        })?;
                    } else {
                        self.record(|l| {
                            l.mark_posted(&planned.target, &planned.article_id, &delivered, now)
                        })?;
                    }
                    result.status = Status::Posted;
                    result.remote_url = delivered.remote_url;
                    result.error = None;
                    return Ok(result);
                }
                Err(e) => e.map_message(|m| social::scrub(m, &secrets(target, run))),
            };
            let message = error.to_string();
            tracing::debug!(target = %planned.target, attempt = total, error = %message, "delivery attempt failed");
            result.error = Some(message.clone());
            // What may have been acted on is sent again only where the
            // platform recognises a resend.
            let maybe_delivered = matches!(
                error,
                DeliveryError::MaybeDelivered { .. } | DeliveryError::Uncertain { .. }
            );
            if maybe_delivered && !recognises_resend {
                let reason = format!(
                    "{message}; it may have been posted, and {} would not recognise a resend, so it is not resent (check the channel; --retry-uncertain sends it again)",
                    target.platform.kind()
                );
                if !editing {
                    self.record(|l| {
                        l.mark(
                            &planned.target,
                            &planned.article_id,
                            Status::Uncertain,
                            &reason,
                            now,
                        )
                    })?;
                }
                result.status = Status::Uncertain;
                result.error = Some(reason);
                return Ok(result);
            }
            // Nothing was sent and only a person can fix the token: failed,
            // so cron mails the owner, but no attempt is used.
            if let DeliveryError::NeedsAuthorization { .. } = error {
                if !editing {
                    self.record(|l| {
                        l.wait_until(
                            &planned.target,
                            &planned.article_id,
                            &message,
                            now,
                            true,
                            now,
                        )?;
                        l.mark(
                            &planned.target,
                            &planned.article_id,
                            Status::Failed,
                            &message,
                            now,
                        )
                    })?;
                }
                result.status = Status::Failed;
                result.attempts = result.attempts.saturating_sub(1);
                return Ok(result);
            }
            let retryable = maybe_delivered || error.not_delivered();
            let retryable = retryable && !matches!(error, DeliveryError::Unbuildable { .. });
            let delay = error.server_delay().unwrap_or_else(|| {
                backoff(
                    social.retry_base.std(),
                    attempt_in_run,
                    social.max_wait.std(),
                )
            });
            // A wait longer than the run can afford (or any wait, once the
            // target's login was rate-limited): queued with a time before
            // which it is not tried; an answer that certainly was not acted
            // on uses no attempt.
            let login_wait =
                run.blocked.is_some() && matches!(error, DeliveryError::RateLimited { .. });
            if retryable && (delay > social.max_wait.std() || login_wait) {
                let until = now
                    .checked_add_signed(
                        chrono::TimeDelta::from_std(delay).unwrap_or(chrono::TimeDelta::MAX),
                    )
                    .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
                let reason = format!(
                    "{message}; the server asked to wait until {}, so it is not tried before then",
                    until.format("%Y-%m-%d %H:%M:%S UTC")
                );
                if !editing {
                    self.record(|l| {
                        l.wait_until(
                            &planned.target,
                            &planned.article_id,
                            &reason,
                            until,
                            error.not_delivered(),
                            now,
                        )
                    })?;
                }
                result.status = Status::Queued;
                result.attempts = result
                    .attempts
                    .saturating_sub(u32::from(error.not_delivered()));
                result.error = Some(reason);
                return Ok(result);
            }
            let can_retry = retryable
                && attempt_in_run < ATTEMPTS_PER_RUN
                && total < social.max_attempts
                && run.blocked.is_none();
            if !can_retry || self.stop.is_requested() {
                if !editing {
                    self.record(|l| {
                        l.mark(
                            &planned.target,
                            &planned.article_id,
                            Status::Failed,
                            &message,
                            now,
                        )
                    })?;
                }
                result.status = Status::Failed;
                return Ok(result);
            }
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.stop.requested() => {}
            }
        }
    }
}

/// `posted 3 (mastodon 2, discord 1), 1 failed, 2 queued`.
pub fn summary(results: &[PostResult]) -> String {
    let mut parts = Vec::new();
    for status in [
        Status::Posted,
        Status::Failed,
        Status::Uncertain,
        Status::Queued,
        Status::Dropped,
        Status::Deleted,
        Status::Seen,
    ] {
        let mine: Vec<&PostResult> = results.iter().filter(|r| r.status == status).collect();
        if mine.is_empty() {
            continue;
        }
        let mut per_target: Vec<(String, usize)> = Vec::new();
        for r in &mine {
            match per_target.iter_mut().find(|(t, _)| *t == r.target) {
                Some((_, n)) => *n += 1,
                None => per_target.push((r.target.clone(), 1)),
            }
        }
        let detail: Vec<String> = per_target.iter().map(|(t, n)| format!("{t} {n}")).collect();
        parts.push(format!("{} {} ({})", status, mine.len(), detail.join(", ")));
    }
    parts.join(", ")
}

/// The values to scrub from what a target's posts record and print: its
/// secrets, and the tokens its sessions hold.
fn secrets(target: &Target, run: &TargetRun) -> Vec<String> {
    let mut secrets = social::secret_values(target.platform.as_ref());
    secrets.extend(run.secrets.iter().cloned());
    secrets
}

/// Full-jitter backoff: a random delay in `[0, min(cap, base × 2^(n-1))]`.
pub fn backoff(base: Duration, attempt: u32, cap: Duration) -> Duration {
    let ceiling = base
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(cap);
    let fraction: f64 = rand::random();
    ceiling.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_within_its_ceiling() {
        let base = Duration::from_millis(100);
        for attempt in 1..=10 {
            for _ in 0..50 {
                let d = backoff(base, attempt, Duration::from_secs(2));
                let ceiling = (base * 2u32.pow(attempt - 1)).min(Duration::from_secs(2));
                assert!(d <= ceiling, "{attempt}: {d:?} > {ceiling:?}");
            }
        }
    }
}
