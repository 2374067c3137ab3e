//! Alerts: the alert record ([`record`]), building the alerts of new items
//! ([`build`]), the [`AlertSink`] trait ([`sink`]) and its sinks (the JSON
//! Lines log [`jsonl`], POSTs [`http`], mail [`smtp`], programs [`exec`],
//! their texts [`format`]), and [`delivery`], one runner per sink draining
//! the store's outbox. Never touches feeds or rules' matching.
//!
//! | file | what |
//! |---|---|
//! | [`record`] | the alert as the log and the sinks carry it, its stable id |
//! | [`build`] | the alerts of a poll's new matches, for the outbox |
//! | [`sink`] | the `AlertSink` trait and delivery errors |
//! | [`jsonl`] | the JSON Lines log: append, sync, recover after a crash, follow |
//! | [`http`] | webhook (Standard Webhooks signatures), Slack, Discord, ntfy |
//! | [`smtp`] | e-mail through lettre |
//! | [`exec`] | a program, the alert on its stdin |
//! | [`format`] | texts of alerts and digests for people |
//! | [`delivery`] | per-sink runners: order, concurrency, rate, retries, dead rows, digests, quiet hours, hourly cap |

pub mod build;
pub mod delivery;
pub mod exec;
pub mod format;
pub mod http;
pub mod jsonl;
pub mod record;
pub mod sink;
pub mod smtp;

use std::sync::Arc;

pub use build::{AlertBuilder, FeedRef, story_keys};
pub use delivery::{AlertsWaiting, Delivery, DrainStats, retry_wait};
pub use jsonl::{JsonlSink, LogReader};
pub use record::{Alert, AlertTerm, alert_id};
pub use sink::{AlertSink, SinkError, SinkFuture};

use crate::clock::Clock;
use crate::config::{DeliveryPolicy, SinkKind, SinkSpec};
use crate::fetch::Poster;

/// Sinks, each with its delivery policy.
pub type Sinks = Vec<(Arc<dyn AlertSink>, DeliveryPolicy)>;

/// The sinks of `specs`.
pub fn build_sinks(specs: &[SinkSpec], poster: &Poster, clock: Clock) -> Result<Sinks, SinkError> {
    let mut out: Sinks = Vec::new();
    for s in specs {
        let timeout = s.policy.timeout;
        let http = |url: &crate::config::Secret, kind| -> Arc<dyn AlertSink> {
            Arc::new(http::HttpSink::new(
                &s.name,
                url.clone(),
                kind,
                poster.clone(),
                timeout,
                clock,
            ))
        };
        let sink: Arc<dyn AlertSink> = match &s.kind {
            SinkKind::Jsonl { path, fsync } => Arc::new(JsonlSink::with_fsync(&s.name, path, *fsync)),
            SinkKind::Webhook { url, key } => http(url, http::HttpKind::Webhook { key: key.clone() }),
            SinkKind::Slack { url } => http(url, http::HttpKind::Slack),
            SinkKind::Discord { url } => http(url, http::HttpKind::Discord),
            SinkKind::Ntfy { url, topic, token } => http(
                url,
                http::HttpKind::Ntfy {
                    topic: topic.clone(),
                    token: token.clone(),
                },
            ),
            SinkKind::Smtp {
                host,
                port,
                tls,
                username,
                password,
                from,
                to,
            } => Arc::new(smtp::SmtpSink::new(
                &s.name,
                smtp::SmtpSettings {
                    host,
                    port: *port,
                    tls: *tls,
                    username: username.as_deref(),
                    password: password.as_ref(),
                    from,
                    to,
                    timeout,
                },
            )?),
            SinkKind::Exec { program, args } => {
                Arc::new(exec::ExecSink::new(&s.name, program.clone(), args.clone(), timeout))
            }
        };
        out.push((sink, s.policy.clone()));
    }
    Ok(out)
}
