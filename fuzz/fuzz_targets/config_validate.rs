//! Config text -> validate: the main file, the feed list and a watchlist
//! (the input split at 0xFF bytes) written to a folder and loaded as
//! `check` and start-up load them. No input may panic or hang; every
//! problem names a line and a column.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn folder() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(d.path().join("watchlists")).expect("watchlists folder");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(3, |b| *b == 0xff);
    let main = parts.next().unwrap_or_default();
    let feeds = parts.next().unwrap_or(b"[[feed]]\nurl = \"https://a.example/rss\"\n");
    let watchlist = parts.next().unwrap_or(b"[[rule]]\nid = \"r\"\nquery = \"peace\"\n");
    let dir = folder().path();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).expect("write");
    write("newshound.toml", main);
    write("feeds.toml", feeds);
    write("watchlists/w.toml", watchlist);
    if let Err(errors) = newshound::config::load(&dir.join("newshound.toml")) {
        assert!(!errors.0.is_empty());
        for d in &errors.0 {
            assert!(d.line >= 1 && d.col >= 1, "{d}");
            let _ = d.to_string();
        }
    }
});
