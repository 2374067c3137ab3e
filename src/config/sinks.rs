//! The `[[sink]]` tables of `newshound.toml`: where alerts go and how they
//! are delivered (retries, rate, digests, quiet hours), validated; secrets
//! read from the environment or from files and never shown.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use toml::Spanned;

use super::diagnostics::{Diagnostic, Source};
use super::paths::resolve;
use super::raw::RawSink;
use super::values::parse_duration;

/// A value that must not be shown: webhook URLs with tokens, HMAC keys,
/// passwords. Its `Debug` and `Display` print `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// STARTTLS on the submission port (587), required.
    StartTls,
    /// TLS from the first byte (465).
    Implicit,
    /// No encryption: only allowed towards a loopback host.
    None,
}

/// What a sink is, with its own settings.
#[derive(Debug, Clone, PartialEq)]
pub enum SinkKind {
    Jsonl {
        path: PathBuf,
        fsync: bool,
    },
    /// A POST of the alert JSON, signed by the Standard Webhooks scheme
    /// when a key is given (the bytes of `whsec_<base64>`).
    Webhook {
        url: Secret,
        key: Option<Secret>,
    },
    Slack {
        url: Secret,
    },
    Discord {
        url: Secret,
    },
    /// A JSON publish to an ntfy server (`url` is the server, `topic` the
    /// topic).
    Ntfy {
        url: Secret,
        topic: String,
        token: Option<Secret>,
    },
    Smtp {
        host: String,
        port: u16,
        tls: SmtpTls,
        username: Option<String>,
        password: Option<Secret>,
        from: String,
        to: Vec<String>,
    },
    /// A program run without a shell, the alert JSON on its stdin.
    Exec {
        program: PathBuf,
        args: Vec<String>,
    },
}

impl SinkKind {
    pub fn name(&self) -> &'static str {
        match self {
            SinkKind::Jsonl { .. } => "jsonl",
            SinkKind::Webhook { .. } => "webhook",
            SinkKind::Slack { .. } => "slack",
            SinkKind::Discord { .. } => "discord",
            SinkKind::Ntfy { .. } => "ntfy",
            SinkKind::Smtp { .. } => "smtp",
            SinkKind::Exec { .. } => "exec",
        }
    }
}

/// A window of the day, in the machine's local time, in which alerts below
/// `critical` are held and sent as one digest when it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Minutes after midnight.
    pub start: u32,
    pub end: u32,
}

impl QuietHours {
    /// Whether `minute` (after local midnight) falls in the window; a
    /// window may run past midnight (`22:00-07:00`).
    pub fn contains(&self, minute: u32) -> bool {
        if self.start <= self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }

    /// Minutes from `minute` until the window ends (0 outside it).
    pub fn minutes_left(&self, minute: u32) -> u32 {
        if !self.contains(minute) {
            return 0;
        }
        (self.end + 24 * 60 - minute) % (24 * 60)
    }
}

/// How a sink's deliveries are paced and retried.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// Deliveries in flight at once (1 keeps them in order).
    pub concurrency: usize,
    /// At most this many deliveries a minute.
    pub per_minute: Option<u32>,
    /// The waits before the second, third, ... attempt; after the last one
    /// fails the delivery is dead (kept, shown by `alerts --failed`).
    pub retry: Vec<Duration>,
    /// One request's deadline (HTTP, SMTP, the exec'd program).
    pub timeout: Duration,
    /// Collect alerts and send one digest per period instead of one message
    /// each.
    pub digest: Option<Duration>,
    pub quiet_hours: Option<QuietHours>,
    /// Above this many alerts in an hour, the rest of the hour's alerts are
    /// folded into one digest instead of dropped.
    pub max_per_hour: Option<u32>,
    /// The mode a watchlist chose for this sink (its `[digest]` table):
    /// `None` sends its alerts at once, `Some(period)` as a digest per
    /// period. Watchlists not named here follow `digest`.
    pub watchlists: BTreeMap<String, Option<Duration>>,
}

/// The default retry schedule: about a day in all.
pub fn default_retry() -> Vec<Duration> {
    [5, 300, 1800, 7200, 18000, 36000, 36000]
        .into_iter()
        .map(Duration::from_secs)
        .collect()
}

