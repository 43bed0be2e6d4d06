//! Reliability and security of what pgtopo emits: deterministic bytes across processes, no secret
//! ever reaches an output, no `trust` authentication, YAML-special values survive a round trip,
//! and adversarially large topologies compile with bounded memory.

mod common;

use std::path::Path;
use std::process::Command;

use pgtopo::driver::compile;
use pgtopo::emit::build_all;
use pgtopo::synth::{topology, Flavor};

fn pgtopo(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgtopo"));
    c.current_dir(dir)
        .env_remove("PGTOPO_FILE")
        .env("NO_COLOR", "1");
    c
}

#[test]
fn two_processes_build_identical_bytes() {
    for (name, path) in common::topologies() {
        let mut trees = Vec::new();
        for run in 0..2 {
            let dir = common::temp_dir(&format!("determinism-{name}-{run}"));
            // Different environments and working directories must not leak into the output.
            let o = pgtopo(&dir)
                .arg("-f")
                .arg(&path)
                .args(["build", "--out", "out"])
                .env("TZ", if run == 0 { "UTC" } else { "Asia/Kolkata" })
                .env("LANG", if run == 0 { "C" } else { "de_DE.UTF-8" })
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            trees.push(common::tree(&dir.join("out")));
        }
        assert!(!trees[0].is_empty());
        assert_eq!(
            trees[0].keys().collect::<Vec<_>>(),
            trees[1].keys().collect::<Vec<_>>(),
            "{name}: different file sets"
        );
        for (k, v) in &trees[0] {
            assert!(trees[1][k] == *v, "{name}: {k} differs between two builds");
        }
    }
}

/// `build --out` renders one model at a time, resolving each env again when its turn comes
/// (`LazyProgram`); the tree must be the one the whole program renders, file for file.
#[test]
fn one_model_at_a_time_renders_the_whole_programs_tree() {
    let mut cases: Vec<(String, String)> = common::topologies()
        .into_iter()
        .map(|(name, path)| (name, std::fs::read_to_string(path).unwrap()))
        .collect();
    for flavor in [Flavor::Containers, Flavor::Vms] {
        cases.push((format!("{flavor:?}"), topology(flavor, 3, 3, 6)));
    }
    for (name, src) in cases {
        let expected = build_all(&compile(&src).program(&name).unwrap()).unwrap();
        let mut c = pgtopo::driver::compile_for(&src, pgtopo::driver::Envs::CheckOnly);
        let lazy = c.take_lazy_program(&name).unwrap();
        assert!(lazy.program.envs.is_empty(), "{name}: no env model is kept");
        let mut got = pgtopo::bundle::Bundle::new();
        lazy.build_pieces(&mut |piece| got.extend(piece)).unwrap();
        let paths =
            |b: &pgtopo::bundle::Bundle| b.iter().map(|(p, _)| p.to_owned()).collect::<Vec<_>>();
        assert_eq!(paths(&got), paths(&expected), "{name}: the same files");
        for (path, text) in expected.iter() {
            assert!(got.get(path) == Some(text), "{name}: {path} differs");
        }
    }
}

