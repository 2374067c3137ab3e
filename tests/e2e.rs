//! End to end: the real binary against a real HTTP server on 127.0.0.1,
//! a real SQLite file and a real JSON Lines alert log.

mod common;

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use common::*;

fn feeds(server: &FixtureServer) -> Vec<String> {
    [
        "/feed/wire-en.xml",
        "/feed/pravda-uk.xml",
        "/feed/meduza-ru.json",
        "/feed/aggregator-en.xml",
        "/feed/broken.xml",
        "/status/404",
        "/status/500",
        "/html",
        "/slow",
    ]
    .iter()
    .map(|p| server.url(p))
    .collect()
}

#[test]
fn once_stores_matches_alerts_then_gets_304s() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&feeds(&server), "");
    let started = Instant::now();
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "one cycle took {:?}",
        started.elapsed()
    );

    // Three stories alert: the English plan story (from the wire or the
    // aggregator, whichever committed first: the other is the same story),
    // the Ukrainian and the Russian ones. The Gaza plan is excluded, the old
    // backlog item is stored without alerting.
    let alerts = cfg.alerts();
    let titles: Vec<String> = alerts
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(alerts.len(), 3, "{titles:#?}");
    assert_eq!(
        titles.iter().filter(|t| t.contains("Witkoff")).count(),
        1,
        "{titles:#?}"
    );
    assert!(
        titles.iter().any(|t| t.starts_with("Зеленський: мирний план")),
        "{titles:#?}"
    );
    assert!(
        titles.iter().any(|t| t.starts_with("Уиткофф и Дмитриев")),
        "{titles:#?}"
    );
    assert!(
        !titles.iter().any(|t| t.contains("Gaza") || t.contains("hard choice")),
        "{titles:#?}"
    );
    for a in &alerts {
        for field in [
            "id",
            "at",
            "watchlist",
            "title",
            "link",
            "feed",
            "published",
            "first_seen",
            "terms",
            "rules",
            "snippet",
        ] {
            assert!(!a[field].is_null(), "alert lacks {field}: {a}");
        }
        assert_eq!(a["watchlist"], "peace");
        let terms = a["terms"].as_array().unwrap();
        assert!(!terms.is_empty());
        for t in terms {
            assert!(
                t["term"].is_string() && t["field"].is_string() && t["text"].is_string(),
                "{t}"
            );
        }
    }
    let ids: HashSet<&str> = alerts.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 3);
    let witkoff = alerts
        .iter()
        .find(|a| a["title"].as_str().unwrap().contains("Witkoff"))
        .unwrap();
    let rules: Vec<&str> = witkoff["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(rules, ["plan", "envoys"]);
    if witkoff["feed"] == "feed 0" {
        assert_eq!(
            witkoff["link"], "https://wire.example/world/witkoff-dmitriev-plan",
            "tracking parameters dropped"
        );
    }

    let (items, matches, outbox, health) = with_store(&cfg.db(), async |s| {
        (
            s.count("items").await.unwrap(),
            s.count("matches").await.unwrap(),
            s.count("outbox").await.unwrap(),
            s.feed_health().await.unwrap(),
        )
    });
    assert_eq!(items, 9, "4 wire + 2 uk + 2 ru + 1 aggregator items");
    assert_eq!(matches, 5, "plan story twice, old Zelensky item, uk and ru stories");
    assert_eq!(outbox, 3);
    let kind = |suffix: &str| {
        let h = health.iter().find(|h| h.row.url.ends_with(suffix)).unwrap();
        (
            h.row.state.health.as_str(),
            h.row.state.error_kind.map(|k| k.as_str()),
            h.row.state.last_status,
        )
    };
    assert_eq!(kind("/feed/wire-en.xml"), ("ok", None, Some(200)));
    assert_eq!(kind("/feed/broken.xml").1, Some("malformed"));
    assert_eq!(kind("/status/404"), ("failing", Some("http_status"), Some(404)));
    assert_eq!(kind("/status/500"), ("failing", Some("http_status"), Some(500)));
    assert_eq!(kind("/html").1, Some("html"));
    assert_eq!(kind("/slow").1, Some("timeout"));

    // Second cycle: nothing changed, so conditional GETs get 304 and no new
    // alert is written. The failing feeds are backing off and are skipped.
    let before = server.requests().len();
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(cfg.alerts().len(), 3);
    let second: Vec<Seen> = server.requests()[before..].to_vec();
    let good: Vec<&Seen> = second
        .iter()
        .filter(|s| s.path.starts_with("/feed/") && !s.path.contains("broken"))
        .collect();
    assert_eq!(good.len(), 4, "{second:#?}");
    for s in good {
        assert!(s.if_none_match.is_some(), "no If-None-Match on {}", s.path);
        assert_eq!(s.status, 304, "{}", s.path);
        assert!(s.user_agent.as_deref().unwrap_or("").starts_with("newshound/"));
    }
    assert!(
        !second.iter().any(|s| s.path.starts_with("/status/")),
        "backing-off feeds were polled: {second:#?}"
    );
    let not_modified = with_store(&cfg.db(), async |s| {
        s.feed_health()
            .await
            .unwrap()
            .iter()
            .map(|h| h.row.state.not_modified)
            .sum::<u64>()
    });
    assert_eq!(not_modified, 4);
}

