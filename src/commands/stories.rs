//! `newshound stories --items ITEMS.jsonl --pairs PAIRS.jsonl`: for each
//! pair of item ids, whether the daemon would group the two items into one
//! story, by the same decision (a shared link or title key, else
//! [`crate::stories::same_story`]). One JSON
//! line per pair, in input order. Without `--pairs`: the stories of the
//! whole stream, as the daemon would group them (shared link or title
//! key, or a near-copy of the story's first item), one JSON line each.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use super::shared::{Failure, quiet_on_broken_pipe};
use crate::feed::{item_from_json, str_field};
use crate::stories::{StoryIndex, WINDOW_MS, same_story, story_time, title_words};

fn lines(path: &Path) -> anyhow::Result<impl Iterator<Item = (usize, anyhow::Result<Value>)>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let name = path.display().to_string();
    Ok(std::io::BufReader::new(f)
        .lines()
        .enumerate()
        .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
        .map(move |(i, l)| {
            let v = l
                .with_context(|| format!("{name}:{}: cannot read", i + 1))
                .and_then(|l| serde_json::from_str(&l).with_context(|| format!("{name}:{}: not a JSON object", i + 1)));
            (i + 1, v)
        }))
}

fn time_of(v: &Value, key: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(str_field(v, key))
        .ok()
        .map(|d| d.timestamp_millis())
}

/// One item as grouping sees it.
struct Entry {
    id: String,
    words: Vec<String>,
    at: i64,
    keys: Vec<String>,
}

fn read_items(items: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut out = Vec::new();
    for (_, v) in lines(items)? {
        let v = v?;
        let item = item_from_json(&v);
        let published = item.published.map(|p| p.timestamp_millis());
        let seen = time_of(&v, "first_seen").or(published).unwrap_or(0);
        let id = str_field(&v, "id").to_string();
        // Items without link or distinctive title are their own stories.
        let keys = item
            .story_keys()
            .into_iter()
            .map(|k| if k.starts_with("i:") { format!("i:{id}") } else { k })
            .collect();
        out.push(Entry {
            keys,
            id,
            words: title_words(&item.title),
            at: story_time(published, seen),
        });
    }
    Ok(out)
}

/// The stream grouped in time order: an item joins the story of an
/// earlier one that shares a key, or whose first item it copies.
fn group(mut entries: Vec<Entry>) -> Vec<Vec<String>> {
    entries.sort_by_key(|e| e.at);
    let mut stories: Vec<Vec<String>> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    // The first item of each story, by its title words: the daemon's index.
    let mut firsts = StoryIndex::new();
    for (n, e) in entries.into_iter().enumerate() {
        if n % 4096 == 0 {
            firsts.forget_before(e.at - WINDOW_MS);
        }
        let found = e
            .keys
            .iter()
            .find_map(|k| by_key.get(k).copied())
            .or_else(|| firsts.find(&e.words, e.at).and_then(|s| s.parse().ok()));
        let s = match found {
            Some(s) => s,
            None => {
                stories.push(Vec::new());
                let s = stories.len() - 1;
                firsts.insert(s.to_string(), e.words.clone(), e.at);
                s
            }
        };
        for k in &e.keys {
            by_key.entry(k.clone()).or_insert(s);
        }
        stories[s].push(e.id);
    }
    stories
}

pub fn stories(items: &Path, pairs: Option<&Path>) -> Result<(), Failure> {
    let entries = read_items(items)?;
    let mut out = std::io::stdout().lock();
    let Some(pairs) = pairs else {
        for s in group(entries) {
            writeln!(
                out,
                "{}",
                serde_json::json!({"story": s[0], "size": s.len(), "items": s})
            )
            .or_else(quiet_on_broken_pipe)?;
        }
        return Ok(());
    };
    let known: HashMap<String, Entry> = entries.into_iter().map(|e| (e.id.clone(), e)).collect();
    for (line, v) in lines(pairs)? {
        let v = v?;
        let (a, b) = (str_field(&v, "a"), str_field(&v, "b"));
        let get = |id: &str| {
            known
                .get(id)
                .with_context(|| format!("{}:{line}: item '{id}' is not in {}", pairs.display(), items.display()))
        };
        let (ea, eb) = (get(a)?, get(b)?);
        // As the daemon: a shared link or title key first (at any distance
        // in time), then the near-copy rule.
        let same = ea.keys.iter().any(|k| eb.keys.contains(k)) || same_story(&ea.words, ea.at, &eb.words, eb.at);
        writeln!(out, "{}", serde_json::json!({"a": a, "b": b, "same": same})).or_else(quiet_on_broken_pipe)?;
    }
    Ok(())
}
