//! Where clients connect, per target: the Services, published ports and balancer listens a
//! cluster's packaging exposes, and what each one serves. `pgtopo explain` prints exactly this;
//! the Kubernetes emitter names its Services with the functions here, so the two cannot drift.

use crate::model::{Cluster, HelmChart, ListenTarget, PoolerKind, PoolerTarget, Role, Target};
use crate::model::{FailoverManager, Node, Pooler, Topology};

/// One address a client can connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// A DNS name, an address or a placeholder such as `<balancer host>`.
    pub host: String,
    pub port: u16,
    /// What it serves, in words: "read-write, the primary directly".
    pub serves: String,
}

/// The endpoints one target exposes for a cluster, under a heading that says where they live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub heading: String,
    pub endpoints: Vec<Endpoint>,
}

/// The primary's Service on the kubernetes target.
pub fn primary_service(c: &Cluster) -> String {
    format!("{}-primary", c.name)
}

/// The Service of the standbys on the kubernetes target.
pub fn replicas_service(c: &Cluster) -> String {
    format!("{}-replicas", c.name)
}

/// A pooler's Deployment and Service on the kubernetes target: the cluster's name as a prefix
/// unless the pooler's name has it already.
pub fn pooler_service(c: &Cluster, p: &Pooler) -> String {
    if p.name.starts_with(&c.name) {
        p.name.clone()
    } else {
        format!("{}-{}", c.name, p.name)
    }
}

/// The PostgreSQL port inside the pods: the primary's (Kubernetes gives every pod its own
/// address, so every node of a cluster listens on the same port; PT121).
pub fn pod_port(c: &Cluster) -> u16 {
    c.primary()
        .or(c.nodes.first())
        .map(|n| n.port.value)
        .unwrap_or(5432)
}

/// The port every chart's Services listen on.
const CHART_PORT: u16 = 5432;

fn ep(host: impl Into<String>, port: u16, serves: impl Into<String>) -> Endpoint {
    Endpoint {
        host: host.into(),
        port,
        serves: serves.into(),
    }
}

/// What a pooler of this target serves.
pub fn access(t: PoolerTarget) -> &'static str {
    match t {
        PoolerTarget::Primary => "read-write",
        PoolerTarget::Replicas => "read-only",
        PoolerTarget::Any | PoolerTarget::Local => "read-write (writes go to the primary)",
    }
}

fn shared_poolers(c: &Cluster) -> impl Iterator<Item = &Pooler> {
    c.poolers
        .iter()
        .filter(|p| p.target.value != PoolerTarget::Local)
}

/// Every endpoint of the cluster on the targets `t` declares, in target order (the VM targets'
/// balancers once, when haproxy is declared).
pub fn of(t: &Topology, c: &Cluster) -> Vec<Group> {
    let mut v = Vec::new();
    for target in t.targets.iter().map(|x| x.value) {
        match target {
            Target::Kubernetes => v.push(kubernetes(c)),
            Target::Helm => v.push(helm(c)),
            Target::Compose => v.push(compose(c)),
            Target::Haproxy | Target::Keepalived | Target::Hosts => {}
        }
    }
    if t.has_target(Target::Haproxy) {
        v.extend(balancers(c));
    }
    v
}

fn kubernetes(c: &Cluster) -> Group {
    let ns = &c.namespace.value;
    let port = pod_port(c);
    let mut e: Vec<Endpoint> = shared_poolers(c)
        .map(|p| {
            ep(
                format!("{}.{ns}.svc", pooler_service(c, p)),
                p.port.value,
                format!("{} via {} {}", access(p.target.value), p.kind.value, p.name),
            )
        })
        .collect();
    if !c.is_standby_cluster() {
        e.push(ep(
            format!("{}.{ns}.svc", primary_service(c)),
            port,
            "read-write, the primary directly",
        ));
    }
    if c.standbys().next().is_some() || c.is_standby_cluster() {
        e.push(ep(
            format!("{}.{ns}.svc", replicas_service(c)),
            port,
            "read-only, the standbys directly",
        ));
    }
    Group {
        heading: format!("kubernetes (namespace {ns})"),
        endpoints: e,
    }
}

fn helm(c: &Cluster) -> Group {
    let ns = &c.namespace.value;
    let n = &c.name;
    let svc = |suffix: &str| format!("{n}{suffix}.{ns}.svc");
    let e = match c.helm.chart.value {
        HelmChart::BitnamiPostgresqlHa => vec![
            ep(
                svc("-pgpool"),
                CHART_PORT,
                "read-write; Pgpool-II sends reads to standbys",
            ),
            ep(
                svc("-postgresql"),
                CHART_PORT,
                "every PostgreSQL pod (not role-aware)",
            ),
        ],
        HelmChart::BitnamiPostgresql => {
            vec![ep(svc(""), CHART_PORT, "the standby leader (read-only)")]
        }
        HelmChart::Cnpg => {
            let mut e = vec![
                ep(svc("-rw"), CHART_PORT, "read-write (the primary)"),
                ep(svc("-ro"), CHART_PORT, "read-only (standbys)"),
            ];
            e.extend(
                shared_poolers(c)
                    .filter(|p| p.kind.value == PoolerKind::Pgbouncer)
                    .map(|p| {
                        ep(
                            svc(&format!("-pooler-{}", p.name)),
                            CHART_PORT,
                            format!("{} via PgBouncer", access(p.target.value)),
                        )
                    }),
            );
            e
        }
    };
    Group {
        heading: format!("helm ({}, release {n}, namespace {ns})", c.helm.chart.value),
        endpoints: e,
    }
}

