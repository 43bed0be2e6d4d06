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
use crate::model::Topology;

use spec::{ComposeFile, Network};
use vars::Vars;

/// The one network every service joins; service names are the host names on it.
pub const NETWORK: &str = "db";
/// The restart policy of every service: come back after a crash or a Docker restart, but stay down
/// after `docker compose stop`.
pub const RESTART: &str = "unless-stopped";

/// One rendered project: its compose document and the files beside it.
struct Project {
    compose: ComposeFile,
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

fn render(p: &Program, t: &Topology) -> Project {
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
    for c in &t.clusters {
        postgres::cluster(t, c, &mut compose, &mut files, &mut vars);
        backup::cluster(t, c, &mut compose, &mut files);
        poolers::cluster(c, &mut compose, &mut files, &mut vars);
        monitoring::cluster(c, &mut compose, &mut files, &mut vars);
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

/// The compose target: a project per model, which depends on that model alone.
pub static EMIT: crate::emit::PerModel = crate::emit::PerModel {
    target: crate::model::Target::Compose,
    stdout,
    render: render_model,
};

fn render_model(
    p: &Program,
    t: &Topology,
    out: &mut dyn FnMut(Bundle),
) -> Result<(), Vec<Diagnostic>> {
    out(model_piece(p, t));
    Ok(())
}

/// The project of one model `t` (the base or an env of `p`), under its folder.
pub fn model_piece(p: &Program, t: &Topology) -> Bundle {
    let mut b = Bundle::new();
    let dir = folder(t);
    let project = render(p, t);
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
    Ok(spec::to_yaml(&render(p, t).compose))
}
