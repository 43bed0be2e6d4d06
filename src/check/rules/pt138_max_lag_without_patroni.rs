//! PT138 max-lag-without-patroni
//!
//! What: a `listen` with `max-lag` in a cluster whose failover manager is not Patroni.
//! Why: haproxy drops lagging standbys by asking `/replica?lag=<bytes>`, which Patroni's REST API
//! answers from the primary's WAL position it keeps in the DCS. Without Patroni the checks go to
//! pgtopo's health endpoint (docs/targets/vm.md), which sees only its own node: it accepts every
//! streaming standby and ignores `?lag=`, so the bound would silently do nothing.
//! Example: `failover "repmgr"` with `listen "ro" port=5001 target="replicas" max-lag="16MB"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::FailoverManager;

pub const RULE: Rule = Rule {
    code: codes::PT138,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        if c.failover.manager.value == FailoverManager::Patroni {
            continue;
        }
        for l in c.balancers.iter().flat_map(|b| &b.listens) {
            let Some(lag) = &l.max_lag else { continue };
            out.push(
                Diagnostic::warning(
                    codes::PT138,
                    format!(
                        "listen \"{}\" of cluster \"{}\" asks for max-lag, which only Patroni can apply: every streaming standby will take its traffic",
                        l.name, c.name
                    ),
                )
                .with_span(lag.span, "not applied without Patroni")
                .with_help("remove `max-lag`, or run the cluster with `failover \"patroni\"`"),
            );
        }
    }
}
