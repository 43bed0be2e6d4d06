//! Input limits, checked before either parser runs.
//!
//! Both parsers recurse, and the `kdl` crate in more places than one would guess: once per `{`
//! block, but also once per `*` or `/` inside a block comment and once per stray character at
//! the top level of a broken file (its error recovery starts the document over after each one).
//! A recursion deeper than the stack aborts the process, which no diagnostic can follow; and the
//! crate's time grows exponentially with child blocks slashdashed inside one another. So before
//! parsing, [`check`] measures the file with KDL 2.0's own lexical rules — every newline kind,
//! quoted, multi-line and raw strings, nested block comments — and [`crate_stack`] bounds the
//! stack the crate could need on any reading of the text, valid or not, so that
//! [`super::parse_with_kdl`] runs it on a thread with that much stack.

use super::lex::{
    block_comment_end, is_unicode_space, line_comment_end, newline_len, quoted_end, raw_end,
    utf8_len,
};
use crate::diag::{codes, Diagnostic};

/// Deepest `{ … }` nesting accepted. Real topologies nest about five levels (env › cluster ›
/// pooler › pool); the limit bounds the recursion of both parsers and of the later tree walks.
pub const MAX_DEPTH: usize = 128;

/// Deepest nesting of child blocks commented out with `/-` inside one another. The `kdl` crate
/// reads a slashdashed child block several times over (it tries each way a node can end), so
/// every level multiplies the time it takes by two to four: a few dozen levels would never end.
pub const MAX_SLASHDASH_DEPTH: usize = 2;

/// The stack the crate may use, at most: [`crate_stack`] refuses a text that could need more.
/// It is address space, reserved but only touched as deep as the parse actually goes.
pub const MAX_CRATE_STACK: usize = 1 << 30;

/// What [`scan`] found: the first place where a limit is exceeded.
#[derive(Debug, PartialEq)]
enum Exceeded {
    Depth(usize),
    SlashdashDepth(usize),
}

/// Walks `source` with KDL's lexical rules and returns where a nesting limit is first exceeded.
/// On valid KDL the braces it counts are exactly the parsers' blocks. On broken text (an
/// unterminated string, say) it reads on the way the crate's recovery roughly does — a
/// single-line string or raw string ends at the line's end — and the stack bound of
/// [`crate_stack`], which assumes no reading at all, keeps the crate safe whatever it does there.
fn scan(source: &str) -> Option<Exceeded> {
    let b = source.as_bytes();
    let mut i = 0usize;
    // One entry per open block: whether it was slashdashed.
    let mut blocks: Vec<bool> = Vec::new();
    let mut slashdashed_open = 0usize;
    // A `/-` whose target has not been seen yet: whitespace, newlines and comments may come
    // between them.
    let mut pending_slashdash = false;
    while i < b.len() {
        let rest = &source[i..];
        match b[i] {
            b'"' => {
                pending_slashdash = false;
                i = if rest.starts_with("\"\"\"") {
                    quoted_end(source, i + 3, true)
                } else {
                    quoted_end(source, i + 1, false)
                };
            }
            b'#' => {
                pending_slashdash = false;
                let hashes = rest.bytes().take_while(|c| *c == b'#').count();
                if b.get(i + hashes) == Some(&b'"') {
                    i = raw_end(source, i + hashes, hashes);
                } else {
                    // A keyword (`#true`) or junk: code either way.
                    i += hashes;
                }
            }
            b'/' if rest.starts_with("//") => {
                // The newline that ends the comment is read as code: it ends the node.
                i = line_comment_end(source, i + 2);
            }
            b'/' if rest.starts_with("/*") => i = block_comment_end(b, i),
            b'/' if rest.starts_with("/-") => {
                pending_slashdash = true;
                i += 2;
            }
            b'{' => {
                blocks.push(pending_slashdash);
                if pending_slashdash {
                    slashdashed_open += 1;
                    if slashdashed_open > MAX_SLASHDASH_DEPTH {
                        return Some(Exceeded::SlashdashDepth(i));
                    }
                }
                pending_slashdash = false;
                if blocks.len() > MAX_DEPTH {
                    return Some(Exceeded::Depth(i));
                }
                i += 1;
            }
            b'}' => {
                pending_slashdash = false;
                if blocks.pop() == Some(true) {
                    slashdashed_open -= 1;
                }
                i += 1;
            }
            // Whitespace, newlines and an escline's backslash may stand between `/-` and what
            // it comments out.
            b' ' | b'\t' | b'\\' | b'\n' | b'\r' | 0x0b | 0x0c => i += 1,
            c if c < 0x80 => {
                pending_slashdash = false;
                i += 1;
            }
            c => {
                let ch = rest.chars().next().unwrap_or('\0');
                if !is_unicode_space(ch) && newline_len(rest) == 0 {
                    pending_slashdash = false;
                }
                i += utf8_len(c);
            }
        }
    }
    None
}

