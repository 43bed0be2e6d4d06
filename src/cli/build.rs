//! `pgtopo build [ENV] [--target T] [--out DIR]`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use clap::ValueEnum;

use pgtopo::bundle::Bundle;
use pgtopo::diag::{codes, Code, Diagnostic, Span};
use pgtopo::driver::{self, compile_for, Envs, LazyProgram};
use pgtopo::emit::{self, EnvOutcome, Options, TreeBuild};
use pgtopo::model::Target;

use super::tree::{into_inner, lock, Staging};
use super::{load_requesting, render, write_stdout, Ctx, Exit, Loaded};

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

pub fn run(ctx: &Ctx, args: &Args) -> Exit {
    if args.out.is_some() && args.env.is_some() {
        eprintln!("pgtopo: --out writes the base and every env; leave ENV out");
        return Exit::Usage;
    }
    // `--out` writes every declared target and every machine: a `--target` or `--host` beside it
    // would be ignored, so it is refused rather than dropped.
    if args.out.is_some() && (args.target.is_some() || args.host.is_some()) {
        eprintln!(
            "pgtopo: --out writes every target of the topology and every host; leave --target and --host out"
        );
        return Exit::Usage;
    }

    // Printing one env resolves only the base and that env. `--out` resolves the base here, and
    // each env on the thread that checks and renders it ([`write_tree`]), dropped after, so a
    // large topology's fifty models are never in memory at once and each is resolved once.
    let envs = Envs::Only(args.env.as_deref());
    // A `--target` the file does not list is checked as if it did: its errors stop the build.
    let requested = args.target.map(Target::from).filter(|_| args.out.is_none());
    let mut loaded = match load_requesting(ctx, &ctx.topology_path(), envs, requested) {
        Ok(l) => l,
        Err(exit) => return exit,
    };
    if let Err(exit) = loaded.require_env(ctx, args.env.as_deref()) {
        return exit;
    }
    let name = loaded.name();
    let (eager, lazy) = match &args.out {
        Some(_) => (None, loaded.compilation.take_lazy_program(&name)),
        None => (loaded.compilation.program(&name), None),
    };
    let Some(program) = eager.as_ref().or(lazy.as_ref().map(|l| &l.program)) else {
        if args.out.is_some() {
            // The base does not compile, so no env is rendered; the report still covers every
            // env, as `lint` would give it.
            loaded.compilation = compile_for(&loaded.source, Envs::CheckOnly);
        }
        match requested {
            Some(t) => {
                // Every error stops the build, so every error is shown; warnings only about
                // the requested target and the core ones, as below for a build that succeeds.
                let (shown, hidden): (Vec<Diagnostic>, Vec<Diagnostic>) = loaded
                    .compilation
                    .diagnostics
                    .iter()
                    .cloned()
                    .partition(|d| d.is_error() || !about_other_targets(d, t));
                eprint!("{}", render(ctx, &loaded, &shown));
                if !hidden.is_empty() {
                    eprintln!(
                        "pgtopo: {} warning(s) about other targets not shown; `pgtopo lint` lists them",
                        hidden.len()
                    );
                }
                eprintln!(
                    "pgtopo: {} does not compile for the {t} target; nothing was built",
                    loaded.display
                );
            }
            None => {
                eprint!("{}", render(ctx, &loaded, &loaded.compilation.diagnostics));
                eprintln!(
                    "pgtopo: {} does not compile; nothing was built",
                    loaded.display
                );
            }
        }
        return Exit::Findings;
    };
    let fail = |ds: Vec<Diagnostic>| {
        eprint!("{}", render(ctx, &loaded, &ds));
        Exit::Findings
    };
    if let (Some(dir), Some(lazy)) = (&args.out, &lazy) {
        return build_out(ctx, &loaded, lazy, dir);
    }
    let default_target = program.base.targets.first().map(|t| t.value);
    if let (Some(t), Some(host)) = (requested.or(default_target), &args.host) {
        if !matches!(t, Target::Haproxy | Target::Keepalived | Target::Hosts) {
            eprintln!(
                "pgtopo: --host {host}: the {t} target prints the whole env, not one machine; --host picks a machine of the haproxy, keepalived or hosts target"
            );
            return Exit::Usage;
        }
    }
    let diags = &loaded.compilation.diagnostics;
    // Warnings only from here on. Printing one target's output shows the warnings about that
    // target and the core ones; `--out` builds every target and shows them all.
    let printed = match args.target {
        Some(t) => Some(Target::from(t)),
        None => program.base.targets.first().map(|t| t.value),
    };
    let (shown, hidden): (Vec<&Diagnostic>, Vec<&Diagnostic>) = diags
        .iter()
        .partition(|d| printed.is_none_or(|t| !about_other_targets(d, t)));
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

    let target = match args.target {
        Some(t) => Target::from(t),
        None => match program.base.targets.first() {
            Some(t) => t.value,
            None => {
                return fail(vec![Diagnostic::error(
                    codes::PT004,
                    "the topology declares no targets",
                )])
            }
        },
    };
    let opts = Options {
        host: args.host.clone(),
        with_workloads: args.with_workloads,
    };
    match emit::stdout(target, program, args.env.as_deref(), &opts) {
        Ok(text) => write_stdout(ctx, &text).err().unwrap_or(Exit::Success),
        Err(ds) => fail(ds),
    }
}

