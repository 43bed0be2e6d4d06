//! Synthetic topologies of any size, for the adversarial tests and the benchmarks.
//!
//! Two flavors, because no single topology can use every target: Kubernetes, Helm and Compose
//! cannot express haproxy/keepalived balancers or `target="local"` poolers, and the haproxy and
//! keepalived targets need them (PT116). Together the two flavors exercise every target.

use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    /// kubernetes + helm + compose: clusters as CloudNativePG expresses them (every standby in the
    /// synchronous set, no PDB) with primary/replica PgBouncer pools.
    Containers,
    /// haproxy + keepalived (+ hosts): Patroni clusters on VMs with local PgBouncers and a VIP.
    Vms,
}

/// The database host of node `n` of cluster `c`, in 10.0.0.0/8: 250 hosts per /24, the second
/// octet for the cluster and the third for blocks of 250 nodes, so that clusters never share an
/// address (up to 1,536 clusters of up to 10,000 nodes).
fn node_address(c: usize, n: usize) -> String {
    format!("10.{}.{}.{}", c % 256, c / 256 * 41 + n / 250, n % 250 + 1)
}

/// The /24 (as its first three octets) of cluster `c`'s balancers, VIP and etcd: 172.16.0.0/12.
fn infra(c: usize) -> String {
    format!("172.{}.{}", 16 + c / 256 % 16, c % 256)
}

/// A topology without errors with `clusters` × `nodes` database nodes and `envs` environments (the
/// `vms` flavor is lint-clean; `containers` has two PT152 warnings per cluster, because CloudNativePG
/// poolers always listen on 5432 while Compose needs a distinct published port per pooler), each env
/// patching every cluster (labels, storage, one pooler, and on every fifth env a narrower node list).
pub fn topology(flavor: Flavor, clusters: usize, nodes: usize, envs: usize) -> String {
    topology_touching(flavor, clusters, nodes, envs, clusters)
}

/// [`topology`] with each env patching only `touched` clusters (env `e` patches clusters `e`,
/// `e + 1`, … modulo the cluster count): the shape of a real estate, where an env changes a few
/// clusters, which docs/performance.md uses to show that an env costs what it changes.
pub fn topology_touching(
    flavor: Flavor,
    clusters: usize,
    nodes: usize,
    envs: usize,
    touched: usize,
) -> String {
    let nodes = nodes.max(2);
    let mut s = String::new();
    let targets = match flavor {
        Flavor::Containers => "\"kubernetes\" \"helm\" \"compose\"",
        Flavor::Vms => "\"haproxy\" \"keepalived\"",
    };
    let _ = writeln!(s, "targets {targets}\n");
    let mut port = 20000usize;
    for c in 0..clusters {
        let _ = writeln!(s, "cluster \"c{c}\" {{");
        match flavor {
            Flavor::Containers => {
                let _ = writeln!(
                    s,
                    "    postgres version=16 image=\"ghcr.io/cloudnative-pg/postgresql:16.4\""
                );
                let _ = writeln!(
                    s,
                    "    namespace \"ns-{c}\"\n    helm chart=\"cnpg\"\n    failover \"none\""
                );
            }
            Flavor::Vms => {
                let _ = writeln!(s, "    postgres version=16 image=\"postgres:16.4\"");
                let _ = writeln!(s, "    credentials env-file=\"/etc/pgtopo/c{c}.env\"");
                let _ = writeln!(
                    s,
                    "    failover \"patroni\" {{\n        dcs \"etcd\" {{\n            endpoint \"{infra}.11:2379\"\n            endpoint \"{infra}.12:2379\"\n        }}\n    }}",
                    infra = infra(c)
                );
            }
        }
        let _ = writeln!(s, "    database \"app\" owner=\"app\"");
        let _ = writeln!(s, "    replication {{\n        synchronous method=\"any\" count=1\n        slots #true\n    }}");
        let _ = writeln!(
            s,
            "    parameters {{\n        max_connections 500\n        max_wal_senders {}\n        max_replication_slots {}\n        shared_buffers \"256MB\"\n    }}",
            nodes + 2,
            nodes + 2
        );
        for n in 0..nodes {
            let role = match (n, flavor) {
                (0, _) => "primary",
                (1, _) | (_, Flavor::Containers) => "sync",
                _ => "async",
            };
            match flavor {
                // One port for every pod (a StatefulSet has one template, PT121); Compose then
                // publishes no node port, only the poolers'.
                Flavor::Containers => {
                    let _ = writeln!(s, "    node \"c{c}-n{n}\" role=\"{role}\"");
                }
                Flavor::Vms => {
                    let _ = writeln!(
                        s,
                        "    node \"c{c}-n{n}\" role=\"{role}\" host=\"{}\"",
                        node_address(c, n)
                    );
                }
            }
        }
        let _ = writeln!(s, "    resources {{\n        requests cpu=\"250m\" memory=\"512Mi\"\n        limits cpu=\"1\" memory=\"1Gi\"\n    }}");
        let _ = writeln!(s, "    storage size=\"10Gi\"");
        if flavor == Flavor::Vms {
            let _ = writeln!(s, "    pdb min-available=1");
        }
        match flavor {
            Flavor::Containers => {
                let _ = writeln!(s, "    pooler \"c{c}-rw\" kind=\"pgbouncer\" target=\"primary\" port={port} {{\n        pool size=20 reserve=5\n    }}");
                let _ = writeln!(s, "    pooler \"c{c}-ro\" kind=\"pgbouncer\" target=\"replicas\" port={} {{\n        pool size=20 reserve=5\n    }}", port + 1);
                port += 2;
            }
            Flavor::Vms => {
                let _ = writeln!(s, "    pooler \"pgbouncer\" kind=\"pgbouncer\" target=\"local\" port=6432 {{\n        pool size=20 reserve=5\n    }}");
                let _ = writeln!(
                    s,
                    "    balancer \"haproxy\" {{\n        host \"lb1\" address=\"{0}.1\" priority=150\n        host \"lb2\" address=\"{0}.2\" priority=100\n        listen \"rw\" port=5000 target=\"primary\"\n        listen \"ro\" port=5001 target=\"replicas\" fallback=\"primary\"\n        stats port=7000\n        vip \"{0}.100/24\" interface=\"eth0\" router-id={1}\n    }}",
                    infra(c),
                    c % 255 + 1
                );
            }
        }
        let _ = writeln!(s, "}}\n");
    }
    for e in 0..envs {
        let _ = writeln!(s, "env \"e{e}\" {{");
        for c in (0..touched.min(clusters)).map(|k| (e + k) % clusters.max(1)) {
            let _ = writeln!(s, "    cluster \"c{c}\" {{\n        labels environment=\"e{e}\"\n        storage size=\"{}Gi\"", 10 + e);
            if e % 5 == 4 {
                let keep: Vec<String> = (0..nodes.min(3))
                    .map(|n| format!("\"c{c}-n{n}\""))
                    .collect();
                let _ = writeln!(s, "        nodes {}", keep.join(" "));
            }
            if flavor == Flavor::Containers {
                let _ = writeln!(
                    s,
                    "        pooler \"c{c}-rw\" {{\n            pool size=30\n        }}"
                );
            }
            let _ = writeln!(s, "    }}");
        }
        let _ = writeln!(s, "}}\n");
    }
    s
}
