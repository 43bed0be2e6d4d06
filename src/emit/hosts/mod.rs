//! The `hosts` target: the configuration of every database node that declares a `host`, at
//! `<env-or-base>/<node>/…` (see docs/targets/vm.md):
//! - without Patroni: `postgresql.conf` and `pg_hba.conf`;
//! - with Patroni: `patroni.yml` (Patroni writes postgresql.conf and pg_hba.conf itself from it, so
//!   emitting those too would only mislead), `patroni-run.sh`, which maps the cluster's env file
//!   onto the variables Patroni reads its passwords from, and the cluster's dynamic configuration
//!   `dcs.yml` with `patroni-apply.sh`, which applies a changed one to a running cluster;
//! - when the cluster declares roles or databases (or pgtopo creates its replication role and
//!   slots): `bootstrap.sql` and `bootstrap.sh` (on the primary; with Patroni on every node, run
//!   by Patroni after it bootstraps the cluster);
//! - with a `target="local"` PgBouncer: `pgbouncer.ini`;
//! - with a balancer and no Patroni: the health endpoint haproxy's checks ask (`health.rs`): its
//!   script, its socket and service units, the sysusers.d entry of its OS user and the
//!   `pg_ident.conf` that maps that user to the check role.
//!
//! Every setting comes from the stack plan (`crate::plan`); this module only places the files.

mod backup;
mod health;
mod patroni;
mod pgbouncer;

use std::collections::{HashMap, HashSet};

use crate::bundle::Bundle;
use crate::diag::Diagnostic;
use crate::emit::vm_common::{env_dir, single_host_cidr, stdout_for};
use crate::emit::{Options, Program};
use crate::model::{Cluster, FailoverManager, Node, Role, Topology};
use crate::plan::access::{self, Network};
use crate::plan::params;

/// The hosts target: each model's files depend on that model alone, and come in pieces.
pub static EMIT: crate::emit::Emitter = crate::emit::Emitter {
    target: crate::model::Target::Hosts,
    stdout,
    tree: crate::emit::Tree::PerModel(render_model),
};

fn render_model(
    _: &Program,
    t: &Topology,
    out: &mut dyn FnMut(Bundle),
) -> Result<(), Vec<Diagnostic>> {
    model_pieces(t, out);
    Ok(())
}

/// The files of one model (the base or an env), handed over in pieces of whole clusters of about
/// [`PIECE_BYTES`]: a model of wide clusters is hundreds of MB of files (every node's files list
/// every peer), and `build --out` writes each piece before it renders the next instead of holding
/// the model whole.
pub fn model_pieces(t: &Topology, piece: &mut dyn FnMut(Bundle)) {
    let dir = env_dir(t);
    let mut b = Bundle::new();
    let mut bytes = 0;
    render_clusters(t, &mut |files| {
        for (machine, file, contents) in files {
            bytes += contents.len();
            b.add(format!("{dir}/{machine}/{file}"), contents);
        }
        if bytes >= PIECE_BYTES {
            piece(std::mem::take(&mut b));
            bytes = 0;
        }
    });
    if !b.is_empty() {
        piece(b);
    }
}

/// See [`model_pieces`]. Every thread of `build --out` holds a piece at a time, as text and then
/// as the files it writes, so the piece is most of what a thread adds to the peak; 1 MiB kept the
/// peak low at no cost in time (docs/performance.md, "Figures behind the code").
const PIECE_BYTES: usize = 1 << 20;

pub fn stdout(p: &Program, env: Option<&str>, opts: &Options) -> Result<String, Vec<Diagnostic>> {
    stdout_for(p, env, opts, "database node", render, |_, _| None)
}

/// The names of the hosted nodes that more than one cluster uses: those nodes' folders are
/// `<cluster>-<node>`, every other node's folder is its name. Computed once per model because
/// asking it per node costs the square of the node count.
fn clashing_names(t: &Topology) -> HashSet<&str> {
    let mut owner: HashMap<&str, &str> = HashMap::new();
    let mut clash = HashSet::new();
    for c in &t.clusters {
        for n in c.nodes.iter().filter(|n| n.host.is_some()) {
            match owner.get(n.name.as_str()) {
                Some(first) if *first != c.name.as_str() => {
                    clash.insert(n.name.as_str());
                }
                Some(_) => {}
                None => {
                    owner.insert(n.name.as_str(), c.name.as_str());
                }
            }
        }
    }
    clash
}

