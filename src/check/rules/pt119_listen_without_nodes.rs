//! PT119 listen-without-nodes
//!
//! What: a balancer `listen` whose `target` is `replicas`, `sync` or `async` has at least one such
//! node (in the base and every env). Without a `fallback` this is an error; with one it is a
//! warning, because every connection then lands on the fallback.
//! Why: haproxy would start with an empty backend and refuse every connection on that port.
//! Example: `listen "ro" port=5001 target="replicas"` in an env whose `nodes` keeps only the primary.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{ListenTarget, Role};

pub const RULE: Rule = Rule {
    code: codes::PT119,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        for b in &c.balancers {
            for l in &b.listens {
                let matches = |r: Role| match l.target.value {
                    ListenTarget::Primary => r == Role::Primary,
                    ListenTarget::Replicas => r != Role::Primary,
                    ListenTarget::Sync => r == Role::Sync,
                    ListenTarget::Async => r == Role::Async,
                    ListenTarget::Any => true,
                };
                if c.nodes.iter().any(|n| matches(n.role.value)) {
                    continue;
                }
                let msg = format!(
                    "listen \"{}\" targets {} but cluster \"{}\" has no such node",
                    l.name, l.target.value, c.name
                );
                out.push(match &l.fallback {
                    None => Diagnostic::error(codes::PT119, msg)
                        .with_span(l.target.span, "empty backend")
                        .with_help("add a node with that role, or a `fallback=\"primary\"`"),
                    Some(f) => Diagnostic::warning(
                        codes::PT119,
                        format!("{msg}; every connection goes to the fallback"),
                    )
                    .with_span(l.target.span, "empty backend")
                    .with_related(f.span, "fallback used instead")
                    .with_help("add a node with that role if this listen should spread load"),
                });
            }
        }
    }
}