/// Whether a finding is about targets other than `t` only (read from its code's range).
fn about_other_targets(d: &Diagnostic, t: Target) -> bool {
    pgtopo::check::code_targets(d.code).is_some_and(|about| !about.contains(&t))
}

/// `build --out`: checks and renders every env and writes the tree, then reports what it found
/// in the base and every env, as `lint` would. An env that does not compile leaves the previous
/// tree untouched (the staging folder is discarded), like a build error found late.
fn build_out(ctx: &Ctx, loaded: &Loaded, lazy: &LazyProgram, dir: &Path) -> Exit {
    let mut failed = None;
    let mut findings = Vec::new();
    // An env that does not compile is found after the folder is made; a folder that did not
    // exist is then taken away again, as before a base that does not compile.
    let existed = dir.exists();
    let written = super::tree::write_with(dir, &lazy.program.name, &loaded.source, |staging| {
        let outcome = write_tree(lazy, staging, &loaded.compilation.diagnostics);
        findings = outcome.findings;
        outcome.result.map_err(|e| match e {
            TreeError::Io(e) => e,
            e => {
                failed = Some(e);
                std::io::Error::other("the topology does not build")
            }
        })
    });
    if !findings.is_empty() {
        eprint!("{}", render(ctx, loaded, &findings));
    }
    if !existed && (failed.is_some() || written.is_err()) {
        // Only an empty folder is removed: it holds nothing of the user's.
        let _ = std::fs::remove_dir(dir);
    }
    match (failed, written) {
        (Some(TreeError::Check), _) => {
            eprintln!(
                "pgtopo: {} does not compile; nothing was built",
                loaded.display
            );
            Exit::Findings
        }
        (Some(TreeError::Build(ds)), _) => {
            eprint!("{}", render(ctx, loaded, &ds));
            Exit::Findings
        }
        (_, Ok(count)) => {
            eprintln!(
                "wrote {count} file(s) to {}",
                dir.join(&lazy.program.name).display()
            );
            Exit::Success
        }
        (_, Err(e)) => ctx.io_error(dir, "written", &e),
    }
}

/// Why a tree was not written: writing failed, an env does not compile (its errors are among the
/// findings), or a target could not render a model.
enum TreeError {
    Io(std::io::Error),
    Check,
    Build(Vec<Diagnostic>),
}

/// What [`write_tree`] did: the findings of the base and every env that was checked, merged as
/// `lint` merges them, and whether the tree was written.
struct TreeOutcome {
    findings: Vec<Diagnostic>,
    result: Result<(), TreeError>,
}

