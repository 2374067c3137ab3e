//! `newshound run` (the daemon) and `newshound once` (one cycle).

use std::path::Path;

use tokio_util::sync::CancellationToken;

use super::shared::{Failure, load};
use crate::app;

/// Sets the log filter the config asks for (`[log] level`).
pub type ApplyLogLevel<'a> = &'a (dyn Fn(&str) + Sync);

pub async fn run(path: &Path, cancel: CancellationToken, apply_level: ApplyLogLevel<'_>) -> Result<(), Failure> {
    let cfg = load(path)?;
    if let Some(l) = &cfg.log_level {
        apply_level(l);
    }
    app::run_daemon(cfg, cancel).await?;
    Ok(())
}

pub async fn once(
    path: &Path,
    all: bool,
    cancel: CancellationToken,
    apply_level: ApplyLogLevel<'_>,
) -> Result<(), Failure> {
    let cfg = load(path)?;
    if let Some(l) = &cfg.log_level {
        apply_level(l);
    }
    let r = app::run_once(cfg, all, cancel).await?;
    println!(
        "polled {} feeds: {} not modified, {} failed, {} new items, {} alerts raised, {} delivered",
        r.polled, r.not_modified, r.failed, r.new_items, r.alerts, r.delivered
    );
    if r.cancelled > 0 {
        println!("stopped by a signal: {} feeds not polled", r.cancelled);
    }
    if r.held > 0 {
        println!("{} alerts held for quiet hours: a later run sends them", r.held);
    }
    if r.undelivered > 0 {
        return Err(Failure::Pending(r.undelivered as u64));
    }
    Ok(())
}
