//! PT120 kubernetes-patroni-image
//!
//! What: a cluster with `failover "patroni"` on the `kubernetes` target declares its
//! `postgres image=`.
//! Why: the default image for Patroni clusters is the official `postgres:N`, which does not contain
//! Patroni; the pods would start a container whose `patroni` command does not exist. The target
//! runs `patroni` from the declared image (built on the official image: uid 999, `pg_config` on
//! PATH), so the image must be chosen on purpose.
//! Example: `targets "kubernetes"` with `failover "patroni"` and no `postgres image=`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{FailoverManager, Target};

pub const RULE: Rule = Rule {
    code: codes::PT120,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some(t) = cx.topo.target(Target::Kubernetes) else {
        return;
    };
    for c in &cx.topo.clusters {
        if c.failover.manager.value == FailoverManager::Patroni && !c.postgres.image_declared {
            out.push(
                Diagnostic::error(
                    codes::PT120,
                    format!(
                        "the kubernetes target cannot run failover \"patroni\" from the default image \"{}\" (cluster \"{}\"), which has no Patroni",
                        c.postgres.image.value, c.name
                    ),
                )
                .with_span(c.failover.manager.span, "Patroni needs an image that contains it")
                .with_related(t.span, "target declared here")
                .with_help(
                    "declare `postgres image=\"…\"` with an image built on the official postgres image plus Patroni",
                ),
            );
        }
    }
}
