//! Identity: an entry's key within its feed, canonical links (tracking
//! parameters and fragments dropped), and the keys of a story across
//! feeds (its link, its normalized title).

use sha2::{Digest, Sha256};
use url::Url;

use crate::text;

pub(super) fn bounded_key(prefix: &str, v: &str) -> String {
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

pub(super) fn hex_digest(parts: &[&[u8]]) -> String {
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

/// A link's story key; none for a site's root page, which many feeds give
/// every item (it would make all of them one story).
pub(super) fn link_story_key(link: &str) -> Option<String> {
    identity_url(link).filter(|u| u.contains('/')).map(|u| format!("u:{u}"))
}

/// Query parameters that only ask for the AMP rendering of a page.
fn is_amp_param(name: &str, value: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let value = value.to_ascii_lowercase();
    matches!(name.as_str(), "amp" | "_amp" | "usqp") || (name == "outputtype" && value == "amp")
}

/// The form of a link that names one article, whatever door it came
/// through: no scheme (http and https alike), no `www.` or `amp.` host
/// prefix, no AMP path suffix (`/amp`, `.amp`) or AMP query parameter, no
/// trailing slash, tracking parameters and fragment dropped. Idempotent:
/// `identity_url("https://" + identity_url(x))` is `identity_url(x)`.
pub fn identity_url(link: &str) -> Option<String> {
    // Cutting a suffix can leave a path that parses to another one
    // ("/..amp" -> "/." -> "/"): fold until nothing changes.
    let mut id = fold_once(link)?;
    for _ in 0..4 {
        match fold_once(&format!("https://{id}")) {
            Some(next) if next != id => id = next,
            _ => break,
        }
    }
    Some(id)
}

fn fold_once(link: &str) -> Option<String> {
    let u = Url::parse(&canonical_url(link, None)?).ok()?;
    let mut host = u.host_str()?;
    loop {
        match host.strip_prefix("www.").or_else(|| host.strip_prefix("amp.")) {
            Some(rest) if rest.contains('.') => host = rest,
            _ => break,
        }
    }
    let mut path = u.path();
    loop {
        let trimmed = path
            .trim_end_matches('/')
            .strip_suffix("/amp")
            .or_else(|| path.trim_end_matches('/').strip_suffix(".amp"));
        match trimmed {
            Some(p) => path = p,
            None => break,
        }
    }
    let path = path.trim_end_matches('/');
    let kept: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, v)| !is_amp_param(k, v))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
    if kept.is_empty() {
        return Some(format!("{host}{port}{path}"));
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(kept)
        .finish();
    Some(format!("{host}{port}{path}?{query}"))
}

/// Fewest words a title needs to identify a story on its own.
const TITLE_KEY_MIN_WORDS: usize = 5;

pub(super) fn title_story_key(title: &str) -> Option<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::Item;
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
        // A site's root page names no story.
        assert_eq!(mk("Live updates", Some("https://meduza.io/")).story_keys(), ["i:g:1"]);
    }

    #[test]
    fn amp_www_and_scheme_are_one_identity() {
        let id = |l: &str| identity_url(l).unwrap();
        let plain = id("https://www.example.com/world/peace-plan-talks");
        assert_eq!(plain, "example.com/world/peace-plan-talks");
        for l in [
            "http://example.com/world/peace-plan-talks/",
            "https://amp.example.com/world/peace-plan-talks",
            "https://www.example.com/world/peace-plan-talks/amp",
            "https://www.example.com/world/peace-plan-talks/amp/",
            "https://example.com/world/peace-plan-talks.amp",
            "https://example.com/world/peace-plan-talks?outputType=amp",
            "https://example.com/world/peace-plan-talks?amp=1&utm_source=x",
            "https://example.com/world/peace-plan-talks#comments",
        ] {
            assert_eq!(id(l), plain, "{l}");
        }
        // Another article, or a query that names one, stays apart.
        assert_ne!(id("https://example.com/world/peace-plan-talks-2"), plain);
        assert_ne!(
            id("https://example.com/article?id=7"),
            id("https://example.com/article?id=8")
        );
        // A host that is only "www." and a name is left as it is.
        assert_eq!(id("https://amp.com/x"), "amp.com/x");
    }

    proptest::proptest! {
        /// Folding a link twice gives what folding it once gives.
        #[test]
        fn identity_urls_are_idempotent(
            scheme in "https?",
            prefix in "(www\\.|amp\\.|www\\.amp\\.)?",
            host in "[a-z]{1,8}\\.(com|org|ua)",
            segs in proptest::collection::vec("[a-zA-Z0-9._~%-]{0,8}", 0..4),
            tail in "(/amp|\\.amp|/|)",
            query in proptest::collection::vec(("[a-zA-Z_]{1,6}", "[a-zA-Z0-9%+=]{0,5}"), 0..3),
        ) {
            let mut link = format!("{scheme}://{prefix}{host}/{}{tail}", segs.join("/"));
            if !query.is_empty() {
                let q: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
                link = format!("{link}?{}", q.join("&"));
            }
            if let Some(once) = identity_url(&link) {
                let twice = identity_url(&format!("https://{once}"));
                proptest::prop_assert_eq!(twice.as_deref(), Some(once.as_str()), "{}", link);
            }
        }
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
