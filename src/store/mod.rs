//! Storage: the only rusqlite user. One SQLite file in WAL mode, owned by
//! one thread that runs every statement in order; the async side sends it
//! jobs over a bounded channel and awaits the answers. Holds feeds and
//! their state, items (with a full-text index), matches, the stories
//! already alerted, and the alert outbox.
//!
//! | file | what |
//! |---|---|
//! | [`handle`] | the store thread, group commit, the [`Store`] handle |
//! | [`schema`] | migrations and connection settings |
//! | [`feeds`] | the feed list and each feed's state and health |
//! | [`items`] | items, matches, stories, the full-text index, search |
//! | [`outbox`] | alerts waiting for their sinks |
//! | `tokenizer` | the full-text index's tokenizer |
//! | [`error`] | [`StoreError`] |

pub mod error;
pub mod feeds;
pub mod handle;
pub mod items;
pub mod outbox;
pub mod schema;
mod tokenizer;

pub use error::{StoreError, chain};
pub use feeds::FeedHealth;
pub use handle::Store;
pub use items::{
    AlertDraft, CommitSummary, EntryIdentity, ItemEdit, NewItem, NewMatch, PollCommit, PruneStep, SearchHit,
    SearchQuery, StoredItem, Triage,
};
pub use outbox::{AlertRow, DeliveryState, FailedDelivery, OutboxCounts, OutboxEntry, SinkDelivery};
pub use tokenizer::TokenizerError;
