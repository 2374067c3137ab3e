//! The daemon's assembly: builds the parts from a [`Config`] (store,
//! fetcher, matcher, alert delivery, pipeline), runs them, and owns
//! cancellation and the shutdown order. No SQL, no HTTP and no pipeline
//! step here: those are `store`, `fetch` and `pipeline`.
//!
//! Shutdown order: stop scheduling; cancel fetches in flight and polls
//! still waiting for their turn (a poll already committing finishes its
//! transaction); wait for poll tasks; stop the tickers and let each sink's
//! runner make a last pass (within a deadline); index what is left; close
//! the store (its thread finishes every queued write).

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::alert::{AlertBuilder, AlertsWaiting, Delivery, build_sinks};
use crate::clock::Clock;
use crate::config::Config;
use crate::fetch::{FetchSettings, Fetcher, Poster};
use crate::metrics::Metrics;
use crate::pipeline::{Pipeline, PollReport};
use crate::rules::Matcher;
use crate::scheduler::{self, DueQueue, FeedRow, Health, Policy};
use crate::store::{Store, StoreError};
use crate::systemd;

/// How long shutdown waits for polls in flight before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// How long each sink's last pass may take at shutdown; what it cannot
/// deliver stays queued for the next start.
const LAST_DELIVERY_PASS: Duration = Duration::from_secs(3);

/// How often the daemon adds new items to the full-text index.
const FTS_EVERY: Duration = Duration::from_secs(20);

/// How often retention looks for items to prune, the items one step
/// reads (one short write each), and how long a pruned item's tombstone
/// is kept (a feed that lists an item a year later is rare).
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const PRUNE_BATCH: usize = 50;
const TOMBSTONE_KEEP: Duration = Duration::from_secs(365 * 86_400);

/// Retention: items that matched nothing and were first seen longer than
/// `keep` ago are removed, a short write at a time; returns how many.
pub async fn prune(store: &Store, keep: Duration, clock: Clock, stop: &CancellationToken) -> Result<usize, StoreError> {
    let now = clock.now_ms();
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let (cutoff, tombstones) = (
        now.saturating_sub(ms(keep)),
        now.saturating_sub(ms(keep.max(TOMBSTONE_KEEP))),
    );
    let mut removed = 0;
    loop {
        let step = store.prune_step(cutoff, tombstones, PRUNE_BATCH).await?;
        removed += step.removed;
        if !step.more && step.tombstones_removed < PRUNE_BATCH || stop.is_cancelled() {
            break;
        }
        // Other writers take their turn between steps.
        tokio::task::yield_now().await;
    }
    if removed > 0 {
        tracing::info!(
            removed,
            keep_days = keep.as_secs() / 86_400,
            "pruned items that matched nothing"
        );
    }
    Ok(removed)
}

/// A site queue that makes a cycle last at least this long is logged.
const SITE_WAIT_WORTH_SAYING: Duration = Duration::from_secs(10);

/// The running parts, built from a configuration.
struct Parts {
    config: Config,
    metrics: Arc<Metrics>,
    store: Store,
    fetcher: Fetcher,
    matcher: Arc<Matcher>,
    delivery: Delivery,
    /// Told by the pipeline when a commit queued alerts; kept across
    /// reloads.
    waiting: AlertsWaiting,
    poster: Poster,
    pipeline: Arc<Pipeline>,
    clock: Clock,
}

