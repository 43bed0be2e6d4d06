//! The `compose` target.

use crate::bundle::Bundle;
use crate::diag::Diagnostic;
use crate::emit::{not_yet, Options, Program};
use crate::model::Target;

pub fn files(_p: &Program) -> Result<Bundle, Vec<Diagnostic>> {
    Err(not_yet(Target::Compose))
}

pub fn stdout(
    _p: &Program,
    _env: Option<&str>,
    _opts: &Options,
) -> Result<String, Vec<Diagnostic>> {
    Err(not_yet(Target::Compose))
}
