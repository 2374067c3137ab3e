//! The alert record: one story matching one watchlist, as the alert log
//! carries it, with its stable id.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::rules::{Severity, TermHit};

/// One alert: one story matching one watchlist. This is the JSON Lines
/// record of the alert log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Alert {
    /// Stable idempotency key: the same story on the same watchlist always
    /// gets the same id.
    pub id: String,
    /// When the alert was raised (RFC 3339, UTC).
    pub at: String,
    pub watchlist: String,
    pub watchlist_version: String,
    pub severity: Severity,
    pub rules: Vec<String>,
    pub terms: Vec<AlertTerm>,
    pub snippet: String,
    pub title: String,
    pub link: Option<String>,
    pub feed: String,
    pub feed_url: String,
    pub published: Option<String>,
    pub first_seen: String,
    pub lang: Option<String>,
}

/// A matched term as the alert log carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AlertTerm {
    pub term: String,
    pub field: String,
    pub text: String,
}

impl From<&TermHit> for AlertTerm {
    fn from(t: &TermHit) -> AlertTerm {
        AlertTerm {
            term: t.term.clone(),
            field: t.field.name().to_string(),
            text: t.text.clone(),
        }
    }
}

/// The alert id of a story on a watchlist.
pub fn alert_id(watchlist: &str, story_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(watchlist.as_bytes());
    h.update([0]);
    h.update(story_key.as_bytes());
    h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(alert_id("w", "u:a"), alert_id("w", "u:a"));
        assert_ne!(alert_id("w", "u:a"), alert_id("w2", "u:a"));
        assert_ne!(alert_id("w", "u:a"), alert_id("w", "u:b"));
        assert_eq!(alert_id("w", "u:a").len(), 24);
    }
}
