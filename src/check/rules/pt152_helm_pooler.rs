//! PT152 helm-pooler
//!
//! What: with the helm target, every pooler maps onto what the cluster's chart deploys.
//! bitnami/postgresql-ha deploys exactly one Pgpool-II (session pooling, reads balanced over every
//! node); bitnami/postgresql deploys none; CloudNativePG deploys PgBouncer Poolers of type `rw`
//! (primary) or `ro` (standbys) listening on 5432. A pooler the chart cannot deploy at all is an
//! error; one it deploys differently (another kind, target, mode or port) is a warning that says
//! what differs.
//! Why: clients are configured against the poolers the topology declares; a missing or different
//! pooler breaks them or changes where their reads land.
//! Example: two poolers on a bitnami/postgresql-ha cluster; `kind="pgpool"` on CloudNativePG.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic, Span};
use crate::emit::helm::{bitnami_ha, unrenderable};
use crate::model::{Cluster, HelmChart, PoolMode, PoolerKind, PoolerTarget, Target};

pub const RULE: Rule = Rule {
    code: codes::PT152,
    run,
};

fn warn(span: Span, msg: String) -> Diagnostic {
    Diagnostic::warning(codes::PT152, msg).with_span(span, "the chart differs here")
}

fn bitnami_ha(c: &Cluster, out: &mut Vec<Diagnostic>) {
    let Some(rendered) = bitnami_ha::rendered_pooler(c) else {
        out.push(
            warn(c.name_span, format!(
                "bitnami/postgresql-ha always deploys Pgpool-II (1 replica) in front of cluster \"{}\"; the topology declares no pooler",
                c.name
            ))
            .with_help("declare `pooler \"pgpool\" kind=\"pgpool\" target=\"any\"` to size it, or use `helm chart=\"cnpg\"`"),
        );
        return;
    };
    for p in &c.poolers {
        if !std::ptr::eq(p, rendered) {
            out.push(
                Diagnostic::error(
                    codes::PT152,
                    format!(
                        "the helm target cannot express pooler \"{}\": bitnami/postgresql-ha deploys one Pgpool-II, which stands for pooler \"{}\"",
                        p.name, rendered.name
                    ),
                )
                .with_span(p.name_span, "not rendered by the chart")
                .with_help("keep one pooler on this cluster, or use `helm chart=\"cnpg\"` (PgBouncer rw/ro poolers)"),
            );
        }
    }
    let p = rendered;
    if p.kind.value == PoolerKind::Pgbouncer {
        out.push(warn(p.kind.span, format!(
            "bitnami/postgresql-ha deploys Pgpool-II, not PgBouncer; pooler \"{}\" is rendered as Pgpool-II (max_pool {}, num_init_children {})",
            p.name, p.pool.size.value, p.pool.max_client_conn.value
        )).with_help("declare the pooler as kind=\"pgpool\" for this chart, or use `helm chart=\"cnpg\"` for PgBouncer"));
    }
    if p.target.value == PoolerTarget::Replicas {
        out.push(warn(p.target.span, format!(
            "Pgpool-II sends writes to the primary and balances reads over every node including the primary; pooler \"{}\" targets replicas only",
            p.name
        )).with_help("use target=\"any\" for a Pgpool-II pooler, or `helm chart=\"cnpg\"` for a replicas-only pooler"));
    }
    if p.mode.value != PoolMode::Session {
        out.push(warn(
            p.mode.span,
            format!(
                "Pgpool-II pools whole sessions; pooler \"{}\" asks for {} pooling",
                p.name, p.mode.value
            ),
        ).with_help("use mode=\"session\" for Pgpool-II, or `helm chart=\"cnpg\"` for PgBouncer transaction pooling"));
    }
}

fn cnpg(c: &Cluster, out: &mut Vec<Diagnostic>) {
    for p in c
        .poolers
        .iter()
        .filter(|p| p.target.value != PoolerTarget::Local)
    {
        if p.kind.value == PoolerKind::Pgpool {
            out.push(warn(p.kind.span, format!(
                "CloudNativePG deploys PgBouncer poolers only; pooler \"{}\" (pgpool) is rendered as PgBouncer without Pgpool-II's read/write splitting",
                p.name
            )).with_help("use kind=\"pgbouncer\" with one `primary` and one `replicas` pooler"));
        }
        if p.target.value == PoolerTarget::Any {
            out.push(warn(p.target.span, format!(
                "CloudNativePG poolers reach the primary (rw) or the standbys (ro), never both; pooler \"{}\" (target any) is rendered as rw",
                p.name
            )));
        }
        if p.port.value != 5432 {
            out.push(warn(p.port.span, format!(
                "CloudNativePG poolers listen on 5432; pooler \"{}\" declares port {}, which its Service will not use",
                p.name, p.port.value
            )).with_help("point clients at port 5432 of the pooler's Service, or drop `port=` for this target"));
        }
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    if !cx.topo.has_target(Target::Helm) {
        return;
    }
    // A cluster its chart cannot render at all is PT154's; its poolers would only add noise.
    for c in cx
        .topo
        .clusters
        .iter()
        .filter(|c| unrenderable(cx.topo, c).is_none())
    {
        match c.helm.chart.value {
            HelmChart::BitnamiPostgresqlHa => bitnami_ha(c, out),
            HelmChart::Cnpg => cnpg(c, out),
            HelmChart::BitnamiPostgresql => {
                for p in &c.poolers {
                    out.push(
                        Diagnostic::error(
                            codes::PT152,
                            format!(
                                "the helm target cannot express pooler \"{}\": the bitnami/postgresql chart deploys no pooler",
                                p.name
                            ),
                        )
                        .with_span(p.name_span, "not rendered by the chart")
                        .with_help("remove the pooler, or use `helm chart=\"cnpg\"`"),
                    );
                }
            }
        }
    }
}
