//! HTTP fetching: the only reqwest user. One shared client (connection
//! reuse), conditional GET, gzip/deflate/brotli decoded here while
//! streaming so that the body cap holds after decompression and a
//! decompression bomb is named as such, redirects followed by hand (capped,
//! loops caught, permanent ones reported), time limits on connect, headers
//! and the whole body, and per-site politeness: at most N requests in flight
//! to one registrable domain and a minimum gap between them. Every failure
//! is classified. [`post`] sends the alert sinks' POSTs.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, sleep_until, timeout_at};
use url::Url;

pub mod post;

pub use post::{PostError, PostReply, Poster};

use crate::clock::Clock;
use crate::config::Polling;
use crate::scheduler::{Failure, FailureKind};

/// Most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;

const ACCEPT: &str = "application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, \
                      application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5";

#[derive(Debug, Clone)]
pub struct FetchSettings {
    pub timeout: Duration,
    pub connect_timeout: Duration,
    pub max_body: u64,
    pub user_agent: String,
    /// Requests in flight to one site.
    pub per_host: usize,
    /// Minimum time between the starts of two requests to one site.
    pub host_gap: Duration,
}

impl From<&Polling> for FetchSettings {
    fn from(p: &Polling) -> FetchSettings {
        FetchSettings {
            timeout: p.timeout,
            connect_timeout: p.connect_timeout,
            max_body: p.max_body,
            user_agent: p.user_agent.clone(),
            per_host: p.per_host,
            host_gap: p.host_gap,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("invalid url")]
    Url(#[source] url::ParseError),
    #[error("cannot build HTTP client")]
    Client(#[source] reqwest::Error),
    #[error("DNS lookup failed")]
    Dns(#[source] reqwest::Error),
    #[error("connection failed")]
    Connect(#[source] reqwest::Error),
    #[error("TLS failed")]
    Tls(#[source] reqwest::Error),
    #[error("timed out waiting for response headers")]
    HeaderTimeout,
    #[error("timed out reading the body")]
    BodyTimeout,
    #[error("HTTP {status}")]
    Status { status: u16, retry_after: Option<Duration> },
    #[error("body exceeds {limit} bytes")]
    TooLarge { limit: u64 },
    #[error("decompression bomb: {compressed} compressed bytes inflate past {limit} bytes")]
    DecompressionBomb { compressed: u64, limit: u64 },
    #[error("cannot decode {encoding} body")]
    Decode {
        encoding: String,
        #[source]
        source: std::io::Error,
    },
    #[error("redirect loop")]
    RedirectLoop,
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect without a valid Location")]
    BadRedirect,
    #[error("bad response body")]
    Body(#[source] reqwest::Error),
    #[error("request failed")]
    Other(#[source] reqwest::Error),
}

impl FetchError {
    /// The kind of failure, as the feed's state keeps it.
    pub fn kind(&self) -> FailureKind {
        match self {
            FetchError::Url(_) => FailureKind::Url,
            FetchError::Client(_) => FailureKind::Client,
            FetchError::Dns(_) => FailureKind::Dns,
            FetchError::Connect(_) => FailureKind::Connect,
            FetchError::Tls(_) => FailureKind::Tls,
            FetchError::HeaderTimeout | FetchError::BodyTimeout => FailureKind::Timeout,
            FetchError::Status { .. } => FailureKind::HttpStatus,
            FetchError::TooLarge { .. } => FailureKind::TooLarge,
            FetchError::DecompressionBomb { .. } => FailureKind::DecompressionBomb,
            FetchError::Decode { .. } => FailureKind::Decompression,
            FetchError::RedirectLoop | FetchError::TooManyRedirects | FetchError::BadRedirect => FailureKind::Redirect,
            FetchError::Body(_) => FailureKind::Body,
            FetchError::Other(_) => FailureKind::Other,
        }
    }

    /// The failure as the scheduler takes it.
    pub fn failure(&self) -> Failure {
        Failure {
            status: self.status(),
            kind: self.kind(),
            message: self.chain(),
            retry_after: match self {
                FetchError::Status { retry_after, .. } => *retry_after,
                _ => None,
            },
        }
    }

    /// The HTTP status, when the server sent one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The message with its root cause, for logs and `newshound feeds`
    /// (the middle layers repeat the url, which the log line already has).
    pub fn chain(&self) -> String {
        let mut root = None;
        let mut src = std::error::Error::source(self);
        while let Some(e) = src {
            root = Some(e);
            src = e.source();
        }
        match root {
            Some(r) => format!("{self}: {r}"),
            None => self.to_string(),
        }
    }
}

/// The error and all its causes as one lowercase text, to classify by.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        s.push_str(&c.to_string().to_ascii_lowercase());
        s.push(' ');
        cur = c.source();
    }
    s
}

fn classify(e: reqwest::Error) -> FetchError {
    let text = chain_text(&e);
    if e.is_timeout() {
        FetchError::HeaderTimeout
    } else if text.contains("dns error")
        || text.contains("failed to lookup address")
        || text.contains("name or service not known")
    {
        FetchError::Dns(e)
    } else if text.contains("certificate") || text.contains("tls") || text.contains("handshake") {
        FetchError::Tls(e)
    } else if e.is_connect() || text.contains("connection reset") || text.contains("connection closed") {
        FetchError::Connect(e)
    } else if e.is_body() || e.is_decode() {
        FetchError::Body(e)
    } else {
        FetchError::Other(e)
    }
}

/// Validators from the last successful fetch, sent back so that an
/// unchanged feed costs a 304.
#[derive(Debug, Clone, Default)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// What the server said about the response besides the body.
#[derive(Debug, Clone, Default)]
pub struct ResponseMeta {
    pub status: u16,
    /// The URL the body came from, after redirects.
    pub final_url: String,
    /// Where every redirect on the way was permanent (301/308): the new home.
    pub permanent_redirect: Option<String>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub max_age: Option<Duration>,
    pub expires: Option<DateTime<Utc>>,
    pub content_type: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Fetched {
    NotModified(ResponseMeta),
    Body(ResponseMeta, Bytes),
}

/// The site a host belongs to, for politeness: its registrable domain
/// (`a.tumblr.com` and `b.tumblr.com` are one site), or the host itself
/// for IP addresses and names without a public suffix.
pub fn site_of(host: &str) -> String {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        return host;
    }
    match psl::domain_str(&host) {
        Some(d) => d.to_string(),
        None => host,
    }
}

/// Per-site gates: a semaphore for requests in flight and the earliest time
/// the next request may start.
#[derive(Debug)]
struct Site {
    in_flight: Arc<Semaphore>,
    next_start: Mutex<Instant>,
}

#[derive(Debug, Default)]
struct Sites {
    by_name: Mutex<HashMap<String, Arc<Site>>>,
}

impl Sites {
    /// Waits for a slot at `site` and returns it; the slot is held until
    /// the permit is dropped.
    async fn enter(&self, site: &str, per_host: usize, gap: Duration) -> Option<OwnedSemaphorePermit> {
        let gate = {
            let mut map = self.by_name.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(site.to_string())
                .or_insert_with(|| {
                    Arc::new(Site {
                        in_flight: Arc::new(Semaphore::new(per_host.max(1))),
                        next_start: Mutex::new(Instant::now()),
                    })
                })
                .clone()
        };
        let permit = gate.in_flight.clone().acquire_owned().await.ok()?;
        // Reserve a start time without holding the lock while waiting.
        let start = {
            let mut next = gate.next_start.lock().unwrap_or_else(|p| p.into_inner());
            let start = (*next).max(Instant::now());
            *next = start + gap;
            start
        };
        sleep_until(start).await;
        Some(permit)
    }
}

/// Requests bound for one site in one cycle, and the least time
/// politeness makes them take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteQueue {
    pub site: String,
    pub requests: usize,
    /// `host_gap` times the gaps between the requests.
    pub at_least: Duration,
}

/// The HTTP client.
#[derive(Debug, Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    settings: FetchSettings,
    sites: Arc<Sites>,
    /// For Retry-After dates.
    clock: Clock,
}

impl Fetcher {
    pub fn new(settings: FetchSettings, clock: Clock) -> Result<Fetcher, FetchError> {
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            // As many idle connections per server as may be in flight to its
            // site: a connection a poll has finished with is the next poll's.
            .pool_max_idle_per_host(settings.per_host.max(1))
            .build()
            .map_err(FetchError::Client)?;
        Ok(Fetcher {
            client,
            settings,
            sites: Arc::new(Sites::default()),
            clock,
        })
    }

    /// The sites that `urls` (one request each) queue up at: those with
    /// more requests than may be in flight there at once, most first.
    pub fn site_queues<'a>(&self, urls: impl Iterator<Item = &'a str>) -> Vec<SiteQueue> {
        let mut per_site: HashMap<String, usize> = HashMap::new();
        for u in urls {
            if let Some(host) = Url::parse(u).ok().as_ref().and_then(Url::host_str) {
                *per_site.entry(site_of(host)).or_default() += 1;
            }
        }
        let mut out: Vec<SiteQueue> = per_site
            .into_iter()
            .filter(|(_, n)| *n > self.settings.per_host)
            .map(|(site, requests)| SiteQueue {
                at_least: self
                    .settings
                    .host_gap
                    .saturating_mul(u32::try_from(requests - 1).unwrap_or(u32::MAX)),
                site,
                requests,
            })
            .collect();
        out.sort_by(|a, b| b.requests.cmp(&a.requests).then_with(|| a.site.cmp(&b.site)));
        out
    }

    /// The politeness settings: requests in flight per site, and the gap
    /// between their starts.
    pub fn politeness(&self) -> (usize, Duration) {
        (self.settings.per_host, self.settings.host_gap)
    }

    /// Fetches `url` with conditional headers, following redirects by hand.
    pub async fn fetch(&self, url: &str, validators: &Validators) -> Result<Fetched, FetchError> {
        let mut current = Url::parse(url).map_err(FetchError::Url)?;
        let mut visited = vec![current.to_string()];
        let mut all_permanent = true;
        // The time limit covers the requests themselves (headers and body,
        // every redirect hop), not the waits for a turn at a site: many
        // feeds of one site are polled one after the other, spaced, and
        // the last one may wait far longer than the timeout for its turn.
        let mut budget = self.settings.timeout;
        loop {
            let site = site_of(current.host_str().unwrap_or(""));
            let _slot = self
                .sites
                .enter(&site, self.settings.per_host, self.settings.host_gap)
                .await;
            let sent = Instant::now();
            let deadline = sent + budget;
            let mut req = self
                .client
                .get(current.clone())
                .header(header::ACCEPT, ACCEPT)
                .header(header::ACCEPT_ENCODING, "gzip, deflate, br");
            if let Some(e) = &validators.etag {
                req = req.header(header::IF_NONE_MATCH, e);
            }
            if let Some(lm) = &validators.last_modified {
                req = req.header(header::IF_MODIFIED_SINCE, lm);
            }
            let resp = match timeout_at(deadline, req.send()).await {
                Err(_) => return Err(FetchError::HeaderTimeout),
                Ok(r) => r.map_err(classify)?,
            };
            let status = resp.status();
            if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                let next = resp
                    .headers()
                    .get(header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|loc| current.join(loc).ok())
                    .filter(|u| matches!(u.scheme(), "http" | "https"))
                    .ok_or(FetchError::BadRedirect)?;
                if !matches!(status, StatusCode::MOVED_PERMANENTLY | StatusCode::PERMANENT_REDIRECT) {
                    all_permanent = false;
                }
                if visited.contains(&next.to_string()) {
                    return Err(FetchError::RedirectLoop);
                }
                if visited.len() > MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects);
                }
                visited.push(next.to_string());
                current = next;
                budget = budget.saturating_sub(sent.elapsed());
                continue;
            }
            let meta = meta_of(&resp, &current, visited.len() > 1 && all_permanent);
            if status == StatusCode::NOT_MODIFIED {
                return Ok(Fetched::NotModified(meta));
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    status: status.as_u16(),
                    retry_after: retry_after(resp.headers(), self.clock.now()),
                });
            }
            let limit = self.settings.max_body;
            let encoding = header_str(resp.headers(), header::CONTENT_ENCODING).map(|e| e.to_ascii_lowercase());
            let declared = resp.content_length();
            if declared.is_some_and(|n| n > limit) {
                return Err(FetchError::TooLarge { limit });
            }
            let mut body = Body::new(encoding.as_deref(), limit, declared);
            let mut stream = resp.bytes_stream();
            loop {
                match timeout_at(deadline, stream.next()).await {
                    Err(_) => return Err(FetchError::BodyTimeout),
                    Ok(None) => break,
                    Ok(Some(Err(e))) => {
                        return Err(if e.is_timeout() {
                            FetchError::BodyTimeout
                        } else {
                            classify(e)
                        });
                    }
                    Ok(Some(Ok(chunk))) => body.push(&chunk)?,
                }
            }
            let body = body.finish()?;
            return Ok(Fetched::Body(meta, body));
        }
    }
}

