//! Test support: a real HTTP server on 127.0.0.1 serving fixture feeds, a
//! temporary config folder, and a way to run the real binary.
#![allow(dead_code)]

pub mod receiver;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;

/// One request the fixture server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub if_none_match: Option<String>,
    pub user_agent: Option<String>,
    pub status: u16,
}

#[derive(Clone)]
struct ServerState {
    fixtures: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    /// Fixture names whose content changes on every request.
    bump: Arc<Mutex<u64>>,
}

pub struct FixtureServer {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// TCP connections accepted so far.
    pub connections: Arc<AtomicUsize>,
    _rt: tokio::runtime::Runtime,
}

pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/feeds")
}

/// Replaces date placeholders so that fixture items are recent (or old)
/// relative to now.
pub fn render(text: &str) -> String {
    let now = chrono::Utc::now();
    let recent = now - chrono::Duration::hours(1);
    let old = now - chrono::Duration::days(10);
    text.replace("{{recent}}", &recent.to_rfc2822())
        .replace("{{recent3339}}", &recent.to_rfc3339())
        .replace("{{old}}", &old.to_rfc2822())
}

fn etag_of(body: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    body.hash(&mut h);
    format!("\"{:x}\"", h.finish())
}

async fn serve_feed(State(st): State<ServerState>, UrlPath(name): UrlPath<String>, headers: HeaderMap) -> Response {
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let ua = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let record = |status: u16| {
        st.seen.lock().unwrap().push(Seen {
            path: format!("/feed/{name}"),
            if_none_match: inm.clone(),
            user_agent: ua.clone(),
            status,
        })
    };
    let path = st.fixtures.join(&name);
    let Ok(text) = std::fs::read_to_string(&path) else {
        record(404);
        return StatusCode::NOT_FOUND.into_response();
    };
    let body = render_cached(&text);
    let etag = etag_of(&body);
    if inm.as_deref() == Some(etag.as_str()) {
        record(304);
        let mut r = StatusCode::NOT_MODIFIED.into_response();
        r.headers_mut()
            .insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
        return r;
    }
    record(200);
    let ctype = if name.ends_with(".json") {
        "application/feed+json"
    } else {
        "application/xml; charset=utf-8"
    };
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::ETAG, HeaderValue::from_str(&etag).unwrap());
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    r
}

/// Renders a fixture once per process, so that its ETag stays stable across
/// polls.
fn render_cached(text: &str) -> String {
    static CACHE: Mutex<Option<std::collections::HashMap<String, String>>> = Mutex::new(None);
    let mut g = CACHE.lock().unwrap();
    let map = g.get_or_insert_with(Default::default);
    map.entry(text.to_string()).or_insert_with(|| render(text)).clone()
}

/// `/status/CODE`, with a `Retry-After` header when the query asks for one
/// (`?retry_after=120`).
async fn serve_status(
    State(st): State<ServerState>,
    UrlPath(code): UrlPath<u16>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Response {
    st.seen.lock().unwrap().push(Seen {
        path: format!("/status/{code}"),
        if_none_match: None,
        user_agent: None,
        status: code,
    });
    let mut r = StatusCode::from_u16(code)
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
        .into_response();
    if let Some(ra) = query.get("retry_after") {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_str(ra).unwrap());
    }
    r
}

async fn serve_slow() -> Response {
    tokio::time::sleep(Duration::from_secs(30)).await;
    "too late".into_response()
}

async fn serve_html() -> Response {
    let mut r =
        "<!DOCTYPE html><html><head><title>Home</title></head><body><p>Welcome</p></body></html>".into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    r
}

impl FixtureServer {
    pub fn start() -> FixtureServer {
        FixtureServer::start_in(fixtures_dir())
    }

