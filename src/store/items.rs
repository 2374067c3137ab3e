//! Items, their matches and the stories already alerted: a poll's new
//! items committed in one transaction with their matches and outbox rows;
//! the identities a feed has stored; the full-text index, filled in bulk
//! behind the items table; search and the stored items for replay.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use rusqlite::{Connection, OptionalExtension, params};

use super::error::StoreError;
use super::feeds::write_state;
use super::handle::Store;
use crate::feed::Item;
use crate::rules::WatchlistMatch;
use crate::scheduler::FeedState;
use crate::stories;

/// Items indexed per full-text job; larger backlogs take several jobs.
const FTS_BATCH: i64 = 20_000;

/// An alert to queue with its match.
#[derive(Debug, Clone)]
pub struct AlertDraft {
    pub alert_id: String,
    pub story_keys: Vec<String>,
    /// The title's words and the item's time, for grouping copies whose
    /// keys differ (`stories::same_story`).
    pub story_words: Vec<String>,
    pub story_at: i64,
    /// Alert once more when the story reaches this many outlets.
    pub escalate_at: Option<u32>,
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
    pub title_digest: i64,
    /// The link's identity, when it names one article (see
    /// `RawEntry::link_identity`).
    pub link_key: Option<String>,
    pub matches: Vec<NewMatch>,
}

/// Everything one successful poll writes, in one transaction.
#[derive(Debug, Clone)]
pub struct PollCommit {
    pub feed_id: i64,
    pub state: FeedState,
    pub items: Vec<NewItem>,
    /// Stored items whose feed changed their title: updated, their old
    /// text kept as a revision; they raise no alert.
    pub edits: Vec<ItemEdit>,
    pub now: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitSummary {
    pub items: usize,
    /// Stored items updated after their feed edited them.
    pub edited: usize,
    pub matches: usize,
    pub alerts: usize,
    /// Matches whose story had already alerted on the watchlist.
    pub duplicates: usize,
}

/// What identifies an entry of a feed document to the store.
#[derive(Debug, Clone)]
pub struct EntryIdentity {
    pub key: String,
    pub link_key: Option<String>,
    pub title_digest: i64,
}

/// Entries sorted against what the feed has stored.
#[derive(Debug, Clone, Default)]
pub struct Triage {
    /// Keys not stored yet, in the order given.
    pub unseen: Vec<String>,
    /// Stored items whose title changed: (key, item id).
    pub edited: Vec<(String, i64)>,
}

/// A stored item's new text, after its feed edited it.
#[derive(Debug, Clone)]
pub struct ItemEdit {
    pub item_id: i64,
    pub item: Item,
    pub title_digest: i64,
}

/// A search with its filters.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    /// FTS5 syntax; what does not parse is searched as plain words.
    pub text: String,
    pub limit: usize,
    /// Only items first seen at or after this (Unix ms).
    pub since: Option<i64>,
    /// Only items that matched this watchlist.
    pub watchlist: Option<String>,
    /// Only the items of this story (its alert id).
    pub story: Option<String>,
}

/// One search hit.
#[derive(Debug, Clone)]
pub struct SearchHit {
    pub item: StoredItem,
    /// Words around the matches, the matched ones between `\u{2}` and
    /// `\u{3}`.
    pub snippet: String,
    pub watchlists: Vec<String>,
    /// The story's alert id, when it matched a watchlist.
    pub story: Option<String>,
}

/// What one retention step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneStep {
    pub removed: usize,
    pub tombstones_removed: usize,
    /// Whether more items may be due.
    pub more: bool,
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

