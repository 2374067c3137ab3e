//! Problems in config files, each named by `file:line:col` with the
//! offending line and a caret under it; and the source files they point
//! into.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// One problem in a config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    /// The offending source line and the caret under it, when known.
    pub excerpt: Option<(String, usize, usize)>,
    /// A warning does not stop the configuration from loading.
    pub warning: bool,
}

impl Diagnostic {
    pub(super) fn into_warning(self) -> Diagnostic {
        Diagnostic { warning: true, ..self }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}{}",
            self.file.display(),
            self.line,
            self.col,
            if self.warning { "warning: " } else { "" },
            self.message
        )?;
        if let Some((line, col, len)) = &self.excerpt {
            let pad: String = line
                .chars()
                .take(col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            write!(f, "\n    {line}\n    {pad}{}", "^".repeat((*len).max(1)))?;
        }
        Ok(())
    }
}

/// Everything wrong with a configuration.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigErrors(pub Vec<Diagnostic>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// A source file kept in memory so that byte offsets become line:col.
pub(super) struct Source {
    pub(super) path: PathBuf,
    pub(super) text: String,
}

impl Source {
    pub(super) fn read(path: &Path, diags: &mut Vec<Diagnostic>) -> Option<Source> {
        match read_capped(path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => Some(Source {
                    path: path.to_path_buf(),
                    text,
                }),
                Err(e) => {
                    diags.push(whole_file(path, format!("not valid UTF-8 ({e})")));
                    None
                }
            },
            Err(e) => {
                diags.push(whole_file(path, format!("cannot read: {e}")));
                None
            }
        }
    }

    /// The line (from 1) of a byte offset. Counts from the start: only for
    /// reporting, never per entry of a long file.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())].matches('\n').count() + 1
    }

    pub(super) fn diag_at(&self, offset: usize, len: usize, message: impl Into<String>) -> Diagnostic {
        let offset = floor_char_boundary(&self.text, offset);
        let len = floor_char_boundary(&self.text, offset + len) - offset;
        let before = &self.text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.matches('\n').count() + 1;
        let col = before[line_start..].chars().count() + 1;
        let line_end = self.text[line_start..]
            .find('\n')
            .map_or(self.text.len(), |i| line_start + i);
        let line_text = self.text[line_start..line_end].trim_end_matches('\r').to_string();
        let max_len = line_end.saturating_sub(offset).max(1);
        let width = self.text[offset..offset + len.min(max_len).min(self.text.len() - offset)]
            .chars()
            .count();
        Diagnostic {
            file: self.path.clone(),
            line,
            col,
            message: message.into(),
            excerpt: Some((line_text, col, width)),
            warning: false,
        }
    }

    pub(super) fn diag_span<T>(&self, s: &Spanned<T>, message: impl Into<String>) -> Diagnostic {
        let span = s.span();
        self.diag_at(span.start, span.end - span.start, message)
    }

    /// The byte offset where a string value's content starts, given the
    /// value's span (which includes the quotes).
    pub(super) fn string_content_start(&self, span_start: usize) -> usize {
        let rest = &self.text[span_start.min(self.text.len())..];
        if rest.starts_with("'''") || rest.starts_with("\"\"\"") {
            let after = &rest[3..];
            if after.starts_with("\r\n") {
                span_start + 5
            } else if after.starts_with('\n') {
                span_start + 4
            } else {
                span_start + 3
            }
        } else {
            span_start + 1
        }
    }

    /// The byte offset in the source of byte `value_offset` of a string
    /// value whose span starts at `span_start`: escapes of basic strings
    /// (`\"`, `\u00e9`, a line-ending backslash) take more source bytes
    /// than the value bytes they stand for.
    pub(super) fn value_offset_in_source(&self, span_start: usize, value_offset: usize) -> usize {
        let span_start = span_start.min(self.text.len());
        let basic = self.text[span_start..].starts_with('"');
        let mut pos = self.string_content_start(span_start).min(self.text.len());
        if !basic {
            return floor_char_boundary(&self.text, pos + value_offset);
        }
        let bytes = self.text.as_bytes();
        let mut produced = 0;
        while produced < value_offset && pos < bytes.len() {
            if bytes[pos] != b'\\' {
                let c = self.text[pos..].chars().next().map_or(1, char::len_utf8);
                produced += c;
                pos += c;
                continue;
            }
            match bytes.get(pos + 1) {
                Some(b'u') | Some(b'U') => {
                    let digits = if bytes[pos + 1] == b'u' { 4 } else { 8 };
                    let hex = self.text.get(pos + 2..pos + 2 + digits).unwrap_or("");
                    produced += u32::from_str_radix(hex, 16)
                        .ok()
                        .and_then(char::from_u32)
                        .map_or(1, char::len_utf8);
                    pos += 2 + digits;
                }
                // A line-ending backslash of a multi-line string: it and
                // the whitespace after it stand for nothing.
                Some(b'\n') | Some(b'\r') | Some(b' ') | Some(b'\t') => {
                    pos += 1;
                    while pos < bytes.len() && bytes[pos].is_ascii_whitespace() {
                        pos += 1;
                    }
                }
                _ => {
                    produced += 1;
                    pos += 2;
                }
            }
        }
        floor_char_boundary(&self.text, pos)
    }

    pub(super) fn parse<T: for<'de> Deserialize<'de>>(&self, diags: &mut Vec<Diagnostic>) -> Option<T> {
        match toml::from_str::<T>(&self.text) {
            Ok(v) => Some(v),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let msg = e.message().trim().to_string();
                diags.push(self.diag_at(span.start, span.end - span.start, msg));
                None
            }
        }
    }
}

