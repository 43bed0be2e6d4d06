//! PT106 pdb-blocks-drain
//!
//! What: `pdb min-available` is lower than the number of nodes.
//! Why: with min-available ≥ nodes, no pod may ever be evicted, so `kubectl drain` and every node
//! upgrade hang until someone deletes the budget by hand.
//! Example: `pdb min-available=2` in an env that keeps two nodes.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT106,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(p) = &c.pdb else { continue };
        let n = c.nodes.len() as u32;
        if n > 0 && p.min_available.value >= n {
            out.push(
                Diagnostic::error(codes::PT106, format!("pdb min-available={} with {n} node(s) blocks every drain", p.min_available.value))
                    .with_span(p.min_available.span, format!("not below {n}"))
                    .with_help(if n > 1 {
                        format!("use min-available={} or lower so one pod can be evicted at a time", n - 1)
                    } else {
                        "a one-node cluster cannot keep a pod up during a drain; remove `pdb` in this env".to_owned()
                    }),
            );
        }
    }
}
