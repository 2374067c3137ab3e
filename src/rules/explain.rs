//! Explaining matches and misses: the terms that matched and where, a
//! snippet around them, and for an item no rule matched, the rule that
//! came closest and what it lacked. Pure.

use serde::Serialize;

use super::compile::{CompiledWatchlist, Severity};
use super::query::{Field, Node};
use super::verify::{self as eval, Document};

/// A matched term: the term as written in the rule, the field, the matched
/// text and where it sits in the field (character offsets, end exclusive).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TermHit {
    pub term: String,
    pub field: Field,
    pub text: String,
    pub start: usize,
    pub end: usize,
}

impl Serialize for Field {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// Why an item matched a watchlist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WatchlistMatch {
    pub watchlist: String,
    pub version: String,
    pub severity: Severity,
    pub rules: Vec<String>,
    pub terms: Vec<TermHit>,
    pub snippet: String,
}

/// How near a rule came to matching an item that it did not match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearMiss {
    pub watchlist: String,
    pub rule: String,
    /// Clauses of the rule's top-level AND that matched, and how many it has.
    pub satisfied: usize,
    pub clauses: usize,
    /// The clauses that did not match, as query text.
    pub missing: Vec<String>,
    /// An exclusion that matched, when the rule itself did.
    pub excluded_by: Option<String>,
}

/// For an item no watchlist matched: the rule of `watchlists` that came
/// closest (most of its top-level AND clauses satisfied), with what it
/// lacked.
pub fn closest_miss(watchlists: &[CompiledWatchlist], doc: &Document<'_>) -> Option<NearMiss> {
    let mut best: Option<NearMiss> = None;
    {
        for wl in watchlists {
            for rule in &wl.rules {
                let clauses: Vec<&Node> = match &rule.node {
                    Node::And(items) => items.iter().collect(),
                    other => vec![other],
                };
                let mut missing = Vec::new();
                for c in &clauses {
                    if !eval::test(c, doc, None) {
                        missing.push(c.to_string());
                    }
                }
                let satisfied = clauses.len() - missing.len();
                let excluded_by = if missing.is_empty() {
                    wl.exclude
                        .iter()
                        .find(|x| eval::test(x, doc, None))
                        .map(|x| x.to_string())
                } else {
                    None
                };
                let candidate = NearMiss {
                    watchlist: wl.name.clone(),
                    rule: rule.id.clone(),
                    satisfied,
                    clauses: clauses.len(),
                    missing,
                    excluded_by,
                };
                let score = |m: &NearMiss| (m.satisfied * 1000) / m.clauses.max(1);
                if best.as_ref().is_none_or(|b| score(&candidate) > score(b)) {
                    best = Some(candidate);
                }
            }
        }
        best
    }
}

/// About this many characters of context on each side of a hit.
const SNIPPET_CONTEXT: usize = 80;

/// A short extract of `text` around the byte range `start..end`, cut at
/// character boundaries, with an ellipsis where it was cut.
pub fn snippet(text: &str, start: usize, end: usize) -> String {
    let before: Vec<(usize, char)> = text[..start].char_indices().rev().take(SNIPPET_CONTEXT).collect();
    let from = before.last().map_or(start, |(i, _)| *i);
    let to = text[end..]
        .char_indices()
        .nth(SNIPPET_CONTEXT)
        .map_or(text.len(), |(i, _)| end + i);
    let mut s = String::new();
    if from > 0 {
        s.push('…');
    }
    s.push_str(text[from..to].trim());
    if to < text.len() {
        s.push('…');
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
