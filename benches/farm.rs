//! The feed-farm benchmark: N generated feeds (20-50 items each) served by
//! nginx on 127.0.0.1, polled by `newshound once --all` cold (everything
//! new) and warm (10% of the feeds changed, the rest answered 304).
//! Reports wall seconds, CPU seconds (user + sys of newshound alone), peak
//! RSS, requests, 304s and items stored.
//!
//! Run: `cargo bench --bench farm` (N = 1000), or
//! `FARM_FEEDS=10000 cargo bench --bench farm`. Needs nginx (Debian package
//! `nginx`; installed with apt-get when missing and running as root).
//!
//! CPU time on a shared machine drifts by a third within an hour, more than
//! most changes move it. `FARM_ROUNDS=R` repeats the cold and warm cycles R
//! times, each from an empty database, and reports medians and ranges;
//! `FARM_REFERENCE=/path/to/other/newshound` runs that build in every round
//! too, in alternating order, and reports the median of the per-round
//! ratios, which drift cancels out of.
//!
//! `FARM_NEWSBOAT=1` runs newsboat (Debian's package; 8 reload threads,
//! `newsboat -x reload`) on the same farm in the same rounds, and reports
//! how many times newshound's CPU time newsboat's is.

mod common;

use common::ensure_program;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

struct Run {
    wall: f64,
    cpu: f64,
    rss_mib: f64,
    requests: usize,
    not_modified: usize,
    items: u64,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Writes feed `i` with `n` items, the newest `extra` of them new.
fn write_feed(dir: &Path, i: usize, n: usize, first: usize, titles: &[String], now: chrono::DateTime<chrono::Utc>) {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>Farm feed {i}</title>\
         <link>https://farm.example/{i}/</link><description>Generated for the farm benchmark</description>\n"
    );
    for k in (first..first + n).rev() {
        let t = &titles[(i * 131 + k * 17) % titles.len()];
        let when = now - chrono::Duration::minutes((first + n - k) as i64 * 37);
        s.push_str(&format!(
            "<item><title>{}</title><link>https://farm.example/{i}/{k}</link><guid>farm-{i}-{k}</guid>\
             <pubDate>{}</pubDate><description>{}</description></item>\n",
            escape(t),
            when.to_rfc2822(),
            escape(&format!(
                "{t}. {t}. Reporting from the newsroom on the latest developments, with reactions and analysis."
            ))
        ));
    }
    s.push_str("</channel></rss>\n");
    std::fs::write(dir.join(format!("{i}.xml")), s).unwrap();
}

fn titles() -> Vec<String> {
    let (items, _) = common::stream_items(2000);
    let t: Vec<String> = items.into_iter().map(|i| i.title).filter(|t| !t.is_empty()).collect();
    if t.is_empty() {
        (0..2000)
            .map(|i| format!("Generated headline number {i} about markets and politics"))
            .collect()
    } else {
        t
    }
}

fn count_log(log: &Path, from: usize) -> (usize, usize, usize) {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let new = &lines[from.min(lines.len())..];
    let not_modified = new
        .iter()
        .filter(|l| l.split_whitespace().nth(1) == Some("304"))
        .count();
    (new.len(), not_modified, lines.len())
}

/// Runs one cycle, `cmd`, to its end: wall seconds, CPU seconds (user +
/// sys) and peak RSS of that process alone, the requests it made (from the
/// server's log past line `from`) and `items()` stored after it. Also
/// returns the log's length, where the next cycle's requests start.
#[allow(clippy::zombie_processes)] // reaped with wait4, for its rusage
fn run_measured(mut cmd: Command, what: &str, log: &Path, from: usize, items: impl FnOnce() -> u64) -> (Run, usize) {
    let started = Instant::now();
    let child = cmd.stdout(Stdio::null()).spawn().unwrap();
    let pid = child.id() as i32;
    let mut status = 0;
    // SAFETY: reaping our own child with wait4 to read its rusage.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::wait4(pid, &mut status, 0, &mut u), pid);
        u
    };
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(status, 0, "{what} failed");
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let (requests, not_modified, seen) = count_log(log, from);
    (
        Run {
            wall,
            cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
            rss_mib: usage.ru_maxrss as f64 / 1024.0,
            requests,
            not_modified,
            items: items(),
        },
        seen,
    )
}

