//! Phase 4: the emitters, one module per target. Each is a pure function of the resolved
//! [`Program`]: no IO, no clock, no environment variables, no hash-ordered iteration.
//!
//! Every target module exposes an [`Emitter`] (`<target>::EMIT`), and [`emitter`] is the one
//! place that maps a [`Target`] onto it. An emitter prints one env (`build ENV --target T`) and
//! renders the whole tree a model at a time (`start` renders the base, the [`TargetTree`] it
//! returns renders each env and then what lists every env): `files` (the tree on one thread),
//! [`TreeBuild`] (`build --out`, envs on several threads) and `diff` all use that one rendering.
//! What each target can express is its row of [`crate::plan::capabilities`], from which the
//! lint rules' "the T target cannot express X" findings follow.

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

/// One output target's rendering. [`emitter`] is the one place that maps a [`Target`] to its
/// emitter; everything that renders "every target" (`files`, `stdout`, [`TreeBuild`]) goes
/// through this trait, and what a target can express is its row of
/// [`crate::plan::capabilities`].
///
/// A target's emitter: the target, how it prints one env, and how it renders its tree.
///
/// A tree is rendered a model at a time: [`Emitter::start`] renders the base and keeps what the
/// envs are derived from (Kubernetes' base objects, Helm's base values), [`TargetTree::env`]
/// renders one env from that alone (so envs may render in any order, or on several threads), and
/// [`TargetTree::finish`] renders what lists every env. Paths are relative to the target's folder.
pub struct Emitter {
    pub target: Target,
    /// What `pgtopo build ENV --target T` prints for one env (the base for `None`).
    pub stdout: PrintEnv,
    pub tree: Tree,
}

/// How a target renders its tree.
pub enum Tree {
    /// Its envs are rendered from what the base's rendering keeps (kubernetes: the base's
    /// objects; helm: each release's base values; compose: each cluster's part of the project).
    /// Its errors come from checks before rendering, so the base has none.
    FromBase(StartTree),
    /// Every model's files depend on that model alone (haproxy, keepalived, hosts): the base
    /// and each env are rendered the same way.
    PerModel(RenderModel),
}

impl Emitter {
    pub fn target(&self) -> Target {
        self.target
    }

    /// What `pgtopo build ENV --target T` prints for one env (the base for `None`).
    pub fn stdout(
        &self,
        p: &Program,
        env: Option<&str>,
        opts: &Options,
    ) -> Result<String, Vec<Diagnostic>> {
        (self.stdout)(p, env, opts)
    }

    /// Renders the base, handing its files to `out`; returns the state that renders each env,
    /// and the base's errors.
    pub fn start<'p>(
        &self,
        p: &'p Program,
        out: &mut dyn FnMut(Bundle),
    ) -> (Box<dyn TargetTree + 'p>, Vec<Diagnostic>) {
        match self.tree {
            Tree::FromBase(start) => (start(p, out), Vec::new()),
            Tree::PerModel(render) => {
                let errors = render(p, &p.base, out).err().unwrap_or_default();
                (Box::new(PerModelTree { p, render }), errors)
            }
        }
    }

    /// The whole tree, the base and every env: the same rendering as [`TreeBuild`]'s, on one
    /// thread.
    pub fn files(&self, p: &Program) -> Result<Bundle, Vec<Diagnostic>> {
        let mut all = Bundle::new();
        let (tree, mut errors) = self.start(p, &mut |b| all.extend(b));
        let mut notes = Vec::with_capacity(p.envs.len());
        for t in &p.envs {
            let (note, e) = tree.env(t, &mut |b| all.extend(b));
            errors.extend(e);
            notes.push(note);
        }
        errors.extend(tree.finish(notes, &mut |b| all.extend(b)));
        if errors.is_empty() {
            Ok(all)
        } else {
            Err(errors)
        }
    }
}

/// What one env's rendering leaves for [`TargetTree::finish`] (Helm: the releases the env has,
/// which the READMEs list). Targets whose envs need nothing at the end leave `None`.
pub type EnvNote = Option<Box<dyn std::any::Any + Send>>;

/// A target's tree build after the base: see [`Emitter`].
pub trait TargetTree: Sync {
    /// Renders one env, handing its files to `out`; returns what `finish` needs of it, and the
    /// env's errors.
    fn env(&self, t: &Topology, out: &mut dyn FnMut(Bundle)) -> (EnvNote, Vec<Diagnostic>);

    /// Renders what depends on every env, given each env's note in declaration order; returns
    /// the errors found on the way.
    fn finish(
        self: Box<Self>,
        _notes: Vec<EnvNote>,
        _out: &mut dyn FnMut(Bundle),
    ) -> Vec<Diagnostic> {
        Vec::new()
    }
}

