//! Who may connect, and what exists at bootstrap: the roles and databases a cluster's primary
//! creates (one idempotent SQL script every target runs, each in its own way: an init script, a
//! Patroni post-bootstrap hook, a start-script step) and the pg_hba rows every target writes.

use std::fmt::Write as _;

use crate::model::{
    credentials, Cluster, FailoverManager, HbaAction, HbaMethod, HbaRule, PoolerKind, TlsMode,
};

/// A role the bootstrap creates, with its attributes and where its password comes from.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginRole {
    pub name: String,
    pub replication: bool,
    /// Whether the role may log in (a `role` without `login=#true` is a group role: no password).
    pub login: bool,
    /// `CONNECTION LIMIT`; -1 is PostgreSQL's "no limit".
    pub connection_limit: i32,
    /// The roles granted to this one.
    pub member_of: Vec<String>,
    /// Whether the role has a password (from the credentials): every login role but the health
    /// endpoint's ([`CHECK_USER`]), which logs in by `peer` over the Unix socket alone.
    pub password: bool,
    /// Settings the role always runs with (`ALTER ROLE … SET`), as (name, value).
    pub settings: Vec<(&'static str, &'static str)>,
    /// The key in the cluster's Secret (Kubernetes, Helm).
    pub secret_key: String,
    /// The variable in the cluster's env file (Compose, VM hosts) and in the container's or the
    /// bootstrap script's environment.
    pub env_var: String,
}

impl LoginRole {
    /// The psql variable that carries the password into the bootstrap SQL.
    pub fn psql_var(&self) -> String {
        format!("{}_password", super::params::slot_name(&self.name))
    }

    fn login(name: &str) -> Self {
        LoginRole {
            name: name.to_owned(),
            replication: false,
            login: true,
            connection_limit: -1,
            member_of: Vec::new(),
            password: true,
            settings: Vec::new(),
            secret_key: credentials::owner_password_key(name),
            env_var: credentials::owner_password_var(name),
        }
    }
}

/// Whether pgtopo creates the replication role: only without a failover manager. Patroni,
/// repmgr (bitnami) and pg_autoctl each create the role they replicate with themselves.
pub fn creates_replication_role(c: &Cluster) -> bool {
    c.failover.manager.value == FailoverManager::None
}

/// The roles the bootstrap creates, in this order: the replication role when pgtopo owns it,
/// every declared `role` (merged by name), then every database owner that is not a declared role
/// (a login role, as before roles could be declared).
pub fn login_roles(c: &Cluster) -> Vec<LoginRole> {
    let mut v = Vec::new();
    if creates_replication_role(c) {
        v.push(LoginRole {
            replication: true,
            secret_key: credentials::REPLICATION_PASSWORD_KEY.to_owned(),
            env_var: credentials::REPLICATION_PASSWORD_VAR.to_owned(),
            ..LoginRole::login(credentials::REPLICATION_USER)
        });
    }
    for r in &c.roles {
        v.push(LoginRole {
            login: r.login,
            connection_limit: r.connection_limit.as_ref().map_or(-1, |l| l.value),
            member_of: r.member_of.iter().map(|m| m.value.clone()).collect(),
            ..LoginRole::login(&r.name)
        });
    }
    for d in &c.databases {
        if let Some(o) = &d.owner {
            if !v.iter().any(|r: &LoginRole| r.name == o.value) {
                v.push(LoginRole::login(&o.value));
            }
        }
    }
    v
}

/// The role the health endpoint of a database node logs in as, on clusters with a balancer and
/// no Patroni (Patroni's REST API answers haproxy's checks there): it owns nothing and is granted
/// nothing, since the endpoint reads `pg_is_in_recovery()` and whether a WAL receiver runs, which
/// every role may. It has no password: it is admitted only over the node's Unix socket, by `peer`
/// authentication mapped from the endpoint's OS user ([`HEALTH_OS_USER`], [`HEALTH_IDENT_MAP`]),
/// so neither a balancer host nor the database host holds a password for it, and no `trust` row
/// exists. A connection limit and a statement timeout still bound what the endpoint can cost.
pub const CHECK_USER: &str = "pgtopo_check";

/// The OS user the health endpoint runs as on each database host (a system user with no login,
/// created from the `sysusers.d` file the hosts target writes): the one OS user `peer`
/// authentication maps to [`CHECK_USER`].
pub const HEALTH_OS_USER: &str = "pgtopo-health";

/// The pg_ident.conf map that lets [`HEALTH_OS_USER`] log in as [`CHECK_USER`], and nothing else.
pub const HEALTH_IDENT_MAP: &str = "pgtopo-health";

/// Where the SECURITY DEFINER function PgBouncer's `auth_query` calls lives (schema, function).
pub const POOLER_LOOKUP: &str = "pgtopo.pgbouncer_lookup";

/// Whether the cluster runs a PgBouncer, which logs in as [`credentials::POOLER_AUTH_USER`].
pub fn has_pgbouncer(c: &Cluster) -> bool {
    c.poolers
        .iter()
        .any(|p| p.kind.value == PoolerKind::Pgbouncer)
}

