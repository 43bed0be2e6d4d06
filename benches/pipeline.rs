//! Times every phase of the pipeline: `cargo bench --bench pipeline` prints one table. Besides
//! the phases: `lint` (parse, resolve and check the base and every env), `build_env` (what
//! `pgtopo build ENV --target T` computes, for the last env, summed over every target) and
//! `build_all` (every file of every target: `build --out` without the writing).
//!
//! No benchmark framework: each measurement runs adaptively (at least 3 runs, more while the
//! total stays under the time budget, at most 101) and reports the median, which is robust to
//! the noise of a shared machine. Cases: every file in topologies/ and synthetic topologies of
//! 100 / 1,000 / 10,000 nodes × 5 / 50 envs in both flavors (together they cover every target).
//! The 10,000-node × 50-env cases take long; set PGTOPO_BENCH_HUGE=1 to include them.
//! PGTOPO_BENCH_FILTER=substring keeps only the cases whose name contains it.

use std::time::{Duration, Instant};

use pgtopo::check;
use pgtopo::driver;
use pgtopo::emit;
use pgtopo::model;
use pgtopo::syntax;
use pgtopo::synth::{topology, Flavor};

/// The time spent on one measurement before it stops adding runs.
const BUDGET: Duration = Duration::from_millis(300);

fn median<F: FnMut()>(mut f: F) -> (Duration, usize) {
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 3 || (start.elapsed() < BUDGET && times.len() < 101) {
        let t = Instant::now();
        f();
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2], times.len())
}

fn fmt(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn bench(name: &str, src: &str) {
    let doc = syntax::parse(src).expect("the benchmark topology parses");
    let mut sink = Vec::new();
    let envs: Vec<String> = model::env_names(&doc, &mut sink)
        .into_iter()
        .map(|e| e.value)
        .collect();
    let mut c = driver::compile(src);
    assert!(!c.has_errors(), "{name} has errors: {:?}", c.diagnostics);
    let program = c
        .program(name)
        .expect("an error-free compilation has a program");
    let nodes: usize = program.base.clusters.iter().map(|c| c.nodes.len()).sum();
    let mut row: Vec<(String, Duration, usize)> = Vec::new();

    let (t, n) = median(|| {
        std::hint::black_box(syntax::parse(src).unwrap());
    });
    row.push(("parse".into(), t, n));
    let (t, n) = median(|| {
        for env in std::iter::once(None).chain(envs.iter().map(|e| Some(e.as_str()))) {
            std::hint::black_box(model::resolve(&doc, env).unwrap());
        }
    });
    row.push(("resolve".into(), t, n));
    let (t, n) = median(|| {
        for topo in program.all() {
            std::hint::black_box(check::run(&check::Context { topo, doc: &doc }));
        }
    });
    row.push(("check".into(), t, n));
    for target in program.build_targets() {
        let (t, n) = median(|| {
            std::hint::black_box(emit::files(target, &program).unwrap());
        });
        row.push((target.as_str().to_owned(), t, n));
    }
    let (t, n) = median(|| {
        std::hint::black_box(driver::compile(src));
    });
    row.push(("lint".into(), t, n));
    // What `pgtopo build ENV --target T` does, for the last env and every target in turn.
    let last = envs.last().map(String::as_str);
    let (t, n) = median(|| {
        let mut c = driver::compile_for(src, driver::Envs::Only(last));
        let p = c.program(name).unwrap();
        for target in p.build_targets() {
            std::hint::black_box(
                emit::stdout(target, &p, last, &emit::Options::default()).unwrap(),
            );
        }
    });
    row.push(("build_env".into(), t, n));
    let (t, n) = median(|| {
        let mut c = driver::compile(src);
        let p = c.program(name).unwrap();
        std::hint::black_box(emit::build_all(&p).unwrap());
    });
    row.push(("build_all".into(), t, n));

    let cells: Vec<String> = row
        .iter()
        .map(|(k, t, n)| format!("{k} {} (n={n})", fmt(*t)))
        .collect();
    println!(
        "{name:<28} {:>6} nodes {:>3} envs {:>7} KiB | {}",
        nodes,
        envs.len(),
        src.len() / 1024,
        cells.join(" | ")
    );
}

fn main() {
    // `cargo test --all-targets` (the test command) runs this binary without `--bench`, in a debug
    // build: there it is a smoke test of the harness on one small topology, not a measurement.
    if !std::env::args().any(|a| a == "--bench") {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies/tiered.kdl");
        bench(
            "tiered (smoke test; run `cargo bench --bench pipeline` to measure)",
            &std::fs::read_to_string(path).unwrap(),
        );
        return;
    }
    // `cargo bench` passes `--bench`; a filter given on the command line is honoured too.
    let filter = std::env::var("PGTOPO_BENCH_FILTER")
        .ok()
        .or_else(|| std::env::args().skip(1).find(|a| !a.starts_with('-')));
    let keep = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));
    let huge = std::env::var_os("PGTOPO_BENCH_HUGE").is_some();
    println!("median of n runs per phase; resolve and check cover the base and every env");

    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/topologies");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("topologies/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    files.sort();
    for path in files {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if keep(&name) {
            bench(&name, &std::fs::read_to_string(&path).unwrap());
        }
    }

    // Nodes as clusters × nodes per cluster. The first three grow the number of clusters of ten
    // nodes (linear growth); the last two grow the clusters themselves, where per-node VM configs
    // list every peer and so grow with the square of a cluster (PT161 caps a cluster at 256).
    let sizes = [(10, 10), (100, 10), (1000, 10), (10, 100), (40, 250)];
    for (flavor, tag) in [(Flavor::Containers, "containers"), (Flavor::Vms, "vms")] {
        for (clusters, per) in sizes {
            for envs in [5, 50] {
                if clusters * per >= 10_000 && envs == 50 && !huge {
                    continue;
                }
                let name = format!("{tag}-{}x{per}x{envs}", clusters);
                if keep(&name) {
                    bench(&name, &topology(flavor, clusters, per, envs));
                }
            }
        }
    }
    if !huge {
        println!("(10,000 nodes × 50 envs skipped; set PGTOPO_BENCH_HUGE=1)");
    }
}
