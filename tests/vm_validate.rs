//! The VM targets' files, checked by the programs that consume them: `haproxy -c`, `keepalived -t`,
//! `postgres -C`, a running `pgbouncer`, and `patroni --validate-config`.
//!
//! Inputs: every topology in `topologies/` plus `tests/fixtures/vm/*.kdl` (a cluster without
//! Patroni, which exercises postgresql.conf, pg_hba.conf and the health endpoint's script, units,
//! sysusers.d entry and pg_ident.conf).
//! No packet ever goes to a topology's own addresses: the tools that connect or bind
//! (pgbouncer, patroni's validator) run on test copies rewritten to loopback and free ports, and
//! keepalived runs in a private network namespace.

mod common;

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use pgtopo::emit::{self, Options, Program};
use pgtopo::model::Target;

/// Every program with VM output, with its name.
fn programs() -> Vec<(String, Program)> {
    let mut paths = common::topologies();
    let fixtures = common::repo().join("tests/fixtures/vm");
    let mut extra: Vec<(String, PathBuf)> = std::fs::read_dir(&fixtures)
        .expect("tests/fixtures/vm exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    extra.sort();
    paths.extend(extra);
    paths
        .into_iter()
        .map(|(n, p)| (n, common::program(&p)))
        .filter(|(_, p)| {
            p.build_targets()
                .iter()
                .any(|t| matches!(t, Target::Haproxy | Target::Keepalived | Target::Hosts))
        })
        .collect()
}

/// Every emitted file of `target` across the programs: (label, file name, contents).
fn emitted(target: Target, file_name: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, p) in programs() {
        if !p.build_targets().contains(&target) {
            continue;
        }
        let b = emit::files(target, &p).unwrap_or_else(|d| panic!("{name}: {target}: {d:#?}"));
        for (path, contents) in b.iter() {
            if path.ends_with(&format!("/{file_name}")) {
                out.push((format!("{name}/{target}/{path}"), contents.to_owned()));
            }
        }
    }
    out
}

fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

