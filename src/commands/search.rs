//! `newshound search`: full-text search over stored items.

use std::path::Path;

use anyhow::Context;

use super::shared::{Failure, load_for_reading};
use crate::store::Store;

pub async fn search(path: &Path, query: &str, limit: usize) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    let store = Store::open(&cfg.database).context("cannot open database")?;
    store
        .index_pending()
        .await
        .context("cannot update the full-text index")?;
    let hits = store.search(query.to_string(), limit).await.context("search failed")?;
    for h in &hits {
        let when = h
            .item
            .published
            .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_else(|| "-".into());
        println!(
            "{when}  {}  [{}]\n    {}",
            h.item.title,
            h.feed_name,
            h.item.link.as_deref().unwrap_or("")
        );
    }
    if hits.is_empty() {
        eprintln!("no stored item matches");
    }
    store.close().await;
    Ok(())
}
