//! Values for the CloudNativePG `cluster` chart 0.8.x: the operator does failover, so any failover
//! manager maps onto it. Checked against the chart's values.schema.json in tests/helm_validate.rs.

use serde_yaml::{Mapping, Value};

use crate::model::{Cluster, Database, PoolMode, Pooler, PoolerTarget, SyncMethod, Topology};
use crate::plan::access;

use super::charts::{cnpg_image, labels, resources, CNPG_FIXED_PARAMETERS};
use super::cnpg_backup;
use super::values::{b, int, map, s, set};

/// The CloudNativePG Pooler type for a topology pooler: `rw` reaches the primary, `ro` the
/// standbys. CloudNativePG has no pooler over every node, so `any` becomes `rw` (PT152 says so):
/// sending everything to the primary is always correct, only slower.
pub fn pooler_type(p: &Pooler) -> &'static str {
    match p.target.value {
        PoolerTarget::Replicas => "ro",
        PoolerTarget::Primary | PoolerTarget::Any | PoolerTarget::Local => "rw",
    }
}

/// The synchronous standbys CloudNativePG maintains: `{method, number}` from the sync roles.
pub fn synchronous(c: &Cluster) -> Option<(SyncMethod, u32)> {
    let sync = c.replication.synchronous.as_ref()?;
    c.sync_nodes().next()?;
    Some((sync.method.value, sync.count.value))
}

/// Whether the cluster is a copy of another (a restore from its backups, or a replica cluster):
/// its data, its databases included, comes from the source, so it runs no initdb and declares no
/// databases to the operator.
pub fn is_copy(t: &Topology, c: &Cluster) -> bool {
    !cnpg_backup::recovery(t, c).is_empty() || !cnpg_backup::replica(t, c).is_empty()
}

pub fn values(t: &Topology, c: &Cluster) -> Value {
    let mut v = Value::Mapping(Mapping::new());
    // A restored cluster bootstraps from its source's backups, a replica cluster from its
    // source; either way the data, its databases included, comes from the source.
    let copied = [cnpg_backup::recovery(t, c), cnpg_backup::replica(t, c)].concat();
    // A fixed full name makes the Cluster resource `<cluster>` and its Services `<cluster>-rw`,
    // `<cluster>-ro`, `<cluster>-r` whatever the release is called.
    set(&mut v, "fullnameOverride", s(c.name.clone()));
    // The type decides only what initdb creates (the image is written below), so a copy, which
    // runs no initdb, leaves it out.
    if copied.is_empty() {
        set(&mut v, "type", s("postgresql"));
        set(&mut v, "mode", s("standalone"));
    }
    for (path, value) in &copied {
        set(&mut v, path, value.clone());
    }
    set(
        &mut v,
        "version.postgresql",
        s(c.postgres.version.value.to_string()),
    );

    set(&mut v, "cluster.instances", int(c.nodes.len() as i64));
    set(&mut v, "cluster.imageName", s(cnpg_image(c)));
    set(
        &mut v,
        "cluster.storage.size",
        s(c.storage.size.value.clone()),
    );
    if let Some(class) = &c.storage.class {
        set(
            &mut v,
            "cluster.storage.storageClass",
            s(class.value.clone()),
        );
    }
    if let Some(r) = resources(&c.resources) {
        set(&mut v, "cluster.resources", r);
    }
    // The operator's slots for its standbys follow `replication { slots }`.
    set(
        &mut v,
        "cluster.replicationSlots.highAvailability.enabled",
        b(c.replication.slots),
    );
    // Preferred (not required) anti-affinity per Kubernetes node: instances spread out when the
    // cluster has the nodes, and still schedule on a one-node development cluster.
    set(
        &mut v,
        "cluster.affinity",
        map([
            ("enablePodAntiAffinity", b(true)),
            ("podAntiAffinityType", s("preferred")),
            ("topologyKey", s("kubernetes.io/hostname")),
        ]),
    );
    if c.pdb.is_some() {
        set(&mut v, "cluster.enablePDB", b(true));
    }
    if let Some(l) = labels(c) {
        set(&mut v, "cluster.additionalLabels", l);
    }
    if c.monitoring.is_some() {
        set(
            &mut v,
            "cluster.monitoring",
            map([
                ("enabled", b(true)),
                ("podMonitor", map([("enabled", b(true))])),
            ]),
        );
    }
    // CloudNativePG takes every parameter as a string, exactly as postgresql.conf would read it
    // unquoted; the ones its operator fixes are left out (PT154).
    let mut params: Vec<(String, Value)> = c
        .parameters
        .iter()
        .filter(|(k, _)| !CNPG_FIXED_PARAMETERS.contains(&k.as_str()))
        .map(|(k, p)| (k.clone(), s(p.to_plain())))
        .collect();
    params.extend(
        managed_extension_parameters(c)
            .into_iter()
            .map(|(k, x)| (k.to_owned(), s(x))),
    );
    if !params.is_empty() {
        set(&mut v, "cluster.postgresql.parameters", map(params));
    }
    if let Some((method, number)) = synchronous(c) {
        set(
            &mut v,
            "cluster.postgresql.synchronous",
            map([
                ("method", s(method.as_str())),
                ("number", int(i64::from(number))),
            ]),
        );
    }
    // initdb runs only in standalone mode; a copy's databases are its source's. initdb creates
    // the first database and its owner, whose password the operator keeps in `<cluster>-app`
    // (the Secret applications read); everything else about every database, the first included,
    // is the `databases` list below, which the operator keeps converging after initdb.
    if let Some(db) = c.databases.first().filter(|_| copied.is_empty()) {
        let mut init = vec![("database", s(db.name.clone()))];
        if let Some(o) = &db.owner {
            init.push(("owner", s(o.value.clone())));
        }
        set(&mut v, "cluster.initdb", map(init));
    }
    if copied.is_empty() {
        let dbs = databases(c);
        if !dbs.is_empty() {
            set(&mut v, "databases", Value::Sequence(dbs));
        }
    }
    let roles = roles(c);
    if !roles.is_empty() {
        set(&mut v, "cluster.roles", Value::Sequence(roles));
    }
    if let Some(libs) = access::preload_libraries(c) {
        set(
            &mut v,
            "cluster.postgresql.shared_preload_libraries",
            Value::Sequence(libs.split(',').map(|l| s(l.to_owned())).collect()),
        );
    }
    set(
        &mut v,
        "cluster.postgresql.pg_hba",
        Value::Sequence(pg_hba(c)),
    );
    if let Some(secret) = c.tls.as_ref().and_then(|t| t.secret.as_ref()) {
        // A kubernetes.io/tls Secret holds the server certificate and key, and ca.crt.
        set(
            &mut v,
            "cluster.certificates",
            map([
                ("serverTLSSecret", s(secret.value.clone())),
                ("serverCASecret", s(secret.value.clone())),
            ]),
        );
    }

    if let Some(backups) = cnpg_backup::backups(c) {
        set(&mut v, "backups", backups);
    }

    if !c.poolers.is_empty() {
        let poolers = c
            .poolers
            .iter()
            .filter(|p| p.target.value != PoolerTarget::Local)
            .map(|p| pooler(c, p))
            .collect();
        set(&mut v, "poolers", Value::Sequence(poolers));
    }
    v
}

