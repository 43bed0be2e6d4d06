//! PT110 balancer-priority
//!
//! What: the hosts of one balancer have distinct `priority` values.
//! Why: keepalived breaks a priority tie by the higher IP address, so which host holds the VIP
//! depends on addressing rather than on the topology, and nopreempt makes the result sticky.
//! Example: `host "lb1" priority=100` and `host "lb2" priority=100`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT110,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        for b in &c.balancers {
            for (i, h) in b.hosts.iter().enumerate() {
                if let Some(first) = b.hosts[..i]
                    .iter()
                    .find(|x| x.priority.value == h.priority.value)
                {
                    out.push(
                        Diagnostic::error(codes::PT110, format!("hosts \"{}\" and \"{}\" share priority {}", first.name, h.name, h.priority.value))
                            .with_span(h.priority.span, "same priority")
                            .with_related(first.priority.span, "first host with it")
                            .with_help("give the host that should hold the VIP the highest priority and the others lower ones"),
                    );
                }
            }
        }
    }
}
