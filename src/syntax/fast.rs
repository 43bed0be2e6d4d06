//! A fast path for the common shape of a topology file.
//!
//! The `kdl` crate is slow on topology files (more than everything else `pgtopo lint` does
//! together; docs/performance.md has the figures), because its combinators backtrack and
//! collect rich error context on every alternative. Topology files use a small, regular part of
//! KDL 2.0, so this module parses that part directly, in one pass, into the same [`Document`]
//! the crate's output converts to — spans included.
//!
//! It is a *fast path*, not a second implementation of KDL: whenever it meets anything outside
//! that part (non-ASCII identifiers or whitespace, raw or multi-line strings, escapes other than
//! the simple ones, slashdash, type annotations, line continuations, hex/octal/binary numbers,
//! exponents, digit separators, whitespace around `=`, #inf/#nan) or any error at all, it gives
//! up with `None` and [`super::parse`] hands the file to the `kdl` crate, which stays the
//! authority on what KDL means and writes every syntax diagnostic. The fuzz test checks the
//! contract: whenever this returns a document, the crate parses the same text to an identical one.

use indexmap::IndexMap;

use super::{Document, Entry, Node, Value};

/// Parses `source` when it stays inside the supported part of KDL; `None` means "ask the crate".
pub fn parse(source: &str) -> Option<Document> {
    parse_at(source).ok()
}

/// [`parse`], or the byte offset where the fast path stepped aside (0 when the whole file is
/// outside the supported part).
pub fn parse_at(source: &str) -> Result<Document, usize> {
    // Outside strings and comments the fast path reads printable ASCII only (identifiers with
    // other letters go to the crate). Control characters other than tab and newlines, and the
    // code points KDL treats as whitespace or newlines or forbids (which would change where a
    // token ends), send the whole file to the crate.
    if !source
        .bytes()
        .all(|b| b >= 0x20 || b == b'\n' || b == b'\t' || b == b'\r')
        || source.bytes().any(|b| b == 0x7f)
        || (!source.is_ascii() && source.chars().any(special))
    {
        return Err(0);
    }
    let mut p = Parser {
        s: source.as_bytes(),
        i: 0,
        depth: 0,
    };
    match p.nodes(false) {
        Some(nodes) => Ok(Document { nodes }),
        None => Err(p.i),
    }
}

/// Non-ASCII code points with a meaning in KDL 2.0: Unicode whitespace and newlines, and the
/// disallowed ones (direction marks and overrides, the BOM).
fn special(c: char) -> bool {
    matches!(
        c,
        '\u{85}'
            | '\u{a0}'
            | '\u{1680}'
            | '\u{2000}'..='\u{200f}'
            | '\u{2028}'..='\u{202f}'
            | '\u{205f}'
            | '\u{2066}'..='\u{2069}'
            | '\u{3000}'
            | '\u{feff}'
    )
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// Open `{` blocks: the parser recurses once per block, so it stops at
    /// [`super::MAX_DEPTH`] whatever the caller checked.
    depth: usize,
}

