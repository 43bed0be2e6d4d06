//! Live proof of disaster recovery (issue 27, docs/backup.md): a `replica-of` cluster under
//! Patroni follows its source through the source's failover, and is promoted the way an operator
//! does it, from the files pgtopo emits for VM hosts.
//!
//! Every node is a "VM" of its own: a network namespace with one address on a private link (a
//! bridge in a "switch" namespace), so every node listens on the same ports (5432, 8008) as real
//! VMs do, and the standby leader's multi-host `standby_cluster.host` (every source node) is what
//! is exercised. Loopback addresses (127.0.0.2, …) cannot stand in for the VMs: a connection to
//! 127.0.0.N leaves from 127.0.0.1 whatever the client's address, so the emitted pg_hba rows,
//! which allow replication from the nodes' own addresses, would (rightly) refuse it. etcd runs in
//! a namespace of its own. Nothing is visible on the machine's network.
//!
//! Nothing the clusters run is hand-written: the test compiles its topology (a source cluster of
//! two nodes, a standby cluster of two nodes `replica-of` it) with the `pgtopo` binary and starts
//! every node from the emitted patroni.yml / patroni-run.sh. The runtime inputs are the test's
//! own: the env file with the passwords, the etcd command line, and a path-only rewrite of each
//! patroni.yml (data_dir and pgpass into the temp dir, and `unix_socket_directories` into a
//! folder of the node's own, because the namespaces share one file system and Debian's
//! /var/run/postgresql would hold the same socket name for every node) and of each
//! pgbackrest.conf (the repository and pg1-path into the temp dir; pgBackRest finds the file
//! through `PGBACKREST_CONFIG`, which PostgreSQL's archive and restore commands inherit from
//! Patroni).
//!
//! Checks, in order: rows written on the source reach the standby leader and its replica; (with
//! the repository) the standby cluster's VMs die, the source writes on and removes the WAL they
//! would need next, and the returning standby leader reads it from the repository
//! (restore_command: "restored log file … from archive") and catches up; the source's primary
//! "VM" dies (every process of its namespace gets SIGKILL); the other source node is promoted
//! and rows written on it reach the standby cluster (it follows the new primary); the dead node
//! comes back as a source standby and the standby leader reconnects. Then the standby cluster is
//! promoted as an operator does it: `replica-of` removed from the topology, the rebuilt
//! `dcs.yml` applied with the emitted patroni-apply.sh; its leader accepts writes, its replica
//! follows, and the source's new writes no longer arrive. Two scenarios: with `slots #true` on
//! both clusters, the source's leader (old and new) keeps the permanent slot `standby_dr`, the
//! standby leader streams through it and from the read-write node only, also once the old
//! primary is back and listed first; with the default `slots #false` and a pgBackRest
//! repository on the source (set up by the emitted pgbackrest-setup.sh), the source keeps no
//! slot, the standby leader streams from the first source node that answers (the returned old
//! primary, cascading) and falls back on the repository. The times are printed for
//! docs/backup.md.

mod common;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{chown_pg, set_path, wait_for, PG_BIN};

/// The private link's addresses: etcd, the source's nodes, the standby cluster's nodes.
/// Where a standby leader streams from and whether it does: `<sender address>|streaming`.
const SENDER: &str = "select sender_host || '|' || status from pg_stat_wal_receiver";

const NET: &str = "10.213.27";
const ETCD: &str = "10.213.27.10";
const SOURCE: [(&str, &str); 2] = [("s1", "10.213.27.11"), ("s2", "10.213.27.12")];
const STANDBY: [(&str, &str); 2] = [("d1", "10.213.27.21"), ("d2", "10.213.27.22")];
const PG_PORT: u16 = 5432;
const REST_PORT: u16 = 8008;

