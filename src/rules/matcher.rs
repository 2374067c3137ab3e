//! All watchlists compiled into one [`Matcher`]: the raw test, the
//! presearch, then each candidate rule verified on the item's normalized
//! document, its match explained. Pure.

use chrono::{DateTime, Utc};

use super::compile::{CompiledWatchlist, Severity};
use super::explain::{self, NearMiss, TermHit, WatchlistMatch, snippet};
use super::presearch::{
    DFA_MAX_BYTES, Literals, RawTest, Searcher, ascii_words, clear_literals, fields_of, required_clauses,
};
use super::query::Field;
use super::verify::{self as eval, DocFields, Document, RawHit};
use crate::feed::Item;

/// When an item happened (Unix ms), for a watchlist's `since`: when it was
/// published, unless that is a placeholder (before 1990) or later than a
/// day after it was first seen; else when it was first seen. `None` when
/// neither is known.
fn happened_at(published: Option<i64>, seen: Option<i64>) -> Option<i64> {
    const PLAUSIBLE_FROM_MS: i64 = 631_152_000_000;
    const DAY_MS: i64 = 24 * 3600 * 1000;
    let published = published.filter(|p| *p >= PLAUSIBLE_FROM_MS && seen.is_none_or(|s| *p <= s + DAY_MS));
    published.or(seen)
}

/// One watchlist's rules that matched an item, before its exclusions and
/// threshold decide.
struct Pending<'a> {
    watchlist: u32,
    rule_ids: Vec<&'a str>,
    hits: Vec<RawHit<'a>>,
    severity: Severity,
    /// The sum of the matched rules' weights.
    score: f64,
}

