//! What a new user tripped on, each kept as a regression test: many feeds
//! on one site under the default politeness, a feed list with the same
//! document twice (TOML and OPML), the shipped systemd unit, and the words
//! of `feeds` and `alerts`.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// A config under the default `[polling]` section (none written), feeds
/// given as they are.
fn default_polling_config(feeds: &[String]) -> TestConfig {
    let cfg = TestConfig::new(&[], "");
    let root = cfg.dir.path();
    let mut list = String::new();
    for (i, u) in feeds.iter().enumerate() {
        list.push_str(&format!("[[feed]]\nurl = \"{u}\"\nname = \"feed {i}\"\n\n"));
    }
    std::fs::write(root.join("feeds.toml"), list).unwrap();
    std::fs::write(
        root.join("newshound.toml"),
        "database = \"data/newshound.db\"\nalert_log = \"data/alerts.jsonl\"\nfeeds = \"feeds.toml\"\nwatchlists = \"watchlists\"\n",
    )
    .unwrap();
    cfg
}

/// Sixty feeds of one site, as a large outlet's section feeds are: under
/// the default politeness (2 in flight, 1 s between requests, 30 s
/// timeout) they take a minute, and every one of them must be polled.
/// The timeout counts from when a request is sent, not from when it
/// started waiting for its turn at the site.
#[test]
fn sixty_feeds_on_one_site_are_all_polled_under_default_politeness() {
    let server = FixtureServer::start();
    let feeds: Vec<String> = (0..60)
        .map(|i| server.url(&format!("/feed/wire-en.xml?section={i}")))
        .collect();
    let cfg = default_polling_config(&feeds);
    let started = Instant::now();
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    let wall = started.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("polled 60 feeds") && stdout(&out).contains(", 0 failed,"),
        "{}",
        stdout(&out)
    );
    // Spaced as asked: 59 gaps of a second at least.
    assert!(wall >= Duration::from_secs(59), "{wall:?}");
    let log = stderr(&out);
    assert!(
        log.contains("60 feeds due on one site") && log.contains("127.0.0.1"),
        "the wait for the site is not said: {log}"
    );
    let rows = feeds_json(&cfg);
    assert_eq!(rows.len(), 60);
    for r in &rows {
        assert_eq!(r["state"], "ok", "{r}");
    }
}