/// Checks every env, renders the tree and writes it, on as many threads as there are cores (at
/// most one per env, and a third and more only within a memory budget: [`env_threads`]). The base
/// first, on this thread (it was checked when the file was loaded: `base_findings`); then each
/// thread takes the next env, resolves and checks it, renders it and writes its files itself, so
/// that rendering and writing share the cores however the work divides between them: a tree of
/// many small files is mostly the kernel's work of creating them, a tree of Kubernetes overlays
/// mostly rendering. Last, what lists every env. A thread holds one env's model and a piece of its
/// files at a time. Once writing fails, every thread stops at its next piece; once an env does not
/// compile, the threads only check the envs left, so that the report names every env's errors.
fn write_tree(lazy: &LazyProgram, staging: &Staging, base_findings: &[Diagnostic]) -> TreeOutcome {
    let failed: Mutex<Option<std::io::Error>> = Mutex::new(None);
    let stopped = AtomicBool::new(false);
    let broken = AtomicBool::new(false);
    let write = |piece: Bundle| {
        if stopped.load(Ordering::Relaxed) || broken.load(Ordering::Relaxed) {
            return;
        }
        if let Some(e) = piece
            .iter()
            .find_map(|(rel, contents)| staging.put(rel, contents).err())
        {
            stopped.store(true, Ordering::Relaxed);
            lock(&failed).get_or_insert(e);
        }
    };
    let targets = lazy.targets();
    let mut largest = 0;
    let before = resident();
    let tree = TreeBuild::start(&lazy.program, &targets, &mut |piece| {
        largest = piece.iter().map(|(_, c)| c.len()).fold(largest, usize::max);
        write(piece)
    });
    // What rendering the base took: an env's thread will take about as much.
    let base = before
        .zip(resident())
        .map(|((now, _), (_, peak))| Footprint {
            peak,
            growth: peak.saturating_sub(now),
        });
    let envs = lazy.env_count();
    let threads = env_threads(
        cores(),
        envs,
        largest,
        base,
        memory_budget(available_memory()),
    );
    // Per env: what checking it found, and what rendering it gave (none once an env is broken).
    type Done = (Vec<Diagnostic>, Option<Outcome>);
    let done: Mutex<Vec<Option<Done>>> = Mutex::new((0..envs).map(|_| None).collect());
    // What the base found: an env's finding with the same code, place and message is the base's
    // report again, which the merge would drop; dropped at once, the findings of fifty envs are
    // not held while the tree renders.
    let base_keys: HashSet<(Code, Option<Span>, &str)> =
        base_findings.iter().map(driver::problem).collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= envs || stopped.load(Ordering::Relaxed) {
            break;
        }
        let (model, mut findings) = lazy.env_checked(i);
        findings.retain(|d| !base_keys.contains(&driver::problem(d)));
        let outcome = match model {
            Some(t) if !findings.iter().any(Diagnostic::is_error) => (!broken
                .load(Ordering::Relaxed))
            .then(|| Ok(tree.env(&t, &mut |piece| write(piece)))),
            _ => {
                broken.store(true, Ordering::Relaxed);
                None
            }
        };
        lock(&done)[i] = Some((findings, outcome));
    };
    // This thread works too: what the base's rendering freed is then reused for envs on this
    // thread's heap rather than left beside two new threads' heaps, which raised the peak.
    std::thread::scope(|scope| {
        for _ in 1..threads {
            scope.spawn(work);
        }
        work();
    });
    let mut done = into_inner(done);
    // Every env is checked unless writing failed (then the report is not needed).
    let findings = driver::merge_findings(
        std::iter::once(base_findings.to_vec())
            .chain(done.iter_mut().flatten().map(|(f, _)| std::mem::take(f))),
    );
    let result = 'written: {
        if let Some(e) = lock(&failed).take() {
            break 'written Err(TreeError::Io(e));
        }
        if broken.load(Ordering::Relaxed) {
            break 'written Err(TreeError::Check);
        }
        // Every env has its outcome: no thread stops early unless writing failed or an env is
        // broken.
        let outcomes = done
            .into_iter()
            .map(|d| d.and_then(|(_, o)| o).expect("every env rendered"));
        if let Err(ds) = tree.finish(outcomes.collect(), &mut |piece| write(piece)) {
            break 'written Err(TreeError::Build(ds));
        }
        match into_inner(failed) {
            Some(e) => Err(TreeError::Io(e)),
            None => Ok(()),
        }
    };
    TreeOutcome { findings, result }
}

type Outcome = Result<EnvOutcome, Vec<Diagnostic>>;

/// The process's resident memory after rendering the base: its peak so far, and how much the peak
/// grew while the base rendered.
#[derive(Clone, Copy)]
struct Footprint {
    peak: u64,
    growth: u64,
}

/// How many threads render the envs: one per core and at most one per env, but a third thread and
/// more only while the peak stays within `budget` ([`memory_budget`]), each thread counted at what the base
/// took to render plus [`THREAD_BYTES`]. Every thread holds an env's model and a piece of its
/// files, so the peak grows with the threads (docs/performance.md, "Threads and memory"). Two are
/// always allowed (when there are two cores): where
/// one env alone is larger than the budget, a second thread is what keeps the build fast. Without a
/// reading of the memory (not Linux), every core is used.
fn env_threads(
    cores: usize,
    envs: usize,
    largest: usize,
    base: Option<Footprint>,
    budget: u64,
) -> usize {
    if largest > ONE_THREAD_FROM_FILE_BYTES {
        return 1;
    }
    let most = cores.clamp(1, envs.max(1));
    match base {
        None => most,
        Some(f) => {
            let room = budget.saturating_sub(f.peak) / (f.growth + THREAD_BYTES);
            most.min(
                usize::try_from(room)
                    .unwrap_or(usize::MAX)
                    .saturating_add(1)
                    .max(2),
            )
        }
    }
}

