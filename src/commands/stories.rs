//! `newshound stories --items ITEMS.jsonl --pairs PAIRS.jsonl`: for each
//! pair of item ids, whether the daemon, fed the whole items file in time
//! order, would put the two items in one story (a shared link or title
//! key, or titles of one report, [`crate::stories::StoryIndex`], the
//! stories an item joins made one). One JSON line per pair, in input
//! order. Without `--pairs`: the stories of the whole stream, as the
//! daemon would group them, one JSON line each.

use std::collections::HashMap;
use std::io::{BufRead, Write};
use std::path::Path;

use anyhow::Context;
use serde_json::Value;

use super::shared::{Failure, quiet_on_broken_pipe};
use crate::feed::{first_seen_ms, item_from_json, str_field};
use crate::stories::{StoryIndex, WINDOW_MS, WordCounts, story_time, title_words};

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
        let seen = first_seen_ms(&v).or(published).unwrap_or(0);
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

/// The stream grouped in time order, as the daemon groups: an item joins
/// every earlier story that shares one of its keys or that it reports
/// (its title beside any of the story's, [`StoryIndex::find`]), and the
/// stories it joins become one. Stories of item ids, in the order they
/// began.
fn group(mut entries: Vec<Entry>) -> Vec<Vec<String>> {
    entries.sort_by_key(|e| e.at);
    // Union-find over stories: a story merged into another points to it.
    let mut parent: Vec<usize> = Vec::new();
    fn root(parent: &mut [usize], mut s: usize) -> usize {
        while let Some(&p) = parent.get(s).filter(|&&p| p != s) {
            let grand = parent.get(p).copied().unwrap_or(p);
            if let Some(x) = parent.get_mut(s) {
                *x = grand;
            }
            s = p;
        }
        s
    }
    let mut of_item: Vec<(usize, String)> = Vec::with_capacity(entries.len());
    let mut by_key: HashMap<String, usize> = HashMap::new();
    let mut titles = StoryIndex::new();
    let mut counts = WordCounts::new();
    for (n, e) in entries.into_iter().enumerate() {
        if n % 4096 == 0 {
            titles.forget_before(e.at - WINDOW_MS);
        }
        counts.add(&e.words, e.at);
        let mut joined: Vec<usize> = e.keys.iter().filter_map(|k| by_key.get(k).copied()).collect();
        joined.extend(
            titles
                .find(&e.words, e.at, &counts)
                .iter()
                .filter_map(|s| s.parse::<usize>().ok()),
        );
        let mut roots: Vec<usize> = joined.into_iter().map(|s| root(&mut parent, s)).collect();
        roots.sort_unstable();
        roots.dedup();
        let s = match roots.first() {
            Some(&first) => {
                for &other in &roots[1..] {
                    if let Some(p) = parent.get_mut(other) {
                        *p = first;
                    }
                }
                first
            }
            None => {
                parent.push(parent.len());
                parent.len() - 1
            }
        };
        for k in &e.keys {
            by_key.entry(k.clone()).or_insert(s);
        }
        titles.insert(s.to_string(), e.words, e.at);
        of_item.push((s, e.id));
    }
    let mut stories: Vec<Vec<String>> = vec![Vec::new(); parent.len()];
    for (s, id) in of_item {
        let r = root(&mut parent, s);
        if let Some(story) = stories.get_mut(r) {
            story.push(id);
        }
    }
    stories.retain(|s| !s.is_empty());
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
    let ids: std::collections::HashSet<String> = entries.iter().map(|e| e.id.clone()).collect();
    let story_of: HashMap<String, usize> = group(entries)
        .into_iter()
        .enumerate()
        .flat_map(|(n, s)| s.into_iter().map(move |id| (id, n)))
        .collect();
    for (line, v) in lines(pairs)? {
        let v = v?;
        let (a, b) = (str_field(&v, "a"), str_field(&v, "b"));
        for id in [a, b] {
            if !ids.contains(id) {
                return Err(
                    anyhow::anyhow!("{}:{line}: item '{id}' is not in {}", pairs.display(), items.display()).into(),
                );
            }
        }
        // As the daemon: one story when grouping the whole stream put
        // both items in it.
        let same = story_of.contains_key(a) && story_of.get(a) == story_of.get(b);
        writeln!(out, "{}", serde_json::json!({"a": a, "b": b, "same": same})).or_else(quiet_on_broken_pipe)?;
    }
    Ok(())
}
