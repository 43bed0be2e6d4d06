//! Every diagnostic code pgtopo reports, defined once: its stable identifier (`PT101`, what
//! humans, JSON and SARIF readers see), a short kebab-case name, and a one-line summary. Phases and
//! rules name a code by its constant (`codes::PT101`), so a misspelt code does not compile, and
//! tests/lint.rs holds [`ALL`] and docs/language.md's table of codes to the same list.
//!
//! Codes are stable: a retired code keeps its number unused. The ranges say what a code is about
//! (`check::code_targets` reads them): PT000–PT010 reading the file, PT1xx the rules (PT120–PT129
//! Kubernetes, PT130–PT139 the VM targets, PT140–PT149 Compose, PT150–PT159 Helm, PT170–PT189
//! parameters and backups). Retired: PT199 (a target this build did not render; every target
//! renders since the Target abstraction).

use serde::Serialize;

/// A diagnostic code. Compared, hashed and ordered by its identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    id: &'static str,
    name: &'static str,
    summary: &'static str,
}

impl Code {
    /// The printed form, `PT101`.
    pub const fn as_str(self) -> &'static str {
        self.id
    }

    /// The short kebab-case name, `one-primary`.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// What the code is about, in one line.
    pub const fn summary(self) -> &'static str {
        self.summary
    }

    /// The code printed as `id` (`"PT101"`), if there is one.
    pub fn from_id(id: &str) -> Option<Code> {
        ALL.iter().copied().find(|c| c.id == id)
    }

    /// The number after `PT`.
    pub fn number(self) -> u32 {
        self.id[2..].parse().expect("every code is PT and a number")
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id)
    }
}

/// Serialized as its identifier, so JSON records keep `"code": "PT101"`.
impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id)
    }
}

/// A code equals its printed form, so that tests and callers that hold a code as text (a JSON
/// record, a golden file) can compare with it.
impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.id == *other
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.id == other
    }
}

