//! The store's thread: one SQLite connection that runs every job in
//! order, the polls waiting in its queue committed together (group
//! commit); and the handle the async side sends it jobs through, over a
//! bounded channel.

use std::path::Path;
use std::thread::JoinHandle;

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use super::error::StoreError;
use super::schema::open_connection;

/// Jobs waiting for the store thread; senders wait when it is full.
const QUEUE: usize = 256;

/// A job runs on the store thread and returns how to answer its caller
/// once the transaction it ran in is committed (`true`) or not (`false`).
type Job = Box<dyn FnOnce(&mut Connection) -> Reply + Send>;
type Reply = Box<dyn FnOnce(bool) + Send>;

/// Most jobs run in one transaction (group commit).
const GROUP: usize = 64;

/// Runs jobs in groups: every job waiting in the queue (up to [`GROUP`])
/// goes into one transaction, and callers hear back after it commits. One
/// commit, one full-text index flush and one WAL sync serve many polls.
/// Jobs use savepoints, so each one stays atomic on its own inside the
/// group.
fn serve(conn: &mut Connection, rx: &mut mpsc::Receiver<Job>) {
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < GROUP {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let grouped = conn.execute_batch("BEGIN IMMEDIATE").is_ok();
        let replies: Vec<Reply> = jobs.into_iter().map(|job| job(conn)).collect();
        let committed = !grouped
            || match conn.execute_batch("COMMIT") {
                Ok(()) => true,
                Err(e) => {
                    tracing::error!(error = %e, "database commit failed; the group is rolled back");
                    let _ = conn.execute_batch("ROLLBACK");
                    false
                }
            };
        for reply in replies {
            reply(committed);
        }
    }
}

/// Files up to this size are checked whole at every `once`.
pub const CHECK_ALWAYS_BYTES: u64 = 256 * 1024 * 1024;
/// Larger ones once in this time.
pub const CHECK_EVERY_MS: i64 = 24 * 3600 * 1000;

/// Handle to the store thread. Cheap to clone; the thread ends when the last
/// handle is closed or dropped, after finishing every queued job.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    thread: std::sync::Arc<std::sync::Mutex<Option<JoinHandle<()>>>>,
    path: std::path::PathBuf,
}

impl Store {
    /// Opens (creating if needed) the database and starts the store thread.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let mut conn = open_connection(path)?;
        let (tx, mut rx) = mpsc::channel::<Job>(QUEUE);
        let thread = std::thread::Builder::new()
            .name("newshound-store".into())
            .spawn(move || {
                serve(&mut conn, &mut rx);
                // Fold the WAL back so the file is complete on its own.
                let _ = conn.pragma_update(None, "wal_checkpoint", "TRUNCATE");
            })
            .map_err(|source| StoreError::Folder {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(Store {
            tx,
            thread: std::sync::Arc::new(std::sync::Mutex::new(Some(thread))),
            path: path.to_path_buf(),
        })
    }

    pub(super) async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let result = f(conn);
            Box::new(move |committed: bool| {
                let _ = tx.send(if committed {
                    result
                } else {
                    Err(StoreError::NotCommitted)
                });
            })
        });
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Finishes every queued job and stops the thread. Other clones of this
    /// handle must be dropped first for the thread to end.
    pub async fn close(self) {
        let thread = self.thread.clone();
        drop(self);
        let handle = thread.lock().ok().and_then(|mut g| g.take());
        if let Some(h) = handle {
            let _ = tokio::task::spawn_blocking(move || h.join()).await;
        }
    }

    /// Checks the structure of the whole file (`PRAGMA quick_check`) on a
    /// read-only connection beside the writer; `Corrupt` when damaged.
    pub async fn check_integrity(&self) -> Result<(), StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || super::schema::quick_check(&path))
            .await
            .map_err(|_| StoreError::Closed)?
    }

    /// [`Store::check_integrity`] when it is due: on a file of up to
    /// [`CHECK_ALWAYS_BYTES`] every time (a fraction of a second), on a
    /// larger one when the last check that passed is a day old (a cold
    /// check reads every page: about 15 s per GiB). A check that passes is
    /// recorded. Returns whether the check ran.
    pub async fn check_integrity_when_due(&self, now_ms: i64) -> Result<bool, StoreError> {
        self.check_integrity_above(now_ms, CHECK_ALWAYS_BYTES).await
    }

    async fn check_integrity_above(&self, now_ms: i64, always_bytes: u64) -> Result<bool, StoreError> {
        let size = std::fs::metadata(&self.path).map(|m| m.len()).unwrap_or(u64::MAX);
        let last: Option<i64> = self
            .call(|conn| {
                use rusqlite::OptionalExtension;
                Ok(conn
                    .query_row("SELECT value FROM meta WHERE key = 'checked_at'", [], |r| r.get(0))
                    .optional()?)
            })
            .await?;
        if size > always_bytes && last.is_some_and(|t| now_ms - t < CHECK_EVERY_MS && t <= now_ms) {
            return Ok(false);
        }
        self.check_integrity().await?;
        self.call(move |conn| {
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('checked_at', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [now_ms],
            )?;
            Ok(())
        })
        .await?;
        Ok(true)
    }

    /// Whether the database can take writes: its file is there and not
    /// read-only, and a write (rolled back) goes through the store thread.
    pub async fn check_writable(&self) -> Result<(), StoreError> {
        match std::fs::metadata(&self.path) {
            Err(source) => {
                return Err(StoreError::Missing {
                    path: self.path.clone(),
                    source,
                });
            }
            Ok(m) if m.permissions().readonly() => {
                return Err(StoreError::ReadOnly {
                    path: self.path.clone(),
                });
            }
            Ok(_) => {}
        }
        self.call(|conn| {
            let tx = conn.savepoint()?;
            tx.execute("UPDATE meta SET value = value WHERE key = 'fts_upto'", [])?;
            // Dropped: rolled back.
            Ok(())
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small file is checked at every call; a large one when the last
    /// check that passed is a day old.
    #[tokio::test]
    async fn the_whole_check_runs_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let day = CHECK_EVERY_MS;
        assert!(store.check_integrity_when_due(0).await.unwrap());
        assert!(store.check_integrity_when_due(1).await.unwrap(), "small: every time");
        // Treated as large: the check of a moment ago counts ...
        assert!(!store.check_integrity_above(2, 0).await.unwrap());
        assert!(!store.check_integrity_above(day, 0).await.unwrap());
        // ... for a day.
        assert!(store.check_integrity_above(day + 1, 0).await.unwrap());
        assert!(!store.check_integrity_above(day + 2, 0).await.unwrap());
        store.close().await;
    }
}
