//! Matcher throughput, one core: the shipped watchlist on ~1 KB items, and
//! 1,000 generated rules with the presearch against evaluating every rule.
//! Run: cargo bench --bench matcher

mod common;

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use newshound::rules::{self, Aliases, DocFields, Document, Matcher};

fn doc<'a>(m: &Matcher, i: &'a common::BenchItem) -> Document<'a> {
    m.document(DocFields {
        title: &i.title,
        summary: &i.summary,
        content: &i.content,
        link: "https://news.example/world/2025/11/20/story",
        source: "Example News news.example",
        lang: "en",
        tags: &[],
    })
}

fn shipped(c: &mut Criterion) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/watchlists/ukraine-peace-plan.toml");
    let wl = newshound::config::load_watchlist(&path).unwrap_or_else(|e| panic!("{e}"));
    let m = Matcher::new(vec![wl]);
    let mut g = c.benchmark_group("shipped-watchlist");
    // The stream as it comes (one story per item), and a dense mix (ten
    // headlines per item, so about ten times the share of matches, each
    // explained).
    for (name, (items, origin)) in [
        ("stream", common::stream_items(1000)),
        ("dense", common::news_items(1000)),
    ] {
        let avg = items.iter().map(common::BenchItem::bytes).sum::<usize>() / items.len();
        let matched = items
            .iter()
            .filter(|i| !m.match_document(&doc(&m, i)).is_empty())
            .count();
        eprintln!(
            "shipped watchlist, {name}: {} rules, {} items of {avg} bytes on average ({origin}), {matched} match",
            m.rule_count(),
            items.len()
        );
        g.throughput(Throughput::Elements(items.len() as u64));
        g.bench_function(format!("{name}: normalize+match"), |b| {
            b.iter(|| items.iter().map(|i| m.match_document(&doc(&m, i)).len()).sum::<usize>())
        });
        g.bench_function(format!("{name}: normalize only"), |b| {
            b.iter(|| items.iter().map(|i| doc(&m, i).norms().count()).sum::<usize>())
        });
    }
    g.finish();
}

fn generated(c: &mut Criterion) {
    let ents = common::entities(11, 4000);
    let def = common::rules(13, &ents[..1000], 1000);
    let wl = rules::compile_watchlist(&def, &Aliases::new()).unwrap_or_else(|e| panic!("{e:?}"));
    let m = Matcher::new(vec![wl]);
    // Items name entities (one word in 80), three in four of them not
    // watched.
    let (items, origin) = common::news_items(1000);
    let items = common::with_names(items, &ents, 80, 17);
    let fast: usize = items.iter().map(|i| m.match_document(&doc(&m, i)).len()).sum();
    let slow: usize = items
        .iter()
        .map(|i| m.match_document_exhaustive(&doc(&m, i)).len())
        .sum();
    assert_eq!(fast, slow, "presearch and exhaustive disagree");
    eprintln!(
        "generated: {} rules, {fast} matching items of {} from {origin}",
        m.rule_count(),
        items.len()
    );
    let mut g = c.benchmark_group("1000-rules");
    g.throughput(Throughput::Elements(items.len() as u64));
    g.sample_size(10);
    g.bench_function("presearch", |b| {
        b.iter(|| items.iter().map(|i| m.match_document(&doc(&m, i)).len()).sum::<usize>())
    });
    g.bench_function("exhaustive", |b| {
        b.iter(|| {
            items
                .iter()
                .map(|i| m.match_document_exhaustive(&doc(&m, i)).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, shipped, generated);
criterion_main!(benches);
