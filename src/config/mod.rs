//! Configuration: the only reader of config files. Raw serde types
//! (`raw`, unknown keys are errors) are validated into [`Config`]; every
//! problem is reported as `file:line:col: message` ([`diagnostics`]).
//! Watchlists are compiled here through the pure `rules` module, so that
//! `check` and start-up see the same errors. No network, no database.
//!
//! | file | what |
//! |---|---|
//! | [`settings`] | `newshound.toml` and [`load`], which loads everything it points at |
//! | [`feeds`] | the `[[feed]]` list and a feed URL's identity |
//! | [`opml`] | OPML feed lists: read, export, import |
//! | [`watchlists`] | watchlist and alias files, compiled |
//! | [`sinks`] | the `[[sink]]` tables: kinds, delivery policies, secrets |
//! | [`values`] | durations, sizes, counts |
//! | `paths` | relative paths, folders of one-file-a-thing configs |
//! | [`watch`] | noticing edits of the config files, for live reload |
//! | [`diagnostics`] | `file:line:col` problems and the sources they point into |

pub mod diagnostics;
pub mod feeds;
pub mod opml;
mod paths;
mod raw;
pub mod settings;
pub mod sinks;
pub mod values;
pub mod watch;
pub mod watchlists;

pub use diagnostics::{ConfigErrors, Diagnostic};
pub use feeds::FeedSpec;
pub use opml::{ImportError, Imported, import_opml, parse_opml, to_opml};
pub use settings::{AlertSettings, Config, Polling, load, load_feed_list, load_for_reading};
pub use sinks::{DeliveryPolicy, QuietHours, Secret, SinkKind, SinkSpec, SmtpTls};
pub use values::{parse_duration, parse_size};
pub use watch::{ConfigWatch, WatchError};
pub use watchlists::{LOG_SINK, load_watchlist, watchlist_from_text};