impl Parts {
    fn build(config: Config, clock: Clock) -> anyhow::Result<Parts> {
        let store = Store::open(&config.database)
            .with_context(|| format!("cannot open database {}", config.database.display()))?;
        let fetcher = Fetcher::new(FetchSettings::from(&config.polling), clock).context("cannot build HTTP client")?;
        let matcher = Arc::new(Matcher::new(config.watchlists.clone()));
        let metrics = Arc::new(Metrics::new());
        let poster = Poster::new(&config.polling.user_agent, clock).context("cannot build the sinks' HTTP client")?;
        let waiting = AlertsWaiting::default();
        let sinks = build_sinks(&config.sinks, &poster, clock).context("cannot set up the alert sinks")?;
        let delivery = Delivery::new(store.clone(), sinks, clock, Some(metrics.clone())).with_waiting(waiting.clone());
        let pipeline = Arc::new(build_pipeline(
            &config, &store, &fetcher, &matcher, &waiting, clock, &metrics,
        ));
        Ok(Parts {
            config,
            metrics,
            store,
            fetcher,
            matcher,
            delivery,
            waiting,
            poster,
            pipeline,
            clock,
        })
    }

    /// Takes a new configuration: the matcher, the alert builder, the
    /// scheduling policy and (when `[polling]` changed) the HTTP client are
    /// rebuilt into a new pipeline; polls in flight finish on the old one.
    /// The database stays where it is until a restart. Returns the
    /// restart-only settings that changed, and whether the sinks did (the
    /// caller then restarts the delivery runners).
    fn reload(&mut self, new: Config) -> (Vec<&'static str>, bool) {
        let restart_only = new.restart_only_changes(&self.config);
        let fetcher = if new.polling == self.config.polling {
            self.fetcher.clone()
        } else {
            match Fetcher::new(FetchSettings::from(&new.polling), self.clock) {
                Ok(f) => f,
                Err(e) => {
                    tracing::error!(error = %e, "cannot build an HTTP client for the new [polling]; keeping the old one");
                    self.fetcher.clone()
                }
            }
        };
        let matcher = Arc::new(Matcher::new(new.watchlists.clone()));
        self.pipeline = Arc::new(build_pipeline(
            &new,
            &self.store,
            &fetcher,
            &matcher,
            &self.waiting,
            self.clock,
            &self.metrics,
        ));
        self.fetcher = fetcher;
        self.matcher = matcher;
        let mut sinks_changed = false;
        if new.sinks != self.config.sinks {
            match build_sinks(&new.sinks, &self.poster, self.clock) {
                Ok(sinks) => {
                    self.delivery = Delivery::new(self.store.clone(), sinks, self.clock, Some(self.metrics.clone()))
                        .with_waiting(self.waiting.clone());
                    sinks_changed = true;
                }
                Err(e) => {
                    tracing::error!(error = %e.chain(), "cannot set up the edited sinks; the previous ones keep delivering")
                }
            }
        }
        let database = self.config.database.clone();
        self.config = Config { database, ..new };
        (restart_only, sinks_changed)
    }

    /// Registers the configured feeds and returns them with their state.
    async fn sync_feeds(&self) -> anyhow::Result<Vec<FeedRow>> {
        Ok(self
            .store
            .sync_feeds(self.config.feeds.clone(), self.clock.now_ms())
            .await?)
    }

    /// Says so when feeds about to be polled queue up at a site: with many
    /// feeds on one site, politeness (`per_host`, `host_gap`) makes a cycle
    /// long, and that is no fault of the feeds.
    fn log_site_queues<'a>(&self, feeds: impl Iterator<Item = &'a FeedRow>) {
        let (per_host, gap) = self.fetcher.politeness();
        for q in self.fetcher.site_queues(feeds.map(FeedRow::fetch_url)) {
            if q.at_least >= SITE_WAIT_WORTH_SAYING {
                tracing::info!(
                    "{} feeds due on one site ({}): at most {per_host} requests in flight there, {} apart, so they take at least {}",
                    q.requests,
                    q.site,
                    humantime::format_duration(gap),
                    humantime::format_duration(q.at_least)
                );
            }
        }
    }

    /// Closes the store once every other handle is gone; a poll stuck past
    /// the grace period still holds one, so it is not waited for forever.
    async fn close(self) {
        let store = self.store.clone();
        drop(self);
        if tokio::time::timeout(Duration::from_secs(2), store.close())
            .await
            .is_err()
        {
            tracing::warn!("store still in use at exit; committed writes are safe, queued ones are not waited for");
        }
    }
}

