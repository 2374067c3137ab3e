//! The shipped systemd unit: hardened, and holding its exposure score.

use std::process::Command;

fn analyze() -> Option<()> {
    match Command::new("systemd-analyze").arg("--version").output() {
        Ok(o) if o.status.success() => Some(()),
        _ => {
            eprintln!("skipped: systemd-analyze is not installed");
            None
        }
    }
}

/// `systemd-analyze security` rates the unit 2.0 or lower (0 is the most
/// locked down, 10 the least).
#[test]
fn the_unit_is_hardened() {
    if analyze().is_none() {
        return;
    }
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/newshound.service");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager", unit])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let score: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for newshound.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no score in:\n{text}"));
    assert!(score <= 2.0, "exposure {score}:\n{text}");
    let unit_text = std::fs::read_to_string(unit).unwrap();
    for setting in [
        "ProtectSystem=strict",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=\n",
        "SystemCallFilter=@system-service",
        "MemoryDenyWriteExecute=yes",
        "UMask=0077",
    ] {
        assert!(unit_text.contains(setting), "{setting} missing");
    }
}

mod common;

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use common::*;

fn write_watchlist(cfg: &TestConfig, query: &str) {
    std::fs::write(
        cfg.dir.path().join("watchlists/peace.toml"),
        format!("name = \"peace\"\n\n[[rule]]\nid = \"r\"\nquery = {query:?}\n"),
    )
    .unwrap();
}

/// Waits up to `secs` for `cond`.
fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "waited {secs} s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn titles(cfg: &TestConfig) -> Vec<String> {
    cfg.alerts()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_string())
        .collect()
}

/// Stderr of a child, collected as it runs.
fn collect_stderr(child: &mut std::process::Child) -> std::sync::Arc<std::sync::Mutex<String>> {
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let mut err = child.stderr.take().unwrap();
    let sink = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut err, &mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    log
}

