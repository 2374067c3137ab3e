//! Evaluates a query tree on a normalized document and records which terms
//! matched where. Pure.

use std::cell::{Cell, OnceCell};
use std::ops::Range;

use super::query::{Field, Node, Pat};
use crate::text::{self, NormText};

/// The text of an item as the matcher sees it.
#[derive(Debug, Clone, Copy, Default)]
pub struct DocFields<'a> {
    pub title: &'a str,
    pub summary: &'a str,
    pub content: &'a str,
    pub link: &'a str,
    /// Feed name and domain.
    pub source: &'a str,
    pub lang: &'a str,
    pub tags: &'a [String],
}

/// An item's fields, each normalized once, ready for any number of rules.
#[derive(Debug, Clone)]
pub struct Document<'a> {
    orig: [&'a str; 6],
    tags: String,
    norm: [NormText; 7],
    /// Per field, the token numbers sorted by word: whole words and
    /// prefixes are found by binary search instead of a scan. Built on first
    /// use, since most items never reach rule evaluation.
    index: [OnceCell<Vec<u32>>; 7],
    /// Lookups per field so far: a field looked up often gets the index, a
    /// field looked up a few times is scanned.
    lookups: [Cell<u16>; 7],
}

impl<'a> Document<'a> {
    pub fn new(f: DocFields<'a>) -> Document<'a> {
        Document::with_fields(f, u8::MAX)
    }

    /// A document whose fields outside `fields` (a bit mask, bit `i` for
    /// the field of index `i`) are left empty: no rule looks at them.
    pub fn with_fields(f: DocFields<'a>, fields: u8) -> Document<'a> {
        let tags = if fields & (1 << Field::Tag.index()) != 0 {
            f.tags.join(" | ")
        } else {
            String::new()
        };
        let orig = [f.title, f.summary, f.content, f.link, f.source, f.lang];
        let norm = std::array::from_fn(|i| {
            if fields & (1 << i) == 0 {
                NormText::default()
            } else if i == Field::Tag.index() {
                text::normalize(&tags)
            } else {
                text::normalize(orig[i])
            }
        });
        Document {
            orig,
            tags,
            norm,
            index: Default::default(),
            lookups: Default::default(),
        }
    }

    fn sorted(&self, f: Field) -> &[u32] {
        self.index[f.index()].get_or_init(|| {
            let nt = &self.norm[f.index()];
            let mut v: Vec<u32> = (0..nt.len() as u32).collect();
            v.sort_unstable_by(|a, b| nt.word(*a as usize).cmp(nt.word(*b as usize)));
            v
        })
    }

    /// Calls `each` with the token numbers in field `f` whose word matches
    /// `pat`, in no particular order, until it returns `false`.
    fn lookup(&self, f: Field, pat: &Pat, mut each: impl FnMut(usize) -> bool) {
        let nt = self.norm(f);
        let count = &self.lookups[f.index()];
        count.set(count.get().saturating_add(1));
        // Sorting pays off after a few lookups in the same field.
        let indexed = self.index[f.index()].get().is_some() || count.get() > 8;
        match pat {
            Pat::Exact(w) | Pat::Prefix(w) if indexed => {
                let sorted = self.sorted(f);
                let from = sorted.partition_point(|&i| nt.word(i as usize) < w.as_str());
                for &i in &sorted[from..] {
                    let i = i as usize;
                    let hit = match pat {
                        Pat::Exact(w) => nt.word(i) == w,
                        _ => nt.word(i).starts_with(w.as_str()),
                    };
                    if !hit || !each(i) {
                        return;
                    }
                }
            }
            _ => {
                for i in 0..nt.len() {
                    if pat.matches(nt.word(i)) && !each(i) {
                        return;
                    }
                }
            }
        }
    }

    /// The original text of a field.
    pub fn text(&self, f: Field) -> &str {
        match f {
            Field::Tag => &self.tags,
            other => self.orig[other.index()],
        }
    }

    pub fn norm(&self, f: Field) -> &NormText {
        &self.norm[f.index()]
    }

    pub fn norms(&self) -> impl Iterator<Item = &NormText> {
        self.norm.iter()
    }
}

/// A matched leaf of a query: the leaf's text as written in the query, the
/// field and the byte range in the original field text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawHit<'n> {
    pub label: &'n str,
    pub field: Field,
    pub start: u32,
    pub end: u32,
}

/// Where a positional node matched: token range in one field, and the hits
/// that make it up (a range into the hit list).
#[derive(Debug, Clone)]
struct Pos {
    field: Field,
    start: u32,
    end: u32,
    hits: Range<usize>,
}

/// What the matcher's one-pass literal search found in a document.
#[derive(Debug, Clone, Default)]
pub struct Found {
    /// Per literal, the fields it occurs in (bit `i` for field index `i`).
    pub mask: Vec<u8>,
    /// Every occurrence: literal, field, byte offset in the normalized text.
    pub occurrences: Vec<(u32, u8, u32)>,
}

impl Found {
    /// Token numbers where `lit` occurs in field `f` (the literal starts
    /// with the space before its first word).
    fn starts(&self, lit: u32, f: Field, nt: &NormText) -> impl Iterator<Item = usize> {
        let field = f.index() as u8;
        self.occurrences
            .iter()
            .filter(move |(l, fi, _)| *l == lit && *fi == field)
            .filter_map(|(_, _, at)| nt.tokens.binary_search_by_key(&(at + 1), |t| t.norm_start).ok())
    }
}

/// Where in field `f` the sequence `pats` starts (token numbers), found
/// through the word index from its most selective word.
fn seq_starts(pats: &[Pat], f: Field, doc: &Document<'_>) -> Vec<usize> {
    let nt = doc.norm(f);
    let k = pats.len();
    if nt.len() < k {
        return Vec::new();
    }
    let anchor = pats
        .iter()
        .position(|p| matches!(p, Pat::Exact(_)))
        .or_else(|| pats.iter().position(|p| matches!(p, Pat::Prefix(_))))
        .unwrap_or(0);
    let mut starts = Vec::new();
    doc.lookup(f, &pats[anchor], |at| {
        if let Some(start) = at.checked_sub(anchor) {
            if start + k <= nt.len()
                && pats
                    .iter()
                    .enumerate()
                    .all(|(j, p)| j == anchor || p.matches(nt.word(start + j)))
            {
                starts.push(start);
            }
        }
        true
    });
    starts
}

/// True when `node` matches `doc`: the fast check, which stops at the first
/// deciding leaf and records nothing. [`eval`] then explains the matches.
///
/// `found`, when given, is what the matcher's one-pass literal search found
/// in this document (per literal, the fields it occurs in, as a bit mask):
/// leaves with an exact literal are then decided without looking at the
/// words at all.
pub fn test(node: &Node, doc: &Document<'_>, found: Option<&Found>) -> bool {
    match node {
        Node::Seq { fields, pats, lit, .. } => {
            let mut mask = fields.mask();
            if let Some(found) = found {
                mask &= lit.fields_seen(&found.mask);
                if mask == 0 || lit.exact {
                    return mask != 0;
                }
            }
            fields.iter().filter(|f| mask & (1 << f.index()) != 0).any(|f| {
                if pats.len() == 1 {
                    let mut any = false;
                    doc.lookup(f, &pats[0], |_| {
                        any = true;
                        false
                    });
                    any
                } else {
                    doc.norm(f).len() >= pats.len() && !seq_starts(pats, f, doc).is_empty()
                }
            })
        }
        Node::Regex { fields, re, .. } => fields.iter().any(|f| re.is_match(doc.text(f))),
        Node::And(items) => items.iter().all(|n| test(n, doc, found)),
        Node::Or(items) => items.iter().any(|n| test(n, doc, found)),
        Node::Not(inner) => !test(inner, doc, found),
        Node::Near { a, b, .. } => {
            if !test(a, doc, found) || !test(b, doc, found) {
                return false;
            }
            let mut pos = Vec::new();
            let mut scratch = Vec::new();
            positions(node, doc, found, &mut pos, &mut scratch);
            !pos.is_empty()
        }
    }
}

/// True when `node` matches `doc`. On success, `hits` holds the leaves that
/// made it match; on failure it is left as it was.
pub fn eval<'n>(node: &'n Node, doc: &Document<'_>, found: Option<&Found>, hits: &mut Vec<RawHit<'n>>) -> bool {
    match node {
        Node::Seq { .. } | Node::Near { .. } => {
            let mut pos = Vec::new();
            positions(node, doc, found, &mut pos, hits);
            !pos.is_empty()
        }
        Node::Regex { fields, re, label } => {
            let before = hits.len();
            for f in fields.iter() {
                for m in re.find_iter(doc.text(f)) {
                    if m.start() < m.end() {
                        hits.push(RawHit {
                            label,
                            field: f,
                            start: m.start() as u32,
                            end: m.end() as u32,
                        });
                    }
                }
            }
            hits.len() > before
        }
        Node::And(items) => {
            let mark = hits.len();
            for item in items {
                if !eval(item, doc, found, hits) {
                    hits.truncate(mark);
                    return false;
                }
            }
            true
        }
        Node::Or(items) => {
            let mut any = false;
            for item in items {
                any |= eval(item, doc, found, hits);
            }
            any
        }
        Node::Not(inner) => {
            let mark = hits.len();
            let matched = eval(inner, doc, found, hits);
            hits.truncate(mark);
            !matched
        }
    }
}

