//! `newshound replay`: what the current watchlists would have alerted
//! among stored items; nothing is sent.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::json;

use super::shared::{Failure, load_for_reading};
use crate::clock::Clock;
use crate::config;
use crate::rules::Matcher;
use crate::store::Store;

pub async fn replay(path: &Path, since: &str, watchlist: Option<&Path>, json: bool) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    let since_dur = config::parse_duration(since).map_err(anyhow::Error::msg)?;
    let cutoff = Clock::System.now_ms() - i64::try_from(since_dur.as_millis()).unwrap_or(i64::MAX);
    let watchlists = match watchlist {
        Some(w) => vec![config::load_watchlist(w).map_err(Failure::Config)?],
        None => cfg.watchlists.clone(),
    };
    let matcher = Matcher::new(watchlists);
    let store = Store::open(&cfg.database).context("cannot open database")?;
    let result = replay_in(&store, &matcher, cutoff, json).await;
    store.close().await;
    let (scanned, would_alert, repeats) = match result {
        Ok(counts) => counts,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
        Err(e) => return Err(anyhow::Error::new(e).context("replay failed").into()),
    };
    eprintln!(
        "replay: {scanned} stored items since {since}, {would_alert} would alert, {repeats} repeats of a story; nothing was sent"
    );
    Ok(())
}

/// Matches the stored items first seen since `cutoff` and prints those
/// that would alert: each story once per watchlist, as the store decides
/// for the daemon. Returns the items scanned, the alerts and the repeats.
async fn replay_in(
    store: &Store,
    matcher: &Matcher,
    cutoff: i64,
    json: bool,
) -> std::io::Result<(usize, usize, usize)> {
    let mut found = Vec::new();
    let mut scanned = 0usize;
    let mut after = 0;
    loop {
        let page = store
            .items_since(cutoff, after, 2000)
            .await
            .map_err(|e| std::io::Error::other(format!("cannot read stored items: {e}")))?;
        let Some(last) = page.last() else { break };
        after = last.id;
        scanned += page.len();
        for s in page {
            for m in matcher.match_item(&s.item, &s.feed_name, &s.feed_url, Some(s.first_seen)) {
                found.push((s.clone(), m));
            }
        }
    }
    let pairs = found
        .iter()
        .map(|(s, m)| {
            let draft = crate::store::AlertDraft {
                alert_id: String::new(),
                story_keys: crate::alert::story_keys(&s.item, &s.feed_url),
                story_words: crate::stories::title_words(&s.item.title),
                story_at: crate::stories::story_time(s.item.published.map(|p| p.timestamp_millis()), s.first_seen),
                escalate_at: None,
                sinks: Vec::new(),
                payload: String::new(),
            };
            (m.watchlist.clone(), draft)
        })
        .collect();
    let first = store
        .first_of_stories(pairs)
        .await
        .map_err(|e| std::io::Error::other(format!("cannot check stories: {e}")))?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut would_alert = 0;
    for ((s, m), first) in found.iter().zip(&first) {
        if !first {
            continue;
        }
        would_alert += 1;
        let first_seen = crate::clock::rfc3339(s.first_seen);
        let line = if json {
            json!({
                "watchlist": m.watchlist,
                "rules": m.rules,
                "terms": m.terms.iter().map(|t| json!({"term": t.term, "field": t.field.name(), "text": t.text})).collect::<Vec<_>>(),
                "snippet": m.snippet,
                "title": s.item.title,
                "link": s.item.link,
                "feed": s.feed_name,
                "first_seen": first_seen,
            })
            .to_string()
        } else {
            format!(
                "{first_seen}  [{}] {}\n    {} — {}\n    rules: {}",
                m.watchlist,
                s.item.title,
                s.feed_name,
                s.item.link.as_deref().unwrap_or("(no link)"),
                m.rules.join(", ")
            )
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok((scanned, would_alert, found.len() - would_alert))
}
