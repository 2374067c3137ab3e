//! The presearch, after Lucene Monitor's presearcher: every rule is reduced
//! to sets of literal words of which one must occur in an item for the
//! rule to match; one Aho-Corasick pass over the item's normalized text
//! finds the rules worth evaluating. A quicker test on raw ASCII text
//! turns most items away before they are normalized. Pure.

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Anchored, MatchKind};

use super::query::{self, Node, Pat};

/// Literal patterns, searched in the space-delimited normalized text, of
/// which at least one occurs whenever the node matches. `None`: no such set
/// (the node must always be evaluated).
pub(super) fn required_literals(node: &Node) -> Option<Vec<String>> {
    match node {
        Node::Seq { pats, .. } => {
            if pats.iter().all(|p| matches!(p, Pat::Exact(_))) {
                let words: Vec<&str> = pats
                    .iter()
                    .filter_map(|p| match p {
                        Pat::Exact(w) => Some(w.as_str()),
                        _ => None,
                    })
                    .collect();
                return Some(vec![format!(" {} ", words.join(" "))]);
            }
            let best = pats
                .iter()
                .filter_map(|p| match p {
                    Pat::Exact(w) => Some(format!(" {w} ")),
                    Pat::Prefix(w) => Some(format!(" {w}")),
                    Pat::Fuzzy(_) => None,
                })
                .max_by_key(|s| s.len());
            if let Some(b) = best {
                return Some(vec![b]);
            }
            pats.iter().find_map(|p| match p {
                Pat::Fuzzy(w) => Some(fuzzy_halves(w).to_vec()),
                _ => None,
            })
        }
        Node::Regex { .. } | Node::Not(_) => None,
        Node::Or(items) => {
            let mut all = Vec::new();
            for i in items {
                all.extend(required_literals(i)?);
            }
            Some(all)
        }
        Node::And(items) => best_of(items.iter()),
        Node::Near { a, b, .. } => best_of([a.as_ref(), b.as_ref()].into_iter()),
    }
}

/// Most clauses kept per rule (one bit each in a `u64`).
const MAX_CLAUSES: usize = 64;

/// Literal sets that each have a member in the text whenever the node
/// matches: one set per operand of an AND or NEAR, recursively, so a rule
/// like `(Ukraine OR Zelensky) AND (talks OR meeting)` is a candidate only
/// when both sides have a literal in the text. Sorted from the most
/// selective set; empty when nothing is required.
pub(super) fn required_clauses(node: &Node) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    collect_clauses(node, &mut out);
    for c in &mut out {
        c.sort();
        c.dedup();
    }
    out.sort();
    out.dedup();
    out.sort_by(|a, b| literal_cost(a).total_cmp(&literal_cost(b)));
    out.truncate(MAX_CLAUSES);
    out
}

fn collect_clauses(node: &Node, out: &mut Vec<Vec<String>>) {
    match node {
        Node::And(items) => items.iter().for_each(|n| collect_clauses(n, out)),
        Node::Near { a, b, .. } => {
            collect_clauses(a, out);
            collect_clauses(b, out);
        }
        _ => out.extend(required_literals(node)),
    }
}

/// Literals of which one occurs whenever a word within one edit of `w`
/// does: one edit leaves either the first half of the word (a prefix) or the
/// second half (a suffix) intact.
pub(super) fn fuzzy_halves(w: &str) -> [String; 2] {
    let half = w.chars().count() / 2;
    let cut = w.char_indices().nth(half).map_or(w.len(), |(i, _)| i);
    [format!(" {}", &w[..cut]), format!("{} ", &w[cut..])]
}

/// The most selective literal set among nodes that must all match. Short
/// patterns occur in more texts: a set costs the sum over its patterns of
/// 1/len³ (len in characters, spaces aside), and the cheapest set wins.
fn best_of<'a>(nodes: impl Iterator<Item = &'a Node>) -> Option<Vec<String>> {
    nodes
        .filter_map(required_literals)
        .min_by(|a, b| literal_cost(a).total_cmp(&literal_cost(b)))
}

fn literal_cost(set: &[String]) -> f64 {
    set.iter()
        .map(|p| {
            let len = p.chars().filter(|c| *c != ' ').count().max(1) as f64;
            1.0 / (len * len * len)
        })
        .sum()
}

/// The literal that finds a leaf in the space-delimited normalized text,
/// and whether finding it is the same as the leaf matching (`true`), or only
/// a precondition (`false`). A fuzzy term alone has two literals (its
/// halves); see [`required_literals`].
pub(super) fn leaf_literal(pats: &[Pat]) -> Option<(String, bool)> {
    let n = pats.len();
    fn exact_words(ps: &[Pat]) -> Option<Vec<&str>> {
        ps.iter()
            .map(|p| match p {
                Pat::Exact(w) => Some(w.as_str()),
                _ => None,
            })
            .collect()
    }
    if let Some(words) = exact_words(pats) {
        return Some((format!(" {} ", words.join(" ")), true));
    }
    if let (Some(Pat::Prefix(last)), Some(words)) = (pats.last(), exact_words(&pats[..n - 1])) {
        let mut lit = String::from(" ");
        for w in words {
            lit.push_str(w);
            lit.push(' ');
        }
        lit.push_str(last);
        return Some((lit, true));
    }
    pats.iter()
        .filter_map(|p| match p {
            Pat::Exact(w) => Some(format!(" {w} ")),
            Pat::Prefix(w) => Some(format!(" {w}")),
            Pat::Fuzzy(_) => None,
        })
        .max_by_key(String::len)
        .map(|l| (l, false))
}

