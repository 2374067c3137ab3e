//! Feed documents: parses RSS 0.9x/1.0/2.0, Atom and JSON Feed with feed-rs
//! and normalizes entries into [`Item`]s (plain text, canonical link, UTC
//! date, deterministic identity and story keys). Pure: no I/O.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::scheduler::FailureKind;
use crate::text;

/// What feed-rs's id generator returns for an entry without an id, so that
/// normalization can pick a deterministic identity itself (feed-rs's own
/// fallback is a random UUID, which would re-alert the entry on every poll).
const NO_ID: &str = "\u{0}newshound:no-id";

/// Longest title kept, in bytes.
const MAX_TITLE: usize = 2 * 1024;
/// Longest summary or content kept, in bytes.
const MAX_TEXT: usize = 64 * 1024;
/// Most items taken from one document; a feed with more is cut, newest
/// first as the feed orders them.
pub const MAX_ITEMS: usize = 5_000;

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

/// A parsed document.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub language: Option<String>,
    /// RSS `<ttl>`, minutes.
    pub ttl: Option<u32>,
    pub items: Vec<Item>,
    /// `sy:updatePeriod` / `sy:updateFrequency` as an interval.
    pub update_period: Option<std::time::Duration>,
    /// How many entries were dropped beyond [`MAX_ITEMS`].
    pub truncated: usize,
    /// Problems that did not stop parsing (bytes invalid in the encoding).
    pub warnings: Vec<String>,
}

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

fn looks_like_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(2048)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    lower.contains("<!doctype html") || lower.contains("<html")
}

/// The `charset` parameter of a Content-Type header value.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The `encoding` of the XML declaration, if the document starts with one
/// in an ASCII-compatible encoding: the value and its byte range.
fn declared_encoding(body: &[u8]) -> Option<(String, std::ops::Range<usize>)> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &body[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = rest.iter().take(1024).position(|&b| b == b'>')?;
    let decl = &rest[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let after = &decl[at + 8..];
    let eq = after.iter().position(|&b| b == b'=')?;
    let q_at = after[eq + 1..].iter().position(|&b| b == b'"' || b == b'\'')? + eq + 1;
    let quote = after[q_at];
    let len = after[q_at + 1..].iter().position(|&b| b == quote)?;
    let value = std::str::from_utf8(&after[q_at + 1..q_at + 1 + len])
        .ok()?
        .trim()
        .to_string();
    let abs = start + at + 8 + q_at + 1;
    Some((value, abs..abs + len))
}

/// The document as UTF-8, whatever it was sent in: a byte-order mark
/// first, then UTF-16 without one, then the XML declaration, then the HTTP
/// charset, else UTF-8. An XML declaration naming another encoding is
/// rewritten to say UTF-8, so the XML parser reads what it is given.
pub fn to_utf8<'a>(body: &'a [u8], http_charset: Option<&str>) -> Result<Decoded<'a>, FeedError> {
    use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
    use std::borrow::Cow;
    let sniffed = match Encoding::for_bom(body) {
        Some((e, _)) => Some(e),
        None if body.starts_with(&[0, b'<', 0]) => Some(UTF_16BE),
        None if body.starts_with(&[b'<', 0]) => Some(UTF_16LE),
        None => None,
    };
    let label_enc = |label: &str| {
        Encoding::for_label(label.as_bytes()).ok_or_else(|| FeedError::Encoding(format!("unknown encoding '{label}'")))
    };
    let declared = declared_encoding(body);
    let enc = match (sniffed, &declared, http_charset) {
        (Some(e), _, _) => e,
        // A UTF-16 label on a document that reads as ASCII is mislabelled.
        (None, Some((label, _)), _) => match label_enc(label)? {
            e if e == UTF_16LE || e == UTF_16BE => UTF_8,
            e => e,
        },
        (None, None, Some(cs)) if !cs.is_empty() => match label_enc(cs) {
            Ok(e) if e == UTF_16LE || e == UTF_16BE => UTF_8,
            Ok(e) => e,
            Err(_) => UTF_8,
        },
        _ => UTF_8,
    };
    if enc == UTF_8 {
        let body = body.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(body);
        // SIMD validation (so in the tokenizer): the two take a fifth of
        // the instructions `std::str::from_utf8` took on the farm's feeds.
        if simdutf8::basic::from_utf8(body).is_ok() {
            return Ok(Decoded {
                bytes: Cow::Borrowed(body),
                replaced: false,
            });
        }
        // Invalid bytes become U+FFFD rather than losing the whole feed.
        return Ok(Decoded {
            bytes: Cow::Owned(String::from_utf8_lossy(body).into_owned().into_bytes()),
            replaced: true,
        });
    }
    let (text, _, replaced) = enc.decode(body);
    let mut out = text.into_owned();
    if let Some((_, range)) = declared_encoding(out.as_bytes()) {
        out.replace_range(range, "utf-8");
    }
    Ok(Decoded {
        bytes: Cow::Owned(out.into_bytes()),
        replaced,
    })
}

/// A document decoded to UTF-8.
pub struct Decoded<'a> {
    pub bytes: std::borrow::Cow<'a, [u8]>,
    /// Bytes that were not valid in the document's encoding were replaced
    /// with U+FFFD.
    pub replaced: bool,
}

