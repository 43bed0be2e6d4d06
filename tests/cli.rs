//! The `pgtopo` binary as users run it: exit codes, file resolution, formats, bad input.

mod common;

use std::process::{Command, Stdio};

fn pgtopo() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgtopo"));
    c.current_dir(common::repo())
        .env_remove("PGTOPO_FILE")
        .env("NO_COLOR", "1");
    c
}

fn out(c: &mut Command) -> (i32, String, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn lint_of_the_examples_exits_zero() {
    let files: Vec<String> = common::topologies()
        .iter()
        .map(|(_, p)| p.display().to_string())
        .collect();
    let (code, stdout, stderr) = out(pgtopo().arg("lint").args(&files));
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[test]
fn findings_exit_one_and_deny_warnings_counts_warnings() {
    let (code, stdout, _) =
        out(pgtopo().args(["lint", "tests/fixtures/lint/pt101_two_primaries.kdl"]));
    assert_eq!(code, 1);
    assert!(
        stdout.contains("PT101") && stdout.contains("more than one primary"),
        "{stdout}"
    );
    let warn_only = "tests/fixtures/lint/pt117_single_balancer_host.kdl";
    assert_eq!(out(pgtopo().args(["lint", warn_only])).0, 0);
    assert_eq!(
        out(pgtopo().args(["lint", "--deny-warnings", warn_only])).0,
        1
    );
}

#[test]
fn missing_file_and_usage_errors_exit_two() {
    let (code, _, stderr) = out(pgtopo().args(["lint", "no/such/file.kdl"]));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("PT010") && stderr.contains("not found"),
        "{stderr}"
    );
    assert_eq!(out(pgtopo().args(["lint", "--format", "xml"])).0, 2);
    // No -f, no $PGTOPO_FILE, no ./pgtopo.kdl in the repo root.
    let (code, _, stderr) = out(pgtopo().arg("lint"));
    assert_eq!(code, 2);
    assert!(stderr.contains("pgtopo.kdl"), "{stderr}");
}

#[test]
fn topology_file_comes_from_flag_then_env() {
    let (code, _, _) = out(pgtopo()
        .args(["lint"])
        .env("PGTOPO_FILE", "tests/fixtures/lint/pt101_no_primary.kdl"));
    assert_eq!(code, 1);
    let (code, _, _) = out(pgtopo()
        .args(["-f", "topologies/tiered.kdl", "lint"])
        .env("PGTOPO_FILE", "tests/fixtures/lint/pt101_no_primary.kdl"));
    assert_eq!(code, 0, "-f wins over $PGTOPO_FILE");
}

#[test]
fn json_format_has_the_documented_fields() {
    let (code, stdout, _) = out(pgtopo().args([
        "lint",
        "--format",
        "json",
        "tests/fixtures/lint/pt113_wal_keep_segments.kdl",
    ]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let first = &v.as_array().unwrap()[0];
    for key in [
        "code",
        "severity",
        "message",
        "file",
        "line",
        "column",
        "end_line",
        "end_column",
        "label",
        "help",
        "env",
    ] {
        assert!(first.get(key).is_some(), "missing {key} in {first}");
    }
    assert_eq!(first["code"], "PT113");
    assert_eq!(first["line"], 5);
    assert_eq!(first["column"], 9);
}

#[test]
fn bad_input_never_panics() {
    let dir = common::temp_dir("cli-bad-input");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty.kdl", Vec::new()),
        ("binary.kdl", vec![0xff, 0xfe, 0x00, 0x01, b'{']),
        ("unbalanced.kdl", b"cluster \"a\" {{{{".to_vec()),
        ("deep.kdl", format!("targets \"kubernetes\"\n{}{}", "cluster \"a\" {".repeat(20_000), "}".repeat(20_000)).into_bytes()),
        ("huge-string.kdl", format!("targets \"kubernetes\"\ncluster \"{}\" {{ node \"a\" role=\"primary\" }}\n", "x".repeat(1 << 20)).into_bytes()),
        ("wrong-types.kdl", b"targets 1 #true\ncluster 5 replica-of=#null { node role=7 port=-1 priority=99999999999 }".to_vec()),
    ];
    for (name, bytes) in cases {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        for args in [vec!["lint"], vec!["build"], vec!["build", "prod"]] {
            let (code, stdout, stderr) = out(pgtopo().arg("-f").arg(&p).args(&args));
            assert!(
                code == 0 || code == 1 || code == 2,
                "{name} {args:?} exited {code}:\n{stdout}{stderr}"
            );
            assert!(
                !stderr.contains("panicked"),
                "{name} {args:?} panicked:\n{stderr}"
            );
        }
    }
}

#[test]
fn build_of_a_broken_topology_writes_nothing() {
    let dir = common::temp_dir("cli-broken-build");
    let (code, _, stderr) = out(pgtopo()
        .args([
            "-f",
            "tests/fixtures/lint/pt101_two_primaries.kdl",
            "build",
            "--out",
        ])
        .arg(&dir));
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "a broken topology must not write anything"
    );
}

/// An env the topology does not declare is one coded diagnostic, with its "did you mean", and one
/// exit code (2, a usage error: `diff` exits 1 for changes) in every command that takes an ENV.
#[test]
fn unknown_env_is_the_same_coded_error_in_every_command() {
    let mut seen = Vec::new();
    for cmd in ["build", "explain", "graph", "diff"] {
        let (code, stdout, stderr) =
            out(pgtopo().args(["-f", "topologies/mirror-db.kdl", cmd, "prd"]));
        assert_eq!(code, 2, "{cmd}: {stderr}");
        assert!(stdout.is_empty(), "{cmd}: {stdout}");
        assert!(
            stderr.contains("PT008")
                && stderr.contains("the topology has no env \"prd\"")
                && stderr.contains("did you mean \"prod\""),
            "{cmd}: {stderr}"
        );
        seen.push(stderr);
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:#?}");
    // Without a close name, the help lists the envs there are.
    let (_, _, stderr) = out(pgtopo().args(["-f", "topologies/mirror-db.kdl", "graph", "qa"]));
    assert!(stderr.contains("declared envs: \"dev\", "), "{stderr}");
}

/// File errors are diagnostics like the others (a code, a message naming the file, a help line),
/// and the help fits where the path came from: a path given with -f is to be checked, not
/// replaced by "pass one with -f".
#[test]
fn file_errors_are_coded_diagnostics() {
    for args in [
        vec!["-f", "/nonexistent.kdl", "lint"],
        vec!["-f", "/nonexistent.kdl", "build"],
        vec!["-f", "/nonexistent.kdl", "explain"],
        vec!["-f", "/nonexistent.kdl", "diff"],
        vec!["fmt", "/nonexistent.kdl"],
    ] {
        let (code, _, stderr) = out(pgtopo().args(&args));
        assert_eq!(code, 2, "{args:?}");
        assert!(
            stderr.starts_with("PT010\n")
                && stderr.contains("× topology file /nonexistent.kdl not found")
                && stderr.contains("help: check the path"),
            "{args:?}: {stderr}"
        );
        assert!(!stderr.contains("pass one with -f"), "{args:?}: {stderr}");
    }
    let (code, _, stderr) = out(pgtopo().args(["lint", "tests"]));
    assert_eq!(code, 2);
    assert!(
        stderr.starts_with("PT010\n") && stderr.contains("tests is a directory"),
        "{stderr}"
    );
    let (code, _, stderr) = out(pgtopo().arg("lint").env("PGTOPO_FILE", "/nonexistent.kdl"));
    assert_eq!(code, 2);
    assert!(
        stderr.contains("$PGTOPO_FILE names /nonexistent.kdl"),
        "{stderr}"
    );
}

#[test]
fn help_shows_examples() {
    for sub in [
        vec!["--help"],
        vec!["lint", "--help"],
        vec!["build", "--help"],
    ] {
        let (code, stdout, _) = out(pgtopo().args(&sub));
        assert_eq!(code, 0);
        assert!(stdout.contains("Examples:"), "{sub:?}: {stdout}");
    }
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    let mut child = pgtopo()
        .args([
            "lint",
            "--format",
            "json",
            "tests/fixtures/lint/pt113_wal_keep_segments.kdl",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(!String::from_utf8_lossy(&o.stderr).contains("panicked"));
}

/// A reader test for SARIF 2.1.0: the fields GitHub code scanning requires are present and
/// consistent (every result's ruleId is a declared rule, regions are 1-based, levels are valid).
#[test]
fn sarif_output_is_readable_sarif_2_1_0() {
    let (code, stdout, _) = out(pgtopo().args([
        "lint",
        "--format",
        "sarif",
        "tests/fixtures/lint/pt113_wal_keep_segments.kdl",
        "tests/fixtures/lint/pt117_single_balancer_host.kdl",
        "tests/fixtures/lint/pt007_empty.kdl",
    ]));
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");
    assert!(v["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run = &v["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "pgtopo");
    let rules: Vec<&str> = run["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    for code in ["PT000", "PT101", "PT113", "PT117"] {
        assert!(rules.contains(&code), "rule {code} is declared");
    }
    let results = run["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "{results:#?}");
    for r in results {
        assert!(rules.contains(&r["ruleId"].as_str().unwrap()));
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
        let loc = &r["locations"][0]["physicalLocation"];
        assert!(loc["artifactLocation"]["uri"]
            .as_str()
            .unwrap()
            .ends_with(".kdl"));
        if let Some(region) = loc.get("region") {
            assert!(
                region["startLine"].as_u64().unwrap() >= 1
                    && region["startColumn"].as_u64().unwrap() >= 1
            );
        }
    }
    let warning = results.iter().find(|r| r["ruleId"] == "PT117").unwrap();
    assert_eq!(warning["level"], "warning");
    assert_eq!(
        warning["locations"][0]["physicalLocation"]["region"]["startLine"],
        7
    );
}

#[test]
fn github_format_prints_escaped_workflow_commands() {
    let (code, stdout, _) = out(pgtopo().args([
        "lint",
        "--format",
        "github",
        "tests/fixtures/lint/pt113_wal_keep_segments.kdl",
    ]));
    assert_eq!(code, 1);
    let first = stdout.lines().next().unwrap();
    assert!(
        first.starts_with("::error file=tests/fixtures/lint/pt113_wal_keep_segments.kdl,line=5,col=9,endLine=5,endColumn=29,title=PT113::"),
        "{first}"
    );
    assert!(first.contains("%0Ahelp: "), "newlines are escaped: {first}");
    assert_eq!(stdout.lines().count(), 2);
}

/// Printing one target shows that target's warnings and the core ones, and counts the rest;
/// `--target` brings another target's warnings back.
#[test]
fn build_shows_the_warnings_of_the_printed_target() {
    let (code, stdout, stderr) =
        out(pgtopo().args(["-f", "topologies/mirror-db.kdl", "build", "prod"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("kind: StatefulSet"), "{stdout}");
    assert!(
        !stderr.contains("PT15"),
        "Helm warnings on a Kubernetes build:\n{stderr}"
    );
    assert!(
        stderr.contains("warning(s) about other targets not shown"),
        "{stderr}"
    );
    let (code, _, stderr) = out(pgtopo().args([
        "-f",
        "topologies/mirror-db.kdl",
        "build",
        "prod",
        "--target",
        "helm",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("PT152"), "{stderr}");
}

/// `build ENV` resolves the base and that env only: a broken sibling env is `lint`'s business,
/// not a reason to refuse printing a healthy one.
#[test]
fn build_of_one_env_ignores_the_other_envs() {
    let dir = common::temp_dir("build-one-env");
    let f = dir.join("t.kdl");
    std::fs::write(
        &f,
        "targets \"kubernetes\"\ncluster \"c\" {\n    node \"a\" role=\"primary\"\n    node \"b\" role=\"async\"\n}\nenv \"good\" {\n    cluster \"c\" { storage size=\"5Gi\" }\n}\nenv \"broken\" {\n    cluster \"c\" { node \"b\" role=\"primary\" }\n}\n",
    )
    .unwrap();
    let f = f.display().to_string();
    let (code, stdout, stderr) = out(pgtopo().args(["-f", &f, "build", "good"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("storage: 5Gi"), "{stdout}");
    let (code, _, stderr) = out(pgtopo().args(["-f", &f, "build", "broken"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("PT101"), "{stderr}");
    let (code, _, stderr) = out(pgtopo().args(["-f", &f, "lint"]));
    assert_eq!(code, 1, "{stderr}");
}

/// `build --target T` for a T the file does not list runs T's checks as if it did: a Patroni VM
/// topology printed as Kubernetes once gave a StatefulSet running `patroni` in `postgres:16` (which
/// has no Patroni), with exit 0. Now T's errors stop it, with nothing on stdout: here the pooler
/// beside every database host and the balancer, which Kubernetes cannot run.
#[test]
fn build_for_an_undeclared_target_runs_its_checks() {
    let vm = "topologies/haproxy-keepalived.kdl";
    let (code, stdout, stderr) = out(pgtopo().args(["-f", vm, "build", "--target", "kubernetes"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "nothing is printed:\n{stdout}");
    assert!(
        stderr.contains("PT116")
            && stderr.contains("the kubernetes target cannot express balancer"),
        "{stderr}"
    );
    assert!(
        stderr.contains("not declared here: kubernetes was requested with --target"),
        "the related label says the target was requested, not declared:\n{stderr}"
    );
    assert!(
        stderr.contains("does not compile for the kubernetes target; nothing was built"),
        "{stderr}"
    );
    // Compose once dropped the pooler beside every database and the balancer without a word.
    let (code, stdout, stderr) = out(pgtopo().args(["-f", vm, "build", "--target", "compose"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "nothing is printed:\n{stdout}");
    for lost in [
        "the compose target cannot express pooler \"pgbouncer\" with target=\"local\"",
        "the compose target cannot express balancer \"haproxy\"",
    ] {
        assert!(stderr.contains(lost), "`{lost}` is reported:\n{stderr}");
    }
}

/// An undeclared target that can render the topology prints exactly what it prints when the file
/// lists it.
#[test]
fn build_for_an_undeclared_target_that_fits_prints_the_declared_output() {
    let dir = common::temp_dir("cli-undeclared");
    let src = std::fs::read_to_string(common::repo().join("topologies/repmgr-pgpool.kdl")).unwrap();
    let declared = src.replacen("targets \"compose\"", "targets \"compose\" \"helm\"", 1);
    assert_ne!(declared, src);
    std::fs::write(dir.join("undeclared.kdl"), &src).unwrap();
    std::fs::write(dir.join("declared.kdl"), &declared).unwrap();
    let print = |file: &str| {
        out(pgtopo()
            .current_dir(&dir)
            .args(["-f", file, "build", "--target", "helm"]))
    };
    let (code, undeclared, stderr) = print("undeclared.kdl");
    assert_eq!(code, 0, "{stderr}");
    let (code, declared, stderr) = print("declared.kdl");
    assert_eq!(code, 0, "{stderr}");
    assert!(undeclared.contains("repmgrUsername"), "{undeclared}");
    assert_eq!(undeclared, declared);
}

/// `--host` names one machine of a per-machine target: a name that matches none is an error, and
/// so is `--host` for a target that prints the whole env, or beside `--out`, which it never
/// reached (it was ignored).
/// PT130 for a topology whose nodes have no `host=` names what is missing (it once said "no
/// database node to print" of a topology with four).
#[test]
fn build_hosts_without_any_host_says_what_is_missing() {
    let (code, stdout, stderr) = out(pgtopo().args([
        "-f",
        "topologies/mirror-db.kdl",
        "build",
        "--target",
        "hosts",
    ]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("PT130") && stderr.contains("no database node declares `host=`"),
        "{stderr}"
    );
}

#[test]
fn build_host_that_matches_nothing_is_an_error() {
    let vm = "topologies/haproxy-keepalived.kdl";
    for (target, what) in [
        ("haproxy", "balancer host"),
        ("keepalived", "balancer host"),
        ("hosts", "database node"),
    ] {
        let (code, stdout, stderr) =
            out(pgtopo().args(["-f", vm, "build", "--target", target, "--host", "nope"]));
        assert_eq!(code, 1, "{target}: {stderr}");
        assert!(stdout.is_empty(), "{target}: {stdout}");
        assert!(
            stderr.contains("PT130") && stderr.contains(&format!("no {what} named \"nope\"")),
            "{target}: {stderr}"
        );
    }
    let k8s = "topologies/mirror-db.kdl";
    for args in [
        &["build", "--target", "kubernetes", "--host", "postgres-0"][..],
        &["build", "--target", "helm", "--host", "postgres-0"][..],
        // The first declared target (kubernetes) when --target is left out.
        &["build", "--host", "postgres-0"][..],
    ] {
        let (code, stdout, stderr) = out(pgtopo().args(["-f", k8s]).args(args));
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: {stdout}");
        assert!(
            stderr.contains("prints the whole env, not one machine"),
            "{args:?}: {stderr}"
        );
    }
    let (code, _, stderr) = out(pgtopo().args([
        "-f",
        "topologies/tiered.kdl",
        "build",
        "--target",
        "compose",
        "--host",
        "db",
    ]));
    assert_eq!(code, 2, "{stderr}");
    let dir = common::temp_dir("cli-out-host");
    for extra in [&["--host", "lb1"][..], &["--target", "haproxy"][..]] {
        let (code, _, stderr) = out(pgtopo()
            .args(["-f", vm, "build", "--out"])
            .arg(dir.join("out"))
            .args(extra));
        assert_eq!(code, 2, "{extra:?}: {stderr}");
        assert!(stderr.contains("leave --target and --host out"), "{stderr}");
        assert!(!dir.join("out").exists(), "{extra:?}: nothing is written");
    }
}

/// `diff --target T` compares what `build --out` wrote; for a target the topology does not build
/// there is nothing to compare, which once read as "0 file(s) differ", exit 0.
#[test]
fn diff_of_a_target_the_topology_does_not_build_is_an_error() {
    let (code, stdout, stderr) = out(pgtopo().args([
        "-f",
        "topologies/mirror-db.kdl",
        "diff",
        "--target",
        "compose",
    ]));
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("does not build the compose target (it builds kubernetes, helm)"),
        "{stderr}"
    );
}

/// A balancer with a vip and no host once gave no keepalived.conf at all and only the warning "no
/// redundancy", exit 0: PT136 now stops `build` and `build --out`.
#[test]
fn a_balancer_without_hosts_builds_nothing() {
    let file = "tests/fixtures/lint/pt136_balancer_without_hosts.kdl";
    let (code, stdout, stderr) =
        out(pgtopo().args(["-f", file, "build", "--target", "keepalived"]));
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("PT136") && stderr.contains("has no host"),
        "{stderr}"
    );
    let dir = common::temp_dir("cli-empty-balancer");
    let (code, _, stderr) = out(pgtopo()
        .args(["-f", file, "build", "--out"])
        .arg(dir.join("out")));
    assert_eq!(code, 1, "{stderr}");
    assert!(!dir.join("out").exists(), "nothing is written");
}

/// `topology "NAME"` names the outputs: with the default ./pgtopo.kdl, `build --out` writes
/// out/NAME/ (not out/pgtopo/), and `diff` compares with that folder.
#[test]
fn the_topology_node_names_the_outputs() {
    let dir = common::temp_dir("topology-name");
    let src = std::fs::read_to_string(common::repo().join("topologies/mirror-db.kdl")).unwrap();
    std::fs::write(
        dir.join("pgtopo.kdl"),
        format!("topology \"orders\"\n{src}"),
    )
    .unwrap();
    let mut build = Command::new(env!("CARGO_BIN_EXE_pgtopo"));
    build
        .current_dir(&dir)
        .env_remove("PGTOPO_FILE")
        .args(["build", "--out", "out"]);
    let (code, _, stderr) = out(&mut build);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("out/orders"), "{stderr}");
    assert!(dir.join("out/orders/kubernetes").is_dir());
    assert!(!dir.join("out/pgtopo").exists());
    let mut diff = Command::new(env!("CARGO_BIN_EXE_pgtopo"));
    diff.current_dir(&dir)
        .env_remove("PGTOPO_FILE")
        .args(["diff", "prod"]);
    let (code, stdout, stderr) = out(&mut diff);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("out/orders: 0 file(s) differ"), "{stderr}");
}