fn positions<'n>(
    node: &'n Node,
    doc: &Document<'_>,
    found: Option<&Found>,
    out: &mut Vec<Pos>,
    hits: &mut Vec<RawHit<'n>>,
) {
    match node {
        Node::Seq {
            fields,
            pats,
            label,
            lit,
        } => {
            let seen = found.map_or(u8::MAX, |f| lit.fields_seen(&f.mask));
            for f in fields.iter().filter(|f| seen & (1 << f.index()) != 0) {
                let nt = doc.norm(f);
                let mut starts = match found {
                    // The literal is the leaf: where it occurs, the leaf does.
                    Some(found) if lit.exact => found.starts(lit.id, f, nt).collect(),
                    _ => seq_starts(pats, f, doc),
                };
                starts.sort_unstable();
                for i in starts {
                    let k = pats.len();
                    hits.push(RawHit {
                        label,
                        field: f,
                        start: nt.tokens[i].orig_start,
                        end: nt.tokens[i + k - 1].orig_end,
                    });
                    out.push(Pos {
                        field: f,
                        start: i as u32,
                        end: (i + k) as u32,
                        hits: hits.len() - 1..hits.len(),
                    });
                }
            }
        }
        Node::Or(items) => {
            for item in items {
                positions(item, doc, found, out, hits);
            }
        }
        Node::Near { a, b, n, ordered } => {
            let mut pa = Vec::new();
            let mut ha = Vec::new();
            positions(a, doc, found, &mut pa, &mut ha);
            if pa.is_empty() {
                return;
            }
            let mut pb = Vec::new();
            let mut hb = Vec::new();
            positions(b, doc, found, &mut pb, &mut hb);
            for x in &pa {
                for y in &pb {
                    if x.field != y.field {
                        continue;
                    }
                    let gap = if x.end <= y.start {
                        Some(y.start - x.end)
                    } else if y.end <= x.start && !ordered {
                        Some(x.start - y.end)
                    } else {
                        None
                    };
                    if gap.is_some_and(|g| g <= *n) {
                        let first = hits.len();
                        hits.extend_from_slice(&ha[x.hits.clone()]);
                        hits.extend_from_slice(&hb[y.hits.clone()]);
                        out.push(Pos {
                            field: x.field,
                            start: x.start.min(y.start),
                            end: x.end.max(y.end),
                            hits: first..hits.len(),
                        });
                    }
                }
            }
        }
        // The parser only builds NEAR over positional nodes; other nodes
        // have no positions.
        Node::Regex { .. } | Node::And(_) | Node::Not(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::query::{Aliases, parse};
    use super::*;

    fn matches(q: &str, title: &str, summary: &str) -> bool {
        let node = parse(q, &Aliases::new()).unwrap();
        let doc = Document::new(DocFields {
            title,
            summary,
            ..Default::default()
        });
        let mut hits = Vec::new();
        let r = eval(&node, &doc, None, &mut hits);
        assert_eq!(
            r,
            !hits.is_empty(),
            "hits must be recorded exactly when it matches: {q}"
        );
        r
    }

    #[test]
    fn near_counts_words_between() {
        assert!(matches("witkoff NEAR/2 plan", "Witkoff's peace plan", ""));
        assert!(!matches("witkoff NEAR/1 plan", "Witkoff's peace plan", ""));
        assert!(matches("plan NEAR/2 witkoff", "Witkoff's peace plan", ""));
        assert!(!matches("plan ONEAR/2 witkoff", "Witkoff's peace plan", ""));
        assert!(matches("witkoff ONEAR/2 plan", "Witkoff's peace plan", ""));
        // Different fields are never near each other.
        assert!(!matches("witkoff NEAR/50 plan", "Witkoff", "plan"));
    }

    #[test]
    fn near_records_both_sides() {
        let node = parse("(Witkoff OR Dmitriev) NEAR/3 plan", &Aliases::new()).unwrap();
        let doc = Document::new(DocFields {
            title: "Dmitriev says the plan is fair; plan critics",
            ..Default::default()
        });
        let mut hits = Vec::new();
        assert!(eval(&node, &doc, None, &mut hits));
        let labels: Vec<&str> = hits.iter().map(|h| h.label).collect();
        assert!(labels.contains(&"Dmitriev") && labels.contains(&"plan"), "{labels:?}");
    }

    #[test]
    fn not_and_fields() {
        assert!(matches("peace plan -gaza", "Ukraine peace plan", ""));
        assert!(!matches("peace plan -gaza", "Gaza peace plan", ""));
        assert!(!matches("title:ukraine", "peace", "Ukraine"));
        assert!(matches("summary:ukraine", "peace", "Ukraine"));
    }

    #[test]
    fn regex_matches_original_text_case_insensitively() {
        assert!(matches("/28[- ]point/", "The 28-POINT plan", ""));
        assert!(!matches("/28[- ]point/", "The 28 pts plan", "28point"));
    }
}
