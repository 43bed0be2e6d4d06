//! Server parameters: the one list of postgresql.conf settings a cluster runs with, pgtopo's and
//! the user's, that every target packages (a ConfigMap, a mounted file, a host file, patroni.yml).
//!
//! Ownership: some settings are the topology's to decide ([`OWNED`]): a user `parameters` entry
//! for one of them is an error (PT170) that names the topology property to use instead, so that
//! what `explain` says and what the files say cannot disagree. Other settings pgtopo derives as
//! defaults (`wal_level`, `max_wal_senders`, …) and a user entry replaces them in place.

use std::fmt::Write as _;

use crate::model::{
    credentials, BackupTool, Cluster, FailoverManager, Node, ParamValue, Role, Topology,
};
use crate::plan::backup;

/// Settings the topology decides: the parameter and the topology property that sets it. A user
/// `parameters` entry for one of them is PT170. The archive settings are owned only while the
/// cluster has a `backup` ([`owned_by`]).
pub const OWNED: &[(&str, &str)] = &[
    ("port", "the node's `port=`"),
    (
        "listen_addresses",
        "the node's `host=` (VM hosts listen on it; containers listen on every address)",
    ),
    (
        "synchronous_standby_names",
        "`replication { synchronous method= count= }` and the nodes' `role=\"sync\"`",
    ),
    (
        "hot_standby",
        "nothing: standbys always serve reads (a `failover=#false` node is a read-only tier)",
    ),
    (
        "primary_conninfo",
        "the node's `upstream=` (or the primary)",
    ),
    ("primary_slot_name", "`replication { slots #true }`"),
    (
        "shared_preload_libraries",
        "the databases' `extension` nodes (pgtopo preloads the extensions that need it)",
    ),
];

/// The TLS settings, owned while the cluster has `tls`.
pub const TLS_OWNED: &[(&str, &str)] = &[
    ("ssl", "`tls`"),
    ("ssl_cert_file", "`tls secret=` or `tls dir=`"),
    ("ssl_key_file", "`tls secret=` or `tls dir=`"),
    ("ssl_ca_file", "`tls secret=` or `tls dir=`"),
];

/// Where a container sees the cluster's certificate, key and CA (the Secret or the `tls dir=`
/// folder is mounted there, with the files named as on a VM host).
pub const CONTAINER_TLS_DIR: &str = "/etc/pgtopo-tls";
/// The file names of the server certificate, its key and the CA, in the TLS folder.
pub const TLS_CERT: &str = "server.crt";
pub const TLS_KEY: &str = "server.key";
pub const TLS_CA: &str = "ca.crt";

/// The folder that holds the TLS files as node `at` sees it.
pub fn tls_dir(c: &Cluster, at: Placement) -> Option<String> {
    let t = c.tls.as_ref()?;
    Some(match (at, &t.dir) {
        (Placement::Host, Some(d)) => d.value.trim_end_matches('/').to_owned(),
        _ => CONTAINER_TLS_DIR.to_owned(),
    })
}

/// `max_slot_wal_keep_size` when slots are on: a tenth of the volume (`storage size=`, its
/// default when not written), in MB, so that a dead standby's slot is invalidated before the WAL
/// it holds back fills the primary's disk. PostgreSQL 13 brought the setting.
pub fn slot_wal_bound(c: &Cluster) -> Option<String> {
    if !c.replication.slots || c.postgres.version.value < 13 {
        return None;
    }
    let bytes = crate::model::quantity::parse_quantity(&c.storage.size.value)? / 1000;
    let mb = (bytes / 10 / (1 << 20)).max(1);
    Some(format!("{mb}MB"))
}

/// The archive settings, owned while the cluster has a `backup`.
pub const ARCHIVE_OWNED: &[(&str, &str)] = &[
    ("archive_mode", "`backup`"),
    ("archive_command", "`backup`"),
];

/// The topology property that owns `name` in cluster `c`, when pgtopo owns it.
pub fn owned_by(c: &Cluster, name: &str) -> Option<&'static str> {
    let archive = c.backup.is_some();
    let tls = c.tls.is_some();
    OWNED
        .iter()
        .chain(ARCHIVE_OWNED.iter().filter(|_| archive))
        .chain(TLS_OWNED.iter().filter(|_| tls))
        .find(|(n, _)| *n == name)
        .map(|(_, why)| *why)
}

