//! Every Kubernetes object of one resolved topology, built with k8s-openapi types and turned into
//! JSON values (so that overlays can be computed as differences between two object lists).

use std::collections::BTreeMap;

use indexmap::IndexMap;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    EmptyDirVolumeSource, EnvVar, EnvVarSource, ExecAction, HTTPGetAction, Namespace,
    ObjectFieldSelector, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodAffinityTerm,
    PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ResourceRequirements,
    SeccompProfile, SecretKeySelector, SecurityContext, Service, ServiceAccount, ServicePort,
    ServiceSpec, TCPSocketAction, TopologySpreadConstraint, Volume, VolumeMount,
    VolumeResourceRequirements, WeightedPodAffinityTerm,
};
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role as RbacRole, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Serialize;
use serde_json::Value;

use crate::model::{
    credentials, Cluster, FailoverManager, Pooler, PoolerKind, PoolerTarget, Resources, Topology,
};

use super::config;
use super::names::{self, Family};

#[path = "workloads.rs"]
pub(super) mod workloads;

#[path = "backup.rs"]
mod backup;

/// One object and the base file it is written to.
#[derive(Clone, Debug, PartialEq)]
pub struct Obj {
    pub file: String,
    pub value: Value,
}

type Labels = BTreeMap<String, String>;

fn to_value<T: Serialize>(t: &T) -> Value {
    serde_json::to_value(t).expect("k8s-openapi objects serialize")
}

struct Ctx<'a> {
    topo: &'a Topology,
    part_of: &'a str,
    out: Vec<Obj>,
}

impl Ctx<'_> {
    fn push<T: Serialize>(&mut self, file: &str, t: &T) {
        self.out.push(Obj {
            file: file.to_owned(),
            value: to_value(t),
        });
    }
}

/// Every object of `topo`, in a stable order (kustomize re-sorts them anyway).
pub fn build(topo: &Topology, part_of: &str) -> Vec<Obj> {
    let mut all = Vec::new();
    build_chunks(topo, part_of, &|_| false, &mut |chunk| all.extend(chunk));
    all
}

/// The objects of [`build`], each with the cluster that made it (`None`: the Namespaces).
pub fn build_tagged(topo: &Topology, part_of: &str) -> Vec<(Option<String>, Obj)> {
    let mut all = Vec::new();
    // The first chunk is the Namespaces, then one per cluster, in declaration order.
    let mut owner = std::iter::once(None).chain(topo.clusters.iter().map(|c| Some(&c.name)));
    build_chunks(topo, part_of, &|_| false, &mut |chunk| {
        let o = owner.next().flatten();
        all.extend(chunk.into_iter().map(|obj| (o.cloned(), obj)));
    });
    all
}

/// The objects of [`build`], in the same order, handed over in chunks: the Namespaces, then each
/// cluster's objects (an empty chunk for a cluster that `skip` names: an env's overlay takes an
/// unchanged cluster's objects from the base instead). An env's overlay is derived a cluster at a
/// time, so that an env of a thousand clusters never has every object in memory at once.
pub fn build_chunks(
    topo: &Topology,
    part_of: &str,
    skip: &dyn Fn(&Cluster) -> bool,
    chunk: &mut dyn FnMut(Vec<Obj>),
) {
    let mut cx = Ctx {
        topo,
        part_of,
        out: Vec::new(),
    };
    // Each namespace once, in the order clusters first name them, with its clusters: grouped in
    // one pass. A namespace per cluster is common, and scanning every cluster for each namespace
    // would be quadratic in the clusters.
    let mut namespaces: IndexMap<&str, Vec<&Cluster>> = IndexMap::new();
    for c in &topo.clusters {
        namespaces.entry(&c.namespace.value).or_default().push(c);
    }
    for (name, clusters) in &namespaces {
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some((*name).to_owned()),
                labels: Some(namespace_labels(clusters)),
                ..Default::default()
            },
            ..Default::default()
        };
        cx.push("namespace.yaml", &ns);
    }
    chunk(std::mem::take(&mut cx.out));
    for c in &topo.clusters {
        if skip(c) {
            chunk(Vec::new());
            continue;
        }
        cluster(&mut cx, c);
        // The annotations depend on each object alone.
        super::security::annotate(&mut cx.out);
        chunk(std::mem::take(&mut cx.out));
    }
}

/// A Namespace carries the user labels that every cluster in it shares, so that an env's
/// `labels` (which kustomize writes on every object) reads the same in both renderings.
fn namespace_labels(clusters: &[&Cluster]) -> Labels {
    let mut l = Labels::from([(
        "app.kubernetes.io/managed-by".to_owned(),
        "pgtopo".to_owned(),
    )]);
    let mut clusters = clusters.iter();
    if let Some(first) = clusters.next() {
        let mut shared: Labels = first
            .user_labels()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        for c in clusters {
            shared.retain(|k, v| c.labels.get(k).is_some_and(|x| &x.value == v));
        }
        l.extend(shared);
    }
    l
}

/// User labels alone, for volume claim templates (kustomize labels them too).
fn user_labels(c: &Cluster) -> Option<Labels> {
    let l: Labels = c
        .user_labels()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    (!l.is_empty()).then_some(l)
}

fn labels(cx: &Ctx, c: &Cluster, name: &str, component: &str) -> Labels {
    let mut l = Labels::new();
    l.insert("app.kubernetes.io/name".into(), name.into());
    l.insert("app.kubernetes.io/instance".into(), c.name.clone());
    l.insert("app.kubernetes.io/component".into(), component.into());
    l.insert("app.kubernetes.io/part-of".into(), cx.part_of.into());
    l.insert("app.kubernetes.io/managed-by".into(), "pgtopo".into());
    for (k, v) in c.user_labels() {
        l.insert(k.into(), v.into());
    }
    l
}

