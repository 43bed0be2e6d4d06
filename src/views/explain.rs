//! `pgtopo explain [ENV]`: what a person needs to connect to and operate the topology — endpoints
//! per target and which are read-write or read-only, the synchronous guarantee in words, and what
//! survives which failure. Endpoint names come from the emitters' own naming functions, so the
//! text cannot drift from what is deployed.

use std::fmt::Write as _;

use crate::emit::kubernetes::names;
use crate::model::{
    Cluster, FailoverManager, HelmChart, ListenTarget, PoolerKind, PoolerTarget, Role, SyncMethod,
    Target, Topology,
};

fn access(t: PoolerTarget) -> &'static str {
    match t {
        PoolerTarget::Primary => "read-write",
        PoolerTarget::Replicas => "read-only",
        PoolerTarget::Any | PoolerTarget::Local => "read-write (writes go to the primary)",
    }
}

pub fn explain(t: &Topology, topology_name: &str) -> String {
    let mut s = String::new();
    let env = t.env.as_deref().unwrap_or("base");
    let targets: Vec<&str> = t.targets.iter().map(|x| x.value.as_str()).collect();
    let _ = writeln!(
        s,
        "{topology_name} ({env}) · targets: {}\n",
        targets.join(", ")
    );
    for c in &t.clusters {
        cluster(&mut s, t, c);
    }
    s
}

fn cluster(s: &mut String, t: &Topology, c: &Cluster) {
    let _ = writeln!(
        s,
        "cluster {} — PostgreSQL {}, {} node(s), failover {}",
        c.name,
        c.postgres.version.value,
        c.nodes.len(),
        c.failover.manager.value
    );
    for n in &c.nodes {
        let mut what = match n.role.value {
            Role::Primary if c.is_standby_cluster() => {
                "standby leader (follows its source, read-only)".to_owned()
            }
            Role::Primary => "primary (read-write)".to_owned(),
            Role::Sync => "synchronous standby (read-only)".to_owned(),
            Role::Async => "asynchronous standby (read-only)".to_owned(),
        };
        if !n.failover {
            what.push_str(", never promoted");
        }
        if let Some(u) = &n.upstream {
            let _ = write!(what, ", streams from {}", u.value);
        }
        let _ = writeln!(s, "  {:<16} {what}", n.name);
    }

    let _ = writeln!(s, "\n  endpoints:");
    for target in t.targets.iter().map(|x| x.value) {
        match target {
            Target::Kubernetes => kubernetes(s, c),
            Target::Helm => helm(s, c),
            Target::Compose => compose(s, c),
            Target::Haproxy | Target::Keepalived | Target::Hosts => {}
        }
    }
    if t.has_target(Target::Haproxy) {
        vm(s, c);
    }

    let _ = writeln!(s, "\n  guarantees:");
    let _ = writeln!(s, "    - {}", sync_words(c));
    for line in failures(c) {
        let _ = writeln!(s, "    - {line}");
    }
    let _ = writeln!(s);
}

fn kubernetes(s: &mut String, c: &Cluster) {
    let ns = &c.namespace.value;
    let port = names::pg_port(c);
    let _ = writeln!(s, "    kubernetes (namespace {ns}):");
    for p in c
        .poolers
        .iter()
        .filter(|p| p.target.value != PoolerTarget::Local)
    {
        let _ = writeln!(
            s,
            "      {}.{ns}.svc:{:<5}  {} via {} {}",
            names::pooler(c, p),
            p.port.value,
            access(p.target.value),
            p.kind.value,
            p.name
        );
    }
    if !c.is_standby_cluster() {
        let _ = writeln!(
            s,
            "      {}.{ns}.svc:{port:<5}  read-write, the primary directly",
            names::primary_service(c)
        );
    }
    if c.standbys().next().is_some() || c.is_standby_cluster() {
        let _ = writeln!(
            s,
            "      {}.{ns}.svc:{port:<5}  read-only, the standbys directly",
            names::replicas_service(c)
        );
    }
}

