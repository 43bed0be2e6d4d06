//! The kubernetes target proven by running its pods: tests/pod_runner/kubelet.py runs the objects
//! `pgtopo build --with-workloads` prints for `topologies/mirror-db.kdl` (seed 001: PostgreSQL 15
//! under pg_auto_failover, a monitor, four nodes, two PgBouncer poolers) as a kubelet, kube-proxy
//! and an API server would, on network namespaces of its own: each pod with its IP on a private
//! bridge, its /etc/hosts answering the Service and pod names, its containers in their own mount
//! and PID namespaces on a read-only root, volumes where they are mounted, env and commands as
//! written, as the image's user, with Debian's PostgreSQL 15, pg_auto_failover 2.0 and PgBouncer
//! standing in for the images' builds of them. The one stand-in is `kubectl` inside the pods, a
//! recorder the runner authorises with the emitted Role (docs/live-proof.md).
//!
//! The topology is the example plus a `workload` block (the example declares none). Asserted:
//! the monitor and every keeper come up and the topology's primary is the primary; the
//! synchronous standby names and replication states follow the sync/async roles; the rw pooler
//! reaches the primary and the ro pooler a standby; the workload Job loads and verifies every node;
//! killing the primary's keeper (its container's PID 1, as a crash kills it) and keeping it down
//! (its node is gone) promotes the sync standby with every acknowledged row on it; the labeler moves the role labels so that the
//! Services' endpoints follow the new primary; the old primary rejoins as a standby. The failover
//! time (kill to first write through the rw pooler) is printed for docs/live-proof.md.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use pgtopo::emit::{self, Options};
use pgtopo::model::Target;
use serde::Deserialize;
use serde_json::{json, Value};

/// Added by the test before the first node: a database and its owner, whom the workload Job and
/// the clients log in as through the poolers (which never let a superuser in).
const DATABASE: &str = "    database \"app\" owner=\"app\"\n";

const WORKLOAD: &str = r#"
// Added by tests/pod_runner.rs: the workload Job the test runs.
workload "users" cluster="mirror-db" {
    load rows=1000 table="users" batch=250
    verify every-node=#true timeout="120s"
}
"#;

/// The runner process; stopping it (SIGTERM) stops every container and deletes every namespace.
struct Runner {
    child: Child,
    state: PathBuf,
    prefix: String,
    password: String,
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            // The logs of every container, for the failure message.
            if let Ok(rd) = std::fs::read_dir(self.state.join("logs")) {
                for e in rd.flatten() {
                    let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                    let tail: Vec<&str> = text.lines().rev().take(25).collect();
                    eprintln!("==== {}", e.path().display());
                    for l in tail.iter().rev() {
                        eprintln!("{l}");
                    }
                }
            }
        }
    }
}

impl Runner {
    fn read(&self, file: &str) -> Value {
        let text = std::fs::read_to_string(self.state.join(file)).unwrap_or_else(|_| "{}".into());
        serde_json::from_str(&text).unwrap_or(json!({}))
    }

    fn pod(&self, name: &str) -> Value {
        self.read("pods.json")[name].clone()
    }

