//! The full-text index's tokenizer, registered with SQLite's FTS5 as
//! `newshound`: it cuts and folds text exactly as watchlist rules see it
//! ([`crate::text`]), so that a search finds what a rule would, in
//! every script. Pure ASCII text, most of it, takes a byte loop; anything
//! else goes through the rules' normalization.

use std::ffi::{c_char, c_int, c_void};

use rusqlite::{Connection, ffi};

use crate::text;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("SQLite's FTS5 interface is not available (code {0})")]
    NoFts5(c_int),
    #[error("cannot register the full-text tokenizer (code {0})")]
    Register(c_int),
}

/// Registers the tokenizer on `conn`; needed before the full-text index is
/// created or used on that connection.
pub fn register(conn: &Connection) -> Result<(), TokenizerError> {
    // SAFETY: the handle stays valid while `conn` is borrowed; the
    // statement is finalized before returning; `api` is written by SQLite
    // through the pointer bound for the duration of the step.
    unsafe {
        let db = conn.handle();
        let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(db, c"SELECT fts5(?1)".as_ptr(), -1, &mut stmt, std::ptr::null_mut());
        if rc != ffi::SQLITE_OK {
            return Err(TokenizerError::NoFts5(rc));
        }
        let mut api: *mut ffi::fts5_api = std::ptr::null_mut();
        let rc = ffi::sqlite3_bind_pointer(stmt, 1, (&raw mut api).cast::<c_void>(), c"fts5_api_ptr".as_ptr(), None);
        let step = if rc == ffi::SQLITE_OK {
            ffi::sqlite3_step(stmt)
        } else {
            rc
        };
        ffi::sqlite3_finalize(stmt);
        if step != ffi::SQLITE_ROW || api.is_null() || (*api).iVersion < 2 {
            return Err(TokenizerError::NoFts5(step));
        }
        let Some(create) = (*api).xCreateTokenizer else {
            return Err(TokenizerError::NoFts5(ffi::SQLITE_MISUSE));
        };
        // FTS5 keeps its own copy of this table of functions.
        let mut methods = ffi::fts5_tokenizer {
            xCreate: Some(x_create),
            xDelete: Some(x_delete),
            xTokenize: Some(x_tokenize),
        };
        // The name the index's `tokenize` option gives (migration 6).
        let rc = create(api, c"newshound".as_ptr(), std::ptr::null_mut(), &mut methods, None);
        if rc != ffi::SQLITE_OK {
            return Err(TokenizerError::Register(rc));
        }
    }
    Ok(())
}

/// The tokenizer has no state; every instance is this one.
static INSTANCE: u8 = 0;