fn selector(c: &Cluster, component: &str) -> Labels {
    BTreeMap::from([
        ("app.kubernetes.io/instance".to_owned(), c.name.clone()),
        (
            "app.kubernetes.io/component".to_owned(),
            component.to_owned(),
        ),
    ])
}

fn meta(c: &Cluster, name: &str, labels: Labels) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(c.namespace.value.clone()),
        labels: Some(labels),
        ..Default::default()
    }
}

fn q(s: &str) -> Quantity {
    Quantity(s.to_owned())
}

/// Requests and limits, with documented defaults for whatever the topology leaves out.
fn resources(r: &Resources, default: (&str, &str, &str, &str)) -> ResourceRequirements {
    let pick = |v: &Option<crate::model::Spanned<String>>, d: &str| {
        q(v.as_ref().map(|s| s.value.as_str()).unwrap_or(d))
    };
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), pick(&r.requests.cpu, default.0)),
            ("memory".to_owned(), pick(&r.requests.memory, default.1)),
        ])),
        limits: Some(BTreeMap::from([
            ("cpu".to_owned(), pick(&r.limits.cpu, default.2)),
            ("memory".to_owned(), pick(&r.limits.memory, default.3)),
        ])),
        ..Default::default()
    }
}

const DB_DEFAULTS: (&str, &str, &str, &str) = ("250m", "512Mi", "1", "1Gi");
const SIDECAR_DEFAULTS: (&str, &str, &str, &str) = ("10m", "32Mi", "100m", "64Mi");
const POOLER_DEFAULTS: (&str, &str, &str, &str) = ("50m", "64Mi", "500m", "256Mi");

fn sidecar_resources() -> ResourceRequirements {
    resources(&Resources::default(), SIDECAR_DEFAULTS)
}

fn container_security(read_only_root: bool) -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(read_only_root),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The pod's identity: the image's user, and its group for the process and the volumes.
fn pod_security(uid: i64, gid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(gid),
        fs_group: Some(gid),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..Default::default()
    }
}

