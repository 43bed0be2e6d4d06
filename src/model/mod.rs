//! Phase 2: syntax tree → resolved [`Topology`] for the base or one environment.

pub mod credentials;
pub mod env;
mod lower;
pub mod quantity;
pub mod reader;
pub mod types;

pub use lower::{default_chart, default_image, DEFAULT_PG_VERSION, DEFAULT_STORAGE};
pub use types::*;

use crate::diag::{codes, did_you_mean, Diagnostic};
use crate::syntax::{Document, Value};

/// The names of the environments a document declares, with their spans, in order.
/// A name given twice, or an env without a name, is reported into `d`.
pub fn env_names(doc: &Document, d: &mut Vec<Diagnostic>) -> Vec<Spanned<String>> {
    let mut out: Vec<Spanned<String>> = Vec::new();
    for e in env::env_nodes(doc) {
        match e.args.first() {
            Some(a) => match &a.value {
                Value::String(s) => {
                    if let Some(prev) = out.iter().find(|p| &p.value == s) {
                        d.push(
                            Diagnostic::error(
                                codes::PT102,
                                format!("env \"{s}\" is declared twice"),
                            )
                            .with_span(a.span, "second declaration")
                            .with_related(prev.span, "first declaration")
                            .with_help("put every change of an environment in one `env` block"),
                        );
                    } else {
                        out.push(Spanned::new(s.clone(), a.span));
                    }
                }
                other => d.push(
                    Diagnostic::error(
                        codes::PT003,
                        format!("an env name must be a string, found {}", other.type_name()),
                    )
                    .with_span(a.span, "expected a name")
                    .with_help("write `env \"prod\" { … }`"),
                ),
            },
            None => d.push(
                Diagnostic::error(codes::PT004, "`env` needs a name")
                    .with_span(e.name_span, "name missing")
                    .with_help("write `env \"prod\" { … }`"),
            ),
        }
        // Every env's files are written under the one topology name: an env cannot rename it.
        for t in e.children.iter().filter(|c| c.name == "topology") {
            d.push(
                Diagnostic::error(codes::PT001, "`topology` cannot be set inside an env")
                    .with_span(t.name_span, "not allowed in an env")
                    .with_help(
                        "the topology's name names the outputs of the base and every env; set it once, at the top level",
                    ),
            );
        }
        for (k, p) in &e.props {
            d.push(
                Diagnostic::error(codes::PT002, format!("unknown property `{k}` on `env`"))
                    .with_span(p.span, "unknown property")
                    .with_help("`env` takes only a name and a block of patches"),
            );
        }
    }
    out
}

/// PT008: `name` is not one of the `declared` envs. The one diagnostic for it, with a "did you
/// mean" when a declared name is close, else the names there are; every command that takes an
/// ENV gives this.
pub fn unknown_env(name: &str, declared: &[&str]) -> Diagnostic {
    let diag = Diagnostic::error(codes::PT008, format!("the topology has no env \"{name}\""));
    match did_you_mean(name, declared.iter().copied()) {
        Some(s) => diag.with_help(format!("did you mean \"{s}\"?")),
        None if declared.is_empty() => {
            diag.with_help("this topology declares no env blocks; leave ENV out to use the base")
        }
        None => diag.with_help(format!(
            "declared envs: {}",
            declared
                .iter()
                .map(|e| format!("\"{e}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Resolves the topology for the base (`env = None`) or one environment.
///
/// Returns the model together with every problem of form found while lowering; the model is
/// complete enough for checks to run even when some nodes were rejected, and callers must not emit
/// anything when an error is among the diagnostics.
pub fn resolve(
    doc: &Document,
    env: Option<&str>,
) -> Result<(Topology, Vec<Diagnostic>), Vec<Diagnostic>> {
    let mut d = Vec::new();
    let envs = env_names(doc, &mut d);
    let env_node = match env {
        None => None,
        Some(name) => match env::env_nodes(doc).find(|n| n.first_arg_str() == Some(name)) {
            Some(n) => Some(n),
            None => {
                let declared: Vec<&str> = envs.iter().map(|e| e.value.as_str()).collect();
                return Err(vec![unknown_env(name, &declared)]);
            }
        },
    };
    // The base is lowered from the document as it is (`lower` passes over env blocks); an env
    // from the document with the env's block merged in, where only the top-level nodes the env
    // patches are copied: copying the whole document was a measurable part of `lint` of large
    // files for the base, and of every env of a large estate (docs/performance.md).
    let mut topo = match env_node {
        None => lower::lower(&doc.nodes, env, envs, &mut d),
        Some(e) => lower::lower(env::apply(doc, e).iter().map(|n| &**n), env, envs, &mut d),
    };
    if env.is_some() {
        for x in &mut d {
            x.env = env.map(str::to_owned);
        }
    }
    if topo.targets.is_empty() && !d.iter().any(|x| x.message.contains("target")) {
        d.push(
            Diagnostic::error(codes::PT004, "the topology declares no targets").with_help(
                "start the file with the outputs you want, e.g. `targets \"kubernetes\" \"helm\"`",
            ),
        );
    }
    if topo.clusters.is_empty() && !d.iter().any(|x| x.is_error()) {
        d.push(
            Diagnostic::error(codes::PT007, "the topology declares no cluster")
                .with_help("add `cluster \"main\" { node \"db1\" role=\"primary\" }`"),
        );
    }
    topo.targets.dedup_by(|a, b| a.value == b.value);
    Ok((topo, d))
}