fn measure(bin: &Path, config: &Path, log: &Path, from: usize, db: &Path, wrap: Option<&str>) -> (Run, usize) {
    // FARM_WRAP runs the poller under a profiler, e.g.
    // FARM_WRAP="perf record -o /tmp/farm.data --".
    let mut words: Vec<String> = wrap
        .map(|w| w.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default();
    words.push(bin.to_string_lossy().into_owned());
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..])
        .args(["once", "--all", "--log", "warn", "--config", config.to_str().unwrap()]);
    run_measured(cmd, "newshound", log, from, || {
        // Read-only and without the library: opening through `Store` would
        // migrate an older build's database to this build's schema.
        let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let n: i64 = conn.query_row("SELECT count(*) FROM items", [], |r| r.get(0)).unwrap();
        n as u64
    })
}

/// newsboat on the farm: its URL list, configuration (8 reload threads,
/// as users run it) and cache, in `dir`.
fn newsboat_setup(dir: &Path, port: u16, n: usize) -> PathBuf {
    let bin = ensure_program(&["/usr/bin/newsboat", "/usr/local/bin/newsboat"], "newsboat");
    std::fs::create_dir_all(dir).unwrap();
    let urls: String = (0..n).map(|i| format!("http://127.0.0.1:{port}/{i}.xml\n")).collect();
    std::fs::write(dir.join("urls"), urls).unwrap();
    std::fs::write(dir.join("config"), "reload-threads 8\n").unwrap();
    bin
}

fn measure_newsboat(bin: &Path, dir: &Path, log: &Path, from: usize) -> (Run, usize) {
    let cache = dir.join("cache.db");
    let mut cmd = Command::new(bin);
    cmd.args(["-q", "-x", "reload", "-u"])
        .arg(dir.join("urls"))
        .arg("-c")
        .arg(&cache)
        .arg("-C")
        .arg(dir.join("config"))
        .env("HOME", dir)
        .stderr(Stdio::null());
    run_measured(cmd, "newsboat", log, from, || {
        let items: i64 = rusqlite::Connection::open(&cache)
            .and_then(|c| c.query_row("SELECT count(*) FROM rss_item", [], |r| r.get(0)))
            .expect("cannot count the items in newsboat's cache");
        items as u64
    })
}

