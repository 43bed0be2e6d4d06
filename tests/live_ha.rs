//! Live proof (issue 8, docs/live-proof.md): the files pgtopo emits for `topologies/loopback.kdl`
//! run a real HA cluster on 127.0.0.1 — etcd, one Patroni (PostgreSQL 15) per node, a PgBouncer
//! beside every node, HAProxy in front — and that cluster survives the loss of its primary.
//!
//! Nothing the cluster runs is hand-written: the test compiles a copy of loopback.kdl (ports moved
//! to free ones, so parallel runs never clash) with the `pgtopo` binary and starts the processes
//! from the emitted patroni.yml / patroni-run.sh / pgbouncer.ini / haproxy.cfg. The runtime inputs
//! are the test's own: the env file with the two passwords, PgBouncer's user list (SCRAM secrets
//! read from pg_authid), the etcd command line, and one path-only rewrite (data_dir, pgpass and
//! auth_file point into the temp dir instead of Debian's /var/lib and /etc). Every process started
//! is stopped by its process group when the test ends, also on failure or panic (`Procs`).
//!
//! Checks, each with its own message: writes reach the primary through PgBouncer; reads reach only
//! standbys, all of them; pg_stat_replication matches what the emitted config asks for; after the
//! primary's Patroni is stopped (SIGTERM, then SIGKILL) a standby is promoted, `rw` follows it and
//! no acknowledged row is lost; the old primary rejoins as a standby. Failover times are printed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pgtopo::model::{ListenTarget, Role};

use common::{as_pg_user, chown_pg, set_path, wait_for, PG_BIN, PG_USER};

/// Every process the test started, stopped (SIGKILL to its process group) when dropped, and every
/// PostgreSQL data directory, stopped with `pg_ctl stop -m immediate` (Patroni starts PostgreSQL in
/// a session of its own, so it is not in Patroni's group). On a panic the logs' tails are printed.
struct Procs {
    children: Vec<(String, Child)>,
    data_dirs: Vec<PathBuf>,
    dir: PathBuf,
}

impl Procs {
    fn spawn(&mut self, name: &str, cmd: &mut Command) -> u32 {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({cmd:?}): {e}"));
        let pid = child.id();
        self.children.push((name.to_owned(), child));
        pid
    }

