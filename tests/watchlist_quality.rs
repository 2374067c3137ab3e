//! The shipped watchlist is measurably right: on the relevance labels of
//! real archived items (`../shared/corpus/labels/`, skipped when absent) and
//! on hand-written look-alikes in every language it covers.

use std::path::Path;

use newshound::commands::read_labels;
use newshound::rules::Matcher;
use newshound::rules::evaluate::evaluate;

fn shipped() -> Matcher {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/watchlists/ukraine-peace-plan.toml");
    Matcher::new(vec![
        newshound::config::load_watchlist(&path).unwrap_or_else(|e| panic!("{e}")),
    ])
}

#[test]
fn precision_and_recall_on_the_labelled_corpus() {
    let labels = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/labels/dev.jsonl");
    if !labels.exists() {
        eprintln!("skipped: {} is absent", labels.display());
        return;
    }
    let r = evaluate(&shipped(), &read_labels(&labels).unwrap());
    println!(
        "TP {} FP {} FN {} TN {} (maybe {}): precision {:.3} recall {:.3} F1 {:.3}",
        r.true_pos,
        r.false_pos,
        r.false_neg,
        r.true_neg,
        r.maybe,
        r.precision(),
        r.recall(),
        r.f1()
    );
    assert!(r.true_pos + r.false_neg > 250, "labels look incomplete");
    assert!(r.precision() >= 0.95, "precision {:.3}", r.precision());
    assert!(r.recall() >= 0.95, "recall {:.3}", r.recall());
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
