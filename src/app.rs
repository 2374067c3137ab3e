//! The daemon's assembly: builds the parts from a [`Config`] (store,
//! fetcher, matcher, alert worker, pipeline), runs them, and owns
//! cancellation and the shutdown order. No SQL, no HTTP and no pipeline
//! step here: those are `store`, `fetch` and `pipeline`.
//!
//! Shutdown order: stop scheduling; cancel fetches in flight and polls
//! still waiting for their turn (a poll already committing finishes its
//! transaction); wait for poll tasks; stop the tickers and let the alert
//! worker drain once more; index what is left; close the store (its thread
//! finishes every queued write).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::alert::{AlertBuilder, AlertSink, AlertWorker, JsonlSink};
use crate::clock::Clock;
use crate::config::{Config, LOG_SINK};
use crate::fetch::{FetchSettings, Fetcher};
use crate::pipeline::{Pipeline, PollReport};
use crate::rules::Matcher;
use crate::scheduler::{self, DueQueue, FeedRow, Policy};
use crate::store::Store;
use crate::systemd;

/// How long shutdown waits for polls in flight before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// How often the daemon adds new items to the full-text index.
const FTS_EVERY: Duration = Duration::from_secs(20);

/// A site queue that makes a cycle last at least this long is logged.
const SITE_WAIT_WORTH_SAYING: Duration = Duration::from_secs(10);

/// The running parts, built from a configuration.
struct Parts {
    config: Config,
    store: Store,
    fetcher: Fetcher,
    matcher: Arc<Matcher>,
    worker: AlertWorker,
    pipeline: Arc<Pipeline>,
    clock: Clock,
}

impl Parts {
    fn build(config: Config, clock: Clock) -> anyhow::Result<Parts> {
        let store = Store::open(&config.database)
            .with_context(|| format!("cannot open database {}", config.database.display()))?;
        let fetcher = Fetcher::new(FetchSettings::from(&config.polling), clock).context("cannot build HTTP client")?;
        let matcher = Arc::new(Matcher::new(config.watchlists.clone()));
        let sinks: Vec<Arc<dyn AlertSink>> = vec![Arc::new(JsonlSink::new(LOG_SINK, &config.alert_log))];
        let worker = AlertWorker::new(store.clone(), sinks, clock);
        let intervals = config
            .feeds
            .iter()
            .filter_map(|f| f.interval.map(|i| (f.url.clone(), i)))
            .collect();
        let pipeline = Arc::new(Pipeline::new(
            store.clone(),
            fetcher.clone(),
            matcher.clone(),
            AlertBuilder::new(&config.watchlists, config.alerts.first_poll_max_age),
            Policy {
                interval: config.polling.interval,
                min_interval: config.polling.min_interval,
                max_interval: config.polling.max_interval,
                max_backoff: config.polling.max_backoff,
            },
            intervals,
            worker.waker(),
            clock,
        ));
        Ok(Parts {
            config,
            store,
            fetcher,
            matcher,
            worker,
            pipeline,
            clock,
        })
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

/// What a `once` cycle did.
#[derive(Debug, Clone, Default)]
pub struct CycleReport {
    pub polled: usize,
    pub failed: usize,
    pub not_modified: usize,
    pub new_items: usize,
    pub alerts: usize,
    pub delivered: usize,
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
        let span = tracing::info_span!("feed", url = %feed.url);
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
    let feeds = parts.sync_feeds().await?;
    let now = parts.clock.now_ms();
    let due: Vec<FeedRow> = feeds
        .into_iter()
        .filter(|f| scheduler::is_due(&f.state, now, all))
        .collect();
    let polls = poll_all(&parts, due, &cancel).await;
    parts.store.index_pending().await?;
    let drained = parts.worker.drain_all().await?;
    let mut report = CycleReport {
        delivered: drained.delivered,
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

/// Runs the daemon until `cancel` fires.
pub async fn run_daemon(config: Config, cancel: CancellationToken) -> anyhow::Result<()> {
    run_daemon_with_clock(config, cancel, Clock::System).await
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

/// Like [`run_daemon`], reading the time from `clock`.
pub async fn run_daemon_with_clock(config: Config, cancel: CancellationToken, clock: Clock) -> anyhow::Result<()> {
    let parts = Parts::build(config, clock)?;
    let mut feeds = parts.sync_feeds().await?;
    let tasks = TaskTracker::new();
    let stop_tasks = CancellationToken::new();
    tasks.spawn(parts.worker.clone().run(stop_tasks.clone()));
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
    let rules = parts.matcher.rule_count();
    tracing::info!(feeds = feeds.len(), watchlists = parts.matcher.watchlists().len(), rules, database = %parts.config.database.display(), "newshound started");
    systemd::ready(&format!("polling {} feeds, {rules} rules", feeds.len()));

    // Feeds overdue at start-up are spread over a window so that thousands
    // of feeds do not fire in the same second.
    let now = parts.clock.now_ms();
    let window = scheduler::startup_window(feeds.len(), parts.config.polling.interval);
    let mut queue = DueQueue::default();
    for (i, f) in feeds.iter().enumerate() {
        if let Some(due) = scheduler::due_at(&f.state) {
            queue.push(scheduler::first_poll(due, now, window, fastrand::f64()), i);
        }
    }
    let window_end = now + i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    parts.log_site_queues(feeds.iter().filter(|f| scheduler::is_due(&f.state, window_end, false)));

    let sem = Arc::new(Semaphore::new(parts.config.polling.concurrency));
    // One message per poll in flight, and each feed has at most one poll in
    // flight: the channel never holds more than the number of feeds.
    let (done_tx, mut done_rx) = mpsc::channel::<(usize, FeedRow)>(feeds.len().max(1));
    let polls = TaskTracker::new();
    let mut in_flight = 0usize;
    let mut polled_total = 0u64;
    // The watchdog is fed from this loop itself: a stalled loop stops it.
    let mut watchdog = systemd::watchdog_interval().map(tokio::time::interval);
    loop {
        let next = queue.next_due();
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
            _ = pet => systemd::watchdog(),
            Some((i, row)) = done_rx.recv() => {
                in_flight -= 1;
                polled_total += 1;
                if let Some(due) = scheduler::due_at(&row.state) {
                    queue.push(due, i);
                }
                feeds[i] = row;
                if in_flight == 0 {
                    systemd::status(&format!("{} feeds, {polled_total} polls so far", feeds.len()));
                }
            }
            _ = sleep => {
                let batch = queue.take_due(parts.clock.now_ms());
                parts.log_site_queues(batch.iter().map(|&i| &feeds[i]));
                for i in batch {
                    let feed = feeds[i].clone();
                    let pipeline = parts.pipeline.clone();
                    let sem = sem.clone();
                    let cancel = cancel.clone();
                    let done = done_tx.clone();
                    let span = tracing::info_span!("feed", url = %feed.url);
                    in_flight += 1;
                    polls.spawn(async move {
                        let row = match sem.acquire_owned().await {
                            Ok(_permit) => pipeline.poll(&feed, &cancel).await.0,
                            Err(_) => feed,
                        };
                        let _ = done.send((i, row)).await;
                    }.instrument(span));
                }
            }
        }
    }

    systemd::stopping();
    tracing::info!(in_flight, "shutting down");
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
    Ok(())
}
