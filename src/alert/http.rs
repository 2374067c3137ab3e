//! The sinks that POST: signed webhooks (Standard Webhooks), Slack and
//! Discord incoming webhooks, and ntfy. The requests go through
//! `fetch::Poster`; URLs and keys are secrets and never logged.

use std::time::Duration;

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::format;
use super::sink::{AlertSink, SinkError, SinkFuture, check_status};
use crate::clock::Clock;
use crate::config::Secret;
use crate::config::sinks::key_bytes;
use crate::fetch::Poster;
use crate::store::OutboxEntry;

/// What an HTTP sink sends.
pub enum HttpKind {
    Webhook { key: Option<Secret> },
    Slack,
    Discord,
    Ntfy { topic: String, token: Option<Secret> },
}

pub struct HttpSink {
    name: String,
    url: Secret,
    kind: HttpKind,
    poster: Poster,
    timeout: Duration,
    clock: Clock,
}

impl HttpSink {
    pub fn new(name: &str, url: Secret, kind: HttpKind, poster: Poster, timeout: Duration, clock: Clock) -> HttpSink {
        HttpSink {
            name: name.to_string(),
            url,
            kind,
            poster,
            timeout,
            clock,
        }
    }

    async fn post(&self, id: &str, body: Vec<u8>) -> Result<(), SinkError> {
        let mut headers = vec![("content-type", "application/json".to_string())];
        match &self.kind {
            HttpKind::Webhook { key } => {
                let ts = self.clock.now_ms() / 1000;
                headers.push(("webhook-id", id.to_string()));
                headers.push(("webhook-timestamp", ts.to_string()));
                if let Some(key) = key {
                    headers.push(("webhook-signature", sign(key, id, ts, &body)));
                }
            }
            HttpKind::Ntfy { token: Some(t), .. } => {
                headers.push(("authorization", format!("Bearer {}", t.expose())));
            }
            _ => {}
        }
        let reply = self
            .poster
            .post(self.url.expose(), &headers, body, self.timeout)
            .await?;
        check_status(reply)
    }

    fn body_one(&self, entry: &OutboxEntry) -> Vec<u8> {
        match &self.kind {
            HttpKind::Webhook { .. } => entry.payload.trim_end().as_bytes().to_vec(),
            _ => {
                let a = format::alert_of(entry);
                self.chat_body(&format::text(&a), &a.title, a.link.as_deref(), a.severity, &a.watchlist)
            }
        }
    }

    fn body_digest(&self, entries: &[OutboxEntry]) -> Vec<u8> {
        let alerts = format::newest_first(entries);
        match &self.kind {
            HttpKind::Webhook { .. } => {
                let list: Vec<serde_json::Value> = entries
                    .iter()
                    .map(|e| serde_json::from_str(&e.payload).unwrap_or(serde_json::Value::Null))
                    .collect();
                serde_json::json!({"type": "digest", "alerts": list})
                    .to_string()
                    .into_bytes()
            }
            _ => {
                let top = alerts.iter().map(|a| a.severity).max().unwrap_or_default();
                let heading = format::digest_heading(&alerts);
                let link = alerts.first().and_then(|a| a.link.as_deref());
                let lists = alerts.first().map(|a| a.watchlist.clone()).unwrap_or_default();
                self.chat_body(&format::digest_text(&alerts), &heading, link, top, &lists)
            }
        }
    }

    fn chat_body(
        &self,
        text: &str,
        title: &str,
        link: Option<&str>,
        severity: crate::rules::Severity,
        watchlist: &str,
    ) -> Vec<u8> {
        let v = match &self.kind {
            HttpKind::Slack | HttpKind::Webhook { .. } => serde_json::json!({ "text": text }),
            HttpKind::Discord => serde_json::json!({ "content": format::clip_chars(text, format::DISCORD_MAX) }),
            HttpKind::Ntfy { topic, .. } => {
                let mut v = serde_json::json!({
                    "topic": topic,
                    "title": format::clip_chars(title, 250),
                    "message": format::clip_chars(text, 3500),
                    "priority": format::ntfy_priority(severity),
                    "tags": ["newspaper", watchlist],
                });
                if let Some(l) = link {
                    v["click"] = serde_json::Value::String(l.to_string());
                }
                v
            }
        };
        v.to_string().into_bytes()
    }
}

/// The Standard Webhooks signature: `v1,` and the base64 of HMAC-SHA256
/// over `id.timestamp.body`.
pub fn sign(key: &Secret, id: &str, ts: i64, body: &[u8]) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key_bytes(key)) {
        Ok(m) => m,
        // HMAC takes keys of any length; this cannot happen.
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(ts.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// A digest's id: the same for the same alerts, on every retry.
pub fn digest_id(entries: &[OutboxEntry]) -> String {
    let mut h = Sha256::new();
    for e in entries {
        h.update(e.alert_id.as_bytes());
        h.update([0]);
    }
    let hex: String = h.finalize().iter().take(12).map(|b| format!("{b:02x}")).collect();
    format!("digest_{hex}")
}

impl AlertSink for HttpSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver_one<'a>(&'a self, entry: &'a OutboxEntry) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move { self.post(&entry.alert_id, self.body_one(entry)).await })
    }

    fn deliver_digest<'a>(&'a self, entries: &'a [OutboxEntry]) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move { self.post(&digest_id(entries), self.body_digest(entries)).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard() {
        // The example of the Standard Webhooks specification.
        let key = crate::config::sinks::webhook_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }
}
