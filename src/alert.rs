//! Alerts: the alert record, the [`AlertSink`] trait and its sinks (the JSON
//! Lines alert log), and the delivery worker that drains the store's outbox
//! into the sinks, marking a row delivered only after its sink has it safely
//! (for the log: written and flushed to disk). Failed deliveries are retried
//! with backoff; nothing is dropped.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use chrono::{DateTime, Utc};

use crate::clock::{Clock, ms_to_datetime};
use crate::feed::Item;
use crate::rules::{CompiledWatchlist, Severity, TermHit, WatchlistMatch};
use crate::store::{AlertDraft, NewMatch, OutboxEntry, Store, StoreError};

/// One alert: one story matching one watchlist. This is the JSON Lines
/// record of the alert log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// Stable idempotency key: the same story on the same watchlist always
    /// gets the same id.
    pub id: String,
    /// When the alert was raised (RFC 3339, UTC).
    pub at: String,
    pub watchlist: String,
    pub watchlist_version: String,
    pub severity: Severity,
    pub rules: Vec<String>,
    pub terms: Vec<AlertTerm>,
    pub snippet: String,
    pub title: String,
    pub link: Option<String>,
    pub feed: String,
    pub feed_url: String,
    pub published: Option<String>,
    pub first_seen: String,
    pub lang: Option<String>,
}

/// A matched term as the alert log carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AlertTerm {
    pub term: String,
    pub field: String,
    pub text: String,
}

impl From<&TermHit> for AlertTerm {
    fn from(t: &TermHit) -> AlertTerm {
        AlertTerm {
            term: t.term.clone(),
            field: t.field.name().to_string(),
            text: t.text.clone(),
        }
    }
}

/// The alert id of a story on a watchlist.
pub fn alert_id(watchlist: &str, story_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(watchlist.as_bytes());
    h.update([0]);
    h.update(story_key.as_bytes());
    h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
}

/// Builds the alerts of new items: which matches may alert, and the alert
/// record each one queues for its watchlist's sinks.
#[derive(Debug, Clone)]
pub struct AlertBuilder {
    /// The sinks of each watchlist, by name.
    sinks: HashMap<String, Vec<String>>,
    /// On a feed's first poll, items older than this are stored without
    /// alerting: a new feed's backlog is not news.
    first_poll_max_age: chrono::Duration,
}

/// The feed an item came from, as alerts name it.
#[derive(Debug, Clone, Copy)]
pub struct FeedRef<'a> {
    pub name: &'a str,
    pub url: &'a str,
    /// True on the feed's first successful poll.
    pub first_poll: bool,
}

