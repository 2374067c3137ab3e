//! `newshound search`: full-text search over stored items, best first,
//! with a snippet whose matched words stand out, the source and the date;
//! filtered by age, watchlist or story; `--json` for tools.

use std::io::{IsTerminal, Write};
use std::path::Path;

use anyhow::Context;

use super::shared::{Failure, load_for_reading, quiet_on_broken_pipe, since_ms};
use crate::clock::Clock;
use crate::store::{SearchQuery, Store};

#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    pub query: String,
    pub limit: usize,
    /// "2h", "7d": only items first seen this recently.
    pub since: Option<String>,
    pub watchlist: Option<String>,
    /// A story's alert id (`alerts --json` shows it).
    pub story: Option<String>,
    pub json: bool,
}

pub async fn search(path: &Path, opts: &SearchOptions) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    let since = since_ms(opts.since.as_deref(), Clock::System.now_ms())?;
    let store = Store::open(&cfg.database).context("cannot open database")?;
    store
        .index_pending()
        .await
        .context("cannot update the full-text index")?;
    let hits = store
        .search_hits(SearchQuery {
            text: opts.query.clone(),
            limit: opts.limit,
            since,
            watchlist: opts.watchlist.clone(),
            story: opts.story.clone(),
        })
        .await
        .context("search failed")?;
    store.close().await;
    let colour = !opts.json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let mut out = std::io::stdout().lock();
    for h in &hits {
        let stored = &h.item;
        let it = &stored.item;
        let when = it
            .published
            .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| "-".into());
        let line = if opts.json {
            serde_json::json!({
                "id": stored.id,
                "title": it.title,
                "link": it.link,
                "source": stored.feed_name,
                "feed_url": stored.feed_url,
                "published": it.published.map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                "first_seen": crate::clock::rfc3339(stored.first_seen),
                "lang": it.lang,
                "snippet": h.snippet.replace(['\u{2}', '\u{3}'], ""),
                "watchlists": h.watchlists,
                "story": h.story,
            })
            .to_string()
        } else {
            let (on, off) = if colour { ("\x1b[1;33m", "\x1b[0m") } else { ("[", "]") };
            let snippet = h.snippet.replace('\u{2}', on).replace('\u{3}', off);
            let mut s = format!(
                "{when}  {}  ({})\n    {}\n    {snippet}",
                it.title,
                stored.feed_name,
                it.link.as_deref().unwrap_or("-")
            );
            if !h.watchlists.is_empty() {
                s.push_str(&format!("\n    watchlists: {}", h.watchlists.join(", ")));
                if let Some(story) = &h.story {
                    s.push_str(&format!("  story: {story}"));
                }
            }
            s
        };
        writeln!(out, "{line}").or_else(quiet_on_broken_pipe)?;
    }
    if hits.is_empty() {
        eprintln!("no stored item matches");
    }
    Ok(())
}