    /// Sends `sig` to one started process and waits for it to exit (up to 30 s, then SIGKILL).
    fn signal_and_reap(&mut self, name: &str, sig: &str) {
        let i = self
            .children
            .iter()
            .rposition(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("{name} was never started"));
        let (_, mut child) = self.children.remove(i);
        let _ = Command::new("kill")
            .args(["-s", sig, &child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.wait();
    }

    fn log_tail(&self, name: &str, lines: usize) -> String {
        common::log_tail(&self.dir.join(format!("{name}.log")), lines)
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        common::kill_groups(&mut self.children);
        for d in &self.data_dirs {
            if d.join("postmaster.pid").exists() {
                let _ = as_pg_user(&format!("{PG_BIN}/pg_ctl"))
                    .args(["stop", "-m", "immediate", "-D"])
                    .arg(d)
                    .output();
            }
        }
        if std::thread::panicking() {
            for name in [
                "etcd",
                "patroni-db1",
                "patroni-db2",
                "patroni-db3",
                "haproxy",
            ] {
                eprintln!(
                    "--- last lines of {name}.log ---\n{}",
                    self.log_tail(name, 25)
                );
            }
            eprintln!("(logs and data kept in {})", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// What the test needs; a missing piece is a loud skip, or a failure under PGTOPO_REQUIRE_TOOLS=1.
fn prerequisites() -> bool {
    for tool in ["etcd", "patroni", "pgbouncer", "haproxy", "setpriv"] {
        if !common::have_tool(tool) {
            return false;
        }
    }
    let mut missing = Vec::new();
    if !Path::new(PG_BIN).join("postgres").exists() {
        missing.push(format!("{PG_BIN} (Debian postgresql-15)"));
    }
    if !common::is_root() {
        missing.push("root (to run PostgreSQL, Patroni and PgBouncer as the postgres user)".into());
    }
    if Command::new("id")
        .arg(PG_USER)
        .output()
        .map_or(true, |o| !o.status.success())
    {
        missing.push(format!("the OS user {PG_USER}"));
    }
    common::ready("the live HA test", &missing)
}

/// The copy of loopback.kdl with every port (`port=`, `patroni-port=`, `pooler-port=` and the etcd
/// endpoint) moved to a distinct free port, so that parallel runs and other services never clash.
fn shift_ports(src: &str) -> String {
    let mut map: BTreeMap<String, u16> = BTreeMap::new();
    let mut used: BTreeSet<u16> = BTreeSet::new();
    let mut out = String::new();
    let mut rest = src;
    loop {
        let next = ["port=", "127.0.0.1:"]
            .iter()
            .filter_map(|p| rest.find(p).map(|i| (i + p.len(), *p)))
            .min();
        let Some((at, _)) = next else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        if !digits.is_empty() {
            let port = *map.entry(digits.clone()).or_insert_with(|| loop {
                let p = common::free_port();
                if used.insert(p) {
                    break p;
                }
            });
            out.push_str(&port.to_string());
            rest = &rest[digits.len()..];
        }
    }
    out
}

/// A node as the test knows it: its ports (from the compiled copy of the topology).
#[derive(Clone, Debug)]
struct Node {
    name: String,
    role: Role,
    pg: u16,
    rest: u16,
    pooler: u16,
}

/// Runs one SQL text with psql (as a client, over TCP) and returns its unaligned output. A psql
/// still running after `timeout` is killed and counts as a failure (never as an acknowledgement).
fn psql(port: u16, db: &str, sql: &str, pw: &str, timeout: Duration) -> Result<String, String> {
    let mut child = Command::new(format!("{PG_BIN}/psql"))
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(format!(
            "host=127.0.0.1 port={port} user=postgres dbname={db} connect_timeout=3"
        ))
        .args(["-c", sql])
        .env("PGPASSWORD", pw)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start psql");
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return if status.success() {
                Ok(out.trim().to_owned())
            } else {
                Err(format!("{status}: {}", err.trim()))
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("timed out after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The HTTP status of `GET path` on a Patroni REST API, or 0 when it does not answer.
fn rest_status(port: u16, path: &str) -> u16 {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
        .is_err()
    {
        return 0;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    String::from_utf8_lossy(&buf[..n])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

fn wait_port(port: u16, what: &str) {
    wait_for(30, what, || {
        TcpStream::connect(("127.0.0.1", port)).ok().map(|_| ())
    });
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// The cluster under test: the nodes, the two listens, the password and the started processes.
struct Live {
    procs: Procs,
    nodes: Vec<Node>,
    rw: u16,
    pw: String,
    hosts_dir: PathBuf,
    env_file: PathBuf,
}

impl Live {
    fn node(&self, name: &str) -> &Node {
        self.nodes.iter().find(|n| n.name == name).unwrap()
    }

    fn by_pg_port(&self, port: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.pg.to_string() == port)
    }

    fn sql(&self, port: u16, sql: &str) -> Result<String, String> {
        psql(port, "postgres", sql, &self.pw, Duration::from_secs(10))
    }

    /// Starts node `name`'s Patroni with the emitted launcher and config, as the postgres user.
    fn start_patroni(&mut self, name: &str) {
        let dir = self.hosts_dir.join(name);
        let mut cmd = as_pg_user("/bin/sh");
        cmd.arg(dir.join("patroni-run.sh"))
            .arg(dir.join("patroni.yml"))
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", &self.procs.dir)
            .env("LANG", "C.UTF-8")
            .env("PGTOPO_ENV_FILE", &self.env_file);
        self.procs.spawn(&format!("patroni-{name}"), &mut cmd);
    }

    /// The node whose Patroni answers 200 on `/primary`.
    fn leader(&self) -> Option<String> {
        self.nodes
            .iter()
            .find(|n| rest_status(n.rest, "/primary") == 200)
            .map(|n| n.name.clone())
    }

    fn in_recovery(&self, n: &Node) -> Option<bool> {
        self.sql(n.pg, "select pg_is_in_recovery()")
            .ok()
            .map(|s| s == "t")
    }
}

#[test]
fn emitted_vm_configs_run_an_ha_cluster_that_survives_failover() {
    if !prerequisites() {
        return;
    }
    let started = Instant::now();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = std::env::temp_dir().join(format!("pgtopo-live-ha-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // 1. Compile a copy of loopback.kdl whose ports are free ones, with the pgtopo binary.
    let src = std::fs::read_to_string(common::repo().join("topologies/loopback.kdl")).unwrap();
    let kdl = dir.join("loopback.kdl");
    std::fs::write(&kdl, shift_ports(&src)).unwrap();
    let bin = env!("CARGO_BIN_EXE_pgtopo");
    let (ok, out) = common::run(Command::new(bin).arg("lint").arg(&kdl));
    assert!(
        ok,
        "the port-shifted copy of loopback.kdl must lint clean:\n{out}"
    );
    let (ok, out) = common::run(
        Command::new(bin)
            .arg("-f")
            .arg(&kdl)
            .arg("build")
            .arg("--out")
            .arg(dir.join("out")),
    );
    assert!(ok, "pgtopo build failed:\n{out}");
    let program = common::program(&kdl);
    let c = &program.base.clusters[0];
    let nodes: Vec<Node> = c
        .nodes
        .iter()
        .map(|n| Node {
            name: n.name.clone(),
            role: n.role.value,
            pg: n.port.value,
            rest: n.patroni_port.value,
            pooler: n
                .pooler_port
                .as_ref()
                .expect("loopback nodes set pooler-port")
                .value,
        })
        .collect();
    let bal = &c.balancers[0];
    let listen = |t: ListenTarget| bal.listens.iter().find(|l| l.target.value == t).unwrap();
    let (rw, ro) = (
        listen(ListenTarget::Primary).port.value,
        listen(ListenTarget::Replicas).port.value,
    );
    let etcd_endpoint = c.failover.dcs.as_ref().unwrap().endpoints[0].value.clone();
    let etcd_port: u16 = etcd_endpoint.rsplit_once(':').unwrap().1.parse().unwrap();
    let out_dir = dir.join("out/loopback");
    let hosts_dir = out_dir.join("hosts/base");
    let cfg = std::fs::read_to_string(out_dir.join("haproxy/base/lb1/haproxy.cfg")).unwrap();

    // 2. Runtime inputs: passwords in the env file the launcher reads, paths into the temp dir.
    // A fresh password per run (never one written in the repository).
    let pw = format!("su-{:x}", nanos ^ (u128::from(std::process::id()) << 64));
    let env_file = dir.join("loopback.env");
    std::fs::write(
        &env_file,
        format!(
            "POSTGRES_PASSWORD={pw}\nREPLICATION_PASSWORD=repl-{pw}\nPGBOUNCER_AUTH_PASSWORD=pool-{pw}\n\
             PATRONI_REST_PASSWORD=rest-{pw}\n"
        ),
    )
    .unwrap();
    let userlist = dir.join("userlist.txt");
    let mut data_dirs = Vec::new();
    for n in &nodes {
        // Path-only rewrite: Debian's /var/lib/postgresql/15/loopback-dbN and
        // /var/lib/postgresql/.pgpass.dbN become folders of the temp dir. Nothing else changes.
        let p = hosts_dir.join(&n.name).join("patroni.yml");
        let data = data_dir(&dir, &n.name);
        let yml = std::fs::read_to_string(&p).unwrap();
        assert!(
            yml.contains(&format!("/var/lib/postgresql/15/loopback-{}", n.name)),
            "nodes sharing 127.0.0.1 must get their own data_dir in the emitted patroni.yml:\n{yml}"
        );
        let yml = set_path(&yml, "  data_dir: ", &format!("'{}'", data.display()));
        let yml = set_path(
            &yml,
            "  pgpass: ",
            &format!("'{}'", dir.join(format!("pgpass.{}", n.name)).display()),
        );
        // The bootstrap (PgBouncer's lookup role and function) beside the node's files.
        let yml = set_path(
            &yml,
            "  post_bootstrap: ",
            &format!("{}", hosts_dir.join(&n.name).join("bootstrap.sh").display()),
        );
        std::fs::write(&p, yml).unwrap();
        // Installed as a program, as docs/targets/vm.md says.
        std::fs::set_permissions(
            hosts_dir.join(&n.name).join("bootstrap.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        data_dirs.push(data);
        let p = hosts_dir.join(&n.name).join("pgbouncer.ini");
        let ini = std::fs::read_to_string(&p).unwrap();
        std::fs::write(
            &p,
            set_path(&ini, "auth_file = ", &userlist.display().to_string()),
        )
        .unwrap();
    }
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    chown_pg(&dir);

    let mut live = Live {
        procs: Procs {
            children: Vec::new(),
            data_dirs,
            dir: dir.clone(),
        },
        nodes,
        rw,
        pw,
        hosts_dir,
        env_file,
    };

    // 3. etcd (v3 API, one member on loopback), then the topology's primary first: Patroni has no
    //    "initial leader" setting, the first node to take the initialize key bootstraps the cluster.
    let peer = common::free_port();
    live.procs.spawn(
        "etcd",
        as_pg_user("etcd")
            .arg("--name=live")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls=http://{etcd_endpoint}"))
            .arg(format!("--advertise-client-urls=http://{etcd_endpoint}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=live=http://127.0.0.1:{peer}"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin"),
    );
    wait_port(etcd_port, "etcd listens on its client port");
    let primary = live
        .nodes
        .iter()
        .find(|n| n.role == Role::Primary)
        .unwrap()
        .clone();
    live.start_patroni(&primary.name);
    wait_for(60, "the primary's Patroni bootstraps and leads", || {
        (live.leader().as_deref() == Some(primary.name.as_str())).then_some(())
    });
    let standbys: Vec<Node> = live
        .nodes
        .iter()
        .filter(|n| n.role != Role::Primary)
        .cloned()
        .collect();
    for s in &standbys {
        live.start_patroni(&s.name);
    }
    for s in &standbys {
        wait_for(
            90,
            &format!("{} runs as a streaming replica", s.name),
            || (rest_status(s.rest, "/replica") == 200).then_some(()),
        );
    }
    println!("cluster up after {:.1} s", started.elapsed().as_secs_f64());

    // 4. PgBouncer beside every node (user list = the SCRAM secrets PostgreSQL stores), haproxy.
    let secrets = live
        .sql(
            primary.pg,
            "select format('\"%s\" \"%s\"', rolname, rolpassword) from pg_authid \
             where rolpassword is not null order by rolname",
        )
        .expect("read the SCRAM secrets from pg_authid");
    assert!(
        secrets.contains("SCRAM-SHA-256$"),
        "the emitted password_encryption must store SCRAM secrets: {secrets}"
    );
    std::fs::write(&userlist, secrets + "\n").unwrap();
    chown_pg(&userlist);
    for n in live.nodes.clone() {
        let ini = live.hosts_dir.join(&n.name).join("pgbouncer.ini");
        live.procs.spawn(
            &format!("pgbouncer-{}", n.name),
            Command::new("pgbouncer").args(["-u", PG_USER]).arg(ini),
        );
    }
    for n in &live.nodes {
        wait_port(n.pooler, &format!("PgBouncer beside {} listens", n.name));
    }
    let cfg_path = dir.join("haproxy.cfg");
    std::fs::write(&cfg_path, &cfg).unwrap();
    live.procs.spawn(
        "haproxy",
        Command::new("haproxy").arg("-db").arg("-f").arg(&cfg_path),
    );
    wait_port(rw, "haproxy listens on rw");
    // haproxy counts a server as up until its first check fails, and checks every `inter` (3 s in
    // the emitted default-server line): after that, only the Patroni checks decide.
    std::thread::sleep(Duration::from_secs(4));

    // Check 1: rw reaches the primary, through the PgBouncer beside it.
    for n in &live.nodes {
        assert!(
            cfg.contains(&format!("server {} 127.0.0.1:{} check port {}", n.name, n.pooler, n.rest)),
            "haproxy.cfg must send {} traffic to its PgBouncer ({}) and check its Patroni ({}):\n{cfg}",
            n.name,
            n.pooler,
            n.rest
        );
    }
    let got = wait_for(30, "rw answers a query", || {
        live.sql(
            rw,
            "select inet_server_port(), pg_is_in_recovery(), inet_client_port()",
        )
        .ok()
    });
    let f: Vec<&str> = got.split('|').collect();
    let served = live.by_pg_port(f[0]).map(|n| n.name.clone());
    assert_eq!(
        (served.as_deref(), f[1]),
        (Some(primary.name.as_str()), "f"),
        "rw must reach the node where pg_is_in_recovery() is false ({}); got {got}",
        primary.name
    );
    // The server connection that ran the query belongs to the PgBouncer beside the primary: its
    // SHOW SERVERS lists a connection whose local port is the client port PostgreSQL saw.
    let servers = psql(
        primary.pooler,
        "pgbouncer",
        "show servers",
        &live.pw,
        Duration::from_secs(10),
    )
    .expect("PgBouncer's admin console answers");
    // SHOW SERVERS columns (PgBouncer 1.18): type|user|database|state|addr|port|local_addr|local_port|…
    assert!(
        servers.lines().any(|row| row.split('|').nth(7) == Some(f[2])),
        "rw's query must come through the PgBouncer beside {} (no server connection with local port {}):\n{servers}",
        primary.name,
        f[2]
    );

    // Check 2: ro reaches only standbys, and every standby over many connections.
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for i in 0..24 {
        let got = live
            .sql(ro, "select inet_server_port(), pg_is_in_recovery()")
            .unwrap_or_else(|e| panic!("ro connection {i} failed: {e}"));
        let (port, rec) = got.split_once('|').unwrap();
        let n = live
            .by_pg_port(port)
            .map_or(port.to_owned(), |n| n.name.clone());
        assert_eq!(
            rec, "t",
            "ro must reach only standbys; connection {i} reached {n}, in recovery = {rec}"
        );
        seen.insert(n);
    }
    let want: BTreeSet<String> = standbys.iter().map(|n| n.name.clone()).collect();
    assert_eq!(
        seen, want,
        "over 24 ro connections every standby must be seen"
    );

    // Check 3: replication state on the primary. pgtopo emits method="any" count=1 for Patroni
    // 3.0 as synchronous_mode + synchronous_node_count (Patroni 3.0 has no quorum mode), and
    // Patroni writes synchronous_standby_names in FIRST form, so the sync node shows `sync`.
    let yml =
        std::fs::read_to_string(live.hosts_dir.join(&primary.name).join("patroni.yml")).unwrap();
    let sync_state = if yml.contains("synchronous_mode: quorum") {
        "quorum"
    } else {
        assert!(
            yml.contains("synchronous_mode: true"),
            "loopback.kdl is synchronous:\n{yml}"
        );
        "sync"
    };
    let mut want_states: Vec<String> = standbys
        .iter()
        .map(|n| {
            let st = if n.role == Role::Sync {
                sync_state
            } else {
                "async"
            };
            format!("{}|{st}|streaming", n.name)
        })
        .collect();
    want_states.sort();
    let mut last = String::new();
    let ok = wait_for_bool(30, || {
        last = live
            .sql(
                primary.pg,
                "select application_name, sync_state, state from pg_stat_replication order by 1",
            )
            .unwrap_or_default();
        last.lines().map(str::to_owned).collect::<Vec<_>>() == want_states
    });
    assert!(
        ok,
        "pg_stat_replication on {} must show {want_states:?} (the sync node as `{sync_state}`: the \
         emitted patroni.yml asks for synchronous_mode: true, which Patroni 3.0 turns into FIRST-style \
         synchronous_standby_names — `quorum` would need Patroni 4's synchronous_mode: quorum; the \
         async node as `async`); got:\n{last}",
        primary.name
    );
    let slots = live
        .sql(
            primary.pg,
            "select slot_name, active from pg_replication_slots where slot_type = 'physical' order by 1",
        )
        .unwrap();
    let want_slots: Vec<String> = standbys.iter().map(|n| format!("{}|t", n.name)).collect();
    assert_eq!(
        slots.lines().collect::<Vec<_>>(),
        want_slots,
        "slots #true: one active physical slot per standby on the primary"
    );

    // Check 4 and 5: failover rounds, then rejoin.
    live.sql(
        rw,
        "create table live_acks (id bigint primary key, at timestamptz default now())",
    )
    .expect("create the table through rw");
    let rounds: usize = std::env::var("PGTOPO_LIVE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let mut times: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut promoted: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut next_id = 1i64;
    for sig in std::iter::repeat_n("TERM", rounds).chain(std::iter::repeat_n("KILL", rounds)) {
        let (secs, promo) = failover_round(&mut live, sig, &mut next_id);
        times.entry(sig).or_default().push(secs);
        promoted.entry(sig).or_default().push(promo);
    }
    day2_parameters_reach_the_running_cluster(&mut live, &dir, &kdl);

    let term = median(&times["TERM"]);
    let kill = median(&times["KILL"]);
    println!(
        "FAILOVER (stop of the primary's Patroni -> first write acknowledged by the new primary through rw), \
         median of {rounds} round(s): SIGTERM {term:.1} s, SIGKILL {kill:.1} s \
         (Patroni's promotion alone: {:.1} s, {:.1} s); ttl={} loop_wait={} retry_timeout={}; test wall time {:.0} s",
        median(&promoted["TERM"]),
        median(&promoted["KILL"]),
        c.failover.ttl.value,
        c.failover.loop_wait.value,
        c.failover.retry_timeout.value,
        started.elapsed().as_secs_f64()
    );
}

/// Day 2 (issue 24): a changed `work_mem` and `max_connections` in the topology reach the running
/// cluster through the emitted files alone: rebuild, install each node's new patroni.yml, run the
/// emitted patroni-apply.sh. Every node then runs the new work_mem (a reload) and, after the
/// restart Patroni flags as pending, the new max_connections (a DCS setting).
fn day2_parameters_reach_the_running_cluster(live: &mut Live, dir: &Path, kdl: &Path) {
    let src = std::fs::read_to_string(kdl).unwrap();
    let changed = src.replacen(
        "    postgres version=15\n",
        "    postgres version=15\n    parameters {\n        work_mem \"16MB\"\n        max_connections 150\n    }\n",
        1,
    );
    assert_ne!(changed, src, "loopback.kdl declares `postgres version=15`");
    let kdl2 = dir.join("loopback-day2.kdl");
    std::fs::write(&kdl2, changed).unwrap();
    let bin = env!("CARGO_BIN_EXE_pgtopo");
    let out2 = dir.join("out-day2");
    let (ok, out) = common::run(
        Command::new(bin)
            .arg("-f")
            .arg(&kdl2)
            .arg("build")
            .arg("--out")
            .arg(&out2),
    );
    assert!(ok, "pgtopo build of the changed topology failed:\n{out}");
    let new_dir = out2.join("loopback-day2/hosts/base");
    for n in live.nodes.clone() {
        // The same path-only rewrite as at the start, then the node's files are replaced.
        let old =
            std::fs::read_to_string(live.hosts_dir.join(&n.name).join("patroni.yml")).unwrap();
        let keep = |key: &str| {
            old.lines()
                .find(|l| l.starts_with(key))
                .unwrap()
                .trim_start_matches(key)
                .to_owned()
        };
        let yml = std::fs::read_to_string(new_dir.join(&n.name).join("patroni.yml")).unwrap();
        let yml = set_path(&yml, "  data_dir: ", &keep("  data_dir: "));
        let yml = set_path(&yml, "  pgpass: ", &keep("  pgpass: "));
        let yml = set_path(&yml, "  post_bootstrap: ", &keep("  post_bootstrap: "));
        std::fs::write(live.hosts_dir.join(&n.name).join("patroni.yml"), yml).unwrap();
    }
    // The dynamic configuration and its apply script sit beside the declared primary (db1).
    for f in ["dcs.yml", "patroni-apply.sh"] {
        std::fs::copy(
            new_dir.join("db1").join(f),
            live.hosts_dir.join("db1").join(f),
        )
        .unwrap();
    }
    chown_pg(&live.hosts_dir);
    let dcs = std::fs::read_to_string(live.hosts_dir.join("db1/dcs.yml")).unwrap();
    assert!(
        dcs.contains("max_connections: 150"),
        "max_connections is a DCS setting:\n{dcs}"
    );
    assert!(
        !dcs.contains("work_mem"),
        "work_mem is a local setting:\n{dcs}"
    );
    // Any member's patroni.yml reaches the cluster; db1 need not be the leader any more.
    let conf = live.hosts_dir.join("db1").join("patroni.yml");
    let started = Instant::now();
    let (ok, out) = common::run(
        as_pg_user("/bin/sh")
            .arg(live.hosts_dir.join("db1").join("patroni-apply.sh"))
            .arg("--restart")
            .arg(&conf)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("HOME", dir)
            .env("LANG", "C.UTF-8")
            .env("PGTOPO_ENV_FILE", &live.env_file),
    );
    assert!(ok, "patroni-apply.sh failed:\n{out}");
    for n in live.nodes.clone() {
        let got = wait_for(90, &format!("{} runs the new parameters", n.name), || {
            let v = live.sql(n.pg, "select current_setting('work_mem') || '|' || current_setting('max_connections')").ok()?;
            (v == "16MB|150").then_some(v)
        });
        assert_eq!(got, "16MB|150");
    }
    println!(
        "DAY 2: work_mem and max_connections applied to every node by patroni-apply.sh --restart in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn wait_for_bool(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if f() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The data directory of node `node` inside the test's temp dir `dir`: the setup writes it into
/// the node's patroni.yml, and the failover rounds read the surviving postmaster's files there.
fn data_dir(dir: &Path, node: &str) -> PathBuf {
    dir.join(format!("data-{node}"))
}

/// When a postmaster runs on `data`, the seconds between its process start as psutil reckons it
/// (boot time from /proc/stat plus the start ticks in /proc/PID/stat) and the start time it wrote
/// into postmaster.pid, if they differ by more than Patroni 3.0.2's 3 s tolerance. Patroni then
/// decides the process is not the postmaster and tries to start a second one on the same data
/// directory, which fails for as long as the first lives (patroni/patroni#2792; upstream checks
/// the executable and working directory too since #3516, which Debian 12's Patroni predates). A
/// step of the wall clock after boot, as virtual machines see when resumed, is enough to cause it.
fn postmaster_start_skew(data: &Path) -> Option<f64> {
    let pidfile = std::fs::read_to_string(data.join("postmaster.pid")).ok()?;
    let mut lines = pidfile.lines();
    let pid: u32 = lines.next()?.trim().parse().ok()?;
    let pid_start: f64 = lines.nth(1)?.trim().parse().ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Field 22 (start time in clock ticks since boot); fields after the command's closing
    // parenthesis start at field 3.
    let ticks: f64 = stat
        .rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()?;
    let hz: f64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0);
    let boot: f64 = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let skew = boot + ticks / hz - pid_start;
    (skew.abs() > 3.0).then_some(skew)
}

/// One write through rw, acknowledged or not: (id, PostgreSQL port that committed it, when).
type Ack = (i64, String, Instant);

/// Stops the leader's Patroni with `sig` while a writer commits rows through rw; returns the
/// seconds from the signal to the first write acknowledged by another node. Asserts promotion,
/// routing, no lost acknowledged row, and that the old leader rejoins as a standby.
/// Also returns the seconds until Patroni's REST API named the new primary.
fn failover_round(live: &mut Live, sig: &str, next_id: &mut i64) -> (f64, f64) {
    // A failover needs a synchronous standby to promote (Patroni's synchronous_mode only promotes
    // the node named in /sync): wait until one is there.
    let old = wait_for(60, "a leader", || live.leader());
    wait_for(
        60,
        "a synchronous standby is registered (GET /sync = 200)",
        || {
            live.nodes
                .iter()
                .any(|n| n.name != old && rest_status(n.rest, "/sync") == 200)
                .then_some(())
        },
    );
    let old_node = live.node(&old).clone();

    // The writer: one transaction per row, synchronous_commit=on, each acknowledgement recorded.
    let acks: Arc<Mutex<Vec<Ack>>> = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let start_id = *next_id;
    let writer = {
        let (acks, stop, pw, rw) = (acks.clone(), stop.clone(), live.pw.clone(), live.rw);
        std::thread::spawn(move || {
            let mut id = start_id;
            while !stop.load(Ordering::Relaxed) {
                let sql = format!(
                    "begin; set local synchronous_commit = on; \
                     insert into live_acks (id) values ({id}); select inet_server_port(); commit;"
                );
                if let Ok(port) = psql(rw, "postgres", &sql, &pw, Duration::from_secs(8)) {
                    acks.lock().unwrap().push((id, port, Instant::now()));
                } else {
                    std::thread::sleep(Duration::from_millis(50));
                }
                id += 1;
            }
            id
        })
    };
    wait_for(30, "the writer commits through rw before the stop", || {
        (acks.lock().unwrap().len() >= 5).then_some(())
    });
    // Patroni's own part of the failover: when another node's REST API first says primary.
    let promoted = {
        let others: Vec<u16> = live
            .nodes
            .iter()
            .filter(|n| n.name != old)
            .map(|n| n.rest)
            .collect();
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(90);
            while Instant::now() < deadline {
                if others.iter().any(|p| rest_status(*p, "/primary") == 200) {
                    return Some(Instant::now());
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            None
        })
    };
    let t0 = Instant::now();
    live.procs.signal_and_reap(&format!("patroni-{old}"), sig);

    // A standby is promoted and rw routes writes to it.
    let old_port = old_node.pg.to_string();
    let first_new = wait_for(
        90,
        &format!(
            "after SIG{sig} of {old}'s Patroni, a write through rw is acknowledged by another node"
        ),
        || {
            acks.lock()
                .unwrap()
                .iter()
                .find(|(_, p, at)| *at > t0 && *p != old_port)
                .cloned()
        },
    );
    let secs = first_new.2.duration_since(t0).as_secs_f64();
    let promoted_secs = promoted
        .join()
        .unwrap()
        .map_or(f64::NAN, |t| t.saturating_duration_since(t0).as_secs_f64());
    let new = live
        .by_pg_port(&first_new.1)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| panic!("rw wrote to an unknown port {}", first_new.1));
    std::thread::sleep(Duration::from_millis(1500));
    stop.store(true, Ordering::Relaxed);
    *next_id = writer.join().unwrap();
    let new_node = live.node(&new).clone();
    assert_eq!(
        live.in_recovery(&new_node),
        Some(false),
        "the node rw now writes to ({new}) must be a promoted primary"
    );
    assert_eq!(
        live.leader().as_deref(),
        Some(new.as_str()),
        "Patroni's leader must be {new}, the node rw routes to"
    );
    let got = live
        .sql(live.rw, "select inet_server_port()")
        .expect("rw answers after the failover");
    assert_eq!(
        got,
        new_node.pg.to_string(),
        "rw must route to the new primary {new}"
    );

    // Every acknowledged row is on the new primary.
    let acked: BTreeSet<i64> = acks.lock().unwrap().iter().map(|a| a.0).collect();
    let present: BTreeSet<i64> = live
        .sql(
            new_node.pg,
            &format!(
                "select id from live_acks where id >= {}",
                acked.first().unwrap()
            ),
        )
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let lost: Vec<&i64> = acked.difference(&present).collect();
    assert!(
        lost.is_empty(),
        "SIG{sig}: {} of {} acknowledged rows are missing on the new primary {new}: {lost:?}",
        lost.len(),
        acked.len()
    );
    println!(
        "SIG{sig} of {old}'s Patroni: {new} promoted after {promoted_secs:.1} s (Patroni /primary), \
         first write through rw after {secs:.1} s, {} acknowledged rows, none lost",
        acked.len()
    );

    // The old primary rejoins as a standby when its Patroni starts again (pg_rewind if needed).
    // After SIGKILL its PostgreSQL outlived Patroni; the new Patroni must recognise it, which
    // Patroni 3.0.2 cannot after a step of the wall clock (see `postmaster_start_skew`). Then the
    // test does what the operator would: a clean stop, after which Patroni starts it itself.
    let data = data_dir(&live.procs.dir, &old);
    if let Some(skew) = postmaster_start_skew(&data) {
        println!(
            "{old}'s surviving postmaster started {skew:+.1} s from the time in its postmaster.pid, \
             as /proc reckons it (a wall-clock step since boot): Patroni 3.0.2 would take it for a \
             stranger (patroni/patroni#2792), so it is stopped (pg_ctl stop -m fast) first"
        );
        let (ok, out) = common::run(
            as_pg_user(&format!("{PG_BIN}/pg_ctl"))
                .args(["stop", "-m", "fast", "-w", "-t", "60", "-D"])
                .arg(&data),
        );
        assert!(ok, "pg_ctl stop of {old}'s surviving postmaster: {out}");
    }
    live.start_patroni(&old);
    wait_for(
        120,
        &format!("{old} rejoins as a standby streaming from {new}"),
        || {
            let rows = live
                .sql(
                    new_node.pg,
                    &format!(
                        "select 1 from pg_stat_replication where application_name = '{old}' \
                         and state = 'streaming'"
                    ),
                )
                .ok()?;
            (rows == "1" && rest_status(old_node.rest, "/replica") == 200).then_some(())
        },
    );
    assert_eq!(
        live.in_recovery(&old_node),
        Some(true),
        "{old} must be a standby after rejoining"
    );
    let max = *acked.last().unwrap();
    let ok = wait_for_bool(30, || {
        live.sql(
            old_node.pg,
            &format!("select count(*) from live_acks where id = {max}"),
        )
        .is_ok_and(|s| s == "1")
    });
    assert!(
        ok,
        "the rejoined {old} must replay the rows written on {new}"
    );
    (secs, promoted_secs)
}
