//! A typed view of one syntax node, used by lowering.
//!
//! Lowering asks a `Reader` for the properties, arguments and children it knows. The reader records
//! every name it was asked about, so [`Reader::finish`] can report everything else as unknown (with
//! a "did you mean" from the names that *were* asked about) without a second list of allowed names
//! that could drift from the code.

use crate::diag::{codes, did_you_mean, Diagnostic, Span};
use crate::model::types::Spanned;
use crate::syntax::{Entry, Node, Value};

/// Property names that would hold a secret; PT114 reports them, so lowering stays quiet about them.
pub fn looks_like_secret_key(key: &str) -> bool {
    // Compared in place, ignoring ASCII case: PT114 asks this of every property of the file, and
    // a lowercased copy per key was most of the rule's time on large topologies.
    const WORDS: [&[u8]; 7] = [
        b"password",
        b"passwd",
        b"pwd",
        b"secret-value",
        b"token",
        b"api-key",
        b"apikey",
    ];
    // Every word starts with one of `p`, `s`, `t` or `a`: only where the key has one of those is
    // a word compared, rather than every word at every position.
    let k = key.as_bytes();
    (0..k.len()).any(|i| {
        matches!(k[i].to_ascii_lowercase(), b'p' | b's' | b't' | b'a')
            && WORDS.iter().any(|w| {
                k.get(i..i + w.len())
                    .is_some_and(|window| window.eq_ignore_ascii_case(w))
            })
    })
}

pub struct Reader<'n> {
    pub node: &'n Node,
    props: Vec<&'static str>,
    children: Vec<&'static str>,
    args: usize,
}

impl<'n> Reader<'n> {
    pub fn new(node: &'n Node) -> Self {
        Reader {
            node,
            // Room for the property names a node kind is asked about (a `node` asks for ten):
            // grown from empty, that was three allocations per syntax node lowered.
            props: Vec::with_capacity(16),
            children: Vec::new(),
            args: 0,
        }
    }

    pub fn span(&self) -> Span {
        self.node.span
    }

    fn expected(&self, d: &mut Vec<Diagnostic>, e: &Entry, what: &str, name: &str) {
        d.push(
            Diagnostic::error(
                codes::PT003,
                format!("`{name}` must be {what}, found {}", e.value.type_name()),
            )
            .with_span(e.span, format!("expected {what}"))
            .with_help(format!(
                "write {name} as {what}, e.g. {}",
                example_for(what)
            )),
        );
    }

    pub fn prop(&mut self, key: &'static str) -> Option<&'n Entry> {
        self.props.push(key);
        self.node.props.get(key)
    }

    pub fn string(
        &mut self,
        d: &mut Vec<Diagnostic>,
        key: &'static str,
    ) -> Option<Spanned<String>> {
        let e = self.prop(key)?;
        match &e.value {
            Value::String(s) => Some(Spanned::new(s.clone(), e.span)),
            _ => {
                self.expected(d, e, "a string", key);
                None
            }
        }
    }

    pub fn bool(&mut self, d: &mut Vec<Diagnostic>, key: &'static str) -> Option<bool> {
        let e = self.prop(key)?;
        match &e.value {
            Value::Bool(b) => Some(*b),
            _ => {
                self.expected(d, e, "a boolean", key);
                None
            }
        }
    }

    pub fn int<T: TryFrom<i128>>(
        &mut self,
        d: &mut Vec<Diagnostic>,
        key: &'static str,
    ) -> Option<Spanned<T>> {
        let e = self.prop(key)?;
        entry_int(d, e, key)
    }

    /// A duration written as `"10s"`, `"2m"` or a bare number of seconds.
    pub fn seconds(&mut self, d: &mut Vec<Diagnostic>, key: &'static str) -> Option<Spanned<u32>> {
        let e = self.prop(key)?;
        let parsed = match &e.value {
            Value::Int(i) => u32::try_from(*i).ok(),
            Value::String(s) => parse_seconds(s),
            _ => None,
        };
        if parsed.is_none() {
            d.push(
                Diagnostic::error(
                    codes::PT003,
                    format!("`{key}` must be a duration, found {}", e.value),
                )
                .with_span(e.span, "expected a duration")
                .with_help("write a duration in seconds or minutes, e.g. \"10s\" or \"2m\""),
            );
        }
        parsed.map(|v| Spanned::new(v, e.span))
    }

    /// A keyword property such as `role="sync"`; unknown words get PT005 with the list of choices.
    pub fn keyword<K: Copy + std::fmt::Display>(
        &mut self,
        d: &mut Vec<Diagnostic>,
        key: &'static str,
        parse: fn(&str) -> Option<K>,
        all: &[K],
    ) -> Option<Spanned<K>> {
        let e = self.prop(key)?;
        keyword_entry(d, e, key, parse, all)
    }

    pub fn arg(&mut self, i: usize) -> Option<&'n Entry> {
        self.args = self.args.max(i + 1);
        self.node.args.get(i)
    }

