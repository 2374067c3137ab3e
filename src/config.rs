//! Configuration: the only reader of config files. Raw serde types (unknown
//! keys are errors) are validated into [`Config`]; every problem is reported
//! as `file:line:col: message`. Watchlists are compiled here through the pure
//! `rules` module so that `check` and start-up see the same errors.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest, Sha256};
use toml::Spanned;

use crate::rules::{self, Aliases, CompiledWatchlist, Location, RuleDef, Severity, WatchlistDef};

/// The name of the sink that writes the JSON Lines alert log.
pub const LOG_SINK: &str = "log";

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The offending source line and the caret under it, when known.
    pub excerpt: Option<(String, usize, usize)>,
    /// A warning does not stop the configuration from loading.
    pub warning: bool,
}

impl Diagnostic {
    fn into_warning(self) -> Diagnostic {
        Diagnostic { warning: true, ..self }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}{}",
            self.file.display(),
            self.line,
            self.col,
            if self.warning { "warning: " } else { "" },
            self.message
        )?;
        if let Some((line, col, len)) = &self.excerpt {
            let pad: String = line
                .chars()
                .take(col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n    {line}\n    {pad}{}", "^".repeat((*len).max(1)))?;
        }
        Ok(())
    }
}

/// Everything wrong with a configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A source file kept in memory so that byte offsets become line:col.
struct Source {
    path: PathBuf,
    text: String,
}

impl Source {
    fn read(path: &Path, diags: &mut Vec<Diagnostic>) -> Option<Source> {
        match std::fs::read(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(Source {
                    path: path.to_path_buf(),
                    text,
                }),
                Err(e) => {
                    diags.push(whole_file(path, format!("not valid UTF-8 ({e})")));
                    None
                }
            },
            Err(e) => {
                diags.push(whole_file(path, format!("cannot read: {e}")));
                None
            }
        }
    }

    /// The line (from 1) of a byte offset. Counts from the start: only for
    /// reporting, never per entry of a long file.
    fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    fn diag_at(&self, offset: usize, len: usize, message: impl Into<String>) -> Diagnostic {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let col = before[line_start..].chars().count() + 1;
        let line_end = self.text[line_start..]
            .find('\n')
            .map_or(self.text.len(), |i| line_start + i);
        let line_text = self.text[line_start..line_end].trim_end_matches('\r').to_string();
        let max_len = line_end.saturating_sub(offset).max(1);
        let width = self.text[offset..offset + len.min(max_len).min(self.text.len() - offset)]
            .chars()
            .count();
        Diagnostic {
            file: self.path.clone(),
            line,
            col,
            message: message.into(),
            excerpt: Some((line_text, col, width)),
            warning: false,
        }
    }

    fn diag_span<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
        let span = s.span();
        self.diag_at(span.start, span.end - span.start, message)
    }

    /// The byte offset where a string value's content starts, given the
    /// value's span (which includes the quotes).
    fn string_content_start(&self, span_start: usize) -> usize {
        let rest = &self.text[span_start.min(self.text.len())..];
        if rest.starts_with("'''") || rest.starts_with("\"\"\"") {
            let after = &rest[3..];
            if after.starts_with("\r\n") {
                span_start + 5
            } else if after.starts_with('\n') {
                span_start + 4
            } else {
                span_start + 3
            }
        } else {
            span_start + 1
        }
    }

    fn parse<T: for<'de> Deserialize<'de>>(&self, diags: &mut Vec<Diagnostic>) -> Option<T> {
        match toml::from_str::<T>(&self.text) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let msg = e.message().trim().to_string();
                diags.push(self.diag_at(span.start, span.end - span.start, msg));
                None
            }
        }
    }
}

fn whole_file(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: path.to_path_buf(),
        line: 1,
        col: 1,
        message,
        excerpt: None,
        warning: false,
    }
}

