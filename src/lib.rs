//! newshound: a news-monitoring daemon. It polls RSS, Atom and JSON feeds,
//! normalizes every item, matches it against watchlists, stores items and
//! matches in SQLite and emits alerts.
//!
//! ```text
//! config/ --load+validate--> Config --compile--> rules::Matcher
//!
//! app: the due queue (scheduler) says who is polled; for each poll,
//!   pipeline::poll, a straight line:
//!     fetch (HTTP; 304 = state only; failures typed)
//!     --> outcome (scheduler::Outcome)
//!     --> feed::parse_document (feed-rs) --> entries with identity
//!     --> drop the entries the feed has stored, keep edited titles as
//!         edits (store.triage: key, link identity, tombstones; not
//!         asked on a feed's first poll, when it has none)
//!     --> normalize + match (rules::Matcher: raw test, presearch, verify)
//!     --> alert::AlertBuilder (drafts, first-poll backlog held back)
//!     --> store.commit_poll: items, matches, outbox rows and the feed's
//!         next state (scheduler::Policy) in ONE transaction, whatever
//!         the outcome
//!   alert::Delivery: one runner per sink drains that sink's outbox rows
//!     (order, concurrency, rate, retries then dead, digests, quiet
//!     hours, hourly cap) --> sink (jsonl, webhook, slack, discord, ntfy,
//!     smtp, exec; HTTP through fetch::Poster) --> marked delivered
//! ```
//!
//! Floors, from the ground up; a module imports only from floors below it.
//!
//! | floor | module | owns | never touches |
//! |---|---|---|---|
//! | ground | [`text`] | normalization shared by rules, feed identity and the index tokenizer | I/O |
//! | ground | [`clock`] | the one reader of wall time | I/O |
//! | ground | [`scheduler`] | feed state, health, failure kinds; intervals, hints, backoff, jitter; the due queue (pure) | HTTP, parsing, DB |
//! | ground | [`systemd`] | sd_notify; no-op without `NOTIFY_SOCKET` | |
//! | ground | [`metrics`] | counters, gauges, the poll histogram; Prometheus text (prometheus-client) | I/O |
//! | 2 | [`stories`] | whether two items report one story (title words, numbers, time) and an exact index of stories by their words (pure) | I/O |
//! | 2 | [`feed`] | feed-rs parsing, normalization to [`feed::Item`], identity, canonical URLs (pure) | I/O |
//! | 3 | [`rules`] | the watchlist query language: parse, compile, presearch, verify, explain, evaluate (pure) | I/O |
//! | 4 | [`config`] | reading config files; raw types validated into [`config::Config`]; `file:line:col` errors; OPML | network, DB |
//! | 5 | [`fetch`] | the only reqwest user: client, timeouts, decompression and body cap, conditional GET, redirects, per-site politeness | DB |
//! | 5 | [`store`] | the only rusqlite user: one writer thread with group commit, migrations, bulk FTS, stories, outbox | HTTP |
//! | 6 | [`http`] | the only axum user: `/healthz`, `/metrics` on the `[http] listen` address | SQL (asks the store) |
//! | 6 | [`alert`] | alert records, the alert builder, the sinks and their delivery runners | feeds, rules' matching, SQL |
//! | 7 | [`pipeline`] | one poll as a straight line | resources it does not own |
//! | 8 | [`app`] | assembling the parts from a `Config`, running them, cancellation and the shutdown order | SQL, HTTP, pipeline steps |
//! | 9 | [`commands`] | the CLI subcommands, one file each, on the library's public API | SQL, HTTP |
pub mod alert;
pub mod app;
pub mod clock;
pub mod commands;
pub mod config;
pub mod feed;
pub mod fetch;
pub mod http;
pub mod metrics;
pub mod pipeline;
pub mod rules;
pub mod scheduler;
pub mod store;
pub mod stories;
pub mod systemd;
pub mod text;
