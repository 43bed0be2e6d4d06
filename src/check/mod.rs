//! Phase 3: checks on the resolved model — `pgtopo lint`.
//!
//! One rule per file under `rules/`, each with a stable code and a "what / why / example" doc;
//! [`RULES`] is the registry. Rules run on every resolved model (the base and each env) and the
//! driver removes the repeats, so a rule never needs to know about environments unless the problem
//! is specific to one (PT105, PT115).

pub mod pg_params;
pub mod pg_value;
pub mod rules;

use crate::diag::{Code, Diagnostic};
use crate::model::Topology;
use crate::syntax::Document;

/// What a rule sees: the resolved model, plus the syntax tree for rules about raw text (PT114).
pub struct Context<'a> {
    pub topo: &'a Topology,
    pub doc: &'a Document,
}

/// A lint rule: its code (whose name and summary are in [`crate::diag::codes`]) and its check.
pub struct Rule {
    pub code: Code,
    pub run: fn(&Context, &mut Vec<Diagnostic>),
}

pub use rules::RULES;

/// Whether `name` passes PT160 as a topology, node or env name (a DNS-1123 label).
pub fn valid_name(name: &str) -> bool {
    rules::pt160_invalid_name::dns_label(name, 63).is_ok()
}

/// A finding that a declared target cannot render part of the topology: "the T target cannot
/// express WHAT", pointing at that part and, as related, at the `targets` line. Every target rule
/// words it this way, so a reader learns the pattern once.
pub fn cannot_express(
    code: Code,
    target: &crate::model::Spanned<crate::model::Target>,
    what: impl std::fmt::Display,
    span: crate::diag::Span,
    label: impl Into<String>,
) -> Diagnostic {
    Diagnostic::error(
        code,
        format!("the {} target cannot express {what}", target.value),
    )
    .with_span(span, label)
    .with_related(target.span, "target declared here")
}

/// Runs every rule on one resolved model.
pub fn run(ctx: &Context) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for rule in RULES {
        (rule.run)(ctx, &mut out);
    }
    out
}

/// The targets a finding is about, read from its code's range (the ranges are fixed in
/// docs/language.md): PT120–PT129 kubernetes, PT130–PT139 the VM targets, PT140–PT149 compose,
/// PT150–PT159 helm. `None` means every target (core rules, syntax, names). `pgtopo build` uses it
/// to keep, say, Helm warnings out of the way of someone printing Kubernetes manifests.
pub fn code_targets(code: Code) -> Option<&'static [crate::model::Target]> {
    use crate::model::Target::*;
    match code.number() {
        120..=129 => Some(&[Kubernetes]),
        130..=139 => Some(&[Haproxy, Keepalived, Hosts]),
        140..=149 => Some(&[Compose]),
        150..=159 => Some(&[Helm]),
        _ => None,
    }
}
