//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pgtopo::driver::compile;
use pgtopo::emit::Program;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `shared/reference/…` beside the repository: the upstream schemas and chart values the tests
/// check against. `$PGTOPO_REFERENCE_DIR` overrides it; a git worktree one level deeper (under
/// `wt/`) finds it two levels up.
pub fn reference(rel: &str) -> PathBuf {
    if let Some(dir) = std::env::var_os("PGTOPO_REFERENCE_DIR") {
        return PathBuf::from(dir).join(rel);
    }
    let beside = repo().join("../shared/reference").join(rel);
    if beside.exists() {
        return beside;
    }
    repo().join("../../shared/reference").join(rel)
}

/// Every topology in `topologies/`, sorted by name: (name, path).
pub fn topologies() -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(repo().join("topologies"))
        .expect("topologies/ exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    v.sort();
    v
}

/// Compiles a topology file; panics with the rendered diagnostics when it has errors.
pub fn program(path: &Path) -> Program {
    let src = std::fs::read_to_string(path).expect("topology is readable");
    let mut c = compile(&src);
    let name = path.file_stem().unwrap().to_string_lossy().into_owned();
    match c.program(&name) {
        Some(p) => p,
        None => panic!(
            "{} does not compile:\n{}",
            path.display(),
            pgtopo::diag::render_human(
                &c.diagnostics,
                &path.display().to_string(),
                &std::sync::Arc::new(src.clone()),
                false
            )
        ),
    }
}