/// A large topology's `build --out` (which renders and writes
/// the envs on every core, each from a model resolved again) must write exactly the files this
/// test process renders from the whole program, on one thread, two, or six (`PGTOPO_CORES`
/// stands in for the machine's cores, so that a two-core machine runs more threads than two),
/// and `lint` and `diff ENV` must run to their usual ends.
#[test]
fn a_large_topology_builds_the_same_bytes_on_the_binarys_allocator() {
    for flavor in [Flavor::Containers, Flavor::Vms] {
        let src = topology(flavor, 10, 5, 6);
        assert!(src.len() >= 16 * 1024, "large enough to switch allocators");
        let dir = common::temp_dir(&format!("large-{flavor:?}"));
        std::fs::write(dir.join("big.kdl"), &src).unwrap();
        let run_with = |cores: &str, args: &[&str]| {
            let o = pgtopo(&dir)
                .env("PGTOPO_CORES", cores)
                .args(["-f", "big.kdl"])
                .args(args)
                .output()
                .unwrap();
            let err = String::from_utf8_lossy(&o.stderr).into_owned();
            assert!(!err.contains("panicked"), "{flavor:?} {args:?}: {err}");
            (o.status.code(), err)
        };
        let run = |args: &[&str]| run_with("2", args);
        let expected = build_all(&compile(&src).program("big").unwrap()).unwrap();
        let expected_paths: Vec<&str> = expected.iter().map(|(p, _)| p).collect();
        // Six envs: with eight cores, six threads (the topology is far inside the memory budget).
        for cores in ["1", "2", "8"] {
            let out = format!("out{cores}");
            let (code, err) = run_with(cores, &["build", "--out", &out]);
            assert_eq!(code, Some(0), "{flavor:?}, {cores} cores: {err}");
            let mut written = common::tree(&dir.join(&out).join("big"));
            written.retain(|path, _| !path.starts_with(".pgtopo"));
            let written_paths: Vec<&str> = written.keys().map(String::as_str).collect();
            assert_eq!(
                written_paths, expected_paths,
                "{flavor:?}, {cores} cores: the same files"
            );
            for (path, text) in expected.iter() {
                assert!(
                    written[path] == text.as_bytes(),
                    "{flavor:?}, {cores} cores: {path} differs"
                );
            }
        }
        let (code, err) = run(&["lint"]);
        assert_eq!(code, Some(0), "{flavor:?}: {err}");
        let (code, err) = run(&["diff", "e5", "--against", "out2", "--stat"]);
        assert_eq!(code, Some(0), "{flavor:?}: {err}");
    }
}

const CANARY: &str = "Canary-s3cr3t-7f3a9c";

/// Credentials reach pgtopo's surroundings through every channel a user has: environment variables
/// of every name the targets use, the env file the topology names, a file next to it, and the
/// Secret name. None of them may appear in any emitted file.
#[test]
fn no_secret_reaches_any_output() {
    for (name, path) in common::topologies() {
        let dir = common::temp_dir(&format!("secrets-{name}"));
        std::fs::copy(&path, dir.join(format!("{name}.kdl"))).unwrap();
        std::fs::write(
            dir.join(".env"),
            format!("POSTGRES_PASSWORD={CANARY}\nREPLICATION_PASSWORD={CANARY}\n"),
        )
        .unwrap();
        std::fs::write(dir.join("passwords.txt"), CANARY).unwrap();
        let mut cmd = pgtopo(&dir);
        cmd.args(["-f", &format!("{name}.kdl"), "build", "--out", "out"]);
        for var in [
            "POSTGRES_PASSWORD",
            "REPLICATION_PASSWORD",
            "PGPASSWORD",
            "PATRONI_SUPERUSER_PASSWORD",
            "PATRONI_REPLICATION_PASSWORD",
            "HAPROXY_STATS_PASSWORD",
            "APP_PASSWORD",
            "PGPOOL_ADMIN_PASSWORD",
            "REPMGR_PASSWORD",
        ] {
            cmd.env(var, CANARY);
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for (file, bytes) in common::tree(&dir.join("out")) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(CANARY),
                "{name}: {file} contains a credential"
            );
        }
    }
}

