//! PT140 compose-cannot-express
//!
//! What: with `targets "compose"`, the parts of a topology the Compose target has no rendering
//! for: a standby cluster (`replica-of`), a cascading `upstream` under `failover "repmgr"`
//! (bitnami/postgresql-repmgr takes one upstream, the primary), clusters reading different `credentials env-file=` (one
//! Compose project interpolates one env file), a pooler with `replicas` above 1 (every replica
//! would publish the same host port), and an env named `base` (the base topology's folder).
//! (Failover managers and `target="local"` poolers are PT116's; published port clashes PT108's.)
//! Why: a Compose project that silently dropped one of these would run something other than what
//! was reviewed.
//! Example: `targets "compose"` with `failover "repmgr"` and `node "c" role="async" upstream="b"`.

use crate::check::{cannot_express, Context, Rule};
use crate::diag::{codes, Diagnostic, Span};
use crate::model::{Spanned, Target};
use crate::plan::capabilities;

pub const RULE: Rule = Rule {
    code: codes::PT140,
    run,
};

fn err(target: &Spanned<Target>, span: Span, what: String, help: &str) -> Diagnostic {
    cannot_express(
        codes::PT140,
        target,
        what,
        span,
        "not expressible on compose",
    )
    .with_help(help.to_owned())
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let t = cx.topo;
    let Some(ts) = t.target(Target::Compose) else {
        return;
    };
    let can = capabilities::of(ts.value);
    for c in &t.clusters {
        let m = c.failover.manager.value;
        if let Some(r) = c.replica_of.as_ref().filter(|_| !can.follows_under(m)) {
            out.push(err(
                ts,
                r.span,
                format!("a standby cluster (cluster \"{}\" replica-of \"{}\")", c.name, r.value),
                "on compose, make the standby cluster's nodes standbys of the source cluster, or drop the compose target",
            ));
        }
        // A manager compose does not run at all is PT116's.
        if can.runs(m) && !can.cascades_under(m) {
            for n in &c.nodes {
                if let Some(u) = &n.upstream {
                    out.push(err(
                        ts,
                        u.span,
                        format!("a cascading standby under {m} (node \"{}\" upstream \"{}\")", n.name, u.value),
                        "bitnami/postgresql-repmgr standbys follow the primary; drop `upstream` or use failover \"none\"",
                    ));
                }
            }
        }
        for p in c.poolers.iter().filter(|p| p.replicas.value > 1) {
            out.push(err(
                ts,
                p.replicas.span,
                format!("{} replicas of pooler \"{}\"", p.replicas.value, p.name),
                "every replica would publish the same host port; use replicas=1 or declare a second pooler with its own port",
            ));
        }
    }
    if let Some(first) = t.clusters.first() {
        for c in &t.clusters[1..] {
            if c.credentials.env_file.value != first.credentials.env_file.value {
                out.push(
                    err(
                        ts,
                        c.credentials.env_file.span,
                        format!(
                            "two env files (\"{}\" for cluster \"{}\", \"{}\" for cluster \"{}\")",
                            first.credentials.env_file.value,
                            first.name,
                            c.credentials.env_file.value,
                            c.name
                        ),
                        "one Compose project interpolates one env file; give every cluster the same `credentials env-file=`",
                    )
                    .with_related(first.credentials.env_file.span, "first env file"),
                );
            }
        }
    }
    if let Some(e) = t.envs.iter().find(|e| e.value == "base") {
        out.push(err(
            ts,
            e.span,
            "an env named \"base\"".to_owned(),
            "the base topology is written to compose/base/; rename the env",
        ));
    }
}
