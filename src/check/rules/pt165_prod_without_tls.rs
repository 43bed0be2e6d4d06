//! PT165 prod-without-tls (warning)
//!
//! What: in an env whose name says production (`prod`, `production`, `prd`, alone or as a word
//! of the name such as `eu-prod`), a cluster without `tls`, or with `tls mode="prefer"`, which
//! lets clients connect without TLS.
//! Why: passwords are never sent in clear (scram-sha-256), but queries and their results are; a
//! production database should refuse clients that do not use TLS (`mode="require"` or
//! `"verify-full"`). A warning: a private network may be judged enough.
//! Example: `env "prod" { cluster "db" { … } }` with no `tls` in the base or the env.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::TlsMode;

pub const RULE: Rule = Rule {
    code: codes::PT165,
    run,
};

/// Whether an env's name says production.
pub fn is_production(env: &str) -> bool {
    env.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| matches!(w, "prod" | "production" | "prd"))
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some(env) = cx.topo.env.as_deref().filter(|e| is_production(e)) else {
        return;
    };
    let env_span = cx.topo.envs.iter().find(|e| e.value == env).map(|e| e.span);
    for c in &cx.topo.clusters {
        let (span, label, what) = match &c.tls {
            None => (c.name_span, "no `tls`", "has no `tls`".to_owned()),
            Some(t) if t.mode.value == TlsMode::Prefer => (
                t.mode.span,
                "clients may skip TLS",
                "lets clients connect without TLS (`mode=\"prefer\"`)".to_owned(),
            ),
            Some(_) => continue,
        };
        let mut d = Diagnostic::warning(
            codes::PT165,
            format!("cluster \"{}\" {what} in a production env", c.name),
        )
        .with_span(span, label)
        .with_help("add `tls mode=\"require\"` (or \"verify-full\") with the server certificate's secret= or dir=");
        if let Some(s) = env_span {
            d = d.with_related(s, "a production env");
        }
        out.push(d);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn production_names() {
        for n in ["prod", "Production", "prd", "eu-prod", "prod_2"] {
            assert!(super::is_production(n), "{n}");
        }
        for n in ["product", "preprod", "staging", "dev", "produce"] {
            assert!(!super::is_production(n), "{n}");
        }
    }
}
