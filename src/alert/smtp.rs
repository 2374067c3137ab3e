//! The SMTP sink (lettre): one message per alert or one per digest, plain
//! text with a simple HTML part, a `Message-ID` made from the alert id so
//! that a retried message is recognised as the same one.

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::format;
use super::sink::{AlertSink, SinkError, SinkFuture};
use crate::config::{Secret, SmtpTls};
use crate::store::OutboxEntry;

pub struct SmtpSink {
    name: String,
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

/// The settings of an SMTP sink.
pub struct SmtpSettings<'a> {
    pub host: &'a str,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<&'a str>,
    pub password: Option<&'a Secret>,
    pub from: &'a str,
    pub to: &'a [String],
    pub timeout: Duration,
}

impl SmtpSink {
    pub fn new(name: &str, s: SmtpSettings<'_>) -> Result<SmtpSink, SinkError> {
        let err = |what: &str, e: &dyn std::fmt::Display| SinkError::Smtp(format!("{what}: {e}"));
        let builder = match s.tls {
            SmtpTls::StartTls => {
                AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(s.host).map_err(|e| err("STARTTLS setup", &e))?
            }
            SmtpTls::Implicit => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(s.host).map_err(|e| err("TLS setup", &e))?
            }
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(s.host),
        };
        let mut builder = builder.port(s.port).timeout(Some(s.timeout));
        if let (Some(u), Some(p)) = (s.username, s.password) {
            builder = builder.credentials(Credentials::new(u.to_string(), p.expose().to_string()));
        }
        let from: Mailbox = s.from.parse().map_err(|e| err("from", &e))?;
        let to =
            s.to.iter()
                .map(|t| t.parse::<Mailbox>().map_err(|e| err("to", &e)))
                .collect::<Result<Vec<_>, _>>()?;
        Ok(SmtpSink {
            name: name.to_string(),
            transport: builder.build(),
            from,
            to,
        })
    }

    async fn send(&self, id: &str, subject: &str, text: String, html: String) -> Result<(), SinkError> {
        let mut b = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(format!("<{id}.{}@newshound.invalid>", self.name)))
            .user_agent(format!("newshound/{}", env!("CARGO_PKG_VERSION")));
        for t in &self.to {
            b = b.to(t.clone());
        }
        let msg = b
            .multipart(MultiPart::alternative_plain_html(text, html))
            .map_err(|e| SinkError::Smtp(format!("building the message: {e}")))?;
        self.transport
            .send(msg)
            .await
            .map(|_| ())
            .map_err(|e| SinkError::Smtp(e.to_string()))
    }
}

impl AlertSink for SmtpSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn deliver_one<'a>(&'a self, entry: &'a OutboxEntry) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let a = format::alert_of(entry);
            let subject = format!("[{}] {}", a.watchlist, format::clip_chars(&a.title, 150));
            let html = format::html(std::slice::from_ref(&a), None);
            self.send(&entry.alert_id, &subject, format::text(&a), html).await
        })
    }

    fn deliver_digest<'a>(&'a self, entries: &'a [OutboxEntry]) -> SinkFuture<'a, Result<(), SinkError>> {
        Box::pin(async move {
            let alerts = format::newest_first(entries);
            let heading = format::digest_heading(&alerts);
            let html = format::html(&alerts, Some(&heading));
            let id = super::http::digest_id(entries);
            self.send(
                &id,
                &format!("[newshound] {heading}"),
                format::digest_text(&alerts),
                html,
            )
            .await
        })
    }
}
