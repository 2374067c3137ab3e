//! The fault suite: a raw HTTP server on 127.0.0.1 misbehaving in every way
//! a feed server can, polled by the real binary in one cycle together with
//! healthy feeds. Each fault must be classified, scheduled right (the next
//! poll after the wait it calls for), and leave the other feeds alone; peak
//! memory stays bounded.

mod common;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const CYRILLIC: &str = "Зеленский и мирный план: переговоры в Женеве";

fn rss(title: &str, items: usize, encoding: &str) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"{encoding}\"?>\n<rss version=\"2.0\"><channel><title>{title}</title>\n"
    );
    for i in 0..items {
        s.push_str(&format!(
            "<item><title>{title} {i}</title><guid>{title}-{i}</guid><link>https://example.org/{i}</link></item>\n"
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn response(status: &str, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    )
    .into_bytes();
    for (k, v) in headers {
        r.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    r.extend_from_slice(b"\r\n");
    r.extend_from_slice(body);
    r
}

fn encoded(label: &str, bom: bool) -> Vec<u8> {
    let enc = encoding_rs::Encoding::for_label(label.as_bytes()).unwrap();
    let doc = rss(CYRILLIC, 2, label);
    if enc == encoding_rs::UTF_16LE {
        let mut v = if bom { vec![0xFF, 0xFE] } else { vec![] };
        v.extend(doc.encode_utf16().flat_map(|u| u.to_le_bytes()));
        return v;
    }
    let (bytes, _, unmappable) = enc.encode(&doc);
    assert!(!unmappable, "{label} cannot encode the fixture");
    bytes.into_owned()
}

/// A feed of 100,000 items, built once, when the fault server starts (see
/// [`gzip_bomb`]).
fn huge_feed() -> &'static [u8] {
    static HUGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HUGE.get_or_init(|| rss("Huge", 100_000, "utf-8")).as_bytes()
}

/// 64 MiB of spaces, gzipped. Compressed once, when the fault server
/// starts: compressing it in a debug build on a loaded machine takes longer
/// than the poller waits for response headers.
fn gzip_bomb() -> &'static [u8] {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        e.finish().unwrap()
    })
}

fn billion_laughs() -> Vec<u8> {
    let mut s = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n");
    let mut prev = "lol".to_string();
    for i in 1..=9 {
        let name = format!("lol{i}");
        s.push_str(&format!("<!ENTITY {name} \"{}\">\n", format!("&{prev};").repeat(10)));
        prev = name;
    }
    s.push_str("]>\n<rss version=\"2.0\"><channel><title>&lol9;</title><item><title>&lol9;</title><guid>x</guid></item></channel></rss>\n");
    s.into_bytes()
}

struct FaultServer {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<(String, Instant)>>>,
    _rt: tokio::runtime::Runtime,
}

