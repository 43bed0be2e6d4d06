//! PT183 restore-source
//!
//! What: `restore from="CLUSTER"` names a cluster of the topology that has a backup repository,
//! `time=` is an RFC 3339 timestamp with a time zone, and the restored cluster is not also a
//! standby cluster (`replica-of`). A time in the future is accepted: the restore then replays
//! every archived WAL segment.
//! Why: a restore from a cluster without backups has nothing to read, and a target time the
//! tools cannot parse stops the restore after the base backup has been copied.
//! Example: `restore from="main" time="yesterday"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::plan::backup::parse_rfc3339;

pub const RULE: Rule = Rule {
    code: codes::PT183,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(r) = &c.restore else { continue };
        match cx.topo.cluster(&r.from.value) {
            None => out.push(
                Diagnostic::error(
                    codes::PT183,
                    format!("cluster \"{}\" restores from \"{}\", which is not a cluster of this topology", c.name, r.from.value),
                )
                .with_span(r.from.span, "no such cluster")
                .with_help("name a cluster declared in this file (in this env)"),
            ),
            Some(src) if src.backup.as_ref().and_then(|b| b.repository()).is_none() => out.push(
                Diagnostic::error(
                    codes::PT183,
                    format!("cluster \"{}\" restores from \"{}\", which has no backup repository", c.name, src.name),
                )
                .with_span(r.from.span, "nothing to restore from")
                .with_related(src.name_span, "declared here")
                .with_help(format!("give cluster \"{}\" a `backup {{ repository … }}`", src.name)),
            ),
            Some(src) if src.name == c.name => out.push(
                Diagnostic::error(codes::PT183, format!("cluster \"{}\" restores from itself", c.name))
                    .with_span(r.from.span, "a new cluster restores another's backups")
                    .with_help("name the cluster whose backups to restore"),
            ),
            Some(_) => {}
        }
        if let Some(t) = &r.time {
            if let Err(e) = parse_rfc3339(&t.value) {
                out.push(
                    Diagnostic::error(
                        codes::PT183,
                        format!(
                            "the restore time of cluster \"{}\" does not parse: {e}",
                            c.name
                        ),
                    )
                    .with_span(t.span, "not RFC 3339")
                    .with_help("write a UTC time such as time=\"2026-12-01T10:00:00Z\""),
                );
            }
        }
        if let Some(rep) = &c.replica_of {
            out.push(
                Diagnostic::error(
                    codes::PT183,
                    format!(
                        "cluster \"{}\" is both restored and a standby cluster",
                        c.name
                    ),
                )
                .with_span(r.span, "a restore starts a new timeline")
                .with_related(rep.span, "a standby cluster follows its source instead")
                .with_help("keep one: `restore` for a copy, `replica-of` for a follower"),
            );
        }
    }
}
