//! `pgtopo diff [ENV]`: what a change to the topology does, before it ships.
//!
//! Compares the topology as it is now with a previous build: by default the committed `out/` tree
//! (written by `build --out out/`), or `--against DIR`, or `--against git:REV` (the topology file as
//! it was at REV, read with `git show`, compiled in memory). Prints a semantic summary from the two
//! resolved models, then the list of new/removed files and unified diffs. Exit: 0 no change,
//! 1 changes, 2 error (`--exit-zero` turns 1 into 0).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Command;

use pgtopo::bundle::Bundle;
use pgtopo::diff::semantic::semantic;
use pgtopo::diff::text::{compare, stat, unified, FileChange};
use pgtopo::driver::compile;
use pgtopo::emit::{self, Program};
use pgtopo::model::Target;

use super::build::TargetArg;
use super::{load, render, tree, write_stdout, Color, Ctx};

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

/// True when `path` belongs to an env other than `env`: a path segment named after that env, or a
/// `…-<env>.yaml` file (Helm's per-env values).
fn belongs_to_other_env(path: &str, env: &str, all: &[String]) -> bool {
    all.iter().filter(|e| e.as_str() != env).any(|other| {
        path.split('/').any(|seg| {
            seg == other
                || seg
                    .strip_suffix(".yaml")
                    .is_some_and(|s| s.ends_with(&format!("-{other}")))
        })
    })
}

pub fn run(ctx: &Ctx, args: Args) -> i32 {
    let mut loaded = match load(&ctx.topology_path()) {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("{msg}");
            return 2;
        }
    };
    let name = loaded.name();
    let Some(program) = loaded.compilation.take_program(&name) else {
        eprint!("{}", render(ctx, &loaded, &loaded.compilation.diagnostics));
        eprintln!(
            "pgtopo: {} does not compile; nothing to compare",
            loaded.display
        );
        return 2;
    };
    if let Some(env) = &args.env {
        if program.get(Some(env)).is_none() {
            eprintln!("error[PT008]: the topology has no env \"{env}\"");
            return 2;
        }
    }
    let new_files = match emit::build_all(&program) {
        Ok(b) => b,
        Err(ds) => {
            eprint!("{}", render(ctx, &loaded, &ds));
            return 2;
        }
    };

    // The old side: files and, when recorded, the topology they were built from.
    let (old_files, old_source, label) = match args.against.as_deref() {
        Some(spec) if spec.starts_with("git:") => match git_show(&loaded.path, &spec[4..]) {
            Ok(src) => match compile(&src).program(&program.name) {
                Some(old) => match emit::build_all(&old) {
                    Ok(b) => (b, Some(src), spec.to_owned()),
                    Err(_) => {
                        eprintln!("pgtopo: the topology at {spec} does not build");
                        return 2;
                    }
                },
                None => {
                    eprintln!("pgtopo: the topology at {spec} does not compile");
                    return 2;
                }
            },
            Err(msg) => {
                eprintln!("pgtopo: {msg}");
                return 2;
            }
        },
        other => {
            let dir = PathBuf::from(other.unwrap_or("out"));
            let tree_dir = dir.join(&program.name);
            match tree::read(&tree_dir) {
                Ok(t) => {
                    if t.files.is_empty() {
                        eprintln!("pgtopo: {} holds no build; every file shows as new (write one with `pgtopo build --out {}`)", tree_dir.display(), dir.display());
                    }
                    (t.files, t.source, tree_dir.display().to_string())
                }
                Err(e) => {
                    eprintln!("error[PT010]: cannot read {}: {e}", tree_dir.display());
                    return 2;
                }
            }
        }
    };

    let envs: Vec<String> = program.envs.iter().filter_map(|t| t.env.clone()).collect();
    let keep = |path: &str| {
        let target_ok = args
            .target
            .is_none_or(|t| path.starts_with(&format!("{}/", Target::from(t).as_str())));
        let env_ok = args
            .env
            .as_deref()
            .is_none_or(|e| !belongs_to_other_env(path, e, &envs));
        target_ok && env_ok
    };
    let filter = |b: &Bundle| {
        let mut out = Bundle::new();
        for (p, c) in b.iter().filter(|(p, _)| keep(p)) {
            out.add(p, c);
        }
        out
    };
    let (old_f, new_f) = (filter(&old_files), filter(&new_files));
    let changes = compare(&old_f, &new_f);

    let color = match ctx.color_choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal(),
    };
    let mut text = String::new();
    let summary = semantic_summary(&program, old_source.as_deref(), args.env.as_deref(), &label);
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
    if let Err(code) = write_stdout(&text) {
        return code;
    }
    if (changes.is_empty() && semantic_changes == 0) || args.exit_zero {
        0
    } else {
        1
    }
}

/// The semantic summary text and the number of changes in it.
fn semantic_summary(
    program: &Program,
    old_source: Option<&str>,
    env: Option<&str>,
    label: &str,
) -> (String, usize) {
    let Some(src) = old_source else {
        return (
            format!("(no topology recorded in {label}: semantic summary unavailable)\n\n"),
            0,
        );
    };
    let Some(old) = compile(src).program(&program.name) else {
        return (format!("(the topology recorded in {label} does not compile: semantic summary unavailable)\n\n"), 0);
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
