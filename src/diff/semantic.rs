//! The semantic summary of `pgtopo diff`: what changed in the resolved model, in an operator's
//! words, each with the risk it carries when there is one.

use crate::check::pg_params::needs_restart;
use crate::model::quantity::parse_quantity;
use crate::model::{Cluster, FailoverManager, Resources, Topology};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// Which cluster (or "topology").
    pub scope: String,
    pub what: String,
    /// Why this change needs care, when it does.
    pub risk: Option<String>,
}

/// How a changed parameter reaches a running Patroni cluster: Patroni reads `bootstrap.dcs` only
/// when it creates the cluster, so the emitted patroni-apply.sh applies the change.
fn applied_by(patroni: bool, k: &str) -> &'static str {
    match (patroni, crate::plan::patroni::DCS_ONLY.contains(&k)) {
        (false, _) => "",
        (true, true) => " (Patroni DCS setting: applied by patroni-apply.sh from dcs.yml)",
        (true, false) => " (Patroni local setting: applied by patroni-apply.sh with a reload)",
    }
}

fn restart_risk(patroni: bool, major: u32, k: &str) -> Option<&'static str> {
    match (needs_restart(k, major), patroni) {
        (false, _) => None,
        (true, false) => Some("needs a PostgreSQL restart to take effect"),
        (true, true) => Some(
            "needs a PostgreSQL restart: Patroni shows it as Pending restart until patroni-apply.sh --restart restarts those members",
        ),
    }
}

fn change(scope: &str, what: String, risk: Option<&str>) -> Change {
    Change {
        scope: scope.to_owned(),
        what,
        risk: risk.map(str::to_owned),
    }
}

const VCT_IMMUTABLE: &str = "StatefulSet volumeClaimTemplates are immutable: `kubectl apply` is rejected; \
expand each PVC (storage class with allowVolumeExpansion) and recreate the StatefulSet with --cascade=orphan";

/// Changes from `old` to `new`, in a stable order: clusters as declared in `new`, then removed ones.
pub fn semantic(old: &Topology, new: &Topology) -> Vec<Change> {
    let mut out = Vec::new();
    let old_targets: Vec<_> = old.targets.iter().map(|t| t.value).collect();
    let new_targets: Vec<_> = new.targets.iter().map(|t| t.value).collect();
    if old_targets != new_targets {
        let list = |v: &[crate::model::Target]| {
            v.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
        };
        out.push(change(
            "topology",
            format!("targets: {} → {}", list(&old_targets), list(&new_targets)),
            None,
        ));
    }
    for c in &new.clusters {
        match old.cluster(&c.name) {
            Some(o) => cluster(o, c, &mut out),
            None => out.push(change(
                &c.name,
                format!("cluster added with {} node(s)", c.nodes.len()),
                None,
            )),
        }
    }
    for o in &old.clusters {
        if new.cluster(&o.name).is_none() {
            out.push(change(
                &o.name,
                "cluster removed".to_owned(),
                Some("its data volumes are not deleted by pgtopo; remove them deliberately"),
            ));
        }
    }
    out
}

