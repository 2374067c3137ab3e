//! The feed list: feeds to poll, validated from `[[feed]]` tables, each
//! feed once (a URL's identity ignores its fragment).

use std::collections::HashMap;
use std::time::Duration;

use super::diagnostics::{Diagnostic, Source};
use super::raw::RawFeedList;
use super::values::parse_duration;

/// A feed to poll.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSpec {
    pub url: String,
    pub name: String,
    pub lang: Option<String>,
    pub interval: Option<Duration>,
    pub tags: Vec<String>,
}

/// The feeds of a TOML feed list (`[[feed]]` tables); a feed listed twice
/// is an error naming both lines.
pub(super) fn toml_feed_list(src: &Source, diags: &mut Vec<Diagnostic>) -> Vec<FeedSpec> {
    let Some(raw) = src.parse::<RawFeedList>(diags) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for f in raw.feed {
        let url = f.url.get_ref().trim();
        match url::Url::parse(url) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                let key = feed_identity(u.clone());
                if let Some(&first) = seen.get(&key) {
                    let line = src.line_of(first);
                    diags.push(src.diag_span(&f.url, format!("duplicate feed url (first listed on line {line})")));
                    continue;
                }
                seen.insert(key.clone(), f.url.span().start);
                let interval = match &f.interval {
                    None => None,
                    Some(s) => match parse_duration(s.get_ref()) {
                        Ok(d) if !d.is_zero() => Some(d),
                        Ok(_) => {
                            diags.push(src.diag_span(s, "interval must be greater than zero"));
                            None
                        }
                        Err(m) => {
                            diags.push(src.diag_span(s, m));
                            None
                        }
                    },
                };
                let lang = match &f.lang {
                    Some(l) if !valid_lang(l.get_ref()) => {
                        diags.push(src.diag_span(
                            l,
                            format!("'{}' is not a language tag like \"en\" or \"uk\"", l.get_ref()),
                        ));
                        None
                    }
                    Some(l) => Some(l.get_ref().to_ascii_lowercase()),
                    None => None,
                };
                let name = f
                    .name
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| u.host_str().unwrap_or(url).to_string());
                out.push(FeedSpec {
                    url: key,
                    name,
                    lang,
                    interval,
                    tags: f.tags,
                });
            }
            Ok(_) => diags.push(src.diag_span(&f.url, "feed url must be http:// or https://")),
            Err(e) => diags.push(src.diag_span(&f.url, format!("invalid feed url: {e}"))),
        }
    }
    out
}

/// A feed URL as the feed's identity: the fragment names a place in the
/// document, not another document, so it is dropped.
pub(super) fn feed_identity(mut u: url::Url) -> String {
    u.set_fragment(None);
    u.to_string()
}

pub(super) fn valid_lang(s: &str) -> bool {
    let mut parts = s.split(['-', '_']);
    parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphabetic()))
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages() {
        for ok in ["en", "uk", "en-US", "zh-Hant", "ru"] {
            assert!(valid_lang(ok), "{ok}");
        }
        for bad in ["", "english", "e", "en-", "1a"] {
            assert!(!valid_lang(bad), "{bad}");
        }
    }

    #[test]
    fn a_fragment_is_not_part_of_a_feed_identity() {
        let u = |s: &str| feed_identity(url::Url::parse(s).unwrap());
        assert_eq!(
            u("https://site.example/feed.rss#top"),
            u("https://site.example/feed.rss")
        );
        assert_ne!(
            u("https://site.example/feed.rss?a=1"),
            u("https://site.example/feed.rss")
        );
    }
}
