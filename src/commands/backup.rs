//! `newshound backup FILE`: a consistent copy of the database, taken while
//! the daemon runs, checked before it is reported.

use std::path::Path;

use anyhow::Context;

use super::shared::{Failure, load_for_reading};

pub async fn backup(path: &Path, dest: &Path) -> Result<(), Failure> {
    let cfg = load_for_reading(path)?;
    if dest.exists() {
        return Err(anyhow::anyhow!("{} exists; give a new file name", dest.display()).into());
    }
    let (db, to) = (cfg.database.clone(), dest.to_path_buf());
    let size = tokio::task::spawn_blocking(move || crate::store::schema::backup(&db, &to))
        .await
        .context("the backup task failed")?
        .with_context(|| format!("cannot back up {}", cfg.database.display()))?;
    println!(
        "{} -> {} ({:.1} MiB, checked)",
        cfg.database.display(),
        dest.display(),
        size as f64 / 1_048_576.0
    );
    Ok(())
}