#[test]
fn authentication_is_scram_and_never_trust() {
    for (name, path) in common::topologies() {
        let bundle = build_all(&common::program(&path)).unwrap();
        for (file, text) in bundle.iter() {
            let lower = text.to_ascii_lowercase();
            for line in lower.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
                let words: Vec<&str> = line.split_whitespace().collect();
                if file.ends_with("pg_hba.conf") && !words.is_empty() {
                    let method = words.iter().find(|w| {
                        [
                            "trust",
                            "md5",
                            "password",
                            "scram-sha-256",
                            "peer",
                            "reject",
                            "cert",
                        ]
                        .contains(w)
                    });
                    assert!(
                        method.is_some_and(|m| *m == "scram-sha-256"
                            || *m == "reject"
                            || (*m == "peer" && words[0] == "local")),
                        "{name}: {file}: `{line}`"
                    );
                }
                assert!(
                    !(line.contains("auth_type")
                        && (line.contains("trust")
                            || line.contains("md5")
                            || line.contains("plain"))),
                    "{name}: {file}: `{line}`"
                );
                assert!(
                    !line.contains("host_auth_method") || line.contains("scram-sha-256"),
                    "{name}: {file}: `{line}`"
                );
                assert!(
                    !line.contains("password_encryption") || line.contains("scram-sha-256"),
                    "{name}: {file}: `{line}`"
                );
            }
        }
    }
}

#[test]
fn yaml_special_values_survive_a_round_trip() {
    // Values that YAML 1.1 or 1.2 would read as something other than a string; all are valid
    // Kubernetes label values (`~`, `.inf` and `-` are not, and PT160 rejects them as labels, so
    // they travel through parameters below).
    let specials = [
        "yes",
        "no",
        "on",
        "off",
        "y",
        "null",
        "0x1",
        "1e3",
        "0o17",
        "true",
        "012",
        "1_000",
        "2026-11-22",
        "1.0",
        "NaN",
    ];
    let labels: Vec<String> = specials
        .iter()
        .enumerate()
        .map(|(i, v)| format!("k{i}=\"{v}\""))
        .collect();
    let src = format!(
        "targets \"kubernetes\" \"helm\" \"compose\"\ncluster \"db\" {{\n    labels {}\n    helm chart=\"cnpg\"\n    parameters {{\n        application_name \"~\"\n        search_path \".inf\"\n        synchronous_commit \"on\"\n    }}\n    node \"db-0\" role=\"primary\"\n    node \"db-1\" role=\"async\"\n}}\n",
        labels.join(" ")
    );
    let mut c = compile(&src);
    assert!(!c.has_errors(), "{:?}", c.diagnostics);
    let bundle = build_all(&c.program("yaml").unwrap()).unwrap();
    let mut checked = 0;
    let mut helm_params = 0;
    for (file, text) in bundle.iter().filter(|(f, _)| f.ends_with(".yaml")) {
        // serde_yaml reads YAML 1.2 and cannot see the words only YAML 1.1 makes booleans; Helm,
        // kubectl and Prometheus read 1.1 (helm/helm#5497). No value may be such a word unquoted.
        for line in text.lines() {
            let item = line.trim_start().trim_start_matches("- ");
            let value = item.split_once(": ").map_or(item, |(_, v)| v).trim_end();
            assert!(
                !YAML_1_1_BOOLEANS.contains(&value),
                "{file}: YAML 1.1 reads `{value}` as a boolean: {line:?}"
            );
        }
        for doc in serde_yaml::Deserializer::from_str(text) {
            let v: serde_yaml::Value =
                serde::Deserialize::deserialize(doc).unwrap_or_else(|e| panic!("{file}: {e}"));
            visit(&v, &mut |key, value| {
                let param = match key {
                    "application_name" => Some("~"),
                    "search_path" => Some(".inf"),
                    "synchronous_commit" => Some("on"),
                    _ => None,
                };
                if key == "synchronous_commit" && file.starts_with("helm/") {
                    helm_params += 1;
                }
                if let Some(want) = param {
                    assert_eq!(
                        value.as_str(),
                        Some(want),
                        "{file}: parameter {key} lost its string type: {value:?}"
                    );
                    checked += 1;
                }
                if let Some(i) = key.strip_prefix('k').and_then(|n| n.parse::<usize>().ok()) {
                    if i < specials.len() {
                        assert_eq!(
                            value.as_str(),
                            Some(specials[i]),
                            "{file}: label k{i} lost its string type: {value:?}"
                        );
                        checked += 1;
                    }
                }
            });
        }
    }
    assert!(checked > 0, "no emitted YAML carried the labels");
    assert!(
        helm_params > 0,
        "no Helm values file carried the parameters"
    );
}

