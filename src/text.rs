//! Text normalization shared by rules and items: NFKC-compatible decomposition,
//! full case folding, diacritic folding and Unicode word splitting.
//!
//! A word is a run of letters and digits in any script; everything else
//! (spaces, punctuation, hyphens, dashes, apostrophes of every kind) separates
//! words, so `28-point`, `28 point` and `28‑point` all become `28 point`, and
//! `Zelensky's` becomes `zelensky s`. Ideographic and kana characters are
//! words of one character each, since those scripts do not put spaces
//! between words.

use caseless::Caseless;
use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// One word of a field: where it sits in the normalized text and in the
/// original text (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    pub norm_start: u32,
    pub norm_end: u32,
    pub orig_start: u32,
    pub orig_end: u32,
}

/// A field's text after normalization: `norm` holds the words separated by
/// single spaces, with one space before the first and after the last word, so
/// that a whole word `w` can be found as the substring `" w "`.
#[derive(Debug, Clone, Default)]
pub struct NormText {
    pub norm: String,
    pub tokens: Vec<Token>,
}

impl NormText {
    pub fn word(&self, i: usize) -> &str {
        let t = &self.tokens[i];
        &self.norm[t.norm_start as usize..t.norm_end as usize]
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// Characters that make up one word each (no spaces between words in these
/// scripts).
fn is_single_char_word(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF   // hiragana, katakana
        | 0x3400..=0x4DBF // CJK extension A
        | 0x4E00..=0x9FFF // CJK unified ideographs
        | 0xF900..=0xFAFF // CJK compatibility ideographs
        | 0x20000..=0x2FFFF)
}

/// Modifier letters used as apostrophes (Ukrainian writes `пʼять`); they
/// separate words like the ASCII apostrophe does.
fn is_apostrophe_letter(c: char) -> bool {
    matches!(
        c,
        '\u{02B9}' | '\u{02BB}' | '\u{02BC}' | '\u{02BD}' | '\u{02BE}' | '\u{02BF}'
    )
}

/// Builds the normalized text and the token list.
struct Builder<'a> {
    buf: String,
    tokens: &'a mut Vec<Token>,
    in_word: bool,
    word_norm_start: u32,
    word_orig_start: u32,
}

impl Builder<'_> {
    fn open(&mut self, orig_start: usize) {
        if !self.in_word {
            self.in_word = true;
            self.word_norm_start = self.buf.len() as u32;
            self.word_orig_start = orig_start as u32;
        }
    }

    fn push_char(&mut self, c: char) {
        self.buf.push(c);
    }

    fn close(&mut self, orig_end: usize) {
        if self.in_word {
            self.in_word = false;
            let norm_end = self.buf.len() as u32;
            if norm_end > self.word_norm_start {
                self.tokens.push(Token {
                    norm_start: self.word_norm_start,
                    norm_end,
                    orig_start: self.word_orig_start,
                    orig_end: orig_end as u32,
                });
                self.buf.push(' ');
            }
        }
    }

    /// The normalized text.
    fn finish(self, text_len: usize) -> String {
        let mut b = self;
        b.close(text_len);
        if b.tokens.is_empty() {
            return String::new();
        }
        b.buf
    }
}

/// Normalizes `text` into words. The same function serves rule terms and
/// item fields, so both sides always agree.
pub fn normalize(text: &str) -> NormText {
    let mut out = NormText {
        norm: String::with_capacity(text.len() + 2),
        tokens: Vec::with_capacity(text.len() / 4 + 4),
    };
    normalize_into(text, &mut out);
    out
}

/// Like [`normalize`], reusing `out`'s buffers.
pub fn normalize_into(text: &str, out: &mut NormText) {
    out.tokens.clear();
    let mut buf = std::mem::take(&mut out.norm);
    buf.clear();
    buf.reserve(text.len() + 2);
    buf.push(' ');
    let mut b = Builder {
        buf,
        tokens: &mut out.tokens,
        in_word: false,
        word_norm_start: 0,
        word_orig_start: 0,
    };
    let bytes = text.as_bytes();
    let table = table();
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        if byte < 0x80 {
            // ASCII: a whole run of letters and digits at once.
            if byte.is_ascii_alphanumeric() {
                b.open(i);
                while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
                    b.buf.push(char::from(bytes[i].to_ascii_lowercase()));
                    i += 1;
                }
            } else {
                b.close(i);
                i += 1;
            }
            continue;
        }
        let Some(c) = text[i..].chars().next() else { break };
        if (c as u32) < TABLE_END {
            match &table[c as usize] {
                CharNorm::Sep => b.close(i),
                CharNorm::Mark => {}
                CharNorm::Char(f) => {
                    b.open(i);
                    b.buf.push(*f);
                }
                CharNorm::Word(w) => {
                    b.open(i);
                    b.buf.push_str(w);
                }
                CharNorm::Slow => slow_char(&mut b, i, c),
            }
        } else if ('\u{2000}'..='\u{206F}').contains(&c) {
            // General punctuation: spaces, dashes, quotes, ellipsis.
            b.close(i);
        } else {
            slow_char(&mut b, i, c);
        }
        i += c.len_utf8();
    }
    out.norm = b.finish(text.len());
}

