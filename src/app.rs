//! The daemon's assembly: builds the parts from a [`Config`], runs the poll
//! pipeline (fetch -> parse -> dedup -> match -> commit -> alert), owns
//! cancellation and the shutdown order. No SQL and no HTTP here: those go
//! through `store` and `fetch`.
//!
//! Shutdown order: stop scheduling; cancel fetches in flight (a poll already
//! committing finishes its transaction); wait for poll tasks; let the alert
//! worker drain once more; close the store (its thread finishes every queued
//! write).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::alert::{Alert, AlertSink, AlertTerm, AlertWorker, JsonlSink, alert_id};
use crate::clock::Clock;
use crate::config::{Config, FeedSpec};
use crate::feed::{self, Item};
use crate::fetch::{FetchError, FetchSettings, Fetched, Fetcher, Validators};
use crate::rules::{DocFields, Document, Matcher, WatchlistMatch};
use crate::scheduler::{self, Outcome, Policy};
use crate::store::{AlertDraft, FeedRow, NewItem, NewMatch, PollCommit, Store};
use crate::systemd;

/// How long shutdown waits for polls in flight before giving up on them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// How often the daemon adds new items to the full-text index.
const FTS_EVERY: Duration = Duration::from_secs(20);

/// Bodies larger than this are parsed a few at a time: the parser holds
/// every entry of a document in memory, about ten times the body's size.
const LARGE_BODY: usize = 1024 * 1024;
const LARGE_PARSES: usize = 2;

/// Parsing and matching run on the blocking pool at most one job per core:
/// more would only take turns on the same cores, each on its own thread
/// with its own allocator arena (more memory, more context switches).
fn cpu_slots() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// The text the matcher's `source:` field sees: feed name and the domain of
/// the item's link (or of the feed).
fn source_text(feed_name: &str, link: Option<&str>, feed_url: &str) -> String {
    let host = link
        .and_then(|l| url::Url::parse(l).ok())
        .or_else(|| url::Url::parse(feed_url).ok())
        .and_then(|u| u.host_str().map(|h| h.trim_start_matches("www.").to_string()))
        .unwrap_or_default();
    format!("{feed_name} {host}")
}

