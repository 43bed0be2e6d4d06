//! The `pgtopo` binary: all IO and every exit code live in `cli`.

mod cli;

fn main() {
    std::process::exit(cli::main());
}
