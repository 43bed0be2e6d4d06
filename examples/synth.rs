//! Prints a synthetic topology: `cargo run --example synth -- containers|vms CLUSTERS NODES ENVS
//! [TOUCHED]`, each env patching every cluster, or only TOUCHED of them.

use pgtopo::synth::{topology_touching, Flavor};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: synth containers|vms CLUSTERS NODES_PER_CLUSTER ENVS [TOUCHED]";
    let flavor = match args.first().map(String::as_str) {
        Some("containers") => Flavor::Containers,
        Some("vms") => Flavor::Vms,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let num = |i: usize| {
        args.get(i).and_then(|s| s.parse().ok()).unwrap_or_else(|| {
            eprintln!("{usage}");
            std::process::exit(2)
        })
    };
    let clusters = num(1);
    let touched = if args.len() > 4 { num(4) } else { clusters };
    print!(
        "{}",
        topology_touching(flavor, clusters, num(2), num(3), touched)
    );
}
