//! Live proof of backups and point-in-time recovery (issue 27, docs/backup.md): the files pgtopo
//! emits for VM hosts back a PostgreSQL 15 up with Debian's pgBackRest into a posix repository
//! and restore it, on 127.0.0.1.
//!
//! Nothing that backs up or restores is hand-written: the test compiles a topology (a primary
//! with `backup { repository "posix" … }`, and an env that adds a cluster with `restore from=`)
//! with the `pgtopo` binary and runs the emitted postgresql.conf, pg_hba.conf, pgbackrest.conf,
//! pgbackrest-setup.sh, pgbackrest-backup.sh and restore.sh. The test's own inputs are the data
//! directory's initdb, the rows it writes, and one path-only rewrite (the repository folder
//! points into the temp dir instead of /var/lib/pgbackrest); pgBackRest finds its configuration
//! through `PGBACKREST_CONFIG` and restore.sh its data directory through `--datadir=`, as
//! Patroni passes it.
//!
//! Checks: stanza-create, check and the first full backup succeed; rows written before and after
//! a recorded time, with an incremental backup after them; a restore to that time has exactly
//! the rows written before it, and is promoted; a restore to the end of the archived WAL has
//! them all. The backup and restore times are printed for docs/backup.md.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::PG_BIN;

/// A command run as the PostgreSQL user, with pgBackRest's configuration named.
fn as_pg(program: &str, conf: &Path) -> Command {
    let mut c = common::as_pg_user(program);
    c.env("PGBACKREST_CONFIG", conf);
    c.env("PATH", format!("{PG_BIN}:/usr/bin:/bin"));
    c
}

fn prerequisites() -> bool {
    for tool in ["pgbackrest", "setpriv"] {
        if !common::have_tool(tool) {
            return false;
        }
    }
    let ok = Path::new(PG_BIN).join("postgres").exists() && common::is_root();
    if !ok {
        if common::tools_required() {
            panic!("the live backup test needs root and {PG_BIN}/postgres");
        }
        eprintln!("SKIPPED: the live backup test needs root and {PG_BIN}/postgres");
    }
    ok
}

/// The topology: the source cluster `src` and, with `restore`, an env `drill` that restores it
/// into `dst` (to `time`, or to the end of the WAL).
fn topology(src_port: u16, dst_port: u16, restore: Option<Option<&str>>) -> String {
    let mut s = format!(
        r#"targets "hosts"
cluster "src" {{
    postgres version=15
    node "s1" role="primary" host="127.0.0.1" port={src_port}
    backup {{
        repository "posix" path="/var/lib/pgbackrest"
        schedule full="0 1 * * 0" incremental="0 1 * * 1-6"
        retention full=2
    }}
}}
"#
    );
    if let Some(time) = restore {
        let t = time.map_or_else(String::new, |t| format!(" time=\"{t}\""));
        s.push_str(&format!(
            r#"env "drill" {{
    cluster "dst" {{
        postgres version=15
        restore from="src"{t}
        node "d1" role="primary" host="127.0.0.1" port={dst_port}
    }}
}}
"#
        ));
    }
    s
}

/// Builds `kdl` (lint-clean) with the pgtopo binary; returns the hosts folder of `env`.
fn build(dir: &Path, name: &str, kdl: &str, env: &str) -> PathBuf {
    common::build_topology(dir, name, kdl)
        .join("hosts")
        .join(env)
}

/// The emitted pgbackrest.conf of a node, with the repository and the data directory moved into
/// the test's folder (Debian's /var/lib/postgresql/15/main may hold another cluster).
fn pgbackrest_conf(node_dir: &Path, repo: &Path, data: &Path, dest: &Path) -> PathBuf {
    let text = std::fs::read_to_string(node_dir.join("pgbackrest.conf")).unwrap();
    assert!(text.contains("repo1-path=/var/lib/pgbackrest\n"), "{text}");
    assert!(
        text.contains("pg1-path=/var/lib/postgresql/15/main\n"),
        "{text}"
    );
    let text = text
        .replace(
            "repo1-path=/var/lib/pgbackrest\n",
            &format!("repo1-path={}\n", repo.display()),
        )
        .replace(
            "pg1-path=/var/lib/postgresql/15/main\n",
            &format!("pg1-path={}\n", data.display()),
        );
    std::fs::write(dest, text).unwrap();
    dest.to_owned()
}

