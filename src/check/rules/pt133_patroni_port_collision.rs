//! PT133 patroni-port-collision
//!
//! What: on one VM host, a node's Patroni REST port (`patroni-port=`, default 8008) differs from
//! every other Patroni REST port, PostgreSQL port and local pooler port (the pooler's `port`, or
//! the node's `pooler-port=`) on that host. Without Patroni, a cluster with a balancer runs
//! pgtopo's health endpoint on that same port (haproxy asks it as it asks Patroni), which is
//! held to the same rule.
//! Why: the second Patroni (or health endpoint) cannot bind its port, and haproxy's role checks
//! (which ask that port) would read another node's answer.
//! Example: `node "a" host="127.0.0.1" port=5432` and `node "b" host="127.0.0.1" port=5433`, both
//! with the default Patroni port 8008.

use std::collections::HashMap;

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{FailoverManager, PoolerTarget};
use crate::plan::access::has_health_endpoint;

pub const RULE: Rule = Rule {
    code: codes::PT133,
    run,
};

/// What holds a port: a node's PostgreSQL or a local pooler; described only for a finding.
#[derive(Clone, Copy)]
enum What<'a> {
    Node(&'a str),
    Pooler(&'a str),
}

impl std::fmt::Display for What<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Node(n) => write!(f, "node \"{n}\""),
            What::Pooler(p) => write!(f, "pooler \"{p}\""),
        }
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    // The first other binding of each (host, port) on the VM hosts: a map, because scanning a list
    // for every node costs the square of the node count on large topologies.
    let mut taken: HashMap<(&str, u16), What> = HashMap::new();
    for c in &cx.topo.clusters {
        for n in &c.nodes {
            let Some(h) = &n.host else { continue };
            taken
                .entry((h.value.as_str(), n.port.value))
                .or_insert(What::Node(&n.name));
            for p in c
                .poolers
                .iter()
                .filter(|p| p.target.value == PoolerTarget::Local)
            {
                let port = n.local_pooler_port(p).value;
                taken
                    .entry((h.value.as_str(), port))
                    .or_insert(What::Pooler(&p.name));
            }
        }
    }
    // The first Patroni REST API (or health endpoint) on each (host, port), with what it is.
    let mut rest: HashMap<(&str, u16), (&str, &str)> = HashMap::new();
    for c in cx.topo.clusters.iter() {
        let what = if c.failover.manager.value == FailoverManager::Patroni {
            "the Patroni REST API"
        } else if has_health_endpoint(c) {
            "the health endpoint"
        } else {
            continue;
        };
        for n in &c.nodes {
            let Some(h) = &n.host else { continue };
            let port = n.patroni_port.value;
            let key = (h.value.as_str(), port);
            let clash = rest
                .get(&key)
                .map(|(w, first)| format!("{w} of node \"{first}\""))
                .or_else(|| taken.get(&key).map(ToString::to_string));
            rest.entry(key).or_insert((what, &n.name));
            if let Some(other) = clash {
                out.push(
                    Diagnostic::error(
                        codes::PT133,
                        format!(
                            "{what} of node \"{}\" and {other} both use port {port} on {}",
                            n.name, h.value
                        ),
                    )
                    .with_span(n.patroni_port.span, format!("port {port} already taken"))
                    .with_help("give each node on one host its own `patroni-port=`"),
                );
            }
        }
    }
}
