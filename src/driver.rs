//! Runs the pure phases in order — parse, resolve the base and every env, check — and collects
//! every diagnostic. No IO: the CLI reads the file and hands over its bytes.

use std::borrow::Cow;
use std::collections::HashSet;

use crate::bundle::Bundle;
use crate::check;
use crate::diag::{codes, Code, Diagnostic, Span};
use crate::emit::{self, Program};
use crate::model::{self, Target, Topology};
use crate::syntax::{self, Document};

pub struct Compilation {
    pub doc: Option<Document>,
    pub base: Option<Topology>,
    /// One resolved model per env, in declaration order.
    pub envs: Vec<Topology>,
    /// Every env the file declares, also those left out by [`compile_env`].
    pub env_names: Vec<String>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Compilation {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    /// PT008 ([`model::unknown_env`]) when the file was parsed and declares no env `env`; `None`
    /// when it does, or when the file could not be parsed (its syntax errors say why). Ask before
    /// [`Compilation::take_program`], which drops the syntax tree.
    pub fn unknown_env(&self, env: &str) -> Option<Diagnostic> {
        self.doc.as_ref()?;
        if self.env_names.iter().any(|e| e == env) {
            return None;
        }
        let declared: Vec<&str> = self.env_names.iter().map(String::as_str).collect();
        Some(model::unknown_env(env, &declared))
    }

    /// The resolved program, only when nothing is wrong with it: emitters never see a broken
    /// model. It moves the models out (the diagnostics stay) and drops the syntax tree, which
    /// nothing needs once the models exist, so a large topology is never held twice.
    pub fn program(&mut self, name: &str) -> Option<Program> {
        if self.has_errors() {
            return None;
        }
        self.doc = None;
        Some(Program {
            name: name.to_owned(),
            base: self.base.take()?,
            envs: std::mem::take(&mut self.envs),
        })
    }

    /// The program of the base alone, whose envs are resolved (and checked, for `build --out`)
    /// one at a time when they are rendered: what `build --out` needs of a large topology. It
    /// keeps the syntax tree instead of fifty models.
    pub fn take_lazy_program(&mut self, name: &str) -> Option<LazyProgram> {
        if self.has_errors() {
            return None;
        }
        Some(LazyProgram {
            program: Program {
                name: name.to_owned(),
                base: self.base.take()?,
                envs: Vec::new(),
            },
            doc: self.doc.take()?,
            env_names: self.env_names.clone(),
        })
    }
}

/// A checked program whose env models are made only when asked for
/// ([`Compilation::take_lazy_program`]).
pub struct LazyProgram {
    /// The base model; `envs` is empty.
    pub program: Program,
    doc: Document,
    env_names: Vec<String>,
}

impl LazyProgram {
    /// Every file of every build target, the tree [`crate::emit::build_all`] renders from the
    /// whole program, in pieces (one model each); each env is resolved when its turn comes and
    /// dropped after. `build --out` does the same on several threads with [`LazyProgram::targets`],
    /// [`LazyProgram::env`] and [`crate::emit::TreeBuild`].
    pub fn build_pieces(&self, piece: &mut dyn FnMut(Bundle)) -> Result<(), Vec<Diagnostic>> {
        let envs = (0..self.env_count()).map(|i| self.env(i).map(Cow::Owned));
        emit::pieces_by_model(&self.program, &self.targets(), envs, piece)
    }

    /// The targets of the tree: the declared ones plus `hosts`, which [`Program::build_targets`]
    /// adds only when some model declares a node `host`. Knowing that would mean resolving every
    /// env first, and `hosts` renders no file at all for a model without one, so the tree is the
    /// same.
    pub fn targets(&self) -> Vec<Target> {
        let mut targets: Vec<Target> = self.program.base.targets.iter().map(|t| t.value).collect();
        if !targets.contains(&Target::Hosts) {
            targets.push(Target::Hosts);
        }
        targets
    }

    /// How many envs the topology declares.
    pub fn env_count(&self) -> usize {
        self.env_names.len()
    }

    /// The model of the `i`-th env in declaration order. Every env resolved cleanly when it was
    /// checked, so this gives the same model again.
    pub fn env(&self, i: usize) -> Result<Topology, Vec<Diagnostic>> {
        model::resolve(&self.doc, Some(&self.env_names[i])).map(|(topo, _)| topo)
    }