/// The plain words YAML 1.1 reads as booleans and YAML 1.2 as strings.
const YAML_1_1_BOOLEANS: &[&str] = &[
    "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off",
    "OFF",
];

fn visit(v: &serde_yaml::Value, f: &mut dyn FnMut(&str, &serde_yaml::Value)) {
    match v {
        serde_yaml::Value::Mapping(m) => {
            for (k, val) in m {
                if let Some(k) = k.as_str() {
                    f(k, val);
                }
                visit(val, f);
            }
        }
        serde_yaml::Value::Sequence(s) => s.iter().for_each(|x| visit(x, f)),
        _ => {}
    }
}

#[test]
fn adversarial_sizes_compile_or_are_rejected_with_a_code() {
    // 10,000 nodes in one cluster; 1,000 envs; a 1 MB string; unicode and invalid names.
    let cases: Vec<(&str, String)> = vec![
        // 10,000 nodes as 40 clusters of 250 (each target, all the way to files), and as one
        // cluster, which PT161 rejects.
        ("10k-nodes-containers", topology(Flavor::Containers, 40, 250, 1)),
        ("10k-nodes-vms", topology(Flavor::Vms, 40, 250, 1)),
        ("10k-nodes-one-cluster", topology(Flavor::Vms, 1, 10_000, 1)),
        ("1k-envs", topology(Flavor::Vms, 2, 3, 1_000)),
        ("1mb-string", format!("targets \"kubernetes\"\ncluster \"db\" {{\n    parameters {{\n        application_name \"{}\"\n    }}\n    node \"db-0\" role=\"primary\"\n}}\n", "x".repeat(1 << 20))),
        ("unicode-names", "targets \"kubernetes\"\ncluster \"données\" {\n    node \"節点\" role=\"primary\"\n}\n".to_owned()),
        ("haproxy-hostile-names", "targets \"haproxy\"\ncluster \"db\" {\n    node \"db-0\" role=\"primary\" host=\"10.0.0.1\"\n    balancer \"haproxy\" {\n        host \"lb 1\" address=\"10.0.0.2\"\n        listen \"rw#x\" port=5000 target=\"primary\"\n    }\n}\n".to_owned()),
    ];
    for (name, src) in cases {
        let started = std::time::Instant::now();
        let mut c = compile(&src);
        if c.has_errors() {
            assert!(
                c.diagnostics
                    .iter()
                    .all(|d| d.code.as_str().starts_with("PT")),
                "{name}"
            );
            assert!(
                !matches!(
                    name,
                    "10k-nodes-containers" | "10k-nodes-vms" | "1k-envs" | "1mb-string"
                ),
                "{name} should compile: {:?}",
                c.diagnostics
                    .iter()
                    .filter(|d| d.is_error())
                    .take(3)
                    .collect::<Vec<_>>()
            );
            if name == "10k-nodes-one-cluster" {
                assert!(
                    c.diagnostics.iter().any(|d| d.code == "PT161"),
                    "{name} is rejected by PT161"
                );
            }
            continue;
        }
        assert!(
            !matches!(
                name,
                "unicode-names" | "haproxy-hostile-names" | "10k-nodes-one-cluster"
            ),
            "{name} must be rejected"
        );
        let p = c.program(name).unwrap();
        let bundle = build_all(&p).unwrap_or_else(|d| panic!("{name}: {d:?}"));
        assert!(!bundle.is_empty());
        eprintln!(
            "adversarial: {name}: {} files in {:.1}s",
            bundle.len(),
            started.elapsed().as_secs_f64()
        );
    }
    // Memory stays bounded: the peak resident size of this test process after all of the above.
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
    if let Some(kb) = peak_kb {
        eprintln!("adversarial: peak RSS {} MiB", kb / 1024);
        assert!(
            kb < 2 * 1024 * 1024,
            "peak RSS {} MiB is not bounded",
            kb / 1024
        );
    }
}

