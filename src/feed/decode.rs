//! Feed bytes to UTF-8: byte-order marks, UTF-16 without one, the XML
//! declaration, the HTTP charset; and telling an HTML page from a feed.

use super::error::FeedError;

pub(super) fn looks_like_html(body: &[u8]) -> bool {
    let head = &body[..body.len().min(2048)];
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    lower.contains("<!doctype html") || lower.contains("<html")
}

/// The `charset` parameter of a Content-Type header value.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches('"'))
    })
}

/// The `encoding` of the XML declaration, if the document starts with one
/// in an ASCII-compatible encoding: the value and its byte range.
fn declared_encoding(body: &[u8]) -> Option<(String, std::ops::Range<usize>)> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    let rest = &body[start..];
    if !rest.starts_with(b"<?xml") {
        return None;
    }
    let end = rest.iter().take(1024).position(|&b| b == b'>')?;
    let decl = &rest[..end];
    let at = decl.windows(8).position(|w| w == b"encoding")?;
    let after = &decl[at + 8..];
    let eq = after.iter().position(|&b| b == b'=')?;
    let q_at = after[eq + 1..].iter().position(|&b| b == b'"' || b == b'\'')? + eq + 1;
    let quote = after[q_at];
    let len = after[q_at + 1..].iter().position(|&b| b == quote)?;
    let value = std::str::from_utf8(&after[q_at + 1..q_at + 1 + len])
        .ok()?
        .trim()
        .to_string();
    let abs = start + at + 8 + q_at + 1;
    Some((value, abs..abs + len))
}

/// The document as UTF-8, whatever it was sent in: a byte-order mark
/// first, then UTF-16 without one, then the XML declaration, then the HTTP
/// charset, else UTF-8. An XML declaration naming another encoding is
/// rewritten to say UTF-8, so the XML parser reads what it is given.
pub fn to_utf8<'a>(body: &'a [u8], http_charset: Option<&str>) -> Result<Decoded<'a>, FeedError> {
    use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE};
    use std::borrow::Cow;
    let sniffed = match Encoding::for_bom(body) {
        Some((e, _)) => Some(e),
        None if body.starts_with(&[0, b'<', 0]) => Some(UTF_16BE),
        None if body.starts_with(&[b'<', 0]) => Some(UTF_16LE),
        None => None,
    };
    let label_enc = |label: &str| {
        Encoding::for_label(label.as_bytes()).ok_or_else(|| FeedError::Encoding(format!("unknown encoding '{label}'")))
    };
    let declared = declared_encoding(body);
    let enc = match (sniffed, &declared, http_charset) {
        (Some(e), _, _) => e,
        // A UTF-16 label on a document that reads as ASCII is mislabelled.
        (None, Some((label, _)), _) => match label_enc(label)? {
            e if e == UTF_16LE || e == UTF_16BE => UTF_8,
            e => e,
        },
        (None, None, Some(cs)) if !cs.is_empty() => match label_enc(cs) {
            Ok(e) if e == UTF_16LE || e == UTF_16BE => UTF_8,
            Ok(e) => e,
            Err(_) => UTF_8,
        },
        _ => UTF_8,
    };
    if enc == UTF_8 {
        let body = body.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap_or(body);
        // SIMD validation (so in the tokenizer): the two take a fifth of
        // the instructions `std::str::from_utf8` took on the farm's feeds.
        if simdutf8::basic::from_utf8(body).is_ok() {
            return Ok(Decoded {
                bytes: Cow::Borrowed(body),
                replaced: false,
            });
        }
        // Invalid bytes become U+FFFD rather than losing the whole feed.
        return Ok(Decoded {
            bytes: Cow::Owned(String::from_utf8_lossy(body).into_owned().into_bytes()),
            replaced: true,
        });
    }
    let (text, _, replaced) = enc.decode(body);
    let mut out = text.into_owned();
    if let Some((_, range)) = declared_encoding(out.as_bytes()) {
        out.replace_range(range, "utf-8");
    }
    Ok(Decoded {
        bytes: Cow::Owned(out.into_bytes()),
        replaced,
    })
}

/// A document decoded to UTF-8.
pub struct Decoded<'a> {
    pub bytes: std::borrow::Cow<'a, [u8]>,
    /// Bytes that were not valid in the document's encoding were replaced
    /// with U+FFFD.
    pub replaced: bool,
}
