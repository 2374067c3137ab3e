//! Table-driven tests of the query language, kept as data in
//! `tests/data/rules/*.toml`: each case is a query, an item and whether the
//! query must match it; `errors.toml` holds queries that must not compile,
//! with the exact message and offset.

use std::collections::BTreeMap;
use std::path::Path;

use newshound::rules::{self, Aliases, DocFields, Document, Matcher, RuleDef, WatchlistDef};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    query: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    summary: String,
    #[serde(default)]
    link: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    lang: String,
    #[serde(default)]
    tags: Vec<String>,
    expected: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorCase {
    query: String,
    offset: usize,
    message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    case: Vec<Case>,
    #[serde(default)]
    error: Vec<ErrorCase>,
}

fn dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rules")
}

fn aliases() -> Aliases {
    let text = std::fs::read_to_string(dir().join("aliases.toml")).unwrap();
    let raw: BTreeMap<String, Vec<String>> = toml::from_str(&text).unwrap();
    let defs: Vec<(String, Vec<String>)> = raw.into_iter().collect();
    let (aliases, errors) = rules::compile_aliases(&defs, &Aliases::new());
    assert!(errors.is_empty(), "{errors:?}");
    aliases
}

fn files() -> Vec<(String, File)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir()).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        if name == "aliases.toml" || !name.ends_with(".toml") {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let f: File = toml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        out.push((name, f));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn rule_cases_match_as_expected() {
    let aliases = aliases();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut langs = 0;
    for (name, file) in files() {
        if !file.case.is_empty() {
            langs += 1;
        }
        for (i, c) in file.case.iter().enumerate() {
            total += 1;
            let def = WatchlistDef {
                name: "t".into(),
                rules: vec![RuleDef {
                    id: "r".into(),
                    query: c.query.clone(),
                    severity: None,
                    weight: None,
                }],
                version: "v".into(),
                ..Default::default()
            };
            let wl = match rules::compile_watchlist(&def, &aliases) {
                Ok(w) => w,
                Err(e) => {
                    failures.push(format!("{name} case {}: {:?} does not compile: {e:?}", i + 1, c.query));
                    continue;
                }
            };
            let m = Matcher::new(vec![wl]);
            let doc = Document::new(DocFields {
                title: &c.title,
                summary: &c.summary,
                content: "",
                link: &c.link,
                source: &c.source,
                lang: &c.lang,
                tags: &c.tags,
            });
            let got = m.match_document(&doc);
            assert_eq!(
                got,
                m.match_document_exhaustive(&doc),
                "{name} case {}: presearch disagrees",
                i + 1
            );
            if got.is_empty() == c.expected {
                failures.push(format!(
                    "{name} case {}: {:?} on {:?} should {}match",
                    i + 1,
                    c.query,
                    c.title,
                    if c.expected { "" } else { "not " }
                ));
            }
        }
    }
    assert!(total >= 60 && langs >= 8, "{total} cases in {langs} files");
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn error_cases_give_exact_messages() {
    let aliases = aliases();
    let mut n = 0;
    for (name, file) in files() {
        for e in &file.error {
            n += 1;
            let got = rules::query::parse(&e.query, &aliases).expect_err(&format!("{name}: {:?} compiled", e.query));
            assert_eq!(
                (got.offset, got.message.as_str()),
                (e.offset, e.message.as_str()),
                "{name}: {:?}",
                e.query
            );
        }
    }
    assert!(n >= 10);
}
