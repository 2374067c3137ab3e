//! Delivery: one runner per sink drains that sink's rows of the outbox, so
//! that a slow or dead sink holds back no other. A row is marked delivered
//! only after its sink confirmed; failures are retried on the sink's
//! schedule (with jitter, or later when the receiver asks), then the row is
//! dead: kept, counted, shown by `alerts --failed`. Digests, quiet hours
//! and an hourly cap hold alerts and send them as one message.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::format;
use super::sink::{AlertSink, SinkError};
use crate::clock::Clock;
use crate::config::{DeliveryPolicy, QuietHours};
use crate::metrics::Metrics;
use crate::rules::Severity;
use crate::store::{OutboxEntry, Store, StoreError};

/// Rows taken from the outbox at a time, and the most alerts one digest
/// holds.
pub(crate) const BATCH: usize = 256;

/// The longest a runner sleeps before looking at the outbox again (rows
/// revived by `alerts retry` from another process are seen by then).
const IDLE_LOOK: Duration = Duration::from_secs(15);

/// What one pass over the outbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainStats {
    pub delivered: usize,
    /// Attempts that failed (the rows wait for a retry or are dead).
    pub failed: usize,
    /// Rows given up in this pass.
    pub dead: usize,
    /// Rows held for a digest, quiet hours or the hourly cap.
    pub held: usize,
}

impl DrainStats {
    fn add(&mut self, o: DrainStats) {
        self.delivered += o.delivered;
        self.failed += o.failed;
        self.dead += o.dead;
        self.held += o.held;
    }
}

/// Tells every runner that alerts were queued.
#[derive(Clone)]
pub struct AlertsWaiting(Arc<watch::Sender<u64>>);

impl Default for AlertsWaiting {
    fn default() -> Self {
        AlertsWaiting(Arc::new(watch::channel(0).0))
    }
}

impl AlertsWaiting {
    pub fn notify(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn subscribe(&self) -> watch::Receiver<u64> {
        self.0.subscribe()
    }
}

/// The wait before attempt `failed + 1`, after `failed` failed attempts,
/// on `schedule`, with ±10% jitter; `None` when the schedule is spent.
pub fn retry_wait(schedule: &[Duration], failed: u32) -> Option<Duration> {
    let base = *schedule.get((failed as usize).checked_sub(1)?)?;
    let jitter = 0.9 + fastrand::f64() * 0.2;
    Some(base.mul_f64(jitter))
}

/// The runner of one sink.
struct Runner {
    sink: Arc<dyn AlertSink>,
    policy: DeliveryPolicy,
    store: Store,
    clock: Clock,
    metrics: Option<Arc<Metrics>>,
    state: Mutex<RunnerState>,
}

#[derive(Default)]
struct RunnerState {
    /// The endpoint answered 410: nothing more is sent until a restart or
    /// a reload (rows go dead with the reason).
    gone: bool,
    /// When the last send started (Unix ms), for `per_minute`.
    last_send: Option<i64>,
    /// Sends in the last hour (Unix ms), for `max_per_hour`.
    sends: VecDeque<i64>,
    /// When each group of held rows goes out as one digest.
    digest_at: BTreeMap<HoldKey, i64>,
}

/// A group of rows held for one digest.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum HoldKey {
    /// The sink's own `digest` period.
    Digest,
    /// A watchlist's `digest` period for this sink.
    Watchlist(String),
    /// Held by quiet hours or the hourly cap.
    Held,
}

struct Held {
    key: HoldKey,
    rows: Vec<OutboxEntry>,
    until: i64,
}

/// What becomes of one row after an attempt.
enum Verdict {
    Failed,
    Dead,
}

impl Runner {
    fn name(&self) -> &str {
        self.sink.name()
    }

    fn count(&self, outcome: &str, n: usize) {
        if let (Some(m), true) = (&self.metrics, n > 0) {
            m.alert(self.name(), outcome, n as u64);
        }
    }

