//! The three charts pgtopo renders, their coordinates, their naming rules, and the images they run.

use crate::model::{Cluster, HelmChart, Resources, Topology};

use super::values::{map, s};
use serde_yaml::Value;

/// Where a chart comes from and which version the emitted values were written against.
pub struct ChartInfo {
    /// `helm repo add <repo_name> <repo_url>`.
    pub repo_name: &'static str,
    pub repo_url: &'static str,
    /// `<repo_name>/<chart>` as `helm upgrade --install` takes it.
    pub reference: &'static str,
    /// The chart version the values were checked against (`--version`).
    pub version: &'static str,
}

pub fn info(chart: HelmChart) -> ChartInfo {
    match chart {
        HelmChart::BitnamiPostgresqlHa => ChartInfo {
            repo_name: "bitnami",
            repo_url: "https://charts.bitnami.com/bitnami",
            reference: "bitnami/postgresql-ha",
            version: "16.3.4",
        },
        HelmChart::BitnamiPostgresql => ChartInfo {
            repo_name: "bitnami",
            repo_url: "https://charts.bitnami.com/bitnami",
            reference: "bitnami/postgresql",
            version: "17.1.0",
        },
        HelmChart::Cnpg => ChartInfo {
            repo_name: "cnpg",
            repo_url: "https://cloudnative-pg.github.io/charts",
            reference: "cnpg/cluster",
            version: "0.8.1",
        },
    }
}

/// Where the bitnami charts' images pull from today. Since August 2025 Bitnami publishes versioned
/// tags under `docker.io/bitnami/` no more; every existing tag was copied to `docker.io/bitnamilegacy/`,
/// which serves them (frozen). The charts' pinned defaults are such tags, so the values point each
/// image the release runs at the same repository under `bitnamilegacy` (the charts accept that
/// substitution with a warning only, since every replaced image is a bitnamilegacy one).
pub fn bitnami_legacy(repository: &str) -> String {
    format!("bitnamilegacy/{repository}")
}

/// The PostgreSQL major version the bitnami charts run when no image tag is set (their appVersion).
pub const BITNAMI_DEFAULT_MAJOR: u32 = 17;

/// The repository part of an image reference (registry and path, without tag or digest), with
/// Docker Hub's implicit `docker.io/` and `library/` removed so that comparisons are simple.
pub fn image_repository(image: &str) -> &str {
    let no_digest = image.split('@').next().unwrap_or(image);
    let repo = match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => &no_digest[..i],
        _ => no_digest,
    };
    let repo = repo.strip_prefix("docker.io/").unwrap_or(repo);
    repo.strip_prefix("library/").unwrap_or(repo)
}

/// The tag of an image reference, if it has one.
pub fn image_tag(image: &str) -> Option<&str> {
    let no_digest = image.split('@').next().unwrap_or(image);
    match no_digest.rfind(':') {
        Some(i) if !no_digest[i..].contains('/') => Some(&no_digest[i + 1..]),
        _ => None,
    }
}

/// The image repository each chart's PostgreSQL container is built for: the bitnami charts run
/// bitnami's own images (their entrypoints read the charts' environment variables), CloudNativePG
/// runs operand images that carry its instance manager's expectations.
pub fn native_repository(chart: HelmChart) -> &'static str {
    match chart {
        HelmChart::BitnamiPostgresqlHa => "bitnami/postgresql-repmgr",
        HelmChart::BitnamiPostgresql => "bitnami/postgresql",
        HelmChart::Cnpg => "ghcr.io/cloudnative-pg/postgresql",
    }
}

/// Whether the cluster's image can run under its chart.
pub fn image_fits(c: &Cluster) -> bool {
    let repo = image_repository(&c.postgres.image.value);
    match c.helm.chart.value {
        HelmChart::Cnpg => repo.starts_with("ghcr.io/cloudnative-pg/"),
        other => {
            let native = native_repository(other);
            repo == native
                || native
                    .strip_prefix("bitnami/")
                    .map(bitnami_legacy)
                    .as_deref()
                    == Some(repo)
        }
    }
}