impl Store {
    /// Sorts a document's entries (identity key, link identity, title
    /// digest) against what the feed has stored, by key in the order given
    /// (each key once): unseen ones are new; a stored one whose title
    /// digest changed is an edit (with the item's id). A key the feed
    /// stored or pruned is known; so is an entry whose link identity a
    /// stored item of the feed has (its GUID changed). A known entry costs
    /// one indexed lookup.
    pub async fn triage(&self, feed_id: i64, entries: Vec<EntryIdentity>) -> Result<Triage, StoreError> {
        self.call(move |conn| {
            let mut stored =
                conn.prepare_cached("SELECT id, title_digest FROM items WHERE feed_id = ?1 AND key = ?2")?;
            // A pruned item's identity stays behind it.
            let mut pruned = conn.prepare_cached("SELECT 1 FROM tombstones WHERE feed_id = ?1 AND key = ?2")?;
            let mut by_link = conn.prepare_cached("SELECT 1 FROM items WHERE feed_id = ?1 AND link_key = ?2")?;
            let mut seen = HashSet::new();
            let mut out = Triage::default();
            for e in entries {
                if !seen.insert(e.key.clone()) {
                    continue;
                }
                let hit = stored
                    .query_row(params![feed_id, e.key], |r| {
                        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
                    })
                    .optional()?;
                if let Some((id, digest)) = hit {
                    if digest.is_some_and(|d| d != e.title_digest) {
                        out.edited.push((e.key, id));
                    }
                    continue;
                }
                if pruned.exists(params![feed_id, e.key])? {
                    continue;
                }
                if let Some(l) = &e.link_key {
                    if by_link.exists(params![feed_id, l])? {
                        continue;
                    }
                }
                out.unseen.push(e.key);
            }
            Ok(out)
        })
        .await
    }

