//! What an env changes: the clusters whose every input is the base's, which a target may take
//! over from the base's rendering instead of rendering and comparing them again. An env then
//! costs what it changes, not the size of the base (docs/performance.md).

use std::collections::{HashMap, HashSet};

use crate::model::{Cluster, Topology};

/// The names of the clusters of `env` that are exactly the base's: the cluster itself, the
/// clusters it reads (the one it follows, `replica-of`, and the one whose backups it restores,
/// `restore from=`), the clusters that read it the same ways, and the topology-level inputs every
/// cluster's rendering reads (targets and workloads). Conservative: when any of these differs
/// the cluster is rendered again, so the output never depends on this.
pub fn unchanged_clusters<'a>(base: &Topology, env: &'a Topology) -> HashSet<&'a str> {
    let mut same = HashSet::new();
    if env.targets != base.targets || env.workloads != base.workloads {
        return same;
    }
    let base_by_name: HashMap<&str, &Cluster> =
        base.clusters.iter().map(|c| (c.name.as_str(), c)).collect();
    let env_by_name: HashMap<&str, &Cluster> =
        env.clusters.iter().map(|c| (c.name.as_str(), c)).collect();
    let env_readers = readers(env);
    let base_readers = readers(base);
    for c in &env.clusters {
        let Some(b) = base_by_name.get(c.name.as_str()) else {
            continue;
        };
        if c != *b {
            continue;
        }
        let sources_same = sources(c).all(|s| env_by_name.get(s) == base_by_name.get(s));
        let readers_same = env_readers.get(c.name.as_str()) == base_readers.get(c.name.as_str());
        if sources_same && readers_same {
            same.insert(c.name.as_str());
        }
    }
    same
}

/// The clusters a cluster's rendering reads besides its own: the one it follows and the one
/// whose backups it restores.
fn sources(c: &Cluster) -> impl Iterator<Item = &str> {
    let follows = c.replica_of.as_ref().map(|r| r.value.as_str());
    let restores = c.restore.as_ref().map(|r| r.from.value.as_str());
    follows.into_iter().chain(restores)
}

/// The clusters that read each cluster ([`sources`]), by the name they read, in declaration
/// order.
fn readers(t: &Topology) -> HashMap<&str, Vec<&Cluster>> {
    let mut m: HashMap<&str, Vec<&Cluster>> = HashMap::new();
    for c in &t.clusters {
        for s in sources(c) {
            m.entry(s).or_default().push(c);
        }
    }
    m
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

    /// A cluster that restores another's backups reads that cluster's repository: an env that
    /// changes the repository renders the restoring cluster again (and the other way round).
    #[test]
    fn a_restore_reads_its_source() {
        let src = r#"targets "kubernetes"
cluster "a" {
    postgres version=16
    node "a-0" role="primary"
    backup {
        repository "s3" bucket="one" region="eu-west-1" path="/a" credentials-secret="s3"
        schedule full="0 1 * * 0"
    }
}
cluster "b" {
    postgres version=16
    restore from="a"
    node "b-0" role="primary"
}
cluster "c" {
    postgres version=16
    node "c-0" role="primary"
}
env "e" {
    cluster "a" {
        backup {
            repository "s3" bucket="two" region="eu-west-1" path="/a" credentials-secret="s3"
        }
    }
}
env "f" {
    cluster "b" {
        storage size="20Gi"
    }
}
"#;
        let p = crate::driver::compile(src).program("t").unwrap();
        assert_eq!(
            unchanged_clusters(&p.base, &p.envs[0]),
            HashSet::from(["c"])
        );
        assert_eq!(
            unchanged_clusters(&p.base, &p.envs[1]),
            HashSet::from(["c"])
        );
    }
}