async fn handle(
    mut sock: TcpStream,
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<(String, Instant)>>>,
    moved: Arc<AtomicUsize>,
) {
    let mut buf = vec![0u8; 8192];
    let mut n = 0;
    loop {
        let Ok(k) = sock.read(&mut buf[n..]).await else { return };
        if k == 0 {
            return;
        }
        n += k;
        if buf[..n].windows(4).any(|w| w == b"\r\n\r\n") || n == buf.len() {
            break;
        }
    }
    let head = String::from_utf8_lossy(&buf[..n]).to_string();
    let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
    hits.lock().unwrap().push((path.clone(), Instant::now()));
    let base = format!("http://{addr}");
    let xml = || ("Content-Type", "application/rss+xml".to_string());
    let reply: Vec<u8> = match path.as_str() {
        "/ok-1" | "/ok-2" => response(
            "200 OK",
            &[xml()],
            rss(&format!("Healthy {path}"), 3, "utf-8").as_bytes(),
        ),
        "/never-headers" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            return;
        }
        "/trickle" => {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: application/rss+xml\r\n\r\n")
                .await;
            for _ in 0..60 {
                if sock.write_all(b"<").await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            return;
        }
        "/endless" => {
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n")
                .await;
            let chunk = vec![b'x'; 64 * 1024];
            while sock.write_all(&chunk).await.is_ok() {}
            return;
        }
        "/gigabyte" => {
            let _ = sock
                .write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\nContent-Type: application/rss+xml\r\n\r\n",
                )
                .await;
            let chunk = vec![b'x'; 64 * 1024];
            for _ in 0..16384 {
                if sock.write_all(&chunk).await.is_err() {
                    return;
                }
            }
            return;
        }
        "/gzip-bomb" => response("200 OK", &[xml(), ("Content-Encoding", "gzip".into())], gzip_bomb()),
        "/gzip-ok" | "/deflate-ok" | "/br-ok" => {
            let doc = rss(&format!("Compressed {path}"), 4, "utf-8").into_bytes();
            let (name, body) = match path.as_str() {
                "/gzip-ok" => {
                    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
                    e.write_all(&doc).unwrap();
                    ("gzip", e.finish().unwrap())
                }
                "/deflate-ok" => {
                    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                    e.write_all(&doc).unwrap();
                    ("deflate", e.finish().unwrap())
                }
                _ => {
                    let mut out = Vec::new();
                    {
                        let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 22);
                        w.write_all(&doc).unwrap();
                    }
                    ("br", out)
                }
            };
            response("200 OK", &[xml(), ("Content-Encoding", name.into())], &body)
        }
        "/loop-a" => response("302 Found", &[("Location", format!("{base}/loop-b"))], b""),
        "/loop-b" => response("302 Found", &[("Location", "/loop-a".into())], b""),
        p if p.starts_with("/chain/") => {
            let k: u32 = p[7..].parse().unwrap_or(0);
            if k == 0 {
                response("200 OK", &[xml()], rss("End of chain", 1, "utf-8").as_bytes())
            } else {
                response("302 Found", &[("Location", format!("/chain/{}", k - 1))], b"")
            }
        }
        "/moved" => {
            moved.fetch_add(1, Ordering::SeqCst);
            response("301 Moved Permanently", &[("Location", "/new-home".into())], b"")
        }
        "/new-home" => response("200 OK", &[xml()], rss("New home", 2, "utf-8").as_bytes()),
        "/gone" => response("410 Gone", &[], b"gone"),
        "/missing" => response("404 Not Found", &[], b"no"),
        "/broken" => response("500 Internal Server Error", &[], b"oops"),
        "/busy" => response("503 Service Unavailable", &[("Retry-After", "120".into())], b""),
        "/slow-down" => {
            let when = chrono::Utc::now() + chrono::Duration::seconds(300);
            response(
                "429 Too Many Requests",
                &[("Retry-After", when.format("%a, %d %b %Y %H:%M:%S GMT").to_string())],
                b"",
            )
        }
        "/reset" => {
            // Closing with SO_LINGER 0 sends a reset instead of a FIN.
            #[allow(deprecated)]
            let _ = sock.set_linger(Some(Duration::ZERO));
            drop(sock);
            return;
        }
        "/html" => response(
            "200 OK",
            &[("Content-Type", "text/html".into())],
            b"<!DOCTYPE html><html><body>Home</body></html>",
        ),
        "/laughs" => response("200 OK", &[xml()], &billion_laughs()),
        "/bad-utf8" => {
            let mut doc = rss("Broken bytes", 2, "utf-8").into_bytes();
            let at = doc.windows(7).position(|w| w == b"<title>").unwrap() + 7;
            doc.insert(at, 0xFF);
            response("200 OK", &[xml()], &doc)
        }
        "/empty" => response("200 OK", &[xml()], b""),
        "/huge" => response("200 OK", &[xml()], huge_feed()),
        p if p.starts_with("/enc/") => {
            let label = &p[5..];
            match label {
                "utf-16-bom" => response("200 OK", &[xml()], &encoded("utf-16le", true)),
                "header-only-windows-1251" => {
                    let doc = rss(CYRILLIC, 2, "x").replace(" encoding=\"x\"", "");
                    let (bytes, _, _) = encoding_rs::WINDOWS_1251.encode(&doc);
                    response(
                        "200 OK",
                        &[("Content-Type", "text/xml; charset=windows-1251".into())],
                        &bytes,
                    )
                }
                "iso-8859-1" => {
                    let doc = rss("Négociations à Genève", 2, "iso-8859-1");
                    let (bytes, _, _) = encoding_rs::WINDOWS_1252.encode(&doc);
                    response("200 OK", &[xml()], &bytes)
                }
                other => response("200 OK", &[xml()], &encoded(other, false)),
            }
        }
        _ => response("404 Not Found", &[], b""),
    };
    let _ = sock.write_all(&reply).await;
    let _ = sock.shutdown().await;
}