/// The pipeline for `config` over the running parts.
fn build_pipeline(
    config: &Config,
    store: &Store,
    fetcher: &Fetcher,
    matcher: &Arc<Matcher>,
    waiting: &AlertsWaiting,
    clock: Clock,
    metrics: &Arc<Metrics>,
) -> Pipeline {
    let intervals = config
        .feeds
        .iter()
        .filter_map(|f| f.interval.map(|i| (f.url.clone(), i)))
        .collect();
    Pipeline::new(
        store.clone(),
        fetcher.clone(),
        matcher.clone(),
        AlertBuilder::new(&config.watchlists, config.alerts.first_poll_max_age)
            .with_escalation(config.escalate_at.clone()),
        Policy {
            interval: config.polling.interval,
            min_interval: config.polling.min_interval,
            max_interval: config.polling.max_interval,
            max_backoff: config.polling.max_backoff,
        },
        intervals,
        waiting.clone(),
        clock,
        metrics.clone(),
    )
}

/// What a `once` cycle did.
#[derive(Debug, Clone, Default)]
pub struct CycleReport {
    pub polled: usize,
    pub failed: usize,
    pub not_modified: usize,
    pub new_items: usize,
    pub alerts: usize,
    pub delivered: usize,
    /// Deliveries attempted in this run that failed: they wait for a
    /// retry (the next run), or are dead after their last attempt.
    pub undelivered: usize,
    /// Alerts held by a sink's quiet hours.
    pub held: usize,
    /// Polls cancelled by a signal before their request was answered.
    pub cancelled: usize,
    pub polls: Vec<PollReport>,
}

async fn poll_all(parts: &Parts, feeds: Vec<FeedRow>, cancel: &CancellationToken) -> Vec<PollReport> {
    parts.log_site_queues(feeds.iter());
    let sem = Arc::new(Semaphore::new(parts.config.polling.concurrency));
    let tracker = TaskTracker::new();
    // One report per feed: the channel never holds more.
    let (tx, mut rx) = mpsc::channel(feeds.len().max(1));
    for feed in feeds {
        let pipeline = parts.pipeline.clone();
        let sem = sem.clone();
        let cancel = cancel.clone();
        let tx = tx.clone();
        let span = tracing::error_span!("feed", url = %feed.url);
        tracker.spawn(
            async move {
                let Ok(_permit) = sem.acquire_owned().await else { return };
                let (_, report) = pipeline.poll(&feed, &cancel).await;
                let _ = tx.send(report).await;
            }
            .instrument(span),
        );
    }
    drop(tx);
    tracker.close();
    let mut out = Vec::new();
    while let Some(r) = rx.recv().await {
        out.push(r);
    }
    tracker.wait().await;
    out
}

/// One cycle over every due feed (every feed with `all`, except those a
/// server asked to wait or that are backing off), then alert delivery.
/// `cancel` (a signal) stops the polls not yet answered; what was fetched
/// is committed and delivered, and the report says how many were cut.
pub async fn run_once(config: Config, all: bool, cancel: CancellationToken) -> anyhow::Result<CycleReport> {
    let parts = Parts::build(config, Clock::System)?;
    // A one-shot run checks the whole file before writing to it: every
    // time when small, once a day when large (`once` may run every minute).
    if let Err(e) = parts.store.check_integrity_when_due(parts.clock.now_ms()).await {
        parts.close().await;
        return Err(e.into());
    }
    let feeds = parts.sync_feeds().await?;
    let now = parts.clock.now_ms();
    let due: Vec<FeedRow> = feeds
        .into_iter()
        .filter(|f| scheduler::is_due(&f.state, now, all))
        .collect();
    let polls = poll_all(&parts, due, &cancel).await;
    parts.store.index_pending().await?;
    if let Some(keep) = parts.config.keep_unmatched {
        prune(&parts.store, keep, parts.clock, &cancel).await?;
    }
    let drained = parts.delivery.drain_all().await?;
    let mut report = CycleReport {
        delivered: drained.delivered,
        undelivered: drained.failed,
        held: drained.held,
        ..Default::default()
    };
    for r in &polls {
        if r.cancelled {
            report.cancelled += 1;
            continue;
        }
        report.polled += 1;
        report.failed += usize::from(r.error.is_some());
        report.not_modified += usize::from(r.not_modified);
        report.new_items += r.new_items;
        report.alerts += r.alerts;
    }
    report.polls = polls;
    parts.close().await;
    Ok(report)
}

