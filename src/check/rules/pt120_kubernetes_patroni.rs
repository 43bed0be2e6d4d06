//! PT120 kubernetes-patroni-image
//!
//! What: a cluster with `failover "patroni"` on the `kubernetes` target either declares its
//! `postgres image=` or runs a PostgreSQL major that the pinned Spilo image ships (13 to 17).
//! Why: without a declared image, the target runs Zalando's Spilo (PostgreSQL with Patroni 4,
//! pinned in the catalogue) from the major's own binary folder. For a major that no pinned Spilo
//! ships, the only default left is the official `postgres:N`, which does not contain Patroni: the
//! pods would start a container whose `patroni` command does not exist.
//! Example: `targets "kubernetes"` with `failover "patroni"`, `postgres version=18` and no
//! `postgres image=`.

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
        let major = c.postgres.version.value;
        if c.failover.manager.value == FailoverManager::Patroni
            && !c.postgres.image_declared
            && crate::catalog::spilo_image(major).is_none()
        {
            out.push(
                Diagnostic::error(
                    codes::PT120,
                    format!(
                        "the kubernetes target has no Patroni image for PostgreSQL {major} (cluster \"{}\"): the pinned Spilo ships 13 to 17, and the default \"{}\" has no Patroni",
                        c.name, c.postgres.image.value
                    ),
                )
                .with_span(c.postgres.version.span, "no pinned Patroni image for this major")
                .with_related(c.failover.manager.span, "Patroni chosen here")
                .with_related(t.span, "target declared here")
                .with_help(
                    "declare `postgres image=\"…\"` with an image that contains Patroni and this major (a Spilo build, or the official postgres image plus Patroni), or use a major from 13 to 17",
                ),
            );
        }
    }
}
