//! What each target can express of a topology: the one table from which the "the T target cannot
//! express X" findings follow (PT116, PT121–PT123, PT140, PT172 read it; the Helm rules PT150–PT154
//! read the chart's own shape, which depends on the chart chosen per cluster, not on the target).
//! A property a target cannot express is reported when that target is built, never dropped.

use crate::model::{FailoverManager, Target};

use FailoverManager::{None as NoManager, Patroni, PgAutoFailover, Repmgr};

/// Every failover manager.
const ALL_MANAGERS: &[FailoverManager] = &[NoManager, Patroni, PgAutoFailover, Repmgr];

/// The parts of a topology that a target may or may not carry into its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The failover managers whose clusters the target runs.
    pub managers: &'static [FailoverManager],
    /// The managers under which a node can stream from another standby (`upstream=`).
    pub cascading: &'static [FailoverManager],
    /// The managers under which a cluster can follow another (`replica-of`).
    pub standby_clusters: &'static [FailoverManager],
    /// A pooler beside each database node (`target="local"`): the target has database hosts.
    pub local_poolers: bool,
    /// `balancer` (haproxy, keepalived, VIPs): the target has balancer hosts.
    pub balancers: bool,
    /// A node `port=` other than its cluster's: the nodes are not identical replicas of a pod.
    pub node_ports: bool,
    /// `backup`: WAL archiving, base backups on a schedule, retention.
    pub backup: bool,
    /// `restore from=`: a cluster bootstrapped from another cluster's backups.
    pub restore: bool,
    /// `monitoring`: an exporter beside every node (and Prometheus/Grafana where written).
    pub monitoring: bool,
    /// `workload`: its load and verify scripts, run by a Job or a Compose service.
    pub workloads: bool,
}

impl Capabilities {
    pub fn runs(&self, m: FailoverManager) -> bool {
        self.managers.contains(&m)
    }

    pub fn cascades_under(&self, m: FailoverManager) -> bool {
        self.cascading.contains(&m)
    }

    pub fn follows_under(&self, m: FailoverManager) -> bool {
        self.standby_clusters.contains(&m)
    }
}

/// The capabilities of `target`.
pub const fn of(target: Target) -> Capabilities {
    match target {
        // Each node is a Compose service: a node's own port is its published port. Compose runs
        // the official image (failover "none") and bitnami/postgresql-repmgr, which follows the
        // primary only; a standby cluster has no rendering yet.
        Target::Compose => Capabilities {
            managers: &[NoManager, Repmgr],
            cascading: &[NoManager],
            standby_clusters: &[],
            local_poolers: false,
            balancers: false,
            node_ports: true,
            backup: true,
            restore: true,
            monitoring: true,
            workloads: true,
        },
        // The nodes are the pods of one StatefulSet: one pod template, one port. pg_auto_failover
        // has no cascading standbys and the repmgr image follows the primary; neither can start
        // as a follower of another cluster. Backups run in a pgBackRest sidecar (PT172 names the
        // clusters it cannot serve: `plan::backup::pod_backs_up`, `pod_restore_source`).
        Target::Kubernetes => Capabilities {
            managers: ALL_MANAGERS,
            cascading: &[NoManager, Patroni],
            standby_clusters: &[NoManager, Patroni],
            local_poolers: false,
            balancers: false,
            node_ports: false,
            backup: true,
            restore: true,
            monitoring: true,
            workloads: true,
        },
        // The charts decide per cluster what they hold (PT150–PT154 say what differs: backups
        // and restores are CloudNativePG's, the bitnami charts take none); here only what no
        // chart has, such as a Job for a workload.
        Target::Helm => Capabilities {
            managers: ALL_MANAGERS,
            cascading: ALL_MANAGERS,
            standby_clusters: ALL_MANAGERS,
            local_poolers: false,
            balancers: false,
            node_ports: false,
            backup: true,
            restore: true,
            monitoring: true,
            workloads: false,
        },
        // The hosts target writes each node's files, not a runner for a workload's scripts
        // (PT172 says so for every workload).
        Target::Hosts => Capabilities {
            managers: ALL_MANAGERS,
            cascading: ALL_MANAGERS,
            standby_clusters: ALL_MANAGERS,
            local_poolers: true,
            balancers: true,
            node_ports: true,
            backup: true,
            restore: true,
            monitoring: false,
            workloads: false,
        },
        // The balancer targets configure no database node: their clusters' parts are the hosts
        // target's to express.
        Target::Haproxy | Target::Keepalived => Capabilities {
            managers: ALL_MANAGERS,
            cascading: ALL_MANAGERS,
            standby_clusters: ALL_MANAGERS,
            local_poolers: true,
            balancers: true,
            node_ports: true,
            backup: true,
            restore: true,
            monitoring: true,
            workloads: true,
        },
    }
}
