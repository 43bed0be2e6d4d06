//! PT121 kubernetes-node-ports
//!
//! What: on the `kubernetes` target every node of a cluster uses the same PostgreSQL port.
//! Why: the nodes are the pods of one StatefulSet, which share one pod template and so one port;
//! a node's own port would be silently replaced by the primary's.
//! Example: `node "a" role="primary"` and `node "b" role="async" port=5433` with
//! `targets "kubernetes"`.

use crate::check::{cannot_express, Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::Target;
use crate::plan::capabilities;

pub const RULE: Rule = Rule {
    code: codes::PT121,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some(t) = cx.topo.target(Target::Kubernetes) else {
        return;
    };
    for c in &cx.topo.clusters {
        let Some(first) = c.primary().or(c.nodes.first()) else {
            continue;
        };
        for n in &c.nodes {
            if n.port.value != first.port.value && !capabilities::of(t.value).node_ports {
                out.push(
                    cannot_express(
                        codes::PT121,
                        t,
                        format_args!(
                            "node \"{}\" on port {} while \"{}\" uses {} (cluster \"{}\")",
                            n.name, n.port.value, first.name, first.port.value, c.name
                        ),
                        n.port.span,
                        "differs from the primary's port",
                    )
                    .with_help("every pod of a StatefulSet listens on the same port; drop the per-node `port`"),
                );
            }
        }
    }
}
