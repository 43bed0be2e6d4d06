//! KDL 2.0's lexical rules, shared by the input limits and `fmt`: where a newline, a string, a
//! raw string or a block comment ends. Each function reads forward from a byte offset without
//! recursion, so a text of any shape costs time in proportion to its length.

/// KDL 2.0's newlines (the crate's `NEWLINES`): CRLF counts as one.
pub fn newline_len(rest: &str) -> usize {
    let mut chars = rest.chars();
    match chars.next() {
        Some('\r') if chars.next() == Some('\n') => 2,
        Some(c @ ('\r' | '\n' | '\u{85}' | '\u{0b}' | '\u{0c}' | '\u{2028}' | '\u{2029}')) => {
            c.len_utf8()
        }
        _ => 0,
    }
}

pub fn utf8_len(lead: u8) -> usize {
    match lead {
        0xf0.. => 4,
        0xe0.. => 3,
        0xc0.. => 2,
        _ => 1,
    }
}

pub fn is_unicode_space(c: char) -> bool {
    matches!(
        c,
        '\t' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
    )
}

/// The end of a quoted string whose body starts at `i`. A backslash escapes the next
/// character (a newline included: that is a whitespace escape), so `\"` never closes it. A
/// single-line string ends, broken, at an unescaped newline.
pub fn quoted_end(source: &str, mut i: usize, multiline: bool) -> usize {
    let b = source.as_bytes();
    while i < b.len() {
        match b[i] {
            b'\\' => {
                i += 1;
                if i < b.len() {
                    let nl = newline_len(&source[i..]);
                    i += if nl > 0 { nl } else { utf8_len(b[i]) };
                }
            }
            b'"' if !multiline => return i + 1,
            b'"' if source[i..].starts_with("\"\"\"") => return i + 3,
            c => {
                if !multiline && newline_len(&source[i..]) > 0 {
                    return i;
                }
                i += utf8_len(c);
            }
        }
    }
    b.len()
}

/// The end of a raw string: `quote` is the index of its first `"` after `hashes` hashes. Raw
/// strings have no escapes, so `\"` is a backslash and a quote, and only `"` followed by the
/// same number of hashes closes one. It is multi-line when `"""` is followed by a newline, as
/// the crate reads it; a single-line one ends, broken, at a newline.
pub fn raw_end(source: &str, quote: usize, hashes: usize) -> usize {
    let b = source.as_bytes();
    let multiline = source[quote..].starts_with("\"\"\"") && newline_len(&source[quote + 3..]) > 0;
    let mut i = quote + if multiline { 3 } else { 1 };
    let closes = |i: usize| -> Option<usize> {
        let q = if multiline { 3 } else { 1 };
        let quotes = b.get(i..i + q)?.iter().all(|c| *c == b'"');
        let hashes_ok = b.get(i + q..i + q + hashes)?.iter().all(|c| *c == b'#');
        (quotes && hashes_ok).then_some(i + q + hashes)
    };
    while i < b.len() {
        if b[i] == b'"' {
            if let Some(end) = closes(i) {
                return end;
            }
        } else if !multiline && newline_len(&source[i..]) > 0 {
            return i;
        }
        i += utf8_len(b[i]);
    }
    b.len()
}

/// The end of a `//` comment starting at `i`: the next newline, which is not part of it.
pub fn line_comment_end(source: &str, mut i: usize) -> usize {
    let b = source.as_bytes();
    while i < b.len() && newline_len(&source[i..]) == 0 {
        i += utf8_len(b[i]);
    }
    i
}

/// The end of a block comment starting at `i` (`/*`), nested as KDL nests them.
pub fn block_comment_end(b: &[u8], mut i: usize) -> usize {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i..].starts_with(b"/*") {
            depth += 1;
            i += 2;
        } else if b[i..].starts_with(b"*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}
