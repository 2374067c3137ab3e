//! A damaged or unreachable database, as a hostile user would leave it: a
//! page of the items table overwritten, the file cut to half, its header
//! zeroed, a folder that takes no files, a folder that is a file. Each
//! stops newshound with its real cause; none is used without a word.

mod common;

use std::io::{Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::*;

/// A config whose database holds 400 items (several pages of the items
/// table), closed cleanly.
fn filled() -> (TestConfig, FixtureServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let titles: Vec<String> = (0..400)
        .map(|i| format!("Ukraine peace plan: round {i} of the talks, with a longer headline than most"))
        .collect();
    let guids: Vec<String> = (0..400).map(|i| format!("g{i}")).collect();
    let items: Vec<(&str, &str)> = titles
        .iter()
        .map(String::as_str)
        .zip(guids.iter().map(String::as_str))
        .collect();
    write_feed(dir.path(), "f.xml", &items);
    let server = FixtureServer::start_in(dir.path().to_path_buf());
    let cfg = TestConfig::new(&[server.url("/feed/f.xml")], "");
    let out = run(&["once", "--config", cfg.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    (cfg, server, dir)
}

fn once(cfg: &TestConfig) -> std::process::Output {
    run(&["once", "--all", "--config", cfg.path().to_str().unwrap()])
}

/// Overwrites page `page` (from 1) of the file with `bytes`.
fn write_page(db: &Path, page: u64, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
    f.seek(SeekFrom::Start((page - 1) * page_size(db))).unwrap();
    f.write_all(bytes).unwrap();
}

fn page_size(db: &Path) -> u64 {
    let head = std::fs::read(db).unwrap();
    match u16::from_be_bytes([head[16], head[17]]) {
        1 => 65536,
        n => u64::from(n),
    }
}

#[test]
fn an_overwritten_page_of_items_is_refused_by_once_and_run() {
    let (cfg, _server, _dir) = filled();
    let db = cfg.db();
    let root: i64 = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("SELECT rootpage FROM sqlite_master WHERE name = 'items'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let root = root as u64;
    let size = page_size(&db) as usize;
    // The items table's root page, overwritten with the bytes of a page of
    // another b-tree: a plausible page with the wrong rows.
    let other = std::fs::read(&db).unwrap()[size..2 * size].to_vec();
    write_page(&db, root, &other);

    let out = once(&cfg);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("is damaged") && err.contains(".recover"), "{err}");
    assert!(!err.contains("FTS5"), "{err}");

    // The daemon starts (the check runs after READY) and stops on its own.
    let started = Instant::now();
    let mut child = bin()
        .args(["run", "--config", cfg.path().to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the daemon kept running on a damaged database"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(
        err.contains("is damaged") && err.contains("database check failed"),
        "{err}"
    );
}

#[test]
fn a_file_cut_to_half_is_named_damaged() {
    let (cfg, _server, _dir) = filled();
    let db = cfg.db();
    let len = std::fs::metadata(&db).unwrap().len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&db)
        .unwrap()
        .set_len(len / 2)
        .unwrap();
    let out = once(&cfg);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("is damaged"), "{err}");
    assert!(!err.contains("FTS5"), "{err}");
}

#[test]
fn a_zeroed_header_is_named_not_a_database() {
    let (cfg, _server, _dir) = filled();
    let db = cfg.db();
    write_page(&db, 1, &[0u8; 100]);
    for args in [&["once"][..], &["search", "peace"], &["alerts"]] {
        let mut a = args.to_vec();
        let path = cfg.path();
        a.extend(["--config", path.to_str().unwrap()]);
        let out = run(&a);
        let err = stderr(&out);
        assert_ne!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.contains("is not a newshound database"), "{args:?}: {err}");
        assert!(!err.contains("FTS5"), "{args:?}: {err}");
    }
}

#[test]
fn a_folder_that_is_a_file_is_named() {
    let cfg = TestConfig::new(&[], "");
    std::fs::write(cfg.dir.path().join("data"), "not a folder").unwrap();
    let out = once(&cfg);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("cannot create database folder"), "{err}");
    assert!(!err.contains("FTS5"), "{err}");
}

