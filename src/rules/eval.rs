//! Evaluates a query tree on a normalized document and records which terms
//! matched where. Pure.

use std::ops::Range;

use super::query::{Field, Node};
use super::text::{self, NormText};

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
}

impl<'a> Document<'a> {
    pub fn new(f: DocFields<'a>) -> Document<'a> {
        let tags = f.tags.join(" | ");
        let orig = [f.title, f.summary, f.content, f.link, f.source, f.lang];
        let norm = [
            text::normalize(f.title),
            text::normalize(f.summary),
            text::normalize(f.content),
            text::normalize(f.link),
            text::normalize(f.source),
            text::normalize(f.lang),
            text::normalize(&tags),
        ];
        Document { orig, tags, norm }
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

/// True when `node` matches `doc`. On success, `hits` holds the leaves that
/// made it match; on failure it is left as it was.
pub fn eval<'n>(node: &'n Node, doc: &Document<'_>, hits: &mut Vec<RawHit<'n>>) -> bool {
    match node {
        Node::Seq { .. } | Node::Near { .. } => {
            let mut pos = Vec::new();
            positions(node, doc, &mut pos, hits);
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
                if !eval(item, doc, hits) {
                    hits.truncate(mark);
                    return false;
                }
            }
            true
        }
        Node::Or(items) => {
            let mut any = false;
            for item in items {
                any |= eval(item, doc, hits);
            }
            any
        }
        Node::Not(inner) => {
            let mark = hits.len();
            let matched = eval(inner, doc, hits);
            hits.truncate(mark);
            !matched
        }
    }
}

fn positions<'n>(node: &'n Node, doc: &Document<'_>, out: &mut Vec<Pos>, hits: &mut Vec<RawHit<'n>>) {
    match node {
        Node::Seq { fields, pats, label } => {
            let k = pats.len();
            for f in fields.iter() {
                let nt = doc.norm(f);
                if nt.len() < k {
                    continue;
                }
                for i in 0..=nt.len() - k {
                    if pats.iter().enumerate().all(|(j, p)| p.matches(nt.word(i + j))) {
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
        }
        Node::Or(items) => {
            for item in items {
                positions(item, doc, out, hits);
            }
        }
        Node::Near { a, b, n, ordered } => {
            let mut pa = Vec::new();
            let mut ha = Vec::new();
            positions(a, doc, &mut pa, &mut ha);
            if pa.is_empty() {
                return;
            }
            let mut pb = Vec::new();
            let mut hb = Vec::new();
            positions(b, doc, &mut pb, &mut hb);
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
        let r = eval(&node, &doc, &mut hits);
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
        assert!(eval(&node, &doc, &mut hits));
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
