//! Phase 4: the emitters, one module per target. Each is a pure function of the resolved
//! [`Program`]: no IO, no clock, no environment variables, no hash-ordered iteration.
//!
//! Every target module exposes the same two functions:
//! - `files(&Program) -> Result<Bundle, Vec<Diagnostic>>`: the whole tree for the base and every
//!   env, with paths relative to the target's folder (`build --out DIR` writes them under
//!   `DIR/<topology>/<target>/`);
//! - `stdout(&Program, env, &Options) -> Result<String, Vec<Diagnostic>>`: what `pgtopo build ENV
//!   --target T` prints for one env;
//! - except helm (whose files are small): `pieces(&Program, &mut dyn FnMut(Bundle))`, the same
//!   tree as `files` handed over one model (base or env) at a time, which `build --out` streams.

pub mod compose;
pub mod haproxy;
pub mod helm;
pub mod hosts;
pub mod keepalived;
pub mod kubernetes;
pub mod vm_common;
pub mod workload;

use crate::bundle::Bundle;
use crate::diag::Diagnostic;
use crate::model::{Target, Topology};

/// The resolved topology: the base model and one model per env, all free of errors.
#[derive(Clone, Debug)]
pub struct Program {
    /// The topology's name: its file name without `.kdl`; the top folder of `build --out`.
    pub name: String,
    pub base: Topology,
    pub envs: Vec<Topology>,
}

impl Program {
    /// The model for `env`, or the base for `None`.
    pub fn get(&self, env: Option<&str>) -> Option<&Topology> {
        match env {
            None => Some(&self.base),
            Some(e) => self.envs.iter().find(|t| t.env.as_deref() == Some(e)),
        }
    }

    /// The base followed by every env.
    pub fn all(&self) -> impl Iterator<Item = &Topology> {
        std::iter::once(&self.base).chain(self.envs.iter())
    }

    /// The targets `build --out` renders: the declared ones, plus `hosts` whenever some node
    /// declares a `host` (the VM targets' database side).
    pub fn build_targets(&self) -> Vec<Target> {
        let mut t: Vec<Target> = self.base.targets.iter().map(|t| t.value).collect();
        let has_hosts = self
            .all()
            .flat_map(|t| &t.clusters)
            .flat_map(|c| &c.nodes)
            .any(|n| n.host.is_some());
        if has_hosts && !t.contains(&Target::Hosts) {
            t.push(Target::Hosts);
        }
        t
    }
}

/// Knobs of `pgtopo build` that change what is printed.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// For per-host targets (haproxy, keepalived, hosts): which host to print.
    pub host: Option<String>,
    /// Include workload Jobs/services that load data (off by default so `| kubectl apply` never
    /// starts a data load by surprise).
    pub with_workloads: bool,
}

pub fn files(target: Target, p: &Program) -> Result<Bundle, Vec<Diagnostic>> {
    match target {
        Target::Kubernetes => kubernetes::files(p),
        Target::Helm => helm::files(p),
        Target::Compose => compose::files(p),
        Target::Haproxy => haproxy::files(p),
        Target::Keepalived => keepalived::files(p),
        Target::Hosts => hosts::files(p),
    }
}

pub fn stdout(
    target: Target,
    p: &Program,
    env: Option<&str>,
    opts: &Options,
) -> Result<String, Vec<Diagnostic>> {
    match target {
        Target::Kubernetes => kubernetes::stdout(p, env, opts),
        Target::Helm => helm::stdout(p, env, opts),
        Target::Compose => compose::stdout(p, env, opts),
        Target::Haproxy => haproxy::stdout(p, env, opts),
        Target::Keepalived => keepalived::stdout(p, env, opts),
        Target::Hosts => hosts::stdout(p, env, opts),
    }
}

/// Every file of every build target, under `<target>/`.
pub fn build_all(p: &Program) -> Result<Bundle, Vec<Diagnostic>> {
    build_targets(p, &p.build_targets())
}

/// Every file of the given targets, under `<target>/` (`diff --target` needs only one).
pub fn build_targets(p: &Program, targets: &[Target]) -> Result<Bundle, Vec<Diagnostic>> {
    let mut out = Bundle::new();
    build_pieces_of(p, targets, &mut |b| out.extend(b))?;
    Ok(out)
}

/// [`build_all`] in pieces, each handed to `piece` as soon as it is rendered: the base or one env
/// of a target (helm, whose files are small, comes whole). `build --out` writes each piece and
/// drops it, so its memory stays that of one piece instead of the whole tree. On errors, pieces of
/// the healthy targets may already have been handed over: the caller discards them.
pub fn build_pieces(p: &Program, piece: &mut dyn FnMut(Bundle)) -> Result<(), Vec<Diagnostic>> {
    build_pieces_of(p, &p.build_targets(), piece)
}

/// [`build_pieces`] of the given targets only.
pub fn build_pieces_of(
    p: &Program,
    targets: &[Target],
    piece: &mut dyn FnMut(Bundle),
) -> Result<(), Vec<Diagnostic>> {
    let mut errors = Vec::new();
    for &t in targets {
        let mut under = |b: Bundle| {
            let mut nested = Bundle::new();
            nested.nest(t.as_str(), b);
            piece(nested);
        };
        let result = match t {
            Target::Kubernetes => kubernetes::pieces(p, &mut under),
            Target::Compose => compose::pieces(p, &mut under),
            Target::Haproxy => haproxy::pieces(p, &mut under),
            Target::Keepalived => keepalived::pieces(p, &mut under),
            Target::Hosts => hosts::pieces(p, &mut under),
            Target::Helm => files(t, p).map(&mut under),
        };
        if let Err(d) = result {
            errors.extend(d);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Whether a file of the tree describes every env at once: Helm's per-release README lists one
/// `helm upgrade` line per env. A build of the base and one env cannot render it as the full build
/// does, so `diff ENV` leaves it out of the comparison; `diff` without an env compares it.
pub fn lists_every_env(path: &str) -> bool {
    path.starts_with("helm/") && path.ends_with("/README.md")
}

/// The error an emitter returns for something it does not render yet.
pub fn not_yet(target: Target) -> Vec<Diagnostic> {
    vec![Diagnostic::error(
        "PT199",
        format!("the {target} target is not implemented yet"),
    )
    .with_help("see docs/targets/ for the targets this build renders")]
}
