//! `newshound match`: a watchlist dry-run over JSON Lines items, one line
//! out per line in.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::{Value, json};

use super::shared::{Failure, quiet_on_broken_pipe};
use crate::config;
use crate::feed::{first_seen_ms, item_from_json, str_field};
use crate::rules::Matcher;

/// Matches one JSON item; the output line of `match`.
pub fn match_line(matcher: &Matcher, watchlist: &str, v: &Value) -> Value {
    let id = v.get("id").cloned().unwrap_or(Value::Null);
    let item = item_from_json(v);
    let found = matcher.match_item(
        &item,
        str_field(v, "source"),
        str_field(v, "feed_url"),
        first_seen_ms(v),
    );
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
