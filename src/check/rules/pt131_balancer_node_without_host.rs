//! PT131 balancer-node-without-host
//!
//! What: every node of a cluster with a balancer declares `host` when the haproxy target is built.
//! Why: haproxy routes to addresses; a node without one cannot be a server, and leaving it out would
//! quietly send all traffic to the others (or none, after a failover to that node).
//! Example: `targets "haproxy"` with `node "db3" role="async"` and no `host=`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::Target;

pub const RULE: Rule = Rule {
    code: codes::PT131,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if !t.has_target(Target::Haproxy) {
        return;
    }
    for c in t.clusters.iter().filter(|c| !c.balancers.is_empty()) {
        for n in c.nodes.iter().filter(|n| n.host.is_none()) {
            out.push(
                Diagnostic::error(
                    codes::PT131,
                    format!(
                        "the haproxy target cannot route to node \"{}\": it has no `host`",
                        n.name
                    ),
                )
                .with_span(n.name_span, "no host address")
                .with_help(format!(
                    "add the VM's address: `node \"{}\" … host=\"10.0.0.11\"`",
                    n.name
                )),
            );
        }
    }
}
