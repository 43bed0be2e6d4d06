//! The `hosts` target: the configuration of every database node that declares a `host`, at
//! `<env-or-base>/<node>/…` (see docs/targets/vm.md):
//! - without Patroni: `postgresql.conf` and `pg_hba.conf`;
//! - with Patroni: `patroni.yml` (Patroni writes postgresql.conf and pg_hba.conf itself from it, so
//!   emitting those too would only mislead) and `patroni-run.sh`, which maps the cluster's env file
//!   onto the variables Patroni reads its passwords from;
//! - with a `target="local"` PgBouncer: `pgbouncer.ini`.

use std::fmt::Write as _;

mod patroni;
mod pgbouncer;

use std::collections::{HashMap, HashSet};

use crate::bundle::Bundle;
use crate::diag::Diagnostic;
use crate::emit::vm_common::{env_dir, per_model_files, single_host_cidr, stdout_for};
use crate::emit::{Options, Program};
use crate::model::{credentials, Cluster, FailoverManager, Node, ParamValue, Role, Topology};

pub fn files(p: &Program) -> Result<Bundle, Vec<Diagnostic>> {
    per_model_files(p, render)
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
/// as the files it writes, so the piece is most of what a thread adds to the peak: with 4 MiB,
/// vms 100 × 10 × 50 peaked at 51 MiB on two threads and 109 MiB on eight; with 1 MiB, at 48 and
/// 72 MiB, no slower. (Smaller pieces once made a build slower, when one writer thread was woken
/// for each; each thread now writes its own.)
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
        let mut files = Vec::new();
        // What every node of the cluster shares, worked out once for the cluster: its streaming
        // peers and its pg_hba lines are as long as the cluster, so computing them again for each
        // node made a wide cluster cost the square of its size in work, not only in bytes.
        let peers = streaming_peers(c, &followers);
        let patroni = c.failover.manager.value == FailoverManager::Patroni;
        let rows = hba_rows(&peers);
        let hba = if patroni {
            patroni::hba_block(&rows)
        } else {
            hba_table(&rows)
        };
        // How many of this cluster's nodes run on each host: nodes sharing one need their own
        // data directories.
        let mut per_host: HashMap<&str, usize> = HashMap::new();
        for h in c.nodes.iter().filter_map(|n| n.host.as_ref()) {
            *per_host.entry(h.value.as_str()).or_default() += 1;
        }
        for n in c.nodes.iter().filter(|n| n.host.is_some()) {
            let dir = node_dir(&clashes, c, n);
            if patroni {
                let shared = n
                    .host
                    .as_ref()
                    .is_some_and(|h| per_host.get(h.value.as_str()).copied().unwrap_or(0) > 1);
                files.push((
                    dir.clone(),
                    "patroni.yml".to_owned(),
                    patroni::yml(t, c, n, shared, peers.len(), &hba),
                ));
                files.push((
                    dir.clone(),
                    "patroni-run.sh".to_owned(),
                    patroni::run_script(c, n),
                ));
            } else {
                files.push((
                    dir.clone(),
                    "postgresql.conf".to_owned(),
                    postgresql_conf(c, n, peers.len()),
                ));
                files.push((
                    dir.clone(),
                    "pg_hba.conf".to_owned(),
                    pg_hba_conf(c, n, &hba),
                ));
            }
            if let Some(ini) = pgbouncer::ini(c, n) {
                files.push((dir.clone(), "pgbouncer.ini".to_owned(), ini));
            }
        }
        each(files);
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

/// The server parameters pgtopo derives for a node, followed by the user's `parameters` (which win
/// over a derived value of the same name). With Patroni, the parameters Patroni owns
/// (listen_addresses, port, synchronous_standby_names, primary_conninfo) are left out. `peers` is
/// the number of [`streaming_peers`].
pub(crate) fn server_params(
    c: &Cluster,
    n: &Node,
    patroni: bool,
    peers: usize,
) -> Vec<(String, ParamValue)> {
    let peers = peers as i64;
    // Every node may stream to all others after a failover; two spare senders leave room for
    // pg_basebackup and pg_rewind, and PostgreSQL's default of 10 is never lowered.
    let senders = (peers + 2).max(10);
    let mut v: Vec<(String, ParamValue)> = Vec::new();
    let s = |x: &str| ParamValue::String(x.to_owned());
    if !patroni {
        let host = n.host.as_ref().map_or("localhost", |h| h.value.as_str());
        v.push(("listen_addresses".into(), s(host)));
        v.push(("port".into(), ParamValue::Int(n.port.value.into())));
    }
    v.push(("wal_level".into(), s("replica")));
    v.push(("hot_standby".into(), ParamValue::Bool(true)));
    v.push(("max_wal_senders".into(), ParamValue::Int(senders)));
    v.push(("max_replication_slots".into(), ParamValue::Int(senders)));
    // pg_rewind needs hint bits in WAL to turn a failed primary back into a standby.
    v.push(("wal_log_hints".into(), ParamValue::Bool(true)));
    v.push(("password_encryption".into(), s("scram-sha-256")));
    if !patroni {
        if let Some(ssn) = c.synchronous_standby_names() {
            v.push(("synchronous_standby_names".into(), s(&ssn)));
        }
    }
    if let Some(dir) = c.backup.as_ref().and_then(|b| b.archive.as_ref()) {
        v.push(("archive_mode".into(), ParamValue::Bool(true)));
        v.push((
            "archive_command".into(),
            s(&format!("test ! -f {0}/%f && cp %p {0}/%f", dir.value)),
        ));
    }
    // Without a failover manager nothing else writes a standby's connection to its upstream.
    if !patroni
        && c.failover.manager.value == FailoverManager::None
        && n.role.value != Role::Primary
    {
        if let Some(up) = upstream_of(c, n) {
            let host = up.host.as_ref().map_or("localhost", |h| h.value.as_str());
            v.push((
                "primary_conninfo".into(),
                s(&format!(
                    "host={host} port={} user={} application_name={} passfile=/var/lib/postgresql/.pgpass",
                    up.port.value,
                    credentials::REPLICATION_USER,
                    n.name
                )),
            ));
            if c.replication.slots {
                v.push(("primary_slot_name".into(), s(&slot_name(&n.name))));
            }
        }
    }
    for (k, p) in &c.parameters {
        match v.iter_mut().find(|(name, _)| name == k) {
            Some(slot) => slot.1 = p.value.clone(),
            None => v.push((k.clone(), p.value.clone())),
        }
    }
    v
}

/// The node a standby streams from: its `upstream`, else the primary.
fn upstream_of<'a>(c: &'a Cluster, n: &Node) -> Option<&'a Node> {
    match &n.upstream {
        Some(u) => c.node(&u.value),
        None => c.primary(),
    }
}

