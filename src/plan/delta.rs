//! What an env changes: the clusters whose every input is the base's, which a target may take
//! over from the base's rendering instead of rendering and comparing them again. An env then
//! costs what it changes, not the size of the base (docs/performance.md).

use std::collections::{HashMap, HashSet};

use crate::model::{Cluster, Topology};

/// The names of the clusters of `env` that are exactly the base's: the cluster itself, the
/// cluster it follows (`replica-of`), the clusters that follow it, and the topology-level inputs
/// every cluster's rendering reads (targets and workloads). Conservative: when any of these
/// differs the cluster is rendered again, so the output never depends on this.
pub fn unchanged_clusters<'a>(base: &Topology, env: &'a Topology) -> HashSet<&'a str> {
    let mut same = HashSet::new();
    if env.targets != base.targets || env.workloads != base.workloads {
        return same;
    }
    let base_by_name: HashMap<&str, &Cluster> =
        base.clusters.iter().map(|c| (c.name.as_str(), c)).collect();
    let env_by_name: HashMap<&str, &Cluster> =
        env.clusters.iter().map(|c| (c.name.as_str(), c)).collect();
    let env_followers = env.standby_clusters();
    let base_followers = base.standby_clusters();
    for c in &env.clusters {
        let Some(b) = base_by_name.get(c.name.as_str()) else {
            continue;
        };
        if c != *b {
            continue;
        }
        let source_same = c.replica_of.as_ref().is_none_or(|r| {
            env_by_name.get(r.value.as_str()) == base_by_name.get(r.value.as_str())
        });
        let followers_same =
            env_followers.get(c.name.as_str()) == base_followers.get(c.name.as_str());
        if source_same && followers_same {
            same.insert(c.name.as_str());
        }
    }
    same
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clusters_whose_inputs_are_the_bases_are_unchanged() {
        let src = r#"targets "kubernetes"
cluster "a" {
    postgres version=16
    node "a-0" role="primary"
}
cluster "b" {
    postgres version=16
    node "b-0" role="primary"
}
cluster "c" replica-of="b" {
    postgres version=16
    node "c-0" role="primary"
}
env "e" {
    cluster "b" {
        storage size="20Gi"
    }
}
"#;
        let p = crate::driver::compile(src).program("t").unwrap();
        let same = unchanged_clusters(&p.base, &p.envs[0]);
        // "b" changed; "c" follows it, so it is rendered again too.
        assert_eq!(same, HashSet::from(["a"]));
    }
}
