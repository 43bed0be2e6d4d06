//! Patroni's settings: the dynamic configuration Patroni keeps in its DCS (written once at
//! bootstrap, and applied to a running cluster with `patronictl edit-config`) and each member's
//! local configuration, built as typed YAML values for the shared YAML writer.
//!
//! Which parameter goes where follows Patroni's documentation ("Dynamic configuration
//! settings"): the parameters that must be equal on every member are taken from the DCS only
//! ([`DCS_ONLY`]); a local `postgresql.parameters` entry for one of them is ignored. Every other
//! parameter goes into each member's local `postgresql.parameters`, which Patroni applies on a
//! reload, so a changed `work_mem` reaches a running cluster with `patronictl reload`.

use indexmap::IndexMap;
use serde::Serialize;
use serde_yaml::{Mapping, Value};

use super::access::HbaRow;
use super::params::{plain_value, Setting};
use crate::model::{Cluster, ParamValue, SyncMethod};

/// Parameters Patroni takes only from its dynamic configuration.
pub const DCS_ONLY: &[&str] = &[
    "max_connections",
    "max_locks_per_transaction",
    "max_worker_processes",
    "max_prepared_transactions",
    "wal_level",
    "track_commit_timestamp",
    "max_wal_senders",
    "max_replication_slots",
    "wal_keep_segments",
    "wal_keep_size",
];

/// Parameters Patroni sets itself, whatever the configuration says.
pub const PATRONI_SETS: &[&str] = &["hot_standby", "wal_log_hints", "cluster_name"];

/// Which Patroni a configuration is for: Debian 12 ships 3.0 (no quorum commit); container images
/// ship 4.x, which has `synchronous_mode: quorum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V3,
    V4,
}

pub fn key(k: &str) -> Value {
    Value::String(k.to_owned())
}

pub fn string(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

/// A mapping from `(key, value)` pairs, in order.
pub fn map<const N: usize>(pairs: [(&str, Value); N]) -> Value {
    let mut m = Mapping::with_capacity(N);
    for (k, v) in pairs {
        m.insert(key(k), v);
    }
    Value::Mapping(m)
}

fn param_value(v: &ParamValue) -> Value {
    match v {
        ParamValue::Int(i) => Value::Number((*i).into()),
        // Patroni compares parameters as PostgreSQL spells them; on/off and quoted numbers keep
        // their exact spelling as strings.
        _ => string(plain_value(v)),
    }
}

fn params_map<'a>(settings: impl Iterator<Item = &'a Setting>) -> Value {
    let mut m = Mapping::new();
    for s in settings {
        m.insert(key(&s.name), param_value(&s.value));
    }
    Value::Mapping(m)
}

/// The settings of `all` that Patroni keeps in the DCS.
pub fn dcs_parameters(all: &[Setting]) -> impl Iterator<Item = &Setting> {
    all.iter().filter(|s| DCS_ONLY.contains(&s.name.as_str()))
}

/// The settings of `all` that belong in a member's local configuration.
pub fn local_parameters(all: &[Setting]) -> impl Iterator<Item = &Setting> {
    all.iter().filter(|s| {
        !DCS_ONLY.contains(&s.name.as_str()) && !PATRONI_SETS.contains(&s.name.as_str())
    })
}

/// Where a standby cluster's leader streams from.
pub struct StandbySource {
    /// One address, or several separated by commas (libpq tries them in turn).
    pub host: String,
    pub port: u16,
    /// The permanent slot the source keeps for this cluster on whichever node is its primary.
    pub slot: Option<String>,
    /// How the standby leader reads WAL the source no longer streams: the source's repository.
    pub restore_command: Option<String>,
}

/// The permanent physical slot a source cluster keeps for a standby cluster that follows it.
pub fn follower_slot(follower: &Cluster) -> String {
    format!("standby_{}", crate::plan::params::slot_name(&follower.name))
}

/// Whether the standby cluster `follower` streams from `source` through a permanent slot: both
/// run Patroni and both have `slots #true`. A follower's Patroni names the slot only under its own
/// `use_slots`, so a slot kept for a follower without slots would hold the source's WAL back for
/// no one; and the source bounds what its slots hold (`max_slot_wal_keep_size`) only with its own
/// slots on, so without them a dead standby cluster's slot would fill the source's disk.
pub fn streams_through_slot(source: &Cluster, follower: &Cluster) -> bool {
    use crate::model::FailoverManager::Patroni;
    source.failover.manager.value == Patroni
        && follower.failover.manager.value == Patroni
        && source.replication.slots
        && follower.replication.slots
}

