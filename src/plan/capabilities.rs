//! What each target can express of a topology: the one table from which "the T target cannot
//! express X" findings follow (PT172 so far; PT116 and the target rules read their own parts of
//! it). A property a target cannot express is reported when that target is built, never dropped.

use crate::model::Target;

/// The optional parts of a cluster that a target may or may not carry into its output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// `backup`: WAL archiving (and, later, base backups and restores).
    pub backup: bool,
    /// `monitoring`: an exporter beside every node (and Prometheus/Grafana where written).
    pub monitoring: bool,
}

/// The capabilities of `target`.
pub fn of(target: Target) -> Capabilities {
    match target {
        Target::Compose => Capabilities {
            backup: true,
            monitoring: true,
        },
        Target::Hosts => Capabilities {
            backup: true,
            monitoring: false,
        },
        Target::Kubernetes | Target::Helm => Capabilities {
            backup: false,
            monitoring: true,
        },
        // The balancer targets configure no database node: their clusters' parts are the hosts
        // target's to express.
        Target::Haproxy | Target::Keepalived => Capabilities {
            backup: true,
            monitoring: true,
        },
    }
}
