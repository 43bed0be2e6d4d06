//! Nothing declared is silently dropped: every property of the language (docs/language.md's
//! cluster table) is changed in turn, and every target that the table's "used by" column names
//! either changes its output or, building it, reports a finding that names the property (a
//! target that cannot express it yet). A property whose change leaves a target's output and
//! findings untouched is a silent drop, and fails this test.

mod common;

use std::collections::BTreeMap;

use pgtopo::driver;
use pgtopo::emit;
use pgtopo::model::Target;

/// The cluster table of docs/language.md: property → the targets of its "used by" cell.
fn used_by() -> BTreeMap<String, Vec<Target>> {
    let doc = std::fs::read_to_string(common::repo().join("docs/language.md")).unwrap();
    let table = doc
        .split("## cluster")
        .nth(1)
        .expect("docs/language.md has a cluster section")
        .split("\n## ")
        .next()
        .unwrap();
    let mut m = BTreeMap::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").collect();
        let name = cells[0].trim().replace('`', "");
        // "all; image: kubernetes, compose, helm" → the part before `;` speaks for the node.
        let cell = cells.last().unwrap().split(';').next().unwrap().trim();
        // "all" are the targets that run the database nodes; haproxy and keepalived configure
        // only balancers and are named where they use a property.
        let targets = if cell == "all" {
            vec![
                Target::Kubernetes,
                Target::Helm,
                Target::Compose,
                Target::Hosts,
            ]
        } else {
            cell.split(", ")
                .map(|t| {
                    Target::parse(t.trim())
                        .unwrap_or_else(|| panic!("{name}: unknown target {t:?} in `used by`"))
                })
                .collect()
        };
        m.insert(name, targets);
    }
    m
}

/// What building `target` gives: its files, or its findings.
fn build(src: &str, target: Target) -> (String, Vec<String>) {
    let mut c = driver::compile(src);
    let findings: Vec<String> = c
        .diagnostics
        .iter()
        .map(|d| format!("{}: {}", d.code, d.message))
        .collect();
    let Some(p) = c.program("coverage") else {
        panic!("the fixture does not compile:\n{}", findings.join("\n"));
    };
    let files = emit::files(target, &p)
        .map(|b| {
            b.iter()
                .map(|(f, t)| format!("{f}\n{t}"))
                .collect::<String>()
        })
        .unwrap_or_default();
    (files, findings)
}

/// (fixture, docs row, text to replace, replacement).
const MUTATIONS: &[(&str, &str, &str, &str)] = &[
    ("containers", "postgres", "version=15", "version=16"),
    (
        "containers",
        "namespace",
        "namespace \"shop\"",
        "namespace \"shop2\"",
    ),
    ("containers", "labels", "team=\"db\"", "team=\"data\""),
    (
        "containers",
        "credentials",
        "secret=\"shop-creds\" env-file=\"shop.env\"",
        "secret=\"other\" env-file=\"other.env\"",
    ),
    (
        "containers",
        "database",
        "owner=\"order_app\"",
        "owner=\"orders_owner\"",
    ),
    (
        "containers",
        "replication › synchronous",
        "method=\"any\" count=1",
        "method=\"first\" count=1",
    ),
    (
        "containers",
        "replication › slots",
        "slots #true",
        "slots #false",
    ),
    (
        "containers",
        "parameters",
        "work_mem \"8MB\"",
        "work_mem \"16MB\"",
    ),
    (
        "containers",
        "node",
        "node \"db3\" role=\"async\"",
        "node \"db3\" role=\"sync\"",
    ),
    (
        "containers",
        "resources",
        "memory=\"1Gi\"",
        "memory=\"1536Mi\"",
    ),
    ("containers", "storage", "size=\"20Gi\"", "size=\"30Gi\""),
    ("containers", "pdb", "min-available=1", "min-available=2"),
    ("containers", "pooler", "pool size=10", "pool size=12"),
    (
        "containers",
        "monitoring",
        "exporter port=9187",
        "exporter port=9188",
    ),
    (
        "containers",
        "backup",
        "retention full=2",
        "retention full=3",
    ),
    (
        "containers",
        "backup",
        "incremental=\"0 3 * * 1-6\"",
        "incremental=\"0 4 * * 1-6\"",
    ),
    (
        "containers",
        "backup › repository",
        "path=\"/var/lib/pgbackrest\"",
        "path=\"/srv/pgbackrest\"",
    ),
    (
        "containers",
        "restore",
        "restore from=\"shop\"",
        "restore from=\"shop\" time=\"2026-01-01T00:00:00Z\"",
    ),
    (
        "containers",
        "role",
        "connection-limit=5",
        "connection-limit=6",
    ),
    ("containers", "hba", "10.1.0.0/16", "10.2.0.0/16"),
    ("containers", "tls", "mode=\"require\"", "mode=\"prefer\""),
    ("vms", "role", "connection-limit=5", "connection-limit=6"),
    ("vms", "hba", "10.1.0.0/16", "10.2.0.0/16"),
    ("vms", "tls", "mode=\"require\"", "mode=\"prefer\""),
    ("vms", "failover › rest-api", "auth=#true", "auth=#false"),
    (
        "vms",
        "failover › failsafe",
        "failsafe #true",
        "failsafe #false",
    ),
    ("vms", "postgres", "version=15", "version=16"),
    (
        "vms",
        "credentials",
        "env-file=\"pay.env\"",
        "env-file=\"other.env\"",
    ),
    (
        "vms",
        "database",
        "owner=\"ledger_app\"",
        "owner=\"ledger_owner\"",
    ),
    ("vms", "failover", "ttl=30", "ttl=40"),
    ("vms", "failover › dcs", "10.0.0.5:2379", "10.0.0.6:2379"),
    ("vms", "replication › slots", "slots #true", "slots #false"),
    ("vms", "parameters", "work_mem \"8MB\"", "work_mem \"16MB\""),
    (
        "vms",
        "node",
        "node \"db3\" role=\"async\"",
        "node \"db3\" role=\"sync\"",
    ),
    ("vms", "pooler", "pool size=10", "pool size=12"),
    ("vms", "balancer", "port=5000", "port=5003"),
    (
        "vms",
        "monitoring",
        "exporter port=9187",
        "exporter port=9188",
    ),
    ("vms", "backup", "retention full=2", "retention full=3"),
    (
        "vms",
        "backup",
        "incremental=\"0 3 * * 1-6\"",
        "incremental=\"0 4 * * 1-6\"",
    ),
    (
        "vms",
        "backup › repository",
        "path=\"/var/lib/pgbackrest\"",
        "path=\"/srv/pgbackrest\"",
    ),
    (
        "vms",
        "restore",
        "restore from=\"pay\"",
        "restore from=\"pay\" time=\"2026-01-01T00:00:00Z\"",
    ),
];

