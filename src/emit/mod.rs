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
//!   READMEs list every env and so come last. [`TreeBuild`] renders the same pieces with the envs
//!   in any order (`build --out` renders them on several threads). `files` is built from the same
//!   rendering functions, so there is one way to render.

pub mod compose;
pub mod haproxy;
pub mod helm;
pub mod hosts;
pub mod keepalived;
pub mod kubernetes;
pub mod text;
pub mod vm_common;
pub mod workload;
pub(crate) mod yaml;

use std::borrow::Cow;

use crate::bundle::Bundle;
use crate::diag::{codes, Diagnostic};
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
                codes::PT008,
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
/// discards them (`build --out` drops its staging tree). [`TreeBuild`] is the same on several
/// threads.
pub fn pieces_by_model<'m>(
    p: &'m Program,
    targets: &[Target],
    envs: impl Iterator<Item = Result<Cow<'m, Topology>, Vec<Diagnostic>>>,
    piece: &mut dyn FnMut(Bundle),
) -> Result<(), Vec<Diagnostic>> {
    let tree = TreeBuild::start(p, targets, piece);
    let outcomes: Vec<_> = envs
        .map(|model| model.map(|t| tree.env(&t, piece)))
        .collect();
    tree.finish(outcomes, piece)
}

/// A tree rendered as [`pieces_by_model`] renders it, but with the envs in any order or at once:
/// [`TreeBuild::start`] renders the base, [`TreeBuild::env`] one env from the base's results
/// alone (it takes `&self`, so threads can share it), and [`TreeBuild::finish`] what depends on
/// every env, given each env's [`EnvOutcome`] in declaration order. The files, and the errors and
/// their order, are the same whatever order the envs were rendered in.
pub struct TreeBuild<'p> {
    p: &'p Program,
    targets: Vec<Target>,
    /// The base's Kubernetes objects, from which each env's overlay is derived.
    base_objects: kubernetes::BaseObjects,
    /// Helm's base values, when Helm is a target.
    helm: Option<helm::Build<'p>>,
    /// The base's errors, per target.
    errors: Vec<Vec<Diagnostic>>,
}

/// What [`TreeBuild::env`] leaves for [`TreeBuild::finish`]: the env's errors per target, and the
/// releases it has (Helm's READMEs list them).
pub struct EnvOutcome {
    errors: Vec<Vec<Diagnostic>>,
    helm: Option<helm::EnvReleases>,
}

impl<'p> TreeBuild<'p> {
    /// Renders every target's files of the base.
    pub fn start(p: &'p Program, targets: &[Target], piece: &mut dyn FnMut(Bundle)) -> Self {
        let mut base_objects = kubernetes::BaseObjects::new(Vec::new());
        let mut helm = None;
        let errors = one_model(targets, piece, |target, piece| match target {
            Target::Kubernetes => {
                let (objs, b) = kubernetes::base_piece(p);
                base_objects = objs;
                Ok(b)
            }
            Target::Helm => {
                let mut b = Bundle::new();
                helm = Some(helm::Build::new(p, &mut b));
                Ok(b)
            }
            _ => model_piece(p, target, &p.base, piece),
        });
        TreeBuild {
            p,
            targets: targets.to_vec(),
            base_objects,
            helm,
            errors,
        }
    }

    /// Renders every target's files of one env.
    pub fn env(&self, t: &Topology, piece: &mut dyn FnMut(Bundle)) -> EnvOutcome {
        let mut helm = None;
        let errors = one_model(&self.targets, piece, |target, piece| match target {
            Target::Kubernetes => Ok(kubernetes::env_piece(self.p, &self.base_objects, t)),
            Target::Helm => Ok(self.helm.as_ref().map_or_else(Bundle::new, |h| {
                let (b, releases) = h.env(t);
                helm = Some(releases);
                b
            })),
            _ => model_piece(self.p, target, t, piece),
        });
        EnvOutcome { errors, helm }
    }

