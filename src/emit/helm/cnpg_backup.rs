//! CloudNativePG's backups, restores and replica clusters through the `cluster` chart 0.8.x:
//! barman-cloud archives WAL and takes base backups into the object store the cluster's
//! `repository` names (`backups`, with one ScheduledBackup per schedule and a recovery window as
//! retention), a `restore from=` cluster bootstraps from its source's object store (`mode:
//! recovery`, to `time=` when written), and a `replica-of` cluster is a replica cluster that
//! streams from its source's `-rw` Service with the source's own replication certificate and,
//! when the source backs up, falls back to its object store (`mode: replica`).
//!
//! What barman-cloud cannot do as declared (incremental backups, a retention without a
//! schedule to count full backups by) PT154 reports; docs/backup.md explains the choices.

use serde_yaml::Value;

use crate::model::{
    credentials, Backup, BackupTool, Cluster, HelmChart, Repository, RepositoryKind, Target,
    Topology,
};
use crate::plan::backup;

use super::values::{b, int, map, s, set};

/// Whether the operator backs this cluster up: it is on CloudNativePG and its tool is barman-cloud
/// (another tool is PT184's error), with a repository in the object store (a posix repository
/// is PT154's).
pub fn backs_up(c: &Cluster) -> bool {
    c.helm.chart.value == HelmChart::Cnpg
        && backup::tool(c, Target::Helm) == Some(BackupTool::BarmanCloud)
        && repository(c).is_some()
}

/// The cluster's repository, when the operator can write to it: an object store.
fn repository(c: &Cluster) -> Option<&Repository> {
    c.backup
        .as_ref()
        .and_then(Backup::repository)
        .filter(|r| r.kind.value != RepositoryKind::Posix)
}

/// The cluster whose object store a `restore from=` cluster bootstraps from, when that cluster's
/// backups exist on this target.
pub fn restore_source<'t>(t: &'t Topology, c: &Cluster) -> Option<&'t Cluster> {
    if c.helm.chart.value != HelmChart::Cnpg {
        return None;
    }
    backup::restore_source(t, c).filter(|s| backs_up(s))
}

/// The cluster a `replica-of` cluster follows, when both are on CloudNativePG.
pub fn replica_source<'t>(t: &'t Topology, c: &Cluster) -> Option<&'t Cluster> {
    if c.helm.chart.value != HelmChart::Cnpg {
        return None;
    }
    super::charts::source_of(t, c).filter(|s| s.helm.chart.value == HelmChart::Cnpg)
}

/// The repository's prefix as the chart appends it to the bucket: with a leading `/`.
fn prefix(r: &Repository) -> Option<String> {
    let p = r.path.as_ref()?.value.trim_end_matches('/');
    Some(if p.starts_with('/') {
        p.to_owned()
    } else {
        format!("/{p}")
    })
}

/// An endpoint as a URL: barman-cloud takes a URL where pgBackRest takes a host.
fn endpoint_url(e: &str) -> String {
    if e.contains("://") {
        e.to_owned()
    } else {
        format!("https://{e}")
    }
}

