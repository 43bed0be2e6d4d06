//! PT155 helm-access
//!
//! What: with the helm target, the access a cluster declares (`role`, a database's `extension`
//! and `connection-limit`, `hba`, `tls`) is what its chart renders. CloudNativePG renders roles
//! (`cluster.roles`), the first database's limit and extensions, `postgresql.pg_hba` and the
//! server certificate, but reads a login role's password from a basic-auth Secret
//! `<secret>-<role>` rather than the topology's Secret, and checks client certificates against
//! its own CA (warnings). The bitnami charts render all of it (an init script, `pgHbaConfiguration`,
//! `tls`), but need `tls secret=`, and in bitnami/postgresql-ha Pgpool-II cannot pass a client
//! certificate on (warnings).
//! Why: nothing declared is silently dropped: a reviewer of the Helm output must know which
//! roles, rules or certificates the chart will not set up.
//! Example: `cluster "db" { helm chart="bitnami/postgresql-ha"; tls mode="require" dir="/etc/pg-tls" … }`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic, Span};
use crate::emit::helm::cnpg::role_secret;
use crate::model::{Cluster, HbaMethod, HelmChart, Target};

pub const RULE: Rule = Rule {
    code: codes::PT155,
    run,
};

fn warn(span: Span, msg: String, help: &str) -> Diagnostic {
    Diagnostic::warning(codes::PT155, msg)
        .with_span(span, "not rendered as declared by the chart")
        .with_help(help.to_owned())
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    if !cx.topo.has_target(Target::Helm) {
        return;
    }
    for c in &cx.topo.clusters {
        match c.helm.chart.value {
            HelmChart::Cnpg => cnpg(c, out),
            chart => bitnami(c, chart, out),
        }
    }
}

fn cnpg(c: &Cluster, out: &mut Vec<Diagnostic>) {
    for r in c.roles.iter().filter(|r| r.login) {
        out.push(warn(
            r.name_span,
            format!(
                "CloudNativePG reads the password of `role` \"{}\" from a basic-auth Secret \"{}\" (keys username, password), not from key \"{}-password\" of \"{}\"",
                r.name,
                role_secret(c, &r.name),
                r.name,
                c.credentials.secret.value
            ),
            "create that Secret beside the chart's release (type kubernetes.io/basic-auth)",
        ));
    }
    let cert = c
        .hba
        .iter()
        .flat_map(|h| &h.rules)
        .find(|r| r.method.value == HbaMethod::Cert);
    if let Some(r) = cert {
        out.push(warn(
            r.method.span,
            format!(
                "CloudNativePG checks client certificates against its own client CA; the `hba` rule for \"{}\" (method cert) needs certificates it signs",
                r.user.value
            ),
            "issue the client certificates from the operator's client CA (cluster.certificates.clientCASecret)",
        ));
    }
    for d in c.databases.iter().skip(1) {
        if let Some(l) = &d.connection_limit {
            out.push(warn(
                l.span,
                format!("CloudNativePG creates only the first database; the `database` \"{}\" connection limit is not set", d.name),
                "set it after deployment, or use the kubernetes target",
            ));
        }
        if let Some(e) = d.extensions.first() {
            out.push(warn(
                e.span,
                format!("CloudNativePG creates only the first database; the `extension`s of database \"{}\" are not created", d.name),
                "create them after deployment, or use the kubernetes target",
            ));
        }
    }
}

fn bitnami(c: &Cluster, chart: HelmChart, out: &mut Vec<Diagnostic>) {
    // The roles, databases, limits and extensions are the init script's, the rules the chart's
    // pg_hba.conf and the certificate its `tls` values: what is still lost is below.
    if let Some(t) = c.tls.as_ref().filter(|t| t.secret.is_none()) {
        out.push(warn(
            t.span,
            format!(
                "{chart} mounts the server certificate from a Secret; the `tls` of cluster \"{}\" names none, so TLS is not turned on",
                c.name
            ),
            "add `secret=` with a kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt)",
        ));
    }
    if chart != HelmChart::BitnamiPostgresqlHa {
        return;
    }
    let Some(h) = &c.hba else {
        return;
    };
    if let Some(r) = h.rules.iter().find(|r| r.method.value == HbaMethod::Cert) {
        out.push(warn(
            r.method.span,
            format!(
                "Pgpool-II of {chart} cannot hand a client certificate on to PostgreSQL; the `hba` rule for \"{}\" (method cert) holds only for connections to Service \"{}-postgresql\"",
                r.user.value, c.name
            ),
            "connect certificate logins to the PostgreSQL Service, not Pgpool-II's",
        ));
    }
}
