//! PostgreSQL stores no NUL character, in text or in JSONB, where Rust
//! strings (and so chat text) may hold one. Text and records are
//! byte-stuffed on the way in with one private-use character, ESC
//! (U+E000): ESC becomes ESC ESC and NUL becomes ESC `0`; reading undoes
//! it. Every string that reaches the database goes through here, so keys
//! and the same text inside records always agree.

use std::borrow::Cow;

const ESC: char = '\u{E000}';

/// A string as the database keeps it.
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if !s.contains(['\0', ESC]) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\0' => out.extend([ESC, '0']),
            ESC => out.extend([ESC, ESC]),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A string read back as it was before [`text`].
pub(crate) fn untext(s: &str) -> Cow<'_, str> {
    unstuff(s, "\0")
}

/// Serialized JSON as the database keeps it: NUL appears there as the
/// escape `\u0000`, ESC as itself.
pub(crate) fn json(s: String) -> String {
    if !s.contains("\\u0000") && !s.contains(ESC) {
        return s;
    }
    let mut out = String::with_capacity(s.len() + 8);
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('u') if chars.as_str().starts_with("0000") => {
                    out.extend([ESC, '0']);
                    chars.nth(3);
                }
                next => {
                    out.push('\\');
                    out.extend(next);
                }
            },
            ESC => out.extend([ESC, ESC]),
            c => out.push(c),
        }
    }
    out
}

/// JSON text read from the database, as it was serialized.
pub(crate) fn unjson(s: &str) -> Cow<'_, str> {
    unstuff(s, "\\u0000")
}

/// Undoes the stuffing, a NUL read back as `nul`.
fn unstuff<'a>(s: &'a str, nul: &str) -> Cow<'a, str> {
    if !s.contains(ESC) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match (c, c == ESC) {
            (_, true) => match chars.next() {
                Some(ESC) => out.push(ESC),
                Some('0') => out.push_str(nul),
                // Not written by `text` or `json`: kept as it is.
                other => {
                    out.push(ESC);
                    out.extend(other);
                }
            },
            (c, false) => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips_through_the_stuffing_and_holds_no_nul() {
        let tricky = [
            "plain",
            "a\0b",
            "\0",
            "\u{E000}",
            "\u{E000}0",
            "\u{E000}\u{E000}\0\u{E000}",
            "\\u0000 is six characters",
            "\\\0",
        ];
        for s in tricky {
            let serialized = serde_json::to_string(&s).unwrap();
            let stored = json(serialized.clone());
            assert!(
                !stored.contains("\\u0000") || s.contains("\\u0000"),
                "{s:?}"
            );
            assert_eq!(unjson(&stored), serialized, "{s:?}");
            let kept = text(s);
            assert!(!kept.contains('\0'));
            assert_eq!(untext(&kept), s, "{s:?}");
            // Text put into a record by SQL reads back as the original.
            let in_record = format!("\"{}\"", kept.replace('\\', "\\\\"));
            let back: String = serde_json::from_str(&unjson(&in_record)).unwrap();
            assert_eq!(back, s, "{s:?}");
        }
    }
}
