//! Where alerts go: the [`AlertSink`] trait every sink implements, and the
//! errors a delivery can end in.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use crate::store::OutboxEntry;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot write alert log {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The receiver answered, but not with success.
    #[error("the receiver answered {status}{}", body_suffix(.body))]
    Rejected {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// 410 Gone: the endpoint is no more; the sink stops sending.
    #[error("the receiver answered 410 Gone: the endpoint was removed")]
    Gone,
    #[error("{0}")]
    Post(#[from] crate::fetch::PostError),
    #[error("SMTP: {0}")]
    Smtp(String),
    #[error("{0}")]
    Exec(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error(
        "the sink stopped after its endpoint answered 410 Gone; `newshound alerts retry --sink {0}` once it is mended"
    )]
    Stopped(String),
    #[error("delivery task failed")]
    Task(#[source] std::io::Error),
}

fn body_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

impl SinkError {
    /// The wait the receiver asked for (Retry-After on 429 or 503).
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            SinkError::Rejected {
                status: 429 | 503,
                retry_after,
                ..
            } => *retry_after,
            _ => None,
        }
    }

    /// Whether the sink must stop sending (410 Gone).
    pub fn is_gone(&self) -> bool {
        matches!(self, SinkError::Gone)
    }

    /// The error and its causes on one line.
    pub fn chain(&self) -> String {
        let mut s = self.to_string();
        let mut cur = std::error::Error::source(self);
        while let Some(c) = cur {
            s.push_str(": ");
            s.push_str(&c.to_string());
            cur = c.source();
        }
        s
    }
}

/// What a receiver's HTTP status means for a delivery.
pub fn check_status(reply: crate::fetch::PostReply) -> Result<(), SinkError> {
    match reply.status {
        200..=299 => Ok(()),
        410 => Err(SinkError::Gone),
        status => Err(SinkError::Rejected {
            status,
            body: reply.body,
            retry_after: reply.retry_after,
        }),
    }
}

pub type SinkFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Somewhere alerts go. An `Ok` means the sink has the alert: the log
/// synced it, the receiver answered 2xx, the mail server accepted it, the
/// program exited 0.
pub trait AlertSink: Send + Sync {
    fn name(&self) -> &str;

    /// One alert.
    fn deliver_one<'a>(&'a self, entry: &'a OutboxEntry) -> SinkFuture<'a, Result<(), SinkError>>;

    /// Several alerts as one message (a digest), newest first.
    fn deliver_digest<'a>(&'a self, entries: &'a [OutboxEntry]) -> SinkFuture<'a, Result<(), SinkError>>;

    /// Whether [`AlertSink::deliver_batch`] takes many alerts at once
    /// cheaply (the log: one write and one sync).
    fn batched(&self) -> bool {
        false
    }

    /// Many alerts, one result each, in order.
    fn deliver_batch<'a>(&'a self, entries: &'a [OutboxEntry]) -> SinkFuture<'a, Vec<Result<(), SinkError>>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(entries.len());
            for e in entries {
                out.push(self.deliver_one(e).await);
            }
            out
        })
    }
}
