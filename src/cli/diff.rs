//! `pgtopo diff [ENV]`: what a change to the topology does, before it ships.
//!
//! Compares the topology as it is now with a previous build: by default the committed `out/` tree
//! (written by `build --out out/`), or `--against DIR`, or `--against git:REV` (the topology file as
//! it was at REV, read with `git show`, compiled in memory). Prints a semantic summary from the two
//! resolved models, then the list of new/removed files and unified diffs. Exit: 0 no change,
//! 1 changes, 2 error (`--exit-zero` turns 1 into 0).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use pgtopo::bundle::Bundle;
use pgtopo::diff::semantic::semantic;
use pgtopo::diff::text::{compare, stat, unified, FileChange};
use pgtopo::driver::{compile_for, Envs};
use pgtopo::emit::{self, Program};
use pgtopo::model::Target;

use super::build::TargetArg;
use super::{io_error, load_for, render, tree, write_stdout, Color, Ctx, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Environment to review (default: the base and every env).
    env: Option<String>,
    /// Only this target's files.
    #[arg(long, short = 't', value_enum)]
    target: Option<TargetArg>,
    /// What to compare with: a folder written by `build --out` (default `out`), or `git:REV`.
    #[arg(long, value_name = "DIR|git:REV")]
    against: Option<String>,
    /// Print a per-file summary instead of the full diffs.
    #[arg(long)]
    stat: bool,
    /// Exit 0 even when there are changes.
    #[arg(long)]
    exit_zero: bool,
}

/// Decides which paths of a tree belong to one env's review: everything except what belongs to
/// another env, which is a path segment named after that env, or a `…-<env>.yaml` file (Helm's
/// per-env values). Built once per diff: a 1,000-node tree has tens of thousands of paths.
struct OtherEnvs<'a>(HashSet<&'a str>);

impl<'a> OtherEnvs<'a> {
    fn new(env: &str, all: &'a [String]) -> Self {
        OtherEnvs(
            all.iter()
                .map(String::as_str)
                .filter(|e| *e != env)
                .collect(),
        )
    }

    fn claim(&self, path: &str) -> bool {
        path.split('/').any(|seg| {
            self.0.contains(seg)
                || seg.strip_suffix(".yaml").is_some_and(|stem| {
                    stem.match_indices('-')
                        .any(|(i, _)| self.0.contains(&stem[i + 1..]))
                })
        })
    }
}