/// Cancels `token` on SIGTERM, SIGINT (Ctrl-C) or SIGQUIT, from a task of
/// `tracker` that also ends when the token is cancelled otherwise.
pub fn cancel_on_signals(tracker: &TaskTracker, token: CancellationToken) {
    tracker.spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                return;
            }
        };
        let mut quit = signal(SignalKind::quit()).ok();
        let quit = async {
            match quit.as_mut() {
                Some(q) => {
                    q.recv().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = token.cancelled() => return,
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
            _ = quit => tracing::info!("SIGQUIT received"),
        }
        token.cancel();
    });
}

/// How the daemon runs.
#[derive(Debug, Clone, Copy)]
pub struct DaemonOptions {
    pub clock: Clock,
    /// Reload the configuration on SIGHUP and when its files are edited.
    pub reload: bool,
}

/// Runs the daemon until `cancel` fires, reloading its configuration on
/// SIGHUP and on edits of its files.
pub async fn run_daemon(config: Config, cancel: CancellationToken) -> anyhow::Result<()> {
    run_daemon_with(
        config,
        cancel,
        DaemonOptions {
            clock: Clock::System,
            reload: true,
        },
    )
    .await
}

/// Like [`run_daemon`], reading the time from `clock`, without reloads.
pub async fn run_daemon_with_clock(config: Config, cancel: CancellationToken, clock: Clock) -> anyhow::Result<()> {
    run_daemon_with(config, cancel, DaemonOptions { clock, reload: false }).await
}

/// Runs `f` every `every` until `stop` fires, as a task of `tracker`.
fn spawn_ticker<F, Fut>(tracker: &TaskTracker, stop: CancellationToken, every: Duration, mut f: F)
where
    F: FnMut() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => f().await,
            }
        }
    });
}

/// Sends a message on `reload` at every SIGHUP, from a task of `tracker`.
fn reload_on_sighup(tracker: &TaskTracker, stop: CancellationToken, reload: mpsc::Sender<()>) {
    tracker.spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hup = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGHUP");
                return;
            }
        };
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                Some(()) = hup.recv() => {
                    tracing::info!("SIGHUP received: reloading the configuration");
                    // One waiting reload is enough: it reads everything anew.
                    let _ = reload.try_send(());
                }
            }
        }
    });
}

/// How often the scheduling loop notes that it came round.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The loop is reported stalled (`/healthz` 503) after this long without
/// coming round.
const LOOP_STALLED: Duration = Duration::from_secs(10);

