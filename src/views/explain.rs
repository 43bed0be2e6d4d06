//! `pgtopo explain [ENV]`: what a person needs to connect to and operate the topology — endpoints
//! per target and which are read-write or read-only, the synchronous guarantee in words, and what
//! survives which failure. The endpoints are the stack plan's (`plan::endpoints`), whose naming
//! functions the Kubernetes emitter uses too, so the text cannot drift from what is deployed.

use std::fmt::Write as _;

use crate::model::{Cluster, FailoverManager, Role, SyncMethod, Topology};
use crate::plan::endpoints;

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
    for g in endpoints::of(t, c) {
        let _ = writeln!(s, "    {}:", g.heading);
        for e in &g.endpoints {
            let _ = writeln!(s, "      {}:{:<5}  {}", e.host, e.port, e.serves);
        }
    }

    let _ = writeln!(s, "\n  guarantees:");
    let _ = writeln!(s, "    - {}", sync_words(c));
    for line in failures(c) {
        let _ = writeln!(s, "    - {line}");
    }
    let _ = writeln!(s);
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