/// The keys of one of the chart's object-store scopes (`backups`, `recovery`,
/// `replica.origin.objectStore`) for repository `r`: the provider, where, and the existing
/// Secret the keys come from (the chart would otherwise create one from keys in the values). Only
/// keys the chart reads are written: the region only when no endpoint replaces it, the Azure
/// container and prefix inside the one `destinationPath` the chart takes for a named endpoint.
fn object_store(r: &Repository) -> Vec<(&'static str, Value)> {
    let mut v = Vec::new();
    let bucket = r
        .bucket
        .as_ref()
        .map(|x| x.value.clone())
        .unwrap_or_default();
    match r.kind.value {
        RepositoryKind::S3 => {
            v.push(("provider", s("s3")));
            let mut s3 = Vec::new();
            match &r.endpoint {
                Some(e) => v.push(("endpointURL", s(endpoint_url(&e.value)))),
                None => {
                    if let Some(region) = &r.region {
                        s3.push(("region", s(region.value.clone())));
                    }
                }
            }
            s3.push(("bucket", s(bucket)));
            if let Some(p) = prefix(r) {
                s3.push(("path", s(p)));
            }
            v.push(("s3", map(s3)));
        }
        RepositoryKind::Gcs => {
            v.push(("provider", s("google")));
            let mut g = vec![("bucket", s(bucket))];
            if let Some(p) = prefix(r) {
                g.push(("path", s(p)));
            }
            v.push(("google", map(g)));
        }
        RepositoryKind::Azure => {
            v.push(("provider", s("azure")));
            // PT182 asks for the storage account's URL as `endpoint=` on the helm target.
            let base = r.endpoint.as_ref().map_or_else(String::new, |e| {
                endpoint_url(&e.value).trim_end_matches('/').to_owned()
            });
            v.push((
                "destinationPath",
                s(format!("{base}/{bucket}{}", prefix(r).unwrap_or_default())),
            ));
        }
        RepositoryKind::Posix => {}
    }
    match &r.credentials_secret {
        Some(secret) => v.push((
            "secret",
            map([("create", b(false)), ("name", s(secret.value.clone()))]),
        )),
        // Without a Secret (PT182 refuses that on this target) the pods' cloud identity is
        // the only way in.
        None => match r.kind.value {
            RepositoryKind::S3 => set_in(&mut v, "s3", "inheritFromIAMRole", b(true)),
            RepositoryKind::Azure => v.push(("azure", map([("inheritFromAzureAD", b(true))]))),
            RepositoryKind::Gcs => set_in(&mut v, "google", "gkeEnvironment", b(true)),
            RepositoryKind::Posix => {}
        },
    }
    v
}