/// The dynamic configuration: `bootstrap.dcs` in patroni.yml, and the file that
/// `patronictl edit-config --replace` applies to a running cluster.
pub fn dynamic_config(
    c: &Cluster,
    version: Version,
    params: &[Setting],
    standby: Option<&StandbySource>,
    followers: &[&Cluster],
) -> Value {
    let f = &c.failover;
    let mut m = Mapping::new();
    m.insert(key("ttl"), Value::Number(f.ttl.value.into()));
    m.insert(key("loop_wait"), Value::Number(f.loop_wait.value.into()));
    m.insert(
        key("retry_timeout"),
        Value::Number(f.retry_timeout.value.into()),
    );
    m.insert(
        key("maximum_lag_on_failover"),
        Value::Number(f.maximum_lag_on_failover.into()),
    );
    match (&c.replication.synchronous, c.sync_nodes().next().is_some()) {
        (Some(sync), true) => {
            // Patroni writes synchronous_standby_names itself from the members not tagged
            // nosync. 4.x has quorum commit (the ANY form); 3.0 only the priority (FIRST) form.
            let mode = match (version, sync.method.value) {
                (Version::V4, SyncMethod::Any) => string("quorum"),
                _ => Value::Bool(true),
            };
            m.insert(key("synchronous_mode"), mode);
            // `strict=#true`: with no synchronous standby left the primary stops accepting
            // writes rather than acknowledging commits no standby holds.
            let strict = sync.strict.as_ref().is_some_and(|s| s.value);
            m.insert(key("synchronous_mode_strict"), Value::Bool(strict));
            m.insert(
                key("synchronous_node_count"),
                Value::Number(sync.count.value.into()),
            );
        }
        _ => {
            m.insert(key("synchronous_mode"), Value::Bool(false));
        }
    }
    if f.failsafe() {
        // The leader keeps its role while the DCS is unreachable, as long as every member
        // still answers it over the REST API.
        m.insert(key("failsafe_mode"), Value::Bool(true));
    }
    if let Some(src) = standby {
        let mut sc = map([
            ("host", string(&src.host)),
            ("port", Value::Number(src.port.into())),
        ]);
        if let Value::Mapping(sc) = &mut sc {
            if let Some(slot) = &src.slot {
                sc.insert(key("primary_slot_name"), string(slot));
            }
            if let Some(cmd) = &src.restore_command {
                sc.insert(key("restore_command"), string(cmd));
            }
        }
        m.insert(key("standby_cluster"), sc);
    }
    // A permanent slot per standby cluster that follows this one: Patroni creates it on
    // whichever member is the leader, so the follower keeps its WAL across a failover (bounded
    // by max_slot_wal_keep_size when slots are on).
    if !followers.is_empty() {
        let mut slots = Mapping::new();
        for f in followers {
            slots.insert(key(&follower_slot(f)), map([("type", string("physical"))]));
        }
        m.insert(key("slots"), Value::Mapping(slots));
    }
    let mut pg = Mapping::new();
    pg.insert(key("use_pg_rewind"), Value::Bool(true));
    pg.insert(key("use_slots"), Value::Bool(c.replication.slots));
    pg.insert(key("parameters"), params_map(dcs_parameters(params)));
    m.insert(key("postgresql"), Value::Mapping(pg));
    Value::Mapping(m)
}

/// pg_hba rows as the lines of Patroni's `pg_hba` lists: made once per cluster, as every node's
/// patroni.yml holds them twice (bootstrap and postgresql), and a wide cluster has a row for
/// each peer.
pub fn hba_lines(rows: &[HbaRow]) -> Vec<String> {
    rows.iter().map(HbaRow::line).collect()
}

/// A patroni.yml: its sections in order. The two that list the pg_hba lines are typed and
/// borrow the lines (`H`, a string type of the emitter's choice), which are made once per
/// cluster rather than copied into every node's file.
pub type Doc<'a, H> = IndexMap<&'static str, Section<'a, H>>;

/// A section of a [`Doc`].
#[derive(Serialize)]
#[serde(untagged)]
pub enum Section<'a, H> {
    Value(Value),
    Bootstrap(Bootstrap<'a, H>),
    Postgresql(Postgresql<'a, H>),
}

/// `bootstrap.initdb`: UTF-8 and data checksums on every new cluster.
pub fn initdb() -> Value {
    Value::Sequence(vec![
        map([("encoding", string("UTF8"))]),
        string("data-checksums"),
    ])
}

/// The `bootstrap` section: the dynamic configuration, initdb options, the pg_hba that Patroni
/// 3.0's validator requires here as well, and the post-bootstrap hook that creates the
/// topology's roles and databases (when there are any).
#[derive(Serialize)]
pub struct Bootstrap<'a, H> {
    dcs: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pgbackrest: Option<Value>,
    initdb: Value,
    pg_hba: &'a [H],
    #[serde(skip_serializing_if = "Option::is_none")]
    post_bootstrap: Option<&'a str>,
}

