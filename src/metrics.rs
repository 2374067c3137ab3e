//! The daemon's metrics: counters, gauges and a histogram that the
//! pipeline, the delivery runners and the scheduling loop record into, and
//! their rendering as Prometheus text (prometheus-client). Also the
//! scheduling loop's heartbeat, for health checks. Pure: no I/O.

use std::sync::atomic::{AtomicI64, Ordering};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabel {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WatchlistLabel {
    pub watchlist: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SinkLabel {
    pub sink: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

/// Every metric of the daemon. Cheap to share (`Arc`); recording never
/// blocks.
pub struct Metrics {
    registry: Registry,
    /// Polls by outcome: ok, not_modified, failure, wait, gone, cancelled.
    pub polls: Family<OutcomeLabel, Counter>,
    /// Failed polls by failure kind.
    pub failures: Family<KindLabel, Counter>,
    pub not_modified: Counter,
    pub bytes_fetched: Counter,
    pub items_stored: Counter,
    pub matches: Family<WatchlistLabel, Counter>,
    /// Alerts by sink and outcome (delivered, failed).
    pub alerts: Family<SinkLabel, Counter>,
    /// Reloads by result (ok, failed).
    pub reloads: Family<ResultLabel, Counter>,
    /// Feeds by state (new, ok, failing, backoff, gone).
    pub feeds: Family<StateLabel, Gauge>,
    pub outbox_depth: Gauge,
    /// Seconds from the start of a poll to its commit.
    pub poll_seconds: Histogram,
    seconds_since_success: Gauge<f64, std::sync::atomic::AtomicU64>,
    /// When a poll last succeeded (Unix ms; 0: never).
    last_success_ms: AtomicI64,
    /// When the scheduling loop last came round (Unix ms).
    heartbeat_ms: AtomicI64,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("newshound");
        let m = Metrics {
            polls: Family::default(),
            failures: Family::default(),
            not_modified: Counter::default(),
            bytes_fetched: Counter::default(),
            items_stored: Counter::default(),
            matches: Family::default(),
            alerts: Family::default(),
            reloads: Family::default(),
            feeds: Family::default(),
            outbox_depth: Gauge::default(),
            poll_seconds: Histogram::new([0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            seconds_since_success: Gauge::default(),
            last_success_ms: AtomicI64::new(0),
            heartbeat_ms: AtomicI64::new(0),
            registry: Registry::default(),
        };
        registry.register("polls", "Polls by outcome", m.polls.clone());
        registry.register("poll_failures", "Failed polls by failure kind", m.failures.clone());
        registry.register(
            "not_modified",
            "Polls answered 304 Not Modified",
            m.not_modified.clone(),
        );
        registry.register(
            "fetched_bytes",
            "Bytes of feed bodies fetched, decoded",
            m.bytes_fetched.clone(),
        );
        registry.register("items_stored", "New items stored", m.items_stored.clone());
        registry.register("matches", "Matches of new items by watchlist", m.matches.clone());
        registry.register("alerts", "Alert deliveries by sink and outcome", m.alerts.clone());
        registry.register("reloads", "Configuration reloads by result", m.reloads.clone());
        registry.register("feeds", "Feeds by state", m.feeds.clone());
        registry.register("outbox_depth", "Alerts waiting for delivery", m.outbox_depth.clone());
        registry.register(
            "poll_duration_seconds",
            "Seconds from a poll's start to its commit",
            m.poll_seconds.clone(),
        );
        registry.register(
            "seconds_since_last_successful_poll",
            "Seconds since a poll last succeeded (-1: none yet)",
            m.seconds_since_success.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn poll(&self, outcome: &str) {
        self.polls
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn failure(&self, kind: &str) {
        self.failures.get_or_create(&KindLabel { kind: kind.to_string() }).inc();
    }

    pub fn matched(&self, watchlist: &str) {
        self.matches
            .get_or_create(&WatchlistLabel {
                watchlist: watchlist.to_string(),
            })
            .inc();
    }

    pub fn alert(&self, sink: &str, outcome: &str, n: u64) {
        self.alerts
            .get_or_create(&SinkLabel {
                sink: sink.to_string(),
                outcome: outcome.to_string(),
            })
            .inc_by(n);
    }

    pub fn reload(&self, ok: bool) {
        self.reloads
            .get_or_create(&ResultLabel {
                result: if ok { "ok" } else { "failed" }.to_string(),
            })
            .inc();
    }

    /// Sets the feeds-by-state gauges.
    pub fn feed_states(&self, counts: &[(&str, i64)]) {
        for (state, n) in counts {
            self.feeds
                .get_or_create(&StateLabel {
                    state: state.to_string(),
                })
                .set(*n);
        }
    }

    pub fn succeeded_at(&self, ms: i64) {
        self.last_success_ms.fetch_max(ms, Ordering::Relaxed);
    }

    pub fn heartbeat(&self, now_ms: i64) {
        self.heartbeat_ms.store(now_ms, Ordering::Relaxed);
    }

    /// How long ago the scheduling loop last came round, in ms (`None`
    /// before it first did).
    pub fn since_heartbeat(&self, now_ms: i64) -> Option<i64> {
        let h = self.heartbeat_ms.load(Ordering::Relaxed);
        (h > 0).then(|| now_ms - h)
    }

    /// The metrics in Prometheus text format, as of `now_ms`.
    pub fn render(&self, now_ms: i64) -> String {
        let last = self.last_success_ms.load(Ordering::Relaxed);
        self.seconds_since_success.set(if last > 0 {
            (now_ms - last) as f64 / 1000.0
        } else {
            -1.0
        });
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_recorded() {
        let m = Metrics::new();
        m.poll("ok");
        m.poll("ok");
        m.failure("timeout");
        m.alert("log", "delivered", 3);
        m.feed_states(&[("ok", 5), ("failing", 1)]);
        m.succeeded_at(1_000);
        let text = m.render(11_000);
        assert!(text.contains("newshound_polls_total{outcome=\"ok\"} 2"), "{text}");
        assert!(
            text.contains("newshound_poll_failures_total{kind=\"timeout\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("newshound_alerts_total{sink=\"log\",outcome=\"delivered\"} 3"),
            "{text}"
        );
        assert!(text.contains("newshound_feeds{state=\"failing\"} 1"), "{text}");
        assert!(
            text.contains("newshound_seconds_since_last_successful_poll 10.0"),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
