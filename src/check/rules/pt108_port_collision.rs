//! PT108 port-collision
//!
//! What: no two things listen on the same port of the same machine: database nodes and the
//! `target="local"` poolers beside them on a VM `host` (at the node's `pooler-port=` when
//! written), a balancer host's listens and stats page, and, for the Compose target, every port
//! published on the Docker host (node ports as written, pooler, Prometheus and Grafana ports).
//! Why: the second process fails to bind and the service is down while the config looks fine.
//! Example: `listen "rw" port=5000` and `listen "ro" port=5000` on one balancer.

use std::collections::HashMap;

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic, Span};
use crate::model::{PoolerTarget, Target};

pub const RULE: Rule = Rule {
    code: codes::PT108,
    run,
};

/// What holds a port, described only when a finding needs the words: a large topology has
/// hundreds of thousands of bindings and almost never a collision.
#[derive(Clone, Copy, PartialEq, Eq)]
enum What<'a> {
    Node(&'a str),
    PoolerBeside(&'a str, &'a str),
    Pooler(&'a str),
    Listen(&'a str),
    Named(&'static str),
}

impl std::fmt::Display for What<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            What::Node(n) => write!(f, "node \"{n}\""),
            What::PoolerBeside(p, n) => write!(f, "pooler \"{p}\" beside node \"{n}\""),
            What::Pooler(p) => write!(f, "pooler \"{p}\""),
            What::Listen(l) => write!(f, "listen \"{l}\""),
            What::Named(w) => f.write_str(w),
        }
    }
}

struct Binding<'a> {
    machine: &'a str,
    port: u16,
    what: What<'a>,
    span: Span,
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let mut b: Vec<Binding> = Vec::new();
    for c in &t.clusters {
        for n in &c.nodes {
            if let Some(h) = &n.host {
                b.push(Binding {
                    machine: &h.value,
                    port: n.port.value,
                    what: What::Node(&n.name),
                    span: n.port.span,
                });
                for p in c
                    .poolers
                    .iter()
                    .filter(|p| p.target.value == PoolerTarget::Local)
                {
                    // A node's `pooler-port=` replaces the pooler's port on that node only.
                    let port = n.local_pooler_port(p);
                    b.push(Binding {
                        machine: &h.value,
                        port: port.value,
                        what: What::PoolerBeside(&p.name, &n.name),
                        span: port.span,
                    });
                }
            }
        }
        for bal in &c.balancers {
            for h in &bal.hosts {
                for l in &bal.listens {
                    b.push(Binding {
                        machine: &h.address.value,
                        port: l.port.value,
                        what: What::Listen(&l.name),
                        span: l.port.span,
                    });
                }
                if let Some(s) = &bal.stats {
                    b.push(Binding {
                        machine: &h.address.value,
                        port: s.port.value,
                        what: What::Named("the stats page"),
                        span: s.port.span,
                    });
                }
            }
        }
    }
    if t.has_target(Target::Compose) {
        let docker = "the Docker host";
        for c in &t.clusters {
            for n in c.nodes.iter().filter(|n| n.port_declared) {
                b.push(Binding {
                    machine: docker,
                    port: n.port.value,
                    what: What::Node(&n.name),
                    span: n.port.span,
                });
            }
            for p in c
                .poolers
                .iter()
                .filter(|p| p.target.value != PoolerTarget::Local)
            {
                b.push(Binding {
                    machine: docker,
                    port: p.port.value,
                    what: What::Pooler(&p.name),
                    span: p.port.span,
                });
            }
            if let Some(m) = &c.monitoring {
                for (what, port) in [
                    ("Prometheus", &m.prometheus_port),
                    ("Grafana", &m.grafana_port),
                ] {
                    if let Some(p) = port {
                        b.push(Binding {
                            machine: docker,
                            port: p.value,
                            what: What::Named(what),
                            span: p.span,
                        });
                    }
                }
            }
        }
    }
    let mut reported: std::collections::HashSet<Span> = Default::default();
    // The first binding of each (machine, port): a map, because scanning the earlier bindings for
    // every binding costs the square of the node count on large topologies.
    let mut firsts: HashMap<(&str, u16), usize> = HashMap::new();
    for (i, x) in b.iter().enumerate() {
        let first = *firsts.entry((x.machine, x.port)).or_insert(i);
        if first != i {
            let first = &b[first];
            // One binding declared once but replicated on several machines would repeat the finding.
            // A local pooler beside two nodes of one host is one declaration too, but two
            // processes on one port: `what` (which names the node) tells them apart.
            if (first.span == x.span && first.what == x.what) || !reported.insert(x.span) {
                continue;
            }
            out.push(
                Diagnostic::error(
                    codes::PT108,
                    format!(
                        "{} and {} both use port {} on {}",
                        first.what, x.what, x.port, x.machine
                    ),
                )
                .with_span(x.span, format!("port {} already taken", x.port))
                .with_related(first.span, "taken here")
                .with_help(if first.span == x.span {
                    "give each node on one host its own `pooler-port=`"
                } else {
                    "give each service on one machine its own port"
                }),
            );
        }
    }
}
