//! Why a document could not be read as a feed.

use crate::scheduler::FailureKind;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum FeedError {
    #[error("empty document")]
    Empty,
    #[error("not a feed: an HTML page")]
    Html,
    #[error("not a feed: no RSS, Atom or JSON Feed root")]
    NotAFeed,
    #[error("malformed feed: {0}")]
    Malformed(String),
    #[error("undecodable text: {0}")]
    Encoding(String),
}

impl FeedError {
    /// The kind of failure, as the feed's state keeps it.
    pub fn kind(&self) -> FailureKind {
        match self {
            FeedError::Empty => FailureKind::Empty,
            FeedError::Html => FailureKind::Html,
            FeedError::NotAFeed => FailureKind::NotAFeed,
            FeedError::Malformed(_) => FailureKind::Malformed,
            FeedError::Encoding(_) => FailureKind::Encoding,
        }
    }
}