/// A replication slot name PostgreSQL accepts (lower-case letters, digits, underscores); Patroni
/// derives slot names the same way.
pub(crate) fn slot_name(node: &str) -> String {
    node.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

fn conf_value(v: &ParamValue) -> String {
    crate::model::Param {
        value: v.clone(),
        span: (0, 0).into(),
    }
    .to_conf()
}

fn postgresql_conf(c: &Cluster, n: &Node, peers: usize) -> String {
    let mut s = format!(
        "# postgresql.conf for node \"{}\" of cluster \"{}\" ({}), generated by pgtopo.\n\
         # Replication settings are derived from the topology's roles; the cluster's `parameters`\n\
         # follow (and win over a derived value of the same name).\n",
        n.name,
        c.name,
        n.host.as_ref().map_or("", |h| h.value.as_str())
    );
    if c.failover.manager.value == FailoverManager::None && n.role.value != Role::Primary {
        s.push_str("# A standby also needs an empty standby.signal in its data directory (pg_basebackup -R writes it).\n");
    }
    s.push('\n');
    for (k, v) in server_params(c, n, false, peers) {
        let _ = writeln!(s, "{k} = {}", conf_value(&v));
    }
    s
}

/// pg_hba.conf lines as (type, database, user, address, method): password logins use
/// scram-sha-256 only, replication is accepted only from the cluster's (and its standby
/// clusters') hosts, and the local `postgres` OS user keeps peer access for administration.
pub(crate) fn hba_rows(peers: &[&Node]) -> Vec<[String; 5]> {
    let row = |a: &str, b: &str, cc: &str, d: &str, e: &str| {
        [
            a.to_owned(),
            b.to_owned(),
            cc.to_owned(),
            d.to_owned(),
            e.to_owned(),
        ]
    };
    let mut rows = vec![
        row("local", "all", "postgres", "", "peer"),
        row("local", "all", "all", "", "scram-sha-256"),
    ];
    // A set, not a list: only membership is asked, and a list makes this the square of the peers.
    let mut seen: HashSet<String> = HashSet::new();
    for n in peers {
        if let Some(h) = &n.host {
            let cidr = single_host_cidr(&h.value);
            if !seen.contains(&cidr) {
                rows.push(row(
                    "host",
                    "replication",
                    credentials::REPLICATION_USER,
                    &cidr,
                    "scram-sha-256",
                ));
                seen.insert(cidr);
            }
        }
    }
    rows.push(row("host", "all", "all", "0.0.0.0/0", "scram-sha-256"));
    rows.push(row("host", "all", "all", "::/0", "scram-sha-256"));
    rows
}

fn pg_hba_conf(c: &Cluster, n: &Node, table: &str) -> String {
    let mut s = format!(
        "# pg_hba.conf for node \"{}\" of cluster \"{}\", generated by pgtopo.\n\
         # scram-sha-256 for every password login, never trust; replication only from the cluster's hosts.\n\n",
        n.name, c.name
    );
    s.push_str(table);
    s
}

/// The rows of [`hba_rows`] as pg_hba.conf's table, with its header line: the same for every
/// node of a cluster.
fn hba_table(rows: &[[String; 5]]) -> String {
    let mut s = String::from("# TYPE  DATABASE     USER         ADDRESS              METHOD\n");
    for r in rows {
        let line = format!(
            "{:<7} {:<12} {:<12} {:<20} {}",
            r[0], r[1], r[2], r[3], r[4]
        );
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}
