//! PT133 patroni-port-collision
//!
//! What: on one VM host, a node's Patroni REST port (`patroni-port=`, default 8008) differs from
//! every other Patroni REST port, PostgreSQL port and local pooler port (the pooler's `port`, or
//! the node's `pooler-port=`) on that host.
//! Why: the second Patroni cannot bind its REST API and exits, and haproxy's role checks (which ask
//! that port) would read another node's answer.
//! Example: `node "a" host="127.0.0.1" port=5432` and `node "b" host="127.0.0.1" port=5433`, both
//! with the default Patroni port 8008.

use std::collections::HashMap;

use crate::check::{Context, Rule};
use crate::diag::{Diagnostic, Span};
use crate::model::{FailoverManager, PoolerTarget};

pub const RULE: Rule = Rule {
    code: "PT133",
    name: "patroni-port-collision",
    summary: "Patroni REST ports must be unique on each VM host",
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    // (host, port, what) of every other binding on the VM hosts.
    let mut taken: Vec<(String, u16, String)> = Vec::new();
    for c in &cx.topo.clusters {
        for n in &c.nodes {
            let Some(h) = &n.host else { continue };
            taken.push((
                h.value.clone(),
                n.port.value,
                format!("node \"{}\"", n.name),
            ));
            for p in c
                .poolers
                .iter()
                .filter(|p| p.target.value == PoolerTarget::Local)
            {
                taken.push((
                    h.value.clone(),
                    n.pooler_port.as_ref().map_or(p.port.value, |x| x.value),
                    format!("pooler \"{}\"", p.name),
                ));
            }
        }
    }
    // The first entry of each (host, port) in `taken` and `rest`: maps, because scanning the lists
    // for every node costs the square of the node count on large topologies.
    let mut taken_first: HashMap<(String, u16), usize> = HashMap::new();
    for (i, (h, p, _)) in taken.iter().enumerate() {
        taken_first.entry((h.clone(), *p)).or_insert(i);
    }
    let mut rest_first: HashMap<(String, u16), usize> = HashMap::new();
    let mut rest: Vec<(String, u16, String, Span)> = Vec::new();
    for c in cx
        .topo
        .clusters
        .iter()
        .filter(|c| c.failover.manager.value == FailoverManager::Patroni)
    {
        for n in &c.nodes {
            let Some(h) = &n.host else { continue };
            let port = n.patroni_port.value;
            let key = (h.value.clone(), port);
            let clash = rest_first
                .get(&key)
                .map(|&i| format!("the Patroni REST API of {}", rest[i].2))
                .or_else(|| taken_first.get(&key).map(|&i| taken[i].2.clone()));
            rest_first.entry(key).or_insert(rest.len());
            if let Some(other) = clash {
                out.push(
                    Diagnostic::error(
                        "PT133",
                        format!(
                            "the Patroni REST API of node \"{}\" and {other} both use port {port} on {}",
                            n.name, h.value
                        ),
                    )
                    .with_span(n.patroni_port.span, format!("port {port} already taken"))
                    .with_help("give each node on one host its own `patroni-port=`"),
                );
            }
            rest.push((
                h.value.clone(),
                port,
                format!("node \"{}\"", n.name),
                n.patroni_port.span,
            ));
        }
    }
}