/// A test hook: `NEWSHOUND_TEST_STALL_LOOP_AFTER_MS` makes the scheduling
/// loop stop coming round after that long, as a hung loop would, so that
/// tests can see the watchdog and `/healthz` notice.
fn test_stall_after() -> Option<Duration> {
    std::env::var("NEWSHOUND_TEST_STALL_LOOP_AFTER_MS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

/// How often the status line is refreshed.
const STATUS_EVERY: Duration = Duration::from_secs(30);

/// What the status line says of the feeds and the last reload, kept by
/// the scheduling loop without waiting for anything.
#[derive(Debug, Default)]
struct Snapshot {
    feeds: usize,
    ok: usize,
    failing: usize,
    backoff: usize,
    last_reload: String,
}

/// The status line's sources: the loop's snapshot, and a poke when it
/// changed; a task of its own reads the database's counts and sends the
/// line, so the loop never waits for it.
#[derive(Default)]
struct StatusBoard {
    snapshot: std::sync::Mutex<Snapshot>,
    poke: tokio::sync::Notify,
}

impl StatusBoard {
    fn update(&self, feeds: &HashMap<i64, FeedRow>, last_reload: Option<String>, metrics: &Metrics) {
        let mut by_state = [0i64; 5];
        for f in feeds.values() {
            by_state[f.state.health as usize] += 1;
        }
        metrics.feed_states(&[
            ("new", by_state[Health::New as usize]),
            ("ok", by_state[Health::Ok as usize]),
            ("failing", by_state[Health::Failing as usize]),
            ("backoff", by_state[Health::Backoff as usize]),
            ("gone", by_state[Health::Gone as usize]),
        ]);
        let mut s = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        s.feeds = feeds.len();
        (s.ok, s.failing, s.backoff) = (0, 0, 0);
        for f in feeds.values() {
            match f.state.health {
                Health::Ok => s.ok += 1,
                Health::Failing | Health::Gone => s.failing += 1,
                Health::Backoff => s.backoff += 1,
                Health::New => {}
            }
        }
        if let Some(r) = last_reload {
            s.last_reload = r;
        }
        drop(s);
        self.poke.notify_one();
    }

    fn line(&self, alerts_24h: u64, undelivered: u64) -> String {
        let s = self.snapshot.lock().unwrap_or_else(|p| p.into_inner());
        format!(
            "{} feeds: {} ok, {} failing, {} backoff; {alerts_24h} alerts in 24 h, {undelivered} undelivered; {}",
            s.feeds, s.ok, s.failing, s.backoff, s.last_reload
        )
    }
}

/// Sends the status line when poked and every [`STATUS_EVERY`], as a task
/// of `tracker`.
fn spawn_status(tracker: &TaskTracker, stop: CancellationToken, board: Arc<StatusBoard>, store: Store, clock: Clock) {
    tracker.spawn(async move {
        let mut tick = tokio::time::interval(STATUS_EVERY);
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
                _ = board.poke.notified() => {}
            }
            let day_ago = clock.now_ms() - 24 * 3600 * 1000;
            let alerts = store.alerts_since(day_ago).await.unwrap_or(0);
            let pending = store.outbox_counts().await.map(|c| c.pending).unwrap_or(0);
            systemd::status(&board.line(alerts, pending));
        }
    });
}

/// The daemon's feeds and what is due when.
struct Schedule {
    feeds: HashMap<i64, FeedRow>,
    queue: DueQueue,
    in_flight: HashSet<i64>,
}

impl Schedule {
    /// The schedule of `rows` at `now`: feeds overdue at start-up (or new
    /// after a reload) are spread over a window so that thousands of feeds
    /// do not fire in the same second.
    fn new(rows: Vec<FeedRow>, interval: Duration, now: i64) -> Schedule {
        let mut s = Schedule {
            feeds: HashMap::new(),
            queue: DueQueue::default(),
            in_flight: HashSet::new(),
        };
        s.replace(rows, interval, now);
        s
    }

