//! Watchlists: the query language and its matcher. Queries are parsed
//! ([`query`]) and compiled with their aliases ([`compile`]); all
//! watchlists become one [`Matcher`] ([`matcher`]) that settles most items
//! with a raw test and a presearch ([`presearch`]), verifies candidate
//! rules on the normalized document ([`verify`]) and explains every match
//! and every near miss ([`explain`]); [`evaluate`] scores a watchlist on
//! labelled items. Pure: no I/O (the `config` module reads the files).

pub mod compile;
pub mod evaluate;
pub mod explain;
pub mod matcher;
pub mod presearch;
pub mod query;
pub mod verify;

pub use compile::{
    CompileError, CompiledRule, CompiledWatchlist, Location, RuleDef, Severity, WatchlistDef, compile_aliases,
    compile_watchlist,
};
pub use explain::{NearMiss, TermHit, WatchlistMatch, snippet};
pub use matcher::Matcher;
pub use query::{Aliases, Field, FieldSet, Node, Pat, QueryError};
pub use verify::{DocFields, Document, RawHit};
