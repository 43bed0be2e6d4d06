//! PT141 compose-service-name
//!
//! What: with `targets "compose"`, every Compose service name is unique across the whole file:
//! the node names of every cluster, the pooler names, `<node>-exporter` for monitored clusters,
//! and `prometheus`/`grafana` (one monitored cluster has them).
//! Why: Compose services share one namespace (and host names on the project network); a second
//! service of one name would replace the first, and `<node>-data` volumes would be shared.
//! Example: two clusters that both declare `node "db1"`, or two clusters with `monitoring`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic, Span};
use crate::model::Target;

pub const RULE: Rule = Rule {
    code: codes::PT141,
    run,
};

/// The Compose services a topology becomes, with the span that names each (the emitter in
/// `emit::compose` produces exactly these names).
fn services(t: &crate::model::Topology) -> Vec<(String, String, Span)> {
    let mut v = Vec::new();
    for c in &t.clusters {
        for n in &c.nodes {
            v.push((
                n.name.clone(),
                format!("node \"{}\" of cluster \"{}\"", n.name, c.name),
                n.name_span,
            ));
        }
        for p in &c.poolers {
            v.push((
                p.name.clone(),
                format!("pooler \"{}\" of cluster \"{}\"", p.name, c.name),
                p.name_span,
            ));
        }
        if let Some(m) = &c.monitoring {
            for n in &c.nodes {
                v.push((
                    format!("{}-exporter", n.name),
                    format!(
                        "the exporter of node \"{}\" of cluster \"{}\"",
                        n.name, c.name
                    ),
                    m.span,
                ));
            }
            v.push((
                "prometheus".to_owned(),
                format!("Prometheus of cluster \"{}\"", c.name),
                m.span,
            ));
            if m.grafana_port.is_some() {
                v.push((
                    "grafana".to_owned(),
                    format!("Grafana of cluster \"{}\"", c.name),
                    m.span,
                ));
            }
        }
    }
    v
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    if !t.has_target(Target::Compose) {
        return;
    }
    let all = services(t);
    // The first service of each name, in a map: scanning every earlier service for each one
    // would cost the square of the services.
    let mut first_of: std::collections::HashMap<&str, usize> = Default::default();
    for (i, (name, what, span)) in all.iter().enumerate() {
        let f = *first_of.entry(name.as_str()).or_insert(i);
        if f != i {
            let (_, first, first_span) = &all[f];
            out.push(
                Diagnostic::error(
                    codes::PT141,
                    format!("{first} and {what} are both the Compose service \"{name}\""),
                )
                .with_span(*span, "second service of this name")
                .with_related(*first_span, "first one")
                .with_help("rename one of them; on compose every node, pooler and monitoring service shares one namespace"),
            );
        }
    }
}
