//! The resolved topology: what every check and emitter reads.
//!
//! A `Topology` is the result of `model::resolve(doc, env)`: the environment patch (if any) has
//! been merged, every default has been filled in, and every name is typed. Spans are kept on the
//! values that checks point at; emitters can ignore them.

use indexmap::IndexMap;

use crate::diag::Span;

/// A value together with the span of the text it came from (or of the node that implied it, for a
/// default).
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Spanned<T> {
    pub fn new(value: T, span: Span) -> Self {
        Spanned { value, span }
    }
}

impl<T> std::ops::Deref for Spanned<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

/// Declares a closed set of keywords with their spelling in the topology language, so that lowering
/// can parse them, checks can list them, and emitters can match on them.
macro_rules! keyword_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

keyword_enum!(
    /// An output family of `pgtopo build`.
    Target {
        Kubernetes = "kubernetes",
        Helm = "helm",
        Compose = "compose",
        Haproxy = "haproxy",
        Keepalived = "keepalived",
        Hosts = "hosts",
    }
);

keyword_enum!(
    /// Who promotes a standby when the primary fails.
    FailoverManager {
        PgAutoFailover = "pg_auto_failover",
        Repmgr = "repmgr",
        Patroni = "patroni",
        None = "none",
    }
);

keyword_enum!(Role { Primary = "primary", Sync = "sync", Async = "async" });

keyword_enum!(
    /// `ANY n (…)` (quorum) or `FIRST n (…)` (priority) in `synchronous_standby_names`.
    SyncMethod { Any = "any", First = "first" }
);

keyword_enum!(
    /// An `hba` rule: `allow` lets matching clients authenticate, `reject` turns them away.
    HbaAction { Allow = "allow", Reject = "reject" }
);

keyword_enum!(
    /// How an `allow` rule authenticates: a SCRAM password, or a client certificate whose CN is
    /// the role name. `trust`, `password` and `md5` are refused while lowering (PT005).
    HbaMethod { ScramSha256 = "scram-sha-256", Cert = "cert" }
);

keyword_enum!(
    /// `tls mode=`: `prefer` serves TLS to clients that ask, `require` refuses remote clients
    /// without it (`hostssl` rows), `verify-full` also checks client certificates on `cert` rows.
    TlsMode { Prefer = "prefer", Require = "require", VerifyFull = "verify-full" }
);

keyword_enum!(PoolerKind { Pgbouncer = "pgbouncer", Pgpool = "pgpool" });

keyword_enum!(
    /// Which database nodes a pooler sends its connections to.
    PoolerTarget { Primary = "primary", Replicas = "replicas", Any = "any", Local = "local" }
);

keyword_enum!(PoolMode { Session = "session", Transaction = "transaction", Statement = "statement" });

keyword_enum!(
    /// Which nodes a balancer listen routes to.
    ListenTarget { Primary = "primary", Replicas = "replicas", Sync = "sync", Async = "async", Any = "any" }
);

keyword_enum!(
    /// The program that takes base backups, archives WAL and restores.
    BackupTool { Pgbackrest = "pgbackrest", WalG = "wal-g", BarmanCloud = "barman-cloud" }
);

keyword_enum!(
    /// Where a backup repository keeps its files: an object store, or a folder (local, NFS, or
    /// on a repository host reached over SSH).
    RepositoryKind { S3 = "s3", Gcs = "gcs", Azure = "azure", Posix = "posix" }
);

keyword_enum!(
    /// Which Helm chart renders a cluster.
    HelmChart {
        BitnamiPostgresqlHa = "bitnami/postgresql-ha",
        BitnamiPostgresql = "bitnami/postgresql",
        Cnpg = "cnpg",
    }
);

#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    /// The environment this model was resolved for; `None` is the base.
    pub env: Option<String>,
    /// The name given by `topology "NAME"`, which names the outputs (`build --out DIR` writes
    /// `DIR/NAME/`); without it the CLI names them after the file.
    pub name: Option<Spanned<String>>,
    /// Outputs, in the order declared; the first is `build`'s default.
    pub targets: Vec<Spanned<Target>>,
    pub clusters: Vec<Cluster>,
    pub workloads: Vec<Workload>,
    /// Every env declared in the file (whichever one this model is resolved for).
    pub envs: Vec<Spanned<String>>,
}

