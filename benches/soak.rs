//! The soak run: `newshound run` for 30 minutes against a farm of 2,000
//! feeds on 127.0.0.1, a tenth of them changing each minute and a few
//! faulty (500, 404, broken XML, an endpoint that never answers), with a
//! JSONL and a webhook sink; every feed is polled at least every 2 minutes
//! (`max_interval`), about 17 polls a second. Samples the daemon's resident memory and open
//! file descriptors every 10 s; at the end checks that every expected
//! alert was stored once and delivered to both sinks, and that memory and
//! descriptors are flat: the mean of the last third within 5% of the mean
//! of the middle third. Writes `target/soak/soak.csv` and draws
//! `target/soak/soak.png` with gnuplot (Debian's `gnuplot-nox`, installed
//! with apt-get when missing and running as root).
//!
//! Run: `cargo bench --bench soak`; `SOAK_MINUTES=6 SOAK_FEEDS=500` for a
//! short one. Exits non-zero when a check fails.

mod common;

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

/// Items a feed document keeps (the oldest fall off).
const KEEP: usize = 30;

const MATCHING: &[&str] = &[
    "Witkoff and Dmitriev revise the 28-point peace plan for Ukraine",
    "Zelensky meets Driscoll in Abu Dhabi on the US peace plan",
    "Kremlin weighs the Geneva draft of the Ukraine peace framework",
    "European leaders answer the US plan to end the war in Ukraine",
];
const OTHER: &[&str] = &[
    "Markets close higher as oil prices ease",
    "City council approves the new tram line",
    "Gaza peace plan: next phase discussed in Cairo",
    "Storm warnings issued for the northern coast",
    "Central bank holds rates steady",
];

#[derive(Clone, Copy, PartialEq)]
enum Fault {
    None,
    Error500,
    Missing,
    Broken,
    Hang,
}

fn fault_of(n: usize) -> Fault {
    match n % 100 {
        7 => Fault::Error500,
        13 => Fault::Missing,
        29 => Fault::Broken,
        41 => Fault::Hang,
        _ => Fault::None,
    }
}

struct Doc {
    version: u64,
    items: VecDeque<String>,
}

struct Farm {
    docs: Vec<Mutex<Doc>>,
    /// Matching items published by healthy feeds: the alerts expected.
    expected: Mutex<u64>,
    hooks: Mutex<HashSet<String>>,
    posts: Mutex<u64>,
}

impl Farm {
    fn new(feeds: usize) -> Farm {
        let farm = Farm {
            docs: (0..feeds)
                .map(|_| {
                    Mutex::new(Doc {
                        version: 0,
                        items: VecDeque::new(),
                    })
                })
                .collect(),
            expected: Mutex::new(0),
            hooks: Mutex::new(HashSet::new()),
            posts: Mutex::new(0),
        };
        // A history of one item every ten minutes, as the feeds go on.
        let now = chrono::Utc::now();
        for n in 0..feeds {
            for k in 0..10 {
                let at = now - chrono::Duration::minutes(10 * (10 - k as i64));
                farm.publish(n, k, k == 0 && n % 4 == 0, at);
            }
        }
        farm
    }

    /// Adds item `k` to feed `n`.
    fn publish(&self, n: usize, k: usize, matching: bool, at: chrono::DateTime<chrono::Utc>) {
        let mut doc = self.docs[n].lock().unwrap();
        let pick = (n + k) % 4;
        let title = if matching {
            format!("{} (desk {n}, update {k})", MATCHING[pick])
        } else {
            format!("{} (desk {n}, item {k})", OTHER[(n + k) % OTHER.len()])
        };
        doc.items.push_front(format!(
            "<item><title>{title}</title><guid>soak-{n}-{k}</guid><link>https://desk{n}.example/{k}</link>\
             <description>{title}. Reporting from the desk, with background and quotes.</description>\
             <pubDate>{}</pubDate></item>",
            at.to_rfc2822()
        ));
        doc.items.truncate(KEEP);
        doc.version += 1;
        if matching && fault_of(n) == Fault::None {
            *self.expected.lock().unwrap() += 1;
        }
    }
}

