//! What the bitnami charts (postgresql-ha and postgresql) render of a cluster's access: the roles
//! and databases with their limits, memberships and extensions (the stack plan's bootstrap SQL, run
//! by the chart's init scripts), the pg_hba rows (the plan's rows for a pod network, as the chart's
//! `pgHbaConfiguration`), the server certificate (the chart's `tls` values) and the libraries the
//! extensions preload. Nothing here decides a row or a statement: `plan::access` does; this module
//! only packages it the way both charts take it.

use serde_yaml::Value;

use crate::model::{credentials, Cluster};
use crate::plan::access::{self, Components, LoginRole, Network, PsqlPassword};
use crate::plan::params::TLS_CA;

use super::charts::conf_lines;
use super::values::{b, map, s};

/// The init script's key in the chart's init scripts (a file of /docker-entrypoint-initdb.d).
pub const INIT_SCRIPT: &str = "10-pgtopo-bootstrap.sh";

/// Where both charts' init container copies every file of the TLS Secret, `ca.crt` included.
pub const CERT_DIR: &str = "/opt/bitnami/postgresql/certs";

/// The keys of a `kubernetes.io/tls` Secret (the `tls secret=` contract).
const SECRET_CERT: &str = "tls.crt";
const SECRET_KEY: &str = "tls.key";

/// The environment variable of the PostgreSQL container that carries `r`'s password to the init
/// script: the plan's variable with a `PGTOPO_` prefix. The bitnami images read `POSTGRESQL_*`,
/// `POSTGRES_*` and `REPMGR_*` variables themselves, so a role named `postgresql` would otherwise
/// replace the chart's own password variable.
fn env_name(r: &LoginRole) -> String {
    format!("PGTOPO_{}", r.env_var)
}

/// pgtopo's components a bitnami release runs: only the metrics exporter, which logs in as
/// pgtopo's `pg_monitor` role ([`metrics_env_vars`]).
/// The charts run their own Pgpool-II, which checks the nodes as the chart's `sr_check_user` and
/// logs in as the chart's user; neither runs PgBouncer or the health endpoint. So the release
/// creates, lets in and asks Secret keys for no role of a component it does not run.
pub fn components(c: &Cluster) -> Components {
    Components {
        exporter: c.monitoring.is_some(),
        pgbouncer: false,
        pgpool: false,
        health_endpoint: false,
    }
}

/// The roles the release's bootstrap creates that log in with a password.
fn password_roles(c: &Cluster) -> impl Iterator<Item = LoginRole> {
    access::password_roles_for(c, components(c))
}

/// Whether the release runs the bootstrap: a standby cluster is a copy of its source and creates
/// nothing of its own.
pub fn bootstraps(c: &Cluster) -> bool {
    !c.is_standby_cluster() && access::has_bootstrap_for(c, components(c))
}

/// The Secret keys the init script's passwords come from, with the role each belongs to.
pub fn password_keys(c: &Cluster) -> Vec<(String, String)> {
    if !bootstraps(c) {
        return Vec::new();
    }
    password_roles(c)
        .map(|r| (r.secret_key.clone(), r.name.clone()))
        .collect()
}

/// The container's extra environment (`extraEnvVars`): each password the init script reads, as a
/// reference to its key in the cluster's Secret, so no password is ever written in the values.
pub fn extra_env_vars(c: &Cluster) -> Option<Value> {
    if !bootstraps(c) {
        return None;
    }
    let secret = &c.credentials.secret.value;
    let vars: Vec<Value> = password_roles(c)
        .map(|r| secret_env(&env_name(&r), secret, &r.secret_key))
        .collect();
    (!vars.is_empty()).then_some(Value::Sequence(vars))
}

/// The login roles Pgpool-II must know besides the chart's own user (`chart_user`, whom the chart
/// gives it): every declared login role and database owner with a password. Pgpool-II logs a
/// client in against its own password file before it connects on, so a role missing there could
/// not log in through it.
fn pgpool_users(c: &Cluster, chart_user: &str) -> Vec<LoginRole> {
    if c.is_standby_cluster() {
        return Vec::new();
    }
    access::login_roles(c)
        .into_iter()
        .filter(|r| r.login && r.password && !r.replication && r.name != chart_user)
        .collect()
}