impl DeliveryPolicy {
    fn defaults(kind: &SinkKind) -> DeliveryPolicy {
        DeliveryPolicy {
            concurrency: 1,
            per_minute: None,
            retry: default_retry(),
            timeout: match kind {
                SinkKind::Exec { .. } => Duration::from_secs(30),
                SinkKind::Smtp { .. } => Duration::from_secs(30),
                _ => Duration::from_secs(15),
            },
            digest: None,
            quiet_hours: None,
            max_per_hour: None,
            watchlists: BTreeMap::new(),
        }
    }
}

/// The policy of the sink `alert_log` makes: the defaults of a JSONL sink.
pub(super) fn jsonl_log_policy() -> DeliveryPolicy {
    DeliveryPolicy::defaults(&SinkKind::Jsonl {
        path: PathBuf::new(),
        fsync: true,
    })
}

/// A validated sink.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkSpec {
    pub name: String,
    pub kind: SinkKind,
    pub policy: DeliveryPolicy,
}

/// The placeholder of a secret left unread (`load_for_reading`).
const UNREAD: &str = "(not read)";

/// Where `*_file` secrets may also be named from: systemd's credentials.
const CREDENTIALS: &str = "$CREDENTIALS_DIRECTORY";

/// Validates the `[[sink]]` tables; every problem goes to `diags` with its
/// place, and no secret's value appears in any of them.
/// `resolve` false leaves the secrets of `*_env` and `*_file` keys unread
/// (placeholders), for commands that send nothing.
pub(super) fn sinks(
    src: &Source,
    base: &Path,
    raw: &[RawSink],
    resolve: bool,
    diags: &mut Vec<Diagnostic>,
) -> Vec<SinkSpec> {
    let mut out: Vec<SinkSpec> = Vec::new();
    for r in raw {
        let before = diags.len();
        let name = r.name.get_ref().trim().to_string();
        if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
            diags.push(src.diag_span(&r.name, "a sink name is letters, digits, '-' and '_'"));
        } else if out.iter().any(|s| s.name == name) {
            diags.push(src.diag_span(&r.name, format!("sink name '{name}' is used twice")));
        }
        let mut v = Validator {
            src,
            base,
            raw: r,
            resolve,
            diags,
        };
        let kind = match r.kind.get_ref().as_str() {
            "jsonl" => v.jsonl(),
            "webhook" => v.webhook(),
            "slack" => v
                .only(&["url"])
                .then(|| v.url(true))
                .flatten()
                .map(|url| SinkKind::Slack { url }),
            "discord" => v
                .only(&["url"])
                .then(|| v.url(true))
                .flatten()
                .map(|url| SinkKind::Discord { url }),
            "ntfy" => v.ntfy(),
            "smtp" => v.smtp(),
            "exec" => v.exec(),
            other => {
                v.diags.push(src.diag_span(
                    &r.kind,
                    format!("unknown sink kind '{other}' (jsonl, webhook, slack, discord, ntfy, smtp, exec)"),
                ));
                None
            }
        };
        // The common keys are checked whatever became of the kind's own.
        let policy = v.policy(kind.as_ref().unwrap_or(&SinkKind::Slack {
            url: Secret::new(String::new()),
        }));
        let Some(kind) = kind else { continue };
        if diags.len() == before {
            out.push(SinkSpec { name, kind, policy });
        }
    }
    out
}

/// The keys each kind may use besides the common ones.
const KIND_KEYS: &[(&str, &[&str])] = &[
    ("jsonl", &["path", "fsync"]),
    ("webhook", &["url", "secret"]),
    ("slack", &["url"]),
    ("discord", &["url"]),
    ("ntfy", &["url", "topic", "token"]),
    ("smtp", &["host", "port", "tls", "username", "password", "from", "to"]),
    ("exec", &["command"]),
];

struct Validator<'a> {
    src: &'a Source,
    base: &'a Path,
    raw: &'a RawSink,
    resolve: bool,
    diags: &'a mut Vec<Diagnostic>,
}

