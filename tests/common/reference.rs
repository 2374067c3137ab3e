//! A straightforward reference evaluator for watchlist queries: every leaf
//! is looked for word by word in every field, NEAR compares every pair of
//! positions. No presearch, no raw test, no literals, no word index: what
//! the matcher must agree with. Shared by the property tests and the
//! match fuzz target.

use newshound::rules::{CompiledWatchlist, DocFields, Field, Node, Pat};
use newshound::text;

/// An item's fields as the reference sees them: the original text (for
/// regexes) and the normalized words.
pub struct RefDoc {
    texts: Vec<String>,
    words: Vec<Vec<String>>,
}

impl RefDoc {
    pub fn new(f: &DocFields<'_>) -> RefDoc {
        let texts: Vec<String> = Field::ALL
            .iter()
            .map(|field| match field {
                Field::Title => f.title.to_string(),
                Field::Summary => f.summary.to_string(),
                Field::Content => f.content.to_string(),
                Field::Link => f.link.to_string(),
                Field::Source => f.source.to_string(),
                Field::Lang => f.lang.to_string(),
                Field::Tag => f.tags.join(" | "),
            })
            .collect();
        let words = texts.iter().map(|t| text::words(t)).collect();
        RefDoc { texts, words }
    }
}

fn pat_matches(p: &Pat, word: &str) -> bool {
    match p {
        Pat::Exact(w) => w == word,
        Pat::Prefix(w) => word.starts_with(w.as_str()),
        Pat::Fuzzy(w) => within_one_edit(w, word),
    }
}

/// Levenshtein distance at most one, on characters, written the long way.
fn within_one_edit(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()] <= 1
}

/// Every place (field, first word, end word) where a positional node
/// matches.
fn positions(node: &Node, d: &RefDoc) -> Vec<(usize, usize, usize)> {
    match node {
        Node::Seq { fields, pats, .. } => {
            let mut out = Vec::new();
            for f in fields.iter() {
                let w = &d.words[f.index()];
                let k = pats.len();
                for i in 0..w.len() {
                    if i + k <= w.len() && pats.iter().enumerate().all(|(j, p)| pat_matches(p, &w[i + j])) {
                        out.push((f.index(), i, i + k));
                    }
                }
            }
            out
        }
        Node::Or(items) => items.iter().flat_map(|n| positions(n, d)).collect(),
        Node::Near { a, b, n, ordered } => {
            let mut out = Vec::new();
            for x in positions(a, d) {
                for y in positions(b, d) {
                    if x.0 != y.0 {
                        continue;
                    }
                    let gap = if x.2 <= y.1 {
                        Some(y.1 - x.2)
                    } else if y.2 <= x.1 && !ordered {
                        Some(x.1 - y.2)
                    } else {
                        None
                    };
                    if gap.is_some_and(|g| g <= *n as usize) {
                        out.push((x.0, x.1.min(y.1), x.2.max(y.2)));
                    }
                }
            }
            out
        }
        Node::Regex { .. } | Node::And(_) | Node::Not(_) => Vec::new(),
    }
}

/// True when `node` matches the document.
pub fn matches(node: &Node, d: &RefDoc) -> bool {
    match node {
        Node::Seq { .. } | Node::Near { .. } => !positions(node, d).is_empty(),
        Node::Regex { fields, re, .. } => fields.iter().any(|f| re.is_match(&d.texts[f.index()])),
        Node::And(items) => items.iter().all(|n| matches(n, d)),
        Node::Or(items) => items.iter().any(|n| matches(n, d)),
        Node::Not(inner) => !matches(inner, d),
    }
}

/// The ids of the rules of `wl` that match, in order, or none when an
/// exclusion matches: what the matcher must report for the watchlist.
pub fn watchlist_rules(wl: &CompiledWatchlist, d: &RefDoc) -> Vec<String> {
    let rules: Vec<String> = wl
        .rules
        .iter()
        .filter(|r| matches(&r.node, d))
        .map(|r| r.id.clone())
        .collect();
    if rules.is_empty() || wl.exclude.iter().any(|x| matches(x, d)) {
        return Vec::new();
    }
    rules
}