    /// Every argument is read (lists such as `targets "a" "b"`).
    pub fn all_args(&mut self) -> &'n [Entry] {
        self.args = usize::MAX;
        &self.node.args
    }

    pub fn string_arg(
        &mut self,
        d: &mut Vec<Diagnostic>,
        i: usize,
        what: &str,
    ) -> Option<Spanned<String>> {
        match self.arg(i) {
            Some(Entry {
                value: Value::String(s),
                span,
            }) => Some(Spanned::new(s.clone(), *span)),
            Some(e) => {
                self.expected(d, e, "a string", what);
                None
            }
            None => None,
        }
    }

    /// Reports a missing required argument.
    pub fn require_arg(&self, d: &mut Vec<Diagnostic>, what: &str, example: &str) {
        d.push(
            Diagnostic::error(codes::PT004, format!("`{}` needs {what}", self.node.name))
                .with_span(self.node.name_span, format!("{what} missing"))
                .with_help(format!("write it as `{example}`")),
        );
    }

    pub fn require_prop(&self, d: &mut Vec<Diagnostic>, key: &str, example: &str) {
        d.push(
            Diagnostic::error(
                codes::PT004,
                format!("`{}` needs the property `{key}`", self.node.name),
            )
            .with_span(self.node.name_span, format!("`{key}` missing"))
            .with_help(format!("write it as `{example}`")),
        );
    }

    /// A child that may appear once; a second one is reported (PT006) and ignored.
    pub fn child(&mut self, d: &mut Vec<Diagnostic>, name: &'static str) -> Option<&'n Node> {
        self.children.push(name);
        let mut found = self.node.children.iter().filter(|c| c.name == name);
        let first = found.next();
        if let Some(second) = found.next() {
            d.push(
                Diagnostic::error(
                    codes::PT006,
                    format!("`{name}` is given twice in `{}`", self.node.name),
                )
                .with_span(second.name_span, "second one here")
                .with_related(first.unwrap().name_span, "first one here")
                .with_help(format!(
                    "`{name}` may appear once; merge the two into one node"
                )),
            );
        }
        first
    }

    /// Children that may repeat, in source order.
    pub fn children(&mut self, name: &'static str) -> impl Iterator<Item = &'n Node> {
        self.children.push(name);
        self.node.children.iter().filter(move |c| c.name == name)
    }

    /// Reports every property, argument and child that lowering did not ask about.
    pub fn finish(self, d: &mut Vec<Diagnostic>) {
        let node = self.node;
        for (key, e) in &node.props {
            if self.props.contains(&key.as_str()) || looks_like_secret_key(key) {
                continue;
            }
            let mut diag = Diagnostic::error(
                codes::PT002,
                format!("unknown property `{key}` on `{}`", node.name),
            )
            .with_span(e.span, "unknown property");
            diag = match did_you_mean(key, self.props.iter().copied()) {
                Some(s) => diag.with_help(format!("did you mean `{s}`?")),
                None if self.props.is_empty() => {
                    diag.with_help(format!("`{}` takes no properties", node.name))
                }
                None => diag.with_help(format!("`{}` takes: {}", node.name, self.props.join(", "))),
            };
            d.push(diag);
        }
        if self.args != usize::MAX {
            for e in node.args.iter().skip(self.args) {
                d.push(
                    Diagnostic::error(
                        codes::PT003,
                        format!("unexpected argument {} on `{}`", e.value, node.name),
                    )
                    .with_span(e.span, "not expected here")
                    .with_help(if self.args == 0 {
                        format!(
                            "`{}` takes no arguments; use a property such as key=value",
                            node.name
                        )
                    } else {
                        format!("`{}` takes {} argument(s)", node.name, self.args)
                    }),
                );
            }
        }
        for c in &node.children {
            if self.children.contains(&c.name.as_str()) {
                continue;
            }
            let mut diag = Diagnostic::error(
                codes::PT001,
                format!("unknown node `{}` inside `{}`", c.name, node.name),
            )
            .with_span(c.name_span, "unknown node");
            diag = match did_you_mean(&c.name, self.children.iter().copied()) {
                Some(s) => diag.with_help(format!("did you mean `{s}`?")),
                None if self.children.is_empty() => {
                    diag.with_help(format!("`{}` has no children", node.name))
                }
                None => diag.with_help(format!(
                    "`{}` may contain: {}",
                    node.name,
                    self.children.join(", ")
                )),
            };
            d.push(diag);
        }
    }
}

pub fn entry_int<T: TryFrom<i128>>(
    d: &mut Vec<Diagnostic>,
    e: &Entry,
    key: &str,
) -> Option<Spanned<T>> {
    match &e.value {
        Value::Int(i) => match T::try_from(*i) {
            Ok(v) => Some(Spanned::new(v, e.span)),
            Err(_) => {
                d.push(
                    Diagnostic::error(codes::PT003, format!("`{key}` = {i} is out of range"))
                        .with_span(e.span, "out of range")
                        .with_help(format!(
                            "`{key}` must be a non-negative number that fits its use"
                        )),
                );
                None
            }
        },
        other => {
            d.push(
                Diagnostic::error(
                    codes::PT003,
                    format!("`{key}` must be an integer, found {}", other.type_name()),
                )
                .with_span(e.span, "expected an integer")
                .with_help(format!(
                    "write {key} as an integer without quotes, e.g. {key}=1"
                )),
            );
            None
        }
    }
}

pub fn keyword_entry<K: Copy + std::fmt::Display>(
    d: &mut Vec<Diagnostic>,
    e: &Entry,
    key: &str,
    parse: fn(&str) -> Option<K>,
    all: &[K],
) -> Option<Spanned<K>> {
    let choices: Vec<String> = all.iter().map(|k| k.to_string()).collect();
    let Value::String(s) = &e.value else {
        d.push(
            Diagnostic::error(
                codes::PT003,
                format!("`{key}` must be a string, found {}", e.value.type_name()),
            )
            .with_span(e.span, "expected a string")
            .with_help(format!("one of: {}", quoted(&choices))),
        );
        return None;
    };
    match parse(s) {
        Some(k) => Some(Spanned::new(k, e.span)),
        None => {
            let mut diag = Diagnostic::error(codes::PT005, format!("unknown {key} \"{s}\""))
                .with_span(e.span, format!("not a known {key}"));
            diag = match did_you_mean(s, choices.iter().map(String::as_str)) {
                Some(m) => diag.with_help(format!(
                    "did you mean \"{m}\"? ({key} is one of: {})",
                    quoted(&choices)
                )),
                None => diag.with_help(format!("{key} is one of: {}", quoted(&choices))),
            };
            d.push(diag);
            None
        }
    }
}

fn quoted(choices: &[String]) -> String {
    choices
        .iter()
        .map(|c| format!("\"{c}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

fn example_for(what: &str) -> &'static str {
    match what {
        "a string" => "key=\"value\"",
        "a boolean" => "key=#true",
        _ => "key=1",
    }
}

/// `"10s"`, `"2m"`, `"1h"` or `"30"` → seconds.
pub fn parse_seconds(s: &str) -> Option<u32> {
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix('s') {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3600)
    } else {
        (s, 1)
    };
    num.trim().parse::<u32>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::looks_like_secret_key;

    #[test]
    fn secret_keys_ignore_ascii_case() {
        for key in [
            "password",
            "DB_PASSWORD",
            "apiKey",
            "Api-Key",
            "pwd",
            "x-token-y",
        ] {
            assert!(looks_like_secret_key(key), "{key}");
        }
        for key in ["", "pw", "user", "secret", "host", "pässword"] {
            assert!(!looks_like_secret_key(key), "{key}");
        }
    }
}
