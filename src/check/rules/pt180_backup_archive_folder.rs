//! PT180 backup-archive-folder (warning)
//!
//! What: `backup archive="DIR"`, the first form of `backup`, copies each WAL segment into a
//! folder with `cp`: no base backup, no retention, no restore. The language now says where
//! backups go with `backup { repository "posix" path="DIR" }`, which runs a real backup tool
//! (pgBackRest) with base backups, schedules, retention and point-in-time restores.
//! Why: a WAL folder without base backups cannot restore anything on its own, and nothing ever
//! removes its files; a reviewer reading `backup` expects backups.
//! Example: `backup archive="./backups"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT180,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(a) = c.backup.as_ref().and_then(|b| b.archive.as_ref()) else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                codes::PT180,
                format!(
                    "cluster \"{}\" archives WAL into \"{}\" with cp: no base backups, no retention, no restore",
                    c.name, a.value
                ),
            )
            .with_span(a.span, "the former `backup archive=` form")
            .with_help(format!(
                "write `backup {{ repository \"posix\" path=\"{}\"; schedule full=\"0 3 * * *\"; retention full=2 }}` to run pgBackRest",
                a.value
            )),
        );
    }
}
