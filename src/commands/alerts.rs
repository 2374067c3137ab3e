//! `newshound alerts`: the alerts raised, newest first, one block per
//! story (its outlets, its deliveries), filtered, as JSON or for people
//! (matched terms in colour on a terminal), followed as they come;
//! `--failed`, the deliveries that failed; `alerts retry`, sending dead
//! ones again. Reads the database, so that it sees every sink and a
//! rotated log changes nothing.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::shared::{Failure, clip, load_for_reading, quiet_on_broken_pipe, relative, since_ms};
use crate::alert::Alert;
use crate::alert::format::{matched_terms, severity_name};
use crate::clock::Clock;
use crate::store::{AlertRow, DeliveryState, Store};

/// Most alerts shown at once.
const LIMIT: usize = 500;

/// What `newshound alerts` shows.
#[derive(Debug, Default)]
pub struct AlertsOptions {
    pub since: Option<String>,
    pub watchlist: Option<String>,
    pub sink: Option<String>,
    pub follow: bool,
    pub json: bool,
    pub failed: bool,
}

/// ANSI styles, or nothing when the output is not a terminal (or
/// `NO_COLOR` is set).
struct Style {
    on: bool,
}

impl Style {
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    /// `text` with every case-insensitive occurrence of `terms` marked.
    fn highlight(&self, text: &str, terms: &[String]) -> String {
        if !self.on || terms.is_empty() {
            return text.to_string();
        }
        let lower = text.to_lowercase();
        if lower.len() != text.len() {
            // Case folding moved byte offsets: mark nothing rather than
            // cut a character.
            return text.to_string();
        }
        let mut marks = vec![false; text.len()];
        for t in terms {
            let t = t.to_lowercase();
            if t.is_empty() {
                continue;
            }
            let mut from = 0;
            while let Some(at) = lower[from..].find(&t) {
                let start = from + at;
                marks[start..start + t.len()].iter_mut().for_each(|m| *m = true);
                from = start + t.len();
            }
        }
        let mut out = String::new();
        let mut inside = false;
        for (i, ch) in text.char_indices() {
            if marks[i] != inside {
                out.push_str(if marks[i] { "\x1b[1;33m" } else { "\x1b[0m" });
                inside = marks[i];
            }
            out.push(ch);
        }
        if inside {
            out.push_str("\x1b[0m");
        }
        out
    }
}

fn ms_of(rfc: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(rfc)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// One story's block.
fn block(a: &Alert, row: &AlertRow, now: i64, st: &Style) -> String {
    let terms = matched_terms(a);
    let sev = match a.severity {
        crate::rules::Severity::Critical | crate::rules::Severity::High => {
            st.wrap("1;31", &severity_name(a.severity).to_uppercase())
        }
        s => severity_name(s).to_string(),
    };
    let outlets = match row.outlets.len() {
        0 => a.feed.clone(),
        1 => row.outlets[0].clone(),
        n => format!("{} and {} more ({n} outlets)", row.outlets[0], n - 1),
    };
    let deliveries: Vec<String> = row
        .deliveries
        .iter()
        .map(|d| match d.state {
            DeliveryState::Delivered => format!("{} sent", d.sink),
            DeliveryState::Pending if d.attempts == 0 => format!("{} queued", d.sink),
            DeliveryState::Pending => format!("{} retrying ({} failed)", d.sink, d.attempts),
            DeliveryState::Dead => st.wrap("31", &format!("{} FAILED", d.sink)),
        })
        .collect();
    let mut s = format!(
        "{}  {sev}  [{}] {}\n    {} · {}",
        relative(ms_of(&a.at), now),
        a.watchlist,
        st.highlight(&a.title, &terms),
        outlets,
        a.link.as_deref().unwrap_or("(no link)")
    );
    if !terms.is_empty() {
        let shown: Vec<String> = terms.iter().map(|t| st.wrap("1;33", t)).collect();
        s.push_str(&format!("\n    matched: {}", shown.join(", ")));
    }
    s.push_str(&format!("\n    {}", deliveries.join(", ")));
    s
}

pub async fn alerts(path: &Path, opts: AlertsOptions) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    let store = Store::open(&cfg.database).context("cannot open database")?;
    if opts.failed {
        return failed(&store, opts.json).await;
    }
    let now = Clock::System.now_ms();
    let since = since_ms(opts.since.as_deref(), now)?.unwrap_or(0);
    let style = Style {
        on: !opts.json && std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
    };
    let mut after = 0;
    let mut first = true;
    loop {
        let mut rows = store
            .recent_alerts(since, opts.sink.clone(), after, LIMIT)
            .await
            .context("cannot read alerts")?;
        if let Some(r) = rows.first() {
            after = after.max(r.row);
        }
        // Newest first on the first screen; oldest first as they come.
        if !first {
            rows.reverse();
        }
        first = false;
        let now = Clock::System.now_ms();
        let mut out = std::io::stdout().lock();
        for r in &rows {
            let a: Alert = match serde_json::from_str(&r.payload) {
                Ok(a) => a,
                Err(e) => {
                    eprintln!("skipping an unreadable alert: {e}");
                    continue;
                }
            };
            if opts.watchlist.as_ref().is_some_and(|w| *w != a.watchlist) {
                continue;
            }
            let line = if opts.json {
                // The alert as the sinks got it, with its story: the outlets
                // carrying it so far and how each sink fared.
                let mut v: serde_json::Value = serde_json::from_str(&r.payload).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    // An escalation names its story already.
                    if !o.contains_key("story_id") {
                        o.insert("story_id".into(), r.story.clone().into());
                    }
                    o.insert("outlets".into(), r.outlets.clone().into());
                    let deliveries: Vec<serde_json::Value> = r
                        .deliveries
                        .iter()
                        .map(|d| {
                            let state = match d.state {
                                DeliveryState::Delivered => "delivered",
                                DeliveryState::Pending => "pending",
                                DeliveryState::Dead => "dead",
                            };
                            serde_json::json!({"sink": d.sink, "state": state, "failed_attempts": d.attempts})
                        })
                        .collect();
                    o.insert("deliveries".into(), deliveries.into());
                }
                v.to_string()
            } else {
                format!("{}\n", block(&a, r, now, &style))
            };
            if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
                return quiet_on_broken_pipe(e);
            }
        }
        drop(out);
        if !opts.follow {
            store.close().await;
            return Ok(());
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                store.close().await;
                return Ok(());
            }
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}

