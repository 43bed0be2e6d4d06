//! `pgtopo fmt`: the canonical layout of a topology file, comments and blank lines kept.
//!
//! Canonical means: four spaces of indentation per block level, single spaces between the parts
//! of a node, no trailing whitespace, no blank line just inside a `{` or before a `}`, at most one
//! blank line in a row, every newline a line feed, and one newline at the end. A line that
//! continues a node (after `\` at the end of the line before) is indented one level deeper, and
//! so is the rest of a quoted string continued with `\` (the whitespace there is not part of the
//! string). Otherwise strings and comments are copied byte for byte, multi-line ones included.
//! The file is read with KDL's own lexical rules (`super::lex`), so every newline kind ends a line
//! and a comment where KDL ends it. The `kdl` crate's own autoformat is not used because it
//! rewrites quoted strings as bare identifiers and drops blank lines, which is not what people
//! write.

use super::lex::{
    block_comment_end, is_unicode_space, line_comment_end, newline_len, quoted_end, raw_end,
    utf8_len,
};

/// A piece of one line.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    /// Code outside strings and comments (whitespace collapsed later).
    Code(&'a str),
    /// A string or comment, copied verbatim.
    Verbatim(&'a str),
    /// A single-line quoted string, copied verbatim except for the indentation after a `\`
    /// that continues it on the next line (whitespace the string does not contain).
    Quoted(&'a str),
}

/// One line of the file: its pieces, and whether it continues the node of the line before
/// (after an escline, `\` at the end of a line).
#[derive(Debug, Default)]
struct Line<'a> {
    pieces: Vec<Piece<'a>>,
    continues: bool,
}

impl Line<'_> {
    /// Whether the line ends in an escline: a `\` followed by nothing but whitespace and
    /// comments, so the next line continues the same node.
    fn ends_in_escline(&self) -> bool {
        for p in self.pieces.iter().rev() {
            match p {
                Piece::Verbatim(v) if v.starts_with("//") || v.starts_with("/*") => {}
                Piece::Code(c) if c.chars().all(is_unicode_space) => {}
                Piece::Code(c) => return c.trim_end_matches(is_unicode_space).ends_with('\\'),
                _ => return false,
            }
        }
        false
    }
}

/// Splits the source into lines of pieces, with KDL's lexical rules: every newline kind ends a
/// line (CRLF counts once), and a string, raw string or comment is one piece, so a multi-line
/// one spans several lines of the file.
fn scan(src: &str) -> Vec<Line<'_>> {
    let b = src.as_bytes();
    let mut lines = vec![Line::default()];
    let (mut i, mut start) = (0usize, 0usize);
    fn flush<'a>(lines: &mut [Line<'a>], src: &'a str, from: usize, to: usize) {
        if to > from {
            lines
                .last_mut()
                .unwrap()
                .pieces
                .push(Piece::Code(&src[from..to]));
        }
    }
    while i < b.len() {
        let rest = &src[i..];
        let piece = match b[i] {
            b'"' if rest.starts_with("\"\"\"") => Some((quoted_end(src, i + 3, true), false)),
            b'"' => Some((quoted_end(src, i + 1, false), true)),
            b'#' => {
                let hashes = rest.bytes().take_while(|c| *c == b'#').count();
                (b.get(i + hashes) == Some(&b'"'))
                    .then(|| (raw_end(src, i + hashes, hashes), false))
            }
            b'/' if rest.starts_with("//") => Some((line_comment_end(src, i + 2), false)),
            b'/' if rest.starts_with("/*") => Some((block_comment_end(b, i), false)),
            _ => None,
        };
        if let Some((end, quoted)) = piece {
            flush(&mut lines, src, start, i);
            let text = &src[i..end];
            let line = lines.last_mut().unwrap();
            line.pieces.push(if quoted {
                Piece::Quoted(text)
            } else {
                Piece::Verbatim(text)
            });
            i = end;
            start = i;
            continue;
        }
        let nl = newline_len(rest);
        if nl > 0 {
            flush(&mut lines, src, start, i);
            let continues = lines.last().unwrap().ends_in_escline();
            lines.push(Line {
                pieces: Vec::new(),
                continues,
            });
            i += nl;
            start = i;
        } else {
            i += utf8_len(b[i]);
        }
    }
    flush(&mut lines, src, start, b.len());
    lines
}