/// Characters below this have their normalization in a table: Latin,
/// Greek, Cyrillic, Armenian, Hebrew, Arabic.
const TABLE_END: u32 = 0x800;

/// What normalization does to one character, precomputed.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CharNorm {
    /// Separates words.
    Sep,
    /// A combining mark: continues the word and is dropped.
    Mark,
    /// A letter or digit that folds to one character, which goes into the
    /// word (most of them).
    Char(char),
    /// A letter or digit: this text goes into the word.
    Word(String),
    /// Anything else: computed each time.
    Slow,
}

fn table() -> &'static [CharNorm] {
    static TABLE: std::sync::OnceLock<Vec<CharNorm>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        (0..TABLE_END)
            .map(|u| match char::from_u32(u) {
                None => CharNorm::Slow,
                Some(c) if c.is_ascii() => CharNorm::Slow,
                Some(c) if is_apostrophe_letter(c) => CharNorm::Sep,
                Some(c) => {
                    // Run the general path on the character alone and keep
                    // the result when it is one simple thing.
                    let mut word = String::new();
                    let (mut marks, mut seps) = (0, 0);
                    decompose_compatible(c, |d| {
                        if is_combining_mark(d) {
                            marks += 1;
                        } else if d.is_alphanumeric() {
                            word.extend(std::iter::once(d).default_case_fold());
                        } else {
                            seps += 1;
                        }
                    });
                    match (word.len(), seps) {
                        (0, 0) if marks > 0 => CharNorm::Mark,
                        (0, 1) => CharNorm::Sep,
                        (n, 0) if n > 0 => {
                            let mut chars = word.chars();
                            match (chars.next(), chars.next()) {
                                (Some(f), None) => CharNorm::Char(f),
                                _ => CharNorm::Word(word),
                            }
                        }
                        _ => CharNorm::Slow,
                    }
                }
            })
            .collect()
    })
}

fn slow_char(b: &mut Builder<'_>, i: usize, c: char) {
    {
        if is_apostrophe_letter(c) {
            b.close(i);
            return;
        }
        if is_single_char_word(c) {
            b.close(i);
            b.open(i);
            b.push_char(c);
            b.close(i + c.len_utf8());
            return;
        }
        decompose_compatible(c, |d| {
            if is_combining_mark(d) {
                // A mark continues the word it sits in, and is dropped.
                return;
            }
            if d.is_alphanumeric() {
                b.open(i);
                for f in std::iter::once(d).default_case_fold() {
                    b.push_char(f);
                }
            } else {
                b.close(i);
            }
        });
    }
}

/// Normalizes a single rule term into its words.
pub fn words(text: &str) -> Vec<String> {
    let n = normalize(text);
    (0..n.len()).map(|i| n.word(i).to_string()).collect()
}

/// True when `a` and `b` differ by at most one edit (insertion, deletion or
/// substitution of one character).
pub fn within_one_edit(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    // A character is at most 4 bytes: a quick bound before counting.
    if a.len().abs_diff(b.len()) > 4 {
        return false;
    }
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    // One edit cannot change both the first and the last character.
    if ab.len() > 1 && bb.len() > 1 && ab[0] != bb[0] && ab[ab.len() - 1] != bb[bb.len() - 1] {
        return false;
    }
    if a.is_ascii() && b.is_ascii() {
        return one_edit_bytes(ab, bb);
    }
    let (la, lb) = (a.chars().count(), b.chars().count());
    if la.abs_diff(lb) > 1 {
        return false;
    }
    // Skip the common prefix, then the rest must agree after skipping the
    // one differing character (on the longer side, or on both).
    let mut ai = a.chars();
    let mut bi = b.chars();
    loop {
        let (ra, rb) = (ai.as_str(), bi.as_str());
        match (ai.next(), bi.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x == y => continue,
            _ => {
                fn skip(s: &str) -> &str {
                    let mut c = s.chars();
                    c.next();
                    c.as_str()
                }
                return match la.cmp(&lb) {
                    std::cmp::Ordering::Equal => skip(ra) == skip(rb),
                    std::cmp::Ordering::Greater => skip(ra) == rb,
                    std::cmp::Ordering::Less => ra == skip(rb),
                };
            }
        }
    }
}