/// The folder of a node: its name, or `<cluster>-<node>` when two clusters use the node name.
fn node_dir(clashes: &HashSet<&str>, c: &Cluster, n: &Node) -> String {
    if clashes.contains(n.name.as_str()) {
        format!("{}-{}", c.name, n.name)
    } else {
        n.name.clone()
    }
}

fn render(t: &Topology) -> Result<Vec<(String, String, String)>, Vec<Diagnostic>> {
    let mut all = Vec::new();
    render_clusters(t, &mut |files| all.extend(files));
    Ok(all)
}

/// Every hosted node's files, one cluster at a time, as (machine, file, contents).
fn render_clusters(t: &Topology, each: &mut dyn FnMut(Vec<(String, String, String)>)) {
    let clashes = clashing_names(t);
    let followers = t.standby_clusters();
    for c in &t.clusters {
        // A cluster without a hosted node has no file here; `build --out` asks every model of
        // every topology (`driver`'s tree targets), so its shared parts are not worked out.
        if !c.nodes.iter().any(|n| n.host.is_some()) {
            continue;
        }
        let mut files = Vec::new();
        // What every node of the cluster shares, worked out once for the cluster: its streaming
        // peers and its pg_hba rows are as long as the cluster, so computing them again for each
        // node would make a wide cluster cost the square of its size.
        let peers = streaming_peers(c, &followers);
        let patroni = c.failover.manager.value == FailoverManager::Patroni;
        let cidrs = peer_cidrs(&peers);
        let balancers = balancer_cidrs(c);
        let rows = access::hba_rows(
            c,
            Network::Hosts {
                nodes: &cidrs,
                balancers: &balancers,
            },
        );
        let hba = access::hba_table(&rows);
        // Checked for YAML quoting once here, not in each of the two lists of every node's file.
        let hba_lines: Vec<crate::emit::yaml::Checked> = crate::plan::patroni::hba_lines(&rows)
            .into_iter()
            .map(crate::emit::yaml::Checked::new)
            .collect();
        let bootstrap =
            access::has_bootstrap(c).then(|| (access::bootstrap_sql(c), bootstrap_script(c)));
        let dynamic = patroni.then(|| patroni::dynamic(t, c, &followers, peers.len()));
        let dcs = dynamic.as_ref().map(|d| patroni::dcs_file(c, d));
        // How many of this cluster's nodes run on each host: nodes sharing one need their own
        // data directories.
        let mut per_host: HashMap<&str, usize> = HashMap::new();
        for h in c.nodes.iter().filter_map(|n| n.host.as_ref()) {
            *per_host.entry(h.value.as_str()).or_default() += 1;
        }
        let shared = |n: &Node| {
            n.host
                .as_ref()
                .is_some_and(|h| per_host.get(h.value.as_str()).copied().unwrap_or(0) > 1)
        };
        let data_dir = |n: &Node| {
            if patroni {
                patroni::data_dir(c, n, shared(n))
            } else {
                backup::debian_data_dir(c)
            }
        };
        for n in c.nodes.iter().filter(|n| n.host.is_some()) {
            let dir = node_dir(&clashes, c, n);
            let mut add = |file: &str, contents: String| {
                files.push((dir.clone(), file.to_owned(), contents));
            };
            if let Some(dynamic) = &dynamic {
                let shared = shared(n);
                add(
                    "patroni.yml",
                    patroni::yml(t, c, n, shared, peers.len(), dynamic, &hba_lines),
                );
                add("patroni-run.sh", patroni::run_script(c, n));
                // The cluster's dynamic configuration is applied once, from any node: it sits
                // beside the declared primary only (a copy per node would be a thousand copies
                // of one file in a wide cluster).
                if let (Some(d), Role::Primary) = (&dcs, n.role.value) {
                    add("dcs.yml", d.clone());
                    add("patroni-apply.sh", patroni::apply_script(c));
                }
            } else {
                add("postgresql.conf", postgresql_conf(c, n, peers.len()));
                add("pg_hba.conf", pg_hba_conf(c, n, &hba));
            }
            // The roles and databases: Patroni runs the script after bootstrapping the cluster;
            // without Patroni the operator runs it on the primary once it is up.
            if let Some((sql, script)) = &bootstrap {
                if patroni || n.role.value == Role::Primary {
                    add(BOOTSTRAP_SQL, sql.clone());
                    add(BOOTSTRAP_SCRIPT, script.clone());
                }
            }
            if let Some(ini) = pgbouncer::ini(c, n) {
                add("pgbouncer.ini", ini);
            }
            // Patroni's REST API answers haproxy's checks; without it, pgtopo's endpoint does.
            if !patroni {
                for (file, contents) in health::node_files(c, n, &dir) {
                    add(&file, contents);
                }
            }
            for (file, contents) in backup::node_files(t, c, n, &data_dir(n)) {
                add(&file, contents);
            }
        }
        if let Some((machine, repo)) = backup::repo_host_files(c, data_dir) {
            for (file, contents) in repo {
                files.push((machine.clone(), file, contents));
            }
        }
        each(files);
    }
}

