//! PT113 unknown-parameter
//!
//! What: every name under `parameters` exists, and can be set, in the cluster's `postgres version`
//! (custom `extension.setting` names are accepted), according to the catalogue generated from
//! real servers (src/check/pg_params.rs); a major the catalogue lacks gets one warning instead.
//! Why: PostgreSQL refuses to start on an unknown setting; the classic trap is `wal_keep_segments`,
//! which became `wal_keep_size` in 13 (seed 001 fell into it the other way round).
//! Example: `wal_keep_segments 64` with `postgres version=15`.

use crate::check::pg_params::{
    self, all_names, availability, Availability, FIRST_MAJOR, LAST_MAJOR,
};
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
        if pg_params::catalogue(v).is_none() && !c.parameters.is_empty() {
            // Without a catalogue nothing can be said of the names, and guessing from another
            // major would report settings that exist as unknown.
            out.push(
                Diagnostic::warning(
                    codes::PT113,
                    format!("pgtopo has no parameter catalogue for PostgreSQL {v}: its parameters are not checked"),
                )
                .with_span(c.postgres.version.span, format!("PostgreSQL {v}"))
                .with_help(format!(
                    "pgtopo knows PostgreSQL {FIRST_MAJOR} to {LAST_MAJOR}: declare one of those, or add PostgreSQL {v} to tools/pg-catalog/versions.tsv and run tools/pg-catalog/generate.sh"
                )),
            );
            continue;
        }
        for (name, p) in &c.parameters {
            let mut label = format!("not a PostgreSQL {v} setting");
            let (msg, help) = match availability(name, v) {
                Availability::Available | Availability::NoCatalogue => continue,
                Availability::ReadOnly => {
                    label = format!("read-only in PostgreSQL {v}");
                    (
                        format!("`{name}` cannot be set: it is a read-only PostgreSQL setting"),
                        "remove it; PostgreSQL fixes it when it is built or when initdb creates the cluster".to_owned(),
                    )
                }
                Availability::Spelling(canonical) => {
                    label = format!("PostgreSQL spells it `{canonical}`");
                    (
                        format!("write `{canonical}` as PostgreSQL spells it, not `{name}`"),
                        format!("PostgreSQL ignores the case of names, but pgtopo's own checks and the settings it derives compare them exactly: spell it `{canonical}`"),
                    )
                }
                Availability::OtherVersions(first, last) => {
                    let range = if last == LAST_MAJOR {
                        format!("{first} and later")
                    } else if first == last {
                        format!("{first}")
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
                    let help = match (renamed(name), did_you_mean(name, all_names())) {
                        (Some(r), _) => format!("PostgreSQL {v} spells it {r}"),
                        (None, Some(s)) => format!("did you mean `{s}`?"),
                        (None, None) => "spell parameters as postgresql.conf does; extension settings are `extension.name`".to_owned(),
                    };
                    (format!("unknown PostgreSQL parameter `{name}`"), help)
                }
            };
            out.push(
                Diagnostic::error(codes::PT113, msg)
                    .with_span(p.span, label)
                    .with_related(c.postgres.version.span, "version declared here")
                    .with_help(help),
            );
        }
    }
}
