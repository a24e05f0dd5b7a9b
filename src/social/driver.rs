//! The one driver that runs a post's `Steps`, for every platform: it
//! resolves each request (secrets, slots, the image), sends it over the
//! `Transport`, reads the answer with the step's own reader, and hands the
//! values it returns to the steps after it.
//!
//! Sessions are kept per target: one kept from an earlier run is used while
//! its token lasts, refreshed when it ends, and a login is tried at most once
//! per target per run; a refused login stops the target for the run. A
//! token the platform rejects as ended is renewed once and the steps tried
//! again. Uploads done in one attempt are kept for the next attempt of the
//! same post. Polling is bounded and ends at once on a stop request.
//!
//! Attempts, retries and the ledger are the caller's (`publish::deliver`).
//! Waits follow the run's `Clock` (tokio's, which tests pause); what goes on
//! the wire (a signature's timestamp, a record's `createdAt`) and the reading
//! of a server's `Retry-After` date use the real time.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use tokio::sync::Notify;

use super::http::{DeliveryError, Request, Response, Slots};
use super::image::{ImageData, Images};
use super::socket::{Reply, Sockets};
use super::steps::{
    BroadcastStep, CallStep, PollStep, Polled, SendStep, Session, SessionStep, Step, Steps,
    UploadStep,
};
use super::transport::Transport;
use super::{Delivered, Learned};
use crate::clock::Clock;
use crate::secret::Secret;

/// Learned keys of sealed messages start with this (`sealed:{post key}`).
pub const SEALED_PREFIX: &str = "sealed:";

/// The learned key a target's session is kept under.
pub const SESSION_KEY: &str = "session";
/// The learned key of the time before which no login may be tried (the
/// platform rate-limited one).
pub const LOGIN_NOT_BEFORE: &str = "login_not_before";

/// A request to stop: no new post starts, a poll ends at once, and the
/// post in flight is recorded.
#[derive(Debug, Default)]
pub struct Stop {
    requested: AtomicBool,
    notify: Notify,
}

impl Stop {
    pub fn request(&self) {
        self.requested.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_requested(&self) -> bool {
        self.requested.load(Ordering::SeqCst)
    }

    /// Resolves once a stop is requested.
    pub async fn requested(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_requested() {
                return;
            }
            notified.await;
        }
    }
}

/// What the driver needs from the run.
pub struct Driver<'a> {
    pub transport: &'a dyn Transport,
    pub images: &'a dyn Images,
    pub clock: &'a Clock,
    pub stop: &'a Stop,
    /// Each request's time limit (the target's `timeout`).
    pub timeout: Duration,
    /// Keeps (`Some`) or forgets (`None`) a value learned about the target,
    /// in the ledger, at once.
    pub keep: &'a KeepLearned<'a>,
    /// WebSocket exchanges (Nostr relays).
    pub sockets: &'a dyn Sockets,
    /// Where other hosts keep the sessions they renew (a shared ledger);
    /// `None` with one host.
    pub shared: Option<&'a dyn SharedSessions>,
}

/// The sessions hosts sharing a ledger keep: a refresh token that rotates
/// (Bluesky's, X's) may be spent by one host only, so a renewal is done
/// under a lock on the target, after reading what another host may have
/// renewed meanwhile.
pub trait SharedSessions: Send + Sync {
    /// Takes `target`'s renewal lock if no other host holds it.
    fn try_lock(&self, target: &str) -> Result<bool, KeepFailed>;
    /// Lets other hosts renew `target`'s session.
    fn unlock(&self, target: &str);
    /// `target`'s session as the ledger holds it now.
    fn current(&self, target: &str) -> Result<Option<String>, KeepFailed>;
}

/// How long a host waits for another to finish renewing a session.
const RENEWAL_WAIT: Duration = Duration::from_secs(60);

/// Holds a target's renewal lock until dropped.
struct RenewalLock<'a> {
    shared: &'a dyn SharedSessions,
    target: String,
}

impl Drop for RenewalLock<'_> {
    fn drop(&mut self) {
        self.shared.unlock(&self.target);
    }
}