/// The security review: checkov over every built overlay of every topology must report no failed
/// check; deliberate exceptions are `checkov.io/skipN` annotations with their reasons on the objects.
#[test]
fn checkov_finds_no_failed_check_in_any_overlay() {
    if !common::have_tool("checkov") || !common::have_tool("kubectl") {
        return;
    }
    let dir = common::temp_dir("checkov");
    let built = dir.join("built");
    std::fs::create_dir_all(&built).unwrap();
    let mut overlays = 0;
    for (name, path) in common::topologies() {
        let p = common::program(&path);
        if !p
            .build_targets()
            .contains(&pgtopo::model::Target::Kubernetes)
        {
            continue;
        }
        let o = pgtopo(&dir)
            .arg("-f")
            .arg(&path)
            .args(["build", "--out", "out"])
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let root = dir.join("out").join(&name).join("kubernetes");
        let mut trees = vec![root.join("base")];
        trees.extend(
            std::fs::read_dir(root.join("overlays"))
                .unwrap()
                .map(|e| e.unwrap().path()),
        );
        // The workload Jobs are applied on their own (`workloads/<base|env>/`) but reviewed too.
        if let Ok(w) = std::fs::read_dir(root.join("workloads")) {
            trees.extend(w.map(|e| e.unwrap().path()));
        }
        for t in trees {
            let (ok, yaml) = common::run(Command::new("kubectl").arg("kustomize").arg(&t));
            assert!(ok, "kubectl kustomize {}: {yaml}", t.display());
            // workloads/<x> is named apart from base/ and overlays/<x>, which share its last part.
            let kind = t.parent().unwrap().file_name().unwrap().to_string_lossy();
            std::fs::write(
                built.join(format!(
                    "{name}-{kind}-{}.yaml",
                    t.file_name().unwrap().to_string_lossy()
                )),
                yaml,
            )
            .unwrap();
            overlays += 1;
        }
    }
    assert!(overlays > 0);
    let out = Command::new("checkov")
        .args([
            "--framework",
            "kubernetes",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
            "-d",
        ])
        .arg(&built)
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov output: {e}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let reports = if v.is_array() {
        v.as_array().unwrap().clone()
    } else {
        vec![v]
    };
    let mut failed = Vec::new();
    for r in &reports {
        let s = &r["summary"];
        eprintln!(
            "checkov: {} overlays, passed {}, failed {}, skipped {}",
            overlays, s["passed"], s["failed"], s["skipped"]
        );
        assert!(
            s["passed"].as_u64().unwrap_or(0) > 0,
            "checkov checked nothing"
        );
        for f in r["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            failed.push(format!(
                "{} {} ({})",
                f["check_id"], f["resource"], f["check_name"]
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "checkov failed checks:\n{}",
        failed.join("\n")
    );
}

/// A large topology is resolved on several threads; findings, their order and the models must
/// be exactly those of one thread.
#[test]
fn threads_do_not_change_a_compilation() {
    // 30 envs of 20 clusters, with a port collision in every env so there are findings to order.
    let mut src = topology(Flavor::Vms, 20, 4, 30);
    src = src.replace("stats port=7000", "stats port=5000");
    assert!(
        src.len() >= 16 * 1024,
        "big enough to take the threaded path"
    );
    let one = pgtopo::driver::compile_with_threads(&src, pgtopo::driver::Envs::All, 1);
    assert!(!one.diagnostics.is_empty(), "the collision is found");
    for threads in [2, 3, 8] {
        let many = pgtopo::driver::compile_with_threads(&src, pgtopo::driver::Envs::All, threads);
        assert_eq!(one.diagnostics, many.diagnostics, "{threads} threads");
        assert_eq!(one.base, many.base, "{threads} threads");
        assert_eq!(one.envs, many.envs, "{threads} threads");
    }
}
