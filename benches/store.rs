//! The archive: the database's size per 100,000 items (news text: the
//! news-2025 corpus's titles and summaries, with the full-text index), and
//! how long each retention step holds the writer while 100,000 unmatched
//! items expire (`Store::prune_step`, 50 items a step, as the daemon runs
//! it).
//! Run: cargo bench --bench store

mod common;

use std::time::Instant;

use newshound::config::FeedSpec;
use newshound::feed::Item;
use newshound::scheduler::FeedState;
use newshound::store::{NewItem, PollCommit, Store};

const ITEMS: usize = 100_000;
const PER_POLL: usize = 500;
/// The daemon's step (`app::PRUNE_BATCH`).
const STEP: usize = 50;

fn pieces() -> (Vec<(String, String)>, &'static str) {
    match common::corpus_pieces() {
        Some(p) => (p, "the news-2025 corpus's titles and summaries"),
        None => (
            (0..1000)
                .map(|i| {
                    (
                        format!("Report {i} on the talks in Geneva"),
                        "A summary of the usual length, with a few clauses. ".repeat(4),
                    )
                })
                .collect(),
            "generated text (corpus absent)",
        ),
    }
}

fn file_bytes(path: &std::path::Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{}{s}", path.display())).ok())
        .map(|m| m.len())
        .sum()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (text, origin) = pieces();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("archive.db");
    let store = Store::open(&path).expect("open");
    let spec = FeedSpec {
        url: "https://archive.example/rss".into(),
        name: "archive".into(),
        lang: None,
        interval: None,
        tags: vec![],
    };
    let feed = store.sync_feeds(vec![spec], 0).await.expect("feeds")[0].id;
    let day = 24 * 3_600_000_i64;
    let start = 1_764_000_000_000_i64;
    let mut n = 0;
    while n < ITEMS {
        let now = start + (n as i64) * 60_000 / 10;
        let items = (0..PER_POLL)
            .map(|_| {
                let (title, summary) = &text[n % text.len()];
                n += 1;
                NewItem {
                    link_key: None,
                    title_digest: n as i64,
                    item: Item {
                        key: format!("g:{n}"),
                        title: title.clone(),
                        summary: summary.clone(),
                        content: String::new(),
                        link: Some(format!("https://archive.example/{n}")),
                        published: None,
                        lang: None,
                        tags: vec![],
                        authors: vec![],
                    },
                    matches: vec![],
                }
            })
            .collect();
        store
            .commit_poll(PollCommit {
                feed_id: feed,
                state: FeedState::default(),
                items,
                edits: Vec::new(),
                now,
            })
            .await
            .expect("commit");
        store.index_pending().await.expect("index");
    }
    let bytes = file_bytes(&path);
    // Every item expires: a month later, the daemon's steps.
    let later = start + 40 * day;
    let mut steps: Vec<f64> = Vec::new();
    let mut removed = 0;
    loop {
        let t = Instant::now();
        let s = store.prune_step(later - 30 * day, 0, STEP).await.expect("prune");
        steps.push(t.elapsed().as_secs_f64() * 1000.0);
        removed += s.removed;
        if !s.more {
            break;
        }
    }
    store.close().await;
    steps.sort_by(f64::total_cmp);
    let pct = |p: f64| steps[((steps.len() - 1) as f64 * p) as usize];
    println!("archive: {ITEMS} items of {origin}, stored {PER_POLL} a poll with the full-text index");
    println!(
        "database: {:.1} MiB, {:.1} MiB per 100,000 items",
        bytes as f64 / 1_048_576.0,
        bytes as f64 / 1_048_576.0 * 100_000.0 / ITEMS as f64
    );
    println!(
        "retention: {removed} items removed in {} steps of {STEP}: median {:.2} ms, 99th percentile {:.2} ms, longest {:.2} ms",
        steps.len(),
        pct(0.5),
        pct(0.99),
        steps[steps.len() - 1]
    );
}