impl AlertBuilder {
    pub fn new(watchlists: &[CompiledWatchlist], first_poll_max_age: Duration) -> AlertBuilder {
        AlertBuilder {
            sinks: watchlists.iter().map(|w| (w.name.clone(), w.sinks.clone())).collect(),
            first_poll_max_age: chrono::Duration::from_std(first_poll_max_age).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// The matches of a new item, each with the alert it raises unless the
    /// item is old backlog of a feed's first poll.
    pub fn matches(&self, item: &Item, found: Vec<WatchlistMatch>, feed: FeedRef<'_>, now_ms: i64) -> Vec<NewMatch> {
        let now = ms_to_datetime(now_ms);
        let may_alert = !feed.first_poll || item.published.is_some_and(|p| now - p <= self.first_poll_max_age);
        found
            .into_iter()
            .map(|m| {
                let alert = may_alert.then(|| {
                    let sinks = self.sinks.get(&m.watchlist).cloned().unwrap_or_default();
                    draft(item, &m, feed, sinks, now)
                });
                NewMatch {
                    watchlist_match: m,
                    alert,
                }
            })
            .collect()
    }
}

/// The alert of one match, ready for the outbox.
fn draft(item: &Item, m: &WatchlistMatch, feed: FeedRef<'_>, sinks: Vec<String>, now: DateTime<Utc>) -> AlertDraft {
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
        feed: feed.name.to_string(),
        feed_url: feed.url.to_string(),
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

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write alert log {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no sink named '{0}' is configured")]
    UnknownSink(String),
    #[error("delivery task failed")]
    Task(#[source] std::io::Error),
}

pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Vec<Result<(), SinkError>>> + Send + 'a>>;

/// Somewhere alerts go. `deliver` returns one result per entry, in order; an
/// `Ok` means the sink holds the alert durably.
pub trait AlertSink: Send + Sync {
    fn name(&self) -> &str;
    fn deliver<'a>(&'a self, entries: &'a [OutboxEntry]) -> DeliveryFuture<'a>;
}

/// Bytes read from the end of the log at start-up to learn which alerts it
/// already holds (written, but not marked delivered before a crash).
const RECOVERY_TAIL: u64 = 1024 * 1024;

/// The JSON Lines alert log: one alert per line, appended, flushed and
/// synced before delivery is acknowledged.
pub struct JsonlSink {
    name: String,
    inner: Arc<JsonlFile>,
}

struct JsonlFile {
    path: PathBuf,
    /// Ids found at the end of the log when it was first opened.
    recovered: Mutex<Option<HashSet<String>>>,
}

impl JsonlSink {
    /// The sink `name` writing the log at `path`.
    pub fn new(name: &str, path: &Path) -> JsonlSink {
        JsonlSink {
            name: name.to_string(),
            inner: Arc::new(JsonlFile {
                path: path.to_path_buf(),
                recovered: Mutex::new(None),
            }),
        }
    }
}

impl JsonlFile {
    fn io(&self, source: std::io::Error) -> SinkError {
        SinkError::Io {
            path: self.path.clone(),
            source,
        }
    }

    fn write_batch(&self, entries: &[OutboxEntry]) -> Result<(), SinkError> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        let mut guard = self.recovered.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(recent_ids(&mut f).map_err(|e| self.io(e))?);
        }
        let recovered = guard.get_or_insert_with(HashSet::new);
        // A line cut short by a crash or a full disk is closed first, so the
        // next alert starts on a line of its own.
        let len = f.metadata().map_err(|e| self.io(e))?.len();
        let mut buf = Vec::new();
        if len > 0 {
            let mut last = [0u8; 1];
            f.seek(SeekFrom::Start(len - 1)).map_err(|e| self.io(e))?;
            f.read_exact(&mut last).map_err(|e| self.io(e))?;
            if last[0] != b'\n' {
                buf.push(b'\n');
            }
        }
        for e in entries {
            if recovered.contains(&e.alert_id) {
                continue;
            }
            buf.extend_from_slice(e.payload.trim_end().as_bytes());
            buf.push(b'\n');
        }
        f.write_all(&buf).map_err(|e| self.io(e))?;
        f.flush().map_err(|e| self.io(e))?;
        f.sync_data().map_err(|e| self.io(e))?;
        for e in entries {
            recovered.remove(&e.alert_id);
        }
        Ok(())
    }
}

/// Alert ids in the last [`RECOVERY_TAIL`] bytes of the log.
fn recent_ids(f: &mut std::fs::File) -> std::io::Result<HashSet<String>> {
    let len = f.metadata()?.len();
    let start = len.saturating_sub(RECOVERY_TAIL);
    f.seek(SeekFrom::Start(start))?;
    let mut buf = Vec::new();
    f.take(RECOVERY_TAIL).read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let mut ids = HashSet::new();
    for line in text.lines().skip(usize::from(start > 0)) {
        #[derive(Deserialize)]
        struct IdOnly {
            id: String,
        }
        if let Ok(r) = serde_json::from_str::<IdOnly>(line) {
            ids.insert(r.id);
        }
    }
    Ok(ids)
}

impl AlertSink for JsonlSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver<'a>(&'a self, entries: &'a [OutboxEntry]) -> DeliveryFuture<'a> {
        let file = self.inner.clone();
        let owned = entries.to_vec();
        Box::pin(async move {
            // Blocking file I/O (and fsync) stays off the runtime threads.
            let result = tokio::task::spawn_blocking(move || file.write_batch(&owned)).await;
            match result {
                Ok(Ok(())) => entries.iter().map(|_| Ok(())).collect(),
                Ok(Err(e)) => {
                    let cause = std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_default();
                    entries
                        .iter()
                        .map(|_| {
                            Err(SinkError::Io {
                                path: self.inner.path.clone(),
                                source: std::io::Error::other(cause.clone()),
                            })
                        })
                        .collect()
                }
                Err(join) => {
                    let msg = join.to_string();
                    entries
                        .iter()
                        .map(|_| Err(SinkError::Task(std::io::Error::other(msg.clone()))))
                        .collect()
                }
            }
        })
    }
}

/// Reads the alert log as it grows: whole lines only (a line being written
/// waits for its end), from where the last read stopped, starting over when
/// the log is rotated or truncated.
pub struct LogReader {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogReader {
    pub fn new(path: &Path) -> LogReader {
        LogReader {
            path: path.to_path_buf(),
            offset: 0,
            partial: Vec::new(),
        }
    }

