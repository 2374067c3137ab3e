//! The config that ships in the repository is valid, and covers the story in
//! the languages it must.

use std::collections::HashSet;
use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn shipped_config_is_valid_and_multilingual() {
    let cfg = newshound::config::load(&root().join("config/newshound.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(cfg.feeds.len() >= 20, "{} feeds", cfg.feeds.len());
    let langs: HashSet<&str> = cfg.feeds.iter().filter_map(|f| f.lang.as_deref()).collect();
    for l in ["en", "uk", "ru"] {
        assert!(langs.contains(l), "no {l} feed");
    }
    assert!(
        cfg.feeds.iter().any(|f| f.tags.iter().any(|t| t == "search")),
        "no news-search feed"
    );
    assert!(
        cfg.feeds.iter().any(|f| f.tags.iter().any(|t| t == "wire")),
        "no wire service"
    );
    assert!(cfg.watchlists.iter().any(|w| w.name == "ukraine-peace-plan"));
    assert!(cfg.database.ends_with("var/newshound.db"));
}

#[test]
fn service_config_is_valid_in_etc_layout() {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["watchlists", "aliases"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for e in std::fs::read_dir(root().join("config").join(sub)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, dir.path().join(sub).join(p.file_name().unwrap())).unwrap();
        }
    }
    std::fs::copy(root().join("config/feeds.toml"), dir.path().join("feeds.toml")).unwrap();
    std::fs::copy(root().join("systemd/newshound.toml"), dir.path().join("newshound.toml")).unwrap();
    let cfg = newshound::config::load(&dir.path().join("newshound.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cfg.database, Path::new("/var/lib/newshound/newshound.db"));
    let unit = std::fs::read_to_string(root().join("systemd/newshound.service")).unwrap();
    assert!(unit.contains("Type=notify") && unit.contains("StateDirectory=newshound"));
}
