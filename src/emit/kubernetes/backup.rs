//! pgBackRest on pgtopo's own Kubernetes manifests.
//!
//! The database images (the official one, pg_auto_failover's) carry no pgBackRest, and
//! pgBackRest cannot be copied into them (it links a dozen shared libraries and has no static
//! build), so it runs beside PostgreSQL in a sidecar of the same pod, from a pinned image
//! (`catalog::PGBACKREST_IMAGE`), with the data volume and the socket folder shared:
//!
//! - **WAL**: PostgreSQL's archive_command copies each segment durably into a spool folder on
//!   its own volume (`plan::backup::pod_archive_command`); the sidecar pushes every spooled
//!   segment with `pgbackrest archive-push` (which checks it against the cluster's pg_control)
//!   and removes it once the repository has it.
//! - **Backups**: a CronJob per schedule (full, incr) and a one-time Job (stanza-create, check,
//!   first full backup) run `kubectl exec` into the sidecar of the pod labelled primary; the
//!   backup runs there, next to the data, and logs in over the shared socket (peer: the
//!   sidecar runs as the image's user id). No SSH, no TLS server to certify, no second copy of
//!   the data over the network.
//! - **Restore**: an init container of the restored cluster's primary runs `pgbackrest restore`
//!   from the source's repository into the empty data volume before PostgreSQL starts; recovery
//!   then asks the sidecar for each WAL segment (`wal-get.sh`, its restore_command, hands the
//!   request over through a folder on the volume, and the sidecar runs `archive-get`).
//!
//! What this cannot do (a posix repository, the bitnami repmgr image, restores under a failover
//! manager that initializes its own data directory) PT172 reports; docs/backup.md explains it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, KeyToPath, PodSpec, PodTemplateSpec, SecretKeySelector,
    SecretVolumeSource, ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role as RbacRole, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::names;
use super::{container_security, empty_dir, env, meta, mount, pod_name_env, pod_security};
use super::{sidecar_resources, Ctx, Labels};
use crate::emit::text;
use crate::model::{credentials, Backup, Cluster, Repository, RepositoryKind, Topology};
use crate::plan::backup::{self, Instance};

/// Where the sidecar and the restore container find pgBackRest's configuration (the cluster's
/// ConfigMap, mounted at /etc/pgtopo).
const OWN_CONF: &str = "/etc/pgtopo/pgbackrest.conf";
const SOURCE_CONF: &str = "/etc/pgtopo/pgbackrest-source.conf";
/// The socket folder the database container shares with the sidecar.
const SOCKET_DIR: &str = "/var/run/postgresql";
/// Where a Google Cloud service account key is mounted (own repository, restore source).
const GCS_KEY_DIR: &str = "/etc/pgtopo-gcs";

/// The cluster whose backups this cluster restores from here (`plan::backup::pod_restore_source`).
fn restore_source<'t>(t: &'t Topology, c: &Cluster) -> Option<&'t Cluster> {
    backup::pod_restore_source(t, c)
}

/// Whether the pods of `c` run the pgBackRest sidecar.
pub fn has_sidecar(t: &Topology, c: &Cluster) -> bool {
    backup::pod_backs_up(c) || restore_source(t, c).is_some()
}

fn repository(c: &Cluster) -> Option<&Repository> {
    c.backup.as_ref().and_then(Backup::repository)
}

/// The folder beside the data directory through which recovery asks the sidecar for WAL.
fn get_dir(c: &Cluster) -> String {
    format!("{}/pgbackrest-get", names::data_mount(c))
}

fn spool_dir(c: &Cluster) -> String {
    format!("{}/pgbackrest-spool", names::data_mount(c))
}

/// pgBackRest's configuration for one stanza, at `path`: the plan's, plus how the sidecar
/// reaches this pod's PostgreSQL: the shared socket, as `postgres` (which every start script
/// creates), by peer where the image's user id is that user (the official image) and else by
/// the Secret's password (`PGPASSWORD`).
fn conf(owner: &Cluster, repo: &Cluster, path: &str) -> String {
    let me = [Instance {
        host: None,
        data_dir: names::pgdata(owner),
        port: names::pg_port(owner),
    }];
    let mut s =
        backup::pgbackrest_conf(owner, repo, &me, false).replacen(backup::PGBACKREST_CONF, path, 1);
    let _ = writeln!(s, "pg1-socket-path={SOCKET_DIR}");
    s.push_str("pg1-user=postgres\n");
    s
}

