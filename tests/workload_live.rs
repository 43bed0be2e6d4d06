//! The emitted workload scripts against a real PostgreSQL 15 primary and a streaming standby on
//! loopback: load.sql fills the table, verify.sh passes on both nodes; with the standby stopped,
//! verify.sh fails and names it.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use pgtopo::emit::workload;

use common::{free_port, Servers, PG_BIN};

/// Runs a command as `nobody` (PostgreSQL refuses root) with the test's password in the env.
fn as_nobody(env: &[(&str, String)], args: &[&str]) -> (bool, String) {
    let mut cmd = common::runuser_nobody();
    cmd.args([
        "env",
        &format!("PATH={PG_BIN}:/usr/bin:/bin"),
        "PGPASSWORD=su-test",
        "PGUSER=postgres",
        "PGDATABASE=postgres",
    ]);
    for (k, v) in env {
        cmd.arg(format!("{k}={v}"));
    }
    cmd.args(args);
    common::run(&mut cmd)
}

fn start(dir: &Path, node: &str, port: u16, servers: &mut Servers) {
    let opts = format!(
        "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
        dir.display()
    );
    servers.start(|args| as_nobody(&[], args), dir, node, &opts);
}

#[test]
fn emitted_load_and_verify_scripts_run_against_a_primary_and_a_standby() {
    if !common::have_tool("runuser") || !Path::new(PG_BIN).join("pg_basebackup").exists() {
        if common::tools_required() {
            panic!("{PG_BIN} (Debian postgresql-15) is not installed");
        }
        eprintln!("SKIPPED: {PG_BIN} is missing; the live workload check did not run");
        return;
    }
    let mut program = common::program(&common::repo().join("topologies/bitnami-ha.kdl"));
    // A small load keeps the test fast; batches of 300 make the last batch a partial one.
    let w = &mut program.base.workloads[0];
    w.load.as_mut().unwrap().rows.value = 2000;
    w.load.as_mut().unwrap().batch.value = 300;
    let w = w.clone();

    let dir = common::temp_dir("workload-live");
    std::fs::write(dir.join("load.sql"), workload::load_sql(&w)).unwrap();
    std::fs::write(dir.join("verify.sh"), workload::verify_sh(&w)).unwrap();
    std::fs::write(
        dir.join("run.sh"),
        workload::run_sh(&w, &dir.display().to_string()),
    )
    .unwrap();
    std::fs::write(dir.join("pw"), "su-test\n").unwrap();
    common::open_up(&dir);
    std::fs::set_permissions(
        dir.join("verify.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let d = |s: &str| dir.join(s).display().to_string();
    let mut servers = Servers(Vec::new());

    let p1 = free_port();
    let (ok, out) = as_nobody(&[], &common::initdb_scram(&d("pw"), &d("db1")));
    assert!(ok, "initdb: {out}");
    start(&dir, "db1", p1, &mut servers);
    let p2 = free_port();
    let (ok, out) = as_nobody(
        &[],
        &[
            "pg_basebackup",
            "-h",
            "127.0.0.1",
            "-p",
            &p1.to_string(),
            "-D",
            &d("db2"),
            "-R",
            "-X",
            "stream",
        ],
    );
    assert!(ok, "pg_basebackup: {out}");
    start(&dir, "db2", p2, &mut servers);

    let primary = format!("127.0.0.1:{p1}");
    let standby = format!("127.0.0.1:{p2}");
    let verify = |timeout: &str| {
        as_nobody(
            &[
                ("PRIMARY", primary.clone()),
                ("TIMEOUT", timeout.to_owned()),
            ],
            &["sh", &d("verify.sh"), &primary, &standby],
        )
    };
    // run.sh, as the Job and the Compose service run it: load through WRITE, then verify.
    let (ok, out) = as_nobody(
        &[
            ("PRIMARY", primary.clone()),
            ("WRITE", primary.clone()),
            ("TIMEOUT", "30".to_owned()),
        ],
        &["sh", &d("run.sh"), &primary, &standby],
    );
    assert!(ok, "run.sh (load + verify) failed on a healthy pair: {out}");
    assert!(
        out.contains("primary 127.0.0.1") && out.contains(": 2000 rows"),
        "the primary's count is printed: {out}"
    );
    assert!(
        out.contains(&format!("node {standby}: 2000 rows, replay lag")),
        "the standby's count and lag are printed: {out}"
    );

    // A second load is a no-op: the data is a function of the id.
    let (ok, out) = as_nobody(
        &[],
        &[
            "psql",
            "-X",
            "-q",
            "-h",
            "127.0.0.1",
            "-p",
            &p1.to_string(),
            "-f",
            &d("load.sql"),
        ],
    );
    assert!(ok, "second load.sql failed: {out}");
    let (ok, out) = as_nobody(
        &[],
        &[
            "psql",
            "-XAtq",
            "-h",
            "127.0.0.1",
            "-p",
            &p1.to_string(),
            "-c",
            "select count(*), count(distinct email), min(id), max(id) from users",
        ],
    );
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "2000|2000|1|2000");

    // The continuous mode writes through WRITE, reads through READ (the standby) and re-checks
    // every node each INTERVAL; it runs until stopped, here by `timeout` after a few rounds.
    let (_, out) = as_nobody(
        &[
            ("PRIMARY", primary.clone()),
            ("WRITE", primary.clone()),
            ("READ", standby.clone()),
            ("INTERVAL", "1".to_owned()),
            ("TIMEOUT", "10".to_owned()),
        ],
        &[
            "timeout",
            "6",
            "sh",
            &d("verify.sh"),
            "--loop",
            &primary,
            &standby,
        ],
    );
    assert!(
        out.contains(&format!(
            "loop: row 2001 written through {primary}, read through {standby}"
        )),
        "the continuous mode writes and reads back: {out}"
    );
    assert!(
        !out.contains("FAILED") && !out.contains("not readable"),
        "no check failed: {out}"
    );

    // The standby stops: verify must fail and name it.
    let (ok, out) = as_nobody(&[], &["pg_ctl", "stop", "-m", "fast", "-D", &d("db2")]);
    assert!(ok, "stopping the standby: {out}");
    let (ok, out) = verify("2");
    assert!(!ok, "verify.sh passed with the standby down: {out}");
    assert!(
        out.contains(&format!("verify: node {standby} is unreachable")),
        "the message names the stopped standby: {out}"
    );
}