/// Whether every database node runs the health endpoint that haproxy's checks ask, which logs in
/// as [`CHECK_USER`]: a cluster with a balancer and no Patroni (Patroni's REST API answers them).
pub fn has_health_endpoint(c: &Cluster) -> bool {
    !c.balancers.is_empty() && c.failover.manager.value != FailoverManager::Patroni
}

/// Whether the cluster runs a Pgpool-II, which checks the nodes as
/// [`credentials::PGPOOL_CHECK_USER`].
pub fn has_pgpool(c: &Cluster) -> bool {
    c.poolers.iter().any(|p| p.kind.value == PoolerKind::Pgpool)
}

/// Which of pgtopo's own components run beside a cluster's nodes, each logging in as its own
/// role ([`service_roles`]). pgtopo's targets run every component the cluster declares
/// ([`Components::of`]); a chart brings some of its own, which log in as the chart's roles, so a
/// Helm release runs fewer, and its bootstrap creates only the roles of those it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Components {
    /// A metrics exporter per node (`monitoring`).
    pub exporter: bool,
    /// PgBouncer, looking up other roles' secrets through [`POOLER_LOOKUP`].
    pub pgbouncer: bool,
    /// pgtopo's Pgpool-II: its streaming-replication and health checks, and bitnami/pgpool's own
    /// login through it (its health check).
    pub pgpool: bool,
    /// The health endpoint haproxy asks on each node (VM hosts).
    pub health_endpoint: bool,
}

impl Components {
    /// Every component the cluster declares, as pgtopo's own targets run them.
    pub fn of(c: &Cluster) -> Self {
        Components {
            exporter: c.monitoring.is_some(),
            pgbouncer: has_pgbouncer(c),
            pgpool: has_pgpool(c),
            health_endpoint: has_health_endpoint(c),
        }
    }
}

/// The roles pgtopo's own components log in as, each with the one right it needs, never the
/// superuser (docs/security.md): the exporters (`pg_monitor`), PgBouncer's lookup of other roles'
/// secrets (only the [`POOLER_LOOKUP`] function), Pgpool-II's checks (`pg_monitor`) and the
/// nodes' health endpoints (only to connect, over the Unix socket). The components pgtopo's own
/// targets run; [`service_roles_for`] takes the components a package runs.
pub fn service_roles(c: &Cluster) -> Vec<LoginRole> {
    service_roles_for(Components::of(c))
}

/// The roles of the components `run` (see [`service_roles`]).
pub fn service_roles_for(run: Components) -> Vec<LoginRole> {
    let mut v = Vec::new();
    if run.exporter {
        v.push(LoginRole {
            member_of: vec!["pg_monitor".to_owned()],
            // postgres_exporter holds one connection; a few more cover a restart's overlap.
            connection_limit: 5,
            secret_key: credentials::EXPORTER_PASSWORD_KEY.to_owned(),
            env_var: credentials::EXPORTER_PASSWORD_VAR.to_owned(),
            ..LoginRole::login(credentials::EXPORTER_USER)
        });
    }
    if run.pgbouncer {
        v.push(LoginRole {
            secret_key: credentials::POOLER_AUTH_PASSWORD_KEY.to_owned(),
            env_var: credentials::POOLER_AUTH_PASSWORD_VAR.to_owned(),
            ..LoginRole::login(credentials::POOLER_AUTH_USER)
        });
    }
    if run.pgpool {
        // Pgpool-II reads the standbys' replication state from `pg_stat_replication`, whose
        // details only `pg_monitor` (or a superuser) may see. No connection limit: every Pgpool-II
        // child may keep a cached connection as this role (the image's health check logs in
        // through Pgpool-II), and a refused check would take a healthy node out of the pool.
        v.push(LoginRole {
            member_of: vec!["pg_monitor".to_owned()],
            ..LoginRole::login(credentials::PGPOOL_CHECK_USER)
        });
        // bitnami/pgpool's own login through Pgpool-II (its health check): it needs nothing but
        // to connect, to `postgres`.
        v.push(LoginRole::login(credentials::PGPOOL_PROBE_USER));
    }
    if run.health_endpoint {
        v.push(LoginRole {
            password: false,
            // Every listen of every balancer host asks the node's endpoint every few seconds, and
            // each request is one short connection.
            connection_limit: 10,
            settings: vec![("statement_timeout", "2s")],
            secret_key: String::new(),
            env_var: String::new(),
            ..LoginRole::login(CHECK_USER)
        });
    }
    v
}

/// Every role the bootstrap creates: [`login_roles`], then [`service_roles`].
pub fn bootstrap_roles(c: &Cluster) -> Vec<LoginRole> {
    bootstrap_roles_for(c, Components::of(c))
}

/// [`login_roles`], then the roles of the components `run`.
pub fn bootstrap_roles_for(c: &Cluster, run: Components) -> Vec<LoginRole> {
    let mut v = login_roles(c);
    v.extend(service_roles_for(run));
    v
}

/// The roles whose password the bootstrap sets: the login roles of [`bootstrap_roles`] that have
/// one.
pub fn password_roles(c: &Cluster) -> impl Iterator<Item = LoginRole> {
    password_roles_for(c, Components::of(c))
}

