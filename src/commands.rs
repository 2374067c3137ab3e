//! The command-line subcommands besides the daemon loop itself: `check`,
//! `once`, `match`, `alerts`, `search`. An edge of the program: errors are
//! `anyhow` here, turned into exit codes by `main`.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use crate::alert::Alert;
use crate::app;
use crate::clock::Clock;
use crate::config::{self, ConfigErrors};
use crate::feed::{item_from_json, str_field};
use crate::rules::Matcher;
use crate::rules::evaluate::{Labelled, evaluate, read_labelled};
use crate::store::Store;

/// Exit code for a configuration error (sysexits EX_CONFIG).
pub const EX_CONFIG: u8 = 78;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("invalid configuration")]
    Config(ConfigErrors),
    #[error("{0} problem(s)")]
    Problems(usize),
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

fn load(path: &Path) -> Result<config::Config, Failure> {
    let cfg = config::load(path).map_err(Failure::Config)?;
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    Ok(cfg)
}

pub async fn run(path: &Path, cancel: CancellationToken) -> Result<(), Failure> {
    let cfg = load(path)?;
    app::run_daemon(cfg, cancel).await?;
    Ok(())
}

pub async fn once(path: &Path, all: bool, cancel: CancellationToken) -> Result<(), Failure> {
    let cfg = load(path)?;
    let r = app::run_once(cfg, all, cancel).await?;
    println!(
        "polled {} feeds: {} not modified, {} failed, {} new items, {} alerts raised, {} delivered",
        r.polled, r.not_modified, r.failed, r.new_items, r.alerts, r.delivered
    );
    if r.cancelled > 0 {
        println!("stopped by a signal: {} feeds not polled", r.cancelled);
    }
    Ok(())
}

pub fn check(path: &Path) -> Result<(), Failure> {
    match config::load(path) {
        Ok(cfg) => {
            for w in &cfg.warnings {
                println!("{w}");
            }
            let rules: usize = cfg.watchlists.iter().map(|w| w.rules.len()).sum();
            println!(
                "{}: ok ({} feeds, {} watchlists, {} rules)",
                path.display(),
                cfg.feeds.len(),
                cfg.watchlists.len(),
                rules
            );
            Ok(())
        }
        Err(errors) => {
            for d in &errors.0 {
                println!("{d}");
            }
            Err(Failure::Problems(errors.0.len()))
        }
    }
}

/// Matches one JSON item; the output line of `match`.
pub fn match_line(matcher: &Matcher, watchlist: &str, v: &Value) -> Value {
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let item = item_from_json(v);
    let found = matcher.match_item(&item, str_field(v, "source"), str_field(v, "feed_url"));
    match found.into_iter().next() {
        Some(m) => json!({
            "id": id,
            "matched": true,
            "watchlist": m.watchlist,
            "rules": m.rules,
            "terms": m.terms.iter().map(|t| json!({"term": t.term, "field": t.field.name(), "text": t.text})).collect::<Vec<_>>(),
            "snippet": m.snippet,
        }),
        None => json!({
            "id": id,
            "matched": false,
            "watchlist": watchlist,
            "rules": [],
            "terms": [],
        }),
    }
}

pub fn match_items(watchlist: &Path, input: Option<&Path>) -> Result<(), Failure> {
    let wl = config::load_watchlist(watchlist).map_err(Failure::Config)?;
    let name = wl.name.clone();
    let matcher = Matcher::new(vec![wl]);
    let reader: Box<dyn BufRead> = match input {
        Some(p) => Box::new(std::io::BufReader::new(
            std::fs::File::open(p).with_context(|| format!("cannot open {}", p.display()))?,
        )),
        None => Box::new(std::io::BufReader::new(std::io::stdin())),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let label = input.map_or_else(|| "<stdin>".to_string(), |p| p.display().to_string());
    for (n, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {label}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let result = match serde_json::from_str::<Value>(&line) {
            Ok(v) if v.is_object() => match_line(&matcher, &name, &v),
            Ok(_) => {
                eprintln!("{label}:{}: not a JSON object", n + 1);
                json!({"id": null, "matched": false, "watchlist": name, "rules": [], "terms": [], "error": format!("line {}: not a JSON object", n + 1)})
            }
            Err(e) => {
                eprintln!("{label}:{}:{}: invalid JSON: {e}", n + 1, e.column());
                json!({"id": null, "matched": false, "watchlist": name, "rules": [], "terms": [], "error": format!("line {}: invalid JSON: {e}", n + 1)})
            }
        };
        let written = serde_json::to_writer(&mut out, &result)
            .map_err(std::io::Error::from)
            .and_then(|_| out.write_all(b"\n"));
        if let Err(e) = written {
            return quiet_on_broken_pipe(e);
        }
    }
    out.flush().or_else(quiet_on_broken_pipe)
}

/// A reader that went away (`| head`) ends the output quietly.
fn quiet_on_broken_pipe(e: std::io::Error) -> Result<(), Failure> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(anyhow::Error::new(e).context("cannot write output").into())
    }
}

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
    let mut reader = crate::alert::LogReader::new(&cfg.alert_log);
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

