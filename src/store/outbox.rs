//! The alert outbox: one row per alert and sink, written with its match in
//! the poll's transaction, marked delivered only after its sink confirmed,
//! dead (kept, for `alerts --failed` and `alerts retry`) after its last
//! attempt.

use rusqlite::{OptionalExtension, params};

use super::error::StoreError;
use super::handle::Store;

/// An undelivered alert for one sink.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub row: i64,
    pub alert_id: String,
    pub sink: String,
    pub payload: String,
    /// Failed attempts so far.
    pub attempts: u32,
    /// When the next attempt is due (Unix ms).
    pub next_attempt: i64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
    pub dead: u64,
}

/// A delivery that failed at least once: pending a retry, or dead.
#[derive(Debug, Clone)]
pub struct FailedDelivery {
    pub row: i64,
    pub alert_id: String,
    pub sink: String,
    pub payload: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub next_attempt: i64,
    /// When it was given up (Unix ms); `None` while retries remain.
    pub dead_at: Option<i64>,
}

fn entry(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxEntry> {
    Ok(OutboxEntry {
        row: r.get(0)?,
        alert_id: r.get(1)?,
        sink: r.get(2)?,
        payload: r.get(3)?,
        attempts: r.get(4)?,
        next_attempt: r.get(5)?,
    })
}

impl Store {
    /// The first `limit` undelivered, live rows of `sink`, oldest first,
    /// after row `after`, due or not: a sink that keeps order waits for
    /// its oldest.
    pub async fn pending_for_sink(&self, sink: &str, after: i64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        let sink = sink.to_string();
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, alert_id, sink, payload, attempts, next_attempt FROM outbox
                 WHERE sink = ?1 AND delivered_at IS NULL AND dead_at IS NULL AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![sink, after, limit as i64], entry)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Undelivered, live rows of sinks not in `known` (sinks removed from
    /// the config), so that they can be shown.
    pub async fn orphaned_sinks(&self, known: Vec<String>) -> Result<Vec<(String, u64)>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT sink, count(*) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL GROUP BY sink",
            )?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows.into_iter().filter(|(s, _)| !known.contains(s)).collect())
        })
        .await
    }

    pub async fn mark_delivered(&self, rows: Vec<i64>, now: i64) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            {
                let mut stmt =
                    tx.prepare_cached("UPDATE outbox SET delivered_at = ?2, last_error = NULL WHERE id = ?1")?;
                for r in rows {
                    stmt.execute(params![r, now])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Queues one alert for `sinks` outside a poll (a test alert, a
    /// tool's); an alert already queued for a sink is left as it is.
    pub async fn enqueue_alert(
        &self,
        alert_id: String,
        sinks: Vec<String>,
        payload: String,
        now: i64,
    ) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            {
                let mut stmt = tx.prepare_cached(
                    "INSERT OR IGNORE INTO outbox (alert_id, sink, payload, created_at, next_attempt) VALUES (?1, ?2, ?3, ?4, ?4)",
                )?;
                for sink in &sinks {
                    stmt.execute(params![alert_id, sink, payload, now])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Counts a failed attempt of `rows`; the next is due at `next_attempt`.
    pub async fn mark_failed(&self, rows: Vec<i64>, error: String, next_attempt: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3 WHERE id = ?1",
                )?;
                for r in rows {
                    stmt.execute(params![r, error, next_attempt])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Gives `rows` up: their last attempt failed with `error`.
    pub async fn mark_dead(&self, rows: Vec<i64>, error: String, now: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, dead_at = ?3 WHERE id = ?1",
                )?;
                for r in rows {
                    stmt.execute(params![r, error, now])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    /// Deliveries that failed at least once and are not delivered: dead
    /// ones, and those waiting for a retry; newest first.
    pub async fn failed_deliveries(&self, limit: usize) -> Result<Vec<FailedDelivery>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, alert_id, sink, payload, attempts, last_error, next_attempt, dead_at FROM outbox
                 WHERE delivered_at IS NULL AND (attempts > 0 OR dead_at IS NOT NULL) ORDER BY id DESC LIMIT ?1",
            )?;
            let rows = stmt
                .query_map([limit as i64], |r| {
                    Ok(FailedDelivery {
                        row: r.get(0)?,
                        alert_id: r.get(1)?,
                        sink: r.get(2)?,
                        payload: r.get(3)?,
                        attempts: r.get(4)?,
                        last_error: r.get(5)?,
                        next_attempt: r.get(6)?,
                        dead_at: r.get(7)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Brings dead deliveries back to life, due at `now` with their
    /// attempts counted from zero: those of `sink` when given, those of the
    /// alerts `ids` when any are given, else every dead one. Returns how
    /// many.
    pub async fn retry_dead(&self, sink: Option<String>, ids: Vec<String>, now: i64) -> Result<usize, StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            let mut n = 0;
            {
                let mut stmt = tx.prepare_cached(
                    "UPDATE outbox SET dead_at = NULL, attempts = 0, next_attempt = ?1
                     WHERE dead_at IS NOT NULL AND delivered_at IS NULL
                       AND (?2 IS NULL OR sink = ?2) AND (?3 IS NULL OR alert_id = ?3)",
                )?;
                if ids.is_empty() {
                    n += stmt.execute(params![now, sink, Option::<String>::None])?;
                } else {
                    for id in &ids {
                        n += stmt.execute(params![now, sink, id])?;
                    }
                }
            }
            tx.commit()?;
            Ok(n)
        })
        .await
    }

    /// When the next live undelivered alert becomes due, if any.
    pub async fn next_outbox_due(&self) -> Result<Option<i64>, StoreError> {
        self.call(|conn| {
            Ok(conn
                .query_row(
                    "SELECT min(next_attempt) FROM outbox WHERE delivered_at IS NULL AND dead_at IS NULL",
                    [],
                    |r| r.get::<_, Option<i64>>(0),
                )
                .optional()?
                .flatten())
        })
        .await
    }

    /// Alerts raised at or after `since` (Unix ms), for the status line.
    pub async fn alerts_since(&self, since: i64) -> Result<u64, StoreError> {
        self.call(move |conn| {
            let n: i64 = conn.query_row(
                "SELECT count(DISTINCT alert_id) FROM outbox WHERE created_at >= ?1",
                [since],
                |r| r.get(0),
            )?;
            Ok(n as u64)
        })
        .await
    }

    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        self.call(|conn| {
            Ok(conn.query_row(
                "SELECT count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NULL),
                        count(*) FILTER (WHERE delivered_at IS NOT NULL),
                        count(*) FILTER (WHERE delivered_at IS NULL AND dead_at IS NOT NULL)
                 FROM outbox",
                [],
                |r| {
                    Ok(OutboxCounts {
                        pending: r.get::<_, i64>(0)? as u64,
                        delivered: r.get::<_, i64>(1)? as u64,
                        dead: r.get::<_, i64>(2)? as u64,
                    })
                },
            )?)
        })
        .await
    }

    /// Alerts raised at or after `since_ms`, newest first, after outbox
    /// row `after` (when following), routed to `sink` when given: each
    /// with its delivery by sink and the outlets carrying its story. For
    /// `newshound alerts`.
    pub async fn recent_alerts(
        &self,
        since_ms: i64,
        sink: Option<String>,
        after: i64,
        limit: usize,
    ) -> Result<Vec<AlertRow>, StoreError> {
        self.call(move |conn| {
            let mut list = conn.prepare_cached(
                "SELECT max(id), alert_id, payload FROM outbox
                 WHERE created_at >= ?1 AND id > ?2 AND (?3 IS NULL OR sink = ?3)
                 GROUP BY alert_id ORDER BY max(id) DESC LIMIT ?4",
            )?;
            let heads = list
                .query_map(params![since_ms, after, sink, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            let mut sinks = conn.prepare_cached(
                "SELECT sink, delivered_at IS NOT NULL, dead_at IS NOT NULL, attempts FROM outbox
                 WHERE alert_id = ?1 ORDER BY sink",
            )?;
            let mut outlets = conn.prepare_cached(
                "SELECT f.name FROM matches m JOIN items i ON i.id = m.item_id JOIN feeds f ON f.id = i.feed_id
                 WHERE m.alert_id = ?1 GROUP BY f.id ORDER BY min(i.id)",
            )?;
            // A story merged into an earlier one (a copy reported both).
            let mut merged = conn.prepare_cached("SELECT into_alert FROM story_merged WHERE alert_id = ?1 LIMIT 1")?;
            let mut out = Vec::with_capacity(heads.len());
            for (row, alert_id, payload) in heads {
                let deliveries = sinks
                    .query_map([&alert_id], |r| {
                        let (delivered, dead): (bool, bool) = (r.get(1)?, r.get(2)?);
                        Ok(SinkDelivery {
                            sink: r.get(0)?,
                            state: if delivered {
                                DeliveryState::Delivered
                            } else if dead {
                                DeliveryState::Dead
                            } else {
                                DeliveryState::Pending
                            },
                            attempts: r.get(3)?,
                        })
                    })?
                    .collect::<Result<Vec<_>, _>>()?;
                let own = alert_id.clone();
                let into: Option<String> = merged.query_row([&own], |r| r.get(0)).optional()?;
                let story = into.unwrap_or(own);
                let feeds = outlets
                    .query_map([&story], |r| r.get::<_, String>(0))?
                    .collect::<Result<Vec<_>, _>>()?;
                out.push(AlertRow {
                    row,
                    payload,
                    deliveries,
                    outlets: feeds,
                    story,
                });
            }
            Ok(out)
        })
        .await
    }
}

/// An alert as `newshound alerts` shows it.
#[derive(Debug, Clone)]
pub struct AlertRow {
    /// Its newest outbox row, for following.
    pub row: i64,
    pub payload: String,
    pub deliveries: Vec<SinkDelivery>,
    /// The outlets carrying its story, the first first.
    pub outlets: Vec<String>,
    /// Its story: its own id, or the alert of the earlier story its story
    /// was merged into.
    pub story: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Delivered,
    Pending,
    Dead,
}

#[derive(Debug, Clone)]
pub struct SinkDelivery {
    pub sink: String,
    pub state: DeliveryState,
    /// Failed attempts.
    pub attempts: u32,
}
