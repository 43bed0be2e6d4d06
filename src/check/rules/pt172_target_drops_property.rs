//! PT172 target-drops-property (warning)
//!
//! What: every declared target carries every optional part of a cluster into its output; where
//! a target cannot yet (its capabilities, `plan::capabilities`), building for it says what is
//! lost: `backup` and `restore` on a target without them, the former `backup archive="DIR"`
//! folder on kubernetes and helm (pods have no host folder), `monitoring` on VM hosts (no
//! exporter unit), a `workload` on Helm and VM hosts (no Job or runner for its scripts). What a
//! Helm chart lacks is PT154's.
//! Why: a declared property that reaches some targets and silently not others deploys something
//! other than what was reviewed; exit 0 with output that lacks it is the worst kind of bug.
//! Example: `targets "kubernetes"` with `backup archive="/archive"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::Target;
use crate::plan::capabilities;

pub const RULE: Rule = Rule {
    code: codes::PT172,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for t in &cx.topo.targets {
        let can = capabilities::of(t.value);
        if !can.workloads {
            for w in &cx.topo.workloads {
                out.push(
                    Diagnostic::warning(
                        codes::PT172,
                        format!(
                            "the {} target cannot express `workload` \"{}\" yet: no load or verify scripts are written for it",
                            t.value, w.name
                        ),
                    )
                    .with_span(w.span, format!("not expressed on {}", t.value))
                    .with_related(t.span, "target declared here")
                    .with_help(
                        "run it from a kubernetes or compose build (`build --with-workloads`), or run its scripts by hand (docs/workloads.md)",
                    ),
                );
            }
        }
        for c in &cx.topo.clusters {
            // The former `backup archive="DIR"` is a folder on a host; pods have none to copy
            // WAL into.
            let folder_only = c
                .backup
                .as_ref()
                .is_some_and(|b| b.repository().is_none() && b.archive.is_some());
            let pods = matches!(t.value, Target::Kubernetes | Target::Helm);
            // pgtopo's pods back up with pgBackRest into an object store, beside an image whose
            // user the sidecar can log in as; a restore needs a source backed up there and a
            // primary whose data directory the image does not create itself.
            let k8s = t.value == Target::Kubernetes;
            let pod_backup_lost = k8s
                && crate::plan::backup::tool(c, t.value)
                    == Some(crate::model::BackupTool::Pgbackrest)
                && !crate::plan::backup::pod_backs_up(c);
            let pod_restore_lost = k8s
                && cx
                    .topo
                    .cluster(c.restore.as_ref().map_or("", |r| r.from.value.as_str()))
                    .is_some()
                && crate::plan::backup::pod_restore_source(cx.topo, c).is_none();
            let backup_effect = if c.failover.manager.value == crate::model::FailoverManager::Repmgr
            {
                "the bitnami repmgr image's user has no name the pgBackRest sidecar could log in as, WAL is not archived"
            } else {
                "pods have no folder to keep a posix repository in (use an object store), WAL is not archived"
            };
            let lost = [
                (
                    pod_backup_lost,
                    c.backup.as_ref().map(|b| b.span),
                    "backup",
                    backup_effect,
                ),
                (
                    pod_restore_lost,
                    c.restore.as_ref().map(|r| r.span),
                    "restore",
                    "only a failover \"none\" cluster restores there, from a source backed up there; the cluster starts empty",
                ),
                (
                    !can.backup,
                    c.backup.as_ref().map(|b| b.span),
                    "backup",
                    "WAL is not archived",
                ),
                (
                    can.backup && pods && folder_only,
                    c.backup.as_ref().map(|b| b.span),
                    "backup archive=",
                    "pods have no such folder, WAL is not archived",
                ),
                (
                    !can.restore,
                    c.restore.as_ref().map(|r| r.span),
                    "restore",
                    "the cluster starts empty instead of from the backups",
                ),
                (
                    !can.monitoring,
                    c.monitoring.as_ref().map(|m| m.span),
                    "monitoring",
                    "no exporter is deployed",
                ),
            ];
            for (missing, span, what, effect) in lost {
                let (true, Some(span)) = (missing, span) else {
                    continue;
                };
                out.push(
                    Diagnostic::warning(
                        codes::PT172,
                        format!(
                            "the {} target cannot express `{what}` of cluster \"{}\" yet: {effect}",
                            t.value, c.name
                        ),
                    )
                    .with_span(span, format!("not expressed on {}", t.value))
                    .with_related(t.span, "target declared here")
                    .with_help(format!(
                        "set it up outside pgtopo for {}, or build a target that expresses it (docs/language.md, \"used by\")",
                        t.value
                    )),
                );
            }
        }
    }
}
