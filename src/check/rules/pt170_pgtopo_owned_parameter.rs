//! PT170 pgtopo-owned-parameter
//!
//! What: `parameters` does not set, to a different value, a setting that pgtopo derives from the
//! topology (port, listen_addresses, synchronous_standby_names, hot_standby, primary_conninfo,
//! primary_slot_name, and archive_mode/archive_command while a `backup` exists). Writing the value
//! pgtopo derives anyway is accepted.
//! Why: the topology property is the one truth that `explain`, `diff`, the failover manager and
//! every target read; a parameter that overrode it would make the emitted files disagree with
//! them (with `synchronous_standby_names ''` the cluster runs fully asynchronous while `explain`
//! still says a commit waits for a standby).
//! Example: `parameters { synchronous_standby_names "" }` in a cluster with a `sync` node.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::ParamValue;
use crate::plan::params::{self, owned_by, plain_value, Placement};

pub const RULE: Rule = Rule {
    code: codes::PT170,
    run,
};

/// A value as compared: booleans in every spelling PostgreSQL accepts become on/off.
fn normal(v: &ParamValue) -> String {
    let s = plain_value(v).to_ascii_lowercase();
    match s.as_str() {
        "true" | "yes" | "1" | "on" => "on".to_owned(),
        "false" | "no" | "0" | "off" => "off".to_owned(),
        _ => s,
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let owned: Vec<_> = c
            .parameters
            .iter()
            .filter_map(|(k, p)| owned_by(c, k).map(|why| (k, p, why)))
            .collect();
        if owned.is_empty() {
            continue;
        }
        // What pgtopo derives for each node, without the user's parameters: a user value is
        // accepted only where it equals the derived one on every node.
        let mut bare = c.clone();
        bare.parameters.clear();
        let peers = params::streaming_peers(cx.topo, c);
        let derived: Vec<Vec<params::Setting>> = bare
            .nodes
            .iter()
            .map(|n| {
                let at = if n.host.is_some() {
                    Placement::Host
                } else {
                    Placement::Container
                };
                params::server_params(&bare, n, at, peers)
            })
            .collect();
        for (name, p, why) in owned {
            let mine = normal(&p.value);
            let agrees = derived.iter().all(|settings| {
                settings
                    .iter()
                    .find(|s| s.name == *name)
                    .is_some_and(|s| normal(&s.value) == mine)
            });
            if agrees {
                continue;
            }
            out.push(
                Diagnostic::error(
                    codes::PT170,
                    format!(
                        "`{name}` is derived from the topology and cannot be set in `parameters`"
                    ),
                )
                .with_span(p.span, "pgtopo owns this setting")
                .with_help(format!("remove it and set {why} instead")),
            );
        }
    }
}
