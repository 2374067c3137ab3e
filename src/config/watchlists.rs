//! Watchlists and their aliases: each file read, its queries compiled
//! through the pure `rules` module, every error placed at its
//! `file:line:col` inside the query text.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};
use toml::Spanned;

use super::diagnostics::{ConfigErrors, Diagnostic, Source, whole_file};
use super::paths::{parent_dir, toml_files};
use super::raw::RawWatchlist;
use super::values::{parse_duration, parse_since};
use crate::rules::{self, Aliases, CompiledWatchlist, Location, RuleDef, Severity, WatchlistDef};

/// The name of the sink that writes the JSON Lines alert log.
pub const LOG_SINK: &str = "log";

/// What a watchlist file says of delivery, besides its rules.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    /// Its mode per sink (its `[digest]` table): `None` sends at once,
    /// `Some(period)` one digest per period.
    pub(super) modes: Vec<(String, Option<Duration>)>,
    /// `escalate_at`: alert once more when a story reaches this many
    /// outlets.
    pub(super) escalate_at: Option<u32>,
}

// ---------------------------------------------------------- validated types

/// Shared aliases: every `*.toml` in `dir`, each a table of
/// `name = ["entry", ...]`.
pub(super) struct SharedAliases {
    aliases: Aliases,
    /// Bytes of every alias file, for watchlist versions.
    digest_input: Vec<u8>,
}

pub(super) fn load_alias_dir(dir: &Path, required: bool, diags: &mut Vec<Diagnostic>) -> SharedAliases {
    let mut out = SharedAliases {
        aliases: Aliases::new(),
        digest_input: Vec::new(),
    };
    if !dir.is_dir() {
        if required {
            diags.push(whole_file(dir, "aliases folder does not exist".to_string()));
        }
        return out;
    }
    let mut origin: HashMap<String, PathBuf> = HashMap::new();
    // All files first, so that aliases may refer to aliases of other files.
    let mut defs: Vec<(String, Vec<String>)> = Vec::new();
    let mut spans: HashMap<String, (usize, Vec<Spanned<String>>)> = HashMap::new();
    let mut sources = Vec::new();
    for file in toml_files(dir, diags) {
        let Some(src) = Source::read(&file, diags) else {
            continue;
        };
        out.digest_input.extend_from_slice(src.text.as_bytes());
        let Some(raw) = src.parse::<BTreeMap<String, Vec<Spanned<String>>>>(diags) else {
            continue;
        };
        for (name, entries) in raw {
            if let Some(first) = origin.get(&name) {
                diags.push(whole_file(
                    &file,
                    format!("alias '{name}' is already defined in {}", first.display()),
                ));
                continue;
            }
            origin.insert(name.clone(), file.clone());
            defs.push((name.clone(), entries.iter().map(|s| s.get_ref().clone()).collect()));
            spans.insert(name, (sources.len(), entries));
        }
        sources.push(src);
    }
    let (aliases, errors) = rules::compile_aliases(&defs, &Aliases::new());
    out.aliases = aliases;
    for e in errors {
        if let Location::Alias { name, entry } = &e.location {
            if let Some((src_i, entries)) = spans.get(name) {
                if let Some(s) = entries.get(*entry) {
                    diags.push(query_diag(&sources[*src_i], s, &format!("alias '{name}'"), &e.error));
                }
            }
        }
    }
    out
}

fn query_diag(src: &Source, s: &Spanned<String>, what: &str, e: &rules::QueryError) -> Diagnostic {
    let start = src.value_offset_in_source(s.span().start, e.offset);
    let end = src.value_offset_in_source(s.span().start, e.offset + e.len);
    src.diag_at(
        start,
        end.saturating_sub(start).max(1),
        format!("{what}: {}", e.message),
    )
}

/// Loads one watchlist file for `match`, `eval` and `replay`, with the
/// shared aliases from the `aliases` folder next to its folder.
pub fn load_watchlist(path: &Path) -> Result<CompiledWatchlist, ConfigErrors> {
    let mut diags = Vec::new();
    let alias_dir = parent_dir(&parent_dir(path)).join("aliases");
    let shared = load_alias_dir(&alias_dir, false, &mut diags);
    // Alone, a watchlist's sink names cannot be checked: the config that
    // defines them is not read.
    let wl = load_watchlist_with(path, &shared, None, &mut diags);
    match wl {
        Some((w, _)) if diags.is_empty() => Ok(w),
        _ => Err(ConfigErrors(diags)),
    }
}