    /// Writes a poll's items, matches, outbox rows and the feed state in one
    /// transaction.
    pub async fn commit_poll(&self, commit: PollCommit) -> Result<CommitSummary, StoreError> {
        self.call(move |conn| {
            let done = (|| {
                let tx = conn.savepoint()?;
                let summary = commit_in(&tx, &commit)?;
                write_state(&tx, commit.feed_id, &commit.state)?;
                tx.commit()?;
                Ok(summary)
            })();
            if done.is_err() {
                // Stories this commit claimed and titles it counted are
                // not stored: both are read again from the database.
                forget_alerted_titles();
                WORD_COUNTS.with(|c| c.borrow_mut().take());
            }
            done
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

    /// One step of retention: among the next `batch` items (in first-seen
    /// order) seen before `cutoff`, those that matched no watchlist are
    /// removed (from the full-text index too), each leaving a tombstone;
    /// tombstones older than `tombstone_cutoff` go. A step is one short
    /// write; call again while it says there is more.
    pub async fn prune_step(&self, cutoff: i64, tombstone_cutoff: i64, batch: usize) -> Result<PruneStep, StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            let meta = |k: &str| -> rusqlite::Result<i64> {
                tx.query_row("SELECT coalesce((SELECT value FROM meta WHERE key = ?1), 0)", [k], |r| r.get(0))
            };
            let (after, indexed) = (meta("prune_after")?, meta("fts_upto")?);
            let rows = {
                let mut stmt = tx.prepare_cached(
                    "SELECT i.id, i.feed_id, i.key, i.title, i.summary, i.content, i.first_seen,
                            EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id)
                     FROM items i WHERE i.id > ?1 ORDER BY i.id LIMIT ?2",
                )?;
                stmt.query_map(params![after, batch as i64], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, String>(5)?,
                        r.get::<_, i64>(6)?,
                        r.get::<_, bool>(7)?,
                    ))
                })?
                .collect::<Result<Vec<_>, _>>()?
            };
            let mut step = PruneStep {
                more: rows.len() == batch,
                ..PruneStep::default()
            };
            let mut last = after;
            {
                let mut unindex = tx.prepare_cached(FTS_UNINDEX)?;
                let mut tomb = tx.prepare_cached("INSERT OR IGNORE INTO tombstones (feed_id, key, at) VALUES (?1, ?2, ?3)")?;
                let mut delete = tx.prepare_cached("DELETE FROM items WHERE id = ?1")?;
                for (id, feed_id, key, title, summary, content, first_seen, matched) in rows {
                    if first_seen >= cutoff {
                        // Items are stored in first-seen order: the rest are
                        // younger.
                        step.more = false;
                        break;
                    }
                    last = id;
                    if matched {
                        continue;
                    }
                    if id <= indexed {
                        unindex.execute(params![id, title, summary, content])?;
                    }
                    tomb.execute(params![feed_id, key, first_seen])?;
                    delete.execute([id])?;
                    step.removed += 1;
                }
            }
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('prune_after', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [last],
            )?;
            step.tombstones_removed = tx.execute(
                "DELETE FROM tombstones WHERE (feed_id, key) IN (SELECT feed_id, key FROM tombstones WHERE at < ?1 LIMIT ?2)",
                params![tombstone_cutoff, batch as i64],
            )?;
            tx.commit()?;
            Ok(step)
        })
        .await
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

    /// Full-text search with filters, best first: each hit with a snippet
    /// whose matched words are between `\u{2}` and `\u{3}`, and the
    /// watchlists and story (alert id) it belongs to.
    pub async fn search_hits(&self, q: SearchQuery) -> Result<Vec<SearchHit>, StoreError> {
        self.call(move |conn| {
            let sql = format!(
                "SELECT {ITEM_COLUMNS}, snippet(items_fts, -1, char(2), char(3), '…', 16),
                        (SELECT group_concat(m.watchlist, ',') FROM matches m WHERE m.item_id = i.id),
                        (SELECT m.alert_id FROM matches m WHERE m.item_id = i.id AND m.alert_id IS NOT NULL
                          AND (?4 IS NULL OR m.watchlist = ?4) LIMIT 1)
                 FROM items_fts JOIN items i ON i.id = items_fts.rowid
                 JOIN feeds f ON f.id = i.feed_id
                 WHERE items_fts MATCH ?1 AND i.first_seen >= ?3
                   AND (?4 IS NULL OR EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id AND m.watchlist = ?4))
                   AND (?5 IS NULL OR EXISTS (SELECT 1 FROM matches m WHERE m.item_id = i.id AND m.alert_id = ?5))
                 ORDER BY bm25(items_fts) LIMIT ?2"
            );
            let mut stmt = conn.prepare(&sql)?;
            let run = |stmt: &mut rusqlite::Statement<'_>, text: &str| -> rusqlite::Result<Vec<SearchHit>> {
                stmt.query_map(
                    params![text, q.limit as i64, q.since.unwrap_or(i64::MIN), q.watchlist, q.story],
                    |r| {
                        Ok(SearchHit {
                            item: stored_item(r)?,
                            snippet: r.get::<_, Option<String>>(13)?.unwrap_or_default(),
                            watchlists: r
                                .get::<_, Option<String>>(14)?
                                .map(|s| s.split(',').map(str::to_string).collect())
                                .unwrap_or_default(),
                            story: r.get(15)?,
                        })
                    },
                )?
                .collect()
            };
            match run(&mut stmt, &q.text) {
                Ok(v) => Ok(v),
                Err(_) => {
                    let quoted: Vec<String> = q
                        .text
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
            let allowed = ["feeds", "items", "matches", "outbox", "story_alerts", "tombstones"];
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

/// A list as JSON text; the empty list without going through serde.
fn json_list(v: &[String]) -> Result<String, StoreError> {
    if v.is_empty() {
        Ok("[]".to_string())
    } else {
        Ok(serde_json::to_string(v)?)
    }
}

/// Takes an item's text out of the full-text index (an external-content
/// index is told the text it holds).
const FTS_UNINDEX: &str =
    "INSERT INTO items_fts (items_fts, rowid, title, summary, content) VALUES ('delete', ?1, ?2, ?3, ?4)";

/// Applies a feed's edits of stored items: the old text kept as a
/// revision, the item and (when it holds it) the full-text index updated.
fn apply_edits(tx: &Connection, edits: &[ItemEdit], now: i64) -> Result<usize, StoreError> {
    if edits.is_empty() {
        return Ok(0);
    }
    let indexed: i64 = tx.query_row("SELECT value FROM meta WHERE key = 'fts_upto'", [], |r| r.get(0))?;
    let mut old = tx.prepare_cached("SELECT title, summary, content FROM items WHERE id = ?1")?;
    let mut keep =
        tx.prepare_cached("INSERT INTO item_revisions (item_id, title, summary, replaced_at) VALUES (?1, ?2, ?3, ?4)")?;
    let mut update =
        tx.prepare_cached("UPDATE items SET title = ?2, summary = ?3, content = ?4, title_digest = ?5 WHERE id = ?1")?;
    let mut unindex = tx.prepare_cached(FTS_UNINDEX)?;
    let mut index =
        tx.prepare_cached("INSERT INTO items_fts (rowid, title, summary, content) VALUES (?1, ?2, ?3, ?4)")?;
    let mut n = 0;
    for e in edits {
        let Some((title, summary, content)) = old
            .query_row([e.item_id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?))
            })
            .optional()?
        else {
            continue;
        };
        keep.execute(params![e.item_id, title, summary, now])?;
        update.execute(params![
            e.item_id,
            e.item.title,
            e.item.summary,
            e.item.content,
            e.title_digest
        ])?;
        if e.item_id <= indexed {
            unindex.execute(params![e.item_id, title, summary, content])?;
            index.execute(params![e.item_id, e.item.title, e.item.summary, e.item.content])?;
        }
        n += 1;
    }
    Ok(n)
}

fn commit_in(tx: &Connection, c: &PollCommit) -> Result<CommitSummary, StoreError> {
    let mut summary = CommitSummary {
        edited: apply_edits(tx, &c.edits, c.now)?,
        ..CommitSummary::default()
    };
    let mut insert_item = tx.prepare_cached(
        "INSERT INTO items (feed_id, key, title, summary, content, link, published, first_seen, lang, tags, authors, link_key, title_digest)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT(feed_id, key) DO NOTHING",
    )?;
    let mut insert_match = tx.prepare_cached(
        "INSERT OR IGNORE INTO matches (item_id, watchlist, version, rules, terms, snippet, alert_id, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut stories = Stories::prepare(tx, "story_alerts", Titles::Alerted)?;
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
            new.link_key,
            new.title_digest,
        ])?;
        if inserted == 0 {
            // Already stored (the same identity twice in one document).
            continue;
        }
        let id = tx.last_insert_rowid();
        summary.items += 1;
        // Counted once the counts are read (at the first claim, which
        // reads this commit's items so far with the rest).
        WORD_COUNTS.with(|counts| {
            if let Some(counts) = counts.borrow_mut().as_mut() {
                counts.add(&stories::title_words(&it.title), c.now);
            }
        });
        for m in &new.matches {
            let wm = &m.watchlist_match;
            summary.matches += 1;
            // The alert of the item's story: raised by this item, or by an
            // earlier copy (another outlet's) whose alert it joins.
            let mut alert_id: Option<String> = None;
            if let Some(a) = &m.alert {
                match stories.claim(&wm.watchlist, a, &a.alert_id)? {
                    Some(earlier) => {
                        summary.duplicates += 1;
                        alert_id = Some(earlier);
                    }
                    None => {
                        for sink in &a.sinks {
                            insert_outbox.execute(params![a.alert_id, sink, a.payload, c.now])?;
                        }
                        summary.alerts += 1;
                        alert_id = Some(a.alert_id.clone());
                    }
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
            if let (Some(a), Some(story)) = (&m.alert, &alert_id) {
                if story != &a.alert_id {
                    summary.alerts += escalate(tx, a, story, &wm.watchlist, c.now)?;
                }
            }
        }
    }
    Ok(summary)
}

/// A copy joined `story`: when the outlets carrying it now reach the
/// watchlist's `escalate_at`, one more alert (`<story>-<n>`), with this
/// copy's text, the story's id and its outlets. Returns 1 when raised.
fn escalate(tx: &Connection, a: &AlertDraft, story: &str, watchlist: &str, now: i64) -> Result<usize, StoreError> {
    let Some(n) = a.escalate_at else { return Ok(0) };
    let mut outlets = tx.prepare_cached(
        "SELECT f.name FROM matches m JOIN items i ON i.id = m.item_id JOIN feeds f ON f.id = i.feed_id
         WHERE m.alert_id = ?1 AND m.watchlist = ?2 GROUP BY f.id ORDER BY min(i.id)",
    )?;
    let names = outlets
        .query_map(params![story, watchlist], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if names.len() != n as usize {
        return Ok(0);
    }
    let id = format!("{story}-{n}");
    let mut v: serde_json::Value = serde_json::from_str(&a.payload)?;
    if let Some(o) = v.as_object_mut() {
        o.insert("id".into(), id.clone().into());
        o.insert("story_id".into(), story.into());
        o.insert("escalated".into(), n.into());
        o.insert("outlets".into(), names.into());
    }
    let payload = v.to_string();
    let mut insert = tx.prepare_cached(
        "INSERT OR IGNORE INTO outbox (alert_id, sink, payload, created_at, next_attempt) VALUES (?1, ?2, ?3, ?4, ?4)",
    )?;
    for sink in &a.sinks {
        insert.execute(params![id, sink, payload, now])?;
    }
    Ok(1)
}

thread_local! {
    /// The alerted stories' title words per watchlist, indexed
    /// (`stories::StoryIndex`): read from `story_alerts_titles` on the
    /// store's thread at first use, kept in step by every claim, and read
    /// again after a commit that failed (its claims were rolled back).
    /// Each store has its own thread, so each its own index.
    static ALERTED_TITLES: RefCell<Option<HashMap<String, stories::StoryIndex>>> = const { RefCell::new(None) };
}

/// How long, before the latest alerted story, the index keeps a story's
/// title: far beyond the window of `stories::same_story`, for copies that
/// carry an old date; a copy dated earlier still joins its story by link
/// or by exact title (`story_alerts`).
const TITLES_KEPT_MS: i64 = 7 * 24 * 3600 * 1000;

thread_local! {
    /// How common each title word is among the items stored lately
    /// (`stories::WordCounts`): read from `items` at the first claim of a
    /// titled story on the store's thread (a cycle that alerts nothing never
    /// reads them), kept in step by every commit from then on, and read
    /// again after one that failed.
    static WORD_COUNTS: RefCell<Option<stories::WordCounts>> = const { RefCell::new(None) };
}

/// Runs `f` on the thread's word counts, first reading into them the
/// titles of the items stored in the last `stories::COUNTS_KEPT_MS` (the
/// most recent `stories::COUNTS_MAX_TITLES` of them) unless they are read
/// already.
fn with_word_counts<R>(conn: &Connection, f: impl FnOnce(&stories::WordCounts) -> R) -> Result<R, StoreError> {
    if WORD_COUNTS.with(|c| c.borrow().is_none()) {
        let mut q = conn.prepare_cached(
            "SELECT title, first_seen FROM (SELECT id, title, first_seen FROM items ORDER BY id DESC LIMIT ?1)
             WHERE first_seen >= (SELECT max(first_seen) FROM items) - ?2 ORDER BY id",
        )?;
        let mut rows = q.query(params![stories::COUNTS_MAX_TITLES as i64, stories::COUNTS_KEPT_MS])?;
        let mut counts = stories::WordCounts::new();
        while let Some(r) = rows.next()? {
            let (title, at): (String, i64) = (r.get(0)?, r.get(1)?);
            counts.add(&stories::title_words(&title), at);
        }
        tracing::debug!(titles = counts.titles(), "title word counts read");
        WORD_COUNTS.with(|c| *c.borrow_mut() = Some(counts));
    }
    Ok(WORD_COUNTS.with(|c| f(c.borrow_mut().get_or_insert_with(stories::WordCounts::new))))
}

fn forget_alerted_titles() {
    ALERTED_TITLES.with(|t| t.borrow_mut().take());
}

/// Where a claim looks for the titles of stories alerted before.
enum Titles {
    /// The daemon's: `story_alerts_titles`, through the thread's index.
    Alerted,
    /// A dry run's own, starting empty.
    Scratch(HashMap<String, stories::StoryIndex>),
}

/// The stories a watchlist has alerted on, in `table`: a story alerts
/// once per watchlist, whichever of its keys (link, title) a later copy
/// shares. The daemon's commits and `replay`'s dry run both decide here.
struct Stories<'c> {
    conn: &'c Connection,
    seen: rusqlite::CachedStatement<'c>,
    insert: rusqlite::CachedStatement<'c>,
    insert_title: rusqlite::CachedStatement<'c>,
    merge_keys: String,
    merge_titles: String,
    titles: Titles,
}

impl<'c> Stories<'c> {
    /// Over `table` (story keys) and `table`_titles (the words of each
    /// alerted story's title).
    fn prepare(conn: &'c Connection, table: &str, titles: Titles) -> Result<Stories<'c>, StoreError> {
        Ok(Stories {
            conn,
            seen: conn.prepare_cached(&format!(
                "SELECT alert_id FROM {table} WHERE watchlist = ?1 AND story_key = ?2"
            ))?,
            insert: conn.prepare_cached(&format!(
                "INSERT OR IGNORE INTO {table} (watchlist, story_key, alert_id) VALUES (?1, ?2, ?3)"
            ))?,
            insert_title: conn.prepare_cached(&format!(
                "INSERT INTO {table}_titles (watchlist, alert_id, at, words) VALUES (?1, ?2, ?3, ?4)"
            ))?,
            merge_keys: format!("UPDATE {table} SET alert_id = ?3 WHERE watchlist = ?1 AND alert_id = ?2"),
            merge_titles: format!("UPDATE {table}_titles SET alert_id = ?3 WHERE watchlist = ?1 AND alert_id = ?2"),
            titles,
        })
    }

    /// Runs `f` on the index of alerted titles, reading it first if needed.
    fn with_titles<R>(
        &mut self,
        f: impl FnOnce(&mut HashMap<String, stories::StoryIndex>) -> R,
    ) -> Result<R, StoreError> {
        match &mut self.titles {
            Titles::Scratch(t) => Ok(f(t)),
            Titles::Alerted => {
                let loaded = ALERTED_TITLES.with(|t| t.borrow().is_some());
                if !loaded {
                    let mut all: HashMap<String, stories::StoryIndex> = HashMap::new();
                    let mut q = self.conn.prepare_cached(
                        "SELECT watchlist, alert_id, at, words FROM story_alerts_titles
                             WHERE at >= (SELECT max(at) FROM story_alerts_titles) - ?1 ORDER BY rowid",
                    )?;
                    let mut rows = q.query([TITLES_KEPT_MS])?;
                    while let Some(r) = rows.next()? {
                        let (w, id, at, words): (String, String, i64, String) =
                            (r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?);
                        let words = words.split(' ').map(str::to_string).collect();
                        all.entry(w).or_default().insert(id, words, at);
                    }
                    ALERTED_TITLES.with(|t| *t.borrow_mut() = Some(all));
                }
                Ok(ALERTED_TITLES.with(|t| f(t.borrow_mut().get_or_insert_with(HashMap::new))))
            }
        }
    }

    /// `None` when the story is new on `watchlist`: no earlier alert shares
    /// any of `keys`, and no title of an alerted story within the window
    /// reports the same story (`stories::StoryIndex::find`); it is then
    /// recorded as alerted by `alert_id`. Otherwise the id of the alert it
    /// raised before, whose keys and titles it joins; other stories it
    /// reports too are merged into that one.
    fn claim(&mut self, watchlist: &str, a: &AlertDraft, alert_id: &str) -> Result<Option<String>, StoreError> {
        let mut earlier: Vec<String> = Vec::new();
        for k in &a.story_keys {
            let found: Option<String> = self.seen.query_row(params![watchlist, k], |r| r.get(0)).optional()?;
            if let Some(id) = found.filter(|id| !earlier.contains(id)) {
                earlier.push(id);
            }
        }
        let titled = a.story_words.len() >= stories::MIN_WORDS;
        if titled {
            let conn = self.conn;
            let found = self.with_titles(|t| match t.get_mut(watchlist) {
                Some(ix) => with_word_counts(conn, |counts| ix.find(&a.story_words, a.story_at, counts)),
                None => Ok(Vec::new()),
            })??;
            for id in found {
                if !earlier.contains(&id) {
                    earlier.push(id);
                }
            }
        }
        let id = earlier.first().map_or(alert_id, String::as_str).to_string();
        for other in earlier.iter().skip(1) {
            self.merge(watchlist, other, &id)?;
        }
        for k in &a.story_keys {
            self.insert.execute(params![watchlist, k, id])?;
        }
        if titled {
            // Every copy's title, so that the next copy may join it.
            self.insert_title
                .execute(params![watchlist, id, a.story_at, a.story_words.join(" ")])?;
            self.with_titles(|t| {
                let ix = t.entry(watchlist.to_string()).or_default();
                ix.insert(id.clone(), a.story_words.clone(), a.story_at);
                if ix.len() % 256 == 0 {
                    ix.forget_before(a.story_at - TITLES_KEPT_MS);
                }
            })?;
        }
        Ok(earlier.into_iter().next())
    }

    /// Story `from` becomes part of story `to` on `watchlist`: its keys,
    /// its titles and (the daemon's) its matches.
    fn merge(&mut self, watchlist: &str, from: &str, to: &str) -> Result<(), StoreError> {
        for sql in [&self.merge_keys, &self.merge_titles] {
            self.conn.execute(sql, params![watchlist, from, to])?;
        }
        if matches!(self.titles, Titles::Alerted) {
            for sql in [
                "UPDATE matches SET alert_id = ?3 WHERE watchlist = ?1 AND alert_id = ?2",
                "UPDATE story_merged SET into_alert = ?3 WHERE watchlist = ?1 AND into_alert = ?2",
                "INSERT OR REPLACE INTO story_merged (watchlist, alert_id, into_alert) VALUES (?1, ?2, ?3)",
            ] {
                self.conn.execute(sql, params![watchlist, from, to])?;
            }
        }
        self.with_titles(|t| {
            if let Some(ix) = t.get_mut(watchlist) {
                ix.rename(from, to);
            }
        })
    }
}

impl Store {
    /// For `replay`: which of these (watchlist, story keys) pairs, taken in
    /// order, would alert, by the rule the daemon's commits follow, as if
    /// no story had alerted before. Nothing is written.
    pub async fn first_of_stories(&self, pairs: Vec<(String, AlertDraft)>) -> Result<Vec<bool>, StoreError> {
        self.call(move |conn| {
            let tx = conn.savepoint()?;
            tx.execute_batch(
                "CREATE TEMP TABLE IF NOT EXISTS replay_stories (watchlist TEXT NOT NULL, story_key TEXT NOT NULL,
                 alert_id TEXT NOT NULL, PRIMARY KEY (watchlist, story_key)) WITHOUT ROWID;
                 CREATE TEMP TABLE IF NOT EXISTS replay_stories_titles (watchlist TEXT NOT NULL,
                 alert_id TEXT NOT NULL, at INTEGER NOT NULL, words TEXT NOT NULL);
                 DELETE FROM replay_stories; DELETE FROM replay_stories_titles;",
            )?;
            let mut out = Vec::with_capacity(pairs.len());
            {
                let mut stories = Stories::prepare(&tx, "temp.replay_stories", Titles::Scratch(HashMap::new()))?;
                for (i, (watchlist, draft)) in pairs.iter().enumerate() {
                    out.push(stories.claim(watchlist, draft, &format!("replay-{i}"))?.is_none());
                }
            }
            // Rolled back: a dry run leaves nothing behind.
            drop(tx);
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn titled(w: &str, keys: &[&str], title: &str, at: i64) -> (String, AlertDraft) {
        let draft = AlertDraft {
            alert_id: String::new(),
            story_keys: keys.iter().map(|k| k.to_string()).collect(),
            story_words: stories::title_words(title),
            story_at: at,
            escalate_at: None,
            sinks: Vec::new(),
            payload: String::new(),
        };
        (w.to_string(), draft)
    }

    fn pair(w: &str, keys: &[&str]) -> (String, AlertDraft) {
        titled(w, keys, "", 0)
    }

    /// `replay`'s dry run decides by the daemon's rule (any shared key is
    /// the same story, per watchlist), starts afresh at every call and
    /// writes nothing.
    #[tokio::test]
    async fn replay_claims_stories_as_commits_do_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.db")).unwrap();
        let pairs = vec![
            pair("w", &["u:a", "t:x"]),
            pair("w", &["u:b", "t:x"]),
            pair("w2", &["u:a"]),
            pair("w", &["u:c"]),
            pair("w", &["u:c", "t:y"]),
        ];
        let first = store.first_of_stories(pairs.clone()).await.unwrap();
        assert_eq!(first, [true, false, true, true, false]);
        assert_eq!(store.first_of_stories(pairs).await.unwrap(), first);
        assert_eq!(store.count("story_alerts").await.unwrap(), 0);
        // Near-copies: other keys, a title of the same story, within the
        // window; four days later, a new story.
        let hour = 3_600_000;
        let t = "Witkoff and Dmitriev drafted 28-point peace plan for Ukraine, officials say";
        let copy = "UPDATE 1-Witkoff, Dmitriev drafted 28-point Ukraine peace plan - Reuters";
        let near = vec![
            titled("w", &["u:a"], t, 0),
            titled("w", &["u:b"], copy, 2 * hour),
            titled("w2", &["u:c"], copy, 2 * hour),
            titled("w", &["u:d"], copy, 96 * hour),
        ];
        assert_eq!(store.first_of_stories(near).await.unwrap(), [true, false, true, true]);
        store.close().await;
    }

    /// Three simulated days of 200 items an hour, kept 6 hours, their
    /// tombstones a day: the file is as large after the third day as after
    /// the second, and what was pruned is still known to its feed while
    /// its tombstone lasts.
    #[tokio::test]
    async fn retention_keeps_the_file_steady_and_leaves_tombstones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = Store::open(&path).unwrap();
        let spec = crate::config::FeedSpec {
            url: "https://f.example/rss".into(),
            name: "f".into(),
            lang: None,
            interval: None,
            tags: vec![],
        };
        let feed = store.sync_feeds(vec![spec], 0).await.unwrap()[0].id;
        let hour = 3_600_000_i64;
        let mut sizes = Vec::new();
        let mut n = 0;
        let mut now = 0;
        for h in 0..72 {
            now = 1_764_000_000_000 + h * hour;
            let items = (0..200)
                .map(|_| {
                    n += 1;
                    NewItem {
                        link_key: None,
                        title_digest: 0,
                        item: Item {
                            key: format!("g:{n}"),
                            title: format!("Report {n} on the talks in Geneva"),
                            summary: "A summary of the usual length, with a few clauses. ".repeat(8),
                            content: String::new(),
                            link: Some(format!("https://f.example/{n}")),
                            published: None,
                            lang: None,
                            tags: vec![],
                            authors: vec![],
                        },
                        matches: vec![],
                    }
                })
                .collect();
            let state = FeedState::default();
            store
                .commit_poll(PollCommit {
                    feed_id: feed,
                    state,
                    items,
                    edits: Vec::new(),
                    now,
                })
                .await
                .unwrap();
            store.index_pending().await.unwrap();
            while store
                .prune_step(now - 6 * hour, now - 24 * hour, 200)
                .await
                .unwrap()
                .more
            {}
            if h == 47 || h == 71 {
                // The file's size once the log is folded back into it.
                let size = store
                    .call(|c| {
                        let pages: i64 = c.query_row("PRAGMA page_count", [], |r| r.get(0))?;
                        let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
                        Ok(pages * page)
                    })
                    .await
                    .unwrap();
                sizes.push(size as f64);
            }
        }
        assert!(sizes[1] <= sizes[0] * 1.10, "{sizes:?}");
        // The last 7 hours (the cutoff hour included) are kept.
        assert_eq!(store.count("items").await.unwrap(), 7 * 200);
        // Pruned 7 hours ago: its tombstone says it was seen; pruned more
        // than a day ago: forgotten.
        let recent = format!("g:{}", n - 8 * 200);
        assert_eq!(
            store
                .triage(
                    feed,
                    [recent, "g:1".into(), "g:999999".into()]
                        .map(|key| EntryIdentity {
                            key,
                            link_key: None,
                            title_digest: 0,
                        })
                        .to_vec(),
                )
                .await
                .unwrap()
                .unseen,
            ["g:1", "g:999999"]
        );
        // Tombstones go after their own cutoff.
        while store
            .prune_step(now - 6 * hour, now, 200)
            .await
            .unwrap()
            .tombstones_removed
            > 0
        {}
        assert_eq!(store.count("tombstones").await.unwrap(), 0);
        store.close().await;
    }
}