/// Kills the daemon when a test fails before stopping it.
struct Daemon(Option<std::process::Child>);

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal(child: &std::process::Child, sig: i32) {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Sends `sig` and asserts a clean exit within 5 s.
fn stop_with(mut child: std::process::Child, sig: i32) {
    signal(&child, sig);
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(5),
            "still running 5 s after signal {sig}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

/// An edited watchlist takes effect without a restart, on SIGHUP and on a
/// plain save; a broken one keeps the old rules running and says where it
/// is broken; feeds added to the list are polled, feeds removed are not
/// asked again.
#[test]
fn watchlists_and_feeds_reload_live() {
    let feeds_dir = tempfile::tempdir().unwrap();
    write_feed(feeds_dir.path(), "a.xml", &[("Alpha talks begin", "a1")]);
    write_feed(feeds_dir.path(), "b.xml", &[("Bravo feed opens", "b1")]);
    let server = FixtureServer::start_in(feeds_dir.path().to_path_buf());
    let cfg = TestConfig::new(&[server.url("/feed/a.xml")], "interval = \"1s\"");
    write_watchlist(&cfg, "Alpha");
    let mut daemon = Daemon(Some(
        bin()
            .args(["run", "--config", cfg.path().to_str().unwrap()])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let child = daemon.0.as_mut().unwrap();
    let log = collect_stderr(child);
    wait_for(20, "the first alert", || {
        titles(&cfg).contains(&"Alpha talks begin".to_string())
    });

    // A broken edit and SIGHUP: the old rules keep matching, the problem is
    // logged with its place.
    write_watchlist(&cfg, "(Bravo");
    signal(child, libc::SIGHUP);
    wait_for(10, "the reload error", || {
        let l = log.lock().unwrap();
        l.contains("peace.toml:5:10: rule 'r': unbalanced parenthesis") && l.contains("previous one keeps running")
    });
    write_feed(
        feeds_dir.path(),
        "a.xml",
        &[
            ("Alpha talks begin", "a1"),
            ("Alpha second round", "a2"),
            ("Bravo arrives", "b2"),
        ],
    );
    wait_for(20, "an alert by the old rule", || {
        titles(&cfg).contains(&"Alpha second round".to_string())
    });
    assert!(!titles(&cfg).contains(&"Bravo arrives".to_string()));

    // The fix, saved without a signal: the new rule matches new items.
    write_watchlist(&cfg, "Bravo OR Charlie");
    wait_for(10, "the reload", || {
        log.lock().unwrap().contains("configuration reloaded")
    });
    write_feed(
        feeds_dir.path(),
        "a.xml",
        &[("Charlie joins", "c1"), ("Alpha third round", "a3")],
    );
    wait_for(20, "an alert by the new rule", || {
        titles(&cfg).contains(&"Charlie joins".to_string())
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        !titles(&cfg).contains(&"Alpha third round".to_string()),
        "{:?}",
        titles(&cfg)
    );

    // A feed added is polled; the feed removed is not asked again.
    let list = format!("[[feed]]\nurl = \"{}\"\nname = \"b\"\n", server.url("/feed/b.xml"));
    std::fs::write(cfg.dir.path().join("feeds.toml"), list).unwrap();
    wait_for(20, "the new feed's alert", || {
        titles(&cfg).contains(&"Bravo feed opens".to_string())
    });
    let asked = |p: &str| server.requests().iter().filter(|r| r.path == p).count();
    let before = asked("/feed/a.xml");
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(asked("/feed/a.xml"), before, "a removed feed was polled");
    assert!(asked("/feed/b.xml") >= 2);
    // Ctrl-C stops it as cleanly as SIGTERM.
    stop_with(daemon.0.take().unwrap(), libc::SIGINT);
    wait_for(2, "the SIGINT log line", || {
        log.lock().unwrap().contains("SIGINT received")
    });
}

/// With `NOTIFY_SOCKET` set, the daemon says READY once it can work, pets
/// the watchdog from its loop, updates its status line, and says STOPPING
/// on SIGTERM.
#[test]
fn sd_notify_ready_watchdog_status_stopping() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&[server.url("/feed/wire-en.xml")], "interval = \"1h\"");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    let started = Instant::now();
    let mut daemon = Daemon(Some(
        bin()
            .args(["run", "--config", cfg.path().to_str().unwrap()])
            .env("NOTIFY_SOCKET", &path)
            .env("WATCHDOG_USEC", "1000000")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    ));
    type Log = Vec<(Duration, String)>;
    let mut messages: Log = Vec::new();
    let read_until = |messages: &mut Log, secs: u64, done: &dyn Fn(&Log) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let mut buf = [0u8; 4096];
        while Instant::now() < deadline && !done(messages) {
            if let Ok(n) = sock.recv(&mut buf) {
                messages.push((started.elapsed(), String::from_utf8_lossy(&buf[..n]).into_owned()));
            }
        }
    };
    read_until(&mut messages, 5, &|m| m.iter().any(|(_, t)| t.contains("READY=1")));
    let ready = messages.iter().find(|(_, t)| t.contains("READY=1")).map(|(at, _)| *at);
    assert!(ready.is_some_and(|at| at < Duration::from_secs(2)), "{messages:?}");
    // Watchdog pings at half the timeout, and a status line that counts the
    // polled feed as ok.
    read_until(&mut messages, 6, &|m| {
        m.iter().filter(|(_, t)| t.contains("WATCHDOG=1")).count() >= 6
            && m.iter().any(|(_, t)| t.contains("STATUS=1 feeds: 1 ok"))
    });
    let pings: Vec<Duration> = messages
        .iter()
        .filter(|(_, t)| t.contains("WATCHDOG=1"))
        .map(|(at, _)| *at)
        .collect();
    assert!(pings.len() >= 6, "{messages:?}");
    for w in pings.windows(2).skip(1) {
        assert!(w[1] - w[0] < Duration::from_millis(900), "{pings:?}");
    }
    assert!(
        messages.iter().any(|(_, t)| t.contains("STATUS=1 feeds: 1 ok")),
        "{messages:?}"
    );
    // A broken watchlist and SIGHUP: RELOADING, then a status line that
    // says the reload failed and the old configuration runs on.
    write_watchlist(&cfg, "(Bravo");
    signal(daemon.0.as_ref().unwrap(), libc::SIGHUP);
    let failed = |m: &Log| {
        m.iter()
            .any(|(_, t)| t.contains("STATUS=") && t.contains("last reload failed"))
    };
    read_until(&mut messages, 5, &failed);
    assert!(failed(&messages), "{messages:?}");
    assert!(messages.iter().any(|(_, t)| t.contains("RELOADING=1")), "{messages:?}");
    signal(daemon.0.as_ref().unwrap(), libc::SIGTERM);
    read_until(&mut messages, 5, &|m| m.iter().any(|(_, t)| t.contains("STOPPING=1")));
    assert!(messages.iter().any(|(_, t)| t.contains("STOPPING=1")), "{messages:?}");
    let mut child = daemon.0.take().unwrap();
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(stopped.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success());
}

/// `--log-format json` writes one JSON object a line; the config's `[log]
/// level` applies unless `RUST_LOG` or `--log` says otherwise.
#[test]
fn logs_as_json_at_the_configured_level() {
    let server = FixtureServer::start();
    let cfg = TestConfig::new(&[server.url("/feed/wire-en.xml"), server.url("/status/404")], "");
    let c = cfg.path();
    let c = c.to_str().unwrap();
    let out = run(&["once", "--all", "--log-format", "json", "--config", c]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> = stderr(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "INFO" && l["fields"]["message"] == "poll"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && l["fields"]["message"] == "poll failed")
    );
    // [log] level = "warn": the info lines go.
    let quiet = TestConfig::new(&[server.url("/feed/wire-en.xml"), server.url("/status/404")], "");
    let q = quiet.path();
    let text = std::fs::read_to_string(&q).unwrap();
    std::fs::write(&q, text.replace("[polling]", "[log]\nlevel = \"warn\"\n\n[polling]")).unwrap();
    let out = run(&["once", "--all", "--log-format", "json", "--config", q.to_str().unwrap()]);
    let levels: Vec<String> = stderr(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["level"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        !levels.is_empty() && levels.iter().all(|l| l == "WARN" || l == "ERROR"),
        "{levels:?}"
    );
    // --log wins over the config.
    let loud = TestConfig::new(&[server.url("/feed/wire-en.xml")], "");
    let l = loud.path();
    let text = std::fs::read_to_string(&l).unwrap();
    std::fs::write(&l, text.replace("[polling]", "[log]\nlevel = \"warn\"\n\n[polling]")).unwrap();
    let out = run(&["once", "--all", "--log", "info", "--config", l.to_str().unwrap()]);
    assert!(stderr(&out).contains("INFO"), "{}", stderr(&out));
}

/// A plain HTTP GET on 127.0.0.1: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The value of a sample (name and labels as Prometheus writes them) in
/// a parsed scrape.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let (status, body) = get(addr, "/metrics");
    assert_eq!(status, 200, "{body}");
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `/metrics` parses as Prometheus text and its counters move after a
/// poll; `/healthz` is 200 while all is well, 503 when the database file
/// turns read-only, and 503 when the scheduling loop stalls.
#[test]
fn metrics_and_health_over_http() {
    let feeds_dir = tempfile::tempdir().unwrap();
    write_feed(feeds_dir.path(), "a.xml", &[("Alpha talks begin", "a1")]);
    let server = FixtureServer::start_in(feeds_dir.path().to_path_buf());
    let cfg = TestConfig::new(
        &[server.url("/feed/a.xml"), server.url("/status/404")],
        "interval = \"1s\"",
    );
    write_watchlist(&cfg, "Alpha");
    let addr = format!("127.0.0.1:{}", free_port());
    let text = std::fs::read_to_string(cfg.path()).unwrap();
    std::fs::write(
        cfg.path(),
        text.replace("[polling]", &format!("[http]\nlisten = \"{addr}\"\n\n[polling]")),
    )
    .unwrap();
    let daemon = Daemon(Some(
        bin()
            .args(["run", "--config", cfg.path().to_str().unwrap()])
            .env("NEWSHOUND_TEST_STALL_LOOP_AFTER_MS", "12000")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    ));
    wait_for(10, "the listener", || std::net::TcpStream::connect(&addr).is_ok());
    wait_for(10, "the first alert", || !cfg.alerts().is_empty());
    let first = scrape(&addr);
    assert!(sample(&first, "newshound_polls_total", Some(("outcome", "ok"))) >= 1.0);
    assert!(sample(&first, "newshound_poll_failures_total", Some(("kind", "http_status"))) >= 1.0);
    assert!(sample(&first, "newshound_items_stored_total", None) >= 1.0);
    assert!(sample(&first, "newshound_matches_total", Some(("watchlist", "peace"))) >= 1.0);
    assert!(sample(&first, "newshound_fetched_bytes_total", None) > 100.0);
    assert!(
        first
            .samples
            .iter()
            .any(|s| s.metric.starts_with("newshound_poll_duration_seconds"))
    );
    wait_for(10, "a delivery counted", || {
        sample(&scrape(&addr), "newshound_alerts_total", Some(("outcome", "delivered"))) >= 1.0
    });
    // The feed changes: the counters move.
    write_feed(
        feeds_dir.path(),
        "a.xml",
        &[("Alpha talks begin", "a1"), ("Alpha again", "a2")],
    );
    wait_for(10, "the counters to move", || {
        sample(&scrape(&addr), "newshound_items_stored_total", None)
            > sample(&first, "newshound_items_stored_total", None)
    });
    let (status, body) = get(&addr, "/healthz");
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // A broken watchlist edit is counted as a failed reload.
    write_watchlist(&cfg, "(Alpha");
    wait_for(10, "the failed reload counted", || {
        sample(&scrape(&addr), "newshound_reloads_total", Some(("result", "failed"))) >= 1.0
    });
    write_watchlist(&cfg, "Alpha");
    wait_for(10, "the good reload counted", || {
        sample(&scrape(&addr), "newshound_reloads_total", Some(("result", "ok"))) >= 1.0
    });

    // The database file turns read-only.
    let db = cfg.db();
    let mut perms = std::fs::metadata(&db).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&db, perms.clone()).unwrap();
    let (status, body) = get(&addr, "/healthz");
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("read-only"), "{body}");
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(&db, perms).unwrap();
    assert_eq!(get(&addr, "/healthz").0, 200);

    // The loop stalls (test hook, 12 s after start): /healthz says so.
    wait_for(30, "the stall to show", || get(&addr, "/healthz").0 == 503);
    let (_, body) = get(&addr, "/healthz");
    assert!(body.contains("scheduling loop"), "{body}");
    drop(daemon);
}
