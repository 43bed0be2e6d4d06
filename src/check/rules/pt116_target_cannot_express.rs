//! PT116 target-cannot-express
//!
//! What: every declared target can render the whole topology: its failover manager, its poolers and
//! its balancers. Kubernetes, Helm and Compose have no `target="local"` pooler and no
//! haproxy/keepalived balancer (use a `primary` or `replicas` pooler and Services); Compose runs
//! `none` and `repmgr` only; `haproxy` needs a balancer and `keepalived` needs a `vip`.
//! Why: a target that quietly dropped a part of the topology would deploy something other than
//! what was reviewed.
//! Example: `targets "compose"` with `failover "patroni"`.

use crate::check::{cannot_express, Context, Rule};
use crate::diag::{codes, Diagnostic, Span};
use crate::model::{Cluster, PoolerTarget, Spanned, Target};
use crate::plan::capabilities;

pub const RULE: Rule = Rule {
    code: codes::PT116,
    run,
};

fn err(target: &Spanned<Target>, span: Span, msg: String, help: &str) -> Diagnostic {
    cannot_express(
        codes::PT116,
        target,
        msg,
        span,
        format!("not expressible on {}", target.value),
    )
    .with_help(help.to_owned())
}

fn check_cluster(target: &Spanned<Target>, c: &Cluster, out: &mut Vec<Diagnostic>) {
    let can = capabilities::of(target.value);
    let m = c.failover.manager.value;
    if !can.runs(m) {
        out.push(err(
            target,
            c.failover.manager.span,
            format!("failover \"{m}\" (cluster \"{}\")", c.name),
            "compose runs failover \"none\" or \"repmgr\"; choose one of those or drop the target",
        ));
    }
    if !can.local_poolers {
        for p in c
            .poolers
            .iter()
            .filter(|p| p.target.value == PoolerTarget::Local)
        {
            out.push(err(target, p.target.span, format!("pooler \"{}\" with target=\"local\"", p.name),
                "containers have no database host to sit beside; use target=\"primary\", \"replicas\" or \"any\""));
        }
    }
    if !can.balancers {
        for b in &c.balancers {
            out.push(err(target, b.span, format!("balancer \"{}\" (cluster \"{}\")", b.name, c.name),
                "balancers and VIPs are for VM targets; on containers clients reach Services or poolers"));
        }
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let topo = cx.topo;
    for t in &topo.targets {
        for c in &topo.clusters {
            check_cluster(t, c, out);
        }
        let balancers = topo.clusters.iter().flat_map(|c| &c.balancers);
        match t.value {
            Target::Haproxy if balancers.clone().next().is_none() => out.push(
                Diagnostic::error(codes::PT116, "the haproxy target needs a balancer")
                    .with_span(t.span, "nothing to render")
                    .with_help("add `balancer \"haproxy\" { host …; listen … }` to a cluster"),
            ),
            Target::Keepalived if balancers.clone().all(|b| b.vip.is_none()) => out.push(
                Diagnostic::error(
                    codes::PT116,
                    "the keepalived target needs a balancer with a vip",
                )
                .with_span(t.span, "nothing to render")
                .with_help(
                    "add `vip \"ADDR/PREFIX\" interface=\"eth0\" router-id=N` to the balancer",
                ),
            ),
            _ => {}
        }
    }
}