#[test]
fn every_property_reaches_every_target_that_uses_it_or_is_reported() {
    let used = used_by();
    let mut checked = 0;
    let mut silent = Vec::new();
    for (fixture, row, from, to) in MUTATIONS {
        let path = common::repo().join(format!("tests/fixtures/coverage/{fixture}.kdl"));
        let src = std::fs::read_to_string(&path).unwrap();
        assert!(src.contains(from), "{fixture}.kdl has no {from:?}");
        let changed = src.replace(from, to);
        let targets = used
            .get(*row)
            .unwrap_or_else(|| panic!("docs/language.md's cluster table has no row `{row}`"));
        let declared = pgtopo::driver::compile(&src)
            .program("coverage")
            .unwrap()
            .build_targets();
        // The property's node name as findings spell it (`backup`, `monitoring`, …).
        let word = row.split(' ').next().unwrap();
        for t in declared.iter().filter(|t| targets.contains(t)) {
            let (before, old_findings) = build(&src, *t);
            let (after, findings) = build(&changed, *t);
            // A finding of either side that names the property: what the target cannot express
            // (PT172 names the target; a chart's finding is in the target's code range).
            let reported = old_findings.iter().chain(&findings).any(|f| {
                let code = pgtopo::diag::Code::from_id(f.split(':').next().unwrap());
                f.contains(&format!("`{word}`"))
                    && (f.contains(t.as_str())
                        || code
                            .and_then(pgtopo::check::code_targets)
                            .is_some_and(|ts| ts.contains(t)))
            });
            if before == after && !reported {
                silent.push(format!("{fixture}: `{row}` ({from} → {to}) on {t}"));
            }
            checked += 1;
        }
    }
    assert!(
        checked > 40,
        "only {checked} property × target pairs were checked"
    );
    assert!(
        silent.is_empty(),
        "declared, used by the target (docs/language.md), and silently dropped:\n{}",
        silent.join("\n")
    );
}

/// The "used by" column agrees with the targets' capabilities: a target that cannot express a
/// property yet is not listed as using it.
#[test]
fn used_by_agrees_with_the_capabilities() {
    let used = used_by();
    for t in Target::ALL {
        let can = pgtopo::plan::capabilities::of(*t);
        for (row, able) in [
            ("backup", can.backup),
            ("restore", can.restore),
            ("monitoring", can.monitoring),
        ] {
            if matches!(t, Target::Haproxy | Target::Keepalived) {
                continue;
            }
            assert_eq!(
                used[row].contains(t),
                able,
                "docs/language.md says `{row}` is {}used by {t}, the capabilities say it is {}expressed",
                if used[row].contains(t) { "" } else { "not " },
                if able { "" } else { "not " }
            );
        }
    }
}
