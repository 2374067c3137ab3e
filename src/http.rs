//! The optional HTTP listener (`[http] listen`): `/healthz` and
//! `/metrics` for operators and monitoring, on the address the config
//! names (loopback by default). The only axum user.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::Store;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// What the handlers read.
#[derive(Clone)]
struct Shared {
    metrics: Arc<Metrics>,
    store: Store,
    clock: Clock,
    /// The scheduling loop is stalled when it has not come round for this
    /// long.
    stall_after: Duration,
}

/// A bound listener, ready to serve.
pub struct Listener {
    listener: tokio::net::TcpListener,
    shared: Shared,
}

/// Binds `addr` (so that start-up fails on a taken port, before READY).
pub async fn bind(
    addr: SocketAddr,
    metrics: Arc<Metrics>,
    store: Store,
    clock: Clock,
    stall_after: Duration,
) -> Result<Listener, HttpError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| HttpError::Bind { addr, source })?;
    Ok(Listener {
        listener,
        shared: Shared {
            metrics,
            store,
            clock,
            stall_after,
        },
    })
}

impl Listener {
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.local_addr().ok()
    }

    /// Serves until `cancel` fires.
    pub async fn serve(self, cancel: CancellationToken) {
        let app = Router::new()
            .route("/healthz", get(healthz))
            .route("/metrics", get(metrics))
            .with_state(self.shared);
        let result = axum::serve(self.listener, app)
            .with_graceful_shutdown(async move { cancel.cancelled().await })
            .await;
        if let Err(e) = result {
            tracing::error!(error = %e, "the HTTP listener failed");
        }
    }
}

async fn healthz(State(s): State<Shared>) -> Response {
    let now = s.clock.now_ms();
    let stall_ms = i64::try_from(s.stall_after.as_millis()).unwrap_or(i64::MAX);
    if let Some(ago) = s.metrics.since_heartbeat(now).filter(|ago| *ago > stall_ms) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "unhealthy: the scheduling loop has not come round for {} s\n",
                ago / 1000
            ),
        )
            .into_response();
    }
    match s.store.check_writable().await {
        Ok(()) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("unhealthy: the database is not writable: {}\n", crate::store::chain(&e)),
        )
            .into_response(),
    }
}

async fn metrics(State(s): State<Shared>) -> Response {
    if let Ok(c) = s.store.outbox_counts().await {
        s.metrics.outbox_depth.set(i64::try_from(c.pending).unwrap_or(i64::MAX));
    }
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        s.metrics.render(s.clock.now_ms()),
    )
        .into_response()
}
