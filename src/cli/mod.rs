//! Phase 6: the command line. The only module that reads files, writes output, looks at the
//! environment or decides exit codes. Every command ends with an [`Exit`], and [`Exit::code`] is
//! the one place that turns it into the process's exit code.
//!
//! Exit codes: 0 success (lint: clean; diff: no change), 1 findings or a topology that does not
//! compile (diff: changes), 2 usage or IO error (diff: any error). A closed stdout
//! (`pgtopo build | head`) is not an error.

mod build;
mod diff;
mod explain;
mod fmt;
mod graph;
mod init;
mod lint;
mod tree;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};

use pgtopo::diag::{codes, render_human, Diagnostic};
use pgtopo::driver::{compile_bytes_requesting, Compilation, Envs};

/// Largest topology file pgtopo reads; far above any real topology, low enough to fail fast on a
/// wrong file.
const MAX_FILE_BYTES: u64 = 64 << 20;

#[derive(Parser)]
#[command(
    name = "pgtopo",
    version,
    about = "Compile one KDL topology of a PostgreSQL HA stack into every artifact that runs it",
    after_help = "Examples:\n  pgtopo lint                                  lint ./pgtopo.kdl\n  pgtopo -f topologies/mirror-db.kdl build dev | kubectl apply -f -\n  pgtopo build --out out/ -f topologies/mirror-db.kdl\n\nThe topology file is -f/--file, else $PGTOPO_FILE, else ./pgtopo.kdl."
)]
pub struct Cli {
    /// Topology file (default: $PGTOPO_FILE, else ./pgtopo.kdl).
    #[arg(short = 'f', long = "file", global = true, value_name = "FILE")]
    file: Option<PathBuf>,

    /// When to color diagnostics.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    color: Color,

    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check topology files and report problems with their source location.
    #[command(
        after_help = "Examples:\n  pgtopo lint\n  pgtopo lint topologies/*.kdl --format json\n  pgtopo lint --deny-warnings pgtopo.kdl\n\nExit: 0 clean, 1 findings (warnings only with --deny-warnings), 2 usage or IO error."
    )]
    Lint(lint::Args),
    /// Build the artifacts of a target: print one env's output, or write every file with --out.
    #[command(
        after_help = "Examples:\n  pgtopo build dev | kubectl apply -f -        the dev overlay, fully built\n  pgtopo build                                the base\n  pgtopo build prod --target helm             merged Helm values for prod\n  pgtopo build staging --target haproxy --host lb2\n  pgtopo build --out out/                     every target, base and envs"
    )]
    Build(build::Args),
    /// Show what a change to the topology does: a semantic summary with risks, then file diffs.
    #[command(
        after_help = "Examples:\n  pgtopo diff prod                    against the committed out/\n  pgtopo diff prod --against git:HEAD~1\n  pgtopo diff --stat --target kubernetes\n\nExit: 0 no change, 1 changes (0 with --exit-zero), 2 error."
    )]
    Diff(diff::Args),
    /// Explain how to connect (endpoints per target, read-write or read-only) and what survives which failure.
    #[command(
        after_help = "Examples:\n  pgtopo explain prod\n  pgtopo -f topologies/haproxy-keepalived.kdl explain staging"
    )]
    Explain(explain::Args),
    /// Draw the topology: clients, VIP, balancers, poolers, primary and standbys, monitors.
    #[command(
        after_help = "Examples:\n  pgtopo graph > topology.mmd               Mermaid, renders on GitHub\n  pgtopo graph prod --format dot | dot -Tsvg > prod.svg"
    )]
    Graph(graph::Args),
    /// Rewrite topology files in the canonical layout (comments kept).
    #[command(
        after_help = "Examples:\n  pgtopo fmt                                 format ./pgtopo.kdl in place\n  pgtopo fmt --check topologies/*.kdl        exit 1 if any file would change"
    )]
    Fmt(fmt::Args),
    /// Write a new, lint-clean topology from a few flags.
    #[command(
        after_help = "Examples:\n  pgtopo init                                3 nodes on Kubernetes into ./pgtopo.kdl\n  pgtopo -f orders.kdl init --target vm --nodes 3 --sync 1\n  pgtopo init --target compose --nodes 2 --sync 0 --stdout"
    )]
    Init(init::Args),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  pgtopo completions bash > /etc/bash_completion.d/pgtopo\n  pgtopo completions zsh > \"${fpath[1]}/_pgtopo\"\n  pgtopo completions fish > ~/.config/fish/completions/pgtopo.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// How a command ended. Commands say what happened; [`Exit::code`] alone decides the number, so
/// one situation gets one exit code in every command (README and docs/usage.md document them).
/// Ordered from the mildest to the worst, so that a command that handles several files ends with
/// the worst of their outcomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Done: lint found nothing to fail on, diff no change, or the reader of stdout went away.
    Success,
    /// `diff`: the topology's build differs from what it was compared with.
    Changes,
    /// The topology has findings that fail the command (errors; warnings too with
    /// `--deny-warnings`), does not compile or build, or is not in the canonical layout
    /// (`fmt --check`).
    Findings,
    /// The command line asks for what cannot be done: flags that exclude each other, an env the
    /// topology does not declare (PT008), a target `diff` has nothing of, flags `init` cannot
    /// turn into a clean topology.
    Usage,
    /// A file cannot be read or written (PT010).
    Io,
    /// pgtopo stopped short of its own mistake: `fmt` would have changed a file's meaning.
    Internal,
}

