//! PT101 one-primary
//!
//! What: every cluster has exactly one node with `role="primary"`, in the base and in every env.
//! Why: the primary is the only node that accepts writes; with none nothing can bootstrap, with two
//! every target would start two timelines (split brain).
//! Example: `node "a" role="primary"` and `node "b" role="primary"` in one cluster.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::Role;

pub const RULE: Rule = Rule {
    code: codes::PT101,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let primaries: Vec<_> = c
            .nodes
            .iter()
            .filter(|n| n.role.value == Role::Primary)
            .collect();
        match primaries.as_slice() {
            [_] => {}
            [] => {
                // An env that dropped the primary with `nodes` is PT105's finding, with a better span.
                if c.kept_nodes.is_some() {
                    continue;
                }
                out.push(
                    Diagnostic::error(codes::PT101, format!("cluster \"{}\" has no primary node", c.name))
                        .with_span(c.name_span, "no node with role=\"primary\"")
                        .with_help("mark exactly one node role=\"primary\"; the others are \"sync\" or \"async\" standbys"),
                );
            }
            [first, rest @ ..] => {
                for n in rest {
                    out.push(
                        Diagnostic::error(codes::PT101, format!("cluster \"{}\" has more than one primary", c.name))
                            .with_span(n.role.span, "second primary")
                            .with_related(first.role.span, "first primary")
                            .with_help("a cluster has one primary; make the others role=\"sync\" or role=\"async\""),
                    );
                }
            }
        }
    }
}
