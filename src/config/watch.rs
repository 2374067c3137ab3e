//! Noticing edits of the config files: the folders of the main file, the
//! feed list, the watchlists and the aliases are watched (inotify through
//! the `notify` crate), changes to their `*.toml`, `*.opml` and `*.xml`
//! files are debounced, and each burst of them is one message on a bounded
//! channel. What to do about it is the caller's business.

use std::path::{Path, PathBuf};
use std::time::Duration;

use notify_debouncer_mini::notify::{RecommendedWatcher, RecursiveMode};
use notify_debouncer_mini::{DebounceEventResult, Debouncer, new_debouncer};
use tokio::sync::mpsc;

use super::settings::Config;

/// Edits closer together than this are one change: an editor's save is
/// often several writes and renames.
const DEBOUNCE: Duration = Duration::from_millis(400);

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {path} for edits")]
    Watch {
        path: PathBuf,
        #[source]
        source: notify_debouncer_mini::notify::Error,
    },
}

/// A running watch; dropping it stops watching.
pub struct ConfigWatch {
    _debouncer: Debouncer<RecommendedWatcher>,
    pub folders: Vec<PathBuf>,
}

/// True for the files a configuration is made of.
fn is_config_file(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e.to_ascii_lowercase().as_str(), "toml" | "opml" | "xml"))
}

/// The folders to watch: the main file's, and those of the feed list, the
/// watchlists and the aliases where they are not inside it.
fn folders(config: &Config) -> Vec<PathBuf> {
    let parent = |p: &Path| match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut out: Vec<PathBuf> = Vec::new();
    for dir in [
        parent(&config.file),
        parent(&config.feeds_file),
        config.watchlist_dir.clone(),
        config.alias_dir.clone(),
    ] {
        let dir = dir.canonicalize().unwrap_or(dir);
        if dir.is_dir() && !out.iter().any(|o| dir.starts_with(o)) {
            out.retain(|o| !o.starts_with(&dir));
            out.push(dir);
        }
    }
    out
}

/// Starts watching `config`'s files; every debounced burst of edits sends
/// one `()` on `changed` (dropped when one is already waiting: a reload
/// reads everything anew anyway).
pub fn watch(config: &Config, changed: mpsc::Sender<()>) -> Result<ConfigWatch, WatchError> {
    let handler = move |events: DebounceEventResult| match events {
        Ok(events) => {
            if events.iter().any(|e| is_config_file(&e.path)) {
                let _ = changed.try_send(());
            }
        }
        Err(e) => tracing::warn!(error = %e, "config watch error"),
    };
    let folders = folders(config);
    let mut debouncer = new_debouncer(DEBOUNCE, handler).map_err(|source| WatchError::Watch {
        path: config.file.clone(),
        source,
    })?;
    for dir in &folders {
        debouncer
            .watcher()
            .watch(dir, RecursiveMode::Recursive)
            .map_err(|source| WatchError::Watch {
                path: dir.clone(),
                source,
            })?;
    }
    Ok(ConfigWatch {
        _debouncer: debouncer,
        folders,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_config_files_count() {
        assert!(is_config_file(Path::new("/etc/newshound/watchlists/a.toml")));
        assert!(is_config_file(Path::new("feeds.OPML")));
        assert!(!is_config_file(Path::new("data/newshound.db-wal")));
        assert!(!is_config_file(Path::new("data/alerts.jsonl")));
    }
}
