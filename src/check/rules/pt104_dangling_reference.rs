//! PT104 dangling-reference
//!
//! What: every name that refers to something else resolves: `upstream` to a node of the same
//! cluster, `replica-of` to another cluster, an env's `nodes` to declared nodes, a workload's
//! `cluster` to a cluster, and a pooler on `replicas` to a cluster that has standbys.
//! Why: a reference to nothing would emit a config that connects nowhere.
//! Example: `node "db3" role="async" upstream="db9"` where no node "db9" exists.

use std::collections::{HashMap, HashSet};

use crate::check::{Context, Rule};
use crate::diag::{codes, did_you_mean, Diagnostic};
use crate::model::{PoolerTarget, Spanned};
use crate::syntax::Node;

pub const RULE: Rule = Rule {
    code: codes::PT104,
    run,
};

fn missing<'a>(
    what: &str,
    r: &Spanned<String>,
    names: impl Iterator<Item = &'a str> + Clone,
) -> Diagnostic {
    let d = Diagnostic::error(
        codes::PT104,
        format!("{what} \"{}\" does not exist", r.value),
    )
    .with_span(r.span, format!("no such {what}"));
    match did_you_mean(&r.value, names.clone()) {
        Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
        None => d.with_help(format!(
            "declared: {}",
            names
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let cluster_names = t.clusters.iter().map(|c| c.name.as_str());
    // Looked up once per cluster, so kept in maps: scanning every cluster (or every top-level
    // node) for each one made this rule quadratic in the number of clusters. Only looked up,
    // never iterated, so their order cannot reach a diagnostic.
    let known: HashSet<&str> = cluster_names.clone().collect();
    let mut doc_clusters: HashMap<&str, Vec<&Node>> = HashMap::new();
    if t.clusters.iter().any(|c| c.kept_nodes.is_some()) {
        for n in cx.doc.nodes.iter().filter(|n| n.name == "cluster") {
            if let Some(name) = n.first_arg_str() {
                doc_clusters.entry(name).or_default().push(n);
            }
        }
    }
    for c in &t.clusters {
        let node_names = c.nodes.iter().map(|n| n.name.as_str());
        for n in &c.nodes {
            if let Some(u) = &n.upstream {
                if u.value == n.name {
                    out.push(
                        Diagnostic::error(codes::PT104, format!("node \"{}\" streams from itself", n.name))
                            .with_span(u.span, "upstream is this node")
                            .with_help("name another standby, or leave upstream out to stream from the primary"),
                    );
                } else if c.node(&u.value).is_none() {
                    // An env that dropped the upstream node reports it against the base text.
                    out.push(missing("upstream node", u, node_names.clone()));
                }
            }
        }
        if let Some(r) = &c.replica_of {
            if r.value == c.name {
                out.push(
                    Diagnostic::error(
                        codes::PT104,
                        format!("cluster \"{}\" is a replica of itself", c.name),
                    )
                    .with_span(r.span, "replica-of names this cluster")
                    .with_help("replica-of names the cluster this one follows"),
                );
            } else if !known.contains(r.value.as_str()) {
                out.push(missing("cluster", r, cluster_names.clone()));
            }
        }
        if let Some(k) = &c.kept_nodes {
            // `nodes` was applied already; look the names up among the nodes as declared, which are
            // the ones a typo would have meant.
            let declared: Vec<&str> = doc_clusters
                .get(c.name.as_str())
                .into_iter()
                .flatten()
                .flat_map(|n| {
                    n.children
                        .iter()
                        .filter(|x| x.name == "node")
                        .filter_map(|x| x.first_arg_str())
                })
                .chain(c.nodes.iter().map(|n| n.name.as_str()))
                .collect();
            for name in &k.names {
                if !declared.contains(&name.value.as_str()) {
                    out.push(missing("node", name, declared.iter().copied()));
                }
            }
        }
        for p in &c.poolers {
            if p.target.value == PoolerTarget::Replicas && c.standbys().next().is_none() {
                out.push(
                    Diagnostic::error(
                        codes::PT104,
                        format!(
                            "pooler \"{}\" targets replicas, but cluster \"{}\" has none",
                            p.name, c.name
                        ),
                    )
                    .with_span(p.target.span, "no standby to send to")
                    .with_help("add a standby node, or point the pooler at target=\"primary\""),
                );
            }
        }
    }
    for w in &t.workloads {
        if !known.contains(w.cluster.value.as_str()) {
            out.push(missing("cluster", &w.cluster, cluster_names.clone()));
        }
    }
}
