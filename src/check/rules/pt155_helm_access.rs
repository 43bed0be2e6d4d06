//! PT155 helm-access
//!
//! What: with the helm target, the access a cluster declares (`role`, a database's `extension`
//! and `connection-limit`, `hba`, `tls`) is what its chart renders. CloudNativePG renders roles
//! (`cluster.roles`), every database with its owner, limit and extensions (`databases`: one
//! Database object each), `postgresql.pg_hba` and the server certificate, but reads a login
//! role's password (a declared login `role`'s or a database owner's) from a basic-auth Secret
//! `<secret>-<role>` rather than the topology's Secret, checks client certificates against its
//! own CA, and cannot name a Database object for a database called `postgres`, `template0` or
//! `template1` (reserved by the operator) or whose name ends in `_` (warnings). The bitnami
//! charts render all of it (an init script, `pgHbaConfiguration`, `tls`), but need
//! `tls secret=`, and in bitnami/postgresql-ha Pgpool-II cannot pass a client certificate on and
//! logs in as the chart's user, the superuser when the first database has no owner (warnings).
//! Why: nothing declared is silently dropped: a reviewer of the Helm output must know which
//! roles, rules or certificates the chart will not set up.
//! Example: `cluster "db" { helm chart="bitnami/postgresql-ha"; tls mode="require" dir="/etc/pg-tls" … }`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic, Span};
use crate::emit::helm::cnpg::{self, role_secret};
use crate::model::{Cluster, HbaMethod, HelmChart, Target, Topology};

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
            HelmChart::Cnpg => cnpg(cx.topo, c, out),
            chart => bitnami(c, chart, out),
        }
    }
}

fn cnpg(t: &Topology, c: &Cluster, out: &mut Vec<Diagnostic>) {
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
    // A database owner that is no declared `role` is a login role too (`cluster.roles`), with
    // the same Secret; without it the operator does not create the role, and the owner's
    // Database object cannot be created either.
    let mut owners: Vec<&str> = Vec::new();
    for o in c.databases.iter().filter_map(|d| d.owner.as_ref()) {
        if c.role(&o.value).is_some() || owners.contains(&o.value.as_str()) {
            continue;
        }
        owners.push(&o.value);
        let initdb = !cnpg::is_copy(t, c)
            && c.databases
                .first()
                .and_then(|d| d.owner.as_ref())
                .is_some_and(|f| f.value == o.value);
        let without = if initdb {
            "initdb creates the role, but the operator cannot reconcile it without that Secret"
        } else {
            "without it the role is not created, nor the databases it owns"
        };
        out.push(warn(
            o.span,
            format!(
                "CloudNativePG reads the password of database owner \"{}\" from a basic-auth Secret \"{}\" (keys username, password), not from key \"{}-password\" of \"{}\"; {without}",
                o.value,
                role_secret(c, &o.value),
                o.value,
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
    // Every database gets a Database object (limit and extensions included), except one the
    // chart cannot name; a copy (restore, replica cluster) has its source's databases and gets
    // none, as it runs no initdb.
    if cnpg::is_copy(t, c) {
        return;
    }
    for (i, d) in c.databases.iter().enumerate() {
        let Some(why) = cnpg::database_refused(c, &d.name) else {
            continue;
        };
        // The reserved databases exist in every cluster and initdb creates the first one, so
        // only their limit and extensions are lost; any other database is not created at all.
        let exists = i == 0 || cnpg::CNPG_RESERVED_DATABASES.contains(&d.name.as_str());
        let lost = match (&d.connection_limit, d.extensions.is_empty()) {
            _ if !exists => "is not created",
            (Some(_), false) => {
                "keeps its default connection limit and gets none of its `extension`s"
            }
            (Some(_), true) => "keeps its default connection limit",
            (None, false) => "gets none of its `extension`s",
            (None, true) => continue,
        };
        let help = if exists {
            "set them up after deployment (the kubernetes target renders them)"
        } else {
            "rename the database without the trailing '_', or create it after deployment"
        };
        out.push(warn(
            d.span,
            format!(
                "{why}: database \"{}\" of cluster \"{}\" {lost} on helm",
                d.name, c.name
            ),
            help,
        ));
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
    // The chart's Pgpool-II logs in as the chart's user (its own entry in pool_passwd, its
    // probes), which is the first database's owner; without one it is the superuser, and the
    // chart has no value for another role.
    let owner = c.databases.first().and_then(|d| d.owner.as_ref());
    if owner.is_none() && !c.is_standby_cluster() {
        let span = if c.helm.chart_declared {
            c.helm.chart.span
        } else {
            c.name_span
        };
        let msg = format!(
            "Pgpool-II of {chart} logs in to the nodes as the chart's user, the first database's owner; cluster \"{}\" declares no database with an owner, so it logs in as the superuser \"postgres\"",
            c.name
        );
        out.push(
            Diagnostic::warning(codes::PT155, msg)
                .with_span(span, "its Pgpool-II logs in as the superuser")
                .with_help(
                    "declare the first database with an owner (`database \"app\" owner=\"app\"`): the chart's Pgpool-II then logs in as that role".to_owned(),
                ),
        );
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
