//! `newshound feeds`: every feed with its health; OPML import and export.

use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use super::shared::{Failure, clip, load_for_reading, quiet_on_broken_pipe};
use crate::clock::Clock;
use crate::config;
use crate::store::Store;

use super::shared::relative;

fn rfc3339(ms: Option<i64>) -> Option<String> {
    ms.map(crate::clock::rfc3339)
}

/// One feed's health as `newshound feeds --json` prints it.
pub fn feed_json(spec: &crate::config::FeedSpec, h: Option<&crate::store::FeedHealth>) -> Value {
    let st = h.map(|h| h.row.state.clone()).unwrap_or_default();
    let share = if st.polls > 0 {
        st.not_modified as f64 / st.polls as f64
    } else {
        0.0
    };
    json!({
        "url": spec.url,
        "name": spec.name,
        "state": st.health.as_str(),
        "last_status": st.last_status,
        "last_error": st.last_error,
        "error_kind": st.error_kind.map(|k| k.as_str()),
        "retryable": st.error_kind.map(|k| k.retryable()),
        "consecutive_failures": st.consecutive_failures,
        "last_success": rfc3339(st.last_success),
        "last_poll": rfc3339(st.last_poll),
        "next_poll": rfc3339(crate::scheduler::due_at(&st).filter(|_| st.last_poll.is_some())),
        "items": h.map_or(0, |h| h.items),
        "polls": st.polls,
        "not_modified": st.not_modified,
        "not_modified_share": (share * 1000.0).round() / 1000.0,
        "fetch_url": st.fetch_url,
    })
}

pub async fn feeds(path: &Path, failing: bool, json_out: bool) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    let store = Store::open(&cfg.database).context("cannot open database")?;
    let health = store.feed_health().await.context("cannot read feed health")?;
    store.close().await;
    let by_url: std::collections::HashMap<&str, &crate::store::FeedHealth> =
        health.iter().map(|h| (h.row.url.as_str(), h)).collect();
    let now = Clock::System.now_ms();
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut shown = 0;
    let write = |out: &mut BufWriter<std::io::StdoutLock<'_>>, line: String| writeln!(out, "{line}");
    if !json_out {
        let _ = write(
            &mut out,
            format!(
                "{:<8} {:<32} {:>10} {:>6} {:>5} {:>9} {:>6} {:>5}  {}",
                "STATE", "NAME", "LAST OK", "STATUS", "FAILS", "NEXT", "ITEMS", "304%", "URL / LAST ERROR"
            ),
        );
    }
    for spec in &cfg.feeds {
        let h = by_url.get(spec.url.as_str()).copied();
        let st = h.map(|h| h.row.state.clone()).unwrap_or_default();
        let sick = st.is_sick();
        if failing && !sick {
            continue;
        }
        shown += 1;
        let line = if json_out {
            feed_json(spec, h).to_string()
        } else {
            let share = (100 * st.not_modified).checked_div(st.polls).unwrap_or(0);
            let name: String = spec.name.chars().take(32).collect();
            let mut l = format!(
                "{:<8} {:<32} {:>10} {:>6} {:>5} {:>9} {:>6} {:>4}%  {}",
                st.health.as_str(),
                name,
                relative(st.last_success, now),
                st.last_status.map_or("-".to_string(), |s| s.to_string()),
                st.consecutive_failures,
                relative(crate::scheduler::due_at(&st).filter(|_| st.last_poll.is_some()), now),
                h.map_or(0, |h| h.items),
                share,
                spec.url
            );
            if let Some(e) = &st.last_error {
                l.push_str(&format!("\n{:>9}{}", "", clip(e, 150)));
            }
            l
        };
        if let Err(e) = write(&mut out, line) {
            return quiet_on_broken_pipe(e);
        }
    }
    if failing && shown == 0 && !json_out {
        let _ = write(&mut out, "no failing feeds".into());
    }
    out.flush().or_else(quiet_on_broken_pipe)
}

/// Adds the feeds of an OPML file to the configured feed list (TOML or
/// OPML), skipping those already there.
pub fn feeds_import(path: &Path, opml_file: &Path) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    let r = config::import_opml(&cfg.feeds, &cfg.feeds_file, opml_file).map_err(anyhow::Error::new)?;
    println!(
        "imported {} feeds into {} ({} already present or invalid)",
        r.added,
        cfg.feeds_file.display(),
        r.skipped
    );
    Ok(())
}

pub fn feeds_export(path: &Path) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    let xml = config::to_opml(&cfg.feeds).map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{xml}").or_else(quiet_on_broken_pipe)
}

#[cfg(test)]
mod tests {
    use super::relative;

    #[test]
    fn relative_times_say_ago_for_the_past_and_in_for_the_future() {
        let now = 1_000_000;
        assert_eq!(relative(Some(now - 400), now), "0s ago");
        assert_eq!(relative(Some(now), now), "0s ago");
        assert_eq!(relative(Some(now - 90_000), now), "1m ago");
        assert_eq!(relative(Some(now + 400), now), "in 0s");
        assert_eq!(relative(Some(now + 7_200_000), now), "in 2h");
        assert_eq!(relative(None, now), "-");
    }
}