/// The extensions CloudNativePG's instance manager creates and drops itself ("managed
/// extensions"), with a parameter of each one's namespace and that parameter's PostgreSQL default.
/// The operator keeps such an extension in every database while any `<namespace>.*` parameter is
/// set, and drops it from every database otherwise, even one a Database object lists.
pub const CNPG_MANAGED_EXTENSIONS: &[(&str, &str, &str)] = &[
    ("pg_stat_statements", "pg_stat_statements.track", "top"),
    ("pgaudit", "pgaudit.log", "none"),
];

/// The parameters that keep the operator from dropping a managed extension a database declares:
/// for each one no declared parameter of its namespace covers, its namespace's parameter at the
/// value PostgreSQL would use anyway, so the server behaves exactly as without it. The operator
/// then creates the extension in every database that accepts connections, not only the
/// declaring ones (docs/targets/helm.md).
pub fn managed_extension_parameters(c: &Cluster) -> Vec<(&'static str, &'static str)> {
    CNPG_MANAGED_EXTENSIONS
        .iter()
        .filter(|(ext, _, _)| {
            c.databases
                .iter()
                .any(|d| d.extensions.iter().any(|e| e.value == *ext))
        })
        .filter(|(ext, _, _)| {
            let prefix = format!("{ext}.");
            !c.parameters.keys().any(|k| k.starts_with(&prefix))
        })
        .map(|(_, param, default)| (*param, *default))
        .collect()
}

/// Database names CloudNativePG refuses in a `Database` object (the CRD's CEL rules): every
/// cluster has them already.
pub const CNPG_RESERVED_DATABASES: &[&str] = &["postgres", "template0", "template1"];

/// The name the chart gives the `Database` object of database `name`: `<cluster>-<name>` with
/// each `_` made `-` (templates/databases.yaml).
pub fn database_object(c: &Cluster, name: &str) -> String {
    format!("{}-{}", c.name, name.replace('_', "-"))
}