impl Validator<'_> {
    fn err<T>(&mut self, at: &Spanned<T>, msg: impl Into<String>) {
        self.diags.push(self.src.diag_span(at, msg));
    }

    /// Like `err`, without the source line: the value there is a secret.
    fn err_hiding_value<T>(&mut self, at: &Spanned<T>, msg: impl Into<String>) {
        let d = self.src.diag_span(at, msg);
        self.diags.push(Diagnostic { excerpt: None, ..d });
    }

    /// Reports every key set that `kind` does not use; true when none is.
    fn only(&mut self, allowed: &[&str]) -> bool {
        let kind = self.raw.kind.get_ref().clone();
        let mut ok = true;
        for (key, span) in self.raw.kind_keys() {
            let family = key.trim_end_matches("_env").trim_end_matches("_file");
            if !allowed.contains(&family) {
                let uses = KIND_KEYS
                    .iter()
                    .find(|(k, _)| *k == kind)
                    .map(|(_, keys)| keys.join(", "))
                    .unwrap_or_default();
                self.diags.push(self.src.diag_at(
                    span.start,
                    span.end - span.start,
                    format!("a {kind} sink does not use '{key}' (its keys: {uses})"),
                ));
                ok = false;
            }
        }
        ok
    }

    /// A secret given as `NAME`, `NAME_env` or `NAME_file` (exactly one);
    /// `plain_ok` says whether the plain key is allowed.
    fn secret(
        &mut self,
        what: &str,
        plain: &Option<Spanned<String>>,
        env: &Option<Spanned<String>>,
        file: &Option<Spanned<String>>,
        plain_ok: bool,
    ) -> Option<Secret> {
        let given = [plain.is_some(), env.is_some(), file.is_some()]
            .iter()
            .filter(|b| **b)
            .count();
        if given > 1 {
            let at = env.as_ref().or(file.as_ref()).or(plain.as_ref())?;
            self.err(at, format!("give {what} once: as {what}, {what}_env or {what}_file"));
            return None;
        }
        if let Some(p) = plain {
            if !plain_ok {
                self.err_hiding_value(
                    p,
                    format!("{what} is a secret: give it as {what}_env = \"VARIABLE\" or {what}_file = \"PATH\""),
                );
                return None;
            }
            return Some(Secret::new(p.get_ref().clone()));
        }
        if !self.resolve && (env.is_some() || file.is_some()) {
            return Some(Secret::new(UNREAD));
        }
        if let Some(e) = env {
            return match std::env::var(e.get_ref()) {
                Ok(v) if !v.trim().is_empty() => Some(Secret::new(v.trim().to_string())),
                _ => {
                    self.err(e, format!("environment variable {} is not set", e.get_ref()));
                    None
                }
            };
        }
        if let Some(f) = file {
            let path = self.secret_path(f.get_ref());
            return match path.as_ref().map(std::fs::read_to_string) {
                Some(Ok(v)) if !v.trim().is_empty() => Some(Secret::new(v.trim().to_string())),
                Some(Ok(_)) => {
                    self.err(f, format!("{} is empty", f.get_ref()));
                    None
                }
                Some(Err(e)) => {
                    self.err(f, format!("cannot read {}: {e}", f.get_ref()));
                    None
                }
                None => {
                    self.err(
                        f,
                        format!("{CREDENTIALS} is not set (systemd sets it with LoadCredential=)"),
                    );
                    None
                }
            };
        }
        None
    }

    /// A secret file's path: `$CREDENTIALS_DIRECTORY/NAME` names systemd's
    /// credential `NAME`; a relative path resolves against the config's
    /// folder.
    fn secret_path(&self, p: &str) -> Option<PathBuf> {
        for prefix in [CREDENTIALS, "${CREDENTIALS_DIRECTORY}"] {
            if let Some(rest) = p.strip_prefix(prefix) {
                let dir = std::env::var_os("CREDENTIALS_DIRECTORY")?;
                return Some(PathBuf::from(dir).join(rest.trim_start_matches('/')));
            }
        }
        Some(resolve(self.base, p))
    }

    /// The sink's URL: `url` (allowed unless `secret_only`), `url_env` or
    /// `url_file`; http or https.
    fn url(&mut self, secret_only: bool) -> Option<Secret> {
        let r = self.raw;
        let Some(url) = self.secret("url", &r.url, &r.url_env, &r.url_file, !secret_only) else {
            if r.url.is_none() && r.url_env.is_none() && r.url_file.is_none() {
                self.err(&r.kind, "this sink needs url, url_env or url_file");
            }
            return None;
        };
        if url.expose() == UNREAD {
            return Some(url);
        }
        let ok = url::Url::parse(url.expose())
            .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
            .unwrap_or(false);
        if !ok {
            // The value is not echoed: it may carry a token.
            let at = r.url.as_ref().or(r.url_env.as_ref()).or(r.url_file.as_ref())?;
            self.err_hiding_value(at, "the sink's URL is not an http(s) URL");
            return None;
        }
        Some(url)
    }

    fn jsonl(&mut self) -> Option<SinkKind> {
        if !self.only(&["path", "fsync"]) {
            return None;
        }
        let Some(path) = &self.raw.path else {
            self.err(&self.raw.kind, "a jsonl sink needs path");
            return None;
        };
        Some(SinkKind::Jsonl {
            path: resolve(self.base, path.get_ref()),
            fsync: self.raw.fsync.as_ref().is_none_or(|f| *f.get_ref()),
        })
    }

    fn webhook(&mut self) -> Option<SinkKind> {
        if !self.only(&["url", "secret"]) {
            return None;
        }
        let url = self.url(false)?;
        let r = self.raw;
        let key = match self.secret("secret", &r.secret, &r.secret_env, &r.secret_file, false) {
            None if r.secret.is_some() || r.secret_env.is_some() || r.secret_file.is_some() => return None,
            None => None,
            Some(s) => {
                let at = r.secret_env.as_ref().or(r.secret_file.as_ref())?;
                if s.expose() == UNREAD {
                    return Some(SinkKind::Webhook { url, key: Some(s) });
                }
                match webhook_key(s.expose()) {
                    Some(key) => Some(key),
                    None => {
                        self.err(at, "the webhook secret must be whsec_ followed by base64");
                        return None;
                    }
                }
            }
        };
        Some(SinkKind::Webhook { url, key })
    }

    fn ntfy(&mut self) -> Option<SinkKind> {
        if !self.only(&["url", "topic", "token"]) {
            return None;
        }
        let url = self.url(false)?;
        let r = self.raw;
        let Some(topic) = &r.topic else {
            self.err(&r.kind, "an ntfy sink needs topic");
            return None;
        };
        let token = self.secret("token", &r.token, &r.token_env, &r.token_file, false);
        if token.is_none() && (r.token.is_some() || r.token_env.is_some() || r.token_file.is_some()) {
            return None;
        }
        Some(SinkKind::Ntfy {
            url,
            topic: topic.get_ref().clone(),
            token,
        })
    }

    fn smtp(&mut self) -> Option<SinkKind> {
        if !self.only(&["host", "port", "tls", "username", "password", "from", "to"]) {
            return None;
        }
        let r = self.raw;
        let (Some(host), Some(from)) = (&r.host, &r.from) else {
            self.err(&r.kind, "an smtp sink needs host, from and to");
            return None;
        };
        if r.to.is_empty() {
            self.err(&r.kind, "an smtp sink needs at least one address in to");
            return None;
        }
        let tls = match r.tls.as_ref().map(|t| t.get_ref().as_str()) {
            None | Some("starttls") => SmtpTls::StartTls,
            Some("implicit") => SmtpTls::Implicit,
            Some("none") => SmtpTls::None,
            Some(_) => {
                let at = r.tls.as_ref()?;
                self.err(at, "tls must be starttls, implicit or none");
                return None;
            }
        };
        if tls == SmtpTls::None && !is_loopback_host(host.get_ref()) {
            let at = r.tls.as_ref()?;
            self.err(
                at,
                "tls = \"none\" is only allowed towards a loopback host (127.0.0.1, ::1, localhost)",
            );
            return None;
        }
        let port = match &r.port {
            None => match tls {
                SmtpTls::StartTls => 587,
                SmtpTls::Implicit => 465,
                SmtpTls::None => 25,
            },
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(p) if p > 0 => p,
                _ => {
                    self.err(p, "port must be 1 to 65535");
                    return None;
                }
            },
        };
        let password = self.secret("password", &r.password, &r.password_env, &r.password_file, false);
        if password.is_none() && (r.password.is_some() || r.password_env.is_some() || r.password_file.is_some()) {
            return None;
        }
        if password.is_some() != r.username.is_some() {
            self.err(&r.kind, "give username and password together, or neither");
            return None;
        }
        for a in r.to.iter().chain([from]) {
            if !a.get_ref().contains('@') {
                self.err(a, format!("'{}' is not an e-mail address", a.get_ref()));
                return None;
            }
        }
        Some(SinkKind::Smtp {
            host: host.get_ref().clone(),
            port,
            tls,
            username: r.username.as_ref().map(|u| u.get_ref().clone()),
            password,
            from: from.get_ref().clone(),
            to: r.to.iter().map(|t| t.get_ref().clone()).collect(),
        })
    }

    fn exec(&mut self) -> Option<SinkKind> {
        if !self.only(&["command"]) {
            return None;
        }
        let r = self.raw;
        let Some(first) = r.command.first() else {
            self.err(&r.kind, "an exec sink needs command = [\"program\", \"arg\", ...]");
            return None;
        };
        Some(SinkKind::Exec {
            program: resolve_program(self.base, first.get_ref()),
            args: r.command[1..].iter().map(|a| a.get_ref().clone()).collect(),
        })
    }

    fn policy(&mut self, kind: &SinkKind) -> DeliveryPolicy {
        let mut p = DeliveryPolicy::defaults(kind);
        let r = self.raw;
        if let Some(c) = &r.concurrency {
            match usize::try_from(*c.get_ref()) {
                Ok(n) if (1..=64).contains(&n) => p.concurrency = n,
                _ => self.err(c, "concurrency must be 1 to 64"),
            }
        }
        if let Some(m) = &r.per_minute {
            match u32::try_from(*m.get_ref()) {
                Ok(n) if n >= 1 => p.per_minute = Some(n),
                _ => self.err(m, "per_minute must be at least 1"),
            }
        }
        if let Some(m) = &r.max_per_hour {
            match u32::try_from(*m.get_ref()) {
                Ok(n) if n >= 1 => p.max_per_hour = Some(n),
                _ => self.err(m, "max_per_hour must be at least 1"),
            }
        }
        if let Some(list) = &r.retry {
            let mut waits = Vec::new();
            for w in list {
                match parse_duration(w.get_ref()) {
                    Ok(d) => waits.push(d),
                    Err(m) => self.err(w, m),
                }
            }
            p.retry = waits;
        }
        if let Some(t) = &r.timeout {
            match parse_duration(t.get_ref()) {
                Ok(d) if !d.is_zero() && d <= Duration::from_secs(600) => p.timeout = d,
                Ok(_) => self.err(t, "timeout must be more than 0 and at most 10m"),
                Err(m) => self.err(t, m),
            }
        }
        if let Some(d) = &r.digest {
            match parse_duration(d.get_ref()) {
                Ok(v) if v >= Duration::from_secs(60) => p.digest = Some(v),
                Ok(_) => self.err(d, "digest must be at least 1m"),
                Err(m) => self.err(d, m),
            }
        }
        if let Some(q) = &r.quiet_hours {
            match parse_quiet_hours(q.get_ref()) {
                Some(v) => p.quiet_hours = Some(v),
                None => self.err(q, "quiet_hours must be like \"22:00-07:00\" (local time)"),
            }
        }
        p
    }
}