async fn serve_feed(State(farm): State<Arc<Farm>>, UrlPath(name): UrlPath<String>, headers: HeaderMap) -> Response {
    let Some(n) = name.strip_suffix(".xml").and_then(|s| s.parse::<usize>().ok()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if n >= farm.docs.len() {
        return StatusCode::NOT_FOUND.into_response();
    }
    match fault_of(n) {
        Fault::Error500 => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Fault::Missing => return StatusCode::NOT_FOUND.into_response(),
        Fault::Broken => return "<rss><channel><item><title>cut off".into_response(),
        Fault::Hang => {
            tokio::time::sleep(Duration::from_secs(600)).await;
            return StatusCode::GATEWAY_TIMEOUT.into_response();
        }
        Fault::None => {}
    }
    let (etag, body) = {
        let doc = farm.docs[n].lock().unwrap();
        let etag = format!("\"v{}\"", doc.version);
        if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
            return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
        }
        let mut xml = format!("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Desk {n}</title>");
        for it in &doc.items {
            xml.push_str(it);
        }
        xml.push_str("</channel></rss>");
        (etag, xml)
    };
    (
        [
            (header::ETAG, etag),
            (header::CONTENT_TYPE, "application/rss+xml".to_string()),
        ],
        body,
    )
        .into_response()
}

async fn receive(State(farm): State<Arc<Farm>>, headers: HeaderMap, _body: Bytes) -> StatusCode {
    *farm.posts.lock().unwrap() += 1;
    if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
        farm.hooks.lock().unwrap().insert(id.to_string());
    }
    StatusCode::OK
}

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident memory (KiB) and open descriptors of process `pid`.
fn sample(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

fn write_config(dir: &Path, feeds: usize, farm_addr: &str, hook: &str) {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    for sub in ["watchlists", "aliases"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
        for e in std::fs::read_dir(repo.join(sub)).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), dir.join(sub).join(e.file_name())).unwrap();
        }
    }
    let mut list = String::new();
    for n in 0..feeds {
        let _ = write!(
            list,
            "[[feed]]\nurl = \"http://{farm_addr}/feed/{n}.xml\"\nname = \"desk {n}\"\n\n"
        );
    }
    std::fs::write(dir.join("feeds.toml"), list).unwrap();
    std::fs::write(
        dir.join("newshound.toml"),
        format!(
            "database = \"data/newshound.db\"\nalert_log = \"data/alerts.jsonl\"\nfeeds = \"feeds.toml\"\n\
             watchlists = \"watchlists\"\naliases = \"aliases\"\n\n\
             [polling]\ninterval = \"1m\"\nmin_interval = \"1m\"\nmax_interval = \"2m\"\ntimeout = \"10s\"\nconcurrency = 32\n\
             per_host = 32\nhost_gap = \"0s\"\n\n\
             [[sink]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"{hook}\"\nconcurrency = 4\n"
        ),
    )
    .unwrap();
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len().max(1) as f64
}

