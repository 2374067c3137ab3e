//! One poll of one feed, as a straight line: fetch -> outcome -> parse ->
//! drop the entries already stored -> normalize and match -> build alerts
//! -> one store commit of the items, matches, outbox rows and the feed's
//! new state, whatever the outcome (success, 304 or failure). Owns no
//! resource: it goes through `fetch`, `store` and the pure modules.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::alert::{AlertBuilder, AlertsWaiting, FeedRef};
use crate::clock::Clock;
use crate::feed::{self, ParsedDocument, RawEntry};
use crate::fetch::{Fetched, Fetcher, ResponseMeta, Validators};
use crate::metrics::Metrics;
use crate::rules::Matcher;
use crate::scheduler::{self, Failure, FailureKind, FeedRow, Outcome, Policy};
use crate::store::{EntryIdentity, ItemEdit, NewItem, PollCommit, Store};

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
    /// Cancelled before its request got an answer: nothing was stored.
    pub cancelled: bool,
}

/// The parts a poll goes through, shared by every poll task.
pub struct Pipeline {
    store: Store,
    fetcher: Fetcher,
    matcher: Arc<Matcher>,
    alerts: Arc<AlertBuilder>,
    policy: Policy,
    /// Feeds with an interval of their own, by URL.
    intervals: HashMap<String, Duration>,
    /// Told when a commit queued alerts.
    alerts_waiting: AlertsWaiting,
    large_parses: Arc<Semaphore>,
    cpu: Arc<Semaphore>,
    clock: Clock,
    metrics: Arc<Metrics>,
}

/// A document read and its new entries matched: what a successful poll
/// commits.
struct Read {
    doc: ParsedDocument,
    /// Publication dates (Unix ms) of every entry, for the publishing gap.
    dates: Vec<i64>,
    entries: usize,
    items: Vec<NewItem>,
    edits: Vec<ItemEdit>,
}

