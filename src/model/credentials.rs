//! The credential contract: the names of the keys every target reads from the Secret (Kubernetes,
//! Helm) or of the variables it reads from the env file (Compose, VM hosts). The topology only
//! names *where* credentials live; these are the names inside. Documented in docs/language.md.

/// Superuser (`postgres`) password.
pub const SUPERUSER_PASSWORD_KEY: &str = "postgres-password";
pub const SUPERUSER_PASSWORD_VAR: &str = "POSTGRES_PASSWORD";
/// Password of the replication role.
pub const REPLICATION_PASSWORD_KEY: &str = "replication-password";
pub const REPLICATION_PASSWORD_VAR: &str = "REPLICATION_PASSWORD";
/// Name of the replication role that standbys connect as.
pub const REPLICATION_USER: &str = "replicator";

/// Secret key holding a database owner's password: `<owner>-password`.
pub fn owner_password_key(owner: &str) -> String {
    format!("{owner}-password")
}

/// Env-file variable holding a database owner's password: `<OWNER>_PASSWORD`, with any character
/// that is not a letter or digit turned into `_`.
pub fn owner_password_var(owner: &str) -> String {
    let up: String = owner
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("{up}_PASSWORD")
}

/// Password of pg_auto_failover's `autoctl_node` role, which nodes use to reach the monitor
/// (clusters with `failover "pg_auto_failover"` only).
pub const MONITOR_PASSWORD_KEY: &str = "monitor-password";
pub const MONITOR_PASSWORD_VAR: &str = "MONITOR_PASSWORD";

/// The role every exporter logs in as: a member of `pg_monitor`, never the superuser (clusters
/// with `monitoring` only).
pub const EXPORTER_USER: &str = "pgtopo_exporter";
pub const EXPORTER_PASSWORD_KEY: &str = "exporter-password";
pub const EXPORTER_PASSWORD_VAR: &str = "EXPORTER_PASSWORD";

/// The role PgBouncer logs in as to look other roles' secrets up (`auth_query`), through a
/// SECURITY DEFINER function; it holds no other privilege (clusters with a PgBouncer only).
pub const POOLER_AUTH_USER: &str = "pgbouncer_auth";
pub const POOLER_AUTH_PASSWORD_KEY: &str = "pgbouncer-auth-password";
pub const POOLER_AUTH_PASSWORD_VAR: &str = "PGBOUNCER_AUTH_PASSWORD";

/// Password of Patroni's REST API for changes (`restapi.authentication`; user `patroni`).
pub const PATRONI_REST_USER: &str = "patroni";
pub const PATRONI_REST_PASSWORD_KEY: &str = "patroni-rest-password";
pub const PATRONI_REST_PASSWORD_VAR: &str = "PATRONI_REST_PASSWORD";