/// The emitter of `target`.
pub fn emitter(target: Target) -> &'static Emitter {
    match target {
        Target::Kubernetes => &kubernetes::EMIT,
        Target::Helm => &helm::EMIT,
        Target::Compose => &compose::EMIT,
        Target::Haproxy => &haproxy::EMIT,
        Target::Keepalived => &keepalived::EMIT,
        Target::Hosts => &hosts::EMIT,
    }
}

/// Renders one model's files (the base's or an env's) and hands them to `out`.
pub type RenderModel =
    fn(&Program, &Topology, &mut dyn FnMut(Bundle)) -> Result<(), Vec<Diagnostic>>;

/// Prints one env (the base for `None`): what `pgtopo build ENV --target T` writes.
pub type PrintEnv = fn(&Program, Option<&str>, &Options) -> Result<String, Vec<Diagnostic>>;

/// Renders the base's files into `out` and returns what renders each env from them.
pub type StartTree = for<'p> fn(&'p Program, &mut dyn FnMut(Bundle)) -> Box<dyn TargetTree + 'p>;

/// The tree of a [`Tree::PerModel`] target after the base: each env rendered as the base was.
struct PerModelTree<'p> {
    p: &'p Program,
    render: RenderModel,
}

impl TargetTree for PerModelTree<'_> {
    fn env(&self, t: &Topology, out: &mut dyn FnMut(Bundle)) -> (EnvNote, Vec<Diagnostic>) {
        (
            None,
            (self.render)(self.p, t, out).err().unwrap_or_default(),
        )
    }
}

pub fn files(target: Target, p: &Program) -> Result<Bundle, Vec<Diagnostic>> {
    emitter(target).files(p)
}

pub fn stdout(
    target: Target,
    p: &Program,
    env: Option<&str>,
    opts: &Options,
) -> Result<String, Vec<Diagnostic>> {
    emitter(target).stdout(p, env, opts)
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
/// env, not of fifty. Each piece handed to `piece` is files of one target and one model, under
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
    /// Each target's name and tree, in the order given.
    trees: Vec<(&'static str, Box<dyn TargetTree + 'p>)>,
    /// The base's errors, per target.
    errors: Vec<Vec<Diagnostic>>,
}

/// What [`TreeBuild::env`] leaves for [`TreeBuild::finish`]: the env's errors and note per
/// target.
pub struct EnvOutcome {
    errors: Vec<Vec<Diagnostic>>,
    notes: Vec<EnvNote>,
}

/// `out`, with every path put under the target's folder.
fn nested<'a>(name: &'static str, out: &'a mut dyn FnMut(Bundle)) -> impl FnMut(Bundle) + 'a {
    move |b| out(Bundle::from_nested(name, b))
}

impl<'p> TreeBuild<'p> {
    /// Renders every target's files of the base.
    pub fn start(p: &'p Program, targets: &[Target], piece: &mut dyn FnMut(Bundle)) -> Self {
        let mut trees = Vec::with_capacity(targets.len());
        let mut errors = Vec::with_capacity(targets.len());
        for &t in targets {
            let name = t.as_str();
            let (tree, e) = emitter(t).start(p, &mut nested(name, piece));
            trees.push((name, tree));
            errors.push(e);
        }
        TreeBuild { trees, errors }
    }

    /// Renders every target's files of one env.
    pub fn env(&self, t: &Topology, piece: &mut dyn FnMut(Bundle)) -> EnvOutcome {
        let (notes, errors) = self
            .trees
            .iter()
            .map(|(name, tree)| tree.env(t, &mut nested(name, piece)))
            .unzip();
        EnvOutcome { errors, notes }
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
        let mut notes: Vec<Vec<EnvNote>> = self.trees.iter().map(|_| Vec::new()).collect();
        for outcome in envs {
            match outcome {
                Ok(o) => {
                    for (all, these) in errors.iter_mut().zip(o.errors) {
                        all.extend(these);
                    }
                    for (all, note) in notes.iter_mut().zip(o.notes) {
                        all.push(note);
                    }
                }
                Err(d) => model_errors.extend(d),
            }
        }
        for (((name, tree), notes), errors) in self.trees.into_iter().zip(notes).zip(&mut errors) {
            errors.extend(tree.finish(notes, &mut nested(name, piece)));
        }
        model_errors.extend(errors.into_iter().flatten());
        if model_errors.is_empty() {
            Ok(())
        } else {
            Err(model_errors)
        }
    }
}

/// Whether a file of the tree describes every env at once: Helm's per-release README lists one
/// `helm upgrade` line per env. A build of the base and one env cannot render it as the full build
/// does, so `diff ENV` leaves it out of the comparison; `diff` without an env compares it.
pub fn lists_every_env(path: &str) -> bool {
    path.starts_with("helm/") && path.ends_with("/README.md")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Code;
    use crate::synth::{topology, Flavor};

    /// The registry maps every target onto its own emitter.
    #[test]
    fn every_target_has_its_emitter() {
        for &t in Target::ALL {
            assert_eq!(emitter(t).target(), t);
        }
    }

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
