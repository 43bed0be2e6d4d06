//! `patroni.yml` (Patroni 3.0, Debian 12) and its launcher `patroni-run.sh`.
//!
//! Synchronous replication: Patroni 3.0 has no quorum mode (`synchronous_mode: quorum` arrived in
//! Patroni 4), so `synchronous method="any"|"first" count=N` becomes `synchronous_mode: true` with
//! `synchronous_node_count: N`, and every `async` node carries the `nosync` tag so that only the
//! topology's `sync` nodes (and, after a failover, the old primary) are picked. Patroni then writes
//! `synchronous_standby_names = 'N (a,b)'`/`'a'`, i.e. FIRST semantics; with N equal to the number
//! of sync nodes this is the same guarantee as ANY (documented in docs/targets/vm.md).

use std::collections::HashMap;

use serde_yaml::{Mapping, Value};

use crate::emit::vm_common::host_port;
use crate::emit::yaml;
use crate::model::{credentials, Cluster, Node, Role, Topology};
use crate::plan::patroni::{
    self as plan, key, map, string, Doc, Member, Section, StandbySource, Version,
};

use super::server_params;

/// Where the Debian packages put data and binaries for `version`. A node that shares its host with
/// another node of its cluster (`shared_host`, e.g. a loopback test cluster) gets
/// `<cluster>-<node>`, so two nodes never share a data directory.
pub fn data_dir(c: &Cluster, n: &Node, shared_host: bool) -> String {
    let dir = if shared_host {
        format!("{}-{}", c.name, n.name)
    } else {
        c.name.clone()
    };
    format!("/var/lib/postgresql/{}/{dir}", c.postgres.version.value)
}

pub fn bin_dir(c: &Cluster) -> String {
    format!("/usr/lib/postgresql/{}/bin", c.postgres.version.value)
}

/// Where the operator installs a node's files: patroni-run.sh's default, and the path Patroni's
/// post-bootstrap hook names.
pub const CONF_DIR: &str = "/etc/patroni";

/// The standby cluster's source, on its VMs: every node of the cluster it follows (libpq tries
/// them in turn), and the source's repository when the stream is behind. With slots on both
/// sides (`plan::streams_through_slot`) it streams through a permanent slot the source keeps on
/// whichever node leads, and Patroni then adds `target_session_attrs=read-write` to the
/// conninfo, so the standby leader connects to the source's primary only, wherever a failover
/// put it (tests/live_dr.rs). Without slots, libpq takes the first node that answers, and a
/// source standby cascades the primary's WAL. With nodes on different ports, only the declared
/// primary (libpq takes one port for all hosts here).
fn standby_source(t: &Topology, c: &Cluster) -> Option<StandbySource> {
    let cluster = c.replica_of.as_ref().and_then(|r| t.cluster(&r.value))?;
    let primary = cluster.primary()?;
    let same_port = cluster
        .nodes
        .iter()
        .all(|n| n.port.value == primary.port.value);
    let hosts: Vec<&str> = if same_port {
        let mut v: Vec<&str> = vec![primary.host.as_ref()?.value.as_str()];
        for n in cluster.standbys() {
            if let Some(h) = &n.host {
                if !v.contains(&h.value.as_str()) {
                    v.push(&h.value);
                }
            }
        }
        v
    } else {
        vec![primary.host.as_ref()?.value.as_str()]
    };
    Some(StandbySource {
        host: hosts.join(","),
        port: primary.port.value,
        slot: plan::streams_through_slot(cluster, c).then(|| plan::follower_slot(c)),
        restore_command: crate::plan::backup::tool(cluster, crate::model::Target::Hosts)
            .filter(|t| *t == crate::model::BackupTool::Pgbackrest)
            .map(|_| crate::plan::backup::restore_command(cluster)),
    })
}

/// The cluster's dynamic configuration, for `bootstrap.dcs` and for `dcs.yml`. It holds the
/// parameters every member shares, which do not depend on the member, so any node computes it.
/// The cluster's dynamic configuration: the same for every node, so made once per cluster
/// (`followers` is [`Topology::standby_clusters`]).
pub fn dynamic(
    t: &Topology,
    c: &Cluster,
    followers: &HashMap<&str, Vec<&Cluster>>,
    peers: usize,
) -> Value {
    let first = c.nodes.first().expect("a cluster has nodes (PT101)");
    let params = server_params(c, first, peers);
    // A permanent slot only for the standby clusters that stream through it
    // (`standby_cluster.primary_slot_name`): Patroni keeps the slot on the leader whatever
    // `use_slots` says, so one nobody reads would keep WAL on the source for ever.
    let followers: Vec<&Cluster> = followers
        .get(c.name.as_str())
        .into_iter()
        .flatten()
        .copied()
        .filter(|f| plan::streams_through_slot(c, f))
        .collect();
    plan::dynamic_config(
        c,
        Version::V3,
        &params,
        standby_source(t, c).as_ref(),
        &followers,
    )
}

/// `dcs.yml`: the dynamic configuration on its own, which `patroni-apply.sh` applies.
pub fn dcs_file(c: &Cluster, dynamic: &Value) -> String {
    let mut s = format!(
        "# Dynamic configuration of Patroni cluster \"{}\", generated by pgtopo: what Patroni keeps\n\
         # in etcd. bootstrap.dcs in patroni.yml writes it when the cluster is created; apply a\n\
         # changed one to the running cluster with patroni-apply.sh.\n",
        c.name
    );
    yaml::write(dynamic, &mut s);
    s
}