fn secret_env(c: &Cluster, name: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: c.credentials.secret.value.clone(),
                key: key.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod_name_env() -> EnvVar {
    EnvVar {
        name: "POD_NAME".to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "metadata.name".to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn field_env(name: &str, path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: path.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A probe of Patroni's REST API: HTTPS when the cluster has `tls` (the kubelet does not verify
/// the certificate).
fn http_probe(c: &Cluster, path: &str, initial: i32, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::String("patroni".to_owned()),
            scheme: Some(if c.tls.is_some() { "HTTPS" } else { "HTTP" }.to_owned()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        ..Default::default()
    }
}

fn port(name: &str, p: u16) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: p as i32,
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    }
}

fn config_volume(name: &str, cm: &str, mode: Option<i32>) -> Volume {
    Volume {
        name: name.to_owned(),
        config_map: Some(ConfigMapVolumeSource {
            name: cm.to_owned(),
            default_mode: mode,
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tcp_probe(port_name: &str, initial: i32, period: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::String(port_name.to_owned()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(period),
        ..Default::default()
    }
}

fn exec_probe(cmd: &[&str], initial: i32, period: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(cmd.iter().map(|s| s.to_string()).collect()),
        }),
        initial_delay_seconds: Some(initial),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        ..Default::default()
    }
}

fn service(
    c: &Cluster,
    name: &str,
    labels: Labels,
    selector: Labels,
    ports: Vec<(&str, u16)>,
    headless: bool,
) -> Service {
    Service {
        metadata: meta(c, name, labels),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            cluster_ip: headless.then(|| "None".to_owned()),
            // Standbys must find each other before they are ready, so the headless Service
            // publishes every pod.
            publish_not_ready_addresses: headless.then_some(true),
            selector: Some(selector),
            ports: Some(
                ports
                    .into_iter()
                    .map(|(n, p)| ServicePort {
                        name: Some(n.to_owned()),
                        port: p as i32,
                        target_port: Some(IntOrString::String(n.to_owned())),
                        protocol: Some("TCP".to_owned()),
                        ..Default::default()
                    })
                    .collect(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cluster(cx: &mut Ctx, c: &Cluster) {
    let file = |suffix: &str| format!("{}-{suffix}.yaml", c.name);
    let db_labels = labels(cx, c, "postgresql", "database");
    let source = c
        .replica_of
        .as_ref()
        .and_then(|s| cx.topo.cluster(&s.value));

    // RBAC: the labeler may read and patch pods of its own namespace, nothing else; Patroni's
    // Kubernetes DCS also keeps its leader lock and configuration in ConfigMaps.
    let sa = ServiceAccount {
        metadata: meta(c, &names::service_account(c), db_labels.clone()),
        automount_service_account_token: Some(true),
        ..Default::default()
    };
    cx.push(&file("rbac"), &sa);
    let verbs = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (role_name, rules) = if names::needs_labeler(c) {
        (
            format!("{}-labeler", c.name),
            vec![PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["pods".to_owned()]),
                verbs: verbs(&["get", "patch"]),
                ..Default::default()
            }],
        )
    } else {
        (
            format!("{}-patroni", c.name),
            vec![
                PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["configmaps".to_owned()]),
                    verbs: verbs(&[
                        "create", "get", "list", "patch", "update", "watch", "delete",
                    ]),
                    ..Default::default()
                },
                PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["pods".to_owned()]),
                    verbs: verbs(&["get", "list", "patch", "update", "watch"]),
                    ..Default::default()
                },
            ],
        )
    };
    let role = RbacRole {
        metadata: meta(c, &role_name, db_labels.clone()),
        rules: Some(rules),
    };
    cx.push(&file("rbac"), &role);
    let rb = RoleBinding {
        metadata: meta(c, &role_name, db_labels.clone()),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_owned(),
            kind: "Role".to_owned(),
            name: role_name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: names::service_account(c),
            namespace: Some(c.namespace.value.clone()),
            ..Default::default()
        }]),
    };
    cx.push(&file("rbac"), &rb);

    // Configuration files and scripts.
    let mut data = BTreeMap::new();
    data.insert("start.sh".to_owned(), config::start_script(c, source));
    if c.failover.manager.value == FailoverManager::Patroni {
        // Patroni owns postgresql.conf, pg_hba.conf and the replication role.
        data.insert(
            "patroni.yml".to_owned(),
            config::patroni_yml(cx.topo, c, source),
        );
    } else {
        data.insert(
            "postgresql.conf".to_owned(),
            config::postgresql_conf(cx.topo, c),
        );
    }
    // The roles and databases the topology declares, created once the primary is up: by the
    // image's init scripts, Patroni's post-bootstrap hook or the start script.
    if crate::plan::access::has_bootstrap(c) {
        data.insert(
            "bootstrap.sql".to_owned(),
            crate::plan::access::bootstrap_sql(c),
        );
        data.insert("bootstrap.sh".to_owned(), config::bootstrap_script(c));
    }
    if names::needs_labeler(c) {
        data.insert("labeler.sh".to_owned(), config::labeler_script(c));
    }
    if matches!(names::family(c), Family::Official | Family::Bitnami) {
        data.insert("pg_hba.conf".to_owned(), config::pg_hba_conf(c));
    }
    backup::config_files(cx.topo, c, &mut data);
    let cm = ConfigMap {
        metadata: meta(c, &names::config_map(c), db_labels.clone()),
        data: Some(data),
        ..Default::default()
    };
    cx.push(&file("config"), &cm);

    statefulset(cx, c, &db_labels);

    // Services: every pod (headless, for the StatefulSet), the primary, and the replicas.
    let pg_port = names::pg_port(c);
    let mut ports = vec![("postgresql", pg_port)];
    if let Some(m) = &c.monitoring {
        ports.push(("metrics", m.exporter_port.value));
    }
    let sel = selector(c, "database");
    let svc = service(
        c,
        &names::headless_service(c),
        db_labels.clone(),
        sel.clone(),
        ports.clone(),
        true,
    );
    cx.push(&file("services"), &svc);
    for (name, role) in [
        (names::primary_service(c), "primary"),
        (names::replicas_service(c), "replica"),
    ] {
        let mut s = sel.clone();
        s.insert(names::ROLE_LABEL.to_owned(), role.to_owned());
        let svc = service(
            c,
            &name,
            db_labels.clone(),
            s,
            vec![("postgresql", pg_port)],
            false,
        );
        cx.push(&file("services"), &svc);
    }

    // A PodDisruptionBudget: what the topology declares, else at most one node down at a time.
    let pdb = PodDisruptionBudget {
        metadata: meta(c, &c.name, db_labels.clone()),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: c
                .pdb
                .as_ref()
                .map(|p| IntOrString::Int(p.min_available.value as i32)),
            max_unavailable: c.pdb.is_none().then_some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(sel.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    cx.push(&file("pdb"), &pdb);

    if c.failover.manager.value == FailoverManager::PgAutoFailover {
        monitor(cx, c);
    }
    backup::objects(cx, c, &db_labels);
    for p in &c.poolers {
        pooler(cx, c, p);
    }
    network_policies(cx, c);
}

fn db_volumes_and_mounts(c: &Cluster) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes = vec![
        config_volume("config", &names::config_map(c), Some(0o555)),
        empty_dir("tmp"),
        empty_dir("run"),
    ];
    let mut mounts = vec![
        mount("data", names::data_mount(c), false),
        mount("config", "/etc/pgtopo", true),
        mount("tmp", "/tmp", false),
        mount("run", "/var/run/postgresql", false),
    ];
    match names::family(c) {
        // The bitnami scripts write generated configuration under /opt/bitnami at start; those
        // folders are memory-backed so the root filesystem can stay read-only.
        Family::Bitnami => {
            for (i, path) in [
                "/opt/bitnami/postgresql/conf",
                "/opt/bitnami/postgresql/tmp",
                "/opt/bitnami/postgresql/logs",
                "/opt/bitnami/repmgr/conf",
                "/opt/bitnami/repmgr/tmp",
                "/opt/bitnami/repmgr/logs",
            ]
            .iter()
            .enumerate()
            {
                let v = format!("bitnami-{i}");
                volumes.push(empty_dir(&v));
                mounts.push(mount(&v, path, false));
            }
            let config_file = |volume: &str, key: &str, path: &str| Volume {
                name: volume.to_owned(),
                config_map: Some(ConfigMapVolumeSource {
                    name: names::config_map(c),
                    items: Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                        key: key.to_owned(),
                        path: path.to_owned(),
                        ..Default::default()
                    }]),
                    ..Default::default()
                }),
                ..Default::default()
            };
            // The image copies /bitnami/postgresql/conf (its conf.d included) over its generated
            // configuration, whose postgresql.conf includes conf.d: pgtopo's parameters come
            // last. It reads no conf.d from /bitnami/repmgr/conf.
            volumes.push(config_file("conf-d", "postgresql.conf", "pgtopo.conf"));
            mounts.push(mount("conf-d", "/bitnami/postgresql/conf/conf.d", true));
            // A pg_hba.conf in /bitnami/repmgr/conf replaces the one the image would write,
            // which lets in password logins from every address.
            volumes.push(config_file("repmgr-conf", "pg_hba.conf", "pg_hba.conf"));
            mounts.push(mount("repmgr-conf", "/bitnami/repmgr/conf", true));
        }
        Family::Official => {}
        Family::Citus | Family::Patroni | Family::Spilo => {}
    }
    // The server certificate, key and CA from the `tls` Secret, under the names every target's
    // postgresql.conf reads. PostgreSQL accepts a key readable by its group when root owns it,
    // as the kubelet's files are (the pod's fsGroup is the group).
    if let Some(secret) = c.tls.as_ref().and_then(|t| t.secret.as_ref()) {
        use crate::plan::params::{CONTAINER_TLS_DIR, TLS_CA, TLS_CERT, TLS_KEY};
        let item = |key: &str, path: &str| k8s_openapi::api::core::v1::KeyToPath {
            key: key.to_owned(),
            path: path.to_owned(),
            ..Default::default()
        };
        volumes.push(Volume {
            name: "tls".to_owned(),
            secret: Some(k8s_openapi::api::core::v1::SecretVolumeSource {
                secret_name: Some(secret.value.clone()),
                default_mode: Some(0o640),
                items: Some(vec![
                    item("tls.crt", TLS_CERT),
                    item("tls.key", TLS_KEY),
                    item("ca.crt", TLS_CA),
                ]),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(mount("tls", CONTAINER_TLS_DIR, true));
    }
    // Both the official and the bitnami image run the scripts of /docker-entrypoint-initdb.d on
    // the primary's first start: there the bootstrap creates the roles and databases.
    if matches!(names::family(c), Family::Official | Family::Bitnami)
        && crate::plan::access::has_bootstrap(c)
    {
        volumes.push(Volume {
            name: "initdb".to_owned(),
            config_map: Some(ConfigMapVolumeSource {
                name: names::config_map(c),
                default_mode: Some(0o555),
                items: Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                    key: "bootstrap.sh".to_owned(),
                    path: "10-pgtopo-bootstrap.sh".to_owned(),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        });
        mounts.push(mount("initdb", "/docker-entrypoint-initdb.d", true));
    }
    (volumes, mounts)
}

fn statefulset(cx: &mut Ctx, c: &Cluster, db_labels: &Labels) {
    let fam = names::family(c);
    let pg_port = names::pg_port(c);
    let sel = selector(c, "database");
    let (volumes, mounts) = db_volumes_and_mounts(c);

    let mut env_vars = vec![
        pod_name_env(),
        secret_env(
            c,
            credentials::SUPERUSER_PASSWORD_VAR,
            credentials::SUPERUSER_PASSWORD_KEY,
        ),
        secret_env(
            c,
            credentials::REPLICATION_PASSWORD_VAR,
            credentials::REPLICATION_PASSWORD_KEY,
        ),
    ];
    match fam {
        Family::Citus => env_vars.push(secret_env(
            c,
            credentials::MONITOR_PASSWORD_VAR,
            credentials::MONITOR_PASSWORD_KEY,
        )),
        Family::Bitnami => {
            // The bitnami image names the superuser password POSTGRESQL_PASSWORD.
            env_vars.push(secret_env(
                c,
                "POSTGRESQL_PASSWORD",
                credentials::SUPERUSER_PASSWORD_KEY,
            ));
            env_vars.push(env("REPMGR_USERNAME", credentials::REPLICATION_USER));
            env_vars.push(secret_env(
                c,
                "REPMGR_PASSWORD",
                credentials::REPLICATION_PASSWORD_KEY,
            ));
            env_vars.push(env("POSTGRESQL_PORT_NUMBER", &pg_port.to_string()));
            env_vars.push(env("REPMGR_PORT_NUMBER", &pg_port.to_string()));
            env_vars.push(env("POSTGRESQL_PGAUDIT_LOG", "none"));
            env_vars.push(env("REPMGR_DATABASE", "repmgr"));
        }
        Family::Patroni | Family::Spilo => {
            env_vars.push(secret_env(
                c,
                "PATRONI_SUPERUSER_PASSWORD",
                credentials::SUPERUSER_PASSWORD_KEY,
            ));
            env_vars.push(secret_env(
                c,
                "PATRONI_REPLICATION_PASSWORD",
                credentials::REPLICATION_PASSWORD_KEY,
            ));
            env_vars.push(secret_env(
                c,
                "PATRONI_REWIND_PASSWORD",
                credentials::SUPERUSER_PASSWORD_KEY,
            ));
            if c.failover.rest_api_auth.value {
                // The REST API's user and password for changes.
                env_vars.push(env(
                    "PATRONI_RESTAPI_USERNAME",
                    credentials::PATRONI_REST_USER,
                ));
                env_vars.push(secret_env(
                    c,
                    "PATRONI_RESTAPI_PASSWORD",
                    credentials::PATRONI_REST_PASSWORD_KEY,
                ));
            }
            env_vars.push(field_env("POD_IP", "status.podIP"));
            env_vars.push(field_env("PATRONI_KUBERNETES_POD_IP", "status.podIP"));
            env_vars.push(field_env(
                "PATRONI_KUBERNETES_NAMESPACE",
                "metadata.namespace",
            ));
        }
        Family::Official => {}
    }
    // The owners' passwords, which the bootstrap SQL sets (the replication role's is set above).
    for r in crate::plan::access::password_roles(c).filter(|r| !r.replication) {
        env_vars.push(secret_env(c, &r.env_var, &r.secret_key));
    }
    let ready_cmd = format!("pg_isready -h 127.0.0.1 -p {pg_port}");
    let patroni = matches!(fam, Family::Patroni | Family::Spilo);
    let mut db_ports = vec![port("postgresql", pg_port)];
    if patroni {
        db_ports.push(port("patroni", 8008));
    }
    let database = Container {
        name: "postgresql".to_owned(),
        image: Some(c.postgres.image.value.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec!["/etc/pgtopo/start.sh".to_owned()]),
        env: Some(env_vars),
        ports: Some(db_ports),
        // Patroni's REST API knows the member's health; elsewhere PostgreSQL is asked directly.
        readiness_probe: Some(if patroni {
            http_probe(c, "/readiness", 10, 10)
        } else {
            exec_probe(&["sh", "-c", &ready_cmd], 10, 10)
        }),
        liveness_probe: Some(if patroni {
            http_probe(c, "/liveness", 60, 20)
        } else {
            tcp_probe("postgresql", 60, 20)
        }),
        resources: Some(resources(&c.resources, DB_DEFAULTS)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(mounts),
        ..Default::default()
    };
    let labeler = Container {
        name: "labeler".to_owned(),
        image: Some(crate::catalog::KUBECTL_IMAGE.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec!["/etc/pgtopo/labeler.sh".to_owned()]),
        // kubectl keeps a discovery cache under $HOME; the root filesystem is read-only.
        env: Some(vec![pod_name_env(), env("HOME", "/tmp")]),
        resources: Some(sidecar_resources()),
        security_context: Some(container_security(true)),
        volume_mounts: Some(vec![
            mount("data", names::data_mount(c), true),
            mount("config", "/etc/pgtopo", true),
            mount("tmp", "/tmp", false),
        ]),
        ..Default::default()
    };
    let mut containers = vec![database];
    if names::needs_labeler(c) {
        containers.push(labeler);
    }
    let (pgbackrest, restore, backup_volumes) = backup::pod_parts(cx.topo, c);
    containers.extend(pgbackrest);
    let mut volumes = volumes;
    volumes.extend(backup_volumes);
    if let Some(m) = &c.monitoring {
        containers.push(Container {
            name: "metrics".to_owned(),
            image: Some(crate::catalog::EXPORTER_IMAGE.to_owned()),
            image_pull_policy: Some("IfNotPresent".to_owned()),
            env: Some(vec![
                env(
                    "DATA_SOURCE_URI",
                    &format!(
                        "127.0.0.1:{pg_port}/postgres?sslmode={}",
                        crate::plan::access::client_sslmode(c)
                    ),
                ),
                // A member of pg_monitor, never the superuser (plan::access::service_roles).
                env("DATA_SOURCE_USER", credentials::EXPORTER_USER),
                secret_env(c, "DATA_SOURCE_PASS", credentials::EXPORTER_PASSWORD_KEY),
            ]),
            args: Some(vec![format!(
                "--web.listen-address=:{}",
                m.exporter_port.value
            )]),
            ports: Some(vec![port("metrics", m.exporter_port.value)]),
            resources: Some(sidecar_resources()),
            security_context: Some(container_security(true)),
            ..Default::default()
        });
    }

    // Spread nodes over machines, and over zones when the topology names zones.
    let anti = Affinity {
        pod_anti_affinity: Some(PodAntiAffinity {
            preferred_during_scheduling_ignored_during_execution: Some(vec![
                WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(LabelSelector {
                            match_labels: Some(sel.clone()),
                            ..Default::default()
                        }),
                        topology_key: "kubernetes.io/hostname".to_owned(),
                        ..Default::default()
                    },
                },
            ]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let zones = c.nodes.iter().any(|n| n.zone.is_some());
    let spread = zones.then(|| {
        vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: "topology.kubernetes.io/zone".to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(LabelSelector {
                match_labels: Some(sel.clone()),
                ..Default::default()
            }),
            ..Default::default()
        }]
    });

    let mut tmpl_labels = db_labels.clone();
    tmpl_labels.insert(names::ROLE_LABEL.to_owned(), "unknown".to_owned());
    let sts = StatefulSet {
        metadata: meta(c, &names::statefulset(c), db_labels.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(c.nodes.len() as i32),
            service_name: Some(names::headless_service(c)),
            // Standbys wait for the primary themselves, so pods may start together; ordered
            // start would deadlock when the primary is not the first node.
            pod_management_policy: Some("Parallel".to_owned()),
            selector: LabelSelector {
                match_labels: Some(sel.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(tmpl_labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(names::service_account(c)),
                    security_context: Some(pod_security(names::uid(fam), names::gid(fam))),
                    affinity: Some(anti),
                    topology_spread_constraints: spread,
                    termination_grace_period_seconds: Some(60),
                    init_containers: restore.map(|r| vec![r]),
                    containers,
                    volumes: Some(volumes),
                    ..Default::default()
                }),
            },
            volume_claim_templates: Some(vec![pvc(
                c,
                "data",
                &c.storage.size.value,
                c.storage.class.as_ref().map(|s| s.value.as_str()),
            )]),
            ..Default::default()
        }),
        ..Default::default()
    };
    cx.push(&format!("{}-statefulset.yaml", c.name), &sts);
}

fn pvc(c: &Cluster, name: &str, size: &str, class: Option<&str>) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: user_labels(c),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_owned()]),
            storage_class_name: class.map(str::to_owned),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), q(size))])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// pg_auto_failover's monitor: a one-pod StatefulSet (its volume claim is the monitor's PVC) and