/// The HMAC key of a Standard Webhooks secret `whsec_<base64>`.
pub fn webhook_key(secret: &str) -> Option<Secret> {
    use base64::Engine;
    let b64 = secret.strip_prefix("whsec_")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    if bytes.is_empty() {
        return None;
    }
    // The key's bytes, kept as Latin-1 text inside a Secret.
    Some(Secret::new(bytes.iter().map(|b| char::from(*b)).collect::<String>()))
}

/// The bytes of a key made by [`webhook_key`].
pub fn key_bytes(key: &Secret) -> Vec<u8> {
    key.expose().chars().map(|c| c as u32 as u8).collect()
}

fn parse_quiet_hours(s: &str) -> Option<QuietHours> {
    let (a, b) = s.split_once('-')?;
    let minute = |t: &str| -> Option<u32> {
        let (h, m) = t.trim().split_once(':')?;
        let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
        (h < 24 && m < 60).then_some(h * 60 + m)
    };
    let (start, end) = (minute(a)?, minute(b)?);
    (start != end).then_some(QuietHours { start, end })
}

fn is_loopback_host(h: &str) -> bool {
    h == "localhost"
        || h.trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A program named with a slash resolves against the config's folder when
/// relative; a bare name is looked up in `PATH` when it runs.
fn resolve_program(base: &Path, p: &str) -> PathBuf {
    if p.contains('/') {
        resolve(base, p)
    } else {
        PathBuf::from(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_run_past_midnight() {
        let q = parse_quiet_hours("22:00-07:00").unwrap();
        assert!(q.contains(23 * 60) && q.contains(0) && q.contains(6 * 60 + 59));
        assert!(!q.contains(7 * 60) && !q.contains(12 * 60));
        assert_eq!(q.minutes_left(23 * 60), 8 * 60);
        let day = parse_quiet_hours("09:30-10:00").unwrap();
        assert!(day.contains(9 * 60 + 45) && !day.contains(10 * 60));
        assert!(parse_quiet_hours("25:00-07:00").is_none());
        assert!(parse_quiet_hours("07:00-07:00").is_none());
    }

    #[test]
    fn secrets_print_as_stars() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        let k = webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(key_bytes(&k).len(), 24);
        assert!(webhook_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(webhook_key("whsec_!!").is_none());
    }
}