/// Shutdown cancels the polls still waiting for their turn at a site.
#[test]
fn shutdown_does_not_wait_behind_the_site_queue() {
    let server = FixtureServer::start();
    let feeds: Vec<String> = (0..60)
        .map(|i| server.url(&format!("/feed/wire-en.xml?section={i}")))
        .collect();
    let cfg = default_polling_config(&feeds);
    let mut child = bin()
        .args(["run", "--config", cfg.path().to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Let the first polls through and the queue build up.
    std::thread::sleep(Duration::from_secs(4));
    let stopped = Instant::now();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

fn feeds_json(cfg: &TestConfig) -> Vec<serde_json::Value> {
    let out = run(&["feeds", "--json", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// A fragment does not make another feed: `feed.rss#top` is `feed.rss`.
#[test]
fn a_fragment_does_not_make_a_second_feed() {
    let server = FixtureServer::start();
    let url = server.url("/feed/wire-en.xml");
    let cfg = TestConfig::new(&[url.clone(), format!("{url}#top")], "");
    let out = run(&["check", "--config", cfg.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("feeds.toml:6:7: duplicate feed url (first listed on line 2)"),
        "{}",
        stdout(&out)
    );
}

/// An OPML list with the same feed twice: both lines are named, the feed
/// is polled once, and the tags of both outlines are kept.
#[test]
fn duplicate_opml_outlines_are_reported_and_merged() {
    let server = FixtureServer::start();
    let url = server.url("/feed/wire-en.xml");
    let cfg = TestConfig::new(&[], "");
    let root = cfg.dir.path();
    let opml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>feeds</title></head>
  <body>
    <outline text="wires">
      <outline text="Wire" type="rss" xmlUrl="{url}"/>
    </outline>
    <outline text="world">
      <outline text="Wire again" type="rss" xmlUrl="{url}#latest"/>
      <outline text="Other" type="rss" xmlUrl="{other}"/>
    </outline>
  </body>
</opml>
"#,
        other = server.url("/feed/pravda-uk.xml")
    );
    std::fs::write(root.join("feeds.opml"), opml).unwrap();
    let main = std::fs::read_to_string(cfg.path())
        .unwrap()
        .replace("feeds = \"feeds.toml\"", "feeds = \"feeds.opml\"");
    std::fs::write(cfg.path(), main).unwrap();

    let out = run(&["check", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("feeds.opml:9:") && text.contains("duplicate feed url") && text.contains("line 6"),
        "{text}"
    );
    assert!(text.contains("(2 feeds,"), "{text}");
    let loaded = newshound::config::load(&cfg.path()).unwrap();
    assert_eq!(loaded.feeds.len(), 2);
    assert_eq!(loaded.feeds[0].url, url);
    assert_eq!(loaded.feeds[0].tags, ["wires", "world"]);

    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("polled 2 feeds"), "{}", stdout(&out));
}

/// A feed that a server asks to wait (429 or 503 with Retry-After) is in
/// backoff until the server's time, and that is not a failure.
#[test]
fn a_server_requested_wait_shows_as_backoff_until_its_time() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&[server.url("/status/503?retry_after=120")], "");
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(", 0 failed,"), "{}", stdout(&out));
    let rows = feeds_json(&cfg);
    let r = &rows[0];
    assert_eq!(r["state"], "backoff", "{r}");
    assert_eq!(r["consecutive_failures"], 0, "{r}");
    assert_eq!(r["error_kind"], "retry_after", "{r}");
    let at = |k: &str| chrono::DateTime::parse_from_rfc3339(r[k].as_str().unwrap()).unwrap();
    let wait = (at("next_poll") - at("last_poll")).num_seconds();
    assert!((119..=121).contains(&wait), "next poll {wait} s after the last");
    // Not among the failing feeds: it waits at the server's request.
    let out = run(&["feeds", "--failing", "--config", cfg.path().to_str().unwrap()]);
    assert!(stdout(&out).contains("no failing feeds"), "{}", stdout(&out));
}

/// The shipped unit passes `systemd-analyze verify`, with its commands
/// pointed at the binary under test (the installed path does not exist
/// here).
#[test]
fn the_shipped_unit_verifies() {
    let Ok(probe) = std::process::Command::new("systemd-analyze").arg("--version").output() else {
        eprintln!("skipped: systemd-analyze is not installed");
        return;
    };
    assert!(probe.status.success());
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/newshound.service")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("newshound.service");
    std::fs::write(
        &path,
        unit.replace("/usr/bin/newshound", env!("CARGO_BIN_EXE_newshound")),
    )
    .unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `feeds` says "ago" for times in the past, also for a poll a moment ago.
#[test]
fn feeds_table_says_ago_for_the_last_success() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&[server.url("/feed/wire-en.xml")], "");
    assert!(
        run(&["once", "--all", "--config", cfg.path().to_str().unwrap()])
            .status
            .success()
    );
    let table = stdout(&run(&["feeds", "--config", cfg.path().to_str().unwrap()]));
    let row = table.lines().nth(1).unwrap();
    assert!(row.starts_with("ok"), "{table}");
    assert!(row.contains(" ago") && row.contains(" in "), "{table}");
    assert!(!row.contains("in 0s"), "{table}");
}

/// `alerts` names each matched term once per field, in text order, however
/// many alias spellings hit it.
#[test]
fn alerts_name_each_term_once() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&[server.url("/feed/wire-en.xml")], "");
    std::fs::write(
        cfg.dir.path().join("watchlists/peace.toml"),
        r#"
name = "peace"
[aliases]
witkoff = ["Witkoff", "Witkoff*", "Witkof~", "Witkoffs", "\"Steve Witkoff\"", "Witk*"]
[[rule]]
id = "envoy"
query = "@witkoff"
[[rule]]
id = "plan"
query = "Witkoff AND plan"
"#,
    )
    .unwrap();
    assert!(
        run(&["once", "--all", "--config", cfg.path().to_str().unwrap()])
            .status
            .success()
    );
    let human = stdout(&run(&["alerts", "--config", cfg.path().to_str().unwrap()]));
    let matched: Vec<&str> = human
        .lines()
        .filter(|l| l.trim_start().starts_with("matched:"))
        .collect();
    assert!(!matched.is_empty(), "{human}");
    for l in matched {
        let terms: Vec<&str> = l
            .trim_start()
            .trim_start_matches("matched:")
            .split(", ")
            .map(str::trim)
            .collect();
        let mut unique = terms.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), terms.len(), "{l}");
    }
    let json = stdout(&run(&["alerts", "--json", "--config", cfg.path().to_str().unwrap()]));
    for line in json.lines() {
        let a: serde_json::Value = serde_json::from_str(line).unwrap();
        let spans: Vec<(String, String)> = a["terms"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["field"].to_string(), t["text"].to_string()))
            .collect();
        let mut unique = spans.clone();
        unique.dedup();
        assert_eq!(unique.len(), spans.len(), "{a}");
    }
}

