//! `pgtopo lint [FILES…]`.

use std::path::PathBuf;

use clap::ValueEnum;

use pgtopo::diag::{to_json, Severity};

use super::{load, render, write_stdout, Ctx};

#[derive(clap::Args)]
pub struct Args {
    /// Topology files to check (default: the topology file, see --file).
    files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Exit 1 on warnings too.
    #[arg(long)]
    deny_warnings: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

pub fn run(ctx: &Ctx, args: Args) -> i32 {
    let files = if args.files.is_empty() {
        vec![ctx.topology_path()]
    } else {
        args.files
    };
    let mut io_error = false;
    let (mut errors, mut warnings) = (0usize, 0usize);
    let mut human = String::new();
    let mut json = Vec::new();
    for path in &files {
        let loaded = match load(path) {
            Ok(l) => l,
            Err(msg) => {
                eprintln!("{msg}");
                io_error = true;
                continue;
            }
        };
        let diags = &loaded.compilation.diagnostics;
        errors += diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .count();
        warnings += diags
            .iter()
            .filter(|d| d.severity == Severity::Warning)
            .count();
        match args.format {
            Format::Human => human.push_str(&render(ctx, &loaded, diags)),
            Format::Json => {
                for d in diags {
                    json.push(
                        serde_json::to_value(to_json(d, &loaded.display, &loaded.source))
                            .expect("plain data serializes"),
                    );
                }
            }
        }
    }
    let text = match args.format {
        Format::Human => {
            if errors + warnings > 0 {
                human.push_str(&format!(
                    "{errors} error(s), {warnings} warning(s) in {} file(s)\n",
                    files.len()
                ));
            }
            human
        }
        Format::Json => serde_json::to_string_pretty(&json).expect("plain data serializes") + "\n",
    };
    // A reader that closed the pipe (`| head`) still gets lint's verdict in the exit code.
    if let Err(code @ 2) = write_stdout(&text) {
        return code;
    }
    if io_error {
        2
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        1
    } else {
        0
    }
}