/// The bootstrap SQL beside a node's other files, and the script that runs it.
pub const BOOTSTRAP_SQL: &str = "bootstrap.sql";
pub const BOOTSTRAP_SCRIPT: &str = "bootstrap.sh";

/// Runs the bootstrap SQL with the passwords of the cluster's env file (the VM credential
/// contract), as the PostgreSQL superuser over the local socket; Patroni passes a connection
/// string as the first argument instead.
fn bootstrap_script(c: &Cluster) -> String {
    crate::emit::text::render(
        "hosts-bootstrap.sh",
        minijinja::context! {
            cluster => &c.name,
            env_file => env_file_path(c),
            sql => BOOTSTRAP_SQL,
            passwords => minijinja::Value::from(minijinja::value::Serde(access::psql_passwords(c))),
        },
    )
}

/// The env file as a path `.` can read: `.` looks a name without a slash up on PATH, so a
/// relative file gets an explicit `./`.
pub(crate) fn env_file_path(c: &Cluster) -> String {
    if c.credentials.env_file.value.contains('/') {
        c.credentials.env_file.value.clone()
    } else {
        format!("./{}", c.credentials.env_file.value)
    }
}

/// Standbys that stream from this cluster: its own plus every node of its standby clusters
/// (`followers` is [`Topology::standby_clusters`]).
fn streaming_peers<'a>(
    c: &'a Cluster,
    followers: &HashMap<&str, Vec<&'a Cluster>>,
) -> Vec<&'a Node> {
    let mut v: Vec<&Node> = c.nodes.iter().collect();
    for o in followers.get(c.name.as_str()).into_iter().flatten() {
        v.extend(o.nodes.iter());
    }
    v
}

/// The host addresses replication comes from, each once, as `ADDR/32` (or `/128`).
fn peer_cidrs(peers: &[&Node]) -> Vec<String> {
    // A set, not a list: only membership is asked, and a list makes this the square of the peers.
    let mut seen: HashSet<String> = HashSet::new();
    let mut v = Vec::new();
    for n in peers {
        if let Some(h) = &n.host {
            let cidr = single_host_cidr(&h.value);
            if seen.insert(cidr.clone()) {
                v.push(cidr);
            }
        }
    }
    v
}

/// The cluster's balancer hosts, each once, as `ADDR/32` (or `/128`): haproxy forwards its
/// clients' connections from there.
fn balancer_cidrs(c: &Cluster) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for h in c.balancers.iter().flat_map(|b| &b.hosts) {
        let cidr = single_host_cidr(&h.address.value);
        if !v.contains(&cidr) {
            v.push(cidr);
        }
    }
    v
}

/// The server parameters of a hosted node (the stack plan's, placed on its VM).
pub(crate) fn server_params(c: &Cluster, n: &Node, peers: usize) -> Vec<params::Setting> {
    params::server_params(c, n, params::Placement::Host, peers)
}

fn postgresql_conf(c: &Cluster, n: &Node, peers: usize) -> String {
    let mut s = format!(
        "# postgresql.conf for node \"{}\" of cluster \"{}\" ({}), generated by pgtopo.\n\
         # Replication settings are derived from the topology; the cluster's `parameters` follow.\n",
        n.name,
        c.name,
        n.host.as_ref().map_or("", |h| h.value.as_str())
    );
    if c.failover.manager.value == FailoverManager::None && n.role.value != Role::Primary {
        s.push_str("# A standby also needs an empty standby.signal in its data directory (pg_basebackup -R writes it).\n");
    }
    s.push('\n');
    s.push_str(&params::conf_lines(&server_params(c, n, peers)));
    s
}

fn pg_hba_conf(c: &Cluster, n: &Node, table: &str) -> String {
    let mut s = format!(
        "# pg_hba.conf for node \"{}\" of cluster \"{}\", generated by pgtopo.\n\
         # scram-sha-256 for every password login, never trust; peer for local administration and\n\
         # the health endpoint's role (pg_ident.conf); only the addresses the topology knows (its\n\
         # hosts and balancers) or its `hba` rules.\n\n",
        n.name, c.name
    );
    s.push_str(table);
    s
}
