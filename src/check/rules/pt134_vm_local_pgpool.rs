//! PT134 vm-local-pgpool
//!
//! What: on the VM targets (haproxy, keepalived, hosts), a `target="local"` pooler is PgBouncer.
//! Why: the hosts target writes a pgbouncer.ini beside every database; it has no Pgpool-II
//! configuration to write, and dropping the pooler silently would deploy hosts without the pooler
//! the balancer sends traffic to.
//! Example: `pooler "pool" kind="pgpool" target="local"` with `targets "haproxy"`.

use crate::check::{cannot_express, Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{PoolerKind, PoolerTarget, Target};

pub const RULE: Rule = Rule {
    code: codes::PT134,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let Some(target) = t.targets.iter().find(|x| {
        matches!(
            x.value,
            Target::Haproxy | Target::Keepalived | Target::Hosts
        )
    }) else {
        return;
    };
    for c in &t.clusters {
        for p in c
            .poolers
            .iter()
            .filter(|p| p.target.value == PoolerTarget::Local && p.kind.value == PoolerKind::Pgpool)
        {
            out.push(
                cannot_express(
                    codes::PT134,
                    target,
                    format_args!("pooler \"{}\": a Pgpool-II beside every host", p.name),
                    p.kind.span,
                    "no Pgpool-II host config",
                )
                .with_help("use kind=\"pgbouncer\" for a pooler beside every database host"),
            );
        }
    }
}