fn one_edit_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    let p = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    match a.len().cmp(&b.len()) {
        std::cmp::Ordering::Equal => a[(p + 1).min(a.len())..] == b[(p + 1).min(b.len())..],
        std::cmp::Ordering::Greater => a[p + 1..] == b[p..],
        std::cmp::Ordering::Less => a[p..] == b[p + 1..],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s)
    }

    #[test]
    fn folds_case_diacritics_and_compat_forms() {
        let cases: &[(&str, &[&str])] = &[
            ("Zelensky", &["zelensky"]),
            ("Sélenskyj", &["selenskyj"]),
            ("SELENSKYJ", &["selenskyj"]),
            ("Straße", &["strasse"]),
            ("ﬁnal", &["final"]),
            ("ＡＢＣ", &["abc"]),
            ("Зеленський", &["зеленськии"]),
            ("ЗЕЛЕНСЬКИЙ", &["зеленськии"]),
            ("Ёлка", &["елка"]),
            ("Ελλάδα", &["ελλαδα"]),
        ];
        for (input, want) in cases {
            assert_eq!(w(input), *want, "input {input}");
        }
    }

    #[test]
    fn hyphens_dashes_and_apostrophes_separate_words() {
        let want = ["28", "point"];
        for s in [
            "28-point",
            "28 point",
            "28\u{2011}point",
            "28–point",
            "28—point",
            "28 - point",
        ] {
            assert_eq!(w(s), want, "input {s:?}");
        }
        for s in ["Zelensky's", "Zelensky’s", "Zelensky\u{02BC}s"] {
            assert_eq!(w(s), ["zelensky", "s"], "input {s:?}");
        }
    }

    #[test]
    fn cyrillic_words_are_split_on_unicode_boundaries() {
        assert_eq!(
            w("Зеленський, Путін і «мирний план»!"),
            ["зеленськии", "путін", "і", "мирнии", "план"]
        );
        assert_eq!(w("США—Україна"), ["сша", "украіна"]);
    }

    #[test]
    fn ideographs_are_one_word_each() {
        assert_eq!(w("和平计划"), ["和", "平", "计", "划"]);
    }

    #[test]
    fn spans_point_back_into_the_original() {
        let text = "«Witkoff’s» 28‑point plan";
        let n = normalize(text);
        let origs: Vec<&str> = n
            .tokens
            .iter()
            .map(|t| &text[t.orig_start as usize..t.orig_end as usize])
            .collect();
        assert_eq!(origs, ["Witkoff", "s", "28", "point", "plan"]);
        assert_eq!(n.norm, " witkoff s 28 point plan ");
    }

    #[test]
    fn table_agrees_with_the_general_path() {
        for u in 0x80..TABLE_END {
            let Some(c) = char::from_u32(u) else { continue };
            for text in [format!("a{c}b"), format!("{c}"), format!("x {c} y")] {
                let mut fast = NormText::default();
                normalize_into(&text, &mut fast);
                let mut tokens = Vec::new();
                let mut b = Builder {
                    buf: " ".to_string(),
                    tokens: &mut tokens,
                    in_word: false,
                    word_norm_start: 0,
                    word_orig_start: 0,
                };
                for (i, ch) in text.char_indices() {
                    if ch.is_ascii() {
                        if ch.is_ascii_alphanumeric() {
                            b.open(i);
                            b.buf.push(ch.to_ascii_lowercase());
                        } else {
                            b.close(i);
                        }
                    } else {
                        slow_char(&mut b, i, ch);
                    }
                }
                let slow = b.finish(text.len());
                assert_eq!((fast.norm, fast.tokens), (slow, tokens), "U+{u:04X}");
            }
        }
    }

    #[test]
    fn general_punctuation_separates_words() {
        for u in 0x2000..=0x206F {
            let c = char::from_u32(u).unwrap();
            let mut any_word = false;
            decompose_compatible(c, |d| any_word |= d.is_alphanumeric());
            assert!(!any_word, "U+{u:04X} has a letter or digit");
            assert_eq!(words(&format!("a{c}b")), ["a", "b"], "U+{u:04X}");
        }
    }

    #[test]
    fn empty_and_punctuation_only() {
        assert!(normalize("").is_empty());
        assert!(normalize(" -- !! ").is_empty());
        assert_eq!(normalize("").norm, "");
    }

    #[test]
    fn one_edit() {
        assert!(within_one_edit("dmitriev", "dmitiev"));
        assert!(!within_one_edit("dmitriev", "dmitrieff"));
        assert!(within_one_edit("dmitriev", "dmytriev"));
        assert!(within_one_edit("dmitriev", "dmitrievv"));
        assert!(!within_one_edit("dmitriev", "dmytrijev"));
        assert!(within_one_edit("абв", "абг"));
        assert!(!within_one_edit("абвг", "бавг"));
        assert!(!within_one_edit("ab", "ba"));
        assert!(within_one_edit("a", ""));
        assert!(within_one_edit("xdmitriev", "dmitriev"));
        assert!(!within_one_edit("xdmitriey", "dmitriev"));
    }
}