/// The topology under test, with slots on both clusters or on neither (and then a pgBackRest
/// repository on the source, which the standby cluster falls back on); without `replica_of`,
/// the standby cluster as an operator rewrites it to promote it.
fn topology(replica_of: bool, slots: bool) -> String {
    let failover = format!(
        "    failover \"patroni\" ttl=10 loop-wait=2 retry-timeout=4 {{\n        dcs \"etcd\" {{\n            \
         endpoint \"{ETCD}:2379\"\n        }}\n    }}\n    replication {{\n        slots #{slots}\n    }}\n"
    );
    let nodes = |list: &[(&str, &str)]| -> String {
        list.iter()
            .enumerate()
            .map(|(i, (n, a))| {
                let role = if i == 0 { "primary" } else { "async" };
                format!("    node \"{n}\" role=\"{role}\" host=\"{a}\"\n")
            })
            .collect()
    };
    // Both clusters read one env file: a standby cluster is a copy of its source, so its
    // superuser and replication passwords are the source's.
    let creds = "    postgres version=15\n    credentials env-file=\"/etc/pgtopo/dr.env\"\n";
    let backup = if slots {
        ""
    } else {
        "    backup {\n        repository \"posix\" path=\"/var/lib/pgbackrest\"\n        \
         schedule full=\"0 1 * * 0\"\n        retention full=2\n    }\n"
    };
    format!(
        "targets \"hosts\"\n\ncluster \"src\" {{\n{creds}{failover}{}{backup}}}\n\ncluster \"dr\"{} {{\n{creds}{failover}{}}}\n",
        nodes(&SOURCE),
        if replica_of { " replica-of=\"src\"" } else { "" },
        nodes(&STANDBY),
    )
}

/// The namespaces, the started processes and the data directories. Dropping it kills every
/// process of every namespace (Patroni starts PostgreSQL in a session of its own, so process
/// groups are not enough; a namespace's process list is), then deletes the namespaces, which
/// deletes the bridge and the veth pairs.
struct Lab {
    prefix: String,
    dir: PathBuf,
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
    env_file: PathBuf,
    pw: String,
    /// The emitted hosts/base folder: a node's files are `<hosts>/<node>/…`.
    hosts: PathBuf,
}

