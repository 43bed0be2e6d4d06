//! PT132 patroni-without-dcs
//!
//! What: a `failover "patroni"` cluster built for VM hosts (a node with `host`) names at least one
//! DCS endpoint: `failover "patroni" { dcs "etcd" { endpoint "10.0.0.31:2379" } }`.
//! Why: Patroni on a VM keeps its leader lock in etcd; without an endpoint the emitted patroni.yml
//! has nowhere to store it, and Patroni refuses to start.
//! Example: `failover "patroni"` with no `dcs` block and `node "db1" host="10.0.0.11"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::FailoverManager;

pub const RULE: Rule = Rule {
    code: codes::PT132,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let on_hosts = c.nodes.iter().any(|n| n.host.is_some());
        let endpoints = c.failover.dcs.as_ref().map_or(0, |d| d.endpoints.len());
        if c.failover.manager.value == FailoverManager::Patroni && on_hosts && endpoints == 0 {
            out.push(
                Diagnostic::error(
                    codes::PT132,
                    format!("cluster \"{}\" runs Patroni on VM hosts without a DCS endpoint", c.name),
                )
                .with_span(c.failover.span, "no etcd endpoint")
                .with_help("add `dcs \"etcd\" { endpoint \"HOST:2379\" }` inside `failover \"patroni\" { … }`"),
            );
        }
    }
}
