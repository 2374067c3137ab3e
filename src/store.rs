//! Storage: the only rusqlite user. One SQLite file in WAL mode, owned by one
//! thread that runs every statement in order; the async side sends it jobs
//! over a bounded channel and awaits the answers. Schema by versioned
//! migrations (`PRAGMA user_version`). Holds feeds and their fetch state,
//! items (with full-text index), matches, the story keys already alerted, and
//! the alert outbox.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};

use crate::config::FeedSpec;
use crate::feed::Item;
use crate::rules::WatchlistMatch;
use crate::scheduler::{FailureKind, FeedRow, FeedState, Health};

mod tokenizer;
pub use tokenizer::TokenizerError;

/// Jobs waiting for the store thread; senders wait when it is full.
const QUEUE: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create database folder {path}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database schema version {found} is newer than this newshound supports ({supported}); upgrade newshound")]
    TooNew { found: i64, supported: i64 },
    #[error("the store is closed")]
    Closed,
    #[error("the transaction was rolled back")]
    NotCommitted,
    #[error("cannot encode stored value")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
}

/// Schema migrations, applied in order; the database's `user_version` is the
/// number applied so far. Never edit or remove an entry: add a new one.
const MIGRATIONS: &[&str] = &[
    // 1: feeds, items, matches, alerts.
    r#"
    CREATE TABLE feeds (
        id INTEGER PRIMARY KEY,
        url TEXT NOT NULL UNIQUE,
        fetch_url TEXT,
        name TEXT NOT NULL,
        lang TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        active INTEGER NOT NULL DEFAULT 1,
        added_at INTEGER NOT NULL,
        state TEXT NOT NULL DEFAULT 'new',
        etag TEXT,
        last_modified TEXT,
        last_poll INTEGER,
        last_success INTEGER,
        last_status INTEGER,
        last_error TEXT,
        error_kind TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        next_poll INTEGER,
        hold_until INTEGER,
        interval_secs INTEGER,
        polls INTEGER NOT NULL DEFAULT 0,
        not_modified INTEGER NOT NULL DEFAULT 0,
        redirect_url TEXT,
        redirect_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE items (
        id INTEGER PRIMARY KEY,
        feed_id INTEGER NOT NULL REFERENCES feeds(id),
        key TEXT NOT NULL,
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        content TEXT NOT NULL,
        link TEXT,
        published INTEGER,
        first_seen INTEGER NOT NULL,
        lang TEXT,
        tags TEXT NOT NULL DEFAULT '[]',
        authors TEXT NOT NULL DEFAULT '[]',
        UNIQUE (feed_id, key)
    );
    CREATE INDEX items_first_seen ON items(first_seen);
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, summary, content,
        content = 'items', content_rowid = 'id',
        tokenize = 'unicode61 remove_diacritics 2'
    );
    CREATE TABLE matches (
        item_id INTEGER NOT NULL REFERENCES items(id),
        watchlist TEXT NOT NULL,
        version TEXT NOT NULL,
        rules TEXT NOT NULL,
        terms TEXT NOT NULL,
        snippet TEXT NOT NULL,
        alert_id TEXT,
        at INTEGER NOT NULL,
        PRIMARY KEY (item_id, watchlist)
    ) WITHOUT ROWID;
    CREATE TABLE story_alerts (
        watchlist TEXT NOT NULL,
        story_key TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        PRIMARY KEY (watchlist, story_key)
    ) WITHOUT ROWID;
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY,
        alert_id TEXT NOT NULL,
        sink TEXT NOT NULL,
        payload TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt INTEGER NOT NULL,
        delivered_at INTEGER,
        last_error TEXT,
        UNIQUE (alert_id, sink)
    );
    CREATE INDEX outbox_pending ON outbox(next_attempt) WHERE delivered_at IS NULL;
    "#,
    // 2: the full-text index is filled in bulk, behind the items table;
    // `fts_upto` is the last item id it holds.
    r#"
    CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO meta (key, value) SELECT 'fts_upto', coalesce(max(id), 0) FROM items;
    "#,
    // 3: items are stored in first-seen order, so their ids order them by
    // time: the first_seen index cost every insert and served only replay.
    r#"
    DROP INDEX items_first_seen;
    "#,
    // 4: the full-text index without per-document column sizes: inserts
    // skip a table write; bm25 ranking, which is rare, tokenizes instead.
    // Rebuilt from the items table at the next indexing pass.
    r#"
    DROP TABLE items_fts;
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, summary, content,
        content = 'items', content_rowid = 'id', columnsize = 0,
        tokenize = 'unicode61 remove_diacritics 2'
    );
    UPDATE meta SET value = 0 WHERE key = 'fts_upto';
    "#,
    // 5: a 4 MiB buffer of pending index entries (the default is 1 MiB):
    // a bulk pass writes a quarter as many segments and merges them less
    // often (flushing and merging: 0.52 G instructions for 35,000 items
    // before, 0.1 G after).
    r#"
    INSERT INTO items_fts (items_fts, rank) VALUES ('hashsize', 4194304);
    "#,
    // 6: the full-text index cuts and folds words with newshound's own
    // tokenizer (`store::tokenizer`), as watchlist rules do: a search finds
    // what a rule would, in every script; and pure ASCII text, most of it,
    // is tokenized for a fraction of unicode61's cost (a cold cycle of
    // 1,000 feeds: 4.94 G instructions instead of 5.13 G). Rebuilt from
    // the items table at the next indexing pass. Tools other than
    // newshound cannot read this index (they lack the tokenizer); every
    // other table they can.
    r#"
    DROP TABLE items_fts;
    CREATE VIRTUAL TABLE items_fts USING fts5(
        title, summary, content,
        content = 'items', content_rowid = 'id', columnsize = 0,
        tokenize = 'newshound'
    );
    INSERT INTO items_fts (items_fts, rank) VALUES ('hashsize', 4194304);
    UPDATE meta SET value = 0 WHERE key = 'fts_upto';
    "#,
];