/// The CloudNativePG operand image for a cluster: its own image when that is one of CloudNativePG's,
/// otherwise the official one for its major version (the lint explains the substitution).
pub fn cnpg_image(c: &Cluster) -> String {
    if image_fits(c) {
        c.postgres.image.value.clone()
    } else {
        format!(
            "ghcr.io/cloudnative-pg/postgresql:{}",
            c.postgres.version.value
        )
    }
}

/// The image tag to set on a bitnami chart, or `None` to keep the chart's pinned default. A
/// declared bitnami image sets its own tag; an undeclared image on a major other than the chart's
/// default asks for that major's tag; a foreign image keeps the default (PT151 says so).
pub fn bitnami_tag(c: &Cluster) -> Option<String> {
    let img = &c.postgres.image.value;
    if c.postgres.image_declared && image_fits(c) {
        return image_tag(img).map(str::to_owned);
    }
    if c.postgres.version.value != BITNAMI_DEFAULT_MAJOR {
        return Some(c.postgres.version.value.to_string());
    }
    None
}

/// The Service through which a standby cluster reaches `source`, as `(host, port)`. Every release
/// sets `fullnameOverride` to its cluster's name, so the names below do not depend on the release
/// name. Pgpool-II cannot carry streaming-replication connections, so a postgresql-ha source is
/// reached through its PostgreSQL Service (every data pod; a standby answering is fine, since
/// PostgreSQL cascades WAL from standbys), on the port that chart gives both its Services.
pub fn replication_endpoint(source: &Cluster) -> (String, u16) {
    let ns = &source.namespace.value;
    let (svc, port) = match source.helm.chart.value {
        HelmChart::BitnamiPostgresqlHa => (
            format!("{}-postgresql", source.name),
            super::bitnami_ha::service_port(source),
        ),
        HelmChart::BitnamiPostgresql => (source.name.clone(), 5432),
        HelmChart::Cnpg => (format!("{}-rw", source.name), 5432),
    };
    (format!("{svc}.{ns}.svc"), port)
}

/// The source cluster of a standby cluster, looked up in the same model.
pub fn source_of<'a>(t: &'a Topology, c: &Cluster) -> Option<&'a Cluster> {
    c.replica_of.as_ref().and_then(|r| t.cluster(&r.value))
}

/// `{requests: {cpu, memory}, limits: {cpu, memory}}` as Kubernetes writes it, or `None` when the
/// topology declares no resources (the chart's defaults then apply).
pub fn resources(r: &Resources) -> Option<Value> {
    let list = |l: &crate::model::ResourceList| {
        let mut pairs = Vec::new();
        if let Some(c) = &l.cpu {
            pairs.push(("cpu", s(c.value.clone())));
        }
        if let Some(m) = &l.memory {
            pairs.push(("memory", s(m.value.clone())));
        }
        (!pairs.is_empty()).then(|| map(pairs))
    };
    let mut pairs = Vec::new();
    if let Some(v) = list(&r.requests) {
        pairs.push(("requests", v));
    }
    if let Some(v) = list(&r.limits) {
        pairs.push(("limits", v));
    }
    (!pairs.is_empty()).then(|| map(pairs))
}

/// The cluster's parameters as postgresql.conf lines, for the bitnami charts' extended
/// configuration (a file in `conf.d`).
pub fn conf_lines(c: &Cluster) -> Option<String> {
    if c.parameters.is_empty() {
        return None;
    }
    Some(
        c.parameters
            .iter()
            .map(|(k, v)| format!("{k} = {}\n", v.to_conf()))
            .collect(),
    )
}