/// The publishing schedule a feed declares with the RSS syndication module
/// (`sy:updatePeriod`, `sy:updateFrequency`): how often it expects to be
/// polled.
pub fn syndication_period(doc: &[u8]) -> Option<std::time::Duration> {
    let head = &doc[..doc.len().min(16 * 1024)];
    let value = |tag: &[u8]| -> Option<String> {
        let open = memchr::memmem::find(head, tag)? + tag.len();
        let close = memchr::memchr(b'<', &head[open..])? + open;
        Some(
            std::str::from_utf8(&head[open..close])
                .ok()?
                .trim()
                .to_ascii_lowercase(),
        )
    };
    let period = value(b"updatePeriod>")?;
    let hours: u64 = match period.as_str() {
        "hourly" => 1,
        "daily" => 24,
        "weekly" => 24 * 7,
        "monthly" => 24 * 30,
        "yearly" => 24 * 365,
        _ => return None,
    };
    let frequency = value(b"updateFrequency>")
        .and_then(|f| f.parse::<u64>().ok())
        .unwrap_or(1)
        .max(1);
    Some(std::time::Duration::from_secs(hours * 3600 / frequency))
}

/// Parses a feed document fetched from `feed_url`. `content_type` is the
/// response's Content-Type (for its charset); `default_lang` is the language
/// configured for the feed.
pub fn parse(
    body: &[u8],
    feed_url: &str,
    content_type: Option<&str>,
    default_lang: Option<&str>,
) -> Result<ParsedFeed, FeedError> {
    let doc = parse_document(body, feed_url, content_type, default_lang)?;
    let items = doc.entries.into_iter().map(|e| e.normalize()).collect();
    Ok(ParsedFeed {
        title: doc.title,
        language: doc.language,
        ttl: doc.ttl,
        update_period: doc.update_period,
        items,
        truncated: doc.truncated,
        warnings: doc.warnings,
    })
}

/// An entry parsed but not yet normalized: its identity is known, so that
/// entries already stored are dropped before the costlier normalization.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub key: String,
    /// Published, or else updated.
    pub published: Option<DateTime<Utc>>,
    entry: feed_rs::model::Entry,
    link: Option<String>,
    lang: Option<String>,
}

impl RawEntry {
    fn new(e: feed_rs::model::Entry, base: Option<&Url>, lang: Option<&str>) -> RawEntry {
        let link = e
            .links
            .iter()
            .filter(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
            .chain(e.links.iter())
            .find_map(|l| canonical_url(&l.href, base));
        let guid = e.id.trim();
        let key = if !guid.is_empty() && e.id != NO_ID {
            bounded_key("g", guid)
        } else if let Some(l) = &link {
            bounded_key("l", l)
        } else {
            let title = e.title.as_ref().map(|t| html_to_text(&t.content)).unwrap_or_default();
            let summary = e.summary.as_ref().map(|t| html_to_text(&t.content)).unwrap_or_default();
            format!("h:{}", hex_digest(&[title.as_bytes(), b"\n", summary.as_bytes()]))
        };
        RawEntry {
            key,
            published: e.published.or(e.updated),
            lang: e.language.as_deref().map(normalize_lang).or(lang.map(str::to_string)),
            entry: e,
            link,
        }
    }

    /// The entry as an [`Item`]: plain text, canonical link, tags.
    pub fn normalize(self) -> Item {
        let e = self.entry;
        let text =
            |t: Option<feed_rs::model::Text>, max| t.map(|t| clip(owned_text(t.content), max)).unwrap_or_default();
        let mut tags: Vec<String> = e
            .categories
            .iter()
            .map(|c| c.label.clone().unwrap_or_else(|| c.term.clone()).trim().to_string())
            .filter(|t| !t.is_empty())
            .collect();
        tags.dedup();
        Item {
            key: self.key,
            title: text(e.title, MAX_TITLE),
            summary: text(e.summary, MAX_TEXT),
            content: e
                .content
                .and_then(|c| c.body)
                .map(|b| clip(owned_text(b), MAX_TEXT))
                .unwrap_or_default(),
            link: self.link,
            published: self.published,
            lang: self.lang,
            tags,
            authors: e
                .authors
                .into_iter()
                .filter_map(|a| a.name)
                .filter(|n| !n.is_empty())
                .collect(),
        }
    }
}

/// A parsed document whose entries are not normalized yet.
#[derive(Debug, Clone, Default)]
pub struct ParsedDocument {
    pub title: Option<String>,
    pub language: Option<String>,
    pub ttl: Option<u32>,
    pub update_period: Option<std::time::Duration>,
    pub entries: Vec<RawEntry>,
    pub truncated: usize,
    pub warnings: Vec<String>,
}

/// Parses a document into entries with their identity, without normalizing
/// their text (see [`RawEntry::normalize`]).
pub fn parse_document(
    body: &[u8],
    feed_url: &str,
    content_type: Option<&str>,
    default_lang: Option<&str>,
) -> Result<ParsedDocument, FeedError> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(FeedError::Empty);
    }
    let decoded = to_utf8(body, content_type.and_then(charset_of))?;
    let body = decoded.bytes.as_ref();
    // feed-rs resolves links against a base only for `xml:base`; without
    // one, `RawEntry::new` resolves them against the feed's URL itself, and
    // feed-rs skips copying the base URL onto every element it reads (1% of
    // a cold poll).
    let xml_base = memchr::memmem::find(body, b"xml:base").is_some();
    let parser = feed_rs::parser::Builder::new()
        .base_uri(xml_base.then_some(feed_url))
        .id_generator(|_, _, _| NO_ID.to_string())
        .timestamp_parser(parse_date)
        .build();
    let feed = parser.parse(body).map_err(|e| classify(e, body))?;
    let base = Url::parse(feed_url).ok();
    let feed_lang = feed.language.as_deref().map(normalize_lang);
    let lang = default_lang.map(str::to_string).or(feed_lang.clone());
    let total = feed.entries.len();
    let entries = feed
        .entries
        .into_iter()
        .take(MAX_ITEMS)
        .map(|e| RawEntry::new(e, base.as_ref(), lang.as_deref()))
        .collect();
    let mut warnings = Vec::new();
    if decoded.replaced {
        warnings.push("invalid bytes for the document's encoding were replaced".to_string());
    }
    Ok(ParsedDocument {
        title: feed.title.map(|t| clip(html_to_text(&t.content), MAX_TITLE)),
        language: feed_lang,
        ttl: feed.ttl,
        update_period: syndication_period(body),
        entries,
        truncated: total.saturating_sub(MAX_ITEMS),
        warnings,
    })
}

