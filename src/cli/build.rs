//! `pgtopo build [ENV] [--target T] [--out DIR]`.

use std::path::PathBuf;

use clap::ValueEnum;

use pgtopo::bundle::Bundle;
use pgtopo::diag::{did_you_mean, Diagnostic};
use pgtopo::driver::Envs;
use pgtopo::emit::{self, Options};
use pgtopo::model::Target;

use super::{load_for, render, write_stdout, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Environment to build (default: the base).
    env: Option<String>,
    /// Target to print (default: the first of the topology's `targets`).
    #[arg(long, short = 't', value_enum)]
    target: Option<TargetArg>,
    /// Write every file of every target, base and envs, to DIR/<topology>/<target>/ instead.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// For haproxy, keepalived and hosts: the host to print (default: the first).
    #[arg(long)]
    host: Option<String>,
    /// Include workloads (data-load Jobs) in the printed stream.
    #[arg(long)]
    with_workloads: bool,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum TargetArg {
    Kubernetes,
    Helm,
    Compose,
    Haproxy,
    Keepalived,
    Hosts,
}

impl From<TargetArg> for Target {
    fn from(t: TargetArg) -> Target {
        match t {
            TargetArg::Kubernetes => Target::Kubernetes,
            TargetArg::Helm => Target::Helm,
            TargetArg::Compose => Target::Compose,
            TargetArg::Haproxy => Target::Haproxy,
            TargetArg::Keepalived => Target::Keepalived,
            TargetArg::Hosts => Target::Hosts,
        }
    }
}

pub fn run(ctx: &Ctx, args: Args) -> i32 {
    // Printing one env resolves only the base and that env. `--out` checks every env but keeps
    // none: each is resolved again when its turn comes to be rendered and dropped after
    // (`LazyProgram`), so a large topology's fifty models are never in memory at once.
    let envs = match args.out {
        Some(_) => Envs::CheckOnly,
        None => Envs::Only(args.env.as_deref()),
    };
    let mut loaded = match load_for(&ctx.topology_path(), envs) {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("{msg}");
            return 2;
        }
    };
    let name = loaded.name();
    let (eager, lazy) = match args.out {
        Some(_) => (None, loaded.compilation.take_lazy_program(&name)),
        None => (loaded.compilation.take_program(&name), None),
    };
    let Some(program) = eager.as_ref().or(lazy.as_ref().map(|l| &l.program)) else {
        eprint!("{}", render(ctx, &loaded, &loaded.compilation.diagnostics));
        eprintln!(
            "pgtopo: {} does not compile; nothing was built",
            loaded.display
        );
        return 1;
    };
    let fail = |ds: Vec<Diagnostic>| {
        eprint!("{}", render(ctx, &loaded, &ds));
        1
    };
    if let (None, Some(env)) = (&args.out, &args.env) {
        if program.get(Some(env)).is_none() {
            let names: Vec<&str> = loaded
                .compilation
                .env_names
                .iter()
                .map(String::as_str)
                .collect();
            let mut d = Diagnostic::error("PT008", format!("the topology has no env \"{env}\""));
            d = match did_you_mean(env, names.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean \"{s}\"?")),
                None => d.with_help(format!("declared envs: {}", names.join(", "))),
            };
            return fail(vec![d]);
        }
    }
    let diags = &loaded.compilation.diagnostics;
    // Warnings only from here on. Printing one target's output shows the warnings about that
    // target and the core ones; `--out` builds every target and shows them all.
    let printed = match (&args.out, args.target) {
        (Some(_), _) => None,
        (None, Some(t)) => Some(Target::from(t)),
        (None, None) => program.base.targets.first().map(|t| t.value),
    };
    let (shown, hidden): (Vec<&Diagnostic>, Vec<&Diagnostic>) =
        diags
            .iter()
            .partition(|d| match (printed, pgtopo::check::code_targets(d.code)) {
                (Some(t), Some(about)) => about.contains(&t),
                _ => true,
            });
    if !shown.is_empty() {
        let shown: Vec<Diagnostic> = shown.into_iter().cloned().collect();
        eprint!("{}", render(ctx, &loaded, &shown));
    }
    if !hidden.is_empty() {
        eprintln!(
            "pgtopo: {} warning(s) about other targets not shown; `pgtopo lint` lists them",
            hidden.len()
        );
    }

    if let Some(dir) = &args.out {
        if args.env.is_some() {
            eprintln!("pgtopo: --out writes the base and every env; leave ENV out");
            return 2;
        }
        // Each piece of the tree is written as soon as it is rendered
        // (`LazyProgram::build_pieces`), so a large topology never sits in memory whole. A build
        // error found late still leaves the previous tree untouched: the staging folder is
        // discarded.
        let mut build_errors = None;
        let written = super::tree::write_with(dir, &program.name, &loaded.source, |staging| {
            // Rendering and writing overlap: the emitters run on a second thread and hand pieces
            // (every file of one model, or for `hosts` about 4 MiB of it) over a queue, while this
            // thread writes the ones before. The queue is bounded in bytes (`InFlight`) more than
            // in pieces: with room for one piece only, a small one left the writer idle while the
            // next large one rendered (vms 100 × 10 × 50 was 15 % slower). If writing fails, the
            // queue closes and the emitters stop handing over.
            let (send, receive) = std::sync::mpsc::sync_channel::<Bundle>(8);
            let in_flight = InFlight::default();
            let lazy = lazy.as_ref().expect("--out takes the lazy program");
            std::thread::scope(|scope| {
                let in_flight = &in_flight;
                // `move`: the sender must end with the emitters, which is what ends the loop below.
                let emitting = scope.spawn(move || {
                    let mut open = true;
                    lazy.build_pieces(&mut |piece| {
                        if open {
                            in_flight.enter(piece_bytes(&piece));
                            open = send.send(piece).is_ok();
                        }
                    })
                });
                let mut io_result = Ok(());
                for piece in receive.iter() {
                    if let Some(e) = piece
                        .iter()
                        .find_map(|(rel, contents)| staging.put(rel, contents).err())
                    {
                        io_result = Err(e);
                        break;
                    }
                    in_flight.leave(piece_bytes(&piece));
                }
                in_flight.close();
                drop(receive);
                let built = emitting
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                io_result?;
                built.map_err(|ds| {
                    build_errors = Some(ds);
                    std::io::Error::other("the topology does not build")
                })
            })
        });
        if let Some(ds) = build_errors {
            return fail(ds);
        }
        return match written {
            Ok(count) => {
                eprintln!(
                    "wrote {count} file(s) to {}",
                    dir.join(&program.name).display()
                );
                0
            }
            Err(e) => {
                eprintln!("error[PT010]: cannot write {}: {e}", dir.display());
                2
            }
        };
    }

    let target = match args.target {
        Some(t) => Target::from(t),
        None => match program.base.targets.first() {
            Some(t) => t.value,
            None => {
                return fail(vec![Diagnostic::error(
                    "PT004",
                    "the topology declares no targets",
                )])
            }
        },
    };
    let opts = Options {
        host: args.host,
        with_workloads: args.with_workloads,
    };
    match emit::stdout(target, program, args.env.as_deref(), &opts) {
        Ok(text) => match write_stdout(&text) {
            Ok(()) => 0,
            Err(code) => code,
        },
        Err(ds) => fail(ds),
    }
}

