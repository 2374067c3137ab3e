//! Every real-world feed document under `../shared/corpus/feeds-wild/` goes
//! through parsing and normalization without a panic: it parses, or it is
//! rejected with a clean error. Skipped with a message when the corpus is
//! absent.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

#[test]
fn every_wild_feed_parses_or_fails_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/feeds-wild");
    if !root.is_dir() {
        eprintln!("skipped: {} is absent", root.display());
        return;
    }
    let mut all = Vec::new();
    files(&root, &mut all);
    all.sort();
    let docs: Vec<PathBuf> = all
        .into_iter()
        .filter(|p| {
            !matches!(
                p.file_name().and_then(|n| n.to_str()),
                Some("SOURCES.md" | "LICENSE" | "README.md")
            )
        })
        .collect();
    assert!(docs.len() > 1000, "corpus looks incomplete: {} files", docs.len());
    let mut parsed = 0usize;
    let mut items = 0usize;
    let mut rejected: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut panicked = Vec::new();
    for p in &docs {
        let body = std::fs::read(p).unwrap();
        let result =
            std::panic::catch_unwind(|| newshound::feed::parse(&body, "https://feeds.example/feed.xml", None, None));
        match result {
            Ok(Ok(f)) => {
                parsed += 1;
                items += f.items.len();
                for it in &f.items {
                    // Normalized text never carries markup delimiters of a
                    // tag or raw control characters.
                    assert!(!it.key.is_empty(), "{}: item without identity", p.display());
                    assert!(!it.title.contains('\u{0}'), "{}", p.display());
                    assert!(it.title.trim() == it.title, "{}: untrimmed title", p.display());
                }
            }
            Ok(Err(e)) => *rejected.entry(e.kind().as_str()).or_default() += 1,
            Err(_) => panicked.push(p.clone()),
        }
    }
    let total_rejected: usize = rejected.values().sum();
    println!(
        "feeds-wild: {} documents, {parsed} parsed ({items} items), {total_rejected} rejected cleanly {rejected:?}, {} panicked",
        docs.len(),
        panicked.len()
    );
    assert!(panicked.is_empty(), "panicked on: {panicked:#?}");
    assert_eq!(parsed + total_rejected, docs.len());
}