fn helm(s: &mut String, c: &Cluster) {
    let ns = &c.namespace.value;
    let n = &c.name;
    let _ = writeln!(
        s,
        "    helm ({}, release {n}, namespace {ns}):",
        c.helm.chart.value
    );
    match c.helm.chart.value {
        HelmChart::BitnamiPostgresqlHa => {
            let _ = writeln!(
                s,
                "      {n}-pgpool.{ns}.svc:5432  read-write; Pgpool-II sends reads to standbys"
            );
            let _ = writeln!(
                s,
                "      {n}-postgresql.{ns}.svc:5432  every PostgreSQL pod (not role-aware)"
            );
        }
        HelmChart::BitnamiPostgresql => {
            let _ = writeln!(s, "      {n}.{ns}.svc:5432  the standby leader (read-only)");
        }
        HelmChart::Cnpg => {
            let _ = writeln!(s, "      {n}-rw.{ns}.svc:5432  read-write (the primary)");
            let _ = writeln!(s, "      {n}-ro.{ns}.svc:5432  read-only (standbys)");
            for p in c.poolers.iter().filter(|p| {
                p.kind.value == PoolerKind::Pgbouncer && p.target.value != PoolerTarget::Local
            }) {
                let _ = writeln!(
                    s,
                    "      {n}-pooler-{}.{ns}.svc:5432  {} via PgBouncer",
                    p.name,
                    access(p.target.value)
                );
            }
        }
    }
}

fn compose(s: &mut String, c: &Cluster) {
    let _ = writeln!(s, "    compose (published on the Docker host):");
    for p in c
        .poolers
        .iter()
        .filter(|p| p.target.value != PoolerTarget::Local)
    {
        let _ = writeln!(
            s,
            "      localhost:{:<5}  {} via {} {}",
            p.port.value,
            access(p.target.value),
            p.kind.value,
            p.name
        );
    }
    for n in c.nodes.iter().filter(|n| n.port_declared) {
        let rw = if n.role.value == Role::Primary && !c.is_standby_cluster() {
            "read-write"
        } else {
            "read-only"
        };
        let _ = writeln!(
            s,
            "      localhost:{:<5}  {rw}, node {} directly",
            n.port.value, n.name
        );
    }
    if let Some(m) = &c.monitoring {
        if let Some(p) = &m.prometheus_port {
            let _ = writeln!(s, "      localhost:{:<5}  Prometheus", p.value);
        }
        if let Some(p) = &m.grafana_port {
            let _ = writeln!(s, "      localhost:{:<5}  Grafana", p.value);
        }
    }
}

