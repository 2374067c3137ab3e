//! Compiling watchlists: rule queries and aliases parsed into syntax
//! trees, every error reported with where it sits. Pure.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::query::{self, Aliases, Node, QueryError};

/// How urgent a watchlist's (or rule's) alerts are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    #[default]
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// One rule of a watchlist, as written.
#[derive(Debug, Clone)]
pub struct RuleDef {
    pub id: String,
    pub query: String,
    pub severity: Option<Severity>,
    /// What the rule adds to an item's score when the watchlist has a
    /// `threshold` (1 when not given).
    pub weight: Option<f64>,
}

/// A watchlist as written, already checked for its shape by `config`.
#[derive(Debug, Clone, Default)]
pub struct WatchlistDef {
    pub name: String,
    pub description: String,
    pub severity: Severity,
    pub sinks: Vec<String>,
    pub rules: Vec<RuleDef>,
    pub exclude: Vec<String>,
    /// Aliases defined in the watchlist itself; they take precedence over
    /// shared ones of the same name.
    pub aliases: Vec<(String, Vec<String>)>,
    /// A hash of everything the watchlist was compiled from.
    pub version: String,
    /// Items that happened before this time are not matched.
    pub since: Option<DateTime<Utc>>,
    /// When set, an item matches only when the weights of the rules it
    /// matches add up to at least this.
    pub threshold: Option<f64>,
}

/// Where in a watchlist a query error sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Rule(usize),
    Exclude(usize),
    Alias { name: String, entry: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    pub location: Location,
    pub error: QueryError,
}

/// Parses alias definitions on top of `base` (aliases already known). Each
/// entry is a query of its own (a term, a phrase, a prefix, another
/// `@alias`...); the alias matches when any entry does. Aliases may refer to
/// each other in any order, but not in a cycle. Returns every alias that
/// compiled (with `base`) and the errors of the others.
pub fn compile_aliases(defs: &[(String, Vec<String>)], base: &Aliases) -> (Aliases, Vec<CompileError>) {
    let mut known = base.clone();
    let mut pending: Vec<&(String, Vec<String>)> = defs.iter().collect();
    let mut errors = Vec::new();
    loop {
        let mut progress = false;
        let mut waiting = Vec::new();
        for def in pending {
            let (name, entries) = def;
            let parsed: Vec<Result<Node, QueryError>> = entries.iter().map(|e| query::parse(e, &known)).collect();
            let blocked = parsed.iter().any(|r| match r {
                Err(e) => defs
                    .iter()
                    .any(|(n, _)| n != name && e.message == format!("unknown alias '@{n}'") && !known.contains_key(n)),
                Ok(_) => false,
            });
            if blocked {
                waiting.push(def);
                continue;
            }
            progress = true;
            let mut nodes = Vec::new();
            for (i, r) in parsed.into_iter().enumerate() {
                match r {
                    Ok(n) => nodes.push(n),
                    Err(error) => errors.push(CompileError {
                        location: Location::Alias {
                            name: name.clone(),
                            entry: i,
                        },
                        error,
                    }),
                }
            }
            let node = if nodes.len() == 1 {
                nodes.remove(0)
            } else {
                Node::Or(nodes)
            };
            known.insert(name.clone(), node);
        }
        pending = waiting;
        if pending.is_empty() || !progress {
            break;
        }
    }
    // What is left refers, directly or not, to itself.
    for (name, entries) in pending {
        errors.push(CompileError {
            location: Location::Alias {
                name: name.clone(),
                entry: 0,
            },
            error: QueryError {
                offset: 0,
                len: entries.first().map_or(1, String::len),
                message: format!("alias '@{name}' refers to itself through other aliases"),
            },
        });
    }
    (known, errors)
}

#[derive(Debug, Clone)]
pub struct CompiledRule {
    pub id: String,
    pub severity: Option<Severity>,
    pub node: Node,
    /// See [`RuleDef::weight`].
    pub weight: f64,
}

#[derive(Debug, Clone)]
pub struct CompiledWatchlist {
    pub name: String,
    pub description: String,
    pub severity: Severity,
    pub sinks: Vec<String>,
    pub version: String,
    pub rules: Vec<CompiledRule>,
    pub exclude: Vec<Node>,
    /// Items that happened before this time are not matched (see
    /// [`crate::rules::Matcher::match_item`]).
    pub since: Option<DateTime<Utc>>,
    /// See [`WatchlistDef::threshold`].
    pub threshold: Option<f64>,
}

/// Compiles a watchlist against the shared aliases. Every error is reported,
/// not only the first.
pub fn compile_watchlist(def: &WatchlistDef, shared: &Aliases) -> Result<CompiledWatchlist, Vec<CompileError>> {
    let (aliases, mut errors) = compile_aliases(&def.aliases, shared);
    let mut rules = Vec::new();
    for (i, r) in def.rules.iter().enumerate() {
        match query::parse(&r.query, &aliases) {
            Ok(node) => rules.push(CompiledRule {
                id: r.id.clone(),
                severity: r.severity,
                node,
                weight: r.weight.unwrap_or(1.0),
            }),
            Err(error) => errors.push(CompileError {
                location: Location::Rule(i),
                error,
            }),
        }
    }
    let mut exclude = Vec::new();
    for (i, q) in def.exclude.iter().enumerate() {
        match query::parse(q, &aliases) {
            Ok(node) => exclude.push(node),
            Err(error) => errors.push(CompileError {
                location: Location::Exclude(i),
                error,
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(CompiledWatchlist {
        name: def.name.clone(),
        description: def.description.clone(),
        severity: def.severity,
        sinks: def.sinks.clone(),
        version: def.version.clone(),
        rules,
        exclude,
        since: def.since,
        threshold: def.threshold,
    })
}
