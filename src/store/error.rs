//! What can go wrong in the store.

use std::path::PathBuf;

use super::tokenizer::TokenizerError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create database folder {path}")]
    Folder {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database schema version {found} is newer than this newshound supports ({supported}); upgrade newshound")]
    TooNew { found: i64, supported: i64 },
    #[error("the store is closed")]
    Closed,
    #[error("the transaction was rolled back")]
    NotCommitted,
    #[error("cannot encode stored value")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Tokenizer(#[from] TokenizerError),
    #[error("the database file {path} is gone")]
    Missing {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the database file {path} is read-only")]
    ReadOnly { path: PathBuf },
    #[error(
        "the database {path} is damaged ({detail}); newshound will not use it. Put back the last good copy \
         (`newshound backup FILE` makes one while the daemon runs), or save what is readable with \
         `sqlite3 {path} .recover | sqlite3 NEW.db` and set `database` to NEW.db"
    )]
    Corrupt { path: PathBuf, detail: String },
    #[error(
        "{path} is not a newshound database (not an SQLite file, or its first page is destroyed); \
         move it away to start a new one, or put back a good copy"
    )]
    NotADatabase { path: PathBuf },
    #[error("the database {path} cannot be written: {reason}")]
    CannotWrite { path: PathBuf, reason: String },
}

/// An error with its causes, as one line.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
