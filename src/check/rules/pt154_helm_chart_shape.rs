//! PT154 helm-chart-shape
//!
//! What: with the helm target, the cluster fits the chart chosen for it (`helm chart=` or the
//! default per failover manager). Errors: bitnami/postgresql with more than one node,
//! bitnami/postgresql-ha for a standby cluster (`replica-of`), CloudNativePG for a standby cluster
//! of a source on another chart. Warnings, where the chart renders something close: CloudNativePG replaces
//! the declared failover manager (and pg_auto_failover's monitor) with its operator, manages its own
//! PodDisruptionBudgets (`pdb min-available` is not set), and reads credentials from its own
//! basic-auth Secrets rather than the topology's, and fixes some PostgreSQL parameters itself
//! (`hot_standby`, `logging_collector`, `shared_preload_libraries`, …: left out of the values);
//! backups: the bitnami charts take none (a `backup` archives nothing, a `restore` starts empty),
//! CloudNativePG's barman-cloud writes to an object store only, takes full backups only (an
//! `incremental=` schedule is not rendered) and keeps backups by a recovery window (a `retention`
//! without a full schedule to convert it is not rendered); a replica cluster in another
//! namespace than its source needs the source's certificate Secrets copied there;
//! bitnami/postgresql-ha always runs repmgr; a label whose key the chart sets itself
//! (`app.kubernetes.io/part-of`, …) is left out. (Every chart creates every `database`:
//! CloudNativePG through its `databases` list, the bitnami charts through their init script.)
//! Why: a chart that cannot hold the topology must say so before anything is deployed.
//! Example: `cluster "r" replica-of="main" { failover "repmgr"; helm chart="bitnami/postgresql-ha" … }`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::emit::helm::charts::{chart_owns_label, CNPG_FIXED_PARAMETERS};
use crate::emit::helm::{cnpg_backup, unrenderable};
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
        if let Some(msg) = unrenderable(cx.topo, c) {
            out.push(
                Diagnostic::error(codes::PT154, msg)
                    .with_span(c.helm.chart.span, "chart chosen here")
                    .with_help("choose another chart with `helm chart=\"…\"` inside the cluster"),
            );
            continue;
        }
        backups(cx, c, out);
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

/// What the chart does not do of the cluster's `backup` and `restore` (docs/backup.md).
fn backups(cx: &Context, c: &crate::model::Cluster, out: &mut Vec<Diagnostic>) {
    let chart = c.helm.chart.value;
    let warn = |msg: String, span, label: &str, help: &str| {
        Diagnostic::warning(codes::PT154, msg)
            .with_span(span, label.to_owned())
            .with_help(help.to_owned())
    };
    if chart != HelmChart::Cnpg {
        if let Some(b) = c.backup.as_ref().filter(|b| b.repository().is_some()) {
            out.push(warn(
                format!("{chart} takes no backups: the `backup` of cluster \"{}\" is not expressed on helm, WAL is not archived", c.name),
                b.span,
                "not expressed by the chart",
                "use `helm chart=\"cnpg\"` (barman-cloud backups), or back the release up outside pgtopo",
            ));
        }
        if let Some(r) = &c.restore {
            out.push(warn(
                format!("{chart} cannot bootstrap from backups: the `restore` of cluster \"{}\" is not expressed on helm, it starts empty instead of from \"{}\"'s backups", c.name, r.from.value),
                r.span,
                "not expressed by the chart",
                "use `helm chart=\"cnpg\"` for the restored cluster and its source",
            ));
        }
        return;
    }
    if let Some(b) = &c.backup {
        // Another tool is PT184's error; barman-cloud writes only to object stores.
        let barman = crate::plan::backup::tool(c, Target::Helm)
            == Some(crate::model::BackupTool::BarmanCloud);
        if let Some(r) = b
            .repository()
            .filter(|r| barman && r.kind.value == crate::model::RepositoryKind::Posix)
        {
            out.push(warn(
                format!("CloudNativePG backs up to an object store (s3, gcs, azure) only: the `backup` of cluster \"{}\" into a posix repository is not expressed on helm, WAL is not archived", c.name),
                r.span,
                "not an object store",
                "add an object-store repository in an env for the helm target, or back up outside pgtopo",
            ));
        }
        if cnpg_backup::backs_up(c) {
            if let Some(i) = b.schedule.as_ref().and_then(|s| s.incremental.as_ref()) {
                out.push(warn(
                    format!("barman-cloud takes full backups only: the incremental schedule \"{}\" of cluster \"{}\" is not rendered; a restore replays the WAL archived since the last full backup", i.value, c.name),
                    i.span,
                    "no incremental backups on CloudNativePG",
                    "accept longer restores, or add full backups to the `full=` schedule",
                ));
            }
            if let Some(n) = b.retention.as_ref().and_then(|r| r.full.as_ref()) {
                if crate::plan::backup::retention_window_days(b).is_none() {
                    out.push(warn(
                        format!("CloudNativePG keeps backups by a recovery window, which pgtopo derives from the full schedule; cluster \"{}\" has none that fires, so `retention full={}` is not rendered and backups are kept until deleted", c.name, n.value),
                        n.span,
                        "no window to convert to",
                        "add `schedule full=\"CRON\"`",
                    ));
                }
            }
        }
    }
    if let Some(r) = &c.restore {
        let source = cx.topo.cluster(&r.from.value);
        if source.is_some() && cnpg_backup::restore_source(cx.topo, c).is_none() {
            out.push(warn(
                format!("the `restore` of cluster \"{}\" is not expressed on helm: \"{}\" has no CloudNativePG backups there, the cluster starts empty", c.name, r.from.value),
                r.from.span,
                "no object store to restore from",
                "give the source the cnpg chart and an object-store repository",
            ));
        }
    }
    if let Some(src) = cnpg_backup::replica_source(cx.topo, c) {
        if src.namespace.value != c.namespace.value {
            let rep = c.replica_of.as_ref().map_or(c.name_span, |r| r.span);
            out.push(warn(
                format!("replica cluster \"{}\" streams with \"{}\"'s certificates, whose Secrets ({1}-replication, {1}-ca) are in namespace \"{}\", not \"{}\"", c.name, src.name, src.namespace.value, c.namespace.value),
                rep,
                "the Secrets must be copied",
                "copy the two Secrets into the replica's namespace (and keep them in step), or put both clusters in one namespace",
            ));
        }
    }
}