impl Lab {
    fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    /// `cmd` (a program and its arguments) as the PostgreSQL user inside `host`'s namespace,
    /// with a clean environment: the env file's path and, when the node has one, its
    /// pgbackrest.conf (PostgreSQL's archive_command and restore_command inherit it from
    /// Patroni; on a real VM it is /etc/pgbackrest/pgbackrest.conf).
    fn command(&self, host: &str, cmd: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(host), "setpriv"])
            .args(common::SETPRIV_PG)
            .args(cmd)
            .current_dir("/")
            .env_clear()
            .env("PATH", format!("{PG_BIN}:/usr/local/bin:/usr/bin:/bin"))
            .env("HOME", &self.dir)
            .env("LANG", "C.UTF-8")
            .env("PGTOPO_ENV_FILE", &self.env_file);
        let conf = self.hosts.join(host).join("pgbackrest.conf");
        if conf.exists() {
            c.env("PGBACKREST_CONFIG", conf);
        }
        c
    }

    /// Starts `cmd` with [`Lab::command`]; output to `<dir>/<name>.log`.
    fn spawn(&mut self, host: &str, name: &str, cmd: &[&str]) {
        let log = File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = self
            .command(host, cmd)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} in {host}: {e}"));
        self.children.push((name.to_owned(), child));
    }

    /// Starts node `name`'s Patroni with the emitted launcher and its (path-rewritten) config.
    fn start_patroni(&mut self, name: &str) {
        let d = self.hosts.join(name);
        let run = d.join("patroni-run.sh").display().to_string();
        let yml = d.join("patroni.yml").display().to_string();
        self.spawn(name, &format!("patroni-{name}"), &["/bin/sh", &run, &yml]);
    }

    /// A VM dies: SIGKILL to every process of `host`'s namespace (Patroni, PostgreSQL and its
    /// children), no chance to hand anything over.
    fn crash(&mut self, host: &str) {
        for pid in self.pids(host) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid])
                .stderr(Stdio::null())
                .status();
        }
        let prefix = format!("patroni-{host}");
        for (_, c) in self.children.iter_mut().filter(|(n, _)| *n == prefix) {
            let _ = c.wait();
        }
        self.children.retain(|(n, _)| *n != prefix);
        wait_for(30, &format!("every process of {host} is gone"), || {
            self.pids(host).is_empty().then_some(())
        });
    }

    fn pids(&self, host: &str) -> Vec<String> {
        let (_, out) = common::run(Command::new("ip").args(["netns", "pids", &self.ns(host)]));
        out.split_whitespace().map(str::to_owned).collect()
    }

    /// One SQL text with psql, run inside `host`'s namespace against `host`'s PostgreSQL (its
    /// connections come from the node's own address, which the emitted pg_hba allows).
    fn sql(&self, host: &str, sql: &str) -> Result<String, String> {
        let addr = address(host);
        let (ok, out) = {
            let o = Command::new("ip")
                .args(["netns", "exec", &self.ns(host), "timeout", "10"])
                .arg(format!("{PG_BIN}/psql"))
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
                .arg(format!(
                    "host={addr} port={PG_PORT} user=postgres dbname=postgres connect_timeout=3"
                ))
                .args(["-c", sql])
                .env("PGPASSWORD", &self.pw)
                .stdin(Stdio::null())
                .output()
                .expect("start psql");
            if o.status.success() {
                (true, String::from_utf8_lossy(&o.stdout).trim().to_owned())
            } else {
                (false, String::from_utf8_lossy(&o.stderr).trim().to_owned())
            }
        };
        if ok {
            Ok(out)
        } else {
            Err(out)
        }
    }

    /// The HTTP status of `GET path` on `host`'s Patroni REST API (0 when it does not answer),
    /// asked from inside the node's namespace with bash's /dev/tcp.
    fn rest(&self, host: &str, path: &str) -> u16 {
        let script = format!(
            "exec 3<>/dev/tcp/{}/{REST_PORT} && printf 'GET {path} HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3",
            address(host)
        );
        let o = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(host),
                "timeout",
                "3",
                "bash",
                "-c",
            ])
            .arg(script)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output();
        o.ok()
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .split_whitespace()
                    .nth(1)
                    .and_then(|c| c.parse().ok())
            })
            .unwrap_or(0)
    }

    fn log_tail(&self, name: &str, lines: usize) -> String {
        common::log_tail(&self.dir.join(format!("{name}.log")), lines)
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        common::kill_groups(&mut self.children);
        for ns in self.namespaces.clone() {
            let host = ns
                .trim_start_matches(&format!("{}-", self.prefix))
                .to_owned();
            for pid in self.pids(&host) {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid])
                    .stderr(Stdio::null())
                    .status();
            }
        }
        if std::thread::panicking() {
            for (name, _) in SOURCE.iter().chain(STANDBY.iter()) {
                let name = format!("patroni-{name}");
                eprintln!(
                    "--- last lines of {name}.log ---\n{}",
                    self.log_tail(&name, 30)
                );
            }
            eprintln!("(logs and data kept in {})", self.dir.display());
        }
        for ns in self.namespaces.drain(..).rev() {
            let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn address(host: &str) -> &'static str {
    SOURCE
        .iter()
        .chain(STANDBY.iter())
        .chain(std::iter::once(&("etcd", ETCD)))
        .find(|(n, _)| *n == host)
        .map(|(_, a)| *a)
        .unwrap_or_else(|| panic!("unknown host {host}"))
}

fn ip(args: &[&str]) {
    let (ok, out) = common::run(Command::new("ip").args(args));
    assert!(ok, "ip {}: {out}", args.join(" "));
}

