//! What the scheduler remembers about a feed between polls: its health,
//! its validators, its failures and when it is next due. Plain data; the
//! store saves it and `policy` computes it.

/// A feed's health as the scheduler keeps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Health {
    /// Never polled.
    #[default]
    New,
    Ok,
    /// The last poll failed.
    Failing,
    /// Several polls in a row failed, or the server asked to wait
    /// (Retry-After): polls are spaced out.
    Backoff,
    /// The server said 410 Gone; the feed is not polled any more.
    Gone,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::New => "new",
            Health::Ok => "ok",
            Health::Failing => "failing",
            Health::Backoff => "backoff",
            Health::Gone => "gone",
        }
    }

    pub fn parse(s: &str) -> Health {
        match s {
            "ok" => Health::Ok,
            "failing" => Health::Failing,
            "backoff" => Health::Backoff,
            "gone" => Health::Gone,
            _ => Health::New,
        }
    }
}

/// Why a poll failed (or came with a flaw), as kept with the feed and
/// shown by `newshound feeds`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// The feed's URL does not parse.
    Url,
    /// The HTTP client could not be built.
    Client,
    Dns,
    /// Refused, reset or closed.
    Connect,
    Tls,
    /// No headers or no whole body within the time limit.
    Timeout,
    /// A status other than 2xx, 304, 410 or a Retry-After wait.
    HttpStatus,
    TooLarge,
    DecompressionBomb,
    /// A compressed body that does not decode.
    Decompression,
    /// A redirect loop, too many redirects, or one without a location.
    Redirect,
    /// The body broke off.
    Body,
    /// An HTML page, not a feed.
    Html,
    NotAFeed,
    Malformed,
    Empty,
    /// Text that cannot be decoded; also the flaw of a feed whose invalid
    /// bytes were replaced.
    Encoding,
    /// 429 or 503 with Retry-After: a wait, not a failure.
    RetryAfter,
    Gone,
    /// The poll's items could not be stored.
    Store,
    /// The parser itself failed.
    ParserCrash,
    Other,
}

impl FailureKind {
    const ALL: [FailureKind; 22] = [
        FailureKind::Url,
        FailureKind::Client,
        FailureKind::Dns,
        FailureKind::Connect,
        FailureKind::Tls,
        FailureKind::Timeout,
        FailureKind::HttpStatus,
        FailureKind::TooLarge,
        FailureKind::DecompressionBomb,
        FailureKind::Decompression,
        FailureKind::Redirect,
        FailureKind::Body,
        FailureKind::Html,
        FailureKind::NotAFeed,
        FailureKind::Malformed,
        FailureKind::Empty,
        FailureKind::Encoding,
        FailureKind::RetryAfter,
        FailureKind::Gone,
        FailureKind::Store,
        FailureKind::ParserCrash,
        FailureKind::Other,
    ];

    /// A short stable name for logs, the database and `newshound feeds`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Url => "url",
            FailureKind::Client => "client",
            FailureKind::Dns => "dns",
            FailureKind::Connect => "connect",
            FailureKind::Tls => "tls",
            FailureKind::Timeout => "timeout",
            FailureKind::HttpStatus => "http_status",
            FailureKind::TooLarge => "too_large",
            FailureKind::DecompressionBomb => "decompression_bomb",
            FailureKind::Decompression => "decompression",
            FailureKind::Redirect => "redirect",
            FailureKind::Body => "body",
            FailureKind::Html => "html",
            FailureKind::NotAFeed => "not_a_feed",
            FailureKind::Malformed => "malformed",
            FailureKind::Empty => "empty",
            FailureKind::Encoding => "encoding",
            FailureKind::RetryAfter => "retry_after",
            FailureKind::Gone => "gone",
            FailureKind::Store => "store",
            FailureKind::ParserCrash => "parser_crash",
            FailureKind::Other => "other",
        }
    }

    /// The kind of a stored name; names this version does not know are
    /// `Other`.
    pub fn parse(s: &str) -> FailureKind {
        FailureKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .unwrap_or(FailureKind::Other)
    }

    /// True when the failure may clear up by itself (the network, the
    /// server, our own database); false when it lasts until someone changes
    /// the feed, its URL or the server (a web page instead of a feed, a
    /// body over the cap, a redirect loop, a feed removed). Both kinds are
    /// polled again with backoff: publishers do fix their feeds.
    pub fn retryable(self) -> bool {
        match self {
            FailureKind::Dns
            | FailureKind::Connect
            | FailureKind::Tls
            | FailureKind::Timeout
            | FailureKind::HttpStatus
            | FailureKind::Body
            | FailureKind::Decompression
            | FailureKind::Empty
            | FailureKind::RetryAfter
            | FailureKind::Store
            | FailureKind::Other => true,
            FailureKind::Url
            | FailureKind::Client
            | FailureKind::TooLarge
            | FailureKind::DecompressionBomb
            | FailureKind::Redirect
            | FailureKind::Html
            | FailureKind::NotAFeed
            | FailureKind::Malformed
            | FailureKind::Encoding
            | FailureKind::Gone
            | FailureKind::ParserCrash => false,
        }
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is remembered about fetching a feed between polls. Times are Unix
/// milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FeedState {
    pub health: Health,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub last_poll: Option<i64>,
    pub last_success: Option<i64>,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub error_kind: Option<FailureKind>,
    pub consecutive_failures: u32,
    /// When the regular interval next allows a poll.
    pub next_poll: Option<i64>,
    /// No poll before this, whatever asked for it: the server's Retry-After
    /// or the backoff after failures.
    pub hold_until: Option<i64>,
    /// The interval the scheduler settled on, seconds.
    pub interval_secs: Option<u64>,
    pub polls: u64,
    pub not_modified: u64,
    /// Where the feed now lives after permanent redirects.
    pub fetch_url: Option<String>,
    /// A permanent redirect target seen on the last polls, and how many
    /// polls in a row it was seen.
    pub redirect_url: Option<String>,
    pub redirect_count: u32,
}

impl FeedState {
    /// True when the feed is in trouble: failing, gone, or backing off
    /// after failures (not when it only waits at its server's request).
    pub fn is_sick(&self) -> bool {
        match self.health {
            Health::Failing | Health::Gone => true,
            Health::Backoff => self.consecutive_failures > 0,
            Health::New | Health::Ok => false,
        }
    }
}

/// A configured feed with its stored state.
#[derive(Debug, Clone)]
pub struct FeedRow {
    pub id: i64,
    pub url: String,
    pub name: String,
    pub lang: Option<String>,
    pub state: FeedState,
}

impl FeedRow {
    /// The URL to request: where permanent redirects led, or the configured
    /// one.
    pub fn fetch_url(&self) -> &str {
        self.state.fetch_url.as_deref().unwrap_or(&self.url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_kinds_round_trip_through_their_names() {
        for k in FailureKind::ALL {
            assert_eq!(FailureKind::parse(k.as_str()), k);
        }
        assert_eq!(FailureKind::parse("from a newer version"), FailureKind::Other);
        assert!(FailureKind::Timeout.retryable());
        assert!(!FailureKind::Html.retryable());
    }
}
