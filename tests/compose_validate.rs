//! The Compose target checked by the programs that consume its files: the Compose Specification
//! schema (in Rust with `jsonschema`, and with `check-jsonschema --builtin-schema
//! vendor.compose-spec`), `postgres -C` for every postgresql.conf, a running PgBouncer for every
//! pgbouncer.ini, `promtool check config` for prometheus.yml, and `bash -n`/`sh -n` for the
//! generated scripts. Every topology whose targets include compose is checked, plus
//! tests/fixtures/compose/*.kdl for the features the seed topologies do not use.

mod common;

use common::{free_port, Servers, PG_BIN};

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
    common::open_up(&dir);
    dir
}

fn compose_schema() -> PathBuf {
    common::reference("compose/compose-spec.json")
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
                let out = common::runuser_nobody()
                    .args(["postgres", "-C", param, "-D"])
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
            common::open_up(&dir);
            // `pgbouncer -u nobody` drops root itself, so the child is PgBouncer and `kill` below
            // stops it (killing a `runuser` parent would leave PgBouncer running).
            let mut child = Command::new("pgbouncer")
                .args(["-u", "nobody"])
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

/// Every service's image is pinned and pulls today: versioned tags under Docker Hub's `bitnami/`
/// stopped pulling in August 2025 (bitnami moved them to `bitnamilegacy/`).
#[test]
fn every_image_is_pinned_and_served() {
    let mut seen = 0;
    for (name, b) in bundles() {
        for (path, compose) in files_named(&b, "compose.yaml") {
            let doc: serde_yaml::Value = serde_yaml::from_str(compose).unwrap();
            for (svc, def) in doc["services"].as_mapping().into_iter().flatten() {
                let Some(img) = def["image"].as_str() else {
                    continue;
                };
                let at = format!("{name}/{path} service {:?}: image {img}", svc.as_str());
                let last = img.rsplit('/').next().unwrap();
                assert!(
                    last.contains(':') && !last.ends_with(":latest"),
                    "{at} is not pinned"
                );
                assert!(
                    !img.starts_with("bitnami/") && !img.starts_with("docker.io/bitnami/"),
                    "{at} is a tag Docker Hub no longer serves"
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 0, "no compose service has an image");
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

/// The emitted postgresql.conf, made to run on this machine: loopback, a free port, sockets in the
/// test folder, no archiving (the container's /archive does not exist here). Everything else,
/// synchronous_standby_names included, is the emitted text.
fn local_conf(conf: &str, port: u16, dir: &Path) -> String {
    let mut s: String = conf
        .lines()
        .filter(|l| {
            let k = l.split('=').next().unwrap_or("").trim();
            !matches!(
                k,
                "port" | "listen_addresses" | "archive_mode" | "archive_command"
            )
        })
        .map(|l| format!("{l}\n"))
        .collect();
    s.push_str(&format!(
        "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n",
        dir.display()
    ));
    s
}

fn as_nobody(dir: &Path, env: &[(&str, String)], args: &[&str]) -> (bool, String) {
    let path = format!(
        "{}:{PG_BIN}:/usr/bin:/bin",
        dir.join("fake-image").display()
    );
    let mut cmd = common::runuser_nobody();
    cmd.args(["env", &format!("PATH={path}")]);
    for (k, v) in env {
        cmd.arg(format!("{k}={v}"));
    }
    cmd.args(args);
    common::run(&mut cmd)
}

fn psql(dir: &Path, port: u16, sql: &str) -> String {
    let (ok, out) = as_nobody(
        dir,
        &[("PGPASSWORD", "su-test".to_owned())],
        &[
            "psql",
            "-XAtq",
            "-h",
            "127.0.0.1",
            "-p",
            &port.to_string(),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            sql,
        ],
    );
    assert!(ok, "psql {sql}: {out}");
    out.trim().to_owned()
}

fn wait_for(dir: &Path, port: u16, sql: &str, want: &str) {
    let mut got = String::new();
    for _ in 0..60 {
        got = psql(dir, port, sql);
        if got == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("{sql} on port {port}: wanted {want:?}, got {got:?}");
}

/// The failover-"none" scripts on real PostgreSQL: the init script creates roles, databases and
/// slots on a primary whose emitted config already names synchronous standbys; the node
/// entrypoint bootstraps a standby (a quorum sync standby under its node name) and a cascading
/// standby that creates its own slot on its upstream. Only the image's own entrypoint, to which
/// node-entrypoint.sh hands over at the end, is replaced (by a script that just returns), since the
/// test starts the servers itself with pg_ctl.
#[test]
fn failover_none_scripts_build_a_replicating_cluster() {
    if !common::have_tool("runuser") || !Path::new(PG_BIN).join("pg_basebackup").exists() {
        if common::tools_required() {
            panic!("{PG_BIN} (Debian postgresql-15) is not installed");
        }
        eprintln!("SKIPPED: {PG_BIN} is missing; the end-to-end replication check did not run");
        return;
    }
    let program = common::program(&common::repo().join("tests/fixtures/compose/features.kdl"));
    let b = emit::files(Target::Compose, &program).unwrap();
    let f = |p: &str| b.get(&format!("base/shop/{p}")).unwrap().to_owned();
    let dir = common::temp_dir("compose-e2e");
    std::fs::create_dir_all(dir.join("fake-image")).unwrap();
    std::fs::write(
        dir.join("fake-image/docker-entrypoint.sh"),
        "#!/bin/sh\necho handed over to the image entrypoint\n",
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join("fake-image/docker-entrypoint.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    for name in ["init.sh", "node-entrypoint.sh", "pg_hba.conf"] {
        let src = match name {
            "init.sh" => f("initdb/10-pgtopo-init.sh"),
            other => f(other),
        };
        std::fs::write(dir.join(name), src).unwrap();
    }
    std::fs::write(dir.join("pw"), "su-test\n").unwrap();
    common::open_up(&dir);
    let d = |s: &str| dir.join(s).display().to_string();
    let mut servers = Servers(Vec::new());
    let start = |node: &str, port: u16, servers: &mut Servers| {
        let conf = dir.join(format!("{node}.conf"));
        std::fs::write(&conf, local_conf(&f("postgresql.conf"), port, &dir)).unwrap();
        common::open_up(&conf);
        let opts = format!(
            "-c config_file={} -c hba_file={}",
            conf.display(),
            d("pg_hba.conf")
        );
        servers.start(|args| as_nobody(&dir, &[], args), &dir, node, &opts);
    };

    // The primary: initdb as the image would, then the emitted init script.
    let p1 = free_port();
    let (ok, out) = as_nobody(&dir, &[], &common::initdb_scram(&d("pw"), &d("db1")));
    assert!(ok, "initdb: {out}");
    start("db1", p1, &mut servers);
    let env = [
        ("POSTGRES_USER", "postgres".to_owned()),
        ("PGPASSWORD", "su-test".to_owned()),
        // The test runs as nobody, not as the image's postgres OS user whose local logins
        // pg_hba.conf maps by peer, so it logs in over TCP with the password.
        ("PGHOST", "127.0.0.1".to_owned()),
        ("PGPORT", p1.to_string()),
        ("REPLICATION_PASSWORD", "repl-test".to_owned()),
        ("ORDER_APP_PASSWORD", "app-test".to_owned()),
        ("BILLING_APP_PASSWORD", "billing-test".to_owned()),
        ("EXPORTER_PASSWORD", "exporter-test".to_owned()),
        ("PGBOUNCER_AUTH_PASSWORD", "pool-test".to_owned()),
    ];
    // Twice: the bootstrap is idempotent, so a second run changes nothing and fails on nothing.
    for run in ["first", "second"] {
        let (ok, out) = as_nobody(&dir, &env, &["timeout", "60", "bash", &d("init.sh")]);
        assert!(
            ok,
            "the init script's {run} run failed (or hung on a synchronous commit): {out}"
        );
    }
    assert_eq!(
        psql(
            &dir,
            p1,
            "select string_agg(datname || ':' || pg_get_userbyid(datdba), ',' order by datname) \
             from pg_database where datname in ('orders', 'reports', 'billing')"
        ),
        "billing:billing_app,orders:order_app,reports:postgres"
    );
    assert_eq!(
        psql(
            &dir,
            p1,
            "select string_agg(slot_name, ',' order by slot_name) from pg_replication_slots"
        ),
        "db2,db3"
    );
    assert_eq!(
        psql(
            &dir,
            p1,
            "select pg_get_userbyid(datdba) from pg_database where datname = 'orders'"
        ),
        "order_app"
    );
    assert_eq!(
        psql(
            &dir,
            p1,
            "select rolreplication from pg_roles where rolname = 'replicator'"
        ),
        "t"
    );
    // Least privilege: the exporters' role is a member of pg_monitor and nothing more; PgBouncer's
    // lookup role reads a secret only through the function, never pg_shadow itself, and the
    // function returns no superuser.
    assert_eq!(
        psql(
            &dir,
            p1,
            "select rolsuper || ':' || rolconnlimit || ':' || pg_has_role(oid, 'pg_monitor', 'member') \
             from pg_roles where rolname = 'pgtopo_exporter'"
        ),
        "false:5:true"
    );
    assert_eq!(
        psql(
            &dir,
            p1,
            "set role pgbouncer_auth; \
             select string_agg(usename || ':' || left(passwd, 14), ',') \
             from pgtopo.pgbouncer_lookup('order_app')"
        ),
        "order_app:SCRAM-SHA-256$"
    );
    assert_eq!(
        psql(
            &dir,
            p1,
            "set role pgbouncer_auth; select count(*) from pgtopo.pgbouncer_lookup('postgres')"
        ),
        "0",
        "the lookup must never return a superuser's secret"
    );
    assert!(
        as_nobody(
            &dir,
            &[("PGPASSWORD", "su-test".to_owned())],
            &[
                "psql",
                "-XAtq",
                "-h",
                "127.0.0.1",
                "-p",
                &p1.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                "set role pgbouncer_auth; select count(*) from pg_shadow",
            ],
        )
        .1
        .contains("permission denied"),
        "the lookup role must not read pg_shadow itself"
    );

    // A standby of the primary, then a standby cascading from it, each bootstrapped by the
    // emitted entrypoint with the environment compose.yaml gives it.
    let p2 = free_port();
    let p4 = free_port();
    for (node, upstream_port, cascade) in [("db2", p1, false), ("db4", p2, true)] {
        let mut env = vec![
            ("PGDATA", d(node)),
            ("PGTOPO_NODE", node.to_owned()),
            ("PGTOPO_UPSTREAM", "127.0.0.1".to_owned()),
            ("PGTOPO_UPSTREAM_PORT", upstream_port.to_string()),
            ("PGTOPO_SLOT", node.to_owned()),
            ("REPLICATION_PASSWORD", "repl-test".to_owned()),
        ];
        if cascade {
            env.push(("PGTOPO_CREATE_SLOT", "true".to_owned()));
        }
        let (ok, out) = as_nobody(
            &dir,
            &env,
            &[
                "timeout",
                "120",
                "bash",
                &d("node-entrypoint.sh"),
                "postgres",
            ],
        );
        assert!(
            ok && out.contains("handed over"),
            "{node}: the entrypoint failed: {out}"
        );
        assert!(
            dir.join(node).join("standby.signal").exists(),
            "{node}: no standby.signal"
        );
        start(node, if cascade { p4 } else { p2 }, &mut servers);
    }
    // db2 is one of `ANY 1 ("db2", "db3")`: the primary sees it, by its node name, as a quorum
    // standby; db4 streams from db2 through the slot it created there.
    wait_for(
        &dir,
        p1,
        "select application_name || ':' || sync_state from pg_stat_replication",
        "db2:quorum",
    );
    wait_for(
        &dir,
        p2,
        "select application_name from pg_stat_replication",
        "db4",
    );
    wait_for(
        &dir,
        p2,
        "select slot_name || ':' || active from pg_replication_slots",
        "db4:true",
    );
    assert_eq!(psql(&dir, p4, "select pg_is_in_recovery()"), "t");
    drop(servers);
}