/// The login roles with a password of [`bootstrap_roles_for`].
pub fn password_roles_for(c: &Cluster, run: Components) -> impl Iterator<Item = LoginRole> {
    bootstrap_roles_for(c, run)
        .into_iter()
        .filter(|r| r.login && r.password)
}

/// The roles that log in through Pgpool-II besides bitnami/pgpool's own
/// ([`credentials::PGPOOL_PROBE_USER`]), each with its credentials: the database owners, or the
/// superuser when the workloads log in as it ([`workload_login`]: a cluster without an owned
/// database, where nothing else could log in through Pgpool-II).
pub fn pgpool_users(c: &Cluster) -> Vec<LoginRole> {
    let owners = owners(c);
    let mut v: Vec<LoginRole> = password_roles(c)
        .filter(|r| !r.replication && owners.contains(&r.name.as_str()))
        .collect();
    if workload_login(c).2.is_none() {
        v.push(LoginRole {
            secret_key: credentials::SUPERUSER_PASSWORD_KEY.to_owned(),
            env_var: credentials::SUPERUSER_PASSWORD_VAR.to_owned(),
            ..LoginRole::login("postgres")
        });
    }
    v
}

/// The login a workload's scripts use: the owner of the cluster's first database, in that
/// database (least privilege: the load creates its table there as its owner); without an owned
/// first database, the superuser in it (or in `postgres`). Returns (user, database, the owner's
/// role with its credentials when not the superuser).
pub fn workload_login(c: &Cluster) -> (String, String, Option<LoginRole>) {
    match c.databases.first() {
        Some(d) => match &d.owner {
            Some(o) => {
                let role = bootstrap_roles(c).into_iter().find(|r| r.name == o.value);
                (o.value.clone(), d.name.clone(), role)
            }
            None => ("postgres".to_owned(), d.name.clone(), None),
        },
        None => ("postgres".to_owned(), "postgres".to_owned(), None),
    }
}

/// The database owners, each once, in declaration order.
pub fn owners(c: &Cluster) -> Vec<&str> {
    let mut v: Vec<&str> = Vec::new();
    for d in &c.databases {
        if let Some(o) = &d.owner {
            if !v.contains(&o.value.as_str()) {
                v.push(&o.value);
            }
        }
    }
    v
}

/// Whether the cluster's primary has anything to create at bootstrap.
pub fn has_bootstrap(c: &Cluster) -> bool {
    has_bootstrap_for(c, Components::of(c))
}

/// Whether the primary has anything to create when the components `run` are what runs.
pub fn has_bootstrap_for(c: &Cluster, run: Components) -> bool {
    !bootstrap_roles_for(c, run).is_empty()
        || !c.databases.is_empty()
        || !primary_slots(c).is_empty()
}

/// The physical slots the bootstrap creates on the primary: one per standby streaming from it,
/// when the cluster uses slots and pgtopo runs the replication itself (failover managers create
/// their own slots). A cascading standby's slot lives on its upstream, which creates it.
pub fn primary_slots(c: &Cluster) -> Vec<String> {
    if !c.replication.slots || c.failover.manager.value != FailoverManager::None {
        return Vec::new();
    }
    c.standbys()
        .filter(|n| n.upstream.is_none())
        .map(|n| super::params::slot_name(&n.name))
        .collect()
}

/// Modules an extension needs in `shared_preload_libraries`, and whether `CREATE EXTENSION`
/// applies (auto_explain is a module only). The extensions not listed need no preloading.
pub const PRELOADED: &[(&str, bool)] = &[
    ("pg_stat_statements", true),
    ("auto_explain", false),
    ("pg_cron", true),
    ("timescaledb", true),
    ("pgaudit", true),
    ("pg_wait_sampling", true),
    ("pg_stat_kcache", true),
    ("pg_squeeze", true),
    ("pg_qualstats", true),
    ("pg_partman_bgw", false),
    ("citus", true),
];

/// `shared_preload_libraries`: every declared extension that needs preloading, each once, in the
/// order first declared (citus, which must come first, first); `None` when none does.
pub fn preload_libraries(c: &Cluster) -> Option<String> {
    let mut libs: Vec<&str> = Vec::new();
    for e in c.databases.iter().flat_map(|d| &d.extensions) {
        if PRELOADED.iter().any(|(n, _)| *n == e.value) && !libs.contains(&e.value.as_str()) {
            libs.push(&e.value);
        }
    }
    if let Some(i) = libs.iter().position(|l| *l == "citus") {
        let citus = libs.remove(i);
        libs.insert(0, citus);
    }
    (!libs.is_empty()).then(|| libs.join(","))
}

/// Whether `CREATE EXTENSION` applies to `name` (not to a module that is only preloaded).
pub fn is_extension(name: &str) -> bool {
    PRELOADED
        .iter()
        .find(|(n, _)| *n == name)
        .is_none_or(|(_, create)| *create)
}