unsafe extern "C" fn x_create(
    _user: *mut c_void,
    _args: *mut *const c_char,
    _n_args: c_int,
    out: *mut *mut ffi::Fts5Tokenizer,
) -> c_int {
    if out.is_null() {
        return ffi::SQLITE_MISUSE;
    }
    // SAFETY: `out` is a valid pointer supplied by FTS5.
    unsafe { *out = (&raw const INSTANCE).cast_mut().cast::<ffi::Fts5Tokenizer>() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_delete(_t: *mut ffi::Fts5Tokenizer) {}

type TokenCallback = unsafe extern "C" fn(*mut c_void, c_int, *const c_char, c_int, c_int, c_int) -> c_int;

unsafe extern "C" fn x_tokenize(
    _t: *mut ffi::Fts5Tokenizer,
    ctx: *mut c_void,
    _flags: c_int,
    text: *const c_char,
    n_text: c_int,
    x_token: Option<TokenCallback>,
) -> c_int {
    let Some(x_token) = x_token else {
        return ffi::SQLITE_MISUSE;
    };
    if text.is_null() || n_text <= 0 {
        return ffi::SQLITE_OK;
    }
    // SAFETY: FTS5 passes `n_text` readable bytes at `text`, alive for
    // this call.
    let bytes = unsafe { std::slice::from_raw_parts(text.cast::<u8>(), n_text as usize) };
    // A panic must not cross into C.
    std::panic::catch_unwind(|| {
        tokens(bytes, |token, start, end| {
            // SAFETY: the callback and its context come from FTS5 for this
            // call; the token bytes outlive the call.
            unsafe {
                x_token(
                    ctx,
                    0,
                    token.as_ptr().cast::<c_char>(),
                    token.len() as c_int,
                    start as c_int,
                    end as c_int,
                )
            }
        })
    })
    .unwrap_or(ffi::SQLITE_ERROR)
}

/// Calls `emit` with each word of `bytes` (normalized) and its byte span in
/// `bytes`, until `emit` returns an error code, which is returned.
pub fn tokens(bytes: &[u8], mut emit: impl FnMut(&[u8], usize, usize) -> c_int) -> c_int {
    if bytes.is_ascii() {
        // Lower-cased in one go; words are then slices of the copy.
        let lower = bytes.to_ascii_lowercase();
        let mut i = 0;
        while i < lower.len() {
            if !lower[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < lower.len() && lower[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let rc = emit(&lower[start..i], start, i);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        return ffi::SQLITE_OK;
    }
    // Text that is not valid UTF-8 is read with replacement characters;
    // spans then point into that reading, which only the rarely used
    // highlight functions would notice.
    // A SIMD check first, faster than `from_utf8_lossy`, which walks the
    // text chunk by chunk even when it is valid.
    let s = match simdutf8::basic::from_utf8(bytes) {
        Ok(s) => std::borrow::Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    };
    // The store thread tokenizes one field after another: its buffers are
    // kept from one to the next.
    thread_local! {
        static NORM: std::cell::RefCell<text::NormText> = std::cell::RefCell::default();
    }
    NORM.with_borrow_mut(|n| {
        text::normalize_into(&s, n);
        for (i, t) in n.tokens.iter().enumerate() {
            let rc = emit(n.word(i).as_bytes(), t.orig_start as usize, t.orig_end as usize);
            if rc != ffi::SQLITE_OK {
                return rc;
            }
        }
        ffi::SQLITE_OK
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        tokens(s.as_bytes(), |w, a, b| {
            out.push((String::from_utf8(w.to_vec()).unwrap(), s[a..b].to_string()));
            ffi::SQLITE_OK
        });
        out
    }

    #[test]
    fn words_are_the_rules_words() {
        for s in [
            "Witkoff's 28-point plan, in Geneva!",
            "Зеленський і Путін: мирний план",
            "Négociations à Genève — l’été",
            "Straße ﬁnal ①",
            "“Peace” plan’s ‘28 points’ — café au lait, naïve",
            "mixed latin-кирилиця words,with;punctuation",
            "combining e\u{301}clair and \u{301}alone",
            "和平计划 in 日内瓦",
            "",
            "   ",
        ] {
            let got: Vec<String> = words(s).into_iter().map(|(w, _)| w).collect();
            assert_eq!(got, text::words(s), "{s:?}");
        }
        // Spans cover the original text of each word.
        assert_eq!(
            words("Zelenskyy's PLAN"),
            [
                ("zelenskyy".to_string(), "Zelenskyy".to_string()),
                ("s".to_string(), "s".to_string()),
                ("plan".to_string(), "PLAN".to_string())
            ]
        );
        let ru = words("«Зеленський» says");
        assert_eq!(
            (ru[0].0.as_str(), ru[0].1.as_str()),
            (text::words("Зеленський")[0].as_str(), "Зеленський")
        );
        assert_eq!(ru[1].1, "says");
    }

    #[test]
    fn random_text_gives_the_rules_words() {
        // Pure ASCII pieces, pieces with other characters, and runs of
        // both, in any order.
        let pool: Vec<&str> = vec![
            "a", "Z", "9", "plan", " ", "-", "'", ".", ",", "’", "“", "—", "é", "ß", "ﬁ", "①", "Ж", "ж", "和", "й",
            "\u{301}", "\u{a0}", "\t", "_", "<", "&", "möter", "Київ",
        ];
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..5000 {
            let s: String = (0..rng.usize(0..24)).map(|_| pool[rng.usize(..pool.len())]).collect();
            let got = words(&s);
            let ws: Vec<String> = got.iter().map(|(w, _)| w.clone()).collect();
            assert_eq!(ws, text::words(&s), "{s:?}");
            // Each span holds its word.
            for (w, orig) in got {
                assert_eq!(text::words(&orig), [w], "{s:?}");
            }
        }
    }

    #[test]
    fn invalid_utf8_is_read_with_replacement_characters() {
        let mut got = Vec::new();
        let rc = tokens(b"Caf\xff\xe9 PLAN \xd0\x9a\xd0\xb8\xd1\x97\xd0\xb2", |w, _, _| {
            got.push(String::from_utf8(w.to_vec()).unwrap());
            ffi::SQLITE_OK
        });
        assert_eq!(rc, ffi::SQLITE_OK);
        assert_eq!(got, ["caf", "plan", text::words("Київ")[0].as_str()]);
    }

    #[test]
    fn an_error_from_the_callback_stops_tokenizing() {
        for s in ["one two three", "один два три"] {
            let mut seen = 0;
            let rc = tokens(s.as_bytes(), |_, _, _| {
                seen += 1;
                if seen == 2 { ffi::SQLITE_NOMEM } else { ffi::SQLITE_OK }
            });
            assert_eq!((rc, seen), (ffi::SQLITE_NOMEM, 2), "{s:?}");
        }
    }
}