/// `peers` is the number of the cluster's streaming peers, `dynamic` its dynamic configuration
/// ([`dynamic`]) and `hba` its pg_hba lines, all the same for every node of the cluster.
pub fn yml(
    t: &Topology,
    c: &Cluster,
    n: &Node,
    shared_host: bool,
    peers: usize,
    dynamic: &Value,
    hba: &[yaml::Checked],
) -> String {
    let host = n.host.as_ref().map_or("", |h| h.value.as_str());
    let mut s = format!(
        "# patroni.yml for node \"{}\" of cluster \"{}\", generated by pgtopo (Patroni 3.0).\n\
         # Passwords are not here: start Patroni with patroni-run.sh, which reads them from\n\
         # {} into PATRONI_SUPERUSER_PASSWORD, PATRONI_REWIND_PASSWORD and\n\
         # PATRONI_REPLICATION_PASSWORD (and the REST API's user and password for changes into\n\
         # PATRONI_RESTAPI_USERNAME and PATRONI_RESTAPI_PASSWORD, unless `rest-api auth=#false`).\n",
        n.name, c.name, c.credentials.env_file.value
    );
    let params = server_params(c, n, peers);
    let rest = host_port(host, n.patroni_port.value);
    let pg = host_port(host, n.port.value);
    let mut m = Doc::new();
    m.insert("scope", Section::Value(string(&c.name)));
    m.insert("name", Section::Value(string(&n.name)));
    let tls = crate::plan::params::tls_dir(c, crate::plan::params::Placement::Host).map(|d| {
        use crate::plan::params::{TLS_CA, TLS_CERT, TLS_KEY};
        (
            format!("{d}/{TLS_CERT}"),
            format!("{d}/{TLS_KEY}"),
            format!("{d}/{TLS_CA}"),
        )
    });
    m.insert(
        "restapi",
        Section::Value(plan::restapi(c, &rest, Some(&rest), tls)),
    );
    let endpoints = c
        .failover
        .dcs
        .iter()
        .flat_map(|d| &d.endpoints)
        .map(|e| string(&e.value))
        .collect();
    m.insert(
        "etcd3",
        Section::Value(map([("hosts", Value::Sequence(endpoints))])),
    );
    let hook = crate::plan::access::has_bootstrap(c)
        .then(|| format!("{CONF_DIR}/{}", super::BOOTSTRAP_SCRIPT));
    // A restored cluster bootstraps from the source's backups (restore.sh sits beside).
    let restore = crate::plan::backup::restore_source(t, c)
        .filter(|s| crate::plan::backup::tool(s, crate::model::Target::Hosts).is_some())
        .map(|_| format!("{CONF_DIR}/restore.sh"));
    m.insert(
        "bootstrap",
        Section::Bootstrap(plan::bootstrap_from(
            dynamic,
            hba,
            hook.as_deref(),
            restore.as_deref(),
        )),
    );
    m.insert(
        "postgresql",
        Section::Postgresql(plan::postgresql(Member {
            sslmode: plan::sslmode(c),
            listen: pg.clone(),
            connect_address: Some(pg),
            data_dir: data_dir(c, n, shared_host),
            bin_dir: Some(bin_dir(c)),
            pgpass: format!("/var/lib/postgresql/.pgpass.{}", n.name),
            replication_user: credentials::REPLICATION_USER,
            params: &params,
            hba,
        })),
    );
    let mut tags = Mapping::new();
    tags.insert(key("nofailover"), Value::Bool(!n.failover));
    tags.insert(key("noloadbalance"), Value::Bool(false));
    tags.insert(key("clonefrom"), Value::Bool(false));
    tags.insert(
        key("nosync"),
        Value::Bool(n.role.value == Role::Async && c.replication.synchronous.is_some()),
    );
    if let Some(u) = &n.upstream {
        tags.insert(key("replicatefrom"), string(&u.value));
    }
    m.insert("tags", Section::Value(Value::Mapping(tags)));
    yaml::write(&m, &mut s);
    s
}

/// Applies a changed `dcs.yml` to the running cluster and makes every member re-read its local
/// patroni.yml, then lists the members, whose "Pending restart" column says which need a restart
/// for a parameter PostgreSQL reads only at start (`--restart` restarts them).
pub fn apply_script(c: &Cluster) -> String {
    crate::emit::text::render(
        "patroni-apply.sh",
        minijinja::context! {
            cluster => &c.name,
            conf => CONF_DIR,
            wait => 2 * c.failover.loop_wait.value + 1,
            env_file => super::env_file_path(c),
            ..rest_env(c)
        },
    )
}

/// What the templates' `patroni-rest-env` reads: whether `rest-api auth` is on, and the user and
/// the env file's variable that hand the REST API's password to Patroni (and patronictl).
fn rest_env(c: &Cluster) -> minijinja::Value {
    minijinja::context! {
        rest_auth => c.failover.rest_api_auth.value,
        rest_user => credentials::PATRONI_REST_USER,
        rest_var => credentials::PATRONI_REST_PASSWORD_VAR,
    }
}

/// Starts Patroni with the passwords taken from the cluster's env file (the VM credential
/// contract, `POSTGRES_PASSWORD` and `REPLICATION_PASSWORD`) and handed over in the variables
/// Patroni reads (`PATRONI_SUPERUSER_PASSWORD`, `PATRONI_REPLICATION_PASSWORD`).
pub fn run_script(c: &Cluster, n: &Node) -> String {
    crate::emit::text::render(
        "patroni-run.sh",
        minijinja::context! {
            node => &n.name,
            cluster => &c.name,
            conf => CONF_DIR,
            env_file => super::env_file_path(c),
            su => credentials::SUPERUSER_PASSWORD_VAR,
            repl => credentials::REPLICATION_PASSWORD_VAR,
            repl_user => credentials::REPLICATION_USER,
            ..rest_env(c)
        },
    )
}
