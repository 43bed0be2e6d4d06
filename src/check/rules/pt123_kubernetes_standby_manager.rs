//! PT123 kubernetes-standby-manager
//!
//! What: on the `kubernetes` target, a standby cluster (`replica-of`) uses `failover "none"` or
//! `"patroni"`.
//! Why: those are the managers whose start-up the target can point at the source cluster (a
//! `pg_basebackup` from its primary Service, or Patroni's `standby_cluster`). pg_auto_failover and
//! the repmgr image would initialise a new, independent primary instead of following the source.
//! Example: `cluster "dr" replica-of="main" { failover "repmgr" … }` with `targets "kubernetes"`.

use crate::check::{cannot_express, Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::Target;
use crate::plan::capabilities;

pub const RULE: Rule = Rule {
    code: codes::PT123,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some(t) = cx.topo.target(Target::Kubernetes) else {
        return;
    };
    for c in &cx.topo.clusters {
        let Some(src) = &c.replica_of else { continue };
        let m = c.failover.manager.value;
        if !capabilities::of(t.value).follows_under(m) {
            out.push(
                cannot_express(
                    codes::PT123,
                    t,
                    format_args!(
                        "standby cluster \"{}\" (replica-of \"{}\") with failover \"{m}\"",
                        c.name, src.value
                    ),
                    c.failover.manager.span,
                    "would start an independent primary",
                )
                .with_help("use failover \"none\" (one streaming leader) or \"patroni\" (standby_cluster) for a standby cluster"),
            );
        }
    }
}