/// The ConfigMap entries: the configurations and the scripts.
pub fn config_files(t: &Topology, c: &Cluster, data: &mut BTreeMap<String, String>) {
    if !has_sidecar(t, c) {
        return;
    }
    if backup::pod_backs_up(c) {
        data.insert("pgbackrest.conf".into(), conf(c, c, OWN_CONF));
        data.insert("pgbackrest-exec.sh".into(), exec_script(c));
    }
    if let Some(src) = restore_source(t, c) {
        data.insert("pgbackrest-source.conf".into(), conf(c, src, SOURCE_CONF));
        data.insert("pgbackrest-restore.sh".into(), restore_script(c, src));
        data.insert("wal-get.sh".into(), wal_get_script(c));
    }
    data.insert("pgbackrest-sidecar.sh".into(), sidecar_script(t, c));
}

/// What the `src_pgbackrest` shell function (template `k8s-src-pgbackrest`) needs to run
/// pgBackRest against the restore source's repository: the source's keys are in `SOURCE_<var>`
/// variables, since the cluster's own repository may use the same variable names with other keys.
#[derive(Serialize)]
struct Source<'a> {
    cluster: &'a str,
    stanza: &'a str,
    conf: &'static str,
    key_vars: &'static [&'static str],
}

fn source(src: &Cluster) -> Source<'_> {
    Source {
        cluster: &src.name,
        stanza: backup::stanza(src),
        conf: SOURCE_CONF,
        key_vars: backup::repo_key_vars(src),
    }
}

/// The archive-push loop of a cluster its pods back up.
#[derive(Serialize)]
struct Push<'a> {
    stanza: &'a str,
    conf: &'static str,
}

/// The sidecar's loop: it pushes spooled WAL when the cluster backs up, and answers recovery's
/// requests for WAL when it restores from a source.
fn sidecar_script(t: &Topology, c: &Cluster) -> String {
    let push = backup::pod_backs_up(c).then(|| Push {
        stanza: backup::stanza(c),
        conf: OWN_CONF,
    });
    text::render(
        "k8s-pgbackrest-sidecar.sh",
        minijinja::context! {
            cluster => &c.name,
            spool => spool_dir(c),
            get => get_dir(c),
            push => minijinja::Value::from(minijinja::value::Serde(push)),
            source => minijinja::Value::from(minijinja::value::Serde(restore_source(t, c).map(source))),
        },
    )
}

/// What the backup Jobs run (from the kubectl image): pgBackRest in the sidecar of the pod the
/// labeler marks primary. `stanza` creates the stanza, checks archiving and takes the first full
/// backup unless one exists; `full` and `incr` take that backup.
fn exec_script(c: &Cluster) -> String {
    text::render(
        "k8s-pgbackrest-exec.sh",
        minijinja::context! {
            cluster => &c.name,
            namespace => &c.namespace.value,
            role_label => names::ROLE_LABEL,
            conf => OWN_CONF,
            stanza => backup::stanza(c),
        },
    )
}

/// The restore init container's script: on the primary's pod, into an empty data directory only.
fn restore_script(c: &Cluster, src: &Cluster) -> String {
    text::render(
        "k8s-pgbackrest-restore.sh",
        minijinja::context! {
            cluster => &c.name,
            source => minijinja::Value::from(minijinja::value::Serde(source(src))),
            primary_pod => c
                .primary()
                .map(|n| names::pod_of(c, &n.name))
                .unwrap_or_default(),
            pgdata => names::pgdata(c),
            get => get_dir(c),
            // Without a target time, recovery runs to the end of the archive and promotes.
            target_time => c
                .restore
                .as_ref()
                .and_then(|r| r.time.as_ref())
                .map(|t| backup::target_time(&t.value)),
        },
    )
}

/// restore_command of a restored cluster: hands the request for one WAL segment to the sidecar
/// through a folder on the data volume and waits for the segment, or for its answer that the
/// archive has no such segment (the end of the WAL, where recovery stops).
fn wal_get_script(c: &Cluster) -> String {
    text::render(
        "k8s-wal-get.sh",
        minijinja::context! {
            cluster => &c.name,
            get => get_dir(c),
        },
    )
}