/// Bytes of rendered files that may be on their way to the writer (queued, or being written)
/// while the emitters render more. A piece that would take the bytes in flight over this waits
/// until the writer has finished the ones before it (a piece larger than this, such as one
/// model's Kubernetes files of a large topology, then travels alone). With whole models as pieces
/// and one queued piece, vms 40 × 250 × 5 (280 MB of files per model) peaked at 1,238 MiB; with
/// `hosts` in 4 MiB pieces and this limit, at about 85 MiB.
const IN_FLIGHT_BYTES: usize = 16 << 20;

fn piece_bytes(piece: &Bundle) -> usize {
    piece.iter().map(|(_, contents)| contents.len()).sum()
}

/// The bytes handed to the writer and not yet written, and whether the writer has stopped.
#[derive(Default)]
struct InFlight {
    state: std::sync::Mutex<(usize, bool)>,
    changed: std::sync::Condvar,
}

impl InFlight {
    /// Waits until `bytes` more fit under [`IN_FLIGHT_BYTES`], nothing else is in flight, or the
    /// writer has stopped; then counts them.
    fn enter(&self, bytes: usize) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.0 > 0 && s.0 + bytes > IN_FLIGHT_BYTES && !s.1 {
            s = self.changed.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.0 += bytes;
    }

    fn leave(&self, bytes: usize) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.0 = s.0.saturating_sub(bytes);
        self.changed.notify_all();
    }

    /// The writer takes no more: nothing may wait for it any longer.
    fn close(&self) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).1 = true;
        self.changed.notify_all();
    }
}
