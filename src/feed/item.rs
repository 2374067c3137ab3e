//! A normalized feed entry, and the keys that tell one story across feeds.

use chrono::{DateTime, Utc};

use super::identity::{link_story_key, title_story_key};

/// A normalized feed entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Identity within its feed: `g:` GUID, else `l:` canonical link, else
    /// `h:` hash of title and summary.
    pub key: String,
    pub title: String,
    pub summary: String,
    pub content: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub lang: Option<String>,
    pub tags: Vec<String>,
    pub authors: Vec<String>,
}

impl Item {
    /// Keys that identify the story across feeds: its canonical link and, for
    /// titles long enough to be distinctive, its normalized title. An alert
    /// is raised once per story and watchlist.
    pub fn story_keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(2);
        if let Some(link) = &self.link {
            if let Some(k) = link_story_key(link) {
                keys.push(k);
            }
        }
        if let Some(k) = title_story_key(&self.title) {
            keys.push(k);
        }
        if keys.is_empty() {
            keys.push(format!("i:{}", self.key));
        }
        keys
    }
}