impl Exit {
    /// The process exit code: 0 success, 1 findings, 2 usage or IO. `diff` exits 1 for changes,
    /// so a topology it cannot build is 2 there (with `--exit-zero`, a CI step must still fail
    /// when nothing was compared).
    pub fn code(self, command: Option<&Command>) -> i32 {
        match self {
            Exit::Success => 0,
            Exit::Changes => 1,
            Exit::Findings if matches!(command, Some(Command::Diff(_))) => 2,
            Exit::Findings => 1,
            Exit::Usage | Exit::Io | Exit::Internal => 2,
        }
    }
}

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            // `--help` and `--version` are "errors" to clap that print to stdout.
            let exit = if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            };
            let _ = e.print();
            return exit.code(None);
        }
    };
    let color = match cli.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    };
    let ctx = Ctx {
        file: cli.file,
        color,
        color_choice: cli.color,
    };
    let exit = match &cli.command {
        Command::Lint(a) => lint::run(&ctx, a),
        Command::Build(a) => build::run(&ctx, a),
        Command::Diff(a) => diff::run(&ctx, a),
        Command::Graph(a) => graph::run(&ctx, a),
        Command::Explain(a) => explain::run(&ctx, a),
        Command::Fmt(a) => fmt::run(&ctx, a),
        Command::Init(a) => init::run(&ctx, a),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "pgtopo", &mut buf);
            write_stdout(&ctx, &String::from_utf8_lossy(&buf))
                .err()
                .unwrap_or(Exit::Success)
        }
    };
    exit.code(Some(&cli.command))
}

pub struct Ctx {
    file: Option<PathBuf>,
    /// Color for diagnostics on stderr.
    color: bool,
    /// The `--color` choice, for commands that color stdout (diff).
    color_choice: Color,
}

impl Ctx {
    /// The topology file: `-f`, else `$PGTOPO_FILE`, else `./pgtopo.kdl`.
    fn topology_path(&self) -> Input {
        if let Some(f) = &self.file {
            return Input::new(f.clone(), Given::Flag);
        }
        match std::env::var_os("PGTOPO_FILE") {
            Some(f) => Input::new(PathBuf::from(f), Given::EnvVar),
            None => Input::new(PathBuf::from("pgtopo.kdl"), Given::Default),
        }
    }

    /// Prints diagnostics about a file whose text is not at hand (it could not be read, or could
    /// not be written), in the style of every other diagnostic.
    pub fn report(&self, file: &str, diags: &[Diagnostic]) {
        eprint!(
            "{}",
            render_human(diags, file, &Arc::new(String::new()), self.color)
        );
    }

    /// PT010 for `path`, printed ([`io_error`]); the exit that goes with it.
    pub fn io_error(&self, path: &Path, what: &str, e: &std::io::Error) -> Exit {
        self.report(&path.display().to_string(), &[io_error(path, what, e)]);
        Exit::Io
    }
}

/// A topology file to read, and how its path was given: what to suggest when it is not there.
pub struct Input {
    pub path: PathBuf,
    given: Given,
}

impl Input {
    fn new(path: PathBuf, given: Given) -> Self {
        Input { path, given }
    }

    /// A path named on the command line (`lint FILE…`, `fmt FILE…`).
    pub fn argument(path: PathBuf) -> Self {
        Input::new(path, Given::Argument)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Given {
    Flag,
    EnvVar,
    Default,
    Argument,
}

/// PT010: `path` cannot be `what` ("read", "written").
pub fn io_error(path: &Path, what: &str, e: &std::io::Error) -> Diagnostic {
    Diagnostic::error(
        codes::PT010,
        format!("{} cannot be {what}: {e}", path.display()),
    )
    .with_help(match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            "check the permissions of the file and of its folder"
        }
        _ => "check the path, and that the disk is not full or read-only",
    })
}

/// PT010 for a topology file that is not there, with what to do about it: which depends on
/// where the path came from (a path given with -f needs checking; the default is a file to make).
pub fn not_found(input: &Input) -> Diagnostic {
    let display = input.path.display();
    let d = Diagnostic::error(codes::PT010, format!("topology file {display} not found"));
    d.with_help(match input.given {
        Given::Flag | Given::Argument => format!(
            "check the path; `pgtopo -f {display} init` writes a new topology there"
        ),
        Given::EnvVar => format!(
            "$PGTOPO_FILE names {display}; correct it, or unset it to use ./pgtopo.kdl"
        ),
        Given::Default => "without -f FILE or $PGTOPO_FILE, pgtopo reads ./pgtopo.kdl: pass a file with -f FILE, set PGTOPO_FILE, or write one with `pgtopo init`".to_owned(),
    })
}

/// A topology read and compiled, with what is needed to print its diagnostics.
pub struct Loaded {
    pub path: PathBuf,
    pub display: String,
    pub source: Arc<String>,
    pub compilation: Compilation,
}