/// A `Write` into memory that refuses to grow past a limit.
struct Capped {
    buf: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl Write for Capped {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() as u64 + data.len() as u64 > self.limit {
            self.exceeded = true;
            return Err(std::io::Error::other("body cap reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A response body being received: decoded as it streams in, capped after
/// decoding.
enum Decoder {
    Identity(Capped),
    Gzip(flate2::write::MultiGzDecoder<Capped>),
    Deflate(flate2::write::ZlibDecoder<Capped>),
    Brotli(Box<brotli_decompressor::DecompressorWriter<Capped>>),
}

struct Body {
    decoder: Decoder,
    encoding: String,
    received: u64,
    limit: u64,
}

/// The most a body's buffer reserves up front from the length the server
/// declares; past it, the buffer grows as the body arrives.
const RESERVE_MAX: u64 = 1024 * 1024;

impl Body {
    /// `declared`: the Content-Length, the size of the body as sent (a
    /// compressed body decodes to at least about as much), which saves
    /// copying the buffer as it grows.
    fn new(encoding: Option<&str>, limit: u64, declared: Option<u64>) -> Body {
        let reserve = declared.unwrap_or(0).min(limit).min(RESERVE_MAX);
        let sink = Capped {
            buf: Vec::with_capacity(usize::try_from(reserve).unwrap_or(0)),
            limit,
            exceeded: false,
        };
        let (decoder, name) = match encoding {
            Some("gzip" | "x-gzip") => (Decoder::Gzip(flate2::write::MultiGzDecoder::new(sink)), "gzip"),
            Some("deflate") => (Decoder::Deflate(flate2::write::ZlibDecoder::new(sink)), "deflate"),
            Some("br") => (
                Decoder::Brotli(Box::new(brotli_decompressor::DecompressorWriter::new(sink, 16 * 1024))),
                "br",
            ),
            _ => (Decoder::Identity(sink), "identity"),
        };
        Body {
            decoder,
            encoding: name.to_string(),
            received: 0,
            limit,
        }
    }

    fn sink(&self) -> &Capped {
        match &self.decoder {
            Decoder::Identity(c) => c,
            Decoder::Gzip(d) => d.get_ref(),
            Decoder::Deflate(d) => d.get_ref(),
            Decoder::Brotli(d) => d.get_ref(),
        }
    }

    fn failed(&self, source: std::io::Error) -> FetchError {
        let compressed = !matches!(self.decoder, Decoder::Identity(_));
        match (self.sink().exceeded, compressed) {
            (true, true) => FetchError::DecompressionBomb {
                compressed: self.received,
                limit: self.limit,
            },
            (true, false) => FetchError::TooLarge { limit: self.limit },
            (false, _) => FetchError::Decode {
                encoding: self.encoding.clone(),
                source,
            },
        }
    }

    fn push(&mut self, chunk: &[u8]) -> Result<(), FetchError> {
        self.received += chunk.len() as u64;
        if !matches!(self.decoder, Decoder::Identity(_)) && self.received > self.limit {
            return Err(FetchError::TooLarge { limit: self.limit });
        }
        let r = match &mut self.decoder {
            Decoder::Identity(c) => c.write_all(chunk),
            Decoder::Gzip(d) => d.write_all(chunk),
            Decoder::Deflate(d) => d.write_all(chunk),
            Decoder::Brotli(d) => d.write_all(chunk),
        };
        r.map_err(|e| self.failed(e))
    }

    fn finish(mut self) -> Result<Bytes, FetchError> {
        // Flush what the decoder still holds, while the cap can still tell
        // a bomb from a broken stream.
        let flushed = match &mut self.decoder {
            Decoder::Identity(_) => Ok(()),
            Decoder::Gzip(d) => d.try_finish(),
            Decoder::Deflate(d) => d.try_finish(),
            Decoder::Brotli(d) => d.flush(),
        };
        if let Err(e) = flushed {
            return Err(self.failed(e));
        }
        let truncated = || FetchError::Decode {
            encoding: self.encoding.clone(),
            source: std::io::Error::other("truncated compressed stream"),
        };
        let sink = match self.decoder {
            Decoder::Identity(c) => c,
            Decoder::Gzip(d) => d.finish().map_err(|_| truncated())?,
            Decoder::Deflate(d) => d.finish().map_err(|_| truncated())?,
            Decoder::Brotli(d) => d.into_inner().map_err(|_| truncated())?,
        };
        Ok(Bytes::from(sink.buf))
    }
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v: &HeaderValue| v.to_str().ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn meta_of(resp: &reqwest::Response, url: &Url, permanent: bool) -> ResponseMeta {
    let h = resp.headers();
    ResponseMeta {
        status: resp.status().as_u16(),
        final_url: url.to_string(),
        permanent_redirect: permanent.then(|| url.to_string()),
        etag: header_str(h, header::ETAG),
        last_modified: header_str(h, header::LAST_MODIFIED),
        max_age: header_str(h, header::CACHE_CONTROL).and_then(|v| max_age(&v)),
        expires: header_str(h, header::EXPIRES).and_then(|v| http_date(&v)),
        content_type: header_str(h, header::CONTENT_TYPE),
    }
}

/// `max-age` (or `s-maxage`) of a Cache-Control value; `no-cache`/`no-store`
/// say nothing about polling and give `None`.
pub fn max_age(v: &str) -> Option<Duration> {
    v.split(',').find_map(|d| {
        let d = d.trim().to_ascii_lowercase();
        let (k, val) = d.split_once('=')?;
        if k.trim() == "max-age" || k.trim() == "s-maxage" {
            val.trim()
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs)
        } else {
            None
        }
    })
}

/// Parses an HTTP date (RFC 9110 IMF-fixdate and the obsolete forms chrono
/// accepts as RFC 2822).
pub fn http_date(v: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc2822(v.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(v.trim(), "%A, %d-%b-%y %H:%M:%S GMT")
                .ok()
                .map(|n| n.and_utc())
        })
}

/// Retry-After as a wait from `now`: delay-seconds or an HTTP date.
pub fn retry_after(h: &HeaderMap, now: DateTime<Utc>) -> Option<Duration> {
    let v = header_str(h, header::RETRY_AFTER)?;
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = http_date(&v)?;
    Some((when - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_control_max_age() {
        assert_eq!(max_age("public, max-age=600"), Some(Duration::from_secs(600)));
        assert_eq!(max_age("s-maxage=60"), Some(Duration::from_secs(60)));
        assert_eq!(max_age("no-cache"), None);
        assert_eq!(max_age("max-age=abc"), None);
    }

    #[test]
    fn retry_after_both_forms() {
        let now = DateTime::parse_from_rfc3339("2025-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut h = HeaderMap::new();
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("120"));
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(120)));
        h.insert(
            header::RETRY_AFTER,
            HeaderValue::from_static("Thu, 20 Nov 2025 10:05:00 GMT"),
        );
        assert_eq!(retry_after(&h, now), Some(Duration::from_secs(300)));
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("soon"));
        assert_eq!(retry_after(&h, now), None);
    }
}
