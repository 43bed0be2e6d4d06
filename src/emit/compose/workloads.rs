//! Workloads on Compose: one one-shot service per `workload` that runs load.sql through the write
//! endpoint and then verify.sh against every node, with the scripts mounted read-only.
//!
//! The services carry the Compose profile `workloads`, so `docker compose up -d` never starts a
//! data load by surprise; `docker compose --profile workloads up <service>` (or `docker compose
//! run --rm <service>`) does, on purpose.

use indexmap::IndexMap;

use super::postgres::PG_PORT;
use super::spec::{ComposeFile, DependsOn, Service};
use super::vars::Vars;
use super::NETWORK;
use crate::emit::workload as scripts;
use crate::model::{Cluster, PoolerKind, PoolerTarget, Topology, Workload};

/// The profile that gates every workload service.
pub const PROFILE: &str = "workloads";
/// Where the scripts are mounted inside the container.
const DIR: &str = "/workload";

/// The service name: `workload-<name>`, apart from node and pooler names.
pub fn service_name(w: &Workload) -> String {
    format!("workload-{}", w.name)
}

/// The port a pooler listens on inside its container: Pgpool-II on PostgreSQL's port, PgBouncer
/// on its own (its ports are published unchanged).
fn pooler_port(kind: PoolerKind, port: u16) -> u16 {
    match kind {
        PoolerKind::Pgpool => PG_PORT,
        PoolerKind::Pgbouncer => port,
    }
}

pub fn topology(
    t: &Topology,
    compose: &mut ComposeFile,
    files: &mut IndexMap<String, String>,
    vars: &mut Vars,
) {
    for w in &t.workloads {
        if let Some(c) = t.cluster(&w.cluster.value) {
            workload(t, c, w, compose, files, vars);
        }
    }
}

fn workload(
    t: &Topology,
    c: &Cluster,
    w: &Workload,
    compose: &mut ComposeFile,
    files: &mut IndexMap<String, String>,
    vars: &mut Vars,
) {
    let Some(primary) = c.primary() else {
        return;
    };
    let dir = format!("workloads/{}", w.name);
    files.insert(format!("{dir}/{}", scripts::LOAD_SQL), scripts::load_sql(w));
    files.insert(
        format!("{dir}/{}", scripts::VERIFY_SH),
        scripts::verify_sh(w),
    );
    files.insert(
        format!("{dir}/{}", scripts::RUN_SH),
        scripts::run_sh(w, DIR),
    );

    let mut depends_on = IndexMap::new();
    // The nodes to verify, each by its own service name (never through a pooler).
    let mut nodes = Vec::new();
    if w.verify.as_ref().is_none_or(|v| v.every_node) {
        for n in &c.nodes {
            nodes.push(n.name.clone());
        }
    }
    for s in &t.clusters {
        if s.replica_of.as_ref().is_some_and(|r| r.value == c.name) {
            if let Some(p) = s.primary() {
                nodes.push(p.name.clone());
            }
        }
    }
    depends_on.insert(primary.name.clone(), DependsOn::healthy());
    for n in &nodes {
        depends_on.insert(n.clone(), DependsOn::healthy());
    }
    let pooler = |ok: &dyn Fn(PoolerKind, PoolerTarget) -> bool| {
        c.poolers.iter().find(|p| ok(p.kind.value, p.target.value))
    };
    let write = pooler(&|k, t| {
        t == PoolerTarget::Primary || (k == PoolerKind::Pgpool && t == PoolerTarget::Any)
    });
    let read = pooler(&|_, t| matches!(t, PoolerTarget::Replicas | PoolerTarget::Any));
    let mut endpoint = |p: Option<&crate::model::Pooler>, fallback: String| match p {
        Some(p) => {
            // PgBouncer has no healthcheck; Pgpool-II has one.
            let cond = match p.kind.value {
                PoolerKind::Pgpool => DependsOn::healthy(),
                PoolerKind::Pgbouncer => DependsOn::started(),
            };
            depends_on.insert(p.name.clone(), cond);
            format!("{}:{}", p.name, pooler_port(p.kind.value, p.port.value))
        }
        None => fallback,
    };
    let primary_addr = format!("{}:{PG_PORT}", primary.name);
    let mut env = IndexMap::new();
    // The database's owner, not the superuser (plan::access::workload_login).
    let (user, db, role) = crate::plan::access::workload_login(c);
    let password = match &role {
        Some(r) => vars.role(r),
        None => vars.superuser(),
    };
    env.insert("PGUSER".into(), user.into());
    env.insert("PGPASSWORD".into(), password.into());
    env.insert("PGDATABASE".into(), db.into());
    env.insert("PRIMARY".into(), primary_addr.clone().into());
    env.insert("WRITE".into(), endpoint(write, primary_addr.clone()).into());
    if w.verify.as_ref().is_some_and(|v| v.interval.is_some()) {
        // Without a reading pooler, the continuous mode reads from the first standby.
        let first_standby = c
            .standbys()
            .next()
            .map_or(primary_addr.clone(), |n| format!("{}:{PG_PORT}", n.name));
        env.insert("READ".into(), endpoint(read, first_standby).into());
    }
    let svc = Service {
        image: c.postgres.image.value.clone().into(),
        // A one-shot: no restart policy, Compose's default "no", so it exits for good when the
        // load and the verification are done (or failed).
        restart: "".into(),
        profiles: vec![PROFILE.into()],
        entrypoint: Some(vec![
            "/bin/sh".into(),
            format!("{DIR}/{}", scripts::RUN_SH).into(),
        ]),
        command: Some(
            nodes
                .iter()
                .map(|n| format!("{n}:{PG_PORT}").into())
                .collect(),
        ),
        environment: env,
        volumes: vec![format!("./{dir}:{DIR}:ro").into()],
        depends_on,
        networks: vec![NETWORK.into()],
        ..Service::default()
    };
    compose.add_service(service_name(w), svc);
}
