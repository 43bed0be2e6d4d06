//! PT113 unknown-parameter
//!
//! What: every name under `parameters` exists in the cluster's `postgres version` (custom
//! `extension.setting` names are accepted).
//! Why: PostgreSQL refuses to start on an unknown setting; the classic trap is `wal_keep_segments`,
//! which became `wal_keep_size` in 13 (seed 001 fell into it the other way round).
//! Example: `wal_keep_segments 64` with `postgres version=15`.

use crate::check::pg_params::{all_names, availability, Availability};
use crate::check::{Context, Rule};
use crate::diag::{codes, did_you_mean, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT113,
    run,
};

fn renamed(name: &str) -> Option<&'static str> {
    match name {
        "wal_keep_segments" => Some("wal_keep_size (in bytes: segments × 16MB)"),
        "wal_keep_size" => Some("wal_keep_segments (in 16MB segments)"),
        "force_parallel_mode" => Some("debug_parallel_query"),
        "debug_parallel_query" => Some("force_parallel_mode"),
        "checkpoint_segments" => Some("max_wal_size"),
        _ => None,
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let v = c.postgres.version.value;
        for (name, p) in &c.parameters {
            let (msg, help) = match availability(name, v) {
                Availability::Available => continue,
                Availability::OtherVersions(first, last) => {
                    let range = if last == u32::MAX {
                        format!("{first} and later")
                    } else {
                        format!("{first}–{last}")
                    };
                    let help = match renamed(name) {
                        Some(r) => format!("PostgreSQL {v} spells it {r}"),
                        None => format!("remove it, or change `postgres version` (it exists in PostgreSQL {range})"),
                    };
                    (
                        format!("`{name}` does not exist in PostgreSQL {v} (only in {range})"),
                        help,
                    )
                }
                Availability::Unknown => {
                    let help = match did_you_mean(name, all_names()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "spell parameters as postgresql.conf does; extension settings are `extension.name`".to_owned(),
                    };
                    (format!("unknown PostgreSQL parameter `{name}`"), help)
                }
            };
            out.push(
                Diagnostic::error(codes::PT113, msg)
                    .with_span(p.span, format!("not a PostgreSQL {v} setting"))
                    .with_related(c.postgres.version.span, "version declared here")
                    .with_help(help),
            );
        }
    }
}
