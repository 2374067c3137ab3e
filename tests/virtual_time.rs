//! The daemon's schedule in tokio's paused time: three virtual hours of
//! `run` against a server on 127.0.0.1 in the same runtime, which notes the
//! virtual time of every request. Each endpoint must be asked again exactly
//! when the scheduling rules say: the interval with its jitter, the server's
//! TTL and max-age, Retry-After in seconds and as a date, doubling backoff
//! after every kind of failure (no headers, a trickled body, a reset, 404,
//! 500, an HTML page, an empty body, a redirect loop), never again after
//! 410.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use newshound::clock::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

type Log = Arc<Mutex<Vec<(String, Instant)>>>;

/// Endpoints that fail each in its own way and must all back off alike.
const BACKING_OFF: [&str; 7] = [
    "/never-headers",
    "/trickle",
    "/reset",
    "/missing",
    "/html",
    "/empty",
    "/loop",
];

fn rss(path: &str, extra: &str) -> String {
    let name = path.trim_start_matches('/');
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>{name}</title>{extra}\
         <item><title>Harbour works in {name} continue</title><guid>{name}-1</guid></item>\
         <item><title>Weather for {name} tomorrow</title><guid>{name}-2</guid></item>\
         </channel></rss>"
    )
}

/// The answer to the `nth` request (from 1) for `path`: status line,
/// extra headers, body.
fn respond(path: &str, nth: usize) -> (&'static str, String, String) {
    const OK: &str = "200 OK";
    let feed = "Content-Type: application/rss+xml\r\n".to_string();
    match path {
        "/ttl" => (OK, feed, rss(path, "<ttl>60</ttl>")),
        "/max-age" => (OK, feed + "Cache-Control: max-age=1800\r\n", rss(path, "")),
        "/retry" if nth == 1 => ("503 Service Unavailable", "Retry-After: 120\r\n".into(), String::new()),
        "/retry-date" if nth == 1 => {
            let at = chrono::Utc::now() + chrono::Duration::seconds(300);
            let date = at.format("%a, %d %b %Y %H:%M:%S GMT");
            (
                "429 Too Many Requests",
                format!("Retry-After: {date}\r\n"),
                String::new(),
            )
        }
        "/fail" => ("500 Internal Server Error", String::new(), "broken".into()),
        "/missing" => ("404 Not Found", String::new(), "no such feed".into()),
        "/html" => (
            OK,
            "Content-Type: text/html\r\n".into(),
            "<!DOCTYPE html><html><body><p>Moved to our new site</p></body></html>".into(),
        ),
        "/empty" => (OK, feed, String::new()),
        "/loop" => ("301 Moved Permanently", "Location: /loop\r\n".into(), String::new()),
        "/gone" => ("410 Gone", String::new(), String::new()),
        _ => (OK, feed, rss(path, "")),
    }
}

async fn serve(listener: TcpListener, log: Log) {
    while let Ok((mut sock, _)) = listener.accept().await {
        let log = log.clone();
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let text = String::from_utf8_lossy(&head);
            let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
            let nth = {
                let mut l = log.lock().unwrap();
                l.push((path.clone(), Instant::now()));
                l.iter().filter(|(p, _)| *p == path).count()
            };
            match path.as_str() {
                // Nothing after the request: the fetch deadline ends it.
                "/never-headers" => {
                    tokio::time::sleep(Duration::from_secs(24 * 3600)).await;
                    return;
                }
                // A byte a second of a 1,000-byte body.
                "/trickle" => {
                    let head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: 1000\r\n\r\n";
                    let _ = sock.write_all(head.as_bytes()).await;
                    for _ in 0..1000 {
                        if sock.write_all(b"<").await.is_err() {
                            return;
                        }
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    return;
                }
                // The connection reset instead of an answer.
                "/reset" => {
                    // SO_LINGER 0: closing sends a reset, not a FIN (with a
                    // zero timeout the close does not block).
                    #[allow(deprecated)]
                    let _ = sock.set_linger(Some(Duration::ZERO));
                    return;
                }
                _ => {}
            }
            let (status, headers, body) = respond(&path, nth);
            let reply = format!(
                "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
            let _ = sock.shutdown().await;
        });
    }
}

/// Seconds from `start` of each request for `path`.
fn times(log: &Log, path: &str, start: Instant) -> Vec<f64> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, t)| t.duration_since(start).as_secs_f64())
        .collect()
}

fn gaps(t: &[f64]) -> Vec<f64> {
    t.windows(2).map(|w| w[1] - w[0]).collect()
}

fn within(x: f64, lo: f64, hi: f64) -> bool {
    (lo..=hi).contains(&x)
}

