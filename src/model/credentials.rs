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

/// The role Pgpool-II checks the nodes as (`sr_check_user`, `health_check_user`): a member of
/// `pg_monitor`, never the superuser (clusters with a Pgpool-II only). Its password follows the
/// `<role>-password` rule. It must not be in Pgpool-II's pool_passwd: bitnami/pgpool's
/// pool_hba.conf trusts the streaming-replication check user, so a role in pool_passwd under that
/// name would log anyone in through Pgpool-II without a password.
pub const PGPOOL_CHECK_USER: &str = "pgtopo_pgpool";

/// The role bitnami/pgpool logs in as through Pgpool-II itself (`PGPOOL_POSTGRES_USERNAME`: its
/// pool_passwd entry and its container health check, `SHOW pool_nodes` and `SELECT 1`): a role
/// with no privilege, never the superuser (clusters with a Pgpool-II only).
pub const PGPOOL_PROBE_USER: &str = "pgtopo_pgpool_probe";

/// Password of Pgpool-II's PCP administrator (`admin`, not a database role) in a Kubernetes
/// Secret; on Compose the env-file variable `PGPOOL_ADMIN_PASSWORD`.
pub const PGPOOL_ADMIN_PASSWORD_KEY: &str = "pgpool-admin-password";

/// Password of Patroni's REST API for changes (`restapi.authentication`; user `patroni`).
pub const PATRONI_REST_USER: &str = "patroni";
pub const PATRONI_REST_PASSWORD_KEY: &str = "patroni-rest-password";
pub const PATRONI_REST_PASSWORD_VAR: &str = "PATRONI_REST_PASSWORD";

/// The keys of a backup repository's `credentials-secret` (Kubernetes and Helm), per object store:
/// the names CloudNativePG's chart reads for barman-cloud, which pgtopo's Kubernetes manifests
/// read too for pgBackRest, so that one Secret serves both targets. With the key's meaning.
pub fn repository_secret_keys(
    kind: super::RepositoryKind,
) -> &'static [(&'static str, &'static str)] {
    use super::RepositoryKind::*;
    match kind {
        S3 => &[
            (S3_ACCESS_KEY_ID_KEY, "the access key id"),
            (S3_SECRET_ACCESS_KEY_KEY, "the secret access key"),
        ],
        Gcs => &[(
            GCS_APPLICATION_CREDENTIALS_KEY,
            "the service account's JSON key",
        )],
        Azure => &[
            (AZURE_STORAGE_ACCOUNT_KEY, "the storage account name"),
            (
                AZURE_STORAGE_SAS_TOKEN_KEY,
                "a shared access signature token",
            ),
        ],
        Posix => &[],
    }
}

pub const S3_ACCESS_KEY_ID_KEY: &str = "ACCESS_KEY_ID";
pub const S3_SECRET_ACCESS_KEY_KEY: &str = "ACCESS_SECRET_KEY";
pub const GCS_APPLICATION_CREDENTIALS_KEY: &str = "APPLICATION_CREDENTIALS";
pub const AZURE_STORAGE_ACCOUNT_KEY: &str = "AZURE_STORAGE_ACCOUNT";
pub const AZURE_STORAGE_SAS_TOKEN_KEY: &str = "AZURE_STORAGE_SAS_TOKEN";
