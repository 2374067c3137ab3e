//! Feed bytes -> parse + normalize: no input may panic, hang or grow
//! without bound; every entry normalizes and has story keys.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let url = "https://feeds.example/news/feed.xml";
    if let Ok(doc) = newshound::feed::parse_document(data, url, None, None) {
        assert!(doc.entries.len() <= newshound::feed::MAX_ITEMS);
        for e in doc.entries {
            assert!(!e.key.is_empty());
            let item = e.normalize();
            assert!(!item.story_keys().is_empty());
        }
    }
    // The same bytes as a Cyrillic document announced by the server.
    let _ = newshound::feed::parse(data, url, Some("text/xml; charset=windows-1251"), Some("uk"));
});
