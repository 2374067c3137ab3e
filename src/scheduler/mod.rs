//! Scheduling: when each feed is due. The feed's state between polls and
//! its health ([`state`]), the policy that turns a poll's outcome into the
//! next state ([`policy`]: intervals, server hints, backoff, jitter,
//! Retry-After, 410) and the daemon's due queue ([`queue`]). Pure: no HTTP,
//! no parsing, no database, no clock (the caller says when "now" is).

pub mod policy;
pub mod queue;
pub mod state;

pub use policy::{
    Failure, Outcome, Policy, REDIRECT_CONFIRMATIONS, due_at, first_poll, is_due, jittered, publishing_gap,
    server_hint, startup_window,
};
pub use queue::DueQueue;
pub use state::{FailureKind, FeedRow, FeedState, Health};
