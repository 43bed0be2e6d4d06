//! Workload Jobs: for every `workload`, a ConfigMap holding load.sql and verify.sh and a Job that
//! runs them in the cluster's own postgres image. A child of objects.rs so that it shares its
//! label, security and resource helpers.
//!
//! The Job loads through the write endpoint (a pooler that reaches the primary, else the
//! `<cluster>-primary` Service), reads the primary's count through `<cluster>-primary`, and checks
//! every pod directly through the headless Service plus the primary Service of every standby
//! cluster that follows this one.

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{ConfigMap, Container, PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::*;
use crate::emit::workload as scripts;
use crate::model::Workload;

/// Requests and limits of the workload container: psql is small, the server does the work.
const WORKLOAD_DEFAULTS: (&str, &str, &str, &str) = ("50m", "64Mi", "500m", "256Mi");
/// Retries of a failed load/verify run; load.sql is idempotent, so a retry only finishes the job.
const BACKOFF_LIMIT: i32 = 2;
/// A finished Job (and its pod, with the verification log) is kept for a day, then collected.
const TTL_SECONDS: i32 = 86_400;

/// The Job and ConfigMap name: `<cluster>-<workload>`, unless the workload already starts with
/// the cluster's name.
pub fn job_name(c: &Cluster, w: &Workload) -> String {
    if w.name.starts_with(&c.name) {
        w.name.clone()
    } else {
        format!("{}-{}", c.name, w.name)
    }
}

/// The host:port of a Service as seen from a pod in `from_ns`.
fn svc_addr(c: &Cluster, svc: &str, port: u16, from_ns: &str) -> String {
    if c.namespace.value == from_ns {
        format!("{svc}:{port}")
    } else {
        format!("{svc}.{}:{port}", c.namespace.value)
    }
}

/// The write endpoint: a pooler that sends writes to the primary (PgBouncer or Pgpool-II
/// targeting the primary, or Pgpool-II targeting `any`, which routes writes to the primary);
/// otherwise the primary Service.
fn write_endpoint(c: &Cluster) -> String {
    let ns = &c.namespace.value;
    c.poolers
        .iter()
        .find(|p| {
            p.target.value == PoolerTarget::Primary
                || (p.kind.value == PoolerKind::Pgpool && p.target.value == PoolerTarget::Any)
        })
        .map(|p| svc_addr(c, &names::pooler(c, p), p.port.value, ns))
        .unwrap_or_else(|| svc_addr(c, &names::primary_service(c), names::pg_port(c), ns))
}

/// The read endpoint of the continuous mode: a pooler that reaches standbys, else the replicas
/// Service.
fn read_endpoint(c: &Cluster) -> String {
    let ns = &c.namespace.value;
    c.poolers
        .iter()
        .find(|p| matches!(p.target.value, PoolerTarget::Replicas | PoolerTarget::Any))
        .map(|p| svc_addr(c, &names::pooler(c, p), p.port.value, ns))
        .unwrap_or_else(|| svc_addr(c, &names::replicas_service(c), names::pg_port(c), ns))
}

/// Every address verify.sh checks: each pod of the cluster (with `every-node`) and the primary
/// Service of each standby cluster.
fn verify_nodes(topo: &Topology, c: &Cluster, w: &Workload) -> Vec<String> {
    let ns = &c.namespace.value;
    let mut out = Vec::new();
    if w.verify.as_ref().is_none_or(|v| v.every_node) {
        for n in &c.nodes {
            let pod = format!(
                "{}.{}",
                names::pod_of(c, &n.name),
                names::headless_service(c)
            );
            out.push(svc_addr(c, &pod, names::pg_port(c), ns));
        }
    }
    for s in &topo.clusters {
        if s.replica_of.as_ref().is_some_and(|r| r.value == c.name) {
            out.push(svc_addr(
                s,
                &names::primary_service(s),
                names::pg_port(s),
                ns,
            ));
        }
    }
    out
}

/// The ConfigMap and Job of every workload of `topo`, in declaration order.
pub fn build(topo: &Topology, part_of: &str) -> Vec<Obj> {
    let mut cx = Ctx {
        topo,
        part_of,
        out: Vec::new(),
    };
    for w in &topo.workloads {
        let Some(c) = topo.cluster(&w.cluster.value) else {
            continue;
        };
        job(&mut cx, c, w);
    }
    super::super::security::annotate(&mut cx.out);
    cx.out
}

fn job(cx: &mut Ctx, c: &Cluster, w: &Workload) {
    let name = job_name(c, w);
    let file = format!("{name}.yaml");
    let mut l = labels(cx, c, "pgtopo-workload", "workload");
    l.insert("pgtopo.io/workload".to_owned(), w.name.clone());
    let scripts_cm = format!("{name}-scripts");
    let cm = ConfigMap {
        metadata: meta(c, &scripts_cm, l.clone()),
        data: Some(BTreeMap::from([
            (scripts::LOAD_SQL.to_owned(), scripts::load_sql(w)),
            (scripts::VERIFY_SH.to_owned(), scripts::verify_sh(w)),
            (scripts::RUN_SH.to_owned(), scripts::run_sh(w, "/scripts")),
        ])),
        ..Default::default()
    };
    cx.push(&file, &cm);

    let ns = &c.namespace.value;
    // The database's owner, not the superuser (plan::access::workload_login).
    let (user, db, role) = crate::plan::access::workload_login(c);
    let key = role.map_or(credentials::SUPERUSER_PASSWORD_KEY.to_owned(), |r| {
        r.secret_key
    });
    let mut envs = vec![
        env("PGUSER", &user),
        secret_env(c, "PGPASSWORD", &key),
        env("PGDATABASE", &db),
        // psql would otherwise look for its history and rc files under the image's home.
        env("HOME", "/tmp"),
        env("WRITE", &write_endpoint(c)),
        env(
            "PRIMARY",
            &svc_addr(c, &names::primary_service(c), names::pg_port(c), ns),
        ),
    ];
    if w.verify.as_ref().is_some_and(|v| v.interval.is_some()) {
        envs.push(env("READ", &read_endpoint(c)));
    }
    let container = Container {
        name: "workload".to_owned(),
        image: Some(c.postgres.image.value.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        // The nodes are arguments, one per line, rather than one long variable: kustomize folds
        // long scalars, and `pgtopo build` must print what `kubectl kustomize` prints.
        command: Some(vec![
            "/bin/sh".to_owned(),
            format!("/scripts/{}", scripts::RUN_SH),
        ]),
        args: Some(verify_nodes(cx.topo, c, w)),
        env: Some(envs),
        resources: Some(resources(&Resources::default(), WORKLOAD_DEFAULTS)),
        security_context: Some(container_security(true)),
        volume_mounts: Some(vec![
            mount("scripts", "/scripts", true),
            mount("tmp", "/tmp", false),
        ]),
        ..Default::default()
    };
    let job = Job {
        metadata: meta(c, &name, l.clone()),
        spec: Some(JobSpec {
            backoff_limit: Some(BACKOFF_LIMIT),
            ttl_seconds_after_finished: Some(TTL_SECONDS),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(l),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    restart_policy: Some("Never".to_owned()),
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(
                        names::uid(names::family(c)),
                        names::gid(names::family(c)),
                    )),
                    containers: vec![container],
                    volumes: Some(vec![
                        config_volume("scripts", &scripts_cm, Some(0o555)),
                        empty_dir("tmp"),
                    ]),
                    ..Default::default()
                }),
            },
            ..Default::default()
        }),
        ..Default::default()
    };
    cx.push(&file, &job);
}