/// Whether the chart writes label `key` on its objects itself. A user label with that key would be
/// written a second time into the same mapping (cnpg/cluster appends `additionalLabels` after its
/// own labels, `app.kubernetes.io/part-of` among them; the bitnami templates append
/// `app.kubernetes.io/component`, and postgresql-ha `role`, after the merged common labels), or
/// replace the chart's own value in its selectors (bitnami's common labels), so the values leave
/// it out and PT154 says so.
pub fn chart_owns_label(chart: HelmChart, key: &str) -> bool {
    let common = matches!(
        key,
        "helm.sh/chart"
            | "app.kubernetes.io/name"
            | "app.kubernetes.io/instance"
            | "app.kubernetes.io/version"
            | "app.kubernetes.io/managed-by"
            | "app.kubernetes.io/component"
    );
    common
        || match chart {
            HelmChart::Cnpg => key == "app.kubernetes.io/part-of" || key.starts_with("cnpg.io/"),
            HelmChart::BitnamiPostgresqlHa => key == "role",
            HelmChart::BitnamiPostgresql => false,
        }
}

/// The user labels as a values mapping (without those the chart writes itself), or `None` when
/// there are none.
pub fn labels(c: &Cluster) -> Option<Value> {
    let chart = c.helm.chart.value;
    let kept: Vec<(String, Value)> = c
        .user_labels()
        .filter(|(k, _)| !chart_owns_label(chart, k))
        .map(|(k, v)| (k.to_owned(), s(v)))
        .collect();
    (!kept.is_empty()).then(|| map(kept))
}

/// The PostgreSQL parameters the CloudNativePG operator (1.30) sets itself and refuses in
/// `spec.postgresql.parameters` (its fixed configuration: paths, logging, replication, TLS, the
/// recovery settings it drives, `shared_preload_libraries`, which it builds from its own fields).
/// The values leave them out and PT154 says so.
pub const CNPG_FIXED_PARAMETERS: &[&str] = &[
    "allow_alter_system",
    "allow_system_table_mods",
    "archive_cleanup_command",
    "archive_command",
    "archive_mode",
    "bonjour",
    "bonjour_name",
    "cluster_name",
    "config_file",
    "data_directory",
    "data_sync_retry",
    "event_source",
    "external_pid_file",
    "full_page_writes",
    "hba_file",
    "hot_standby",
    "ident_file",
    "jit_provider",
    "listen_addresses",
    "log_destination",
    "log_directory",
    "log_file_mode",
    "log_filename",
    "log_rotation_age",
    "log_rotation_size",
    "log_truncate_on_rotation",
    "logging_collector",
    "port",
    "primary_conninfo",
    "primary_slot_name",
    "promote_trigger_file",
    "recovery_end_command",
    "recovery_min_apply_delay",
    "recovery_target",
    "recovery_target_action",
    "recovery_target_inclusive",
    "recovery_target_lsn",
    "recovery_target_name",
    "recovery_target_time",
    "recovery_target_timeline",
    "recovery_target_xid",
    "restart_after_crash",
    "restore_command",
    "shared_preload_libraries",
    "ssl",
    "ssl_ca_file",
    "ssl_cert_file",
    "ssl_crl_file",
    "ssl_dh_params_file",
    "ssl_ecdh_curve",
    "ssl_key_file",
    "ssl_passphrase_command",
    "ssl_passphrase_command_supports_reload",
    "ssl_prefer_server_ciphers",
    "stats_temp_directory",
    "synchronous_standby_names",
    "syslog_facility",
    "syslog_ident",
    "syslog_sequence_numbers",
    "syslog_split_messages",
    "unix_socket_directories",
    "unix_socket_group",
    "unix_socket_permissions",
    "wal_level",
    "wal_log_hints",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_parts() {
        assert_eq!(
            image_repository("bitnami/postgresql-repmgr:17"),
            "bitnami/postgresql-repmgr"
        );
        assert_eq!(image_repository("docker.io/library/postgres"), "postgres");
        assert_eq!(
            image_repository("reg:5000/x/pg:15@sha256:ab"),
            "reg:5000/x/pg"
        );
        assert_eq!(image_tag("reg:5000/x/pg"), None);
        assert_eq!(image_tag("citusdata/pg_auto_failover:v2.1"), Some("v2.1"));
    }
}