/// The literals of a matcher, searched for in one Aho-Corasick pass.
#[derive(Default)]
pub(super) struct Literals {
    pub(super) index: HashMap<String, u32>,
    pub(super) patterns: Vec<String>,
    /// For each literal, the rules (global numbers) it is a candidate key
    /// for, with the bits of the rule's clauses it belongs to.
    pub(super) rules: Vec<Vec<(u32, u64)>>,
    /// For each literal, the fields it is looked for in (bit `i` for the
    /// field of index `i`): the union over the leaves and rules that use
    /// it. An occurrence elsewhere answers no question and is not kept.
    pub(super) fields: Vec<u8>,
}

impl Literals {
    /// The literal's number, looked for in the fields of `fields` (besides
    /// those it is already looked for in).
    pub(super) fn intern(&mut self, lit: String, fields: u8) -> u32 {
        if let Some(&id) = self.index.get(&lit) {
            self.fields[id as usize] |= fields;
            return id;
        }
        let id = self.patterns.len() as u32;
        self.index.insert(lit.clone(), id);
        self.patterns.push(lit);
        self.rules.push(Vec::new());
        self.fields.push(fields);
        id
    }

    /// Gives every leaf under `node` its literal.
    pub(super) fn assign(&mut self, node: &mut Node) {
        match node {
            Node::Seq { pats, lit, fields, .. } => {
                let fields = fields.mask();
                if let Some((l, exact)) = leaf_literal(pats) {
                    *lit = query::Lit {
                        id: self.intern(l, fields),
                        alt: u32::MAX,
                        exact,
                    };
                } else if let [Pat::Fuzzy(w)] = pats.as_slice() {
                    let [first, second] = fuzzy_halves(w);
                    *lit = query::Lit {
                        id: self.intern(first, fields),
                        alt: self.intern(second, fields),
                        exact: false,
                    };
                }
            }
            Node::Regex { .. } => {}
            Node::And(items) | Node::Or(items) => items.iter_mut().for_each(|n| self.assign(n)),
            Node::Not(n) => self.assign(n),
            Node::Near { a, b, .. } => {
                self.assign(a);
                self.assign(b);
            }
        }
    }
}

/// The largest literal DFA built. The matcher cuts a larger set of
/// literals into several DFAs (each one more pass over the text) before it
/// falls back to the contiguous NFA, which made the matcher bench's stream
/// 1.4 times as slow. The shipped watchlist needs 7.7 MB for its 2,270
/// literals looked for in any field and 2.2 MB for the 660 looked for in
/// titles only (December 2026).
pub(super) const DFA_MAX_BYTES: usize = 8 * 1024 * 1024;

/// Finds every occurrence of every literal (overlapping) in one pass.
#[derive(Debug, Clone)]
pub(super) enum Searcher {
    /// The usual case: a DFA driven byte by byte here, which is several
    /// times cheaper per byte than the generic overlapping iterator.
    Dfa(Box<aho_corasick::dfa::DFA>, StateID),
    /// When the DFA would be too large.
    Nfa(AhoCorasick),
}

impl Searcher {
    /// A searcher for `patterns`, ignoring ASCII case when `ascii_case`: a
    /// DFA when it fits in [`DFA_MAX_BYTES`], else the NFA.
    pub(super) fn build<P: AsRef<[u8]>>(patterns: &[P], ascii_case: bool) -> Option<Searcher> {
        if patterns.is_empty() {
            return None;
        }
        Searcher::dfa(patterns, ascii_case, DFA_MAX_BYTES).or_else(|| Searcher::nfa(patterns, ascii_case))
    }

    /// A DFA for `patterns`, if it takes at most `max_bytes`: past a few
    /// MiB the table costs memory in a daemon that must stay small, and
    /// stops fitting in cache.
    pub(super) fn dfa<P: AsRef<[u8]>>(patterns: &[P], ascii_case: bool, max_bytes: usize) -> Option<Searcher> {
        // No prefilter: every literal starts at a space, so it would stop at
        // every word, and it makes the start state special in the loop.
        aho_corasick::dfa::Builder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(ascii_case)
            .prefilter(false)
            .build(patterns)
            .ok()
            .filter(|d| d.memory_usage() <= max_bytes)
            .and_then(|d| d.start_state(Anchored::No).ok().map(|s| Searcher::Dfa(Box::new(d), s)))
    }

    /// The contiguous NFA for `patterns`: smaller than the DFA, slower.
    pub(super) fn nfa<P: AsRef<[u8]>>(patterns: &[P], ascii_case: bool) -> Option<Searcher> {
        AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(ascii_case)
            .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
            .build(patterns)
            .ok()
            .map(Searcher::Nfa)
    }

