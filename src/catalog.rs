//! The catalogue: one image pin and one default port per component of the stack, in one place.
//!
//! Every target that runs a component reads its image from here, so that Compose, Kubernetes and
//! Helm never run two versions of the same program. The model's defaults (the database image of
//! each failover manager) come from here too, which is why the catalogue is a leaf module that the
//! model phase may read, not a part of a later phase.

use crate::model::FailoverManager;

/// PgBouncer (the image runs `pgbouncer` from PATH with the config file as its argument).
pub const PGBOUNCER_IMAGE: &str = "edoburu/pgbouncer:v1.24.1-p1";
/// Pgpool-II, configured through the bitnami image's environment variables.
pub const PGPOOL_IMAGE: &str = "bitnami/pgpool:4.6.2";
/// The Prometheus PostgreSQL exporter beside every database node.
pub const EXPORTER_IMAGE: &str = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1";
pub const PROMETHEUS_IMAGE: &str = "prom/prometheus:v2.53.0";
pub const GRAFANA_IMAGE: &str = "grafana/grafana:11.1.0";
/// `kubectl` for the role labeler sidecar on Kubernetes.
pub const KUBECTL_IMAGE: &str = "bitnami/kubectl:1.33.1";
/// pgBackRest beside PostgreSQL in a Kubernetes pod (the database images have none): a
/// maintained image of pgBackRest alone, built from the release's sources on Ubuntu
/// (github.com/woblerr/docker-pgbackrest). It runs as the database image's user id.
pub const PGBACKREST_IMAGE: &str = "woblerr/pgbackrest:2.55.1";
/// pg_auto_failover's monitor and keepers.
pub const PG_AUTO_FAILOVER_IMAGE: &str = "citusdata/pg_auto_failover:v2.1";

/// PostgreSQL's port unless a node writes `port=`.
pub const POSTGRES_PORT: u16 = 5432;
pub const PGBOUNCER_PORT: u16 = 6432;
/// Pgpool-II speaks the PostgreSQL protocol and takes its port by default.
pub const PGPOOL_PORT: u16 = 5432;
/// Patroni's REST API unless a node writes `patroni-port=`.
pub const PATRONI_PORT: u16 = 8008;
pub const EXPORTER_PORT: u16 = 9187;

/// The image a cluster runs when `postgres image=` is not written: one that contains the chosen
/// failover manager (the official image has no Patroni; PT120 asks for one on Kubernetes).
pub fn default_postgres_image(manager: FailoverManager, version: u32) -> String {
    match manager {
        FailoverManager::PgAutoFailover => PG_AUTO_FAILOVER_IMAGE.to_owned(),
        FailoverManager::Repmgr => format!("bitnami/postgresql-repmgr:{version}"),
        FailoverManager::Patroni | FailoverManager::None => format!("postgres:{version}"),
    }
}
