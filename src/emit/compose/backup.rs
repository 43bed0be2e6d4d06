//! pgBackRest on Compose: the database nodes of a cluster with a backup repository (or restored
//! from one) run the cluster's image with pgBackRest added (`build.dockerfile_inline`, so the
//! project needs no other file), mount `pgbackrest.conf` and the repository; a `backup` service
//! in the `backup` profile creates the stanza, takes the first full backup and then runs the
//! schedules with cron; a restored cluster's primary restores the source's backups into its
//! empty data directory before its first start (its services are in the `restore` profile, so a
//! drill starts only when asked for: `docker compose --profile restore up`).

use indexmap::IndexMap;

use super::spec::{Build, ComposeFile, DependsOn, Service, Text};
use super::{NETWORK, RESTART};
use crate::model::{BackupTool, Cluster, Node, Role, Target, Topology};
use crate::plan::backup::{self, Instance, PGBACKREST_CONF};

/// Where a node's data directory is in the official image.
const PGDATA: &str = "/var/lib/postgresql/data";
/// The socket folder the primary shares with the backup service.
const SOCKET_DIR: &str = "/var/run/postgresql";
/// Where the repository is inside a container when the topology names a relative folder.
const DEFAULT_REPO: &str = "/var/lib/pgbackrest";

fn runs_pgbackrest(c: &Cluster) -> bool {
    backup::tool(c, Target::Compose) == Some(BackupTool::Pgbackrest)
}

/// The cluster whose repository this cluster's nodes use: its own, or its restore source's.
fn repo_cluster<'t>(t: &'t Topology, c: &'t Cluster) -> Option<&'t Cluster> {
    if runs_pgbackrest(c) {
        return Some(c);
    }
    backup::restore_source(t, c).filter(|s| runs_pgbackrest(s))
}

/// The repository folder inside the containers, and the volume or host folder mounted there.
fn repo_mount(src: &Cluster) -> (String, String) {
    let path = src
        .backup
        .as_ref()
        .and_then(|b| b.repository())
        .and_then(|r| r.path.as_ref())
        .map_or(DEFAULT_REPO, |p| p.value.as_str());
    if path.starts_with('/') {
        (path.to_owned(), format!("{}-pgbackrest", src.name))
    } else {
        (DEFAULT_REPO.to_owned(), path.to_owned())
    }
}

/// The image of a cluster's nodes with pgBackRest (and cron, for the schedules) added.
fn image(c: &Cluster) -> (Text, Build) {
    (
        format!("pgtopo/{}-pgbackrest:{}", c.name, c.postgres.version.value).into(),
        Build {
            dockerfile_inline: format!(
                "FROM {}\nRUN apt-get update && apt-get install -y --no-install-recommends pgbackrest cron && rm -rf /var/lib/apt/lists/*\n",
                c.postgres.image.value
            )
            .into(),
        },
    )
}

/// What a database node's service gets for backups and restores: its image, mounts and
/// variables. Empty when the cluster neither backs up nor restores.
#[derive(Default)]
pub struct NodeParts {
    pub image: Option<(Text, Build)>,
    pub volumes: Vec<Text>,
    pub env: Vec<(Text, Text)>,
    /// The services of a restored cluster start only with the `restore` profile.
    pub profiles: Vec<Text>,
}

pub fn node_parts(t: &Topology, c: &Cluster, n: &Node) -> NodeParts {
    let Some(src) = repo_cluster(t, c) else {
        return NodeParts::default();
    };
    let (inside, source) = repo_mount(src);
    let mut p = NodeParts {
        image: Some(image(c)),
        volumes: vec![
            format!("./{}/pgbackrest.conf:{PGBACKREST_CONF}:ro", c.name).into(),
            format!("{source}:{inside}").into(),
        ],
        env: vec![("PGTOPO_REPO".into(), inside.into())],
        profiles: Vec::new(),
    };
    let primary = n.role.value == Role::Primary;
    if primary && runs_pgbackrest(c) {
        p.volumes
            .push(format!("{}:{SOCKET_DIR}", socket_volume(c)).into());
    }
    if let (true, Some(r)) = (primary, &c.restore) {
        p.env.push((
            "PGTOPO_RESTORE_STANZA".into(),
            backup::stanza(src).to_owned().into(),
        ));
        if let Some(time) = &r.time {
            p.env.push((
                "PGTOPO_RESTORE_TARGET".into(),
                backup::target_time(&time.value).into(),
            ));
        }
    }
    if c.restore.is_some() {
        p.profiles.push("restore".into());
    }
    p
}

