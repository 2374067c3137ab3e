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

#[test]
fn an_opml_feed_list_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("watchlists")).unwrap();
    std::fs::write(
        dir.path().join("watchlists/w.toml"),
        "[[rule]]\nid = \"a\"\nquery = \"peace\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("feeds.opml"),
        r#"<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>
<outline text="Wires"><outline text="Ukrinform" type="rss" xmlUrl="https://www.ukrinform.net/rss/block-lastnews"/></outline>
<outline text="Meduza" type="rss" xmlUrl="https://meduza.io/rss/all" language="ru"/>
</body></opml>"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("n.toml"),
        "database = \"n.db\"\nalert_log = \"a.jsonl\"\nfeeds = \"feeds.opml\"\nwatchlists = \"watchlists\"\n",
    )
    .unwrap();
    let cfg = newshound::config::load(&dir.path().join("n.toml")).unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<(&str, &str, Vec<String>)> = cfg
        .feeds
        .iter()
        .map(|f| (f.name.as_str(), f.url.as_str(), f.tags.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (
                "Ukrinform",
                "https://www.ukrinform.net/rss/block-lastnews",
                vec!["Wires".to_string()]
            ),
            ("Meduza", "https://meduza.io/rss/all", vec![]),
        ]
    );
    assert_eq!(cfg.feeds[1].lang.as_deref(), Some("ru"));
}

#[test]
fn duplicate_feeds_and_rule_ids_name_the_first_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("watchlists")).unwrap();
    std::fs::write(
        dir.path().join("watchlists/w.toml"),
        "[[rule]]\nid = \"a\"\nquery = \"x\"\n[[rule]]\nid = \"a\"\nquery = \"y\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("feeds.toml"),
        "[[feed]]\nurl = \"https://a.example/rss\"\n\n[[feed]]\nurl = \"https://a.example/rss\"\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("n.toml"),
        "database = \"n.db\"\nalert_log = \"a.jsonl\"\nfeeds = \"feeds.toml\"\nwatchlists = \"watchlists\"\n",
    )
    .unwrap();
    let errors = newshound::config::load(&dir.path().join("n.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        errors.contains("feeds.toml:5:7: duplicate feed url (first listed on line 2)"),
        "{errors}"
    );
    assert!(
        errors.contains("w.toml:5:6: rule id 'a' is already used on line 2"),
        "{errors}"
    );
}