pub async fn search(path: &Path, query: &str, limit: usize) -> Result<(), Failure> {
    let cfg = load(path)?;
    let store = Store::open(&cfg.database).context("cannot open database")?;
    store
        .index_pending()
        .await
        .context("cannot update the full-text index")?;
    let hits = store.search(query.to_string(), limit).await.context("search failed")?;
    for h in &hits {
        let when = h
            .item
            .published
            .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| "-".into());
        println!(
            "{when}  {}  [{}]\n    {}",
            h.item.title,
            h.feed_name,
            h.item.link.as_deref().unwrap_or("")
        );
    }
    if hits.is_empty() {
        eprintln!("no stored item matches");
    }
    store.close().await;
    Ok(())
}

fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n).collect::<String>())
    }
}

/// Reads a labelled file, naming it in its errors.
pub fn read_labels(labels: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(labels).with_context(|| format!("cannot read {}", labels.display()))?;
    read_labelled(&text).map_err(|e| anyhow::anyhow!("{}:{e}", labels.display()))
}

pub fn eval(watchlist: &Path, labels: &Path) -> Result<(), Failure> {
    let wl = config::load_watchlist(watchlist).map_err(Failure::Config)?;
    let matcher = Matcher::new(vec![wl]);
    let r = evaluate(&matcher, &read_labels(labels)?);
    println!(
        "{}: {} items scored ({} maybe left out)",
        labels.display(),
        r.scored(),
        r.maybe
    );
    println!(
        "TP {}  FP {}  FN {}  TN {}\nprecision {:.3}  recall {:.3}  F1 {:.3}",
        r.true_pos,
        r.false_pos,
        r.false_neg,
        r.true_neg,
        r.precision(),
        r.recall(),
        r.f1()
    );
    if !r.false_positives.is_empty() {
        println!("\nfalse positives ({}):", r.false_positives.len());
        for f in &r.false_positives {
            println!(
                "  {}  {}\n      rules: {}  terms: {}",
                f.id,
                clip(&f.title, 110),
                f.rules.join(", "),
                f.terms.join(", ")
            );
        }
    }
    if !r.false_negatives.is_empty() {
        println!("\nfalse negatives ({}):", r.false_negatives.len());
        for m in &r.false_negatives {
            println!("  {}  {}", m.id, clip(&m.title, 110));
            if let Some(c) = &m.closest {
                match &c.excluded_by {
                    Some(x) => println!("      rule {} matched but exclusion {} fired", c.rule, clip(x, 100)),
                    None => println!(
                        "      closest: rule {} ({}/{} clauses), missing {}",
                        c.rule,
                        c.satisfied,
                        c.clauses,
                        clip(&c.missing.join(" AND "), 100)
                    ),
                }
            }
        }
    }
    Ok(())
}

pub async fn replay(path: &Path, since: &str, watchlist: Option<&Path>, json: bool) -> Result<(), Failure> {
    let cfg = load(path)?;
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
            for m in matcher.match_item(&s.item, &s.feed_name, &s.feed_url) {
                found.push((s.clone(), m));
            }
        }
    }
    let pairs = found
        .iter()
        .map(|(s, m)| (m.watchlist.clone(), s.item.story_keys()))
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

fn rfc3339(ms: Option<i64>) -> Option<String> {
    ms.map(crate::clock::rfc3339)
}

/// "5m ago", "in 2h": a time relative to now, for people.
fn relative(ms: Option<i64>, now: i64) -> String {
    let Some(t) = ms else { return "-".into() };
    let d = (t - now) / 1000;
    let span = |s: i64| -> String {
        match s {
            0..=59 => format!("{s}s"),
            60..=3599 => format!("{}m", s / 60),
            3600..=172_799 => format!("{}h", s / 3600),
            _ => format!("{}d", s / 86_400),
        }
    };
    if t > now {
        format!("in {}", span(d))
    } else {
        format!("{} ago", span(-d))
    }
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
    let cfg = load(path)?;
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
    let cfg = load(path)?;
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
    let cfg = load(path)?;
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
