//! `pgtopo graph [ENV] --format mermaid|dot`.

use clap::ValueEnum;

use pgtopo::views::graph;

use super::{load, render, write_stdout, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Environment to draw (default: the base).
    env: Option<String>,
    /// Mermaid (renders on GitHub) or Graphviz DOT.
    #[arg(long, value_enum, default_value_t = Format::Mermaid)]
    format: Format,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Mermaid,
    Dot,
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
    let text = match args.format {
        Format::Mermaid => graph::mermaid(topo),
        Format::Dot => graph::dot(topo),
    };
    write_stdout(&text).err().unwrap_or(0)
}
