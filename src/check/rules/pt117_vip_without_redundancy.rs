//! PT117 vip-without-redundancy (warning)
//!
//! What: a balancer with a `vip` has at least two hosts. (One without any host is PT136, an
//! error: nothing would run it.)
//! Why: a virtual IP exists to move between hosts; on one host keepalived adds nothing but a second
//! thing that can fail, and the balancer stays a single point of failure.
//! Example: `balancer "haproxy" { host "lb1" …; vip "10.0.0.100/24" … }`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT117,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        for b in &c.balancers {
            let Some(v) = &b.vip else { continue };
            if b.hosts.len() == 1 {
                out.push(
                    Diagnostic::warning(codes::PT117, format!("vip {} has {} balancer host(s): no redundancy", v.address.value, b.hosts.len()))
                        .with_span(v.address.span, "nowhere to fail over to")
                        .with_help("add a second `host` to the balancer, or drop the vip and point clients at the host"),
                );
            }
        }
    }
}