/// An environment variable from `secret`'s `key`.
fn secret_var(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.to_owned(),
                key: key.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The object store's keys as pgBackRest reads them (`prefix` empty for the cluster's own
/// repository, `SOURCE_` for a restore source's), the volume of a Google key file, its mount.
fn key_env(
    r: &Repository,
    prefix: &str,
    who: &str,
) -> (Vec<EnvVar>, Option<Volume>, Option<VolumeMount>) {
    let Some(secret) = r.credentials_secret.as_ref().map(|s| s.value.as_str()) else {
        return (Vec::new(), None, None);
    };
    let var = |v: &str| format!("{prefix}{v}");
    match r.kind.value {
        RepositoryKind::S3 => (
            vec![
                secret_var(
                    &var("PGBACKREST_REPO1_S3_KEY"),
                    secret,
                    credentials::S3_ACCESS_KEY_ID_KEY,
                ),
                secret_var(
                    &var("PGBACKREST_REPO1_S3_KEY_SECRET"),
                    secret,
                    credentials::S3_SECRET_ACCESS_KEY_KEY,
                ),
            ],
            None,
            None,
        ),
        RepositoryKind::Azure => (
            vec![
                secret_var(
                    &var("PGBACKREST_REPO1_AZURE_ACCOUNT"),
                    secret,
                    credentials::AZURE_STORAGE_ACCOUNT_KEY,
                ),
                secret_var(
                    &var("PGBACKREST_REPO1_AZURE_KEY"),
                    secret,
                    credentials::AZURE_STORAGE_SAS_TOKEN_KEY,
                ),
                env(&var("PGBACKREST_REPO1_AZURE_KEY_TYPE"), "sas"),
            ],
            None,
            None,
        ),
        RepositoryKind::Gcs => {
            let vol = format!("gcs-{who}");
            let dir = format!("{GCS_KEY_DIR}/{who}");
            (
                vec![env(
                    &var("PGBACKREST_REPO1_GCS_KEY"),
                    &format!("{dir}/key.json"),
                )],
                Some(Volume {
                    name: vol.clone(),
                    secret: Some(SecretVolumeSource {
                        secret_name: Some(secret.to_owned()),
                        items: Some(vec![KeyToPath {
                            key: credentials::GCS_APPLICATION_CREDENTIALS_KEY.to_owned(),
                            path: "key.json".to_owned(),
                            ..Default::default()
                        }]),
                        default_mode: Some(0o440),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                Some(mount(&vol, &dir, true)),
            )
        }
        RepositoryKind::Posix => (Vec::new(), None, None),
    }
}

/// The keys of every repository the pod's pgBackRest reads, and their volumes and mounts.
fn all_keys(t: &Topology, c: &Cluster) -> (Vec<EnvVar>, Vec<Volume>, Vec<VolumeMount>) {
    let mut sources: Vec<(&Repository, &str, &str)> = Vec::new();
    if backup::pod_backs_up(c) {
        sources.extend(repository(c).map(|r| (r, "", "own")));
    }
    if let Some(src) = restore_source(t, c) {
        sources.extend(repository(src).map(|r| (r, "SOURCE_", "source")));
    }
    let (mut vars, mut vols, mut mounts) = (Vec::new(), Vec::new(), Vec::new());
    for (r, prefix, who) in sources {
        let (v, vol, m) = key_env(r, prefix, who);
        vars.extend(v);
        vols.extend(vol);
        mounts.extend(m);
    }
    (vars, vols, mounts)
}

/// The mounts pgBackRest needs in a pod: the data volume (the data directory, the spool and the
/// request folder beside it), the configuration, the socket folder, and a scratch folder for its
/// lock files (the root filesystem is read-only).
fn mounts(c: &Cluster) -> Vec<VolumeMount> {
    vec![
        mount("data", names::data_mount(c), false),
        mount("config", "/etc/pgtopo", true),
        mount("run", SOCKET_DIR, false),
        mount("pgbackrest-tmp", "/tmp", false),
    ]
}

/// The sidecar, the restore init container and the volumes they add to the database pods.
pub fn pod_parts(t: &Topology, c: &Cluster) -> (Option<Container>, Option<Container>, Vec<Volume>) {
    if !has_sidecar(t, c) {
        return (None, None, Vec::new());
    }
    let (mut vars, mut volumes, key_mounts) = all_keys(t, c);
    vars.push(EnvVar {
        name: "PGPASSWORD".to_owned(),
        ..super::secret_env(
            c,
            credentials::SUPERUSER_PASSWORD_VAR,
            credentials::SUPERUSER_PASSWORD_KEY,
        )
    });
    volumes.push(empty_dir("pgbackrest-tmp"));
    let mut m = mounts(c);
    m.extend(key_mounts);
    let sidecar = Container {
        name: "pgbackrest".to_owned(),
        image: Some(crate::catalog::PGBACKREST_IMAGE.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec!["/etc/pgtopo/pgbackrest-sidecar.sh".to_owned()]),
        env: Some(vars.clone()),
        resources: Some(sidecar_resources()),
        security_context: Some(container_security(true)),
        volume_mounts: Some(m.clone()),
        ..Default::default()
    };
    let init = restore_source(t, c).map(|_| {
        let mut env_vars = vec![pod_name_env()];
        env_vars.extend(vars);
        Container {
            name: "pgbackrest-restore".to_owned(),
            image: Some(crate::catalog::PGBACKREST_IMAGE.to_owned()),
            image_pull_policy: Some("IfNotPresent".to_owned()),
            command: Some(vec!["/etc/pgtopo/pgbackrest-restore.sh".to_owned()]),
            env: Some(env_vars),
            resources: Some(sidecar_resources()),
            security_context: Some(container_security(true)),
            volume_mounts: Some(m),
            ..Default::default()
        }
    });
    (Some(sidecar), init, volumes)
}

/// The backup Jobs' service account may find the primary pod and exec into it, in its own
/// namespace only.
fn rbac(cx: &mut Ctx, c: &Cluster, labels: &Labels, file: &str) -> String {
    let name = format!("{}-backup", c.name);
    cx.push(
        file,
        &ServiceAccount {
            metadata: meta(c, &name, labels.clone()),
            automount_service_account_token: Some(true),
            ..Default::default()
        },
    );
    let rule = |res: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec![res.to_owned()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..Default::default()
    };
    cx.push(
        file,
        &RbacRole {
            metadata: meta(c, &name, labels.clone()),
            rules: Some(vec![
                rule("pods", &["get", "list"]),
                rule("pods/exec", &["create"]),
            ]),
        },
    );
    cx.push(
        file,
        &RoleBinding {
            metadata: meta(c, &name, labels.clone()),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".to_owned(),
                kind: "Role".to_owned(),
                name: name.clone(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_owned(),
                name: name.clone(),
                namespace: Some(c.namespace.value.clone()),
                ..Default::default()
            }]),
        },
    );
    name
}

/// The pod of a backup Job: the kubectl image running `pgbackrest-exec.sh ARG`.
fn job_pod(c: &Cluster, sa: &str, arg: &str, labels: &Labels) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            service_account_name: Some(sa.to_owned()),
            restart_policy: Some("Never".to_owned()),
            security_context: Some(pod_security(
                names::uid(names::family(c)),
                names::gid(names::family(c)),
            )),
            containers: vec![Container {
                name: "pgbackrest".to_owned(),
                image: Some(crate::catalog::KUBECTL_IMAGE.to_owned()),
                image_pull_policy: Some("IfNotPresent".to_owned()),
                command: Some(vec![
                    "/etc/pgtopo/pgbackrest-exec.sh".to_owned(),
                    arg.to_owned(),
                ]),
                // kubectl keeps a discovery cache under $HOME; the root filesystem is read-only.
                env: Some(vec![env("HOME", "/tmp")]),
                resources: Some(sidecar_resources()),
                security_context: Some(container_security(true)),
                volume_mounts: Some(vec![
                    mount("config", "/etc/pgtopo", true),
                    mount("tmp", "/tmp", false),
                ]),
                ..Default::default()
            }],
            volumes: Some(vec![
                super::config_volume("config", &names::config_map(c), Some(0o555)),
                empty_dir("tmp"),
            ]),
            ..Default::default()
        }),
    }
}

