//! PT135 patroni-quorum
//!
//! What: a Patroni cluster on VM hosts asks for quorum commit — `synchronous method="any"` with
//! fewer required standbys (`count`) than `sync` nodes.
//! Why: the Patroni that VM hosts run (3.0, Debian 12) has no quorum mode (`synchronous_mode:
//! quorum` arrived in Patroni 4). It keeps `count` named standbys synchronous in priority order,
//! which is `FIRST count (…)`: a commit waits for those standbys even when another `sync` node
//! already has the WAL, and `pg_stat_replication` shows `sync`, not `quorum`. With `count` equal to
//! the number of `sync` nodes the two mean the same, so that case is not reported.
//! Example: `synchronous method="any" count=1` with `node "db2" role="sync"` and
//! `node "db3" role="sync"`, `failover "patroni"`, nodes with `host=`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{FailoverManager, SyncMethod};

pub const RULE: Rule = Rule {
    code: codes::PT135,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        if c.failover.manager.value != FailoverManager::Patroni
            || !c.nodes.iter().any(|n| n.host.is_some())
        {
            continue;
        }
        let Some(s) = &c.replication.synchronous else {
            continue;
        };
        let candidates = c.sync_nodes().count();
        if s.method.value == SyncMethod::Any && (s.count.value as usize) < candidates {
            out.push(
                Diagnostic::warning(
                    codes::PT135,
                    format!(
                        "Patroni 3.0 has no quorum commit: cluster \"{}\" waits for the first {} of its {candidates} sync nodes, in priority order, not for any {}",
                        c.name, s.count.value, s.count.value
                    ),
                )
                .with_span(s.method.span, "quorum (ANY) asked here")
                .with_help("write `method=\"first\"` to say what Patroni does, make `count` the number of sync nodes, or run Patroni 4 (not packaged in Debian 12)"),
            );
        }
    }
}
