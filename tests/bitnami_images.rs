//! The bitnami images under pgtopo's pg_hba.conf, on real PostgreSQL 15 (Debian's), run as the
//! images run it: bitnami/postgresql-repmgr (Compose, Kubernetes) and the bitnami charts (Helm)
//! start PostgreSQL as uid 1001, which has no passwd entry, and their entrypoint names that uid
//! `postgres` through nss_wrapper (`LD_PRELOAD` of libnss_wrapper with a one-line passwd file).
//! pgtopo mounts its own pg_hba.conf into each image, which the image copies into place instead
//! of writing its own (password logins from every address). Each file pgtopo emits for them:
//! - loads without an error and names no every-address row (`0.0.0.0/0`, `::/0`, `all`);
//! - lets the older images' first-boot steps in: they log in as `postgres` over the Unix socket
//!   with no password, before the superuser has one (`peer`, which nss_wrapper satisfies);
//!   without pgtopo's `peer` row the same login is refused, so the check can fail;
//! - lets the superuser in over loopback with its password (pgtopo's init scripts, the newer
//!   images' steps) and never without one.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;

/// Where Debian's libnss-wrapper installs the library (one folder per architecture).
fn nss_wrapper() -> Option<PathBuf> {
    let dirs = std::fs::read_dir("/usr/lib").ok()?;
    dirs.flatten()
        .map(|d| d.path().join("libnss_wrapper.so"))
        .find(|p| p.exists())
}

/// A uid and gid no passwd or group entry names, as the images' uid 1001 is in the images.
fn unnamed_ids() -> (u32, u32) {
    let read = |f: &str| std::fs::read_to_string(f).unwrap_or_default();
    let taken = |text: &str| -> Vec<u32> {
        text.lines()
            .filter_map(|l| l.split(':').nth(2)?.parse().ok())
            .collect()
    };
    let (users, groups) = (taken(&read("/etc/passwd")), taken(&read("/etc/group")));
    let id = (1001..60000)
        .find(|i| !users.contains(i) && !groups.contains(i))
        .expect("a free id");
    (id, id)
}

/// Runs command lines as the image does: as an unnamed uid, with nss_wrapper naming it
/// `postgres`, PostgreSQL 15's programs on PATH and the given environment.
struct Image {
    uid: u32,
    gid: u32,
    lib: PathBuf,
    dir: PathBuf,
}

impl Image {
    fn run(&self, env: &[(&str, &str)], args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            &format!("--reuid={}", self.uid),
            &format!("--regid={}", self.gid),
            "--clear-groups",
            "--",
            "env",
            "-i",
        ]);
        cmd.arg(format!("PATH={}:/usr/bin:/bin", common::PG_BIN));
        cmd.arg(format!("LD_PRELOAD={}", self.lib.display()));
        cmd.arg(format!(
            "NSS_WRAPPER_PASSWD={}",
            self.dir.join("passwd").display()
        ));
        cmd.arg(format!(
            "NSS_WRAPPER_GROUP={}",
            self.dir.join("group").display()
        ));
        for (k, v) in env {
            cmd.arg(format!("{k}={v}"));
        }
        cmd.args(args).current_dir("/");
        common::run(&mut cmd)
    }
}

/// Stops the server when the test ends, as the uid that started it (only it may signal it).
struct Stop<'a>(&'a Image, String);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        let _ = self
            .0
            .run(&[], &["pg_ctl", "stop", "-m", "immediate", "-D", &self.1]);
    }
}

fn yaml(rel: &str) -> Value {
    let path = common::repo().join(rel);
    serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn text_at(v: &Value, path: &[&str]) -> String {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_str()
        .unwrap_or_else(|| panic!("{} is not written", path.join(".")))
        .to_owned()
}

/// The pg_hba.conf files pgtopo mounts into a bitnami image, from the committed `out/` (which
/// golden_outputs holds to what `build` writes), by where each goes.
fn emitted() -> Vec<(&'static str, String)> {
    let config = yaml("out/bitnami-ha/kubernetes/base/pg-ha-config.yaml");
    let ha = yaml("out/bitnami-ha/helm/pg-ha/values.yaml");
    let standalone = yaml("out/bitnami-ha/helm/pg-standalone/values.yaml");
    vec![
        (
            "compose: bitnami/postgresql-repmgr",
            std::fs::read_to_string(
                common::repo().join("out/repmgr-pgpool/compose/base/poc/pg_hba.conf"),
            )
            .unwrap(),
        ),
        (
            "kubernetes: bitnami/postgresql-repmgr",
            text_at(&config, &["data", "pg_hba.conf"]),
        ),
        (
            "helm: bitnami/postgresql-ha",
            text_at(&ha, &["postgresql", "pgHbaConfiguration"]),
        ),
        (
            "helm: bitnami/postgresql",
            text_at(&standalone, &["primary", "pgHbaConfiguration"]),
        ),
    ]
}

/// The rows of a pg_hba.conf, each split into its fields, comments and blank lines left out.
fn rows(hba: &str) -> Vec<Vec<&str>> {
    hba.lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|f| !f.is_empty())
        .collect()
}

