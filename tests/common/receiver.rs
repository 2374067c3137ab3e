//! Alert receivers on 127.0.0.1 for the sink tests: an HTTP endpoint whose
//! answers a test scripts (status, delay, Retry-After), and a small SMTP
//! server that keeps the messages it is given.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;

/// One POST the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// The status it was answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

/// How the receiver answers its `n`-th request (from 0), `since` its start.
pub struct Answer {
    pub status: u16,
    pub delay: Duration,
    pub retry_after: Option<u64>,
}

impl Answer {
    pub fn ok() -> Answer {
        Answer::status(200)
    }

    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            delay: Duration::ZERO,
            retry_after: None,
        }
    }
}

pub type Script = Arc<dyn Fn(usize, Duration, &HeaderMap, &[u8]) -> Answer + Send + Sync>;

#[derive(Clone)]
struct RxState {
    got: Arc<Mutex<Vec<Received>>>,
    script: Script,
    started: Instant,
}

async fn receive(State(st): State<RxState>, uri: axum::http::Uri, headers: HeaderMap, body: Bytes) -> Response {
    let n = st.got.lock().unwrap().len();
    let answer = (st.script)(n, st.started.elapsed(), &headers, &body);
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    st.got.lock().unwrap().push(Received {
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect(),
        body: body.to_vec(),
        status: answer.status,
    });
    let mut resp = (StatusCode::from_u16(answer.status).unwrap(), "").into_response();
    if let Some(s) = answer.retry_after {
        resp.headers_mut().insert("retry-after", s.to_string().parse().unwrap());
    }
    resp
}

/// An HTTP receiver of POSTs on 127.0.0.1.
pub struct Receiver {
    pub addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
    _rt: tokio::runtime::Runtime,
}

impl Receiver {
    /// Listens on `addr` (port 0: any), answering by `script`.
    pub fn start_at(addr: &str, script: Script) -> Receiver {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let got = Arc::new(Mutex::new(Vec::new()));
        let state = RxState {
            got: got.clone(),
            script,
            started: Instant::now(),
        };
        let app = Router::new().route("/{*path}", post(receive)).with_state(state);
        let listener = rt.block_on(tokio::net::TcpListener::bind(addr)).unwrap();
        let addr = listener.local_addr().unwrap();
        rt.spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, got, _rt: rt }
    }

    pub fn start(script: Script) -> Receiver {
        Receiver::start_at("127.0.0.1:0", script)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

/// A port on 127.0.0.1 free now (for a receiver started later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A plain SMTP server on 127.0.0.1 that accepts every message.
pub struct SmtpServer {
    pub port: u16,
    messages: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let messages = Arc::new(Mutex::new(Vec::new()));
        let keep = messages.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let keep = keep.clone();
                std::thread::spawn(move || {
                    let _ = smtp_session(conn, &keep);
                });
            }
        });
        SmtpServer { port, messages }
    }

    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.messages.lock().unwrap().clone()
    }
}

fn smtp_session(conn: std::net::TcpStream, keep: &Mutex<Vec<Vec<u8>>>) -> std::io::Result<()> {
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    w.write_all(b"220 test ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_ascii_uppercase();
        if cmd.starts_with("EHLO") {
            w.write_all(b"250-test\r\n250 8BITMIME\r\n")?;
        } else if cmd.starts_with("HELO")
            || cmd.starts_with("MAIL")
            || cmd.starts_with("RCPT")
            || cmd.starts_with("RSET")
            || cmd.starts_with("NOOP")
        {
            w.write_all(b"250 ok\r\n")?;
        } else if cmd.starts_with("DATA") {
            w.write_all(b"354 go on\r\n")?;
            let mut data = Vec::new();
            loop {
                let mut l = Vec::new();
                if r.read_until(b'\n', &mut l)? == 0 {
                    return Ok(());
                }
                if l == b".\r\n" {
                    break;
                }
                // Dot-stuffing undone.
                if l.starts_with(b"..") {
                    l.remove(0);
                }
                data.extend_from_slice(&l);
            }
            keep.lock().unwrap().push(data);
            w.write_all(b"250 queued\r\n")?;
        } else if cmd.starts_with("QUIT") {
            w.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            w.write_all(b"502 no\r\n")?;
        }
    }
}