fn rss_items(items: &[(&str, &str)]) -> String {
    let mut s = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>News</title>");
    for (guid, title) in items {
        s.push_str(&format!(
            "<item><guid>{guid}</guid><title>{title}</title><link>https://news.example/{guid}</link>\
             <pubDate>{{{{recent}}}}</pubDate></item>"
        ));
    }
    s + "</channel></rss>"
}

/// A first poll takes every entry as new (nothing of the feed is stored
/// yet), once each even when a document repeats one; later polls store
/// only the entries the store lacks, and never alert twice.
#[test]
fn first_and_later_polls_store_each_entry_once() {
    let feeds = tempfile::tempdir().unwrap();
    let doc = feeds.path().join("news.xml");
    let plan = ("a", "Witkoff and Dmitriev draft a 28-point plan");
    std::fs::write(
        &doc,
        rss_items(&[plan, ("b", "Weather tomorrow"), plan, ("c", "Harbour works continue")]),
    )
    .unwrap();
    let server = FixtureServer::start_in(feeds.path().to_path_buf());
    let cfg = TestConfig::new(&[server.url("/feed/news.xml")], "");
    let counts = || {
        with_store(&cfg.db(), async |s| {
            (
                s.count("items").await.unwrap(),
                s.count("matches").await.unwrap(),
                s.count("outbox").await.unwrap(),
            )
        })
    };
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(counts(), (3, 1, 1), "items, matches, outbox after the first poll");
    assert_eq!(cfg.alerts().len(), 1);

    std::fs::write(
        &doc,
        rss_items(&[
            ("d", "Zelensky weighs the peace plan for Ukraine"),
            plan,
            ("b", "Weather tomorrow"),
            ("c", "Harbour works continue"),
        ]),
    )
    .unwrap();
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert!(stdout(&out).contains("1 new items"), "{}", stdout(&out));
    assert_eq!(counts(), (4, 2, 2), "items, matches, outbox after the second poll");
    let titles: Vec<String> = cfg
        .alerts()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(titles, [plan.1, "Zelensky weighs the peace plan for Ukraine"]);
}

