//! PT184 backup-tool
//!
//! What: each declared target can run the cluster's backup tool: pgBackRest on VM hosts and
//! Compose (and, once their images carry it, pgtopo's Kubernetes manifests); barman-cloud on
//! CloudNativePG (the helm target's `cnpg` chart), which is also what that chart runs when no
//! `tool=` is named. `wal-g` has no packaging yet.
//! Why: a target that silently ran another tool, or none, would archive WAL nowhere, or somewhere
//! the restore does not read.
//! Example: `backup tool="wal-g" { … }` with `targets "hosts"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::plan::backup::{target_runs, tool};
use crate::plan::capabilities;

pub const RULE: Rule = Rule {
    code: codes::PT184,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for t in &cx.topo.targets {
        // A target that cannot back up at all is PT172's.
        if !capabilities::of(t.value).backup {
            continue;
        }
        for c in &cx.topo.clusters {
            let Some(tl) = tool(c, t.value) else { continue };
            // A bitnami chart runs no backup tool at all: PT154 says what is lost.
            if t.value == crate::model::Target::Helm
                && c.helm.chart.value != crate::model::HelmChart::Cnpg
            {
                continue;
            }
            if target_runs(t.value, c, tl) {
                continue;
            }
            let span = c
                .backup
                .as_ref()
                .and_then(|b| b.tool.as_ref().map(|x| x.span).or(Some(b.span)))
                .unwrap_or(c.name_span);
            out.push(
                crate::check::cannot_express(
                    codes::PT184,
                    t,
                    format_args!("backups with {tl} (cluster \"{}\")", c.name),
                    span,
                    format!("{tl} does not run on {}", t.value),
                )
                .with_help("drop `tool=` to let each target run its own (pgBackRest; barman-cloud on CloudNativePG)"),
            );
        }
    }
}
