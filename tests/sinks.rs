//! Alert sinks against real receivers on 127.0.0.1: a webhook endpoint
//! that is down, then failing, then slow; 410 and a wrong key; SMTP, single
//! and digest; a program that hangs; secrets kept out of every output;
//! and config errors with their places.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::receiver::{Answer, Receiver, SmtpServer, free_port};
use common::*;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A config over one fresh feed of `n` matching items, with `sinks`
/// appended (TOML `[[sink]]` tables).
fn setup(n: usize, sinks: &str, polling: &str) -> (TestConfig, FixtureServer, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let titles: Vec<String> = (0..n)
        .map(|i| format!("Ukraine peace plan: round {i} in Geneva"))
        .collect();
    let guids: Vec<String> = (0..n).map(|i| format!("g{i}")).collect();
    let items: Vec<(&str, &str)> = titles
        .iter()
        .map(String::as_str)
        .zip(guids.iter().map(String::as_str))
        .collect();
    write_feed(dir.path(), "f.xml", &items);
    let server = FixtureServer::start_in(dir.path().to_path_buf());
    let cfg = TestConfig::new(&[server.url("/feed/f.xml")], polling);
    let path = cfg.path();
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push('\n');
    text.push_str(sinks);
    std::fs::write(&path, text).unwrap();
    (cfg, server, dir)
}

fn wait_for(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn verify(r: &common::receiver::Received) -> bool {
    let mut h = axum::http::HeaderMap::new();
    for (k, v) in &r.headers {
        h.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    standardwebhooks::Webhook::new(SECRET)
        .unwrap()
        .verify(&r.body, &h)
        .is_ok()
}

/// The receiver is down for 10 s, then answers 500 to every third request,
/// then is slow: every alert arrives, signed, in order, while the log
/// sink is not held up at all.
#[test]
fn webhooks_arrive_signed_and_in_order_through_outage_errors_and_slowness() {
    let port = free_port();
    let sinks = format!(
        "[[sink]]\nname = \"desk\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/hook\"\nsecret_env = \"NH_TEST_SECRET\"\n\
         timeout = \"3s\"\nretry = [\"1s\", \"1s\", \"1s\", \"2s\", \"2s\", \"2s\", \"2s\", \"2s\", \"2s\", \"2s\", \"2s\", \"2s\"]\n"
    );
    let (cfg, _feeds, _dir) = setup(12, &sinks, "interval = \"1h\"");
    let started = Instant::now();
    let _daemon = Daemon(
        bin()
            .args(["run", "--config", cfg.path().to_str().unwrap()])
            .env("NH_TEST_SECRET", SECRET)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(8, "the log sink", || cfg.alerts().len() == 12);
    let log_ready = started.elapsed();
    assert!(
        log_ready < Duration::from_secs(8),
        "the log waited for the webhook: {log_ready:?}"
    );
    while started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let rx = Receiver::start_at(
        &format!("127.0.0.1:{port}"),
        Arc::new(|n, _, _, _| {
            if (n + 1) % 3 == 0 {
                Answer::status(500)
            } else if n >= 8 {
                Answer {
                    delay: Duration::from_millis(1500),
                    ..Answer::ok()
                }
            } else {
                Answer::ok()
            }
        }),
    );
    let delivered = |rx: &Receiver| -> Vec<String> {
        let mut seen = Vec::new();
        for r in rx.received() {
            let id = r.header("webhook-id").unwrap().to_string();
            if r.status == 200 && !seen.contains(&id) {
                seen.push(id);
            }
        }
        seen
    };
    wait_for(90, "every webhook", || delivered(&rx).len() == 12);
    let got = rx.received();
    assert!(got.iter().any(|r| r.status == 500), "the script answered 500 to some");
    assert!(got.iter().all(verify), "a signature did not verify");
    // In order: the order of the log, which is the order they were raised.
    let log_ids: Vec<String> = cfg
        .alerts()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(delivered(&rx), log_ids);
    // The same id on every retry, and the body is the alert itself.
    for r in &got {
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["id"].as_str(), r.header("webhook-id"));
    }
    let counts = with_store(&cfg.db(), async |s| s.outbox_counts().await.unwrap());
    assert_eq!((counts.pending, counts.dead, counts.delivered), (0, 0, 24));
}

fn scrape(addr: &str) -> prometheus_parse::Scrape {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut s, b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut text = String::new();
    std::io::Read::read_to_string(&mut s, &mut text).unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap().to_string();
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_string()))).unwrap()
}