    fn endpoints(&self, service: &str) -> Vec<String> {
        self.read("services.json")[service]["endpoints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    fn cluster_ip(&self, service: &str) -> String {
        self.read("services.json")[service]["clusterIP"]
            .as_str()
            .unwrap_or_else(|| panic!("Service {service} has no ClusterIP"))
            .to_owned()
    }

    fn psql(&self, host: &str, port: u16, sql: &str) -> Result<String, String> {
        client_psql(&self.prefix, &self.password, host, port, sql)
    }

    /// `kubectl exec POD -c CONTAINER -- ARGS`: the command in the container's namespaces and
    /// root, as its user.
    fn exec(&self, pod: &str, container: &str, args: &[&str]) -> Result<String, String> {
        let pid = self.pod(pod)["containers"][container]["pid"]
            .as_u64()
            .ok_or_else(|| format!("{pod}/{container} is not running"))?;
        let spec: Value = serde_json::from_str(
            &std::fs::read_to_string(self.state.join(format!("pods/{pod}/{container}.json")))
                .unwrap(),
        )
        .unwrap();
        let out = Command::new("nsenter")
            .args(["-t", &pid.to_string(), "-m", "-u", "-n", "-p", "-r", "-w"])
            .args([
                "-S",
                &spec["uid"].to_string(),
                "-G",
                &spec["gid"].to_string(),
            ])
            .args(["--", "/usr/bin/env", "-i"])
            .args(
                spec["env"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap())),
            )
            .args(["timeout", "15"])
            .args(args)
            .output()
            .expect("nsenter runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// SQL on a node through its own Unix socket, as the image's user (the bootstrap superuser).
    fn node_sql(&self, pod: &str, sql: &str) -> Result<String, String> {
        self.node_sql_in(pod, "postgres", sql)
    }

    /// [`Self::node_sql`] in database `db`.
    fn node_sql_in(&self, pod: &str, db: &str, sql: &str) -> Result<String, String> {
        self.exec(
            pod,
            "postgresql",
            &[
                "psql",
                "-X",
                "-A",
                "-t",
                "-q",
                "-h",
                "/var/run/postgresql",
                "-d",
                db,
                "-c",
                sql,
            ],
        )
    }

    fn monitor_sql(&self, sql: &str) -> Result<String, String> {
        self.exec(
            "mirror-db-monitor-0",
            "monitor",
            &[
                "psql",
                "-X",
                "-A",
                "-t",
                "-q",
                "-h",
                "/var/run/postgresql",
                "-p",
                "6001",
                "-d",
                "pg_auto_failover",
                "-c",
                sql,
            ],
        )
    }

    /// `nodename|reportedstate|goalstate` of every node, sorted by name.
    fn states(&self) -> Vec<(String, String, String)> {
        let out = self
            .monitor_sql("SELECT nodename, reportedstate, goalstate FROM pgautofailover.node ORDER BY nodename")
            .unwrap_or_default();
        out.lines()
            .map(|l| {
                let f: Vec<&str> = l.split('|').collect();
                (f[0].to_owned(), f[1].to_owned(), f[2].to_owned())
            })
            .collect()
    }
}

/// psql from the runner's client network namespace (a pod-like netns with the Service rules), as
/// the database owner `app` with the Secret's password: through PgBouncer, which looks the role
/// up with `auth_query` as pgtopo's lookup role (a superuser is never looked up).
fn client_psql(
    prefix: &str,
    password: &str,
    host: &str,
    port: u16,
    sql: &str,
) -> Result<String, String> {
    let out = Command::new("ip")
        .args(["netns", "exec", &format!("{prefix}-client")])
        .args(["env", &format!("PGPASSWORD={password}")])
        .args([
            "PGCONNECT_TIMEOUT=3",
            "timeout",
            "15",
            "psql",
            "-X",
            "-A",
            "-t",
            "-q",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-U", "app", "-d", "app"])
        .args(["-h", host, "-p", &port.to_string(), "-c", sql])
        .output()
        .expect("psql runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn parse_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn random_password() -> String {
    let bytes = std::fs::read("/proc/sys/kernel/random/uuid").unwrap();
    String::from_utf8(bytes).unwrap().trim().replace('-', "")
}

/// Every (Secret, key) a container reads, with a fresh random value.
fn secrets(docs: &[Value]) -> Value {
    fn walk(v: &Value, out: &mut BTreeSet<(String, String)>) {
        match v {
            Value::Object(o) => {
                if let Some(r) = o.get("secretKeyRef") {
                    out.insert((
                        r["name"].as_str().unwrap().to_owned(),
                        r["key"].as_str().unwrap().to_owned(),
                    ));
                }
                o.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut keys = BTreeSet::new();
    docs.iter().for_each(|d| walk(d, &mut keys));
    let mut s = json!({});
    for (name, key) in keys {
        s[&name][&key] = json!(random_password());
    }
    s
}

fn missing_tools() -> Vec<&'static str> {
    let mut v: Vec<&'static str> = [
        "ip",
        "nft",
        "unshare",
        "nsenter",
        "setpriv",
        "pg_autoctl",
        "pgbouncer",
        "psql",
        "python3",
    ]
    .into_iter()
    .filter(|t| {
        !Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {t} || test -x /usr/sbin/{t}"))
            .output()
            .is_ok_and(|o| o.status.success())
    })
    .collect();
    if !Path::new("/usr/share/postgresql/15/extension/pgautofailover.control").exists() {
        v.push("postgresql-15-auto-failover");
    }
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
    {
        v.push("root");
    }
    v
}

#[test]
fn the_mirror_db_pods_run_replicate_and_fail_over() {
    let missing = missing_tools();
    if !missing.is_empty() {
        if common::tools_required() {
            panic!(
                "the pod runner needs {missing:?}; run `bash tests/install-validators.sh` as root"
            );
        }
        eprintln!("SKIPPED: the pod runner needs {missing:?}; the kubernetes pods did not run");
        return;
    }
    let dir = common::temp_dir("pod-runner");
    let src = std::fs::read_to_string(common::repo().join("topologies/mirror-db.kdl")).unwrap();
    let kdl = dir.join("mirror-db.kdl");
    let src = src.replacen(
        "    node \"postgres-0\"",
        &format!("{DATABASE}    node \"postgres-0\""),
        1,
    );
    assert!(
        src.contains(DATABASE),
        "mirror-db.kdl declares node postgres-0"
    );
    std::fs::write(&kdl, src + WORKLOAD).unwrap();
    let program = common::program(&kdl);
    let opts = Options {
        with_workloads: true,
        ..Options::default()
    };
    let built = emit::stdout(Target::Kubernetes, &program, None, &opts).expect("the base builds");
    let docs = parse_docs(&built);
    let is_workload =
        |d: &Value| d["metadata"]["labels"]["app.kubernetes.io/component"] == "workload";
    let (workloads, cluster): (Vec<Value>, Vec<Value>) =
        docs.iter().cloned().partition(is_workload);
    assert!(
        workloads.iter().any(|d| d["kind"] == "Job"),
        "the workload Job is built"
    );
    let secrets = secrets(&docs);
    let password = secrets["mirror-db-credentials"]["app-password"]
        .as_str()
        .expect("the pods read app-password")
        .to_owned();
    std::fs::write(
        dir.join("objects.json"),
        serde_json::to_string(&cluster).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("secrets.json"), secrets.to_string()).unwrap();
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let prefix = format!("pgpr{}", std::process::id() % 100_000);
    let log = std::fs::File::create(dir.join("runner.log")).unwrap();
    let child = Command::new("python3")
        .arg(common::repo().join("tests/pod_runner/kubelet.py"))
        .arg("--state")
        .arg(&state)
        .args(["--prefix", &prefix])
        .arg("--secrets")
        .arg(dir.join("secrets.json"))
        .arg("--objects")
        .arg(dir.join("objects.json"))
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .expect("the runner starts");
    let runner = Runner {
        child,
        state: state.clone(),
        prefix: prefix.clone(),
        password,
    };
    let started = Instant::now();

    // 1. Everything comes up: the monitor, the four keepers (the topology's primary as primary),
    //    both poolers.
    let pods = [
        "mirror-db-monitor-0",
        "postgres-0",
        "postgres-1",
        "postgres-2",
        "postgres-3",
        "mirror-db-pgbouncer-primary-runner-0",
        "mirror-db-pgbouncer-replicas-runner-0",
    ];
    wait_for("every pod ready", Duration::from_secs(300), || {
        pods.iter()
            .all(|p| runner.pod(p)["ready"] == true)
            .then_some(())
    });
    let want = |p: &str| {
        if p == "postgres-0" {
            "primary"
        } else {
            "secondary"
        }
    };
    wait_for(
        "the primary and three secondaries",
        Duration::from_secs(120),
        || {
            let s = runner.states();
            (s.len() == 4 && s.iter().all(|(n, r, g)| r == want(n) && g == want(n))).then_some(())
        },
    );
    eprintln!("pod runner: cluster up in {:.1?}", started.elapsed());

    // 2. Synchronous replication as the topology says: `ANY 1` of the sync node, the async nodes
    //    streaming asynchronously; candidate priorities and quorum per role.
    let ids: Vec<(String, String)> = runner
        .monitor_sql("SELECT nodename, nodeid, candidatepriority, replicationquorum FROM pgautofailover.node ORDER BY nodename")
        .unwrap()
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            let expect = match f[0] {
                "postgres-0" | "postgres-1" => "50|t",
                _ => "25|f",
            };
            assert_eq!(format!("{}|{}", f[2], f[3]), expect, "{}: priority|quorum", f[0]);
            (f[0].to_owned(), format!("pgautofailover_standby_{}", f[1]))
        })
        .collect();
    let app = |n: &str| ids.iter().find(|(x, _)| x == n).unwrap().1.clone();
    let ssn = wait_for("synchronous_standby_names", Duration::from_secs(60), || {
        runner
            .node_sql("postgres-0", "SHOW synchronous_standby_names")
            .ok()
            .filter(|s| !s.is_empty())
    });
    assert_eq!(ssn, format!("ANY 1 ({})", app("postgres-1")));
    let repl = wait_for("three streaming standbys", Duration::from_secs(60), || {
        let out = runner
            .node_sql(
                "postgres-0",
                "SELECT application_name || '=' || sync_state FROM pg_stat_replication WHERE state = 'streaming' ORDER BY 1",
            )
            .ok()?;
        (out.lines().count() == 3).then_some(out)
    });
    for (node, state) in [
        ("postgres-1", "quorum"),
        ("postgres-2", "async"),
        ("postgres-3", "async"),
    ] {
        assert!(
            repl.lines().any(|l| l == format!("{}={state}", app(node))),
            "{node} should replicate as {state}:\n{repl}"
        );
    }

    // 3. The labeler labels the pods, and the Services select them.
    wait_for("role labels", Duration::from_secs(60), || {
        (runner.endpoints("mirror-db-primary") == ["postgres-0"]
            && runner.endpoints("mirror-db-replicas").len() == 3)
            .then_some(())
    });

    // 4. The poolers: rw reaches the primary, ro a standby.
    let rw = runner.cluster_ip("mirror-db-pgbouncer-primary");
    let ro = runner.cluster_ip("mirror-db-pgbouncer-replicas");
    let ip_of = |p: &str| runner.pod(p)["ip"].as_str().unwrap().to_owned();
    let through_rw = wait_for(
        "a query through the rw pooler",
        Duration::from_secs(60),
        || {
            runner
                .psql(
                    &rw,
                    6432,
                    "SELECT pg_is_in_recovery() || '|' || host(inet_server_addr())",
                )
                .ok()
        },
    );
    assert_eq!(through_rw, format!("false|{}", ip_of("postgres-0")));
    let through_ro = wait_for(
        "a query through the ro pooler",
        Duration::from_secs(60),
        || {
            runner
                .psql(
                    &ro,
                    6432,
                    "SELECT pg_is_in_recovery() || '|' || host(inet_server_addr())",
                )
                .ok()
        },
    );
    let standby_ips: Vec<String> = ["postgres-1", "postgres-2", "postgres-3"]
        .iter()
        .map(|p| ip_of(p))
        .collect();
    let (rec, addr) = through_ro.split_once('|').unwrap();
    assert!(
        rec == "true" && standby_ips.iter().any(|i| i == addr),
        "ro reached {through_ro}"
    );

    // 5. The workload Job, applied afterwards as its own kustomization is: load and verify.
    std::fs::write(
        state.join("control/apply-1.json"),
        serde_json::to_string(&workloads).unwrap(),
    )
    .unwrap();
    wait_for("the workload Job", Duration::from_secs(240), || {
        let j = &runner.read("jobs.json")["mirror-db-users"];
        assert!(j["failed"] != true, "the workload Job failed: {j}");
        (j["succeeded"] == true).then_some(())
    });
    let job_log = std::fs::read_dir(state.join("logs"))
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("mirror-db-users-")
        })
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
        .collect::<String>();
    assert!(
        job_log.contains("verify: every node has the primary's 1000 rows"),
        "the Job's log:\n{job_log}"
    );

    // 6. Failover: a writer commits one row per transaction through the rw pooler; the primary's
    //    keeper is killed; the sync standby takes over with every acknowledged row.
    runner
        .psql(
            &rw,
            6432,
            "CREATE TABLE IF NOT EXISTS acked (id int PRIMARY KEY, at text)",
        )
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let kill_at = std::sync::Arc::new(std::sync::Mutex::new(None::<Instant>));
    let writer = {
        let (stop, kill_at) = (stop.clone(), kill_at.clone());
        let (rw, prefix, password) = (rw.clone(), prefix.clone(), runner.password.clone());
        let old_ip = ip_of("postgres-0");
        std::thread::spawn(move || {
            let mut acked = Vec::new();
            let mut first_after = None;
            let mut id = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                id += 1;
                let sql = format!(
                    "INSERT INTO acked VALUES ({id}, host(inet_server_addr())) RETURNING at"
                );
                if let Ok(at) = client_psql(&prefix, &password, &rw, 6432, &sql) {
                    acked.push(id);
                    let killed = *kill_at.lock().unwrap();
                    if let (Some(k), None) = (killed, first_after) {
                        if at != old_ip {
                            first_after = Some(k.elapsed());
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (acked, first_after)
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    let keeper = runner.pod("postgres-0")["containers"]["postgresql"]["pid"]
        .as_u64()
        .unwrap();
    // The pod's node is down: its container does not come back until the failover is done (a
    // keeper restarted within the monitor's 20 s would simply stay primary).
    let hold = state.join("control/hold-postgres-0");
    std::fs::write(&hold, "").unwrap();
    *kill_at.lock().unwrap() = Some(Instant::now());
    let ok = Command::new("kill")
        .args(["-KILL", &keeper.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -9 of the primary's keeper (pid {keeper})");
    // With the other quorum node down the new primary runs as `wait_primary` (synchronous
    // replication off until a quorum standby is back), then `primary`.
    wait_for("postgres-1 promoted", Duration::from_secs(120), || {
        runner
            .states()
            .iter()
            .any(|(n, r, _)| n == "postgres-1" && (r == "primary" || r == "wait_primary"))
            .then_some(())
    });
    wait_for(
        "a write through rw after the failover",
        Duration::from_secs(120),
        || {
            runner
                .psql(&rw, 6432, "SELECT host(inet_server_addr())")
                .ok()
                .filter(|a| *a == ip_of("postgres-1"))
        },
    );
    std::thread::sleep(Duration::from_secs(2));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let (acked, first_after) = writer.join().unwrap();
    let failover = first_after.expect("a write was acknowledged by the new primary");
    eprintln!(
        "pod runner: pg_auto_failover failover (keeper SIGKILL to first write through rw) {:.1?}, {} rows acknowledged",
        failover,
        acked.len()
    );
    let on_new: BTreeSet<i64> = runner
        // The clients write as `app`, in its database.
        .node_sql_in("postgres-1", "app", "SELECT id FROM acked")
        .unwrap()
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    let lost: Vec<&i64> = acked.iter().filter(|i| !on_new.contains(i)).collect();
    assert!(
        lost.is_empty(),
        "acknowledged rows missing on the new primary: {lost:?}"
    );
    assert!(
        acked.len() >= 10,
        "only {} rows were acknowledged",
        acked.len()
    );

    // 7. The labels follow: postgres-1 is the primary Service's only endpoint, and the old
    //    primary rejoins as a standby.
    wait_for(
        "the primary Service following postgres-1",
        Duration::from_secs(60),
        || (runner.endpoints("mirror-db-primary") == ["postgres-1"]).then_some(()),
    );
    std::fs::remove_file(&hold).unwrap();
    wait_for(
        "postgres-0 rejoining as a standby",
        Duration::from_secs(180),
        || {
            let s = runner.states();
            let back = s
                .iter()
                .any(|(n, r, _)| n == "postgres-0" && r == "secondary");
            (back && runner.pod("postgres-0")["labels"]["pgtopo.io/role"] == "replica")
                .then_some(())
        },
    );
    let api = std::fs::read_to_string(state.join("api.log")).unwrap();
    let records: Vec<Value> = api
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        records.iter().all(|r| r["response"]["ok"] == true),
        "every labeler request was authorised: {api}"
    );
    assert!(
        records.iter().any(|r| r["request"]["pod"] == "postgres-1"
            && r["request"]["labels"]["pgtopo.io/role"] == "primary"),
        "the labeler labelled postgres-1 primary"
    );
    eprintln!("pod runner: whole run {:.1?}", started.elapsed());
    drop(runner);
    let left = Command::new("ip").args(["netns", "list"]).output().unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(
        !left.lines().any(|l| l.starts_with(&format!("{prefix}-"))),
        "network namespaces left behind:\n{left}"
    );
}