/// Runs `f` on the matcher's view of an item from the feed `feed_name` at
/// `feed_url`. The `source:` text is built only when a rule reads it.
pub fn with_item_document<R>(
    matcher: &Matcher,
    item: &Item,
    feed_name: &str,
    feed_url: &str,
    f: impl FnOnce(&Document<'_>) -> R,
) -> R {
    with_item_fields(
        matcher,
        item,
        feed_name,
        feed_url,
        |fields| f(&matcher.document(fields)),
    )
}

/// An item's watchlist matches (the quick raw test first, see
/// [`Matcher::may_match`]).
pub fn match_item(matcher: &Matcher, item: &Item, feed_name: &str, feed_url: &str) -> Vec<WatchlistMatch> {
    with_item_fields(matcher, item, feed_name, feed_url, |fields| {
        matcher.match_fields(fields)
    })
}

fn with_item_fields<R>(
    matcher: &Matcher,
    item: &Item,
    feed_name: &str,
    feed_url: &str,
    f: impl FnOnce(DocFields<'_>) -> R,
) -> R {
    let source = if matcher.uses_field(crate::rules::Field::Source) {
        source_text(feed_name, item.link.as_deref(), feed_url)
    } else {
        String::new()
    };
    f(DocFields {
        title: &item.title,
        summary: &item.summary,
        content: &item.content,
        link: item.link.as_deref().unwrap_or(""),
        source: &source,
        lang: item.lang.as_deref().unwrap_or(""),
        tags: &item.tags,
    })
}

/// What one poll of one feed did.
#[derive(Debug, Clone, Default)]
pub struct PollReport {
    pub url: String,
    pub status: Option<u16>,
    pub not_modified: bool,
    pub items_in_feed: usize,
    pub new_items: usize,
    pub matches: usize,
    pub alerts: usize,
    pub error: Option<String>,
    pub cancelled: bool,
}

/// The parts a poll needs, shared by every poll task.
pub struct Pipeline {
    pub config: Config,
    pub store: Store,
    pub fetcher: Fetcher,
    pub matcher: Arc<Matcher>,
    pub worker: AlertWorker,
    pub policy: Policy,
    specs: HashMap<String, FeedSpec>,
    large_parses: Arc<Semaphore>,
    cpu: Arc<Semaphore>,
    pub clock: Clock,
}

impl Pipeline {
    /// Opens the store and builds the client, matcher and alert worker.
    pub fn build(config: Config) -> anyhow::Result<Pipeline> {
        Pipeline::with_clock(config, Clock::System)
    }

    /// Like [`Pipeline::build`], reading the time from `clock`.
    pub fn with_clock(config: Config, clock: Clock) -> anyhow::Result<Pipeline> {
        let store = Store::open(&config.database)
            .with_context(|| format!("cannot open database {}", config.database.display()))?;
        let fetcher = Fetcher::new(FetchSettings::from(&config.polling), clock).context("cannot build HTTP client")?;
        let matcher = Arc::new(Matcher::new(config.watchlists.clone()));
        let sinks: Vec<Arc<dyn AlertSink>> = vec![Arc::new(JsonlSink::new(&config.alert_log))];
        let worker = AlertWorker::new(store.clone(), sinks, clock);
        let policy = Policy::from(&config.polling);
        let specs = config.feeds.iter().map(|f| (f.url.clone(), f.clone())).collect();
        Ok(Pipeline {
            config,
            store,
            fetcher,
            matcher,
            worker,
            policy,
            specs,
            large_parses: Arc::new(Semaphore::new(LARGE_PARSES)),
            cpu: Arc::new(Semaphore::new(cpu_slots())),
            clock,
        })
    }

    /// Registers the configured feeds and returns them with their state.
    pub async fn sync_feeds(&self) -> anyhow::Result<Vec<FeedRow>> {
        Ok(self
            .store
            .sync_feeds(self.config.feeds.clone(), self.clock.now_ms())
            .await?)
    }

    /// Polls one feed end to end and saves its new state. Never fails: every
    /// error is recorded on the feed and reported.
    pub async fn poll(&self, feed: &FeedRow, cancel: &CancellationToken) -> (FeedRow, PollReport) {
        let mut report = PollReport {
            url: feed.url.clone(),
            ..Default::default()
        };
        let spec = self.specs.get(&feed.url);
        let feed_interval = spec.and_then(|s| s.interval);
        let validators = Validators {
            etag: feed.state.etag.clone(),
            last_modified: feed.state.last_modified.clone(),
        };
        let fetched = tokio::select! {
            r = self.fetcher.fetch(feed.fetch_url(), &validators) => r,
            _ = cancel.cancelled() => {
                report.cancelled = true;
                return (feed.clone(), report);
            }
        };
        let now = self.clock.now_ms();
        let rand01 = fastrand::f64();
        let mut updated = feed.clone();
        let outcome = match fetched {
            Ok(Fetched::NotModified(meta)) => {
                report.status = Some(meta.status);
                report.not_modified = true;
                tracing::debug!("not modified");
                Outcome::Success {
                    status: meta.status,
                    not_modified: true,
                    server_hint: server_hint(&meta, None, None, now),
                    observed_gap: None,
                    etag: meta.etag.clone(),
                    last_modified: meta.last_modified.clone(),
                    permanent_redirect: meta.permanent_redirect.clone(),
                }
            }
            Ok(Fetched::Body(meta, body)) => {
                report.status = Some(meta.status);
                let url = meta.final_url.clone();
                let lang = feed.lang.clone();
                let ctype = meta.content_type.clone();
                let _large = if body.len() > LARGE_BODY {
                    self.large_parses.clone().acquire_owned().await.ok()
                } else {
                    None
                };
                // A feed never polled with success has nothing stored: its
                // entries are all new, so they are normalized and matched
                // in the same job as the parse, without asking the store
                // which ones it has. (Storing still skips any it has.)
                let prep = feed.state.last_success.is_none().then(|| self.prep(feed, now));
                let cpu = self.cpu.clone().acquire_owned().await.ok();
                let parsed = tokio::task::spawn_blocking(move || {
                    let _cpu = cpu;
                    feed::parse_document(&body, &url, ctype.as_deref(), lang.as_deref()).map(|mut doc| {
                        let dates: Vec<i64> = doc
                            .entries
                            .iter()
                            .filter_map(|i| i.published)
                            .map(|d| d.timestamp_millis())
                            .collect();
                        let count = doc.entries.len();
                        let raw = std::mem::take(&mut doc.entries);
                        let entries = match prep {
                            Some(prep) => Entries::Ready(prep.run(each_key_once(raw, |_| true))),
                            None => Entries::Raw(raw),
                        };
                        (doc, count, dates, entries)
                    })
                })
                .await;
                match parsed {
                    Ok(Ok((parsed, count, dates, entries))) => {
                        report.items_in_feed = count;
                        if parsed.truncated > 0 {
                            tracing::warn!(dropped = parsed.truncated, "feed has more items than kept per poll");
                        }
                        for w in &parsed.warnings {
                            tracing::warn!(warning = %w, "feed parsed with problems");
                        }
                        let outcome = Outcome::Success {
                            status: meta.status,
                            not_modified: false,
                            server_hint: server_hint(&meta, parsed.ttl, parsed.update_period, now),
                            observed_gap: scheduler::publishing_gap(&dates, now),
                            etag: meta.etag.clone(),
                            last_modified: meta.last_modified.clone(),
                            permanent_redirect: meta.permanent_redirect.clone(),
                        };
                        updated.state = self
                            .policy
                            .after_poll(&feed.state, &outcome, feed_interval, now, rand01);
                        if let Some(w) = parsed.warnings.first() {
                            // Stored, but said: the feed works with a flaw.
                            updated.state.last_error = Some(w.clone());
                            updated.state.error_kind = Some("encoding".into());
                        }
                        match self.ingest(feed, entries, updated.state.clone(), now).await {
                            Ok(r) => {
                                report.new_items = r.items;
                                report.matches = r.matches;
                                report.alerts = r.alerts;
                                if r.alerts > 0 {
                                    self.worker.wake();
                                }
                                log_poll(&report);
                                return (updated, report);
                            }
                            Err(e) => {
                                // Nothing of this poll was stored; the items
                                // will be new again next time.
                                Outcome::Failure {
                                    status: Some(meta.status),
                                    kind: "store".into(),
                                    message: format!("{e:#}"),
                                    retry_after: None,
                                }
                            }
                        }
                    }
                    Ok(Err(fe)) => Outcome::Failure {
                        status: Some(meta.status),
                        kind: fe.kind().into(),
                        message: fe.to_string(),
                        retry_after: None,
                    },
                    Err(join) => Outcome::Failure {
                        status: Some(meta.status),
                        kind: "parser_crash".into(),
                        message: format!("parser failed: {join}"),
                        retry_after: None,
                    },
                }
            }
            Err(e) => {
                report.status = e.status();
                outcome_of_error(&e)
            }
        };
        if let Outcome::Failure { message, .. } = &outcome {
            report.error = Some(message.clone());
        }
        updated.state = self
            .policy
            .after_poll(&feed.state, &outcome, feed_interval, now, rand01);
        if let Some(u) = &updated.state.fetch_url {
            if feed.state.fetch_url.as_ref() != Some(u) {
                tracing::info!(new_url = %u, "feed moved permanently; polling the new url from now on");
            }
        }
        if let Err(e) = self.store.save_feed_state(feed.id, updated.state.clone()).await {
            tracing::error!(error = %e, "cannot save feed state");
        }
        log_poll(&report);
        (updated, report)
    }

    /// What normalizing and matching a poll of `feed` at `now` needs.
    fn prep(&self, feed: &FeedRow, now: i64) -> Prep {
        Prep {
            matcher: self.matcher.clone(),
            feed_name: feed.name.clone(),
            feed_url: feed.url.clone(),
            first_poll: feed.state.last_success.is_none(),
            max_age: chrono::Duration::from_std(self.config.alerts.first_poll_max_age).unwrap_or(chrono::Duration::MAX),
            now,
        }
    }

    /// Stores the entries not seen before, normalized, with their matches
    /// and alerts. Raw entries already stored are dropped before
    /// normalization.
    async fn ingest(
        &self,
        feed: &FeedRow,
        entries: Entries,
        state: crate::store::FeedState,
        now: i64,
    ) -> anyhow::Result<crate::store::CommitSummary> {
        let new_items = match entries {
            Entries::Ready(items) => items,
            Entries::Raw(items) => {
                let keys: Vec<String> = items.iter().map(|i| i.key.clone()).collect();
                let unseen: HashSet<String> = self.store.unseen_keys(feed.id, keys).await?.into_iter().collect();
                let fresh = each_key_once(items, |k| unseen.contains(k));
                let prep = self.prep(feed, now);
                let cpu = self.cpu.clone().acquire_owned().await.ok();
                tokio::task::spawn_blocking(move || {
                    let _cpu = cpu;
                    prep.run(fresh)
                })
                .await
                .context("matcher task failed")?
            }
        };
        let summary = self
            .store
            .commit_poll(PollCommit {
                feed_id: feed.id,
                state,
                items: new_items,
                now,
            })
            .await?;
        Ok(summary)
    }
}

/// The entries whose identity `keep` accepts, each identity once (its first
/// entry).
fn each_key_once(entries: Vec<feed::RawEntry>, keep: impl Fn(&str) -> bool) -> Vec<feed::RawEntry> {
    let mut taken = HashSet::new();
    entries
        .into_iter()
        .filter(|e| keep(&e.key) && taken.insert(e.key.clone()))
        .collect()
}

/// A document's entries on their way to the store: raw, or already
/// normalized and matched.
enum Entries {
    Raw(Vec<feed::RawEntry>),
    Ready(Vec<NewItem>),
}

/// Normalizes and matches the new entries of one poll; runs on the
/// blocking pool.
struct Prep {
    matcher: Arc<Matcher>,
    feed_name: String,
    feed_url: String,
    first_poll: bool,
    max_age: chrono::Duration,
    now: i64,
}

impl Prep {
    fn run(&self, fresh: Vec<feed::RawEntry>) -> Vec<NewItem> {
        let now_dt = crate::clock::ms_to_datetime(self.now);
        fresh
            .into_iter()
            .map(|raw| {
                let item = raw.normalize();
                let found = match_item(&self.matcher, &item, &self.feed_name, &self.feed_url);
                let may_alert = !self.first_poll || item.published.is_some_and(|p| now_dt - p <= self.max_age);
                let matches = found
                    .into_iter()
                    .map(|m| {
                        let alert = may_alert.then(|| {
                            let sinks = self
                                .matcher
                                .watchlists()
                                .iter()
                                .find(|w| w.name == m.watchlist)
                                .map(|w| w.sinks.clone())
                                .unwrap_or_default();
                            draft(&item, &m, &self.feed_name, &self.feed_url, sinks, now_dt)
                        });
                        NewMatch {
                            watchlist_match: m,
                            alert,
                        }
                    })
                    .collect();
                NewItem { item, matches }
            })
            .collect()
    }
}

fn log_poll(r: &PollReport) {
    match &r.error {
        Some(e) => tracing::warn!(status = ?r.status, error = %e, "poll failed"),
        None if r.not_modified => tracing::debug!(status = ?r.status, "poll: not modified"),
        None => tracing::info!(
            status = ?r.status,
            items = r.items_in_feed,
            new = r.new_items,
            matches = r.matches,
            alerts = r.alerts,
            "poll"
        ),
    }
}

/// The longest wait the server asked for: RSS TTL (minutes),
/// `sy:updatePeriod`, Cache-Control max-age, Expires.
fn server_hint(
    meta: &crate::fetch::ResponseMeta,
    ttl_minutes: Option<u32>,
    update_period: Option<Duration>,
    now: i64,
) -> Option<Duration> {
    let ttl = ttl_minutes.map(|m| Duration::from_secs(u64::from(m) * 60));
    let expires = meta
        .expires
        .and_then(|e| (e.timestamp_millis() - now).try_into().ok().map(Duration::from_millis));
    [ttl, update_period, meta.max_age, expires].into_iter().flatten().max()
}

fn outcome_of_error(e: &FetchError) -> Outcome {
    match e {
        FetchError::Status { status: 410, .. } => Outcome::Gone,
        FetchError::Status {
            status: status @ (429 | 503),
            retry_after: Some(ra),
        } => Outcome::Wait {
            status: *status,
            retry_after: *ra,
        },
        other => Outcome::Failure {
            status: other.status(),
            kind: other.kind().into(),
            message: other.chain(),
            retry_after: match other {
                FetchError::Status { retry_after, .. } => *retry_after,
                _ => None,
            },
        },
    }
}

fn draft(
    item: &Item,
    m: &WatchlistMatch,
    feed_name: &str,
    feed_url: &str,
    sinks: Vec<String>,
    now: chrono::DateTime<chrono::Utc>,
) -> AlertDraft {
    let story_keys = item.story_keys();
    let id = alert_id(&m.watchlist, &story_keys[0]);
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let alert = Alert {
        id: id.clone(),
        at: stamp.clone(),
        watchlist: m.watchlist.clone(),
        watchlist_version: m.version.clone(),
        severity: m.severity,
        rules: m.rules.clone(),
        terms: m.terms.iter().map(AlertTerm::from).collect(),
        snippet: m.snippet.clone(),
        title: item.title.clone(),
        link: item.link.clone(),
        feed: feed_name.to_string(),
        feed_url: feed_url.to_string(),
        published: item
            .published
            .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        first_seen: stamp,
        lang: item.lang.clone(),
    };
    AlertDraft {
        alert_id: id,
        story_keys,
        sinks,
        payload: serde_json::to_string(&alert).unwrap_or_default(),
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
    pub polls: Vec<PollReport>,
}

fn ms_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Says so when the feeds about to be polled wait for their turn at a
/// site: with many feeds on one site, politeness (`per_host`, `host_gap`)
/// makes a cycle long, and that is no fault of the feeds.
fn log_site_waits<'a>(feeds: impl Iterator<Item = &'a FeedRow>, polling: &crate::config::Polling) {
    let mut per_site: HashMap<String, usize> = HashMap::new();
    for f in feeds {
        if let Some(host) = url::Url::parse(f.fetch_url())
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
        {
            *per_site.entry(crate::fetch::site_of(&host)).or_default() += 1;
        }
    }
    for (site, n) in per_site {
        let spacing = polling
            .host_gap
            .saturating_mul(u32::try_from(n.saturating_sub(1)).unwrap_or(u32::MAX));
        if n > polling.per_host && spacing >= Duration::from_secs(10) {
            tracing::info!(
                "{n} feeds due on one site ({site}): requests there are spaced {} apart, {} in flight at most, so they take at least {}",
                humantime::format_duration(polling.host_gap),
                polling.per_host,
                humantime::format_duration(spacing)
            );
        }
    }
}

async fn poll_all(p: &Arc<Pipeline>, feeds: Vec<FeedRow>, cancel: &CancellationToken) -> Vec<PollReport> {
    log_site_waits(feeds.iter(), &p.config.polling);
    let sem = Arc::new(Semaphore::new(p.config.polling.concurrency));
    let tracker = TaskTracker::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    for feed in feeds {
        let p = p.clone();
        let sem = sem.clone();
        let cancel = cancel.clone();
        let tx = tx.clone();
        let span = tracing::info_span!("feed", url = %feed.url);
        tracker.spawn(
            async move {
                let Ok(_permit) = sem.acquire_owned().await else { return };
                let (_, report) = p.poll(&feed, &cancel).await;
                let _ = tx.send(report);
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
pub async fn run_once(config: Config, all: bool) -> anyhow::Result<CycleReport> {
    let p = Arc::new(Pipeline::build(config)?);
    let feeds = p.sync_feeds().await?;
    let now = p.clock.now_ms();
    let due: Vec<FeedRow> = feeds
        .into_iter()
        .filter(|f| scheduler::is_due(&f.state, now, all))
        .collect();
    let cancel = CancellationToken::new();
    let polls = poll_all(&p, due, &cancel).await;
    p.store.index_pending().await?;
    let drained = p.worker.drain_all().await?;
    let mut report = CycleReport {
        polled: polls.len(),
        delivered: drained.delivered,
        ..Default::default()
    };
    for r in &polls {
        report.failed += usize::from(r.error.is_some());
        report.not_modified += usize::from(r.not_modified);
        report.new_items += r.new_items;
        report.alerts += r.alerts;
    }
    report.polls = polls;
    let p = Arc::into_inner(p).context("poll tasks still hold the pipeline")?;
    let store = p.store.clone();
    drop(p);
    store.close().await;
    Ok(report)
}

/// Runs the daemon until `cancel` fires.
pub async fn run_daemon(config: Config, cancel: CancellationToken) -> anyhow::Result<()> {
    run_daemon_with_clock(config, cancel, Clock::System).await
}

/// Like [`run_daemon`], reading the time from `clock`.
pub async fn run_daemon_with_clock(config: Config, cancel: CancellationToken, clock: Clock) -> anyhow::Result<()> {
    let p = Arc::new(Pipeline::with_clock(config, clock)?);
    let mut feeds = p.sync_feeds().await?;
    let tracker = TaskTracker::new();
    let worker_cancel = CancellationToken::new();
    tracker.spawn(p.worker.clone().run(worker_cancel.clone()));
    // The full-text index follows the items table in bulk.
    {
        let store = p.store.clone();
        let c = worker_cancel.clone();
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(FTS_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = c.cancelled() => break,
                    _ = tick.tick() => {}
                }
                if let Err(e) = store.index_pending().await {
                    tracing::error!(error = %e, "full-text indexing failed");
                }
            }
        });
    }
    if let Some(every) = systemd::watchdog_interval() {
        let c = cancel.clone();
        tracker.spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tokio::select! {
                    _ = c.cancelled() => break,
                    _ = tick.tick() => systemd::watchdog(),
                }
            }
        });
    }
    let watchlists = p.matcher.watchlists().len();
    let rules = p.matcher.rule_count();
    tracing::info!(feeds = feeds.len(), watchlists, rules, database = %p.config.database.display(), "newshound started");
    systemd::ready(&format!("polling {} feeds, {rules} rules", feeds.len()));

    // Feeds overdue at start-up are spread over a window so that thousands
    // of feeds do not fire in the same second.
    let now = p.clock.now_ms();
    let window = scheduler::startup_window(feeds.len(), p.policy.interval);
    log_site_waits(
        feeds
            .iter()
            .filter(|f| scheduler::is_due(&f.state, now + ms_of(window), false)),
        &p.config.polling,
    );
    let mut queue: BinaryHeap<Reverse<(i64, usize)>> = BinaryHeap::new();
    for (i, f) in feeds.iter().enumerate() {
        if let Some(due) = scheduler::due_at(&f.state) {
            queue.push(Reverse((scheduler::first_poll(due, now, window, fastrand::f64()), i)));
        }
    }

    let sem = Arc::new(Semaphore::new(p.config.polling.concurrency));
    // One message per poll in flight, and each feed has at most one poll in
    // flight: the channel never holds more than the number of feeds.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(usize, FeedRow)>();
    let polls = TaskTracker::new();
    let mut in_flight = 0usize;
    let mut polled_total = 0u64;
    loop {
        let next = queue.peek().map(|Reverse((t, _))| *t);
        let sleep = async {
            match next {
                Some(t) => {
                    let wait = (t - p.clock.now_ms()).max(0) as u64;
                    tokio::time::sleep(Duration::from_millis(wait)).await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => break,
            Some((i, row)) = done_rx.recv() => {
                in_flight -= 1;
                polled_total += 1;
                if let Some(due) = scheduler::due_at(&row.state) {
                    queue.push(Reverse((due, i)));
                }
                feeds[i] = row;
                if in_flight == 0 {
                    systemd::status(&format!("{} feeds, {polled_total} polls so far", feeds.len()));
                }
            }
            _ = sleep => {
                let now = p.clock.now_ms();
                let mut batch = Vec::new();
                while let Some(Reverse((t, i))) = queue.peek().copied() {
                    if t > now {
                        break;
                    }
                    queue.pop();
                    batch.push(i);
                }
                log_site_waits(batch.iter().map(|&i| &feeds[i]), &p.config.polling);
                for i in batch {
                    let feed = feeds[i].clone();
                    let p = p.clone();
                    let sem = sem.clone();
                    let cancel = cancel.clone();
                    let done = done_tx.clone();
                    let span = tracing::info_span!("feed", url = %feed.url);
                    in_flight += 1;
                    polls.spawn(async move {
                        let row = match sem.acquire_owned().await {
                            Ok(_permit) => p.poll(&feed, &cancel).await.0,
                            Err(_) => feed,
                        };
                        let _ = done.send((i, row));
                    }.instrument(span));
                }
            }
        }
    }

    systemd::stopping();
    tracing::info!(in_flight, "shutting down");
    polls.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, polls.wait()).await.is_err() {
        tracing::warn!("polls still running after the grace period; leaving them");
    }
    worker_cancel.cancel();
    tracker.close();
    tracker.wait().await;
    if let Err(e) = p.store.index_pending().await {
        tracing::error!(error = %e, "full-text indexing failed");
    }
    drop(done_rx);
    let store = p.store.clone();
    drop(p);
    // Every queued write finishes before the store thread ends; a poll
    // stuck past the grace period still holds a handle, so do not wait for
    // it forever.
    if tokio::time::timeout(Duration::from_secs(2), store.close())
        .await
        .is_err()
    {
        tracing::warn!("store still in use at exit; committed writes are safe, queued ones are not waited for");
    }
    tracing::info!("stopped");
    Ok(())
}