/// Why the chart cannot render a `Database` object for database `name`, if it cannot: the
/// operator refuses the reserved names, and the API server a name that is not a DNS subdomain
/// (a database name ending in `_` gives an object name ending in `-`).
pub fn database_refused(c: &Cluster, name: &str) -> Option<String> {
    if CNPG_RESERVED_DATABASES.contains(&name) {
        return Some(format!(
            "CloudNativePG reserves the name \"{name}\" and refuses a Database object for it"
        ));
    }
    let object = database_object(c, name);
    object.ends_with('-').then(|| {
        format!("the chart would name its Database object \"{object}\", which is not a valid Kubernetes name (it ends in '-')")
    })
}

/// The owner the `Database` object of `d` names: the declared one, else the role that owns the
/// database without one. initdb makes the first database's owner a role named after it (the
/// operator's default), so its object names that role and never fights initdb; the others belong
/// to the superuser, `postgres`, as the bootstrap SQL of the other targets leaves them.
pub fn database_owner(c: &Cluster, d: &Database) -> String {
    match &d.owner {
        Some(o) => o.value.clone(),
        None if c.databases.first().is_some_and(|f| f.name == d.name) => d.name.clone(),
        None => "postgres".to_owned(),
    }
}

/// The chart's `databases` list: one CloudNativePG `Database` object per declared database the
/// chart can name ([`database_refused`]), with its owner, connection limit and extensions. Each
/// says `ensure: present` (created when missing, altered to match otherwise, so the database
/// initdb made is adopted, not created twice) and `databaseReclaimPolicy: retain` (deleting the
/// release or the object never drops a database and its data). Every owner is a managed role
/// ([`roles`], which lists every owner) or initdb's.
pub fn databases(c: &Cluster) -> Vec<Value> {
    c.databases
        .iter()
        .filter(|d| database_refused(c, &d.name).is_none())
        .map(|d| {
            let mut pairs = vec![
                ("name", s(d.name.clone())),
                ("owner", s(database_owner(c, d))),
                ("ensure", s("present")),
            ];
            if let Some(l) = &d.connection_limit {
                // The chart writes the limit under `{{- with .connectionLimit }}`, which skips a
                // 0 (false to Go templates); the string "0" is not skipped and renders as the
                // number 0, which the CRD's integer field takes.
                let limit = match l.value {
                    0 => s("0"),
                    n => int(i64::from(n)),
                };
                pairs.push(("connectionLimit", limit));
            }
            let exts: Vec<Value> = d
                .extensions
                .iter()
                .filter(|e| access::is_extension(&e.value))
                .map(|e| map([("name", s(e.value.clone())), ("ensure", s("present"))]))
                .collect();
            if !exts.is_empty() {
                pairs.push(("extensions", Value::Sequence(exts)));
            }
            pairs.push(("databaseReclaimPolicy", s("retain")));
            map(pairs)
        })
        .collect()
}

/// The operator's managed roles: every role the bootstrap would create but the replication role
/// (the operator streams as its own), with its login, connection limit and memberships. A login
/// role's password comes from a basic-auth Secret `<credentials secret>-<role>` (the operator
/// cannot read one key of the topology's Secret; PT155 says so).
pub fn roles(c: &Cluster) -> Vec<Value> {
    access::login_roles(c)
        .into_iter()
        .filter(|r| !r.replication)
        .map(|r| {
            let mut pairs = vec![
                ("name", s(r.name.clone())),
                ("ensure", s("present")),
                ("login", b(r.login)),
                ("connectionLimit", int(i64::from(r.connection_limit))),
            ];
            if !r.member_of.is_empty() {
                pairs.push((
                    "inRoles",
                    Value::Sequence(r.member_of.iter().map(|m| s(m.clone())).collect()),
                ));
            }
            if r.login {
                pairs.push((
                    "passwordSecret",
                    map([("name", s(role_secret(c, &r.name)))]),
                ));
            }
            map(pairs)
        })
        .collect()
}

/// The login roles of [`roles`] with the basic-auth Secret each one's password is read from:
/// the Secrets that must exist before the release for the operator to create those roles (and
/// the databases they own).
pub fn role_secrets(c: &Cluster) -> Vec<(String, String)> {
    access::login_roles(c)
        .into_iter()
        .filter(|r| !r.replication && r.login)
        .map(|r| {
            let secret = role_secret(c, &r.name);
            (r.name, secret)
        })
        .collect()
}

/// The basic-auth Secret the operator reads a login role's password from.
pub fn role_secret(c: &Cluster, role: &str) -> String {
    format!("{}-{}", c.credentials.secret.value, role.replace('_', "-"))
}