    /// The `i`-th env resolved and checked ([`check_model`]): its model, unless it could not be
    /// resolved, and what `lint` would report of it. `build --out` checks each env this way on
    /// the thread that renders it.
    pub fn env_checked(&self, i: usize) -> (Option<Topology>, Vec<Diagnostic>) {
        check_model(&self.doc, Some(&self.env_names[i]))
    }
}

/// Which envs to resolve besides the base.
#[derive(Clone, Copy, Debug)]
pub enum Envs<'a> {
    All,
    /// Every env, checked and then dropped: `lint` needs the findings, not the models, and a
    /// large topology's fifty models are most of its memory.
    CheckOnly,
    /// Only this one (none when it is `None` or not declared): what `pgtopo build ENV` needs.
    Only(Option<&'a str>),
}

/// Decodes the file's bytes; non-UTF-8 input is reported at the first bad byte.
pub fn compile_bytes(bytes: &[u8]) -> (String, Compilation) {
    compile_bytes_for(bytes, Envs::All)
}

/// [`compile_bytes`] for a selection of envs.
pub fn compile_bytes_for(bytes: &[u8], envs: Envs) -> (String, Compilation) {
    compile_bytes_requesting(bytes, envs, None)
}

/// [`compile_bytes_for`], with every model checked for `requested` too, as if the file's
/// `targets` listed it ([`compile_requesting`]).
pub fn compile_bytes_requesting(
    bytes: &[u8],
    envs: Envs,
    requested: Option<Target>,
) -> (String, Compilation) {
    match std::str::from_utf8(bytes) {
        Ok(s) => (s.to_owned(), compile_requesting(s, envs, requested)),
        Err(e) => {
            let at = e.valid_up_to();
            let text = String::from_utf8_lossy(bytes).into_owned();
            let d = Diagnostic::error(
                codes::PT009,
                format!("the file is not UTF-8 text (invalid byte at offset {at})"),
            )
            .with_span(Span::from((at.min(text.len()), 0)), "invalid UTF-8 here")
            .with_help("save the topology as UTF-8; KDL files are always UTF-8");
            (
                text,
                Compilation {
                    doc: None,
                    base: None,
                    envs: Vec::new(),
                    env_names: Vec::new(),
                    diagnostics: vec![d],
                },
            )
        }
    }
}

/// Parses, resolves the base and every env, and checks each model.
pub fn compile(source: &str) -> Compilation {
    compile_for(source, Envs::All)
}

/// Resolves and checks the base and the selected envs only. Printing one env of a file with fifty
/// does not pay for the other forty-nine; their own problems are `pgtopo lint`'s to report.
pub fn compile_for(source: &str, selected: Envs) -> Compilation {
    compile_requesting(source, selected, None)
}

/// [`compile_for`] for `pgtopo build --target T`: every model gets `requested` among its targets
/// when the file does not list it, so that T's checks run and an error of T's stops the build
/// (printing an undeclared target once skipped them and gave broken output with exit 0). The
/// added target's span is the `targets` line, and a finding that points at it as the declaration
/// says it was requested instead ([`request_target`]).
pub fn compile_requesting(source: &str, selected: Envs, requested: Option<Target>) -> Compilation {
    // Asking for the core count reads cgroup files (a dozen system calls, a third of a small
    // `build`); only a file large enough to be split across threads asks.
    let threads = if source.len() >= PARALLEL_FROM_BYTES {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    } else {
        1
    };
    compile_inner(source, selected, threads, requested)
}

/// Smaller files resolve on one thread: starting threads would cost more than it saves.
const PARALLEL_FROM_BYTES: usize = 16 * 1024;

/// [`compile_for`] on at most `threads` threads (public so that a test can hold every thread count
/// to the same result).
pub fn compile_with_threads(source: &str, selected: Envs, threads: usize) -> Compilation {
    compile_inner(source, selected, threads, None)
}

fn compile_inner(
    source: &str,
    selected: Envs,
    threads: usize,
    requested: Option<Target>,
) -> Compilation {
    let mut c = Compilation {
        doc: None,
        base: None,
        envs: Vec::new(),
        env_names: Vec::new(),
        diagnostics: Vec::new(),
    };
    if source.trim().is_empty() {
        c.diagnostics.push(
            Diagnostic::error(codes::PT007, "the topology file is empty").with_help(
                "start with `targets \"kubernetes\"` and a `cluster \"main\" { … }` block",
            ),
        );
        return c;
    }
    let doc = match syntax::parse(source) {
        Ok(doc) => doc,
        Err(d) => {
            c.diagnostics = d;
            return c;
        }
    };
    let mut names = Vec::new();
    let env_names = model::env_names(&doc, &mut names);
    c.env_names = env_names.iter().map(|e| e.value.clone()).collect();
    let wanted = |name: &str| match selected {
        Envs::All | Envs::CheckOnly => true,
        Envs::Only(only) => only == Some(name),
    };
    let chosen = env_names
        .iter()
        .filter(|e| wanted(&e.value))
        .map(|e| Some(e.value.as_str()));
    let list: Vec<Option<&str>> = std::iter::once(None).chain(chosen).collect();
    let keep_model = |env: Option<&str>| env.is_none() || !matches!(selected, Envs::CheckOnly);
    let one = |env: Option<&str>| -> (Option<Topology>, Vec<Diagnostic>) {
        let (topo, diags) = check_model_requesting(&doc, env, requested);
        (topo.filter(|_| keep_model(env)), diags)
    };
    // Models are independent, so a large topology resolves them on every core. The results are
    // merged below in declaration order, exactly as one thread would: same findings, same order.
    let results: Vec<(Option<Topology>, Vec<Diagnostic>)> =
        if threads > 1 && list.len() >= 4 && source.len() >= PARALLEL_FROM_BYTES {
            let chunk = list.len().div_ceil(threads);
            std::thread::scope(|scope| {
                let running: Vec<_> = list
                    .chunks(chunk)
                    .map(|envs| scope.spawn(|| envs.iter().map(|&e| one(e)).collect::<Vec<_>>()))
                    .collect();
                running
                    .into_iter()
                    .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                    .collect()
            })
        } else {
            list.iter().map(|&e| one(e)).collect()
        };
    let mut findings = Vec::with_capacity(list.len());
    for (env, (topo, diags)) in list.iter().zip(results) {
        findings.push(diags);
        match (env, topo) {
            (_, None) => {}
            (None, Some(t)) => c.base = Some(t),
            (Some(_), Some(t)) => c.envs.push(t),
        }
    }
    c.diagnostics = merge_findings(findings);
    c.doc = Some(doc);
    c
}

/// Resolves and checks one model, the base when `env` is `None`: the model, unless it could not
/// be resolved at all, and what was found in it. `build --out` checks each env this way on the
/// thread that renders it, so that it resolves each env once.
pub fn check_model(doc: &Document, env: Option<&str>) -> (Option<Topology>, Vec<Diagnostic>) {
    check_model_requesting(doc, env, None)
}

/// [`check_model`] with `requested` among the model's targets ([`compile_requesting`]).
pub fn check_model_requesting(
    doc: &Document,
    env: Option<&str>,
    requested: Option<Target>,
) -> (Option<Topology>, Vec<Diagnostic>) {
    let (mut topo, mut diags) = match model::resolve(doc, env) {
        Ok(x) => x,
        Err(ds) => return (None, ds),
    };
    let added = requested.and_then(|t| request_target(doc, &mut topo, t));
    // Checks reason about a complete model; on a partial one they would only add noise.
    if !diags.iter().any(Diagnostic::is_error) {
        for mut d in check::run(&check::Context { topo: &topo, doc }) {
            d.env = env.map(str::to_owned);
            if let Some((target, at)) = added {
                for (span, label) in &mut d.related {
                    if *span == at {
                        *label = format!("not declared here: {target} was requested with --target");
                    }
                }
            }
            diags.push(d);
        }
    }
    (Some(topo), diags)
}

/// Adds `target` to the model's targets when the file does not list it, spanning the `targets`
/// line (the place a reader would add it), and gives that span. A file without a `targets` line
/// is already an error (PT004), so nothing is added to it.
fn request_target(doc: &Document, topo: &mut Topology, target: Target) -> Option<(Target, Span)> {
    if topo.has_target(target) {
        return None;
    }
    let line = doc.nodes.iter().find(|n| n.name == "targets")?;
    topo.targets
        .push(crate::model::Spanned::new(target, line.span));
    Some((target, line.span))
}

/// What makes two findings one problem for [`merge_findings`]: code, place and message (an env
/// that repeats the base's finding repeats all three).
pub fn problem(d: &Diagnostic) -> (Code, Option<Span>, &str) {
    (d.code, d.span, &d.message)
}

/// One report of the findings of every model, given in declaration order (the base first): each
/// problem (code, place and message) once, as the first model found it, sorted by place. A
/// problem found in the base and again in an env is one problem, and the base's report is kept.
pub fn merge_findings(per_model: impl IntoIterator<Item = Vec<Diagnostic>>) -> Vec<Diagnostic> {
    // A set, not a list: a large topology repeats a finding in every env, and scanning a list of
    // every earlier finding costs the square of their number.
    let mut seen: HashSet<(Code, Option<Span>, String)> = HashSet::new();
    let mut all = Vec::new();
    for d in per_model.into_iter().flatten() {
        let (code, span, message) = problem(&d);
        if seen.insert((code, span, message.to_owned())) {
            all.push(d);
        }
    }
    all.sort_by_key(|d| (d.span.map_or(0, |s| s.offset()), d.code));
    all
}
