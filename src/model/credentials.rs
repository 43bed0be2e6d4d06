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