/// Bytes that may appear in an identifier (a bare string) on the fast path. KDL allows many
/// more; a name using them is simply left to the crate.
fn ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':')
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn at(&self, k: usize) -> Option<u8> {
        self.s.get(self.i + k).copied()
    }

    /// A `\r` is only accepted as part of `\r\n`.
    fn newline(&mut self) -> Option<bool> {
        match self.peek() {
            Some(b'\n') => {
                self.i += 1;
                Some(true)
            }
            Some(b'\r') if self.at(1) == Some(b'\n') => {
                self.i += 2;
                Some(true)
            }
            Some(b'\r') => None,
            _ => Some(false),
        }
    }

    /// `/* … */`, nested as KDL nests them.
    fn block_comment(&mut self) -> Option<()> {
        self.i += 2;
        let mut depth = 1usize;
        while depth > 0 {
            match (self.peek()?, self.at(1)) {
                (b'/', Some(b'*')) => {
                    depth += 1;
                    self.i += 2;
                }
                (b'*', Some(b'/')) => {
                    depth -= 1;
                    self.i += 2;
                }
                (b'\r', _) if self.at(1) != Some(b'\n') => return None,
                _ => self.i += 1,
            }
        }
        Some(())
    }

    /// Spaces, tabs and block comments inside a node line; returns whether any was skipped.
    fn node_space(&mut self) -> Option<bool> {
        let start = self.i;
        loop {
            match (self.peek(), self.at(1)) {
                (Some(b' ' | b'\t'), _) => self.i += 1,
                (Some(b'/'), Some(b'*')) => self.block_comment()?,
                _ => return Some(self.i > start),
            }
        }
    }

    /// Whitespace, newlines and comments between nodes.
    fn line_space(&mut self) -> Option<()> {
        loop {
            self.node_space()?;
            if self.newline()? {
                continue;
            }
            if self.peek() == Some(b'/') && self.at(1) == Some(b'/') {
                while !matches!(self.peek(), None | Some(b'\n' | b'\r')) {
                    self.i += 1;
                }
                continue;
            }
            return Some(());
        }
    }

    /// The nodes of the document (`inner == false`) or of a `{ … }` block, up to its `}`.
    fn nodes(&mut self, inner: bool) -> Option<Vec<Node>> {
        let mut out = Vec::new();
        loop {
            self.line_space()?;
            match self.peek() {
                None if inner => return None,
                None => return Some(out),
                Some(b'}') if inner => return Some(out),
                Some(_) => out.push(self.node()?),
            }
        }
    }

    fn node(&mut self) -> Option<Node> {
        let start = self.i;
        let name = self.string_token()?;
        let name_span = (start, self.i - start).into();
        let mut args = Vec::new();
        let mut props = IndexMap::new();
        let mut children = Vec::new();
        // Where the node ends: after its last token plus any trailing node space, which is how
        // the crate measures a node's span.
        let end;
        loop {
            let spaced = self.node_space()?;
            match (self.peek(), self.at(1)) {
                (None | Some(b'\n' | b'\r' | b';' | b'}'), _) | (Some(b'/'), Some(b'/')) => {
                    end = self.i;
                    if self.peek() == Some(b';') {
                        self.i += 1;
                    }
                    break;
                }
                (Some(b'{'), _) => {
                    if self.depth == super::MAX_DEPTH {
                        return None;
                    }
                    self.i += 1;
                    self.depth += 1;
                    children = self.nodes(true)?;
                    self.depth -= 1;
                    self.i += 1; // The closing brace.
                    self.node_space()?;
                    match (self.peek(), self.at(1)) {
                        (None | Some(b'\n' | b'\r' | b'}'), _) | (Some(b'/'), Some(b'/')) => {
                            end = self.i;
                        }
                        (Some(b';'), _) => {
                            end = self.i;
                            self.i += 1;
                        }
                        _ => return None,
                    }
                    break;
                }
                _ if !spaced => return None,
                _ => {
                    let at = self.i;
                    let (key, value) = self.entry()?;
                    let e = Entry {
                        value,
                        span: (at, self.i - at).into(),
                    };
                    match key {
                        Some(k) => {
                            // Last one wins, placed where it was last written (as in
                            // `super::convert_node`).
                            props.shift_remove(&k);
                            props.insert(k, e);
                        }
                        None => args.push(e),
                    }
                }
            }
        }
        Some(Node {
            name,
            name_span,
            span: (start, end - start).into(),
            args,
            props,
            children,
        })
    }

    /// An argument (`value`) or a property (`key=value`, no spaces around `=`).
    fn entry(&mut self) -> Option<(Option<String>, Value)> {
        match self.peek()? {
            b'"' => {
                let s = self.quoted()?;
                if self.peek() == Some(b'=') {
                    self.i += 1;
                    return Some((Some(s), self.value()?));
                }
                self.delimited()?;
                Some((None, Value::String(s)))
            }
            b if b.is_ascii_alphabetic() || b == b'_' => {
                let s = self.identifier()?;
                if self.peek() == Some(b'=') {
                    self.i += 1;
                    return Some((Some(s), self.value()?));
                }
                self.delimited()?;
                Some((None, Value::String(s)))
            }
            _ => Some((None, self.value()?)),
        }
    }

    /// A value must be followed by something that ends a token.
    fn delimited(&self) -> Option<()> {
        match (self.peek(), self.at(1)) {
            (None | Some(b' ' | b'\t' | b'\n' | b'\r' | b';' | b'}' | b'{'), _) => Some(()),
            (Some(b'/'), Some(b'/' | b'*')) => Some(()),
            _ => None,
        }
    }

    fn value(&mut self) -> Option<Value> {
        let v = match self.peek()? {
            b'"' => Value::String(self.quoted()?),
            b'#' => {
                let rest = &self.s[self.i + 1..];
                let (v, n) = if rest.starts_with(b"true") {
                    (Value::Bool(true), 4)
                } else if rest.starts_with(b"false") {
                    (Value::Bool(false), 5)
                } else if rest.starts_with(b"null") {
                    (Value::Null, 4)
                } else {
                    return None;
                };
                self.i += 1 + n;
                v
            }
            b'0'..=b'9' | b'-' | b'+' => self.number()?,
            b if b.is_ascii_alphabetic() || b == b'_' => Value::String(self.identifier()?),
            _ => return None,
        };
        self.delimited()?;
        Some(v)
    }

    /// A decimal integer or a plain `digits.digits` float; everything else goes to the crate.
    /// The crate reads the integer part and the fraction as `i128` magnitudes (and negates the
    /// integer part afterwards), so a part that does not fit is an error there, and the fast
    /// path steps aside: `-170141183460469231731687303715884105728` (−2^127) and a decimal with
    /// a 39-digit part above 2^127 − 1 are syntax errors, not values.
    fn number(&mut self) -> Option<Value> {
        let start = self.i;
        let negative = self.peek() == Some(b'-');
        if matches!(self.peek(), Some(b'-' | b'+')) {
            self.i += 1;
        }
        let digits = |p: &mut Self| -> Option<i128> {
            let s = p.i;
            while p.peek().is_some_and(|b| b.is_ascii_digit()) {
                p.i += 1;
            }
            std::str::from_utf8(&p.s[s..p.i]).ok()?.parse().ok()
        };
        let magnitude = digits(self)?;
        let mut float = false;
        if self.peek() == Some(b'.') {
            self.i += 1;
            digits(self)?;
            float = true;
        }
        if float {
            let text = std::str::from_utf8(&self.s[start..self.i]).ok()?;
            text.parse().ok().map(Value::Float)
        } else {
            Some(Value::Int(if negative { -magnitude } else { magnitude }))
        }
    }

    /// A bare identifier string such as `max_connections` or `loop-wait`.
    fn identifier(&mut self) -> Option<String> {
        let start = self.i;
        while self.peek().is_some_and(ident_byte) {
            self.i += 1;
        }
        let s = std::str::from_utf8(&self.s[start..self.i]).ok()?;
        // Bare keywords are errors in KDL 2.0 (they need a `#`); let the crate say so.
        if matches!(s, "true" | "false" | "null" | "inf" | "nan") {
            return None;
        }
        Some(s.to_owned())
    }

    /// A node name: an identifier or a quoted string.
    fn string_token(&mut self) -> Option<String> {
        match self.peek()? {
            b'"' => self.quoted(),
            b if b.is_ascii_alphabetic() || b == b'_' => self.identifier(),
            _ => None,
        }
    }

    /// A single-line `"…"` string with the common escapes.
    fn quoted(&mut self) -> Option<String> {
        // `"""` opens a multi-line string.
        if self.at(1) == Some(b'"') && self.at(2) == Some(b'"') {
            return None;
        }
        self.i += 1;
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or newline in one piece: the bytes in
            // between may be any UTF-8, and every byte that ends the run is ASCII.
            let run = self.i;
            while !matches!(self.peek(), None | Some(b'"' | b'\\' | b'\n' | b'\r')) {
                self.i += 1;
            }
            out.push_str(std::str::from_utf8(&self.s[run..self.i]).ok()?);
            match self.peek()? {
                b'"' => {
                    self.i += 1;
                    return Some(out);
                }
                b'\\' => {
                    out.push(match self.at(1)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b's' => ' ',
                        _ => return None,
                    });
                    self.i += 2;
                }
                _ => return None,
            }
        }
    }
}