fn compose(c: &Cluster) -> Group {
    let mut e: Vec<Endpoint> = shared_poolers(c)
        .map(|p| {
            ep(
                "localhost",
                p.port.value,
                format!("{} via {} {}", access(p.target.value), p.kind.value, p.name),
            )
        })
        .collect();
    for n in c.nodes.iter().filter(|n| n.port_declared) {
        let rw = if n.role.value == Role::Primary && !c.is_standby_cluster() {
            "read-write"
        } else {
            "read-only"
        };
        e.push(ep(
            "localhost",
            n.port.value,
            format!("{rw}, node {} directly", n.name),
        ));
    }
    if let Some(m) = &c.monitoring {
        if let Some(p) = &m.prometheus_port {
            e.push(ep("localhost", p.value, "Prometheus"));
        }
        if let Some(p) = &m.grafana_port {
            e.push(ep("localhost", p.value, "Grafana"));
        }
    }
    Group {
        heading: "compose (published on the Docker host)".to_owned(),
        endpoints: e,
    }
}

fn balancers(c: &Cluster) -> Vec<Group> {
    let mut v = Vec::new();
    for b in &c.balancers {
        // Clients reach the VIP when there is one, else the first balancer host.
        let front = match &b.vip {
            Some(v) => v.address.value.split('/').next().unwrap_or_default(),
            None => b.hosts.first().map_or("", |h| h.address.value.as_str()),
        };
        let mut e: Vec<Endpoint> = b
            .listens
            .iter()
            .map(|l| {
                let what = match l.target.value {
                    ListenTarget::Primary => "read-write (the primary)",
                    ListenTarget::Replicas => "read-only (standbys)",
                    ListenTarget::Sync => "read-only (synchronous standbys)",
                    ListenTarget::Async => "read-only (asynchronous standbys)",
                    ListenTarget::Any => "any node",
                };
                let fallback = l
                    .fallback
                    .as_ref()
                    .map_or_else(String::new, |f| format!(", falls back to the {}", f.value));
                ep(front, l.port.value, format!("{what}{fallback}"))
            })
            .collect();
        if let Some(st) = &b.stats {
            e.push(ep(
                "<balancer host>",
                st.port.value,
                "haproxy stats (HAPROXY_STATS_USER / HAPROXY_STATS_PASSWORD)",
            ));
        }
        v.push(Group {
            heading: format!(
                "haproxy{}",
                if b.vip.is_some() {
                    " behind the keepalived VIP"
                } else {
                    ""
                }
            ),
            endpoints: e,
        });
    }
    v
}

/// Which nodes may serve a balancer listen (haproxy lists them; `graph` draws them). Roles change at failover, so a role-checked listen lists every
/// node that could hold the role at run time, not only the node declared in it, and the health
/// check picks: a listen of declared roles alone had no healthy server after a failover (Patroni
/// makes the old primary a synchronous standby, which a `sync` listen of the declared sync nodes
/// did not list).
/// - `primary`: every failover-capable node (any may be promoted) and the declared primary.
/// - `replicas`, `any`: every node (the old primary comes back as a standby).
/// - `sync`: every node that can be a synchronous standby ([`may_be_sync`]).
/// - `async`: every node that can be a standby outside the synchronous set ([`may_be_async`]).
pub fn listen_candidates(c: &Cluster, target: ListenTarget) -> Vec<&Node> {
    c.nodes
        .iter()
        .filter(|n| match target {
            ListenTarget::Primary => n.failover || n.role.value == Role::Primary,
            ListenTarget::Replicas | ListenTarget::Any => true,
            ListenTarget::Sync => may_be_sync(c, n),
            ListenTarget::Async => may_be_async(c, n),
        })
        .collect()
}

/// Whether the failover manager chooses the synchronous standbys at run time, from every node
/// allowed to be one (Patroni: each node without the `nosync` tag; pg_auto_failover: each node in
/// the replication quorum), rather than PostgreSQL reading the fixed `synchronous_standby_names`
/// that pgtopo writes from the declared roles (no manager, repmgr).
fn chooses_sync_standbys(c: &Cluster) -> bool {
    matches!(
        c.failover.manager.value,
        FailoverManager::Patroni | FailoverManager::PgAutoFailover
    )
}

/// Whether `n` can be a synchronous standby at some point. Patroni and pg_auto_failover may pick
/// any node that is not `async` (the `nosync` tag and `--replication-quorum false` keep the async
/// ones out), including the declared primary once it is a standby again. Otherwise the synchronous
/// set is the fixed list of declared sync nodes. Without synchronous replication no node is.
fn may_be_sync(c: &Cluster, n: &Node) -> bool {
    c.replication.synchronous.is_some()
        && if chooses_sync_standbys(c) {
            n.role.value != Role::Async
        } else {
            n.role.value == Role::Sync
        }
}

/// Whether `n` can be a standby outside the synchronous set at some point. Patroni keeps only
/// `synchronous_node_count` of its candidates synchronous, so any node may be an async standby;
/// pg_auto_failover makes every quorum standby a synchronous candidate (`ANY n (…)`), so only the
/// nodes outside the quorum are; with the fixed list, every node not named in it.
fn may_be_async(c: &Cluster, n: &Node) -> bool {
    if c.replication.synchronous.is_none() {
        return true;
    }
    match c.failover.manager.value {
        FailoverManager::Patroni => true,
        FailoverManager::PgAutoFailover => n.role.value == Role::Async,
        FailoverManager::Repmgr | FailoverManager::None => n.role.value != Role::Sync,
    }
}
