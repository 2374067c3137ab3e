//! Building the alerts of new items: which matches may alert (not a new
//! feed's old backlog), and the record each queues for its watchlist's
//! sinks.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::record::{Alert, AlertTerm, alert_id};
use crate::clock::ms_to_datetime;
use crate::feed::Item;
use crate::rules::{CompiledWatchlist, WatchlistMatch};
use crate::store::{AlertDraft, NewMatch};

/// Builds the alerts of new items: which matches may alert, and the alert
/// record each one queues for its watchlist's sinks.
#[derive(Debug, Clone)]
pub struct AlertBuilder {
    /// The sinks of each watchlist, by name.
    sinks: HashMap<String, Vec<String>>,
    /// Watchlists that alert once more when a story reaches this many
    /// outlets.
    escalate_at: HashMap<String, u32>,
    /// On a feed's first poll, items older than this are stored without
    /// alerting: a new feed's backlog is not news.
    first_poll_max_age: chrono::Duration,
}

/// The feed an item came from, as alerts name it.
#[derive(Debug, Clone, Copy)]
pub struct FeedRef<'a> {
    pub name: &'a str,
    pub url: &'a str,
    /// True on the feed's first successful poll.
    pub first_poll: bool,
}

impl AlertBuilder {
    pub fn new(watchlists: &[CompiledWatchlist], first_poll_max_age: Duration) -> AlertBuilder {
        AlertBuilder {
            sinks: watchlists.iter().map(|w| (w.name.clone(), w.sinks.clone())).collect(),
            escalate_at: HashMap::new(),
            first_poll_max_age: chrono::Duration::from_std(first_poll_max_age).unwrap_or(chrono::Duration::MAX),
        }
    }

    /// With `escalate_at` of watchlists, by name.
    pub fn with_escalation(mut self, escalate_at: impl IntoIterator<Item = (String, u32)>) -> AlertBuilder {
        self.escalate_at = escalate_at.into_iter().collect();
        self
    }

    /// The matches of a new item, each with the alert it raises unless the
    /// item is old backlog of a feed's first poll.
    pub fn matches(&self, item: &Item, found: Vec<WatchlistMatch>, feed: FeedRef<'_>, now_ms: i64) -> Vec<NewMatch> {
        let now = ms_to_datetime(now_ms);
        let may_alert = !feed.first_poll || item.published.is_some_and(|p| now - p <= self.first_poll_max_age);
        found
            .into_iter()
            .map(|m| {
                let alert = may_alert.then(|| {
                    let sinks = self.sinks.get(&m.watchlist).cloned().unwrap_or_default();
                    let mut d = draft(item, &m, feed, sinks, now);
                    d.escalate_at = self.escalate_at.get(&m.watchlist).copied();
                    d
                });
                NewMatch {
                    watchlist_match: m,
                    alert,
                }
            })
            .collect()
    }
}

/// An item's story keys as its feed's alerts claim them: an item with
/// neither link nor distinctive title is its own story, in its own feed
/// (two feeds may both number their items from 1).
pub fn story_keys(item: &Item, feed_url: &str) -> Vec<String> {
    item.story_keys()
        .into_iter()
        .map(|k| match k.strip_prefix("i:") {
            Some(key) => format!("i:{feed_url} {key}"),
            None => k,
        })
        .collect()
}

/// The alert of one match, ready for the outbox.
fn draft(item: &Item, m: &WatchlistMatch, feed: FeedRef<'_>, sinks: Vec<String>, now: DateTime<Utc>) -> AlertDraft {
    let story_keys = story_keys(item, feed.url);
    let id = alert_id(&m.watchlist, &story_keys[0]);
    let stamp = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let alert = Alert {
        id: id.clone(),
        at: stamp.clone(),
        watchlist: m.watchlist.clone(),
        watchlist_version: m.version.clone(),
        severity: m.severity,
        rules: m.rules.clone(),
        terms: m.terms.iter().map(AlertTerm::from).collect(),
        snippet: m.snippet.clone(),
        title: item.title.clone(),
        link: item.link.clone(),
        feed: feed.name.to_string(),
        feed_url: feed.url.to_string(),
        published: item
            .published
            .map(|p| p.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        first_seen: stamp,
        lang: item.lang.clone(),
    };
    let seen = now.timestamp_millis();
    AlertDraft {
        alert_id: id,
        story_keys,
        story_words: crate::stories::title_words(&item.title),
        story_at: crate::stories::story_time(item.published.map(|p| p.timestamp_millis()), seen),
        escalate_at: None,
        sinks,
        payload: serde_json::to_string(&alert).unwrap_or_default(),
    }
}
