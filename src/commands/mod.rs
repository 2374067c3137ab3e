//! The command-line subcommands, one file each. An edge of the program:
//! errors are `anyhow` here, turned into exit codes by `main` through
//! [`Failure`]. They use the library's public API only.

mod alerts;
mod backup;
mod check;
mod eval;
mod feeds;
mod matching;
mod replay;
mod run;
mod search;
mod shared;
mod stories;

pub use alerts::{AlertsOptions, alerts, alerts_retry};
pub use backup::backup;
pub use check::check;
pub use eval::{EvalOptions, Show, eval, read_labels};
pub use feeds::{feed_json, feeds, feeds_export, feeds_import};
pub use matching::{match_items, match_line};
pub use replay::replay;
pub use run::{once, run};
pub use search::{SearchOptions, search};
pub use shared::{EX_CONFIG, EX_TEMPFAIL, Failure};
pub use stories::stories;