/// The backup objects of a cluster its pods back up: the Jobs' RBAC, the stanza Job and a
/// CronJob per schedule.
pub fn objects(cx: &mut Ctx, c: &Cluster, labels: &Labels) {
    if !backup::pod_backs_up(c) {
        return;
    }
    let file = format!("{}-backup.yaml", c.name);
    let sa = rbac(cx, c, labels, &file);
    let mut job_labels = labels.clone();
    job_labels.insert(
        "app.kubernetes.io/component".to_owned(),
        "backup".to_owned(),
    );
    let job = Job {
        metadata: meta(c, &format!("{}-stanza", c.name), job_labels.clone()),
        spec: Some(JobSpec {
            backoff_limit: Some(10),
            template: job_pod(c, &sa, "stanza", &job_labels),
            ..Default::default()
        }),
        ..Default::default()
    };
    cx.push(&file, &job);
    let Some(s) = c.backup.as_ref().and_then(|b| b.schedule.as_ref()) else {
        return;
    };
    for (kind, cron) in [("full", &s.full), ("incr", &s.incremental)] {
        let Some(cron) = cron else { continue };
        let cj = CronJob {
            metadata: meta(c, &format!("{}-backup-{kind}", c.name), job_labels.clone()),
            spec: Some(CronJobSpec {
                schedule: cron.value.clone(),
                // A backup still running when the next is due finishes first.
                concurrency_policy: Some("Forbid".to_owned()),
                job_template: JobTemplateSpec {
                    metadata: None,
                    spec: Some(JobSpec {
                        backoff_limit: Some(2),
                        template: job_pod(c, &sa, kind, &job_labels),
                        ..Default::default()
                    }),
                },
                ..Default::default()
            }),
            ..Default::default()
        };
        cx.push(&file, &cj);
    }
}
