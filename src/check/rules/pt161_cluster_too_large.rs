//! PT161 cluster-too-large
//!
//! What: a cluster has at most 256 nodes.
//! Why: every standby streams from the primary (or an upstream) through its own walsender, and every
//! node's pg_hba.conf and Patroni configuration lists its peers, so the configuration grows with the
//! square of the node count; past a few hundred standbys one primary cannot feed them anyway. Large
//! estates are several clusters, or standby clusters (`replica-of`) that fan WAL out in tiers.
//! Example: a cluster with 10,000 `node` lines.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT161,
    run,
};

pub const MAX_NODES: usize = 256;

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        if c.nodes.len() > MAX_NODES {
            out.push(
                Diagnostic::error(codes::PT161, format!("cluster \"{}\" has {} nodes; pgtopo supports up to {MAX_NODES} per cluster", c.name, c.nodes.len()))
                    .with_span(c.name_span, "too many nodes")
                    .with_help("split the estate into several clusters, or fan WAL out through standby clusters (`replica-of`)"),
            );
        }
    }
}
