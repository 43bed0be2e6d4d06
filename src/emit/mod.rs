//! Phase 4: the emitters, one module per target. Each is a pure function of the resolved
//! [`Program`]: no IO, no clock, no environment variables, no hash-ordered iteration.
//!
//! Every target module exposes:
//! - `files(&Program) -> Result<Bundle, Vec<Diagnostic>>`: the whole tree for the base and every
//!   env, with paths relative to the target's folder (`build --out DIR` writes them under
//!   `DIR/<topology>/<target>/`);
//! - `stdout(&Program, env, &Options) -> Result<String, Vec<Diagnostic>>`: what `pgtopo build ENV
//!   --target T` prints for one env;
//! - the same tree as `files`, one model (base or env) at a time, which [`pieces_by_model`] drives
//!   for `build --out`: `model_piece(…, &Topology)` where a model's files depend on that model
//!   alone (compose, haproxy, keepalived), and `hosts::model_pieces`, the same in pieces of whole
//!   clusters (a model of wide clusters is hundreds of MB); `base_piece` and `env_piece` for
//!   kubernetes, whose overlays are derived from the base's objects; and `helm::Build`, whose
//!   READMEs list every env and so come last. `files` is built from the same rendering
//!   functions, so there is one way to render.

pub mod compose;
pub mod haproxy;
pub mod helm;
pub mod hosts;
pub mod keepalived;
pub mod kubernetes;
pub mod vm_common;
pub mod workload;
pub(crate) mod yaml;

use std::borrow::Cow;

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

    /// The model of `env` (the base for `None`), or PT008 when the topology has no such env: the
    /// one diagnostic every target's `stdout` gives for it (the CLI checks the name first and
    /// suggests a spelling; this is for callers of the library).
    pub fn model(&self, env: Option<&str>) -> Result<&Topology, Vec<Diagnostic>> {
        self.get(env).ok_or_else(|| {
            vec![Diagnostic::error(
                "PT008",
                format!("the topology has no env \"{}\"", env.unwrap_or_default()),
            )]
        })
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
    let envs = p.envs.iter().map(|t| Ok(Cow::Borrowed(t)));
    pieces_by_model(p, targets, envs, &mut |b| out.extend(b))?;
    Ok(out)
}

/// Renders `targets` one model at a time: every target's files of the base, then every target's
/// files of each env in turn, and last what lists every env (Helm's READMEs). `envs` yields the
/// env models in declaration order (`p.envs` is not read), so a caller may resolve each env only
/// when its turn comes and drop it after; then the memory of a build is that of the base and one
/// env, not of fifty. Each piece handed to `piece` is every target's files of one model, under
/// `<target>/`. Errors come back in target order, as a build target by target would give them;
/// on errors, pieces of the healthy targets may already have been handed over, and the caller
/// discards them (`build --out` drops its staging tree).
pub fn pieces_by_model<'m>(
    p: &'m Program,
    targets: &[Target],
    envs: impl Iterator<Item = Result<Cow<'m, Topology>, Vec<Diagnostic>>>,
    piece: &mut dyn FnMut(Bundle),
) -> Result<(), Vec<Diagnostic>> {
    let mut errors: Vec<Vec<Diagnostic>> = vec![Vec::new(); targets.len()];
    let mut model_errors = Vec::new();
    // What the env pieces need from the base: its Kubernetes objects, and Helm's values so far.
    let mut base_objects = kubernetes::BaseObjects::new(Vec::new());
    let mut helm_build: Option<helm::Build> = None;
    let models = std::iter::once(Ok(Cow::Borrowed(&p.base))).chain(envs);
    for (n, model) in models.enumerate() {
        let t = match model {
            Ok(t) => t,
            Err(d) => {
                model_errors.extend(d);
                continue;
            }
        };
        let is_base = n == 0;
        // Every target's files of one model make one piece. Handing over each target's files on
        // their own made the writer wait: two small pieces (haproxy, keepalived) filled the queue
        // while it wrote a large one (hosts), so rendering the next large one could not start.
        let mut current = Bundle::new();
        for (i, &target) in targets.iter().enumerate() {
            let result = match target {
                Target::Kubernetes if is_base => {
                    let (objs, b) = kubernetes::base_piece(p);
                    base_objects = objs;
                    Ok(b)
                }
                Target::Kubernetes => Ok(kubernetes::env_piece(p, &base_objects, &t)),
                Target::Helm if is_base => {
                    let mut b = Bundle::new();
                    helm_build = Some(helm::Build::new(p, &mut b));
                    Ok(b)
                }
                Target::Helm => Ok(helm_build
                    .as_mut()
                    .map_or_else(Bundle::new, |h| h.add_env(&t))),
                Target::Compose => Ok(compose::model_piece(p, &t)),
                Target::Haproxy => haproxy::model_piece(&t),
                Target::Keepalived => keepalived::model_piece(&t),
                // Hosts hands its files over a cluster at a time, each as a piece of its own.
                Target::Hosts => {
                    hosts::model_pieces(&t, &mut |b| {
                        piece(Bundle::from_nested(Target::Hosts.as_str(), b))
                    });
                    Ok(Bundle::new())
                }
            };
            match result {
                Ok(b) => current.nest(target.as_str(), b),
                Err(d) => errors[i].extend(d),
            }
        }
        piece(current);
    }
    let helm_at = targets.iter().position(|&t| t == Target::Helm);
    if let (Some(h), Some(i)) = (helm_build, helm_at) {
        match h.finish() {
            Ok(b) => piece(Bundle::from_nested(Target::Helm.as_str(), b)),
            Err(d) => errors[i].extend(d),
        }
    }
    model_errors.extend(errors.into_iter().flatten());
    if model_errors.is_empty() {
        Ok(())
    } else {
        Err(model_errors)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{topology, Flavor};

    /// Every target answers a name that is not an env with the same stable code (it once took
    /// three: PT008, PT010 and PT130).
    #[test]
    fn every_target_names_a_missing_env_pt008() {
        for flavor in [Flavor::Containers, Flavor::Vms] {
            let src = topology(flavor, 1, 3, 1);
            let p = crate::driver::compile(&src).program("t").unwrap();
            for target in p.build_targets() {
                let err = stdout(target, &p, Some("nope"), &Options::default()).unwrap_err();
                let codes: Vec<&str> = err.iter().map(|d| d.code).collect();
                assert_eq!(codes, ["PT008"], "{target:?}");
                assert!(err[0].message.contains("\"nope\""), "{target:?}");
            }
        }
    }
}
