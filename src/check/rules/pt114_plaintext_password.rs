//! PT114 plaintext-password
//!
//! What: no password, token or key is written in the topology: no property named like one
//! (`password=`, `token=`, …), and no connection URL with a password in it.
//! Why: topology files are committed and reviewed; a secret in them leaks into git history and into
//! every artifact built from them. pgtopo references credentials instead (`credentials secret=` or
//! `credentials env-file=`).
//! Example: `credentials password="hunter2"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::reader::looks_like_secret_key;
use crate::syntax::{Node, Value};

pub const RULE: Rule = Rule {
    code: codes::PT114,
    run,
};

/// `scheme://user:password@host` — a URL that carries a password.
fn url_with_password(s: &str) -> bool {
    // Without an `@` there is no user info. Most values have none, and this saves them the
    // set-up of a substring search (the rule asks this of every string in the file).
    if !s.as_bytes().contains(&b'@') {
        return false;
    }
    let Some((_, rest)) = s.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or("");
    authority
        .split_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

fn visit(n: &Node, out: &mut Vec<Diagnostic>) {
    let secret_node = looks_like_secret_key(&n.name);
    for (k, e) in &n.props {
        let bad_key =
            looks_like_secret_key(k) && !matches!(e.value, Value::Null | Value::Bool(false));
        let bad_url = matches!(&e.value, Value::String(s) if url_with_password(s));
        if bad_key || bad_url {
            out.push(
                Diagnostic::error(codes::PT114, format!("plaintext secret in `{}` {k}=…", n.name))
                    .with_span(e.span, "secret written in the topology")
                    .with_help("reference it instead: `credentials secret=\"NAME\"` (Kubernetes) or `credentials env-file=\"PATH\"` (Compose, VMs)"),
            );
        }
    }
    for a in &n.args {
        let bad = matches!(&a.value, Value::String(s) if url_with_password(s))
            || (secret_node && matches!(a.value, Value::String(_)));
        if bad {
            out.push(
                Diagnostic::error(codes::PT114, format!("plaintext secret in `{}`", n.name))
                    .with_span(a.span, "secret written in the topology")
                    .with_help("reference credentials with `credentials secret=` or `credentials env-file=`; never write them"),
            );
        }
    }
    for c in &n.children {
        visit(c, out);
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    // The rule reads the whole file, env blocks included, so once (with the base) is enough;
    // every env would only find the same text again.
    if cx.topo.env.is_some() {
        return;
    }
    for n in &cx.doc.nodes {
        visit(n, out);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn urls() {
        assert!(super::url_with_password(
            "postgresql://app:s3cret@db:5432/app"
        ));
        assert!(!super::url_with_password("postgresql://app@db:5432/app"));
        assert!(!super::url_with_password("10.0.0.1:5432"));
    }
}