/// A SQL string literal.
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A SQL identifier, double-quoted.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// The bootstrap SQL, for psql: it creates the roles and databases that do not exist yet and
/// brings their attributes (login, connection limits, memberships) and extensions to what the
/// topology says, so it can run again after a failover, a restart or a change without harm.
/// Passwords are psql variables (`--set=<role>_password=…`, see [`LoginRole::psql_var`]), which
/// psql substitutes as quoted literals, so no password is ever written in a file; a password is
/// set when its role is created. The standbys' slots are created here too when pgtopo runs the
/// replication itself ([`primary_slots`]). Extensions are created in their database, after a
/// `\connect` to it.
pub fn bootstrap_sql(c: &Cluster) -> String {
    bootstrap_sql_for(c, Components::of(c))
}

/// [`bootstrap_sql`] with the roles of the components `run` (a chart's release runs fewer).
pub fn bootstrap_sql_for(c: &Cluster, run: Components) -> String {
    let slots = primary_slots(c);
    let mut s = format!(
        "-- Generated by pgtopo for cluster \"{}\": the roles and databases the topology declares.\n\
         -- Idempotent: each statement creates only what is missing, or sets what the topology says.\n",
        c.name
    );
    // Before any standby exists a commit that waited for a synchronous standby would wait
    // forever (the standbys wait for this primary).
    s.push_str("SET synchronous_commit = local;\n");
    let roles = bootstrap_roles_for(c, run);
    for r in &roles {
        let attrs = match (r.replication, r.login) {
            (true, _) => "REPLICATION LOGIN",
            (false, true) => "LOGIN",
            (false, false) => "NOLOGIN",
        };
        let password = if r.login && r.password {
            format!(" PASSWORD %L', {}, :'{}'", literal(&r.name), r.psql_var())
        } else {
            format!("', {}", literal(&r.name))
        };
        let _ = writeln!(
            s,
            "SELECT format('CREATE ROLE %I WITH {attrs}{password})\n  \
             WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = {name}) \\gexec",
            name = literal(&r.name),
        );
    }
    // Declared roles and pgtopo's own converge to their attributes on every run; memberships are
    // granted once the roles they name exist (a role may be a member of one declared after it).
    let service = service_roles_for(run);
    let converges = |r: &LoginRole| c.role(&r.name).is_some() || service.contains(r);
    for r in roles.iter().filter(|r| converges(r)) {
        let login = if r.login { "LOGIN" } else { "NOLOGIN" };
        let _ = writeln!(
            s,
            "ALTER ROLE {} WITH {login} CONNECTION LIMIT {};",
            ident(&r.name),
            r.connection_limit
        );
        for (k, v) in &r.settings {
            let _ = writeln!(s, "ALTER ROLE {} SET {k} = {};", ident(&r.name), literal(v));
        }
    }
    for r in &roles {
        for m in &r.member_of {
            let _ = writeln!(s, "GRANT {} TO {};", ident(m), ident(&r.name));
        }
    }
    for d in &c.databases {
        let owner = match &d.owner {
            Some(o) => format!(" OWNER %I', {}, {}", literal(&d.name), literal(&o.value)),
            None => format!("', {}", literal(&d.name)),
        };
        let _ = writeln!(
            s,
            "SELECT format('CREATE DATABASE %I{owner})\n  \
             WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = {}) \\gexec",
            literal(&d.name)
        );
        if let Some(l) = &d.connection_limit {
            let _ = writeln!(
                s,
                "ALTER DATABASE {} CONNECTION LIMIT {};",
                ident(&d.name),
                l.value
            );
        }
    }
    for slot in &slots {
        let _ = writeln!(
            s,
            "SELECT pg_create_physical_replication_slot({0})\n  \
             WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = {0});",
            literal(slot)
        );
    }
    // PgBouncer runs its auth_query in the database a client asks for, so the lookup function is
    // in every database: `postgres`, `template1` (databases created later copy it) and each
    // declared one.
    let pooler = run.pgbouncer;
    if pooler {
        for db in ["postgres", "template1"] {
            connect(&mut s, db);
            s.push_str(&pooler_lookup_sql());
        }
    }
    for d in &c.databases {
        let exts: Vec<&str> = d
            .extensions
            .iter()
            .map(|e| e.value.as_str())
            .filter(|e| is_extension(e))
            .collect();
        if exts.is_empty() && !pooler {
            continue;
        }
        connect(&mut s, &d.name);
        if pooler {
            s.push_str(&pooler_lookup_sql());
        }
        for e in exts {
            let _ = writeln!(s, "CREATE EXTENSION IF NOT EXISTS {};", ident(e));
        }
    }
    s
}

/// `\connect` to database `db` (a plain identifier, PT160, so psql takes it unquoted). The new
/// session does not wait for synchronous standbys either: none may exist yet.
fn connect(s: &mut String, db: &str) {
    let _ = writeln!(s, "\\connect {db}\nSET synchronous_commit = local;");
}

