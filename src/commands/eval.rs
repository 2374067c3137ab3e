//! `newshound eval`: a watchlist scored on labelled items, honestly: a
//! held-out validation split (`--holdout`) or K folds (`--folds`) show
//! whether the rules hold up on items they were not fitted to; `--suggest`
//! shows what each rule alone brings and the words of the misses.

use std::path::Path;

use anyhow::Context;

use super::shared::{Failure, clip};
use crate::config;
use crate::rules::Matcher;
use crate::rules::evaluate::{
    Counts, EvalReport, Labelled, Split, evaluate, folds, item_scores, read_labelled, rule_counts, suggest, sweep,
};

/// Which items' errors `eval` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Show {
    /// The tuning part's errors (every item's without a split).
    Tuning,
    /// The validation part's too: only once tuning is done.
    All,
    /// No item, only the scores.
    None,
}

/// How `eval` is asked to score.
#[derive(Debug, Clone)]
pub struct EvalOptions {
    pub holdout: Option<String>,
    pub folds: Option<usize>,
    pub seed: u64,
    pub suggest: bool,
    pub show: Show,
    pub sweep: bool,
}

/// Reads a labelled file, naming it in its errors.
pub fn read_labels(labels: &Path) -> anyhow::Result<Vec<Labelled>> {
    let text = std::fs::read_to_string(labels).with_context(|| format!("cannot read {}", labels.display()))?;
    read_labelled(&text).map_err(|e| anyhow::anyhow!("{}:{e}", labels.display()))
}

fn scores_line(name: &str, r: &EvalReport) -> String {
    format!(
        "{name:<11} {:>5} items  TP {:>4}  FP {:>4}  FN {:>4}  TN {:>5}  precision {:.3}  recall {:.3}  F1 {:.3}",
        r.scored(),
        r.true_pos,
        r.false_pos,
        r.false_neg,
        r.true_neg,
        r.precision(),
        r.recall(),
        r.f1()
    )
}

fn print_by_lang(parts: &[(&str, &EvalReport)]) {
    let mut langs: Vec<&String> = parts.iter().flat_map(|(_, r)| r.by_lang.keys()).collect();
    langs.sort();
    langs.dedup();
    if langs.len() < 2 {
        return;
    }
    let head: Vec<String> = parts.iter().map(|(n, _)| format!("{n:>26}")).collect();
    println!("\nby language: precision / recall (relevant items)");
    println!("  {:<6}{}", "", head.join(""));
    for lang in langs {
        let cells: Vec<String> = parts
            .iter()
            .map(|(_, r)| match r.by_lang.get(lang) {
                Some(c) => format!(
                    "{:>26}",
                    format!(
                        "{:.3} / {:.3} ({})",
                        c.precision(),
                        c.recall(),
                        c.true_pos + c.false_neg
                    )
                ),
                None => format!("{:>26}", "-"),
            })
            .collect();
        println!("  {lang:<6}{}", cells.join(""));
    }
}

fn print_errors(r: &EvalReport) {
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
            if let Some(since) = m.before_since {
                println!("      happened before the watchlist's since ({})", since.to_rfc3339());
                continue;
            }
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
}

/// The sweep reads the tuning part only: a threshold chosen on the
/// validation part would make its scores worthless.
fn print_sweep(matcher: &Matcher, tuning: &[&Labelled], held_out: bool) {
    let threshold = matcher.watchlists().first().and_then(|w| w.threshold);
    let part = if held_out { "the tuning part" } else { "all items" };
    println!("\nthreshold sweep over {part}: an item matches when its rules' weights add up to the threshold");
    for (t, c) in sweep(&item_scores(matcher, tuning.iter().copied())) {
        let mark = if threshold.is_some_and(|w| (w - t).abs() < 1e-9) {
            "  <- the watchlist's"
        } else {
            ""
        };
        println!(
            "  {t:>7.2}   {}  precision {:.3}  recall {:.3}{mark}",
            counts_text(&c),
            c.precision(),
            c.recall()
        );
    }
}

fn counts_text(c: &Counts) -> String {
    format!(
        "TP {:>4}  FP {:>4}  FN {:>4}  TN {:>5}",
        c.true_pos, c.false_pos, c.false_neg, c.true_neg
    )
}

