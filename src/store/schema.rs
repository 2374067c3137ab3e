//! The database schema: forward-only migrations keyed by `PRAGMA
//! user_version`, applied in one exclusive transaction; the connection's
//! settings. A database newer than this binary is refused.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::error::StoreError;
use super::tokenizer;

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
    // 7: deliveries that ran out of attempts are dead (kept, shown by
    // `alerts --failed`, sent again by `alerts retry`); each sink drains
    // its own rows in order.
    r#"
    ALTER TABLE outbox ADD COLUMN dead_at INTEGER;
    DROP INDEX outbox_pending;
    CREATE INDEX outbox_pending ON outbox(sink, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
    "#,
    // 8: a match's `alert_id` is its story's alert, also when an earlier
    // copy (another outlet's) raised it: `alerts` counts a story's outlets.
    r#"
    CREATE INDEX matches_alert ON matches(alert_id) WHERE alert_id IS NOT NULL;
    "#,
    // 9: retention. Items that matched nothing are pruned after
    // `[archive] keep_unmatched`; each leaves its identity behind as a
    // tombstone, so that it is not taken for new if its feed still lists
    // it. `prune_after` is the last item id the pruning has passed.
    r#"
    CREATE TABLE tombstones (
        feed_id INTEGER NOT NULL,
        key TEXT NOT NULL,
        at INTEGER NOT NULL,
        PRIMARY KEY (feed_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX tombstones_at ON tombstones(at);
    INSERT OR IGNORE INTO meta (key, value) VALUES ('prune_after', 0);
    "#,
    // 10: an item's link identity (scheme, www., AMP folded), so that an
    // entry whose GUID changed but whose link a stored item of the feed
    // has is known, not new. Items stored before have none.
    r#"
    ALTER TABLE items ADD COLUMN link_key TEXT;
    CREATE INDEX items_link ON items(feed_id, link_key) WHERE link_key IS NOT NULL;
    "#,
    // 11: title edits. `title_digest` is a digest of the title as the feed
    // wrote it (items stored before have none); an entry of a stored item
    // whose title changed updates the item, and the text it replaced is
    // kept as a revision.
    r#"
    ALTER TABLE items ADD COLUMN title_digest INTEGER;
    CREATE TABLE item_revisions (
        item_id INTEGER NOT NULL REFERENCES items(id),
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        replaced_at INTEGER NOT NULL
    );
    CREATE INDEX item_revisions_item ON item_revisions(item_id);
    "#,
    // 12: near-copies. The words of each alerted story's title, so that a
    // copy whose link and title differ (an edited headline, a reprint)
    // joins the story it reports (`stories::same_story`).
    r#"
    CREATE TABLE story_alerts_titles (
        watchlist TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        words TEXT NOT NULL
    );
    CREATE INDEX story_alerts_titles_recent ON story_alerts_titles(watchlist, at);
    "#,
    // 13: every copy's title is kept under its story's alert, and a copy
    // that reports two stories makes them one: their rows are found by
    // alert, and the later story's alert remembers the story it joined.
    r#"
    CREATE INDEX story_alerts_alert ON story_alerts(watchlist, alert_id);
    CREATE INDEX story_alerts_titles_alert ON story_alerts_titles(watchlist, alert_id);
    CREATE TABLE story_merged (
        watchlist TEXT NOT NULL,
        alert_id TEXT NOT NULL,
        into_alert TEXT NOT NULL,
        PRIMARY KEY (watchlist, alert_id)
    ) WITHOUT ROWID;
    CREATE INDEX story_merged_into ON story_merged(watchlist, into_alert);
    "#,
];

pub(super) fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let why = |e: rusqlite::Error| classify(path, e);
    let mut conn = Connection::open(path).map_err(why)?;
    // The first read of the file: a destroyed header, a file that is not a
    // database or one that cannot be opened shows here, named for what it
    // is (before the tokenizer, whose registration fails on any of them).
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
        .map_err(why)?;
    tokenizer::register(&conn)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // WAL must be set outside a transaction.
    conn.pragma_update(None, "journal_mode", "WAL").map_err(why)?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 6 MiB of page cache (the default is 2 MiB): inserts into a large
    // items table touch many index pages.
    conn.pragma_update(None, "cache_size", -6144)?;
    // Savepoints' journals (one per job in a commit group) stay in memory:
    // on disk they cost a temporary file and a write per page.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    migrate(&mut conn).map_err(|e| match e {
        StoreError::Sqlite(e) => classify(path, e),
        e => e,
    })?;
    Ok(conn)
}

/// Names what an SQLite error says of the database file itself: damaged,
/// not a database, or not writable (with the system's reason).
pub(super) fn classify(path: &Path, e: rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode as C;
    let path = path.to_path_buf();
    match e.sqlite_error_code() {
        Some(C::NotADatabase) => StoreError::NotADatabase { path },
        Some(C::DatabaseCorrupt) => StoreError::Corrupt {
            detail: e.to_string(),
            path,
        },
        Some(C::ReadOnly | C::CannotOpen | C::PermissionDenied) => StoreError::CannotWrite {
            reason: write_problem(&path).unwrap_or_else(|| e.to_string()),
            path,
        },
        _ => StoreError::Sqlite(e),
    }
}

/// Why the database file, or the files SQLite keeps beside it, cannot be
/// written, as the system says it.
fn write_problem(path: &Path) -> Option<String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if path.exists() {
        if let Err(e) = std::fs::OpenOptions::new().append(true).open(path) {
            return Some(format!("{}: {e}", path.display()));
        }
    }
    let probe = dir.join(format!(".newshound-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            None
        }
        Err(e) => Some(format!(
            "its folder {} does not take new files ({e}); SQLite keeps its -wal and -shm files there",
            dir.display()
        )),
    }
}

/// `PRAGMA quick_check` on a connection of its own, read-only: the
/// b-trees' structure, page by page (not the indexes' agreement with their
/// tables). Reads the whole file.
pub fn quick_check(path: &Path) -> Result<(), StoreError> {
    use rusqlite::OpenFlags;
    let why = |e: rusqlite::Error| classify(path, e);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(why)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut stmt = conn.prepare("PRAGMA quick_check(5)").map_err(why)?;
    let rows = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(why)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(why)?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        let detail: Vec<&str> = rows
            .iter()
            .flat_map(|r| r.lines())
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with("***"))
            .collect();
        Err(StoreError::Corrupt {
            path: path.to_path_buf(),
            detail: detail.join("; "),
        })
    }
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

/// Writes a consistent copy of the database at `path` to `dest` (a new
/// file) with `VACUUM INTO`, on a read-only connection, so that a running
/// daemon keeps writing meanwhile; then checks the copy. Returns its size.
pub fn backup(path: &Path, dest: &Path) -> Result<u64, StoreError> {
    use rusqlite::OpenFlags;
    let why = |e: rusqlite::Error| classify(path, e);
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
        .map_err(why)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get::<_, i64>(0))
        .map_err(why)?;
    let target = dest.to_string_lossy().into_owned();
    conn.execute("VACUUM INTO ?1", [&target])
        .map_err(|e| match e.sqlite_error_code() {
            Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly) => StoreError::CannotWrite {
                path: dest.to_path_buf(),
                reason: e.to_string(),
            },
            _ => classify(path, e),
        })?;
    quick_check(dest)?;
    Ok(std::fs::metadata(dest).map(|m| m.len()).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::params;

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