pub fn run(ctx: &Ctx, args: &Args) -> Exit {
    // Reviewing one env resolves and renders only the base and that env: the other envs' files are
    // filtered out of the comparison anyway, and on a large topology they are nearly all the work.
    let selected = match args.env.as_deref() {
        Some(e) => Envs::Only(Some(e)),
        None => Envs::All,
    };
    let mut loaded = match load_for(ctx, &ctx.topology_path(), selected) {
        Ok(l) => l,
        Err(exit) => return exit,
    };
    if let Err(exit) = loaded.require_env(ctx, args.env.as_deref()) {
        return exit;
    }
    let name = loaded.name();
    let all_envs = loaded.compilation.env_names.clone();
    let Some(program) = loaded.compilation.program(&name) else {
        eprint!("{}", render(ctx, &loaded, &loaded.compilation.diagnostics));
        eprintln!(
            "pgtopo: {} does not compile; nothing to compare",
            loaded.display
        );
        return Exit::Findings;
    };
    let only = args.target.map(Target::from);
    // `diff` compares what `build --out` writes, which is only the topology's own targets: for
    // any other target both sides would be empty and the answer a meaningless "no change".
    if let Some(t) = only {
        let built = program.build_targets();
        if !built.contains(&t) {
            let names: Vec<&str> = built.iter().map(|t| t.as_str()).collect();
            eprintln!(
                "pgtopo: --target {t}: the topology does not build the {t} target (it builds {}), so there is nothing to compare; `pgtopo build --target {t}` checks and prints it",
                names.join(", ")
            );
            return Exit::Usage;
        }
    }
    let targets = |p: &Program| -> Vec<Target> {
        p.build_targets()
            .into_iter()
            .filter(|t| only.is_none_or(|o| o == *t))
            .collect()
    };
    let other_envs = args.env.as_deref().map(|e| OtherEnvs::new(e, &all_envs));
    let keep = |path: &str| {
        let target_ok = only.is_none_or(|t| {
            path.strip_prefix(t.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        });
        target_ok
            && other_envs
                .as_ref()
                .is_none_or(|o| !o.claim(path) && !emit::lists_every_env(path))
    };

    // Two threads share the work: reading (or, for `git:REV`, building) the old side, and rendering
    // each target of the new one. Each takes the next job when it is done with one, so the heavy
    // target (Kubernetes, or the hosts' files) runs beside the old side and the light ones fill in,
    // which beat the old side on one thread and every target on the other.
    let target_list = targets(&program);
    let jobs = target_list.len() + 1;
    let next = AtomicUsize::new(0);
    let old_slot = Mutex::new(None);
    let new_slots: Vec<Mutex<Option<_>>> =
        (0..target_list.len()).map(|_| Mutex::new(None)).collect();
    let worker = || loop {
        let job = next.fetch_add(1, Ordering::Relaxed);
        if job >= jobs {
            break;
        }
        if job == 0 {
            let old = old_side(args, &loaded.path, &program.name, selected, &targets, &keep);
            *old_slot.lock().unwrap() = Some(old);
        } else {
            let built = emit::build_targets(&program, &target_list[job - 1..job]);
            *new_slots[job - 1].lock().unwrap() = Some(built);
        }
    };
    std::thread::scope(|s| {
        let helper = s.spawn(worker);
        worker();
        if let Err(panic) = helper.join() {
            std::panic::resume_unwind(panic);
        }
    });
    let old_side = old_slot
        .into_inner()
        .unwrap()
        .expect("the old side was read");
    // Merged in target order, so files and diagnostics do not depend on which thread ran what.
    let mut new_files = Bundle::new();
    let mut errors = Vec::new();
    for slot in new_slots {
        match slot.into_inner().unwrap().expect("every target was built") {
            Ok(b) => new_files.extend(b),
            Err(d) => errors.extend(d),
        }
    }
    if !errors.is_empty() {
        eprint!("{}", render(ctx, &loaded, &errors));
        return Exit::Findings;
    }
    let Old {
        mut files,
        model,
        label,
    } = match old_side {
        Ok(old) => old,
        Err(OldError::Message(exit, msg)) => {
            eprintln!("{msg}");
            return exit;
        }
        Err(OldError::Diagnostic(path, d)) => {
            ctx.report(&path, &[*d]);
            return Exit::Io;
        }
    };
    // A tree was read through `keep` already; a `git:REV` build and the new side were not.
    files.retain(keep);
    new_files.retain(keep);
    let changes = compare(&files, &new_files);

    let color = match ctx.color_choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    };
    let mut text = String::new();
    let summary = semantic_summary(&program, &model, args.env.as_deref(), &label);
    let semantic_changes = summary.1;
    text.push_str(&summary.0);
    for c in &changes {
        match c {
            FileChange::Added { path, .. } => text.push_str(&format!("new file: {path}\n")),
            FileChange::Removed { path, .. } => text.push_str(&format!("removed file: {path}\n")),
            FileChange::Modified { .. } => {}
        }
    }
    let listed = changes
        .iter()
        .any(|c| !matches!(c, FileChange::Modified { .. }));
    if !changes.is_empty() {
        if listed {
            text.push('\n');
        }
        if args.stat {
            text.push_str(&stat(&changes));
        } else {
            for c in &changes {
                text.push_str(&unified(c, color));
            }
        }
    }
    eprintln!(
        "compared {} with {label}: {} file(s) differ",
        loaded.display,
        changes.len()
    );
    if let Err(exit) = write_stdout(ctx, &text) {
        return exit;
    }
    if (changes.is_empty() && semantic_changes == 0) || args.exit_zero {
        Exit::Success
    } else {
        Exit::Changes
    }
}

