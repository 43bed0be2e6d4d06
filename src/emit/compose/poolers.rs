//! Poolers: bitnami/pgpool configured through its environment, and PgBouncer with a generated
//! `pgbouncer.ini` whose `auth_file` is written from the environment when the container starts.

use indexmap::IndexMap;

use super::postgres::PG_PORT;
use super::spec::{ComposeFile, DependsOn, Healthcheck, Service};
use super::vars::{Vars, PGPOOL_ADMIN_PASSWORD_VAR};
use super::{NETWORK, RESTART};
use crate::catalog::{PGBOUNCER_IMAGE, PGPOOL_IMAGE};
use crate::emit::text;
use crate::model::{credentials, Cluster, Node, Pooler, PoolerKind, PoolerTarget, Role};
use crate::plan::access::pgpool_users;
use crate::plan::pooler::{self, PgBouncerPlace};

/// Where the PgBouncer container finds its generated files.
const PGBOUNCER_DIR: &str = "/etc/pgbouncer";
/// Where the PgBouncer entrypoint writes the auth_file (inside the container, never on disk here).
pub const PGBOUNCER_AUTH_FILE: &str = "/tmp/pgbouncer/userlist.txt";

/// The nodes a pooler sends connections to.
fn targets<'a>(c: &'a Cluster, p: &Pooler) -> Vec<&'a Node> {
    c.nodes
        .iter()
        .filter(|n| match p.target.value {
            PoolerTarget::Primary => n.role.value == Role::Primary,
            PoolerTarget::Replicas => n.role.value != Role::Primary,
            PoolerTarget::Any | PoolerTarget::Local => true,
        })
        .collect()
}

/// bitnami's images read "true"/"false" as well as "yes"/"no"; the former stay strings in every
/// YAML version (a bare `no` is a boolean to YAML 1.1 readers).
fn yes_no(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
}

pub fn cluster(
    c: &Cluster,
    compose: &mut ComposeFile,
    files: &mut IndexMap<String, String>,
    vars: &mut Vars,
) {
    for p in &c.poolers {
        let svc = match p.kind.value {
            PoolerKind::Pgpool => pgpool(c, p, vars),
            PoolerKind::Pgbouncer => pgbouncer(c, p, files, vars),
        };
        compose.add_service(p.name.clone(), svc);
    }
}

fn depends_on(nodes: &[&Node]) -> IndexMap<String, DependsOn> {
    nodes
        .iter()
        .map(|n| (n.name.clone(), DependsOn::healthy()))
        .collect()
}

/// Pgpool-II must see every node (it finds the primary itself to route writes); the target only
/// decides where reads may go: `primary` turns load balancing off, `replicas` gives the primary
/// a weight of 0.
fn pgpool(c: &Cluster, p: &Pooler, vars: &mut Vars) -> Service {
    let backends: Vec<String> = c
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let weight =
                if p.target.value == PoolerTarget::Replicas && n.role.value == Role::Primary {
                    0
                } else {
                    1
                };
            format!("{i}:{}:{PG_PORT}:{weight}", n.name)
        })
        .collect();
    let names: Vec<&str> = c.nodes.iter().map(|n| n.name.as_str()).collect();
    let mut env = IndexMap::new();
    env.insert("PGPOOL_BACKEND_NODES".into(), backends.join(",").into());
    env.insert(
        "PGPOOL_BACKEND_APPLICATION_NAMES".into(),
        names.join(",").into(),
    );
    // Pgpool-II checks the nodes as a pg_monitor role, and the image logs in through Pgpool-II
    // (pool_passwd, its health check) as a role with no privilege: never the superuser
    // (plan::access::service_roles; docs/security.md says why the two differ).
    let check = vars.owner(credentials::PGPOOL_CHECK_USER);
    let probe = vars.owner(credentials::PGPOOL_PROBE_USER);
    for (k, v) in [
        ("PGPOOL_SR_CHECK_USER", credentials::PGPOOL_CHECK_USER),
        ("PGPOOL_SR_CHECK_PASSWORD", &check),
        ("PGPOOL_HEALTH_CHECK_USER", credentials::PGPOOL_CHECK_USER),
        ("PGPOOL_HEALTH_CHECK_PASSWORD", &check),
        ("PGPOOL_POSTGRES_USERNAME", credentials::PGPOOL_PROBE_USER),
        ("PGPOOL_POSTGRES_PASSWORD", &probe),
    ] {
        env.insert(k.into(), v.to_owned().into());
    }
    env.insert("PGPOOL_ADMIN_USERNAME".into(), "admin".into());
    env.insert(
        "PGPOOL_ADMIN_PASSWORD".into(),
        vars.interpolate(
            PGPOOL_ADMIN_PASSWORD_VAR,
            "Password of Pgpool-II's \"admin\" user (PCP commands).",
        )
        .into(),
    );
    // The roles that log in through Pgpool-II: the image adds them to its pool_passwd.
    let users = pgpool_users(c);
    if !users.is_empty() {
        let names: Vec<&str> = users.iter().map(|r| r.name.as_str()).collect();
        let pw: Vec<String> = users
            .iter()
            .map(|r| {
                if r.name == "postgres" {
                    vars.superuser()
                } else {
                    vars.owner(&r.name)
                }
            })
            .collect();
        env.insert(
            "PGPOOL_POSTGRES_CUSTOM_USERS".into(),
            names.join(",").into(),
        );
        env.insert(
            "PGPOOL_POSTGRES_CUSTOM_PASSWORDS".into(),
            pw.join(",").into(),
        );
    }
    env.insert("PGPOOL_ENABLE_LDAP".into(), yes_no(false).into());
    env.insert(
        "PGPOOL_ENABLE_LOAD_BALANCING".into(),
        yes_no(p.load_balance_reads && p.target.value != PoolerTarget::Primary).into(),
    );
    env.insert(
        "PGPOOL_MAX_POOL".into(),
        p.pool.size.value.to_string().into(),
    );
    env.insert(
        "PGPOOL_NUM_INIT_CHILDREN".into(),
        p.pool.max_client_conn.value.to_string().into(),
    );
    if let Some(h) = &p.health_check_interval {
        env.insert(
            "PGPOOL_HEALTH_CHECK_PERIOD".into(),
            h.value.to_string().into(),
        );
    }
    let all: Vec<&Node> = c.nodes.iter().collect();
    Service {
        image: PGPOOL_IMAGE.into(),
        restart: RESTART.into(),
        environment: env,
        ports: vec![format!("{}:{PG_PORT}", p.port.value).into()],
        depends_on: depends_on(&all),
        healthcheck: Some(Healthcheck::cmd(
            &["/opt/bitnami/scripts/pgpool/healthcheck.sh"],
            "30s",
        )),
        networks: vec![NETWORK.into()],
        ..Service::default()
    }
}