/// `alerts --failed`: deliveries that failed, newest first.
async fn failed(store: &Store, json: bool) -> Result<(), Failure> {
    let rows = store.failed_deliveries(LIMIT).await.context("cannot read deliveries")?;
    let now = Clock::System.now_ms();
    let mut out = std::io::stdout().lock();
    for f in &rows {
        let a = serde_json::from_str::<Alert>(&f.payload).ok();
        let (title, watchlist) = a
            .as_ref()
            .map(|a| (a.title.clone(), a.watchlist.clone()))
            .unwrap_or_default();
        let state = if f.dead_at.is_some() { "dead" } else { "retrying" };
        let line = if json {
            serde_json::json!({
                "alert_id": f.alert_id,
                "sink": f.sink,
                "state": state,
                "attempts": f.attempts,
                "last_error": f.last_error,
                "next_attempt": (f.dead_at.is_none()).then(|| crate::clock::rfc3339(f.next_attempt)),
                "dead_at": f.dead_at.map(crate::clock::rfc3339),
                "watchlist": watchlist,
                "title": title,
            })
            .to_string()
        } else {
            let when = match f.dead_at {
                Some(t) => format!("dead {} after {} attempts", relative(Some(t), now), f.attempts),
                None => format!(
                    "{} failed, next try {}",
                    f.attempts,
                    relative(Some(f.next_attempt), now)
                ),
            };
            format!(
                "{}  {}  {when}\n    [{watchlist}] {}\n    {}",
                f.alert_id,
                f.sink,
                clip(&title, 100),
                f.last_error.as_deref().unwrap_or("")
            )
        };
        if let Err(e) = writeln!(out, "{line}") {
            return quiet_on_broken_pipe(e);
        }
    }
    if rows.is_empty() && !json {
        let _ = writeln!(out, "no failed deliveries");
    }
    Ok(())
}

/// `alerts retry [--sink NAME] [ID...]`: dead deliveries queued again.
pub async fn alerts_retry(path: &Path, sink: Option<&str>, ids: &[String]) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    if let Some(s) = sink {
        if !cfg.sinks.iter().any(|k| k.name == s) {
            let names: Vec<&str> = cfg.sinks.iter().map(|k| k.name.as_str()).collect();
            return Err(anyhow::anyhow!("no sink named '{s}' (sinks: {})", names.join(", ")).into());
        }
    }
    let store = Store::open(&cfg.database).context("cannot open database")?;
    let n = store
        .retry_dead(sink.map(str::to_string), ids.to_vec(), Clock::System.now_ms())
        .await
        .context("cannot update deliveries")?;
    store.close().await;
    println!("{n} dead deliveries queued again; a running daemon sends them within 15 s, or run `newshound once`");
    Ok(())
}
