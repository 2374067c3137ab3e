//! Parsing: RSS 0.9x/1.0/2.0, Atom and JSON Feed through feed-rs, into
//! entries whose identity is known before their text is normalized, so
//! that entries already stored cost no normalization.

use chrono::{DateTime, Utc};
use url::Url;

use super::dates::parse_date;
use super::decode::{charset_of, looks_like_html, to_utf8};
use super::error::FeedError;
use super::html::{html_to_text, owned_text};
use super::identity::{bounded_key, canonical_url, hex_digest};
use super::item::Item;

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
    /// Its link's identity when that names this entry alone among the
    /// document's entries (set by [`assign_link_keys`]).
    pub link_key: Option<String>,
    /// A digest of the title as the feed wrote it: a stored item whose
    /// digest differs was edited. Cheap: the title is not cleaned first.
    pub title_digest: i64,
    /// Published, or else updated.
    pub published: Option<DateTime<Utc>>,
    entry: feed_rs::model::Entry,
    link: Option<String>,
    lang: Option<String>,
}

/// Gives each entry its link identity as `link_key`, unless another entry
/// of the same document has the same (a feed whose items all link to one
/// page: the link does not identify them).
pub fn assign_link_keys(entries: &mut [RawEntry]) {
    let ids: Vec<Option<String>> = entries.iter().map(RawEntry::link_identity).collect();
    let mut count: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for id in ids.iter().flatten() {
        *count.entry(id.as_str()).or_default() += 1;
    }
    let unique: Vec<bool> = ids
        .iter()
        .map(|id| id.as_deref().is_some_and(|i| count.get(i) == Some(&1)))
        .collect();
    for ((e, id), one) in entries.iter_mut().zip(ids.clone()).zip(unique) {
        e.link_key = if one { id } else { None };
    }
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
        let title = e.title.as_ref().map(|t| t.content.as_str()).unwrap_or("");
        let hex = hex_digest(&[title.trim().as_bytes()]);
        let title_digest = i64::from_str_radix(&hex[..15], 16).unwrap_or(0);
        RawEntry {
            key,
            link_key: None,
            title_digest,
            published: e.published.or(e.updated),
            lang: e.language.as_deref().map(normalize_lang).or(lang.map(str::to_string)),
            entry: e,
            link,
        }
    }

    /// Its link's identity ([`identity_url`](super::identity::identity_url)),
    /// when it has a link that names a page deeper than a site's root.
    pub fn link_identity(&self) -> Option<String> {
        self.link
            .as_deref()
            .and_then(super::identity::identity_url)
            .filter(|id| id.split_once('/').is_some_and(|(_, path)| !path.is_empty()))
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
    // A parser that panicked keeps broken state: each attempt builds one.
    let parser = || {
        feed_rs::parser::Builder::new()
            .base_uri(xml_base.then_some(feed_url))
            .id_generator(|_, _, _| NO_ID.to_string())
            .timestamp_parser(parse_date)
            .build()
    };
    let body = without_late_declarations(body);
    let body = body.as_ref();
    // feed-rs and quick-xml are third-party parsers fed untrusted bytes: a
    // panic of theirs (fuzzing found one) is this document's failure, not
    // the process's.
    let attempt = |bytes: &[u8]| std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser().parse(bytes))).ok();
    let failed = || FeedError::Malformed("the XML parser failed on this document".into());
    let parsed = match attempt(body) {
        Some(parsed) => parsed,
        // feed-rs slices an RSS contact line (`<author>x@y.org（名）</author>`)
        // inside a character when a multibyte one touches the address
        // (fuzzing found it): the document is read again without its
        // contact lines rather than lost.
        None => attempt(&without_rss_contacts(body)).ok_or_else(failed)?,
    };
    let feed = parsed.map_err(|e| classify(e, body))?;
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

/// The document with its XML declarations made harmless to quick-xml,
/// which panics when a declaration names an encoding once it has read past
/// the document's first bytes (fuzzing found two ways: a declaration after
/// the start, and one whose unclosed quote runs on into the document).
/// The document is UTF-8 by now (`to_utf8`), so no declaration needs to
/// name an encoding: one at the start is rewritten without it, and any
/// later one, an error of the feed anyway, becomes an ordinary processing
/// instruction.
fn without_late_declarations(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
    let is_decl = |at: usize| body.get(at + 5).is_some_and(|b| b.is_ascii_whitespace());
    let finder = memchr::memmem::Finder::new(b"<?xml");
    // The first declaration, when it starts the document and names an
    // encoding: its end is the first `?>`, as quick-xml reads it.
    let first = (body[start..].starts_with(b"<?xml") && is_decl(start))
        .then(|| memchr::memmem::find(&body[start..], b"?>").map(|e| start + e + 2))
        .flatten()
        .filter(|&end| memchr::memmem::find(&body[start..end], b"encoding").is_some());
    let late = |at: usize| at > start && is_decl(at) && first.is_none_or(|end| at >= end);
    if first.is_none() && !finder.find_iter(body).any(late) {
        return std::borrow::Cow::Borrowed(body);
    }
    let mut out = Vec::with_capacity(body.len());
    let rest_from = match first {
        Some(end) => {
            out.extend_from_slice(&body[..start]);
            out.extend_from_slice(b"<?xml version=\"1.0\"?>");
            end
        }
        None => 0,
    };
    let tail_at = out.len();
    out.extend_from_slice(&body[rest_from..]);
    let lates: Vec<usize> = finder.find_iter(body).filter(|&at| late(at)).collect();
    for at in lates {
        // `<?xml ` becomes `<?xm_ `: a processing instruction of another name.
        out[tail_at + at - rest_from + 4] = b'_';
    }
    std::borrow::Cow::Owned(out)
}

