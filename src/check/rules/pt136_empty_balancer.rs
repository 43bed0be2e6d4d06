//! PT136 empty-balancer
//!
//! What: with the haproxy or keepalived target, every balancer has at least one `host` and at
//! least one `listen`.
//! Why: both targets write one file per balancer host, so a balancer without hosts emitted nothing
//! at all: its listens and its `vip` were dropped while `lint` only warned "no redundancy" (PT117).
//! A balancer without listens gave a haproxy.cfg that accepts no connection and a keepalived
//! health check that connects to port 0, so no host would ever hold the VIP.
//! Example: `balancer "haproxy" { listen "rw" port=5000 target="primary"; vip "10.0.0.100/24" … }`
//! with no `host`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::Target;

pub const RULE: Rule = Rule {
    code: codes::PT136,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if !t.has_target(Target::Haproxy) && !t.has_target(Target::Keepalived) {
        return;
    }
    for c in &t.clusters {
        for b in &c.balancers {
            if b.hosts.is_empty() {
                let mut d = Diagnostic::error(
                    codes::PT136,
                    format!(
                        "balancer \"{}\" of cluster \"{}\" has no host: nothing would run it",
                        b.name, c.name
                    ),
                )
                .with_span(b.span, "no `host` in this balancer")
                .with_help(
                    "add the machines that run it: `host \"lb1\" address=\"10.0.0.21\"` (two or more for a vip to move between)",
                );
                if let Some(v) = &b.vip {
                    d = d.with_related(v.address.span, "no host would ever hold this vip");
                }
                out.push(d);
            }
            if b.listens.is_empty() {
                let mut d = Diagnostic::error(
                    codes::PT136,
                    format!(
                        "balancer \"{}\" of cluster \"{}\" has no listen: haproxy would accept no connection",
                        b.name, c.name
                    ),
                )
                .with_span(b.span, "no `listen` in this balancer")
                .with_help("add a frontend: `listen \"rw\" port=5000 target=\"primary\"`");
                if let Some(v) = &b.vip {
                    d = d.with_related(
                        v.address.span,
                        "keepalived checks haproxy on the first listen port: with none, no host would hold this vip",
                    );
                }
                out.push(d);
            }
        }
    }
}
