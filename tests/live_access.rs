//! Live proof of access and safety (issue 26, docs/live-proof.md): the files pgtopo emits for a
//! two-node Patroni cluster on 127.0.0.1 with roles, a database with an extension, client rules,
//! `tls mode="verify-full"`, an authenticated REST API, monitoring and a local PgBouncer do what
//! the topology says, against a real etcd, Patroni, PostgreSQL 15 and PgBouncer.
//!
//! As tests/live_ha.rs, nothing the cluster runs is hand-written: the topology below is compiled by
//! the `pgtopo` binary and the processes start from the emitted patroni.yml / patroni-run.sh /
//! bootstrap.sh / pgbouncer.ini, with a path-only rewrite (data_dir, pgpass, post_bootstrap,
//! auth_file point into the temp dir). The test's own inputs: the env file with fresh passwords,
//! a throwaway CA with a server and a client certificate (openssl), and PgBouncer's auth_file (the
//! lookup role's SCRAM secret alone). Distinct clients: libpq cannot choose its source address, so
//! a small forwarder (python3) connects from 127.0.0.2, .3 or .4 on the client's behalf.
//!
//! Checks: the roles exist with their attributes, limits and memberships; the database has its
//! owner, limit and extension; a client outside the `allow` rules is refused and one inside
//! accepted; without TLS a client from a non-local address is refused (every remote row is
//! `hostssl` under `require` and `verify-full`) and with TLS accepted; the `method="cert"` role
//! logs in with its client certificate and no password; an unauthenticated PATCH of Patroni's
//! /config is refused and an authenticated one accepted; the exporter role reads
//! pg_stat_replication as a non-superuser (pg_monitor); PgBouncer lets a role in through its
//! lookup function and refuses the superuser.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use common::{as_pg_user, chown_pg, set_path, wait_for, PG_BIN, PG_USER};

/// Started processes, killed by process group when dropped; PostgreSQL data directories stopped.
struct Procs {
    children: Vec<(String, Child)>,
    data_dirs: Vec<PathBuf>,
    dir: PathBuf,
}