#[test]
fn daemon_stops_cleanly_on_sigterm() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&feeds(&server)[..4], "interval = \"1h\"");
    let mut child = bin()
        .args(["run", "--config", cfg.path().to_str().unwrap()])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while cfg.alerts().len() < 3 {
        assert!(Instant::now() < deadline, "no alerts within 30 s");
        std::thread::sleep(Duration::from_millis(100));
    }
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
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("SIGTERM received") && log.contains("stopped"), "{log}");
    let poll_lines: Vec<&str> = log.lines().filter(|l| l.contains(" poll")).collect();
    assert!(!poll_lines.is_empty(), "{log}");
    for l in poll_lines {
        assert!(
            l.contains(&format!("url=http://{}", server.addr)),
            "poll log line without the feed url: {l}"
        );
    }
    // The database is whole after shutdown: the three alerts are in it,
    // and no more items than the feeds hold. The last feed waits out the
    // gap between requests to one site: when the signal comes first, its
    // items are missing until the next run (1 run in 15 here).
    let counts = || {
        with_store(&cfg.db(), async |s| {
            (s.count("items").await.unwrap(), s.count("outbox").await.unwrap())
        })
    };
    let (items, outbox) = counts();
    assert!(
        items <= 9 && outbox == 3,
        "{items} items, {outbox} alerts in the outbox"
    );
    // A restart stores what is missing, once, and alerts nothing new.
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(counts(), (9, 3));
    assert_eq!(cfg.alerts().len(), 3);
}