/// Whether the validators must be present: the README's test command (and so CI) sets
/// `PGTOPO_REQUIRE_TOOLS=1`, which turns a missing tool into a failure instead of a skip.
pub fn tools_required() -> bool {
    std::env::var("PGTOPO_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

/// True when `tool` is on PATH. When it is not: fails under `PGTOPO_REQUIRE_TOOLS=1`, otherwise
/// prints a loud SKIPPED line (never a silent pass).
pub fn have_tool(tool: &str) -> bool {
    let found = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {tool}"))
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if tools_required() {
            panic!("{tool} is not installed; run `bash tests/install-validators.sh` (the README's test command does)");
        }
        eprintln!("SKIPPED: {tool} is not installed; this check did not run (bash tests/install-validators.sh installs it)");
    }
    found
}

/// Runs a command and returns (success, stdout+stderr) for assertion messages.
pub fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// A fresh temporary directory, removed by the caller if it cares. It lives under the system's
/// temp dir, not the target dir: the live tests run PostgreSQL and PgBouncer as `nobody`, who
/// cannot enter a checkout inside a private folder (such as one made by `mktemp -d`).
/// A failed test's folder stays for inspection until a later test process starts, which removes
/// the folders of processes that have ended (see [`remove_ended`]), so they do not pile up.
pub fn temp_dir(tag: &str) -> PathBuf {
    let base = std::env::temp_dir().join("pgtopo-tests");
    static SWEPT: std::sync::Once = std::sync::Once::new();
    SWEPT.call_once(|| remove_ended(&base));
    let dir = base.join(
        format!(
            "{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        )
        .replace(['(', ')'], ""),
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Traversable by every user whatever the umask, so that `open_up` of a test folder is enough.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&base, std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

/// Removes the folders [`temp_dir`] made for test processes that are no longer running: their
/// names are `<tag>-<pid>-<thread>`, and a pid with no `/proc/<pid>` has ended.
fn remove_ended(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let pid = name.rsplit('-').nth(1).and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
}

/// Lets the non-root user that postgres and pgbouncer run as read and write a test directory made
/// by [`temp_dir`].
pub fn open_up(dir: &Path) {
    let (ok, out) = run(Command::new("chmod").arg("-R").arg("a+rwX").arg(dir));
    assert!(ok, "chmod {}: {out}", dir.display());
}

/// `runuser -u nobody --`, ready for a program and its arguments, started in `/`: PostgreSQL's
/// programs refuse root, and they fail when they cannot enter the working directory, which a
/// checkout inside a private folder (`mktemp -d`) does not let `nobody` do.
pub fn runuser_nobody() -> Command {
    let mut c = Command::new("runuser");
    c.args(["-u", "nobody", "--"]).current_dir("/");
    c
}

/// PostgreSQL 15's server and client programs (Debian's packages) for the live tests.
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// Stops every PostgreSQL server a live test started (by data directory, as `nobody`), even when an
/// assertion fails or the test panics.
pub struct Servers(pub Vec<PathBuf>);

impl Servers {
    /// Starts the data directory `dir/node` with `pg_ctl start -w`, server options `opts` and its
    /// log at `dir/<node>.log`, through `run_as` (which runs a command line as a non-root user with
    /// the test's environment), and records it so it is stopped when the test ends.
    pub fn start(
        &mut self,
        run_as: impl Fn(&[&str]) -> (bool, String),
        dir: &Path,
        node: &str,
        opts: &str,
    ) {
        self.0.push(dir.join(node));
        let d = |s: &str| dir.join(s).display().to_string();
        let (ok, out) = run_as(&[
            "pg_ctl",
            "start",
            "-w",
            "-D",
            &d(node),
            "-l",
            &d(&format!("{node}.log")),
            "-o",
            opts,
        ]);
        assert!(ok, "{node} does not start: {out}");
    }
}

impl Drop for Servers {
    fn drop(&mut self) {
        for d in &self.0 {
            let _ = runuser_nobody()
                .arg(format!("{PG_BIN}/pg_ctl"))
                .args(["stop", "-m", "immediate", "-D"])
                .arg(d)
                .output();
        }
    }
}

/// A TCP port on 127.0.0.1 that nothing listens on right now (the kernel picks it).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True when the tests run as root (network namespaces and the VRRP tests need it).
pub fn is_root() -> bool {
    run(Command::new("id").arg("-u")).1.trim() == "0"
}

/// The VRRP authentication block that a real deployment provisions separately (pgtopo only emits
/// an `include` of it). The password is a test-only value.
pub const KEEPALIVED_TEST_AUTH: &str =
    "authentication {\n    auth_type PASS\n    auth_pass testonly\n}\n";

/// A copy of an emitted keepalived.conf whose `include /etc/keepalived/<cluster>.auth.conf` line
/// names `auth` instead. That path is the only change: the tests must not write into /etc.
pub fn keepalived_with_auth(conf: &str, auth: &Path, label: &str) -> String {
    let mut copy = String::new();
    for line in conf.lines() {
        let t = line.trim_start();
        if let Some(path) = t.strip_prefix("include ") {
            assert!(
                path.starts_with("/etc/keepalived/") && path.ends_with(".auth.conf"),
                "{label}: unexpected include {path}"
            );
            let indent = &line[..line.len() - t.len()];
            copy.push_str(&format!("{indent}include {}\n", auth.display()));
            continue;
        }
        copy.push_str(line);
        copy.push('\n');
    }
    copy
}

/// The OS user PostgreSQL, Patroni and PgBouncer run as in the live tests (they refuse root).
pub const PG_USER: &str = "postgres";

/// `setpriv`'s arguments that run the rest of its command line as [`PG_USER`], with its groups.
pub const SETPRIV_PG: [&str; 6] = [
    "--reuid",
    PG_USER,
    "--regid",
    PG_USER,
    "--init-groups",
    "--",
];

/// A command run as [`PG_USER`] with a clean environment: `setpriv` execs the program (unlike
/// `runuser`, which forks), so the PID a test holds is the program's own and can be signalled.
/// It starts in `/`: the checkout may sit in a folder the PostgreSQL user cannot enter.
pub fn as_pg_user(program: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.args(SETPRIV_PG).arg(program);
    c.current_dir("/");
    c
}

/// initdb's arguments for a cluster whose superuser `postgres` has the password in `pwfile` and
/// every login needs scram-sha-256, as the images and pgtopo's bootstrap expect.
pub fn initdb_scram<'a>(pwfile: &'a str, data: &'a str) -> [&'a str; 9] {
    [
        "initdb",
        "-U",
        "postgres",
        "--pwfile",
        pwfile,
        "-A",
        "scram-sha-256",
        "-D",
        data,
    ]
}

/// The last `lines` lines of a log file (empty when it is missing), for a failure message.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

/// Stops the process groups the live tests started (each child leads its own), Patroni first so
/// that nothing restarts a PostgreSQL killed after it, and reaps them.
pub fn kill_groups(children: &mut [(String, std::process::Child)]) {
    children.sort_by_key(|(n, _)| !n.starts_with("patroni"));
    for (_, c) in children.iter_mut() {
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", c.id())])
            .status();
        let _ = c.wait();
    }
}

/// Whether a live test can run: true when nothing is `missing`. Otherwise the test is skipped
/// with a line that names what is missing, or fails when the tools are required (CI).
pub fn ready(test: &str, missing: &[String]) -> bool {
    if missing.is_empty() {
        return true;
    }
    if tools_required() {
        panic!("{test} needs: {}", missing.join(", "));
    }
    eprintln!(
        "SKIPPED: {test} did not run; missing: {}",
        missing.join(", ")
    );
    false
}

/// Writes `kdl` to `<dir>/<name>.kdl`, holds it to lint without an error, and builds every
/// target with the pgtopo binary into `<dir>/<name>-out`; returns the project's folder there
/// (`<dir>/<name>-out/<name>`).
pub fn build_topology(dir: &Path, name: &str, kdl: &str) -> PathBuf {
    let file = dir.join(format!("{name}.kdl"));
    std::fs::write(&file, kdl).unwrap();
    let bin = env!("CARGO_BIN_EXE_pgtopo");
    let (ok, lint) = run(Command::new(bin).arg("lint").arg(&file));
    assert!(
        ok && !lint.contains('×'),
        "the test's topology {name} must have no error:\n{lint}"
    );
    let out = dir.join(format!("{name}-out"));
    let (ok, text) = run(Command::new(bin)
        .arg("-f")
        .arg(&file)
        .arg("build")
        .arg("--out")
        .arg(&out));
    assert!(ok, "pgtopo build of {name} failed:\n{text}");
    out.join(name)
}

/// Every file below `root` (which must exist), hidden folders included, as `/`-separated
/// relative path → bytes.
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot read {}: {e}", d.display()));
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// Every file below `root` that is text, as (path, contents), for tests that read a whole tree.
pub fn text_files(root: &Path) -> Vec<(PathBuf, String)> {
    tree(root)
        .into_iter()
        .filter_map(|(rel, bytes)| Some((root.join(rel), String::from_utf8(bytes).ok()?)))
        .collect()
}

/// Hands a folder (recursively) to [`PG_USER`].
pub fn chown_pg(path: &Path) {
    let (ok, out) = run(Command::new("chown")
        .arg("-R")
        .arg(format!("{PG_USER}:{PG_USER}"))
        .arg(path));
    assert!(ok, "chown {}: {out}", path.display());
}

/// An emitted file with the line starting with `key` given `value` instead: the live tests'
/// path-only rewrites (data directories, pgpass and auth files into the temp dir).
pub fn set_path(text: &str, key: &str, value: &str) -> String {
    let mut hit = false;
    let out: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(key) {
                hit = true;
                format!("{key}{value}")
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert!(hit, "the emitted file has no `{key}` line");
    out.join("\n") + "\n"
}

/// Polls `f` until it gives a value, failing with `what` after `secs` seconds.
pub fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {secs} s: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}
