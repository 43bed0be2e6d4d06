//! PT154 helm-chart-shape
//!
//! What: with the helm target, the cluster fits the chart chosen for it (`helm chart=` or the
//! default per failover manager). Errors: bitnami/postgresql with more than one node,
//! bitnami/postgresql-ha for a standby cluster (`replica-of`), CloudNativePG for a standby cluster
//! (not rendered yet). Warnings, where the chart renders something close: CloudNativePG replaces
//! the declared failover manager (and pg_auto_failover's monitor) with its operator, manages its own
//! PodDisruptionBudgets (`pdb min-available` is not set), and reads credentials from its own
//! basic-auth Secrets rather than the topology's, and fixes some PostgreSQL parameters itself
//! (`hot_standby`, `logging_collector`, `shared_preload_libraries`, …: left out of the values);
//! bitnami/postgresql-ha always runs repmgr; every chart creates only the first `database` of a
//! cluster; a label whose key the chart sets itself (`app.kubernetes.io/part-of`, …) is left out.
//! Why: a chart that cannot hold the topology must say so before anything is deployed.
//! Example: `cluster "r" replica-of="main" { failover "repmgr"; helm chart="bitnami/postgresql-ha" … }`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::emit::helm::charts::{chart_owns_label, CNPG_FIXED_PARAMETERS};
use crate::emit::helm::unrenderable;
use crate::model::{FailoverManager, HelmChart, Target};

pub const RULE: Rule = Rule {
    code: codes::PT154,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    if !cx.topo.has_target(Target::Helm) {
        return;
    }
    for c in &cx.topo.clusters {
        if let Some(msg) = unrenderable(c) {
            out.push(
                Diagnostic::error(codes::PT154, msg)
                    .with_span(c.helm.chart.span, "chart chosen here")
                    .with_help("choose another chart with `helm chart=\"…\"` inside the cluster"),
            );
            continue;
        }
        let chart = c.helm.chart.value;
        let manager = c.failover.manager.value;
        for (key, value) in &c.labels {
            if chart_owns_label(chart, key) {
                out.push(
                    Diagnostic::warning(
                        codes::PT154,
                        format!(
                            "{chart} sets label `{key}` on its objects itself; cluster \"{}\"'s `{key}={}` is left out of the values (it would be written twice or replace the chart's selector)",
                            c.name, value.value
                        ),
                    )
                    .with_span(value.span, "set by the chart")
                    .with_help("choose another label key for the helm target"),
                );
            }
        }
        if chart == HelmChart::Cnpg {
            for (name, p) in &c.parameters {
                if CNPG_FIXED_PARAMETERS.contains(&name.as_str()) {
                    out.push(
                        Diagnostic::warning(
                            codes::PT154,
                            format!(
                                "CloudNativePG fixes `{name}` itself and refuses it in the Cluster's parameters; cluster \"{}\"'s value is left out of the values",
                                c.name
                            ),
                        )
                        .with_span(p.span, "fixed by the operator")
                        .with_help("the operator manages it (shared_preload_libraries has its own field in the chart); drop it for the helm target or use another chart"),
                    );
                }
            }
        }
        // Every chart creates one application database and its owner from its values; the
        // others would silently not exist.
        for d in c.databases.iter().skip(1) {
            let owner = d
                .owner
                .as_ref()
                .map(|o| format!(" (owner \"{}\")", o.value))
                .unwrap_or_default();
            out.push(
                Diagnostic::warning(
                    codes::PT154,
                    format!(
                        "{chart} creates one database per cluster; database \"{}\"{owner} of cluster \"{}\" is not created by the helm target",
                        d.name, c.name
                    ),
                )
                .with_span(d.span, "not created on helm")
                .with_help("create it after deployment (the kubernetes target creates every database), or keep one database per cluster for helm"),
            );
        }
        match chart {
            HelmChart::Cnpg => {
                if !matches!(manager, FailoverManager::None) {
                    let monitor = if c.failover.monitor.is_some() {
                        "; its monitor is not deployed"
                    } else {
                        ""
                    };
                    out.push(
                        Diagnostic::warning(
                            codes::PT154,
                            format!(
                                "on CloudNativePG the operator does failover for cluster \"{}\" instead of {manager}{monitor}",
                                c.name
                            ),
                        )
                        .with_span(c.failover.manager.span, "replaced by the operator")
                        .with_help("CloudNativePG promotes standbys itself; use `helm chart=\"bitnami/postgresql-ha\"` with failover \"repmgr\", or accept the operator's failover"),
                    );
                }
                if let Some(pdb) = &c.pdb {
                    out.push(
                        Diagnostic::warning(
                            codes::PT154,
                            format!(
                                "CloudNativePG manages its own PodDisruptionBudgets (the primary, and standbys one at a time); `pdb` min-available={1} of cluster \"{0}\" is not set",
                                c.name, pdb.min_available.value
                            ),
                        )
                        .with_span(pdb.span, "only enablePDB is expressible")
                        .with_help("the operator keeps the primary and all but one standby available during drains; drop `pdb` for the helm target or accept that"),
                    );
                }
                if let Some(m) = c
                    .monitoring
                    .as_ref()
                    .filter(|m| m.exporter_port.value != crate::catalog::EXPORTER_PORT)
                {
                    out.push(
                        Diagnostic::warning(
                            codes::PT154,
                            format!(
                                "CloudNativePG's exporter listens on {}; `monitoring` exporter port={} of cluster \"{}\" is not expressible",
                                crate::catalog::EXPORTER_PORT,
                                m.exporter_port.value,
                                c.name
                            ),
                        )
                        .with_span(m.exporter_port.span, "the operator's exporter port is fixed")
                        .with_help("drop `port=` from `exporter` for the helm target, or scrape port 9187"),
                    );
                }
                // Only a Secret the user named is an expectation the chart breaks; the defaulted
                // name (span on the cluster name) is not.
                if c.credentials.span != c.name_span {
                    out.push(
                    Diagnostic::warning(
                        codes::PT154,
                        format!(
                            "CloudNativePG creates its own basic-auth Secrets ({0}-superuser, {0}-app); Secret \"{1}\" is not read by the cnpg chart",
                            c.name, c.credentials.secret.value
                        ),
                    )
                    .with_span(c.credentials.span, "not read by the chart")
                    .with_help("read the generated Secrets, or see docs/targets/helm.md"),
                );
                }
            }
            HelmChart::BitnamiPostgresqlHa if manager != FailoverManager::Repmgr => {
                out.push(
                    Diagnostic::warning(
                        codes::PT154,
                        format!(
                            "bitnami/postgresql-ha runs repmgr; cluster \"{}\" declares failover \"{manager}\"",
                            c.name
                        ),
                    )
                    .with_span(c.failover.manager.span, "the chart uses repmgr")
                    .with_help("use failover \"repmgr\" for this chart, or `helm chart=\"cnpg\"`"),
                );
            }
            _ => {}
        }
    }
}