impl FaultServer {
    fn start() -> (FaultServer, Arc<AtomicUsize>) {
        gzip_bomb();
        huge_feed();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = rt.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let moved = Arc::new(AtomicUsize::new(0));
        let (h, m) = (hits.clone(), moved.clone());
        rt.spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else { return };
                tokio::spawn(handle(sock, addr, h.clone(), m.clone()));
            }
        });
        (FaultServer { addr, hits, _rt: rt }, moved)
    }

    fn url(&self, p: &str) -> String {
        format!("http://{}{p}", self.addr)
    }
}

const PATHS: &[&str] = &[
    "/ok-1",
    "/gzip-ok",
    "/deflate-ok",
    "/br-ok",
    "/never-headers",
    "/trickle",
    "/endless",
    "/gigabyte",
    "/gzip-bomb",
    "/loop-a",
    "/chain/20",
    "/moved",
    "/gone",
    "/missing",
    "/broken",
    "/busy",
    "/slow-down",
    "/reset",
    "/html",
    "/laughs",
    "/bad-utf8",
    "/empty",
    "/huge",
    "/enc/windows-1251",
    "/enc/koi8-r",
    "/enc/koi8-u",
    "/enc/iso-8859-5",
    "/enc/utf-16-bom",
    "/enc/header-only-windows-1251",
    "/enc/iso-8859-1",
    "/ok-2",
];

/// Runs the binary and returns its exit status and peak RSS in KiB. The
/// child is reaped with wait4 (for its rusage), not Child::wait.
#[allow(clippy::zombie_processes)]
fn run_measured(args: &[&str]) -> (std::process::ExitStatus, i64, String) {
    let child = bin().args(args).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let pid = child.id() as i32;
    let mut stderr_pipe = child.stderr.unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr_pipe, &mut s).unwrap();
        s
    });
    let mut status = 0;
    // SAFETY: plain libc calls on our own child; the rusage struct is
    // zero-initialised and written by the kernel.
    let rss = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::wait4(pid, &mut status, 0, &mut usage), pid);
        usage.ru_maxrss
    };
    let log = reader.join().unwrap();
    (std::os::unix::process::ExitStatusExt::from_raw(status), rss, log)
}