impl Loaded {
    /// The topology's name, which names its outputs: `topology "NAME"`, else the file name
    /// without its extension. Asked before the program is taken out of the compilation.
    pub fn name(&self) -> String {
        if let Some(n) = self.compilation.base.as_ref().and_then(|b| b.name.as_ref()) {
            return n.value.clone();
        }
        self.path.file_stem().map_or_else(
            || "topology".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        )
    }

    /// PT008, printed, when ENV names no env of the topology: the same diagnostic, suggestion and
    /// exit code in every command that takes an ENV (build, diff, explain, graph). Asked before the
    /// topology's own problems are shown: the command line is the first thing to put right.
    pub fn require_env(&self, ctx: &Ctx, env: Option<&str>) -> Result<(), Exit> {
        match env.and_then(|e| self.compilation.unknown_env(e)) {
            Some(d) => {
                eprint!("{}", render(ctx, self, &[d]));
                Err(Exit::Usage)
            }
            None => Ok(()),
        }
    }
}

/// Reads a topology and compiles the base and the selected envs; a file that cannot be read is
/// printed as its PT010 diagnostic and comes back as the exit.
pub fn load_for(ctx: &Ctx, input: &Input, envs: Envs) -> Result<Loaded, Exit> {
    load_requesting(ctx, input, envs, None)
}

/// [`load_for`], checking every model for `requested` too, declared or not (`build --target`).
pub fn load_requesting(
    ctx: &Ctx,
    input: &Input,
    envs: Envs,
    requested: Option<pgtopo::model::Target>,
) -> Result<Loaded, Exit> {
    let path = &input.path;
    let display = path.display().to_string();
    let fail = |d: Diagnostic| {
        ctx.report(&display, &[d]);
        Exit::Io
    };
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => fail(not_found(input)),
        _ => fail(io_error(path, "read", &e)),
    })?;
    if meta.is_dir() {
        return Err(fail(
            Diagnostic::error(
                codes::PT010,
                format!("{display} is a directory, not a topology file"),
            )
            .with_help("name the .kdl file inside it"),
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(fail(
            Diagnostic::error(
                codes::PT010,
                format!(
                    "{display} is {} bytes; pgtopo reads topology files up to {MAX_FILE_BYTES} bytes",
                    meta.len()
                ),
            )
            .with_help("check that this is the topology file"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| fail(io_error(path, "read", &e)))?;
    let (source, compilation) = compile_bytes_requesting(&bytes, envs, requested);
    Ok(Loaded {
        path: path.to_owned(),
        display,
        source: Arc::new(source),
        compilation,
    })
}

/// The resolved program and the model of one env (or the base), for commands that show a single
/// model; problems are printed here and come back as the exit.
pub fn load_env(
    ctx: &Ctx,
    env: Option<&str>,
) -> Result<(pgtopo::emit::Program, Option<String>), Exit> {
    let mut loaded = load_for(ctx, &ctx.topology_path(), Envs::Only(env))?;
    loaded.require_env(ctx, env)?;
    let name = loaded.name();
    let Some(program) = loaded.compilation.program(&name) else {
        eprint!("{}", render(ctx, &loaded, &loaded.compilation.diagnostics));
        return Err(Exit::Findings);
    };
    Ok((program, env.map(str::to_owned)))
}

pub fn render(ctx: &Ctx, l: &Loaded, diags: &[Diagnostic]) -> String {
    render_human(diags, &l.display, &l.source, ctx.color)
}

/// Writes to stdout; a reader that went away (`| head`) ends the program quietly with success
/// (`Err(Exit::Success)`: stop, but nothing went wrong).
pub fn write_stdout(ctx: &Ctx, text: &str) -> Result<(), Exit> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Exit::Success),
        Err(e) => Err(ctx.io_error(Path::new("stdout"), "written", &e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The documented codes (README, docs/usage.md, `diff --help`): 0 success, 1 findings or
    /// changes, 2 usage or IO, and for `diff` 2 whenever it could not compare.
    #[test]
    fn exit_codes_are_the_documented_ones() {
        let diff = Cli::try_parse_from(["pgtopo", "diff"]).unwrap().command;
        let lint = Cli::try_parse_from(["pgtopo", "lint"]).unwrap().command;
        for (exit, elsewhere, in_diff) in [
            (Exit::Success, 0, 0),
            (Exit::Changes, 1, 1),
            (Exit::Findings, 1, 2),
            (Exit::Usage, 2, 2),
            (Exit::Io, 2, 2),
            (Exit::Internal, 2, 2),
        ] {
            assert_eq!(exit.code(Some(&lint)), elsewhere, "{exit:?}");
            assert_eq!(exit.code(None), elsewhere, "{exit:?}");
            assert_eq!(exit.code(Some(&diff)), in_diff, "{exit:?} in diff");
        }
        // A command over several files ends with the worst outcome.
        assert_eq!(Exit::Findings.max(Exit::Io), Exit::Io);
        assert_eq!(Exit::Success.max(Exit::Findings), Exit::Findings);
    }
}