/// Parses a feed's date: the standard forms (RFC 3339, RFC 2822) directly,
/// anything odder through feed-rs's lenient parser. The lenient parser
/// cleans every input with regexes, which made it a tenth of the cost of a
/// cold poll; the standard forms are nearly all inputs.
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Some(d) = rss_date(t) {
        return Some(d);
    }
    DateTime::parse_from_rfc3339(t)
        .or_else(|_| DateTime::parse_from_rfc2822(t))
        .map(|d| d.with_timezone(&Utc))
        .ok()
        .or_else(|| lenient_date(t))
}

/// The form nearly every RSS date has, `Thu, 20 Nov 2025 08:00:00 +0000`
/// (or `GMT`), read directly: chrono's RFC 2822 parser, which also takes
/// comments, folding and obsolete zones, costs about ten times as much.
/// Anything else, or a weekday that is not the date's, is `None`, and the
/// general parsers decide; what this returns, chrono's parser returns too.
fn rss_date(t: &str) -> Option<DateTime<Utc>> {
    use chrono::{Datelike, NaiveDate};
    const DAYS: [[u8; 3]; 7] = [*b"Mon", *b"Tue", *b"Wed", *b"Thu", *b"Fri", *b"Sat", *b"Sun"];
    const MONTHS: [[u8; 3]; 12] = [
        *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct", *b"Nov", *b"Dec",
    ];
    let b = t.as_bytes();
    let (weekday, b) = match b {
        [w0, w1, w2, b',', b' ', rest @ ..] => (Some(DAYS.iter().position(|d| *d == [*w0, *w1, *w2])?), rest),
        _ => (None, b),
    };
    let digits = |s: &[u8]| -> Option<u32> {
        s.iter()
            .try_fold(0u32, |n, c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    // Day of one or two digits, then " Mon YYYY HH:MM:SS zone".
    let day_len = if b.get(1) == Some(&b' ') { 1 } else { 2 };
    let day = digits(b.get(..day_len)?)?;
    let b = b.get(day_len..)?;
    let [
        b' ',
        m0,
        m1,
        m2,
        b' ',
        y0,
        y1,
        y2,
        y3,
        b' ',
        h0,
        h1,
        b':',
        i0,
        i1,
        b':',
        s0,
        s1,
        b' ',
        zone @ ..,
    ] = b
    else {
        return None;
    };
    let month = MONTHS.iter().position(|m| *m == [*m0, *m1, *m2])? as u32 + 1;
    let year = digits(&[*y0, *y1, *y2, *y3])?;
    let (hour, min, sec) = (digits(&[*h0, *h1])?, digits(&[*i0, *i1])?, digits(&[*s0, *s1])?);
    let offset_secs = match zone {
        b"GMT" => 0,
        [sign @ (b'+' | b'-'), zh0, zh1, zm0, zm1] => {
            let (zh, zm) = (digits(&[*zh0, *zh1])?, digits(&[*zm0, *zm1])?);
            if zh > 23 || zm > 59 {
                return None;
            }
            let secs = (zh * 3600 + zm * 60) as i32;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    if weekday.is_some_and(|w| date.weekday().num_days_from_monday() as usize != w) {
        return None;
    }
    let local = date.and_hms_opt(hour, min, sec)?;
    let utc = local.checked_sub_signed(chrono::TimeDelta::seconds(i64::from(offset_secs)))?;
    Some(DateTime::from_naive_utc_and_offset(utc, Utc))
}

fn lenient_date(t: &str) -> Option<DateTime<Utc>> {
    if t.is_empty() || t.len() > 200 {
        return None;
    }
    // feed-rs does not export its lenient parser; its default parser
    // applies it to a one-item document.
    let doc = format!(
        "<rss version=\"2.0\"><channel><item><guid>d</guid><pubDate>{}</pubDate></item></channel></rss>",
        html_escape::encode_text(t)
    );
    feed_rs::parser::parse(doc.as_bytes()).ok()?.entries.first()?.published
}

fn classify(e: feed_rs::parser::ParseFeedError, body: &[u8]) -> FeedError {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError as P};
    match e {
        P::ParseError(ParseErrorKind::NoFeedRoot) => {
            if looks_like_html(body) {
                FeedError::Html
            } else {
                FeedError::NotAFeed
            }
        }
        P::XmlReader(x) => {
            let msg = x.to_string();
            if msg.to_ascii_lowercase().contains("encoding") || msg.contains("utf") {
                FeedError::Encoding(msg)
            } else if looks_like_html(body) {
                FeedError::Html
            } else {
                FeedError::Malformed(msg)
            }
        }
        other => {
            if looks_like_html(body) {
                FeedError::Html
            } else {
                FeedError::Malformed(other.to_string())
            }
        }
    }
}

fn normalize_lang(s: &str) -> String {
    s.trim().replace('_', "-").to_ascii_lowercase()
}

fn clip(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

fn bounded_key(prefix: &str, v: &str) -> String {
    if v.len() <= 512 {
        // Not `format!`: its machinery costs several times these copies,
        // once per entry.
        let mut key = String::with_capacity(prefix.len() + 1 + v.len());
        key.push_str(prefix);
        key.push(':');
        key.push_str(v);
        key
    } else {
        format!("{prefix}#{}", hex_digest(&[v.as_bytes()]))
    }
}

fn hex_digest(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().iter().take(16).map(|b| format!("{b:02x}")).collect()
}

/// Query parameters that only track the reader; they are dropped from
/// canonical links.
fn is_tracking_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_")
        || matches!(
            n.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "msclkid"
                | "yclid"
                | "igshid"
                | "mc_cid"
                | "mc_eid"
                | "_ga"
                | "ref_src"
                | "ocid"
                | "cmpid"
                | "at_medium"
                | "at_campaign"
                | "smid"
                | "ito"
        )
}

/// The canonical form of a link: absolute (resolved against `base`), http or
/// https, without fragment and tracking parameters.
pub fn canonical_url(link: &str, base: Option<&Url>) -> Option<String> {
    let link = link.trim();
    if link.is_empty() {
        return None;
    }
    if is_canonical_http_url(link) {
        return Some(link.to_string());
    }
    let mut u = match base {
        Some(b) => b.join(link).ok()?,
        None => Url::parse(link).ok()?,
    };
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return None;
    }
    u.set_fragment(None);
    if u.query().is_some() {
        let kept: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !is_tracking_param(k))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            u.set_query(None);
        } else {
            u.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Some(u.to_string())
}

/// True when `link` is an absolute http(s) URL already in the form
/// [`canonical_url`] gives, so that parsing it would change nothing: a
/// lower-case ASCII host name (no address, port, user or punycode), a path
/// of plain characters without dot segments or escapes, no query and no
/// fragment. Most feed links are (feed-rs writes them through the `url`
/// crate); the check costs a fraction of a parse.
fn is_canonical_http_url(link: &str) -> bool {
    let Some(rest) = link.strip_prefix("https://").or_else(|| link.strip_prefix("http://")) else {
        return false;
    };
    let Some(slash) = rest.find('/') else {
        return false;
    };
    let (host, path) = rest.split_at(slash);
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
                && !label.starts_with("xn--")
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        })
        // A last label starting with a letter: never an IPv4 address.
        && host.rsplit('.').next().and_then(|l| l.bytes().next()).is_some_and(|c| c.is_ascii_lowercase());
    // Path characters the `url` crate writes as they are.
    const PLAIN: &[u8] = b"/-._~!$&'()*+,;=:@";
    host_ok
        && path.bytes().all(|c| c.is_ascii_alphanumeric() || PLAIN.contains(&c))
        && path.split('/').all(|seg| seg != "." && seg != "..")
}