#[test]
fn every_fault_is_classified_scheduled_and_contained() {
    let (server, moved) = FaultServer::start();
    let urls: Vec<String> = PATHS.iter().map(|p| server.url(p)).collect();
    let cfg = TestConfig::new(&urls, "max_body = \"2MiB\"\nconcurrency = 32");
    let started = Instant::now();
    let (status, rss_kib, log) = run_measured(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    let wall = started.elapsed();
    assert!(status.success(), "{log}");
    println!(
        "fault cycle: {} feeds in {wall:?}, peak RSS {} MiB",
        PATHS.len(),
        rss_kib / 1024
    );
    assert!(
        wall < Duration::from_secs(20),
        "a bad server stalled the cycle: {wall:?}"
    );
    assert!(rss_kib < 150 * 1024, "peak RSS {} MiB", rss_kib / 1024);

    let health = with_store(&cfg.db(), async |s| s.feed_health().await.unwrap());
    let get = |p: &str| {
        health
            .iter()
            .find(|h| h.row.url == server.url(p))
            .unwrap_or_else(|| panic!("no feed {p}"))
            .clone()
    };
    let expect = |p: &str, state: &str, kind: Option<&str>| {
        let h = get(p);
        assert_eq!(
            (h.row.state.health.as_str(), h.row.state.error_kind.map(|k| k.as_str())),
            (state, kind),
            "{p}: {:?}",
            h.row.state.last_error
        );
        h
    };
    // Healthy feeds in the same cycle are unaffected.
    for p in ["/ok-1", "/ok-2"] {
        let h = expect(p, "ok", None);
        assert_eq!(h.items, 3, "{p}");
    }
    // Compressed bodies are decoded.
    for p in ["/gzip-ok", "/deflate-ok", "/br-ok"] {
        let h = expect(p, "ok", None);
        assert_eq!(h.items, 4, "{p}");
    }
    expect("/never-headers", "failing", Some("timeout"));
    expect("/trickle", "failing", Some("timeout"));
    expect("/endless", "failing", Some("too_large"));
    expect("/gigabyte", "failing", Some("too_large"));
    expect("/gzip-bomb", "failing", Some("decompression_bomb"));
    expect("/loop-a", "failing", Some("redirect"));
    expect("/chain/20", "failing", Some("redirect"));
    expect("/missing", "failing", Some("http_status"));
    expect("/broken", "failing", Some("http_status"));
    expect("/reset", "failing", Some("connect"));
    expect("/html", "failing", Some("html"));
    expect("/empty", "failing", Some("empty"));
    let laughs = get("/laughs");
    assert!(
        matches!(
            laughs.row.state.error_kind.map(|k| k.as_str()),
            Some("malformed") | Some("not_a_feed") | None
        ),
        "{:?}",
        laughs.row.state
    );
    // Gone is final; waits are not failures.
    let gone = expect("/gone", "gone", Some("gone"));
    assert_eq!(newshound::scheduler::due_at(&gone.row.state), None);
    for (p, secs) in [("/busy", 120), ("/slow-down", 300)] {
        let h = get(p);
        assert_eq!(h.row.state.health, newshound::scheduler::Health::Backoff, "{p}");
        assert_eq!(h.row.state.consecutive_failures, 0, "{p}");
        assert_eq!(h.row.state.error_kind.map(|k| k.as_str()), Some("retry_after"), "{p}");
        let wait = (h.row.state.hold_until.unwrap() - h.row.state.last_poll.unwrap()) / 1000;
        assert!(
            (secs - 2..=secs + 1).contains(&wait),
            "{p}: next poll in {wait}s, want {secs}s"
        );
    }
    // A first failure waits one interval (15 min, ±10% jitter).
    let missing = get("/missing");
    let wait = (missing.row.state.hold_until.unwrap() - missing.row.state.last_poll.unwrap()) / 1000;
    assert!((810..=990).contains(&wait), "404 retried in {wait}s");
    // Encodings: every Cyrillic fixture decodes to the same title.
    for p in [
        "/enc/windows-1251",
        "/enc/koi8-r",
        "/enc/koi8-u",
        "/enc/iso-8859-5",
        "/enc/utf-16-bom",
        "/enc/header-only-windows-1251",
    ] {
        let h = expect(p, "ok", None);
        assert_eq!(h.items, 2, "{p}");
    }
    let titles = with_store(&cfg.db(), async |s| {
        s.search("Женеве".into(), 100)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.item.title)
            .collect::<Vec<_>>()
    });
    assert_eq!(titles.len(), 12, "{titles:?}");
    assert!(titles.iter().all(|t| t.starts_with(CYRILLIC)), "{titles:?}");
    let latin = with_store(&cfg.db(), async |s| s.search("Genève".into(), 10).await.unwrap());
    assert_eq!(latin[0].item.title, "Négociations à Genève 0");
    // Invalid UTF-8: stored, and said.
    let bad = expect("/bad-utf8", "ok", Some("encoding"));
    assert_eq!(bad.items, 2);
    // The 100,000-item feed is over the body cap here.
    expect("/huge", "failing", Some("too_large"));
    // Log lines about a feed carry its url.
    assert!(log.contains(&format!("url={}", server.url("/gzip-bomb"))), "{log}");

    // A permanent redirect seen three polls in a row moves the feed.
    for _ in 0..2 {
        let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
        assert!(out.status.success());
    }
    assert_eq!(moved.load(Ordering::SeqCst), 3);
    let moved_feed = get_after(&cfg, &server.url("/moved"));
    assert_eq!(moved_feed.as_deref(), Some(server.url("/new-home").as_str()));
    let before = moved.load(Ordering::SeqCst);
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(moved.load(Ordering::SeqCst), before, "the old url is not asked again");
    assert!(
        server.hits.lock().unwrap().iter().filter(|(p, _)| p == "/gone").count() == 1,
        "a gone feed is not polled again"
    );
}

fn get_after(cfg: &TestConfig, url: &str) -> Option<String> {
    with_store(&cfg.db(), async |s| {
        s.feed_health()
            .await
            .unwrap()
            .into_iter()
            .find(|h| h.row.url == url)
            .and_then(|h| h.row.state.fetch_url)
    })
}