#[test]
fn bad_config_is_reported_with_file_line_and_column() {
    let cfg = TestConfig::new(&["http://127.0.0.1:9/feed".to_string()], "intervall = \"5m\"");
    let out = run(&["check", "--config", cfg.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let first = text.lines().next().unwrap_or("");
    let want = format!("{}:10:1: unknown field `intervall`", cfg.path().display());
    assert!(first.starts_with(&want), "got {first:?}, want prefix {want:?}");
    let out = run(&["run", "--config", cfg.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(78), "{}", stderr(&out));

    // A bad rule names the watchlist file, line, column and rule id.
    let cfg = TestConfig::new(&["http://127.0.0.1:9/feed".to_string()], "");
    std::fs::write(
        cfg.dir.path().join("watchlists/bad.toml"),
        "name = \"bad\"\n[[rule]]\nid = \"r1\"\nquery = '(Witkoff OR @nobody'\n",
    )
    .unwrap();
    let out = run(&["check", "--config", cfg.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    let file = cfg.dir.path().join("watchlists/bad.toml");
    assert!(
        text.contains(&format!("{}:4:22: rule 'r1': unknown alias '@nobody'", file.display())),
        "{text}"
    );

    // A missing database folder is created.
    let cfg = TestConfig::new(&[], "");
    assert!(!cfg.db().parent().unwrap().exists());
    let out = run(&["once", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(cfg.db().exists());
}

#[test]
fn match_writes_one_line_per_input_in_order() {
    let cfg = TestConfig::new(&[], "");
    let wl = cfg.dir.path().join("watchlists/peace.toml");
    let input = [
        r#"{"id": "a1", "title": "Witkoff flies to Moscow", "extra": [1, 2]}"#,
        r#"{"id": 7, "title": "Weather: snow in Kyiv"}"#,
        r#"{"id": "a3", "title": "Зеленський: мирний план", "lang": "uk", "label": "yes"}"#,
        r#"{"id": "a4", "summary": "Gaza peace plan backed by UN"}"#,
    ]
    .join("\n");
    let run_match = || {
        let mut child = bin()
            .args(["match", "--watchlist", wl.to_str().unwrap()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let lines = run_match();
    assert_eq!(lines.len(), 4);
    let got: Vec<(serde_json::Value, bool)> = lines
        .iter()
        .map(|l| (l["id"].clone(), l["matched"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("a1".into(), true),
            (7.into(), false),
            ("a3".into(), true),
            ("a4".into(), false)
        ]
    );
    assert_eq!(lines[0]["rules"], serde_json::json!(["envoys"]));
    assert_eq!(
        lines[0]["terms"][0],
        serde_json::json!({"term": "Witkoff", "field": "title", "text": "Witkoff"})
    );
    assert_eq!(lines[1]["watchlist"], "peace");

    // Editing the watchlist changes what match returns.
    let edited = common::TEST_WATCHLIST.replace("query = \"@envoys\"", "query = \"@envoys OR weather\"");
    std::fs::write(&wl, edited).unwrap();
    let lines = run_match();
    assert_eq!(lines[1]["matched"], true);
    assert_eq!(lines[1]["rules"], serde_json::json!(["envoys"]));
}

#[test]
fn polls_of_one_site_reuse_its_connections() {
    let server = FixtureServer::start();
    // Sixty feeds on one site, at most eight requests to it at a time: a
    // connection a poll has finished with serves a later poll.
    let urls: Vec<String> = (0..60)
        .map(|i| server.url(&format!("/feed/wire-en.xml?n={i}")))
        .collect();
    let cfg = TestConfig::new(&urls, "per_host = 8\nconcurrency = 32");
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(server.requests().len(), 60);
    // Eight at a time need eight; on a loaded machine a poll may open its
    // own just before another's connection goes back to the pool, so up to
    // twice that, which is still far from one per request.
    let opened = server.connections.load(Ordering::SeqCst);
    assert!(
        (1..=16).contains(&opened),
        "{opened} connections for 60 requests, at most 8 at a time"
    );
}

#[test]
fn an_unwritable_alert_log_keeps_alerts_pending_until_it_works() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&feeds(&server)[..3], "");
    // The log's folder is a regular file: every write fails.
    let text = std::fs::read_to_string(cfg.path()).unwrap();
    std::fs::write(cfg.path(), text.replace("data/alerts.jsonl", "blocked/alerts.jsonl")).unwrap();
    let blocker = cfg.dir.path().join("blocked");
    std::fs::write(&blocker, "not a folder").unwrap();
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    // The cycle runs to its end, and says (exit 75, EX_TEMPFAIL) that
    // deliveries are left for a cron job to notice.
    assert_eq!(out.status.code(), Some(75), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 alerts raised, 0 delivered"));
    assert!(stderr(&out).contains("alert delivery failed"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("3 alert deliveries could not be made"),
        "{}",
        stderr(&out)
    );
    let pending = with_store(&cfg.db(), async |s| s.outbox_counts().await.unwrap());
    assert_eq!((pending.pending, pending.delivered), (3, 0));

    std::fs::remove_file(&blocker).unwrap();
    let out = run(&["once", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = std::fs::read_to_string(blocker.join("alerts.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 3, "{log}");
    let counts = with_store(&cfg.db(), async |s| s.outbox_counts().await.unwrap());
    assert_eq!((counts.pending, counts.delivered), (0, 3));
}

#[test]
fn replay_shows_what_a_watchlist_would_have_alerted_and_sends_nothing() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&feeds(&server)[..4], "");
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success());
    let before = std::fs::read_to_string(cfg.alert_log()).unwrap();
    let other = cfg.dir.path().join("drafts");
    std::fs::create_dir(&other).unwrap();
    let wl = other.join("gaza.toml");
    std::fs::write(
        &wl,
        "name = \"gaza\"\n[[rule]]\nid = \"g\"\nquery = \"Gaza OR рубл*\"\n",
    )
    .unwrap();
    let out = run(&[
        "replay",
        "--since",
        "7d",
        "--watchlist",
        wl.to_str().unwrap(),
        "--json",
        "--config",
        cfg.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut titles: Vec<&str> = lines.iter().map(|l| l["title"].as_str().unwrap()).collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Gaza peace plan: UN Security Council backs US resolution",
            "Курс рубля вырос"
        ]
    );
    assert!(lines.iter().all(|l| l["watchlist"] == "gaza"));
    assert!(
        stderr(&out).contains("9 stored items since 7d, 2 would alert"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(cfg.alert_log()).unwrap(),
        before,
        "replay must not alert"
    );
}

#[test]
fn alerts_command_filters_and_follows_new_alerts() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&feeds(&server)[..3], "");
    assert!(
        run(&["once", "--all", "--config", cfg.path().to_str().unwrap()])
            .status
            .success()
    );
    let c = cfg.path();
    let c = c.to_str().unwrap();
    let json = stdout(&run(&["alerts", "--json", "--config", c]));
    assert_eq!(json.lines().count(), 3, "{json}");
    assert_eq!(
        stdout(&run(&["alerts", "--json", "--watchlist", "nothing", "--config", c]))
            .lines()
            .count(),
        0
    );
    assert_eq!(
        stdout(&run(&["alerts", "--json", "--since", "1h", "--config", c]))
            .lines()
            .count(),
        3
    );
    let human = stdout(&run(&["alerts", "--config", c]));
    assert!(
        human.contains("[peace] Уиткофф и Дмитриев") && human.contains("matched:"),
        "{human}"
    );

    // --follow shows alerts as they are raised, whatever becomes of the log
    // file (rotated here): it reads the database.
    let mut child = bin()
        .args(["alerts", "--json", "--follow", "--config", c])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let mut first = Vec::new();
    for _ in 0..3 {
        line.clear();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        first.push(serde_json::from_str::<serde_json::Value>(&line).unwrap()["id"].clone());
    }
    std::fs::rename(cfg.alert_log(), cfg.alert_log().with_extension("jsonl.1")).unwrap();
    let fresh = tempfile::tempdir().unwrap();
    write_feed(
        fresh.path(),
        "f.xml",
        &[("Ukraine peace plan: Witkoff in Geneva", "g1")],
    );
    let other = FixtureServer::start_in(fresh.path().to_path_buf());
    let mut list = std::fs::read_to_string(cfg.dir.path().join("feeds.toml")).unwrap();
    list.push_str(&format!(
        "[[feed]]\nurl = \"{}\"\nname = \"fresh\"\n",
        other.url("/feed/f.xml")
    ));
    std::fs::write(cfg.dir.path().join("feeds.toml"), list).unwrap();
    assert!(run(&["once", "--all", "--config", c]).status.success());
    line.clear();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    let got: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert!(!first.contains(&got["id"]), "{got}");
    assert_eq!(cfg.alerts()[0]["id"], got["id"], "the new log holds the new alert");
    child.kill().unwrap();
    child.wait().unwrap();
}

/// `lines` written as `items.jsonl` in the test's directory.
fn items_file(cfg: &TestConfig, lines: &[&str]) -> std::path::PathBuf {
    let path = cfg.dir.path().join("items.jsonl");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path
}

/// `newshound match` or `eval` with a watchlist on a JSON Lines file
/// (`--input` for match, `--labels` for eval), more arguments after; its
/// standard output, once it has succeeded.
fn on_items(command: &str, wl: &str, input: &str, more: &[&str]) -> String {
    let file_flag = if command == "match" { "--input" } else { "--labels" };
    let out = run(&[&[command, "--watchlist", wl, file_flag, input], more].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

/// Whether `match` matched each line of `input`, in order.
fn matched_lines(wl: &str, input: &str) -> Vec<bool> {
    on_items("match", wl, input, &[])
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["matched"]
                .as_bool()
                .unwrap()
        })
        .collect()
}

/// A watchlist's `since` holds through `match` and `eval`: an item published
/// before it does not match, a placeholder date gives way to `first_seen`,
/// and `eval` says why a relevant item was dropped.
#[test]
fn since_drops_items_from_before_the_story() {
    let cfg = TestConfig::new(&[], "");
    let wl = cfg.dir.path().join("watchlists/peace.toml");
    std::fs::write(
        &wl,
        common::TEST_WATCHLIST.replace("severity = \"high\"", "severity = \"high\"\nsince = 2025-11-15"),
    )
    .unwrap();
    let lines = [
        r#"{"id": "new", "title": "Witkoff flies to Moscow", "published": "2025-12-01T10:00:00Z", "label": "yes"}"#,
        r#"{"id": "old", "title": "Witkoff flies to Moscow", "published": "2025-10-20T10:00:00Z", "label": "yes"}"#,
        r#"{"id": "epoch", "title": "Witkoff in Miami", "published": "1970-01-01T00:00:00Z", "first_seen": "2025-11-20T08:00:00Z", "label": "yes"}"#,
        r#"{"id": "epoch-old", "title": "Witkoff in Miami", "published": "1970-01-01T00:00:00Z", "first_seen": "2025-11-02T08:00:00Z", "label": "no"}"#,
        r#"{"id": "old-other", "title": "Snow in Kyiv", "published": "2025-10-20T10:00:00Z", "label": "yes"}"#,
    ];
    let input = items_file(&cfg, &lines);
    let (wl, input) = (wl.to_str().unwrap(), input.to_str().unwrap());
    assert_eq!(matched_lines(wl, input), [true, false, true, false, false]);

    let text = on_items("eval", wl, input, &[]);
    assert!(text.contains("TP    2  FP    0  FN    2  TN     1"), "{text}");
    // An old item no rule matches is a plain miss, not the date's.
    assert_eq!(
        text.matches("happened before the watchlist's since").count(),
        1,
        "{text}"
    );
    assert!(
        text.contains("old  Witkoff flies to Moscow")
            && text.contains("happened before the watchlist's since (2025-11-15T00:00:00+00:00)"),
        "{text}"
    );

    // Folds score every item: they list no item, so that a held-out part
    // is not read through them.
    let text = on_items("eval", wl, input, &["--folds", "2"]);
    assert!(
        text.contains("mean ") && !text.contains("false negatives") && !text.contains("Witkoff"),
        "{text}"
    );

    // A date still to come is allowed, and `check` says what it means.
    let before = std::fs::read_to_string(wl).unwrap();
    std::fs::write(wl, before.replace("since = 2025-11-15", "since = 2999-01-01")).unwrap();
    let out = run(&["check", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out)
            .contains("since 2999-01-01T00:00:00+00:00 is in the future: this watchlist matches nothing until then"),
        "{}",
        stdout(&out)
    );
}

/// A watchlist with rule weights and a threshold: the daemon's matching
/// path (`match`) adds the weights, and `eval --sweep` prints each
/// threshold the items reach, marking the watchlist's own.
#[test]
fn weights_and_a_threshold_decide_a_match() {
    let cfg = TestConfig::new(&[], "");
    let wl = cfg.dir.path().join("watchlists/scored.toml");
    std::fs::write(
        &wl,
        "name = \"scored\"\nthreshold = 1\n\
         [[rule]]\nid = \"envoy\"\nquery = \"Witkoff\"\nweight = 0.5\n\
         [[rule]]\nid = \"place\"\nquery = \"Moscow\"\nweight = 0.5\n\
         [[rule]]\nid = \"plan\"\nquery = '\"peace plan\"'\n",
    )
    .unwrap();
    let lines = [
        r#"{"id": "a", "title": "Witkoff flies to Moscow", "label": "yes"}"#,
        r#"{"id": "b", "title": "Witkoff on Gaza", "label": "no"}"#,
        r#"{"id": "c", "title": "The peace plan in full", "label": "yes"}"#,
        r#"{"id": "d", "title": "Moscow weather", "label": "no"}"#,
    ];
    let input = items_file(&cfg, &lines);
    let (wl, input) = (wl.to_str().unwrap(), input.to_str().unwrap());
    assert_eq!(matched_lines(wl, input), [true, false, true, false]);

    let text = on_items("eval", wl, input, &["--sweep"]);
    let sweep: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("threshold sweep"))
        .skip(1)
        .take_while(|l| !l.is_empty())
        .collect();
    assert_eq!(sweep.len(), 2, "{text}");
    assert!(
        sweep[0].contains("0.50") && sweep[0].contains("TP    2  FP    2"),
        "{text}"
    );
    assert!(
        sweep[1].contains("1.00") && sweep[1].contains("TP    2  FP    0") && sweep[1].ends_with("<- the watchlist's"),
        "{text}"
    );
}