/// PgBouncer's lookup of a role's secret (`auth_query`), in the current database: a SECURITY
/// DEFINER function owned by the superuser that runs the bootstrap, which returns the SCRAM secret
/// of a role that may log in and is not a superuser (a pooler is never a way in as a superuser).
/// Only [`credentials::POOLER_AUTH_USER`] may call it, and that role can do nothing else: it
/// never reads `pg_shadow` itself. The search path is pinned, so no object a user creates can
/// stand in for the catalog.
pub fn pooler_lookup_sql() -> String {
    let auth = ident(credentials::POOLER_AUTH_USER);
    format!(
        "CREATE SCHEMA IF NOT EXISTS pgtopo;\n\
         REVOKE ALL ON SCHEMA pgtopo FROM PUBLIC;\n\
         GRANT USAGE ON SCHEMA pgtopo TO {auth};\n\
         CREATE OR REPLACE FUNCTION {POOLER_LOOKUP}(role_name text)\n  \
         RETURNS TABLE (usename name, passwd text)\n  \
         LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp\n  \
         AS $$SELECT usename, passwd FROM pg_catalog.pg_shadow\n      \
         WHERE usename = role_name AND NOT usesuper AND passwd IS NOT NULL$$;\n\
         REVOKE ALL ON FUNCTION {POOLER_LOOKUP}(text) FROM PUBLIC;\n\
         GRANT EXECUTE ON FUNCTION {POOLER_LOOKUP}(text) TO {auth};\n"
    )
}

/// PgBouncer's `auth_query`: the lookup function of [`pooler_lookup_sql`].
pub fn pooler_auth_query() -> String {
    format!("SELECT usename, passwd FROM {POOLER_LOOKUP}($1)")
}

/// One login role's password as the bootstrap's psql takes it: the psql variable the SQL reads
/// (`:'app_password'`) and the environment variable it comes from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PsqlPassword {
    pub var: String,
    pub env: String,
}

/// The passwords the bootstrap SQL reads, one per role that logs in with one.
pub fn psql_passwords(c: &Cluster) -> Vec<PsqlPassword> {
    password_roles(c)
        .map(|r| PsqlPassword {
            var: r.psql_var(),
            env: r.env_var.clone(),
        })
        .collect()
}

/// One pg_hba.conf row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HbaRow {
    /// `local`, `host`, `hostssl`.
    pub kind: &'static str,
    pub database: String,
    pub user: String,
    /// Empty for `local` rows.
    pub address: String,
    /// `scram-sha-256`, `cert`, `peer` or `reject`; never `trust`, `password` or `md5`.
    pub method: &'static str,
    /// Authentication options (`clientcert=verify-full`, `map=…`), empty for none.
    pub options: String,
}

impl HbaRow {
    fn new(kind: &'static str, db: &str, user: &str, addr: &str, method: &'static str) -> Self {
        HbaRow {
            kind,
            database: db.to_owned(),
            user: user.to_owned(),
            address: addr.to_owned(),
            method,
            options: String::new(),
        }
    }

    /// The row as one line with single spaces, as Patroni's `pg_hba` list holds it.
    pub fn line(&self) -> String {
        [
            self.kind,
            &self.database,
            &self.user,
            &self.address,
            self.method,
            &self.options,
        ]
        .iter()
        .filter(|x| !x.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// Where a cluster's nodes run, which decides the addresses pgtopo's own rows name: only what
/// the topology knows, never every address.
pub enum Network<'a> {
    /// VM hosts: the cluster's (and its standby clusters') node addresses, and its balancer
    /// hosts, each as `ADDR/32` (or `/128`).
    Hosts {
        nodes: &'a [String],
        balancers: &'a [String],
    },
    /// Kubernetes pods: pod addresses are not stable and pg_hba.conf cannot name a namespace, so
    /// the private address ranges pod networks are drawn from ([`POD_NETWORKS`]); the
    /// NetworkPolicies keep other namespaces out.
    Pods,
    /// Compose containers: `samenet`, the subnets of the project network the server is on.
    Compose,
}

/// The private ranges (RFC 1918, RFC 4193) a Kubernetes pod network is drawn from: the
/// narrowest rule pg_hba.conf can express for "the pods", which it cannot name.
pub const POD_NETWORKS: &[&str] = &["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

impl Network<'_> {
    fn peers(&self) -> Vec<String> {
        match self {
            Network::Hosts { nodes, .. } => nodes.to_vec(),
            Network::Pods => POD_NETWORKS.iter().map(|s| s.to_string()).collect(),
            Network::Compose => vec!["samenet".to_owned()],
        }
    }

    /// The addresses clients reach the database from when no `hba` block says: the nodes (local
    /// poolers, the failover manager), the balancer hosts (haproxy forwards connections from its
    /// own address), and in containers the network they share.
    fn known(&self) -> Vec<String> {
        match self {
            Network::Hosts { nodes, balancers } => {
                let mut v = nodes.to_vec();
                v.extend(balancers.iter().filter(|b| !nodes.contains(b)).cloned());
                v
            }
            _ => self.peers(),
        }
    }
}

/// The replication role a cluster's standbys stream as, by failover manager.
fn replication_user(c: &Cluster) -> &'static str {
    match c.failover.manager.value {
        FailoverManager::PgAutoFailover => "pgautofailover_replicator",
        _ => credentials::REPLICATION_USER,
    }
}

/// The pg_hba rows of a cluster, first match wins:
/// 1. pgtopo's own: local administration by the `postgres` OS user (peer), the health
///    endpoint's role over the Unix socket (peer, mapped from its OS user), every other local login
///    with a password, password logins over loopback (sidecars such as the exporter),
///    replication as the replication role from the peers, Pgpool-II's check role to `postgres`
///    from the peers in containers, the failover manager's superuser
///    logins (Patroni's own connection and pg_rewind) from the peers, and with poolers or a
///    balancer, the connections they forward from the addresses they run at;
/// 2. the user's `hba` rules in order; without an `hba` block, password logins from what the
///    topology knows ([`Network`]), never from every address.
///
/// With `tls mode="require"` or stricter every remote row is `hostssl`; `method="cert"` rows
/// check the client certificate (`clientcert=verify-full`). Never `trust`: the health endpoint's
/// role logs in by `peer` over the Unix socket ([`CHECK_USER`]).
pub fn hba_rows(c: &Cluster, net: Network) -> Vec<HbaRow> {
    let mut rows = own_rows(c, &net, Components::of(c));
    rows.extend(client_rows(c, &net));
    rows
}

/// The `sslmode` pgtopo's own clients (the exporters) connect with: TLS whenever the cluster has
/// it, required when the cluster requires it (the server's certificate names the node, not the
/// address a sidecar dials, so the name is not verified).
pub fn client_sslmode(c: &Cluster) -> &'static str {
    match c.tls_mode() {
        None => "disable",
        Some(TlsMode::Prefer) => "prefer",
        Some(_) => "require",
    }
}

