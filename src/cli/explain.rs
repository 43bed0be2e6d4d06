//! `pgtopo explain [ENV]`.

use pgtopo::views::explain::explain;

use super::{load_env, write_stdout, Ctx, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Environment to explain (default: the base).
    env: Option<String>,
}

pub fn run(ctx: &Ctx, args: &Args) -> Exit {
    match load_env(ctx, args.env.as_deref()) {
        Ok((program, env)) => {
            let topo = program
                .get(env.as_deref())
                .expect("load_env checked the env");
            write_stdout(ctx, &explain(topo, &program.name))
                .err()
                .unwrap_or(Exit::Success)
        }
        Err(exit) => exit,
    }
}
