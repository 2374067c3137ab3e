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
use crate::config::{self, ConfigErrors};
use crate::feed::Item;
use crate::rules::Matcher;
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
    config::load(path).map_err(Failure::Config)
}

pub async fn run(path: &Path, cancel: CancellationToken) -> Result<(), Failure> {
    let cfg = load(path)?;
    app::run_daemon(cfg, cancel).await?;
    Ok(())
}

pub async fn once(path: &Path, all: bool) -> Result<(), Failure> {
    let cfg = load(path)?;
    let r = app::run_once(cfg, all).await?;
    println!(
        "polled {} feeds: {} not modified, {} failed, {} new items, {} alerts raised, {} delivered",
        r.polled, r.not_modified, r.failed, r.new_items, r.alerts, r.delivered
    );
    Ok(())
}

pub fn check(path: &Path) -> Result<(), Failure> {
    match config::load(path) {
        Ok(cfg) => {
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

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// Reads one JSON Lines item as `match` and `eval` take it.
pub fn item_from_json(v: &Value) -> Item {
    let published = v
        .get("published")
        .and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&chrono::Utc));
    let link = v
        .get("canonical_link")
        .and_then(Value::as_str)
        .or_else(|| v.get("link").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let tags = match v.get("tags").or_else(|| v.get("category")) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    };
    Item {
        key: String::new(),
        title: str_field(v, "title").to_string(),
        summary: str_field(v, "summary").to_string(),
        content: str_field(v, "content").to_string(),
        link,
        published,
        lang: Some(str_field(v, "lang").to_string()).filter(|s| !s.is_empty()),
        tags,
        authors: Vec::new(),
    }
}

/// Matches one JSON item; the output line of `match`.
pub fn match_line(matcher: &Matcher, watchlist: &str, v: &Value) -> Value {
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let item = item_from_json(v);
    let source = app::source_text(str_field(v, "source"), item.link.as_deref(), str_field(v, "feed_url"));
    let found = matcher.match_document(&app::item_document(&item, &source));
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

fn alert_line(a: &Alert) -> String {
    let terms: Vec<String> = a.terms.iter().map(|t| format!("{} ({})", t.text, t.field)).collect();
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
            Some(chrono::Utc::now() - chrono::Duration::from_std(d).context("--since is too long")?)
        }
        None => None,
    };
    let filter = AlertFilter {
        since,
        watchlist: watchlist.map(str::to_string),
    };
    let log = cfg.alert_log;
    let mut offset: u64 = 0;
    let stdout = std::io::stdout();
    loop {
        let bytes = match std::fs::read(&log) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => {
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot read {}", log.display()))
                    .into());
            }
        };
        if (bytes.len() as u64) < offset {
            // The log was rotated or truncated: start over.
            offset = 0;
        }
        // Only whole lines; a line being written is read next time.
        let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1) as u64;
        if end > offset {
            let text = String::from_utf8_lossy(&bytes[offset as usize..end as usize]);
            print_alert_lines(&text, &filter, json, &mut stdout.lock()).context("cannot write output")?;
            offset = end;
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
