//! The Compose target checked by the programs that consume its files: the Compose Specification
//! schema (in Rust with `jsonschema`, and with `check-jsonschema --builtin-schema
//! vendor.compose-spec`), `postgres -C` for every postgresql.conf, a running PgBouncer for every
//! pgbouncer.ini, `promtool check config` for prometheus.yml, and `bash -n`/`sh -n` for the
//! generated scripts. Every topology whose targets include compose is checked, plus
//! tests/fixtures/compose/*.kdl for the features the seed topologies do not use.

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pgtopo::bundle::Bundle;
use pgtopo::emit::{self, Options};
use pgtopo::model::Target;

/// Every compose bundle to check: (topology name, bundle).
fn bundles() -> Vec<(String, Bundle)> {
    let mut paths = common::topologies();
    let fixtures = common::repo().join("tests/fixtures/compose");
    let mut extra: Vec<(String, PathBuf)> = std::fs::read_dir(&fixtures)
        .expect("tests/fixtures/compose exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    extra.sort();
    paths.extend(extra);
    let mut out = Vec::new();
    for (name, path) in paths {
        let program = common::program(&path);
        if !program.build_targets().contains(&Target::Compose) {
            continue;
        }
        let b = emit::files(Target::Compose, &program)
            .unwrap_or_else(|d| panic!("{name}: compose failed: {d:#?}"));
        out.push((name, b));
    }
    let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
    for must in ["repmgr-pgpool", "tiered", "features"] {
        assert!(
            names.contains(&must),
            "{must} is not checked (found {names:?})"
        );
    }
    out
}

fn files_named<'a>(b: &'a Bundle, suffix: &str) -> Vec<(&'a str, &'a str)> {
    b.iter().filter(|(p, _)| p.ends_with(suffix)).collect()
}

/// Writes the whole bundle into a fresh directory every user can read (the validators that refuse
/// root run as `nobody`).
fn write_tree(tag: &str, b: &Bundle) -> PathBuf {
    let dir = common::temp_dir(tag);
    for (p, text) in b.iter() {
        let f = dir.join(p);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, text).unwrap();
    }
    open_up(&dir);
    dir
}

fn open_up(dir: &Path) {
    let (ok, out) = common::run(Command::new("chmod").arg("-R").arg("a+rwX").arg(dir));
    assert!(ok, "chmod: {out}");
}

/// The Compose schema: `../shared/reference/` beside the repository, or two levels up when the
/// repository is a git worktree under `wt/`.
fn compose_schema() -> PathBuf {
    let p = common::reference("compose/compose-spec.json");
    if p.exists() {
        return p;
    }
    common::repo().join("../../shared/reference/compose/compose-spec.json")
}

