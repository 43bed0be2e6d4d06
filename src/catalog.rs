//! The catalogue: one image pin and one default port per component of the stack, in one place.
//!
//! Every target that runs a component reads its image from here, so that Compose, Kubernetes and
//! Helm never run two versions of the same program. The model's defaults (the database image of
//! each failover manager) come from here too, which is why the catalogue is a leaf module that the
//! model phase may read, not a part of a later phase.

use crate::model::FailoverManager;

/// PgBouncer (the image runs `pgbouncer` from PATH with the config file as its argument).
pub const PGBOUNCER_IMAGE: &str = "edoburu/pgbouncer:v1.24.1-p1";
/// Pgpool-II, configured through the bitnami image's environment variables. Since August 2025
/// versioned tags under `docker.io/bitnami/` no longer pull; every existing tag was copied,
/// frozen, to `docker.io/bitnamilegacy/`, which serves the same image (see [`moved_bitnami`]).
pub const PGPOOL_IMAGE: &str = "bitnamilegacy/pgpool:4.6.2";
/// The Prometheus PostgreSQL exporter beside every database node.
pub const EXPORTER_IMAGE: &str = "quay.io/prometheuscommunity/postgres-exporter:v0.17.1";
pub const PROMETHEUS_IMAGE: &str = "prom/prometheus:v2.53.0";
pub const GRAFANA_IMAGE: &str = "grafana/grafana:11.1.0";
/// `kubectl` for the role labeler sidecar on Kubernetes. The labeler is a bash script (it reads
/// the data directory and probes the port through bash's `/dev/tcp`), so the image must have bash
/// beside kubectl: bitnami's has, the distroless `registry.k8s.io/kubectl` has not. The same tag
/// as before the move, from the repository that still serves it.
pub const KUBECTL_IMAGE: &str = "bitnamilegacy/kubectl:1.33.1";
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

/// Zalando's Spilo (PostgreSQL with Patroni) for Patroni clusters that declare no image. Tag
/// 4.0-p3 of github.com/zalando/spilo (August 2025, its newest) is published by the project's
/// release workflow as `ghcr.io/zalando/spilo-<PGVERSION>:<tag>`; its postgres-appliance/Dockerfile
/// builds PGVERSION=17 with PGOLDVERSIONS="13 14 15 16" beside it (each under
/// `/usr/lib/postgresql/<major>/bin`) and Patroni 4.0.4 (pip, `patroni` on PATH). It is also the
/// default `docker_image` of Zalando's postgres-operator. Older Spilo tags ship Patroni 3, which
/// has no quorum commit, and no tag ships PostgreSQL 18 yet.
const SPILO_17: &str = "ghcr.io/zalando/spilo-17:4.0-p3";

/// The pinned Spilo image that runs PostgreSQL `major`, one per supported major: every image
/// runs its majors from their own binary folders, so one Spilo build serves 13 to 17. `None` for a
/// major no pinned Spilo ships (PT120 then asks for a declared image).
pub fn spilo_image(major: u32) -> Option<&'static str> {
    match major {
        13 => Some(SPILO_17),
        14 => Some(SPILO_17),
        15 => Some(SPILO_17),
        16 => Some(SPILO_17),
        17 => Some(SPILO_17),
        _ => None,
    }
}

/// Spilo's `postgres` user and group: the Ubuntu package's system user (uid 101, gid 103), which
/// Zalando's postgres-operator documents as `spilo_runasuser: 101`, `spilo_fsgroup: 103`.
pub const SPILO_UID: i64 = 101;
pub const SPILO_GID: i64 = 103;

/// Whether an image is a Spilo build (`…/spilo`, `…/spilo-<major>`, `…/spilo-cdp-<major>`, any
/// registry or tag): its user and paths are Spilo's, not the official image's, whoever chose it.
pub fn is_spilo(image: &str) -> bool {
    let no_digest = image.split('@').next().unwrap_or(image);
    let last = no_digest.rsplit('/').next().unwrap_or(no_digest);
    let name = last.split(':').next().unwrap_or(last);
    name == "spilo" || name.starts_with("spilo-")
}

/// The repositories bitnami moved: a versioned tag of `bitnami/<name>` (Docker Hub, with or
/// without `docker.io/`) no longer pulls since August 2025, and `bitnamilegacy/<name>` serves the
/// same tag. Returns the replacement reference, or `None` for any other image (`latest`, which
/// bitnami still publishes, and untagged references are not versioned tags).
pub fn moved_bitnami(image: &str) -> Option<String> {
    let rest = image
        .strip_prefix("docker.io/bitnami/")
        .or_else(|| image.strip_prefix("bitnami/"))?;
    let (name, tag) = match rest.split_once('@') {
        Some((n, _)) => (n.split(':').next().unwrap_or(n), None),
        None => match rest.split_once(':') {
            Some((n, t)) => (n, Some(t)),
            None => (rest, None),
        },
    };
    if name.is_empty() || name.contains('/') {
        return None;
    }
    let tag = tag?;
    if tag == "latest" || tag.is_empty() {
        return None;
    }
    Some(format!("bitnamilegacy/{name}:{tag}"))
}

/// The image a cluster runs when `postgres image=` is not written: one that contains the chosen
/// failover manager. Patroni clusters run Spilo; for a major no pinned Spilo ships, the official
/// image, which has no Patroni (PT120 asks for a declared image on Kubernetes).
pub fn default_postgres_image(manager: FailoverManager, version: u32) -> String {
    match manager {
        FailoverManager::PgAutoFailover => PG_AUTO_FAILOVER_IMAGE.to_owned(),
        FailoverManager::Repmgr => format!("bitnamilegacy/postgresql-repmgr:{version}"),
        FailoverManager::Patroni => match spilo_image(version) {
            Some(image) => image.to_owned(),
            None => format!("postgres:{version}"),
        },
        FailoverManager::None => format!("postgres:{version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spilo_images() {
        assert!(is_spilo("ghcr.io/zalando/spilo-17:4.0-p3"));
        assert!(is_spilo(
            "registry.opensource.zalan.do/acid/spilo-cdp-16:3.2-p3"
        ));
        assert!(is_spilo("spilo@sha256:abc"));
        assert!(!is_spilo("postgres:16"));
        assert!(!is_spilo("registry.example.com/spilo-tools/patroni:4"));
        // Every supported major has a pinned Spilo, and it is recognised as one.
        for major in 13..=17 {
            assert!(spilo_image(major).is_some_and(is_spilo), "{major}");
        }
        assert_eq!(spilo_image(12), None);
        assert_eq!(spilo_image(18), None);
        assert_eq!(
            default_postgres_image(FailoverManager::Patroni, 18),
            "postgres:18"
        );
    }

    #[test]
    fn no_pin_is_on_a_moved_repository() {
        for image in [
            PGBOUNCER_IMAGE,
            PGPOOL_IMAGE,
            EXPORTER_IMAGE,
            PROMETHEUS_IMAGE,
            GRAFANA_IMAGE,
            KUBECTL_IMAGE,
            PG_AUTO_FAILOVER_IMAGE,
        ] {
            assert_eq!(moved_bitnami(image), None, "{image}");
        }
        for major in 13..=18 {
            for m in [
                FailoverManager::None,
                FailoverManager::Patroni,
                FailoverManager::Repmgr,
                FailoverManager::PgAutoFailover,
            ] {
                let image = default_postgres_image(m, major);
                assert_eq!(moved_bitnami(&image), None, "{image}");
            }
        }
    }
}