impl Topology {
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }

    /// The standby clusters (`replica-of`) of each cluster, by the name they follow, in
    /// declaration order: one pass over the clusters, for callers that would otherwise scan every
    /// cluster for each one. A map to look up, not to iterate (its order is a hash's).
    pub fn standby_clusters(&self) -> std::collections::HashMap<&str, Vec<&Cluster>> {
        let mut m: std::collections::HashMap<&str, Vec<&Cluster>> = Default::default();
        for o in &self.clusters {
            if let Some(r) = &o.replica_of {
                m.entry(r.value.as_str()).or_default().push(o);
            }
        }
        m
    }

    /// The `targets` entry for `t`, with its span, when the topology declares it.
    pub fn target(&self, t: Target) -> Option<&Spanned<Target>> {
        self.targets.iter().find(|x| x.value == t)
    }

    pub fn has_target(&self, t: Target) -> bool {
        self.targets.iter().any(|x| x.value == t)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub span: Span,
    pub name_span: Span,
    /// Makes this a standby cluster whose primary follows the named cluster's primary.
    pub replica_of: Option<Spanned<String>>,
    pub postgres: Postgres,
    /// Kubernetes namespace; defaults to the cluster name.
    pub namespace: Spanned<String>,
    pub labels: IndexMap<String, Spanned<String>>,
    pub credentials: Credentials,
    /// `role` nodes, merged by name, in declaration order.
    pub roles: Vec<RoleDecl>,
    pub databases: Vec<Database>,
    /// The client rules (`hba { allow …; reject … }`); `None` when the block is not written.
    pub hba: Option<Hba>,
    /// The server certificate and how strictly clients must use TLS.
    pub tls: Option<Tls>,
    pub failover: Failover,
    pub replication: Replication,
    /// postgresql.conf settings as written, in source order.
    pub parameters: IndexMap<String, Param>,
    pub nodes: Vec<Node>,
    pub resources: Resources,
    pub storage: Storage,
    pub pdb: Option<Pdb>,
    pub poolers: Vec<Pooler>,
    pub balancers: Vec<Balancer>,
    pub monitoring: Option<Monitoring>,
    pub backup: Option<Backup>,
    /// Bootstraps the cluster from another cluster's backups.
    pub restore: Option<Restore>,
    pub helm: Helm,
    /// The env's `nodes "a" "b"` directive, when the env narrowed the node list.
    pub kept_nodes: Option<KeptNodes>,
}

