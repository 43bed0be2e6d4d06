//! `pgtopo fmt`: the canonical layout of a topology file, comments and blank lines kept.
//!
//! Canonical means: four spaces of indentation per block level, single spaces between the parts
//! of a node, no trailing whitespace, no blank line just inside a `{` or before a `}`, at most one
//! blank line in a row, and one newline at the end. Strings and comments are copied byte for byte
//! (multi-line ones included). The `kdl` crate's own autoformat is not used because it rewrites
//! quoted strings as bare identifiers and drops blank lines, which is not what people write.

/// A piece of one physical line.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    /// Code outside strings and comments (whitespace collapsed later).
    Code(&'a str),
    /// A string or comment, copied verbatim.
    Verbatim(&'a str),
}

/// Splits the source into lines of pieces; a multi-line string or comment is one piece, so it can
/// span "lines".
fn scan<'a>(src: &'a str) -> Vec<Vec<Piece<'a>>> {
    let b = src.as_bytes();
    let mut lines = vec![Vec::new()];
    let (mut i, mut start) = (0usize, 0usize);
    let flush = |lines: &mut Vec<Vec<Piece<'a>>>, from: usize, to: usize| {
        if to > from {
            lines.last_mut().unwrap().push(Piece::Code(&src[from..to]));
        }
    };
    while i < b.len() {
        let rest = &b[i..];
        let verbatim_end = match b[i] {
            b'"' if rest.starts_with(b"\"\"\"") => {
                Some(find(b, i + 3, b"\"\"\"").map_or(b.len(), |e| e + 3))
            }
            b'"' => {
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' && b[j] != b'\n' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                Some(j + 1)
            }
            b'#' if rest.iter().find(|c| **c != b'#') == Some(&b'"') => {
                let hashes = rest.iter().take_while(|c| **c == b'#').count();
                let mut close = vec![b'"'];
                close.extend(std::iter::repeat_n(b'#', hashes));
                Some(find(b, i + hashes + 1, &close).map_or(b.len(), |e| e + close.len()))
            }
            b'/' if rest.starts_with(b"//") => Some(find(b, i, b"\n").unwrap_or(b.len())),
            b'/' if rest.starts_with(b"/*") => {
                let (mut depth, mut j) = (0, i);
                while j < b.len() {
                    if b[j..].starts_with(b"/*") {
                        depth += 1;
                        j += 2;
                    } else if b[j..].starts_with(b"*/") {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                Some(j)
            }
            _ => None,
        };
        // Every cut must fall on a character boundary, even in malformed input (an escape
        // before a multi-byte character, an unterminated string).
        let verbatim_end = verbatim_end.map(|e| ceil_char_boundary(src, e));
        if let Some(end) = verbatim_end {
            flush(&mut lines, start, i);
            lines
                .last_mut()
                .unwrap()
                .push(Piece::Verbatim(&src[i..end]));
            i = end;
            start = i;
        } else if b[i] == b'\n' {
            flush(&mut lines, start, i);
            lines.push(Vec::new());
            i += 1;
            start = i;
        } else {
            i += 1;
        }
    }
    flush(&mut lines, start, b.len());
    lines
}

/// The first index at or after `from` where `needle` starts.
fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

fn ceil_char_boundary(s: &str, mut i: usize) -> usize {
    i = i.min(s.len());
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// The canonical text of `src`. The caller checks that it parses to the same document.
pub fn format(src: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut depth: usize = 0;
    for pieces in scan(src) {
        // Join the line with whitespace collapsed in code pieces only.
        let mut line = String::new();
        for p in &pieces {
            match p {
                Piece::Code(c) => {
                    let mut last_space = line.ends_with(' ');
                    for ch in c.chars() {
                        if ch.is_whitespace() {
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
            }
        }
        let line = line.trim_end().to_owned();
        let code: String = pieces
            .iter()
            .filter_map(|p| {
                if let Piece::Code(c) = p {
                    Some(*c)
                } else {
                    None
                }
            })
            .collect();
        let opens = code.matches('{').count();
        let closes = code.matches('}').count();
        let leading_closes = code
            .trim_start()
            .chars()
            .take_while(|c| *c == '}' || c.is_whitespace())
            .filter(|c| *c == '}')
            .count();
        let indent = depth.saturating_sub(leading_closes);
        depth = (depth + opens).saturating_sub(closes);
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
}