fn cluster(o: &Cluster, n: &Cluster, out: &mut Vec<Change>) {
    let s = n.name.as_str();
    // Nodes and roles.
    for node in &n.nodes {
        match o.node(&node.name) {
            None => out.push(change(
                s,
                format!("node {} added as {}", node.name, node.role.value),
                None,
            )),
            // What a role change risks depends on the synchronous set as a whole (see below).
            Some(prev) if prev.role.value != node.role.value => {
                out.push(change(
                    s,
                    format!(
                        "node {}: {} → {}",
                        node.name, prev.role.value, node.role.value
                    ),
                    None,
                ));
            }
            Some(_) => {}
        }
    }
    for prev in &o.nodes {
        if n.node(&prev.name).is_none() {
            out.push(change(
                s,
                format!("node {} removed (was {})", prev.name, prev.role.value),
                None,
            ));
        }
    }
    match (o.primary(), n.primary()) {
        (Some(a), Some(b)) if a.name != b.name => {
            let renamed = n.node(&a.name).is_none();
            out.push(change(
                s,
                format!("primary moves from {} to {}", a.name, b.name),
                Some(if renamed {
                    "renaming the primary's node bootstraps a new primary: the old data directory is not reused; switch over first, then rename"
                } else {
                    "the topology only says who bootstraps: on a running cluster use the failover manager's switchover, not a redeploy"
                }),
            ));
        }
        _ => {}
    }
    let (os, ns) = (o.synchronous_standby_names(), n.synchronous_standby_names());
    if os != ns {
        let show = |x: &Option<String>| x.clone().unwrap_or_else(|| "asynchronous".to_owned());
        let count = |c: &Cluster| {
            c.replication
                .synchronous
                .as_ref()
                .map_or(0, |x| x.count.value)
        };
        let risk = match (&os, &ns) {
            (_, None) => Some("commits no longer wait for a standby: a failover can lose acknowledged transactions"),
            (None, Some(_)) => Some("commits now wait for the synchronous set: if fewer standbys than `count` are up, writes block"),
            _ if count(n) > count(o) => Some("commits wait for more standbys: if fewer than `count` are up, writes block"),
            _ => Some("commits wait for a different set of standbys: check every new member is streaming and caught up first"),
        };
        out.push(change(
            s,
            format!("synchronous_standby_names: {} → {}", show(&os), show(&ns)),
            risk,
        ));
    }
    // Storage.
    if o.storage.size.value != n.storage.size.value {
        let (a, b) = (
            parse_quantity(&o.storage.size.value),
            parse_quantity(&n.storage.size.value),
        );
        let (verb, risk) = match (a, b) {
            (Some(a), Some(b)) if b < a => ("shrinks", "volumes cannot shrink: a smaller size needs new volumes and a data copy (dump/restore or a new standby), and StatefulSet volumeClaimTemplates are immutable"),
            _ => ("grows", VCT_IMMUTABLE),
        };
        out.push(change(
            s,
            format!(
                "storage {verb}: {} → {}",
                o.storage.size.value, n.storage.size.value
            ),
            Some(risk),
        ));
    }
    let class = |c: &Cluster| {
        c.storage
            .class
            .as_ref()
            .map_or_else(|| "(default)".to_owned(), |x| x.value.clone())
    };
    if class(o) != class(n) {
        out.push(change(s, format!("storage class: {} → {}", class(o), class(n)), Some("existing volumes keep their class; only new volumes use the new one (volumeClaimTemplates are immutable)")));
    }
    // Resources, images, namespace, PDB.
    resources(s, "database", &o.resources, &n.resources, out);
    if o.postgres.image.value != n.postgres.image.value {
        out.push(change(
            s,
            format!(
                "image: {} → {}",
                o.postgres.image.value, n.postgres.image.value
            ),
            Some("a rolling restart of every node; with a failover manager, standbys first"),
        ));
    }
    if o.postgres.version.value != n.postgres.version.value {
        out.push(change(s, format!("PostgreSQL major version: {} → {}", o.postgres.version.value, n.postgres.version.value), Some("a major upgrade needs pg_upgrade or a logical migration; new pods cannot read the old data directory")));
    }
    if o.namespace.value != n.namespace.value {
        out.push(change(
            s,
            format!("namespace: {} → {}", o.namespace.value, n.namespace.value),
            Some("a new namespace is a new cluster: nothing moves the data"),
        ));
    }
    let pdb = |c: &Cluster| c.pdb.as_ref().map(|p| p.min_available.value);
    if pdb(o) != pdb(n) {
        out.push(change(
            s,
            format!("pdb min-available: {} → {}", opt(pdb(o)), opt(pdb(n))),
            None,
        ));
    }
    if let Some(m) = pdb(n) {
        if n.nodes.len() as u32 <= m && o.nodes.len() > n.nodes.len() {
            out.push(change(
                s,
                format!(
                    "scaling to {} node(s) goes below the PDB (min-available {m})",
                    n.nodes.len()
                ),
                Some("evictions are blocked until the PDB is lowered"),
            ));
        }
    }
    // Parameters.
    let patroni = n.failover.manager.value == FailoverManager::Patroni;
    // The new major decides: a change applied together with an upgrade meets the new server.
    let major = n.postgres.version.value;
    for (k, v) in &n.parameters {
        let before = o.parameters.get(k).map(|p| p.to_conf());
        let now = v.to_conf();
        if before.as_deref() != Some(now.as_str()) {
            out.push(change(
                s,
                format!(
                    "parameter {k}: {} → {now}{}",
                    before.unwrap_or_else(|| "(default)".into()),
                    applied_by(patroni, k)
                ),
                restart_risk(patroni, major, k),
            ));
        }
    }
    for (k, v) in &o.parameters {
        if !n.parameters.contains_key(k) {
            out.push(change(
                s,
                format!(
                    "parameter {k}: {} → (default){}",
                    v.to_conf(),
                    applied_by(patroni, k)
                ),
                restart_risk(patroni, major, k),
            ));
        }
    }
    // Poolers.
    for p in &n.poolers {
        match o.poolers.iter().find(|x| x.name == p.name) {
            None => out.push(change(s, format!("pooler {} added", p.name), None)),
            Some(q) => {
                if q.replicas.value != p.replicas.value {
                    out.push(change(
                        s,
                        format!(
                            "pooler {} replicas: {} → {}",
                            p.name, q.replicas.value, p.replicas.value
                        ),
                        None,
                    ));
                }
                let pool = |x: &crate::model::Pooler| {
                    (
                        x.pool.size.value,
                        x.pool.reserve.value,
                        x.pool.max_client_conn.value,
                    )
                };
                if pool(q) != pool(p) {
                    let (a, b) = (pool(q), pool(p));
                    out.push(change(
                        s,
                        format!(
                            "pooler {} pool size/reserve/max-client-conn: {}/{}/{} → {}/{}/{}",
                            p.name, a.0, a.1, a.2, b.0, b.1, b.2
                        ),
                        None,
                    ));
                }
                if q.port.value != p.port.value {
                    out.push(change(
                        s,
                        format!(
                            "pooler {} port: {} → {}",
                            p.name, q.port.value, p.port.value
                        ),
                        Some("clients must be pointed at the new port"),
                    ));
                }
                resources(
                    s,
                    &format!("pooler {}", p.name),
                    &q.resources,
                    &p.resources,
                    out,
                );
            }
        }
    }
    for q in &o.poolers {
        if !n.poolers.iter().any(|x| x.name == q.name) {
            out.push(change(
                s,
                format!("pooler {} removed", q.name),
                Some("clients that connect through it lose their endpoint"),
            ));
        }
    }
    // Balancers: VIPs and ports.
    for b in &n.balancers {
        let Some(ob) = o.balancers.iter().find(|x| x.name == b.name) else {
            continue;
        };
        let vip = |x: &crate::model::Balancer| {
            x.vip
                .as_ref()
                .map(|v| format!("{} router-id {}", v.address.value, v.router_id.value))
        };
        if vip(ob) != vip(b) {
            out.push(change(
                s,
                format!(
                    "vip: {} → {}",
                    vip(ob).unwrap_or_else(|| "none".into()),
                    vip(b).unwrap_or_else(|| "none".into())
                ),
                Some("clients connected to the old VIP are cut off"),
            ));
        }
        for l in &b.listens {
            if let Some(ol) = ob.listens.iter().find(|x| x.name == l.name) {
                if ol.port.value != l.port.value {
                    out.push(change(
                        s,
                        format!(
                            "listen {} port: {} → {}",
                            l.name, ol.port.value, l.port.value
                        ),
                        Some("clients must be pointed at the new port"),
                    ));
                }
            }
        }
    }
    for node in &n.nodes {
        if let Some(prev) = o.node(&node.name) {
            if prev.port.value != node.port.value {
                out.push(change(
                    s,
                    format!(
                        "node {} port: {} → {}",
                        node.name, prev.port.value, node.port.value
                    ),
                    Some("needs a PostgreSQL restart; clients and poolers follow the new port"),
                ));
            }
        }
    }
}

fn opt(v: Option<u32>) -> String {
    v.map_or_else(|| "none".to_owned(), |x| x.to_string())
}

fn resources(s: &str, who: &str, o: &Resources, n: &Resources, out: &mut Vec<Change>) {
    let show = |x: &Option<crate::model::Spanned<String>>| {
        x.as_ref()
            .map_or_else(|| "-".to_owned(), |v| v.value.clone())
    };
    let pairs = [
        ("cpu request", &o.requests.cpu, &n.requests.cpu),
        ("memory request", &o.requests.memory, &n.requests.memory),
        ("cpu limit", &o.limits.cpu, &n.limits.cpu),
        ("memory limit", &o.limits.memory, &n.limits.memory),
    ];
    for (what, a, b) in pairs {
        if show(a) != show(b) {
            out.push(change(
                s,
                format!("{who} {what}: {} → {}", show(a), show(b)),
                Some("pods restart one by one to pick up new resources"),
            ));
        }
    }
}
