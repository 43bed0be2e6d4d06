//! Environment patches, merged on the syntax tree before typing.
//!
//! The merge rule (docs/language.md, "Environments"):
//! - children that appear once (`postgres`, `storage`, `resources`, `vip`, …) merge by node name;
//! - children that repeat (`cluster`, `node`, `pooler`, `host`, `listen`, `database`, `endpoint`,
//!   `workload`, `repository`) merge by name *and* first argument;
//! - the properties of a merged node override the base's one by one (so `labels` merge key by
//!   key), a once-only node's arguments are replaced when the patch writes any, and its children
//!   merge by the same rule; anything new is added;
//! - an `hba` block replaces the base's block whole: its rules match in order, so a rule-by-rule
//!   merge could not say where a new rule goes;
//! - `nodes "a" "b"` inside a cluster keeps only the named nodes (applied during lowering).
//!
//! Merging before typing means one lowering function serves the base and every env, and every
//! value keeps the span of the text it came from (base or env block), so diagnostics point at the
//! line that really set it.

use std::borrow::Cow;

use crate::syntax::{Document, Node};

/// Node names that may repeat among their siblings and are told apart by their first argument.
pub const REPEATING: &[&str] = &[
    "cluster",
    "node",
    "pooler",
    "host",
    "listen",
    "database",
    "endpoint",
    "workload",
    "env",
    "repository",
    "role",
    "extension",
];

/// Node names whose patch replaces the base's node whole instead of merging into it.
pub const REPLACED: &[&str] = &["hba"];

pub fn is_repeating(name: &str) -> bool {
    REPEATING.contains(&name)
}

/// The top-level `env` nodes of a document, in order.
pub fn env_nodes(doc: &Document) -> impl Iterator<Item = &Node> {
    doc.nodes.iter().filter(|n| n.name == "env")
}

/// The document without its `env` blocks, with the patch of `env` merged in. The top-level
/// nodes the env does not patch (most clusters, in an env that changes a few) are borrowed from
/// the document, not copied.
pub fn apply<'d>(doc: &'d Document, env: &Node) -> Vec<Cow<'d, Node>> {
    let mut root: Vec<Cow<Node>> = doc
        .nodes
        .iter()
        .filter(|n| n.name != "env")
        .map(Cow::Borrowed)
        .collect();
    merge_children(&mut root, &env.children);
    root
}

/// A node's identity among its siblings: its name, and for repeating nodes its first argument
/// too. Merging never changes it:
/// a once-only node's arguments may be replaced, but they are not part of its key.
fn key_of(n: &Node) -> (String, Option<String>) {
    let arg = if is_repeating(&n.name) {
        n.first_arg_str().map(str::to_owned)
    } else {
        None
    };
    (n.name.clone(), arg)
}

/// A sibling in a list being merged: a node of the tree itself, or at the top of an env's
/// document a node of the base document, copied only when the env patches it.
pub trait Sibling {
    fn node(&self) -> &Node;
    fn node_mut(&mut self) -> &mut Node;
    /// A sibling that the patch adds.
    fn added(patch: &Node) -> Self;
}

impl Sibling for Node {
    fn node(&self) -> &Node {
        self
    }
    fn node_mut(&mut self) -> &mut Node {
        self
    }
    fn added(patch: &Node) -> Self {
        patch.clone()
    }
}

impl Sibling for Cow<'_, Node> {
    fn node(&self) -> &Node {
        self
    }
    fn node_mut(&mut self) -> &mut Node {
        self.to_mut()
    }
    fn added(patch: &Node) -> Self {
        Cow::Owned(patch.clone())
    }
}

pub fn merge_children<S: Sibling>(base: &mut Vec<S>, patch: &[Node]) {
    // Each patched node is looked up in an index of its siblings by key, so that an env patching
    // every one of thousands of clusters resolves in linear time. The index answers what a search
    // of the list would: the first sibling with the same key. It is only looked up, never
    // iterated, so the order of the children is the list's.
    let mut index = std::collections::HashMap::with_capacity(base.len());
    for (i, b) in base.iter().enumerate() {
        index.entry(key_of(b.node())).or_insert(i);
    }
    for p in patch {
        let key = key_of(p);
        match index.get(&key) {
            Some(&i) => merge_node(base[i].node_mut(), p),
            None => {
                index.insert(key, base.len());
                base.push(S::added(p));
            }
        }
    }
}

fn merge_node(base: &mut Node, patch: &Node) {
    if REPLACED.contains(&patch.name.as_str()) {
        *base = patch.clone();
        return;
    }
    if !patch.args.is_empty() && !is_repeating(&patch.name) {
        base.args = patch.args.clone();
    }
    for (k, v) in &patch.props {
        base.props.insert(k.clone(), v.clone());
    }
    merge_children(&mut base.children, &patch.children);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The index and the search merge alike: existing and new clusters, a key that the base holds
    /// twice (the first one is patched), once-only nodes whose arguments change, and new nodes
    /// added to the end in the patch's order.
    #[test]
    fn merging_patches_the_first_sibling_of_a_key_and_appends_the_rest() {
        let mut base_src = String::from("postgres \"x\"\nstorage size=\"1Gi\"\n");
        for i in 0..12 {
            base_src.push_str(&format!(
                "cluster \"c{i}\" {{ node \"n\" role=\"primary\" }}\n"
            ));
        }
        base_src.push_str("cluster \"c3\" { node \"dup\" }\n");
        let mut patch_src = String::from("postgres \"y\"\n");
        for i in (0..20).rev() {
            patch_src.push_str(&format!("cluster \"c{i}\" {{ node \"n{i}\" }}\n"));
        }
        let mut base = crate::syntax::parse(&base_src).unwrap().nodes;
        let patch = crate::syntax::parse(&patch_src).unwrap().nodes;
        merge_children(&mut base, &patch);
        assert_eq!(base.len(), 15 + 8, "eight new clusters");
        // A once-only node's arguments are replaced.
        assert_eq!(base[0].first_arg_str(), Some("y"));
        // The first of the two "c3" clusters is patched, the second left alone.
        let c3: Vec<&Node> = base
            .iter()
            .filter(|n| n.first_arg_str() == Some("c3"))
            .collect();
        assert_eq!(c3[0].children.len(), 2);
        assert_eq!(c3[1].children.len(), 1);
        // New clusters come last, in the patch's order.
        let new: Vec<&str> = base[15..]
            .iter()
            .filter_map(|n| n.first_arg_str())
            .collect();
        assert_eq!(
            new,
            ["c19", "c18", "c17", "c16", "c15", "c14", "c13", "c12"]
        );
    }
}
