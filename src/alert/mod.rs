//! Alerts: the alert record ([`record`]), building the alerts of new items
//! ([`build`]), the [`AlertSink`] trait ([`sink`]) and its sinks (the JSON
//! Lines log, [`jsonl`]), and the worker that drains the store's outbox
//! into the sinks ([`worker`]). Never touches feeds or rules' matching.

pub mod build;
pub mod jsonl;
pub mod record;
pub mod sink;
pub mod worker;

pub use build::{AlertBuilder, FeedRef};
pub use jsonl::{JsonlSink, LogReader};
pub use record::{Alert, AlertTerm, alert_id};
pub use sink::{AlertSink, DeliveryFuture, SinkError};
pub use worker::{AlertWorker, DrainStats, retry_delay};
