//! PT176 pg-auto-failover-sync (error / warning)
//!
//! What: under `failover "pg_auto_failover"`, a `synchronous count=N` of 2 or more has at least
//! N + 1 `sync` nodes (error), and `synchronous method="first"` is not written where it would
//! differ from ANY, with two or more `sync` nodes (warning).
//! Why: pg_auto_failover owns `synchronous_standby_names` and builds it from the formation's
//! `number_sync_standbys` over the nodes with `replication-quorum true` (the `sync` nodes). Its
//! monitor accepts `number_sync_standbys = N` for N ≥ 1 only when N + 1 quorum standbys are
//! registered, so that one of them may fail without blocking writes (docs:
//! architecture-multi-standby, "Number Sync Standbys"; src/monitor/formation_metadata.c,
//! `FormationNumSyncStandbyIsValid`); `pg_autoctl set formation number-sync-standbys N` fails
//! otherwise and the formation keeps waiting for one standby, fewer than declared. A count of 1
//! needs only one sync node: it is the default `number_sync_standbys` 0, written as `ANY 1`. The
//! monitor always writes the quorum form `ANY N (…)`, never `FIRST`, so a declared priority order
//! over several sync nodes would be lost (PT103 covers counts above the number of sync nodes).
//! Example: `failover "pg_auto_failover"`, `synchronous method="any" count=2`, two `sync` nodes.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{FailoverManager, SyncMethod};

pub const RULE: Rule = Rule {
    code: codes::PT176,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        if c.failover.manager.value != FailoverManager::PgAutoFailover {
            continue;
        }
        let Some(s) = &c.replication.synchronous else {
            continue;
        };
        let sync = c.sync_nodes().count() as u32;
        let count = s.count.value;
        // pg_auto_failover wants sync >= count + 1; a count above the sync nodes is PT103's
        // finding, so what remains is a count equal to them. 0 and 1 are accepted with any
        // number of quorum standbys.
        if count >= 2 && sync == count {
            out.push(
                Diagnostic::error(
                    codes::PT176,
                    format!(
                        "pg_auto_failover accepts number_sync_standbys={count} only with {} quorum standbys, and cluster \"{}\" has {sync} sync node(s)",
                        count + 1,
                        c.name
                    ),
                )
                .with_span(s.count.span, format!("needs {} sync nodes under pg_auto_failover", count + 1))
                .with_related(c.failover.manager.span, "pg_auto_failover chosen here")
                .with_help(format!(
                    "add a role=\"sync\" node (pg_auto_failover keeps one spare so a standby may fail without blocking writes), or lower count to {}",
                    count - 1
                )),
            );
        }
        if s.declared && s.method.value == SyncMethod::First && sync >= 2 {
            out.push(
                Diagnostic::warning(
                    codes::PT176,
                    format!(
                        "pg_auto_failover writes synchronous_standby_names as ANY {count} (…) over the sync nodes of cluster \"{}\": method=\"first\" (a priority order) is not kept",
                        c.name
                    ),
                )
                .with_span(s.method.span, "pg_auto_failover has no FIRST")
                .with_related(c.failover.manager.span, "pg_auto_failover chosen here")
                .with_help("write method=\"any\", which is what runs; candidate `priority` decides only which standby is promoted"),
            );
        }
    }
}