/// The rows the operator appends to its own pg_hba.conf (which handles local logins, its
/// replication and its poolers, and ends with a password login from every address): the
/// cluster's `hba` rules, or the pod network, and then a reject of every other address, so that
/// the operator's last row never lets every address in.
pub fn pg_hba(c: &Cluster) -> Vec<Value> {
    let rows = access::client_rows(c, &access::Network::Pods);
    let kind = rows.first().map_or("host", |r| r.kind);
    let mut out: Vec<Value> = rows.iter().map(|r| s(r.line())).collect();
    for any in ["0.0.0.0/0", "::/0"] {
        out.push(s(format!("{kind} all all {any} reject")));
    }
    out
}

fn pooler(c: &Cluster, p: &Pooler) -> Value {
    let mode = match p.mode.value {
        PoolMode::Session => "session",
        PoolMode::Transaction => "transaction",
        PoolMode::Statement => "statement",
    };
    let mut pairs = vec![
        ("name", s(p.name.clone())),
        ("type", s(pooler_type(p))),
        ("instances", int(i64::from(p.replicas.value))),
        ("poolMode", s(mode)),
        (
            "parameters",
            map([
                ("default_pool_size", s(p.pool.size.value.to_string())),
                ("reserve_pool_size", s(p.pool.reserve.value.to_string())),
                (
                    "max_client_conn",
                    s(p.pool.max_client_conn.value.to_string()),
                ),
            ]),
        ),
    ];
    if c.monitoring.is_some() {
        // The chart renders a pooler's PodMonitor only when both switches are on; without
        // monitoring the keys are left out (the template checks each level before reading it), as
        // `false` there would be values the chart renders exactly like their absence.
        pairs.push((
            "monitoring",
            map([
                ("enabled", b(true)),
                ("podMonitor", map([("enabled", b(true))])),
            ]),
        ));
    }
    if let Some(r) = resources(&p.resources) {
        // The Pooler's pod template merges a container named `pgbouncer` into the operator's own.
        pairs.push((
            "template",
            map([(
                "spec",
                map([(
                    "containers",
                    Value::Sequence(vec![map([("name", s("pgbouncer")), ("resources", r)])]),
                )]),
            )]),
        ));
    }
    map(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(body: &str) -> Cluster {
        let src = format!(
            "targets \"helm\"\ncluster \"db\" {{\n    postgres version=16\n    node \"db-0\" role=\"primary\"\n{body}}}\n"
        );
        let p = crate::driver::compile(&src).program("t").unwrap();
        p.base.clusters[0].clone()
    }

    fn names(v: &[Value]) -> Vec<(&str, &str)> {
        v.iter()
            .map(|d| (d["name"].as_str().unwrap(), d["owner"].as_str().unwrap()))
            .collect()
    }

    /// Without `owner=`, the first database keeps initdb's owner (named after it) and the others
    /// the superuser; names the chart cannot turn into a Database object are left out.
    #[test]
    fn every_nameable_database_with_its_owner() {
        let c = cluster(
            "    database \"app\"\n    database \"events\"\n    database \"sales\" owner=\"seller\"\n    database \"postgres\"\n    database \"tmp_\"\n",
        );
        assert_eq!(
            names(&databases(&c)),
            [("app", "app"), ("events", "postgres"), ("sales", "seller")]
        );
        assert!(database_refused(&c, "template1").is_some());
        assert!(database_refused(&c, "tmp_").is_some());
        assert!(database_refused(&c, "_tmp").is_none());
        assert_eq!(database_object(&c, "audit_log"), "db-audit-log");
    }

    /// A limit of 0 is a string, which the chart's `with` does not skip; others are numbers.
    #[test]
    fn a_zero_limit_survives_the_chart() {
        let c = cluster(
            "    database \"a\" connection-limit=0\n    database \"b\" connection-limit=7\n",
        );
        let dbs = databases(&c);
        assert_eq!(dbs[0]["connectionLimit"], s("0"));
        assert_eq!(dbs[1]["connectionLimit"], int(7));
    }

    /// A declared managed extension gets its namespace's parameter, unless one is declared.
    #[test]
    fn managed_extensions_keep_a_parameter() {
        let c = cluster("    database \"a\" {\n        extension \"pg_stat_statements\"\n        extension \"pgaudit\"\n    }\n    parameters {\n        pgaudit.log \"ddl\"\n    }\n");
        assert_eq!(
            managed_extension_parameters(&c),
            [("pg_stat_statements.track", "top")]
        );
    }
}