struct Server {
    child: Child,
    data: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = common::as_pg_user(&format!("{PG_BIN}/pg_ctl"))
            .args(["stop", "-m", "immediate", "-D"])
            .arg(&self.data)
            .output();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts PostgreSQL on `data` with a node's emitted postgresql.conf and pg_hba.conf.
fn start(node_dir: &Path, data: &Path, conf: &Path, log: &Path) -> Server {
    let log = std::fs::File::create(log).unwrap();
    let child = as_pg(&format!("{PG_BIN}/postgres"), conf)
        .arg("-D")
        .arg(data)
        .arg("-c")
        .arg(format!(
            "config_file={}",
            node_dir.join("postgresql.conf").display()
        ))
        .arg("-c")
        .arg(format!(
            "hba_file={}",
            node_dir.join("pg_hba.conf").display()
        ))
        .arg("-c")
        .arg(format!(
            "unix_socket_directories={}",
            data.parent().unwrap().display()
        ))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("postgres starts");
    Server {
        child,
        data: data.to_owned(),
    }
}

/// One SQL text through the local socket as postgres; its unaligned output.
fn sql(sock: &Path, port: u16, conf: &Path, q: &str) -> Result<String, String> {
    let out = as_pg(&format!("{PG_BIN}/psql"), conf)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
        .arg(sock)
        .args(["-p", &port.to_string(), "-d", "postgres", "-c", q])
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn wait_for(secs: u64, what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out after {secs} s waiting for {what}");
}

/// Runs an emitted script as postgres (with the socket folder as PGHOST for its psql).
fn script(path: &Path, args: &[&str], conf: &Path, sock: &Path) -> String {
    let (ok, out) = common::run(
        as_pg("/bin/sh", conf)
            .arg(path)
            .args(args)
            .env("PGHOST", sock)
            // Where this test's server has its socket (Debian's is /var/run/postgresql).
            .env("PGBACKREST_PG1_SOCKET_PATH", sock),
    );
    assert!(ok, "{} {args:?} failed:\n{out}", path.display());
    out
}

#[test]
fn emitted_backup_files_back_up_and_restore_to_a_point_in_time() {
    if !prerequisites() {
        return;
    }
    let dir = common::temp_dir("live-backup");
    let repo = dir.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let (src_port, dst_port) = (common::free_port(), common::free_port());

    // The source: initdb, then the emitted configuration.
    let src_dir = build(&dir, "src", &topology(src_port, dst_port, None), "base").join("s1");
    let src_data = dir.join("src-run/data");
    std::fs::create_dir_all(&src_data).unwrap();
    let src_conf = pgbackrest_conf(&src_dir, &repo, &src_data, &dir.join("src-pgbackrest.conf"));
    common::open_up(&dir);
    let (ok, out) = common::run(
        Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&dir),
    );
    assert!(ok, "{out}");
    let (ok, out) = common::run(
        as_pg(&format!("{PG_BIN}/initdb"), &src_conf)
            .args(["-D"])
            .arg(&src_data)
            .args(["-A", "peer", "--data-checksums"]),
    );
    assert!(ok, "initdb: {out}");
    let sock = dir.join("src-run");
    let _src = start(&src_dir, &src_data, &src_conf, &dir.join("src.log"));
    wait_for(30, "the source to accept connections", || {
        sql(&sock, src_port, &src_conf, "SELECT 1").is_ok()
    });
    let archive = sql(&sock, src_port, &src_conf, "SHOW archive_command").unwrap();
    assert_eq!(archive, "pgbackrest --stanza=src archive-push %p");

    // The emitted setup: stanza-create, check (archiving reaches the repository), first full.
    let t0 = Instant::now();
    script(&src_dir.join("pgbackrest-setup.sh"), &[], &src_conf, &sock);
    let full_secs = t0.elapsed().as_secs_f64();

    // Rows before and after a recorded time, then an incremental backup.
    sql(&sock, src_port, &src_conf, "CREATE TABLE t (id int PRIMARY KEY, at timestamptz DEFAULT now()); INSERT INTO t SELECT g FROM generate_series(1, 100) g").unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let target = sql(
        &sock,
        src_port,
        &src_conf,
        "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    sql(
        &sock,
        src_port,
        &src_conf,
        "INSERT INTO t SELECT g FROM generate_series(101, 150) g",
    )
    .unwrap();
    let t0 = Instant::now();
    let out = script(
        &src_dir.join("pgbackrest-backup.sh"),
        &["incr"],
        &src_conf,
        &sock,
    );
    let incr_secs = t0.elapsed().as_secs_f64();
    assert!(!out.contains("not the primary"), "{out}");
    // The last rows' WAL reaches the repository (the incremental backup archived up to its end;
    // this switches once more so that the end-of-WAL restore sees a closed segment).
    sql(&sock, src_port, &src_conf, "SELECT pg_switch_wal()").unwrap();
    let (ok, info) = common::run(as_pg("pgbackrest", &src_conf).args(["--stanza=src", "info"]));
    assert!(
        ok && info.contains("full backup") && info.contains("incr backup"),
        "{info}"
    );

    // Restore to the recorded time: exactly the first 100 rows, then promoted.
    let mut restore_secs = Vec::new();
    for (label, time, want) in [("pitr", Some(target.as_str()), 100), ("end", None, 150)] {
        let kdl = topology(src_port, dst_port, Some(time));
        let node = build(&dir, &format!("dst-{label}"), &kdl, "drill").join("d1");
        let restore = std::fs::read_to_string(node.join("restore.sh")).unwrap();
        if let Some(t) = time {
            assert!(
                restore.contains(&pgtopo::plan::backup::target_time(t)),
                "{restore}"
            );
        }
        let run = dir.join(format!("dst-{label}-run"));
        let data = run.join("data");
        std::fs::create_dir_all(&run).unwrap();
        let conf = pgbackrest_conf(
            &node,
            &repo,
            &data,
            &dir.join(format!("dst-{label}-pgbackrest.conf")),
        );
        let (ok, out) = common::run(
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&dir),
        );
        assert!(ok, "{out}");
        let t0 = Instant::now();
        script(
            &node.join("restore.sh"),
            &[&format!("--datadir={}", data.display())],
            &conf,
            &run,
        );
        let _dst = start(&node, &data, &conf, &dir.join(format!("dst-{label}.log")));
        wait_for(60, "the restored cluster to finish recovery", || {
            sql(&run, dst_port, &conf, "SELECT pg_is_in_recovery()").is_ok_and(|r| r == "f")
        });
        restore_secs.push(t0.elapsed().as_secs_f64());
        let n = sql(&run, dst_port, &conf, "SELECT count(*) FROM t").unwrap();
        assert_eq!(
            n,
            want.to_string(),
            "{label}: the restore to {time:?} has {n} rows, not {want}"
        );
        let max = sql(&run, dst_port, &conf, "SELECT max(id) FROM t").unwrap();
        assert_eq!(
            max,
            want.to_string(),
            "{label}: rows after the target are present"
        );
    }
    println!(
        "live backup figures: setup with first full backup {full_secs:.1} s, incremental {incr_secs:.1} s, restore to a time {:.1} s, restore to the end of WAL {:.1} s",
        restore_secs[0], restore_secs[1]
    );
}