impl Pipeline {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        store: Store,
        fetcher: Fetcher,
        matcher: Arc<Matcher>,
        alerts: AlertBuilder,
        policy: Policy,
        intervals: HashMap<String, Duration>,
        alerts_waiting: AlertsWaiting,
        clock: Clock,
        metrics: Arc<Metrics>,
    ) -> Pipeline {
        Pipeline {
            store,
            fetcher,
            matcher,
            alerts: Arc::new(alerts),
            policy,
            intervals,
            alerts_waiting,
            large_parses: Arc::new(Semaphore::new(LARGE_PARSES)),
            cpu: Arc::new(Semaphore::new(cpu_slots())),
            clock,
            metrics,
        }
    }

    /// Polls one feed end to end and commits what came of it. Never fails:
    /// every error is recorded on the feed and in the report. Returns the
    /// feed with its new state.
    pub async fn poll(&self, feed: &FeedRow, cancel: &CancellationToken) -> (FeedRow, PollReport) {
        let mut report = PollReport {
            url: feed.url.clone(),
            ..Default::default()
        };
        let validators = Validators {
            etag: feed.state.etag.clone(),
            last_modified: feed.state.last_modified.clone(),
        };
        let started = tokio::time::Instant::now();
        let fetched = tokio::select! {
            r = self.fetcher.fetch(feed.fetch_url(), &validators) => r,
            _ = cancel.cancelled() => {
                report.cancelled = true;
                self.metrics.poll("cancelled");
                return (feed.clone(), report);
            }
        };
        let now = self.clock.now_ms();
        let (outcome, items, edits) = match fetched {
            Err(e) => {
                report.status = e.status();
                (Outcome::of_failure(e.failure()), Vec::new(), Vec::new())
            }
            Ok(Fetched::NotModified(meta)) => {
                report.status = Some(meta.status);
                report.not_modified = true;
                (success(&meta, None, now), Vec::new(), Vec::new())
            }
            Ok(Fetched::Body(meta, body)) => {
                report.status = Some(meta.status);
                self.metrics.bytes_fetched.inc_by(body.len() as u64);
                match self.read(feed, &meta, body, now).await {
                    Ok(mut read) => {
                        report.items_in_feed = read.entries;
                        let edits = std::mem::take(&mut read.edits);
                        (success(&meta, Some(&read), now), read.items, edits)
                    }
                    Err(failure) => (Outcome::of_failure(failure), Vec::new(), Vec::new()),
                }
            }
        };
        let updated = self.commit(feed, outcome, items, edits, now, &mut report).await;
        self.metrics.poll_seconds.observe(started.elapsed().as_secs_f64());
        log_poll(&report);
        (updated, report)
    }

    /// Parses a body, drops the entries already stored, normalizes and
    /// matches the rest and builds their alerts.
    async fn read(&self, feed: &FeedRow, meta: &ResponseMeta, body: bytes::Bytes, now: i64) -> Result<Read, Failure> {
        let failure = |kind, message: String| Failure {
            status: Some(meta.status),
            kind,
            message,
            retry_after: None,
        };
        let (doc, dates) = self.parse(feed, meta, body).await.map_err(|(k, m)| failure(k, m))?;
        if doc.truncated > 0 {
            tracing::warn!(dropped = doc.truncated, "feed has more items than kept per poll");
        }
        for w in &doc.warnings {
            tracing::warn!(warning = %w, "feed parsed with problems");
        }
        let mut doc = doc;
        let entries = std::mem::take(&mut doc.entries);
        let count = entries.len();
        let (fresh, edits) = self
            .drop_known(feed, entries)
            .await
            .map_err(|m| failure(FailureKind::Store, m))?;
        let items = self
            .match_entries(feed, fresh, now)
            .await
            .map_err(|m| failure(FailureKind::ParserCrash, m))?;
        Ok(Read {
            doc,
            dates,
            entries: count,
            items,
            edits,
        })
    }

    /// Parses a document on the blocking pool, large ones a few at a time.
    async fn parse(
        &self,
        feed: &FeedRow,
        meta: &ResponseMeta,
        body: bytes::Bytes,
    ) -> Result<(ParsedDocument, Vec<i64>), (FailureKind, String)> {
        let _large = if body.len() > LARGE_BODY {
            self.large_parses.clone().acquire_owned().await.ok()
        } else {
            None
        };
        let cpu = self.cpu.clone().acquire_owned().await.ok();
        let (url, ctype, lang) = (meta.final_url.clone(), meta.content_type.clone(), feed.lang.clone());
        let parsed = tokio::task::spawn_blocking(move || {
            let _cpu = cpu;
            feed::parse_document(&body, &url, ctype.as_deref(), lang.as_deref()).map(|doc| {
                let dates = doc
                    .entries
                    .iter()
                    .filter_map(|e| e.published)
                    .map(|d| d.timestamp_millis())
                    .collect();
                (doc, dates)
            })
        })
        .await;
        match parsed {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err((e.kind(), e.to_string())),
            Err(join) => Err((FailureKind::ParserCrash, format!("parser failed: {join}"))),
        }
    }

    /// The entries the feed has not stored yet, each identity once, and
    /// the stored items whose title the feed changed, as edits. A feed
    /// never polled with success has nothing stored: the store is not
    /// asked (storing still skips any it has).
    async fn drop_known(
        &self,
        feed: &FeedRow,
        mut entries: Vec<RawEntry>,
    ) -> Result<(Vec<RawEntry>, Vec<ItemEdit>), String> {
        feed::assign_link_keys(&mut entries);
        if feed.state.last_success.is_none() {
            return Ok((each_key_once(entries, |_| true), Vec::new()));
        }
        let ids = entries
            .iter()
            .map(|e| EntryIdentity {
                key: e.key.clone(),
                link_key: e.link_key.clone(),
                title_digest: e.title_digest,
            })
            .collect();
        let triage = self
            .store
            .triage(feed.id, ids)
            .await
            .map_err(|e| format!("cannot look up stored items: {e}"))?;
        let unseen: HashSet<String> = triage.unseen.into_iter().collect();
        let edited: HashMap<String, i64> = triage.edited.into_iter().collect();
        let mut edits = Vec::new();
        let mut fresh = Vec::new();
        for e in each_key_once(entries, |k| unseen.contains(k) || edited.contains_key(k)) {
            match edited.get(&e.key) {
                Some(&item_id) => {
                    edits.push(ItemEdit {
                        item_id,
                        title_digest: e.title_digest,
                        item: e.normalize(),
                    });
                }
                None => fresh.push(e),
            }
        }
        Ok((fresh, edits))
    }

    /// Normalizes and matches new entries and builds their alerts, on the
    /// blocking pool.
    async fn match_entries(&self, feed: &FeedRow, fresh: Vec<RawEntry>, now: i64) -> Result<Vec<NewItem>, String> {
        if fresh.is_empty() {
            return Ok(Vec::new());
        }
        let matcher = self.matcher.clone();
        let alerts = self.alerts.clone();
        let (name, url) = (feed.name.clone(), feed.url.clone());
        let first_poll = feed.state.last_success.is_none();
        let cpu = self.cpu.clone().acquire_owned().await.ok();
        tokio::task::spawn_blocking(move || {
            let _cpu = cpu;
            let source = FeedRef {
                name: &name,
                url: &url,
                first_poll,
            };
            fresh
                .into_iter()
                .map(|raw| {
                    let (link_key, title_digest) = (raw.link_key.clone(), raw.title_digest);
                    let item = raw.normalize();
                    let found = matcher.match_item(&item, &name, &url, Some(now));
                    let matches = alerts.matches(&item, found, source, now);
                    NewItem {
                        item,
                        link_key,
                        title_digest,
                        matches,
                    }
                })
                .collect()
        })
        .await
        .map_err(|join| format!("matcher failed: {join}"))
    }

    /// The feed's next state, committed with the poll's items in one
    /// transaction. When that commit fails, nothing of the poll is stored
    /// (its items will be new again next time) and the failure is recorded
    /// on the feed instead.
    async fn commit(
        &self,
        feed: &FeedRow,
        outcome: Outcome,
        items: Vec<NewItem>,
        edits: Vec<ItemEdit>,
        now: i64,
        report: &mut PollReport,
    ) -> FeedRow {
        let interval = self.intervals.get(&feed.url).copied();
        let rand01 = fastrand::f64();
        let mut updated = feed.clone();
        updated.state = self.policy.after_poll(&feed.state, &outcome, interval, now, rand01);
        match &outcome {
            Outcome::Failure(f) => {
                report.error = Some(f.message.clone());
                self.metrics.poll("failure");
                self.metrics.failure(f.kind.as_str());
            }
            Outcome::Success { not_modified: true, .. } => {
                self.metrics.poll("not_modified");
                self.metrics.not_modified.inc();
            }
            Outcome::Success { .. } => self.metrics.poll("ok"),
            Outcome::Wait { .. } => self.metrics.poll("wait"),
            Outcome::Gone => self.metrics.poll("gone"),
        }
        if matches!(outcome, Outcome::Success { .. }) {
            self.metrics.succeeded_at(now);
        }
        let watchlists: Vec<String> = items
            .iter()
            .flat_map(|i| i.matches.iter().map(|m| m.watchlist_match.watchlist.clone()))
            .collect();
        let commit = PollCommit {
            feed_id: feed.id,
            state: updated.state.clone(),
            items,
            edits,
            now,
        };
        match self.store.commit_poll(commit).await {
            Ok(summary) => {
                self.metrics.items_stored.inc_by(summary.items as u64);
                for w in &watchlists {
                    self.metrics.matched(w);
                }
                report.new_items = summary.items;
                report.matches = summary.matches;
                report.alerts = summary.alerts;
                if summary.alerts > 0 {
                    self.alerts_waiting.notify();
                }
            }
            Err(e) => {
                let failed = Outcome::Failure(Failure {
                    status: report.status,
                    kind: FailureKind::Store,
                    message: format!("cannot store the poll: {e}"),
                    retry_after: None,
                });
                report.error = Some(format!("cannot store the poll: {e}"));
                updated.state = self.policy.after_poll(&feed.state, &failed, interval, now, rand01);
                let state_only = PollCommit {
                    feed_id: feed.id,
                    state: updated.state.clone(),
                    items: Vec::new(),
                    edits: Vec::new(),
                    now,
                };
                if let Err(e) = self.store.commit_poll(state_only).await {
                    tracing::error!(error = %e, "cannot save feed state");
                }
            }
        }
        if let Some(u) = &updated.state.fetch_url {
            if feed.state.fetch_url.as_ref() != Some(u) {
                tracing::info!(new_url = %u, "feed moved permanently; polling the new url from now on");
            }
        }
        updated
    }
}

