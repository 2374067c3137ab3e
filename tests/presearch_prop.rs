//! Property: the presearch matcher (literals + Aho-Corasick, then verify)
//! returns exactly what evaluating every rule on every item returns, and
//! the rules a straightforward reference evaluator finds, for random rules
//! and random items.

#[allow(dead_code)]
#[path = "common/reference.rs"]
mod reference;

use newshound::rules::{self, Aliases, DocFields, Document, Matcher, RuleDef, WatchlistDef};
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "witkoff",
    "Dmitriev",
    "zelensky",
    "plan",
    "peace",
    "Ukraine",
    "geneva",
    "talks",
    "мирний",
    "план",
    "Зеленський",
    "fredsplan",
    "kyiv",
    "28",
    "point",
    "gaza",
    "deal",
    "russia",
    "Selenskyj",
    "négociations",
    "Straße",
    "umerov",
];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS).prop_map(str::to_string)
}

/// A word as it may appear in an item: other case, a typo, a suffix.
fn item_word() -> impl Strategy<Value = String> {
    (word(), 0u8..6).prop_map(|(w, how)| match how {
        0 => w.to_uppercase(),
        1 => {
            let mut c: Vec<char> = w.chars().collect();
            if c.len() > 3 {
                c.remove(c.len() / 2);
            }
            c.into_iter().collect()
        }
        2 => format!("{w}s"),
        3 => format!("{w}'s"),
        _ => w,
    })
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        (
            item_word(),
            prop::sample::select(&[" ", " ", ", ", "-", " — ", ". "][..]),
        ),
        0..25,
    )
    .prop_map(|ws| ws.into_iter().map(|(w, sep)| format!("{w}{sep}")).collect())
}

fn leaf() -> impl Strategy<Value = String> {
    prop_oneof![
        word(),
        word().prop_map(|w| {
            let p: String = w.chars().take(w.chars().count().clamp(2, 4)).collect();
            format!("{p}*")
        }),
        word()
            .prop_filter("fuzzy needs 5 letters", |w| w.chars().count() >= 5)
            .prop_map(|w| format!("{w}~")),
        (word(), word()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        word().prop_map(|w| format!("title:{w}")),
        word().prop_map(|w| format!("/{}/", regex::escape(&w.to_lowercase()))),
        Just("@envoys".to_string()),
    ]
}

fn positional() -> impl Strategy<Value = String> {
    prop_oneof![
        word(),
        (word(), word()).prop_map(|(a, b)| format!("\"{a} {b}\"")),
        (word(), word()).prop_map(|(a, b)| format!("({a} OR {b})")),
    ]
}

fn query() -> impl Strategy<Value = String> {
    let base = prop_oneof![
        3 => leaf(),
        1 => (positional(), positional(), 0u32..6, any::<bool>())
            .prop_map(|(a, b, n, o)| format!("({a} {}NEAR/{n} {b})", if o { "O" } else { "" })),
    ];
    base.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} OR {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} AND {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} {b})")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("({a} -{b})")),
        ]
    })
}

fn aliases() -> Aliases {
    let defs = vec![(
        "envoys".to_string(),
        vec!["Witkoff".to_string(), "Dmitriev~".to_string(), "Уиткофф*".to_string()],
    )];
    let (a, errors) = rules::compile_aliases(&defs, &Aliases::new());
    assert!(errors.is_empty());
    a
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn presearch_equals_exhaustive(
        queries in prop::collection::vec(query(), 1..40),
        exclude in prop::option::of(query()),
        items in prop::collection::vec((text(), text()), 1..20),
    ) {
        let aliases = aliases();
        let def = WatchlistDef {
            name: "p".into(),
            rules: queries.iter().enumerate().map(|(i, q)| RuleDef { id: format!("r{i}"), query: q.clone(), severity: None, weight: None }).collect(),
            exclude: exclude.into_iter().collect(),
            version: "v".into(),
            ..Default::default()
        };
        // Some random queries are invalid (only negative); those are the
        // parser's business, not this property's.
        let Ok(wl) = rules::compile_watchlist(&def, &aliases) else { return Ok(()) };
        let m = Matcher::new(vec![wl]);
        for (title, summary) in &items {
            let fields = DocFields { title, summary, link: "https://peace.example/geneva", source: "Wire wire.example", lang: "en", ..Default::default() };
            let doc = Document::new(fields);
            let expected = m.match_document_exhaustive(&doc);
            prop_assert_eq!(&m.match_document(&doc), &expected, "title {:?} summary {:?}", title, summary);
            // The daemon's documents hold only the fields the rules use.
            prop_assert_eq!(&m.match_document(&m.document(fields)), &expected);
            // The quick test on raw text never turns away a match.
            prop_assert_eq!(&m.match_fields(fields), &expected);
            // And the reference, written the long way, agrees on the rules.
            let by_reference = reference::watchlist_rules(&m.watchlists()[0], &reference::RefDoc::new(&fields));
            let rules: Vec<String> = expected.first().map(|w| w.rules.clone()).unwrap_or_default();
            prop_assert_eq!(rules, by_reference, "title {:?} summary {:?}", title, summary);
            if !m.may_match(&fields) {
                prop_assert!(expected.is_empty());
            }
        }
    }
}