/// All watchlists compiled into one matcher.
#[derive(Debug, Clone)]
pub struct Matcher {
    watchlists: Vec<CompiledWatchlist>,
    /// (watchlist, rule) of every rule, by global rule number.
    rule_loc: Vec<(u32, u32)>,
    searchers: Option<LiteralSearchers>,
    /// (global rule number, clause bits), by literal number.
    pattern_rules: Vec<Vec<(u32, u64)>>,
    /// For each literal, the fields where an occurrence of it matters.
    literal_fields: Vec<u8>,
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
                // A clause's literal may not be any leaf's: looked for in
                // every field the rule reads.
                let rule_fields = fields_of(&rule.node);
                for (c, set) in clauses.into_iter().enumerate() {
                    for l in set {
                        let id = lits.intern(l, rule_fields) as usize;
                        match lits.rules[id].last_mut() {
                            Some((r, bits)) if *r == global => *bits |= 1 << c,
                            _ => lits.rules[id].push((global, 1 << c)),
                        }
                    }
                }
            }
        }
        let searchers = LiteralSearchers::build(&lits.patterns, &lits.fields);
        if searchers.is_none() && !lits.patterns.is_empty() {
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
            searchers,
            pattern_rules: lits.rules,
            literal_fields: lits.fields,
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
        if let Some(searchers) = &self.searchers {
            for f in Field::ALL {
                let bit = 1u8 << f.index();
                searchers.for_each(f, doc.norm(f).norm.as_bytes(), |p, start| {
                    if self.literal_fields[p] & bit == 0 {
                        return;
                    }
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
        let mut current: Option<Pending<'_>> = None;
        let finish = |state: Option<Pending<'_>>, out: &mut Vec<WatchlistMatch>| {
            if let Some(m) = state.and_then(|p| self.conclude(doc, p, found)) {
                out.push(m);
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
            if current.as_ref().is_some_and(|c| c.watchlist != w) {
                finish(current.take(), &mut out);
            }
            let c = current.get_or_insert_with(|| Pending {
                watchlist: w,
                rule_ids: Vec::new(),
                hits: Vec::new(),
                severity: wl.severity,
                score: 0.0,
            });
            c.rule_ids.push(&rule.id);
            c.hits.extend(hits);
            c.score += rule.weight;
            if let Some(s) = rule.severity {
                c.severity = c.severity.max(s);
            }
        }
        finish(current.take(), &mut out);
        out
    }

    fn conclude(&self, doc: &Document<'_>, p: Pending<'_>, found: Option<&eval::Found>) -> Option<WatchlistMatch> {
        let Pending {
            watchlist: w,
            rule_ids,
            mut hits,
            severity,
            score,
        } = p;
        let w = w as usize;
        let wl = &self.watchlists[w];
        if wl.threshold.is_some_and(|t| score < t) {
            return None;
        }
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

/// The literal searchers: the literals looked for in titles only (most
/// exclusions name a headline) apart, run on titles alone, and the rest
/// apart, so that a body is not searched for words only a title uses; each
/// set cut in two, and again, while its DFA would pass [`DFA_MAX_BYTES`].
#[derive(Debug, Clone)]
struct LiteralSearchers {
    /// Each searcher, the global literal number of each of its patterns,
    /// and the fields it runs on (bit mask).
    parts: Vec<(Searcher, Vec<u32>, u8)>,
}

/// How many times a set of literals is cut in two before the NFA takes it:
/// at most four DFAs a set, four passes over a text.
const MAX_CUTS: u32 = 2;

impl LiteralSearchers {
    /// `None` when a searcher cannot be built (absurd sizes).
    fn build(patterns: &[String], fields: &[u8]) -> Option<LiteralSearchers> {
        LiteralSearchers::build_within(patterns, fields, DFA_MAX_BYTES)
    }

    fn build_within(patterns: &[String], fields: &[u8], max_bytes: usize) -> Option<LiteralSearchers> {
        let title = 1u8 << Field::Title.index();
        let mut out = LiteralSearchers { parts: Vec::new() };
        for title_only in [false, true] {
            let ids: Vec<u32> = (0..patterns.len() as u32)
                .filter(|&i| (fields[i as usize] == title) == title_only)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let runs_on = if title_only { title } else { u8::MAX };
            out.add(patterns, ids, runs_on, max_bytes, MAX_CUTS)?;
        }
        Some(out)
    }

    fn add(&mut self, patterns: &[String], mut ids: Vec<u32>, runs_on: u8, max_bytes: usize, cuts: u32) -> Option<()> {
        let pats: Vec<&str> = ids.iter().map(|&i| patterns[i as usize].as_str()).collect();
        if let Some(dfa) = Searcher::dfa(&pats, false, max_bytes) {
            self.parts.push((dfa, ids, runs_on));
            return Some(());
        }
        if cuts == 0 || ids.len() < 2 {
            self.parts.push((Searcher::nfa(&pats, false)?, ids, runs_on));
            return Some(());
        }
        // Neighbours in order share their beginnings, so each half's
        // automaton has fewer states. (Only when cutting: the order the
        // patterns are given in shapes the DFA's layout, and the given one
        // measured 10% quicker on the matcher bench.)
        ids.sort_by(|&a, &b| patterns[a as usize].cmp(&patterns[b as usize]));
        let back = ids.split_off(ids.len() / 2);
        self.add(patterns, ids, runs_on, max_bytes, cuts - 1)?;
        self.add(patterns, back, runs_on, max_bytes, cuts - 1)
    }

    /// Calls `each(literal, start)` for every occurrence in `text`, the
    /// text of field `f`.
    fn for_each(&self, f: Field, text: &[u8], mut each: impl FnMut(usize, usize)) {
        let bit = 1u8 << f.index();
        for (searcher, ids, runs_on) in &self.parts {
            if runs_on & bit != 0 {
                searcher.for_each(text, |p, start| each(ids[p] as usize, start));
            }
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
    /// `feed_name` at `feed_url`, first seen at `seen_ms` (Unix ms; `None`
    /// when not known, and then the item's `published` date decides alone).
    /// A watchlist does not match items that happened before its `since`.
    pub fn match_item(
        &self,
        item: &Item,
        feed_name: &str,
        feed_url: &str,
        seen_ms: Option<i64>,
    ) -> Vec<WatchlistMatch> {
        let mut found = self.with_item_fields(item, feed_name, feed_url, |fields| self.match_fields(fields));
        if !found.is_empty() {
            found.retain(|m| self.before_since(&m.watchlist, item, seen_ms).is_none());
        }
        found
    }

    /// The `since` of watchlist `name` when the item happened before it.
    pub fn before_since(&self, name: &str, item: &Item, seen_ms: Option<i64>) -> Option<DateTime<Utc>> {
        let since = self.watchlists.iter().find(|w| w.name == name)?.since?;
        let at = happened_at(item.published.map(|p| p.timestamp_millis()), seen_ms)?;
        (at < since.timestamp_millis()).then_some(since)
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

impl Matcher {
    /// For an item no watchlist matched: the rule that came closest, with
    /// what it lacked (see [`explain::closest_miss`]).
    pub fn closest_miss(&self, doc: &Document<'_>) -> Option<NearMiss> {
        explain::closest_miss(&self.watchlists, doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::compile::{RuleDef, WatchlistDef, compile_watchlist};
    use crate::rules::explain::snippet;
    use crate::rules::presearch::{ascii_words, required_clauses, required_literals};
    use crate::rules::query::{self, Aliases};
    use crate::rules::verify::DocFields;
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
                    weight: None,
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

    /// With a threshold, an item matches when the weights of its matched
    /// rules add up to it; an exclusion still cancels the match.
    #[test]
    fn a_threshold_adds_the_weights_of_matched_rules() {
        let mut w = wl(
            &[
                ("weak-a", "Witkoff"),
                ("weak-b", "Umerov"),
                ("strong", "\"peace plan\""),
            ],
            &["Gaza"],
        );
        w.rules[0].weight = 0.5;
        w.rules[1].weight = 0.5;
        w.threshold = Some(1.0);
        let m = Matcher::new(vec![w]);
        let rules_of =
            |title: &str| -> Option<Vec<String>> { m.match_document(&doc(title)).first().map(|x| x.rules.clone()) };
        assert_eq!(rules_of("Witkoff in Moscow"), None);
        assert_eq!(
            rules_of("Witkoff meets Umerov"),
            Some(vec!["weak-a".into(), "weak-b".into()])
        );
        assert_eq!(rules_of("A peace plan"), Some(vec!["strong".into()]));
        assert_eq!(rules_of("Witkoff and Umerov on Gaza"), None);
        // The exhaustive path agrees.
        for t in ["Witkoff in Moscow", "Witkoff meets Umerov", "A peace plan"] {
            assert_eq!(m.match_document(&doc(t)), m.match_document_exhaustive(&doc(t)), "{t}");
        }
    }

    /// A watchlist's `since` drops items that happened before it: by their
    /// published date, or by when they were first seen when that date is a
    /// placeholder or later than first seen; undated items are kept.
    #[test]
    fn since_drops_items_that_happened_before_it() {
        let ms = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        let mut w = wl(&[("r", "Witkoff")], &[]);
        w.since = Some(ms("2025-11-15T00:00:00Z"));
        let m = Matcher::new(vec![w]);
        let item = |published: Option<&str>| Item {
            key: String::new(),
            title: "Witkoff in Moscow".into(),
            summary: String::new(),
            content: String::new(),
            link: None,
            published: published.map(ms),
            lang: None,
            tags: Vec::new(),
            authors: Vec::new(),
        };
        let nov20 = Some(ms("2025-11-20T08:00:00Z").timestamp_millis());
        let nov1 = Some(ms("2025-11-01T08:00:00Z").timestamp_millis());
        let cases = [
            (Some("2025-11-19T10:00:00Z"), nov20, true),
            (Some("2025-10-25T10:00:00Z"), nov20, false),
            (Some("2025-10-25T10:00:00Z"), None, false),
            // A placeholder date: first seen decides.
            (Some("1970-01-01T00:00:00Z"), nov20, true),
            (Some("1970-01-01T00:00:00Z"), nov1, false),
            // Published "after" first seen: a wrong clock, first seen decides.
            (Some("2025-12-01T00:00:00Z"), nov1, false),
            (None, nov1, false),
            (None, nov20, true),
            (None, None, true),
        ];
        for (published, seen, expect) in cases {
            let found = m.match_item(&item(published), "", "", seen);
            assert_eq!(!found.is_empty(), expect, "{published:?} seen {seen:?}");
        }
        // Without `since`, the old item matches.
        let m = Matcher::new(vec![wl(&[("r", "Witkoff")], &[])]);
        assert!(
            !m.match_item(&item(Some("2025-10-25T10:00:00Z")), "", "", nov20)
                .is_empty()
        );
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

    /// A set of literals whose DFA would pass the limit is cut into DFAs
    /// that fit, and together they find what one automaton finds.
    #[test]
    fn literal_sets_too_large_for_one_dfa_are_cut() {
        let words: Vec<String> = (0..3000)
            .map(|i| format!(" w{}x{} ", i * 7919 % 10007, i % 13))
            .collect();
        let all_fields = vec![0b111u8; words.len()];
        let limit = 1_000_000;
        let one = Searcher::nfa(&words, false).unwrap();
        let cut = LiteralSearchers::build_within(&words, &all_fields, limit).unwrap();
        assert!(cut.parts.len() > 1 && cut.parts.len() <= 4, "{} parts", cut.parts.len());
        assert!(cut.parts.iter().all(|(s, _, _)| matches!(s, Searcher::Dfa(..))));
        assert!(
            Searcher::dfa(&words, false, limit).is_none(),
            "the limit must be too small for one DFA"
        );
        let text: String = (0..400)
            .map(|i| words[i * 7 % words.len()].trim().to_string() + " ")
            .collect();
        let text = format!(" {text}");
        let mut want = Vec::new();
        one.for_each(text.as_bytes(), |p, at| want.push((p, at)));
        let mut got = Vec::new();
        cut.for_each(Field::Summary, text.as_bytes(), |p, at| got.push((p, at)));
        want.sort_unstable();
        got.sort_unstable();
        assert!(want.len() >= 400);
        assert_eq!(got, want);
    }
}
