//! Feeds and their state: the configured list synced into the table
//! (feeds no longer listed set inactive, their items kept), each feed's
//! state between polls, and their health for `newshound feeds`.

use rusqlite::{Connection, params};

use super::error::StoreError;
use super::handle::Store;
use crate::config::FeedSpec;
use crate::scheduler::{FailureKind, FeedRow, FeedState, Health};

#[derive(Debug, Clone)]
pub struct FeedHealth {
    pub row: FeedRow,
    pub items: u64,
}

impl Store {
    /// Makes the feeds table match the configured list: new feeds are added,
    /// names and languages updated, feeds no longer listed set inactive (their
    /// items stay). Returns the active feeds with their state.
    pub async fn sync_feeds(&self, specs: Vec<FeedSpec>, now: i64) -> Result<Vec<FeedRow>, StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            tx.execute("UPDATE feeds SET active = 0", [])?;
            {
                let mut upsert = tx.prepare(
                    "INSERT INTO feeds (url, name, lang, tags, added_at, active) VALUES (?1, ?2, ?3, ?4, ?5, 1)
                     ON CONFLICT(url) DO UPDATE SET name = excluded.name, lang = excluded.lang,
                     tags = excluded.tags, active = 1",
                )?;
                for f in &specs {
                    upsert.execute(params![f.url, f.name, f.lang, serde_json::to_string(&f.tags)?, now])?;
                }
            }
            tx.commit()?;
            let mut rows = select_feeds(conn, "WHERE active = 1")?;
            let order: std::collections::HashMap<&str, usize> =
                specs.iter().enumerate().map(|(i, f)| (f.url.as_str(), i)).collect();
            rows.sort_by_key(|r| order.get(r.url.as_str()).copied().unwrap_or(usize::MAX));
            Ok(rows)
        })
        .await
    }

    /// Every feed (active ones first) with its stored item count.
    pub async fn feed_health(&self) -> Result<Vec<FeedHealth>, StoreError> {
        self.call(|conn| {
            let rows = select_feeds(conn, "ORDER BY active DESC, id")?;
            let mut count = conn.prepare_cached("SELECT count(*) FROM items WHERE feed_id = ?1")?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let items: i64 = count.query_row([row.id], |r| r.get(0))?;
                out.push(FeedHealth {
                    row,
                    items: items as u64,
                });
            }
            Ok(out)
        })
        .await
    }
}

fn select_feeds(conn: &Connection, tail: &str) -> Result<Vec<FeedRow>, StoreError> {
    let sql = format!(
        "SELECT id, url, name, lang, state, etag, last_modified, last_poll, last_success, last_status,
         last_error, error_kind, consecutive_failures, next_poll, hold_until, interval_secs, polls,
         not_modified, fetch_url, redirect_url, redirect_count FROM feeds {tail}"
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(FeedRow {
                id: r.get(0)?,
                url: r.get(1)?,
                name: r.get(2)?,
                lang: r.get(3)?,
                state: FeedState {
                    health: Health::parse(&r.get::<_, String>(4)?),
                    etag: r.get(5)?,
                    last_modified: r.get(6)?,
                    last_poll: r.get(7)?,
                    last_success: r.get(8)?,
                    last_status: r.get::<_, Option<i64>>(9)?.map(|s| s as u16),
                    last_error: r.get(10)?,
                    error_kind: r.get::<_, Option<String>>(11)?.map(|k| FailureKind::parse(&k)),
                    consecutive_failures: r.get(12)?,
                    next_poll: r.get(13)?,
                    hold_until: r.get(14)?,
                    interval_secs: r.get::<_, Option<i64>>(15)?.map(|s| s as u64),
                    polls: r.get::<_, i64>(16)? as u64,
                    not_modified: r.get::<_, i64>(17)? as u64,
                    fetch_url: r.get(18)?,
                    redirect_url: r.get(19)?,
                    redirect_count: r.get(20)?,
                },
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

pub(super) fn write_state(conn: &Connection, feed_id: i64, s: &FeedState) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE feeds SET state = ?2, etag = ?3, last_modified = ?4, last_poll = ?5, last_success = ?6,
         last_status = ?7, last_error = ?8, error_kind = ?9, consecutive_failures = ?10, next_poll = ?11,
         hold_until = ?12, interval_secs = ?13, polls = ?14, not_modified = ?15, fetch_url = ?16,
         redirect_url = ?17, redirect_count = ?18 WHERE id = ?1",
    )?
    .execute(params![
        feed_id,
        s.health.as_str(),
        s.etag,
        s.last_modified,
        s.last_poll,
        s.last_success,
        s.last_status.map(i64::from),
        s.last_error,
        s.error_kind.map(FailureKind::as_str),
        s.consecutive_failures,
        s.next_poll,
        s.hold_until,
        s.interval_secs.map(|v| v as i64),
        s.polls as i64,
        s.not_modified as i64,
        s.fetch_url,
        s.redirect_url,
        s.redirect_count,
    ])?;
    Ok(())
}