    /// Takes the configured feeds anew (after a reload): feeds no longer
    /// listed leave the queue, new ones join it spread over the start-up
    /// window, the others keep their times. Polls in flight are left to
    /// finish.
    fn replace(&mut self, rows: Vec<FeedRow>, interval: Duration, now: i64) -> (usize, usize) {
        let added: Vec<i64> = rows
            .iter()
            .map(|r| r.id)
            .filter(|id| !self.feeds.contains_key(id))
            .collect();
        let kept: HashSet<i64> = rows.iter().map(|r| r.id).collect();
        let removed = self.feeds.keys().filter(|id| !kept.contains(id)).count();
        let window = scheduler::startup_window(added.len().max(1), interval);
        let mut queue = DueQueue::default();
        let mut feeds = HashMap::new();
        for row in rows {
            let row = self.feeds.remove(&row.id).unwrap_or(row);
            if !self.in_flight.contains(&row.id) {
                if let Some(due) = scheduler::due_at(&row.state) {
                    queue.push(scheduler::first_poll(due, now, window, fastrand::f64()), row.id);
                }
            }
            feeds.insert(row.id, row);
        }
        self.feeds = feeds;
        self.queue = queue;
        (added.len(), removed)
    }
}

fn keep_millis(config: &Config) -> u64 {
    config
        .keep_unmatched
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1))
}

