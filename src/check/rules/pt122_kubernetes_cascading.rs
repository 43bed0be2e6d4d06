//! PT122 kubernetes-cascading
//!
//! What: on the `kubernetes` target, `upstream=` (cascading replication) is only used with
//! `failover "none"` or `"patroni"` (its `replicatefrom` tag).
//! Why: pg_auto_failover has no cascading standbys and the repmgr image is configured to follow
//! the primary; the node would silently stream from the primary instead of its upstream.
//! Example: `failover "repmgr"` with `node "c" role="async" upstream="b"` and
//! `targets "kubernetes"`.

use crate::check::{cannot_express, Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::Target;
use crate::plan::capabilities;

pub const RULE: Rule = Rule {
    code: codes::PT122,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some(t) = cx.topo.target(Target::Kubernetes) else {
        return;
    };
    for c in &cx.topo.clusters {
        let m = c.failover.manager.value;
        if capabilities::of(t.value).cascades_under(m) {
            continue;
        }
        for n in &c.nodes {
            if let Some(u) = &n.upstream {
                out.push(
                    cannot_express(
                        codes::PT122,
                        t,
                        format_args!(
                            "upstream=\"{}\" of node \"{}\" with failover \"{m}\"",
                            u.value, n.name
                        ),
                        u.span,
                        "cascading replication",
                    )
                    .with_help("drop `upstream` (the node streams from the primary), or use failover \"none\" or \"patroni\""),
                );
            }
        }
    }
}