/// Defines one constant per code, named by its identifier (the identifier is the constant's name,
/// so the two cannot disagree), and [`ALL`] in the order written.
macro_rules! codes {
    ($($(#[$doc:meta])* $id:ident $name:literal $summary:literal;)*) => {
        $($(#[$doc])* pub const $id: Code = Code { id: stringify!($id), name: $name, summary: $summary };)*
        /// Every code, in numeric order.
        pub const ALL: &[Code] = &[$($id),*];
    };
}

codes! {
    // Reading the file: reported while it is parsed and lowered, not by a rule.
    PT000 "syntax" "the file is not valid KDL 2.0";
    PT001 "unknown-node" "unknown node";
    PT002 "unknown-property" "unknown property";
    PT003 "wrong-value" "wrong value type or out of range";
    PT004 "missing" "a required name, argument or property is missing";
    PT005 "unknown-keyword" "unknown role, target, kind, mode, method or failover manager";
    PT006 "given-twice" "a once-only child is written twice";
    PT007 "no-cluster" "empty file, or no cluster";
    PT008 "unknown-env" "unknown env";
    PT009 "not-utf8" "the file is not UTF-8";
    PT010 "file-io" "the file cannot be read or written";
    // The rules of check/rules, one file each.
    PT101 "one-primary" "a cluster needs exactly one primary node";
    PT102 "duplicate-name" "names of clusters, nodes, poolers, hosts and listens must be unique";
    PT103 "sync-count" "synchronous count must be between 1 and the number of sync nodes";
    PT104 "dangling-reference" "upstream, replica-of, nodes, workload and pooler references must name something";
    PT105 "env-drops-required-node" "an env's `nodes` must keep the primary and, with synchronous replication, a sync node";
    PT106 "pdb-blocks-drain" "pdb min-available must be below the node count, or no node can ever be drained";
    PT107 "requests-exceed-limits" "a resource request larger than its limit is rejected by Kubernetes";
    PT108 "port-collision" "two services bound to one port of one machine cannot both start";
    PT109 "vip-router-id" "a VRRP virtual router id is between 1 and 255";
    PT110 "balancer-priority" "balancer hosts need distinct VRRP priorities";
    PT111 "replication-capacity" "max_wal_senders / max_replication_slots must cover every standby";
    PT112 "pooler-connections" "pooler pools × replicas must fit in max_connections minus reserved connections";
    PT113 "unknown-parameter" "a parameter must exist in the declared PostgreSQL major version";
    PT114 "plaintext-password" "credentials are referenced (Secret or env file), never written in the topology";
    PT115 "unpinned-image-in-prod" "production images should be pinned to a tag or digest, not latest";
    PT116 "target-cannot-express" "a declared target must be able to render every part of the topology";
    PT117 "vip-without-redundancy" "a VIP needs at least two balancer hosts to fail over between";
    PT118 "vip-outside-subnet" "a VIP should lie in the balancer hosts' subnet";
    PT119 "listen-without-nodes" "a listen must have at least one node of its target role";
    PT120 "kubernetes-patroni-image" "Patroni clusters on kubernetes need an image that contains Patroni for their major";
    PT121 "kubernetes-node-ports" "on kubernetes all nodes of a cluster share one port";
    PT122 "kubernetes-cascading" "on kubernetes, cascading replication needs failover \"none\" or \"patroni\"";
    PT123 "kubernetes-standby-manager" "on kubernetes, a standby cluster needs failover \"none\" or \"patroni\"";
    /// `build --target haproxy|keepalived|hosts` found no machine to print, or none named by `--host`.
    PT130 "no-machine" "the VM target has no machine to print, or none of that name";
    PT131 "balancer-node-without-host" "the haproxy target needs a host address for every node it balances";
    PT132 "patroni-without-dcs" "Patroni on VM hosts needs etcd endpoints";
    PT133 "patroni-port-collision" "Patroni REST ports must be unique on each VM host";
    PT134 "vm-local-pgpool" "a pooler beside every database host must be PgBouncer on the VM targets";
    PT135 "patroni-quorum" "Patroni 3.0 on VM hosts has no quorum commit; ANY becomes FIRST";
    PT136 "empty-balancer" "a balancer needs at least one host and one listen";
    PT137 "vrrp-collision" "two VRRP groups on one network must not share a VIP or a virtual router id";
    PT138 "max-lag-without-patroni" "only Patroni's REST API can drop lagging standbys from a listen";
    PT140 "compose-cannot-express" "the compose target must be able to render every part of the topology";
    PT141 "compose-service-name" "Compose service names must be unique across every cluster";
    PT150 "helm-sync-replication" "the Helm chart's synchronous replication must match the topology's sync roles";
    PT151 "helm-image" "the declared image must be one the cluster's Helm chart can run";
    PT152 "helm-pooler" "poolers must map onto what the cluster's Helm chart deploys";
    PT153 "helm-node-settings" "Helm charts run identical pods: per-node settings cannot be expressed";
    PT154 "helm-chart-shape" "the cluster must fit the Helm chart chosen for it";
    PT155 "helm-access" "roles, client rules and TLS the Helm chart cannot render as declared";
    PT160 "invalid-name" "names must be DNS-1123 labels (and SQL identifiers for databases and owners)";
    PT161 "cluster-too-large" "a cluster has at most 256 nodes";
    PT162 "hba-unreachable-rule" "an `hba` rule that an earlier rule always decides first can never match";
    PT163 "unknown-role" "a role named by `member-of` or an `hba` rule that nothing creates";
    PT164 "cert-without-verify-full" "`method=\"cert\"` needs `tls mode=\"verify-full\"`";
    PT165 "prod-without-tls" "a production env should require TLS";
    PT166 "patroni-timing" "Patroni needs loop-wait + 2 × retry-timeout ≤ ttl";
    PT170 "pgtopo-owned-parameter" "settings pgtopo derives from the topology cannot be set in `parameters`";
    PT171 "control-character" "string values must not hold control characters (they would add lines to configs)";
    PT172 "target-drops-property" "a declared property that a target cannot express yet is reported, not dropped";
    PT173 "parameter-value" "a parameter's value must be one PostgreSQL accepts for that setting";
    PT175 "moved-image" "a declared image on a repository bitnami moved to bitnamilegacy no longer pulls";
    PT176 "pg-auto-failover-sync" "pg_auto_failover needs count + 1 sync nodes for a synchronous count of 2 or more, and writes only ANY";
    PT180 "backup-archive-folder" "`backup archive=` only copies WAL; declare a repository for real backups";
    PT181 "backup-schedule" "a backup needs a repository, valid cron schedules and a retention of at least one";
    PT182 "backup-repository" "a backup repository names what its tool needs: bucket, region, credentials, path";
    PT183 "restore-source" "a restore reads a cluster with backups, to a time that parses";
    PT184 "backup-tool" "every target must be able to run the cluster's backup tool";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_sorted_and_well_formed() {
        for w in ALL.windows(2) {
            assert!(w[0] < w[1], "{} before {}", w[0], w[1]);
        }
        for c in ALL {
            assert!(c.as_str().len() == 5 && c.number() < 1000, "{c}");
            assert!(!c.name().is_empty() && !c.summary().is_empty(), "{c}");
            assert!(
                c.name()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{c}: {}",
                c.name()
            );
        }
    }
}