/// Like [`run_daemon`], with options.
pub async fn run_daemon_with(config: Config, cancel: CancellationToken, opts: DaemonOptions) -> anyhow::Result<()> {
    let clock = opts.clock;
    // A long migration of the database must not count as a hung start.
    systemd::extend_timeout(Duration::from_secs(600));
    let mut parts = Parts::build(config, clock)?;
    let rows = parts.sync_feeds().await?;
    let tasks = TaskTracker::new();
    let stop_tasks = CancellationToken::new();
    // Each generation of sink runners (a reload that edits the sinks makes
    // a new one) has its own tracker and stop token.
    let mut runners = (TaskTracker::new(), stop_tasks.child_token());
    parts
        .delivery
        .spawn(&tasks, &runners.0, runners.1.clone(), LAST_DELIVERY_PASS);
    // The full-text index follows the items table in bulk.
    let store = parts.store.clone();
    spawn_ticker(&tasks, stop_tasks.clone(), FTS_EVERY, move || {
        let store = store.clone();
        async move {
            if let Err(e) = store.index_pending().await {
                tracing::error!(error = %e, "full-text indexing failed");
            }
        }
    });
    // Retention, with the keep time of the latest configuration (0:
    // forever).
    let keep_ms = Arc::new(AtomicU64::new(keep_millis(&parts.config)));
    let (store, keep, stop) = (parts.store.clone(), keep_ms.clone(), stop_tasks.clone());
    spawn_ticker(&tasks, stop_tasks.clone(), PRUNE_EVERY, move || {
        let (store, keep, stop) = (store.clone(), keep.load(Ordering::Relaxed), stop.clone());
        async move {
            if keep > 0 {
                if let Err(e) = prune(&store, Duration::from_millis(keep), clock, &stop).await {
                    tracing::error!(error = %crate::store::chain(&e), "pruning failed");
                }
            }
        }
    });
    // Reloads: on SIGHUP and on edits of the config files.
    let (reload_tx, mut reload_rx) = mpsc::channel::<()>(1);
    let mut watch = None;
    if opts.reload {
        reload_on_sighup(&tasks, stop_tasks.clone(), reload_tx.clone());
        match crate::config::watch::watch(&parts.config, reload_tx.clone()) {
            Ok(w) => {
                tracing::info!(folders = ?w.folders, "watching the configuration for edits");
                watch = Some(w);
            }
            Err(e) => tracing::warn!(error = %e, "edits of the configuration need a SIGHUP to take effect"),
        }
    }
    drop(reload_tx);
    let config_path: PathBuf = parts.config.file.clone();
    // /healthz and /metrics, bound before READY so that a taken port stops
    // start-up.
    if let Some(addr) = parts.config.http_listen {
        let listener = crate::http::bind(addr, parts.metrics.clone(), parts.store.clone(), clock, LOOP_STALLED).await?;
        tracing::info!(listen = ?listener.local_addr(), "serving /healthz and /metrics");
        tasks.spawn(listener.serve(stop_tasks.clone()));
    }

    let rules = parts.matcher.rule_count();
    tracing::info!(feeds = rows.len(), watchlists = parts.matcher.watchlists().len(), rules, database = %parts.config.database.display(), "newshound started");
    systemd::ready(&format!("polling {} feeds, {rules} rules", rows.len()));

    let now = parts.clock.now_ms();
    let mut schedule = Schedule::new(rows, parts.config.polling.interval, now);
    let window = scheduler::startup_window(schedule.feeds.len(), parts.config.polling.interval);
    let window_end = now + i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    parts.log_site_queues(
        schedule
            .feeds
            .values()
            .filter(|f| scheduler::is_due(&f.state, window_end, false)),
    );

    // The whole file's structure is checked after READY: on a large
    // database with a cold cache it takes seconds (docs/performance.md). A
    // damaged one stops the daemon.
    let (damaged_tx, mut damaged_rx) = mpsc::channel::<StoreError>(1);
    let store = parts.store.clone();
    tasks.spawn(async move {
        match store.check_integrity().await {
            Ok(()) => tracing::info!("database check: ok"),
            Err(e) => {
                let _ = damaged_tx.send(e).await;
            }
        }
    });
    let mut damaged = None;

    let board = Arc::new(StatusBoard::default());
    board.update(&schedule.feeds, Some("no reload yet".into()), &parts.metrics);
    spawn_status(&tasks, stop_tasks.clone(), board.clone(), parts.store.clone(), clock);
    let mut sem = Arc::new(Semaphore::new(parts.config.polling.concurrency));
    // One message per poll in flight, and each feed has at most one poll in
    // flight: the channel holds at most the number of feeds (senders wait
    // when a reload added more, while this loop reads).
    let (done_tx, mut done_rx) = mpsc::channel::<FeedRow>(schedule.feeds.len().max(1));
    let polls = TaskTracker::new();
    // The watchdog is fed from this loop itself: a stalled loop stops it.
    let mut watchdog = systemd::watchdog_interval().map(tokio::time::interval);
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    let stall = async {
        match test_stall_after() {
            Some(after) => tokio::time::sleep(after).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(stall);
    loop {
        let next = schedule.queue.next_due();
        let sleep = async {
            match next {
                Some(t) => {
                    let wait = u64::try_from(t - parts.clock.now_ms()).unwrap_or(0);
                    tokio::time::sleep(Duration::from_millis(wait)).await
                }
                None => std::future::pending().await,
            }
        };
        let pet = async {
            match watchdog.as_mut() {
                Some(w) => {
                    w.tick().await;
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some(e) = damaged_rx.recv() => {
                tracing::error!(error = %crate::store::chain(&e), "the database check failed: stopping");
                systemd::status("stopping: the database is damaged");
                damaged = Some(e);
                break;
            }
            _ = pet => systemd::watchdog(),
            _ = heartbeat.tick() => parts.metrics.heartbeat(parts.clock.now_ms()),
            _ = &mut stall => {
                tracing::warn!("test hook: the scheduling loop stalls now");
                std::future::pending::<()>().await;
            }
            Some(()) = reload_rx.recv() => {
                systemd::reloading();
                let last_reload = match crate::config::load(&config_path) {
                    Err(errors) => {
                        for d in &errors.0 {
                            tracing::warn!("{d}");
                        }
                        tracing::error!(problems = errors.0.len(), "the edited configuration is invalid; the previous one keeps running");
                        parts.metrics.reload(false);
                        format!("last reload failed: {} problem(s), previous config running", errors.0.len())
                    }
                    Ok(new) => {
                        for w in &new.warnings {
                            tracing::warn!("{w}");
                        }
                        let concurrency = parts.config.polling.concurrency;
                        keep_ms.store(keep_millis(&new), Ordering::Relaxed);
                        let (restart_only, sinks_changed) = parts.reload(new);
                        if sinks_changed {
                            // The old runners finish what they are sending;
                            // the new ones start after them, so that no
                            // alert goes out twice.
                            let (old, old_stop) = std::mem::replace(&mut runners, (TaskTracker::new(), stop_tasks.child_token()));
                            old_stop.cancel();
                            old.close();
                            let (delivery, tracker, generation, stop) = (parts.delivery.clone(), tasks.clone(), runners.0.clone(), runners.1.clone());
                            tasks.spawn(async move {
                                old.wait().await;
                                delivery.spawn(&tracker, &generation, stop, LAST_DELIVERY_PASS);
                                tracing::info!(sinks = ?delivery.sink_names(), "sinks reloaded");
                            });
                        }
                        if parts.config.polling.concurrency != concurrency {
                            // Polls waiting on the old gate keep it; new ones
                            // take the new one.
                            sem = Arc::new(Semaphore::new(parts.config.polling.concurrency));
                        }
                        for setting in &restart_only {
                            tracing::warn!(setting, "changed in {}: takes effect after a restart", config_path.display());
                        }
                        match parts.sync_feeds().await {
                            Ok(rows) => {
                                let (added, removed) = schedule.replace(rows, parts.config.polling.interval, parts.clock.now_ms());
                                tracing::info!(
                                    feeds = schedule.feeds.len(), added, removed,
                                    watchlists = parts.matcher.watchlists().len(),
                                    rules = parts.matcher.rule_count(),
                                    "configuration reloaded"
                                );
                                parts.metrics.reload(true);
                                "last reload ok".to_string()
                            }
                            Err(e) => {
                                tracing::error!(error = %e, "cannot register the reloaded feed list");
                                parts.metrics.reload(false);
                                "last reload failed: the feed list could not be stored".to_string()
                            }
                        }
                    }
                };
                systemd::ready(&last_reload);
                board.update(&schedule.feeds, Some(last_reload), &parts.metrics);
            }
            Some(row) = done_rx.recv() => {
                schedule.in_flight.remove(&row.id);
                let settled = schedule.in_flight.is_empty();
                // A feed removed by a reload while it was polled stays out.
                if schedule.feeds.contains_key(&row.id) {
                    if let Some(due) = scheduler::due_at(&row.state) {
                        schedule.queue.push(due, row.id);
                    }
                    schedule.feeds.insert(row.id, row);
                }
                if settled {
                    board.update(&schedule.feeds, None, &parts.metrics);
                }
            }
            _ = sleep => {
                let batch: Vec<FeedRow> = schedule
                    .queue
                    .take_due(parts.clock.now_ms())
                    .into_iter()
                    .filter_map(|id| schedule.feeds.get(&id).cloned())
                    .collect();
                parts.log_site_queues(batch.iter());
                for feed in batch {
                    let pipeline = parts.pipeline.clone();
                    let sem = sem.clone();
                    let cancel = cancel.clone();
                    let done = done_tx.clone();
                    let span = tracing::error_span!("feed", url = %feed.url);
                    schedule.in_flight.insert(feed.id);
                    polls.spawn(async move {
                        let row = match sem.acquire_owned().await {
                            Ok(_permit) => pipeline.poll(&feed, &cancel).await.0,
                            Err(_) => feed,
                        };
                        let _ = done.send(row).await;
                    }.instrument(span));
                }
            }
        }
    }

    systemd::stopping();
    tracing::info!(in_flight = schedule.in_flight.len(), "shutting down");
    drop(watch);
    // Polls send their rows to a channel nobody reads any more.
    drop(done_rx);
    polls.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, polls.wait()).await.is_err() {
        tracing::warn!("polls still running after the grace period; leaving them");
    }
    stop_tasks.cancel();
    tasks.close();
    tasks.wait().await;
    if let Err(e) = parts.store.index_pending().await {
        tracing::error!(error = %e, "full-text indexing failed");
    }
    parts.close().await;
    tracing::info!("stopped");
    match damaged {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}
