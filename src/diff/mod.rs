//! What a change does, for `pgtopo diff`: a semantic summary from comparing two resolved models
//! ([`semantic`]) and unified diffs of the emitted files ([`text`]). Pure functions; the CLI reads
//! the old side (a built tree or a git revision) and prints.

pub mod semantic;
pub mod text;
