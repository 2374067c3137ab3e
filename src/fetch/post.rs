//! Outgoing POSTs for alert sinks (webhooks, chat, ntfy): a client of its
//! own with no redirects, a deadline per request, a capped reply, and
//! errors that never carry the URL (it may hold a token).

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::clock::Clock;

/// Bytes of a reply kept for the error message.
const REPLY_CAP: usize = 512;

/// What a receiver answered.
#[derive(Debug, Clone)]
pub struct PostReply {
    pub status: u16,
    /// The receiver's Retry-After, when it sent one.
    pub retry_after: Option<Duration>,
    /// The start of the reply body, for error messages.
    pub body: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("the HTTP client could not be built")]
    Client(#[source] reqwest::Error),
    #[error("invalid header {0}")]
    Header(String),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect")]
    Connect(#[source] reqwest::Error),
    #[error("request failed")]
    Request(#[source] reqwest::Error),
}

/// Sends POSTs for the sinks.
#[derive(Clone)]
pub struct Poster {
    client: reqwest::Client,
    clock: Clock,
}

impl Poster {
    pub fn new(user_agent: &str, clock: Clock) -> Result<Poster, PostError> {
        let client = reqwest::Client::builder()
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(60))
            .build()
            .map_err(PostError::Client)?;
        Ok(Poster { client, clock })
    }

    /// POSTs `body` with `headers` to `url`, answered within `timeout`.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
        timeout: Duration,
    ) -> Result<PostReply, PostError> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| PostError::Header(k.to_string()))?;
            let value = HeaderValue::from_str(v).map_err(|_| PostError::Header(k.to_string()))?;
            map.insert(name, value);
        }
        let send = async {
            let resp = self
                .client
                .post(url)
                .headers(map)
                .body(body)
                .send()
                .await
                .map_err(|e| {
                    let e = e.without_url();
                    if e.is_connect() {
                        PostError::Connect(e)
                    } else {
                        PostError::Request(e)
                    }
                })?;
            let status = resp.status().as_u16();
            let retry_after = super::retry_after(resp.headers(), self.clock.now());
            let bytes = resp.bytes().await.unwrap_or_default();
            let cut = &bytes[..bytes.len().min(REPLY_CAP)];
            Ok(PostReply {
                status,
                retry_after,
                body: String::from_utf8_lossy(cut).trim().to_string(),
            })
        };
        tokio::time::timeout(timeout, send)
            .await
            .unwrap_or(Err(PostError::Timeout(timeout)))
    }
}
