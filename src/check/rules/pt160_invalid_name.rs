//! PT160 invalid-name
//!
//! What: topology, cluster, node, pooler, balancer host, listen and env names are DNS-1123 labels: lowercase
//! letters, digits and `-`, starting with a letter and ending with a letter or digit, at most 63
//! characters (clusters at most 40, because targets append suffixes such as `-replicas` and pod
//! ordinals). Database and owner names are plain PostgreSQL identifiers (`[a-z_][a-z0-9_]*`, at most
//! 63). Label keys and values follow Kubernetes' label syntax.
//! Why: names become Kubernetes object and Service names, DNS host names, Compose service names,
//! haproxy server names, file paths and SQL identifiers; a name valid in only some of those places
//! would fail late, on the cluster, or need quoting that is easy to get wrong.
//! Example: `node "DB_1" role="primary"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic, Span};

pub const RULE: Rule = Rule {
    code: codes::PT160,
    run,
};

pub fn dns_label(s: &str, max: usize) -> Result<(), String> {
    if s.is_empty() {
        return Err("is empty".to_owned());
    }
    if s.len() > max {
        return Err(format!("is {} characters long; at most {max} fit", s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "contains {c:?}; only lowercase letters, digits and '-' are allowed"
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err("must start with a lowercase letter".to_owned());
    }
    if s.ends_with('-') {
        return Err("must not end with '-'".to_owned());
    }
    Ok(())
}

fn sql_identifier(s: &str) -> Result<(), String> {
    let ok_first = s.starts_with(|c: char| c.is_ascii_lowercase() || c == '_');
    let ok_rest = s
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if s.is_empty() || s.len() > 63 || !ok_first || !ok_rest {
        return Err("must be a plain PostgreSQL identifier: lowercase letters, digits and '_', not starting with a digit, at most 63 characters".to_owned());
    }
    Ok(())
}

/// Kubernetes label keys (`[prefix/]name`) and values.
fn label_part(s: &str, allow_empty: bool) -> bool {
    if s.is_empty() {
        return allow_empty;
    }
    s.len() <= 63
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn check(
    out: &mut Vec<Diagnostic>,
    what: &str,
    name: &str,
    span: Span,
    result: Result<(), String>,
) {
    if let Err(why) = result {
        let sql = what == "database" || what == "owner";
        let help = if sql {
            format!(
                "database and role names are used unquoted in SQL; try \"{}\"",
                suggest(name, '_')
            )
        } else {
            format!(
                "names become Kubernetes objects, host names and file paths; try \"{}\"",
                suggest(name, '-')
            )
        };
        out.push(
            Diagnostic::error(codes::PT160, format!("{what} name \"{name}\" {why}"))
                .with_span(span, "not a valid name")
                .with_help(help),
        );
    }
}

/// A name that would pass: lowercase, other characters turned into `sep`.
fn suggest(name: &str, sep: char) -> String {
    let s: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                sep
            }
        })
        .collect();
    let s = s.trim_matches(sep).to_owned();
    if s.starts_with(|c: char| c.is_ascii_lowercase()) {
        s
    } else {
        format!("x{sep}{s}")
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    // The topology's name is a folder of `build --out`, a Compose project name and a Kubernetes
    // label value.
    if let Some(n) = &t.name {
        check(out, "topology", &n.value, n.span, dns_label(&n.value, 63));
    }
    for e in &t.envs {
        check(out, "env", &e.value, e.span, dns_label(&e.value, 63));
    }
    for c in &t.clusters {
        check(out, "cluster", &c.name, c.name_span, dns_label(&c.name, 40));
        // A namespace defaulted from the cluster name is covered by the cluster's own check.
        if c.namespace.value != c.name {
            check(
                out,
                "namespace",
                &c.namespace.value,
                c.namespace.span,
                dns_label(&c.namespace.value, 63),
            );
        }
        for n in &c.nodes {
            check(out, "node", &n.name, n.name_span, dns_label(&n.name, 63));
        }
        for p in &c.poolers {
            check(out, "pooler", &p.name, p.name_span, dns_label(&p.name, 50));
        }
        for d in &c.databases {
            check(out, "database", &d.name, d.span, sql_identifier(&d.name));
            if let Some(o) = &d.owner {
                check(out, "owner", &o.value, o.span, sql_identifier(&o.value));
            }
        }
        for b in &c.balancers {
            for h in &b.hosts {
                check(
                    out,
                    "balancer host",
                    &h.name,
                    h.name_span,
                    dns_label(&h.name, 63),
                );
            }
            for l in &b.listens {
                check(out, "listen", &l.name, l.name_span, dns_label(&l.name, 63));
            }
        }
        for (k, v) in &c.labels {
            let (prefix, name) = k
                .rsplit_once('/')
                .map_or((None, k.as_str()), |(p, n)| (Some(p), n));
            let key_ok = label_part(name, false)
                && prefix
                    .is_none_or(|p| p.len() <= 253 && dns_label(&p.replace('.', "-"), 253).is_ok());
            if !key_ok || !label_part(&v.value, true) {
                out.push(
                    Diagnostic::error(codes::PT160, format!("label {k}=\"{}\" is not a valid Kubernetes label", v.value))
                        .with_span(v.span, "invalid label")
                        .with_help("label keys are [prefix/]name and values are at most 63 characters of letters, digits, '-', '_' and '.', beginning and ending with a letter or digit"),
                );
            }
        }
    }
}
