//! `pgtopo graph [ENV] --format mermaid|dot`.

use clap::ValueEnum;

use pgtopo::views::graph;

use super::{load_env, write_stdout, Ctx, Exit};

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

pub fn run(ctx: &Ctx, args: &Args) -> Exit {
    let (program, env) = match load_env(ctx, args.env.as_deref()) {
        Ok(x) => x,
        Err(exit) => return exit,
    };
    let topo = program
        .get(env.as_deref())
        .expect("load_env checked the env");
    let text = match args.format {
        Format::Mermaid => graph::mermaid(topo),
        Format::Dot => graph::dot(topo),
    };
    write_stdout(ctx, &text).err().unwrap_or(Exit::Success)
}