fn vm(s: &mut String, c: &Cluster) {
    for b in &c.balancers {
        let front = match &b.vip {
            Some(v) => v
                .address
                .value
                .split('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            None => b
                .hosts
                .first()
                .map_or_else(String::new, |h| h.address.value.clone()),
        };
        let _ = writeln!(
            s,
            "    haproxy{}:",
            if b.vip.is_some() {
                " behind the keepalived VIP"
            } else {
                ""
            }
        );
        for l in &b.listens {
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
            let _ = writeln!(s, "      {front}:{:<5}  {what}{fallback}", l.port.value);
        }
        if let Some(st) = &b.stats {
            let _ = writeln!(s, "      <balancer host>:{}  haproxy stats (HAPROXY_STATS_USER / HAPROXY_STATS_PASSWORD)", st.port.value);
        }
    }
}

/// The synchronous guarantee in words, e.g. "a commit waits for any 1 of: postgres-1".
pub fn sync_words(c: &Cluster) -> String {
    let Some(sync) = &c.replication.synchronous else {
        return "replication is asynchronous: a commit returns once the primary has it; a failover can lose the last commits".to_owned();
    };
    let names: Vec<&str> = c.sync_nodes().map(|n| n.name.as_str()).collect();
    if names.is_empty() {
        return "synchronous replication is declared but no node is `sync`".to_owned();
    }
    match sync.method.value {
        SyncMethod::Any => format!(
            "a commit waits for any {} of: {}",
            sync.count.value,
            names.join(", ")
        ),
        SyncMethod::First => format!(
            "a commit waits for the first {} available, in this order: {}",
            sync.count.value,
            names.join(", ")
        ),
    }
}

fn failures(c: &Cluster) -> Vec<String> {
    let mut out = Vec::new();
    let candidates: Vec<&str> = c
        .standbys()
        .filter(|n| n.failover)
        .map(|n| n.name.as_str())
        .collect();
    let sync = c.replication.synchronous.is_some() && c.sync_nodes().next().is_some();
    let lossless = if sync {
        "no acknowledged commit is lost"
    } else {
        "commits not yet streamed are lost"
    };
    if c.is_standby_cluster() {
        out.push("losing the source cluster: this cluster keeps serving reads; promote it by hand to take writes".to_owned());
    }
    match c.failover.manager.value {
        _ if c.is_standby_cluster() => {
            if c.nodes.len() == 1 {
                out.push("losing the standby leader: reads stop until it is back (it is the only node)".to_owned());
            }
        }
        FailoverManager::None => out.push(format!(
            "losing the primary: no automatic failover; writes stop until an operator promotes a standby ({})",
            if candidates.is_empty() { "none is eligible".to_owned() } else { candidates.join(", ") }
        )),
        m => {
            if candidates.is_empty() {
                out.push(format!("losing the primary: {m} has no standby it may promote; writes stop"));
            } else if sync {
                // Patroni (synchronous_mode) and pg_auto_failover only promote a synchronous
                // standby while one is healthy; that is what makes the failover lossless.
                let sync_candidates: Vec<&str> = c.sync_nodes().filter(|n| n.failover).map(|n| n.name.as_str()).collect();
                out.push(format!("losing the primary: {m} promotes a synchronous standby ({}), so {lossless}", sync_candidates.join(", ")));
            } else {
                out.push(format!("losing the primary: {m} promotes one of {} ({lossless})", candidates.join(", ")));
            }
        }
    }
    if sync {
        let count = c
            .replication
            .synchronous
            .as_ref()
            .map_or(1, |s| s.count.value) as usize;
        let sync_n = c.sync_nodes().count();
        let blocked = match c.failover.manager.value {
            FailoverManager::Patroni
                if c
                    .replication
                    .synchronous
                    .as_ref()
                    .and_then(|s| s.strict.as_ref())
                    .is_some_and(|s| s.value) =>
            {
                "Patroni keeps synchronous replication strict (synchronous_mode_strict): with no synchronous standby left, commits wait until one is back".to_owned()
            }
            FailoverManager::Patroni => "Patroni drops it from the synchronous set (synchronous_mode, not strict): writes go on, unprotected until it returns".to_owned(),
            FailoverManager::PgAutoFailover => "pg_auto_failover relaxes synchronous replication (wait_primary): writes go on, unprotected until it returns".to_owned(),
            _ => "commits wait until it is back or synchronous_standby_names is changed".to_owned(),
        };
        if sync_n > count {
            out.push(format!(
                "losing {} sync standby(s): commits go on with the others",
                sync_n - count
            ));
        } else {
            out.push(format!("losing a sync standby: {blocked}"));
        }
    }
    if c.nodes.iter().any(|n| n.role.value == Role::Async) {
        out.push("losing an async standby: only read capacity is lost".to_owned());
    }
    if c.failover.manager.value == FailoverManager::PgAutoFailover {
        out.push("losing the pg_auto_failover monitor: the nodes keep serving, but nothing fails over until it is back".to_owned());
    }
    for b in &c.balancers {
        if let Some(v) = &b.vip {
            let mut hosts: Vec<_> = b.hosts.iter().collect();
            hosts.sort_by_key(|h| std::cmp::Reverse(h.priority.value));
            if hosts.len() > 1 {
                out.push(format!(
                    "losing balancer {} or its haproxy: keepalived moves {} to {} within a few advert intervals ({} s each)",
                    hosts[0].name, v.address.value, hosts[1].name, v.advert_int.value
                ));
            } else {
                out.push(format!(
                    "losing balancer {}: the VIP has nowhere to go (one host)",
                    hosts.first().map_or("", |h| h.name.as_str())
                ));
            }
        }
    }
    out
}