#[test]
fn requests_to_one_site_are_spaced_and_capped() {
    let (server, _) = FaultServer::start();
    // Six feeds on one site; at most one request at a time, 300 ms apart.
    let urls: Vec<String> = (0..6)
        .map(|i| server.url(&format!("/ok-{}", 1 + i % 2)) + &format!("?n={i}"))
        .collect();
    let cfg = TestConfig::new(&urls, "per_host = 1\nhost_gap = \"300ms\"");
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut times: Vec<Instant> = server.hits.lock().unwrap().iter().map(|(_, t)| *t).collect();
    times.sort();
    assert_eq!(times.len(), 6);
    for w in times.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap >= Duration::from_millis(280), "two requests {gap:?} apart");
    }
}

#[test]
fn feeds_command_reports_health_and_round_trips_opml() {
    let (server, _) = FaultServer::start();
    let urls: Vec<String> = ["/ok-1", "/missing", "/gone", "/busy"]
        .iter()
        .map(|p| server.url(p))
        .collect();
    let cfg = TestConfig::new(&urls, "");
    assert!(
        run(&["once", "--all", "--config", cfg.path().to_str().unwrap()])
            .status
            .success()
    );
    let out = run(&["feeds", "--json", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 4);
    let state = |p: &str| rows.iter().find(|r| r["url"] == server.url(p)).unwrap().clone();
    assert_eq!(state("/ok-1")["state"], "ok");
    assert_eq!(state("/ok-1")["items"], 3);
    assert_eq!(state("/missing")["state"], "failing");
    assert_eq!(state("/missing")["last_status"], 404);
    assert_eq!(state("/missing")["consecutive_failures"], 1);
    assert_eq!(state("/gone")["state"], "gone");
    assert!(state("/gone")["next_poll"].is_null());
    for key in [
        "url",
        "state",
        "last_status",
        "last_error",
        "consecutive_failures",
        "next_poll",
        "items",
    ] {
        assert!(rows[0].get(key).is_some(), "{key} missing");
    }
    let out = run(&["feeds", "--failing", "--json", "--config", cfg.path().to_str().unwrap()]);
    let failing: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["url"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(failing, vec![server.url("/missing"), server.url("/gone")]);
    let table = stdout(&run(&["feeds", "--config", cfg.path().to_str().unwrap()]));
    assert!(table.lines().count() >= 5 && table.contains("STATE"), "{table}");

    // Export, then import into an empty list: the same feeds come back.
    let out = run(&["feeds", "export", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success());
    let opml = cfg.dir.path().join("export.opml");
    std::fs::write(&opml, &out.stdout).unwrap();
    let other = TestConfig::new(&[], "");
    let out = run(&[
        "feeds",
        "import",
        opml.to_str().unwrap(),
        "--config",
        other.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("imported 4 feeds"), "{}", stdout(&out));
    let back = newshound::config::load(&other.path()).unwrap();
    let original = newshound::config::load(&cfg.path()).unwrap();
    let pairs = |c: &newshound::config::Config| {
        c.feeds
            .iter()
            .map(|f| (f.url.clone(), f.name.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(pairs(&back), pairs(&original));
    // Importing again adds nothing.
    let out = run(&[
        "feeds",
        "import",
        opml.to_str().unwrap(),
        "--config",
        other.path().to_str().unwrap(),
    ]);
    assert!(stdout(&out).starts_with("imported 0 feeds"), "{}", stdout(&out));
}

#[test]
fn a_feed_of_100000_items_under_the_cap_is_cut_and_memory_stays_bounded() {
    let (server, _) = FaultServer::start();
    let cfg = TestConfig::new(&[server.url("/huge"), server.url("/laughs")], "max_body = \"32MiB\"");
    let (status, rss_kib, log) = run_measured(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(status.success(), "{log}");
    println!("100,000-item feed: peak RSS {} MiB", rss_kib / 1024);
    let health = with_store(&cfg.db(), async |s| s.feed_health().await.unwrap());
    let huge = health.iter().find(|h| h.row.url.ends_with("/huge")).unwrap();
    assert_eq!(huge.items, newshound::feed::MAX_ITEMS as u64);
    assert!(log.contains("feed has more items than kept per poll"), "{log}");
    let laughs = health.iter().find(|h| h.row.url.ends_with("/laughs")).unwrap();
    println!(
        "billion laughs: {:?} {:?}",
        laughs.row.state.error_kind, laughs.row.state.last_error
    );
    assert!(rss_kib < 400 * 1024, "peak RSS {} MiB", rss_kib / 1024);
}