#[tokio::test(start_paused = true)]
async fn next_polls_fall_when_the_rules_say_in_virtual_time() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let log: Log = Arc::default();
    tokio::spawn(serve(listener, log.clone()));
    let paths = ["/ok", "/ttl", "/max-age", "/retry", "/retry-date", "/fail", "/gone"]
        .into_iter()
        .chain(BACKING_OFF)
        .collect::<Vec<_>>();
    let urls: Vec<String> = paths.iter().map(|p| format!("http://{addr}{p}")).collect();
    let cfg = common::TestConfig::new(&urls, "interval = \"10m\"\nmax_interval = \"6h\"");
    let config = newshound::config::load(&cfg.path()).unwrap();

    let start = Instant::now();
    let cancel = CancellationToken::new();
    let daemon = tokio::spawn(newshound::app::run_daemon_with_clock(
        config,
        cancel.clone(),
        Clock::tokio(),
    ));
    // Virtual time runs on by itself whenever the runtime waits for the
    // store thread or the blocking pool, up to the next timer: stepping a
    // millisecond at a time through start-up, when the first polls are
    // 20 ms apart, and a second at a time after, keeps such jumps small
    // however slow those threads are (on a loaded machine, one-second
    // steps let start-up jump past the first polls' spread).
    for _ in 0..2000 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for _ in 2..3 * 3600 {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    cancel.cancel();
    daemon.await.unwrap().unwrap();

    let all: Vec<String> = paths
        .iter()
        .map(|p| format!("{p}: {:?}", times(&log, p, start)))
        .collect();
    let all = all.join("\n");
    // Start-up (opening the store costs virtual time too, see above): every
    // feed's first poll within one second of the first (spread by 20 ms per
    // feed).
    let firsts: Vec<f64> = paths
        .iter()
        .map(|p| times(&log, p, start).first().copied().unwrap_or(f64::MAX))
        .collect();
    let first = firsts.iter().cloned().fold(f64::MAX, f64::min);
    assert!(firsts.iter().all(|t| *t - first < 1.0), "first polls spread:\n{all}");
    // The interval, 10 min with ±10% jitter; the jitter varies.
    let ok = gaps(&times(&log, "/ok", start));
    assert!(ok.len() >= 15, "{all}");
    assert!(ok.iter().all(|g| within(*g, 540.0, 661.0)), "/ok gaps {ok:?}");
    let spread = ok.iter().cloned().fold(f64::MIN, f64::max) - ok.iter().cloned().fold(f64::MAX, f64::min);
    assert!(spread > 10.0, "no jitter: {ok:?}");
    // RSS <ttl>60</ttl>: an hour, not ten minutes.
    let ttl = gaps(&times(&log, "/ttl", start));
    assert!(
        !ttl.is_empty() && ttl.iter().all(|g| within(*g, 3240.0, 3961.0)),
        "/ttl gaps {ttl:?}"
    );
    // Cache-Control max-age=1800: half an hour.
    let max_age = gaps(&times(&log, "/max-age", start));
    assert!(
        max_age.len() >= 4 && max_age.iter().all(|g| within(*g, 1620.0, 1981.0)),
        "/max-age gaps {max_age:?}"
    );
    // 503 with Retry-After: 120 is a wait of exactly 120 s, then the
    // regular interval.
    let retry = gaps(&times(&log, "/retry", start));
    assert!(within(retry[0], 119.9, 121.0), "/retry gaps {retry:?}");
    assert!(within(retry[1], 540.0, 661.0), "/retry gaps {retry:?}");
    // 429 with Retry-After as an HTTP date 300 s ahead (whole seconds).
    let retry_date = gaps(&times(&log, "/retry-date", start));
    assert!(within(retry_date[0], 298.0, 301.0), "/retry-date gaps {retry_date:?}");
    assert!(within(retry_date[1], 540.0, 661.0), "/retry-date gaps {retry_date:?}");
    // 500 every time: the wait doubles (10, 20, 40 min, each ±10%).
    let fail = gaps(&times(&log, "/fail", start));
    assert!(fail.len() >= 3, "/fail gaps {fail:?}");
    for (i, g) in fail.iter().take(3).enumerate() {
        let want = 600.0 * f64::from(1u32 << i);
        assert!(within(*g, want * 0.9, want * 1.1 + 1.0), "/fail gap {i}: {fail:?}");
    }
    // Every other failure backs off the same way.
    for p in BACKING_OFF {
        let g = gaps(&times(&log, p, start));
        assert!(
            g.len() >= 2 && within(g[0], 540.0, 661.0 + 3.0) && within(g[1], 1080.0, 1321.0 + 3.0),
            "{p} gaps {g:?}"
        );
    }
    // 410: never asked again.
    assert_eq!(times(&log, "/gone", start).len(), 1, "{all}");

    // The stored health agrees.
    let store = newshound::store::Store::open(&cfg.db()).unwrap();
    let feeds = store.feed_health().await.unwrap();
    store.close().await;
    let state = |p: &str| {
        feeds
            .iter()
            .find(|f| f.row.url.ends_with(p))
            .map(|f| f.row.state.clone())
            .unwrap()
    };
    assert_eq!(state("/gone").health, newshound::scheduler::Health::Gone);
    assert_eq!(state("/fail").health, newshound::scheduler::Health::Backoff);
    assert_eq!(state("/fail").consecutive_failures as usize, fail.len() + 1);
    assert_eq!(state("/ok").health, newshound::scheduler::Health::Ok);
    for (p, kind) in [
        ("/never-headers", "timeout"),
        ("/trickle", "timeout"),
        ("/reset", "connect"),
        ("/missing", "http_status"),
        ("/html", "html"),
        ("/empty", "empty"),
        ("/loop", "redirect"),
        ("/fail", "http_status"),
        ("/gone", "gone"),
    ] {
        assert_eq!(state(p).error_kind.map(|k| k.as_str()), Some(kind), "{p}");
    }
}