/// The generated `pgbouncer.ini`: the stack plan's PgBouncer, reaching its nodes by service
/// name. PgBouncer 1.17+ spreads new server connections over a comma-separated host list, which is
/// how a `replicas`/`any` pooler reaches several nodes.
pub fn pgbouncer_ini(c: &Cluster, p: &Pooler) -> String {
    let hosts: Vec<&str> = targets(c, p).iter().map(|n| n.name.as_str()).collect();
    let ini = pooler::pgbouncer(
        c,
        p,
        PgBouncerPlace {
            title: format!(
                "PgBouncer \"{}\" of cluster \"{}\" (target \"{}\")",
                p.name, c.name, p.target.value
            ),
            auth_note: "The auth_file is written from the environment when the container starts.",
            servers: hosts.join(","),
            server_port: PG_PORT,
            listen_addr: "0.0.0.0".to_owned(),
            listen_port: p.port.value,
            auth_file: PGBOUNCER_AUTH_FILE,
        },
    );
    text::render("pgbouncer.ini", &ini)
}

/// The PgBouncer entrypoint: writes the auth_file from the environment, then runs PgBouncer. The
/// auth_file holds the auth_user alone; every other role is looked up through `auth_query`.
fn pgbouncer_entrypoint(_c: &Cluster, p: &Pooler) -> String {
    let users = [minijinja::context! {
        user => credentials::POOLER_AUTH_USER,
        var => credentials::POOLER_AUTH_PASSWORD_VAR,
    }];
    text::render(
        "compose-pgbouncer-entrypoint.sh",
        minijinja::context! {
            name => &p.name,
            auth_file => PGBOUNCER_AUTH_FILE,
            dir => PGBOUNCER_DIR,
            users => users,
        },
    )
}

fn pgbouncer(
    c: &Cluster,
    p: &Pooler,
    files: &mut IndexMap<String, String>,
    vars: &mut Vars,
) -> Service {
    let dir = format!("{}/{}", c.name, p.name);
    files.insert(format!("{dir}/pgbouncer.ini"), pgbouncer_ini(c, p));
    files.insert(format!("{dir}/entrypoint.sh"), pgbouncer_entrypoint(c, p));
    let mut env = IndexMap::new();
    env.insert(
        credentials::POOLER_AUTH_PASSWORD_VAR.into(),
        vars.pooler_auth().into(),
    );
    Service {
        image: PGBOUNCER_IMAGE.into(),
        restart: RESTART.into(),
        entrypoint: Some(vec![
            "/bin/sh".into(),
            format!("{PGBOUNCER_DIR}/entrypoint.sh").into(),
        ]),
        environment: env,
        ports: vec![format!("{0}:{0}", p.port.value).into()],
        volumes: vec![
            format!("./{dir}/pgbouncer.ini:{PGBOUNCER_DIR}/pgbouncer.ini:ro").into(),
            format!("./{dir}/entrypoint.sh:{PGBOUNCER_DIR}/entrypoint.sh:ro").into(),
        ],
        depends_on: depends_on(&targets(c, p)),
        networks: vec![NETWORK.into()],
        ..Service::default()
    }
}
