//! PT173's reading of parameter values agrees with real PostgreSQL servers: for every major,
//! tests/fixtures/pg_probes/pgNN.tsv holds what a real server answered to each value of
//! tools/pg-catalog/probes.tsv (`postgres -C NAME -c NAME=VALUE`), and pgtopo must accept exactly
//! the values the server accepted and compute the same stored value.

mod common;

use pgtopo::check::pg_params::{catalogue, VarType, FIRST_MAJOR, LAST_MAJOR};
use pgtopo::check::pg_value::{check, Parsed};

fn build_option(name: &str, value: &str) -> bool {
    let text =
        std::fs::read_to_string(common::repo().join("src/check/pg_catalog/build-options.tsv"))
            .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .any(|l| l.split('\t').take(2).eq([name, value]))
}

/// wal_buffers values that its check hook stores as 4.
fn server_ok_raised(value: &str) -> bool {
    matches!(value, "0" | "1" | "2" | "3")
}

#[test]
fn values_are_read_as_real_servers_read_them() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for major in FIRST_MAJOR..=LAST_MAJOR {
        let path = common::repo().join(format!("tests/fixtures/pg_probes/pg{major}.tsv"));
        let text = std::fs::read_to_string(&path).unwrap();
        let cat = catalogue(major).unwrap();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let f: Vec<&str> = line.split('\t').collect();
            let [name, value, verdict, stored] = f[..] else {
                panic!("{}: bad line {line:?}", path.display());
            };
            let setting = cat
                .get(name)
                .unwrap_or_else(|| panic!("{major}: {name} probed but not in the catalogue"));
            let ours = check(setting, major, value);
            checked += 1;
            // The probed servers are built without lz4, zstd and liburing; the values those
            // add (src/check/pg_catalog/build-options.tsv) are accepted by the builds people run.
            if setting.vartype == VarType::Enum && build_option(name, value) {
                assert!(ours.is_ok(), "{major} {name}={value:?}: {ours:?}");
                continue;
            }
            // Check hooks pgtopo does not model: the sum of max_connections,
            // autovacuum_max_workers, max_worker_processes and max_wal_senders is capped at
            // 262143 backends, and a wal_buffers below 4 blocks is raised to 4.
            let backends = matches!(
                name,
                "max_connections"
                    | "autovacuum_max_workers"
                    | "max_worker_processes"
                    | "max_wal_senders"
            );
            if (backends && value == "262143") || (name == "wal_buffers" && server_ok_raised(value))
            {
                continue;
            }
            let server_ok = verdict == "ok";
            // A string's check hook (log_destination, DateStyle) can refuse what parses: pgtopo
            // does not check strings, so only its acceptance is required of it.
            if setting.vartype == VarType::String {
                if ours.is_err() {
                    failures.push(format!("{major} {name}={value:?}: refused a string"));
                }
                continue;
            }
            match (&ours, server_ok) {
                (Ok(_), false) | (Err(_), true) => failures.push(format!(
                    "{major} {name}={value:?}: server {verdict}, pgtopo {ours:?}"
                )),
                (Ok(Parsed::Number(v)), true) => {
                    let theirs: f64 = stored.parse().unwrap_or(f64::NAN);
                    let same = (v - theirs).abs() <= 1e-6 * v.abs().max(1.0)
                        || (v.is_nan() && theirs.is_nan());
                    if !same {
                        failures.push(format!(
                            "{major} {name}={value:?}: server stored {stored}, pgtopo {v}"
                        ));
                    }
                }
                (Ok(Parsed::Bool(b)), true) if stored != if *b { "on" } else { "off" } => {
                    failures.push(format!(
                        "{major} {name}={value:?}: server stored {stored}, pgtopo {b}"
                    ));
                }
                _ => {}
            }
        }
    }
    assert!(checked > 3000, "only {checked} probes");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