fn socket_volume(c: &Cluster) -> String {
    format!("{}-socket", c.name)
}

/// The cluster's `pgbackrest.conf`, its backup service and volumes.
pub fn cluster(
    t: &Topology,
    c: &Cluster,
    compose: &mut ComposeFile,
    files: &mut IndexMap<String, String>,
) {
    let Some(src) = repo_cluster(t, c) else {
        return;
    };
    let me = [Instance {
        host: None,
        data_dir: PGDATA.to_owned(),
        port: super::postgres::PG_PORT,
    }];
    files.insert(
        format!("{}/pgbackrest.conf", c.name),
        backup::pgbackrest_conf(c, src, &me, false),
    );
    let (inside, source) = repo_mount(src);
    if !source.starts_with('.') {
        compose.volumes.insert(source.clone(), None);
    }
    if !runs_pgbackrest(c) {
        return;
    }
    let Some(primary) = c.primary() else { return };
    compose.volumes.insert(socket_volume(c), None);
    files.insert(
        format!("{}/backup/pgbackrest-service.sh", c.name),
        service_script(c),
    );
    files.insert(format!("{}/backup/crontab", c.name), crontab(c));
    let (image, build) = image(c);
    let mut depends_on = IndexMap::new();
    depends_on.insert(primary.name.clone(), DependsOn::healthy());
    let name = format!("{}-backup", c.name);
    compose.add_service(
        name,
        Service {
            image,
            build: Some(build),
            restart: RESTART.into(),
            profiles: vec!["backup".into()],
            entrypoint: Some(vec![
                "bash".into(),
                "/etc/pgtopo/pgbackrest-service.sh".into(),
            ]),
            command: Some(Vec::new()),
            volumes: vec![
                format!("./{}/pgbackrest.conf:{PGBACKREST_CONF}:ro", c.name).into(),
                format!("./{}/backup:/etc/pgtopo:ro", c.name).into(),
                format!("{source}:{inside}").into(),
                format!("{}-data:{PGDATA}:ro", primary.name).into(),
                format!("{}:{SOCKET_DIR}", socket_volume(c)).into(),
            ],
            depends_on,
            networks: vec![NETWORK.into()],
            ..Service::default()
        },
    );
}

/// The backup service's entrypoint: stanza, check, first full backup, then cron in the
/// foreground with the topology's schedules.
fn service_script(c: &Cluster) -> String {
    crate::emit::text::render(
        "pgbackrest-service.sh",
        minijinja::context! {
            cluster => &c.name,
            stanza => backup::stanza(c),
            socket_dir => SOCKET_DIR,
        },
    )
}

/// The schedules as the postgres user's crontab (Debian's cron runs it in the backup service).
fn crontab(c: &Cluster) -> String {
    let schedules: Vec<_> = c
        .backup
        .as_ref()
        .and_then(|b| b.schedule.as_ref())
        .into_iter()
        .flat_map(|sc| [("full", &sc.full), ("incr", &sc.incremental)])
        .filter_map(|(kind, cron)| {
            cron.as_ref()
                .map(|cron| minijinja::context! { kind => kind, cron => &cron.value })
        })
        .collect();
    crate::emit::text::render(
        "compose-crontab",
        minijinja::context! {
            cluster => &c.name,
            stanza => backup::stanza(c),
            schedules => schedules,
        },
    )
}
