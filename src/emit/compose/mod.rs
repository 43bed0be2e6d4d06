//! The `compose` target: one Compose project per environment.
//!
//! Layout of the target folder (documented in docs/targets/compose.md):
//! - `base/` for the base topology and `<env>/` for every env, each self-contained:
//!   `compose.yaml`, `.env.example`, and every file a service mounts, under `<cluster>/` (database
//!   and pooler configs, scripts) and `monitoring/` (Prometheus and Grafana).
//!
//! `stdout` prints one env's `compose.yaml`; the mounted files only exist with `build --out`.

mod backup;
mod monitoring;
mod poolers;
mod postgres;
mod spec;
mod vars;
mod workloads;

use indexmap::IndexMap;

use crate::bundle::Bundle;
use crate::diag::Diagnostic;
use crate::emit::{Options, Program};
use crate::model::{Cluster, Topology};

use spec::{ComposeFile, Network, Service, Volume};
use std::borrow::Cow;
use vars::Vars;

/// The one network every service joins; service names are the host names on it.
pub const NETWORK: &str = "db";
/// The restart policy of every service: come back after a crash or a Docker restart, but stay down
/// after `docker compose stop`.
pub const RESTART: &str = "unless-stopped";

/// One rendered project: its compose document and the files beside it.
struct Project<'b> {
    compose: ComposeFile<'b>,
    /// Paths relative to the project folder, in the order they were produced.
    files: IndexMap<String, String>,
}

/// The folder of one resolved model inside the target folder.
fn folder(t: &Topology) -> &str {
    t.env.as_deref().unwrap_or("base")
}

/// The Compose project name: the topology name, plus `-<env>` for an env, in the character set
/// Compose accepts (lowercase letters, digits, `-`, `_`).
fn project_name(p: &Program, t: &Topology) -> String {
    let raw = match &t.env {
        None => p.name.clone(),
        Some(e) => format!("{}-{e}", p.name),
    };
    let mut s: String = raw
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        s.insert(0, 'p');
    }
    s
}

/// What one cluster adds to a project: its services and volumes, the files they mount and the
/// variables they use. A cluster's part depends on that cluster and the clusters it reads alone,
/// so an env takes the part of every cluster it leaves as the base has it
/// ([`crate::plan::delta::unchanged_clusters`]) from the base's rendering.
#[derive(Clone)]
struct ClusterPart {
    /// Owned: the services rendered for the cluster.
    services: IndexMap<String, Cow<'static, Service>>,
    volumes: IndexMap<String, Option<Volume>>,
    files: IndexMap<String, String>,
    vars: Vars,
}

fn cluster_part(t: &Topology, c: &Cluster) -> ClusterPart {
    let mut compose = ComposeFile::default();
    let mut files = IndexMap::new();
    let mut vars = Vars::default();
    postgres::cluster(t, c, &mut compose, &mut files, &mut vars);
    backup::cluster(t, c, &mut compose, &mut files);
    poolers::cluster(c, &mut compose, &mut files, &mut vars);
    monitoring::cluster(c, &mut compose, &mut files, &mut vars);
    ClusterPart {
        services: compose.services,
        volumes: compose.volumes,
        files,
        vars,
    }
}

/// The base's part of each cluster, by name.
type BaseParts = std::collections::HashMap<String, ClusterPart>;

