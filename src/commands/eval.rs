//! `newshound eval`: a watchlist scored on labelled items.

use std::path::Path;

use anyhow::Context;

use super::shared::{Failure, clip};
use crate::config;
use crate::rules::Matcher;
use crate::rules::evaluate::{Labelled, evaluate, read_labelled};

/// Reads a labelled file, naming it in its errors.
pub fn read_labels(labels: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(labels).with_context(|| format!("cannot read {}", labels.display()))?;
    read_labelled(&text).map_err(|e| anyhow::anyhow!("{}:{e}", labels.display()))
}

pub fn eval(watchlist: &Path, labels: &Path) -> Result<(), Failure> {
    let wl = config::load_watchlist(watchlist).map_err(Failure::Config)?;
    let matcher = Matcher::new(vec![wl]);
    let r = evaluate(&matcher, &read_labels(labels)?);
    println!(
        "{}: {} items scored ({} maybe left out)",
        labels.display(),
        r.scored(),
        r.maybe
    );
    println!(
        "TP {}  FP {}  FN {}  TN {}\nprecision {:.3}  recall {:.3}  F1 {:.3}",
        r.true_pos,
        r.false_pos,
        r.false_neg,
        r.true_neg,
        r.precision(),
        r.recall(),
        r.f1()
    );
    if !r.false_positives.is_empty() {
        println!("\nfalse positives ({}):", r.false_positives.len());
        for f in &r.false_positives {
            println!(
                "  {}  {}\n      rules: {}  terms: {}",
                f.id,
                clip(&f.title, 110),
                f.rules.join(", "),
                f.terms.join(", ")
            );
        }
    }
    if !r.false_negatives.is_empty() {
        println!("\nfalse negatives ({}):", r.false_negatives.len());
        for m in &r.false_negatives {
            println!("  {}  {}", m.id, clip(&m.title, 110));
            if let Some(c) = &m.closest {
                match &c.excluded_by {
                    Some(x) => println!("      rule {} matched but exclusion {} fired", c.rule, clip(x, 100)),
                    None => println!(
                        "      closest: rule {} ({}/{} clauses), missing {}",
                        c.rule,
                        c.satisfied,
                        c.clauses,
                        clip(&c.missing.join(" AND "), 100)
                    ),
                }
            }
        }
    }
    Ok(())
}
