//! The `pgtopo` binary: all IO and every exit code live in `cli`.

mod alloc;
mod cli;

#[global_allocator]
static ALLOCATOR: alloc::Hybrid = alloc::Hybrid;

fn main() {
    std::process::exit(cli::main());
}