fn count(db: &Path, sql: &str) -> i64 {
    rusqlite::Connection::open(db)
        .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
        .unwrap_or(-1)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let minutes = env_usize("SOAK_MINUTES", 30).max(3);
    let feeds = env_usize("SOAK_FEEDS", 2000).max(100);
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/soak");
    std::fs::create_dir_all(&out).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let farm = Arc::new(Farm::new(feeds));
    let app = Router::new()
        .route("/feed/{name}", get(serve_feed))
        .route("/hook", post(receive))
        .with_state(farm.clone());
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    rt.spawn(async move { axum::serve(listener, app).await });

    let dir = tempfile::tempdir().unwrap();
    write_config(dir.path(), feeds, &addr, &format!("http://{addr}/hook"));
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_newshound"));
    let mut daemon = Command::new(&bin)
        .args(["run", "--config"])
        .arg(dir.path().join("newshound.toml"))
        .env("RUST_LOG", "warn")
        .stderr(Stdio::from(std::fs::File::create(out.join("daemon.log")).unwrap()))
        .spawn()
        .unwrap();
    let pid = daemon.id();
    eprintln!("soak: {feeds} feeds, {minutes} min, daemon pid {pid}, farm on {addr}");

    let start = Instant::now();
    let mut csv = String::from("seconds,rss_kib,fds\n");
    let mut rows: Vec<(f64, f64, f64)> = Vec::new();
    let mut next_sample = Duration::ZERO;
    let mut minute = 0;
    let mut k = 10;
    while start.elapsed() < Duration::from_secs(minutes as u64 * 60) {
        let t = start.elapsed();
        if t >= Duration::from_secs(60 * (minute + 1)) {
            // A tenth of the feeds get two new items, one in five of them
            // about the story.
            minute += 1;
            let now = chrono::Utc::now();
            for n in (0..feeds).filter(|n| n % 10 == (minute as usize) % 10) {
                farm.publish(n, k, (n / 10 + k) % 5 == 0, now);
                farm.publish(n, k + 1, false, now);
            }
            k += 2;
        }
        if t >= next_sample {
            let Some((rss, fds)) = sample(pid) else {
                panic!("the daemon is gone; see {}", out.join("daemon.log").display());
            };
            let _ = writeln!(csv, "{:.0},{rss},{fds}", t.as_secs_f64());
            rows.push((t.as_secs_f64(), rss as f64, fds as f64));
            next_sample += Duration::from_secs(10);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    std::fs::write(out.join("soak.csv"), &csv).unwrap();

    // Catch-up: the last changes polled and delivered.
    let expected = *farm.expected.lock().unwrap() as i64;
    let db = dir.path().join("data/newshound.db");
    let deadline = Instant::now() + Duration::from_secs(300);
    let (mut alerts, mut pending);
    loop {
        alerts = count(&db, "SELECT count(DISTINCT alert_id) FROM matches");
        pending = count(&db, "SELECT count(*) FROM outbox WHERE delivered_at IS NULL");
        if alerts >= expected && pending == 0 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    let log = std::fs::read_to_string(dir.path().join("data/alerts.jsonl")).unwrap_or_default();
    let logged: HashSet<&str> = log
        .lines()
        .filter_map(|l| l.split("\"id\":\"").nth(1)?.split('"').next())
        .collect();
    let hooked = farm.hooks.lock().unwrap().len();
    let posts = *farm.posts.lock().unwrap();
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    let exit = daemon.wait().unwrap();

    let third = minutes as f64 * 20.0;
    let part = |from: f64, to: f64, f: fn(&(f64, f64, f64)) -> f64| {
        mean(
            &rows
                .iter()
                .filter(|r| r.0 >= from && r.0 < to)
                .map(f)
                .collect::<Vec<_>>(),
        )
    };
    let (rss_mid, rss_last) = (
        part(third, 2.0 * third, |r| r.1),
        part(2.0 * third, 3.0 * third, |r| r.1),
    );
    let (fd_mid, fd_last) = (
        part(third, 2.0 * third, |r| r.2),
        part(2.0 * third, 3.0 * third, |r| r.2),
    );
    let rss_peak = rows.iter().map(|r| r.1).fold(0.0, f64::max);
    let drift = |a: f64, b: f64| (b / a - 1.0) * 100.0;
    println!("soak: {feeds} feeds, {minutes} min, {} samples", rows.len());
    println!(
        "  resident memory: mean {:.1} MiB (middle third) -> {:.1} MiB (last third), {:+.1}%; peak {:.1} MiB",
        rss_mid / 1024.0,
        rss_last / 1024.0,
        drift(rss_mid, rss_last),
        rss_peak / 1024.0
    );
    println!(
        "  open descriptors: mean {fd_mid:.1} -> {fd_last:.1}, {:+.1}%",
        drift(fd_mid, fd_last)
    );
    println!(
        "  alerts: {expected} expected, {alerts} stored, {} in the log, {hooked} ids at the webhook ({posts} posts), {pending} pending",
        logged.len()
    );
    println!("  daemon exit after SIGTERM: {exit}");

    let gnuplot = common::ensure_program(&["/usr/bin/gnuplot"], "gnuplot-nox");
    let script = format!(
        "set terminal pngcairo size 900,420 noenhanced\nset output '{png}'\nset datafile separator ','\n\
         set title 'newshound soak: {feeds} feeds, {minutes} min'\nset xlabel 'minutes'\nset ylabel 'resident memory (MiB)'\n\
         set y2label 'open descriptors'\nset ytics nomirror\nset y2tics\nset yrange [0:*]\nset y2range [0:*]\nset key bottom right\n\
         plot '{csv}' using ($1/60):($2/1024) skip 1 with lines lw 2 title 'RSS', \
         '' using ($1/60):3 skip 1 axes x1y2 with lines title 'fds'\n",
        png = out.join("soak.png").display(),
        csv = out.join("soak.csv").display(),
    );
    let status = Command::new(gnuplot).stdin(Stdio::piped()).spawn().and_then(|mut c| {
        use std::io::Write;
        c.stdin.take().unwrap().write_all(script.as_bytes())?;
        c.wait()
    });
    match status {
        Ok(s) if s.success() => println!("  curve: {}", out.join("soak.png").display()),
        _ => println!(
            "  gnuplot failed; the samples are in {}",
            out.join("soak.csv").display()
        ),
    }

    let mut failed = Vec::new();
    if drift(rss_mid, rss_last).abs() > 5.0 {
        failed.push("resident memory is not flat");
    }
    if drift(fd_mid, fd_last).abs() > 5.0 {
        failed.push("open descriptors are not flat");
    }
    if alerts != expected || logged.len() as i64 != expected || hooked as i64 != expected || pending != 0 {
        failed.push("not every expected alert was stored and delivered once to each sink");
    }
    if !exit.success() {
        failed.push("the daemon did not exit cleanly on SIGTERM");
    }
    if !failed.is_empty() {
        eprintln!("soak FAILED: {}", failed.join("; "));
        std::process::exit(1);
    }
    println!("soak passed");
}