/// `at`, moved back to the start of the character it falls in (and kept
/// within the text).
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// The largest config file read: a path that names a device or a huge
/// file by mistake must not hang `check` or start-up.
const MAX_FILE: u64 = 16 * 1024 * 1024;

/// A regular file's bytes, at most [`MAX_FILE`] of them.
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let f = std::fs::File::open(path)?;
    if !f.metadata()?.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut bytes = Vec::new();
    f.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(std::io::Error::other(format!("larger than {} MiB", MAX_FILE >> 20)));
    }
    Ok(bytes)
}

pub(super) fn whole_file(path: &Path, message: String) -> Diagnostic {
    Diagnostic {
        file: path.to_path_buf(),
        line: 1,
        col: 1,
        message,
        excerpt: None,
        warning: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by fuzzing: an error in a query after escapes and Cyrillic
    /// text put the caret inside a character, and `check` panicked.
    #[test]
    fn carets_land_on_characters_after_escapes() {
        let text = "query = \"\\\"мирний\\\" \\u00e9 щ (\"\n";
        let src = Source {
            path: PathBuf::from("w.toml"),
            text: text.to_string(),
        };
        // The value is `"мирний" é щ (`; its `(` is at value byte 22.
        let value = "\"мирний\" é щ (";
        let at = value.find('(').unwrap();
        let source_at = src.value_offset_in_source(8, at);
        assert_eq!(&text[source_at..source_at + 1], "(");
        // Any offset and length, even past a character's start, gives a
        // diagnostic rather than a panic.
        for o in 0..text.len() + 3 {
            let d = src.diag_at(o, 3, "x");
            assert!(d.col >= 1);
        }
    }

    #[test]
    fn a_device_or_a_folder_is_not_read_as_a_config_file() {
        for p in ["/dev/zero", "/"] {
            let mut diags = Vec::new();
            assert!(Source::read(Path::new(p), &mut diags).is_none());
            assert!(diags[0].message.starts_with("cannot read: "), "{}", diags[0]);
        }
    }

    #[test]
    fn diagnostics_point_at_line_and_column() {
        let src = Source {
            path: PathBuf::from("w.toml"),
            text: "a = 1\nquery = 'x (y'\n".into(),
        };
        let d = src.diag_at(15, 1, "unbalanced");
        assert_eq!((d.line, d.col), (2, 10));
        assert_eq!(
            d.to_string(),
            "w.toml:2:10: unbalanced\n    query = 'x (y'\n             ^"
        );
    }
}
