//! The stack plan holds across targets: one cluster built for kubernetes, compose and hosts runs
//! with the same server parameters everywhere, each component has one image pin, and every
//! target creates every declared database with its owner.

mod common;

use std::collections::BTreeMap;

use pgtopo::catalog;
use pgtopo::emit;
use pgtopo::model::Target;

/// `name = value` lines of a postgresql.conf, comments and blank lines left out.
fn settings(conf: &str) -> BTreeMap<String, String> {
    conf.lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains(" = "))
        .map(|l| {
            let (k, v) = l.split_once(" = ").unwrap();
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

fn fixture() -> pgtopo::emit::Program {
    common::program(&common::repo().join("tests/fixtures/plan/one-stack.kdl"))
}

/// The postgresql.conf a Kubernetes ConfigMap carries.
fn configmap_conf(yaml: &str) -> String {
    for doc in serde_yaml::Deserializer::from_str(yaml) {
        let v: serde_yaml::Value = serde::Deserialize::deserialize(doc).unwrap();
        if v["kind"] == "ConfigMap" {
            if let Some(s) = v["data"]["postgresql.conf"].as_str() {
                return s.to_owned();
            }
        }
    }
    panic!("no ConfigMap with a postgresql.conf in:\n{yaml}");
}

#[test]
fn one_cluster_runs_the_same_parameters_on_every_target() {
    let p = fixture();
    let k8s = emit::files(Target::Kubernetes, &p).unwrap();
    let (_, cm) = k8s
        .iter()
        .find(|(f, c)| f.starts_with("base/") && c.contains("postgresql.conf: |"))
        .expect("the kubernetes base has a ConfigMap with postgresql.conf");
    let compose = emit::files(Target::Compose, &p).unwrap();
    let hosts = emit::files(Target::Hosts, &p).unwrap();
    let mut k = settings(&configmap_conf(cm));
    let mut c = settings(compose.get("base/shop/postgresql.conf").unwrap());
    let mut h = settings(hosts.get("base/db1/postgresql.conf").unwrap());
    // Where a node listens is where it runs: every address of its container, its VM's address.
    assert_eq!(k.remove("listen_addresses").as_deref(), Some("'*'"));
    assert_eq!(c.remove("listen_addresses").as_deref(), Some("'*'"));
    assert_eq!(h.remove("listen_addresses").as_deref(), Some("'10.0.0.11'"));
    assert_eq!(k, c, "kubernetes and compose differ");
    assert_eq!(k, h, "kubernetes and hosts differ");
    // pgtopo's settings and the user's, each once, the user's value where it replaces a default.
    assert_eq!(k["wal_level"], "'logical'");
    assert_eq!(k["work_mem"], "'8MB'");
    assert_eq!(k["max_connections"], "150");
    assert_eq!(k["synchronous_standby_names"], "'ANY 1 (\"db2\")'");
    assert_eq!(k["max_wal_senders"], "10");
}

/// An image's component, whatever its registry and tag: `quay.io/a/b:1` → `a/b`.
fn component(image: &str) -> String {
    let repo = image.split(':').next().unwrap();
    let parts: Vec<&str> = repo.split('/').collect();
    parts[parts.len().saturating_sub(2)..].join("/")
}

#[test]
fn every_component_has_one_image_pin() {
    let pins = [
        catalog::PGBOUNCER_IMAGE,
        catalog::PGPOOL_IMAGE,
        catalog::EXPORTER_IMAGE,
        catalog::PROMETHEUS_IMAGE,
        catalog::GRAFANA_IMAGE,
        catalog::KUBECTL_IMAGE,
    ];
    let mut seen = 0;
    for (name, path) in common::topologies() {
        let p = common::program(&path);
        let all = emit::build_all(&p).unwrap();
        for (file, text) in all.iter() {
            for line in text.lines() {
                let Some(image) = line.trim().strip_prefix("image: ") else {
                    continue;
                };
                let image = image.trim_matches('"');
                for pin in pins {
                    if component(image) == component(pin) {
                        assert_eq!(image, pin, "{name}: {file} pins another version");
                        seen += 1;
                    }
                }
            }
        }
    }
    assert!(seen > 0, "no catalogue image was found in any output");
}

/// Every target creates both databases with their owners: the bootstrap SQL each one runs.
#[test]
fn two_databases_with_two_owners_are_created_on_every_target() {
    let want = [
        "SELECT format('CREATE DATABASE %I OWNER %I', 'orders', 'order_app')",
        "SELECT format('CREATE DATABASE %I OWNER %I', 'billing', 'billing_app')",
        "'billing_app', :'billing_app_password'",
        "'order_app', :'order_app_password'",
    ];
    let src =
        std::fs::read_to_string(common::repo().join("tests/fixtures/plan/one-stack.kdl")).unwrap();
    // Each manager with the targets that can run it (PT116): compose runs "none" and repmgr,
    // and pgtopo writes host configuration for "none" and Patroni.
    let cases = [
        ("none", "\"kubernetes\" \"compose\" \"hosts\"", "", ""),
        (
            "patroni",
            "\"kubernetes\" \"hosts\"",
            " image=\"registry.example/spilo:3.3-p1\"",
            " { dcs \"etcd\" { endpoint \"10.0.0.5:2379\" } }",
        ),
        ("pg_auto_failover", "\"kubernetes\"", "", ""),
        ("repmgr", "\"kubernetes\" \"compose\"", "", ""),
    ];
    for (manager, targets, image, block) in cases {
        let text = src
            .replace(
                "targets \"kubernetes\" \"compose\" \"hosts\"",
                &format!("targets {targets}"),
            )
            .replace(
                "    postgres version=15\n",
                &format!("    postgres version=15{image}\n    failover \"{manager}\"{block}\n"),
            );
        let mut c = pgtopo::driver::compile(&text);
        let p = c
            .program("one-stack")
            .unwrap_or_else(|| panic!("{manager}: does not compile: {:#?}", c.diagnostics));
        for target in p.build_targets() {
            let b = emit::files(target, &p).unwrap();
            let all: String = b.iter().map(|(_, t)| t.to_owned()).collect();
            for w in want {
                assert!(
                    all.contains(w),
                    "{manager} on {target}: the bootstrap does not contain {w}"
                );
            }
        }
    }
}

/// `diff` names how a parameter change reaches a running Patroni cluster, and the pending
/// restart when PostgreSQL reads the parameter only at start.
#[test]
fn diff_names_patronis_apply_mechanism_and_the_pending_restart() {
    let src = std::fs::read_to_string(common::repo().join("topologies/loopback.kdl")).unwrap();
    let changed = src.replacen(
        "    postgres version=15\n",
        "    postgres version=15\n    parameters {\n        work_mem \"16MB\"\n        max_connections 150\n    }\n",
        1,
    );
    let old = pgtopo::driver::compile(&src).program("loopback").unwrap();
    let new = pgtopo::driver::compile(&changed)
        .program("loopback")
        .unwrap();
    let changes = pgtopo::diff::semantic::semantic(&old.base, &new.base);
    let find = |p: &str| {
        changes
            .iter()
            .find(|c| c.what.starts_with(&format!("parameter {p}:")))
            .unwrap_or_else(|| panic!("no change for {p}: {changes:#?}"))
    };
    let wm = find("work_mem");
    assert!(
        wm.what
            .contains("Patroni local setting: applied by patroni-apply.sh"),
        "{wm:?}"
    );
    assert_eq!(wm.risk, None);
    let mc = find("max_connections");
    assert!(
        mc.what
            .contains("Patroni DCS setting: applied by patroni-apply.sh from dcs.yml"),
        "{mc:?}"
    );
    assert!(
        mc.risk
            .as_deref()
            .is_some_and(|r| r.contains("Pending restart")),
        "{mc:?}"
    );
}

/// A Patroni standby cluster on VMs follows its source, not one fixed node: it lists every
/// source node (libpq tries them in turn), streams through a permanent slot that the source's
/// Patroni keeps on whichever member leads (when both clusters have slots on), and falls back
/// on the source's pgBackRest repository for WAL the stream no longer has.
#[test]
fn a_patroni_standby_cluster_follows_its_source_through_a_slot_and_the_repository() {
    let src = r#"targets "hosts"
cluster "main" {
    postgres version=16
    failover "patroni" { dcs "etcd" { endpoint "10.0.0.9:2379" } }
    replication { slots #true; }
    node "m1" role="primary" host="10.0.0.1"
    node "m2" role="async" host="10.0.0.2"
    backup {
        repository "posix" path="/var/lib/pgbackrest"
        schedule full="0 1 * * 0"
        retention full=2
    }
}
cluster "dr" replica-of="main" {
    postgres version=16
    failover "patroni" { dcs "etcd" { endpoint "10.0.0.9:2379" } }
    replication { slots #true; }
    node "d1" role="primary" host="10.0.1.1"
}
"#;
    let p = pgtopo::driver::compile(src).program("dr").unwrap();
    let b = emit::files(pgtopo::model::Target::Hosts, &p).unwrap();
    let get = |path: &str| {
        b.get(path)
            .unwrap_or_else(|| {
                panic!(
                    "no {path}: {:?}",
                    b.iter().map(|(p, _)| p).collect::<Vec<_>>()
                )
            })
            .to_owned()
    };
    let dcs = get("base/m1/dcs.yml");
    assert!(
        dcs.contains("slots:\n  standby_dr:\n    type: physical\n"),
        "{dcs}"
    );
    let yml = get("base/d1/patroni.yml");
    for want in [
        "host: \"10.0.0.1,10.0.0.2\"",
        "primary_slot_name: standby_dr",
        "restore_command: \"pgbackrest --stanza=main archive-get %f \\\"%p\\\"\"",
    ] {
        assert!(yml.contains(want), "{want}\n{yml}");
    }
    // The source lets the standby cluster's leader replicate.
    let main = get("base/m1/patroni.yml");
    assert!(
        main.contains("host replication replicator 10.0.1.1/32"),
        "{main}"
    );
    let conf = get("base/d1/pgbackrest.conf");
    assert!(conf.contains("[main]\n"), "{conf}");

    // With slots off on either side there is no slot: Patroni keeps a permanent slot on the
    // leader even without `use_slots`, so one the standby cluster never reads (its Patroni names
    // no slot without its own `use_slots`) would keep WAL on the source for ever, unbounded by
    // `max_slot_wal_keep_size`, which the source sets only with its own slots on.
    let at = src.find("cluster \"dr\"").unwrap();
    let (main_part, dr_part) = src.split_at(at);
    let off = |s: &str| s.replace("slots #true", "slots #false");
    for (label, text) in [
        ("source without slots", off(main_part) + dr_part),
        (
            "standby cluster without slots",
            main_part.to_owned() + &off(dr_part),
        ),
    ] {
        let p = pgtopo::driver::compile(&text).program("dr").unwrap();
        let b = emit::files(pgtopo::model::Target::Hosts, &p).unwrap();
        let dcs = b.get("base/m1/dcs.yml").unwrap();
        assert!(!dcs.contains("standby_dr"), "{label}: no slot kept\n{dcs}");
        let yml = b.get("base/d1/patroni.yml").unwrap();
        assert!(
            !yml.contains("primary_slot_name") && yml.contains("host: \"10.0.0.1,10.0.0.2\""),
            "{label}: every source node, no slot\n{yml}"
        );
    }
}

/// The same rule on Kubernetes: the source's pods keep a standby cluster's slot only when both
/// clusters have slots on, and the standby leader names it only then.
#[test]
fn a_kubernetes_standby_cluster_has_a_slot_only_with_slots_on_both_sides() {
    let src = |slots: &str| {
        format!(
            r#"targets "kubernetes"
cluster "main" {{
    postgres version=16
    failover "patroni"
    replication {{ slots {slots}; }}
    node "m1" role="primary"
    node "m2" role="async"
}}
cluster "dr" replica-of="main" {{
    postgres version=16
    failover "patroni"
    replication {{ slots #true; }}
    node "d1" role="primary"
}}
"#
        )
    };
    let has_slot = |text: &str| {
        let p = pgtopo::driver::compile(text).program("dr").unwrap();
        let b = emit::files(pgtopo::model::Target::Kubernetes, &p).unwrap();
        let all: String = b.iter().map(|(_, v)| v.to_owned()).collect();
        (
            all.contains("standby_dr:"),
            all.contains("primary_slot_name: standby_dr"),
        )
    };
    assert_eq!(
        has_slot(&src("#true")),
        (true, true),
        "both sides with slots"
    );
    assert_eq!(
        has_slot(&src("#false")),
        (false, false),
        "source without slots"
    );
}
