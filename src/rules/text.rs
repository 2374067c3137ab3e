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

struct Builder<'a> {
    out: &'a mut NormText,
    in_word: bool,
    word_norm_start: u32,
    word_orig_start: u32,
}

impl Builder<'_> {
    fn open(&mut self, orig_start: usize) {
        if !self.in_word {
            self.in_word = true;
            self.word_norm_start = self.out.norm.len() as u32;
            self.word_orig_start = orig_start as u32;
        }
    }

    fn close(&mut self, orig_end: usize) {
        if self.in_word {
            self.in_word = false;
            let norm_end = self.out.norm.len() as u32;
            if norm_end > self.word_norm_start {
                self.out.tokens.push(Token {
                    norm_start: self.word_norm_start,
                    norm_end,
                    orig_start: self.word_orig_start,
                    orig_end: orig_end as u32,
                });
                self.out.norm.push(' ');
            }
        }
    }
}

/// Normalizes `text` into words. The same function serves rule terms and
/// item fields, so both sides always agree.
pub fn normalize(text: &str) -> NormText {
    let mut out = NormText {
        norm: String::with_capacity(text.len() + 2),
        tokens: Vec::with_capacity(text.len() / 6 + 1),
    };
    normalize_into(text, &mut out);
    out
}

/// Like [`normalize`], reusing `out`'s buffers.
pub fn normalize_into(text: &str, out: &mut NormText) {
    out.norm.clear();
    out.tokens.clear();
    out.norm.push(' ');
    let mut b = Builder {
        out,
        in_word: false,
        word_norm_start: 0,
        word_orig_start: 0,
    };
    for (i, c) in text.char_indices() {
        if c.is_ascii() {
            if c.is_ascii_alphanumeric() {
                b.open(i);
                b.out.norm.push(c.to_ascii_lowercase());
            } else {
                b.close(i);
            }
            continue;
        }
        if is_apostrophe_letter(c) {
            b.close(i);
            continue;
        }
        if is_single_char_word(c) {
            b.close(i);
            b.open(i);
            b.out.norm.push(c);
            b.close(i + c.len_utf8());
            continue;
        }
        decompose_compatible(c, |d| {
            if is_combining_mark(d) {
                // A mark continues the word it sits in, and is dropped.
                return;
            }
            if d.is_alphanumeric() {
                b.open(i);
                for f in std::iter::once(d).default_case_fold() {
                    b.out.norm.push(f);
                }
            } else {
                b.close(i);
            }
        });
    }
    b.close(text.len());
    if out.tokens.is_empty() {
        out.norm.clear();
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
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (short, long) = if a.len() <= b.len() { (&a, &b) } else { (&b, &a) };
    match long.len() - short.len() {
        0 => short.iter().zip(long.iter()).filter(|(x, y)| x != y).count() <= 1,
        1 => {
            let prefix = short.iter().zip(long.iter()).take_while(|(x, y)| x == y).count();
            short[prefix..] == long[prefix + 1..]
        }
        _ => false,
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
    }
}