/// Who decided a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Derived from the topology.
    Pgtopo,
    /// Written in the cluster's `parameters`.
    User,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Setting {
    pub name: String,
    pub value: ParamValue,
    pub source: Source,
}

impl Setting {
    /// The value as postgresql.conf spells it: numbers bare, booleans on/off, strings quoted.
    pub fn conf_value(&self) -> String {
        conf_value(&self.value)
    }
}

/// A value as postgresql.conf spells it.
pub fn conf_value(v: &ParamValue) -> String {
    match v {
        ParamValue::Int(i) => i.to_string(),
        ParamValue::Float(f) => f.to_string(),
        ParamValue::Bool(b) => if *b { "on" } else { "off" }.to_owned(),
        ParamValue::String(s) => format!("'{}'", s.replace('\'', "''")),
    }
}

/// A value as a plain string (Helm values, Patroni's YAML): strings unquoted, booleans on/off.
pub fn plain_value(v: &ParamValue) -> String {
    match v {
        ParamValue::String(s) => s.clone(),
        _ => conf_value(v),
    }
}

/// Where a node's PostgreSQL runs, which decides the settings that depend on the network: the
/// address it listens on and how a standby reaches its upstream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// A Compose service: listens on every address of its own network namespace; standbys are
    /// pointed at their upstream by the start script.
    Container,
    /// A Kubernetes pod: as a Compose service, but its image has no backup tool: PostgreSQL
    /// spools WAL on its volume for the pod's pgBackRest sidecar (`backup::pod_archive_command`),
    /// and archives nothing where no sidecar runs (PT172 says so), since a command that cannot
    /// succeed would keep every WAL segment on the volume until it fills.
    Pod,
    /// A VM (`host=`): listens on the node's address; pgtopo writes the standby's connection.
    Host,
}

/// The number of standbys that may stream from a cluster's nodes: every node of the cluster (any
/// may be a standby after a failover) and every node of the clusters that follow it.
pub fn streaming_peers(t: &Topology, c: &Cluster) -> usize {
    c.nodes.len()
        + t.clusters
            .iter()
            .filter(|o| o.replica_of.as_ref().is_some_and(|r| r.value == c.name))
            .map(|o| o.nodes.len())
            .sum::<usize>()
}

/// Whether pgtopo writes `synchronous_standby_names`: not when the failover manager computes it
/// (Patroni from its members' tags, pg_auto_failover from the formation's settings).
pub fn pgtopo_writes_sync_names(c: &Cluster) -> bool {
    matches!(
        c.failover.manager.value,
        FailoverManager::None | FailoverManager::Repmgr
    )
}

