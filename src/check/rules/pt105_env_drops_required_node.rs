//! PT105 env-drops-required-node
//!
//! What: an env's `nodes "a" "b"` keeps the primary, and keeps at least one `sync` node while the
//! cluster asks for synchronous replication.
//! Why: dropping the primary leaves nothing to write to; dropping every sync node while
//! `synchronous` is declared either blocks every commit or silently turns the guarantee off.
//! Example: `env "dev" { cluster "db" { nodes "db2" "db3" } }` where db1 is the primary.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT105,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(k) = &c.kept_nodes else { continue };
        if c.primary().is_none() {
            out.push(
                Diagnostic::error(
                    codes::PT105,
                    format!("`nodes` drops the primary of cluster \"{}\"", c.name),
                )
                .with_span(k.span, "no primary among these")
                .with_help("keep the primary node in the list"),
            );
        }
        if let Some(s) = &c.replication.synchronous {
            if s.declared && c.sync_nodes().next().is_none() {
                out.push(
                    Diagnostic::error(codes::PT105, format!("`nodes` drops every sync node of cluster \"{}\" while synchronous replication is required", c.name))
                        .with_span(k.span, "no sync node among these")
                        .with_related(s.span, "synchronous replication declared here")
                        .with_help("keep at least `count` sync nodes, or override `replication` in this env"),
                );
            }
        }
    }
}