/// The document with its RSS contact elements (`author`, `managingEditor`,
/// `webMaster`) renamed to `x-…` so that feed-rs skips them.
fn without_rss_contacts(body: &[u8]) -> Vec<u8> {
    const NAMES: [&[u8]; 3] = [b"author", b"managingEditor", b"webMaster"];
    let mut out = Vec::with_capacity(body.len() + 64);
    let mut i = 0;
    while let Some(off) = memchr::memchr(b'<', &body[i..]) {
        let at = i + off;
        out.extend_from_slice(&body[i..=at]);
        i = at + 1;
        let slash = usize::from(body.get(i) == Some(&b'/'));
        let name_at = i + slash;
        let renamed = NAMES.iter().find(|n| {
            body[name_at..].starts_with(n)
                && body
                    .get(name_at + n.len())
                    .is_some_and(|b| matches!(b, b'>' | b'/') || b.is_ascii_whitespace())
        });
        if let Some(name) = renamed {
            out.extend_from_slice(&body[i..name_at]);
            out.extend_from_slice(b"x-");
            out.extend_from_slice(name);
            i = name_at + name.len();
        }
    }
    out.extend_from_slice(&body[i..]);
    out
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

    /// Found by fuzzing: an XML declaration naming an encoding after the
    /// document's start made quick-xml panic inside feed-rs.
    #[test]
    fn a_late_xml_declaration_is_no_panic() {
        let doc = "<!-- c -->\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>T</title>\n<updated>2003<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<haha/>";
        let r = std::panic::catch_unwind(|| parse(doc.as_bytes(), "https://x.test/", None, None));
        assert!(r.is_ok(), "the parser panicked");
        // A declaration whose quote runs on to a later `encoding`.
        let runaway = "<?xml version='1.0ersion=\"2.0\">\n<channel><title>T</title></channel>\n</rss' encoding='iso-8859-1'?>\n<rss version=\"2.0\"><channel><item><title>x</title></item></channel></rss>";
        let r = std::panic::catch_unwind(|| parse(runaway.as_bytes(), "https://x.test/", None, None));
        assert!(r.is_ok(), "the parser panicked on a runaway declaration");
        // What quick-xml is given names no encoding at all (parse catches
        // a parser's panic, so look at what it is fed).
        for doc in [runaway, doc] {
            let fed = without_late_declarations(doc.as_bytes());
            let fed = String::from_utf8_lossy(&fed);
            assert!(!fed.contains("<?xml version='1.0ersion"), "{fed}");
            let decls = fed.matches("<?xml ").count();
            assert!(decls <= 1 && !fed.contains("encoding='iso"), "{fed}");
        }
        let plain = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss/>";
        assert_eq!(
            &*without_late_declarations(plain.as_bytes()),
            b"<?xml version=\"1.0\"?><rss/>"
        );
        let ok = "<?xml version=\"1.0\"?><?xml-stylesheet href=\"s.css\"?><rss version=\"2.0\"><channel><item><title>a</title></item></channel></rss>";
        assert_eq!(
            parse(ok.as_bytes(), "https://x.test/", None, None).unwrap().items.len(),
            1
        );
    }

    /// Found by fuzzing: feed-rs panics on an RSS author whose address
    /// touches a multibyte character; the items are kept all the same.
    #[test]
    fn an_author_next_to_a_wide_character_loses_nothing() {
        let doc = "<rss version=\"2.0\"><channel><title>T</title><managingEditor>ed@x.test</managingEditor>\
<item><title>Witkoff in Moscow</title><author>ed@x.test（編集）</author><link>https://x.test/1</link></item>\
<item><title>Umerov in Miami</title><link>https://x.test/2</link></item></channel></rss>";
        let f = parse(doc.as_bytes(), "https://x.test/", None, None).unwrap();
        let titles: Vec<&str> = f.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["Witkoff in Moscow", "Umerov in Miami"]);
        let renamed = without_rss_contacts(b"<author>a</author><authority/><webMaster x=\"1\">w</webMaster>");
        assert_eq!(
            String::from_utf8(renamed).unwrap(),
            "<x-author>a</x-author><authority/><x-webMaster x=\"1\">w</x-webMaster>"
        );
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
}
