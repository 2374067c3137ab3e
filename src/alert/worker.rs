//! The delivery worker: drains the store's outbox into the sinks, marking
//! a row delivered only after its sink has it safely; failed deliveries
//! are retried with backoff, nothing is dropped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::sink::{AlertSink, SinkError};
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::{OutboxEntry, Store, StoreError};

/// Rows taken from the outbox at a time.
pub(crate) const BATCH: usize = 256;

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
    metrics: Option<Arc<Metrics>>,
}

impl AlertWorker {
    pub fn new(store: Store, sinks: Vec<Arc<dyn AlertSink>>, clock: Clock) -> AlertWorker {
        AlertWorker {
            store,
            sinks: Arc::new(sinks.into_iter().map(|s| (s.name().to_string(), s)).collect()),
            wake: Arc::new(Notify::new()),
            clock,
            metrics: None,
        }
    }

    /// Counts deliveries by sink and outcome into `metrics`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> AlertWorker {
        self.metrics = Some(metrics);
        self
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
                    let outcome = if result.is_ok() { "delivered" } else { "failed" };
                    if let Some(m) = &self.metrics {
                        m.alert(sink_name, outcome, 1);
                    }
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
    fn retry_delays_grow_and_cap() {
        assert_eq!(retry_delay(0), Duration::from_secs(5));
        assert_eq!(retry_delay(3), Duration::from_secs(40));
        assert_eq!(retry_delay(30), MAX_RETRY);
    }
}
