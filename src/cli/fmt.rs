//! `pgtopo fmt [--check] [FILES…]`: rewrite topology files in the canonical layout.

use std::path::PathBuf;

use pgtopo::syntax::{self, fmt::format};

use super::Ctx;

#[derive(clap::Args)]
pub struct Args {
    /// Files to format (default: the topology file, see --file).
    files: Vec<PathBuf>,
    /// Change nothing; exit 1 if a file is not formatted.
    #[arg(long)]
    check: bool,
}

pub fn run(ctx: &Ctx, args: Args) -> i32 {
    let files = if args.files.is_empty() {
        vec![ctx.topology_path()]
    } else {
        args.files
    };
    let mut status = 0;
    for path in &files {
        let src = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error[PT010]: cannot read {}: {e}", path.display());
                status = 2;
                continue;
            }
        };
        let before = match syntax::parse(&src) {
            Ok(d) => d,
            Err(_) => {
                eprintln!(
                    "pgtopo fmt: {} is not valid KDL; run `pgtopo lint` to see why",
                    path.display()
                );
                status = status.max(1);
                continue;
            }
        };
        let formatted = format(&src);
        // Formatting must never change meaning; refuse rather than risk it.
        if !syntax::parse(&formatted).is_ok_and(|after| before.same_meaning(&after)) {
            eprintln!("pgtopo fmt: formatting {} would change its meaning; left as is (please report this)", path.display());
            status = 2;
            continue;
        }
        if formatted == src {
            continue;
        }
        if args.check {
            println!("would reformat {}", path.display());
            status = status.max(1);
        } else if let Err(e) = std::fs::write(path, &formatted) {
            eprintln!("error[PT010]: cannot write {}: {e}", path.display());
            status = 2;
        } else {
            eprintln!("formatted {}", path.display());
        }
    }
    status
}
