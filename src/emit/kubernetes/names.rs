//! Object names, paths and images: one place, so every object that refers to another agrees.

use crate::catalog;
use crate::model::{Cluster, FailoverManager};

/// The pod label the labeler keeps true and the primary/replicas Services select on.
pub const ROLE_LABEL: &str = "pgtopo.io/role";
/// The pod label that tells poolers of one cluster apart.
pub const POOLER_LABEL: &str = "pgtopo.io/pooler";

/// The StatefulSet name. When the nodes are named `<prefix>-0 … <prefix>-(n-1)` in order, the
/// StatefulSet is named `<prefix>` so that its pods carry the node names; otherwise it is named
/// after the cluster and pod ordinal i runs the i-th declared node.
pub fn statefulset(c: &Cluster) -> String {
    node_prefix(c).unwrap_or_else(|| c.name.clone())
}

fn node_prefix(c: &Cluster) -> Option<String> {
    let first = c.nodes.first()?;
    let (prefix, _) = first.name.rsplit_once('-')?;
    let all = c
        .nodes
        .iter()
        .enumerate()
        .all(|(i, n)| n.name == format!("{prefix}-{i}"));
    (all && !prefix.is_empty()).then(|| prefix.to_owned())
}

/// The pod that runs a node.
pub fn pod_of(c: &Cluster, node: &str) -> String {
    let i = c.nodes.iter().position(|n| n.name == node).unwrap_or(0);
    format!("{}-{i}", statefulset(c))
}

pub fn headless_service(c: &Cluster) -> String {
    format!("{}-headless", c.name)
}
pub use crate::plan::endpoints::{
    pod_port as pg_port, pooler_service as pooler, primary_service, replicas_service,
};
pub fn monitor_service(c: &Cluster) -> String {
    format!("{}-monitor", c.name)
}
pub fn config_map(c: &Cluster) -> String {
    format!("{}-config", c.name)
}
pub fn service_account(c: &Cluster) -> String {
    c.name.clone()
}
/// Which image family a cluster runs; it decides paths and the user id.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// citusdata/pg_auto_failover (Debian, user `docker`, uid 1000).
    Citus,
    /// bitnami/postgresql-repmgr (uid 1001).
    Bitnami,
    /// The official postgres image (uid 999).
    Official,
    /// An image with Patroni on the official postgres base (uid 999), declared by the user.
    Patroni,
    /// Zalando's Spilo (Ubuntu, user `postgres` uid 101 / gid 103, every major under
    /// `/usr/lib/postgresql/<major>/bin`): the pinned default for Patroni, or a declared Spilo.
    Spilo,
}

pub fn family(c: &Cluster) -> Family {
    match c.failover.manager.value {
        FailoverManager::PgAutoFailover => Family::Citus,
        FailoverManager::Repmgr => Family::Bitnami,
        FailoverManager::None => Family::Official,
        // A declared image is taken to be built on the official image, unless it is a Spilo.
        FailoverManager::Patroni if catalog::is_spilo(&c.postgres.image.value) => Family::Spilo,
        FailoverManager::Patroni => Family::Patroni,
    }
}

pub fn uid(f: Family) -> i64 {
    match f {
        Family::Citus => 1000,
        Family::Bitnami => 1001,
        Family::Official | Family::Patroni => 999,
        Family::Spilo => catalog::SPILO_UID,
    }
}

/// The group the pod runs as and owns its volumes with (`runAsGroup`, `fsGroup`): the user's own
/// group everywhere but Spilo, whose `postgres` group has another number than its user.
pub fn gid(f: Family) -> i64 {
    match f {
        Family::Spilo => catalog::SPILO_GID,
        other => uid(other),
    }
}

pub fn data_mount(c: &Cluster) -> &'static str {
    match family(c) {
        Family::Citus => "/var/lib/postgresql",
        Family::Bitnami => "/bitnami/postgresql",
        Family::Official | Family::Patroni => "/var/lib/postgresql/data",
        // Where Spilo (and the postgres-operator) mount the volume: $PGHOME/pgdata.
        Family::Spilo => "/home/postgres/pgdata",
    }
}

pub fn pgdata(c: &Cluster) -> String {
    match family(c) {
        Family::Citus => "/var/lib/postgresql/pgdata".to_owned(),
        Family::Bitnami => "/bitnami/postgresql/data".to_owned(),
        Family::Official | Family::Patroni => "/var/lib/postgresql/data/pgdata".to_owned(),
        // The image's own PGDATA ($PGROOT/data), a folder below the mount as elsewhere.
        Family::Spilo => "/home/postgres/pgdata/pgroot/data".to_owned(),
    }
}

/// Where a Patroni member finds PostgreSQL's programs: Spilo ships several majors, each in its
/// Debian folder, so the cluster's major picks one; other images are asked with `pg_config`.
pub fn patroni_bin_dir(c: &Cluster) -> Option<String> {
    (family(c) == Family::Spilo)
        .then(|| format!("/usr/lib/postgresql/{}/bin", c.postgres.version.value))
}

/// Whether pods need the labeler sidecar: everywhere except Patroni with its Kubernetes DCS, which
/// writes the role label itself.
pub fn needs_labeler(c: &Cluster) -> bool {
    !(c.failover.manager.value == FailoverManager::Patroni && c.failover.dcs.is_none())
}
