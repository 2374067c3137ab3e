//! Watchlists: compiles rule queries into one matcher, matches documents and
//! explains every match. Pure: no I/O (the `config` module reads the files).
//!
//! Matching runs in two steps, after Lucene Monitor's presearcher: every rule
//! is reduced to a set of literal words of which at least one must occur in
//! the item; one Aho-Corasick pass over the item's normalized text finds the
//! rules whose literals occur, and only those rules are evaluated in full.

pub mod eval;
pub mod query;

use std::collections::HashMap;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{AhoCorasick, AhoCorasickBuilder, Anchored, MatchKind};
use serde::Serialize;

use crate::feed::Item;

pub use eval::{DocFields, Document, RawHit};
pub use query::{Aliases, Field, FieldSet, Node, Pat, QueryError};

/// How urgent a watchlist's (or rule's) alerts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// One rule of a watchlist, as written.
#[derive(Debug, Clone)]
pub struct RuleDef {
    pub id: String,
    pub query: String,
    pub severity: Option<Severity>,
}

/// A watchlist as written, already checked for its shape by `config`.
#[derive(Debug, Clone, Default)]
pub struct WatchlistDef {
    pub name: String,
    pub description: String,
    pub severity: Severity,
    pub sinks: Vec<String>,
    pub rules: Vec<RuleDef>,
    pub exclude: Vec<String>,
    /// Aliases defined in the watchlist itself; they take precedence over
    /// shared ones of the same name.
    pub aliases: Vec<(String, Vec<String>)>,
    /// A hash of everything the watchlist was compiled from.
    pub version: String,
}

/// Where in a watchlist a query error sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Rule(usize),
    Exclude(usize),
    Alias { name: String, entry: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub location: Location,
    pub error: QueryError,
}

/// Parses alias definitions on top of `base` (aliases already known). Each
/// entry is a query of its own (a term, a phrase, a prefix, another
/// `@alias`...); the alias matches when any entry does. Aliases may refer to
/// each other in any order, but not in a cycle. Returns every alias that
/// compiled (with `base`) and the errors of the others.
pub fn compile_aliases(defs: &[(String, Vec<String>)], base: &Aliases) -> (Aliases, Vec<CompileError>) {
    let mut known = base.clone();
    let mut pending: Vec<&(String, Vec<String>)> = defs.iter().collect();
    let mut errors = Vec::new();
    loop {
        let mut progress = false;
        let mut waiting = Vec::new();
        for def in pending {
            let (name, entries) = def;
            let parsed: Vec<Result<Node, QueryError>> = entries.iter().map(|e| query::parse(e, &known)).collect();
            let blocked = parsed.iter().any(|r| match r {
                Err(e) => defs
                    .iter()
                    .any(|(n, _)| n != name && e.message == format!("unknown alias '@{n}'") && !known.contains_key(n)),
                Ok(_) => false,
            });
            if blocked {
                waiting.push(def);
                continue;
            }
            progress = true;
            let mut nodes = Vec::new();
            for (i, r) in parsed.into_iter().enumerate() {
                match r {
                    Ok(n) => nodes.push(n),
                    Err(error) => errors.push(CompileError {
                        location: Location::Alias {
                            name: name.clone(),
                            entry: i,
                        },
                        error,
                    }),
                }
            }
            let node = if nodes.len() == 1 {
                nodes.remove(0)
            } else {
                Node::Or(nodes)
            };
            known.insert(name.clone(), node);
        }
        pending = waiting;
        if pending.is_empty() || !progress {
            break;
        }
    }
    // What is left refers, directly or not, to itself.
    for (name, entries) in pending {
        errors.push(CompileError {
            location: Location::Alias {
                name: name.clone(),
                entry: 0,
            },
            error: QueryError {
                offset: 0,
                len: entries.first().map_or(1, String::len),
                message: format!("alias '@{name}' refers to itself through other aliases"),
            },
        });
    }
    (known, errors)
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: String,
    pub severity: Option<Severity>,
    pub node: Node,
}

#[derive(Debug, Clone)]
pub struct CompiledWatchlist {
    pub name: String,
    pub description: String,
    pub severity: Severity,
    pub sinks: Vec<String>,
    pub version: String,
    pub rules: Vec<CompiledRule>,
    pub exclude: Vec<Node>,
}

