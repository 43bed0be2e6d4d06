//! Phase 1: KDL text → spanned syntax tree.
//!
//! The `kdl` crate is the authority on KDL; this module copies its document into a small tree of our own
//! ([`Node`]) so that the later phases never depend on the crate's formatting-preserving types, and
//! so that environment patches (which are merged *before* typing, see `model::env`) can be applied
//! to plain data. Every node, argument and property keeps the byte span it came from, which is what
//! lets a late check point at the exact text in the file. Because the crate is slow (about a
//! microsecond per byte), files in the common shape take a fast path first ([`fast`]), which
//! builds the identical tree or steps aside. Before either runs, [`limits`] rejects text that
//! would make them recurse too deep or, for the crate, take exponential time.

pub mod fast;
pub mod fmt;
mod lex;
pub mod limits;

use indexmap::IndexMap;

use crate::diag::{codes, Diagnostic, Span};

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

impl Value {
    /// Equality of meaning: a float equals itself bit for bit, so `#nan` is `#nan` (the derived
    /// `PartialEq` follows IEEE 754, where NaN equals nothing).
    pub fn same(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }
}

impl Node {
    /// Whether two nodes say the same thing: names, values, property order and children, spans
    /// aside.
    pub fn same_meaning(&self, other: &Node) -> bool {
        self.name == other.name
            && self.args.len() == other.args.len()
            && self
                .args
                .iter()
                .zip(&other.args)
                .all(|(x, y)| x.value.same(&y.value))
            && self.props.len() == other.props.len()
            && self
                .props
                .iter()
                .zip(&other.props)
                .all(|((k, x), (l, y))| k == l && x.value.same(&y.value))
            && same_nodes(&self.children, &other.children)
    }
}

impl Document {
    /// Whether two documents say the same thing, spans aside (see [`Node::same_meaning`]).
    pub fn same_meaning(&self, other: &Document) -> bool {
        same_nodes(&self.nodes, &other.nodes)
    }
}

fn same_nodes(a: &[Node], b: &[Node]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_meaning(y))
}

pub use limits::MAX_DEPTH;

/// Parses KDL 2.0 text into a [`Document`]; syntax errors become `PT000` diagnostics.
pub fn parse(source: &str) -> Result<Document, Vec<Diagnostic>> {
    // The limits bound the recursion of both parsers (the fast path also stops at MAX_DEPTH on
    // its own) and the crate's time on slashdashed blocks.
    limits::check(source)?;
    match fast::parse_at(source) {
        Ok(doc) => Ok(doc),
        Err(stepped_aside) => parse_with_kdl_from(source, stepped_aside),
    }
}

/// The slow, complete path: the `kdl` crate's parser and diagnostics. Public so that the tests
/// can hold [`fast::parse`] to the same result. It does not apply [`limits::check`].
pub fn parse_with_kdl(source: &str) -> Result<Document, Vec<Diagnostic>> {
    parse_with_kdl_from(source, 0)
}

/// [`parse_with_kdl`], told where the fast path stepped aside (to point at it when the file is
/// too large for the crate).
fn parse_with_kdl_from(source: &str, stepped_aside: usize) -> Result<Document, Vec<Diagnostic>> {
    // The crate recurses as deep as the text lets it (see `limits`), so it runs on a thread
    // with the most stack it could need; the stack is reserved address space, and only what the
    // parse touches is ever backed by memory.
    let stack = limits::crate_stack(source);
    if stack > limits::MAX_CRATE_STACK {
        return Err(vec![too_large_for_the_crate(source, stepped_aside)]);
    }
    let spawned = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("kdl".to_owned())
            .stack_size(stack)
            .spawn_scoped(scope, || crate_parse(source))
            .map(|handle| handle.join())
    });
    match spawned {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(e) => Err(vec![Diagnostic::error(
            codes::PT000,
            format!(
                "cannot start the KDL parser: no room for its {} MiB stack ({e})",
                stack >> 20
            ),
        )
        .with_help(
            "the machine is short of memory; try again with fewer processes running",
        )]),
    }
}

/// A file too large for the crate's recursion, reported at the place the fast path could not
/// read: for a large file, most likely the mistake.
fn too_large_for_the_crate(source: &str, stepped_aside: usize) -> Diagnostic {
    let at = stepped_aside.min(source.len());
    Diagnostic::error(
        codes::PT000,
        format!(
            "this {} KiB file is not in the plain form of KDL that pgtopo reads quickly, and it is too large for the complete KDL parser",
            source.len() >> 10
        ),
    )
    .with_span((at, 0).into(), "the plain form ends here")
    .with_help(
        "this is usually a syntax error; otherwise keep a large topology to plain KDL: no raw or multi-line strings, slashdash (/-), type annotations, hex numbers or exponents — or split it",
    )
}

/// Syntax errors shown for one file; the rest are counted.
const MAX_SYNTAX_ERRORS: usize = 20;

fn crate_parse(source: &str) -> Result<Document, Vec<Diagnostic>> {
    let doc = kdl::KdlDocument::parse_v2(source).map_err(|err| {
        let mut out: Vec<Diagnostic> =
            err.diagnostics
                .iter()
                .map(|d| {
                    Diagnostic::error(
                    codes::PT000,
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
            out.push(Diagnostic::error(codes::PT000, "invalid KDL syntax"));
        }
        // The crate reports every character of a run of junk as its own error; past the first
        // few they say nothing new, and tens of thousands would take minutes to print.
        if out.len() > MAX_SYNTAX_ERRORS {
            let more = out.len() - MAX_SYNTAX_ERRORS;
            out.truncate(MAX_SYNTAX_ERRORS);
            out.push(
                Diagnostic::error(
                    codes::PT000,
                    format!("{more} more syntax error(s) not shown"),
                )
                .with_help("fix the first ones: the later ones often follow from them"),
            );
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
