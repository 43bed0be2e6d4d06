//! Values for bitnami/postgresql-ha 16.3.x: repmgr-managed PostgreSQL behind Pgpool-II.
//! Key paths follow the chart's values.yaml (tests/helm_validate.rs checks every one of them).

use serde_yaml::{Mapping, Value};

use crate::model::{
    credentials, Cluster, HbaAction, HbaMethod, Pooler, PoolerKind, PoolerTarget, SyncMethod,
};

use super::bitnami_access as access;
use super::charts::{bitnami_legacy, bitnami_tag, labels, resources};
use super::values::{b, int, map, s, set};

/// Pgpool-II's streaming-replication and health check role, and the database it checks in (the
/// chart's `pgpool.srCheckUsername` and `pgpool.srCheckDatabase` defaults).
pub const SR_CHECK_USER: &str = "sr_check_user";
pub const SR_CHECK_DATABASE: &str = "postgres";

/// The chart's default `postgresql.sharedPreloadLibraries` (the image puts `repmgr` first itself).
const DEFAULT_PRELOAD: &str = "pgaudit, repmgr";

/// The pooler the chart's single Pgpool-II Deployment stands for: the first `pgpool` pooler, or else
/// the first pooler of any kind (PT152 reports every pooler the chart cannot render as declared).
pub fn rendered_pooler(c: &Cluster) -> Option<&Pooler> {
    c.poolers
        .iter()
        .find(|p| p.kind.value == PoolerKind::Pgpool)
        .or_else(|| c.poolers.first())
}

/// The chart's `service.ports.postgresql`: the rendered pooler's port, or 5432. In 16.3.x this one
/// value is the port of both Services, Pgpool-II's and PostgreSQL's (`<cluster>-postgresql`), so a
/// standby cluster streaming from the PostgreSQL Service must use it too.
pub fn service_port(c: &Cluster) -> u16 {
    rendered_pooler(c).map_or(5432, |p| p.port.value)
}

/// Whether the chart's `syncReplication` is turned on: whenever the topology asks for synchronous
/// standbys. The chart then makes every standby synchronous (`replicaCount - 1`), which is stronger
/// than asked; turning it off would silently lose the durability the topology declares (PT150 says
/// exactly what differs).
pub fn sync_replication(c: &Cluster) -> bool {
    c.replication.synchronous.is_some() && c.sync_nodes().next().is_some()
}

/// The (database, role) logins Pgpool-II makes to every node from its pods, which pg_hba.conf must
/// let in whatever the client rules say: its replication-delay and health checks
/// (`sr_check_user`), its liveness check (the chart's user, to `postgres`) and its readiness check
/// (the chart's user, to the chart's database, or to the database named like the user). When the
/// cluster declares no `pooler`, the stack plan writes no rows for the clients Pgpool-II forwards
/// (it knows of no forwarder), yet the chart always runs one: each password `allow` rule's
/// database and role are then let in from Pgpool-II's pods too, as the plan does for a declared
/// pooler (Pgpool-II applies the rules to its clients' own addresses itself, [`super::bitnami_access::pool_hba`]).
/// None without an `hba` block: the pod network's rows let every role in already.
pub fn pgpool_logins(c: &Cluster) -> Vec<(String, String)> {
    let Some(h) = &c.hba else {
        return Vec::new();
    };
    let user = username(c);
    let db = c
        .databases
        .first()
        .map_or_else(|| user.clone(), |d| d.name.clone());
    let mut v = vec![(SR_CHECK_DATABASE.to_owned(), SR_CHECK_USER.to_owned())];
    let mut logins = vec![(SR_CHECK_DATABASE.to_owned(), user.clone()), (db, user)];
    if c.poolers.is_empty() {
        logins.extend(
            h.rules
                .iter()
                .filter(|r| r.action == HbaAction::Allow && r.method.value != HbaMethod::Cert)
                .map(|r| (r.database.value.clone(), r.user.value.clone())),
        );
    }
    for login in logins {
        if !v.contains(&login) {
            v.push(login);
        }
    }
    v
}

/// The role the chart creates and connects as (the first database's owner), or `postgres`.
pub fn username(c: &Cluster) -> String {
    c.databases
        .first()
        .and_then(|d| d.owner.as_ref())
        .map_or_else(|| "postgres".to_owned(), |o| o.value.clone())
}

