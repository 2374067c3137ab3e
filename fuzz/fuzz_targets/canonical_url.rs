//! URL -> canonical URL: canonical links are canonical (idempotent), with
//! and without a base to resolve against.
#![no_main]

use libfuzzer_sys::fuzz_target;
use newshound::feed::canonical_url;

fuzz_target!(|data: &[u8]| {
    let Ok(link) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://www.example.com/news/feed.xml").ok();
    for b in [None, base.as_ref()] {
        if let Some(c) = canonical_url(link, b) {
            assert_eq!(canonical_url(&c, None).as_deref(), Some(c.as_str()), "from {link:?}");
            assert_eq!(canonical_url(&c, b).as_deref(), Some(c.as_str()), "from {link:?} with a base");
        }
    }
});
