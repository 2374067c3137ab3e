//! Watchlist text -> compile -> matcher: no input may panic or hang; a
//! rejected watchlist names where its problems are; a compiled one builds a
//! matcher that can match an item.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use newshound::rules::{Aliases, DocFields, Matcher, query};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The bytes as one query, then as a whole watchlist file.
    let _ = query::parse(text, &Aliases::new());
    match newshound::config::watchlist_from_text(Path::new("fuzz.toml"), text) {
        Ok(wl) => {
            let m = Matcher::new(vec![wl]);
            let fields = DocFields {
                title: "Witkoff and Umerov discuss the 28-point peace plan in Geneva",
                summary: "Зеленський: мирний план; Переговоры в Женеве",
                ..Default::default()
            };
            let _ = m.match_fields(fields);
        }
        Err(errors) => {
            assert!(!errors.0.is_empty());
            for d in &errors.0 {
                assert!(d.line >= 1 && d.col >= 1, "{d}");
                let _ = d.to_string();
            }
        }
    }
});