fn alerts_metric(scrape: &prometheus_parse::Scrape, sink: &str, outcome: &str) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| {
            s.metric == "newshound_alerts_total"
                && s.labels.get("sink") == Some(sink)
                && s.labels.get("outcome") == Some(outcome)
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

/// 410 stops a sink; a wrong key shows in `alerts --failed` and in the
/// metrics; neither holds up the log.
#[test]
fn gone_endpoints_stop_and_bad_keys_show_without_holding_anything_up() {
    let gone = Receiver::start(Arc::new(|_, _, _, _| Answer::status(410)));
    let strict = Receiver::start(Arc::new(|_, _, headers, body| {
        let ok = standardwebhooks::Webhook::new(SECRET)
            .unwrap()
            .verify(body, headers)
            .is_ok();
        Answer::status(if ok { 200 } else { 401 })
    }));
    let listen = format!("127.0.0.1:{}", free_port());
    let sinks = format!(
        "[[sink]]\nname = \"gone\"\nkind = \"webhook\"\nurl = \"{}\"\n\n\
         [[sink]]\nname = \"badkey\"\nkind = \"webhook\"\nurl = \"{}\"\nsecret_env = \"NH_WRONG\"\nretry = [\"1s\"]\n",
        gone.url("/hook"),
        strict.url("/hook")
    );
    let (cfg, _feeds, _dir) = setup(3, &sinks, "interval = \"1h\"");
    let text = std::fs::read_to_string(cfg.path()).unwrap();
    std::fs::write(
        cfg.path(),
        text.replace("[polling]", &format!("[http]\nlisten = \"{listen}\"\n\n[polling]")),
    )
    .unwrap();
    let _daemon = Daemon(
        bin()
            .args(["run", "--config", cfg.path().to_str().unwrap()])
            .env("NH_WRONG", "whsec_c2VjcmV0LWJ1dC1ub3QtdGhlLXJpZ2h0LW9uZQ==")
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for(10, "the log", || cfg.alerts().len() == 3);
    let failed = || {
        let out = run(&["alerts", "--failed", "--json", "--config", cfg.path().to_str().unwrap()]);
        stdout(&out)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .collect::<Vec<_>>()
    };
    let done = || {
        let f = failed();
        f.len() == 6 && f.iter().all(|d| d["state"] == "dead")
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(done(), "{:#?}", failed());
    let f = failed();
    let of = |sink: &str| f.iter().filter(|d| d["sink"] == sink).cloned().collect::<Vec<_>>();
    assert!(
        of("badkey")
            .iter()
            .all(|d| d["last_error"].as_str().unwrap().contains("401")),
        "{f:?}"
    );
    assert!(of("badkey").iter().all(|d| d["attempts"] == 2), "{f:?}");
    let gone_errors: Vec<String> = of("gone")
        .iter()
        .map(|d| d["last_error"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        gone_errors.iter().filter(|e| e.contains("410 Gone")).count(),
        3,
        "{gone_errors:?}"
    );
    // One request reached the removed endpoint; after its 410, none.
    assert_eq!(gone.received().len(), 1);
    assert_eq!(strict.received().len(), 6);
    let m = scrape(&listen);
    assert_eq!(alerts_metric(&m, "badkey", "failed"), 6.0);
    assert_eq!(alerts_metric(&m, "badkey", "dead"), 3.0);
    assert_eq!(alerts_metric(&m, "gone", "dead"), 3.0);
    assert_eq!(alerts_metric(&m, "log", "delivered"), 3.0);

    // Mended: `alerts retry --sink badkey` sends them again.
    let out = run(&[
        "alerts",
        "retry",
        "--sink",
        "badkey",
        "--config",
        cfg.path().to_str().unwrap(),
    ]);
    assert!(
        stdout(&out).starts_with("3 dead deliveries queued again"),
        "{}",
        stdout(&out)
    );
}

/// Messages a loopback SMTP server gets parse as mail: one per alert, and
/// one digest.
#[test]
fn smtp_sends_one_message_per_alert_and_digests() {
    let smtp = SmtpServer::start();
    let digest = SmtpServer::start();
    let sinks = format!(
        "[[sink]]\nname = \"mail\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"newshound@example.org\"\nto = [\"desk@example.org\", \"chief@example.org\"]\n\n\
         [[sink]]\nname = \"daily\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"newshound@example.org\"\nto = [\"desk@example.org\"]\ndigest = \"24h\"\n",
        smtp.port, digest.port
    );
    let (cfg, _feeds, _dir) = setup(3, &sinks, "");
    let out = run(&["once", "--all", "--config", cfg.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ids: Vec<String> = cfg
        .alerts()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect();
    let singles = smtp.messages();
    assert_eq!(singles.len(), 3);
    let parser = mail_parser::MessageParser::default();
    let mut seen = HashSet::new();
    for raw in &singles {
        let m = parser.parse(raw).unwrap();
        let mid = m.message_id().unwrap();
        let id = ids
            .iter()
            .find(|id| mid.starts_with(id.as_str()))
            .expect("Message-ID from the alert id");
        assert!(mid.ends_with(".mail@newshound.invalid"), "{mid}");
        seen.insert(id.clone());
        assert!(m.subject().unwrap().starts_with("[peace] Ukraine peace plan: round"));
        assert_eq!(m.to().unwrap().as_list().unwrap().len(), 2);
        assert!(m.body_text(0).unwrap().contains("matched:"));
        assert!(m.body_html(0).unwrap().contains("<a href=\"https://n.example/"));
    }
    assert_eq!(seen.len(), 3);
    let digests = digest.messages();
    assert_eq!(digests.len(), 1);
    let d = parser.parse(&digests[0]).unwrap();
    assert_eq!(d.subject().unwrap(), "[newshound] 3 new stories (peace)");
    assert!(d.message_id().unwrap().starts_with("digest_"));
    let text = d.body_text(0).unwrap();
    assert_eq!(text.matches("[peace] Ukraine peace plan").count(), 3, "{text}");
}

/// A program that hangs is killed (with what it started) at its timeout
/// and the alert retried; a program that exits 0 has the alert JSON.
#[test]
fn exec_sinks_get_json_and_a_hung_program_is_killed_and_retried() {
    let out_dir = tempfile::tempdir().unwrap();
    let script = r#"if [ ! -e "$1/hung" ]; then touch "$1/hung"; sleep 3; touch "$1/woke"; exit 0; fi; cat > "$1/$NEWSHOUND_ALERT_ID.json""#;
    let sinks = format!(
        "[[sink]]\nname = \"prog\"\nkind = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", '{script}', \"sh\", \"{}\"]\ntimeout = \"1s\"\nretry = [\"1s\"]\n",
        out_dir.path().display()
    );
    let (cfg, _feeds, _dir) = setup(3, &sinks, "");
    let c = cfg.path();
    let c = c.to_str().unwrap();
    let first = run(&["once", "--all", "--config", c]);
    assert_eq!(first.status.code(), Some(75), "{}", stderr(&first));
    assert!(stderr(&first).contains("no answer within 1s"), "{}", stderr(&first));
    let second = run(&["once", "--config", c]);
    assert!(second.status.success(), "{}", stderr(&second));
    for a in cfg.alerts() {
        let id = a["id"].as_str().unwrap();
        let got: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out_dir.path().join(format!("{id}.json"))).unwrap()).unwrap();
        assert_eq!(got, a);
    }
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        !out_dir.path().join("woke").exists(),
        "the hung program outlived its timeout"
    );
}

/// Secrets given through the environment and files never show: not in
/// logs at trace level, not in `check`, not in `alerts --failed`.
#[test]
fn secrets_never_show() {
    let rx = Receiver::start(Arc::new(|_, _, _, _| Answer::status(500)));
    let secrets = tempfile::tempdir().unwrap();
    let token_url = rx.url("/hook/tok-SECRET-123");
    std::fs::write(secrets.path().join("hook"), &token_url).unwrap();
    let sinks = format!(
        "[[sink]]\nname = \"desk\"\nkind = \"webhook\"\nurl_file = \"{}\"\nsecret_env = \"NH_KEY\"\n\n\
         [[sink]]\nname = \"chat\"\nkind = \"slack\"\nurl_file = \"$CREDENTIALS_DIRECTORY/hook\"\n\n\
         [[sink]]\nname = \"mail\"\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nusername = \"u\"\npassword_env = \"NH_PW\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\n",
        secrets.path().join("hook").display(),
        free_port()
    );
    let (cfg, _feeds, _dir) = setup(2, &sinks, "");
    let c = cfg.path();
    let c = c.to_str().unwrap();
    let key_b64 = SECRET.trim_start_matches("whsec_");
    let forbidden = ["tok-SECRET-123", "pw-SECRET-456", key_b64];
    let with_env = |args: &[&str]| {
        bin()
            .args(args)
            .env("NH_KEY", SECRET)
            .env("NH_PW", "pw-SECRET-456")
            .env("CREDENTIALS_DIRECTORY", secrets.path())
            .output()
            .unwrap()
    };
    let mut outputs = Vec::new();
    let once = with_env(&["once", "--all", "--log", "trace", "--config", c]);
    assert_eq!(once.status.code(), Some(75), "{}", stderr(&once));
    assert!(
        rx.received().iter().any(|r| r.path == "/hook/tok-SECRET-123"),
        "the secret URL was used"
    );
    outputs.push(once);
    outputs.push(with_env(&["check", "--config", c]));
    outputs.push(with_env(&["alerts", "--failed", "--config", c]));
    outputs.push(with_env(&["alerts", "--failed", "--json", "--config", c]));
    // A broken config around the secrets: its errors name keys, not values.
    let text = std::fs::read_to_string(c).unwrap();
    std::fs::write(
        c,
        text.replace("kind = \"slack\"", "kind = \"slack\"\nsecret_env = \"NH_KEY\""),
    )
    .unwrap();
    let broken = with_env(&["check", "--config", c]);
    assert_eq!(broken.status.code(), Some(1));
    outputs.push(broken);
    for o in &outputs {
        let all = format!("{}{}", stdout(o), stderr(o));
        assert!(!all.is_empty());
        for f in forbidden {
            assert!(!all.contains(f), "'{f}' shown in:\n{all}");
        }
    }
    let failed = stdout(&outputs[2]);
    assert!(
        failed.contains("desk") && failed.contains("the receiver answered 500"),
        "{failed}"
    );
}

/// `check` names each sink problem with its place.
#[test]
fn sink_config_errors_have_places() {
    let sinks = "[[sink]]\nname = \"a\"\nkind = \"pager\"\n\n\
                 [[sink]]\nname = \"b\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\ntopic = \"t\"\n\n\
                 [[sink]]\nname = \"c\"\nkind = \"slack\"\nurl = \"https://hooks.example/T/B/X\"\n\n\
                 [[sink]]\nname = \"d\"\nkind = \"smtp\"\nhost = \"mail.example.org\"\ntls = \"none\"\nfrom = \"a@example.org\"\nto = [\"b@example.org\"]\n\n\
                 [[sink]]\nname = \"e\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:9/x\"\nsecret_env = \"NH_UNSET_VARIABLE\"\nquiet_hours = \"25:00-07:00\"\n";
    let (cfg, _feeds, _dir) = setup(1, sinks, "");
    let wl = cfg.dir.path().join("watchlists/peace.toml");
    let text = std::fs::read_to_string(&wl).unwrap();
    let text = text.replace(
        "severity = \"high\"",
        "severity = \"high\"\nsinks = [\"log\", \"nowhere\"]\nescalate_at = 1",
    );
    std::fs::write(&wl, format!("{text}\n[digest]\nlog = \"5s\"\nc = \"30m\"\n")).unwrap();
    let wl_line = |needle: &str| {
        std::fs::read_to_string(&wl)
            .unwrap()
            .lines()
            .position(|l| l.contains(needle))
            .unwrap()
            + 1
    };
    let out = run(&["check", "--config", cfg.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = format!("{}{}", stdout(&out), stderr(&out));
    let line_of = |needle: &str| {
        std::fs::read_to_string(cfg.path())
            .unwrap()
            .lines()
            .position(|l| l.contains(needle))
            .unwrap()
            + 1
    };
    let expect = [
        (line_of("kind = \"pager\""), "unknown sink kind 'pager'"),
        (line_of("topic = \"t\""), "a webhook sink does not use 'topic'"),
        (line_of("hooks.example"), "url is a secret: give it as url_env"),
        (
            line_of("host = \"mail.example.org\"") + 1,
            "only allowed towards a loopback host",
        ),
        (
            line_of("NH_UNSET_VARIABLE"),
            "environment variable NH_UNSET_VARIABLE is not set",
        ),
        (line_of("25:00"), "quiet_hours must be like"),
    ];
    for (line, msg) in expect {
        assert!(
            err.contains(&format!("newshound.toml:{line}:")) && err.contains(msg),
            "{line} {msg}:\n{err}"
        );
    }
    assert!(
        err.contains("peace.toml:") && err.contains("unknown sink 'nowhere'"),
        "{err}"
    );
    for (line, msg) in [
        (wl_line("log = \"5s\""), "a digest period must be at least 1m"),
        (
            wl_line("c = \"30m\""),
            "names sink 'c', which this watchlist does not alert",
        ),
        (
            wl_line("escalate_at = 1"),
            "escalate_at must be a number of outlets, 2 or more",
        ),
    ] {
        assert!(
            err.contains(&format!("peace.toml:{line}:")) && err.contains(msg),
            "{line} {msg}:\n{err}"
        );
    }
}

/// Slack, Discord and ntfy get their own shapes, each with the watchlist,
/// title, outlet, link and matched terms; ntfy's token goes as a bearer.
#[test]
fn chat_and_push_sinks_get_their_own_shapes() {
    let rx = Receiver::start(Arc::new(|_, _, _, _| Answer::ok()));
    let sinks = format!(
        "[[sink]]\nname = \"team\"\nkind = \"slack\"\nurl_env = \"NH_SLACK\"\n\n\
         [[sink]]\nname = \"guild\"\nkind = \"discord\"\nurl_env = \"NH_DISCORD\"\n\n\
         [[sink]]\nname = \"phone\"\nkind = \"ntfy\"\nurl = \"{}\"\ntopic = \"peace-desk\"\ntoken_env = \"NH_NTFY\"\n",
        rx.url("/ntfy")
    );
    let (cfg, _feeds, _dir) = setup(3, &sinks, "");
    let out = bin()
        .args(["once", "--config", cfg.path().to_str().unwrap()])
        .env("NH_SLACK", rx.url("/slack/T000/B000/XXXX"))
        .env("NH_DISCORD", rx.url("/discord/123/abc"))
        .env("NH_NTFY", "tk_secret_token")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let got = rx.received();
    let on = |prefix: &str| -> Vec<serde_json::Value> {
        got.iter()
            .filter(|r| r.path.starts_with(prefix))
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    };
    let (slack, discord, ntfy) = (on("/slack/"), on("/discord/"), on("/ntfy"));
    assert_eq!((slack.len(), discord.len(), ntfy.len()), (3, 3, 3));
    for i in 0..3 {
        let title = format!("Ukraine peace plan: round {i} in Geneva");
        let link = format!("https://n.example/g{i}");
        let text = slack
            .iter()
            .map(|v| v["text"].as_str().unwrap())
            .find(|t| t.contains(&title))
            .unwrap_or_else(|| panic!("no slack message for {title}: {slack:?}"));
        for part in ["[peace]", "HIGH", "feed 0", link.as_str(), "matched: "] {
            assert!(text.contains(part), "{part} missing from {text}");
        }
        let content = discord
            .iter()
            .map(|v| v["content"].as_str().unwrap())
            .find(|t| t.contains(&title))
            .unwrap();
        assert!(content.chars().count() <= 2000 && content.contains(&link));
        let push = ntfy.iter().find(|v| v["click"] == link.as_str()).unwrap();
        assert_eq!(push["topic"], "peace-desk");
        assert!(push["title"].as_str().unwrap().contains(&title));
        assert!(push["message"].as_str().unwrap().contains("matched: "));
        assert_eq!(push["priority"], 4, "high severity");
        assert!(push["tags"].as_array().unwrap().iter().any(|t| t == "peace"));
    }
    assert!(
        got.iter()
            .filter(|r| r.path == "/ntfy")
            .all(|r| r.header("authorization") == Some("Bearer tk_secret_token"))
    );
}