/// Runs `cmd` as an unprivileged user when we are root (postgres and pgbouncer refuse root).
fn unprivileged(program: &str) -> Command {
    if common::is_root() {
        let mut c = common::runuser_nobody();
        c.arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn free_port(host: &str) -> u16 {
    TcpListener::bind((host, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn every_haproxy_cfg_passes_haproxy_c() {
    if !common::have_tool("haproxy") {
        return;
    }
    let files = emitted(Target::Haproxy, "haproxy.cfg");
    assert!(
        files.len() >= 4,
        "expected haproxy.cfg files, got {}",
        files.len()
    );
    let dir = common::temp_dir("vm-haproxy");
    for (i, (label, cfg)) in files.iter().enumerate() {
        assert!(
            cfg.contains("stats auth \"${HAPROXY_STATS_USER}:${HAPROXY_STATS_PASSWORD}\"")
                || !cfg.contains("listen stats"),
            "{label}: stats credentials must come from the environment"
        );
        let path = write(&dir, &format!("{i}.cfg"), cfg);
        let (ok, out) = common::run(
            Command::new("haproxy")
                .env("HAPROXY_STATS_USER", "test-user")
                .env("HAPROXY_STATS_PASSWORD", "test-password")
                .arg("-c")
                .arg("-f")
                .arg(&path),
        );
        assert!(
            ok,
            "haproxy -c rejects {label}:\n{out}\n--- file ---\n{cfg}"
        );
        assert!(
            !out.contains("[WARNING]"),
            "haproxy -c warns about {label}:\n{out}"
        );
    }
}

/// Every script the hosts target writes (bootstrap, Patroni's run and apply scripts, the
/// pgBackRest setup, backup and restore scripts) parses in the shell its first line names.
#[test]
fn every_hosts_script_parses() {
    let dir = common::temp_dir("hosts-scripts");
    let mut checked = 0;
    for (name, p) in programs() {
        if !p.build_targets().contains(&Target::Hosts) {
            continue;
        }
        let b = emit::files(Target::Hosts, &p).unwrap_or_else(|d| panic!("{name}: {d:#?}"));
        for (path, body) in b.iter().filter(|(f, _)| f.ends_with(".sh")) {
            let shell = if body.starts_with("#!/bin/bash") {
                "bash"
            } else {
                "sh"
            };
            let file = write(&dir, &format!("{checked}.sh"), body);
            let (ok, out) = common::run(Command::new(shell).arg("-n").arg(&file));
            assert!(ok, "{name}/hosts/{path}: {shell} -n refused it:\n{out}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} hosts scripts checked");
}

/// The VM fixtures are not in `topologies/`, so the committed `out/` tree does not hold their
/// files: each target's whole output of each fixture is a snapshot under golden/vm/ instead (the
/// health endpoint's script, units, sysusers.d entry and pg_ident.conf among them).
#[test]
fn fixture_outputs_match_their_snapshots() {
    let fixtures = common::repo().join("tests/fixtures/vm");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "tests/fixtures/vm has no topology");
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(common::repo().join("golden/vm"));
    s.set_prepend_module_to_snapshot(false);
    s.bind(|| {
        for path in &names {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let p = common::program(path);
            for target in p.build_targets() {
                let b = emit::files(target, &p).unwrap_or_else(|d| panic!("{name}: {d:#?}"));
                let mut text = String::new();
                for (file, contents) in b.iter() {
                    text.push_str(&format!("===== {file}\n{contents}"));
                }
                insta::assert_snapshot!(format!("{name}__{target}"), text);
            }
        }
    });
}

/// The health endpoint of the clusters without Patroni: its socket and service units pass
/// `systemd-analyze verify` (no finding at all), its sysusers.d entry creates its OS user with
/// `systemd-sysusers` in a scratch root, and haproxy asks it as it asks Patroni (the same paths,
/// on the node's `patroni-port`). Its script is parsed by [`every_hosts_script_parses`]; it runs
/// against a live primary and standby in tests/live_access.rs.
#[test]
fn every_health_endpoint_unit_passes_systemd_analyze_verify() {
    let sockets = emitted_matching(Target::Hosts, |f| {
        f.starts_with("pgtopo-health-") && f.ends_with(".socket")
    });
    assert!(
        !sockets.is_empty(),
        "the fixture without Patroni must produce the health endpoint's units"
    );
    let all = emitted_matching(Target::Hosts, |_| true);
    let file = |label: &str, name: &str| -> String {
        let dir = label.rsplit_once('/').unwrap().0;
        all.iter()
            .find(|(l, _)| *l == format!("{dir}/{name}"))
            .unwrap_or_else(|| panic!("{dir}/{name} is not emitted"))
            .1
            .clone()
    };
    for (label, socket) in &sockets {
        let unit = label
            .rsplit_once('/')
            .unwrap()
            .1
            .trim_end_matches(".socket");
        let service = file(label, &format!("{unit}@.service"));
        assert!(socket.contains("\nAccept=yes\n"), "{label}");
        assert!(service.contains("\nUser=pgtopo-health\n"), "{label}");
        let ident = file(label, "pg_ident.conf");
        assert!(
            ident.contains("\npgtopo-health   pgtopo-health    pgtopo_check\n"),
            "{ident}"
        );
        let hba = file(label, "pg_hba.conf");
        assert!(
            hba.contains(
                "\nlocal   postgres     pgtopo_check                      peer map=pgtopo-health\n"
            ),
            "{hba}"
        );
        if !common::have_tool("systemd-analyze") {
            continue;
        }
        let dir = common::temp_dir("health-units");
        write(&dir, &format!("{unit}.socket"), socket);
        write(&dir, &format!("{unit}@.service"), &service);
        let (ok, out) = common::run(
            Command::new("systemd-analyze")
                .current_dir(&dir)
                .arg("verify")
                .arg(format!("./{unit}.socket"))
                .arg(format!("./{unit}@.service")),
        );
        assert!(
            ok && out.trim().is_empty(),
            "{label}: systemd-analyze verify:\n{out}"
        );
        if common::have_tool("systemd-sysusers") {
            let root = dir.join("root");
            std::fs::create_dir_all(root.join("etc")).unwrap();
            let conf = write(
                &dir,
                "sysusers.conf",
                &file(label, "pgtopo-health.sysusers.conf"),
            );
            let (ok, out) = common::run(
                Command::new("systemd-sysusers")
                    .arg(format!("--root={}", root.display()))
                    .arg(&conf),
            );
            let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
            assert!(
                ok && passwd.starts_with("pgtopo-health:x:"),
                "{label}: systemd-sysusers:\n{out}\n{passwd}"
            );
        }
    }
}

/// Every emitted file of `target` whose name passes `keep`: (label ending in `/<file>`, contents).
fn emitted_matching(target: Target, keep: impl Fn(&str) -> bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, p) in programs() {
        if !p.build_targets().contains(&target) {
            continue;
        }
        let b = emit::files(target, &p).unwrap_or_else(|d| panic!("{name}: {target}: {d:#?}"));
        for (path, contents) in b.iter() {
            if keep(path.rsplit('/').next().unwrap_or(path)) {
                out.push((format!("{name}/{target}/{path}"), contents.to_owned()));
            }
        }
    }
    out
}

#[test]
fn every_keepalived_conf_passes_keepalived_t() {
    if !common::have_tool("keepalived") || !common::have_tool("unshare") {
        return;
    }
    if !common::is_root() {
        if common::tools_required() {
            panic!("keepalived -t needs root here (it runs in a private network namespace)");
        }
        eprintln!("SKIPPED: keepalived -t needs root to create the VIP interface in a private network namespace");
        return;
    }
    let files = emitted(Target::Keepalived, "keepalived.conf");
    assert!(
        files.len() >= 4,
        "expected keepalived.conf files, got {}",
        files.len()
    );
    let dir = common::temp_dir("vm-keepalived");
    // The test, not pgtopo, provides the separately provisioned authentication block.
    let auth = write(&dir, "auth.conf", common::KEEPALIVED_TEST_AUTH);
    for (i, (label, conf)) in files.iter().enumerate() {
        // Only the include path changes in the copy; the interface keeps its name and is created
        // (as a bridge: this kernel has no dummy module) inside a private network namespace that
        // disappears with the command.
        let copy = common::keepalived_with_auth(conf, &auth, label);
        let mut interfaces: Vec<String> = Vec::new();
        for line in conf.lines() {
            let t = line.trim_start();
            if let Some(ifname) = t.strip_prefix("interface ") {
                if !interfaces.contains(&ifname.to_owned()) {
                    interfaces.push(ifname.to_owned());
                }
            }
            assert!(!t.starts_with("auth_pass"), "{label}: a password is inline");
        }
        let path = write(&dir, &format!("{i}.conf"), &copy);
        let mut script = String::from("set -e; ip link set lo up; ");
        for ifname in &interfaces {
            script.push_str(&format!(
                "ip link add {ifname} type bridge; ip link set {ifname} up; "
            ));
        }
        script.push_str(&format!("keepalived -t -f {}", path.display()));
        let (ok, out) = common::run(Command::new("unshare").args(["-n", "sh", "-c", &script]));
        assert!(
            ok,
            "keepalived -t rejects {label}:\n{out}\n--- file ---\n{copy}"
        );
        // keepalived -t exits 0 even for a missing include; any message is a problem.
        assert!(
            out.trim().is_empty(),
            "keepalived -t complains about {label}:\n{out}"
        );
    }
}

/// `postgres -C` on a directory holding only `conf`; returns the value of `param`.
fn postgres_c(dir: &Path, conf: &str, param: &str, label: &str) -> String {
    std::fs::create_dir_all(dir).unwrap();
    write(dir, "postgresql.conf", conf);
    common::open_up(dir);
    let (ok, out) = common::run(
        unprivileged("postgres")
            .arg("-C")
            .arg(param)
            .arg("-D")
            .arg(dir),
    );
    assert!(
        ok,
        "postgres -C rejects {label}:\n{out}\n--- file ---\n{conf}"
    );
    // The value is the first line; PostgreSQL may log notes (a missing postgresql.auto.conf) after it.
    out.lines().next().unwrap_or("").trim().to_owned()
}

#[test]
fn every_postgresql_conf_passes_postgres_c() {
    if !common::have_tool("postgres") {
        return;
    }
    let files = emitted(Target::Hosts, "postgresql.conf");
    assert!(
        !files.is_empty(),
        "the fixture without Patroni must produce postgresql.conf"
    );
    let dir = common::temp_dir("vm-postgres");
    for (i, (label, conf)) in files.iter().enumerate() {
        let d = dir.join(i.to_string());
        assert_eq!(
            postgres_c(&d, conf, "wal_level", label),
            "replica",
            "{label}"
        );
        assert_eq!(
            postgres_c(&d, conf, "password_encryption", label),
            "scram-sha-256"
        );
        if conf.contains("synchronous_standby_names") {
            let v = postgres_c(&d, conf, "synchronous_standby_names", label);
            assert!(
                v.starts_with("ANY ") || v.starts_with("FIRST "),
                "{label}: {v}"
            );
        }
    }
}

#[test]
fn every_patroni_parameter_set_passes_postgres_c() {
    // Patroni writes postgresql.conf itself; its input (bootstrap.dcs.postgresql.parameters) is
    // what pgtopo emits, so that is what postgres must accept.
    if !common::have_tool("postgres") {
        return;
    }
    let files = emitted(Target::Hosts, "patroni.yml");
    assert!(
        !files.is_empty(),
        "haproxy-keepalived.kdl must produce patroni.yml"
    );
    let dir = common::temp_dir("vm-patroni-params");
    for (i, (label, yml)) in files.iter().enumerate() {
        let v: serde_yaml::Value = serde_yaml::from_str(yml).unwrap();
        let params = v["bootstrap"]["dcs"]["postgresql"]["parameters"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{label}: no parameters"));
        let mut conf = String::new();
        for (k, val) in params {
            let value = match val {
                serde_yaml::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
                other => serde_yaml::to_string(other).unwrap().trim().to_owned(),
            };
            conf.push_str(&format!("{} = {value}\n", k.as_str().unwrap()));
        }
        let d = dir.join(i.to_string());
        assert_eq!(
            postgres_c(&d, &conf, "wal_level", label),
            "replica",
            "{label}"
        );
    }
}

/// Kills a child process when dropped, so a failing assertion never leaks it.
struct Reaper(std::process::Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn every_pgbouncer_ini_runs() {
    if !common::have_tool("pgbouncer") {
        return;
    }
    let files = emitted(Target::Hosts, "pgbouncer.ini");
    assert!(
        !files.is_empty(),
        "haproxy-keepalived.kdl must produce pgbouncer.ini"
    );
    let dir = common::temp_dir("vm-pgbouncer");
    // The user list is provisioned by the operator; the test writes one with a dummy SCRAM secret.
    let userlist = write(
        &dir,
        "userlist.txt",
        "\"postgres\" \"SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVka2V5:c2VydmVya2V5\"\n",
    );
    for (i, (label, ini)) in files.iter().enumerate() {
        assert!(ini.contains("auth_type = scram-sha-256"), "{label}");
        let port = free_port("127.0.0.1");
        let mut copy = String::new();
        for line in ini.lines() {
            let out = if line.starts_with("listen_addr") {
                "listen_addr = 127.0.0.1".to_owned()
            } else if line.starts_with("listen_port") {
                format!("listen_port = {port}")
            } else if line.starts_with("auth_file") {
                format!("auth_file = {}", userlist.display())
            } else if line.starts_with("* = host=") {
                // The server is never contacted (no client logs in), but keep it on loopback anyway.
                let rest = line.split_once(" port=").map_or("", |x| x.1);
                format!("* = host=127.0.0.1 port={rest}")
            } else {
                line.to_owned()
            };
            copy.push_str(&out);
            copy.push('\n');
        }
        let path = write(&dir, &format!("{i}.ini"), &copy);
        common::open_up(&dir);
        // `pgbouncer -u nobody` drops root itself, so the child is PgBouncer and the Reaper kills
        // it (`runuser` forks, and killing runuser would leave PgBouncer running).
        let mut cmd = Command::new("pgbouncer");
        if common::is_root() {
            cmd.args(["-u", "nobody"]);
        }
        let child = cmd
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start pgbouncer");
        let mut child = Reaper(child);
        std::thread::sleep(Duration::from_millis(1200));
        if let Some(status) = child.0.try_wait().unwrap() {
            let out = child.0.wait_with_output_ref();
            panic!("pgbouncer exited ({status}) with {label}:\n{out}\n--- file ---\n{copy}");
        }
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_ok(),
            "pgbouncer with {label} does not listen on its port"
        );
    }
}

trait OutputRef {
    fn wait_with_output_ref(&mut self) -> String;
}

impl OutputRef for std::process::Child {
    fn wait_with_output_ref(&mut self) -> String {
        use std::io::Read;
        let mut s = String::new();
        if let Some(o) = self.stdout.as_mut() {
            let _ = o.read_to_string(&mut s);
        }
        if let Some(e) = self.stderr.as_mut() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

/// The newest PostgreSQL binary directory Debian-style (Patroni's validator wants pg_ctl,
/// pg_basebackup, pg_isready… side by side).
fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

#[test]
fn every_patroni_yml_passes_patroni_validate_config() {
    if !common::have_tool("patroni") {
        return;
    }
    let Some(bin_dir) = pg_bin_dir() else {
        if common::tools_required() {
            panic!("no /usr/lib/postgresql/*/bin with pg_ctl for patroni --validate-config");
        }
        eprintln!("SKIPPED: no /usr/lib/postgresql/*/bin; patroni --validate-config did not run");
        return;
    };
    let files = emitted(Target::Hosts, "patroni.yml");
    assert!(
        !files.is_empty(),
        "haproxy-keepalived.kdl must produce patroni.yml"
    );
    let dir = common::temp_dir("vm-patroni");
    for (i, (label, yml)) in files.iter().enumerate() {
        let mut v: serde_yaml::Value = serde_yaml::from_str(yml).unwrap();
        // Addresses become 127.0.0.2 and up (Patroni's validator refuses 127.0.0.1), one per
        // distinct address, and ports become free ones. The DCS endpoints must answer a TCP
        // connect: the test listens on them itself.
        let mut addr_map: BTreeMap<String, String> = BTreeMap::new();
        let mut loopback = |a: &str| -> String {
            let n = addr_map.len() + 2;
            addr_map
                .entry(a.to_owned())
                .or_insert_with(|| format!("127.0.0.{n}"))
                .clone()
        };
        let mut listeners = Vec::new();
        for key in ["restapi", "postgresql"] {
            let (host, _) = v[key]["listen"].as_str().unwrap().rsplit_once(':').unwrap();
            let h = loopback(host);
            let hp = format!("{h}:{}", free_port(&h));
            v[key]["listen"] = hp.clone().into();
            v[key]["connect_address"] = hp.into();
        }
        let hosts: Vec<serde_yaml::Value> = v["etcd3"]["hosts"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|e| {
                let (host, _) = e.as_str().unwrap().rsplit_once(':').unwrap();
                let h = loopback(host);
                let l = TcpListener::bind((h.as_str(), 0)).unwrap();
                let hp = format!("{h}:{}", l.local_addr().unwrap().port());
                listeners.push(l);
                hp.into()
            })
            .collect();
        assert!(!hosts.is_empty(), "{label}: no etcd3 hosts");
        v["etcd3"]["hosts"] = hosts.into();
        let data = dir.join(format!("data-{i}"));
        v["postgresql"]["data_dir"] = data.display().to_string().into();
        v["postgresql"]["bin_dir"] = bin_dir.display().to_string().into();
        v["postgresql"]["pgpass"] = dir.join(format!("pgpass-{i}")).display().to_string().into();
        let copy = serde_yaml::to_string(&v).unwrap();
        let path = write(&dir, &format!("{i}.yml"), &copy);
        let (ok, out) = common::run(Command::new("patroni").arg("--validate-config").arg(&path));
        assert!(
            ok && out.trim().is_empty(),
            "patroni --validate-config rejects {label}:\n{out}\n--- test copy ---\n{copy}"
        );
        drop(listeners);
    }
}

#[test]
fn no_vm_file_holds_a_password_or_trust() {
    for (name, p) in programs() {
        for t in [Target::Haproxy, Target::Keepalived, Target::Hosts] {
            if !p.build_targets().contains(&t) {
                continue;
            }
            for (path, body) in emit::files(t, &p).unwrap().iter() {
                // Comments may name the provisioned files' contents; only settings count.
                let lower: String = body
                    .lines()
                    .filter(|l| !l.trim_start().starts_with(['#', ';']))
                    .collect::<Vec<_>>()
                    .join("\n")
                    .to_lowercase();
                // Never trust, not even for the health endpoint's role, which logs in by peer
                // over the Unix socket (docs/security.md).
                assert!(
                    !lower
                        .lines()
                        .any(|l| l.split_whitespace().any(|w| w == "trust")),
                    "{name}/{t}/{path} uses trust"
                );
                assert!(
                    !lower
                        .lines()
                        .any(|l| l.trim_start().starts_with("auth_pass")),
                    "{name}/{t}/{path} holds a VRRP password"
                );
                assert!(
                    !lower
                        .lines()
                        .any(|l| l.trim_start().starts_with("password:")),
                    "{name}/{t}/{path} holds a password"
                );
                assert!(!lower.contains("changeme"), "{name}/{t}/{path}");
            }
        }
    }
}

#[test]
fn stdout_prints_the_chosen_host() {
    let p = common::program(&common::repo().join("topologies/haproxy-keepalived.kdl"));
    let files = emit::files(Target::Haproxy, &p).unwrap();
    let by_name = emit::stdout(
        Target::Haproxy,
        &p,
        Some("staging"),
        &Options {
            host: Some("lb2".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(Some(by_name.as_str()), files.get("staging/lb2/haproxy.cfg"));
    let by_addr = emit::stdout(
        Target::Haproxy,
        &p,
        Some("staging"),
        &Options {
            host: Some("10.0.0.22".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(by_addr, by_name);
    let default = emit::stdout(Target::Keepalived, &p, None, &Options::default()).unwrap();
    assert_eq!(
        Some(default.as_str()),
        emit::files(Target::Keepalived, &p)
            .unwrap()
            .get("base/lb1/keepalived.conf")
    );
    let node = emit::stdout(
        Target::Hosts,
        &p,
        None,
        &Options {
            host: Some("db2".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(node.contains("# ==> base/db2/patroni.yml <==") && node.contains("\nname: db2\n"));
    let err = emit::stdout(
        Target::Haproxy,
        &p,
        None,
        &Options {
            host: Some("nope".into()),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(err[0].help.as_deref().unwrap_or("").contains("lb1, lb2"));
}
