//! PT164 cert-without-verify-full (error)
//!
//! What: an `hba` rule with `method="cert"` in a cluster whose `tls` is missing or below
//! `mode="verify-full"`.
//! Why: a certificate login needs TLS and a CA to check the client's certificate against; pgtopo
//! checks client certificates only under `verify-full`. Without it the row either cannot match
//! (no TLS) or admits what the cluster's TLS settings do not promise to verify.
//! Example: `tls mode="require" dir="/etc/tls"` with `allow user="auditor" address="10.0.9.15/32"
//! method="cert"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{HbaMethod, TlsMode};

pub const RULE: Rule = Rule {
    code: codes::PT164,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(h) = &c.hba else { continue };
        if c.tls_mode() == Some(TlsMode::VerifyFull) {
            continue;
        }
        for r in h.rules.iter().filter(|r| r.method.value == HbaMethod::Cert) {
            let mut d = Diagnostic::error(
                codes::PT164,
                format!(
                    "cluster \"{}\": a certificate login needs `tls mode=\"verify-full\"`, which checks client certificates",
                    c.name
                ),
            )
            .with_span(r.method.span, "method=\"cert\"")
            .with_help("set `tls mode=\"verify-full\"` with the CA that signs the clients' certificates, or use method=\"scram-sha-256\"");
            if let Some(t) = &c.tls {
                d = d.with_related(t.mode.span, "TLS is weaker here");
            }
            out.push(d);
        }
    }
}