impl Cluster {
    pub fn primary(&self) -> Option<&Node> {
        self.nodes.iter().find(|n| n.role.value == Role::Primary)
    }

    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    pub fn standbys(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role.value != Role::Primary)
    }

    /// A declared `role` by name.
    pub fn role(&self, name: &str) -> Option<&RoleDecl> {
        self.roles.iter().find(|r| r.name == name)
    }

    /// The TLS mode, when the cluster has `tls`.
    pub fn tls_mode(&self) -> Option<TlsMode> {
        self.tls.as_ref().map(|t| t.mode.value)
    }

    pub fn sync_nodes(&self) -> impl Iterator<Item = &Node> {
        self.nodes.iter().filter(|n| n.role.value == Role::Sync)
    }

    /// The value for `synchronous_standby_names`, e.g. `ANY 1 ("postgres-1")`, or `None` when
    /// replication is asynchronous. Names are double-quoted because node names usually contain `-`.
    pub fn synchronous_standby_names(&self) -> Option<String> {
        let sync = self.replication.synchronous.as_ref()?;
        let names: Vec<String> = self
            .sync_nodes()
            .map(|n| format!("\"{}\"", n.name))
            .collect();
        if names.is_empty() {
            return None;
        }
        let method = match sync.method.value {
            SyncMethod::Any => "ANY",
            SyncMethod::First => "FIRST",
        };
        Some(format!(
            "{method} {} ({})",
            sync.count.value,
            names.join(", ")
        ))
    }

    /// A parameter as the user wrote it, if they did.
    pub fn param(&self, name: &str) -> Option<&Param> {
        self.parameters.get(name)
    }

    pub fn is_standby_cluster(&self) -> bool {
        self.replica_of.is_some()
    }

    /// The label set every object of this cluster carries (`app.kubernetes.io/*` plus the user's).
    pub fn user_labels(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct KeptNodes {
    pub names: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Postgres {
    /// Major version, e.g. 15.
    pub version: Spanned<u32>,
    /// Container image; defaulted per failover manager when not written (see `image_declared`).
    pub image: Spanned<String>,
    pub image_declared: bool,
    pub span: Span,
}

/// Where credentials come from. Both are references: the topology never holds a password.
#[derive(Clone, Debug, PartialEq)]
pub struct Credentials {
    /// Kubernetes Secret name; defaults to `<cluster>-credentials`.
    pub secret: Spanned<String>,
    /// Env file for Compose and VM hosts; defaults to `.env`.
    pub env_file: Spanned<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Database {
    pub name: String,
    pub owner: Option<Spanned<String>>,
    /// `connection-limit=`: `ALTER DATABASE … CONNECTION LIMIT`; `None` leaves it unlimited.
    pub connection_limit: Option<Spanned<i32>>,
    /// `extension "NAME"` children: created with `CREATE EXTENSION IF NOT EXISTS` in this database.
    pub extensions: Vec<Spanned<String>>,
    pub span: Span,
}

/// `role "NAME" login= connection-limit= member-of=`: a role the bootstrap creates.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleDecl {
    pub name: String,
    /// `login=#true`: the role may log in, with the password of the credentials key
    /// `<role>-password` (default `#false`: a group role).
    pub login: bool,
    pub connection_limit: Option<Spanned<i32>>,
    /// The roles this one is granted (`member-of="a,b"`), predefined ones (`pg_monitor`) included.
    pub member_of: Vec<Spanned<String>>,
    pub span: Span,
    pub name_span: Span,
}

/// The client rules of a cluster, first match wins, after pgtopo's own rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Hba {
    pub rules: Vec<HbaRule>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HbaRule {
    pub action: HbaAction,
    /// A database name or `all` (default `all`).
    pub database: Spanned<String>,
    /// A role name or `all` (default `all`).
    pub user: Spanned<String>,
    /// A CIDR such as `10.0.0.0/16`, or `all`; required.
    pub address: Spanned<String>,
    pub method: Spanned<HbaMethod>,
    pub span: Span,
}

/// `tls mode= secret= dir=`.
#[derive(Clone, Debug, PartialEq)]
pub struct Tls {
    pub mode: Spanned<TlsMode>,
    /// A `kubernetes.io/tls` Secret (`tls.crt`, `tls.key`, `ca.crt`): Kubernetes and Helm.
    pub secret: Option<Spanned<String>>,
    /// A folder on every host holding `server.crt`, `server.key` and `ca.crt`: hosts and Compose.
    pub dir: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Failover {
    pub manager: Spanned<FailoverManager>,
    /// pg_auto_failover's monitor (always present for that manager, defaulted otherwise).
    pub monitor: Option<Monitor>,
    /// Patroni's distributed configuration store.
    pub dcs: Option<Dcs>,
    /// Patroni's leader key TTL in seconds (default 30).
    pub ttl: Spanned<u32>,
    /// Patroni's loop wait in seconds (default 10).
    pub loop_wait: Spanned<u32>,
    /// Patroni's retry timeout in seconds (default 10).
    pub retry_timeout: Spanned<u32>,
    /// Patroni's `maximum_lag_on_failover` in bytes (default 1 MiB).
    pub maximum_lag_on_failover: u64,
    /// `rest-api auth=`: Patroni's REST API asks for a password for every change (default
    /// `#true`; `#false` must be written to turn it off).
    pub rest_api_auth: Spanned<bool>,
    /// `failsafe #true`: Patroni's `failsafe_mode` (the leader stays primary while the DCS is down
    /// if every member still answers it). Default `#false`.
    pub failsafe: Option<Spanned<bool>>,
    pub span: Span,
}

impl Failover {
    pub fn failsafe(&self) -> bool {
        self.failsafe.as_ref().is_some_and(|f| f.value)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Monitor {
    pub port: Spanned<u16>,
    /// Size of the monitor's volume (default "1Gi").
    pub storage: Spanned<String>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Dcs {
    /// `etcd` (v3 API) is the only kind for now.
    pub kind: Spanned<String>,
    /// `host:port` pairs.
    pub endpoints: Vec<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Replication {
    /// Present when synchronous replication is wanted (declared, or implied by `sync` nodes).
    pub synchronous: Option<Synchronous>,
    /// One physical replication slot per standby.
    pub slots: bool,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Synchronous {
    pub method: Spanned<SyncMethod>,
    pub count: Spanned<u32>,
    /// False when implied by `sync` nodes without a `synchronous` line.
    pub declared: bool,
    /// `strict=#true`: with no synchronous standby, the primary stops accepting writes instead of
    /// turning asynchronous (Patroni's `synchronous_mode_strict`).
    pub strict: Option<Spanned<bool>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamValue {
    String(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub value: ParamValue,
    pub span: Span,
}

impl Param {
    /// The value as postgresql.conf wants it: numbers bare, booleans on/off, strings quoted.
    pub fn to_conf(&self) -> String {
        match &self.value {
            ParamValue::Int(i) => i.to_string(),
            ParamValue::Float(f) => f.to_string(),
            ParamValue::Bool(b) => if *b { "on" } else { "off" }.to_owned(),
            ParamValue::String(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// The value without quoting, as Helm values and environment variables want it.
    pub fn to_plain(&self) -> String {
        match &self.value {
            ParamValue::String(s) => s.clone(),
            _ => self.to_conf(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match &self.value {
            ParamValue::Int(i) => Some(*i),
            ParamValue::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub role: Spanned<Role>,
    /// Failover candidate priority (higher is preferred); `None` leaves the manager's default.
    pub priority: Option<Spanned<u32>>,
    /// Address of the VM that runs this node, for the VM targets.
    pub host: Option<Spanned<String>>,
    /// PostgreSQL port; 5432 unless written. On Compose this is also the published host port.
    pub port: Spanned<u16>,
    pub port_declared: bool,
    /// Patroni REST API port (`patroni-port=`, default 8008). Nodes that share one VM host need
    /// distinct ports; the haproxy target health-checks this port.
    pub patroni_port: Spanned<u16>,
    /// `pooler-port=`: the port of the `target="local"` pooler beside this node, instead of the
    /// pooler's own `port`. Nodes that share one VM host need distinct ones (PT108).
    pub pooler_port: Option<Spanned<u16>>,
    /// `failover=#false`: never promoted (a read-only tier).
    pub failover: bool,
    /// Cascading replication: stream from this node instead of the primary.
    pub upstream: Option<Spanned<String>>,
    pub zone: Option<Spanned<String>>,
    pub span: Span,
    pub name_span: Span,
}

impl Node {
    /// The port of the `target="local"` pooler `p` beside this node: the node's `pooler-port=` when
    /// written (nodes sharing one host need distinct ones), else the pooler's `port`.
    pub fn local_pooler_port<'a>(&'a self, p: &'a Pooler) -> &'a Spanned<u16> {
        self.pooler_port.as_ref().unwrap_or(&p.port)
    }
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceList {
    pub cpu: Option<Spanned<String>>,
    pub memory: Option<Spanned<String>>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Resources {
    pub requests: ResourceList,
    pub limits: ResourceList,
    /// `None` when the block was not written (emitters then use their documented defaults).
    pub span: Option<Span>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    /// Volume size as a Kubernetes quantity (default "10Gi").
    pub size: Spanned<String>,
    /// Whether `storage size=` was written.
    pub size_declared: bool,
    pub class: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pdb {
    pub min_available: Spanned<u32>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pooler {
    pub name: String,
    pub kind: Spanned<PoolerKind>,
    pub target: Spanned<PoolerTarget>,
    /// Default 6432 for PgBouncer, 5432 for Pgpool-II.
    pub port: Spanned<u16>,
    /// Default `transaction` for PgBouncer, `session` for Pgpool-II (which only pools sessions).
    pub mode: Spanned<PoolMode>,
    /// Pod/container replicas (ignored for `target="local"`, which is one per database host).
    pub replicas: Spanned<u32>,
    pub pool: Pool,
    /// Pgpool-II: send read-only statements to standbys (default #true for pgpool).
    pub load_balance_reads: bool,
    /// Pgpool-II backend health-check period in seconds.
    pub health_check_interval: Option<Spanned<u32>>,
    pub resources: Resources,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    /// Server connections per database/user pair (PgBouncer default_pool_size, Pgpool max_pool).
    pub size: Spanned<u32>,
    /// PgBouncer reserve_pool_size (default 0).
    pub reserve: Spanned<u32>,
    /// PgBouncer max_client_conn (default 100).
    pub max_client_conn: Spanned<u32>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Balancer {
    /// The balancer software; only "haproxy" for now.
    pub name: String,
    pub hosts: Vec<BalancerHost>,
    pub listens: Vec<Listen>,
    pub stats: Option<Stats>,
    pub vip: Option<Vip>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct BalancerHost {
    pub name: String,
    pub address: Spanned<String>,
    /// VRRP priority; higher holds the VIP.
    pub priority: Spanned<u32>,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Listen {
    pub name: String,
    pub port: Spanned<u16>,
    pub target: Spanned<ListenTarget>,
    /// Where to send traffic when no node of `target` is healthy (haproxy `backup` servers).
    pub fallback: Option<Spanned<ListenTarget>>,
    /// For replica listens: leave out standbys lagging more than this many bytes (Patroni
    /// `/replica?lag=`).
    pub max_lag: Option<Spanned<u64>>,
    pub span: Span,
    pub name_span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Stats {
    pub port: Spanned<u16>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Vip {
    /// `ADDR/PREFIX`, e.g. `10.0.0.100/24`.
    pub address: Spanned<String>,
    pub interface: Spanned<String>,
    /// VRRP virtual_router_id; must be 1–255 (checked by PT109, so kept wide here).
    pub router_id: Spanned<i64>,
    /// VRRP advert interval in seconds (default 1).
    pub advert_int: Spanned<u32>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Monitoring {
    /// postgres_exporter port beside every node (default 9187).
    pub exporter_port: Spanned<u16>,
    pub prometheus_port: Option<Spanned<u16>>,
    pub grafana_port: Option<Spanned<u16>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Backup {
    /// The tool the topology names; `None` lets each target run the one that fits it
    /// (`plan::backup::tool`).
    pub tool: Option<Spanned<BackupTool>>,
    /// Where backups and archived WAL go, in declaration order.
    pub repositories: Vec<Repository>,
    pub schedule: Option<Schedule>,
    pub retention: Option<Retention>,
    /// The former `backup archive="DIR"`: a folder WAL is copied into, with no base backups
    /// (PT180 asks for `repository "posix" path=` instead).
    pub archive: Option<Spanned<String>>,
    pub span: Span,
}

impl Backup {
    /// The repository the cluster's WAL and backups go to: the first one declared.
    pub fn repository(&self) -> Option<&Repository> {
        self.repositories.first()
    }
}

/// `repository "s3" bucket= region= endpoint= path= credentials-secret=`, or
/// `repository "posix" path= [host=]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Repository {
    pub kind: Spanned<RepositoryKind>,
    pub bucket: Option<Spanned<String>>,
    pub region: Option<Spanned<String>>,
    pub endpoint: Option<Spanned<String>>,
    /// The folder (posix) or the prefix inside the bucket.
    pub path: Option<Spanned<String>>,
    /// A repository host (posix), reached by pgBackRest over SSH.
    pub host: Option<Spanned<String>>,
    /// The Secret (Kubernetes) holding the object store's keys; on VMs and Compose the keys are
    /// variables of the cluster's env file.
    pub credentials_secret: Option<Spanned<String>>,
    pub span: Span,
}

/// `schedule full="CRON" [incremental="CRON"]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Schedule {
    pub full: Option<Spanned<String>>,
    pub incremental: Option<Spanned<String>>,
    pub span: Span,
}

/// `retention full=N`: how many full backups (and the WAL they need) are kept.
#[derive(Clone, Debug, PartialEq)]
pub struct Retention {
    pub full: Option<Spanned<u32>>,
    pub span: Span,
}

/// `restore from="CLUSTER" [time="RFC 3339"]`: the cluster starts as a copy of another cluster's
/// backups, to the end of its archived WAL or to a point in time.
#[derive(Clone, Debug, PartialEq)]
pub struct Restore {
    pub from: Spanned<String>,
    pub time: Option<Spanned<String>>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Helm {
    /// The chart that renders this cluster; defaulted from the failover manager (see docs).
    pub chart: Spanned<HelmChart>,
    pub chart_declared: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub name: String,
    pub cluster: Spanned<String>,
    pub load: Option<Load>,
    pub verify: Option<Verify>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Load {
    pub rows: Spanned<u64>,
    pub table: Spanned<String>,
    /// Rows per INSERT batch (default 1000).
    pub batch: Spanned<u32>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Verify {
    pub every_node: bool,
    /// Continuous mode: seconds between write/read/validate rounds.
    pub interval: Option<Spanned<u32>>,
    /// Seconds to wait for every node to reach the primary's count (default 120).
    pub timeout: Spanned<u32>,
    pub span: Span,
}