/// its Service.
fn monitor(cx: &mut Ctx, c: &Cluster) {
    let Some(m) = &c.failover.monitor else { return };
    let l = labels(cx, c, "pg-auto-failover-monitor", "monitor");
    let sel = selector(c, "monitor");
    let port_no = m.port.value;
    let script = format!(
        "set -eu\nexport XDG_CONFIG_HOME=/var/lib/postgresql/config XDG_DATA_HOME=/var/lib/postgresql/share\n\
# pg_autoctl's pidfile is under /tmp, an emptyDir that outlives a crashed container: the restarted\n\
# monitor, PID 1 again, would find \"its\" PID alive and refuse to start.\n\
rm -rf /tmp/pg_autoctl\n\
# pg_autoctl would allow the nodes in pg_hba.conf from the network of the address its --hostname\n\
# resolves to, and fails when that is no address of this pod, as a Service's ClusterIP is not.\n\
# The nodes connect from pod IPs anywhere in the cluster, with the monitor password (the\n\
# NetworkPolicy decides which pods may connect at all), so the rule is written here.\n\
if [ ! -f /var/lib/postgresql/monitor/PG_VERSION ]; then\n  \
pg_autoctl create monitor --pgdata /var/lib/postgresql/monitor --pgport {port_no} \
--hostname \"{svc}\" --skip-pg-hba --ssl-self-signed\n\
fi\n\
grep -q '^hostssl pg_auto_failover autoctl_node all scram-sha-256' /var/lib/postgresql/monitor/pg_hba.conf \\\n  \
|| echo 'hostssl pg_auto_failover autoctl_node all scram-sha-256' >> /var/lib/postgresql/monitor/pg_hba.conf\n\
# The nodes log in as autoctl_node with the Secret's monitor password (psql interpolates :'pw'\n\
# only in what it reads from standard input, not in -c); the reload applies the rule above.\n\
(until echo \"ALTER USER autoctl_node PASSWORD :'pw'; SELECT pg_reload_conf() AS reloaded \\\\gset\" | psql -h /var/run/postgresql -p {port_no} \
-d pg_auto_failover -v ON_ERROR_STOP=1 -v pw=\"$MONITOR_PASSWORD\"; do sleep 5; done) &\n\
exec pg_autoctl run --pgdata /var/lib/postgresql/monitor\n",
        svc = names::monitor_service(c),
    );
    let ready = format!("pg_isready -h 127.0.0.1 -p {port_no}");
    let container = Container {
        name: "monitor".to_owned(),
        image: Some(c.postgres.image.value.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec!["/bin/bash".to_owned(), "-c".to_owned(), script]),
        env: Some(vec![secret_env(
            c,
            credentials::MONITOR_PASSWORD_VAR,
            credentials::MONITOR_PASSWORD_KEY,
        )]),
        ports: Some(vec![port("monitor", port_no)]),
        readiness_probe: Some(exec_probe(&["sh", "-c", &ready], 10, 10)),
        liveness_probe: Some(tcp_probe("monitor", 60, 20)),
        resources: Some(resources(
            &Resources::default(),
            ("100m", "256Mi", "500m", "512Mi"),
        )),
        security_context: Some(container_security(true)),
        volume_mounts: Some(vec![
            mount("data", "/var/lib/postgresql", false),
            mount("tmp", "/tmp", false),
            mount("run", "/var/run/postgresql", false),
        ]),
        ..Default::default()
    };
    let sts = StatefulSet {
        metadata: meta(c, &names::monitor_service(c), l.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(names::monitor_service(c)),
            selector: LabelSelector {
                match_labels: Some(sel.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(l.clone()),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(
                        names::uid(Family::Citus),
                        names::gid(Family::Citus),
                    )),
                    containers: vec![container],
                    volumes: Some(vec![empty_dir("tmp"), empty_dir("run")]),
                    ..Default::default()
                }),
            },
            volume_claim_templates: Some(vec![pvc(
                c,
                "data",
                &m.storage.value,
                c.storage.class.as_ref().map(|s| s.value.as_str()),
            )]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let file = format!("{}-monitor.yaml", c.name);
    cx.push(&file, &sts);
    let svc = service(
        c,
        &names::monitor_service(c),
        l,
        sel,
        vec![("monitor", port_no)],
        false,
    );
    cx.push(&file, &svc);
}

fn pooler_selector(c: &Cluster, p: &Pooler) -> Labels {
    let mut s = selector(c, "pooler");
    s.insert(names::POOLER_LABEL.to_owned(), p.name.clone());
    s
}

fn pooler(cx: &mut Ctx, c: &Cluster, p: &Pooler) {
    let name = names::pooler(c, p);
    let mut l = labels(cx, c, p.kind.value.as_str(), "pooler");
    l.insert(names::POOLER_LABEL.to_owned(), p.name.clone());
    let sel = pooler_selector(c, p);
    let file = format!("{}-pooler-{}.yaml", c.name, p.name);
    let port_name = p.kind.value.as_str();
    let res = resources(&p.resources, POOLER_DEFAULTS);
    let pod_spec = match p.kind.value {
        PoolerKind::Pgbouncer => {
            let mut data = BTreeMap::new();
            data.insert("pgbouncer.ini".to_owned(), config::pgbouncer_ini(c, p));
            data.insert("write-auth.sh".to_owned(), config::pgbouncer_auth_script());
            let cm = ConfigMap {
                metadata: meta(c, &name, l.clone()),
                data: Some(data),
                ..Default::default()
            };
            cx.push(&file, &cm);
            let auth = Container {
                name: "write-auth".to_owned(),
                image: Some(crate::catalog::PGBOUNCER_IMAGE.to_owned()),
                image_pull_policy: Some("IfNotPresent".to_owned()),
                command: Some(vec![
                    "/bin/sh".to_owned(),
                    "/etc/pgbouncer/write-auth.sh".to_owned(),
                ]),
                env: Some(vec![secret_env(
                    c,
                    credentials::POOLER_AUTH_PASSWORD_VAR,
                    credentials::POOLER_AUTH_PASSWORD_KEY,
                )]),
                resources: Some(sidecar_resources()),
                security_context: Some(container_security(true)),
                volume_mounts: Some(vec![
                    mount("config", "/etc/pgbouncer", true),
                    mount("auth", "/etc/pgbouncer-auth", false),
                ]),
                ..Default::default()
            };
            let main = Container {
                name: "pgbouncer".to_owned(),
                image: Some(crate::catalog::PGBOUNCER_IMAGE.to_owned()),
                image_pull_policy: Some("IfNotPresent".to_owned()),
                command: Some(vec![
                    "pgbouncer".to_owned(),
                    "/etc/pgbouncer/pgbouncer.ini".to_owned(),
                ]),
                ports: Some(vec![port(port_name, p.port.value)]),
                readiness_probe: Some(tcp_probe(port_name, 5, 10)),
                liveness_probe: Some(tcp_probe(port_name, 15, 20)),
                resources: Some(res),
                security_context: Some(container_security(true)),
                volume_mounts: Some(vec![
                    mount("config", "/etc/pgbouncer", true),
                    mount("auth", "/etc/pgbouncer-auth", true),
                    mount("tmp", "/tmp", false),
                ]),
                ..Default::default()
            };
            PodSpec {
                automount_service_account_token: Some(false),
                security_context: Some(pod_security(70, 70)),
                init_containers: Some(vec![auth]),
                containers: vec![main],
                volumes: Some(vec![
                    config_volume("config", &name, None),
                    Volume {
                        name: "auth".to_owned(),
                        empty_dir: Some(EmptyDirVolumeSource {
                            medium: Some("Memory".to_owned()),
                            ..Default::default()
                        }),
                        ..Default::default()
                    },
                    empty_dir("tmp"),
                ]),
                ..Default::default()
            }
        }
        PoolerKind::Pgpool => {
            let headless = names::headless_service(c);
            let backends = c
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    format!(
                        "{i}:{}.{headless}:{}",
                        names::pod_of(c, &n.name),
                        names::pg_port(c)
                    )
                })
                .collect::<Vec<_>>()
                .join(",");
            let check_key = credentials::owner_password_key(credentials::PGPOOL_CHECK_USER);
            let mut envs = vec![
                env("PGPOOL_BACKEND_NODES", &backends),
                env("PGPOOL_PORT_NUMBER", &p.port.value.to_string()),
                // Pgpool-II checks the nodes as a pg_monitor role and the image logs in through
                // Pgpool-II as a role with no privilege: never the superuser or the replication
                // role (plan::access::service_roles; docs/security.md says why the two differ).
                // The PCP administrator is Pgpool-II's own user, with its own password.
                env("PGPOOL_SR_CHECK_USER", credentials::PGPOOL_CHECK_USER),
                secret_env(c, "PGPOOL_SR_CHECK_PASSWORD", &check_key),
                env("PGPOOL_HEALTH_CHECK_USER", credentials::PGPOOL_CHECK_USER),
                secret_env(c, "PGPOOL_HEALTH_CHECK_PASSWORD", &check_key),
                env("PGPOOL_POSTGRES_USERNAME", credentials::PGPOOL_PROBE_USER),
                secret_env(
                    c,
                    "PGPOOL_POSTGRES_PASSWORD",
                    &credentials::owner_password_key(credentials::PGPOOL_PROBE_USER),
                ),
                env("PGPOOL_ADMIN_USERNAME", "admin"),
                secret_env(
                    c,
                    "PGPOOL_ADMIN_PASSWORD",
                    credentials::PGPOOL_ADMIN_PASSWORD_KEY,
                ),
                env(
                    "PGPOOL_ENABLE_LOAD_BALANCING",
                    if p.load_balance_reads { "yes" } else { "no" },
                ),
                env(
                    "PGPOOL_NUM_INIT_CHILDREN",
                    &p.pool.max_client_conn.value.to_string(),
                ),
                env("PGPOOL_MAX_POOL", &p.pool.size.value.to_string()),
                env("PGPOOL_AUTHENTICATION_METHOD", "scram-sha-256"),
                env("PGPOOL_ENABLE_LDAP", "no"),
            ];
            // The database owners log in through Pgpool-II too (workload Jobs connect as the
            // owner; without an owned database, as the superuser): the image adds them to its
            // pool_passwd. Kubernetes expands `$(VAR)` from the variables defined before, so the
            // passwords come from the Secret.
            let owners = crate::plan::access::pgpool_users(c);
            if !owners.is_empty() {
                let mut names = Vec::new();
                let mut passwords = Vec::new();
                for r in &owners {
                    envs.push(secret_env(c, &r.env_var, &r.secret_key));
                    names.push(r.name.clone());
                    passwords.push(format!("$({})", r.env_var));
                }
                envs.push(env("PGPOOL_POSTGRES_CUSTOM_USERS", &names.join(",")));
                envs.push(env(
                    "PGPOOL_POSTGRES_CUSTOM_PASSWORDS",
                    &passwords.join(","),
                ));
            }
            if let Some(h) = &p.health_check_interval {
                envs.push(env("PGPOOL_HEALTH_CHECK_PERIOD", &h.value.to_string()));
            }
            if p.target.value == PoolerTarget::Primary {
                envs.push(env("PGPOOL_DISABLE_LOAD_BALANCE_ON_WRITE", "always"));
            }
            let main = Container {
                name: "pgpool".to_owned(),
                image: Some(crate::catalog::PGPOOL_IMAGE.to_owned()),
                image_pull_policy: Some("IfNotPresent".to_owned()),
                env: Some(envs),
                ports: Some(vec![port(port_name, p.port.value)]),
                readiness_probe: Some(tcp_probe(port_name, 5, 10)),
                liveness_probe: Some(tcp_probe(port_name, 30, 20)),
                resources: Some(res),
                security_context: Some(container_security(true)),
                volume_mounts: Some(vec![
                    mount("tmp", "/tmp", false),
                    mount("pgpool-conf", "/opt/bitnami/pgpool/conf", false),
                    mount("pgpool-etc", "/opt/bitnami/pgpool/etc", false),
                    mount("pgpool-tmp", "/opt/bitnami/pgpool/tmp", false),
                    mount("pgpool-logs", "/opt/bitnami/pgpool/logs", false),
                ]),
                ..Default::default()
            };
            PodSpec {
                automount_service_account_token: Some(false),
                security_context: Some(pod_security(1001, 1001)),
                containers: vec![main],
                volumes: Some(vec![
                    empty_dir("tmp"),
                    empty_dir("pgpool-conf"),
                    empty_dir("pgpool-etc"),
                    empty_dir("pgpool-tmp"),
                    empty_dir("pgpool-logs"),
                ]),
                ..Default::default()
            }
        }
    };
    let dep = Deployment {
        metadata: meta(c, &name, l.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(p.replicas.value as i32),
            selector: LabelSelector {
                match_labels: Some(sel.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(l.clone()),
                    ..Default::default()
                }),
                spec: Some(pod_spec),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    cx.push(&file, &dep);
    let svc = service(c, &name, l, sel, vec![(port_name, p.port.value)], false);
    cx.push(&file, &svc);
}

fn peer(labels: Labels) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(labels),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn np_port(name: &str) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::String(name.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..Default::default()
    }
}

