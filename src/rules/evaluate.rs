//! Scoring a watchlist on labelled items (`label`: yes, no or maybe):
//! precision and recall, every false alarm with the rule that fired and
//! every miss with the rule that came closest. Pure: the caller reads the
//! file.

use serde_json::Value;

use super::explain::NearMiss;
use super::matcher::Matcher;
use crate::feed::{Item, item_from_json, str_field};

/// One labelled item.
#[derive(Debug, Clone)]
pub struct Labelled {
    pub id: String,
    pub item: Item,
    /// `Some(true)` for yes, `Some(false)` for no, `None` for maybe.
    pub relevant: Option<bool>,
    /// The item's outlet (`source`) and feed, as the `source:` field sees
    /// them.
    pub source: String,
    pub feed_url: String,
}

/// A line of a labelled file that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum LabelError {
    #[error("line {line}: invalid JSON")]
    Json {
        line: usize,
        #[source]
        source: serde_json::Error,
    },
    #[error("line {line}: label must be yes, no or maybe, not {found:?}")]
    Label { line: usize, found: String },
}

impl LabelError {
    pub fn line(&self) -> usize {
        match self {
            LabelError::Json { line, .. } | LabelError::Label { line, .. } => *line,
        }
    }
}

fn id_text(v: &Value) -> String {
    match v.get("id") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => "?".into(),
    }
}

/// Reads labelled JSON Lines items (blank lines skipped).
pub fn read_labelled(text: &str) -> Result<Vec<Labelled>, LabelError> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|source| LabelError::Json { line: n + 1, source })?;
        let relevant = match v.get("label").and_then(Value::as_str).unwrap_or("") {
            "yes" => Some(true),
            "no" => Some(false),
            "maybe" => None,
            other => {
                return Err(LabelError::Label {
                    line: n + 1,
                    found: other.to_string(),
                });
            }
        };
        out.push(Labelled {
            id: id_text(&v),
            item: item_from_json(&v),
            relevant,
            source: str_field(&v, "source").to_string(),
            feed_url: str_field(&v, "feed_url").to_string(),
        });
    }
    Ok(out)
}

/// A `no` item that matched.
#[derive(Debug, Clone, PartialEq)]
pub struct FalseAlarm {
    pub id: String,
    pub title: String,
    pub rules: Vec<String>,
    /// Matched terms, as `text (field)`.
    pub terms: Vec<String>,
}

/// A `yes` item that did not match.
#[derive(Debug, Clone, PartialEq)]
pub struct Miss {
    pub id: String,
    pub title: String,
    pub closest: Option<NearMiss>,
}

/// Scores of a watchlist against labelled items.
#[derive(Debug, Clone, Default)]
pub struct EvalReport {
    pub true_pos: usize,
    pub false_pos: usize,
    pub false_neg: usize,
    pub true_neg: usize,
    /// Items labelled `maybe`, left out of the scores.
    pub maybe: usize,
    pub false_positives: Vec<FalseAlarm>,
    pub false_negatives: Vec<Miss>,
}

impl EvalReport {
    pub fn precision(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_pos)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.true_pos, self.true_pos + self.false_neg)
    }

    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
    }

    /// Items scored (maybe left out).
    pub fn scored(&self) -> usize {
        self.true_pos + self.false_pos + self.false_neg + self.true_neg
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 1.0 } else { a as f64 / b as f64 }
}

/// Runs `matcher` over labelled items, by the daemon's path (quick raw
/// test included).
pub fn evaluate<'a>(matcher: &Matcher, items: impl IntoIterator<Item = &'a Labelled>) -> EvalReport {
    let mut r = EvalReport::default();
    for l in items {
        let Some(relevant) = l.relevant else {
            r.maybe += 1;
            continue;
        };
        let found = matcher.match_item(&l.item, &l.source, &l.feed_url);
        match (relevant, found.first()) {
            (true, Some(_)) => r.true_pos += 1,
            (false, None) => r.true_neg += 1,
            (false, Some(m)) => {
                r.false_pos += 1;
                r.false_positives.push(FalseAlarm {
                    id: l.id.clone(),
                    title: l.item.title.clone(),
                    rules: m.rules.clone(),
                    terms: m.terms.iter().map(|t| format!("{} ({})", t.text, t.field)).collect(),
                });
            }
            (true, None) => {
                r.false_neg += 1;
                let closest = matcher.with_item_document(&l.item, &l.source, &l.feed_url, |d| matcher.closest_miss(d));
                r.false_negatives.push(Miss {
                    id: l.id.clone(),
                    title: l.item.title.clone(),
                    closest,
                });
            }
        }
    }
    r
}
