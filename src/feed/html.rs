//! HTML to plain text: tags, comments, scripts and styles removed,
//! entities decoded, whitespace collapsed; plain text kept without a copy.

fn is_block_tag(name: &str) -> bool {
    matches!(
        name,
        "p" | "br"
            | "div"
            | "li"
            | "ul"
            | "ol"
            | "tr"
            | "td"
            | "th"
            | "table"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "blockquote"
            | "section"
            | "article"
            | "header"
            | "footer"
            | "hr"
            | "figure"
            | "figcaption"
            | "pre"
            | "dd"
            | "dt"
    )
}

/// Plain text of an HTML fragment: tags, comments, scripts and styles
/// removed, entities decoded, whitespace collapsed.
pub fn html_to_text(s: &str) -> String {
    if memchr::memchr2(b'<', b'&', s.as_bytes()).is_none() {
        return collapse_ws(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(lt) = rest.find('<') {
        out.push_str(&rest[..lt]);
        let tag = &rest[lt..];
        let next = tag[1..].chars().next();
        if !next.is_some_and(|c| c.is_ascii_alphabetic() || c == '/' || c == '!' || c == '?') {
            out.push('<');
            rest = &tag[1..];
            continue;
        }
        if let Some(body) = tag.strip_prefix("<!--") {
            rest = body.find("-->").map_or("", |i| &body[i + 3..]);
            out.push(' ');
            continue;
        }
        let Some(gt) = tag.find('>') else {
            // An unclosed tag at the end: drop it.
            rest = "";
            break;
        };
        let inner = &tag[1..gt];
        let name: String = inner
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &tag[gt + 1..];
        if (name == "script" || name == "style") && !inner.starts_with('/') {
            let close = format!("</{name}");
            rest = find_ci(rest, &close).map_or("", |i| {
                let after = &rest[i..];
                after.find('>').map_or("", |j| &after[j + 1..])
            });
            out.push(' ');
        } else if is_block_tag(&name) {
            out.push(' ');
        }
    }
    out.push_str(rest);
    collapse_ws(&html_escape::decode_html_entities(&out))
}

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    let n = needle.len();
    hay.as_bytes()
        .windows(n)
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// True when `s` is plain text already: single spaces between words, none
/// around them, no other whitespace, and (with `markup`) no `<` or `&`.
/// Most feed text is; a few vectorized scans for the rare bytes tell.
fn is_plain(s: &str, markup: bool) -> bool {
    use memchr::{memchr, memchr2, memchr3, memchr3_iter, memmem};
    // Built once: `memmem::find` builds its searcher at every call, which
    // cost more than the scan itself on feed fields (they are short).
    static DOUBLE_SPACE: std::sync::LazyLock<memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memmem::Finder::new(b"  "));
    let b = s.as_bytes();
    if b.first() == Some(&b' ') || b.last() == Some(&b' ') || DOUBLE_SPACE.find(b).is_some() {
        return false;
    }
    // Tab, line feed, vertical tab, form feed, carriage return.
    if memchr3(b'\t', b'\n', b'\r', b).is_some() || memchr2(0x0b, 0x0c, b).is_some() {
        return false;
    }
    if markup && memchr2(b'<', b'&', b).is_some() {
        return false;
    }
    // The UTF-8 forms of U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028,
    // U+2029, U+202F, U+205F and U+3000, found by their lead bytes.
    let wide_space = |i: usize| {
        let next = (b.get(i + 1).copied(), b.get(i + 2).copied());
        match b[i] {
            0xc2 => matches!(next.0, Some(0x85 | 0xa0)),
            0xe1 => next == (Some(0x9a), Some(0x80)),
            0xe2 => matches!(
                next,
                (Some(0x80), Some(0x80..=0x8a | 0xa8 | 0xa9 | 0xaf)) | (Some(0x81), Some(0x9f))
            ),
            _ => next == (Some(0x80), Some(0x80)),
        }
    };
    if memchr3_iter(0xc2, 0xe1, 0xe2, b).any(wide_space) {
        return false;
    }
    let mut rest = 0;
    while let Some(k) = memchr(0xe3, &b[rest..]) {
        if wide_space(rest + k) {
            return false;
        }
        rest += k + 1;
    }
    true
}

fn collapse_ws(s: &str) -> String {
    if is_plain(s, false) {
        return s.to_string();
    }
    collapse_dirty(s)
}

/// Plain text of an HTML fragment the caller owns: plain text (most feed
/// text) is returned as it is, without a copy.
pub(super) fn owned_text(s: String) -> String {
    if is_plain(&s, true) {
        return s;
    }
    html_to_text(&s)
}

fn collapse_dirty(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_is_stripped() {
        let cases = [
            ("a <b>bold</b> move", "a bold move"),
            ("x<br/>y", "x y"),
            ("<p>one</p><p>two</p>", "one two"),
            ("1 < 2 &amp; 3 > 2", "1 < 2 & 3 > 2"),
            ("<!-- hidden -->shown", "shown"),
            ("<style>p{}</style>text<SCRIPT>bad()</SCRIPT> end", "text end"),
            ("caf&eacute; &#x41;&#66;", "café AB"),
            ("unclosed <a href=", "unclosed"),
        ];
        for (input, want) in cases {
            assert_eq!(html_to_text(input), want, "{input:?}");
        }
    }

    #[test]
    fn whitespace_is_collapsed_whatever_its_kind() {
        let cases = [
            ("plain words here", "plain words here"),
            (" leading", "leading"),
            ("trailing ", "trailing"),
            ("two  spaces", "two spaces"),
            ("tab\there", "tab here"),
            ("line\nfeed\r\nend", "line feed end"),
            ("vertical\u{b}tab", "vertical tab"),
            ("no\u{a0}break", "no break"),
            ("em\u{2003}space and \u{2014} dash", "em space and \u{2014} dash"),
            ("ideographic\u{3000}space", "ideographic space"),
            ("Переговоры в Женеве", "Переговоры в Женеве"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(html_to_text(input), want, "{input:?}");
            assert_eq!(owned_text(input.to_string()), want, "{input:?}");
        }
    }

    #[test]
    fn plain_text_check_knows_every_space() {
        // Every character up to U+3100 (all of Unicode's whitespace lies
        // below), between two letters and at either end.
        for c in (0..0x3100u32).filter_map(char::from_u32) {
            let want = c == ' ' || !c.is_whitespace();
            assert_eq!(is_plain(&format!("a{c}b"), false), want, "U+{:04X}", c as u32);
            if c != ' ' {
                assert_eq!(is_plain(&format!("{c}b"), false), want, "U+{:04X}", c as u32);
                assert_eq!(is_plain(&format!("a{c}"), false), want, "U+{:04X}", c as u32);
            }
            let markup = want && c != '<' && c != '&';
            assert_eq!(is_plain(&format!("a{c}b"), true), markup, "U+{:04X}", c as u32);
        }
        assert!(!is_plain("a  b", false));
        assert!(!is_plain(" a", false));
        assert!(is_plain("", true));
        // Anywhere in a long text too, where the scans go a vector at a time.
        let long = "word ".repeat(40).trim_end().to_string();
        assert!(is_plain(&long, true));
        for (p, _) in long.match_indices(' ') {
            for (odd, plain_without_markup) in [("\n", false), ("  ", false), ("\u{a0}", false), ("&", true)] {
                let mut t = long.clone();
                t.replace_range(p..p + 1, odd);
                assert!(!is_plain(&t, true), "{odd:?} at {p}");
                assert_eq!(is_plain(&t, false), plain_without_markup, "{odd:?} at {p}");
            }
        }
    }
}