/// `host`, or `hostssl` when the cluster requires TLS.
fn remote_kind(c: &Cluster) -> &'static str {
    match c.tls_mode() {
        Some(TlsMode::Require) | Some(TlsMode::VerifyFull) => "hostssl",
        _ => "host",
    }
}

const SCRAM: &str = "scram-sha-256";

/// pgtopo's own rows (see [`hba_rows`]), for the components `run` (a chart brings some of its
/// own, which log in as the chart's roles).
pub fn own_rows(c: &Cluster, net: &Network, run: Components) -> Vec<HbaRow> {
    let remote = remote_kind(c);
    let scram = SCRAM;
    let mut rows = vec![HbaRow::new("local", "all", "postgres", "", "peer")];
    // The health endpoint on VM hosts (clusters with a balancer and no Patroni): its role, to
    // `postgres` only, over the Unix socket only, by `peer` mapped from the endpoint's OS user
    // (see [`CHECK_USER`]); before the password row, which would otherwise ask it for one.
    if let (Network::Hosts { .. }, true) = (net, run.health_endpoint) {
        let mut row = HbaRow::new("local", "postgres", CHECK_USER, "", "peer");
        row.options = format!("map={HEALTH_IDENT_MAP}");
        rows.push(row);
    }
    rows.push(HbaRow::new("local", "all", "all", "", scram));
    rows.push(HbaRow::new("host", "all", "all", "127.0.0.1/32", scram));
    rows.push(HbaRow::new("host", "all", "all", "::1/128", scram));
    let peers = net.peers();
    let repl = replication_user(c);
    for a in &peers {
        rows.push(HbaRow::new(remote, "replication", repl, a, scram));
    }
    // Pgpool-II's checks, to `postgres` only, from where Pgpool-II runs: the peers in containers
    // (the hosts target runs no Pgpool-II).
    if run.pgpool && !matches!(net, Network::Hosts { .. }) {
        for user in [
            credentials::PGPOOL_CHECK_USER,
            credentials::PGPOOL_PROBE_USER,
        ] {
            for a in &peers {
                rows.push(HbaRow::new(remote, "postgres", user, a, scram));
            }
        }
    }
    match c.failover.manager.value {
        // Patroni logs in to its own node over TCP as the superuser, and pg_rewind to the new
        // primary; pg_auto_failover's monitor checks the nodes as its health-check role.
        FailoverManager::Patroni => {
            for a in &peers {
                rows.push(HbaRow::new(remote, "all", "postgres", a, scram));
            }
        }
        // pg_auto_failover's keepers rewind as the replication role, and the monitor checks
        // the nodes as its health-check role.
        FailoverManager::PgAutoFailover => {
            for a in &peers {
                rows.push(HbaRow::new(remote, "postgres", repl, a, scram));
                rows.push(HbaRow::new(
                    remote,
                    "postgres",
                    "pgautofailover_monitor",
                    a,
                    scram,
                ));
            }
        }
        FailoverManager::Repmgr => {
            for a in &peers {
                rows.push(HbaRow::new(
                    remote,
                    "repmgr",
                    credentials::REPLICATION_USER,
                    a,
                    scram,
                ));
            }
        }
        FailoverManager::None => {}
    }
    rows
}

/// Rows for the fixed logins of a component a package brings along (Pgpool-II in the
/// bitnami/postgresql-ha chart checks the nodes as its own roles), each `(database, role)` from
/// every peer address of `net`: password logins, over TLS when the cluster requires it, exactly
/// like pgtopo's own rows. An emitter places them between [`own_rows`] and [`client_rows`], so a
/// client rule cannot lock the component out of the nodes it watches.
pub fn component_rows(c: &Cluster, net: &Network, logins: &[(&str, &str)]) -> Vec<HbaRow> {
    let remote = remote_kind(c);
    let peers = net.peers();
    let mut rows = Vec::new();
    for (db, user) in logins {
        for a in &peers {
            rows.push(HbaRow::new(remote, db, user, a, SCRAM));
        }
    }
    rows
}