fn link_story_key(link: &str) -> Option<String> {
    let u = Url::parse(link).ok()?;
    let host = u.host_str()?.trim_start_matches("www.");
    let path = u.path().trim_end_matches('/');
    Some(match u.query() {
        Some(q) => format!("u:{host}{path}?{q}"),
        None => format!("u:{host}{path}"),
    })
}

/// Fewest words a title needs to identify a story on its own.
const TITLE_KEY_MIN_WORDS: usize = 5;

fn title_story_key(title: &str) -> Option<String> {
    // Aggregators append " - Publisher"; the story is the same without it.
    let t = match title.rsplit_once(" - ") {
        Some((head, tail)) if tail.split_whitespace().count() <= 4 && !head.trim().is_empty() => head,
        _ => title,
    };
    let n = text::normalize(t);
    if n.len() < TITLE_KEY_MIN_WORDS {
        return None;
    }
    Some(format!("t:{}", hex_digest(&[n.norm.trim().as_bytes()])))
}

fn is_block_tag(name: &str) -> bool {
    matches!(
        name,
        "p" | "br"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "hr"
            | "figure"
            | "figcaption"
            | "pre"
            | "dd"
            | "dt"
    )
}

/// Plain text of an HTML fragment: tags, comments, scripts and styles
/// removed, entities decoded, whitespace collapsed.
pub fn html_to_text(s: &str) -> String {
    if memchr::memchr2(b'<', b'&', s.as_bytes()).is_none() {
        return collapse_ws(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tag = &rest[lt..];
        let next = tag[1..].chars().next();
        if !next.is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?') {
            out.push('<');
            rest = &tag[1..];
            continue;
        }
        if let Some(body) = tag.strip_prefix("<!--") {
            rest = body.find("-->").map_or("", |i| &body[i + 3..]);
            out.push(' ');
            continue;
        }
        let Some(gt) = tag.find('>') else {
            // An unclosed tag at the end: drop it.
            rest = "";
            break;
        };
        let inner = &tag[1..gt];
        let name: String = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &tag[gt + 1..];
        if (name == "script" || name == "style") && !inner.starts_with('/') {
            let close = format!("</{name}");
            rest = find_ci(rest, &close).map_or("", |i| {
                let after = &rest[i..];
                after.find('>').map_or("", |j| &after[j + 1..])
            });
            out.push(' ');
        } else if is_block_tag(&name) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    collapse_ws(&html_escape::decode_html_entities(&out))
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    hay.as_bytes()
        .windows(n)
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// True when `s` is plain text already: single spaces between words, none
/// around them, no other whitespace, and (with `markup`) no `<` or `&`.
/// Most feed text is; a few vectorized scans for the rare bytes tell.
fn is_plain(s: &str, markup: bool) -> bool {
    use memchr::{memchr, memchr2, memchr3, memchr3_iter, memmem};
    // Built once: `memmem::find` builds its searcher at every call, which
    // cost more than the scan itself on feed fields (they are short).
    static DOUBLE_SPACE: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"  "));
    let b = s.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') || DOUBLE_SPACE.find(b).is_some() {
        return false;
    }
    // Tab, line feed, vertical tab, form feed, carriage return.
    if memchr3(b'\t', b'\n', b'\r', b).is_some() || memchr2(0x0b, 0x0c, b).is_some() {
        return false;
    }
    if markup && memchr2(b'<', b'&', b).is_some() {
        return false;
    }
    // The UTF-8 forms of U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
    // U+2029, U+202F, U+205F and U+3000, found by their lead bytes.
    let wide_space = |i: usize| {
        let next = (b.get(i + 1).copied(), b.get(i + 2).copied());
        match b[i] {
            0xc2 => matches!(next.0, Some(0x85 | 0xa0)),
            0xe1 => next == (Some(0x9a), Some(0x80)),
            0xe2 => matches!(
                next,
                (Some(0x80), Some(0x80..=0x8a | 0xa8 | 0xa9 | 0xaf)) | (Some(0x81), Some(0x9f))
            ),
            _ => next == (Some(0x80), Some(0x80)),
        }
    };
    if memchr3_iter(0xc2, 0xe1, 0xe2, b).any(wide_space) {
        return false;
    }
    let mut rest = 0;
    while let Some(k) = memchr(0xe3, &b[rest..]) {
        if wide_space(rest + k) {
            return false;
        }
        rest += k + 1;
    }
    true
}

