//! Environment patches, merged on the syntax tree before typing.
//!
//! The merge rule (docs/language.md, "Environments"):
//! - children that appear once (`postgres`, `storage`, `resources`, `vip`, …) merge by node name;
//! - children that repeat (`cluster`, `node`, `pooler`, `host`, `listen`, `database`, `endpoint`,
//!   `workload`) merge by name *and* first argument;
//! - the properties of a merged node override the base's one by one (so `labels` merge key by
//!   key), a once-only node's arguments are replaced when the patch writes any, and its children
//!   merge by the same rule; anything new is added;
//! - `nodes "a" "b"` inside a cluster keeps only the named nodes (applied during lowering).
//!
//! Merging before typing means one lowering function serves the base and every env, and every
//! value keeps the span of the text it came from (base or env block), so diagnostics point at the
//! line that really set it.

use crate::syntax::{Document, Node};

/// Node names that may repeat among their siblings and are told apart by their first argument.
pub const REPEATING: &[&str] = &[
    "cluster", "node", "pooler", "host", "listen", "database", "endpoint", "workload", "env",
];

pub fn is_repeating(name: &str) -> bool {
    REPEATING.contains(&name)
}

/// The top-level `env` nodes of a document, in order.
pub fn env_nodes(doc: &Document) -> impl Iterator<Item = &Node> {
    doc.nodes.iter().filter(|n| n.name == "env")
}

/// The document without its `env` blocks, with the patch of `env` (if any) merged in.
pub fn apply(doc: &Document, env: Option<&Node>) -> Vec<Node> {
    let mut root: Vec<Node> = doc
        .nodes
        .iter()
        .filter(|n| n.name != "env")
        .cloned()
        .collect();
    if let Some(env) = env {
        merge_children(&mut root, &env.children);
    }
    root
}

fn same_key(a: &Node, b: &Node) -> bool {
    a.name == b.name && (!is_repeating(&a.name) || a.first_arg_str() == b.first_arg_str())
}

pub fn merge_children(base: &mut Vec<Node>, patch: &[Node]) {
    for p in patch {
        match base.iter_mut().find(|b| same_key(b, p)) {
            Some(b) => merge_node(b, p),
            None => base.push(p.clone()),
        }
    }
}

fn merge_node(base: &mut Node, patch: &Node) {
    if !patch.args.is_empty() && !is_repeating(&patch.name) {
        base.args = patch.args.clone();
    }
    for (k, v) in &patch.props {
        base.props.insert(k.clone(), v.clone());
    }
    merge_children(&mut base.children, &patch.children);
}