/// The rows after pgtopo's own: the forwarders and the cluster's `hba` rules, or without an
/// `hba` block, password logins from what the topology knows (see [`hba_rows`]).
pub fn client_rows(c: &Cluster, net: &Network) -> Vec<HbaRow> {
    let remote = remote_kind(c);
    let scram = SCRAM;
    let peers = net.peers();
    let mut rows = Vec::new();
    match &c.hba {
        Some(h) => {
            // Poolers and balancers forward their clients' connections from their own
            // addresses, so the client rules cannot tell those clients apart: the poolers'
            // and balancers' addresses are let in before the rules (their own access rules
            // stand in front).
            let forwarders: Vec<String> = match net {
                Network::Hosts { nodes, balancers } => {
                    let mut v = Vec::new();
                    if c.poolers
                        .iter()
                        .any(|p| p.target.value == crate::model::PoolerTarget::Local)
                    {
                        v.extend(nodes.iter().cloned());
                    }
                    for b in balancers.iter() {
                        if !v.contains(b) {
                            v.push(b.clone());
                        }
                    }
                    v
                }
                _ if !c.poolers.is_empty() => peers.clone(),
                _ => Vec::new(),
            };
            // A forwarded client is let in as the rules let it in (the same database, role and
            // method), from the forwarder's address instead of its own.
            for a in &forwarders {
                for r in h.rules.iter().filter(|r| r.action == HbaAction::Allow) {
                    rows.push(rule_row(remote, r, &r.database.value, &r.user.value, a));
                }
            }
            for r in &h.rules {
                rows.push(rule_row(
                    remote,
                    r,
                    &r.database.value,
                    &r.user.value,
                    &r.address.value,
                ));
            }
        }
        None => {
            for a in net.known() {
                rows.push(HbaRow::new(remote, "all", "all", &a, scram));
            }
        }
    }
    rows
}

/// The cluster's `hba` rules as rows, in order, for a pooler that checks its own clients (it sees
/// their addresses, so it needs no forwarder rows); `None` without an `hba` block.
pub fn rule_rows(c: &Cluster) -> Option<Vec<HbaRow>> {
    let remote = remote_kind(c);
    let h = c.hba.as_ref()?;
    Some(
        h.rules
            .iter()
            .map(|r| {
                rule_row(
                    remote,
                    r,
                    &r.database.value,
                    &r.user.value,
                    &r.address.value,
                )
            })
            .collect(),
    )
}

/// The row of a client rule, from `address`.
fn rule_row(remote: &'static str, r: &HbaRule, db: &str, user: &str, address: &str) -> HbaRow {
    let mut row = HbaRow::new(
        remote,
        db,
        user,
        address,
        match (r.action, r.method.value) {
            (HbaAction::Reject, _) => "reject",
            (HbaAction::Allow, HbaMethod::ScramSha256) => SCRAM,
            (HbaAction::Allow, HbaMethod::Cert) => "cert",
        },
    );
    if row.method == "cert" {
        // Certificate logins always use TLS; the certificate's CN must be the role.
        row.kind = "hostssl";
        row.options = "clientcert=verify-full".to_owned();
    }
    row
}

/// The pg_ident.conf of a node on a VM host, when its cluster runs the health endpoint: the one
/// map that lets the endpoint's OS user log in as [`CHECK_USER`] (and as no other role).
pub fn ident_conf(c: &Cluster) -> Option<String> {
    has_health_endpoint(c).then(|| {
        format!(
            "# pg_ident.conf for cluster \"{}\", generated by pgtopo. Install beside pg_hba.conf.\n\
             # The health endpoint's OS user may log in as its role over the Unix socket (peer),\n\
             # without a password; no other OS user may, and it may log in as no other role.\n\n\
             # MAPNAME       SYSTEM-USERNAME  PG-USERNAME\n\
             {HEALTH_IDENT_MAP:<15} {HEALTH_OS_USER:<16} {CHECK_USER}\n",
            c.name
        )
    })
}

