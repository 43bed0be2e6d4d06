//! PT102 duplicate-name
//!
//! What: names are unique among clusters, workloads, the nodes/poolers/databases of a cluster, and
//! the hosts/listens of a balancer.
//! Why: names become Kubernetes object names, Compose services, haproxy servers and file paths; a
//! repeat would silently overwrite one of them. (In env blocks a repeated name is a patch, which is
//! why the base file is where this fires.)
//! Example: two `node "db1"` lines in one cluster.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic, Span};

pub const RULE: Rule = Rule {
    code: codes::PT102,
    run,
};

fn dupes<'a>(out: &mut Vec<Diagnostic>, what: &str, items: impl Iterator<Item = (&'a str, Span)>) {
    // A hash lookup keeps this linear for clusters with thousands of nodes; reports still come out
    // in declaration order.
    let mut seen: std::collections::HashMap<&str, Span> = std::collections::HashMap::new();
    for (name, span) in items {
        if let Some(first) = seen.get(name) {
            out.push(
                Diagnostic::error(codes::PT102, format!("{what} \"{name}\" is declared twice"))
                    .with_span(span, "second declaration")
                    .with_related(*first, "first declaration")
                    .with_help(format!("give every {what} its own name")),
            );
        } else {
            seen.insert(name, span);
        }
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    dupes(
        out,
        "cluster",
        t.clusters.iter().map(|c| (c.name.as_str(), c.name_span)),
    );
    dupes(
        out,
        "workload",
        t.workloads.iter().map(|w| (w.name.as_str(), w.span)),
    );
    for c in &t.clusters {
        dupes(
            out,
            "node",
            c.nodes.iter().map(|n| (n.name.as_str(), n.name_span)),
        );
        dupes(
            out,
            "pooler",
            c.poolers.iter().map(|p| (p.name.as_str(), p.name_span)),
        );
        dupes(
            out,
            "database",
            c.databases.iter().map(|d| (d.name.as_str(), d.span)),
        );
        dupes(
            out,
            "balancer",
            c.balancers.iter().map(|b| (b.name.as_str(), b.span)),
        );
        for b in &c.balancers {
            dupes(
                out,
                "balancer host",
                b.hosts.iter().map(|h| (h.name.as_str(), h.name_span)),
            );
            dupes(
                out,
                "listen",
                b.listens.iter().map(|l| (l.name.as_str(), l.name_span)),
            );
        }
    }
}
