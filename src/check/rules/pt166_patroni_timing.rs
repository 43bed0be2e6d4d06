//! PT166 patroni-timing (error)
//!
//! What: a Patroni cluster whose `loop-wait + 2 × retry-timeout` exceeds its `ttl`.
//! Why: the leader renews its key every `loop-wait` seconds and may spend `retry-timeout` on a
//! slow DCS and again on PostgreSQL in one loop; a key that lives less than that expires under a
//! healthy leader, and Patroni refuses such a configuration (its validator and its start both
//! require `loop_wait + 2 * retry_timeout <= ttl`).
//! Example: `failover "patroni" ttl=10 loop-wait=5 retry-timeout=5` (5 + 2 × 5 = 15 > 10).

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::FailoverManager;

pub const RULE: Rule = Rule {
    code: codes::PT166,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let f = &c.failover;
        if f.manager.value != FailoverManager::Patroni {
            continue;
        }
        let (ttl, lw, rt) = (f.ttl.value, f.loop_wait.value, f.retry_timeout.value);
        let need = u64::from(lw) + 2 * u64::from(rt);
        if need <= u64::from(ttl) {
            continue;
        }
        out.push(
            Diagnostic::error(
                codes::PT166,
                format!(
                    "cluster \"{}\": loop-wait + 2 × retry-timeout = {lw} + 2 × {rt} = {need} s exceeds ttl={ttl}: Patroni refuses to start",
                    c.name
                ),
            )
            .with_span(f.ttl.span, format!("ttl={ttl}"))
            .with_related(f.loop_wait.span, format!("loop-wait={lw}"))
            .with_related(f.retry_timeout.span, format!("retry-timeout={rt}"))
            .with_help(format!(
                "raise ttl to at least {need}, or lower loop-wait or retry-timeout"
            )),
        );
    }
}
