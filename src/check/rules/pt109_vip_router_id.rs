//! PT109 vip-router-id
//!
//! What: `vip router-id=` is between 1 and 255.
//! Why: VRRP's virtual_router_id is one byte; keepalived refuses any other value and the VIP never
//! comes up.
//! Example: `vip "10.0.0.100/24" router-id=300`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT109,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        for b in &c.balancers {
            let Some(v) = &b.vip else { continue };
            if !(1..=255).contains(&v.router_id.value) {
                out.push(
                    Diagnostic::error(codes::PT109, format!("router-id={} is outside 1–255", v.router_id.value))
                        .with_span(v.router_id.span, "not a VRRP router id")
                        .with_help("pick a router-id from 1 to 255 that no other VRRP group on this network uses"),
                );
            }
        }
    }
}