/// The semantic summary text and the number of changes in it.
fn semantic_summary(
    program: &Program,
    old: &OldModel,
    env: Option<&str>,
    label: &str,
) -> (String, usize) {
    let old = match old {
        OldModel::NotRecorded => {
            return (
                format!("(no topology recorded in {label}: semantic summary unavailable)\n\n"),
                0,
            )
        }
        OldModel::Broken => {
            return (format!("(the topology recorded in {label} does not compile: semantic summary unavailable)\n\n"), 0)
        }
        OldModel::Program(p) => p,
    };
    let mut text = String::new();
    let mut n = 0;
    let envs: Vec<Option<&str>> = match env {
        Some(e) => vec![Some(e)],
        None => std::iter::once(None)
            .chain(program.envs.iter().map(|t| t.env.as_deref()))
            .collect(),
    };
    for e in envs {
        let (Some(a), Some(b)) = (old.get(e), program.get(e)) else {
            if program.get(e).is_some() {
                text.push_str(&format!("env {}: new\n", e.unwrap_or("base")));
                n += 1;
            }
            continue;
        };
        let changes = semantic(a, b);
        if changes.is_empty() {
            continue;
        }
        text.push_str(&format!(
            "Semantic changes ({}):\n",
            e.map_or_else(|| "base".to_owned(), |x| format!("env {x}"))
        ));
        for c in &changes {
            text.push_str(&format!("  {}: {}\n", c.scope, c.what));
            if let Some(r) = &c.risk {
                text.push_str(&format!("    risk: {r}\n"));
            }
        }
        text.push('\n');
        n += changes.len();
    }
    (text, n)
}

/// The side a diff compares with: its files and the label to print.
struct Old {
    files: Bundle,
    model: OldModel,
    label: String,
}

/// The resolved topology the old side was built from, for the semantic summary.
enum OldModel {
    NotRecorded,
    Broken,
    Program(Box<Program>),
}

/// Why the old side could not be had: a message and its exit, or a file that cannot be read.
enum OldError {
    Message(Exit, String),
    Diagnostic(String, Box<pgtopo::diag::Diagnostic>),
}

/// Reads the `build --out` tree named by `--against` (only the files `keep` accepts) or builds the
/// topology as it was at `git:REV`; an error is what to print, and the exit.
fn old_side(
    args: &Args,
    path: &Path,
    name: &str,
    selected: Envs,
    targets: &dyn Fn(&Program) -> Vec<Target>,
    keep: &dyn Fn(&str) -> bool,
) -> Result<Old, OldError> {
    if let Some(rev) = args.against.as_deref().and_then(|a| a.strip_prefix("git:")) {
        let spec = format!("git:{rev}");
        let src = git_show(path, rev)
            .map_err(|msg| OldError::Message(Exit::Usage, format!("pgtopo: {msg}")))?;
        let broken = |what: &str| {
            OldError::Message(
                Exit::Findings,
                format!("pgtopo: the topology at {spec} does not {what}"),
            )
        };
        let old = compile_for(&src, selected)
            .program(name)
            .ok_or_else(|| broken("compile"))?;
        let files = emit::build_targets(&old, &targets(&old)).map_err(|_| broken("build"))?;
        return Ok(Old {
            files,
            model: OldModel::Program(Box::new(old)),
            label: spec,
        });
    }
    let dir = PathBuf::from(args.against.as_deref().unwrap_or("out"));
    let tree_dir = dir.join(name);
    // Only the files under review are read: one env of a large tree is a few percent of it.
    let tree = tree::read(&tree_dir, keep).map_err(|e| {
        OldError::Diagnostic(
            tree_dir.display().to_string(),
            Box::new(io_error(&tree_dir, "read", &e)),
        )
    })?;
    if tree.files.is_empty() {
        eprintln!("pgtopo: {} holds no build; every file shows as new (write one with `pgtopo build --out {}`)", tree_dir.display(), dir.display());
    }
    let model = match tree.source {
        None => OldModel::NotRecorded,
        Some(src) => match compile_for(&src, selected).program(name) {
            Some(p) => OldModel::Program(Box::new(p)),
            None => OldModel::Broken,
        },
    };
    Ok(Old {
        files: tree.files,
        model,
        label: tree_dir.display().to_string(),
    })
}

/// The topology file's text at a git revision, read with `git show` (no checkout).
fn git_show(path: &Path, rev: &str) -> Result<String, String> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file = path
        .file_name()
        .ok_or("the topology path has no file name")?;
    let out = Command::new("git")
        .current_dir(dir)
        .arg("show")
        .arg(format!("{rev}:./{}", file.to_string_lossy()))
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git show {rev}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8(out.stdout).map_err(|_| format!("the topology at {rev} is not UTF-8"))
}