fn collapse_ws(s: &str) -> String {
    if is_plain(s, false) {
        return s.to_string();
    }
    collapse_dirty(s)
}

/// Plain text of an HTML fragment the caller owns: plain text (most feed
/// text) is returned as it is, without a copy.
fn owned_text(s: String) -> String {
    if is_plain(&s, true) {
        return s;
    }
    html_to_text(&s)
}

fn collapse_dirty(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Wire &amp; Co</title><ttl>30</ttl><language>en-US</language>
<item><title>Witkoff &amp; Dmitriev draft &lt;b&gt;28-point&lt;/b&gt; plan</title>
<link>https://example.com/a?utm_source=rss&amp;id=7#top</link><guid>tag:example.com,2025:1</guid>
<description><![CDATA[<p>The plan&nbsp;was <b>drafted</b> in Miami.</p><script>x()</script>]]></description>
<pubDate>Thu, 20 Nov 2025 10:00:00 +0200</pubDate><category>World</category></item>
<item><title>No guid here</title><link>/relative/path</link></item>
<item><title>Neither guid nor link</title><description>body</description></item>
</channel></rss>"#;

    #[test]
    fn rss_items_are_normalized() {
        let f = parse(RSS.as_bytes(), "https://example.com/feed.xml", None, None).unwrap();
        assert_eq!(f.title.as_deref(), Some("Wire & Co"));
        assert_eq!(f.ttl, Some(30));
        assert_eq!(f.items.len(), 3);
        let a = &f.items[0];
        assert_eq!(a.key, "g:tag:example.com,2025:1");
        assert_eq!(a.title, "Witkoff & Dmitriev draft 28-point plan");
        assert_eq!(a.summary, "The plan was drafted in Miami.");
        assert_eq!(a.link.as_deref(), Some("https://example.com/a?id=7"));
        assert_eq!(a.published.unwrap().to_rfc3339(), "2025-11-20T08:00:00+00:00");
        assert_eq!(a.lang.as_deref(), Some("en-us"));
        assert_eq!(a.tags, ["World"]);
        let b = &f.items[1];
        assert_eq!(b.key, "l:https://example.com/relative/path");
        let c = &f.items[2];
        assert!(c.key.starts_with("h:") && c.key.len() == 34, "{}", c.key);
    }

    #[test]
    fn relative_links_resolve_against_xml_base_or_the_feed() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/">
<entry><title>a</title><link href="posts/1"/></entry>
<entry xml:base="https://other.example/x/"><title>b</title><link href="2"/></entry></feed>"#;
        let f = parse(atom.as_bytes(), "https://example.com/feeds/atom.xml", None, None).unwrap();
        let links: Vec<_> = f.items.iter().map(|i| i.link.as_deref().unwrap()).collect();
        assert_eq!(links, ["https://example.com/blog/posts/1", "https://other.example/x/2"]);
        // Without xml:base, against the feed's own URL.
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom">
<entry><title>a</title><link href="posts/1"/></entry>
<entry><title>b</title><link href="https://abs.example/p"/></entry></feed>"#;
        let f = parse(atom.as_bytes(), "https://example.com/feeds/atom.xml", None, None).unwrap();
        let links: Vec<_> = f.items.iter().map(|i| i.link.as_deref().unwrap()).collect();
        assert_eq!(links, ["https://example.com/feeds/posts/1", "https://abs.example/p"]);
    }

    #[test]
    fn identity_is_deterministic() {
        let a = parse(RSS.as_bytes(), "https://example.com/feed.xml", None, None).unwrap();
        let b = parse(RSS.as_bytes(), "https://example.com/feed.xml", None, None).unwrap();
        let ka: Vec<&str> = a.items.iter().map(|i| i.key.as_str()).collect();
        let kb: Vec<&str> = b.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(ka, kb);
    }

    #[test]
    fn atom_and_json_feed() {
        let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>A</title><id>urn:a</id>
<entry><id>urn:e1</id><title type="html">Zelensky &lt;i&gt;in&lt;/i&gt; Geneva</title>
<link rel="alternate" href="https://ex.org/e1"/><updated>2025-11-23T09:00:00Z</updated>
<summary>Talks</summary></entry></feed>"#;
        let f = parse(atom.as_bytes(), "https://ex.org/atom", None, Some("en")).unwrap();
        assert_eq!(f.items[0].title, "Zelensky in Geneva");
        assert_eq!(f.items[0].key, "g:urn:e1");
        assert_eq!(f.items[0].lang.as_deref(), Some("en"));
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
{"id":"1","title":"Umerov in Abu Dhabi","url":"https://j.example/1","content_html":"<p>Talks</p>","date_published":"2025-11-25T10:00:00Z"}]}"#;
        let f = parse(json.as_bytes(), "https://j.example/feed.json", None, None).unwrap();
        assert_eq!(f.items[0].content, "Talks");
        assert_eq!(f.items[0].key, "g:1");
    }

    #[test]
    fn errors_are_classified() {
        let html = b"<!DOCTYPE html><html><body>Not here</body></html>";
        assert_eq!(parse(html, "https://x.test/", None, None).unwrap_err(), FeedError::Html);
        assert_eq!(
            parse(b"   \n", "https://x.test/", None, None).unwrap_err(),
            FeedError::Empty
        );
        assert_eq!(
            parse(b"<foo/>", "https://x.test/", None, None).unwrap_err(),
            FeedError::NotAFeed
        );
        assert!(matches!(
            parse(
                b"<rss version=\"2.0\"><channel><item><title>x</tit",
                "https://x.test/",
                None,
                None
            )
            .unwrap_err(),
            FeedError::Malformed(_) | FeedError::NotAFeed
        ));
    }

    #[test]
    fn declared_and_sniffed_encodings_decode() {
        let title = "Зеленський і мирний план";
        let make = |label: &str| {
            format!(
                "<?xml version=\"1.0\" encoding=\"{label}\"?><rss version=\"2.0\"><channel><title>t</title><item><title>{title}</title><guid>1</guid></item></channel></rss>"
            )
        };
        for label in ["windows-1251", "koi8-u", "iso-8859-5"] {
            let enc = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap();
            let doc = make(label);
            let (bytes, _, bad) = enc.encode(&doc);
            assert!(!bad, "{label} cannot encode the fixture");
            let f = parse(&bytes, "https://x.test/", None, None).unwrap();
            assert_eq!(f.items[0].title, title, "{label}");
        }
        // UTF-16 with a byte-order mark, both byte orders.
        let doc = make("utf-16");
        let mut le = vec![0xFF, 0xFE];
        le.extend(doc.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let mut be = vec![0xFE, 0xFF];
        be.extend(doc.encode_utf16().flat_map(|u| u.to_be_bytes()));
        for bytes in [le, be] {
            assert_eq!(
                parse(&bytes, "https://x.test/", None, None).unwrap().items[0].title,
                title
            );
        }
        // No declaration: the HTTP charset decides.
        let plain = make("x").replace(" encoding=\"x\"", "");
        let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&plain);
        let f = parse(&bytes, "https://x.test/", Some("text/xml; charset=windows-1251"), None).unwrap();
        assert_eq!(f.items[0].title, title);
        // Invalid UTF-8 is replaced, not fatal, and said.
        let mut bad = make("utf-8").into_bytes();
        let at = bad.windows(3).position(|w| w == b"<ti").unwrap() + 7;
        bad.insert(at, 0xFF);
        let f = parse(&bad, "https://x.test/", None, None).unwrap();
        assert_eq!(f.warnings.len(), 1);
        assert!(
            parse(make("utf-8").as_bytes(), "https://x.test/", None, None)
                .unwrap()
                .warnings
                .is_empty()
        );
        assert_eq!(
            parse(make("klingon-8").as_bytes(), "https://x.test/", None, None).unwrap_err(),
            FeedError::Encoding("unknown encoding 'klingon-8'".into())
        );
    }

    /// The direct reader of RSS dates agrees with chrono's RFC 2822 parser
    /// wherever it answers, and answers for every well-formed date.
    #[test]
    fn rss_dates_read_directly_agree_with_chrono() {
        use chrono::{Datelike, NaiveDate};
        let days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let mut rng = fastrand::Rng::with_seed(2822);
        let (mut direct, mut fallback) = (0, 0);
        for _ in 0..20_000 {
            let year = rng.i32(1000..2200);
            let month = rng.u32(1..=12);
            // Days past the month's end now and then, and weekdays that are
            // not the date's.
            let day = rng.u32(1..=31);
            let (hour, min, sec) = (rng.u32(0..=25), rng.u32(0..=61), rng.u32(0..=61));
            let zone = match rng.u8(0..5) {
                0 => "GMT".to_string(),
                1 => "UT".to_string(),
                _ => format!(
                    "{}{:02}{:02}",
                    if rng.bool() { '+' } else { '-' },
                    rng.u32(0..=25),
                    rng.u32(0..=61)
                ),
            };
            let valid = NaiveDate::from_ymd_opt(year, month, day);
            let weekday = match (valid, rng.u8(0..4)) {
                (_, 0) => String::new(),
                (Some(d), 1..=2) => format!("{}, ", days[d.weekday().num_days_from_monday() as usize]),
                _ => format!("{}, ", days[rng.usize(0..7)]),
            };
            let day_text = if day < 10 && rng.bool() {
                day.to_string()
            } else {
                format!("{day:02}")
            };
            let text = format!(
                "{weekday}{day_text} {} {year:04} {hour:02}:{min:02}:{sec:02} {zone}",
                months[month as usize - 1]
            );
            let chrono = DateTime::parse_from_rfc2822(&text).ok().map(|d| d.with_timezone(&Utc));
            match rss_date(&text) {
                Some(d) => {
                    direct += 1;
                    assert_eq!(Some(d), chrono, "{text}");
                }
                None => {
                    fallback += 1;
                    let well_formed = valid.is_some()
                        && hour < 24
                        && min < 60
                        && sec < 60
                        && zone != "UT"
                        && (zone == "GMT" || (zone[1..3] < *"24" && zone[3..] < *"60"));
                    let weekday_right = weekday.is_empty()
                        || valid
                            .is_some_and(|d| weekday.starts_with(days[d.weekday().num_days_from_monday() as usize]));
                    assert!(!(well_formed && weekday_right), "{text} was not read directly");
                }
            }
        }
        // Both paths ran, many times.
        assert!(
            direct > 2_000 && fallback > 2_000,
            "direct {direct}, fallback {fallback}"
        );
        // Not the common form: left to the general parsers.
        for odd in [
            "thu, 20 Nov 2025 08:00:00 GMT",
            "Thu,20 Nov 2025 08:00:00 GMT",
            "Thu, 20 Nov 25 08:00:00 GMT",
            "Thu, 20 Nov 2025 08:00 GMT",
            "Thu, 20 November 2025 08:00:00 GMT",
            "Thu, 20 Nov 2025 08:00:00 +02:00",
            "Thu, 20 Nov 2025 08:00:00 EST",
            "Thu, 20 Nov 2025 08:00:00 GMT (comment)",
            "2025-11-20T08:00:00Z",
        ] {
            assert_eq!(rss_date(odd), None, "{odd}");
        }
    }

    #[test]
    fn dates_standard_and_odd() {
        let utc = |s: &str| Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc));
        assert_eq!(
            parse_date("Thu, 20 Nov 2025 10:00:00 +0200"),
            utc("2025-11-20T08:00:00Z")
        );
        assert_eq!(parse_date(" 2025-11-20T08:00:00Z "), utc("2025-11-20T08:00:00Z"));
        assert_eq!(parse_date("Thu, 20 Nov 2025 08:00:00 GMT"), utc("2025-11-20T08:00:00Z"));
        // Odd forms go through feed-rs's lenient parser.
        assert_eq!(
            parse_date("Mon, 24 Nov 2025 10:00:00 +02:00"),
            utc("2025-11-24T08:00:00Z")
        );
        assert_eq!(
            parse_date("Mon, 24 November 2025 10:00:00 GMT"),
            utc("2025-11-24T10:00:00Z")
        );
        assert_eq!(parse_date("2025-11-24T10:00:00+0200"), utc("2025-11-24T08:00:00Z"));
        assert_eq!(parse_date("not a date"), None);
        assert_eq!(parse_date(""), None);
    }

    #[test]
    fn syndication_module_period() {
        let doc = |p: &str, f: &str| {
            format!(
                "<rss xmlns:sy=\"http://purl.org/rss/1.0/modules/syndication/\"><channel><sy:updatePeriod>{p}</sy:updatePeriod>{f}</channel></rss>"
            )
        };
        let h = |s: u64| Some(std::time::Duration::from_secs(s));
        assert_eq!(syndication_period(doc("hourly", "").as_bytes()), h(3600));
        assert_eq!(
            syndication_period(doc(" daily ", "<sy:updateFrequency>4</sy:updateFrequency>").as_bytes()),
            h(6 * 3600)
        );
        assert_eq!(syndication_period(doc("sometimes", "").as_bytes()), None);
        assert_eq!(syndication_period(b"<rss/>"), None);
    }

    #[test]
    fn html_is_stripped() {
        let cases = [
            ("a <b>bold</b> move", "a bold move"),
            ("x<br/>y", "x y"),
            ("<p>one</p><p>two</p>", "one two"),
            ("1 < 2 &amp; 3 > 2", "1 < 2 & 3 > 2"),
            ("<!-- hidden -->shown", "shown"),
            ("<style>p{}</style>text<SCRIPT>bad()</SCRIPT> end", "text end"),
            ("caf&eacute; &#x41;&#66;", "café AB"),
            ("unclosed <a href=", "unclosed"),
        ];
        for (input, want) in cases {
            assert_eq!(html_to_text(input), want, "{input:?}");
        }
    }

    #[test]
    fn whitespace_is_collapsed_whatever_its_kind() {
        let cases = [
            ("plain words here", "plain words here"),
            (" leading", "leading"),
            ("trailing ", "trailing"),
            ("two  spaces", "two spaces"),
            ("tab\there", "tab here"),
            ("line\nfeed\r\nend", "line feed end"),
            ("vertical\u{b}tab", "vertical tab"),
            ("no\u{a0}break", "no break"),
            ("em\u{2003}space and \u{2014} dash", "em space and \u{2014} dash"),
            ("ideographic\u{3000}space", "ideographic space"),
            ("Переговоры в Женеве", "Переговоры в Женеве"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(html_to_text(input), want, "{input:?}");
            assert_eq!(owned_text(input.to_string()), want, "{input:?}");
        }
    }

    #[test]
    fn plain_text_check_knows_every_space() {
        // Every character up to U+3100 (all of Unicode's whitespace lies
        // below), between two letters and at either end.
        for c in (0..0x3100u32).filter_map(char::from_u32) {
            let want = c == ' ' || !c.is_whitespace();
            assert_eq!(is_plain(&format!("a{c}b"), false), want, "U+{:04X}", c as u32);
            if c != ' ' {
                assert_eq!(is_plain(&format!("{c}b"), false), want, "U+{:04X}", c as u32);
                assert_eq!(is_plain(&format!("a{c}"), false), want, "U+{:04X}", c as u32);
            }
            let markup = want && c != '<' && c != '&';
            assert_eq!(is_plain(&format!("a{c}b"), true), markup, "U+{:04X}", c as u32);
        }
        assert!(!is_plain("a  b", false));
        assert!(!is_plain(" a", false));
        assert!(is_plain("", true));
        // Anywhere in a long text too, where the scans go a vector at a time.
        let long = "word ".repeat(40).trim_end().to_string();
        assert!(is_plain(&long, true));
        for (p, _) in long.match_indices(' ') {
            for (odd, plain_without_markup) in [("\n", false), ("  ", false), ("\u{a0}", false), ("&", true)] {
                let mut t = long.clone();
                t.replace_range(p..p + 1, odd);
                assert!(!is_plain(&t, true), "{odd:?} at {p}");
                assert_eq!(is_plain(&t, false), plain_without_markup, "{odd:?} at {p}");
            }
        }
    }

    #[test]
    fn canonical_links_and_story_keys() {
        assert_eq!(
            canonical_url("https://WWW.Example.com/x/?utm_campaign=a&fbclid=b#c", None).as_deref(),
            Some("https://www.example.com/x/")
        );
        assert_eq!(canonical_url("mailto:a@b.c", None), None);
        let mk = |title: &str, link: Option<&str>| Item {
            key: "g:1".into(),
            title: title.into(),
            summary: String::new(),
            content: String::new(),
            link: link.map(str::to_string),
            published: None,
            lang: None,
            tags: vec![],
            authors: vec![],
        };
        let a = mk(
            "US and Ukraine hold talks in Geneva on peace plan - Reuters",
            Some("https://www.reuters.com/x/"),
        );
        let b = mk(
            "US and Ukraine hold talks in Geneva on peace plan",
            Some("https://reuters.com/x"),
        );
        assert_eq!(a.story_keys(), b.story_keys());
        assert_eq!(mk("Live updates", None).story_keys(), ["i:g:1"]);
    }

    /// The shortcut for links already canonical gives what parsing gives.
    #[test]
    fn canonical_links_skip_the_parse_and_agree_with_it() {
        fn parsed(link: &str) -> Option<String> {
            let mut u = Url::parse(link.trim()).ok()?;
            if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
                return None;
            }
            u.set_fragment(None);
            Some(u.to_string())
        }
        for link in [
            "https://news.example/world/2025/11/28/peace-plan",
            "http://a-b.example.org/x_y~z/(1)/a,b;c=d:e@f!$&'*+/",
            "https://example.com/",
            "https://example.com//double//slashes/",
        ] {
            assert!(is_canonical_http_url(link), "{link}");
            assert_eq!(parsed(link).as_deref(), Some(link));
        }
        for link in [
            "https://Example.com/",
            "https://example.com",
            "https://example.com:443/",
            "https://1.2.3.4/",
            "https://0x7f.1/",
            "https://xn--e1afmkfd.xn--p1ai/",
            "https://example.com/a/../b",
            "https://example.com/a/./b",
            "https://example.com/%2e%2e/b",
            "https://example.com/a b",
            "https://example.com/a\\b",
            "https://example.com/a?b=c",
            "https://example.com/a#b",
            "https://user@example.com/",
            "https://-example.com/",
            "https://example..com/",
            "ftp://example.com/",
        ] {
            assert!(!is_canonical_http_url(link), "{link}");
        }
        // Random links: whenever the shortcut applies, parsing agrees.
        let labels = [
            "a", "news", "x-y", "0", "9a", "xn--p1ai", "A", "-a", "", "é", "1", "b_c",
        ];
        let pieces = [
            "a", "Z", "0", ".", "-", "_", "/", "//", "..", "%2e", "%41", ":", "@", "?", "#", "\\", " ", "~", "é", "!",
            "'", "(", ")", "*", "+", ",", ";", "=", "$", "&", "\t", "<", "|", "^",
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        let mut shortcut = 0;
        for _ in 0..20_000 {
            let mut link = ["http://", "https://"][rng.usize(..2)].to_string();
            let host: Vec<&str> = (0..rng.usize(1..4))
                .map(|_| labels[rng.usize(..labels.len())])
                .collect();
            link.push_str(&host.join("."));
            if rng.usize(..8) == 0 {
                link.push_str(":8080");
            }
            if rng.usize(..8) != 0 {
                link.push('/');
            }
            for _ in 0..rng.usize(0..6) {
                link.push_str(pieces[rng.usize(..pieces.len())]);
            }
            if is_canonical_http_url(&link) {
                shortcut += 1;
                assert_eq!(parsed(&link).as_deref(), Some(link.as_str()), "{link:?}");
            }
        }
        assert!(shortcut > 500, "the random links rarely took the shortcut ({shortcut})");
    }
}
