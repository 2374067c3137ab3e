//! Alerts as people read them in chat, on a phone or in a mailbox: the
//! texts of single alerts and of digests, shared by the sinks. Pure.

use crate::rules::Severity;
use crate::store::OutboxEntry;

use super::record::Alert;

/// Discord's cap on a message's `content`, in characters.
pub const DISCORD_MAX: usize = 2000;

/// The alert an outbox row carries; a payload that does not parse (it
/// always should) still gives a usable alert with its id.
pub fn alert_of(entry: &OutboxEntry) -> Alert {
    serde_json::from_str(&entry.payload).unwrap_or_else(|_| Alert {
        id: entry.alert_id.clone(),
        at: String::new(),
        watchlist: String::new(),
        watchlist_version: String::new(),
        severity: Severity::Medium,
        rules: Vec::new(),
        terms: Vec::new(),
        snippet: String::new(),
        title: format!("alert {}", entry.alert_id),
        link: None,
        feed: String::new(),
        feed_url: String::new(),
        published: None,
        first_seen: String::new(),
        lang: None,
    })
}

/// Each distinct matched text once, in the alert's order.
pub fn matched_terms(a: &Alert) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    a.terms
        .iter()
        .filter(|t| seen.insert(t.text.to_lowercase()))
        .map(|t| t.text.clone())
        .collect()
}

/// A one-word name of a severity.
pub fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Low => "low",
        Severity::Medium => "medium",
        Severity::High => "high",
        Severity::Critical => "critical",
    }
}

/// The plain text of one alert: a few lines.
pub fn text(a: &Alert) -> String {
    let mut s = format!("[{}] {}", a.watchlist, a.title);
    if a.severity >= Severity::High {
        s = format!("{} {s}", severity_name(a.severity).to_uppercase());
    }
    s.push_str(&format!("\n{}", a.feed));
    if let Some(l) = &a.link {
        s.push_str(&format!(" — {l}"));
    }
    let terms = matched_terms(a);
    if !terms.is_empty() {
        s.push_str(&format!("\nmatched: {}", terms.join(", ")));
    }
    s
}

/// The alerts of a digest, newest first.
pub fn newest_first(entries: &[OutboxEntry]) -> Vec<Alert> {
    let mut alerts: Vec<Alert> = entries.iter().map(alert_of).collect();
    alerts.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| b.id.cmp(&a.id)));
    alerts
}

/// A digest's heading: how many stories, on which watchlists.
pub fn digest_heading(alerts: &[Alert]) -> String {
    let mut lists: Vec<&str> = alerts.iter().map(|a| a.watchlist.as_str()).collect();
    lists.sort_unstable();
    lists.dedup();
    format!(
        "{} new {} ({})",
        alerts.len(),
        if alerts.len() == 1 { "story" } else { "stories" },
        lists.join(", ")
    )
}

/// The plain text of a digest: the heading, then one short block a story.
pub fn digest_text(alerts: &[Alert]) -> String {
    let mut s = digest_heading(alerts);
    for a in alerts {
        s.push_str("\n\n");
        s.push_str(&text(a));
    }
    s
}

/// `text` cut to at most `max` characters, with an ellipsis when cut.
pub fn clip_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A simple HTML version of alerts, for e-mail.
pub fn html(alerts: &[Alert], heading: Option<&str>) -> String {
    let esc = |s: &str| html_escape::encode_text(s).into_owned();
    let mut s = String::from("<!DOCTYPE html><html><body style=\"font-family:sans-serif\">");
    if let Some(h) = heading {
        s.push_str(&format!("<h2>{}</h2>", esc(h)));
    }
    for a in alerts {
        let title = match &a.link {
            Some(l) => format!(
                "<a href=\"{}\">{}</a>",
                html_escape::encode_double_quoted_attribute(l),
                esc(&a.title)
            ),
            None => esc(&a.title),
        };
        s.push_str(&format!(
            "<p><b>{title}</b><br>{} · {} · {}",
            esc(&a.watchlist),
            esc(&a.feed),
            severity_name(a.severity)
        ));
        let terms = matched_terms(a);
        if !terms.is_empty() {
            s.push_str(&format!("<br>matched: <i>{}</i>", esc(&terms.join(", "))));
        }
        s.push_str("</p>");
    }
    s.push_str("</body></html>");
    s
}

/// ntfy's priority (1-5) for a severity.
pub fn ntfy_priority(s: Severity) -> u8 {
    match s {
        Severity::Low => 2,
        Severity::Medium => 3,
        Severity::High => 4,
        Severity::Critical => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, at: &str, title: &str) -> OutboxEntry {
        let a = Alert {
            id: id.into(),
            at: at.into(),
            watchlist: "peace".into(),
            watchlist_version: "v".into(),
            severity: Severity::High,
            rules: vec!["r".into()],
            terms: vec![
                super::super::record::AlertTerm {
                    term: "witkoff".into(),
                    field: "title".into(),
                    text: "Witkoff".into(),
                },
                super::super::record::AlertTerm {
                    term: "witkoff".into(),
                    field: "summary".into(),
                    text: "witkoff".into(),
                },
            ],
            snippet: String::new(),
            title: title.into(),
            link: Some("https://x.test/a?b=1&c=2".into()),
            feed: "Wire".into(),
            feed_url: String::new(),
            published: None,
            first_seen: at.into(),
            lang: None,
        };
        OutboxEntry {
            row: 1,
            alert_id: id.into(),
            sink: "s".into(),
            payload: serde_json::to_string(&a).unwrap(),
            attempts: 0,
            next_attempt: 0,
        }
    }

    #[test]
    fn texts_and_digests() {
        let one = alert_of(&entry("a", "2025-11-23T10:00:00Z", "Witkoff <in> Geneva"));
        assert_eq!(
            text(&one),
            "HIGH [peace] Witkoff <in> Geneva\nWire — https://x.test/a?b=1&c=2\nmatched: Witkoff"
        );
        let d = newest_first(&[
            entry("a", "2025-11-23T10:00:00Z", "first"),
            entry("b", "2025-11-23T11:00:00Z", "second"),
        ]);
        assert_eq!(d[0].title, "second");
        assert!(digest_text(&d).starts_with("2 new stories (peace)\n\nHIGH [peace] second"));
        let h = html(&d, Some("2 new stories"));
        assert!(h.contains("Witkoff") && !h.contains("<in>") && h.contains("&amp;c=2"));
        assert_eq!(clip_chars(&"é".repeat(10), 4), "ééé…");
        let broken = OutboxEntry {
            payload: "{".into(),
            ..entry("z", "", "")
        };
        assert_eq!(alert_of(&broken).title, "alert z");
    }
}
