//! PT153 helm-node-settings (warning)
//!
//! What: with the helm target, no node carries a setting the cluster's chart cannot give one pod
//! of its StatefulSet: `priority`, `zone`, `upstream` (cascading) or `failover=#false`. The charts
//! run identical pods (`<cluster>-postgresql-0…` for bitnami, `<cluster>-1…` for CloudNativePG)
//! whose roles the failover manager assigns at run time.
//! Why: these settings decide which node is promoted, where it runs and where it streams from;
//! silently dropping them would deploy a different failover behavior than the one reviewed.
//! Example: `node "b" role="async" failover=#false` on bitnami/postgresql-ha.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{HelmChart, Target};

pub const RULE: Rule = Rule {
    code: codes::PT153,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    if !cx.topo.has_target(Target::Helm) {
        return;
    }
    for c in &cx.topo.clusters {
        let chart = c.helm.chart.value;
        if chart == HelmChart::BitnamiPostgresql {
            continue;
        }
        // One finding per cluster: listing every node separately buries the point.
        let mut lost_by_node = Vec::new();
        let mut first_span = None;
        for n in &c.nodes {
            let mut lost = Vec::new();
            if let Some(p) = &n.priority {
                lost.push(format!("priority={}", p.value));
            }
            if let Some(z) = &n.zone {
                lost.push(format!("zone=\"{}\"", z.value));
            }
            if let Some(u) = &n.upstream {
                lost.push(format!("upstream=\"{}\"", u.value));
            }
            if !n.failover {
                lost.push("failover=#false".to_owned());
            }
            if !lost.is_empty() {
                first_span.get_or_insert(n.span);
                lost_by_node.push(format!("{} ({})", n.name, lost.join(", ")));
            }
        }
        let Some(span) = first_span else { continue };
        out.push(
            Diagnostic::warning(
                codes::PT153,
                format!("the {chart} chart has no per-node settings; cluster \"{}\" loses them on: {}", c.name, lost_by_node.join("; ")),
            )
            .with_span(span, "not expressible per pod")
            .with_help("the chart's pods are interchangeable; drop these settings for the helm target or accept the chart's behavior"),
        );
    }
}