/// The peak that threads beyond the second must fit in: a quarter of the memory the machine has
/// available when the build starts, so that a build never crowds out what else runs there (a
/// CI runner's other jobs, an editor), and at least [`MIN_MEMORY_BUDGET`]. Without a reading of
/// the memory, that minimum.
fn memory_budget(available: Option<u64>) -> u64 {
    available.map_or(MIN_MEMORY_BUDGET, |a| (a / 4).max(MIN_MEMORY_BUDGET))
}

/// The smallest budget: what a 1,000-node × 50-env build needs on two threads, with room for the
/// estimate's error (docs/performance.md).
const MIN_MEMORY_BUDGET: u64 = 90 << 20;

/// `MemAvailable` from `/proc/meminfo` (Linux only), in bytes.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line["MemAvailable:".len()..]
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    Some(kb << 10)
}

/// What a thread takes beyond what the base's rendering took: its stack, its own heap, and
/// resolving its env's model, which the base did before it was measured. With it, the estimate
/// stays above what each thread beyond the second costs in every 1,000 × 50 tree
/// (docs/performance.md, "Figures behind the code").
const THREAD_BYTES: u64 = 4 << 20;

/// The machine's cores, or `PGTOPO_CORES` in their stead: with it, the tests run the tree on more
/// threads than a CI machine has cores, and docs/performance.md measures the memory budget for
/// larger machines than its own.
fn cores() -> usize {
    std::env::var("PGTOPO_CORES")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// Resident memory in bytes, now and at the peak so far, from `/proc/self/status` (Linux only).
fn resident() -> Option<(u64, u64)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name))?;
        let kb: u64 = line[name.len()..]
            .trim()
            .strip_suffix("kB")?
            .trim()
            .parse()
            .ok()?;
        Some(kb << 10)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// Envs render one at a time when a file of the base is larger than this. Most of a model's
/// files are rendered in small parts (Kubernetes overlays a cluster at a time, `hosts` in pieces
/// of about 1 MiB), but a Compose project is one file, and rendering it takes about three times
/// its size, so two such envs at once would double a peak that is already large.
const ONE_THREAD_FROM_FILE_BYTES: usize = 8 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    fn footprint(peak: u64, growth: u64) -> Option<Footprint> {
        Some(Footprint {
            peak: peak * MIB,
            growth: growth * MIB,
        })
    }

    #[test]
    fn threads_beyond_two_fit_the_memory_budget() {
        // The footprints of containers 100 × 10 × 50 (peak 64 MiB after rendering the base,
        // which took 23) and containers 10 × 100 × 50 (24 and 8), as measured.
        let b = MIN_MEMORY_BUDGET;
        assert_eq!(env_threads(16, 50, 0, footprint(64, 23), b), 2);
        assert_eq!(env_threads(16, 50, 0, footprint(24, 8), b), 6);
        // Two threads even when the base alone is past the budget; one core, one env or one huge
        // file: one thread.
        assert_eq!(env_threads(16, 50, 0, footprint(300, 200), b), 2);
        assert_eq!(env_threads(1, 50, 0, footprint(6, 1), b), 1);
        assert_eq!(env_threads(16, 1, 0, footprint(6, 1), b), 1);
        assert_eq!(
            env_threads(16, 50, ONE_THREAD_FROM_FILE_BYTES + 1, footprint(6, 1), b),
            1
        );
        // A small topology: every core, up to 21 threads of 4 MiB beside the first.
        assert_eq!(env_threads(8, 50, 0, footprint(6, 0), b), 8);
        assert_eq!(env_threads(64, 50, 0, footprint(6, 0), b), 22);
        // No reading of the memory: every core, at most one per env.
        assert_eq!(env_threads(16, 50, 0, None, b), 16);
        assert_eq!(env_threads(16, 3, 0, None, b), 3);
        // A machine with more memory allows more threads for the same tree: 16 GiB available
        // gives a 4 GiB budget.
        let big = memory_budget(Some(16 << 30));
        assert_eq!(big, 4 << 30);
        assert_eq!(env_threads(16, 50, 0, footprint(64, 23), big), 16);
        // Little memory, or none read: the minimum.
        assert_eq!(memory_budget(Some(100 << 20)), MIN_MEMORY_BUDGET);
        assert_eq!(memory_budget(None), MIN_MEMORY_BUDGET);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn resident_memory_is_read_on_linux() {
        let (now, peak) = resident().expect("/proc/self/status has VmRSS and VmHWM");
        assert!(now > 0 && now <= peak, "{now} {peak}");
    }
}
