//! `pgtopo fmt [--check] [FILES…]`: rewrite topology files in the canonical layout.

use std::path::PathBuf;
use std::sync::Arc;

use pgtopo::diag::{codes, render_human, Diagnostic};
use pgtopo::syntax::{self, fmt::format};

use super::{not_found, Ctx, Exit, Input};

#[derive(clap::Args)]
pub struct Args {
    /// Files to format (default: the topology file, see --file).
    files: Vec<PathBuf>,
    /// Change nothing; exit 1 if a file is not formatted.
    #[arg(long)]
    check: bool,
}

pub fn run(ctx: &Ctx, args: &Args) -> Exit {
    let files = if args.files.is_empty() {
        vec![ctx.topology_path()]
    } else {
        args.files.iter().cloned().map(Input::argument).collect()
    };
    let mut status = Exit::Success;
    for input in &files {
        status = status.max(one(ctx, input, args.check));
    }
    status
}

/// Formats (or checks) one file; what came of it.
fn one(ctx: &Ctx, input: &Input, check: bool) -> Exit {
    let path = &input.path;
    let display = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            ctx.report(&display, &[not_found(input)]);
            return Exit::Io;
        }
        Err(e) => return ctx.io_error(path, "read", &e),
    };
    let Ok(src) = String::from_utf8(bytes) else {
        ctx.report(
            &display,
            &[
                Diagnostic::error(codes::PT009, format!("{display} is not UTF-8 text"))
                    .with_help("save the topology as UTF-8; KDL files are always UTF-8"),
            ],
        );
        return Exit::Findings;
    };
    let before = match syntax::parse(&src) {
        Ok(d) => d,
        // The syntax errors themselves, as `lint` shows them: fmt lays out only valid KDL.
        Err(diags) => {
            eprint!(
                "{}",
                render_human(&diags, &display, &Arc::new(src), ctx.color)
            );
            return Exit::Findings;
        }
    };
    let formatted = format(&src);
    // Formatting must never change meaning; refuse rather than risk it.
    if !syntax::parse(&formatted).is_ok_and(|after| before.same_meaning(&after)) {
        eprintln!("pgtopo fmt: formatting {display} would change its meaning; left as is (please report this)");
        return Exit::Internal;
    }
    if formatted == src {
        return Exit::Success;
    }
    if check {
        println!("would reformat {display}");
        Exit::Findings
    } else if let Err(e) = std::fs::write(path, &formatted) {
        ctx.io_error(path, "written", &e)
    } else {
        eprintln!("formatted {display}");
        Exit::Success
    }
}