/// Compiles a watchlist against the shared aliases. Every error is reported,
/// not only the first.
pub fn compile_watchlist(def: &WatchlistDef, shared: &Aliases) -> Result<CompiledWatchlist, Vec<CompileError>> {
    let (aliases, mut errors) = compile_aliases(&def.aliases, shared);
    let mut rules = Vec::new();
    for (i, r) in def.rules.iter().enumerate() {
        match query::parse(&r.query, &aliases) {
            Ok(node) => rules.push(CompiledRule {
                id: r.id.clone(),
                severity: r.severity,
                node,
            }),
            Err(error) => errors.push(CompileError {
                location: Location::Rule(i),
                error,
            }),
        }
    }
    let mut exclude = Vec::new();
    for (i, q) in def.exclude.iter().enumerate() {
        match query::parse(q, &aliases) {
            Ok(node) => exclude.push(node),
            Err(error) => errors.push(CompileError {
                location: Location::Exclude(i),
                error,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CompiledWatchlist {
        name: def.name.clone(),
        description: def.description.clone(),
        severity: def.severity,
        sinks: def.sinks.clone(),
        version: def.version.clone(),
        rules,
        exclude,
    })
}

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

/// Literal patterns, searched in the space-delimited normalized text, of
/// which at least one occurs whenever the node matches. `None`: no such set
/// (the node must always be evaluated).
fn required_literals(node: &Node) -> Option<Vec<String>> {
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
fn required_clauses(node: &Node) -> Vec<Vec<String>> {
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
fn fuzzy_halves(w: &str) -> [String; 2] {
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
fn leaf_literal(pats: &[Pat]) -> Option<(String, bool)> {
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
struct Literals {
    index: HashMap<String, u32>,
    patterns: Vec<String>,
    /// For each literal, the rules (global numbers) it is a candidate key
    /// for, with the bits of the rule's clauses it belongs to.
    rules: Vec<Vec<(u32, u64)>>,
}

impl Literals {
    fn intern(&mut self, lit: String) -> u32 {
        if let Some(&id) = self.index.get(&lit) {
            return id;
        }
        let id = self.patterns.len() as u32;
        self.index.insert(lit.clone(), id);
        self.patterns.push(lit);
        self.rules.push(Vec::new());
        id
    }

    /// Gives every leaf under `node` its literal.
    fn assign(&mut self, node: &mut Node) {
        match node {
            Node::Seq { pats, lit, .. } => {
                if let Some((l, exact)) = leaf_literal(pats) {
                    *lit = query::Lit {
                        id: self.intern(l),
                        alt: u32::MAX,
                        exact,
                    };
                } else if let [Pat::Fuzzy(w)] = pats.as_slice() {
                    let [first, second] = fuzzy_halves(w);
                    *lit = query::Lit {
                        id: self.intern(first),
                        alt: self.intern(second),
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

/// The largest literal DFA built; past it the contiguous NFA is used.
const DFA_MAX_BYTES: usize = 4 * 1024 * 1024;

/// Finds every occurrence of every literal (overlapping) in one pass.
#[derive(Debug, Clone)]
enum Searcher {
    /// The usual case: a DFA driven byte by byte here, which is several
    /// times cheaper per byte than the generic overlapping iterator.
    Dfa(Box<aho_corasick::dfa::DFA>, StateID),
    /// When the DFA would be too large.
    Nfa(AhoCorasick),
}

impl Searcher {
    /// A searcher for `patterns`, ignoring ASCII case when `ascii_case`.
    fn build<P: AsRef<[u8]>>(patterns: &[P], ascii_case: bool) -> Option<Searcher> {
        if patterns.is_empty() {
            return None;
        }
        // No prefilter: every literal starts at a space, so it would stop at
        // every word, and it makes the start state special in the loop.
        let dfa = aho_corasick::dfa::Builder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(ascii_case)
            .prefilter(false)
            .build(patterns)
            .ok()
            // Past a few MiB the table stops fitting in cache and costs
            // memory in a daemon that must stay small: the compact NFA is as
            // fast then.
            .filter(|d| d.memory_usage() <= DFA_MAX_BYTES)
            .and_then(|d| d.start_state(Anchored::No).ok().map(|s| Searcher::Dfa(Box::new(d), s)));
        dfa.or_else(|| {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .ascii_case_insensitive(ascii_case)
                .kind(Some(aho_corasick::AhoCorasickKind::ContiguousNFA))
                .build(patterns)
                .ok()
                .map(Searcher::Nfa)
        })
    }

    /// Calls `each(literal, start)` for every occurrence in `text`.
    fn for_each(&self, text: &[u8], mut each: impl FnMut(usize, usize)) {
        self.until(text, |p, start| {
            each(p, start);
            false
        });
    }

    /// Calls `each(literal, start)` for the occurrences in `text` until it
    /// returns `true`; returns whether it did.
    fn until(&self, text: &[u8], mut each: impl FnMut(usize, usize) -> bool) -> bool {
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

/// All watchlists compiled into one matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    watchlists: Vec<CompiledWatchlist>,
    /// (watchlist, rule) of every rule, by global rule number.
    rule_loc: Vec<(u32, u32)>,
    searcher: Option<Searcher>,
    /// (global rule number, clause bits), by literal number.
    pattern_rules: Vec<Vec<(u32, u64)>>,
    /// The clause bits each rule needs all of to be a candidate, by global
    /// rule number: 0 for a rule with no required literals, which is
    /// always evaluated.
    need: Vec<u64>,
    /// The fields any rule or exclusion looks at (bit mask).
    fields_used: u8,
    /// The quick test on raw text, when it can be made (see
    /// [`Matcher::may_match`]).
    raw_test: Option<RawTest>,
}

/// True when every letter and digit of `t` is ASCII: beyond ASCII it holds
/// only general punctuation (U+2000-U+206F: curly quotes, dashes, spaces),
/// which normalization turns into word breaks like ASCII punctuation.
fn ascii_words(t: &str) -> bool {
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
struct RawTest {
    /// The longest word of each literal that makes a rule a candidate, the
    /// ASCII ones (others cannot occur in ASCII text), any case; `None`
    /// when there are none.
    keys: Option<Searcher>,
    /// (global rule number, clause bits) of the literals behind each key.
    key_rules: Vec<Vec<(u32, u64)>>,
}

impl RawTest {
    /// `None` when some rule needs no literal (`need` 0): it could match
    /// any text.
    fn build(patterns: &[String], rules: &[Vec<(u32, u64)>], need: &[u64]) -> Option<RawTest> {
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

fn fields_of(node: &Node) -> u8 {
    match node {
        Node::Seq { fields, .. } | Node::Regex { fields, .. } => fields.mask(),
        Node::And(items) | Node::Or(items) => items.iter().fold(0, |m, n| m | fields_of(n)),
        Node::Not(n) => fields_of(n),
        Node::Near { a, b, .. } => fields_of(a) | fields_of(b),
    }
}

impl Matcher {
    pub fn new(mut watchlists: Vec<CompiledWatchlist>) -> Matcher {
        let mut lits = Literals::default();
        let mut rule_loc = Vec::new();
        let mut need = Vec::new();
        for (w, wl) in watchlists.iter_mut().enumerate() {
            for x in &mut wl.exclude {
                lits.assign(x);
            }
            for (r, rule) in wl.rules.iter_mut().enumerate() {
                let global = rule_loc.len() as u32;
                rule_loc.push((w as u32, r as u32));
                lits.assign(&mut rule.node);
                let clauses = required_clauses(&rule.node);
                if clauses.is_empty() {
                    need.push(0);
                    continue;
                }
                need.push(u64::MAX >> (64 - clauses.len()));
                for (c, set) in clauses.into_iter().enumerate() {
                    for l in set {
                        let id = lits.intern(l) as usize;
                        match lits.rules[id].last_mut() {
                            Some((r, bits)) if *r == global => *bits |= 1 << c,
                            _ => lits.rules[id].push((global, 1 << c)),
                        }
                    }
                }
            }
        }
        let searcher = Searcher::build(&lits.patterns, false);
        if searcher.is_none() && !lits.patterns.is_empty() {
            // Building can only fail on absurd sizes: evaluate every rule the
            // slow way rather than miss any.
            need = vec![0; rule_loc.len()];
            for wl in &mut watchlists {
                for x in &mut wl.exclude {
                    clear_literals(x);
                }
                for r in &mut wl.rules {
                    clear_literals(&mut r.node);
                }
            }
        }
        let fields_used = watchlists
            .iter()
            .flat_map(|w| w.rules.iter().map(|r| &r.node).chain(w.exclude.iter()))
            .fold(0, |m, n| m | fields_of(n));
        let raw_test = RawTest::build(&lits.patterns, &lits.rules, &need);
        Matcher {
            watchlists,
            rule_loc,
            searcher,
            pattern_rules: lits.rules,
            need,
            fields_used,
            raw_test,
        }
    }

    /// A quick test on an item's raw fields, before normalizing them:
    /// `false` when no rule can match (the words of every field a rule
    /// reads are ASCII, and for every rule some clause has no key word in
    /// them).
    /// Most items of a news stream are settled here for a fraction of the
    /// cost of normalizing them.
    pub fn may_match(&self, f: &DocFields<'_>) -> bool {
        let Some(test) = &self.raw_test else {
            return true;
        };
        let texts = [f.title, f.summary, f.content, f.link, f.source, f.lang];
        let tags: &[String] = if self.uses_field(Field::Tag) { f.tags } else { &[] };
        let used = || {
            Field::ALL
                .into_iter()
                .filter(|field| *field != Field::Tag && self.uses_field(*field))
                .map(|field| texts[field.index()])
                .chain(tags.iter().map(String::as_str))
        };
        if !used().all(ascii_words) {
            return true;
        }
        let Some(keys) = &test.keys else {
            return false;
        };
        let mut seen = vec![false; test.key_rules.len()];
        let mut have = vec![0u64; self.need.len()];
        // Stops at the first rule whose clauses all have a key.
        used().any(|t| {
            keys.until(t.as_bytes(), |k, _| {
                if seen[k] {
                    return false;
                }
                seen[k] = true;
                test.key_rules[k].iter().any(|&(r, bits)| {
                    let h = &mut have[r as usize];
                    *h |= bits;
                    *h == self.need[r as usize]
                })
            })
        })
    }

    /// Matches an item's fields: the quick raw test first, then the
    /// normalized document through the presearch.
    pub fn match_fields(&self, f: DocFields<'_>) -> Vec<WatchlistMatch> {
        if !self.may_match(&f) {
            return Vec::new();
        }
        self.match_document(&self.document(f))
    }

    /// True when some rule or exclusion looks at field `f`.
    pub fn uses_field(&self, f: Field) -> bool {
        self.fields_used & (1 << f.index()) != 0
    }

    /// The matcher's view of an item: only the fields some rule looks at
    /// are normalized.
    pub fn document<'a>(&self, f: DocFields<'a>) -> Document<'a> {
        Document::with_fields(f, self.fields_used)
    }

    pub fn watchlists(&self) -> &[CompiledWatchlist] {
        &self.watchlists
    }

    pub fn rule_count(&self) -> usize {
        self.rule_loc.len()
    }

    /// One pass over the document: which literals occur in which fields,
    /// and which rules that makes worth evaluating (global numbers, in
    /// order).
    fn presearch(&self, doc: &Document<'_>) -> (eval::Found, Vec<u32>) {
        let mut found = eval::Found {
            mask: vec![0u8; self.pattern_rules.len()],
            occurrences: Vec::new(),
        };
        let mut have = vec![0u64; self.rule_loc.len()];
        if let Some(searcher) = &self.searcher {
            for f in Field::ALL {
                let bit = 1u8 << f.index();
                searcher.for_each(doc.norm(f).norm.as_bytes(), |p, start| {
                    found.occurrences.push((p as u32, f.index() as u8, start as u32));
                    if found.mask[p] == 0 {
                        for &(r, bits) in &self.pattern_rules[p] {
                            have[r as usize] |= bits;
                        }
                    }
                    found.mask[p] |= bit;
                });
            }
        }
        let rules = have
            .iter()
            .zip(&self.need)
            .enumerate()
            .filter(|(_, (h, n))| *h == *n)
            .map(|(i, _)| i as u32)
            .collect();
        (found, rules)
    }

    /// The ids of the rules the presearch would evaluate on `doc`: for
    /// tuning rules and the benchmarks.
    pub fn candidate_rules(&self, doc: &Document<'_>) -> Vec<&str> {
        let (_, rules) = self.presearch(doc);
        rules
            .into_iter()
            .map(|g| {
                let (w, r) = self.rule_loc[g as usize];
                self.watchlists[w as usize].rules[r as usize].id.as_str()
            })
            .collect()
    }

    /// Matches `doc` against every watchlist, evaluating only the rules the
    /// presearch lets through.
    pub fn match_document(&self, doc: &Document<'_>) -> Vec<WatchlistMatch> {
        let (found, candidates) = self.presearch(doc);
        self.verify(doc, candidates.into_iter(), Some(&found))
    }

    /// Matches `doc` by evaluating every rule on the document's words,
    /// without the presearch: the reference the presearch must agree with.
    pub fn match_document_exhaustive(&self, doc: &Document<'_>) -> Vec<WatchlistMatch> {
        self.verify(doc, 0..self.rule_loc.len() as u32, None)
    }

    fn verify(
        &self,
        doc: &Document<'_>,
        rules: impl Iterator<Item = u32>,
        found: Option<&eval::Found>,
    ) -> Vec<WatchlistMatch> {
        let mut out = Vec::new();
        let mut current: Option<(u32, Vec<&str>, Vec<RawHit<'_>>, Severity)> = None;
        let finish = |state: Option<(u32, Vec<&str>, Vec<RawHit<'_>>, Severity)>, out: &mut Vec<WatchlistMatch>| {
            if let Some((w, ids, hits, sev)) = state {
                if let Some(m) = self.conclude(doc, w as usize, ids, hits, sev, found) {
                    out.push(m);
                }
            }
        };
        for g in rules {
            let (w, r) = self.rule_loc[g as usize];
            let wl = &self.watchlists[w as usize];
            let rule = &wl.rules[r as usize];
            if !eval::test(&rule.node, doc, found) {
                continue;
            }
            let mut hits = Vec::new();
            eval::eval(&rule.node, doc, found, &mut hits);
            if current.as_ref().is_some_and(|c| c.0 != w) {
                finish(current.take(), &mut out);
            }
            let c = current.get_or_insert_with(|| (w, Vec::new(), Vec::new(), wl.severity));
            c.1.push(&rule.id);
            c.2.extend(hits);
            if let Some(s) = rule.severity {
                c.3 = c.3.max(s);
            }
        }
        finish(current.take(), &mut out);
        out
    }

    fn conclude(
        &self,
        doc: &Document<'_>,
        w: usize,
        rule_ids: Vec<&str>,
        mut hits: Vec<RawHit<'_>>,
        severity: Severity,
        found: Option<&eval::Found>,
    ) -> Option<WatchlistMatch> {
        let wl = &self.watchlists[w];
        if wl.exclude.iter().any(|x| eval::test(x, doc, found)) {
            return None;
        }
        // One hit per span: several spellings of an alias (or several
        // rules) that hit the same words are one matched term, named by
        // the first of them.
        hits.sort_by_key(|h| (h.field, h.start, h.end));
        hits.dedup_by(|a, b| a.field == b.field && a.start == b.start && a.end == b.end);
        let snippet = hits
            .first()
            .map(|h| snippet(doc.text(h.field), h.start as usize, h.end as usize))
            .unwrap_or_default();
        let terms = hits
            .iter()
            .map(|h| {
                let text = doc.text(h.field);
                let (s, e) = (h.start as usize, h.end as usize);
                let start = text[..s].chars().count();
                TermHit {
                    term: h.label.to_string(),
                    field: h.field,
                    text: text[s..e].to_string(),
                    start,
                    end: start + text[s..e].chars().count(),
                }
            })
            .collect();
        Some(WatchlistMatch {
            watchlist: wl.name.clone(),
            version: wl.version.clone(),
            severity,
            rules: rule_ids.into_iter().map(str::to_string).collect(),
            terms,
            snippet,
        })
    }
}

fn clear_literals(node: &mut Node) {
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

/// The text the matcher's `source:` field sees: feed name and the domain
/// of the item's link (or of the feed).
fn source_text(feed_name: &str, link: Option<&str>, feed_url: &str) -> String {
    let host = link
        .and_then(|l| url::Url::parse(l).ok())
        .or_else(|| url::Url::parse(feed_url).ok())
        .and_then(|u| u.host_str().map(|h| h.trim_start_matches("www.").to_string()))
        .unwrap_or_default();
    format!("{feed_name} {host}")
}

impl Matcher {
    /// An item's watchlist matches, as the daemon makes them (the quick
    /// raw test first, see [`Matcher::may_match`]), for an item of the feed
    /// `feed_name` at `feed_url`.
    pub fn match_item(&self, item: &Item, feed_name: &str, feed_url: &str) -> Vec<WatchlistMatch> {
        self.with_item_fields(item, feed_name, feed_url, |fields| self.match_fields(fields))
    }

    /// Runs `f` on the matcher's view of an item, as [`Matcher::match_item`]
    /// sees it.
    pub fn with_item_document<R>(
        &self,
        item: &Item,
        feed_name: &str,
        feed_url: &str,
        f: impl FnOnce(&Document<'_>) -> R,
    ) -> R {
        self.with_item_fields(item, feed_name, feed_url, |fields| f(&self.document(fields)))
    }

    /// The `source:` text is built only when a rule reads it.
    fn with_item_fields<R>(
        &self,
        item: &Item,
        feed_name: &str,
        feed_url: &str,
        f: impl FnOnce(DocFields<'_>) -> R,
    ) -> R {
        let source = if self.uses_field(Field::Source) {
            source_text(feed_name, item.link.as_deref(), feed_url)
        } else {
            String::new()
        };
        f(DocFields {
            title: &item.title,
            summary: &item.summary,
            content: &item.content,
            link: item.link.as_deref().unwrap_or(""),
            source: &source,
            lang: item.lang.as_deref().unwrap_or(""),
            tags: &item.tags,
        })
    }
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

impl Matcher {
    /// For an item no watchlist matched: the rule that came closest (most
    /// of its top-level AND clauses satisfied), with what it lacked.
    pub fn closest_miss(&self, doc: &Document<'_>) -> Option<NearMiss> {
        let mut best: Option<NearMiss> = None;
        for wl in &self.watchlists {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text;

    fn wl(rules: &[(&str, &str)], exclude: &[&str]) -> CompiledWatchlist {
        let def = WatchlistDef {
            name: "t".into(),
            rules: rules
                .iter()
                .map(|(id, q)| RuleDef {
                    id: id.to_string(),
                    query: q.to_string(),
                    severity: None,
                })
                .collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            version: "v1".into(),
            ..Default::default()
        };
        compile_watchlist(&def, &Aliases::new()).unwrap()
    }

    fn doc(title: &str) -> Document<'_> {
        Document::new(DocFields {
            title,
            ..Default::default()
        })
    }

    #[test]
    fn literals_are_the_most_selective_required_set() {
        let n = query::parse("peace AND (Witkoff OR Dmitriev~) -gaza", &Aliases::new()).unwrap();
        assert_eq!(required_literals(&n), Some(vec![" peace ".to_string()]));
        let n = query::parse("(Witkoff OR Dmitriev~) AND \"peace plan\"", &Aliases::new()).unwrap();
        assert_eq!(required_literals(&n), Some(vec![" peace plan ".to_string()]));
        let n = query::parse("Dmitriev~", &Aliases::new()).unwrap();
        assert_eq!(
            required_literals(&n),
            Some(vec![" dmit".to_string(), "riev ".to_string()])
        );
        let n = query::parse("/peace/ OR plan", &Aliases::new()).unwrap();
        assert_eq!(required_literals(&n), None);
    }

    #[test]
    fn clauses_are_one_set_per_operand_of_and_and_near() {
        let n = query::parse(
            "(Ukraine OR Zelensky) AND (talks NEAR/3 Geneva) AND peace -gaza",
            &Aliases::new(),
        )
        .unwrap();
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        // The most selective first (longest words); NOT adds nothing.
        assert_eq!(
            required_clauses(&n),
            [
                strings(&[" geneva "]),
                strings(&[" ukraine ", " zelensky "]),
                strings(&[" peace "]),
                strings(&[" talks "]),
            ]
        );
        // An OR of ANDs is one set, as before; a regex requires nothing.
        let n = query::parse("(a AND bb) OR ccc", &Aliases::new()).unwrap();
        assert_eq!(required_clauses(&n), [strings(&[" bb ", " ccc "])]);
        let n = query::parse("/peace/ OR plan", &Aliases::new()).unwrap();
        assert!(required_clauses(&n).is_empty());
    }

    #[test]
    fn match_explains_and_excludes() {
        let m = Matcher::new(vec![wl(
            &[
                ("plan", "\"peace plan\" AND (Ukraine OR Україн*)"),
                ("envoy", "Witkoff"),
            ],
            &["Gaza"],
        )]);
        let got = m.match_document(&doc("Witkoff brings Ukraine peace plan"));
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].rules, ["plan", "envoy"]);
        let terms: Vec<(&str, &str)> = got[0]
            .terms
            .iter()
            .map(|t| (t.term.as_str(), t.text.as_str()))
            .collect();
        assert_eq!(
            terms,
            [
                ("Witkoff", "Witkoff"),
                ("Ukraine", "Ukraine"),
                ("\"peace plan\"", "peace plan")
            ]
        );
        assert_eq!(got[0].snippet, "Witkoff brings Ukraine peace plan");
        assert!(m.match_document(&doc("Witkoff brings Gaza peace plan")).is_empty());
        assert!(m.match_document(&doc("A plan for peace")).is_empty());
    }

    #[test]
    fn presearch_agrees_with_exhaustive_on_fuzzy_and_prefix() {
        let m = Matcher::new(vec![wl(
            &[("a", "Dmitriev~"), ("b", "Зеленськ*"), ("c", "NOT x AND /zz+/")],
            &[],
        )]);
        for t in [
            "Dmitiev",
            "Dmitrijev",
            "Dmytriev talks",
            "Зеленського",
            "buzz",
            "Зелень",
        ] {
            assert_eq!(m.match_document(&doc(t)), m.match_document_exhaustive(&doc(t)), "{t}");
        }
        assert_eq!(m.match_document(&doc("Dmitiev")).len(), 1);
        assert_eq!(m.match_document(&doc("Зеленського")).len(), 1);
        assert!(m.match_document(&doc("Зелень")).is_empty());
    }

    #[test]
    fn the_raw_test_turns_away_only_what_cannot_match() {
        let m = Matcher::new(vec![wl(
            &[
                ("a", "Dmitriev~"),
                ("b", "Зеленськ*"),
                ("c", "\"peace plan\" AND title:Ukraine"),
            ],
            &[],
        )]);
        let fields = |title| DocFields {
            title,
            summary: "a quiet day",
            ..Default::default()
        };
        let cases = [
            ("Markets close higher", false),
            ("Ukraine's PEACE-PLAN talks", true),
            ("Dmitiev in Miami", true),
            ("Зеленський у Женеві", true),
            // Each side of the AND needs its key: one is not enough.
            ("Peace in the valley", false),
            ("Ukraine votes", false),
            ("Peace in Ukraine", true),
            ("Café owners protest", true),
            ("“Quiet” markets — again…", false),
            ("“Peace” now", false),
            ("“Peace” in ‘Ukraine’", true),
            ("x\u{2070}y", true),
        ];
        for (title, may) in cases {
            assert_eq!(m.may_match(&fields(title)), may, "{title}");
            let exhaustive = m.match_document_exhaustive(&Document::new(fields(title)));
            assert_eq!(m.match_fields(fields(title)), exhaustive, "{title}");
        }
        // A rule without literals turns the test off.
        let m = Matcher::new(vec![wl(&[("a", "NOT x AND /zz+/")], &[])]);
        assert!(m.may_match(&fields("Markets close higher")));
    }

    #[test]
    fn characters_passed_as_ascii_words_are_word_breaks() {
        for c in (0x80..0x3100u32).filter_map(char::from_u32) {
            let t = format!("ab{c}cd");
            if ascii_words(&t) {
                assert_eq!(text::words(&t), ["ab", "cd"], "U+{:04X}", c as u32);
            }
        }
        assert!(ascii_words("“a” – b…"));
        assert!(!ascii_words("é"));
    }

    #[test]
    fn snippet_cuts_long_text() {
        let long = format!("{} needle {}", "a ".repeat(100), "b ".repeat(100));
        let start = long.find("needle").unwrap();
        let s = snippet(&long, start, start + 6);
        assert!(s.starts_with('…') && s.ends_with('…') && s.contains("needle"));
        assert!(s.chars().count() < 200);
    }
}
