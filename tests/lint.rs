//! `pgtopo lint`: every rule fires on its fixture, every rendered diagnostic is a golden snapshot
//! (golden/lint/), and the example topologies stay clean.

mod common;

use std::path::PathBuf;
use std::sync::Arc;

use pgtopo::check::RULES;
use pgtopo::diag::{codes, render_human, Severity};
use pgtopo::driver::{compile, compile_bytes};

fn fixtures() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(common::repo().join("tests/fixtures/lint"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    v.sort();
    v
}

/// `pt113_wal_keep_segments.kdl` → `PT113`.
fn code_of(p: &std::path::Path) -> String {
    let stem = p.file_stem().unwrap().to_string_lossy();
    stem.split('_').next().unwrap().to_ascii_uppercase()
}

#[test]
fn every_fixture_triggers_its_code_and_matches_its_snapshot() {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(common::repo().join("golden/lint"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    let _guard = settings.bind_to_scope();
    for path in fixtures() {
        let bytes = std::fs::read(&path).unwrap();
        let (source, c) = compile_bytes(&bytes);
        let code = code_of(&path);
        let name = format!(
            "tests/fixtures/lint/{}",
            path.file_name().unwrap().to_string_lossy()
        );
        assert!(
            c.diagnostics.iter().any(|d| d.code == code.as_str()),
            "{name} should trigger {code}, got {:?}",
            c.diagnostics
                .iter()
                .map(|d| (d.code, &d.message))
                .collect::<Vec<_>>()
        );
        for d in &c.diagnostics {
            assert!(d.help.is_some(), "{name}: {} has no help line", d.code);
            if d.code != "PT007" {
                assert!(d.span.is_some(), "{name}: {} has no span", d.code);
            }
        }
        let rendered = render_human(&c.diagnostics, &name, &Arc::new(source), false);
        insta::assert_snapshot!(
            path.file_stem().unwrap().to_string_lossy().into_owned(),
            rendered
        );
    }
}

#[test]
fn every_rule_has_a_fixture() {
    let have: Vec<String> = fixtures().iter().map(|p| code_of(p)).collect();
    for rule in RULES {
        assert!(
            have.iter().any(|c| rule.code == c.as_str()),
            "rule {} ({}) has no fixture in tests/fixtures/lint",
            rule.code,
            rule.code.name()
        );
    }
}

#[test]
fn rule_codes_are_unique() {
    for (i, rule) in RULES.iter().enumerate() {
        assert!(
            !RULES[..i].iter().any(|r| r.code == rule.code),
            "{} is used twice",
            rule.code
        );
    }
}

/// docs/language.md's table of codes and `diag::codes::ALL` list the same codes, in the same
/// order: a code added to one place and not the other fails here.
#[test]
fn every_code_is_documented_and_every_documented_code_exists() {
    let doc = std::fs::read_to_string(common::repo().join("docs/language.md")).unwrap();
    let table = doc
        .split("## Lint codes")
        .nth(1)
        .expect("docs/language.md has a section \"Lint codes\"");
    let documented: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| PT"))
        .map(|l| &l[..3])
        .collect();
    let documented: Vec<String> = documented.iter().map(|n| format!("PT{n}")).collect();
    let defined: Vec<&str> = codes::ALL.iter().map(|c| c.as_str()).collect();
    for c in &defined {
        assert!(
            documented.iter().any(|d| d == c),
            "{c} is not in docs/language.md's table of codes"
        );
    }
    for d in &documented {
        assert!(
            defined.contains(&d.as_str()),
            "docs/language.md lists {d}, which src/diag/codes.rs does not define"
        );
    }
    assert_eq!(documented, defined, "the table follows the codes' order");
}

/// Warnings an example topology deserves (docs/language.md says why); anything else is a regression.
const EXPECTED_WARNINGS: &[(&str, &str)] = &[
    ("haproxy-keepalived", "PT118"),
    // mirror-db targets Helm, whose chart for it (CloudNativePG) cannot say everything it says.
    ("mirror-db", "PT150"),
    ("mirror-db", "PT151"),
    ("mirror-db", "PT152"),
    ("mirror-db", "PT153"),
    ("mirror-db", "PT154"),
    // Seed 001's prod overlay has no TLS; PT165 says a production env should require it.
    ("mirror-db", "PT165"),
    // Seed 002's WAL folder, kept as written in the design example; PT180 suggests a repository.
    ("repmgr-pgpool", "PT180"),
    // orders-access targets Helm too, and its chart (CloudNativePG again) replaces
    // pg_auto_failover, picks any standby as the synchronous one and listens on 5432.
    ("orders-access", "PT150"),
    ("orders-access", "PT152"),
    ("orders-access", "PT154"),
    // CloudNativePG reads its login roles' passwords from basic-auth Secrets of its own.
    ("orders-access", "PT155"),
    // The design example of repmgr-pgpool names bitnami/postgresql-repmgr:15, a tag Docker Hub no
    // longer serves; topologies/ pulls it from bitnamilegacy instead, so only the example warns.
    ("repmgr-pgpool", "PT175"),
    // orders-backup targets Helm too: CloudNativePG replaces pg_auto_failover and picks any
    // standby as the synchronous one, reads its own Secrets, and takes no incremental backups
    // (barman-cloud backs up in full only).
    ("orders-backup", "PT150"),
    ("orders-backup", "PT154"),
    // bitnami-ha's workload runs as a Job from the kubernetes build; the Helm values carry none.
    ("bitnami-ha", "PT172"),
];

#[test]
fn example_topologies_are_lint_clean() {
    for (name, path) in common::topologies() {
        let c = compile(&std::fs::read_to_string(&path).unwrap());
        for d in &c.diagnostics {
            let expected = d.severity == Severity::Warning
                && EXPECTED_WARNINGS.contains(&(name.as_str(), d.code.as_str()));
            assert!(
                expected,
                "{name}: unexpected {} {}: {}",
                d.code,
                if d.is_error() { "error" } else { "warning" },
                d.message
            );
        }
    }
}

#[test]
fn environments_merge_by_the_documented_rule() {
    let src = std::fs::read_to_string(common::repo().join("topologies/mirror-db.kdl")).unwrap();
    let c = compile(&src);
    assert!(!c.has_errors());
    let base = c.base.as_ref().unwrap();
    let dev = c
        .envs
        .iter()
        .find(|t| t.env.as_deref() == Some("dev"))
        .unwrap();
    let prod = c
        .envs
        .iter()
        .find(|t| t.env.as_deref() == Some("prod"))
        .unwrap();
    let (b, d, p) = (&base.clusters[0], &dev.clusters[0], &prod.clusters[0]);
    // `nodes` keeps a subset, in declaration order.
    assert_eq!(b.nodes.len(), 4);
    assert_eq!(
        d.nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        ["postgres-0", "postgres-1"]
    );
    // Once-only children merge by name; their arguments are replaced.
    assert_eq!(d.namespace.value, "db-dev");
    assert_eq!(d.storage.size.value, "10Gi");
    assert_eq!(p.storage.class.as_ref().unwrap().value, "fast-ssd");
    // Nested once-only children merge property by property: monitor keeps its port.
    let m = d.failover.monitor.as_ref().unwrap();
    assert_eq!((m.port.value, m.storage.value.as_str()), (6001, "2Gi"));
    // Repeating children merge by name and first argument; untouched properties survive.
    let pb = p
        .poolers
        .iter()
        .find(|x| x.name == "pgbouncer-primary")
        .unwrap();
    assert_eq!(pb.replicas.value, 2);
    assert_eq!(
        pb.resources.requests.memory.as_ref().unwrap().value,
        "256Mi"
    );
    assert_eq!(pb.resources.requests.cpu.as_ref().unwrap().value, "50m");
    assert_eq!(pb.pool.size.value, 10);
    // Labels merge key by key; the base is untouched by any env.
    assert_eq!(p.labels["environment"].value, "production");
    assert!(b.labels.is_empty());
    assert_eq!(p.postgres.image.value, "citusdata/pg_auto_failover:v2.1.0");
    assert_eq!(
        b.synchronous_standby_names().as_deref(),
        Some("ANY 1 (\"postgres-1\")")
    );
}

/// The language contract: every example in `shared/design/examples/` compiles as written (with
/// at most the warnings its copy in `topologies/` is allowed). `topologies/tiered.kdl` adds seed
/// 003's continuous workload to its copy and `topologies/repmgr-pgpool.kdl` pulls its image from
/// bitnamilegacy (PT175); the others are identical. The day-2 examples are
/// [`landed_day2_examples_compile_as_written`]'s.
#[test]
fn design_examples_compile_as_written() {
    let dir = common::reference("").join("../design/examples");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        let c = compile(&std::fs::read_to_string(&p).unwrap());
        for d in &c.diagnostics {
            let allowed = d.severity == Severity::Warning
                && EXPECTED_WARNINGS.contains(&(name.as_str(), d.code.as_str()));
            assert!(allowed, "design example {name}: {} {}", d.code, d.message);
        }
        n += 1;
    }
    assert_eq!(n, 5, "five design examples");
}

/// Access nodes merge as docs/language.md says: `role` by name (a later line's properties win),
/// `extension` by name inside its database, and an env's `hba` block replaces the base's whole.
#[test]
fn access_nodes_merge_by_the_documented_rule() {
    let src = r#"
targets "kubernetes"
cluster "db" {
    role "app" login=#true connection-limit=10
    role "app" connection-limit=20
    database "app" owner="app" { extension "pgcrypto"; }
    hba {
        allow database="app" user="app" address="10.0.0.0/16"
        reject address="0.0.0.0/0"
    }
    node "db1" role="primary"
}
env "prod" {
    cluster "db" {
        role "app" member-of="pg_read_all_data"
        role "ops"
        database "app" { extension "pg_stat_statements"; }
        hba {
            allow database="all" user="ops" address="10.9.0.0/24"
        }
    }
}
"#;
    let c = compile(src);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let base = &c.base.as_ref().unwrap().clusters[0];
    let prod = &c.envs[0].clusters[0];
    assert_eq!(base.roles.len(), 1);
    assert!(base.roles[0].login);
    assert_eq!(base.roles[0].connection_limit.as_ref().unwrap().value, 20);
    assert_eq!(prod.roles.len(), 2);
    assert_eq!(prod.roles[0].member_of[0].value, "pg_read_all_data");
    assert!(prod.roles[0].login, "the env keeps the base's login=");
    let ext: Vec<&str> = prod.databases[0]
        .extensions
        .iter()
        .map(|e| e.value.as_str())
        .collect();
    assert_eq!(ext, ["pgcrypto", "pg_stat_statements"]);
    let rules = &prod.hba.as_ref().unwrap().rules;
    assert_eq!(rules.len(), 1, "the env's hba replaces the base's rules");
    assert_eq!(rules[0].user.value, "ops");
    assert_eq!(base.hba.as_ref().unwrap().rules.len(), 2);
}

/// The day-2 contract (`shared/design/day2/`): each file compiles as written, with no
/// diagnostic, once its issue has landed, which is when its copy is in `topologies/`.
#[test]
fn landed_day2_examples_compile_as_written() {
    let dir = common::reference("").join("../design/day2");
    let landed: Vec<String> = common::topologies().into_iter().map(|(n, _)| n).collect();
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let p = e.unwrap().path();
        let name = p.file_stem().unwrap().to_string_lossy().into_owned();
        if !landed.contains(&name) {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        let copy =
            std::fs::read_to_string(common::repo().join(format!("topologies/{name}.kdl"))).unwrap();
        assert_eq!(
            copy, text,
            "topologies/{name}.kdl is the contract as written"
        );
        let c = compile(&text);
        for d in &c.diagnostics {
            let allowed = d.severity == Severity::Warning
                && EXPECTED_WARNINGS.contains(&(name.as_str(), d.code.as_str()));
            assert!(allowed, "day-2 example {name}: {} {}", d.code, d.message);
        }
        n += 1;
    }
    assert!(n >= 4, "the access and backup examples have landed: {n}");
}
