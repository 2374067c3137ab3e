//! The shipped watchlist is measurably right, on items it was not tuned on:
//! the validation parts of the relevance labels (`../shared/corpus/labels/`,
//! skipped when absent), split as `newshound eval --holdout random:0.5:2026`
//! splits them; and on hand-written items and look-alikes in every language
//! it covers (`tests/data/watchlist/`).

use std::path::{Path, PathBuf};

use newshound::commands::read_labels;
use newshound::rules::Matcher;
use newshound::rules::evaluate::{EvalReport, Split, evaluate};

/// The split the README's figures come from. Rules were written and tuned
/// on the tuning part only.
const SPLIT: &str = "random:0.5:2026";

fn shipped() -> Matcher {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/watchlists/ukraine-peace-plan.toml");
    Matcher::new(vec![
        newshound::config::load_watchlist(&path).unwrap_or_else(|e| panic!("{e}")),
    ])
}

fn corpus(name: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/corpus/labels")
        .join(name);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipped: {} is absent", p.display());
        None
    }
}

/// The scores on the validation part of a labelled file.
fn validation(path: &Path) -> EvalReport {
    let items = read_labels(path).unwrap();
    let (tuning, valid) = Split::parse(SPLIT).unwrap().apply(&items);
    assert!(tuning.len() > 100 && valid.len() > 100, "split {SPLIT} is lopsided");
    let r = evaluate(&shipped(), valid);
    println!(
        "{}: validation TP {} FP {} FN {} TN {}: precision {:.3} recall {:.3}",
        path.display(),
        r.true_pos,
        r.false_pos,
        r.false_neg,
        r.true_neg,
        r.precision(),
        r.recall()
    );
    for (lang, c) in &r.by_lang {
        println!("  {lang}: precision {:.3} recall {:.3}", c.precision(), c.recall());
    }
    r
}

// The targets are 0.95 for precision and recall on both validation
// parts and 0.90 recall in every language; the floors below are those
// targets, so that no edit makes them worse unnoticed. The margins are
// thin (docs/watchlists.md): one more false alarm or miss on `dev.jsonl`
// fails the first test.

#[test]
fn validation_figures_on_the_real_stream() {
    let Some(path) = corpus("dev.jsonl") else { return };
    let r = validation(&path);
    assert!(r.true_pos + r.false_neg > 100, "labels look incomplete");
    assert!(r.precision() >= 0.95, "precision {:.3}", r.precision());
    assert!(r.recall() >= 0.95, "recall {:.3}", r.recall());
}

#[test]
fn validation_figures_in_eight_languages() {
    let Some(path) = corpus("dev-multi.jsonl") else { return };
    let r = validation(&path);
    assert!(r.precision() >= 0.99, "precision {:.3}", r.precision());
    assert!(r.recall() >= 0.95, "recall {:.3}", r.recall());
    assert_eq!(r.by_lang.len(), 8, "{:?}", r.by_lang.keys());
    for (lang, c) in &r.by_lang {
        assert!(c.recall() >= 0.90, "{lang}: recall {:.3}", c.recall());
    }
}

#[test]
fn every_language_and_look_alike_fixture() {
    let labels = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/watchlist/ukraine-peace-plan.jsonl");
    let r = evaluate(&shipped(), &read_labels(&labels).unwrap());
    assert!(
        r.false_positives.is_empty() && r.false_negatives.is_empty(),
        "false positives {:#?}\nfalse negatives {:#?}",
        r.false_positives,
        r.false_negatives
    );
    assert!(r.true_pos >= 10 && r.true_neg >= 9);
}

/// Items written for the events of the tuning part, in the languages the
/// tuning part lacked for each event, and look-alikes: they found gaps in
/// German compounds, Slavic inflections and terms named without a party.
#[test]
fn written_probes_of_the_tuning_events() {
    let labels = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/watchlist/written-probes.jsonl");
    let r = evaluate(&shipped(), &read_labels(&labels).unwrap());
    assert!(r.scored() >= 2500, "{} probes", r.scored());
    assert!(r.false_positives.is_empty(), "{:#?}", r.false_positives);
    assert!(r.false_negatives.len() <= 2, "{:#?}", r.false_negatives);
    for (lang, c) in &r.by_lang {
        assert!(c.true_pos + c.false_neg >= 3, "{lang}: too few probes");
    }
}
