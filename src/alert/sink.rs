//! Where alerts go: the [`AlertSink`] trait every sink implements.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use crate::store::OutboxEntry;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write alert log {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no sink named '{0}' is configured")]
    UnknownSink(String),
    #[error("delivery task failed")]
    Task(#[source] std::io::Error),
}

pub type DeliveryFuture<'a> = Pin<Box<dyn Future<Output = Vec<Result<(), SinkError>>> + Send + 'a>>;

/// Somewhere alerts go. `deliver` returns one result per entry, in order; an
/// `Ok` means the sink holds the alert durably.
pub trait AlertSink: Send + Sync {
    fn name(&self) -> &str;
    fn deliver<'a>(&'a self, entries: &'a [OutboxEntry]) -> DeliveryFuture<'a>;
}
