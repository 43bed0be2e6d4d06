//! Phase 6: the command line. The only module that reads files, writes output, looks at the
//! environment or decides exit codes (like ripgrep, in one place: [`main`]).
//!
//! Exit codes: 0 success (lint: clean), 1 findings or a topology that does not compile,
//! 2 usage or IO error. A closed stdout (`pgtopo build | head`) is not an error.

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

use pgtopo::diag::{render_human, Diagnostic};
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
enum Command {
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

/// Parses arguments, runs the command and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
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
    match cli.command {
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
            clap_complete::generate(shell, &mut cmd, "pgtopo", &mut buf);
            write_stdout(&String::from_utf8_lossy(&buf))
                .err()
                .unwrap_or(0)
        }
    }
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
    fn topology_path(&self) -> PathBuf {
        self.file
            .clone()
            .or_else(|| std::env::var_os("PGTOPO_FILE").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("pgtopo.kdl"))
    }
}

/// A topology read and compiled, with what is needed to print its diagnostics.
pub struct Loaded {
    pub path: PathBuf,
    pub display: String,
    pub source: Arc<String>,
    pub compilation: Compilation,
}

impl Loaded {
    /// The topology's name: the file name without its extension.
    pub fn name(&self) -> String {
        self.path.file_stem().map_or_else(
            || "topology".to_owned(),
            |s| s.to_string_lossy().into_owned(),
        )
    }
}

/// Reads a topology and compiles the base and the selected envs; IO problems are returned as the
/// message to print (exit 2).
pub fn load_for(path: &Path, envs: Envs) -> Result<Loaded, String> {
    load_requesting(path, envs, None)
}

/// [`load_for`], checking every model for `requested` too, declared or not (`build --target`).
pub fn load_requesting(
    path: &Path,
    envs: Envs,
    requested: Option<pgtopo::model::Target>,
) -> Result<Loaded, String> {
    let display = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => format!(
            "error[PT010]: topology file {display} not found\n  help: pass one with -f FILE, set PGTOPO_FILE, or create ./pgtopo.kdl"
        ),
        _ => format!("error[PT010]: cannot read {display}: {e}"),
    })?;
    if meta.is_dir() {
        return Err(format!(
            "error[PT010]: {display} is a directory, not a topology file"
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "error[PT010]: {display} is {} bytes; pgtopo reads topology files up to {MAX_FILE_BYTES} bytes",
            meta.len()
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| format!("error[PT010]: cannot read {display}: {e}"))?;
    let (source, compilation) = compile_bytes_requesting(&bytes, envs, requested);
    Ok(Loaded {
        path: path.to_owned(),
        display,
        source: Arc::new(source),
        compilation,
    })
}

/// The resolved program and the model of one env (or the base), for commands that show a single
/// model; problems are printed here and come back as the exit code.
pub fn load_env(
    ctx: &Ctx,
    env: Option<&str>,
) -> Result<(pgtopo::emit::Program, Option<String>), i32> {
    let mut loaded = load_for(&ctx.topology_path(), Envs::Only(env)).map_err(|msg| {
        eprintln!("{msg}");
        2
    })?;
    let name = loaded.name();
    let Some(program) = loaded.compilation.program(&name) else {
        eprint!("{}", render(ctx, &loaded, &loaded.compilation.diagnostics));
        return Err(1);
    };
    if program.get(env).is_none() {
        eprintln!(
            "error[PT008]: the topology has no env \"{}\"",
            env.unwrap_or_default()
        );
        return Err(1);
    }
    Ok((program, env.map(str::to_owned)))
}

pub fn render(ctx: &Ctx, l: &Loaded, diags: &[Diagnostic]) -> String {
    render_human(diags, &l.display, &l.source, ctx.color)
}

/// Writes to stdout; a reader that went away (`| head`) ends the program quietly with success.
pub fn write_stdout(text: &str) -> Result<(), i32> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(0),
        Err(e) => {
            eprintln!("error[PT010]: cannot write to stdout: {e}");
            Err(2)
        }
    }
}