#[test]
fn every_compose_file_matches_the_compose_spec_schema() {
    let schema_text = std::fs::read_to_string(compose_schema())
        .expect("../shared/reference/compose/compose-spec.json is readable");
    let mut schema: serde_json::Value = serde_json::from_str(&schema_text).unwrap();
    // The file names its meta-schema as `https://json-schema.org/draft-07/schema` (no `#`), which
    // jsonschema does not recognise as the bundled draft 7 and would fetch over HTTP; the draft is
    // chosen explicitly below instead.
    schema.as_object_mut().unwrap().remove("$schema");
    let validator = jsonschema::draft7::new(&schema).expect("the Compose schema compiles");
    let mut checked = 0;
    for (name, b) in bundles() {
        for (path, text) in files_named(&b, "compose.yaml") {
            let doc: serde_json::Value = serde_yaml::from_str(text)
                .unwrap_or_else(|e| panic!("{name}/{path} is not YAML: {e}"));
            let errors: Vec<String> = validator
                .iter_errors(&doc)
                .map(|e| format!("{} at {}", e, e.instance_path))
                .collect();
            assert!(errors.is_empty(), "{name}/{path}:\n{}", errors.join("\n"));
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} compose files checked");
    // The validator must be able to fail: a service without an image or build is refused.
    let bad = serde_json::json!({"services": {"x": {"ports": [{"bogus": 1}]}}});
    assert!(!validator.is_valid(&bad), "the schema accepts anything");
}

#[test]
fn every_compose_file_passes_check_jsonschema() {
    if !common::have_tool("check-jsonschema") {
        return;
    }
    for (name, b) in bundles() {
        let dir = write_tree(&format!("compose-cj-{name}"), &b);
        let files: Vec<PathBuf> = files_named(&b, "compose.yaml")
            .iter()
            .map(|(p, _)| dir.join(p))
            .collect();
        assert!(!files.is_empty());
        let (ok, out) = common::run(
            Command::new("check-jsonschema")
                .args(["--builtin-schema", "vendor.compose-spec"])
                .args(&files),
        );
        assert!(ok, "{name}: check-jsonschema refused:\n{out}");
    }
}

#[test]
fn every_postgresql_conf_is_accepted_by_postgres() {
    if !common::have_tool("postgres") || !common::have_tool("runuser") {
        return;
    }
    for (name, b) in bundles() {
        let dir = write_tree(&format!("compose-pg-{name}"), &b);
        let confs = files_named(&b, "postgresql.conf");
        assert!(!confs.is_empty(), "{name}: no postgresql.conf");
        for (i, (path, text)) in confs.iter().enumerate() {
            // `postgres -C` needs a data directory holding only the conf, owned by the user.
            let data = dir.join(format!("pgdata-{i}"));
            std::fs::create_dir_all(&data).unwrap();
            std::fs::write(data.join("postgresql.conf"), text).unwrap();
            let (ok, out) = common::run(Command::new("chown").arg("-R").arg("nobody").arg(&data));
            assert!(ok, "chown: {out}");
            std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
            for (param, expect) in [
                ("wal_level", None),
                (
                    "archive_mode",
                    text.contains("archive_mode").then_some("on"),
                ),
                ("synchronous_standby_names", None),
            ] {
                let out = Command::new("runuser")
                    .args(["-u", "nobody", "--", "postgres", "-C", param, "-D"])
                    .arg(&data)
                    .output()
                    .expect("runuser runs");
                let stdout = String::from_utf8_lossy(&out.stdout);
                assert!(
                    out.status.success(),
                    "{name}/{path}: postgres -C {param} refused it:\n{stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                if let Some(e) = expect {
                    assert_eq!(stdout.trim(), e, "{name}/{path}: {param}");
                }
            }
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The emitted ini with only what ties it to the container changed: the listen address and port,
/// the socket folder and the auth_file (the container writes that one from its environment).
fn local_copy(ini: &str, port: u16, dir: &Path) -> String {
    ini.lines()
        .map(|l| {
            let key = l.split('=').next().unwrap_or("").trim();
            match key {
                "listen_addr" => "listen_addr = 127.0.0.1".to_owned(),
                "listen_port" => format!("listen_port = {port}"),
                "auth_file" => format!("auth_file = {}/userlist.txt", dir.display()),
                _ => l.to_owned(),
            }
        })
        .chain([format!("unix_socket_dir = {}", dir.display())])
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

#[test]
fn every_pgbouncer_ini_starts_pgbouncer() {
    if !common::have_tool("pgbouncer") || !common::have_tool("runuser") {
        return;
    }
    let mut started = 0;
    for (name, b) in bundles() {
        for (i, (path, text)) in files_named(&b, "pgbouncer.ini").iter().enumerate() {
            assert!(text.contains("auth_type = scram-sha-256"), "{path}");
            let dir = common::temp_dir(&format!("compose-pgb-{name}-{i}"));
            let port = free_port();
            let ini = dir.join("pgbouncer.ini");
            std::fs::write(&ini, local_copy(text, port, &dir)).unwrap();
            std::fs::write(dir.join("userlist.txt"), "\"postgres\" \"test-only\"\n").unwrap();
            open_up(&dir);
            let mut child = Command::new("runuser")
                .args(["-u", "nobody", "--", "pgbouncer"])
                .arg(&ini)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("pgbouncer starts");
            std::thread::sleep(Duration::from_millis(1200));
            let status = child.try_wait().unwrap();
            if status.is_none() {
                let connected = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
                child.kill().unwrap();
                let _ = child.wait();
                assert!(
                    connected,
                    "{name}/{path}: pgbouncer does not listen on {port}"
                );
                started += 1;
            } else {
                let out = child.wait_with_output().unwrap();
                panic!(
                    "{name}/{path}: pgbouncer exited ({status:?}):\n{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
    assert!(started >= 2, "only {started} pgbouncer.ini started");
}

#[test]
fn every_prometheus_yml_passes_promtool() {
    if !common::have_tool("promtool") {
        return;
    }
    let mut checked = 0;
    for (name, b) in bundles() {
        let dir = write_tree(&format!("compose-prom-{name}"), &b);
        for (path, _) in files_named(&b, "prometheus.yml") {
            if path.contains("/grafana/") {
                continue;
            }
            let (ok, out) = common::run(
                Command::new("promtool")
                    .arg("check")
                    .arg("config")
                    .arg(dir.join(path)),
            );
            assert!(ok, "{name}/{path}: promtool refused it:\n{out}");
            checked += 1;
        }
    }
    assert!(checked >= 2, "only {checked} prometheus.yml checked");
}

#[test]
fn every_script_parses() {
    let mut checked = 0;
    for (name, b) in bundles() {
        let dir = write_tree(&format!("compose-sh-{name}"), &b);
        for (path, text) in files_named(&b, ".sh") {
            let shell = if text.starts_with("#!/bin/bash") {
                "bash"
            } else {
                "sh"
            };
            let (ok, out) = common::run(Command::new(shell).arg("-n").arg(dir.join(path)));
            assert!(ok, "{name}/{path}: {shell} -n refused it:\n{out}");
            checked += 1;
        }
    }
    assert!(checked >= 4, "only {checked} scripts checked");
}

/// Credentials are only referenced: every `${VAR` in a compose.yaml is required (`:?`) and listed
/// in the `.env.example` beside it, which has no value; nothing uses `trust`.
#[test]
fn credentials_are_referenced_never_written() {
    for (name, b) in bundles() {
        for (path, text) in b.iter() {
            assert!(!text.contains("trust"), "{name}/{path} mentions trust");
        }
        for (path, compose) in files_named(&b, "compose.yaml") {
            let dir = path.trim_end_matches("compose.yaml");
            let example = b
                .get(&format!("{dir}.env.example"))
                .unwrap_or_else(|| panic!("{name}: no .env.example beside {path}"));
            for line in example
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                assert!(
                    line.ends_with('='),
                    "{name}: {dir}.env.example has a value: {line}"
                );
            }
            let mut rest = compose;
            let mut seen = 0;
            while let Some(i) = rest.find("${") {
                let var: String = rest[i + 2..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(
                    rest[i + 2 + var.len()..].starts_with(":?"),
                    "{name}/{path}: ${{{var}}} is not required"
                );
                assert!(
                    example.lines().any(|l| l == format!("{var}=")),
                    "{name}/{path}: {var} is missing from .env.example"
                );
                rest = &rest[i + 2..];
                seen += 1;
            }
            assert!(seen > 0, "{name}/{path} references no credential");
        }
    }
}

/// `build ENV --target compose` prints that env's compose.yaml, byte for byte the file `--out`
/// writes.
#[test]
fn stdout_is_the_env_compose_file() {
    for (name, path) in [
        ("tiered", "topologies/tiered.kdl"),
        ("features", "tests/fixtures/compose/features.kdl"),
    ] {
        let program = common::program(&common::repo().join(path));
        let b = emit::files(Target::Compose, &program).unwrap();
        let base = emit::stdout(Target::Compose, &program, None, &Options::default()).unwrap();
        assert_eq!(Some(base.as_str()), b.get("base/compose.yaml"), "{name}");
        for env in &program.envs {
            let e = env.env.as_deref().unwrap();
            let out =
                emit::stdout(Target::Compose, &program, Some(e), &Options::default()).unwrap();
            assert_eq!(
                Some(out.as_str()),
                b.get(&format!("{e}/compose.yaml")),
                "{name} {e}"
            );
            assert!(out.contains(&format!("name: {name}-{e}")), "{name} {e}");
        }
    }
    let _ = std::io::stderr().flush();
}