/// Pgpool-II's extra environment (bitnami/postgresql-ha's `pgpool.extraEnvVars`): the roles of
/// [`pgpool_users`] as the image's custom users, whose passwords are `$(VAR)` references that
/// Kubernetes expands from the Secret-sourced variables defined just before, so none is written
/// in the values (the chart sets these variables only from `pgpool.customUsers`, which pgtopo
/// leaves unset). Pgpool-II splits both lists at commas.
pub fn pgpool_env_vars(c: &Cluster, chart_user: &str) -> Option<Value> {
    let users = pgpool_users(c, chart_user);
    if users.is_empty() {
        return None;
    }
    let secret = &c.credentials.secret.value;
    let mut vars: Vec<Value> = users
        .iter()
        .map(|r| secret_env(&env_name(r), secret, &r.secret_key))
        .collect();
    let names: Vec<&str> = users.iter().map(|r| r.name.as_str()).collect();
    let passwords: Vec<String> = users
        .iter()
        .map(|r| format!("$({})", env_name(r)))
        .collect();
    vars.push(map([
        ("name", s("PGPOOL_POSTGRES_CUSTOM_USERS")),
        ("value", s(names.join(","))),
    ]));
    vars.push(map([
        ("name", s("PGPOOL_POSTGRES_CUSTOM_PASSWORDS")),
        ("value", s(passwords.join(","))),
    ]));
    Some(Value::Sequence(vars))
}

/// The charts' exporter (`metrics.extraEnvVars`) as pgtopo's `pg_monitor` role rather than the
/// chart's user (a database owner, or the superuser): the charts name the user and password file
/// in the container's environment and have no working value for another role, so these
/// definitions follow the chart's and replace them (Kubernetes keeps the last definition of a
/// variable). postgres_exporter reads `DATA_SOURCE_PASS_FILE` before `DATA_SOURCE_PASS`, so the
/// chart's file is emptied. `None` without `monitoring`, and for a standby cluster, which has
/// its source's roles.
pub fn metrics_env_vars(c: &Cluster) -> Option<Value> {
    if c.monitoring.is_none() || c.is_standby_cluster() {
        return None;
    }
    let secret = &c.credentials.secret.value;
    Some(Value::Sequence(vec![
        map([
            ("name", s("DATA_SOURCE_USER")),
            ("value", s(credentials::EXPORTER_USER)),
        ]),
        map([("name", s("DATA_SOURCE_PASS_FILE")), ("value", s(""))]),
        secret_env(
            "DATA_SOURCE_PASS",
            secret,
            credentials::EXPORTER_PASSWORD_KEY,
        ),
    ]))
}

/// An environment variable set from key `key` of Secret `secret`.
fn secret_env(name: &str, secret: &str, key: &str) -> Value {
    map([
        ("name", s(name)),
        (
            "valueFrom",
            map([("secretKeyRef", map([("name", s(secret)), ("key", s(key))]))]),
        ),
    ])
}

/// The init scripts (`{INIT_SCRIPT: script}`), or `None` when the release creates nothing.
pub fn init_scripts(c: &Cluster) -> Option<Value> {
    bootstraps(c).then(|| map([(INIT_SCRIPT, s(init_script(c)))]))
}

/// The primary's init script: the stack plan's bootstrap SQL through psql over loopback (or
/// `PGHOST` when set), as the images' own steps connect (the images run it under their own
/// pg_hba.conf or under the chart's, by age; both let the superuser in there with its password).
/// The images run the scripts of /docker-entrypoint-initdb.d once, on the primary's first
/// start, with the server up, and source a script that is not executable (the charts' ConfigMaps
/// are not): the subshell keeps the image's own shell and its options untouched either way, and
/// a failure still fails the start. The superuser logs in with the password the chart gives the
/// image (the postgres one when the chart's user is another role); every other password comes from
/// a `PGTOPO_*` variable set from the Secret ([`extra_env_vars`]), which psql substitutes as a
/// quoted literal.
pub fn init_script(c: &Cluster) -> String {
    let passwords: Vec<PsqlPassword> = password_roles(c)
        .map(|r| PsqlPassword {
            var: r.psql_var(),
            env: env_name(&r),
        })
        .collect();
    let args = crate::emit::text::render(
        "psql-passwords",
        minijinja::context! { passwords => minijinja::Value::from(minijinja::value::Serde(&passwords)) },
    );
    format!(
        "#!/bin/bash\n\
         # Generated by pgtopo for cluster \"{}\": the roles and databases the topology declares, with\n\
         # their limits, memberships and extensions (idempotent). The image runs this once, on the\n\
         # primary's first start; passwords come from the container's environment, never the values.\n\
         (\n\
         export PGHOST=\"${{PGHOST:-127.0.0.1}}\" PGPORT=\"${{POSTGRESQL_PORT_NUMBER:-5432}}\" PGUSER=postgres\n\
         export PGPASSWORD=\"${{POSTGRESQL_POSTGRES_PASSWORD:-${{POSTGRESQL_PASSWORD:?POSTGRESQL_PASSWORD must be set}}}}\"\n\
         psql -v ON_ERROR_STOP=1 --no-psqlrc -X -q --dbname postgres{args} <<'SQL'\n\
         {}SQL\n\
         )\n",
        c.name,
        access::bootstrap_sql_for(c, components(c))
    )
}

