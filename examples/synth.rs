//! Prints a synthetic topology: `cargo run --example synth -- containers|vms CLUSTERS NODES ENVS`.

use pgtopo::synth::{topology, Flavor};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: synth containers|vms CLUSTERS NODES_PER_CLUSTER ENVS";
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
    print!("{}", topology(flavor, num(1), num(2), num(3)));
}
