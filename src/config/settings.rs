//! The daemon's own config file (`newshound.toml`): database and alert
//! log paths, polling and alert settings; and loading the whole
//! configuration it points at (feed list, watchlists, aliases).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::diagnostics::{ConfigErrors, Diagnostic, Source, whole_file};
use super::feeds::{self, FeedSpec};
use super::opml;
use super::paths::{parent_dir, resolve, toml_files};
use super::raw::RawMain;
use super::sinks::{self, SinkKind, SinkSpec};
use super::values::{count_field, duration_field, parse_duration, parse_size};
use super::watchlists::{LOG_SINK, load_alias_dir, load_watchlist_with};
use crate::rules::CompiledWatchlist;

#[derive(Debug, Clone, PartialEq)]
pub struct Polling {
    pub interval: Duration,
    pub min_interval: Duration,
    pub max_interval: Duration,
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub concurrency: usize,
    pub per_host: usize,
    pub host_gap: Duration,
    pub max_body: u64,
    pub user_agent: String,
    pub max_backoff: Duration,
}

impl Default for Polling {
    fn default() -> Polling {
        Polling {
            interval: Duration::from_secs(15 * 60),
            min_interval: Duration::from_secs(2 * 60),
            max_interval: Duration::from_secs(6 * 3600),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            concurrency: 32,
            per_host: 2,
            host_gap: Duration::from_secs(1),
            max_body: 8 * 1024 * 1024,
            user_agent: format!(
                "newshound/{} (news monitor; +https://github.com/newshound/newshound)",
                env!("CARGO_PKG_VERSION")
            ),
            max_backoff: Duration::from_secs(24 * 3600),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AlertSettings {
    /// On a feed's first poll, items older than this are stored without
    /// alerting.
    pub first_poll_max_age: Duration,
}

impl Default for AlertSettings {
    fn default() -> AlertSettings {
        AlertSettings {
            first_poll_max_age: Duration::from_secs(24 * 3600),
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub database: PathBuf,
    /// Where alerts go: the `[[sink]]` tables, and `alert_log`'s JSONL
    /// sink named `log`.
    pub sinks: Vec<SinkSpec>,
    pub feeds_file: PathBuf,
    pub polling: Polling,
    pub alerts: AlertSettings,
    /// Watchlists that alert once more when a story reaches this many
    /// outlets (`escalate_at`), by name.
    pub escalate_at: BTreeMap<String, u32>,
    /// How long items that matched no watchlist are kept (`[archive]
    /// keep_unmatched`, default 30 days); `None`: forever. Matched items
    /// are kept forever.
    pub keep_unmatched: Option<Duration>,
    pub feeds: Vec<FeedSpec>,
    pub watchlists: Vec<CompiledWatchlist>,
    /// The log filter from `[log] level` (tracing's EnvFilter syntax), when
    /// set; `RUST_LOG` and `--log` win over it.
    pub log_level: Option<String>,
    /// Where `/healthz` and `/metrics` are served (`[http] listen`); off
    /// when `None`.
    pub http_listen: Option<std::net::SocketAddr>,
    /// The folders of watchlists and of shared aliases.
    pub watchlist_dir: PathBuf,
    pub alias_dir: PathBuf,
    /// Problems that did not stop loading (duplicate OPML outlines).
    pub warnings: Vec<Diagnostic>,
}

impl Config {
    /// The file of the first JSON Lines sink, which `alerts --follow`
    /// follows.
    pub fn alert_log(&self) -> Option<&Path> {
        self.sinks.iter().find_map(|s| match &s.kind {
            SinkKind::Jsonl { path, .. } => Some(path.as_path()),
            _ => None,
        })
    }

    /// The settings that differ from `other`'s and take a restart to
    /// change, by name.
    pub fn restart_only_changes(&self, other: &Config) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.database != other.database {
            out.push("database");
        }
        if self.http_listen != other.http_listen {
            out.push("http.listen");
        }
        out
    }
}

/// How long items that matched nothing are kept by default.
pub const DEFAULT_KEEP_UNMATCHED: Duration = Duration::from_secs(30 * 86_400);

/// Loads and validates the configuration at `path`, with its feed list,
/// watchlists and aliases. Every problem found is returned, not only the
/// first.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    load_with(path, true)
}

/// Like [`load`], for commands that read the database and send nothing
/// (`alerts`, `feeds`, `search`, `replay`): the sinks' secrets are not
/// read, so that these work in a shell that lacks the daemon's
/// environment and credentials.
pub fn load_for_reading(path: &Path) -> Result<Config, ConfigErrors> {
    load_with(path, false)
}

fn load_with(path: &Path, resolve_secrets: bool) -> Result<Config, ConfigErrors> {
    let mut diags = Vec::new();
    let Some(src) = Source::read(path, &mut diags) else {
        return Err(ConfigErrors(diags));
    };
    let Some(raw) = src.parse::<RawMain>(&mut diags) else {
        return Err(ConfigErrors(diags));
    };
    let base = parent_dir(path);

    let d = Polling::default();
    let p = &raw.polling;
    let mut polling = Polling {
        interval: duration_field(&src, &p.interval, d.interval, &mut diags),
        min_interval: duration_field(&src, &p.min_interval, d.min_interval, &mut diags),
        max_interval: duration_field(&src, &p.max_interval, d.max_interval, &mut diags),
        timeout: duration_field(&src, &p.timeout, d.timeout, &mut diags),
        connect_timeout: duration_field(&src, &p.connect_timeout, d.connect_timeout, &mut diags),
        concurrency: count_field(&src, &p.concurrency, d.concurrency, 4096, &mut diags),
        per_host: count_field(&src, &p.per_host, d.per_host, 64, &mut diags),
        host_gap: match &p.host_gap {
            None => d.host_gap,
            Some(s) => parse_duration(s.get_ref()).unwrap_or_else(|m| {
                diags.push(src.diag_span(s, m));
                d.host_gap
            }),
        },
        max_body: match &p.max_body {
            None => d.max_body,
            Some(s) => match parse_size(s.get_ref()) {
                Ok(n) if n >= 1024 => n,
                Ok(_) => {
                    diags.push(src.diag_span(s, "max_body must be at least 1KiB"));
                    d.max_body
                }
                Err(m) => {
                    diags.push(src.diag_span(s, m));
                    d.max_body
                }
            },
        },
        user_agent: match &p.user_agent {
            None => d.user_agent.clone(),
            Some(s) if s.get_ref().trim().is_empty() || s.get_ref().contains(['\r', '\n']) => {
                diags.push(src.diag_span(s, "user_agent must be one non-empty line"));
                d.user_agent.clone()
            }
            Some(s) => s.get_ref().clone(),
        },
        max_backoff: duration_field(&src, &p.max_backoff, d.max_backoff, &mut diags),
    };
    if polling.min_interval > polling.max_interval {
        if let Some(s) = &p.min_interval {
            diags.push(src.diag_span(s, "min_interval is larger than max_interval"));
        }
        polling.min_interval = polling.max_interval;
    }
    let keep_unmatched = match &raw.archive.keep_unmatched {
        Some(v) if v.get_ref().trim() == "forever" => None,
        v => Some(duration_field(&src, v, DEFAULT_KEEP_UNMATCHED, &mut diags)),
    };
    let alerts = AlertSettings {
        first_poll_max_age: duration_field(
            &src,
            &raw.alerts.first_poll_max_age,
            AlertSettings::default().first_poll_max_age,
            &mut diags,
        ),
    };

    let log_level = match &raw.log.level {
        Some(l) if tracing_subscriber::EnvFilter::try_new(l.get_ref()).is_err() => {
            diags.push(src.diag_span(
                l,
                "invalid log level: write a level (error, warn, info, debug, trace) or a filter like \"info,newshound=debug\"",
            ));
            None
        }
        Some(l) => Some(l.get_ref().clone()),
        None => None,
    };
    let http_listen = match &raw.http.listen {
        None => None,
        Some(a) => match a.get_ref().parse::<std::net::SocketAddr>() {
            Ok(addr) => Some(addr),
            Err(_) => {
                diags.push(src.diag_span(a, "listen must be an address and port, like \"127.0.0.1:9464\""));
                None
            }
        },
    };
    let database = resolve(&base, raw.database.get_ref());
    let mut sink_specs = Vec::new();
    if let Some(log) = &raw.alert_log {
        sink_specs.push(SinkSpec {
            name: LOG_SINK.to_string(),
            kind: SinkKind::Jsonl {
                path: resolve(&base, log.get_ref()),
                fsync: true,
            },
            policy: sinks::jsonl_log_policy(),
        });
        if let Some(twin) = raw.sink.iter().find(|s| s.name.get_ref().trim() == LOG_SINK) {
            diags.push(src.diag_span(
                &twin.name,
                format!("sink name '{LOG_SINK}' is taken by alert_log; name this sink otherwise"),
            ));
        }
    }
    sink_specs.extend(sinks::sinks(&src, &base, &raw.sink, resolve_secrets, &mut diags));
    if raw.alert_log.is_none() && raw.sink.is_empty() {
        diags.push(whole_file(
            path,
            "no alert sink: set alert_log = \"PATH\" or add a [[sink]] table".to_string(),
        ));
    }
    let feeds_file = resolve(&base, raw.feeds.get_ref());
    let mut warnings = Vec::new();
    let feeds = load_feed_list(&feeds_file, &mut diags, &mut warnings);

    let wl_dir = resolve(&base, raw.watchlists.get_ref());
    let alias_dir = match &raw.aliases {
        Some(a) => resolve(&base, a.get_ref()),
        None => parent_dir(&wl_dir).join("aliases"),
    };
    if !wl_dir.is_dir() {
        diags.push(src.diag_span(
            &raw.watchlists,
            format!("watchlists folder {} does not exist", wl_dir.display()),
        ));
    }
    let sink_names: Vec<String> = sink_specs.iter().map(|s| s.name.clone()).collect();
    let shared = load_alias_dir(&alias_dir, raw.aliases.is_some(), &mut diags);
    let mut watchlists = Vec::new();
    let mut escalate_at = BTreeMap::new();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for file in toml_files(&wl_dir, &mut diags) {
        if let Some((wl, delivery)) = load_watchlist_with(&file, &shared, Some(&sink_names), &mut diags) {
            if let Some(first) = names.get(&wl.name) {
                diags.push(whole_file(
                    &file,
                    format!("watchlist name '{}' is already used by {}", wl.name, first.display()),
                ));
            } else {
                names.insert(wl.name.clone(), file.clone());
                if let Some(since) = wl.since.filter(|s| *s > chrono::Utc::now()) {
                    warnings.push(whole_file(
                        &file,
                        format!(
                            "since {} is in the future: this watchlist matches nothing until then",
                            since.to_rfc3339()
                        ),
                    ));
                }
                if let Some(n) = delivery.escalate_at {
                    escalate_at.insert(wl.name.clone(), n);
                }
                for (sink, mode) in delivery.modes {
                    if let Some(spec) = sink_specs.iter_mut().find(|s| s.name == sink) {
                        spec.policy.watchlists.insert(wl.name.clone(), mode);
                    }
                }
                watchlists.push(wl);
            }
        }
    }
    if diags.is_empty() && watchlists.is_empty() {
        diags.push(src.diag_span(
            &raw.watchlists,
            format!("no watchlist (*.toml) in {}", wl_dir.display()),
        ));
    }

    if diags.is_empty() {
        Ok(Config {
            file: path.to_path_buf(),
            database,
            sinks: sink_specs,
            feeds_file,
            polling,
            alerts,
            escalate_at,
            keep_unmatched,
            feeds,
            watchlists,
            log_level,
            http_listen,
            watchlist_dir: wl_dir,
            alias_dir,
            warnings,
        })
    } else {
        Err(ConfigErrors(diags))
    }
}

/// Loads the feed list, a TOML file of `[[feed]]` tables or an OPML file.
pub fn load_feed_list(path: &Path, diags: &mut Vec<Diagnostic>, warnings: &mut Vec<Diagnostic>) -> Vec<FeedSpec> {
    let Some(src) = Source::read(path, diags) else {
        return Vec::new();
    };
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("opml") || e.eq_ignore_ascii_case("xml"))
    {
        return match opml::parse_opml(&src.text) {
            Ok(list) => opml::dedup_feeds(list, &src, diags, warnings),
            Err(e) => {
                diags.push(whole_file(path, format!("invalid OPML: {e}")));
                Vec::new()
            }
        };
    }
    feeds::toml_feed_list(&src, diags)
}
