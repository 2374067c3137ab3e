//! Items written as JSON Lines (archives, labelled sets, `match` input):
//! `title`, `summary`, `content`, `link` (or `canonical_link`),
//! `published`, `lang`, `tags` (or `category`); fields not known are
//! ignored.

use serde_json::Value;

use super::item::Item;

/// A string field of a JSON object, empty when absent.
pub fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// When a JSON Lines item was first seen (`first_seen`, RFC 3339), in Unix
/// ms.
pub fn first_seen_ms(v: &Value) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(str_field(v, "first_seen"))
        .ok()
        .map(|d| d.timestamp_millis())
}

/// Reads one JSON Lines item as `match`, `eval` and `stories` take it: the
/// news-2025 archive's fields, any other field ignored.
pub fn item_from_json(v: &Value) -> Item {
    let published = v
        .get("published")
        .and_then(Value::as_str)
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&chrono::Utc));
    let link = v
        .get("canonical_link")
        .and_then(Value::as_str)
        .or_else(|| v.get("link").and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let tags = match v.get("tags").or_else(|| v.get("category")) {
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    };
    Item {
        key: String::new(),
        title: str_field(v, "title").to_string(),
        summary: str_field(v, "summary").to_string(),
        content: str_field(v, "content").to_string(),
        link,
        published,
        lang: Some(str_field(v, "lang").to_string()).filter(|s| !s.is_empty()),
        tags,
        authors: Vec::new(),
    }
}