impl Procs {
    fn spawn(&mut self, name: &str, cmd: &mut Command) {
        let log = std::fs::File::create(self.dir.join(format!("{name}.log"))).unwrap();
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        self.children.push((name.to_owned(), child));
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.children
            .sort_by_key(|(n, _)| !n.starts_with("patroni"));
        for (_, c) in &mut self.children {
            let _ = Command::new("kill")
                .args(["-s", "KILL", "--", &format!("-{}", c.id())])
                .status();
            let _ = c.wait();
        }
        for d in &self.data_dirs {
            if d.join("postmaster.pid").exists() {
                let _ = as_pg_user(&format!("{PG_BIN}/pg_ctl"))
                    .args(["stop", "-m", "immediate", "-D"])
                    .arg(d)
                    .output();
            }
        }
        if std::thread::panicking() {
            for (name, _) in &self.children {
                let text = std::fs::read_to_string(self.dir.join(format!("{name}.log")))
                    .unwrap_or_default();
                let v: Vec<&str> = text.lines().collect();
                eprintln!(
                    "--- last lines of {name}.log ---\n{}",
                    v[v.len().saturating_sub(20)..].join("\n")
                );
            }
            eprintln!("(logs and data kept in {})", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn prerequisites() -> bool {
    let mut missing: Vec<String> = [
        "etcd",
        "patroni",
        "pgbouncer",
        "openssl",
        "curl",
        "python3",
        "setpriv",
    ]
    .into_iter()
    .filter(|t| !common::have_tool(t))
    .map(str::to_owned)
    .collect();
    if !Path::new(PG_BIN).join("postgres").exists() {
        missing.push(format!("{PG_BIN} (Debian postgresql-15)"));
    }
    if !common::is_root() {
        missing.push("root".into());
    }
    common::ready("the live access test", &missing)
}

/// psql with a libpq connection string; (succeeded, stdout or stderr).
fn psql(conn: &str, password: Option<&str>, sql: &str) -> Result<String, String> {
    let mut cmd = Command::new(format!("{PG_BIN}/psql"));
    cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
        .arg(format!("{conn} connect_timeout=5"))
        .args(["-c", sql])
        .env_remove("PGPASSWORD");
    if let Some(pw) = password {
        cmd.env("PGPASSWORD", pw);
    } else {
        cmd.arg("-w");
    }
    let out = cmd.output().expect("psql runs");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The HTTP status of a request to Patroni's REST API (HTTPS under `tls`; the test CA signs it).
fn rest(port: u16, method: &str, path: &str, auth: Option<&str>, ca: &Path) -> u16 {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", method])
        .arg("--cacert")
        .arg(ca)
        .arg(format!("https://127.0.0.1:{port}{path}"));
    if method != "GET" {
        cmd.args([
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"postgresql":{"parameters":{"work_mem":"8MB"}}}"#,
        ]);
    }
    if let Some(a) = auth {
        cmd.args(["-u", a]);
    }
    let out = cmd.output().expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// Forwards 127.0.0.1:`listen` to 127.0.0.1:`to`, connecting from `source`: a client as the server
/// sees it from another address.
const FORWARDER: &str = r#"
import socket, sys, threading
listen, source, to = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", listen))
ls.listen(16)
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        try:
            b.shutdown(socket.SHUT_WR)
        except OSError:
            pass
while True:
    c, _ = ls.accept()
    s = socket.socket()
    s.bind((source, 0))
    s.connect(("127.0.0.1", to))
    threading.Thread(target=pipe, args=(c, s), daemon=True).start()
    threading.Thread(target=pipe, args=(s, c), daemon=True).start()
"#;

fn openssl(dir: &Path, args: &[&str]) {
    let (ok, out) = common::run(Command::new("openssl").current_dir(dir).args(args));
    assert!(ok, "openssl {args:?}: {out}");
}

/// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate for `auditor`.
fn certificates(tls: &Path, client: &Path) {
    std::fs::create_dir_all(tls).unwrap();
    std::fs::create_dir_all(client).unwrap();
    openssl(
        tls,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=pgtopo test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    );
    std::fs::write(
        tls.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .unwrap();
    openssl(
        tls,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    openssl(
        tls,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.crt",
        ],
    );
    openssl(
        tls,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=auditor",
            "-keyout",
            "../client/auditor.key",
            "-out",
            "../client/auditor.csr",
        ],
    );
    openssl(
        tls,
        &[
            "x509",
            "-req",
            "-in",
            "../client/auditor.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "../client/auditor.crt",
        ],
    );
    for k in [
        tls.join("server.key"),
        tls.join("ca.key"),
        client.join("auditor.key"),
    ] {
        std::fs::set_permissions(&k, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    }
}

#[test]
fn emitted_access_rules_roles_tls_and_rest_auth_hold_on_a_live_cluster() {
    if !prerequisites() {
        return;
    }
    let started = Instant::now();
    let dir = common::temp_dir("live-access");
    let tls = dir.join("tls");
    let client = dir.join("client");
    certificates(&tls, &client);

    let [etcd, p1, p2, r1, r2, b1, b2, peer] = [(); 8].map(|_| common::free_port());
    let env_file = dir.join("acc.env");
    let kdl = format!(
        r#"targets "hosts"
cluster "acc" {{
    postgres version=15
    credentials env-file="{env}"
    failover "patroni" ttl=10 loop-wait=2 retry-timeout=4 {{
        dcs "etcd" {{
            endpoint "127.0.0.1:{etcd}"
        }}
        rest-api auth=#true
    }}
    role "app" login=#true connection-limit=7
    role "auditor" login=#true member-of="pg_read_all_data" connection-limit=3
    role "readers"
    database "shop" owner="app" connection-limit=20 {{
        extension "pgcrypto"
    }}
    hba {{
        allow database="shop" user="app" address="127.0.0.2/32"
        allow database="shop" user="auditor" address="127.0.0.3/32" method="cert"
        reject address="0.0.0.0/0"
    }}
    tls mode="verify-full" dir="{tls}"
    monitoring {{
        exporter port=9187
    }}
    node "db1" role="primary" host="127.0.0.1" port={p1} patroni-port={r1} pooler-port={b1}
    node "db2" role="async" host="127.0.0.1" port={p2} patroni-port={r2} pooler-port={b2}
    pooler "pgbouncer" kind="pgbouncer" target="local" mode="transaction"
    storage size="10Gi"
}}
"#,
        env = env_file.display(),
        tls = tls.display(),
    );
    let project = common::build_topology(&dir, "acc", &kdl);
    let hosts = project.join("hosts/base");

    let stamp = format!(
        "{:x}",
        std::process::id() as u64 ^ started.elapsed().as_nanos() as u64
    );
    let pw = |what: &str| format!("{what}-{stamp}");
    std::fs::write(
        &env_file,
        [
            ("POSTGRES_PASSWORD", pw("su")),
            ("REPLICATION_PASSWORD", pw("repl")),
            ("PATRONI_REST_PASSWORD", pw("rest")),
            ("APP_PASSWORD", pw("app")),
            ("AUDITOR_PASSWORD", pw("auditor")),
            ("EXPORTER_PASSWORD", pw("exporter")),
            ("PGBOUNCER_AUTH_PASSWORD", pw("pool")),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={v}\n"))
        .collect::<String>(),
    )
    .unwrap();
    let userlist = dir.join("userlist.txt");
    let mut data_dirs = Vec::new();
    for n in ["db1", "db2"] {
        let p = hosts.join(n).join("patroni.yml");
        let data = dir.join(format!("data-{n}"));
        let yml = std::fs::read_to_string(&p).unwrap();
        let yml = set_path(&yml, "  data_dir: ", &format!("'{}'", data.display()));
        let yml = set_path(
            &yml,
            "  pgpass: ",
            &format!("'{}'", dir.join(format!("pgpass.{n}")).display()),
        );
        let yml = set_path(
            &yml,
            "  post_bootstrap: ",
            &hosts.join(n).join("bootstrap.sh").display().to_string(),
        );
        std::fs::write(&p, yml).unwrap();
        // Installed as a program, as docs/targets/vm.md says.
        std::fs::set_permissions(
            hosts.join(n).join("bootstrap.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        data_dirs.push(data);
        let p = hosts.join(n).join("pgbouncer.ini");
        let ini = std::fs::read_to_string(&p).unwrap();
        std::fs::write(
            &p,
            set_path(&ini, "auth_file = ", &userlist.display().to_string()),
        )
        .unwrap();
    }
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    chown_pg(&dir);
    // The client's key stays root's: psql runs as root.
    let (ok, out) = common::run(
        Command::new("chown")
            .arg("-R")
            .arg("root:root")
            .arg(&client),
    );
    assert!(ok, "{out}");

    let mut procs = Procs {
        children: Vec::new(),
        data_dirs,
        dir: dir.clone(),
    };
    procs.spawn(
        "etcd",
        as_pg_user("etcd")
            .arg("--name=live")
            .arg(format!("--data-dir={}", dir.join("etcd").display()))
            .arg(format!("--listen-client-urls=http://127.0.0.1:{etcd}"))
            .arg(format!("--advertise-client-urls=http://127.0.0.1:{etcd}"))
            .arg(format!("--listen-peer-urls=http://127.0.0.1:{peer}"))
            .arg(format!(
                "--initial-advertise-peer-urls=http://127.0.0.1:{peer}"
            ))
            .arg(format!("--initial-cluster=live=http://127.0.0.1:{peer}"))
            .env_clear()
            .env("PATH", "/usr/bin:/bin"),
    );
    wait_for(30, "etcd listens", || {
        std::net::TcpStream::connect(("127.0.0.1", etcd)).ok()
    });
    let start_patroni = |procs: &mut Procs, n: &str| {
        let d = hosts.join(n);
        procs.spawn(
            &format!("patroni-{n}"),
            as_pg_user("/bin/sh")
                .arg(d.join("patroni-run.sh"))
                .arg(d.join("patroni.yml"))
                .env_clear()
                .env("PATH", "/usr/local/bin:/usr/bin:/bin")
                .env("HOME", &dir)
                .env("LANG", "C.UTF-8")
                .env("PGTOPO_ENV_FILE", &env_file),
        );
    };
    let ca = tls.join("ca.crt");
    start_patroni(&mut procs, "db1");
    wait_for(
        90,
        "db1 bootstraps and leads (GET /primary over HTTPS)",
        || (rest(r1, "GET", "/primary", None, &ca) == 200).then_some(()),
    );
    start_patroni(&mut procs, "db2");
    wait_for(120, "db2 streams as a replica", || {
        (rest(r2, "GET", "/replica", None, &ca) == 200).then_some(())
    });
    println!("cluster up after {:.1} s", started.elapsed().as_secs_f64());

    let su = pw("su");
    let admin = |db: &str, sql: &str| {
        psql(
            &format!("host=127.0.0.1 port={p1} user=postgres dbname={db}"),
            Some(&su),
            sql,
        )
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    };
    // The bootstrap ran after Patroni's bootstrap: wait for its last statement's effect.
    wait_for(60, "the bootstrap created the database's extension", || {
        psql(
            &format!("host=127.0.0.1 port={p1} user=postgres dbname=shop"),
            Some(&su),
            "select extname from pg_extension where extname = 'pgcrypto'",
        )
        .ok()
        .filter(|s| s == "pgcrypto")
    });

    // 1. Roles with their attributes, limits and memberships; the database and its extension.
    assert_eq!(
        admin(
            "postgres",
            "select string_agg(rolname || ':' || rolcanlogin || ':' || rolconnlimit || ':' || rolsuper, ',' order by rolname) \
             from pg_roles where rolname in ('app', 'auditor', 'readers', 'pgtopo_exporter', 'pgbouncer_auth')"
        ),
        "app:true:7:false,auditor:true:3:false,pgbouncer_auth:true:-1:false,pgtopo_exporter:true:5:false,readers:false:-1:false",
        "the declared roles and pgtopo's own, with login, connection limit and no superuser"
    );
    assert_eq!(
        admin(
            "postgres",
            "select pg_has_role('auditor', 'pg_read_all_data', 'member') || ':' || pg_has_role('pgtopo_exporter', 'pg_monitor', 'member')"
        ),
        "true:true"
    );
    assert_eq!(
        admin(
            "postgres",
            "select pg_get_userbyid(datdba) || ':' || datconnlimit from pg_database where datname = 'shop'"
        ),
        "app:20"
    );
    assert_eq!(
        admin(
            "shop",
            "select extname from pg_extension where extname = 'pgcrypto'"
        ),
        "pgcrypto"
    );

    // 2. Clients from other addresses, through forwarders bound to 127.0.0.2/.3/.4.
    let mut forward = |source: &str| {
        let port = common::free_port();
        procs.spawn(
            &format!("forward-{source}"),
            Command::new("python3").args([
                "-c",
                FORWARDER,
                &port.to_string(),
                source,
                &p1.to_string(),
            ]),
        );
        wait_for(10, "the forwarder listens", || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        port
    };
    let (from2, from3, from4) = (
        forward("127.0.0.2"),
        forward("127.0.0.3"),
        forward("127.0.0.4"),
    );
    let app_pw = pw("app");
    let conn = |port: u16, user: &str, ssl: &str| {
        format!("host=127.0.0.1 port={port} user={user} dbname=shop sslmode={ssl}")
    };
    let inside = psql(&conn(from2, "app", "require"), Some(&app_pw), "select host(inet_client_addr()) || ':' || ssl from pg_stat_ssl where pid = pg_backend_pid()")
        .expect("app from 127.0.0.2 over TLS is inside the allow rules");
    assert_eq!(inside, "127.0.0.2:true");
    let outside = psql(&conn(from4, "app", "require"), Some(&app_pw), "select 1")
        .expect_err("app from 127.0.0.4 is outside the allow rules");
    assert!(
        outside.contains("rejects connection"),
        "the reject rule refuses 127.0.0.4: {outside}"
    );
    let plain = psql(&conn(from2, "app", "disable"), Some(&app_pw), "select 1")
        .expect_err("a connection without TLS from 127.0.0.2 is refused");
    assert!(
        plain.contains("no pg_hba.conf entry") && plain.contains("no encryption"),
        "only hostssl rows admit a remote client: {plain}"
    );

    // 3. The certificate login: no password, the client certificate (CN=auditor) signed by the CA.
    let cert = format!(
        "{} sslcert={} sslkey={} sslrootcert={}",
        conn(from3, "auditor", "verify-full"),
        client.join("auditor.crt").display(),
        client.join("auditor.key").display(),
        ca.display()
    );
    assert_eq!(
        psql(&cert, None, "select current_user || ':' || (select client_dn from pg_stat_ssl where pid = pg_backend_pid())")
            .expect("auditor logs in with its client certificate"),
        "auditor:/CN=auditor"
    );
    let no_cert = psql(
        &conn(from3, "auditor", "require"),
        Some(&pw("auditor")),
        "select 1",
    )
    .expect_err("auditor without a certificate is refused");
    assert!(no_cert.contains("certificate"), "{no_cert}");

    // 4. Patroni's REST API: a change needs the password, a read does not.
    let unauth = rest(r1, "PATCH", "/config", None, &ca);
    assert_eq!(
        unauth, 401,
        "an unauthenticated PATCH /config must be refused"
    );
    let authed = rest(
        r1,
        "PATCH",
        "/config",
        Some(&format!("patroni:{}", pw("rest"))),
        &ca,
    );
    assert_eq!(
        authed, 200,
        "an authenticated PATCH /config must be accepted"
    );

    // 5. The exporter's role reads replication statistics as a non-superuser.
    let exporter = psql(
        &format!("host=127.0.0.1 port={p1} user=pgtopo_exporter dbname=postgres sslmode=require"),
        Some(&pw("exporter")),
        "select (select rolsuper from pg_roles where rolname = current_user) || ':' || \
         count(*) filter (where sent_lsn is not null) from pg_stat_replication",
    )
    .expect("the exporter role logs in");
    assert_eq!(
        exporter, "false:1",
        "pg_monitor shows the standby's positions to a non-superuser"
    );

    // 6. PgBouncer: the auth_file holds the lookup role alone (its password: PgBouncer logs in as
    //    it, which a SCRAM secret cannot do); app is looked up, postgres is not.
    std::fs::write(
        &userlist,
        format!("\"pgbouncer_auth\" \"{}\"\n", pw("pool")),
    )
    .unwrap();
    chown_pg(&userlist);
    procs.spawn(
        "pgbouncer-db1",
        Command::new("pgbouncer")
            .args(["-u", PG_USER])
            .arg(hosts.join("db1/pgbouncer.ini")),
    );
    wait_for(30, "PgBouncer listens", || {
        std::net::TcpStream::connect(("127.0.0.1", b1)).ok()
    });
    let pooled = psql(
        &format!("host=127.0.0.1 port={b1} user=app dbname=shop"),
        Some(&app_pw),
        "select current_user",
    )
    .expect("app logs in through PgBouncer, looked up by pgbouncer_auth");
    assert_eq!(pooled, "app");
    let su_pooled = psql(
        &format!("host=127.0.0.1 port={b1} user=postgres dbname=postgres"),
        Some(&su),
        "select 1",
    );
    assert!(
        su_pooled.is_err(),
        "PgBouncer must not let the superuser in: {su_pooled:?}"
    );

    println!(
        "ACCESS: roles, limits, memberships, database and extension as declared; 127.0.0.2 over TLS \
         accepted, without TLS refused; 127.0.0.4 refused by the reject rule; auditor in by client \
         certificate; PATCH /config 401 without and 200 with the password; pgtopo_exporter (not a \
         superuser) sees 1 standby's positions; PgBouncer looks app up and refuses postgres; {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let _ = b2;
}

/// The prerequisites of the health endpoint's live test (no Patroni, no etcd).
fn health_prerequisites() -> bool {
    let mut missing: Vec<String> = [
        "systemd-socket-activate",
        "systemd-sysusers",
        "haproxy",
        "curl",
        "setpriv",
    ]
    .into_iter()
    .filter(|t| !common::have_tool(t))
    .map(str::to_owned)
    .collect();
    if !Path::new(PG_BIN).join("postgres").exists() {
        missing.push(format!("{PG_BIN} (Debian postgresql-15)"));
    }
    if !common::is_root() {
        missing.push("root".into());
    }
    common::ready("the live health endpoint test", &missing)
}

/// The HTTP status of `GET path` on 127.0.0.1:`port` (0 when nothing answers).
fn http_status(port: u16, path: &str) -> u16 {
    let out = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "5",
        ])
        .arg(format!("http://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

/// The value of the first `key=` line of a unit file.
fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("the unit has no {key}=:\n{unit}"))
}

/// Live proof of the health endpoint (no `trust` anywhere): a primary and a streaming standby
/// without a failover manager, started from the emitted postgresql.conf, pg_hba.conf,
/// pg_ident.conf and bootstrap.sh; each node's endpoint run as its emitted socket and service
/// units say (the OS user from the emitted sysusers.d entry, the service's environment and
/// command, the socket's address and `Accept=yes`) by `systemd-socket-activate`, which needs no
/// systemd as PID 1; then haproxy from the emitted haproxy.cfg. Path-only rewrites: the socket
/// directory (PGHOST, `unix_socket_directories`), the script's installed path, the standby's
/// passfile.
///
/// Checks: `/primary` is 200 on the primary and 503 on the standby, `/replica` (and `/sync`,
/// `/async`) the reverse, `/health` 200 on both, an unknown path 404, and 503 once the server
/// stops; the check role logs in only from the endpoint's OS user (root and postgres are refused
/// as it, and over TCP it has no password); haproxy's rw listen reaches the primary and ro the
/// standby.
#[test]
fn the_health_endpoint_answers_haproxy_from_a_live_primary_and_standby_without_trust() {
    if !health_prerequisites() {
        return;
    }
    let started = Instant::now();
    let dir = common::temp_dir("live-health");
    let [p1, p2, h1, h2, rw, ro] = [(); 6].map(|_| common::free_port());
    let env_file = dir.join("hc.env");
    let kdl = format!(
        r#"targets "hosts" "haproxy"
cluster "hc" {{
    postgres version=15
    credentials env-file="{env}"
    failover "none"
    replication {{
        slots #true
    }}
    role "app" login=#true
    node "db1" role="primary" host="127.0.0.1" port={p1} patroni-port={h1}
    node "db2" role="async" host="127.0.0.1" port={p2} patroni-port={h2}
    storage size="10Gi"
    balancer "haproxy" {{
        host "lb1" address="127.0.0.1"
        listen "rw" port={rw} target="primary"
        listen "ro" port={ro} target="replicas"
    }}
}}
"#,
        env = env_file.display(),
    );
    let project = common::build_topology(&dir, "hc", &kdl);
    let hosts = project.join("hosts/base");
    let stamp = format!(
        "{:x}",
        std::process::id() as u64 ^ started.elapsed().as_nanos() as u64
    );
    let (repl_pw, app_pw) = (format!("repl-{stamp}"), format!("app-{stamp}"));
    std::fs::write(
        &env_file,
        format!(
            "POSTGRES_PASSWORD=su-{stamp}\nREPLICATION_PASSWORD={repl_pw}\nAPP_PASSWORD={app_pw}\n"
        ),
    )
    .unwrap();
    for n in ["db1", "db2"] {
        let hba = std::fs::read_to_string(hosts.join(n).join("pg_hba.conf")).unwrap();
        assert!(
            !hba.lines()
                .any(|l| !l.starts_with('#') && l.contains("trust")),
            "{n}: pg_hba.conf must have no trust row:\n{hba}"
        );
    }
    // The standby's passfile, the one secret its emitted primary_conninfo names.
    let pgpass = dir.join("pgpass");
    std::fs::write(
        &pgpass,
        format!("127.0.0.1:{p1}:replication:replicator:{repl_pw}\n"),
    )
    .unwrap();
    std::fs::set_permissions(&pgpass, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let conf2 = hosts.join("db2/postgresql.conf");
    let text = std::fs::read_to_string(&conf2).unwrap();
    assert!(
        text.contains("passfile=/var/lib/postgresql/.pgpass"),
        "{text}"
    );
    std::fs::write(
        &conf2,
        text.replace(
            "passfile=/var/lib/postgresql/.pgpass",
            &format!("passfile={}", pgpass.display()),
        ),
    )
    .unwrap();
    chown_pg(&dir);
    // The endpoint's OS user (and the folders it reads) must reach the socket directory and the
    // script: the test folder stays traversable, the data directories are PostgreSQL's own 0700.
    std::fs::set_permissions(&dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let mut procs = Procs {
        children: Vec::new(),
        data_dirs: Vec::new(),
        dir: dir.clone(),
    };
    let start_pg = |procs: &mut Procs, n: &str| {
        let node = hosts.join(n);
        procs.spawn(
            &format!("postgres-{n}"),
            as_pg_user(&format!("{PG_BIN}/postgres"))
                .arg("-D")
                .arg(dir.join(format!("data-{n}")))
                .arg("-c")
                .arg(format!(
                    "config_file={}",
                    node.join("postgresql.conf").display()
                ))
                .arg("-c")
                .arg(format!("hba_file={}", node.join("pg_hba.conf").display()))
                .arg("-c")
                .arg(format!(
                    "ident_file={}",
                    node.join("pg_ident.conf").display()
                ))
                .arg("-c")
                .arg(format!("unix_socket_directories={}", dir.display()))
                .env_clear()
                .env("PATH", "/usr/bin:/bin")
                .env("LANG", "C.UTF-8"),
        );
    };
    let as_postgres = |program: &str| {
        let mut c = as_pg_user(program);
        c.env_clear()
            .env("PATH", format!("{PG_BIN}:/usr/bin:/bin"))
            .env("LANG", "C.UTF-8");
        c
    };
    let local_sql = |user_cmd: &mut Command, port: u16, user: &str, sql: &str| {
        let out = user_cmd
            .args(["-X", "-A", "-t", "-w", "-h"])
            .arg(&dir)
            .args([
                "-p",
                &port.to_string(),
                "-U",
                user,
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
        }
    };

    // 1. The primary: initdb, the emitted configuration, the emitted bootstrap.
    let (ok, out) = common::run(
        as_postgres(&format!("{PG_BIN}/initdb"))
            .arg("-D")
            .arg(dir.join("data-db1"))
            .args(["-A", "peer"]),
    );
    assert!(ok, "initdb: {out}");
    procs.data_dirs.push(dir.join("data-db1"));
    start_pg(&mut procs, "db1");
    wait_for(30, "db1 accepts connections", || {
        local_sql(
            &mut as_postgres(&format!("{PG_BIN}/psql")),
            p1,
            "postgres",
            "select 1",
        )
        .ok()
    });
    let (ok, out) = common::run(
        as_postgres("/bin/sh")
            .arg(hosts.join("db1/bootstrap.sh"))
            .arg(format!("host={} port={p1} dbname=postgres", dir.display()))
            .env("PGTOPO_ENV_FILE", &env_file),
    );
    assert!(ok, "bootstrap.sh: {out}");

    // 2. The standby: a base backup as the replication role, then its emitted configuration.
    let (ok, out) = common::run(
        as_postgres(&format!("{PG_BIN}/pg_basebackup"))
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                &p1.to_string(),
                "-U",
                "replicator",
                "-D",
            ])
            .arg(dir.join("data-db2"))
            .args(["-X", "stream", "-w"])
            .env("PGPASSFILE", &pgpass),
    );
    assert!(ok, "pg_basebackup: {out}");
    std::fs::write(dir.join("data-db2/standby.signal"), "").unwrap();
    chown_pg(&dir.join("data-db2"));
    procs.data_dirs.push(dir.join("data-db2"));
    start_pg(&mut procs, "db2");

    // 3. The endpoint's OS user, from the emitted sysusers.d entry (idempotent).
    let (ok, out) = common::run(
        Command::new("systemd-sysusers").arg(hosts.join("db1/pgtopo-health.sysusers.conf")),
    );
    assert!(ok, "systemd-sysusers: {out}");

    // 4. Each node's endpoint, as its units say.
    for (n, port) in [("db1", h1), ("db2", h2)] {
        let node = hosts.join(n);
        let socket =
            std::fs::read_to_string(node.join(format!("pgtopo-health-{n}.socket"))).unwrap();
        let service =
            std::fs::read_to_string(node.join(format!("pgtopo-health-{n}@.service"))).unwrap();
        assert_eq!(
            unit_value(&socket, "ListenStream"),
            format!("127.0.0.1:{port}")
        );
        assert_eq!(unit_value(&socket, "Accept"), "yes");
        let user = unit_value(&service, "User");
        let exec = unit_value(&service, "ExecStart");
        let script = exec
            .strip_prefix("/bin/sh ")
            .unwrap_or_else(|| panic!("ExecStart={exec}"));
        assert!(script.ends_with("/pgtopo-health.sh"), "{exec}");
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid", user, "--regid", user, "--clear-groups", "--"])
            .arg("systemd-socket-activate")
            .args(["--inetd", "--accept", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .current_dir("/")
            .env_clear()
            .env("PATH", "/usr/bin:/bin");
        for e in service
            .lines()
            .filter_map(|l| l.strip_prefix("Environment="))
        {
            // Path-only: the node's socket is in the test's folder, not Debian's.
            let e = if e.starts_with("PGHOST=") {
                format!("PGHOST={}", dir.display())
            } else {
                e.to_owned()
            };
            cmd.arg(format!("--setenv={e}"));
        }
        cmd.arg("/bin/sh").arg(node.join("pgtopo-health.sh"));
        procs.spawn(&format!("health-{n}"), &mut cmd);
    }
    wait_for(60, "db2 streams: its /replica answers 200", || {
        (http_status(h2, "/replica") == 200).then_some(())
    });
    for (path, primary, standby) in [
        ("/primary", 200, 503),
        ("/replica", 503, 200),
        ("/sync", 503, 200),
        ("/async", 503, 200),
        ("/health", 200, 200),
        ("/replica?lag=1048576", 503, 200),
        ("/nothing", 404, 404),
    ] {
        assert_eq!(
            (http_status(h1, path), http_status(h2, path)),
            (primary, standby),
            "GET {path} on the primary and on the standby"
        );
    }

    // 5. The check role logs in from the endpoint's OS user alone.
    let check = |cmd: &mut Command| local_sql(cmd, p1, "pgtopo_check", "select current_user");
    for (who, mut cmd) in [
        ("root", Command::new(format!("{PG_BIN}/psql"))),
        ("postgres", as_postgres(&format!("{PG_BIN}/psql"))),
    ] {
        let refused = check(cmd.env_remove("PGPASSWORD")).expect_err(who);
        assert!(
            refused.contains("Peer authentication failed"),
            "{who} must not log in as pgtopo_check: {refused}"
        );
    }
    let tcp = psql(
        &format!("host=127.0.0.1 port={p1} user=pgtopo_check dbname=postgres"),
        None,
        "select 1",
    )
    .expect_err("pgtopo_check has no password over TCP");
    assert!(tcp.contains("password"), "{tcp}");
    let mut as_health = Command::new("setpriv");
    as_health
        .args([
            "--reuid",
            "pgtopo-health",
            "--regid",
            "pgtopo-health",
            "--clear-groups",
            "--",
        ])
        .arg(format!("{PG_BIN}/psql"))
        .current_dir("/");
    assert_eq!(check(&mut as_health), Ok("pgtopo_check".to_owned()));

    // 6. haproxy, from the emitted haproxy.cfg, sends rw to the primary and ro to the standby.
    let cfg = std::fs::read_to_string(project.join("haproxy/base/lb1/haproxy.cfg")).unwrap();
    for (n, p, h) in [("db1", p1, h1), ("db2", p2, h2)] {
        assert!(
            cfg.contains(&format!("server {n} 127.0.0.1:{p} check port {h}")),
            "{cfg}"
        );
    }
    assert!(!cfg.contains("external-check"), "{cfg}");
    procs.spawn(
        "haproxy",
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(project.join("haproxy/base/lb1/haproxy.cfg")),
    );
    let through = |port: u16| {
        psql(
            &format!("host=127.0.0.1 port={port} user=app dbname=postgres"),
            Some(&app_pw),
            "select inet_server_port() || ':' || pg_is_in_recovery()",
        )
    };
    // haproxy counts a server up until its first check fails (checks every 3 s, fall 3 at 1 s).
    std::thread::sleep(std::time::Duration::from_secs(6));
    for _ in 0..6 {
        assert_eq!(
            through(rw),
            Ok(format!("{p1}:false")),
            "rw reaches the primary"
        );
        assert_eq!(
            through(ro),
            Ok(format!("{p2}:true")),
            "ro reaches the standby"
        );
    }

    // 7. A stopped server is not healthy.
    let (ok, out) = common::run(
        as_postgres(&format!("{PG_BIN}/pg_ctl"))
            .args(["stop", "-m", "fast", "-D"])
            .arg(dir.join("data-db2")),
    );
    assert!(ok, "pg_ctl stop: {out}");
    assert_eq!(http_status(h2, "/replica"), 503);
    assert_eq!(http_status(h2, "/health"), 503);

    println!(
        "HEALTH: /primary 200/503, /replica 503/200 on primary/standby, 404 for an unknown path, \
         503 once stopped; pgtopo_check only by peer from pgtopo-health; haproxy rw → primary, \
         ro → standby; no trust row; {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// No pg_hba row that pgtopo writes, in any target's files under out/, says `trust`: not in a
/// pg_hba.conf, nor in Patroni's `pg_hba` lists, nor in a Kubernetes object or chart value that
/// carries rows. A row is any line whose first word (after a YAML list dash and quotes) is a
/// pg_hba connection type.
#[test]
fn no_pg_hba_row_in_out_says_trust() {
    let mut rows = 0;
    for (p, text) in common::text_files(&common::repo().join("out")) {
        for line in text.lines() {
            let words: Vec<&str> = line
                .split_whitespace()
                .map(|w| w.trim_matches(|c| c == '"' || c == '\'' || c == ','))
                .filter(|w| *w != "-")
                .collect();
            let is_row = words.first().is_some_and(|w| {
                [
                    "local",
                    "host",
                    "hostssl",
                    "hostnossl",
                    "hostgssenc",
                    "hostnogssenc",
                ]
                .contains(w)
            }) && words.len() >= 4;
            if is_row {
                rows += 1;
                assert!(
                    !words.contains(&"trust"),
                    "{}: a pg_hba row says trust: {line}",
                    p.display()
                );
            }
        }
    }
    assert!(rows > 100, "only {rows} pg_hba rows found under out/");
}
