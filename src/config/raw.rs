//! The config files as written: serde types that refuse unknown keys and
//! keep the spans of their values, for diagnostics. Validated into the
//! types of `settings`, `feeds` and `watchlists`.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMain {
    pub(super) database: Spanned<String>,
    pub(super) alert_log: Option<Spanned<String>>,
    pub(super) feeds: Spanned<String>,
    pub(super) watchlists: Spanned<String>,
    pub(super) aliases: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) polling: RawPolling,
    #[serde(default)]
    pub(super) alerts: RawAlerts,
    #[serde(default)]
    pub(super) archive: RawArchive,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) http: RawHttp,
    #[serde(default)]
    pub(super) sink: Vec<RawSink>,
}

/// One `[[sink]]` table: the common keys, then every kind's own (which
/// `sinks` checks against the kind).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSink {
    pub(super) name: Spanned<String>,
    pub(super) kind: Spanned<String>,
    pub(super) concurrency: Option<Spanned<i64>>,
    pub(super) per_minute: Option<Spanned<i64>>,
    pub(super) max_per_hour: Option<Spanned<i64>>,
    pub(super) retry: Option<Vec<Spanned<String>>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) digest: Option<Spanned<String>>,
    pub(super) quiet_hours: Option<Spanned<String>>,
    // jsonl
    pub(super) path: Option<Spanned<String>>,
    pub(super) fsync: Option<Spanned<bool>>,
    // webhook, slack, discord, ntfy
    pub(super) url: Option<Spanned<String>>,
    pub(super) url_env: Option<Spanned<String>>,
    pub(super) url_file: Option<Spanned<String>>,
    pub(super) secret: Option<Spanned<String>>,
    pub(super) secret_env: Option<Spanned<String>>,
    pub(super) secret_file: Option<Spanned<String>>,
    pub(super) topic: Option<Spanned<String>>,
    pub(super) token: Option<Spanned<String>>,
    pub(super) token_env: Option<Spanned<String>>,
    pub(super) token_file: Option<Spanned<String>>,
    // smtp
    pub(super) host: Option<Spanned<String>>,
    pub(super) port: Option<Spanned<i64>>,
    pub(super) tls: Option<Spanned<String>>,
    pub(super) username: Option<Spanned<String>>,
    pub(super) password: Option<Spanned<String>>,
    pub(super) password_env: Option<Spanned<String>>,
    pub(super) password_file: Option<Spanned<String>>,
    pub(super) from: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) to: Vec<Spanned<String>>,
    // exec
    #[serde(default)]
    pub(super) command: Vec<Spanned<String>>,
}

impl RawSink {
    /// The kind-specific keys this table sets, with their spans.
    pub(super) fn kind_keys(&self) -> Vec<(&'static str, std::ops::Range<usize>)> {
        fn s<T>(out: &mut Vec<(&'static str, std::ops::Range<usize>)>, key: &'static str, v: &Option<Spanned<T>>) {
            if let Some(v) = v {
                out.push((key, v.span()));
            }
        }
        let mut out = Vec::new();
        s(&mut out, "path", &self.path);
        s(&mut out, "fsync", &self.fsync);
        s(&mut out, "url", &self.url);
        s(&mut out, "url_env", &self.url_env);
        s(&mut out, "url_file", &self.url_file);
        s(&mut out, "secret", &self.secret);
        s(&mut out, "secret_env", &self.secret_env);
        s(&mut out, "secret_file", &self.secret_file);
        s(&mut out, "topic", &self.topic);
        s(&mut out, "token", &self.token);
        s(&mut out, "token_env", &self.token_env);
        s(&mut out, "token_file", &self.token_file);
        s(&mut out, "host", &self.host);
        s(&mut out, "port", &self.port);
        s(&mut out, "tls", &self.tls);
        s(&mut out, "username", &self.username);
        s(&mut out, "password", &self.password);
        s(&mut out, "password_env", &self.password_env);
        s(&mut out, "password_file", &self.password_file);
        s(&mut out, "from", &self.from);
        if let Some(t) = self.to.first() {
            out.push(("to", t.span()));
        }
        if let Some(c) = self.command.first() {
            out.push(("command", c.span()));
        }
        out
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) listen: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub(super) level: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolling {
    pub(super) interval: Option<Spanned<String>>,
    pub(super) min_interval: Option<Spanned<String>>,
    pub(super) max_interval: Option<Spanned<String>>,
    pub(super) timeout: Option<Spanned<String>>,
    pub(super) connect_timeout: Option<Spanned<String>>,
    pub(super) concurrency: Option<Spanned<i64>>,
    pub(super) per_host: Option<Spanned<i64>>,
    pub(super) host_gap: Option<Spanned<String>>,
    pub(super) max_body: Option<Spanned<String>>,
    pub(super) user_agent: Option<Spanned<String>>,
    pub(super) max_backoff: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAlerts {
    pub(super) first_poll_max_age: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawArchive {
    /// How long items that matched no watchlist are kept, or "forever".
    pub(super) keep_unmatched: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeedList {
    #[serde(default)]
    pub(super) feed: Vec<RawFeed>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFeed {
    pub(super) url: Spanned<String>,
    pub(super) name: Option<String>,
    pub(super) lang: Option<Spanned<String>>,
    pub(super) interval: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWatchlist {
    pub(super) name: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) description: String,
    pub(super) severity: Option<Spanned<String>>,
    pub(super) sinks: Option<Vec<Spanned<String>>>,
    /// Per sink: "immediate" or a digest period such as "30m".
    #[serde(default)]
    pub(super) digest: BTreeMap<String, Spanned<String>>,
    /// Alert once more when a story reaches this many outlets.
    pub(super) escalate_at: Option<Spanned<i64>>,
    /// Items that happened before this date (a TOML date, or a string:
    /// "2025-11-15" or RFC 3339) are not matched.
    pub(super) since: Option<Spanned<toml::Value>>,
    /// When set, an item matches when the weights of its matched rules add
    /// up to at least this.
    pub(super) threshold: Option<Spanned<toml::Value>>,
    #[serde(default)]
    pub(super) aliases: BTreeMap<String, Vec<Spanned<String>>>,
    #[serde(default)]
    pub(super) exclude: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) rule: Vec<RawRule>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRule {
    pub(super) id: Spanned<String>,
    pub(super) query: Spanned<String>,
    pub(super) severity: Option<Spanned<String>>,
    pub(super) weight: Option<Spanned<toml::Value>>,
}