fn policy(
    c: &Cluster,
    name: &str,
    l: &Labels,
    pods: Labels,
    ingress: Vec<NetworkPolicyIngressRule>,
) -> NetworkPolicy {
    NetworkPolicy {
        metadata: meta(c, name, l.clone()),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(pods),
                ..Default::default()
            }),
            policy_types: Some(vec!["Ingress".to_owned()]),
            ingress: Some(ingress),
            ..Default::default()
        }),
    }
}

/// Ingress is denied by default for every pod of the cluster; the other policies open exactly the
/// paths the topology uses.
fn network_policies(cx: &mut Ctx, c: &Cluster) {
    let l = labels(cx, c, "postgresql", "network-policy");
    let file = format!("{}-networkpolicy.yaml", c.name);
    let instance = BTreeMap::from([("app.kubernetes.io/instance".to_owned(), c.name.clone())]);
    cx.push(
        &file,
        &policy(c, &format!("{}-default-deny", c.name), &l, instance, vec![]),
    );

    // Into the database pods: replication between nodes, the monitor, the poolers, standby
    // clusters that follow this one, and clients when there is no pooler.
    let mut from = vec![peer(selector(c, "database"))];
    if c.failover.manager.value == FailoverManager::PgAutoFailover {
        from.push(peer(selector(c, "monitor")));
    }
    if !c.poolers.is_empty() {
        from.push(peer(selector(c, "pooler")));
    }
    for other in &cx.topo.clusters {
        if other.replica_of.as_ref().is_some_and(|r| r.value == c.name) {
            let mut p = peer(selector(other, "database"));
            if other.namespace.value != c.namespace.value {
                p.namespace_selector = Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_owned(),
                        other.namespace.value.clone(),
                    )])),
                    ..Default::default()
                });
            }
            from.push(p);
        }
    }
    // Workload Jobs check every node directly: those of this cluster, and those of the cluster
    // a standby cluster follows.
    for w in &cx.topo.workloads {
        let Some(wc) = cx.topo.cluster(&w.cluster.value) else {
            continue;
        };
        let follows = c.replica_of.as_ref().is_some_and(|r| r.value == wc.name);
        if wc.name != c.name && !follows {
            continue;
        }
        let mut p = peer(selector(wc, "workload"));
        if wc.namespace.value != c.namespace.value {
            p.namespace_selector = Some(LabelSelector {
                match_labels: Some(BTreeMap::from([(
                    "kubernetes.io/metadata.name".to_owned(),
                    wc.namespace.value.clone(),
                )])),
                ..Default::default()
            });
        }
        if !from.contains(&p) {
            from.push(p);
        }
    }
    let mut rules = vec![NetworkPolicyIngressRule {
        from: Some(from),
        ports: Some(vec![np_port("postgresql")]),
    }];
    if c.failover.manager.value == FailoverManager::Patroni {
        // Patroni members ask each other's REST API before a promotion.
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![peer(selector(c, "database"))]),
            ports: Some(vec![np_port("patroni")]),
        });
    }
    if c.poolers.is_empty() {
        // Without a pooler, applications in the namespace connect to the Services directly.
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![peer(Labels::new())]),
            ports: Some(vec![np_port("postgresql")]),
        });
    }
    if c.monitoring.is_some() {
        // Prometheus may run in any namespace; only the metrics port is open to it.
        rules.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector::default()),
                ..Default::default()
            }]),
            ports: Some(vec![np_port("metrics")]),
        });
    }
    cx.push(
        &file,
        &policy(
            c,
            &format!("{}-database", c.name),
            &l,
            selector(c, "database"),
            rules,
        ),
    );

    if c.failover.manager.value == FailoverManager::PgAutoFailover {
        let rules = vec![NetworkPolicyIngressRule {
            from: Some(vec![peer(selector(c, "database"))]),
            ports: Some(vec![np_port("monitor")]),
        }];
        cx.push(
            &file,
            &policy(
                c,
                &format!("{}-monitor", c.name),
                &l,
                selector(c, "monitor"),
                rules,
            ),
        );
    }
    for p in &c.poolers {
        // Clients reach poolers from anywhere in the cluster network; only the pooler port is open.
        let rules = vec![NetworkPolicyIngressRule {
            from: None,
            ports: Some(vec![np_port(p.kind.value.as_str())]),
        }];
        let name = format!("{}-pooler", names::pooler(c, p));
        cx.push(&file, &policy(c, &name, &l, pooler_selector(c, p), rules));
    }
}