fn main() {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return;
    }
    let n: usize = std::env::var("FARM_FEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let nginx = ensure_program(&["/usr/sbin/nginx", "/usr/bin/nginx"], "nginx");
    let root = tempfile::tempdir().unwrap();
    let www = root.path().join("www");
    std::fs::create_dir_all(&www).unwrap();
    let titles = titles();
    let now = chrono::Utc::now();
    let mut g = common::Gen::new(5);
    let sizes: Vec<usize> = (0..n).map(|_| 20 + g.below(31)).collect();
    for (i, &k) in sizes.iter().enumerate() {
        write_feed(&www, i, k, 0, &titles, now);
    }
    let port = free_port();
    let log = root.path().join("access.log");
    let conf = root.path().join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 1;\npid {pid};\nerror_log {err} warn;\nevents {{ worker_connections 8192; }}\n\
             http {{\n  log_format farm '$request_uri $status $body_bytes_sent';\n  access_log {log} farm;\n\
             keepalive_requests 100000;\n  types {{ application/rss+xml xml; }}\n\
             server {{ listen 127.0.0.1:{port}; root {www}; etag on; }}\n}}\n",
            pid = root.path().join("nginx.pid").display(),
            err = root.path().join("error.log").display(),
            log = log.display(),
            www = www.display(),
        ),
    )
    .unwrap();
    let status = Command::new(&nginx)
        .args(["-c", conf.to_str().unwrap(), "-p", root.path().to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success(), "nginx did not start");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nginx is not listening");
        std::thread::sleep(Duration::from_millis(50));
    }

    // newshound's config: the shipped watchlists, every farm feed on one
    // site, so politeness per site is opened up for the farm.
    let cfg_dir = root.path().join("config");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut feeds = String::new();
    for i in 0..n {
        feeds.push_str(&format!(
            "[[feed]]\nurl = \"http://127.0.0.1:{port}/{i}.xml\"\nname = \"farm {i}\"\n"
        ));
    }
    std::fs::write(cfg_dir.join("feeds.toml"), feeds).unwrap();
    let db = root.path().join("farm.db");
    std::fs::write(
        cfg_dir.join("newshound.toml"),
        format!(
            "database = \"{}\"\nalert_log = \"{}\"\nfeeds = \"feeds.toml\"\nwatchlists = \"{}\"\naliases = \"{}\"\n\
             [polling]\nconcurrency = 64\nper_host = 64\nhost_gap = \"0s\"\n",
            db.display(),
            root.path().join("alerts.jsonl").display(),
            repo.join("config/watchlists").display(),
            repo.join("config/aliases").display(),
        ),
    )
    .unwrap();
    let config = cfg_dir.join("newshound.toml");

    let rounds: usize = std::env::var("FARM_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let this = PathBuf::from(env!("CARGO_BIN_EXE_newshound"));
    let reference = std::env::var_os("FARM_REFERENCE").map(PathBuf::from);
    if let Some(r) = &reference {
        assert!(r.is_file(), "FARM_REFERENCE {} is not a file", r.display());
    }
    let wrap = std::env::var("FARM_WRAP").ok();
    let wrap_warm = std::env::var("FARM_WRAP_WARM").ok();
    let mut builds: Vec<(&str, &Path)> = vec![("this build", &this)];
    if let Some(r) = &reference {
        builds.push(("reference", r));
    }
    let newsboat_dir = root.path().join("newsboat");
    let newsboat = std::env::var_os("FARM_NEWSBOAT").map(|_| newsboat_setup(&newsboat_dir, port, n));
    let mut names: Vec<&str> = builds.iter().map(|b| b.0).collect();
    if newsboat.is_some() {
        names.push("newsboat 2.21");
    }
    // Per tool, the cold runs and the warm runs, a run per round.
    let mut results: Vec<[Vec<Run>; 2]> = names.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    let mut seen = 0;
    // Per build: the database's bytes (with its WAL) and items after the
    // last warm cycle.
    let mut db_sizes: Vec<(u64, u64)> = vec![(0, 0); names.len()];
    for round in 0..rounds {
        // Alternating order, so that no tool always runs first.
        let mut order: Vec<usize> = (0..names.len()).collect();
        if round % 2 == 1 {
            order.reverse();
        }
        for b in order {
            // Every cycle starts from an empty database and the original feeds.
            for f in ["farm.db", "farm.db-wal", "farm.db-shm", "alerts.jsonl"] {
                let _ = std::fs::remove_file(root.path().join(f));
            }
            for f in ["cache.db", "cache.db.lock"] {
                let _ = std::fs::remove_file(newsboat_dir.join(f));
            }
            for i in (0..n).step_by(10) {
                write_feed(&www, i, sizes[i], 0, &titles, now);
            }
            let cycle = |from: usize, wrap: Option<&str>| match (builds.get(b), &newsboat) {
                (Some(build), _) => measure(build.1, &config, &log, from, &db, wrap),
                (None, Some(nb)) => measure_newsboat(nb, &newsboat_dir, &log, from),
                (None, None) => unreachable!("no tool {b}"),
            };
            let (cold, s) = cycle(seen, wrap.as_deref());
            // Warm: a tenth of the feeds publish two new items.
            for i in (0..n).step_by(10) {
                write_feed(&www, i, sizes[i], 2, &titles, now + chrono::Duration::minutes(5));
            }
            let (warm, s) = cycle(s, wrap_warm.as_deref());
            seen = s;
            if b < builds.len() {
                let bytes: u64 = ["farm.db", "farm.db-wal"]
                    .iter()
                    .filter_map(|f| std::fs::metadata(root.path().join(f)).ok())
                    .map(|m| m.len())
                    .sum();
                db_sizes[b] = (bytes, warm.items);
            }
            results[b][0].push(cold);
            results[b][1].push(warm);
        }
    }
    let pid = std::fs::read_to_string(root.path().join("nginx.pid")).unwrap_or_default();
    let _ = Command::new("kill").arg(pid.trim()).status();

    let rounds_note = if rounds > 1 {
        format!(", {rounds} rounds: medians (min-max), peak RSS the largest")
    } else {
        String::new()
    };
    println!("\nfeed farm: {n} feeds, nginx on 127.0.0.1, `newshound once --all`{rounds_note}");
    println!("| build | run | wall s | CPU s | peak RSS MiB | requests | 304s | items stored |");
    println!("|---|---|---|---|---|---|---|---|");
    for (b, name) in names.iter().enumerate() {
        for (run, runs) in ["cold", "warm (10% changed)"].into_iter().zip(&results[b]) {
            let Some(last) = runs.last() else { continue };
            // Every round must store the same: the figures compare like with like.
            for r in runs {
                assert_eq!(
                    (r.requests, r.not_modified, r.items),
                    (last.requests, last.not_modified, last.items),
                    "rounds differ in what they fetched or stored"
                );
            }
            println!(
                "| {name} | {run} | {} | {} | {:.0} | {} | {} | {} |",
                spread(runs.iter().map(|r| r.wall).collect()),
                spread(runs.iter().map(|r| r.cpu).collect()),
                runs.iter().map(|r| r.rss_mib).fold(0.0, f64::max),
                last.requests,
                last.not_modified,
                last.items
            );
        }
    }
    for (b, name) in names.iter().enumerate().take(builds.len()) {
        let (bytes, items) = db_sizes[b];
        if items > 0 {
            println!(
                "{name}: database {:.1} MiB for {items} items after the warm cycle: {:.1} MiB per 100,000 items",
                bytes as f64 / 1_048_576.0,
                bytes as f64 / 1_048_576.0 * 100_000.0 / items as f64
            );
        }
    }
    if reference.is_some() {
        for (c, run) in ["cold", "warm"].into_iter().enumerate() {
            let ratios = cpu_ratios(&results[0][c], &results[1][c]);
            let cheaper = ratios.iter().filter(|r| **r < 1.0).count();
            println!(
                "{run} CPU, this build / reference: median ratio {:.3} over {rounds} rounds (this build cheaper in {cheaper})",
                median(&ratios)
            );
        }
    }
    if newsboat.is_some() {
        let nb = names.len() - 1;
        for (c, run) in ["cold", "warm"].into_iter().enumerate() {
            let ratios = cpu_ratios(&results[nb][c], &results[0][c]);
            println!(
                "{run} CPU, newsboat / this build: median ratio {:.1} over {rounds} rounds (lowest {:.1})",
                median(&ratios),
                ratios[0]
            );
        }
    }
}

/// Round by round, the CPU time of `a` over that of `b`, sorted.
fn cpu_ratios(a: &[Run], b: &[Run]) -> Vec<f64> {
    let mut ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| a.cpu / b.cpu).collect();
    ratios.sort_by(f64::total_cmp);
    ratios
}

/// The median of `v`, which is sorted.
fn median(v: &[f64]) -> f64 {
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// `x` for one value; `median (min-max)` for several.
fn spread(v: Vec<f64>) -> String {
    if v.len() == 1 {
        return format!("{:.2}", v[0]);
    }
    let mut v = v;
    v.sort_by(f64::total_cmp);
    let (lo, hi) = (v[0], v[v.len() - 1]);
    format!("{:.2} ({lo:.2}-{hi:.2})", median(&v))
}
