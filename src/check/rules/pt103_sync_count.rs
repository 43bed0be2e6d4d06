//! PT103 sync-count
//!
//! What: `synchronous count=N` is at least 1 and at most the number of `sync` nodes, and a
//! declared `synchronous` line has at least one `sync` node to wait for.
//! Why: PostgreSQL waits for N acknowledgements from the listed standbys; asking for more than exist
//! blocks every commit forever, and an empty list silently turns synchronous replication off.
//! Example: `synchronous method="any" count=2` with a single `role="sync"` node.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT103,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(s) = &c.replication.synchronous else {
            continue;
        };
        let n = c.sync_nodes().count() as u32;
        if n == 0 {
            // The env that removed every sync node is PT105's finding.
            if s.declared && c.kept_nodes.is_none() {
                out.push(
                    Diagnostic::error(codes::PT103, format!("cluster \"{}\" asks for synchronous replication but has no sync node", c.name))
                        .with_span(s.span, "nothing to wait for")
                        .with_help("mark the standbys a commit must wait for with role=\"sync\", or remove `synchronous`"),
                );
            }
        } else if s.count.value == 0 {
            out.push(
                Diagnostic::error(codes::PT103, "synchronous count=0 waits for no standby")
                    .with_span(s.count.span, "must be at least 1")
                    .with_help("use count=1 or more, or make the sync nodes role=\"async\""),
            );
        } else if s.count.value > n {
            out.push(
                Diagnostic::error(
                    codes::PT103,
                    format!("synchronous count={} but cluster \"{}\" has only {n} sync node(s)", s.count.value, c.name),
                )
                .with_span(s.count.span, format!("more than the {n} sync node(s)"))
                .with_help(format!("every commit would wait forever; lower count to at most {n} or add role=\"sync\" nodes")),
            );
        }
    }
}
