//! Values for bitnami/postgresql 17.1.x: a one-node cluster, usually a standby cluster whose primary
//! follows another cluster (`replica-of`). Key paths follow the chart's values.yaml.

use serde_yaml::{Mapping, Value};

use crate::model::{credentials, Cluster, HelmChart, Topology};

use super::bitnami_access as access;
use super::charts::{
    bitnami_legacy, bitnami_tag, labels, replication_endpoint, resources, source_of,
};
use super::values::{b, int, map, s, set};

/// The Secret key holding the replication role's password, as this release reads it. When the
/// source is a postgresql-ha release, the role that streams is repmgr's, whose password that chart
/// reads from the fixed key `repmgr-password`; pointing at the same key means one Secret serves
/// both releases. Otherwise the credential contract's key.
pub fn replication_password_key(t: &Topology, c: &Cluster) -> &'static str {
    match source_of(t, c).map(|s| s.helm.chart.value) {
        Some(HelmChart::BitnamiPostgresqlHa) => "repmgr-password",
        _ => credentials::REPLICATION_PASSWORD_KEY,
    }
}

pub fn values(t: &Topology, c: &Cluster) -> Value {
    let mut v = Value::Mapping(Mapping::new());
    set(&mut v, "fullnameOverride", s(c.name.clone()));
    if let Some(l) = labels(c) {
        set(&mut v, "commonLabels", l);
    }
    set(&mut v, "architecture", s("standalone"));
    set(&mut v, "image.repository", s(bitnami_legacy("postgresql")));
    if let Some(tag) = bitnami_tag(c) {
        set(&mut v, "image.tag", s(tag));
    }

    set(&mut v, "auth.enablePostgresUser", b(true));
    // A standby cluster is a copy of its source: it creates no database or role of its own.
    let owner = if c.is_standby_cluster() {
        None
    } else {
        c.databases.first().map(|d| {
            set(&mut v, "auth.database", s(d.name.clone()));
            d.owner.as_ref().map(|o| o.value.clone())
        })
    }
    .flatten();
    if let Some(o) = &owner {
        set(&mut v, "auth.username", s(o.clone()));
    }
    // The replication role matters to the chart only when the release streams from a source; a
    // release that is a source has it created by the init script (with the same Secret key).
    if c.is_standby_cluster() {
        set(
            &mut v,
            "auth.replicationUsername",
            s(credentials::REPLICATION_USER),
        );
    }
    set(
        &mut v,
        "auth.existingSecret",
        s(c.credentials.secret.value.clone()),
    );
    let mut keys = vec![("adminPasswordKey", s(credentials::SUPERUSER_PASSWORD_KEY))];
    if c.is_standby_cluster() {
        keys.push(("replicationPasswordKey", s(replication_password_key(t, c))));
    }
    if let Some(o) = &owner {
        keys.insert(
            1,
            ("userPasswordKey", s(credentials::owner_password_key(o))),
        );
    }
    set(&mut v, "auth.secretKeys", map(keys));

    if let Some(source) = source_of(t, c) {
        let (host, port) = replication_endpoint(source);
        set(&mut v, "primary.standby.enabled", b(true));
        set(&mut v, "primary.standby.primaryHost", s(host));
        set(&mut v, "primary.standby.primaryPort", int(i64::from(port)));
    }
    if let Some(conf) = access::extended_conf(c) {
        set(&mut v, "primary.extendedConfiguration", s(conf));
    }
    if let Some(libs) = access::preload(c, "pgaudit") {
        set(&mut v, "postgresqlSharedPreloadLibraries", s(libs));
    }
    // The chart's image writes its own pg_hba.conf otherwise: password logins for every role from
    // every address.
    set(
        &mut v,
        "primary.pgHbaConfiguration",
        s(access::pg_hba(c, &[])),
    );
    if let Some(scripts) = access::init_scripts(c) {
        set(&mut v, "primary.initdb.scripts", scripts);
    }
    if let Some(env) = access::extra_env_vars(c) {
        set(&mut v, "primary.extraEnvVars", env);
    }
    if let Some(secret) = access::tls_secret(c) {
        set(&mut v, "tls", access::tls_values(secret));
        // The init container that copies the certificates runs the chart's os-shell image.
        set(
            &mut v,
            "volumePermissions.image.repository",
            s(bitnami_legacy("os-shell")),
        );
    }
    if let Some(r) = resources(&c.resources) {
        set(&mut v, "primary.resources", r);
    }
    if let Some(pdb) = &c.pdb {
        set(&mut v, "primary.pdb.create", b(true));
        set(
            &mut v,
            "primary.pdb.minAvailable",
            int(i64::from(pdb.min_available.value)),
        );
    }
    set(
        &mut v,
        "primary.networkPolicy",
        map([("enabled", b(true)), ("allowExternal", b(true))]),
    );
    set(
        &mut v,
        "primary.persistence.size",
        s(c.storage.size.value.clone()),
    );
    if let Some(class) = &c.storage.class {
        set(
            &mut v,
            "primary.persistence.storageClass",
            s(class.value.clone()),
        );
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
            "metrics.containerPorts.metrics",
            int(i64::from(m.exporter_port.value)),
        );
        // The exporter logs in as pgtopo's `pg_monitor` role, which the init script creates,
        // never as the superuser (the chart's default). The chart's `auth.metricsUsername` cannot
        // serve: with an existing Secret its password-key helper fails to render (it reads
        // `global.auth`, which the chart's values do not have).
        if let Some(env) = access::metrics_env_vars(c) {
            set(&mut v, "metrics.extraEnvVars", env);
        }
    }
    v
}
