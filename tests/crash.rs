//! Crash safety: the daemon is killed with SIGKILL at random moments while
//! it polls, writes the alert log and posts to a webhook, and restarted,
//! twenty times; at the end every match has reached every sink, the log
//! holds each alert once and no partial line.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use common::receiver::{Answer, Receiver};
use common::*;

const FEEDS: usize = 3;
const NEW_PER_ROUND: usize = 40;
const ROUNDS: usize = 20;

/// Feed `f` with its first `n` items, each with a long summary so that
/// alert lines are a few kilobytes and a delivery batch spans many of them.
fn write_feed_with(dir: &std::path::Path, f: usize, n: usize) {
    let filler = "Talks in Geneva and Abu Dhabi went on through the night. ".repeat(40);
    let mut xml = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>");
    // Each report its own story: the feeds' headlines differ in their
    // words, the reports in their numbers.
    let headline = [
        "Ukraine peace plan: envoys meet, report",
        "Kremlin answers the US peace plan for Ukraine, bulletin",
        "European leaders weigh the Ukraine peace plan, note",
    ][f % 3];
    for i in 0..n {
        xml.push_str(&format!(
            "<item><title>{headline} {i}</title><guid>f{f}-{i}</guid>\
             <link>https://n{f}.example/{i}</link><description>{filler}</description>\
             <pubDate>{{{{recent}}}}</pubDate></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    // Written aside and renamed, so the server never serves half a file.
    let tmp = dir.join(format!("f{f}.xml.tmp"));
    std::fs::write(&tmp, xml).unwrap();
    std::fs::rename(tmp, dir.join(format!("f{f}.xml"))).unwrap();
}

#[test]
fn kill_9_twenty_times_loses_and_repeats_nothing() {
    let feeds_dir = tempfile::tempdir().unwrap();
    for f in 0..FEEDS {
        write_feed_with(feeds_dir.path(), f, 0);
    }
    let server = FixtureServer::start_in(feeds_dir.path().to_path_buf());
    // A receiver that is a little slow, so that kills land mid-delivery.
    let rx = Receiver::start(Arc::new(|n, _, _, _| Answer {
        delay: Duration::from_millis((n % 7) as u64),
        ..Answer::ok()
    }));
    let urls: Vec<String> = (0..FEEDS).map(|f| server.url(&format!("/feed/f{f}.xml"))).collect();
    let cfg = TestConfig::new(&urls, "interval = \"1s\"");
    let mut text = std::fs::read_to_string(cfg.path()).unwrap();
    text.push_str(&format!(
        "\n[[sink]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{}\"\nretry = [\"1s\"]\n",
        rx.url("/hook")
    ));
    // Up to a thousand retries: a kill must never make a delivery dead.
    text = text.replace(
        "retry = [\"1s\"]",
        &format!("retry = [{}]", vec!["\"1s\""; 1000].join(", ")),
    );
    std::fs::write(cfg.path(), text).unwrap();

    for round in 0..ROUNDS {
        for f in 0..FEEDS {
            write_feed_with(feeds_dir.path(), f, (round + 1) * NEW_PER_ROUND);
        }
        let mut child = bin()
            .args(["run", "--config", cfg.path().to_str().unwrap()])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(150 + fastrand::u64(0..1500)));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    // A last run catches up: every item stored, nothing left pending; then
    // it stops cleanly on SIGTERM.
    let last_log = cfg.dir.path().join("last-run.log");
    let mut child = bin()
        .args(["run", "--config", cfg.path().to_str().unwrap()])
        .stderr(std::fs::File::create(&last_log).unwrap())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    // Started (and listening for signals) before anything is judged: the
    // killed runs may have done all the work already.
    while !std::fs::read_to_string(&last_log)
        .unwrap()
        .contains("newshound started")
    {
        assert!(std::time::Instant::now() < deadline, "the last run did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    loop {
        let conn = rusqlite::Connection::open(cfg.db()).unwrap();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(-1) as usize;
        let items = count("SELECT count(*) FROM items");
        let pending = count("SELECT count(*) FROM outbox WHERE delivered_at IS NULL");
        if items == FEEDS * ROUNDS * NEW_PER_ROUND && pending == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the last run did not catch up: {items} items, {pending} deliveries pending"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "{status}:\n{}",
        std::fs::read_to_string(&last_log).unwrap()
    );

    // The database: every item matched, every match's alert delivered to
    // both sinks.
    let conn = rusqlite::Connection::open(cfg.db()).unwrap();
    let items: i64 = conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0)).unwrap();
    assert_eq!(items as usize, FEEDS * ROUNDS * NEW_PER_ROUND);
    let matched: BTreeSet<String> = conn
        .prepare("SELECT DISTINCT alert_id FROM matches")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(matched.len(), items as usize, "one alert per item (each its own story)");
    let mut delivered: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut stmt = conn
        .prepare("SELECT alert_id, sink FROM outbox WHERE delivered_at IS NOT NULL")
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
        .unwrap()
    {
        let (id, sink) = row.unwrap();
        delivered.entry(id).or_default().insert(sink);
    }
    let both: BTreeSet<String> = ["hook".to_string(), "log".to_string()].into();
    for id in &matched {
        assert_eq!(delivered.get(id), Some(&both), "alert {id}");
    }

    // The log: whole lines only, each alert exactly once.
    let raw = std::fs::read(cfg.alert_log()).unwrap();
    assert_eq!(raw.last(), Some(&b'\n'), "the log ends in a partial line");
    let mut in_log = BTreeSet::new();
    for (n, line) in raw.split(|b| *b == b'\n').filter(|l| !l.is_empty()).enumerate() {
        let v: serde_json::Value =
            serde_json::from_slice(line).unwrap_or_else(|e| panic!("log line {} is not whole JSON: {e}", n + 1));
        let id = v["id"].as_str().unwrap().to_string();
        assert!(in_log.insert(id.clone()), "alert {id} is twice in the log");
    }
    assert_eq!(in_log, matched);

    // The receiver: every alert at least once (a kill between its answer
    // and the outbox update sends one again, with the same id).
    let got: BTreeSet<String> = rx
        .received()
        .iter()
        .filter(|r| r.status == 200)
        .map(|r| r.header("webhook-id").unwrap().to_string())
        .collect();
    assert_eq!(got, matched);
}