/// The project of `t`. With `base` (the base's parts), the clusters `t` leaves as the base has
/// them are taken from there; `keep` collects the parts rendered (the base's, for its envs).
fn render<'b>(
    p: &Program,
    t: &Topology,
    base: Option<&'b BaseParts>,
    mut keep: Option<&mut BaseParts>,
) -> Project<'b> {
    let mut vars = Vars::default();
    let mut compose = ComposeFile {
        name: project_name(p, t),
        ..ComposeFile::default()
    };
    // Room for every node's service and volume up front: grown by doubling, the map of a
    // thousand services (a few hundred bytes each) was copied ten times over.
    let nodes: usize = t.clusters.iter().map(|c| c.nodes.len()).sum();
    compose.services.reserve(nodes + 2 * t.clusters.len());
    compose.volumes.reserve(nodes);
    let mut files = IndexMap::new();
    let unchanged = match base {
        Some(_) => crate::plan::delta::unchanged_clusters(&p.base, t),
        None => Default::default(),
    };
    for c in &t.clusters {
        let reused = base
            .filter(|_| unchanged.contains(c.name.as_str()))
            .and_then(|b| b.get(&c.name));
        // Merged as the cluster's rendering into the project itself would have left them:
        // maps in insertion order, each variable described where it is first used.
        match (reused, keep.as_deref_mut()) {
            (Some(part), _) => {
                compose.services.extend(
                    part.services
                        .iter()
                        .map(|(k, v)| (k.clone(), Cow::Borrowed(&**v))),
                );
                compose
                    .volumes
                    .extend(part.volumes.iter().map(|(k, v)| (k.clone(), v.clone())));
                files.extend(part.files.iter().map(|(k, v)| (k.clone(), v.clone())));
                vars.merge(&part.vars);
            }
            (None, keep) => {
                let part = cluster_part(t, c);
                vars.merge(&part.vars);
                if let Some(keep) = keep {
                    keep.insert(c.name.clone(), part.clone());
                }
                compose.services.extend(part.services);
                compose.volumes.extend(part.volumes);
                files.extend(part.files);
            }
        }
    }
    workloads::topology(t, &mut compose, &mut files, &mut vars);
    compose.networks.insert(
        NETWORK.to_owned(),
        Network {
            driver: "bridge".to_owned(),
        },
    );
    let env_file = t
        .clusters
        .first()
        .map_or(".env", |c| c.credentials.env_file.value.as_str());
    files.insert(
        ".env.example".to_owned(),
        vars.env_example(&compose.name, env_file),
    );
    Project { compose, files }
}

/// The compose target: a project per model. An env's project takes each cluster it leaves as
/// the base has it from the base's rendering, so its cost is what it changes plus copying.
pub static EMIT: crate::emit::Emitter = crate::emit::Emitter {
    target: crate::model::Target::Compose,
    stdout,
    tree: crate::emit::Tree::FromBase(start),
};

fn start<'p>(p: &'p Program, out: &mut dyn FnMut(Bundle)) -> Box<dyn crate::emit::TargetTree + 'p> {
    let mut parts = BaseParts::new();
    out(piece(&p.base, render(p, &p.base, None, Some(&mut parts))));
    Box::new(Tree { p, parts })
}

/// The compose tree after the base: the base's cluster parts.
struct Tree<'p> {
    p: &'p Program,
    parts: BaseParts,
}

impl crate::emit::TargetTree for Tree<'_> {
    fn env(
        &self,
        t: &Topology,
        out: &mut dyn FnMut(Bundle),
    ) -> (crate::emit::EnvNote, Vec<Diagnostic>) {
        out(piece(t, render(self.p, t, Some(&self.parts), None)));
        (None, Vec::new())
    }
}

/// The project of one model `t` (the base or an env of `p`), under its folder.
fn piece(t: &Topology, project: Project) -> Bundle {
    let mut b = Bundle::new();
    let dir = folder(t);
    b.add(
        format!("{dir}/compose.yaml"),
        spec::to_yaml(&project.compose),
    );
    for (path, text) in project.files {
        b.add(format!("{dir}/{path}"), text);
    }
    b
}

pub fn stdout(p: &Program, env: Option<&str>, _opts: &Options) -> Result<String, Vec<Diagnostic>> {
    let t = p.model(env)?;
    Ok(spec::to_yaml(&render(p, t, None, None).compose))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An env's project with the unchanged clusters taken from the base is the project rendered
    /// from the env alone, file for file, for every topology and Compose fixture with envs (the
    /// fixture `restore-env` changes a cluster that another restores from).
    #[test]
    fn reused_clusters_render_as_the_env_alone_would() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut seen = Vec::new();
        for dir in ["topologies", "tests/fixtures/compose"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                if path.extension().is_none_or(|x| x != "kdl") {
                    continue;
                }
                let src = std::fs::read_to_string(&path).unwrap();
                let Some(p) = crate::driver::compile(&src).program("t") else {
                    continue;
                };
                if !p.build_targets().contains(&crate::model::Target::Compose) {
                    continue;
                }
                let mut parts = BaseParts::new();
                render(&p, &p.base, None, Some(&mut parts));
                for t in &p.envs {
                    let (reused, alone) =
                        (render(&p, t, Some(&parts), None), render(&p, t, None, None));
                    let at = format!("{} {:?}", path.display(), t.env);
                    assert_eq!(
                        spec::to_yaml(&reused.compose),
                        spec::to_yaml(&alone.compose),
                        "{at}"
                    );
                    assert_eq!(reused.files, alone.files, "{at}");
                    seen.push(path.file_stem().unwrap().to_string_lossy().into_owned());
                }
            }
        }
        for must in ["features", "restore-env"] {
            assert!(
                seen.iter().any(|s| s == must),
                "{must} not compared: {seen:?}"
            );
        }
    }
}