/// A single-line string with every whitespace escape that crosses a line (`\` then spaces and
/// newlines, none of which the string contains) rewritten as `\`, one newline and `indent`.
fn reindent_continued(s: &str, indent: &str, out: &mut String) {
    let mut chars = s.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some(&(_, n)) if is_unicode_space(n) || newline_len(&s[at + 1..]) > 0 => {
                let run_start = at + 1;
                let mut run_end = run_start;
                while let Some(&(j, n)) = chars.peek() {
                    if is_unicode_space(n) || newline_len(&s[j..]) > 0 {
                        run_end = j + n.len_utf8();
                        chars.next();
                    } else {
                        break;
                    }
                }
                let run = &s[run_start..run_end];
                let crosses = run.char_indices().any(|(k, _)| newline_len(&run[k..]) > 0);
                out.push('\\');
                if crosses {
                    out.push('\n');
                    out.push_str(indent);
                } else {
                    out.push_str(run);
                }
            }
            // Any other escape is two characters copied as they are (`\\` included).
            Some(&(_, n)) => {
                out.push(c);
                out.push(n);
                chars.next();
            }
            None => out.push(c),
        }
    }
}

/// The canonical text of `src`. The caller checks that it parses to the same document.
pub fn format(src: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut depth: usize = 0;
    for Line { pieces, continues } in scan(src) {
        let code: String = pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Code(c) => Some(*c),
                _ => None,
            })
            .collect();
        let opens = code.matches('{').count();
        let closes = code.matches('}').count();
        let leading_closes = code
            .trim_start_matches(is_unicode_space)
            .chars()
            .take_while(|c| *c == '}' || is_unicode_space(*c))
            .filter(|c| *c == '}')
            .count();
        // A line that continues a node (after an escline) is indented one level deeper.
        let indent = depth.saturating_sub(leading_closes) + usize::from(continues);
        depth = (depth + opens).saturating_sub(closes);
        // Join the line with whitespace collapsed in code pieces only.
        let mut line = String::new();
        for p in &pieces {
            match p {
                Piece::Code(c) => {
                    let mut last_space = line.ends_with(' ');
                    for ch in c.chars() {
                        if is_unicode_space(ch) {
                            if !last_space && !line.is_empty() {
                                line.push(' ');
                            }
                            last_space = true;
                        } else {
                            line.push(ch);
                            last_space = false;
                        }
                    }
                }
                Piece::Verbatim(v) => line.push_str(v),
                Piece::Quoted(q) => reindent_continued(q, &"    ".repeat(indent + 1), &mut line),
            }
        }
        let line = line.trim_end_matches(is_unicode_space).to_owned();
        if line.is_empty() {
            // At most one blank line, never right after an opening brace or at the top.
            if out
                .last()
                .is_some_and(|l| !l.is_empty() && !l.ends_with('{'))
            {
                out.push(String::new());
            }
            continue;
        }
        if leading_closes > 0 && out.last().is_some_and(String::is_empty) {
            out.pop();
        }
        out.push(format!("{}{}", "    ".repeat(indent), line));
    }
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::format;

    #[test]
    fn reindents_and_collapses_but_keeps_strings_and_comments() {
        let src = "// top\n\n\ncluster  \"a  b\"   {\n\n  node \"x\"    role=\"primary\"   // why:  two spaces kept\n   /* block\n      comment */\n\n\n}\n\n";
        let want = "// top\n\ncluster \"a  b\" {\n    node \"x\" role=\"primary\" // why:  two spaces kept\n    /* block\n      comment */\n}\n";
        assert_eq!(format(src), want);
        assert_eq!(format(want), want, "idempotent");
    }

    #[test]
    fn every_newline_kind_ends_a_line() {
        for nl in [
            "\r", "\r\n", "\u{85}", "\u{0b}", "\u{0c}", "\u{2028}", "\u{2029}",
        ] {
            let src = format!("a {{{nl}b 1 // c{nl}}}{nl}d #nan #inf #-inf{nl}");
            assert_eq!(
                format(&src),
                "a {\n    b 1 // c\n}\nd #nan #inf #-inf\n",
                "{nl:?}"
            );
        }
    }

    #[test]
    fn continued_nodes_and_strings_are_indented_one_level_deeper() {
        let src = "c {\n  a 1 \\ // why\n 2\n  b \"x \\\r\n          y\" \\\n z=1\n}\n";
        let want =
            "c {\n    a 1 \\ // why\n        2\n    b \"x \\\n        y\" \\\n        z=1\n}\n";
        assert_eq!(format(src), want);
        assert_eq!(format(want), want, "idempotent");
        // An escaped backslash at the end of a string is not a continuation.
        assert_eq!(format("a \"x\\\\\"\nb 1\n"), "a \"x\\\\\"\nb 1\n");
    }
}
