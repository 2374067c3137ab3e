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
    pub(super) alert_log: Spanned<String>,
    pub(super) feeds: Spanned<String>,
    pub(super) watchlists: Spanned<String>,
    pub(super) aliases: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) polling: RawPolling,
    #[serde(default)]
    pub(super) alerts: RawAlerts,
    #[serde(default)]
    pub(super) log: RawLog,
    #[serde(default)]
    pub(super) http: RawHttp,
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
}
