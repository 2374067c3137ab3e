//! newshound: polls news feeds, matches watchlists, stores items and emits alerts.
pub mod config;
pub mod feed;
pub mod rules;