/// What the test needs; a missing piece is a loud skip, or a failure under PGTOPO_REQUIRE_TOOLS=1.
fn prerequisites() -> bool {
    for tool in [
        "etcd",
        "patroni",
        "patronictl",
        "setpriv",
        "ip",
        "bash",
        "timeout",
    ] {
        if !common::have_tool(tool) {
            return false;
        }
    }
    let mut missing = Vec::new();
    if !Path::new(PG_BIN).join("postgres").exists() {
        missing.push(format!("{PG_BIN} (Debian postgresql-15)"));
    }
    if !common::is_root() {
        missing.push(
            "root (network namespaces; PostgreSQL and Patroni run as the postgres user)".into(),
        );
    }
    common::ready("the live DR test", &missing)
}

/// The path-only rewrite of one node's emitted patroni.yml (see the module's note).
fn rewrite_paths(hosts: &Path, dir: &Path, node: &str) {
    let p = hosts.join(node).join("patroni.yml");
    let yml = std::fs::read_to_string(&p).unwrap();
    let data = dir.join(format!("data-{node}"));
    let sock = dir.join(format!("run-{node}"));
    std::fs::create_dir_all(&sock).unwrap();
    let yml = set_path(&yml, "  data_dir: ", &format!("'{}'", data.display()));
    let yml = set_path(
        &yml,
        "  pgpass: ",
        &format!("'{}'", dir.join(format!("pgpass.{node}")).display()),
    );
    // The member's own parameters sit under `postgresql.parameters` (two spaces in); the
    // bootstrap's dynamic ones are deeper.
    let key = "\n  parameters:\n";
    assert_eq!(
        yml.matches(key).count(),
        1,
        "one local parameters block:\n{yml}"
    );
    let yml = yml.replacen(
        key,
        &format!("{key}    unix_socket_directories: '{}'\n", sock.display()),
        1,
    );
    std::fs::write(&p, yml).unwrap();
    // pgBackRest's repository (a folder shared by every node, as an NFS mount would be) and the
    // node's data directory.
    let p = hosts.join(node).join("pgbackrest.conf");
    if let Ok(conf) = std::fs::read_to_string(&p) {
        let conf = set_path(
            &conf,
            "repo1-path=",
            &dir.join("repo").display().to_string(),
        );
        let conf = set_path(&conf, "pg1-path=", &data.display().to_string());
        std::fs::write(&p, conf).unwrap();
    }
}

/// The two scenarios share the link's addresses and load a 2-core machine with four PostgreSQL
/// servers each: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// With `slots #true` on both clusters: the standby leader streams through the permanent slot
/// `standby_dr`, from the source's primary only.
#[test]
fn a_dr_standby_cluster_with_a_slot_follows_its_sources_failover_and_is_promoted() {
    scenario(true);
}

/// With the default `slots #false`: no slot is kept on the source (nobody would read it), and the
/// standby leader streams from the first source node that answers, primary or standby.
#[test]
fn a_dr_standby_cluster_without_slots_follows_its_sources_failover_and_is_promoted() {
    scenario(false);
}