/// The rows as pg_hba.conf's table, with its header line.
pub fn hba_table(rows: &[HbaRow]) -> String {
    let mut s = String::from("# TYPE  DATABASE     USER         ADDRESS              METHOD\n");
    for r in rows {
        let line = format!(
            "{:<7} {:<12} {:<12} {:<20} {} {}",
            r.kind, r.database, r.user, r.address, r.method, r.options
        );
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(targets: &str, body: &str) -> Cluster {
        let src = format!(
            "targets {targets}\ncluster \"c\" {{\n    postgres version=16\n    credentials env-file=\"c.env\"\n{body}}}\n"
        );
        let mut c = crate::driver::compile(&src);
        let p = c
            .program("t")
            .unwrap_or_else(|| panic!("{:#?}", c.diagnostics));
        p.model(None).unwrap().clusters[0].clone()
    }

    /// Without Patroni, the balancer's checks go to each node's health endpoint, whose role logs
    /// in by `peer` over the Unix socket from the endpoint's OS user alone: no row says `trust`,
    /// and the peer row comes before the password row that would otherwise match it.
    #[test]
    fn the_health_endpoint_logs_in_by_peer_and_no_row_trusts() {
        let c = cluster(
            "\"hosts\" \"haproxy\"",
            "    node \"a\" role=\"primary\" host=\"10.0.0.1\"\n    node \"b\" role=\"async\" host=\"10.0.0.2\"\n    balancer \"haproxy\" {\n        host \"lb\" address=\"10.0.0.9\"\n        listen \"rw\" port=5000 target=\"primary\"\n    }\n",
        );
        assert!(has_health_endpoint(&c));
        let nodes = ["10.0.0.1/32".to_owned(), "10.0.0.2/32".to_owned()];
        let lbs = ["10.0.0.9/32".to_owned()];
        let rows = hba_rows(
            &c,
            Network::Hosts {
                nodes: &nodes,
                balancers: &lbs,
            },
        );
        let lines: Vec<String> = rows.iter().map(HbaRow::line).collect();
        assert!(lines.iter().all(|l| !l.contains("trust")), "{lines:#?}");
        let peer = lines
            .iter()
            .position(|l| l == "local postgres pgtopo_check peer map=pgtopo-health")
            .unwrap_or_else(|| panic!("{lines:#?}"));
        let password = lines
            .iter()
            .position(|l| l == "local all all scram-sha-256")
            .unwrap();
        assert!(peer < password, "{lines:#?}");
        assert!(
            !lines
                .iter()
                .any(|l| l.contains(CHECK_USER) && l.starts_with("host")),
            "the check role has no remote row: {lines:#?}"
        );
        let ident = ident_conf(&c).unwrap();
        assert!(
            ident.ends_with("\npgtopo-health   pgtopo-health    pgtopo_check\n"),
            "{ident}"
        );
        let role = service_roles(&c)
            .into_iter()
            .find(|r| r.name == CHECK_USER)
            .unwrap();
        assert!(!role.password && role.member_of.is_empty(), "{role:?}");
    }

    /// A packaging that runs fewer of pgtopo's components (a chart that brings its own
    /// Pgpool-II) creates, lets in and asks passwords for no role of the others.
    #[test]
    fn a_packaging_has_the_roles_of_what_it_runs_only() {
        let c = cluster(
            "\"compose\"",
            "    node \"a\" role=\"primary\"\n    pooler \"pool\" kind=\"pgpool\" target=\"any\" port=5432\n    monitoring {\n        exporter port=9187\n    }\n",
        );
        let all = Components::of(&c);
        assert!(all.pgpool && all.exporter, "{all:?}");
        let run = Components {
            pgpool: false,
            ..all
        };
        let names: Vec<String> = password_roles_for(&c, run).map(|r| r.name).collect();
        assert_eq!(
            names,
            [credentials::REPLICATION_USER, credentials::EXPORTER_USER]
        );
        let sql = bootstrap_sql_for(&c, run);
        assert!(!sql.contains("pgtopo_pgpool"), "{sql}");
        assert!(bootstrap_sql(&c).contains(credentials::PGPOOL_PROBE_USER));
        let rows = own_rows(&c, &Network::Pods, run);
        assert!(
            !rows.iter().any(|r| r.user.starts_with("pgtopo_pgpool")),
            "{rows:#?}"
        );
        let rows = own_rows(&c, &Network::Pods, all);
        assert!(
            rows.iter()
                .any(|r| r.user == credentials::PGPOOL_CHECK_USER),
            "{rows:#?}"
        );
    }

    /// Pgpool-II checks as a pg_monitor role and logs in through itself as a role with no
    /// privilege, both to `postgres` from the peers; the database owners are its clients, the
    /// superuser only without an owned database.
    #[test]
    fn pgpool_checks_as_its_own_roles_never_the_superuser() {
        let pgpool = "    node \"a\" role=\"primary\"\n    node \"b\" role=\"async\"\n    pooler \"pool\" kind=\"pgpool\" target=\"any\" port=5432\n";
        let c = cluster(
            "\"compose\"",
            &format!("{pgpool}    database \"shop\" owner=\"app\"\n"),
        );
        let roles = service_roles(&c);
        let check = roles
            .iter()
            .find(|r| r.name == credentials::PGPOOL_CHECK_USER)
            .unwrap();
        assert_eq!(check.member_of, ["pg_monitor"]);
        let probe = roles
            .iter()
            .find(|r| r.name == credentials::PGPOOL_PROBE_USER)
            .unwrap();
        assert!(probe.member_of.is_empty() && probe.password, "{probe:?}");
        let lines: Vec<String> = hba_rows(&c, Network::Compose)
            .iter()
            .map(HbaRow::line)
            .collect();
        for user in [
            credentials::PGPOOL_CHECK_USER,
            credentials::PGPOOL_PROBE_USER,
        ] {
            assert!(
                lines.contains(&format!("host postgres {user} samenet scram-sha-256")),
                "{lines:#?}"
            );
        }
        let users: Vec<String> = pgpool_users(&c).into_iter().map(|r| r.name).collect();
        assert_eq!(users, ["app"]);
        let ownerless = cluster("\"compose\"", pgpool);
        let users: Vec<String> = pgpool_users(&ownerless)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(users, ["postgres"]);
    }
}