    /// The whole lines added since the last call (empty when none, or when
    /// the log does not exist yet).
    pub fn read_new(&mut self) -> std::io::Result<String> {
        let mut f = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
            Err(e) => return Err(e),
        };
        let len = f.metadata()?.len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if len > self.offset {
            f.seek(SeekFrom::Start(self.offset))?;
            let mut chunk = Vec::new();
            f.take(len - self.offset).read_to_end(&mut chunk)?;
            self.offset += chunk.len() as u64;
            self.partial.extend_from_slice(&chunk);
        }
        match self.partial.iter().rposition(|b| *b == b'\n') {
            Some(end) => {
                let text = String::from_utf8_lossy(&self.partial[..=end]).into_owned();
                self.partial.drain(..=end);
                Ok(text)
            }
            None => Ok(String::new()),
        }
    }
}

/// Rows taken from the outbox at a time.
const BATCH: usize = 256;
/// The longest wait between delivery attempts of one alert.
const MAX_RETRY: Duration = Duration::from_secs(3600);

/// The wait before the next attempt after `attempts` failed ones.
pub fn retry_delay(attempts: u32) -> Duration {
    let secs = 5u64.saturating_mul(1u64 << attempts.min(16));
    Duration::from_secs(secs).min(MAX_RETRY)
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DrainStats {
    pub delivered: usize,
    pub failed: usize,
}

/// Drains the outbox into the sinks.
#[derive(Clone)]
pub struct AlertWorker {
    store: Store,
    sinks: Arc<HashMap<String, Arc<dyn AlertSink>>>,
    wake: Arc<Notify>,
    clock: Clock,
}

impl AlertWorker {
    pub fn new(store: Store, sinks: Vec<Arc<dyn AlertSink>>, clock: Clock) -> AlertWorker {
        AlertWorker {
            store,
            sinks: Arc::new(sinks.into_iter().map(|s| (s.name().to_string(), s)).collect()),
            wake: Arc::new(Notify::new()),
            clock,
        }
    }

    /// Tells the worker new alerts are waiting.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A handle that wakes the worker, for the parts that queue alerts.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Delivers every alert whose attempt is due; returns what happened.
    pub async fn drain(&self) -> Result<DrainStats, StoreError> {
        self.drain_until(None).await
    }

    /// Delivers every undelivered alert now, including those waiting for a
    /// retry: what a one-shot run does before it exits.
    pub async fn drain_all(&self) -> Result<DrainStats, StoreError> {
        self.drain_until(Some(i64::MAX)).await
    }

    async fn drain_until(&self, due_by: Option<i64>) -> Result<DrainStats, StoreError> {
        let mut stats = DrainStats::default();
        let mut last_row = 0;
        loop {
            let now = self.clock.now_ms();
            let due = self.store.due_outbox(due_by.unwrap_or(now), last_row, BATCH).await?;
            if let Some(e) = due.last() {
                last_row = e.row;
            }
            if due.is_empty() {
                return Ok(stats);
            }
            let mut by_sink: HashMap<&str, Vec<OutboxEntry>> = HashMap::new();
            for e in &due {
                by_sink.entry(e.sink.as_str()).or_default().push(e.clone());
            }
            let mut delivered = Vec::new();
            for (sink_name, entries) in by_sink {
                let results = match self.sinks.get(sink_name) {
                    Some(sink) => sink.deliver(&entries).await,
                    None => entries
                        .iter()
                        .map(|_| Err(SinkError::UnknownSink(sink_name.to_string())))
                        .collect(),
                };
                for (entry, result) in entries.iter().zip(results) {
                    match result {
                        Ok(()) => delivered.push(entry.row),
                        Err(e) => {
                            stats.failed += 1;
                            let wait = retry_delay(entry.attempts);
                            let message = match std::error::Error::source(&e) {
                                Some(s) => format!("{e}: {s}"),
                                None => e.to_string(),
                            };
                            tracing::warn!(alert = %entry.alert_id, sink = sink_name, error = %message, retry_in_s = wait.as_secs(), "alert delivery failed");
                            self.store
                                .mark_failed(entry.row, message, now + wait.as_millis() as i64)
                                .await?;
                        }
                    }
                }
            }
            stats.delivered += delivered.len();
            self.store.mark_delivered(delivered, self.clock.now_ms()).await?;
        }
    }

    /// Runs until cancelled, delivering when woken and when retries fall
    /// due; a last drain runs after cancellation.
    pub async fn run(self, cancel: CancellationToken) {
        loop {
            if let Err(e) = self.drain().await {
                tracing::error!(error = %e, "alert outbox unreadable");
            }
            let next = self.store.next_outbox_due().await.ok().flatten();
            let sleep_for = next
                .map(|t| Duration::from_millis((t - self.clock.now_ms()).clamp(100, 60_000) as u64))
                .unwrap_or(Duration::from_secs(60));
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(sleep_for) => {}
            }
        }
        if let Err(e) = self.drain().await {
            tracing::error!(error = %e, "last alert drain failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_reader_returns_whole_new_lines_and_survives_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        let mut r = LogReader::new(&path);
        assert_eq!(r.read_new().unwrap(), "");
        std::fs::write(&path, "one\ntw").unwrap();
        assert_eq!(r.read_new().unwrap(), "one\n");
        std::fs::write(&path, "one\ntwo\n").unwrap();
        assert_eq!(r.read_new().unwrap(), "two\n");
        assert_eq!(r.read_new().unwrap(), "");
        std::fs::write(&path, "x\n").unwrap();
        assert_eq!(r.read_new().unwrap(), "x\n");
    }

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(alert_id("w", "u:a"), alert_id("w", "u:a"));
        assert_ne!(alert_id("w", "u:a"), alert_id("w2", "u:a"));
        assert_ne!(alert_id("w", "u:a"), alert_id("w", "u:b"));
        assert_eq!(alert_id("w", "u:a").len(), 24);
    }

    #[test]
    fn retry_delays_grow_and_cap() {
        assert_eq!(retry_delay(0), Duration::from_secs(5));
        assert_eq!(retry_delay(3), Duration::from_secs(40));
        assert_eq!(retry_delay(30), MAX_RETRY);
    }

    #[test]
    fn log_recovers_ids_and_closes_cut_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.jsonl");
        std::fs::write(&path, "{\"id\":\"one\"}\n{\"id\":\"cut").unwrap();
        let sink = JsonlSink::new("log", &path).inner;
        let entry = |id: &str| OutboxEntry {
            row: 1,
            alert_id: id.into(),
            sink: "log".into(),
            payload: format!("{{\"id\":\"{id}\"}}"),
            attempts: 0,
        };
        sink.write_batch(&[entry("one"), entry("two")]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "{\"id\":\"one\"}\n{\"id\":\"cut\n{\"id\":\"two\"}\n");
    }
}