// ---------------------------------------------------------------- raw types

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMain {
    database: Spanned<String>,
    alert_log: Spanned<String>,
    feeds: Spanned<String>,
    watchlists: Spanned<String>,
    aliases: Option<Spanned<String>>,
    #[serde(default)]
    polling: RawPolling,
    #[serde(default)]
    alerts: RawAlerts,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolling {
    interval: Option<Spanned<String>>,
    min_interval: Option<Spanned<String>>,
    max_interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    connect_timeout: Option<Spanned<String>>,
    concurrency: Option<Spanned<i64>>,
    per_host: Option<Spanned<i64>>,
    host_gap: Option<Spanned<String>>,
    max_body: Option<Spanned<String>>,
    user_agent: Option<Spanned<String>>,
    max_backoff: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    first_poll_max_age: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeedList {
    #[serde(default)]
    feed: Vec<RawFeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeed {
    url: Spanned<String>,
    name: Option<String>,
    lang: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWatchlist {
    name: Option<Spanned<String>>,
    #[serde(default)]
    description: String,
    severity: Option<Spanned<String>>,
    sinks: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    aliases: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default)]
    exclude: Vec<Spanned<String>>,
    #[serde(default)]
    rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    query: Spanned<String>,
    severity: Option<Spanned<String>>,
}

// ---------------------------------------------------------- validated types

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

/// A feed to poll.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    pub url: String,
    pub name: String,
    pub lang: Option<String>,
    pub interval: Option<Duration>,
    pub tags: Vec<String>,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub database: PathBuf,
    pub alert_log: PathBuf,
    pub feeds_file: PathBuf,
    pub polling: Polling,
    pub alerts: AlertSettings,
    pub feeds: Vec<FeedSpec>,
    pub watchlists: Vec<CompiledWatchlist>,
    /// Problems that did not stop loading (duplicate OPML outlines).
    pub warnings: Vec<Diagnostic>,
}

fn resolve(base: &Path, p: &str) -> PathBuf {
    let p = Path::new(p);
    if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
}

fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Parses a duration such as `15m`, `1h 30m` or `90s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration '{s}' ({e}); write it like \"15m\", \"2h\" or \"30s\""))
}

/// Parses a size such as `16MiB`, `512 KB` or `1000000`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size '{s}'; write it like \"16MiB\" or \"512KB\""))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1000,
        "kib" | "k" => 1024,
        "mb" => 1000 * 1000,
        "mib" | "m" => 1024 * 1024,
        "gb" => 1000 * 1000 * 1000,
        "gib" | "g" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "invalid size unit '{other}' in '{s}' (use B, KB, KiB, MB, MiB, GB or GiB)"
            ));
        }
    };
    n.checked_mul(mult).ok_or_else(|| format!("size '{s}' is too large"))
}

fn duration_field(
    src: &Source,
    v: &Option<Spanned<String>>,
    default: Duration,
    diags: &mut Vec<Diagnostic>,
) -> Duration {
    match v {
        None => default,
        Some(s) => match parse_duration(s.get_ref()) {
            Ok(d) if d.is_zero() => {
                diags.push(src.diag_span(s, "duration must be greater than zero"));
                default
            }
            Ok(d) => d,
            Err(m) => {
                diags.push(src.diag_span(s, m));
                default
            }
        },
    }
}

fn count_field(src: &Source, v: &Option<Spanned<i64>>, default: usize, max: i64, diags: &mut Vec<Diagnostic>) -> usize {
    match v {
        None => default,
        Some(s) => {
            let n = *s.get_ref();
            if n < 1 || n > max {
                diags.push(src.diag_span(s, format!("must be between 1 and {max}")));
                default
            } else {
                n as usize
            }
        }
    }
}

/// Loads and validates the configuration at `path`, with its feed list,
/// watchlists and aliases. Every problem found is returned, not only the
/// first.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
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
    let alerts = AlertSettings {
        first_poll_max_age: duration_field(
            &src,
            &raw.alerts.first_poll_max_age,
            AlertSettings::default().first_poll_max_age,
            &mut diags,
        ),
    };

    let database = resolve(&base, raw.database.get_ref());
    let alert_log = resolve(&base, raw.alert_log.get_ref());
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
    let sinks = [LOG_SINK.to_string()];
    let shared = load_alias_dir(&alias_dir, raw.aliases.is_some(), &mut diags);
    let mut watchlists = Vec::new();
    let mut names: HashMap<String, PathBuf> = HashMap::new();
    for file in toml_files(&wl_dir, &mut diags) {
        if let Some(wl) = load_watchlist_with(&file, &shared, &sinks, &mut diags) {
            if let Some(first) = names.get(&wl.name) {
                diags.push(whole_file(
                    &file,
                    format!("watchlist name '{}' is already used by {}", wl.name, first.display()),
                ));
            } else {
                names.insert(wl.name.clone(), file.clone());
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
            alert_log,
            feeds_file,
            polling,
            alerts,
            feeds,
            watchlists,
            warnings,
        })
    } else {
        Err(ConfigErrors(diags))
    }
}

/// The `*.toml` files of a folder, sorted by name.
fn toml_files(dir: &Path, diags: &mut Vec<Diagnostic>) -> Vec<PathBuf> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            if dir.exists() {
                diags.push(whole_file(dir, format!("cannot list folder: {e}")));
            }
            return Vec::new();
        }
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    files
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
        return match crate::feed::parse_opml(&src.text) {
            Ok(list) => dedup_feeds(list, &src, diags, warnings),
            Err(e) => {
                diags.push(whole_file(path, format!("invalid OPML: {e}")));
                Vec::new()
            }
        };
    }
    let Some(raw) = src.parse::<RawFeedList>(diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for f in raw.feed {
        let url = f.url.get_ref().trim();
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                let key = feed_identity(u.clone());
                if let Some(&first) = seen.get(&key) {
                    let line = src.line_of(first);
                    diags.push(src.diag_span(&f.url, format!("duplicate feed url (first listed on line {line})")));
                    continue;
                }
                seen.insert(key.clone(), f.url.span().start);
                let interval = match &f.interval {
                    None => None,
                    Some(s) => match parse_duration(s.get_ref()) {
                        Ok(d) if !d.is_zero() => Some(d),
                        Ok(_) => {
                            diags.push(src.diag_span(s, "interval must be greater than zero"));
                            None
                        }
                        Err(m) => {
                            diags.push(src.diag_span(s, m));
                            None
                        }
                    },
                };
                let lang = match &f.lang {
                    Some(l) if !valid_lang(l.get_ref()) => {
                        diags.push(src.diag_span(
                            l,
                            format!("'{}' is not a language tag like \"en\" or \"uk\"", l.get_ref()),
                        ));
                        None
                    }
                    Some(l) => Some(l.get_ref().to_ascii_lowercase()),
                    None => None,
                };
                let name = f
                    .name
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| u.host_str().unwrap_or(url).to_string());
                out.push(FeedSpec {
                    url: key,
                    name,
                    lang,
                    interval,
                    tags: f.tags,
                });
            }
            Ok(_) => diags.push(src.diag_span(&f.url, "feed url must be http:// or https://")),
            Err(e) => diags.push(src.diag_span(&f.url, format!("invalid feed url: {e}"))),
        }
    }
    out
}

/// A feed URL as the feed's identity: the fragment names a place in the
/// document, not another document, so it is dropped.
fn feed_identity(mut u: url::Url) -> String {
    u.set_fragment(None);
    u.to_string()
}

/// The byte offsets of the `xmlUrl` attributes of an OPML document, in
/// document order (the order the outlines are read in).
fn xml_url_offsets(text: &str) -> Vec<usize> {
    text.match_indices("xmlUrl").map(|(i, _)| i).collect()
}

/// An OPML list's feeds, each once: a later outline of a feed already
/// listed is a warning naming both lines, and its tags join the first's.
fn dedup_feeds(
    list: Vec<FeedSpec>,
    src: &Source,
    diags: &mut Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Vec<FeedSpec> {
    let offsets = xml_url_offsets(&src.text);
    let at = |i: usize| offsets.get(i).copied().filter(|_| offsets.len() == list.len());
    let mut first: HashMap<String, (usize, Option<usize>)> = HashMap::new();
    let mut out: Vec<FeedSpec> = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let diag = |message: String| match at(i) {
            Some(o) => src.diag_at(o, "xmlUrl".len(), message),
            None => whole_file(&src.path, message),
        };
        match url::Url::parse(f.url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                let key = feed_identity(u);
                if let Some(&(index, offset)) = first.get(&key) {
                    let where_first =
                        offset.map_or_else(String::new, |o| format!(" (first listed on line {})", src.line_of(o)));
                    warnings.push(
                        diag(format!("duplicate feed url{where_first}: polled once, tags merged")).into_warning(),
                    );
                    let kept: &mut FeedSpec = &mut out[index];
                    for t in &f.tags {
                        if !kept.tags.contains(t) {
                            kept.tags.push(t.clone());
                        }
                    }
                    continue;
                }
                first.insert(key.clone(), (out.len(), at(i)));
                out.push(FeedSpec { url: key, ..f.clone() });
            }
            _ => diags.push(diag(format!("outline with invalid feed url '{}'", f.url))),
        }
    }
    out
}

fn valid_lang(s: &str) -> bool {
    let mut parts = s.split(['-', '_']);
    parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()))
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Shared aliases: every `*.toml` in `dir`, each a table of
/// `name = ["entry", ...]`.
struct SharedAliases {
    aliases: Aliases,
    /// Bytes of every alias file, for watchlist versions.
    digest_input: Vec<u8>,
}

fn load_alias_dir(dir: &Path, required: bool, diags: &mut Vec<Diagnostic>) -> SharedAliases {
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
    let start = src.string_content_start(s.span().start) + e.offset;
    src.diag_at(start, e.len, format!("{what}: {}", e.message))
}

/// Loads one watchlist file for `match`, `eval` and `replay`, with the
/// shared aliases from the `aliases` folder next to its folder.
pub fn load_watchlist(path: &Path) -> Result<CompiledWatchlist, ConfigErrors> {
    let mut diags = Vec::new();
    let alias_dir = parent_dir(&parent_dir(path)).join("aliases");
    let shared = load_alias_dir(&alias_dir, false, &mut diags);
    let sinks = [LOG_SINK.to_string()];
    let wl = load_watchlist_with(path, &shared, &sinks, &mut diags);
    match wl {
        Some(w) if diags.is_empty() => Ok(w),
        _ => Err(ConfigErrors(diags)),
    }
}

fn load_watchlist_with(
    path: &Path,
    shared: &SharedAliases,
    sinks: &[String],
    diags: &mut Vec<Diagnostic>,
) -> Option<CompiledWatchlist> {
    let src = Source::read(path, diags)?;
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
    let sink_names = match &raw.sinks {
        None => sinks.to_vec(),
        Some(list) => {
            let mut v = Vec::new();
            for s in list {
                if sinks.contains(s.get_ref()) {
                    v.push(s.get_ref().clone());
                } else {
                    diags.push(src.diag_span(
                        s,
                        format!("unknown sink '{}' (known: {})", s.get_ref(), sinks.join(", ")),
                    ));
                }
            }
            v
        }
    };
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
        rule_defs.push(RuleDef {
            id: id.to_string(),
            query: r.query.get_ref().clone(),
            severity: sev,
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
    };
    match rules::compile_watchlist(&def, &shared.aliases) {
        Ok(wl) if diags.len() == before => Some(wl),
        Ok(_) => None,
        Err(errors) => {
            for e in errors {
                let d = match &e.location {
                    Location::Rule(i) => {
                        let r = &raw.rule[*i];
                        query_diag(&src, &r.query, &format!("rule '{}'", r.id.get_ref()), &e.error)
                    }
                    Location::Exclude(i) => query_diag(&src, &raw.exclude[*i], "exclude", &e.error),
                    Location::Alias { name, entry } => match raw.aliases.get(name).and_then(|v| v.get(*entry)) {
                        Some(s) => query_diag(&src, s, &format!("alias '{name}'"), &e.error),
                        None => whole_file(path, format!("alias '{name}': {}", e.error.message)),
                    },
                };
                diags.push(d);
            }
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("16MiB"), Ok(16 * 1024 * 1024));
        assert_eq!(parse_size("512 KB"), Ok(512_000));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("12 parsecs").is_err());
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert!(parse_duration("fifteen").is_err());
    }

    #[test]
    fn diagnostics_point_at_line_and_column() {
        let src = Source {
            path: PathBuf::from("w.toml"),
            text: "a = 1\nquery = 'x (y'\n".into(),
        };
        let d = src.diag_at(15, 1, "unbalanced");
        assert_eq!((d.line, d.col), (2, 10));
        assert_eq!(
            d.to_string(),
            "w.toml:2:10: unbalanced\n    query = 'x (y'\n             ^"
        );
    }

    #[test]
    fn languages() {
        for ok in ["en", "uk", "en-US", "zh-Hant", "ru"] {
            assert!(valid_lang(ok), "{ok}");
        }
        for bad in ["", "english", "e", "en-", "1a"] {
            assert!(!valid_lang(bad), "{bad}");
        }
    }
}

/// What [`import_opml`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: usize,
    pub skipped: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: invalid OPML: {message}")]
    Opml { path: PathBuf, message: String },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Adds the feeds of an OPML file to the configured feed list, skipping
/// those already listed: appended as `[[feed]]` tables to a TOML list, or
/// written back as OPML for an OPML list.
pub fn import_opml(cfg: &Config, opml_file: &Path) -> Result<Imported, ImportError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| ImportError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let write = |p: &Path, text: String| {
        std::fs::write(p, text).map_err(|source| ImportError::Write {
            path: p.to_path_buf(),
            source,
        })
    };
    let incoming = crate::feed::parse_opml(&read(opml_file)?).map_err(|message| ImportError::Opml {
        path: opml_file.to_path_buf(),
        message,
    })?;
    let mut known: HashSet<String> = cfg.feeds.iter().map(|f| f.url.clone()).collect();
    let mut added = Vec::new();
    let mut skipped = 0;
    for f in incoming {
        match url::Url::parse(f.url.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && known.insert(feed_identity(u.clone())) => {
                added.push(FeedSpec {
                    url: feed_identity(u),
                    ..f
                });
            }
            _ => skipped += 1,
        }
    }
    let list = &cfg.feeds_file;
    if list
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("opml") || e.eq_ignore_ascii_case("xml"))
    {
        let mut all = cfg.feeds.clone();
        all.extend(added.iter().cloned());
        let xml = crate::feed::to_opml(&all).map_err(|message| ImportError::Opml {
            path: list.clone(),
            message,
        })?;
        write(list, xml)?;
    } else {
        let mut text = read(list)?;
        if !text.ends_with('\n') && !text.is_empty() {
            text.push('\n');
        }
        let q = |s: &str| toml::Value::String(s.to_string()).to_string();
        for f in &added {
            text.push_str(&format!("\n[[feed]]\nurl = {}\nname = {}\n", q(&f.url), q(&f.name)));
            if let Some(l) = &f.lang {
                text.push_str(&format!("lang = {}\n", q(l)));
            }
            if !f.tags.is_empty() {
                let tags: Vec<String> = f.tags.iter().map(|t| q(t)).collect();
                text.push_str(&format!("tags = [{}]\n", tags.join(", ")));
            }
        }
        write(list, text)?;
    }
    Ok(Imported {
        added: added.len(),
        skipped,
    })
}
