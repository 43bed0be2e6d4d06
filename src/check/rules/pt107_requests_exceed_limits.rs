//! PT107 requests-exceed-limits
//!
//! What: each resource request is at most its limit (cluster and pooler `resources`).
//! Why: Kubernetes rejects a pod whose request exceeds its limit, so the StatefulSet would never
//! start a pod; the error only shows up in events after `kubectl apply` succeeded.
//! Example: `requests memory="2Gi"` with `limits memory="1Gi"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::quantity::parse_quantity;
use crate::model::{Resources, Spanned};

pub const RULE: Rule = Rule {
    code: codes::PT107,
    run,
};

fn check(out: &mut Vec<Diagnostic>, owner: &str, r: &Resources) {
    type Quantity<'a> = &'a Option<Spanned<String>>;
    let pairs: [(&str, Quantity, Quantity); 2] = [
        ("cpu", &r.requests.cpu, &r.limits.cpu),
        ("memory", &r.requests.memory, &r.limits.memory),
    ];
    for (what, req, lim) in pairs {
        let (Some(req), Some(lim)) = (req, lim) else {
            continue;
        };
        let (Some(a), Some(b)) = (parse_quantity(&req.value), parse_quantity(&lim.value)) else {
            continue;
        };
        if a > b {
            out.push(
                Diagnostic::error(codes::PT107, format!("{owner} requests {what} {} but limits it to {}", req.value, lim.value))
                    .with_span(req.span, "request above the limit")
                    .with_related(lim.span, "limit")
                    .with_help(format!("raise the {what} limit or lower the request; Kubernetes rejects the pod otherwise")),
            );
        }
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        check(out, &format!("cluster \"{}\"", c.name), &c.resources);
        for p in &c.poolers {
            check(out, &format!("pooler \"{}\"", p.name), &p.resources);
        }
    }
}