/// Keeps (`Some`) or forgets (`None`) one learned value in the ledger.
pub type KeepLearned<'a> = dyn Fn(&str, Option<&str>) -> Result<(), KeepFailed> + Send + Sync + 'a;

/// The ledger could not keep a learned value.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KeepFailed(pub String);

/// What one target carries from post to post within a run.
#[derive(Debug, Default)]
pub struct TargetRun {
    /// The target's name, for messages that tell what to run.
    name: String,
    session: Option<Session>,
    /// A session kept from an earlier run, not yet tried in this one.
    kept: Option<Session>,
    /// The config's refresh token was tried in this run.
    seed_tried: bool,
    login_tried: bool,
    /// Time spent polling for this target in this run.
    polled: Duration,
    /// A rate-limited login's wait: no login before then.
    login_not_before: Option<DateTime<Utc>>,
    /// Why the target makes no more posts in this run.
    pub blocked: Option<DeliveryError>,
    /// Learned values to keep (`Some`) or forget (`None`), by key.
    pub learned: Vec<(String, Option<String>)>,
    /// Token values obtained in this run, to scrub from texts.
    pub secrets: Vec<String>,
    /// Messages sealed by an earlier attempt, by their learned key.
    sealed: BTreeMap<String, String>,
}

impl TargetRun {
    /// Starts a target's run with what earlier runs kept: a session, and
    /// a time before which no login may be tried.
    pub fn new(name: &str, learned: &Learned) -> Self {
        let kept: Option<Session> = learned
            .get(SESSION_KEY)
            .and_then(|v| serde_json::from_str(v).ok());
        TargetRun {
            name: name.to_string(),
            sealed: learned
                .iter()
                .filter(|(k, _)| k.starts_with(SEALED_PREFIX))
                .map(|(k, f)| (k.clone(), f.value.clone()))
                .collect(),
            secrets: kept.as_ref().map(Session::secrets).unwrap_or_default(),
            kept,
            login_not_before: learned
                .get(LOGIN_NOT_BEFORE)
                .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
                .map(|d| d.to_utc()),
            ..TargetRun::default()
        }
    }

    fn keep(&mut self, session: &Session) {
        self.secrets.extend(session.secrets());
        self.learned
            .push((SESSION_KEY.to_string(), serde_json::to_string(session).ok()));
        self.session = Some(session.clone());
    }

    /// The platform said the session's access token ended: keep the
    /// session only for its refresh token.
    fn access_ended(&mut self) {
        if let Some(mut s) = self.session.take().or_else(|| self.kept.take()) {
            s.access_expires = Some(chrono::DateTime::UNIX_EPOCH);
            self.kept = Some(s);
        }
    }
}

/// What one post carries from attempt to attempt within a run.
#[derive(Debug, Default)]
pub struct PostRun {
    /// Values returned by steps done (an upload's id), kept for the next
    /// attempt.
    pub slots: Slots,
    /// Steps done, by index, that need not be done again.
    done: Vec<usize>,
    /// Time spent polling, over all attempts: one bound for the post.
    polled: Duration,
    /// What gave way (an image left out), for the run's warnings.
    pub warnings: Vec<String>,
}

/// The longest a target's posts wait, together, for uploads to be
/// processed in one run: a run ends in bounded time whatever the platform.
pub const RUN_POLL_LIMIT: Duration = Duration::from_secs(120);

/// An error of a step before the post's own request: whatever that
/// request's fate (a lost answer to an upload or a token refresh), the
/// post itself was certainly not made, so it may be tried again.
fn before_post(e: DeliveryError) -> DeliveryError {
    match e {
        DeliveryError::MaybeDelivered { message, after } => {
            DeliveryError::Retryable { message, after }
        }
        DeliveryError::Uncertain { message } => DeliveryError::retryable(message),
        other => other,
    }
}

/// The slot holding the time a request is sent (RFC 3339, UTC, ms).
pub const SENT_AT: &str = "sent_at";