pub fn bootstrap<'a, H>(
    dcs: &'a Value,
    hba: &'a [H],
    post_bootstrap: Option<&'a str>,
) -> Bootstrap<'a, H> {
    bootstrap_from(dcs, hba, post_bootstrap, None)
}

/// [`bootstrap`], with a custom bootstrap method when the cluster starts from another cluster's
/// backups (`restore from=`): Patroni runs `restore` (with `--scope=` and `--datadir=`) instead
/// of initdb, and keeps the recovery settings the restore wrote, so PostgreSQL replays the
/// archived WAL to the target before the new cluster takes writes.
pub fn bootstrap_from<'a, H>(
    dcs: &'a Value,
    hba: &'a [H],
    post_bootstrap: Option<&'a str>,
    restore: Option<&str>,
) -> Bootstrap<'a, H> {
    Bootstrap {
        dcs,
        method: restore.map(|_| "pgbackrest"),
        pgbackrest: restore.map(|cmd| {
            map([
                ("command", string(cmd)),
                ("keep_existing_recovery_conf", Value::Bool(true)),
            ])
        }),
        initdb: initdb(),
        pg_hba: hba,
        post_bootstrap,
    }
}

/// The member's `postgresql` section: where it listens, its data, the roles Patroni logs in as
/// (passwords come from PATRONI_* variables, never from the file), the local parameters, and
/// the pg_hba Patroni writes on every start.
pub struct Member<'a, H> {
    /// libpq's `sslmode` for Patroni's own connections (`require` when the cluster's pg_hba
    /// requires TLS), or `None` for libpq's default.
    pub sslmode: Option<&'static str>,
    pub listen: String,
    pub connect_address: Option<String>,
    pub data_dir: String,
    pub bin_dir: Option<String>,
    pub pgpass: String,
    pub replication_user: &'a str,
    pub params: &'a [Setting],
    /// The pg_hba lines ([`hba_lines`]).
    pub hba: &'a [H],
}

/// The `postgresql` section of [`Member`].
#[derive(Serialize)]
pub struct Postgresql<'a, H> {
    listen: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    connect_address: Option<String>,
    data_dir: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    bin_dir: Option<String>,
    pgpass: String,
    use_pg_rewind: bool,
    authentication: Value,
    parameters: Value,
    pg_hba: &'a [H],
}

pub fn postgresql<H>(m: Member<'_, H>) -> Postgresql<'_, H> {
    let user = |name: &str| {
        let mut u = Mapping::new();
        u.insert(key("username"), string(name));
        if let Some(mode) = m.sslmode {
            u.insert(key("sslmode"), string(mode));
        }
        Value::Mapping(u)
    };
    let authentication = map([
        ("superuser", user("postgres")),
        ("replication", user(m.replication_user)),
        // pg_rewind runs as the superuser: the same credentials, so Patroni creates no extra
        // role.
        ("rewind", user("postgres")),
    ]);
    Postgresql {
        listen: m.listen,
        connect_address: m.connect_address,
        data_dir: m.data_dir,
        bin_dir: m.bin_dir,
        pgpass: m.pgpass,
        use_pg_rewind: true,
        authentication,
        parameters: params_map(local_parameters(m.params)),
        pg_hba: m.hba,
    }
}

/// libpq's `sslmode` for Patroni's connections: `require` when the cluster's remote pg_hba rows
/// are `hostssl`.
pub fn sslmode(c: &Cluster) -> Option<&'static str> {
    matches!(
        c.tls_mode(),
        Some(crate::model::TlsMode::Require) | Some(crate::model::TlsMode::VerifyFull)
    )
    .then_some("require")
}

/// The REST API section: where it listens, and with TLS files the API serves HTTPS. When
/// `rest-api auth` is on (the default) the basic-auth user and password for changes come from
/// `PATRONI_RESTAPI_USERNAME`/`PATRONI_RESTAPI_PASSWORD` (the launcher sets them); Patroni asks
/// for them on the unsafe methods only (POST, PUT, PATCH, DELETE), so the GET health checks
/// haproxy and Kubernetes probes send stay open.
pub fn restapi(
    c: &Cluster,
    listen: &str,
    connect_address: Option<&str>,
    tls: Option<(String, String, String)>,
) -> Value {
    let mut m = Mapping::new();
    m.insert(key("listen"), string(listen));
    if let Some(a) = connect_address {
        m.insert(key("connect_address"), string(a));
    }
    // `rest-api auth` (the default) is set through PATRONI_RESTAPI_USERNAME and
    // PATRONI_RESTAPI_PASSWORD: Patroni refuses an `authentication` without its password, and the
    // password never belongs in the file.
    let _ = c;
    if let Some((cert, keyfile, ca)) = tls {
        m.insert(key("certfile"), string(cert));
        m.insert(key("keyfile"), string(keyfile));
        m.insert(key("cafile"), string(ca));
    }
    Value::Mapping(m)
}