    /// Calls `each(literal, start)` for every occurrence in `text`.
    pub(super) fn for_each(&self, text: &[u8], mut each: impl FnMut(usize, usize)) {
        self.until(text, |p, start| {
            each(p, start);
            false
        });
    }

    /// Calls `each(literal, start)` for the occurrences in `text` until it
    /// returns `true`; returns whether it did.
    pub(super) fn until(&self, text: &[u8], mut each: impl FnMut(usize, usize) -> bool) -> bool {
        match self {
            Searcher::Dfa(dfa, start) => {
                let mut sid = *start;
                for (at, &byte) in text.iter().enumerate() {
                    sid = dfa.next_state(Anchored::No, sid, byte);
                    if dfa.is_special(sid) && dfa.is_match(sid) {
                        for k in 0..dfa.match_len(sid) {
                            let pid = dfa.match_pattern(sid, k);
                            if each(pid.as_usize(), at + 1 - dfa.pattern_len(pid)) {
                                return true;
                            }
                        }
                    }
                }
                false
            }
            Searcher::Nfa(ac) => ac
                .find_overlapping_iter(text)
                .any(|m| each(m.pattern().as_usize(), m.start())),
        }
    }
}

/// True when every letter and digit of `t` is ASCII: beyond ASCII it holds
/// only general punctuation (U+2000-U+206F: curly quotes, dashes, spaces),
/// which normalization turns into word breaks like ASCII punctuation.
pub(super) fn ascii_words(t: &str) -> bool {
    let b = t.as_bytes();
    if b.is_ascii() {
        return true;
    }
    let mut i = 0;
    while i < b.len() {
        if b[i] < 0x80 {
            i += 1;
            continue;
        }
        // E2 80 xx is U+2000-U+203F; E2 81 80-AF is U+2040-U+206F.
        let general = b[i] == 0xe2
            && match b.get(i + 1) {
                Some(0x80) => true,
                Some(0x81) => b.get(i + 2).is_some_and(|x| *x < 0xb0),
                _ => false,
            };
        if !general {
            return false;
        }
        i += 3;
    }
    true
}

/// Pieces of the rules' literals to look for in raw text whose words are
/// ASCII ([`ascii_words`]): a literal found in the normalized text of such a
/// field has each of its words in the raw text, whatever the case
/// (normalizing it only lower-cases letters and digits and turns everything
/// else into single spaces). A rule stays a candidate only when each of its
/// clauses has a key in the text.
#[derive(Debug, Clone)]
pub(super) struct RawTest {
    /// The longest word of each literal that makes a rule a candidate, the
    /// ASCII ones (others cannot occur in ASCII text), any case; `None`
    /// when there are none.
    pub(super) keys: Option<Searcher>,
    /// (global rule number, clause bits) of the literals behind each key.
    pub(super) key_rules: Vec<Vec<(u32, u64)>>,
}

impl RawTest {
    /// `None` when some rule needs no literal (`need` 0): it could match
    /// any text.
    pub(super) fn build(patterns: &[String], rules: &[Vec<(u32, u64)>], need: &[u64]) -> Option<RawTest> {
        if need.contains(&0) {
            return None;
        }
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut keys = Vec::new();
        let mut key_rules: Vec<Vec<(u32, u64)>> = Vec::new();
        for (p, r) in patterns.iter().zip(rules) {
            if r.is_empty() {
                continue;
            }
            let word = p.split(' ').max_by_key(|w| w.len()).filter(|w| !w.is_empty())?;
            if !word.is_ascii() {
                continue;
            }
            let k = *index.entry(word).or_insert_with(|| {
                keys.push(word);
                key_rules.push(Vec::new());
                keys.len() - 1
            });
            key_rules[k].extend_from_slice(r);
        }
        for kr in &mut key_rules {
            kr.sort_unstable_by_key(|(r, _)| *r);
            kr.dedup_by(|a, b| {
                let same = a.0 == b.0;
                if same {
                    b.1 |= a.1;
                }
                same
            });
        }
        if keys.is_empty() {
            return Some(RawTest { keys: None, key_rules });
        }
        Some(RawTest {
            keys: Some(Searcher::build(&keys, true)?),
            key_rules,
        })
    }
}

pub(super) fn fields_of(node: &Node) -> u8 {
    match node {
        Node::Seq { fields, .. } | Node::Regex { fields, .. } => fields.mask(),
        Node::And(items) | Node::Or(items) => items.iter().fold(0, |m, n| m | fields_of(n)),
        Node::Not(n) => fields_of(n),
        Node::Near { a, b, .. } => fields_of(a) | fields_of(b),
    }
}

pub(super) fn clear_literals(node: &mut Node) {
    match node {
        Node::Seq { lit, .. } => *lit = query::Lit::NONE,
        Node::Regex { .. } => {}
        Node::And(items) | Node::Or(items) => items.iter_mut().for_each(clear_literals),
        Node::Not(n) => clear_literals(n),
        Node::Near { a, b, .. } => {
            clear_literals(a);
            clear_literals(b);
        }
    }
}
