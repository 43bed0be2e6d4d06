//! `pgtopo explain [ENV]`.

use pgtopo::views::explain::explain;

use super::{load_env, write_stdout, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Environment to explain (default: the base).
    env: Option<String>,
}

pub fn run(ctx: &Ctx, args: Args) -> i32 {
    match load_env(ctx, args.env.as_deref()) {
        Ok((program, env)) => {
            let topo = program
                .get(env.as_deref())
                .expect("load_env checked the env");
            write_stdout(&explain(topo, &program.name))
                .err()
                .unwrap_or(0)
        }
        Err(code) => code,
    }
}
