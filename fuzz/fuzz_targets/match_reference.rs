//! (query, item) -> match, checked against a straightforward reference
//! evaluator (`tests/common/reference.rs`): random watchlists built from a
//! small grammar over words of the story in several scripts, random items
//! built from the same words with typos, case, suffixes and odd
//! separators. The matcher (raw test, presearch, verify) must report
//! exactly the rules the reference finds.
#![no_main]

use arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use newshound::rules::{self, Aliases, DocFields, Matcher, RuleDef, WatchlistDef};

#[allow(dead_code)]
#[path = "../../tests/common/reference.rs"]
mod reference;

const WORDS: &[&str] = &[
    "witkoff", "Dmitriev", "zelensky", "plan", "peace", "Ukraine", "geneva", "talks", "мирний", "план",
    "Зеленський", "fredsplan", "kyiv", "28", "point", "gaza", "deal", "russia", "Selenskyj", "négociations",
    "Straße", "umerov", "和平", "Київ", "a", "ab",
];

const SEPARATORS: &[&str] = &[" ", " ", ", ", "-", " — ", ". ", "'", "’", "\u{a0}", "\t", "/", "…"];

fn word(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    Ok(u.choose(WORDS)?.to_string())
}

fn leaf(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let w = word(u)?;
    Ok(match u.int_in_range(0..=7)? {
        0 => {
            let n = w.chars().count().clamp(2, 4);
            format!("{}*", w.chars().take(n).collect::<String>())
        }
        1 if w.chars().count() >= 5 => format!("{w}~"),
        2 => format!("\"{w} {}\"", word(u)?),
        3 => format!("{}:{w}", u.choose(&["title", "summary", "content", "tag", "link", "source"])?),
        4 => format!("/{}/", regex::escape(&w.to_lowercase())),
        5 => "@envoys".to_string(),
        _ => w,
    })
}

fn positional(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<String> {
    Ok(match u.int_in_range(0..=3)? {
        0 => format!("\"{} {}\"", word(u)?, word(u)?),
        1 => format!("({} OR {})", word(u)?, word(u)?),
        2 if depth > 0 => format!(
            "({} {}NEAR/{} {})",
            positional(u, depth - 1)?,
            if u.arbitrary()? { "O" } else { "" },
            u.int_in_range(0..=5)?,
            positional(u, depth - 1)?
        ),
        _ => word(u)?,
    })
}

fn query(u: &mut Unstructured<'_>, depth: u32) -> arbitrary::Result<String> {
    if depth == 0 {
        return leaf(u);
    }
    Ok(match u.int_in_range(0..=6)? {
        0 => format!("({} OR {})", query(u, depth - 1)?, query(u, depth - 1)?),
        1 => format!("({} AND {})", query(u, depth - 1)?, query(u, depth - 1)?),
        2 => format!("({} {})", query(u, depth - 1)?, query(u, depth - 1)?),
        3 => format!("({} -{})", query(u, depth - 1)?, query(u, depth - 1)?),
        4 => format!(
            "({} {}NEAR/{} {})",
            positional(u, 1)?,
            if u.arbitrary()? { "O" } else { "" },
            u.int_in_range(0..=5)?,
            positional(u, 1)?
        ),
        _ => leaf(u)?,
    })
}

fn text(u: &mut Unstructured<'_>) -> arbitrary::Result<String> {
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=20)? {
        let w = word(u)?;
        let w = match u.int_in_range(0..=6)? {
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
            4 => char::from_u32(u.int_in_range(0x20..=0x3000)?).map_or(w.clone(), |c| format!("{w}{c}")),
            _ => w,
        };
        s.push_str(&w);
        s.push_str(u.choose(SEPARATORS)?);
    }
    Ok(s)
}

fn check(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let n = u.int_in_range(1..=6)?;
    let mut queries = Vec::new();
    for _ in 0..n {
        queries.push(query(u, 3)?);
    }
    let exclude = if u.arbitrary()? { vec![query(u, 2)?] } else { Vec::new() };
    let def = WatchlistDef {
        name: "f".into(),
        rules: queries
            .iter()
            .enumerate()
            .map(|(i, q)| RuleDef {
                id: format!("r{i}"),
                query: q.clone(),
                severity: None,
            })
            .collect(),
        exclude,
        version: "v".into(),
        ..Default::default()
    };
    let (aliases, errors) = rules::compile_aliases(
        &[(
            "envoys".to_string(),
            vec!["Witkoff".to_string(), "Dmitriev~".to_string(), "Уиткофф*".to_string()],
        )],
        &Aliases::new(),
    );
    assert!(errors.is_empty());
    // Some random queries are invalid (only negative): the parser's
    // business, not this target's.
    let Ok(wl) = rules::compile_watchlist(&def, &aliases) else { return Ok(()) };
    let matcher = Matcher::new(vec![wl]);
    let (title, summary, content) = (text(u)?, text(u)?, text(u)?);
    let tags = vec![text(u)?];
    let fields = DocFields {
        title: &title,
        summary: &summary,
        content: &content,
        link: "https://peace.example/geneva-talks",
        source: "Wire wire.example",
        lang: "en",
        tags: &tags,
    };
    let got: Vec<String> = matcher
        .match_fields(fields)
        .first()
        .map(|m| m.rules.clone())
        .unwrap_or_default();
    let want = reference::watchlist_rules(&matcher.watchlists()[0], &reference::RefDoc::new(&fields));
    assert_eq!(got, want, "queries {queries:?}\ntitle {title:?}\nsummary {summary:?}\ncontent {content:?}\ntags {tags:?}");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let _ = check(&mut Unstructured::new(data));
});