/// Items indexed per full-text job; larger backlogs take several jobs.
const FTS_BATCH: i64 = 20_000;

/// An alert to queue with its match.
#[derive(Debug, Clone)]
pub struct AlertDraft {
    pub alert_id: String,
    pub story_keys: Vec<String>,
    pub sinks: Vec<String>,
    pub payload: String,
}

#[derive(Debug, Clone)]
pub struct NewMatch {
    pub watchlist_match: WatchlistMatch,
    /// `None` when the item may not alert (old backlog on a first poll).
    pub alert: Option<AlertDraft>,
}

#[derive(Debug, Clone)]
pub struct NewItem {
    pub item: Item,
    pub matches: Vec<NewMatch>,
}

/// Everything one successful poll writes, in one transaction.
#[derive(Debug, Clone)]
pub struct PollCommit {
    pub feed_id: i64,
    pub state: FeedState,
    pub items: Vec<NewItem>,
    pub now: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitSummary {
    pub items: usize,
    pub matches: usize,
    pub alerts: usize,
    /// Matches whose story had already alerted on the watchlist.
    pub duplicates: usize,
}

/// An undelivered alert for one sink.
#[derive(Debug, Clone)]
pub struct OutboxEntry {
    pub row: i64,
    pub alert_id: String,
    pub sink: String,
    pub payload: String,
    pub attempts: u32,
}

/// A stored item, for search and replay.
#[derive(Debug, Clone)]
pub struct StoredItem {
    pub id: i64,
    pub feed_name: String,
    pub feed_url: String,
    pub item: Item,
    pub first_seen: i64,
}

#[derive(Debug, Clone)]
pub struct FeedHealth {
    pub row: FeedRow,
    pub items: u64,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxCounts {
    pub pending: u64,
    pub delivered: u64,
}

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

/// Handle to the store thread. Cheap to clone; the thread ends when the last
/// handle is closed or dropped, after finishing every queued job.
#[derive(Clone)]
pub struct Store {
    tx: mpsc::Sender<Job>,
    thread: std::sync::Arc<std::sync::Mutex<Option<JoinHandle<()>>>>,
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let mut conn = Connection::open(path)?;
    tokenizer::register(&conn)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL must be set outside a transaction.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 6 MiB of page cache (the default is 2 MiB): inserts into a large
    // items table touch many index pages.
    conn.pragma_update(None, "cache_size", -6144)?;
    // Savepoints' journals (one per job in a commit group) stay in memory:
    // on disk they cost a temporary file and a write per page.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    migrate(&mut conn)?;
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let supported = MIGRATIONS.len() as i64;
    if version > supported {
        return Err(StoreError::TooNew {
            found: version,
            supported,
        });
    }
    for m in &MIGRATIONS[version as usize..] {
        tx.execute_batch(m)?;
    }
    tx.pragma_update(None, "user_version", supported)?;
    tx.commit()?;
    Ok(())
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
        })
    }

    async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
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

    /// Which of `keys` the feed has not stored yet, in the order given
    /// (duplicates within `keys` reported once).
    pub async fn unseen_keys(&self, feed_id: i64, keys: Vec<String>) -> Result<Vec<String>, StoreError> {
        self.call(move |conn| {
            let mut stmt = conn.prepare_cached("SELECT 1 FROM items WHERE feed_id = ?1 AND key = ?2")?;
            let mut seen = HashSet::new();
            let mut out = Vec::new();
            for k in keys {
                if !seen.insert(k.clone()) {
                    continue;
                }
                if !stmt.exists(params![feed_id, k])? {
                    out.push(k);
                }
            }
            Ok(out)
        })
        .await
    }

    /// Writes a poll's items, matches, outbox rows and the feed state in one
    /// transaction.
    pub async fn commit_poll(&self, commit: PollCommit) -> Result<CommitSummary, StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            let summary = commit_in(&tx, &commit)?;
            write_state(&tx, commit.feed_id, &commit.state)?;
            tx.commit()?;
            Ok(summary)
        })
        .await
    }

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

    /// Adds the items stored since the last call to the full-text index, in
    /// bulk: one large index segment costs far less than one per poll.
    /// Returns how many items were indexed.
    pub async fn index_pending(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let n = self
                .call(|conn| {
                    let tx = conn.savepoint()?;
                    let upto: i64 = tx.query_row("SELECT value FROM meta WHERE key = 'fts_upto'", [], |r| r.get(0))?;
                    let last: i64 = tx.query_row(
                        "SELECT coalesce(max(id), ?1) FROM (SELECT id FROM items WHERE id > ?1 ORDER BY id LIMIT ?2)",
                        params![upto, FTS_BATCH],
                        |r| r.get(0),
                    )?;
                    if last == upto {
                        return Ok(0);
                    }
                    let n = tx.execute(
                        "INSERT INTO items_fts (rowid, title, summary, content)
                         SELECT id, title, summary, content FROM items WHERE id > ?1 AND id <= ?2",
                        params![upto, last],
                    )?;
                    tx.execute("UPDATE meta SET value = ?1 WHERE key = 'fts_upto'", [last])?;
                    tx.commit()?;
                    Ok(n as u64)
                })
                .await?;
            if n == 0 {
                return Ok(total);
            }
            total += n;
        }
    }

    /// Full-text search over stored items, best first. The query uses
    /// SQLite FTS5 syntax; one that does not parse is searched as plain
    /// words.
    pub async fn search(&self, query: String, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        self.call(move |conn| {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM items_fts JOIN items i ON i.id = items_fts.rowid
                 JOIN feeds f ON f.id = i.feed_id WHERE items_fts MATCH ?1 ORDER BY bm25(items_fts) LIMIT ?2"
            );
            let mut stmt = conn.prepare(&sql)?;
            let run = |stmt: &mut rusqlite::Statement<'_>, q: &str| -> rusqlite::Result<Vec<StoredItem>> {
                stmt.query_map(params![q, limit as i64], stored_item)?.collect()
            };
            match run(&mut stmt, &query) {
                Ok(v) => Ok(v),
                Err(_) => {
                    let quoted: Vec<String> = query
                        .split_whitespace()
                        .map(|w| format!("\"{}\"", w.replace('"', "\"\"")))
                        .collect();
                    Ok(run(&mut stmt, &quoted.join(" "))?)
                }
            }
        })
        .await
    }

    /// Stored items first seen at or after `since`, in first-seen order, a
    /// page at a time: pass the last id of the previous page as `after_id`.
    pub async fn items_since(&self, since: i64, after_id: i64, limit: usize) -> Result<Vec<StoredItem>, StoreError> {
        self.call(move |conn| {
            let sql = format!(
                "SELECT {ITEM_COLUMNS} FROM items i JOIN feeds f ON f.id = i.feed_id
                 WHERE i.first_seen >= ?1 AND i.id > ?2 ORDER BY i.id LIMIT ?3"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            let rows = stmt
                .query_map(params![since, after_id, limit as i64], stored_item)?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
    }

    /// Counts rows of a table, for tests and status lines.
    pub async fn count(&self, table: &'static str) -> Result<u64, StoreError> {
        self.call(move |conn| {
            let allowed = ["feeds", "items", "matches", "outbox", "story_alerts"];
            if !allowed.contains(&table) {
                return Err(StoreError::Sqlite(rusqlite::Error::InvalidQuery));
            }
            let n: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
            Ok(n as u64)
        })
        .await
    }
}

const ITEM_COLUMNS: &str = "i.id, f.name, f.url, i.key, i.title, i.summary, i.content, i.link, i.published, i.lang, i.tags, i.authors, i.first_seen";

fn stored_item(r: &rusqlite::Row<'_>) -> rusqlite::Result<StoredItem> {
    let tags: String = r.get(10)?;
    let authors: String = r.get(11)?;
    Ok(StoredItem {
        id: r.get(0)?,
        feed_name: r.get(1)?,
        feed_url: r.get(2)?,
        item: Item {
            key: r.get(3)?,
            title: r.get(4)?,
            summary: r.get(5)?,
            content: r.get(6)?,
            link: r.get(7)?,
            published: r.get::<_, Option<i64>>(8)?.map(crate::clock::ms_to_datetime),
            lang: r.get(9)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            authors: serde_json::from_str(&authors).unwrap_or_default(),
        },
        first_seen: r.get(12)?,
    })
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

fn write_state(conn: &Connection, feed_id: i64, s: &FeedState) -> Result<(), StoreError> {
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

/// A list as JSON text; the empty list without going through serde.
fn json_list(v: &[String]) -> Result<String, StoreError> {
    if v.is_empty() {
        Ok("[]".to_string())
    } else {
        Ok(serde_json::to_string(v)?)
    }
}

fn commit_in(tx: &Connection, c: &PollCommit) -> Result<CommitSummary, StoreError> {
    let mut summary = CommitSummary::default();
    let mut insert_item = tx.prepare_cached(
        "INSERT INTO items (feed_id, key, title, summary, content, link, published, first_seen, lang, tags, authors)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
         ON CONFLICT(feed_id, key) DO NOTHING",
    )?;
    let mut insert_match = tx.prepare_cached(
        "INSERT OR IGNORE INTO matches (item_id, watchlist, version, rules, terms, snippet, alert_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut story_seen = tx.prepare_cached("SELECT 1 FROM story_alerts WHERE watchlist = ?1 AND story_key = ?2")?;
    let mut insert_story =
        tx.prepare_cached("INSERT OR IGNORE INTO story_alerts (watchlist, story_key, alert_id) VALUES (?1, ?2, ?3)")?;
    let mut insert_outbox = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (alert_id, sink, payload, created_at, next_attempt) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?;
    for new in &c.items {
        let it = &new.item;
        let inserted = insert_item.execute(params![
            c.feed_id,
            it.key,
            it.title,
            it.summary,
            it.content,
            it.link,
            it.published.map(|d| d.timestamp_millis()),
            c.now,
            it.lang,
            json_list(&it.tags)?,
            json_list(&it.authors)?,
        ])?;
        if inserted == 0 {
            // Already stored (the same identity twice in one document).
            continue;
        }
        let id = tx.last_insert_rowid();
        summary.items += 1;
        for m in &new.matches {
            let wm = &m.watchlist_match;
            summary.matches += 1;
            let mut alert_id: Option<&str> = None;
            if let Some(a) = &m.alert {
                let mut dup = false;
                for k in &a.story_keys {
                    if story_seen.exists(params![wm.watchlist, k])? {
                        dup = true;
                        break;
                    }
                }
                if dup {
                    summary.duplicates += 1;
                } else {
                    for k in &a.story_keys {
                        insert_story.execute(params![wm.watchlist, k, a.alert_id])?;
                    }
                    for sink in &a.sinks {
                        insert_outbox.execute(params![a.alert_id, sink, a.payload, c.now])?;
                    }
                    summary.alerts += 1;
                    alert_id = Some(&a.alert_id);
                }
            }
            insert_match.execute(params![
                id,
                wm.watchlist,
                wm.version,
                serde_json::to_string(&wm.rules)?,
                serde_json::to_string(&wm.terms)?,
                wm.snippet,
                alert_id,
                c.now,
            ])?;
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("n.db");
        {
            let conn = open_connection(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
        }
        match open_connection(&path) {
            Err(StoreError::TooNew { found: 99, .. }) => {}
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn migrations_are_idempotent_and_create_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/dir/n.db");
        drop(open_connection(&path).unwrap());
        let conn = open_connection(&path).unwrap();
        let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(v, MIGRATIONS.len() as i64);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
    }

    #[test]
    fn the_index_cuts_and_folds_words_as_rules_do() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_connection(&dir.path().join("s.db")).unwrap();
        conn.execute(
            "INSERT INTO feeds (id, url, name, added_at) VALUES (1, 'http://127.0.0.1/f', 'f', 0)",
            [],
        )
        .unwrap();
        let titles = [
            "Zelenskyy's team studies the 28-point plan",
            "和平计划在日内瓦讨论",
            "Переговоры в ЖЕНЕВЕ",
            "Straße nach Genève",
        ];
        for (i, t) in titles.iter().enumerate() {
            conn.execute(
                "INSERT INTO items (feed_id, key, title, summary, content, first_seen) VALUES (1, ?1, ?2, '', '', 0)",
                params![format!("k{i}"), t],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO items_fts (rowid, title, summary, content) SELECT id, title, summary, content FROM items",
            [],
        )
        .unwrap();
        let hits = |q: &str| -> Vec<i64> {
            let mut st = conn
                .prepare("SELECT rowid FROM items_fts WHERE items_fts MATCH ?1 ORDER BY rowid")
                .unwrap();
            st.query_map([q], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
        };
        assert_eq!(hits("\"28 point\""), [1]);
        assert_eq!(hits("ZELENSKYY"), [1]);
        assert_eq!(hits("\"zelenskyy s\""), [1]);
        // Ideographs are words of one character: a word inside a run is
        // found (unicode61 takes the whole run as one word).
        assert_eq!(hits("\"计划\""), [2]);
        assert_eq!(hits("женеве"), [3]);
        assert_eq!(hits("geneve"), [4]);
        assert_eq!(hits("strasse"), [4]);
        assert_eq!(hits("zelen*"), [1]);
        assert!(hits("gaza").is_empty());
    }
}
