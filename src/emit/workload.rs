//! The scripts of a `workload`: `load.sql` fills a table with realistic rows through the write
//! endpoint, and `verify.sh` checks that every node has them. Their text is the templates
//! `workload-load.sql.j2`, `workload-verify.sh.j2` and `workload-run.sh.j2`, rendered here from
//! the model and shared by every target that runs workloads (kubernetes and compose); the
//! targets only decide which hosts the scripts are pointed at.
//!
//! The rows are derived from their id alone (names, countries and dates are picked from fixed
//! arrays by arithmetic on the id), so two runs load byte-identical data and a re-run of a
//! failed Job inserts nothing twice (`ON CONFLICT (id) DO NOTHING`).

use crate::emit::text;
use crate::model::Workload;

/// File name of the load script inside the scripts folder / ConfigMap.
pub const LOAD_SQL: &str = "load.sql";
/// File name of the verify script inside the scripts folder / ConfigMap.
pub const VERIFY_SH: &str = "verify.sh";

const FIRST: &[&str] = &[
    "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Mia", "Lucas",
    "Aisha", "Mateo", "Yuki", "Ravi", "Ingrid", "Kwame", "Chloe", "Diego", "Fatima", "Lars", "Mei",
    "Omar", "Priya", "Sven",
];
const LAST: &[&str] = &[
    "Smith",
    "Garcia",
    "Müller",
    "Rossi",
    "Dubois",
    "Kowalski",
    "Nguyen",
    "Tanaka",
    "Silva",
    "Johansson",
    "Okafor",
    "Patel",
    "Kim",
    "Novak",
    "Haddad",
    "Jensen",
    "Lopez",
    "Fischer",
    "Ivanova",
    "Murphy",
    "Costa",
    "Schmidt",
    "Yilmaz",
    "Andersen",
];
const COUNTRIES: &[&str] = &[
    "US", "DE", "FR", "GB", "ES", "IT", "NL", "PL", "SE", "JP", "IN", "BR", "NG", "CA", "AU", "MX",
];

/// A SQL identifier, double-quoted so any table name the topology gives is safe.
fn ident(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn sql_array(items: &[&str]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| format!("'{}'", s.replace('\'', "''")))
        .collect();
    format!("ARRAY[{}]", quoted.join(", "))
}

/// The table's name: the load's, else `users`.
pub fn table(w: &Workload) -> &str {
    w.load
        .as_ref()
        .map(|l| l.table.value.as_str())
        .unwrap_or("users")
}

/// `load.sql`: run with `psql -v ON_ERROR_STOP=1 -f load.sql` through the write endpoint.
pub fn load_sql(w: &Workload) -> String {
    let t = ident(table(w));
    let (rows, batch) = match &w.load {
        Some(l) => (l.rows.value, u64::from(l.batch.value.max(1))),
        None => (0, 1000),
    };
    text::render(
        "workload-load.sql",
        minijinja::context! {
            workload => &w.name,
            table => &t,
            // setval takes the table's name as a string literal holding the quoted identifier.
            table_literal => format!("'{}'", t.replace('\'', "''")),
            rows => rows,
            batch => batch,
            first_names => sql_array(FIRST),
            last_names => sql_array(LAST),
            countries => sql_array(COUNTRIES),
        },
    )
}

/// File name of the wrapper that runs both, for containers.
pub const RUN_SH: &str = "run.sh";

/// `run.sh DIR`-style wrapper for containers: load through `$WRITE` (when the workload loads),
/// then verify the nodes given as arguments, in continuous mode when `interval` is set.
pub fn run_sh(w: &Workload, dir: &str) -> String {
    text::render(
        "workload-run.sh",
        minijinja::context! {
            workload => &w.name,
            dir => dir,
            load => w.load.is_some(),
            looping => w.verify.as_ref().is_some_and(|v| v.interval.is_some()),
            load_sql => LOAD_SQL,
            verify_sh => VERIFY_SH,
        },
    )
}

/// `verify.sh`: POSIX sh and psql only.
pub fn verify_sh(w: &Workload) -> String {
    let (timeout, interval) = match &w.verify {
        Some(v) => (v.timeout.value, v.interval.as_ref().map(|i| i.value)),
        None => (120, None),
    };
    text::render(
        "workload-verify.sh",
        minijinja::context! {
            workload => &w.name,
            table => ident(table(w)),
            timeout => timeout,
            interval => interval.unwrap_or(10),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Span;
    use crate::model::{Load, Spanned, Verify};

    fn w() -> Workload {
        let s = Span::from(0..0);
        Workload {
            name: "users".into(),
            cluster: Spanned::new("main".into(), s),
            load: Some(Load {
                rows: Spanned::new(2500, s),
                table: Spanned::new("users".into(), s),
                batch: Spanned::new(1000, s),
                span: s,
            }),
            verify: Some(Verify {
                every_node: true,
                interval: None,
                timeout: Spanned::new(30, s),
                span: s,
            }),
            span: s,
        }
    }

    #[test]
    fn scripts_are_deterministic_and_parameterised() {
        assert_eq!(load_sql(&w()), load_sql(&w()));
        let l = load_sql(&w());
        assert!(l.contains("total bigint := 2500;") && l.contains("batch bigint := 1000;"));
        assert!(!l.contains("random("));
        let v = verify_sh(&w());
        assert!(v.starts_with("#!/bin/sh\n") && v.contains("TIMEOUT=\"${TIMEOUT:-30}\""));
        assert!(v.contains("TABLE='\"users\"'"));
    }
}