    /// Renders what lists every env (Helm's READMEs), and gives every error: first those of envs
    /// that did not resolve, then each target's, the base's first and then each env's. `envs` is
    /// every env's outcome, or why its model could not be made, in declaration order.
    pub fn finish(
        self,
        envs: Vec<Result<EnvOutcome, Vec<Diagnostic>>>,
        piece: &mut dyn FnMut(Bundle),
    ) -> Result<(), Vec<Diagnostic>> {
        let mut model_errors = Vec::new();
        let mut errors = self.errors;
        let mut helm_envs = Vec::new();
        for outcome in envs {
            match outcome {
                Ok(o) => {
                    for (all, these) in errors.iter_mut().zip(o.errors) {
                        all.extend(these);
                    }
                    helm_envs.extend(o.helm);
                }
                Err(d) => model_errors.extend(d),
            }
        }
        let helm_at = self.targets.iter().position(|&t| t == Target::Helm);
        if let (Some(h), Some(i)) = (self.helm, helm_at) {
            match h.finish(helm_envs) {
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
}

/// Every target's files of one model, rendered by `render`, handed to `piece` as one piece
/// (`hosts` hands over its own, a few clusters at a time); and each target's errors.
fn one_model(
    targets: &[Target],
    piece: &mut dyn FnMut(Bundle),
    mut render: impl FnMut(Target, &mut dyn FnMut(Bundle)) -> Result<Bundle, Vec<Diagnostic>>,
) -> Vec<Vec<Diagnostic>> {
    let mut errors = vec![Vec::new(); targets.len()];
    let mut current = Bundle::new();
    for (i, &target) in targets.iter().enumerate() {
        match render(target, piece) {
            Ok(b) => current.nest(target.as_str(), b),
            Err(d) => errors[i].extend(d),
        }
    }
    piece(current);
    errors
}

/// The files of one model for the targets whose files depend on that model alone.
fn model_piece(
    p: &Program,
    target: Target,
    t: &Topology,
    piece: &mut dyn FnMut(Bundle),
) -> Result<Bundle, Vec<Diagnostic>> {
    match target {
        Target::Compose => Ok(compose::model_piece(p, t)),
        Target::Haproxy => haproxy::model_piece(t),
        Target::Keepalived => keepalived::model_piece(t),
        // Hosts hands its files over a few clusters at a time, each as a piece of its own.
        Target::Hosts => {
            hosts::model_pieces(t, &mut |b| {
                piece(Bundle::from_nested(Target::Hosts.as_str(), b))
            });
            Ok(Bundle::new())
        }
        Target::Kubernetes | Target::Helm => unreachable!("rendered from the base's results"),
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
        codes::PT199,
        format!("the {target} target is not implemented yet"),
    )
    .with_help("see docs/targets/ for the targets this build renders")]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
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
                let found: Vec<Code> = err.iter().map(|d| d.code).collect();
                assert_eq!(found, [codes::PT008], "{target:?}");
                assert!(err[0].message.contains("\"nope\""), "{target:?}");
            }
        }
    }

    /// `TreeBuild` renders envs in any order, as `build --out` does on several threads: the files
    /// and the errors are those of the one-thread build. The last topology has a cluster that
    /// only its envs declare, whose Helm `values.yaml` the first env (in declaration order) gives.
    #[test]
    fn envs_in_any_order_give_the_same_tree() {
        let env_only = r#"targets "kubernetes" "helm"
cluster "a" {
    postgres version=16
    namespace "db"
    credentials secret="a-credentials"
    node "a-0" role="primary"
    storage size="10Gi"
}
env "dev" {
    cluster "b" {
        postgres version=16
        namespace "dev"
        credentials secret="b-credentials"
        node "b-0" role="primary"
        storage size="5Gi"
    }
}
env "prod" {
    cluster "b" {
        postgres version=16
        namespace "prod"
        credentials secret="b-credentials"
        node "b-0" role="primary"
        node "b-1" role="sync"
        storage size="7Gi"
    }
}
"#;
        let sources = [
            topology(Flavor::Containers, 3, 3, 4),
            topology(Flavor::Vms, 3, 3, 4),
            env_only.to_owned(),
        ];
        for src in &sources {
            let p = crate::driver::compile(src).program("t").unwrap();
            let targets = p.build_targets();
            let whole = build_targets(&p, &targets).unwrap();
            let mut reversed = Bundle::new();
            let tree = TreeBuild::start(&p, &targets, &mut |b| reversed.extend(b));
            let mut outcomes: Vec<_> = p
                .envs
                .iter()
                .rev()
                .map(|t| Ok(tree.env(t, &mut |b| reversed.extend(b))))
                .collect();
            outcomes.reverse();
            tree.finish(outcomes, &mut |b| reversed.extend(b)).unwrap();
            assert_eq!(reversed, whole);
        }
        let b = build_targets(
            &crate::driver::compile(env_only).program("t").unwrap(),
            &[Target::Helm],
        )
        .unwrap();
        assert!(b
            .get("helm/b/values.yaml")
            .is_some_and(|v| v.ends_with("{}\n")));
        assert!(b
            .get("helm/b/README.md")
            .is_some_and(|r| r.contains("-f values-prod.yaml")));
    }
}