fn print_suggestions(matcher: &Matcher, items: &[&Labelled]) {
    println!("\nrules: matches of relevant / irrelevant items, and those no other rule matched");
    for c in rule_counts(matcher, items.iter().copied()) {
        let flag = if c.only_false > c.only_true {
            "  <- alone, more false than true"
        } else {
            ""
        };
        println!(
            "  {:<24} {:>4} true {:>4} false    alone: {:>4} true {:>4} false{flag}",
            c.rule, c.true_matches, c.false_matches, c.only_true, c.only_false
        );
    }
    let found = suggest(matcher, items.iter().copied(), 2, 15);
    if found.is_empty() {
        println!("\nno term is in two misses of one language and in fewer irrelevant items");
        return;
    }
    println!(
        "\nterms of missed items that no rule has: misses a rule on the term would catch / false alarms it would bring"
    );
    let mut lang = "";
    for s in &found {
        if s.lang != lang {
            lang = &s.lang;
            println!("  {lang}:");
        }
        println!("    {:<40} {:>3} / {:<3}", s.term, s.catches, s.brings);
    }
}

pub fn eval(watchlist: &Path, labels: &Path, opts: &EvalOptions) -> Result<(), Failure> {
    let wl = config::load_watchlist(watchlist).map_err(Failure::Config)?;
    let matcher = Matcher::new(vec![wl]);
    let items = read_labels(labels)?;
    let maybe = items.iter().filter(|l| l.relevant.is_none()).count();
    println!(
        "{}: {} items ({maybe} maybe left out of the scores)",
        labels.display(),
        items.len()
    );

    if let Some(k) = opts.folds {
        if k < 2 {
            return Err(anyhow::anyhow!("--folds needs at least 2 folds").into());
        }
        println!("\n{k} folds (seed {}): each fold's scores", opts.seed);
        let mut reports = Vec::new();
        for (i, fold) in folds(&items, k, opts.seed).iter().enumerate() {
            let r = evaluate(&matcher, fold.iter().copied());
            println!("{}", scores_line(&format!("fold {}", i + 1), &r));
            reports.push(r);
        }
        let mean = |f: &dyn Fn(&EvalReport) -> f64| reports.iter().map(f).sum::<f64>() / reports.len() as f64;
        let min = |f: &dyn Fn(&EvalReport) -> f64| reports.iter().map(f).fold(f64::MAX, f64::min);
        println!(
            "mean        precision {:.3} (lowest {:.3})  recall {:.3} (lowest {:.3})",
            mean(&|r| r.precision()),
            min(&|r| r.precision()),
            mean(&|r| r.recall()),
            min(&|r| r.recall())
        );
        // Folds score every item, a held-out part too: their errors are
        // not listed, and without --holdout nothing else is.
        if opts.holdout.is_none() {
            return Ok(());
        }
    }

    let (tuning, validation): (Vec<&Labelled>, Vec<&Labelled>) = match &opts.holdout {
        Some(spec) => Split::parse(spec).map_err(anyhow::Error::msg)?.apply(&items),
        None => (items.iter().collect(), Vec::new()),
    };
    let tune = evaluate(&matcher, tuning.iter().copied());
    if let Some(spec) = &opts.holdout {
        let valid = evaluate(&matcher, validation.iter().copied());
        println!("\nsplit {spec}: the rules may be fitted to the tuning part only");
        println!("{}", scores_line("tuning", &tune));
        println!("{}", scores_line("validation", &valid));
        print_by_lang(&[("tuning", &tune), ("validation", &valid)]);
        if opts.show != Show::None {
            print_errors(&tune);
        }
        if opts.show == Show::All {
            println!("\nvalidation errors:");
            print_errors(&valid);
        } else {
            println!("\n(validation errors are not listed: read them only once tuning is done, with --show all)");
        }
    } else {
        println!();
        println!("{}", scores_line("all", &tune));
        print_by_lang(&[("all", &tune)]);
        if opts.show != Show::None {
            print_errors(&tune);
        }
    }
    if opts.sweep {
        print_sweep(&matcher, &tuning, opts.holdout.is_some());
    }
    if opts.suggest {
        print_suggestions(&matcher, &tuning);
    }
    Ok(())
}