/// Rejects a text nested beyond what the parsers can take, with a PT000 pointing at the brace.
pub fn check(source: &str) -> Result<(), Vec<Diagnostic>> {
    match scan(source) {
        None => Ok(()),
        Some(Exceeded::Depth(at)) => Err(vec![Diagnostic::error(
            codes::PT000,
            format!("blocks are nested more than {MAX_DEPTH} levels deep"),
        )
        .with_span((at, 1).into(), "too deep")
        .with_help(
            "a topology nests a few levels (env › cluster › pooler › pool); check for unbalanced braces",
        )]),
        Some(Exceeded::SlashdashDepth(at)) => Err(vec![Diagnostic::error(
            codes::PT000,
            format!(
                "child blocks commented out with `/-` are nested more than {MAX_SLASHDASH_DEPTH} deep"
            ),
        )
        .with_span((at, 1).into(), "slashdashed inside a slashdashed block")
        .with_help(
            "the KDL parser reads a slashdashed block several times over, so each level multiplies its time; delete the inner blocks or comment them out with /* */",
        )]),
    }
}

/// The most stack the `kdl` crate could use on `source`, read in any way at all (valid or
/// not, since its error recovery can restart reading anywhere): every character is charged
/// what one level of the deepest recursion it can start costs. Measured with the crate built
/// as this project builds it (dev profile at opt-level 1, release with LTO), per character:
/// `{` about 7 KiB, `*` or `/` in a block comment 0.7–1.4 KiB, a stray `}` 0.6 KiB, other
/// punctuation at most 0.3 KiB (a non-ASCII character is charged as punctuation); letters, digits and whitespace start no recursion. The charges
/// below are about twice those, plus a base for the caller's own frames.
pub fn crate_stack(source: &str) -> usize {
    let mut need = 8usize << 20;
    for &c in source.as_bytes() {
        need += match c {
            b'{' => 16 << 10,
            b'*' | b'/' => 4 << 10,
            b'}' => 2 << 10,
            b if b.is_ascii_alphanumeric() || b.is_ascii_whitespace() => 0,
            // Continuation bytes of a multi-byte character are not charged again.
            0x80..=0xbf => 0,
            _ => 1 << 10,
        };
    }
    need
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deep(prefix: &str) -> String {
        format!("{prefix}{}", "a{".repeat(MAX_DEPTH + 1))
    }

    #[test]
    fn nesting_is_found_behind_every_kind_of_line_end_and_string() {
        for prefix in [
            "// c\r",
            "// c\u{2028}",
            "// c\u{2029}",
            "// c\u{85}",
            "// c\u{0b}",
            "// c\u{0c}",
            "// c\r\n",
            "a #\"\\\"# ",
            "a ##\"\\\"\"# \"## ",
            "/* \" */ ",
            "/* /* \" */ */ ",
            "a \"\\\"{\" ",
            "a \"\"\"\n\\\"\"\" {\n\"\"\" ",
            "a #\"\"\"\n\"\"\" { \"\n\"\"\"# ",
            "a \"x\\\n  y\" ",
        ] {
            assert!(
                matches!(scan(&deep(prefix)), Some(Exceeded::Depth(_))),
                "missed behind {prefix:?}"
            );
        }
    }

    #[test]
    fn braces_inside_strings_and_comments_do_not_count() {
        let many = "{".repeat(MAX_DEPTH + 1);
        for text in [
            format!("a \"{many}\""),
            format!("a #\"{many}\"#"),
            format!("a ##\"\"#{many}\"##"),
            format!("a \"\"\"\n{many}\n\"\"\""),
            format!("// {many}"),
            format!("/* {many} */"),
            format!("/* /* */ {many} */"),
        ] {
            assert_eq!(scan(&text), None, "{text}");
        }
    }

    #[test]
    fn slashdashed_blocks_nest_only_a_little() {
        assert_eq!(scan("a /-{ b /-{ c } }"), None);
        assert!(matches!(
            scan("a /-{ b /-{ c /-{ d } } }"),
            Some(Exceeded::SlashdashDepth(_))
        ));
        assert!(matches!(
            scan("a /-\n /* x */ { b /- \\\n { c /-{ d } } }"),
            Some(Exceeded::SlashdashDepth(_))
        ));
        // Slashdashed nodes, and blocks after a slashdashed argument, are not slashdashed blocks.
        assert_eq!(scan("/-a { /-b { /-c { /-d 1 {} } } }"), None);
        assert_eq!(scan("a /-1 { b /-2 { c /-3 { } } }"), None);
    }
}
