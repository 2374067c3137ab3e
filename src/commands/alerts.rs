//! `newshound alerts`: the alert log, filtered, as JSON or for people,
//! followed as it grows.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::shared::{Failure, load, quiet_on_broken_pipe};
use crate::alert::{Alert, LogReader};
use crate::clock::Clock;
use crate::config;

/// Each distinct matched text once per field, in the order the alert
/// lists them (field by field, in text order).
fn distinct_terms(a: &Alert) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    a.terms
        .iter()
        .filter(|t| seen.insert((t.field.as_str(), t.text.to_lowercase())))
        .map(|t| format!("{} ({})", t.text, t.field))
        .collect()
}

fn alert_line(a: &Alert) -> String {
    let terms = distinct_terms(a);
    format!(
        "{}  [{}] {}\n    {} — {}\n    matched: {}\n    rules: {}",
        a.at,
        a.watchlist,
        a.title,
        a.feed,
        a.link.as_deref().unwrap_or("(no link)"),
        terms.join(", "),
        a.rules.join(", ")
    )
}

struct AlertFilter {
    since: Option<chrono::DateTime<chrono::Utc>>,
    watchlist: Option<String>,
}

impl AlertFilter {
    fn keep(&self, a: &Alert) -> bool {
        if let Some(w) = &self.watchlist {
            if &a.watchlist != w {
                return false;
            }
        }
        if let Some(s) = self.since {
            match chrono::DateTime::parse_from_rfc3339(&a.at) {
                Ok(at) if at < s => return false,
                _ => {}
            }
        }
        true
    }
}

fn print_alert_lines(text: &str, filter: &AlertFilter, json: bool, out: &mut impl Write) -> std::io::Result<()> {
    for line in text.lines() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Alert>(line) {
            Ok(a) if filter.keep(&a) => {
                if json {
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(out, "{}", alert_line(&a))?;
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("skipping a malformed alert line: {e}"),
        }
    }
    out.flush()
}

pub async fn alerts(
    path: &Path,
    since: Option<&str>,
    watchlist: Option<&str>,
    follow: bool,
    json: bool,
) -> Result<(), Failure> {
    let cfg = load(path)?;
    let since = match since {
        Some(s) => {
            let d = config::parse_duration(s).map_err(anyhow::Error::msg)?;
            Some(Clock::System.now() - chrono::Duration::from_std(d).context("--since is too long")?)
        }
        None => None,
    };
    let filter = AlertFilter {
        since,
        watchlist: watchlist.map(str::to_string),
    };
    let log = cfg.alert_log().context("no jsonl sink is configured")?;
    let mut reader = LogReader::new(log);
    let stdout = std::io::stdout();
    loop {
        let text = reader.read_new().context("cannot read the alert log")?;
        if !text.is_empty() {
            if let Err(e) = print_alert_lines(&text, &filter, json, &mut stdout.lock()) {
                return quiet_on_broken_pipe(e);
            }
        }
        if !follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
