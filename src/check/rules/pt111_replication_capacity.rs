//! PT111 replication-capacity
//!
//! What: `max_wal_senders` and (with `slots #true`) `max_replication_slots` are at least the number
//! of standbys that stream from the cluster (its standby nodes plus every standby cluster whose
//! `replica-of` names it). PostgreSQL's defaults (10 and 10) count when the parameter is not set.
//! Why: a standby beyond the limit is refused ("number of requested standby connections exceeds
//! max_wal_senders") and silently stays behind; a missing slot lets the primary recycle WAL it needs.
//! Example: `max_wal_senders 2` with three standbys.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT111,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    // The clusters that replicate from each cluster, found in one pass: asking every cluster
    // about every other one made this rule quadratic in the number of clusters.
    let standbys = t.standby_clusters();
    for c in &t.clusters {
        let followers = standbys.get(c.name.as_str()).map_or(0, Vec::len) as i64;
        let needed = c.standbys().count() as i64 + followers;
        if needed == 0 {
            continue;
        }
        let mut limits = vec![("max_wal_senders", 10, "walsender")];
        if c.replication.slots {
            limits.push(("max_replication_slots", 10, "replication slot"));
        }
        for (param, default, what) in limits {
            let value = c.param(param).and_then(|p| p.as_int()).unwrap_or(default);
            if value < needed {
                let mut d = Diagnostic::error(
                    codes::PT111,
                    format!("{param} = {value} but cluster \"{}\" needs one {what} per standby: {needed}", c.name),
                );
                d = match c.param(param) {
                    Some(p) => d.with_span(p.span, format!("fewer than {needed}")),
                    None => d.with_span(c.name_span, format!("default {param} is {default}")),
                };
                out.push(d.with_help(format!(
                    "set {param} to at least {needed} (one more leaves room for pg_basebackup and pg_rewind)"
                )));
            }
        }
    }
}