/// Adds `key: value` inside the mapping `scope` of `v`.
fn set_in(v: &mut [(&'static str, Value)], scope: &str, key: &str, value: Value) {
    if let Some((_, m)) = v.iter_mut().find(|(k, _)| *k == scope) {
        set(m, key, value);
    }
}

/// The `backups` section of a cluster the operator backs up.
pub fn backups(c: &Cluster) -> Option<Value> {
    if !backs_up(c) {
        return None;
    }
    let b = c.backup.as_ref()?;
    let r = repository(c)?;
    let mut v = vec![("enabled", self::b(true))];
    v.extend(object_store(r));
    if r.endpoint.is_some() {
        // A store of one's own (MinIO, Ceph) rarely has the AWS server-side encryption the chart
        // asks for by default; the bucket's own setting applies instead.
        v.push(("wal", map([("encryption", s(""))])));
        v.push(("data", map([("encryption", s(""))])));
    }
    // Every schedule is written, and an empty list when there is none: the chart's default list
    // holds a daily backup the topology does not declare. barman-cloud takes full backups only
    // (PT154 reports an incremental schedule).
    let schedules: Vec<Value> = b
        .schedule
        .as_ref()
        .and_then(|s| s.full.as_ref())
        .and_then(|full| backup::Cron::parse(&full.value).ok())
        .map(|cron| {
            map([
                ("name", s("full")),
                ("schedule", s(cron.six_fields())),
                ("backupOwnerReference", s("self")),
                ("method", s("barmanObjectStore")),
            ])
        })
        .into_iter()
        .collect();
    v.push(("scheduledBackups", Value::Sequence(schedules)));
    // `retention full=N` as the window over which the schedule takes N full backups; without
    // one, nothing is removed (an empty policy renders none), as pgBackRest keeps every backup
    // when no retention is set. PT154 reports a retention it cannot convert.
    let window = backup::retention_window_days(b).map_or_else(String::new, |d| format!("{d}d"));
    v.push(("retentionPolicy", s(window)));
    Some(map(v))
}

/// The values that make `c` a copy of its source's backups (`mode: recovery`), as dotted paths.
pub fn recovery(t: &Topology, c: &Cluster) -> Vec<(String, Value)> {
    let (Some(src), Some(r)) = (restore_source(t, c), c.restore.as_ref()) else {
        return Vec::new();
    };
    let Some(repo) = repository(src) else {
        return Vec::new();
    };
    let mut v = vec![
        ("mode".to_owned(), s("recovery")),
        ("recovery.method".to_owned(), s("object_store")),
        // barman-cloud keeps each cluster's backups under its server name, the cluster's name.
        ("recovery.clusterName".to_owned(), s(src.name.clone())),
    ];
    if let Some(time) = &r.time {
        v.push(("recovery.pitrTarget.time".to_owned(), s(time.value.clone())));
    }
    // The application database and owner the operator hands out credentials for: the source's.
    if let Some(db) = src.databases.first() {
        v.push(("recovery.database".to_owned(), s(db.name.clone())));
        if let Some(o) = &db.owner {
            v.push(("recovery.owner".to_owned(), s(o.value.clone())));
        }
    }
    v.extend(
        object_store(repo)
            .into_iter()
            .map(|(k, x)| (format!("recovery.{k}"), x)),
    );
    v
}

/// The role CloudNativePG streams as, with the client certificate it issues.
const STREAMING_USER: &str = "streaming_replica";

/// The values that make `c` a replica cluster of its source (`mode: replica`): it streams from
/// the source's primary through its `-rw` Service, authenticated by the source's
/// `<source>-replication` certificate and checking the server against the source's CA, and, when
/// the source backs up, bootstraps from and falls back to its object store.
pub fn replica(t: &Topology, c: &Cluster) -> Vec<(String, Value)> {
    let Some(src) = replica_source(t, c) else {
        return Vec::new();
    };
    let (host, port) = super::charts::replication_endpoint(src);
    let store = backs_up(src).then(|| repository(src)).flatten();
    let mut v = vec![
        ("mode".to_owned(), s("replica")),
        (
            "replica.bootstrap.source".to_owned(),
            s(if store.is_some() {
                "object_store"
            } else {
                "pg_basebackup"
            }),
        ),
    ];
    if let Some(repo) = store {
        v.push((
            "replica.origin.objectStore.clusterName".to_owned(),
            s(src.name.clone()),
        ));
        v.extend(
            object_store(repo)
                .into_iter()
                .map(|(k, x)| (format!("replica.origin.objectStore.{k}"), x)),
        );
    }
    let ca = src
        .tls
        .as_ref()
        .and_then(|t| t.secret.as_ref())
        .map_or_else(|| format!("{}-ca", src.name), |s| s.value.clone());
    let replication = format!("{}-replication", src.name);
    let secret = |name: &str, key: &str| map([("name", s(name)), ("key", s(key))]);
    v.push((
        "replica.origin.pg_basebackup".to_owned(),
        map([
            ("host", s(host)),
            ("port", int(i64::from(port))),
            ("username", s(STREAMING_USER)),
            ("database", s("postgres")),
            ("sslMode", s("verify-full")),
            ("sslKeySecret", secret(&replication, "tls.key")),
            ("sslCertSecret", secret(&replication, "tls.crt")),
            ("sslRootCertSecret", secret(&ca, "ca.crt")),
        ]),
    ));
    v
}

/// A Secret a release reads for an object store: its name, its keys with their meaning, and
/// what the release reads it for.
pub type StoreSecret = (String, &'static [(&'static str, &'static str)], String);

/// The Secrets a release reads for its object stores, for the README.
pub fn secrets(t: &Topology, c: &Cluster) -> Vec<StoreSecret> {
    let mut v = Vec::new();
    let mut add = |src: &Cluster, what: String| {
        if let Some(r) = repository(src) {
            if let Some(secret) = &r.credentials_secret {
                v.push((
                    secret.value.clone(),
                    credentials::repository_secret_keys(r.kind.value),
                    what,
                ));
            }
        }
    };
    if backs_up(c) {
        add(c, "the backups (WAL archive and base backups)".to_owned());
    }
    if let Some(src) = restore_source(t, c) {
        add(src, format!("the restore from `{}`'s backups", src.name));
    }
    if let Some(src) = replica_source(t, c).filter(|s| backs_up(s)) {
        add(
            src,
            format!("following `{}` through its object store", src.name),
        );
    }
    v
}
