//! PT181 backup-schedule
//!
//! What: a `backup` has a repository (or the former `archive=` folder), and each `schedule`
//! time is a valid five-field cron expression (`M H DoM Mon DoW`, numbers, `*`, `a-b`, `/n`,
//! lists, or `@daily`-style macros); `retention full=` keeps at least one full backup.
//! Why: Kubernetes rejects a CronJob with a bad schedule only when it is applied, and systemd
//! ignores a timer it cannot parse; with `retention full=0` pgBackRest would expire every
//! backup. A backup that never runs, or keeps nothing, is found out on the day of the restore.
//! Example: `schedule full="0 25 * * *"`, `retention full=0`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::plan::backup::Cron;

pub const RULE: Rule = Rule {
    code: codes::PT181,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(b) = &c.backup else { continue };
        if b.repositories.is_empty() && b.archive.is_none() {
            out.push(
                Diagnostic::error(
                    codes::PT181,
                    format!("the backup of cluster \"{}\" has no repository", c.name),
                )
                .with_span(b.span, "where do the backups go?")
                .with_help("add `repository \"posix\" path=\"/var/lib/pgbackrest\"` or `repository \"s3\" bucket=… region=… credentials-secret=…`"),
            );
        }
        let times = b.schedule.iter().flat_map(|s| {
            [("full", &s.full), ("incremental", &s.incremental)]
                .into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
        });
        for (kind, t) in times {
            if let Err(e) = Cron::parse(&t.value) {
                out.push(
                    Diagnostic::error(
                        codes::PT181,
                        format!("the {kind} backup schedule \"{}\" is not a cron expression: {e}", t.value),
                    )
                    .with_span(t.span, "not cron")
                    .with_help("write `minute hour day-of-month month day-of-week`, e.g. \"30 2 * * 0\" (Sundays at 02:30)"),
                );
            }
        }
        if let Some(s) = &b.schedule {
            if s.full.is_none() {
                out.push(
                    Diagnostic::error(
                        codes::PT181,
                        format!("the backup schedule of cluster \"{}\" has no full backup", c.name),
                    )
                    .with_span(s.span, "incremental backups need a full one to start from")
                    .with_help("add full=\"CRON\", e.g. `schedule full=\"0 1 * * 0\" incremental=\"0 1 * * 1-6\"`"),
                );
            }
        }
        if let Some(n) = b.retention.as_ref().and_then(|r| r.full.as_ref()) {
            if n.value == 0 {
                out.push(
                    Diagnostic::error(codes::PT181, "`retention full=0` keeps no backup")
                        .with_span(n.span, "pgBackRest would expire every full backup")
                        .with_help("keep at least one full backup: `retention full=2`"),
                );
            }
        }
    }
}