/// `once` stopped by SIGTERM keeps what it fetched, says how many feeds it
/// did not poll, and exits 0.
#[test]
fn once_stops_on_sigterm_with_its_summary() {
    let server = FixtureServer::start();
    let feeds: Vec<String> = (0..60)
        .map(|i| server.url(&format!("/feed/wire-en.xml?section={i}")))
        .collect();
    let cfg = default_polling_config(&feeds);
    let child = bin()
        .args(["once", "--all", "--config", cfg.path().to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let stopped = Instant::now();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert!(stopped.elapsed() < Duration::from_secs(5), "{:?}", stopped.elapsed());
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("stopped by a signal") && text.contains("feeds not polled"),
        "{text}"
    );
    let polled: usize = text.split_whitespace().nth(1).and_then(|n| n.parse().ok()).unwrap_or(0);
    assert!((1..60).contains(&polled), "{text}");
    let items = with_store(&cfg.db(), async |s| s.count("items").await.unwrap());
    assert_eq!(items, 4 * polled as u64, "every polled feed's items are stored");
}

/// `stories --pairs` answers with the daemon's whole decision: a shared
/// link or title key at any distance in time, else the near-copy rule
/// within its window.
#[test]
fn stories_pairs_decide_as_the_daemon() {
    let dir = tempfile::tempdir().unwrap();
    let items = dir.path().join("items.jsonl");
    let pairs = dir.path().join("pairs.jsonl");
    let item = |id: &str, title: &str, link: &str, published: &str| {
        serde_json::json!({"id": id, "title": title, "link": link, "published": published,
            "first_seen": published, "lang": "en", "source": "x"})
        .to_string()
    };
    let lines = [
        item(
            "a",
            "Kimberly-Clark agrees to buy Kenvue for 40 billion dollars",
            "https://a.example/1",
            "2025-11-03T10:00:00Z",
        ),
        // Same title (an aggregator's suffix aside), ten days later.
        item(
            "b",
            "Kimberly-Clark agrees to buy Kenvue for 40 billion dollars - Wire",
            "https://b.example/2",
            "2025-11-13T10:00:00Z",
        ),
        // The same link's AMP form, another title, a week later.
        item("c", "Markets shrug", "https://a.example/1/amp", "2025-11-10T10:00:00Z"),
        // A near-copy two hours on; a near-copy of b two hours after b
        // (so of a's story, through b); the same words twenty days on.
        item(
            "d",
            "Kimberly-Clark to buy Kenvue for 40 billion dollars",
            "https://d.example/4",
            "2025-11-03T12:00:00Z",
        ),
        item(
            "e",
            "Kimberly-Clark to buy Kenvue for 40 billion dollars now",
            "https://e.example/5",
            "2025-11-13T12:00:00Z",
        ),
        item(
            "g",
            "Kimberly-Clark to buy Kenvue for 40 billion dollars today",
            "https://g.example/7",
            "2025-11-23T12:00:00Z",
        ),
        item(
            "f",
            "Kenvue shares fall after the bid",
            "https://f.example/6",
            "2025-11-03T11:00:00Z",
        ),
    ];
    std::fs::write(&items, lines.join("\n")).unwrap();
    let asked = [
        ("a", "b", true),
        ("a", "c", true),
        ("a", "d", true),
        ("a", "e", true),
        ("a", "g", false),
        ("a", "f", false),
    ];
    let text: Vec<String> = asked
        .iter()
        .map(|(a, b, _)| serde_json::json!({"a": a, "b": b, "label": "same"}).to_string())
        .collect();
    std::fs::write(&pairs, text.join("\n")).unwrap();
    let o = run(&[
        "stories",
        "--items",
        items.to_str().unwrap(),
        "--pairs",
        pairs.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(got.len(), asked.len());
    for (g, (a, b, same)) in got.iter().zip(asked) {
        assert_eq!((g["a"].as_str(), g["b"].as_str()), (Some(a), Some(b)));
        assert_eq!(g["same"], same, "{a} and {b}");
    }
}