    /// Every live pending row, oldest first (paged), up to `BATCH` * 8.
    async fn pending(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let page = self.store.pending_for_sink(self.name(), after, BATCH).await?;
            let full = page.len() == BATCH;
            if let Some(last) = page.last() {
                after = last.row;
            }
            out.extend(page);
            if !full || out.len() >= BATCH * 8 {
                return Ok(out);
            }
        }
    }

    /// Delivers what is due. `force`: every pending row now, retries,
    /// digest periods and the hourly cap ignored (a one-shot run; quiet
    /// hours still hold). Returns what happened and when to look again
    /// (Unix ms), if anything is left.
    async fn pass(&self, force: bool, cancel: &CancellationToken) -> Result<(DrainStats, Option<i64>), StoreError> {
        let mut stats = DrainStats::default();
        let mut rounds = 0;
        loop {
            let now = self.clock.now_ms();
            let rows = self.pending().await?;
            if rows.is_empty() {
                return Ok((stats, None));
            }
            if self.lock().gone {
                let ids = rows.iter().map(|r| r.row).collect();
                let msg = SinkError::Stopped(self.name().to_string()).to_string();
                self.store.mark_dead(ids, msg, now).await?;
                stats.dead += rows.len();
                self.count("dead", rows.len());
                continue;
            }
            let next_retry = rows.iter().map(|r| r.next_attempt).filter(|t| *t > now).min();
            // A forced pass makes one round: its failures stay for later.
            if force && rounds > 0 || cancel.is_cancelled() {
                return Ok((stats, next_retry.or(Some(now))));
            }
            rounds += 1;
            // A sink with one delivery at a time keeps order: its oldest
            // row goes first, and what follows waits for it.
            let due: Vec<OutboxEntry> = if force {
                rows
            } else if self.policy.concurrency == 1 {
                rows.into_iter().take_while(|r| r.next_attempt <= now).collect()
            } else {
                rows.into_iter().filter(|r| r.next_attempt <= now).collect()
            };
            if due.is_empty() {
                return Ok((stats, next_retry));
            }
            let (now_rows, held) = self.split_held(due, force, now);
            if !now_rows.is_empty() {
                stats.add(self.send_each(&now_rows, cancel).await?);
            }
            let mut released = false;
            let mut held_rows = 0;
            let mut hold_until: Option<i64> = None;
            for h in held {
                if h.until <= now {
                    released = true;
                    self.lock().digest_at.remove(&h.key);
                    stats.add(self.send_digest(&h.rows, h.key).await?);
                } else {
                    held_rows += h.rows.len();
                    hold_until = Some(hold_until.map_or(h.until, |u| u.min(h.until)));
                }
            }
            if now_rows.is_empty() && !released {
                stats.held = held_rows;
                let next = match (next_retry, hold_until) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                return Ok((stats, next));
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RunnerState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The digest a row joins by its watchlist's mode for this sink, or by
    /// the sink's own `digest`, with the period; `None`: sent at once.
    fn digest_of(&self, row: &OutboxEntry) -> Option<(HoldKey, Duration)> {
        if !self.policy.watchlists.is_empty() {
            let wl = format::alert_of(row).watchlist;
            if let Some(mode) = self.policy.watchlists.get(&wl) {
                return mode.map(|p| (HoldKey::Watchlist(wl), p));
            }
        }
        self.policy.digest.map(|p| (HoldKey::Digest, p))
    }

    /// Splits due rows into those sent now and groups held for one digest
    /// each, with when each goes.
    fn split_held(&self, due: Vec<OutboxEntry>, force: bool, now: i64) -> (Vec<OutboxEntry>, Vec<Held>) {
        let mut groups: BTreeMap<HoldKey, Vec<OutboxEntry>> = BTreeMap::new();
        let mut rest = Vec::new();
        let mut st = self.lock();
        for row in due {
            match self.digest_of(&row) {
                Some((key, period)) => {
                    st.digest_at
                        .entry(key.clone())
                        .or_insert_with(|| next_boundary(now, period));
                    groups.entry(key).or_default().push(row);
                }
                None => rest.push(row),
            }
        }
        let mut unforced = None;
        let mut send = Vec::new();
        if let Some(left) = self
            .policy
            .quiet_hours
            .map(|q| quiet_minutes_left(q, now))
            .filter(|l| *l > 0)
        {
            // Critical alerts break the quiet; the rest wait for its end,
            // as one digest (a one-shot run holds them too).
            let (critical, rest): (Vec<_>, Vec<_>) = rest
                .into_iter()
                .partition(|r| format::alert_of(r).severity >= Severity::Critical);
            let until = now + i64::from(left) * 60_000;
            let until = until - until % 60_000;
            if !rest.is_empty() {
                st.digest_at.insert(HoldKey::Held, until);
                groups.insert(HoldKey::Held, rest);
                unforced = Some(until);
            }
            send = critical;
        } else if st.digest_at.contains_key(&HoldKey::Held) {
            // Alerts held by quiet hours or the cap: one digest when the
            // time comes, and what arrives meanwhile joins it.
            if !rest.is_empty() {
                groups.insert(HoldKey::Held, rest);
            }
        } else if let Some(cap) = self.policy.max_per_hour.filter(|_| !force) {
            while st.sends.front().is_some_and(|t| *t <= now - 3_600_000) {
                st.sends.pop_front();
            }
            let room = (cap as usize).saturating_sub(st.sends.len());
            send = rest;
            if send.len() > room {
                let held = send.split_off(room);
                let until = st.sends.front().map_or(now, |t| *t) + 3_600_000;
                st.digest_at.insert(HoldKey::Held, until);
                groups.insert(HoldKey::Held, held);
            }
        } else {
            send = rest;
        }
        // A hold whose time came with nothing in it is over.
        st.digest_at.retain(|k, at| *at > now || groups.contains_key(k));
        let held = groups
            .into_iter()
            .map(|(key, rows)| {
                let at = st.digest_at.get(&key).copied().unwrap_or(now);
                let until = match (&key, unforced) {
                    (HoldKey::Held, Some(u)) => u,
                    _ if force => now,
                    _ => at,
                };
                Held { key, rows, until }
            })
            .collect();
        (send, held)
    }

    /// Waits for the rate limit, and counts the send.
    async fn pace(&self) {
        let wait = {
            let mut st = self.lock();
            let now = self.clock.now_ms();
            let start = match (self.policy.per_minute, st.last_send) {
                (Some(n), Some(last)) => (last + 60_000 / i64::from(n)).max(now),
                _ => now,
            };
            st.last_send = Some(start);
            st.sends.push_back(start);
            start - now
        };
        if wait > 0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }

    /// Sends rows one by one (a batch for the log), up to `concurrency` at
    /// once; an ordered sink stops at the first failure.
    async fn send_each(&self, rows: &[OutboxEntry], cancel: &CancellationToken) -> Result<DrainStats, StoreError> {
        let mut stats = DrainStats::default();
        if self.sink.batched() {
            self.pace().await;
            let results = self.sink.deliver_batch(rows).await;
            for (row, r) in rows.iter().zip(results) {
                self.record(row, r, &mut stats).await?;
            }
            return Ok(stats);
        }
        if self.policy.concurrency == 1 {
            for row in rows {
                if cancel.is_cancelled() {
                    break;
                }
                self.pace().await;
                let r = self.sink.deliver_one(row).await;
                let ok = r.is_ok();
                self.record(row, r, &mut stats).await?;
                if !ok {
                    break;
                }
            }
            return Ok(stats);
        }
        let gate = tokio::sync::Semaphore::new(self.policy.concurrency);
        let mut sends: Vec<super::sink::SinkFuture<'_, Result<(), SinkError>>> = Vec::with_capacity(rows.len());
        for row in rows {
            let gate = &gate;
            sends.push(Box::pin(async move {
                let _permit = gate.acquire().await;
                self.pace().await;
                self.sink.deliver_one(row).await
            }));
        }
        let results = futures_util::future::join_all(sends).await;
        for (row, r) in rows.iter().zip(results) {
            self.record(row, r, &mut stats).await?;
        }
        Ok(stats)
    }

    /// Sends held rows as one digest (one row alone as itself).
    async fn send_digest(&self, rows: &[OutboxEntry], key: HoldKey) -> Result<DrainStats, StoreError> {
        let mut stats = DrainStats::default();
        for chunk in rows.chunks(BATCH) {
            self.pace().await;
            let r = if chunk.len() == 1 {
                self.sink.deliver_one(&chunk[0]).await
            } else {
                self.sink.deliver_digest(chunk).await
            };
            match r {
                Ok(()) => {
                    self.store
                        .mark_delivered(chunk.iter().map(|r| r.row).collect(), self.clock.now_ms())
                        .await?;
                    stats.delivered += chunk.len();
                    self.count("delivered", chunk.len());
                }
                Err(e) => {
                    for row in chunk {
                        let v = self.fail(row, &e).await?;
                        tally(&mut stats, v);
                    }
                    if e.is_gone() {
                        self.stop_gone(&e);
                    }
                    if let Some(next) = chunk.iter().map(|r| r.next_attempt).max() {
                        self.lock().digest_at.insert(key, next);
                    }
                    break;
                }
            }
        }
        Ok(stats)
    }

    async fn record(
        &self,
        row: &OutboxEntry,
        r: Result<(), SinkError>,
        stats: &mut DrainStats,
    ) -> Result<(), StoreError> {
        match r {
            Ok(()) => {
                self.store.mark_delivered(vec![row.row], self.clock.now_ms()).await?;
                stats.delivered += 1;
                self.count("delivered", 1);
            }
            Err(e) => {
                let v = self.fail(row, &e).await?;
                tally(stats, v);
                if e.is_gone() {
                    self.stop_gone(&e);
                }
            }
        }
        Ok(())
    }

    fn stop_gone(&self, e: &SinkError) {
        let mut st = self.lock();
        if !st.gone {
            st.gone = true;
            tracing::error!(sink = self.name(), error = %e.chain(), "sink stopped: no more deliveries to it until the config is reloaded or the daemon restarted");
        }
    }

    /// Counts a failed attempt: the row waits for its next one, or is dead.
    async fn fail(&self, row: &OutboxEntry, e: &SinkError) -> Result<Verdict, StoreError> {
        let now = self.clock.now_ms();
        let failed = row.attempts + 1;
        let msg = e.chain();
        let wait = if e.is_gone() {
            None
        } else {
            retry_wait(&self.policy.retry, failed).map(|w| e.retry_after().map_or(w, |ra| ra.max(w)))
        };
        self.count("failed", 1);
        match wait {
            Some(w) => {
                tracing::warn!(alert = %row.alert_id, sink = self.name(), attempt = failed, error = %msg, retry_in_s = w.as_secs(), "alert delivery failed");
                self.store
                    .mark_failed(vec![row.row], msg, now + w.as_millis() as i64)
                    .await?;
                Ok(Verdict::Failed)
            }
            None => {
                tracing::error!(alert = %row.alert_id, sink = self.name(), attempts = failed, error = %msg, "alert delivery failed for good: kept as dead, see `newshound alerts --failed`");
                self.store.mark_dead(vec![row.row], msg, now).await?;
                self.count("dead", 1);
                Ok(Verdict::Dead)
            }
        }
    }
}

fn tally(stats: &mut DrainStats, v: Verdict) {
    match v {
        Verdict::Failed => stats.failed += 1,
        Verdict::Dead => {
            stats.failed += 1;
            stats.dead += 1;
        }
    }
}

/// The first multiple of `period` after `now` (Unix ms), so that a
/// "30m" digest goes at :00 and :30.
fn next_boundary(now: i64, period: Duration) -> i64 {
    let p = (period.as_millis() as i64).max(1);
    (now / p + 1) * p
}

/// Minutes left of the quiet window at `now` (local time), 0 outside it.
fn quiet_minutes_left(q: QuietHours, now_ms: i64) -> u32 {
    use chrono::Timelike;
    let Some(t) = chrono::DateTime::from_timestamp_millis(now_ms) else {
        return 0;
    };
    let local = t.with_timezone(&chrono::Local);
    q.minutes_left(local.hour() * 60 + local.minute())
}

/// The sinks and their runners.
#[derive(Clone)]
pub struct Delivery {
    runners: Arc<Vec<Arc<Runner>>>,
    waiting: AlertsWaiting,
}

impl Delivery {
    /// One runner per sink, each with its policy.
    pub fn new(store: Store, sinks: super::Sinks, clock: Clock, metrics: Option<Arc<Metrics>>) -> Delivery {
        let runners = sinks
            .into_iter()
            .map(|(sink, policy)| {
                Arc::new(Runner {
                    sink,
                    policy,
                    store: store.clone(),
                    clock,
                    metrics: metrics.clone(),
                    state: Mutex::new(RunnerState::default()),
                })
            })
            .collect();
        Delivery {
            runners: Arc::new(runners),
            waiting: AlertsWaiting::default(),
        }
    }

    /// Shares `waiting` (kept across reloads) instead of its own.
    pub fn with_waiting(mut self, waiting: AlertsWaiting) -> Delivery {
        self.waiting = waiting;
        self
    }

    /// What the pipeline tells when it queued alerts.
    pub fn waiting(&self) -> AlertsWaiting {
        self.waiting.clone()
    }

    pub fn sink_names(&self) -> Vec<String> {
        self.runners.iter().map(|r| r.name().to_string()).collect()
    }

    /// Delivers everything pending now, retries and digest periods
    /// ignored: what a one-shot run does before it exits. Quiet hours
    /// still hold.
    pub async fn drain_all(&self) -> Result<DrainStats, StoreError> {
        let cancel = CancellationToken::new();
        let passes = self.runners.iter().map(|r| {
            let cancel = cancel.clone();
            async move { r.pass(true, &cancel).await }
        });
        let mut stats = DrainStats::default();
        for r in futures_util::future::join_all(passes).await {
            stats.add(r?.0);
        }
        Ok(stats)
    }

    /// Delivers what is due now, on every sink; for tests and tools.
    pub async fn drain(&self) -> Result<DrainStats, StoreError> {
        let cancel = CancellationToken::new();
        let mut stats = DrainStats::default();
        for r in self.runners.iter() {
            stats.add(r.pass(false, &cancel).await?.0);
        }
        Ok(stats)
    }

    /// Starts one task per sink on `tracker`, also tracked by `generation`
    /// (so that a reload can wait for these runners alone), until
    /// `cancel`; each makes a last pass over what is due after
    /// cancellation, within `last_pass`.
    pub fn spawn(
        &self,
        tracker: &TaskTracker,
        generation: &TaskTracker,
        cancel: CancellationToken,
        last_pass: Duration,
    ) {
        for runner in self.runners.iter() {
            let runner = runner.clone();
            let mut wake = self.waiting.subscribe();
            let cancel = cancel.clone();
            tracker.spawn(generation.track_future(async move {
                loop {
                    let next = match runner.pass(false, &cancel).await {
                        Ok((_, next)) => next,
                        Err(e) => {
                            tracing::error!(sink = runner.name(), error = %e, "alert outbox unreadable");
                            Some(runner.clock.now_ms() + 5_000)
                        }
                    };
                    let sleep_for = next
                        .map(|t| {
                            Duration::from_millis(
                                (t - runner.clock.now_ms()).clamp(20, IDLE_LOOK.as_millis() as i64) as u64
                            )
                        })
                        .unwrap_or(IDLE_LOOK);
                    tokio::select! {
                        _ = cancel.cancelled() => break,
                        _ = wake.changed() => {}
                        _ = tokio::time::sleep(sleep_for) => {}
                    }
                }
                let last = CancellationToken::new();
                match tokio::time::timeout(last_pass, runner.pass(false, &last)).await {
                    Ok(Err(e)) => tracing::error!(sink = runner.name(), error = %e, "last alert drain failed"),
                    Err(_) => tracing::warn!(
                        sink = runner.name(),
                        "last alert drain cut at the shutdown deadline; the rest stays queued"
                    ),
                    Ok(Ok(_)) => {}
                }
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_waits_follow_the_schedule_then_end() {
        let s = crate::config::sinks::default_retry();
        assert!(retry_wait(&s, 0).is_none(), "no wait before a first attempt");
        let first = retry_wait(&s, 1).unwrap();
        assert!(first >= Duration::from_millis(4500) && first <= Duration::from_millis(5500));
        let last = retry_wait(&s, 7).unwrap();
        assert!(last >= Duration::from_secs(32_400));
        assert!(retry_wait(&s, 8).is_none(), "the schedule is spent: dead");
        let total: u64 = s.iter().map(|d| d.as_secs()).sum();
        assert!((80_000..=100_000).contains(&total), "about a day in all: {total}");
    }

    /// A sink that records what it was given: one entry per call, the ids
    /// of a single alert or of a digest; it fails while `fail` is set.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<(bool, Vec<String>)>>,
        fail: std::sync::atomic::AtomicBool,
    }

    struct Recording(Arc<Recorder>);

    impl AlertSink for Recording {
        fn name(&self) -> &str {
            "rec"
        }

        fn deliver_one<'a>(&'a self, e: &'a OutboxEntry) -> super::super::SinkFuture<'a, Result<(), SinkError>> {
            self.0.calls.lock().unwrap().push((false, vec![e.alert_id.clone()]));
            let fail = self.0.fail.load(std::sync::atomic::Ordering::SeqCst);
            Box::pin(async move {
                if fail {
                    Err(SinkError::Rejected {
                        status: 500,
                        body: String::new(),
                        retry_after: None,
                    })
                } else {
                    Ok(())
                }
            })
        }

        fn deliver_digest<'a>(&'a self, es: &'a [OutboxEntry]) -> super::super::SinkFuture<'a, Result<(), SinkError>> {
            self.0
                .calls
                .lock()
                .unwrap()
                .push((true, es.iter().map(|e| e.alert_id.clone()).collect()));
            Box::pin(async { Ok(()) })
        }
    }

    /// An alert of watchlist "w", or of the watchlist before the '/' in
    /// its id.
    fn payload(id: &str, severity: &str) -> String {
        let watchlist = id.split_once('/').map_or("w", |(w, _)| w);
        serde_json::json!({
            "id": id, "at": "2025-11-23T10:00:00Z", "watchlist": watchlist, "watchlist_version": "v",
            "severity": severity, "rules": [], "terms": [], "snippet": "", "title": id,
            "link": null, "feed": "f", "feed_url": "", "published": null,
            "first_seen": "2025-11-23T10:00:00Z", "lang": null
        })
        .to_string()
    }

    async fn setup(
        policy: DeliveryPolicy,
        alerts: &[(&str, &str)],
    ) -> (Delivery, Arc<Recorder>, Store, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        for (id, sev) in alerts {
            store
                .enqueue_alert(
                    id.to_string(),
                    vec!["rec".into()],
                    payload(id, sev),
                    Clock::System.now_ms(),
                )
                .await
                .unwrap();
        }
        let rec = Arc::new(Recorder::default());
        let sink: Arc<dyn AlertSink> = Arc::new(Recording(rec.clone()));
        let d = Delivery::new(store.clone(), vec![(sink, policy)], Clock::System, None);
        (d, rec, store, dir)
    }

    fn policy() -> DeliveryPolicy {
        DeliveryPolicy {
            concurrency: 1,
            per_minute: None,
            retry: vec![Duration::from_millis(50); 2],
            timeout: Duration::from_secs(5),
            digest: None,
            quiet_hours: None,
            max_per_hour: None,
            watchlists: Default::default(),
        }
    }

    #[tokio::test]
    async fn failures_retry_on_schedule_then_die_and_keep_order() {
        let (d, rec, store, _dir) = setup(policy(), &[("a", "medium"), ("b", "medium")]).await;
        rec.fail.store(true, std::sync::atomic::Ordering::SeqCst);
        let s = d.drain().await.unwrap();
        // The first fails; the second waits behind it.
        assert_eq!((s.delivered, s.failed), (0, 1));
        assert_eq!(rec.calls.lock().unwrap().len(), 1);
        for _ in 0..2 {
            tokio::time::sleep(Duration::from_millis(80)).await;
            d.drain().await.unwrap();
        }
        // Three attempts of "a" (the schedule has two retries): dead; then
        // "b" had its first.
        let counts = store.outbox_counts().await.unwrap();
        assert_eq!((counts.dead, counts.pending), (1, 1));
        rec.fail.store(false, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(80)).await;
        let s = d.drain().await.unwrap();
        assert_eq!(s.delivered, 1);
        let calls: Vec<String> = rec.calls.lock().unwrap().iter().map(|c| c.1[0].clone()).collect();
        assert_eq!(calls, ["a", "a", "a", "b", "b"]);
        assert_eq!(store.retry_dead(None, vec![], Clock::System.now_ms()).await.unwrap(), 1);
        assert_eq!(d.drain().await.unwrap().delivered, 1);
    }

    #[tokio::test]
    async fn a_digest_waits_for_its_period_and_goes_as_one() {
        let p = DeliveryPolicy {
            digest: Some(Duration::from_millis(300)),
            ..policy()
        };
        let (d, rec, _store, _dir) = setup(p, &[("a", "low"), ("b", "low"), ("c", "low")]).await;
        let s = d.drain().await.unwrap();
        assert_eq!((s.delivered, s.held), (0, 3));
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(d.drain().await.unwrap().delivered, 3);
        let calls = rec.calls.lock().unwrap().clone();
        assert_eq!(calls, [(true, vec!["a".to_string(), "b".into(), "c".into()])]);
    }

    #[tokio::test]
    async fn a_watchlist_chooses_its_own_mode_for_a_sink() {
        // The sink sends digests; "now" asks for its alerts at once and
        // "slow" for a digest of its own, on another period.
        let p = DeliveryPolicy {
            digest: Some(Duration::from_secs(3600)),
            watchlists: [
                ("now".to_string(), None),
                ("slow".to_string(), Some(Duration::from_millis(300))),
            ]
            .into_iter()
            .collect(),
            ..policy()
        };
        let ids = [
            ("w/a", "low"),
            ("slow/b", "low"),
            ("now/c", "low"),
            ("slow/d", "low"),
            ("w/e", "low"),
        ];
        let (d, rec, _store, _dir) = setup(p, &ids).await;
        let s = d.drain().await.unwrap();
        assert_eq!((s.delivered, s.held), (1, 4));
        assert_eq!(rec.calls.lock().unwrap().clone(), [(false, vec!["now/c".to_string()])]);
        tokio::time::sleep(Duration::from_millis(350)).await;
        let s = d.drain().await.unwrap();
        assert_eq!((s.delivered, s.held), (2, 2));
        assert_eq!(
            rec.calls.lock().unwrap()[1],
            (true, vec!["slow/b".to_string(), "slow/d".into()])
        );
        // A one-shot run sends the sink's own digest too.
        assert_eq!(d.drain_all().await.unwrap().delivered, 2);
        assert_eq!(
            rec.calls.lock().unwrap()[2],
            (true, vec!["w/a".to_string(), "w/e".into()])
        );
    }

    #[tokio::test]
    async fn above_the_hourly_cap_alerts_fold_into_a_digest() {
        let p = DeliveryPolicy {
            max_per_hour: Some(2),
            ..policy()
        };
        let ids = [
            ("a", "medium"),
            ("b", "medium"),
            ("c", "medium"),
            ("d", "medium"),
            ("e", "medium"),
        ];
        let (d, rec, _store, _dir) = setup(p, &ids).await;
        let s = d.drain().await.unwrap();
        assert_eq!((s.delivered, s.held), (2, 3));
        // A one-shot run (or the hour's end) sends the rest as one digest.
        assert_eq!(d.drain_all().await.unwrap().delivered, 3);
        let calls = rec.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 3);
        assert_eq!(calls[2], (true, vec!["c".to_string(), "d".into(), "e".into()]));
    }

    #[tokio::test]
    async fn quiet_hours_hold_all_but_critical_alerts() {
        use chrono::Timelike;
        let now = chrono::Local::now();
        let minute = now.hour() * 60 + now.minute();
        let p = DeliveryPolicy {
            quiet_hours: Some(QuietHours {
                start: (minute + 24 * 60 - 1) % (24 * 60),
                end: (minute + 2) % (24 * 60),
            }),
            ..policy()
        };
        let (d, rec, _store, _dir) = setup(p, &[("a", "medium"), ("b", "critical"), ("c", "low")]).await;
        let s = d.drain().await.unwrap();
        assert_eq!((s.delivered, s.held), (1, 2));
        assert_eq!(rec.calls.lock().unwrap().clone(), [(false, vec!["b".to_string()])]);
        // A one-shot run holds them too.
        let s = d.drain_all().await.unwrap();
        assert_eq!((s.delivered, s.held), (0, 2));
    }

    #[test]
    fn digests_go_at_period_boundaries() {
        let half_hour = Duration::from_secs(1800);
        assert_eq!(next_boundary(1_000, half_hour), 1_800_000);
        assert_eq!(next_boundary(1_800_000, half_hour), 3_600_000);
    }
}
