//! PT172 target-drops-property (warning)
//!
//! What: every declared target carries every optional part of a cluster into its output; where
//! a target cannot yet (its capabilities, `plan::capabilities`), building for it says what is
//! lost: `backup` and `restore` on a target without them, the former `backup archive="DIR"`
//! folder on kubernetes and helm (pods have no host folder), `monitoring` on VM hosts (no
//! exporter unit). What a Helm chart lacks is PT154's.
//! Why: a declared property that reaches some targets and silently not others deploys something
//! other than what was reviewed; exit 0 with output that lacks it is the worst kind of bug.
//! Example: `targets "kubernetes"` with `backup archive="/archive"`.

use crate::check::{Context, Rule};
use crate::diag::Diagnostic;
use crate::model::Target;
use crate::plan::capabilities;

pub const RULE: Rule = Rule {
    code: "PT172",
    name: "target-drops-property",
    summary: "a declared property that a target cannot express yet is reported, not dropped",
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for t in &cx.topo.targets {
        let can = capabilities::of(t.value);
        for c in &cx.topo.clusters {
            // The former `backup archive="DIR"` is a folder on a host; pods have none to copy
            // WAL into.
            let folder_only = c
                .backup
                .as_ref()
                .is_some_and(|b| b.repository().is_none() && b.archive.is_some());
            let pods = matches!(t.value, Target::Kubernetes | Target::Helm);
            let lost = [
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
                        "PT172",
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