impl<'a> Driver<'a> {
    /// One attempt at `steps`: every step in order, with one renewal of the
    /// session if the platform says its token ended.
    pub async fn run(
        &self,
        steps: &Steps,
        target: &mut TargetRun,
        post: &mut PostRun,
    ) -> Result<Delivered, DeliveryError> {
        if let Some(e) = &target.blocked {
            return Err(e.clone());
        }
        let renewable = steps.0.iter().any(|s| matches!(s, Step::Session(_)));
        let mut renewed = false;
        loop {
            match self.pass(steps, target, post).await {
                Err(DeliveryError::AuthExpired { message }) if renewable && !renewed => {
                    renewed = true;
                    tracing::debug!(%message, "the session ended; renewing it");
                    target.access_ended();
                }
                // A token herald cannot renew, or one refused as soon as it
                // was renewed: retrying would be refused the same way.
                Err(DeliveryError::AuthExpired { message }) => {
                    return Err(DeliveryError::permanent(if renewed {
                        format!(
                            "{message} (refused even with a renewed token: check the app's permissions and the token's scopes)"
                        )
                    } else {
                        format!(
                            "{message} (the token was refused: it expired or was revoked; replace it in the config)"
                        )
                    }));
                }
                other => return other,
            }
        }
    }

    /// Waits (a bounded time, on the run's clock) for `target`'s renewal
    /// lock where hosts share the ledger.
    async fn lock_renewal(&self, target: &str) -> Result<Option<RenewalLock<'a>>, DeliveryError> {
        let Some(shared) = self.shared else {
            return Ok(None);
        };
        let started = self.clock.elapsed();
        loop {
            match shared.try_lock(target) {
                Ok(true) => {
                    return Ok(Some(RenewalLock {
                        shared,
                        target: target.to_string(),
                    }));
                }
                Ok(false) if self.clock.elapsed() - started < RENEWAL_WAIT => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(false) => {
                    return Err(DeliveryError::retryable(format!(
                        "another host has been renewing {target}'s session for over {} s; tried again on a later run",
                        RENEWAL_WAIT.as_secs()
                    )));
                }
                Err(e) => return Err(DeliveryError::permanent(format!("the ledger: {e}"))),
            }
        }
    }

    /// The session another host kept for `target` after this run read the
    /// ledger, if it differs from `kept`.
    fn renewed_elsewhere(
        &self,
        target: &str,
        kept: &Session,
    ) -> Result<Option<Session>, DeliveryError> {
        let Some(shared) = self.shared else {
            return Ok(None);
        };
        let current = shared
            .current(target)
            .map_err(|e| DeliveryError::permanent(format!("the ledger: {e}")))?;
        Ok(current
            .and_then(|v| serde_json::from_str::<Session>(&v).ok())
            .filter(|s| s.refresh != kept.refresh || s.access != kept.access))
    }

    /// Renews the target's kept session when it is due, without posting
    /// (a token that dies unused is renewed on idle runs too).
    pub async fn renew(
        &self,
        step: &SessionStep,
        target: &mut TargetRun,
    ) -> Result<(), DeliveryError> {
        self.session(step, target).await.map(drop)
    }

    async fn pass(
        &self,
        steps: &Steps,
        target: &mut TargetRun,
        post: &mut PostRun,
    ) -> Result<Delivered, DeliveryError> {
        let mut session = Slots::new();
        for (index, step) in steps.0.iter().enumerate() {
            match step {
                Step::Session(s) => {
                    session = self.session(s, target).await.map_err(before_post)?.slots();
                }
                Step::Call(c) if !post.done.contains(&index) => {
                    self.call_step(c, &session, post)
                        .await
                        .map_err(before_post)?;
                    post.done.push(index);
                }
                Step::Upload(u) if !post.done.contains(&index) => {
                    if u.needs
                        .as_ref()
                        .is_none_or(|slot| post.slots.contains_key(slot))
                    {
                        self.upload(u, &session, post).await.map_err(before_post)?;
                    }
                    post.done.push(index);
                }
                Step::Poll(p) if !post.done.contains(&index) => {
                    self.poll(p, &session, target, post)
                        .await
                        .map_err(before_post)?;
                    post.done.push(index);
                }
                Step::Call(_) | Step::Upload(_) | Step::Poll(_) => {}
                Step::Send(s) => return self.send(s, &session, post).await,
                Step::Broadcast(b) => return self.broadcast(b, target, post).await,
            }
        }
        Err(DeliveryError::unbuildable(
            "the platform gave no request that makes the post",
        ))
    }

    async fn call(
        &self,
        request: &Request,
        slots: &Slots,
        image: Option<&ImageData>,
    ) -> Result<Response, DeliveryError> {
        // What goes on the wire carries the real time (a signature's
        // timestamp), whatever the run's clock says.
        let outgoing = request.resolve(slots, image, Utc::now())?;
        self.transport.send(outgoing, self.timeout).await
    }

    async fn session(
        &self,
        step: &SessionStep,
        target: &mut TargetRun,
    ) -> Result<Session, DeliveryError> {
        if let Some(s) = &target.session {
            return Ok(s.clone());
        }
        if let Some(e) = &target.blocked {
            return Err(e.clone());
        }
        let now = Utc::now();
        // The session kept from an earlier run, then one started from a
        // refresh token given in the config (when it is not the one kept:
        // a person may have put a new one there after the kept one died).
        let mut candidates: Vec<Session> = target.kept.take().into_iter().collect();
        if let Some(Ok(seed)) = step.seed_refresh.as_ref().map(Secret::expose)
            && !target.seed_tried
            && candidates
                .iter()
                .all(|c| c.refresh.as_deref() != Some(seed.as_str()))
        {
            target.seed_tried = true;
            candidates.push(Session {
                access: String::new(),
                refresh: Some(seed),
                values: Default::default(),
                access_expires: Some(DateTime::UNIX_EPOCH),
                refresh_expires: None,
            });
        }
        let mut refused: Option<DeliveryError> = None;
        let mut forgot = false;
        for kept in candidates {
            let due = now + step.renew_within.unwrap_or_default();
            if kept.access_usable(due) {
                target.session = Some(kept.clone());
                return Ok(kept);
            }
            // A refresh token, or (Threads) the access token itself while
            // it lasts, renews the session.
            let renewable =
                kept.refresh_usable(now) || (kept.refresh.is_none() && kept.access_usable(now));
            let Some(refresh) = step.refresh.as_ref().filter(|_| renewable) else {
                if kept.access_usable(now) {
                    target.session = Some(kept.clone());
                    return Ok(kept);
                }
                forgot = true;
                continue;
            };
            // With other hosts: one renews at a time, and what another
            // renewed meanwhile is used, not renewed again with a spent
            // refresh token.
            let _renewing = self.lock_renewal(&target.name).await?;
            let kept = match self.renewed_elsewhere(&target.name, &kept)? {
                Some(newer) if newer.access_usable(due) => {
                    target.secrets.extend(newer.secrets());
                    target.session = Some(newer.clone());
                    return Ok(newer);
                }
                Some(newer) => newer,
                None => kept,
            };
            let renewed = self
                .call(refresh, &kept.slots(), None)
                .await
                .and_then(|r| (step.read)(&r, Utc::now()));
            match renewed {
                Ok(mut s) => {
                    // An answer without a new refresh token keeps the old.
                    if s.refresh.is_none() {
                        s.refresh.clone_from(&kept.refresh);
                        s.refresh_expires = kept.refresh_expires;
                    }
                    // Kept in the ledger before the new access token is
                    // used: a rotated refresh token is never lost to a
                    // crash after this point.
                    target.keep(&s);
                    self.flush(target)?;
                    return Ok(s);
                }
                // The network, the platform or the config failed, not the
                // token: keep it for a later try, and use it while it lasts.
                Err(
                    e @ (DeliveryError::Retryable { .. }
                    | DeliveryError::MaybeDelivered { .. }
                    | DeliveryError::RateLimited { .. }
                    | DeliveryError::Unbuildable { .. }),
                ) => {
                    if kept.access_usable(now) {
                        target.session = Some(kept.clone());
                        return Ok(kept);
                    }
                    target.kept = Some(kept);
                    return Err(e);
                }
                Err(e) => {
                    if kept.access_usable(now) {
                        tracing::debug!(error = %e, "the token could not be renewed; it lasts for now");
                        target.session = Some(kept.clone());
                        return Ok(kept);
                    }
                    tracing::debug!(error = %e, "the kept session could not be refreshed");
                    refused = Some(e);
                    forgot = true;
                }
            }
        }
        if forgot {
            target.learned.push((SESSION_KEY.to_string(), None));
            self.flush(target)?;
        }
        let Some(login) = &step.login else {
            // Tokens come from `herald auth`: the post stays due.
            let why = match &refused {
                Some(e) => format!("the platform refused to renew its token: {e}"),
                None => "no token is kept, or it expired".to_string(),
            };
            let blocked = DeliveryError::NeedsAuthorization {
                message: format!(
                    "{0}: {why}; run `herald auth {0}`. Nothing was sent and the post stays due",
                    target.name
                ),
            };
            target.blocked = Some(blocked.clone());
            return Err(blocked);
        };
        if target.login_tried {
            return Err(target.blocked.clone().unwrap_or_else(|| {
                DeliveryError::permanent("the session ended again after a new login in this run")
            }));
        }
        if let Some(at) = target.login_not_before.filter(|at| *at > now) {
            let blocked = DeliveryError::RateLimited {
                message: format!(
                    "could not log in: the platform asked to wait until {} before the next login",
                    at.format("%Y-%m-%d %H:%M:%S UTC")
                ),
                after: (at - now).to_std().unwrap_or_default(),
            };
            target.blocked = Some(blocked.clone());
            return Err(blocked);
        }
        target.login_tried = true;
        let login = self
            .call(login, &Slots::new(), None)
            .await
            .and_then(|r| (step.read)(&r, Utc::now()));
        match login {
            Ok(s) => {
                target.keep(&s);
                self.flush(target)?;
                Ok(s)
            }
            // One login per run at most: the target stops here for this
            // run, and a rate limit is kept for the runs after it.
            Err(DeliveryError::RateLimited { message, after }) => {
                let until = Utc::now()
                    .checked_add_signed(
                        chrono::TimeDelta::from_std(after).unwrap_or(chrono::TimeDelta::MAX),
                    )
                    .unwrap_or(DateTime::<Utc>::MAX_UTC);
                target
                    .learned
                    .push((LOGIN_NOT_BEFORE.to_string(), Some(until.to_rfc3339())));
                self.flush(target)?;
                let blocked = DeliveryError::RateLimited {
                    message: format!(
                        "could not log in ({message}); no other login is tried before {}",
                        until.format("%Y-%m-%d %H:%M:%S UTC")
                    ),
                    after,
                };
                target.blocked = Some(blocked.clone());
                Err(blocked)
            }
            Err(e) => {
                let blocked = DeliveryError::permanent(format!(
                    "could not log in ({e}); no other login is tried in this run"
                ));
                target.blocked = Some(blocked.clone());
                Err(blocked)
            }
        }
    }

    /// The post as one sealed message to several servers: sealed at the
    /// first attempt and kept in the ledger before it is sent, so that a
    /// later attempt (in this run or another) sends the very same message;
    /// made when `needed` servers accept it.
    async fn broadcast(
        &self,
        step: &BroadcastStep,
        target: &mut TargetRun,
        post: &mut PostRun,
    ) -> Result<Delivered, DeliveryError> {
        let kept = target
            .sealed
            .get(&step.keep_as)
            .and_then(|v| serde_json::from_str::<serde_json::Value>(v).ok())
            .and_then(|v| {
                Some((
                    v.get("message")?.clone(),
                    v.get("id")?.as_str()?.to_string(),
                ))
            });
        let (message, id) = match kept {
            Some(kept) => kept,
            None => {
                let secret = step
                    .secret
                    .expose()
                    .map_err(|e| DeliveryError::unbuildable(e.to_string()))?;
                let mut draft = step.draft.clone();
                for (pointer, slot) in &step.fills {
                    let value = post.slots.get(slot).cloned().ok_or_else(|| {
                        DeliveryError::unbuildable(format!("no value for {slot}"))
                    })?;
                    if let Some(place) = draft.pointer_mut(pointer) {
                        *place = value;
                    }
                }
                let (message, id) =
                    (step.seal)(&draft, &secret, Utc::now()).map_err(DeliveryError::unbuildable)?;
                let kept = json!({"id": id, "message": message}).to_string();
                target.sealed.insert(step.keep_as.clone(), kept.clone());
                target.learned.push((step.keep_as.clone(), Some(kept)));
                self.flush(target)?;
                (message, id)
            }
        };
        let frame = (step.frame)(&message);
        let read = |text: &str| (step.read)(text, &id);
        let answers = futures_util::future::join_all(step.servers.iter().map(|server| {
            self.sockets
                .exchange(server, frame.clone(), &read, self.timeout)
        }))
        .await;
        let mut accepted = 0;
        let mut may_retry = false;
        let mut troubles = Vec::new();
        for (server, answer) in step.servers.iter().zip(answers) {
            match answer {
                Ok(Reply::Accepted(_)) => accepted += 1,
                Ok(Reply::Refused { message, retry }) => {
                    may_retry |= retry;
                    troubles.push(format!("{server} refused it: {message}"));
                }
                Err(e) => {
                    may_retry = true;
                    troubles.push(format!("{server}: {e}"));
                }
            }
        }
        let summary = format!(
            "{accepted} of {} servers accepted it ({} needed)",
            step.servers.len(),
            step.needed
        );
        if accepted >= step.needed {
            post.warnings.extend(troubles);
            target.sealed.remove(&step.keep_as);
            target.learned.push((step.keep_as.clone(), None));
            self.flush(target)?;
            return Ok(Delivered {
                reference: None,
                remote_url: (step.address)(&id),
                remote_id: Some(id),
            });
        }
        let message = format!("{summary}: {}", troubles.join("; "));
        if may_retry {
            // The same message goes again: a server that has it says so.
            Err(DeliveryError::MaybeDelivered {
                message,
                after: None,
            })
        } else {
            Err(DeliveryError::permanent(message))
        }
    }

    /// Keeps what the target learned (a new session, a wait) in the ledger
    /// now: a rotated refresh token must be kept before its access token is
    /// used, so that a crash never loses the only valid one.
    fn flush(&self, target: &mut TargetRun) -> Result<(), DeliveryError> {
        for (key, value) in target.learned.drain(..) {
            (self.keep)(&key, value.as_deref()).map_err(|e| {
                DeliveryError::permanent(format!(
                    "the ledger could not keep the target's new {key}: {e}"
                ))
            })?;
        }
        Ok(())
    }

    async fn call_step(
        &self,
        step: &CallStep,
        session: &Slots,
        post: &mut PostRun,
    ) -> Result<(), DeliveryError> {
        if let Some(slot) = &step.when
            && post.slots.get(slot) != Some(&serde_json::Value::Bool(true))
        {
            return Ok(());
        }
        let mut slots = post.slots.clone();
        slots.extend(session.clone());
        let answer = self
            .call(&step.request, &slots, None)
            .await
            .and_then(|r| (step.read)(&r, Utc::now()));
        match (answer, &step.optional) {
            (Ok(values), _) => {
                post.slots.extend(values);
                Ok(())
            }
            (Err(DeliveryError::Permanent { message }), Some(gave_way)) => {
                post.warnings.push(format!("{gave_way} ({message})"));
                Ok(())
            }
            (Err(e), _) => Err(e),
        }
    }

    async fn upload(
        &self,
        step: &UploadStep,
        session: &Slots,
        post: &mut PostRun,
    ) -> Result<(), DeliveryError> {
        let prepared = match self.images.image(&step.image).await {
            Ok(fetched) => (step.prepare)(&fetched),
            Err(e) => Err(e),
        };
        let image = match prepared {
            Ok(image) => image,
            Err(e) => {
                post.warnings.push(format!("{e}; posted without the image"));
                post.slots.extend(step.without.clone());
                return Ok(());
            }
        };
        // An earlier step may have given where to upload.
        let mut slots = post.slots.clone();
        slots.extend(session.clone());
        let answer = self
            .call(&step.request, &slots, Some(&image))
            .await
            .and_then(|r| (step.read)(&r, Utc::now()));
        match answer {
            Ok(values) => {
                post.slots.extend(values);
                Ok(())
            }
            Err(DeliveryError::Permanent { message }) => {
                post.warnings.push(format!(
                    "the platform refused the image ({message}); posted without it"
                ));
                post.slots.extend(step.without.clone());
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    async fn poll(
        &self,
        step: &PollStep,
        session: &Slots,
        target: &mut TargetRun,
        post: &mut PostRun,
    ) -> Result<(), DeliveryError> {
        if post.slots.get(&step.when) != Some(&serde_json::Value::Bool(true)) {
            return Ok(());
        }
        let mut delay = Duration::from_millis(500);
        loop {
            if post.polled + delay > step.limit {
                return Err(DeliveryError::retryable(format!(
                    "the platform was still processing the image after {}s",
                    step.limit.as_secs()
                )));
            }
            if target.polled + delay > RUN_POLL_LIMIT {
                return Err(DeliveryError::retryable(format!(
                    "this run already waited {}s for the platform to process images; the rest wait for the next run",
                    RUN_POLL_LIMIT.as_secs()
                )));
            }
            post.polled += delay;
            target.polled += delay;
            tokio::select! {
                () = tokio::time::sleep(delay) => {}
                () = self.stop.requested() => {
                    return Err(DeliveryError::retryable(
                        "stopped while the platform was processing the image; the post was not made",
                    ));
                }
            }
            delay = (delay * 2).min(Duration::from_secs(5));
            let mut slots = post.slots.clone();
            slots.extend(session.clone());
            let answer = self
                .call(&step.request, &slots, None)
                .await
                .and_then(|r| (step.read)(&r, Utc::now()))?;
            if let Polled::Ready(values) = answer {
                post.slots.extend(values);
                return Ok(());
            }
        }
    }

    async fn send(
        &self,
        step: &SendStep,
        session: &Slots,
        post: &mut PostRun,
    ) -> Result<Delivered, DeliveryError> {
        let mut slots = post.slots.clone();
        slots.extend(session.clone());
        slots.extend(step.known.clone());
        slots.insert(
            SENT_AT.to_string(),
            Utc::now()
                .to_rfc3339_opts(SecondsFormat::Millis, true)
                .into(),
        );
        let first = self
            .call(&step.request, &slots, None)
            .await
            .and_then(|r| (step.read)(&r, &slots, Utc::now()));
        let result = match (&step.fallback, first) {
            (Some(fallback), Err(e)) if (fallback.when)(&e) => {
                post.warnings.push(format!("{} ({e})", fallback.warning));
                self.call(&fallback.request, &slots, None)
                    .await
                    .and_then(|r| (step.read)(&r, &slots, Utc::now()))
            }
            (_, result) => result,
        };
        // An answer that was lost or refused may hide a post that was made
        // (a resend under a key herald chose is refused by the first one):
        // the platform is asked before anything is decided.
        let result = match (&step.verify, result) {
            (Some(verify), Err(e))
                if matches!(
                    e,
                    DeliveryError::MaybeDelivered { .. }
                        | DeliveryError::Uncertain { .. }
                        | DeliveryError::Permanent { .. }
                ) =>
            {
                let found = self
                    .call(&verify.request, &slots, None)
                    .await
                    .and_then(|r| (verify.read)(&r, &slots, Utc::now()));
                match found {
                    Ok(Some(delivered)) => {
                        tracing::debug!(error = %e, "the post was made after all");
                        Ok(delivered)
                    }
                    _ => Err(e),
                }
            }
            (_, result) => result,
        };
        // Where the post can be seen, when its answer does not say.
        match (result, &step.address) {
            (Ok(mut delivered), Some(address)) if delivered.remote_url.is_none() => {
                slots.insert(
                    "remote_id".to_string(),
                    delivered.remote_id.clone().unwrap_or_default().into(),
                );
                if let Ok(Some(found)) = self
                    .call(&address.request, &slots, None)
                    .await
                    .and_then(|r| (address.read)(&r, &slots, Utc::now()))
                {
                    delivered.remote_url = found.remote_url;
                }
                Ok(delivered)
            }
            (result, _) => result,
        }
    }
}