#[test]
fn the_images_own_logins_pass_pgtopos_pg_hba_and_nothing_lets_every_address_in() {
    let pg_ok = Path::new(common::PG_BIN).join("initdb").exists();
    let lib = nss_wrapper();
    let mut missing = Vec::new();
    if !pg_ok {
        missing.push(format!("{} (Debian postgresql-15)", common::PG_BIN));
    }
    if lib.is_none() {
        missing.push("libnss_wrapper.so (Debian libnss-wrapper)".to_owned());
    }
    if !common::have_tool("setpriv") || !common::is_root() {
        missing.push("setpriv as root".to_owned());
    }
    if !common::ready("bitnami_images", &missing) {
        return;
    }
    let (uid, gid) = unnamed_ids();
    let dir = common::temp_dir("bitnami-images");
    let image = Image {
        uid,
        gid,
        lib: lib.unwrap(),
        dir: dir.clone(),
    };
    // What the images' entrypoint writes (postgresql_enable_nss_wrapper).
    std::fs::write(
        dir.join("passwd"),
        format!(
            "postgres:x:{uid}:{gid}:PostgreSQL:{}:/bin/false\n",
            dir.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("group"), format!("postgres:x:{gid}:\n")).unwrap();
    let (ok, out) = common::run(
        Command::new("chown")
            .arg("-R")
            .arg(format!("{uid}:{gid}"))
            .arg(&dir),
    );
    assert!(ok, "chown: {out}");
    let d = |s: &str| dir.join(s).display().to_string();

    // The images' initdb: the superuser `postgres` with no password.
    let (ok, out) = image.run(
        &[],
        &["initdb", "-E", "UTF8", "-U", "postgres", "-D", &d("data")],
    );
    assert!(ok, "initdb: {out}");
    let port = common::free_port().to_string();
    let hba = d("pg_hba.conf");
    std::fs::write(&hba, "local all all scram-sha-256\n").unwrap();
    let opts = format!(
        "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c hba_file={hba}",
        dir.display()
    );
    let (ok, out) = image.run(
        &[],
        &[
            "pg_ctl",
            "start",
            "-w",
            "-D",
            &d("data"),
            "-l",
            &d("pg.log"),
            "-o",
            &opts,
        ],
    );
    assert!(ok, "the server does not start: {out}");
    let _stop = Stop(&image, d("data"));

    let socket = dir.display().to_string();
    let psql = |host: &str, password: &str, sql: &str| {
        image.run(
            &[("PGPASSWORD", password)],
            &[
                "psql", "-XAtq", "-h", host, "-p", &port, "-U", "postgres", "-d", "postgres", "-c",
                sql,
            ],
        )
    };
    let reload = |text: &str| {
        std::fs::write(&hba, text).unwrap();
        let (ok, out) = image.run(&[], &["pg_ctl", "reload", "-D", &d("data")]);
        assert!(ok, "reload: {out}");
        // The postmaster rereads the file on SIGHUP; new connections see it once it has.
        std::thread::sleep(std::time::Duration::from_millis(500));
    };

    for (name, text) in emitted() {
        for f in rows(&text) {
            let address = if f[0] == "local" { None } else { f.get(3) };
            assert!(
                !matches!(address, Some(&"0.0.0.0/0" | &"::/0" | &"all")),
                "{name}: a row lets every address in: {}",
                f.join(" ")
            );
            assert!(!f.contains(&"trust"), "{name}: {}", f.join(" "));
        }
        reload(&text);

        // An older image's first boot: the superuser has no password yet.
        let (ok, out) = psql(&socket, "", "ALTER ROLE postgres PASSWORD NULL");
        assert!(
            ok,
            "{name}: the image's password-less first-boot login is refused: {out}"
        );
        let (ok, out) = psql(
            &socket,
            "",
            "select count(*) from pg_hba_file_rules where error is not null",
        );
        assert!(
            ok && out.trim() == "0",
            "{name}: pg_hba.conf has errors: {out}"
        );
        let (ok, out) = psql(&socket, "", "ALTER ROLE postgres PASSWORD 'su-test'");
        assert!(ok, "{name}: {out}");
        // pgtopo's init scripts and the newer images' steps: loopback, with the password.
        let (ok, out) = psql("127.0.0.1", "su-test", "select current_user");
        assert!(
            ok && out.trim() == "postgres",
            "{name}: loopback with the password: {out}"
        );
        let (ok, out) = psql("127.0.0.1", "", "select 1");
        assert!(
            !ok,
            "{name}: the superuser logs in over TCP without a password: {out}"
        );

        // Without pgtopo's `peer` row, the same first-boot login is refused: the row is what
        // lets it in.
        let without: String = text
            .lines()
            .filter(|l| {
                rows(l)
                    .first()
                    .is_none_or(|f| !(f[0] == "local" && f.last() == Some(&"peer")))
            })
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(without, text, "{name}: no local peer row");
        reload(&without);
        let (ok, _) = psql(&socket, "", "select 1");
        assert!(
            !ok,
            "{name}: a password-less login passes without the peer row"
        );
    }
}
