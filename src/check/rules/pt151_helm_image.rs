//! PT151 helm-image (warning)
//!
//! What: with the helm target, a declared `postgres image=` is one the cluster's chart can run:
//! `bitnami/postgresql-repmgr` for bitnami/postgresql-ha, `bitnami/postgresql` for
//! bitnami/postgresql, a `ghcr.io/cloudnative-pg/*` operand image for CloudNativePG.
//! Why: each chart drives its container through that image's own entrypoint (bitnami's environment
//! variables, CloudNativePG's instance manager); another image would not start, so the values use
//! the chart's image instead, and this says so.
//! Example: `postgres version=15 image="citusdata/pg_auto_failover:v2.1"` on CloudNativePG.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::emit::helm::charts::{self, image_fits, native_repository};
use crate::model::{HelmChart, Target};

pub const RULE: Rule = Rule {
    code: codes::PT151,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    if !cx.topo.has_target(Target::Helm) {
        return;
    }
    for c in &cx.topo.clusters {
        if !c.postgres.image_declared || image_fits(c) {
            continue;
        }
        let chart = c.helm.chart.value;
        let used = match chart {
            HelmChart::Cnpg => charts::cnpg_image(c),
            _ => match charts::bitnami_tag(c) {
                Some(tag) => format!("{}:{tag}", native_repository(chart)),
                None => format!("{} at the chart's own tag", native_repository(chart)),
            },
        };
        out.push(
            Diagnostic::warning(
                codes::PT151,
                format!(
                    "the {chart} chart cannot run image \"{}\" (cluster \"{}\"); the Helm values use {used}",
                    c.postgres.image.value, c.name
                ),
            )
            .with_span(c.postgres.image.span, "not this chart's image")
            .with_help(format!(
                "{} needs {} images; set one for the helm target or choose another chart with `helm chart=\"…\"`",
                chart,
                native_repository(chart)
            )),
        );
    }
}