pub fn values(c: &Cluster) -> Value {
    let mut v = Value::Mapping(Mapping::new());
    // A fixed full name makes the Services `<cluster>-postgresql` and `<cluster>-pgpool` whatever
    // the release is called, so standby clusters and clients can be pointed at them.
    set(&mut v, "fullnameOverride", s(c.name.clone()));
    if let Some(l) = labels(c) {
        set(&mut v, "commonLabels", l);
    }

    set(&mut v, "postgresql.replicaCount", int(c.nodes.len() as i64));
    set(
        &mut v,
        "postgresql.image.repository",
        s(bitnami_legacy("postgresql-repmgr")),
    );
    if let Some(tag) = bitnami_tag(c) {
        set(&mut v, "postgresql.image.tag", s(tag));
    }
    set(&mut v, "postgresql.username", s(username(c)));
    if let Some(db) = c.databases.first() {
        set(&mut v, "postgresql.database", s(db.name.clone()));
    }
    set(
        &mut v,
        "postgresql.existingSecret",
        s(c.credentials.secret.value.clone()),
    );
    // The repmgr role is the one that streams WAL; naming it like every other target's replication
    // role lets a standby cluster connect with the same role name.
    set(
        &mut v,
        "postgresql.repmgrUsername",
        s(credentials::REPLICATION_USER),
    );
    let sync = sync_replication(c);
    set(&mut v, "postgresql.syncReplication", b(sync));
    if sync {
        let method = c
            .replication
            .synchronous
            .as_ref()
            .map_or(SyncMethod::First, |x| x.method.value);
        let mode = match method {
            SyncMethod::Any => "ANY",
            SyncMethod::First => "FIRST",
        };
        set(&mut v, "postgresql.syncReplicationMode", s(mode));
    }
    if let Some(conf) = access::extended_conf(c) {
        set(&mut v, "postgresql.extendedConf", s(conf));
    }
    if let Some(libs) = access::preload(c, DEFAULT_PRELOAD) {
        set(&mut v, "postgresql.sharedPreloadLibraries", s(libs));
    }
    // The chart writes its own pg_hba.conf otherwise: password logins for every role from every
    // address. pgtopo's rows replace it, with Pgpool-II's own logins kept in.
    let logins = pgpool_logins(c);
    let logins: Vec<(&str, &str)> = logins
        .iter()
        .map(|(d, u)| (d.as_str(), u.as_str()))
        .collect();
    set(
        &mut v,
        "postgresql.pgHbaConfiguration",
        s(access::pg_hba(c, &logins)),
    );
    if let Some(scripts) = access::init_scripts(c) {
        set(&mut v, "postgresql.initdbScripts", scripts);
    }
    if let Some(env) = access::extra_env_vars(c) {
        set(&mut v, "postgresql.extraEnvVars", env);
    }
    if let Some(secret) = access::tls_secret(c) {
        set(&mut v, "postgresql.tls", access::tls_values(secret));
    }
    if let Some(r) = resources(&c.resources) {
        set(&mut v, "postgresql.resources", r);
    }
    // Soft anti-affinity spreads the nodes over Kubernetes nodes when there are enough of them and
    // still schedules on a one-node cluster such as minikube (the seed's platform).
    set(&mut v, "postgresql.podAntiAffinityPreset", s("soft"));
    if let Some(pdb) = &c.pdb {
        set(&mut v, "postgresql.pdb.create", b(true));
        set(
            &mut v,
            "postgresql.pdb.minAvailable",
            int(i64::from(pdb.min_available.value)),
        );
    }
    network_policy(&mut v, "postgresql");

    let pooler = rendered_pooler(c);
    set(
        &mut v,
        "pgpool.replicaCount",
        int(pooler.map_or(1, |p| i64::from(p.replicas.value))),
    );
    set(
        &mut v,
        "pgpool.existingSecret",
        s(c.credentials.secret.value.clone()),
    );
    if let Some(p) = pooler {
        set(
            &mut v,
            "pgpool.numInitChildren",
            int(i64::from(p.pool.max_client_conn.value)),
        );
        set(&mut v, "pgpool.maxPool", int(i64::from(p.pool.size.value)));
        let lb = p.load_balance_reads && p.target.value != PoolerTarget::Primary;
        set(&mut v, "pgpool.useLoadBalancing", b(lb));
        if let Some(r) = resources(&p.resources) {
            set(&mut v, "pgpool.resources", r);
        }
    }
    set(
        &mut v,
        "pgpool.image.repository",
        s(bitnami_legacy("pgpool")),
    );
    set(&mut v, "pgpool.podAntiAffinityPreset", s("soft"));
    // Pgpool-II checks its clients first, against the same rules (it writes a pool_hba.conf that
    // lets every role in from every address otherwise).
    set(
        &mut v,
        "pgpool.poolHbaConfiguration",
        s(access::pool_hba(c)),
    );
    if let Some(env) = access::pgpool_env_vars(c, &username(c)) {
        set(&mut v, "pgpool.extraEnvVars", env);
    }
    // Pgpool-II serves its clients with the same certificate, and with TLS on it also speaks TLS
    // to the nodes, which `tls mode="require"` asks of every remote login.
    if let Some(secret) = access::tls_secret(c) {
        set(&mut v, "pgpool.tls", access::tls_values(secret));
        // The init containers that copy the certificates run the chart's os-shell image.
        set(
            &mut v,
            "volumePermissions.image.repository",
            s(bitnami_legacy("os-shell")),
        );
    }
    network_policy(&mut v, "pgpool");
    set(
        &mut v,
        "service.ports.postgresql",
        int(i64::from(service_port(c))),
    );

    set(&mut v, "persistence.size", s(c.storage.size.value.clone()));
    if let Some(class) = &c.storage.class {
        set(&mut v, "persistence.storageClass", s(class.value.clone()));
    }
    if let Some(m) = &c.monitoring {
        set(&mut v, "metrics.enabled", b(true));
        set(
            &mut v,
            "metrics.image.repository",
            s(bitnami_legacy("postgres-exporter")),
        );
        set(
            &mut v,
            "metrics.containerPorts.http",
            int(i64::from(m.exporter_port.value)),
        );
        if let Some(env) = access::metrics_env_vars(c) {
            set(&mut v, "metrics.extraEnvVars", env);
        }
    }
    v
}

/// NetworkPolicies stay on (the chart's default), and stay open to other pods of the namespace:
/// the standby cluster, workload Jobs and clients do not carry the chart's client label.
fn network_policy(v: &mut Value, component: &str) {
    set(
        v,
        &format!("{component}.networkPolicy"),
        map([("enabled", b(true)), ("allowExternal", b(true))]),
    );
}