/// The server parameters of node `n` of cluster `c`, in the order they are written: pgtopo's
/// settings, then the user's (a user entry for a derived default replaces it in place). `peers`
/// is [`streaming_peers`]. Under Patroni the settings Patroni writes itself (listen_addresses,
/// port, synchronous_standby_names, primary_conninfo) are left out.
pub fn server_params(c: &Cluster, n: &Node, at: Placement, peers: usize) -> Vec<Setting> {
    let patroni = c.failover.manager.value == FailoverManager::Patroni;
    let mut v: Vec<Setting> = Vec::with_capacity(12 + c.parameters.len());
    let mut put = |name: &str, value: ParamValue| {
        v.push(Setting {
            name: name.to_owned(),
            value,
            source: Source::Pgtopo,
        })
    };
    let s = |x: &str| ParamValue::String(x.to_owned());
    if !patroni {
        let listen = match (at, &n.host) {
            (Placement::Host, Some(h)) => h.value.as_str(),
            (Placement::Host, None) => "localhost",
            (Placement::Container | Placement::Pod, _) => "*",
        };
        put("listen_addresses", s(listen));
        put("port", ParamValue::Int(n.port.value.into()));
    }
    // Every node may stream to all others after a failover; two spare senders leave room for
    // pg_basebackup and pg_rewind, and PostgreSQL's default of 10 is never lowered.
    let senders = (peers as i64 + 2).max(10);
    put("wal_level", s("replica"));
    put("hot_standby", ParamValue::Bool(true));
    put("max_wal_senders", ParamValue::Int(senders));
    put("max_replication_slots", ParamValue::Int(senders));
    // pg_rewind needs hint bits in WAL to turn a failed primary back into a standby.
    put("wal_log_hints", ParamValue::Bool(true));
    put("password_encryption", s("scram-sha-256"));
    if pgtopo_writes_sync_names(c) {
        if let Some(ssn) = c.synchronous_standby_names() {
            put("synchronous_standby_names", s(&ssn));
        }
    }
    if let Some(libs) = super::access::preload_libraries(c) {
        put("shared_preload_libraries", s(&libs));
    }
    if let Some(bound) = slot_wal_bound(c) {
        put("max_slot_wal_keep_size", s(&bound));
    }
    if let Some(dir) = tls_dir(c, at) {
        put("ssl", ParamValue::Bool(true));
        put("ssl_cert_file", s(&format!("{dir}/{TLS_CERT}")));
        put("ssl_key_file", s(&format!("{dir}/{TLS_KEY}")));
        put("ssl_ca_file", s(&format!("{dir}/{TLS_CA}")));
    }
    if let Some(cmd) = archive_command(c, at) {
        put("archive_mode", ParamValue::Bool(true));
        put("archive_command", s(&cmd));
    }
    // Without a failover manager on a VM nothing else writes a standby's connection to its
    // upstream (in containers the start script runs pg_basebackup -R, which writes it).
    if at == Placement::Host
        && c.failover.manager.value == FailoverManager::None
        && n.role.value != Role::Primary
    {
        if let Some(up) = upstream_of(c, n) {
            let host = up.host.as_ref().map_or("localhost", |h| h.value.as_str());
            put(
                "primary_conninfo",
                s(&format!(
                    "host={host} port={} user={} application_name={} passfile=/var/lib/postgresql/.pgpass",
                    up.port.value,
                    credentials::REPLICATION_USER,
                    n.name
                )),
            );
            if c.replication.slots {
                put("primary_slot_name", s(&slot_name(&n.name)));
            }
        }
    }
    for (k, p) in &c.parameters {
        let user = Setting {
            name: k.clone(),
            value: p.value.clone(),
            source: Source::User,
        };
        match v.iter_mut().find(|x| x.name == *k) {
            Some(slot) => *slot = user,
            None => v.push(user),
        }
    }
    v
}

/// The command PostgreSQL archives each WAL segment with: the backup tool's (pgBackRest unless
/// `tool=` names another) when the cluster has a repository, a copy into the folder of the former
/// `backup archive=`, or nothing.
pub fn archive_command(c: &Cluster, at: Placement) -> Option<String> {
    let b = c.backup.as_ref()?;
    if at == Placement::Pod {
        return backup::pod_backs_up(c).then(backup::pod_archive_command);
    }
    if b.repository().is_some() {
        let tool = b.tool.as_ref().map_or(BackupTool::Pgbackrest, |t| t.value);
        return Some(backup::archive_command(c, tool));
    }
    let dir = archive_dir(c, at)?;
    Some(format!("test ! -f {dir}/%f && cp %p {dir}/%f"))
}

/// Where WAL is archived to, as the node sees it: the declared folder on a VM, the folder it is
/// mounted at in a container.
pub fn archive_dir(c: &Cluster, at: Placement) -> Option<String> {
    let a = c.backup.as_ref()?.archive.as_ref()?;
    Some(match at {
        Placement::Host => a.value.clone(),
        Placement::Container => CONTAINER_ARCHIVE_DIR.to_owned(),
        Placement::Pod => return None,
    })
}

/// Where a container sees its WAL archive folder (the declared folder is mounted there).
pub const CONTAINER_ARCHIVE_DIR: &str = "/archive";

/// The node a standby streams from: its `upstream`, else the primary.
pub fn upstream_of<'a>(c: &'a Cluster, n: &Node) -> Option<&'a Node> {
    match &n.upstream {
        Some(u) => c.node(&u.value),
        None => c.primary(),
    }
}

/// A replication slot name PostgreSQL accepts (lower-case letters, digits, underscores); Patroni
/// derives slot names from member names the same way.
pub fn slot_name(node: &str) -> String {
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

/// The settings as postgresql.conf lines, `name = value`, one per line.
pub fn conf_lines(settings: &[Setting]) -> String {
    let mut s = String::with_capacity(40 * settings.len());
    for x in settings {
        let _ = writeln!(s, "{} = {}", x.name, x.conf_value());
    }
    s
}

/// The user's own parameters, for the targets whose chart or operator writes the replication
/// settings itself (Helm): what pgtopo adds there is expressed through the chart's own values.
pub fn user_params(c: &Cluster) -> impl Iterator<Item = (&str, &ParamValue)> {
    c.parameters.iter().map(|(k, p)| (k.as_str(), &p.value))
}