/// pg_hba.conf for the chart (`pgHbaConfiguration`): the stack plan's rows for a pod network,
/// with `component` (database, role) logins of the chart's own parts let in from the pod network
/// before the client rules. The bitnami images run PostgreSQL as uid 1001 with no passwd entry,
/// which their entrypoint names `postgres` (nss_wrapper): the plan's `peer` row lets the older
/// images' first-boot steps in as the superuser over the socket before it has a password.
pub fn pg_hba(c: &Cluster, component: &[(&str, &str)]) -> String {
    let net = Network::Pods;
    let mut rows: Vec<access::HbaRow> = access::own_rows(c, &net, components(c));
    rows.extend(access::component_rows(c, &net, component));
    rows.extend(access::client_rows(c, &net));
    let mut s = format!(
        "# Generated by pgtopo for cluster \"{}\": pgtopo's rows for the pod network, then the\n\
         # client rules. Every TCP login authenticates with scram-sha-256 or a client certificate.\n",
        c.name
    );
    s.push_str(&access::hba_table(&rows));
    s
}

/// Pgpool-II's pool_hba.conf (bitnami/postgresql-ha's `pgpool.poolHbaConfiguration`), which
/// replaces the image's own (every role from every address). Pgpool-II sees its clients' own
/// addresses, so it applies the cluster's `hba` rules as written (without an `hba` block, the pod
/// network's rows), after the plan's local and loopback rows, which its probes use (psql over its
/// socket, with a password). Certificate rows are left out: Pgpool-II knows no CA here and cannot
/// pass a certificate on (PT155), and its file takes no `clientcert=` option.
pub fn pool_hba(c: &Cluster) -> String {
    let net = Network::Pods;
    let local = access::own_rows(c, &net, components(c))
        .into_iter()
        .filter(|r| {
            (r.kind == "local" && r.method != "peer")
                || r.address.starts_with("127.")
                || r.address.starts_with("::1/")
        });
    let clients = access::rule_rows(c).unwrap_or_else(|| access::client_rows(c, &net));
    let rows: Vec<access::HbaRow> = local
        .chain(clients.into_iter().filter(|r| r.method != "cert"))
        .collect();
    let mut s = format!(
        "# Generated by pgtopo for cluster \"{}\": who may log in through Pgpool-II, first match wins.\n",
        c.name
    );
    s.push_str(&access::hba_table(&rows));
    s
}

/// The `tls` Secret the chart mounts, when the cluster has one.
pub fn tls_secret(c: &Cluster) -> Option<&str> {
    c.tls.as_ref()?.secret.as_ref().map(|s| s.value.as_str())
}

/// The chart's `tls` values for the cluster's Secret: the certificate and key by the Secret's
/// key names (the chart copies every file of the Secret, so the CA is there too).
pub fn tls_values(secret: &str) -> Value {
    map([
        ("enabled", b(true)),
        ("certificatesSecret", s(secret)),
        ("certFilename", s(SECRET_CERT)),
        ("certKeyFilename", s(SECRET_KEY)),
    ])
}

/// The extended configuration (a file in `conf.d`, read after the chart's postgresql.conf): the
/// cluster's parameters, and with TLS the CA that checks client certificates. The charts set the
/// certificate and key themselves, but their CA setting (`certCAFilename`, which postgresql-ha's
/// PostgreSQL does not have) also adds a `cert` row for every address in front of pgtopo's rows.
pub fn extended_conf(c: &Cluster) -> Option<String> {
    let mut conf = conf_lines(c).unwrap_or_default();
    if tls_secret(c).is_some() {
        conf.push_str(&format!("ssl_ca_file = '{CERT_DIR}/{TLS_CA}'\n"));
    }
    (!conf.is_empty()).then_some(conf)
}

/// The chart's preload list with the libraries the declared extensions need (pgtopo owns
/// `shared_preload_libraries`), after the chart's own `default` ones; `None` when no extension
/// needs preloading.
pub fn preload(c: &Cluster, default: &str) -> Option<String> {
    access::preload_libraries(c).map(|libs| format!("{default}, {libs}"))
}
