//! Phase 1: KDL text → spanned syntax tree.
//!
//! The `kdl` crate is the authority on KDL; this module copies its document into a small tree of our own
//! ([`Node`]) so that the later phases never depend on the crate's formatting-preserving types, and
//! so that environment patches (which are merged *before* typing, see `model::env`) can be applied
//! to plain data. Every node, argument and property keeps the byte span it came from, which is what
//! lets a late check point at the exact text in the file. Because the crate is slow (about a
//! microsecond per byte), files in the common shape take a fast path first ([`fast`]), which
//! builds the identical tree or steps aside.

pub mod fast;
pub mod fmt;

use indexmap::IndexMap;

use crate::diag::{Diagnostic, Span};

/// A scalar value as written in the topology.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    String(String),
    Int(i128),
    Float(f64),
    Bool(bool),
    Null,
}

impl Value {
    /// The KDL type name, used in "expected X, found Y" diagnostics.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Bool(_) => "a boolean",
            Value::Null => "#null",
        }
    }
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::String(s) => write!(f, "{s:?}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Bool(b) => write!(f, "#{b}"),
            Value::Null => write!(f, "#null"),
        }
    }
}

/// A positional argument or a property value, with the span of its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub value: Value,
    pub span: Span,
}

/// One KDL node: `name arg… key=value… { children }`.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub name_span: Span,
    /// The whole node, children included.
    pub span: Span,
    pub args: Vec<Entry>,
    /// Properties in source order; when a key repeats, KDL says the last one wins.
    pub props: IndexMap<String, Entry>,
    pub children: Vec<Node>,
}

impl Node {
    /// The first argument when it is a string: the "name" of repeating nodes such as `node "db1"`.
    pub fn first_arg_str(&self) -> Option<&str> {
        match self.args.first().map(|a| &a.value) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }
}

/// A parsed topology file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Document {
    pub nodes: Vec<Node>,
}

/// Deepest `{ … }` nesting accepted. Real topologies nest about five levels; the limit exists
/// because the KDL parser (and our own tree walks) recurse, and a file nested thousands of levels
/// deep would overflow the stack, which aborts the process instead of reporting a diagnostic.
pub const MAX_DEPTH: usize = 128;

/// Where the nesting first exceeds [`MAX_DEPTH`], skipping braces inside strings and comments.
fn too_deep(source: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let (mut depth, mut i) = (0usize, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'{' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// Parses KDL 2.0 text into a [`Document`]; syntax errors become `PT000` diagnostics.
pub fn parse(source: &str) -> Result<Document, Vec<Diagnostic>> {
    if let Some(at) = too_deep(source) {
        return Err(vec![Diagnostic::error("PT000", format!("blocks are nested more than {MAX_DEPTH} levels deep"))
            .with_span((at, 1).into(), "too deep")
            .with_help("a topology nests a few levels (env › cluster › pooler › pool); check for unbalanced braces")]);
    }
    // The depth check above also bounds the fast path's recursion.
    match fast::parse(source) {
        Some(doc) => Ok(doc),
        None => parse_with_kdl(source),
    }
}

/// The slow, complete path: the `kdl` crate's parser and diagnostics. Public so that the fuzz
/// test can hold [`fast::parse`] to the same result.
pub fn parse_with_kdl(source: &str) -> Result<Document, Vec<Diagnostic>> {
    let doc = kdl::KdlDocument::parse_v2(source).map_err(|err| {
        let mut out: Vec<Diagnostic> =
            err.diagnostics
                .iter()
                .map(|d| {
                    Diagnostic::error(
                    "PT000",
                    d.message.clone().unwrap_or_else(|| "invalid KDL syntax".to_owned()),
                )
                .with_span(d.span, d.label.clone().unwrap_or_else(|| "here".to_owned()))
                .with_help(d.help.clone().unwrap_or_else(|| {
                    "topology files are KDL 2.0: strings in double quotes, booleans as #true/#false"
                        .to_owned()
                }))
                })
                .collect();
        if out.is_empty() {
            out.push(Diagnostic::error("PT000", "invalid KDL syntax"));
        }
        out
    })?;
    Ok(Document {
        nodes: doc.nodes().iter().map(convert_node).collect(),
    })
}

fn convert_node(node: &kdl::KdlNode) -> Node {
    let mut args = Vec::new();
    let mut props = IndexMap::new();
    for entry in node.entries() {
        let e = Entry {
            value: convert_value(entry.value()),
            span: entry.span(),
        };
        match entry.name() {
            Some(key) => {
                // `shift_remove` + insert keeps "last one wins" while placing the key where it was
                // last written, which is what a reader of the file expects.
                props.shift_remove(key.value());
                props.insert(key.value().to_owned(), e);
            }
            None => args.push(e),
        }
    }
    Node {
        name: node.name().value().to_owned(),
        name_span: node.name().span(),
        span: node.span(),
        args,
        props,
        children: node
            .children()
            .map(|c| c.nodes().iter().map(convert_node).collect())
            .unwrap_or_default(),
    }
}

fn convert_value(v: &kdl::KdlValue) -> Value {
    match v {
        kdl::KdlValue::String(s) => Value::String(s.clone()),
        kdl::KdlValue::Integer(i) => Value::Int(*i),
        kdl::KdlValue::Float(f) => Value::Float(*f),
        kdl::KdlValue::Bool(b) => Value::Bool(*b),
        kdl::KdlValue::Null => Value::Null,
    }
}
