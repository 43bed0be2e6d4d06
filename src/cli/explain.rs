//! `pgtopo explain [ENV]`.

use pgtopo::views::explain::explain;

use super::{load, render, write_stdout, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Environment to explain (default: the base).
    env: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> i32 {
    let loaded = match load(&ctx.topology_path()) {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("{msg}");
            return 2;
        }
    };
    let Some(program) = loaded.compilation.program(&loaded.name()) else {
        eprint!("{}", render(ctx, &loaded, &loaded.compilation.diagnostics));
        return 1;
    };
    let Some(topo) = program.get(args.env.as_deref()) else {
        eprintln!(
            "error[PT008]: the topology has no env \"{}\"",
            args.env.unwrap_or_default()
        );
        return 1;
    };
    write_stdout(&explain(topo, &program.name))
        .err()
        .unwrap_or(0)
}