/// A 200 or a 304 as the scheduler takes it: the server's hints, the
/// validators, the publishing gap of a document read, and its flaw.
fn success(meta: &ResponseMeta, read: Option<&Read>, now: i64) -> Outcome {
    let doc = read.map(|r| &r.doc);
    Outcome::Success {
        status: meta.status,
        not_modified: read.is_none(),
        server_hint: scheduler::server_hint(
            doc.and_then(|d| d.ttl),
            doc.and_then(|d| d.update_period),
            meta.max_age,
            meta.expires.map(|e| e.timestamp_millis()),
            now,
        ),
        observed_gap: read.and_then(|r| scheduler::publishing_gap(&r.dates, now)),
        etag: meta.etag.clone(),
        last_modified: meta.last_modified.clone(),
        permanent_redirect: meta.permanent_redirect.clone(),
        flaw: doc
            .and_then(|d| d.warnings.first())
            .map(|w| (FailureKind::Encoding, w.clone())),
    }
}

/// The entries whose identity `keep` accepts, each identity once (its first
/// entry).
fn each_key_once(entries: Vec<RawEntry>, keep: impl Fn(&str) -> bool) -> Vec<RawEntry> {
    let mut taken = HashSet::new();
    entries
        .into_iter()
        .filter(|e| keep(&e.key) && taken.insert(e.key.clone()))
        .collect()
}

fn log_poll(r: &PollReport) {
    match &r.error {
        Some(e) => tracing::warn!(status = r.status, error = %e, "poll failed"),
        None if r.not_modified => tracing::debug!(status = r.status, "poll: not modified"),
        None => tracing::info!(
            status = r.status,
            items = r.items_in_feed,
            new = r.new_items,
            matches = r.matches,
            alerts = r.alerts,
            "poll"
        ),
    }
}
