//! The `pgtopo` binary: all IO and every exit code live in `cli`.

#![forbid(unsafe_code)]

mod cli;

fn main() {
    std::process::exit(cli::main());
}