/// Compiles a watchlist written as `text`, as if read from `path`, without
/// shared aliases: what `check` says of a file, for tools and fuzzing.
pub fn watchlist_from_text(path: &Path, text: &str) -> Result<CompiledWatchlist, ConfigErrors> {
    let mut diags = Vec::new();
    let src = Source {
        path: path.to_path_buf(),
        text: text.to_string(),
    };
    let shared = SharedAliases {
        aliases: Aliases::new(),
        digest_input: Vec::new(),
    };
    let wl = watchlist_from_source(&src, &shared, Some(&[LOG_SINK.to_string()]), &mut diags);
    match wl {
        Some((w, _)) if diags.is_empty() => Ok(w),
        _ => Err(ConfigErrors(diags)),
    }
}

pub(super) fn load_watchlist_with(
    path: &Path,
    shared: &SharedAliases,
    sinks: Option<&[String]>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(CompiledWatchlist, Delivery)> {
    let src = Source::read(path, diags)?;
    watchlist_from_source(&src, shared, sinks, diags)
}

fn watchlist_from_source(
    src: &Source,
    shared: &SharedAliases,
    sinks: Option<&[String]>,
    diags: &mut Vec<Diagnostic>,
) -> Option<(CompiledWatchlist, Delivery)> {
    let path = src.path.as_path();
    let raw = src.parse::<RawWatchlist>(diags)?;
    let before = diags.len();
    let name = match &raw.name {
        Some(n) if n.get_ref().trim().is_empty() => {
            diags.push(src.diag_span(n, "watchlist name must not be empty"));
            String::new()
        }
        Some(n) => n.get_ref().trim().to_string(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let severity = match &raw.severity {
        None => Severity::default(),
        Some(s) => Severity::parse(s.get_ref()).unwrap_or_else(|| {
            diags.push(src.diag_span(s, "severity must be one of low, medium, high, critical"));
            Severity::default()
        }),
    };
    let known = |s: &String| sinks.is_none_or(|k| k.contains(s));
    let sink_names = match &raw.sinks {
        None => sinks.unwrap_or_default().to_vec(),
        Some(list) => {
            let mut v = Vec::new();
            for s in list {
                if known(s.get_ref()) {
                    v.push(s.get_ref().clone());
                } else {
                    diags.push(src.diag_span(
                        s,
                        format!(
                            "unknown sink '{}' (known: {})",
                            s.get_ref(),
                            sinks.unwrap_or_default().join(", ")
                        ),
                    ));
                }
            }
            v
        }
    };
    let mut modes = Vec::new();
    for (sink, mode) in &raw.digest {
        let routed = sink_names.contains(sink) || (sinks.is_none() && raw.sinks.is_none());
        if !routed {
            diags.push(src.diag_span(
                mode,
                format!(
                    "[digest] names sink '{sink}', which this watchlist does not alert (its sinks: {})",
                    sink_names.join(", ")
                ),
            ));
            continue;
        }
        match mode.get_ref().trim() {
            "immediate" => modes.push((sink.clone(), None)),
            m => match parse_duration(m) {
                Ok(p) if p >= Duration::from_secs(60) => modes.push((sink.clone(), Some(p))),
                Ok(_) => diags.push(src.diag_span(mode, "a digest period must be at least 1m")),
                Err(e) => diags.push(src.diag_span(
                    mode,
                    format!("[digest] {sink}: \"immediate\" or a period such as \"30m\" ({e})"),
                )),
            },
        }
    }
    let escalate_at = raw
        .escalate_at
        .as_ref()
        .and_then(|e| match u32::try_from(*e.get_ref()) {
            Ok(n) if n >= 2 => Some(n),
            _ => {
                diags.push(src.diag_span(e, "escalate_at must be a number of outlets, 2 or more"));
                None
            }
        });
    let since = raw.since.as_ref().and_then(|v| {
        let text = match v.get_ref() {
            toml::Value::String(s) => s.clone(),
            toml::Value::Datetime(d) => d.to_string(),
            other => other.to_string(),
        };
        parse_since(&text)
            .map_err(|e| diags.push(src.diag_span(v, format!("since: {e}"))))
            .ok()
    });
    let threshold = raw
        .threshold
        .as_ref()
        .and_then(|v| positive_number(src, v, "threshold", diags));
    if raw.rule.is_empty() {
        diags.push(src.diag_at(0, 0, "watchlist has no [[rule]]"));
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    let mut rule_defs = Vec::new();
    for r in &raw.rule {
        let id = r.id.get_ref().trim();
        if id.is_empty() {
            diags.push(src.diag_span(&r.id, "rule id must not be empty"));
        } else if let Some(&first) = ids.get(id) {
            let line = src.line_of(first);
            diags.push(src.diag_span(&r.id, format!("rule id '{id}' is already used on line {line}")));
        } else {
            ids.insert(id, r.id.span().start);
        }
        let sev = r.severity.as_ref().and_then(|s| {
            let v = Severity::parse(s.get_ref());
            if v.is_none() {
                diags.push(src.diag_span(s, "severity must be one of low, medium, high, critical"));
            }
            v
        });
        let weight = r.weight.as_ref().and_then(|v| positive_number(src, v, "weight", diags));
        rule_defs.push(RuleDef {
            id: id.to_string(),
            query: r.query.get_ref().clone(),
            severity: sev,
            weight,
        });
    }
    let mut hasher = Sha256::new();
    hasher.update(src.text.as_bytes());
    hasher.update(&shared.digest_input);
    let digest = hasher.finalize();
    let version: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let def = WatchlistDef {
        name,
        description: raw.description.clone(),
        severity,
        sinks: sink_names,
        rules: rule_defs,
        exclude: raw.exclude.iter().map(|s| s.get_ref().clone()).collect(),
        aliases: raw
            .aliases
            .iter()
            .map(|(k, v)| (k.clone(), v.iter().map(|s| s.get_ref().clone()).collect()))
            .collect(),
        version,
        since,
        threshold,
    };
    match rules::compile_watchlist(&def, &shared.aliases) {
        Ok(wl) if diags.len() == before => Some((wl, Delivery { modes, escalate_at })),
        Ok(_) => None,
        Err(errors) => {
            for e in errors {
                let d = match &e.location {
                    Location::Rule(i) => {
                        let r = &raw.rule[*i];
                        query_diag(src, &r.query, &format!("rule '{}'", r.id.get_ref()), &e.error)
                    }
                    Location::Exclude(i) => query_diag(src, &raw.exclude[*i], "exclude", &e.error),
                    Location::Alias { name, entry } => match raw.aliases.get(name).and_then(|v| v.get(*entry)) {
                        Some(s) => query_diag(src, s, &format!("alias '{name}'"), &e.error),
                        None => whole_file(path, format!("alias '{name}': {}", e.error.message)),
                    },
                };
                diags.push(d);
            }
            None
        }
    }
}

/// A rule's `weight` or a watchlist's `threshold`: a number above 0.
fn positive_number(src: &Source, v: &Spanned<toml::Value>, field: &str, diags: &mut Vec<Diagnostic>) -> Option<f64> {
    let n = match v.get_ref() {
        toml::Value::Integer(i) => Some(*i as f64),
        toml::Value::Float(f) => Some(*f),
        _ => None,
    };
    match n {
        Some(n) if n.is_finite() && n > 0.0 => Some(n),
        _ => {
            diags.push(src.diag_span(v, format!("{field} must be a number above 0, such as 1 or 0.5")));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULE: &str = "\n[[rule]]\nid = \"a\"\nquery = \"Witkoff\"\n";

    #[test]
    fn since_is_a_date_and_a_bad_one_names_its_line() {
        let path = Path::new("w.toml");
        for text in [
            "since = \"2025-11-15\"\n",
            "since = 2025-11-15\n",
            "since = 2025-11-15T00:00:00Z\n",
        ] {
            let wl = watchlist_from_text(path, &format!("{text}{RULE}")).unwrap();
            assert_eq!(
                wl.since.map(|d| d.to_rfc3339()).as_deref(),
                Some("2025-11-15T00:00:00+00:00"),
                "{text}"
            );
        }
        assert!(watchlist_from_text(path, RULE).unwrap().since.is_none());
        let err = watchlist_from_text(path, &format!("name = \"x\"\nsince = \"15 November\"\n{RULE}")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("w.toml:2:") && text.contains("since: invalid date '15 November'"),
            "{text}"
        );
    }

    #[test]
    fn weights_and_threshold_are_numbers_above_zero() {
        let path = Path::new("w.toml");
        let text = "threshold = 1.5\n[[rule]]\nid = \"a\"\nquery = \"Witkoff\"\nweight = 0.5\n[[rule]]\nid = \"b\"\nquery = \"Umerov\"\n";
        let wl = watchlist_from_text(path, text).unwrap();
        assert_eq!(wl.threshold, Some(1.5));
        assert_eq!(wl.rules.iter().map(|r| r.weight).collect::<Vec<_>>(), [0.5, 1.0]);
        let bad = "threshold = 0\n[[rule]]\nid = \"a\"\nquery = \"Witkoff\"\nweight = \"high\"\n";
        let text = watchlist_from_text(path, bad).unwrap_err().to_string();
        assert!(
            text.contains("w.toml:1:") && text.contains("threshold must be a number above 0"),
            "{text}"
        );
        assert!(
            text.contains("w.toml:5:") && text.contains("weight must be a number above 0"),
            "{text}"
        );
    }
}