/// A folder that takes no new files: SQLite cannot make its -wal file.
/// Run as an unprivileged user (root writes anywhere).
#[test]
fn a_read_only_folder_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let (cfg, _server, _dir) = filled();
    let data = cfg.db().parent().unwrap().to_path_buf();
    let set = |p: &Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    set(cfg.dir.path(), 0o755);
    for e in std::fs::read_dir(&data).unwrap() {
        set(&e.unwrap().path(), 0o644);
    }
    set(&data, 0o555);
    let mut cmd = bin();
    cmd.args(["once", "--config", cfg.path().to_str().unwrap()]);
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    let out = cmd.output().unwrap();
    set(&data, 0o755);
    let err = stderr(&out);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("cannot be written"), "{err}");
    assert!(
        err.contains("Permission denied") || err.contains("permission denied"),
        "{err}"
    );
    assert!(!err.contains("FTS5"), "{err}");
}

/// `backup` copies the database while the daemon writes to it; the copy
/// is whole, and put back in place of the database it serves as before.
#[test]
fn backup_while_running_and_restore() {
    let (cfg, _server, dir) = filled();
    let mut daemon = bin()
        .args(["run", "--config", cfg.path().to_str().unwrap()])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let copy = dir.path().join("copy.db");
    let out = run(&[
        "backup",
        copy.to_str().unwrap(),
        "--config",
        cfg.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("checked"), "{}", stdout(&out));
    // A second backup does not overwrite the first.
    let again = run(&[
        "backup",
        copy.to_str().unwrap(),
        "--config",
        cfg.path().to_str().unwrap(),
    ]);
    assert_ne!(again.status.code(), Some(0));
    assert!(stderr(&again).contains("exists"), "{}", stderr(&again));
    unsafe { libc::kill(daemon.id() as i32, libc::SIGTERM) };
    assert!(daemon.wait().unwrap().success());

    let count = |db: &Path, sql: &str| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row(sql, [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&copy, "SELECT count(*) FROM items"), 400);
    let alerts = count(&copy, "SELECT count(DISTINCT alert_id) FROM outbox");
    assert!(alerts > 0);
    // Restore: the copy in place of the database, its -wal and -shm gone.
    let db = cfg.db();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    std::fs::copy(&copy, &db).unwrap();
    let out = run(&["alerts", "--json", "--config", cfg.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).lines().count() as i64, alerts);
}

/// A database made by the build before the sink work (schema 6: three
/// items, two alerts delivered to the log) is upgraded with nothing lost;
/// one newer than this binary is refused.
#[test]
fn an_older_schema_is_upgraded_and_a_newer_one_refused() {
    let cfg = TestConfig::new(&[], "");
    let db = cfg.db();
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/schema-v6.db"),
        &db,
    )
    .unwrap();
    let version = |db: &Path| -> i64 {
        rusqlite::Connection::open(db)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(version(&db), 6);
    let c = cfg.path();
    let out = run(&["alerts", "--json", "--since", "3650d", "--config", c.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut ids: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    ids.sort();
    assert_eq!(ids, ["01943808225f747e35ff23f9", "e642488d98e1940e4f7a9100"]);
    assert!(version(&db) > 6, "migrated");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(n("SELECT count(*) FROM items"), 3);
    assert_eq!(n("SELECT count(*) FROM outbox WHERE delivered_at IS NOT NULL"), 2);
    let out = run(&["search", "Witkoff", "--config", c.to_str().unwrap()]);
    assert!(stdout(&out).contains("28-point peace plan"), "{}", stdout(&out));

    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let out = run(&["once", "--config", c.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("newer than this newshound supports"),
        "{}",
        stderr(&out)
    );
}

/// Items that matched nothing go after `[archive] keep_unmatched`, from the
/// full-text index too; matched ones stay; a pruned item still listed by
/// its feed is not taken for new.
#[test]
fn retention_prunes_unmatched_items_and_remembers_them() {
    let dir = tempfile::tempdir().unwrap();
    let titles: Vec<String> = (0..20)
        .map(|i| {
            if i % 2 == 0 {
                format!("Ukraine peace plan: round {i} in Geneva")
            } else {
                format!("Harbour festival draws record crowds, day {i}")
            }
        })
        .collect();
    let guids: Vec<String> = (0..20).map(|i| format!("g{i}")).collect();
    let mut items: Vec<(&str, &str)> = titles
        .iter()
        .map(String::as_str)
        .zip(guids.iter().map(String::as_str))
        .collect();
    write_feed(dir.path(), "f.xml", &items);
    let server = FixtureServer::start_in(dir.path().to_path_buf());
    let cfg = TestConfig::new(&[server.url("/feed/f.xml")], "");
    let text = std::fs::read_to_string(cfg.path()).unwrap();
    std::fs::write(cfg.path(), format!("{text}\n[archive]\nkeep_unmatched = \"1s\"\n")).unwrap();
    let c = cfg.path();
    let items_in_db = || -> i64 {
        rusqlite::Connection::open(cfg.db())
            .unwrap()
            .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(run(&["once", "--config", c.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(items_in_db(), 20);
    let hits = |word: &str| -> usize {
        stdout(&run(&["search", word, "--json", "--config", c.to_str().unwrap()]))
            .lines()
            .count()
    };
    assert_eq!(hits("harbour"), 10);
    std::thread::sleep(Duration::from_millis(1100));
    // The feed changes (one new item): it is fetched again, still listing
    // the pruned ones.
    items.push(("Harbour festival closes", "g-new"));
    write_feed(dir.path(), "f.xml", &items);
    let out = run(&["once", "--all", "--config", c.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("1 new items"), "{}", stdout(&out));
    // Ten matched items, and the new one (seen just now).
    assert_eq!(items_in_db(), 11);
    assert_eq!(hits("harbour"), 1);
    assert_eq!(hits("geneva"), 10);
}

/// `search` filters by watchlist, story and age, marks the matched words
/// in its snippet, and answers JSON.
#[test]
fn search_filters_and_marks_its_hits() {
    let dir = tempfile::tempdir().unwrap();
    let story = "Ukraine peace plan talks resume in Geneva with both delegations";
    write_feed(
        dir.path(),
        "a.xml",
        &[(story, "a1"), ("Geneva motor show opens its doors", "a2")],
    );
    write_feed(
        dir.path(),
        "b.xml",
        &[(story, "b1"), ("Ukraine peace plan: Europe's counter-proposal", "b2")],
    );
    let server = FixtureServer::start_in(dir.path().to_path_buf());
    let cfg = TestConfig::new(&[server.url("/feed/a.xml"), server.url("/feed/b.xml")], "");
    let c = cfg.path();
    let c = c.to_str().unwrap();
    assert_eq!(run(&["once", "--config", c]).status.code(), Some(0));
    let json = |args: &[&str]| -> Vec<serde_json::Value> {
        let mut a = vec!["search", "--json", "--config", c];
        a.extend(args);
        let out = run(&a);
        stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
    };
    let all = json(&["geneva"]);
    assert_eq!(all.len(), 3);
    let matched = json(&["geneva", "--watchlist", "peace"]);
    assert_eq!(matched.len(), 2);
    assert!(matched.iter().all(|h| h["watchlists"][0] == "peace"));
    // Both outlets' copies are one story.
    let story_id = matched[0]["story"].as_str().unwrap();
    assert_eq!(matched[1]["story"].as_str(), Some(story_id));
    let of_story = json(&["peace", "--story", story_id]);
    let mut sources: Vec<&str> = of_story.iter().map(|h| h["source"].as_str().unwrap()).collect();
    sources.sort();
    assert_eq!(sources, ["feed 0", "feed 1"]);
    std::thread::sleep(Duration::from_millis(1100));
    assert!(json(&["geneva", "--since", "1s"]).is_empty());
    // Piped, the matched words are bracketed.
    let out = stdout(&run(&["search", "motor", "--config", c]));
    assert!(out.contains("[motor]") && out.contains("(feed 0)"), "{out}");
}

/// One feed of `items` (title, guid, link) served from a fresh folder,
/// and a config polling it.
fn one_feed(items: &[(&str, &str, &str)]) -> (TestConfig, FixtureServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    feed_xml(dir.path(), items);
    let server = FixtureServer::start_in(dir.path().to_path_buf());
    let cfg = TestConfig::new(&[server.url("/feed/f.xml")], "");
    (cfg, server, dir)
}

fn feed_xml(dir: &Path, items: &[(&str, &str, &str)]) {
    feed_xml_named(dir, "f.xml", items);
}

/// Polls every feed of config `c` once (due or not) and checks that it
/// exits 0 and that its summary says `said`.
fn once_all_says(c: &str, said: &str) {
    let out = run(&["once", "--all", "--config", c]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(said), "{}", stdout(&out));
}

fn feed_xml_named(dir: &Path, name: &str, items: &[(&str, &str, &str)]) {
    let mut xml = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>");
    for (title, guid, link) in items {
        xml.push_str(&format!(
            "<item><title>{title}</title><guid>{guid}</guid><link>{link}</link><pubDate>{{{{recent}}}}</pubDate></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    std::fs::write(dir.join(name), xml).unwrap();
}

/// A new GUID on a link the feed already has (its AMP or http form too) is
/// the same item: not stored twice, not alerted twice. Items that all link
/// to one page are told apart by their GUIDs.
#[test]
fn a_changed_guid_on_a_known_link_is_the_same_item() {
    let a = "Ukraine peace plan: envoys meet in Geneva on the draft";
    let b = "Ukraine peace plan: Kyiv answers the draft's points";
    let (cfg, _server, dir) = one_feed(&[(a, "a1", "https://www.n.example/world/envoys-geneva")]);
    let c = cfg.path();
    let c = c.to_str().unwrap();
    assert_eq!(run(&["once", "--config", c]).status.code(), Some(0));
    feed_xml(
        dir.path(),
        &[
            (a, "urn:cms:7731", "http://n.example/world/envoys-geneva/amp"),
            (b, "b1", "https://n.example/live"),
            (
                "Ukraine peace plan: what the draft says on guarantees",
                "b2",
                "https://n.example/live",
            ),
        ],
    );
    // Both items of the shared page are new; the re-keyed one is not.
    once_all_says(c, "2 new items");
    let items: i64 = rusqlite::Connection::open(cfg.db())
        .unwrap()
        .query_row("SELECT count(*) FROM items", [], |r| r.get(0))
        .unwrap();
    assert_eq!(items, 3);
    let titles: Vec<String> = cfg
        .alerts()
        .iter()
        .map(|v| v["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles.iter().filter(|t| *t == a).count(), 1, "{titles:?}");
    assert!(titles.iter().any(|t| t == b), "{titles:?}");
}

/// A feed that edits an item's title (an "UPDATE 1-" prefix, a new
/// ending) updates the stored item, keeps the old text as a revision, and
/// raises no second alert; search finds the new words and not the old.
#[test]
fn an_edited_title_updates_the_item_and_keeps_a_revision() {
    let first = "Ukraine peace plan: delegations gather in Geneva";
    let edited = "UPDATE 1-Ukraine peace plan: delegations gather in Geneva, Umerov arrives";
    let (cfg, _server, dir) = one_feed(&[(first, "r1", "https://n.example/r1")]);
    let c = cfg.path();
    let c = c.to_str().unwrap();
    assert_eq!(run(&["once", "--config", c]).status.code(), Some(0));
    assert_eq!(run(&["search", "delegations", "--config", c]).status.code(), Some(0));
    feed_xml(dir.path(), &[(edited, "r1", "https://n.example/r1")]);
    once_all_says(c, "0 new items, 0 alerts raised");
    let conn = rusqlite::Connection::open(cfg.db()).unwrap();
    let title: String = conn.query_row("SELECT title FROM items", [], |r| r.get(0)).unwrap();
    assert_eq!(title, edited);
    let old: String = conn
        .query_row("SELECT title FROM item_revisions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(old, first);
    assert_eq!(cfg.alerts().len(), 1);
    let hits = |w: &str| stdout(&run(&["search", w, "--json", "--config", c])).lines().count();
    assert_eq!(hits("umerov"), 1);
    assert_eq!(hits("delegations"), 1);
    // The same title again is no edit.
    let out = run(&["once", "--all", "--config", c]);
    assert_eq!(out.status.code(), Some(0));
    let revisions: i64 = conn
        .query_row("SELECT count(*) FROM item_revisions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(revisions, 1);
}

/// Copies of one report whose links and titles differ (an edited headline
/// on another outlet) raise one alert, and the story counts both outlets;
/// another event on the same topic raises its own.
#[test]
fn near_copies_across_outlets_are_one_story() {
    let dir = tempfile::tempdir().unwrap();
    feed_xml(
        dir.path(),
        &[(
            "Witkoff and Dmitriev drafted 28-point peace plan for Ukraine, officials say",
            "a1",
            "https://a.example/plan",
        )],
    );
    feed_xml_named(
        dir.path(),
        "g.xml",
        &[
            (
                "UPDATE 1-Witkoff, Dmitriev drafted 28-point Ukraine peace plan - Wire",
                "b1",
                "https://b.example/x/1",
            ),
            (
                "Ukraine peace plan: Zelensky and Macron talk guarantees in Paris",
                "b2",
                "https://b.example/x/2",
            ),
        ],
    );
    let server = FixtureServer::start_in(dir.path().to_path_buf());
    let cfg = TestConfig::new(&[server.url("/feed/f.xml"), server.url("/feed/g.xml")], "");
    let c = cfg.path();
    let out = run(&["once", "--config", c.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("3 new items, 2 alerts raised"),
        "{}",
        stdout(&out)
    );
    let out = run(&["alerts", "--json", "--config", c.to_str().unwrap()]);
    let alerts: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let plan = alerts
        .iter()
        .find(|a| a["title"].as_str().unwrap().contains("28-point"))
        .unwrap();
    assert_eq!(plan["outlets"].as_array().map(Vec::len), Some(2), "{plan}");
}

/// A later copy that reports two stories already alerted (it shares the
/// first's link and words the second's headline) makes them one: no new
/// alert, and `alerts` shows both alerts under the first story, with the
/// three outlets carrying it.
#[test]
fn a_copy_that_reports_two_stories_makes_them_one() {
    let dir = tempfile::tempdir().unwrap();
    let first = "Witkoff and Dmitriev drafted 28-point peace plan for Ukraine, officials say";
    let second = "Ukraine peace plan: Zelensky and Macron talk guarantees in Paris";
    feed_xml(dir.path(), &[(first, "a1", "https://a.example/plan")]);
    feed_xml_named(dir.path(), "g.xml", &[(second, "b1", "https://b.example/x/2")]);
    feed_xml_named(dir.path(), "h.xml", &[]);
    let server = FixtureServer::start_in(dir.path().to_path_buf());
    let urls = [
        server.url("/feed/f.xml"),
        server.url("/feed/g.xml"),
        server.url("/feed/h.xml"),
    ];
    let cfg = TestConfig::new(&urls, "");
    let c = cfg.path();
    let c = c.to_str().unwrap();
    let out = run(&["once", "--config", c]);
    assert!(stdout(&out).contains("2 alerts raised"), "{}", stdout(&out));
    feed_xml_named(
        dir.path(),
        "h.xml",
        &[(
            "Ukraine peace plan: Zelensky and Macron talk guarantees in Paris today",
            "c1",
            "https://a.example/plan",
        )],
    );
    once_all_says(c, "1 new items, 0 alerts raised");
    let out = run(&["alerts", "--json", "--config", c]);
    let alerts: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let plan = alerts.iter().find(|a| a["title"] == first).unwrap();
    let talks = alerts.iter().find(|a| a["title"] == second).unwrap();
    assert_eq!(plan["story_id"], plan["id"]);
    assert_eq!(talks["story_id"], plan["id"], "{talks}");
    assert_eq!(plan["outlets"].as_array().map(Vec::len), Some(3), "{plan}");
}

/// `escalate_at = 3`: a story alerts once, and once more (with its
/// outlets) when a third outlet carries it; not again at the fourth.
#[test]
fn a_story_escalates_once_when_it_reaches_n_outlets() {
    let dir = tempfile::tempdir().unwrap();
    let title = "Ukraine peace plan: Witkoff and Umerov agree on a revised draft";
    let names = ["a.xml", "b.xml", "c.xml", "d.xml"];
    for (i, n) in names.iter().enumerate() {
        feed_xml_named(dir.path(), n, &[(title, "x1", &format!("https://o{i}.example/draft"))]);
    }
    let server = FixtureServer::start_in(dir.path().to_path_buf());
    let urls: Vec<String> = names.iter().map(|n| server.url(&format!("/feed/{n}"))).collect();
    let cfg = TestConfig::new(&urls, "");
    let wl = cfg.dir.path().join("watchlists/peace.toml");
    let text = std::fs::read_to_string(&wl).unwrap();
    std::fs::write(
        &wl,
        text.replace("severity = \"high\"", "severity = \"high\"\nescalate_at = 3"),
    )
    .unwrap();
    let out = run(&["once", "--config", cfg.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let alerts = cfg.alerts();
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    let first = alerts[0]["id"].as_str().unwrap();
    let esc = &alerts[1];
    assert_eq!(esc["story_id"].as_str(), Some(first));
    assert_eq!(esc["escalated"], 3);
    assert_eq!(esc["outlets"].as_array().unwrap().len(), 3);
    assert_eq!(esc["id"].as_str().unwrap(), format!("{first}-3"));
}