fn scenario(slots: bool) {
    if !prerequisites() {
        return;
    }
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let label = if slots {
        "with a slot"
    } else {
        "without slots"
    };
    let started = Instant::now();
    let dir = common::temp_dir(if slots {
        "live-dr-slot"
    } else {
        "live-dr-noslot"
    });
    let tag = format!("{:x}{}", std::process::id(), u8::from(slots));
    // A fresh password per run (never one written in the repository).
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let pw = format!("su-{tag}-{nanos:x}");

    // 1. Compile the topology; check the standby cluster follows every source node through the
    //    slot the source keeps for it.
    let hosts = common::build_topology(&dir, "dr", &topology(true, slots)).join("hosts/base");
    let dcs = std::fs::read_to_string(hosts.join("d1/dcs.yml")).unwrap();
    let all_source: Vec<&str> = SOURCE.iter().map(|(_, a)| *a).collect();
    assert!(
        dcs.contains(&format!("  host: \"{}\"\n", all_source.join(","))),
        "the standby cluster streams from every source node:\n{dcs}"
    );
    assert_eq!(
        dcs.contains("  primary_slot_name: standby_dr\n"),
        slots,
        "the standby cluster names the slot standby_dr exactly when both clusters have slots:\n{dcs}"
    );
    let src_dcs = std::fs::read_to_string(hosts.join("s1/dcs.yml")).unwrap();
    assert_eq!(
        src_dcs.contains("slots:\n  standby_dr:\n    type: physical\n"),
        slots,
        "the source keeps a permanent slot for its standby cluster exactly when it is read:\n{src_dcs}"
    );

    // 2. Runtime inputs: the env file (both clusters), the path-only rewrites.
    let env_file = dir.join("dr.env");
    std::fs::write(
        &env_file,
        format!(
            "POSTGRES_PASSWORD={pw}\nREPLICATION_PASSWORD=repl-{pw}\nPATRONI_REST_PASSWORD=rest-{pw}\n"
        ),
    )
    .unwrap();
    for (n, _) in SOURCE.iter().chain(STANDBY.iter()) {
        rewrite_paths(&hosts, &dir, n);
    }
    std::fs::create_dir_all(dir.join("repo")).unwrap();
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    chown_pg(&dir);

    // 3. The "VMs": a bridge in a switch namespace, one namespace per node and one for etcd.
    let mut lab = Lab {
        prefix: format!("pgtopo-dr{tag}"),
        dir: dir.clone(),
        namespaces: Vec::new(),
        children: Vec::new(),
        env_file,
        pw,
        hosts: hosts.clone(),
    };
    let sw = lab.ns("switch");
    ip(&["netns", "add", &sw]);
    lab.namespaces.push(sw.clone());
    ip(&["-n", &sw, "link", "add", "br0", "type", "bridge"]);
    ip(&["-n", &sw, "link", "set", "br0", "up"]);
    let members: Vec<(&str, &str)> = std::iter::once(("etcd", ETCD))
        .chain(SOURCE)
        .chain(STANDBY)
        .collect();
    for (i, (host, addr)) in members.iter().enumerate() {
        let ns = lab.ns(host);
        ip(&["netns", "add", &ns]);
        lab.namespaces.push(ns.clone());
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        let port = format!("p{i}");
        ip(&[
            "-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
        ]);
        ip(&["-n", &sw, "link", "set", &port, "master", "br0", "up"]);
        ip(&[
            "-n",
            &ns,
            "addr",
            "add",
            &format!("{addr}/24"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &ns, "link", "set", "eth0", "up"]);
    }
    assert!(ETCD.starts_with(NET));

    // 4. etcd, then the source (its declared primary first: the first Patroni to take the
    //    initialize key bootstraps the cluster), then the standby cluster.
    let etcd_data = format!("--data-dir={}", dir.join("etcd").display());
    lab.spawn(
        "etcd",
        "etcd",
        &[
            "etcd",
            "--name=dr",
            &etcd_data,
            &format!("--listen-client-urls=http://{ETCD}:2379"),
            &format!("--advertise-client-urls=http://{ETCD}:2379"),
            &format!("--listen-peer-urls=http://{ETCD}:2380"),
            &format!("--initial-advertise-peer-urls=http://{ETCD}:2380"),
            &format!("--initial-cluster=dr=http://{ETCD}:2380"),
        ],
    );
    wait_for(30, "etcd answers", || {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.ns("etcd"),
                "timeout",
                "2",
                "bash",
                "-c",
            ])
            .arg(format!("</dev/tcp/{ETCD}/2379"))
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            .then_some(())
    });
    lab.start_patroni("s1");
    wait_for(90, "s1's Patroni bootstraps the source and leads", || {
        (lab.rest("s1", "/primary") == 200).then_some(())
    });
    lab.start_patroni("s2");
    wait_for(90, "s2 runs as a streaming replica of the source", || {
        (lab.rest("s2", "/replica") == 200).then_some(())
    });
    let mut setup_secs = None;
    if !slots {
        // The source's repository: the emitted setup on its primary (stanza-create, check that
        // archiving reaches the repository, the first full backup). pgBackRest reaches
        // PostgreSQL through the node's socket folder (Debian's is /var/run/postgresql).
        let t = Instant::now();
        let setup = hosts.join("s1/pgbackrest-setup.sh").display().to_string();
        let sock = dir.join("run-s1");
        let out = lab
            .command("s1", &["/bin/sh", &setup])
            .env("PGHOST", &sock)
            .env("PGBACKREST_PG1_SOCKET_PATH", &sock)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pgbackrest-setup.sh on s1 failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        setup_secs = Some(t.elapsed().as_secs_f64());
    }
    lab.start_patroni("d1");
    wait_for(
        120,
        "d1 bootstraps from the source and is the standby leader",
        || (lab.rest("d1", "/standby-leader") == 200).then_some(()),
    );
    lab.start_patroni("d2");
    wait_for(90, "d2 runs as a replica of the standby leader", || {
        (lab.rest("d2", "/replica") == 200).then_some(())
    });
    println!(
        "DR {label}: both clusters up after {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Check 1: rows written on the source reach the standby leader and its replica; the standby
    // leader streams from the source's primary (through the permanent slot, with slots).
    lab.sql(
        "s1",
        "create table dr_rows (id int primary key, at text); \
         insert into dr_rows select g, 's1' from generate_series(1, 100) g",
    )
    .expect("write on the source's primary");
    for n in ["d1", "d2"] {
        wait_for(60, &format!("the source's rows reach {n}"), || {
            lab.sql(n, "select count(*) from dr_rows")
                .ok()
                .filter(|c| c == "100")
        });
    }
    let slot_on = |lab: &Lab, host: &str| {
        lab.sql(
            host,
            "select slot_type, active from pg_replication_slots where slot_name = 'standby_dr'",
        )
    };
    if slots {
        wait_for(30, "the slot standby_dr on s1 is active", || {
            slot_on(&lab, "s1").ok().filter(|a| a == "physical|t")
        });
    } else {
        // Patroni creates permanent slots in its next cycle (loop_wait = 2 s): give it two.
        std::thread::sleep(Duration::from_secs(5));
        assert_eq!(
            slot_on(&lab, "s1").as_deref(),
            Ok(""),
            "without slots the source keeps no slot that would hold its WAL back"
        );
    }
    let sender = lab.sql("d1", SENDER).unwrap();
    assert_eq!(
        sender,
        format!("{}|streaming", address("s1")),
        "the standby leader streams from the source's primary"
    );

    // Check 1b, with the repository: the standby cluster's VMs die; the source writes on and
    // removes the WAL they would need next; when they return, the standby leader is refused
    // that WAL by the stream and reads it from the repository (restore_command), then streams on.
    if !slots {
        let needed = lab
            .sql("s1", "select pg_walfile_name(pg_current_wal_lsn())")
            .unwrap();
        lab.crash("d2");
        lab.crash("d1");
        lab.sql(
            "s1",
            "insert into dr_rows select g, 's1' from generate_series(201, 300) g; \
             create table dr_ticks (at timestamptz default now())",
        )
        .unwrap();
        // Segments are removed once archived and behind a checkpoint (a restartpoint on s2).
        wait_for(
            90,
            &format!("{needed} is gone from both source nodes"),
            || {
                lab.sql(
                    "s1",
                    "insert into dr_ticks default values; select pg_switch_wal(); checkpoint",
                )
                .ok()?;
                lab.sql("s2", "checkpoint").ok()?;
                let q = format!("select count(*) from pg_ls_waldir() where name = '{needed}'");
                (lab.sql("s1", &q).ok()? == "0" && lab.sql("s2", &q).ok()? == "0").then_some(())
            },
        );
        let t = Instant::now();
        lab.start_patroni("d1");
        wait_for(
            120,
            "the returning standby leader catches up from the repository",
            || {
                lab.sql(
                    "d1",
                    "select count(*) from dr_rows where id between 201 and 300",
                )
                .ok()
                .filter(|c| c == "100")
            },
        );
        let from_repo = t.elapsed().as_secs_f64();
        let log = std::fs::read_to_string(dir.join("patroni-d1.log")).unwrap();
        assert!(
            log.contains(&format!("restored log file \"{needed}\" from archive")),
            "d1 must read {needed} from the source's repository:\n{log}"
        );
        lab.start_patroni("d2");
        wait_for(90, "d2 follows the standby leader again", || {
            lab.sql(
                "d2",
                "select count(*) from dr_rows where id between 201 and 300",
            )
            .ok()
            .filter(|c| c == "100")
        });
        println!(
            "DR {label}: source repository set up in {:.1} s; the standby leader, back after \
             the source removed the WAL it needed, caught up from the repository in {from_repo:.1} s",
            setup_secs.unwrap_or(f64::NAN)
        );
    }

    // Check 2: the source's primary VM dies; s2 is promoted; the standby cluster follows it.
    // Everything written so far is on s2 before the crash (asynchronous replication could
    // otherwise lose it, and the standby leader, ahead of the new primary, could not follow).
    let end = lab.sql("s1", "select pg_current_wal_lsn()").unwrap();
    wait_for(30, &format!("s2 has replayed s1's WAL up to {end}"), || {
        lab.sql(
            "s2",
            &format!("select pg_last_wal_replay_lsn() >= '{end}'::pg_lsn"),
        )
        .ok()
        .filter(|c| c == "t")
    });
    let t0 = Instant::now();
    lab.crash("s1");
    wait_for(90, "s2 is promoted (Patroni /primary)", || {
        (lab.rest("s2", "/primary") == 200).then_some(())
    });
    let promoted = t0.elapsed().as_secs_f64();
    wait_for(30, "s2 accepts writes", || {
        lab.sql("s2", "insert into dr_rows values (101, 's2')").ok()
    });
    let writable = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    wait_for(
        120,
        "a row written on the new primary s2 reaches the standby leader d1",
        || {
            lab.sql("d1", "select count(*) from dr_rows where id = 101")
                .ok()
                .filter(|c| c == "1")
        },
    );
    let catch_up = t1.elapsed().as_secs_f64();
    let since_crash = t0.elapsed().as_secs_f64();
    wait_for(60, "the row written on s2 reaches d2 (through d1)", || {
        lab.sql("d2", "select count(*) from dr_rows where id = 101")
            .ok()
            .filter(|c| c == "1")
    });
    if slots {
        wait_for(
            30,
            "the slot standby_dr on the new leader s2 is active",
            || slot_on(&lab, "s2").ok().filter(|a| a == "physical|t"),
        );
    } else {
        assert_eq!(slot_on(&lab, "s2").as_deref(), Ok(""), "no slot on s2");
    }
    let sender = lab.sql("d1", SENDER).unwrap();
    assert_eq!(
        sender,
        format!("{}|streaming", address("s2")),
        "after the failover the standby leader streams from the new primary"
    );
    println!(
        "DR {label}: source failover: s2 promoted {promoted:.1} s after s1's crash, writable after {writable:.1} s; \
         the first row written on s2 reached the standby leader {catch_up:.1} s later \
         ({since_crash:.1} s after the crash)"
    );

    // Check 3: the dead VM comes back and rejoins the source as a standby (pg_rewind if needed),
    // and the standby leader reconnects. With a slot, although s1 is listed first in
    // standby_cluster.host, the standby leader streams from the read-write node only (Patroni
    // adds target_session_attrs=read-write to a standby leader's conninfo when it uses a slot).
    // Without slots, libpq takes the first node that answers: s1, which cascades s2's WAL.
    lab.start_patroni("s1");
    wait_for(120, "s1 rejoins the source as a replica", || {
        (lab.rest("s1", "/replica") == 200).then_some(())
    });
    // Make the standby leader reconnect: end its walsender on s2.
    lab.sql(
        "s2",
        "select pg_terminate_backend(pid) from pg_stat_replication where application_name = 'd1'",
    )
    .expect("end the standby leader's walsender");
    lab.sql("s2", "insert into dr_rows values (102, 's2')")
        .expect("write on s2 after s1 rejoined");
    let want_sender = address(if slots { "s2" } else { "s1" });
    // A reconnect can land on s2 again when s1 answers a moment late (just restarted, or still
    // reaching consistency), and libpq then has no reason to leave s2: without slots, end the
    // walsender on s2 again every few seconds until the standby leader has taken s1.
    let mut nudged = Instant::now();
    wait_for(
        60,
        &format!("the standby leader reconnects to {want_sender} and gets row 102"),
        || {
            let n = lab
                .sql("d1", "select count(*) from dr_rows where id = 102")
                .ok()?;
            let s = lab.sql("d1", SENDER).ok()?;
            if !slots
                && s == format!("{}|streaming", address("s2"))
                && nudged.elapsed().as_secs() >= 5
            {
                let _ = lab.sql(
                    "s2",
                    "select pg_terminate_backend(pid) from pg_stat_replication where application_name = 'd1'",
                );
                nudged = Instant::now();
            }
            (n == "1" && s == format!("{want_sender}|streaming")).then_some(())
        },
    );

    // Check 4: the operator promotes the standby cluster: `replica-of` removed from the topology,
    // the rebuilt dcs.yml applied with the emitted patroni-apply.sh (from d1's files).
    let promoted_hosts =
        common::build_topology(&dir, "dr-promoted", &topology(false, slots)).join("hosts/base");
    let new_dcs = std::fs::read_to_string(promoted_hosts.join("d1/dcs.yml")).unwrap();
    assert!(
        !new_dcs.contains("standby_cluster"),
        "without replica-of, the dynamic configuration has no standby_cluster:\n{new_dcs}"
    );
    for f in ["dcs.yml", "patroni-apply.sh"] {
        std::fs::copy(promoted_hosts.join("d1").join(f), hosts.join("d1").join(f)).unwrap();
    }
    chown_pg(&hosts);
    let t2 = Instant::now();
    let apply = hosts.join("d1/patroni-apply.sh").display().to_string();
    let conf = hosts.join("d1/patroni.yml").display().to_string();
    let out = lab
        .command("d1", &["/bin/sh", &apply, &conf])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "patroni-apply.sh failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    wait_for(90, "d1 is promoted and accepts writes", || {
        lab.sql("d1", "insert into dr_rows values (1001, 'd1')")
            .ok()
    });
    let promotion = t2.elapsed().as_secs_f64();
    assert_eq!(
        lab.rest("d1", "/primary"),
        200,
        "d1 leads the promoted cluster"
    );
    wait_for(90, "d2 follows the promoted d1", || {
        lab.sql("d2", "select count(*) from dr_rows where id = 1001")
            .ok()
            .filter(|c| c == "1")
    });
    // The promoted cluster is on its own: what the old source writes now does not reach it.
    lab.sql("s2", "insert into dr_rows values (103, 's2')")
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        lab.sql("d1", "select count(*) from dr_rows where id = 103")
            .unwrap(),
        "0",
        "the promoted cluster no longer follows the source"
    );
    println!(
        "DR {label}: promotion (patroni-apply.sh of a dcs.yml without standby_cluster -> first write on d1): \
         {promotion:.1} s; test wall time {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
