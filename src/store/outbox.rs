//! The alert outbox: one row per alert and sink, written with its match in
//! the poll's transaction, marked delivered only after its sink confirmed.

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
    pub attempts: u32,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
}

impl Store {
    /// Undelivered alerts due at `now`, oldest first, after row `after`
    /// (so that a pass over the outbox visits each row once).
    pub async fn due_outbox(&self, now: i64, after: i64, limit: usize) -> Result<Vec<OutboxEntry>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT id, alert_id, sink, payload, attempts FROM outbox
                 WHERE delivered_at IS NULL AND next_attempt <= ?1 AND id > ?2 ORDER BY id LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![now, after, limit as i64], |r| {
                    Ok(OutboxEntry {
                        row: r.get(0)?,
                        alert_id: r.get(1)?,
                        sink: r.get(2)?,
                        payload: r.get(3)?,
                        attempts: r.get(4)?,
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// When the next undelivered alert becomes due, if any.
    pub async fn next_outbox_due(&self) -> Result<Option<i64>, StoreError> {
        self.call(|conn| {
            Ok(conn
                .query_row(
                    "SELECT min(next_attempt) FROM outbox WHERE delivered_at IS NULL",
                    [],
                    |r| r.get::<_, Option<i64>>(0),
                )
                .optional()?
                .flatten())
        })
        .await
    }

    pub async fn mark_delivered(&self, rows: Vec<i64>, now: i64) -> Result<(), StoreError> {
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

    pub async fn mark_failed(&self, row: i64, error: String, next_attempt: i64) -> Result<(), StoreError> {
        self.call(move |conn| {
            conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt = ?3 WHERE id = ?1",
                params![row, error, next_attempt],
            )?;
            Ok(())
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
                "SELECT count(*) FILTER (WHERE delivered_at IS NULL), count(*) FILTER (WHERE delivered_at IS NOT NULL) FROM outbox",
                [],
                |r| {
                    Ok(OutboxCounts {
                        pending: r.get::<_, i64>(0)? as u64,
                        delivered: r.get::<_, i64>(1)? as u64,
                    })
                },
            )?)
        })
        .await
    }
}