    /// Serves the feeds in `dir` (read at every request) under `/feed/`.
    pub fn start_in(dir: PathBuf) -> FixtureServer {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = ServerState {
            fixtures: dir,
            seen: seen.clone(),
            bump: Arc::new(Mutex::new(0)),
        };
        let app = Router::new()
            .route("/feed/{name}", get(serve_feed))
            .route("/status/{code}", get(serve_status))
            .route("/slow", get(serve_slow))
            .route("/html", get(serve_html))
            .with_state(state);
        let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let listener = listener.tap_io(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        });
        rt.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        FixtureServer {
            addr,
            seen,
            connections,
            _rt: rt,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A config folder in a temp dir.
pub struct TestConfig {
    pub dir: tempfile::TempDir,
}

pub const TEST_WATCHLIST: &str = r#"
name = "peace"
description = "test watchlist"
severity = "high"
exclude = ["Gaza -Ukraine"]

[aliases]
envoys = ["Witkoff", "Уиткофф", "Dmitriev~", "Дмитриев*"]

[[rule]]
id = "plan"
query = '("peace plan" OR "мирний план" OR "мирный план") AND (Ukraine OR Україн* OR Украин* OR Zelensky OR Зеленськ*)'

[[rule]]
id = "envoys"
query = "@envoys"
"#;

impl TestConfig {
    /// Writes `newshound.toml` with the given feed urls, the test watchlist
    /// and extra `[polling]` lines.
    pub fn new(feeds: &[String], polling: &str) -> TestConfig {
        // Every test feed is on 127.0.0.1: one site. Politeness is tested on
        // its own; elsewhere it would only slow the tests down.
        let mut polling = polling.to_string();
        if !polling.contains("host_gap") {
            polling.push_str("\nhost_gap = \"0s\"");
        }
        if !polling.contains("per_host") {
            polling.push_str("\nper_host = 16");
        }
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("watchlists")).unwrap();
        std::fs::write(root.join("watchlists/peace.toml"), TEST_WATCHLIST).unwrap();
        let mut list = String::new();
        for (i, u) in feeds.iter().enumerate() {
            list.push_str(&format!("[[feed]]\nurl = \"{u}\"\nname = \"feed {i}\"\n\n"));
        }
        std::fs::write(root.join("feeds.toml"), list).unwrap();
        std::fs::write(
            root.join("newshound.toml"),
            format!(
                "database = \"data/newshound.db\"\nalert_log = \"data/alerts.jsonl\"\nfeeds = \"feeds.toml\"\nwatchlists = \"watchlists\"\n\n[polling]\ntimeout = \"3s\"\nconnect_timeout = \"2s\"\nmin_interval = \"1s\"\n{polling}\n"
            ),
        )
        .unwrap();
        TestConfig { dir }
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().join("newshound.toml")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("data/newshound.db")
    }

    pub fn alert_log(&self) -> PathBuf {
        self.dir.path().join("data/alerts.jsonl")
    }

    pub fn alerts(&self) -> Vec<serde_json::Value> {
        match std::fs::read_to_string(self.alert_log()) {
            Ok(t) => t.lines().map(|l| serde_json::from_str(l).unwrap()).collect(),
            Err(_) => Vec::new(),
        }
    }
}

pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_newshound"));
    c.env_remove("NEWSHOUND_CONFIG")
        .env_remove("RUST_LOG")
        .env_remove("NOTIFY_SOCKET");
    c
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Opens the store of a finished run, on a runtime of its own.
pub fn with_store<R>(db: &Path, f: impl AsyncFnOnce(&newshound::store::Store) -> R) -> R {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = newshound::store::Store::open(db).unwrap();
        let r = f(&store).await;
        store.close().await;
        r
    })
}

/// A feed of `items` (title, guid) written where the fixture server reads
/// it.
pub fn write_feed(dir: &std::path::Path, name: &str, items: &[(&str, &str)]) {
    let mut xml = String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>T</title>");
    for (title, guid) in items {
        xml.push_str(&format!(
            "<item><title>{title}</title><guid>{guid}</guid><link>https://n.example/{guid}</link><pubDate>{{{{recent}}}}</pubDate></item>"
        ));
    }
    xml.push_str("</channel></rss>");
    std::fs::write(dir.join(name), xml).unwrap();
}
