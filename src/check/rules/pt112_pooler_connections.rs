//! PT112 pooler-connections
//!
//! What: the server connections the poolers may open to one PostgreSQL node stay within
//! `max_connections` minus the reserved ones (`superuser_reserved_connections`, default 3, plus
//! `reserved_connections` on 16+). Per pooler instance PgBouncer opens `pool size + reserve` (one
//! database/user pair) and Pgpool-II one per child process (`pool max-client-conn`, i.e.
//! num_init_children); a pooler counts `replicas` times, and a `replicas`/`any` pooler is counted
//! in full against every node it may reach, because a Service may send all of it to one.
//! Why: past the limit PostgreSQL refuses connections with "too many clients" under exactly the load
//! the pooler was meant to absorb.
//! Example: `pool size=50 reserve=10` with `replicas=2` against `max_connections 100`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{PoolerKind, PoolerTarget, Role};

pub const RULE: Rule = Rule {
    code: codes::PT112,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        if c.poolers.is_empty() {
            continue;
        }
        let max = c
            .param("max_connections")
            .and_then(|p| p.as_int())
            .unwrap_or(100);
        let reserved = c
            .param("superuser_reserved_connections")
            .and_then(|p| p.as_int())
            .unwrap_or(3)
            + c.param("reserved_connections")
                .and_then(|p| p.as_int())
                .unwrap_or(0);
        let budget = max - reserved;
        for n in &c.nodes {
            let mut total = 0i64;
            let mut users = Vec::new();
            for p in &c.poolers {
                let reaches = match p.target.value {
                    PoolerTarget::Primary => n.role.value == Role::Primary,
                    PoolerTarget::Replicas => n.role.value != Role::Primary,
                    PoolerTarget::Any | PoolerTarget::Local => true,
                };
                if !reaches {
                    continue;
                }
                let per_instance = match p.kind.value {
                    PoolerKind::Pgbouncer => {
                        i64::from(p.pool.size.value) + i64::from(p.pool.reserve.value)
                    }
                    PoolerKind::Pgpool => i64::from(p.pool.max_client_conn.value),
                };
                let instances = if p.target.value == PoolerTarget::Local {
                    1
                } else {
                    i64::from(p.replicas.value)
                };
                total += per_instance * instances;
                users.push(p);
            }
            if total > budget {
                let first = users[0];
                let mut d = Diagnostic::error(
                    codes::PT112,
                    format!(
                        "poolers may open {total} connections to node \"{}\", but max_connections {max} leaves {budget} after {reserved} reserved",
                        n.name
                    ),
                )
                .with_span(first.pool.span, "pool sized here");
                for p in &users[1..] {
                    d = d.with_related(p.pool.span, format!("pooler \"{}\" also connects", p.name));
                }
                out.push(d.with_help(format!(
                    "lower pool size/reserve or replicas, or raise max_connections to at least {}",
                    total + reserved
                )));
            }
        }
    }
}
