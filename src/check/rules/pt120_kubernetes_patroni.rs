//! PT120 kubernetes-patroni
//!
//! What: a cluster with `failover "patroni"` is not rendered by the `kubernetes` target.
//! Why: Patroni on Kubernetes needs an image that contains Patroni (the default `postgres:N` image
//! does not) and member names equal to pod names; the target does not build that yet, and dropping
//! the failover manager silently would deploy a cluster that never fails over. The `helm` target
//! (CloudNativePG) or `failover "pg_auto_failover"`/`"repmgr"` express the same intent.
//! Example: `targets "kubernetes"` with `failover "patroni"`.

use crate::check::{Context, Rule};
use crate::diag::Diagnostic;
use crate::model::{FailoverManager, Target};

pub const RULE: Rule = Rule {
    code: "PT120",
    name: "kubernetes-patroni",
    summary: "the kubernetes target does not render Patroni-managed clusters",
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some(t) = cx
        .topo
        .targets
        .iter()
        .find(|t| t.value == Target::Kubernetes)
    else {
        return;
    };
    for c in &cx.topo.clusters {
        if c.failover.manager.value == FailoverManager::Patroni {
            out.push(
                Diagnostic::error(
                    "PT120",
                    format!(
                        "the kubernetes target cannot express failover \"patroni\" (cluster \"{}\")",
                        c.name
                    ),
                )
                .with_span(c.failover.manager.span, "not rendered on kubernetes")
                .with_related(t.span, "target declared here")
                .with_help(
                    "use failover \"pg_auto_failover\" or \"repmgr\" on kubernetes, or the helm target (CloudNativePG) for Patroni-style failover",
                ),
            );
        }
    }
}
