//! newshound: a news-monitoring daemon. It polls RSS, Atom and JSON feeds,
//! normalizes every item, matches it against watchlists, stores items and
//! matches in SQLite and emits alerts.
//!
//! ```text
//! config/ --load+validate--> Config --compile--> Matcher (rules)
//!
//! app (scheduler decides who is due) --> fetch (HTTP, 304 = state only)
//!        --> feed::parse (feed-rs) + normalize --> Item
//!        --> store.unseen_keys (skipped on a feed's first poll, when
//!            nothing of it is stored) --> rules::Matcher (presearch + verify)
//!        --> store.commit_poll: items, matches, outbox in ONE transaction
//!        --> alert::AlertWorker: outbox --> sinks (JSON Lines log), mark delivered
//! ```
//!
//! | module | owns | never touches |
//! |---|---|---|
//! | [`app`] | assembling the parts, the poll pipeline, cancellation and shutdown order | SQL, HTTP |
//! | [`commands`] | the CLI subcommands besides the daemon (check, match, eval, replay, alerts, feeds, search) | SQL, HTTP |
//! | [`config`] | reading config files; raw types validated into [`config::Config`]; `file:line:col` errors | network, DB |
//! | [`rules`] | the watchlist query language: normalize, parse, compile, match, explain (pure) | I/O |
//! | [`scheduler`] | when each feed is due: intervals, hints, backoff, jitter (pure) | HTTP, parsing |
//! | [`fetch`] | the only reqwest user: client, timeouts, decompression and body cap, conditional GET, redirects, per-site politeness | DB |
//! | [`feed`] | feed-rs parsing, normalization to [`feed::Item`], identity, canonical URLs, OPML (pure) | I/O |
//! | [`store`] | the only rusqlite user: one writer thread with group commit, migrations, bulk FTS, outbox | HTTP |
//! | [`alert`] | alert records, sinks and the delivery worker | feeds, rules |
//! | [`systemd`] | sd_notify; no-op without `NOTIFY_SOCKET` | |
pub mod alert;
pub mod app;
pub mod clock;
pub mod commands;
pub mod config;
pub mod feed;
pub mod fetch;
pub mod pipeline;
pub mod rules;
pub mod scheduler;
pub mod store;
pub mod systemd;
pub mod text;
