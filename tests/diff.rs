//! `pgtopo diff` and `build --out`: semantic summaries with risk notes, text diffs, exit codes and
//! owned atomic writes. (That the committed `out/` is fresh is tests/golden_outputs.rs.)

mod common;

use std::path::Path;
use std::process::Command;

fn pgtopo(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pgtopo"));
    c.current_dir(dir)
        .env_remove("PGTOPO_FILE")
        .env("NO_COLOR", "1");
    c
}

fn run(c: &mut Command) -> (i32, String, String) {
    let o = c.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// Builds `topology` (an example, edited by `edit`) into a scratch `out/`, applies `edit`, and
/// returns `pgtopo diff ENV` (exit code, stdout).
fn diff_after_edit(
    case: &str,
    topology: &str,
    env: &str,
    edit: &[(&str, &str)],
    extra: &[&str],
) -> (i32, String) {
    let dir = common::temp_dir(&format!("diff-{case}"));
    let before = std::fs::read_to_string(
        common::repo()
            .join("topologies")
            .join(format!("{topology}.kdl")),
    )
    .unwrap();
    let file = dir.join(format!("{topology}.kdl"));
    std::fs::write(&file, &before).unwrap();
    let (code, _, err) =
        run(pgtopo(&dir).args(["-f", &format!("{topology}.kdl"), "build", "--out", "out"]));
    assert_eq!(code, 0, "{err}");
    let mut after = before.clone();
    for (from, to) in edit {
        assert!(
            after.contains(from),
            "{case}: `{from}` not found in {topology}.kdl"
        );
        after = after.replacen(from, to, 1);
    }
    std::fs::write(&file, &after).unwrap();
    let (code, out, err) = run(pgtopo(&dir)
        .args(["-f", &format!("{topology}.kdl"), "diff", env])
        .args(extra));
    assert!(!err.contains("panicked"), "{err}");
    (code, out)
}

fn snapshot(name: &str, text: &str) {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path(common::repo().join("golden/diff"));
    s.set_prepend_module_to_snapshot(false);
    s.set_omit_expression(true);
    s.bind(|| insta::assert_snapshot!(name.to_owned(), text));
}

#[test]
fn growing_prod_storage_shows_the_immutability_risk_and_exits_one() {
    let (code, out) = diff_after_edit(
        "storage",
        "mirror-db",
        "prod",
        &[("storage size=\"200Gi\"", "storage size=\"300Gi\"")],
        &[],
    );
    assert_eq!(code, 1);
    assert!(out.contains("storage grows: 200Gi → 300Gi"), "{out}");
    assert!(out.contains("volumeClaimTemplates are immutable"), "{out}");
    assert!(
        out.contains("+++ b/") && out.contains("300Gi"),
        "the text diff of the affected files is shown:\n{out}"
    );
    assert!(
        !out.contains("overlays/dev/"),
        "files of other envs are left out:\n{out}"
    );
    snapshot("mirror-db__prod__storage_grows", &out);
}

#[test]
fn unchanged_topology_exits_zero() {
    let (code, out) = diff_after_edit("unchanged", "mirror-db", "prod", &[], &[]);
    assert_eq!(code, 0, "{out}");
    snapshot("mirror-db__prod__unchanged", &out);
}

#[test]
fn sync_and_restart_changes_carry_their_risks() {
    let (code, out) = diff_after_edit(
        "sync",
        "mirror-db",
        "prod",
        &[
            (
                "node \"postgres-2\" role=\"async\"",
                "node \"postgres-2\" role=\"sync\"",
            ),
            ("max_connections 100", "max_connections 200"),
        ],
        &["--stat"],
    );
    assert_eq!(code, 1);
    assert!(out.contains("node postgres-2: async → sync"), "{out}");
    assert!(
        out.contains("ANY 1 (\"postgres-1\", \"postgres-2\")"),
        "{out}"
    );
    assert!(
        out.contains("parameter max_connections: 100 → 200")
            && out.contains("needs a PostgreSQL restart"),
        "{out}"
    );
    assert!(
        out.contains("file(s) changed"),
        "--stat prints a summary:\n{out}"
    );
    snapshot("mirror-db__prod__sync_and_restart", &out);
}

#[test]
fn shrinking_storage_and_renaming_the_primary_are_called_out() {
    let (code, out) = diff_after_edit(
        "shrink",
        "mirror-db",
        "dev",
        &[("storage size=\"10Gi\"", "storage size=\"5Gi\"")],
        &["--exit-zero"],
    );
    assert_eq!(code, 0, "--exit-zero");
    assert!(
        out.contains("storage shrinks: 10Gi → 5Gi") && out.contains("cannot shrink"),
        "{out}"
    );
    snapshot("mirror-db__dev__storage_shrinks", &out);
}

/// `diff ENV` renders only the base and ENV: for every env of every topology (and of both synthetic
/// flavors, which use every target) that must give exactly the files the full build wrote.
#[test]
fn diff_of_one_env_renders_what_the_full_build_wrote() {
    let dir = common::temp_dir("diff-one-env");
    let mut cases: Vec<(String, String)> = common::topologies()
        .into_iter()
        .map(|(name, path)| (name, std::fs::read_to_string(path).unwrap()))
        .collect();
    for flavor in [
        pgtopo::synth::Flavor::Containers,
        pgtopo::synth::Flavor::Vms,
    ] {
        cases.push((
            format!("synth-{flavor:?}").to_lowercase(),
            pgtopo::synth::topology(flavor, 2, 3, 6),
        ));
    }
    for (name, source) in cases {
        let file = format!("{name}.kdl");
        std::fs::write(dir.join(&file), &source).unwrap();
        let (code, _, err) = run(pgtopo(&dir).args(["-f", &file, "build", "--out", "out"]));
        assert_eq!(code, 0, "{name}: {err}");
        let envs = pgtopo::driver::compile(&source).env_names;
        assert!(!envs.is_empty() || !name.starts_with("synth"), "{name}");
        for env in envs {
            let (code, out, err) = run(pgtopo(&dir).args(["-f", &file, "diff", &env, "--stat"]));
            assert_eq!(
                code, 0,
                "{name} env {env}: the one-env build differs\n{out}{err}"
            );
            assert!(err.contains("0 file(s) differ"), "{name} env {env}: {err}");
        }
    }
}

#[test]
fn build_out_keeps_foreign_files_and_prunes_its_own() {
    let dir = common::temp_dir("diff-owned");
    std::fs::copy(
        common::repo().join("topologies/mirror-db.kdl"),
        dir.join("mirror-db.kdl"),
    )
    .unwrap();
    let (code, _, err) = run(pgtopo(&dir).args(["-f", "mirror-db.kdl", "build", "--out", "out"]));
    assert_eq!(code, 0, "{err}");
    let tree = dir.join("out/mirror-db");
    let manifest = std::fs::read_to_string(tree.join(".pgtopo/manifest")).unwrap();
    let owned: Vec<&str> = manifest.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!owned.is_empty());
    // A file of the user's inside the tree survives rebuilds.
    std::fs::write(tree.join("NOTES.md"), "mine\n").unwrap();
    // A file pgtopo wrote but no longer produces is pruned: fake one in the manifest.
    std::fs::write(tree.join("stale.yaml"), "old\n").unwrap();
    std::fs::write(
        tree.join(".pgtopo/manifest"),
        format!("{manifest}stale.yaml\n"),
    )
    .unwrap();
    let (code, _, err) = run(pgtopo(&dir).args(["-f", "mirror-db.kdl", "build", "--out", "out"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        std::fs::read_to_string(tree.join("NOTES.md")).unwrap(),
        "mine\n"
    );
    assert!(
        !tree.join("stale.yaml").exists(),
        "owned files no longer produced are pruned"
    );
    // A user's file where pgtopo wants to write is refused, and the previous tree stays intact.
    let victim = owned[0];
    let before = std::fs::read_to_string(tree.join(victim)).unwrap();
    let m = std::fs::read_to_string(tree.join(".pgtopo/manifest")).unwrap();
    std::fs::write(
        tree.join(".pgtopo/manifest"),
        m.replace(&format!("{victim}\n"), ""),
    )
    .unwrap();
    let (code, _, err) = run(pgtopo(&dir).args(["-f", "mirror-db.kdl", "build", "--out", "out"]));
    assert_eq!(
        code, 2,
        "refuses to overwrite a file it did not write: {err}"
    );
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert_eq!(std::fs::read_to_string(tree.join(victim)).unwrap(), before);
    assert!(
        std::fs::read_dir(dir.join("out")).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with('.')),
        "no temporary folder is left behind"
    );
}

#[test]
fn against_a_git_revision() {
    let dir = common::temp_dir("diff-git");
    let git = |args: &[&str]| {
        let (ok, out) = common::run(Command::new("git").current_dir(&dir).args(args));
        assert!(ok, "git {args:?}: {out}");
    };
    git(&["init", "-q"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "root",
    ]);
    let src = std::fs::read_to_string(common::repo().join("topologies/mirror-db.kdl")).unwrap();
    std::fs::write(dir.join("mirror-db.kdl"), &src).unwrap();
    git(&["add", "mirror-db.kdl"]);
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "-m",
        "topology",
    ]);
    std::fs::write(
        dir.join("mirror-db.kdl"),
        src.replacen("replicas=2", "replicas=3", 1),
    )
    .unwrap();
    let (code, out, err) = run(pgtopo(&dir).args([
        "-f",
        "mirror-db.kdl",
        "diff",
        "prod",
        "--against",
        "git:HEAD",
    ]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("pooler pgbouncer-primary replicas: 2 → 3"),
        "{out}"
    );
    let (code, _, err) = run(pgtopo(&dir).args([
        "-f",
        "mirror-db.kdl",
        "diff",
        "prod",
        "--against",
        "git:nosuchrev",
    ]));
    assert_eq!(code, 2, "{err}");
}

/// The files below `root`, sorted by path.
fn snapshot_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    common::tree(root).into_iter().collect()
}

/// A scratch folder holding mirror-db.kdl and the tree `build --out out` wrote of it: the folder,
/// the topology's text and the tree's files.
fn mirror_db_built(case: &str) -> (std::path::PathBuf, String, Vec<(String, Vec<u8>)>) {
    let dir = common::temp_dir(case);
    let src = std::fs::read_to_string(common::repo().join("topologies/mirror-db.kdl")).unwrap();
    std::fs::write(dir.join("mirror-db.kdl"), &src).unwrap();
    let (code, _, err) = run(pgtopo(&dir).args(["-f", "mirror-db.kdl", "build", "--out", "out"]));
    assert_eq!(code, 0, "{err}");
    let before = snapshot_tree(&dir.join("out"));
    (dir, src, before)
}

#[test]
fn a_failed_or_killed_build_leaves_the_previous_tree_intact() {
    let (dir, src, before) = mirror_db_built("diff-atomic");
    // A changed topology whose write fails half way.
    std::fs::write(
        dir.join("mirror-db.kdl"),
        src.replacen("storage size=\"200Gi\"", "storage size=\"300Gi\"", 1),
    )
    .unwrap();
    let (code, _, err) = run(pgtopo(&dir)
        .args(["-f", "mirror-db.kdl", "build", "--out", "out"])
        .env("PGTOPO_FAULT_AFTER_FILES", "5"));
    assert_eq!(code, 2, "an injected write failure is an IO error: {err}");
    assert!(err.contains("injected fault"), "{err}");
    assert_eq!(
        snapshot_tree(&dir.join("out")),
        before,
        "the previous tree is intact and no temporary folder is left"
    );
    // A build killed while writing leaves the live tree intact; the next build cleans up after it.
    let mut child = pgtopo(&dir)
        .args(["-f", "mirror-db.kdl", "build", "--out", "out"])
        .env("PGTOPO_FAULT_AFTER_FILES", "5")
        .env("PGTOPO_FAULT_HANG", "1")
        .spawn()
        .unwrap();
    let tmp_prefix = ".mirror-db.pgtopo-new-";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !std::fs::read_dir(dir.join("out")).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with(tmp_prefix)
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "the build never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let live: Vec<_> = snapshot_tree(&dir.join("out/mirror-db"));
    let before_live: Vec<_> = before
        .iter()
        .filter_map(|(p, b)| {
            p.strip_prefix("mirror-db/")
                .map(|p| (p.to_owned(), b.clone()))
        })
        .collect();
    assert_eq!(
        live, before_live,
        "a killed build does not touch the live tree"
    );
    let (code, _, err) = run(pgtopo(&dir).args(["-f", "mirror-db.kdl", "build", "--out", "out"]));
    assert_eq!(code, 0, "{err}");
    let names: Vec<String> = std::fs::read_dir(dir.join("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["mirror-db"],
        "the killed build's temporary folder is gone"
    );
}

/// `build --out` checks each env on the thread that renders it. An env that does not compile
/// still stops the build: every env's errors are reported (not only the first env's), the exit
/// code is 1, the previous tree is intact and no folder is left behind, also where the output
/// folder did not exist before.
#[test]
fn an_env_that_does_not_compile_builds_nothing() {
    let (dir, src, before) = mirror_db_built("diff-env-error");
    // One error in each env.
    let broken = src
        .replacen("pdb min-available=1", "pdb min-available=\"x\"", 1)
        .replacen(
            "storage size=\"200Gi\" class=\"fast-ssd\"",
            "storage size=\"200Gi\" class=\"fast-ssd\" bogus=1",
            1,
        );
    assert_ne!(broken, src);
    std::fs::write(dir.join("mirror-db.kdl"), &broken).unwrap();
    for out in ["out", "fresh"] {
        let (code, _, err) = run(pgtopo(&dir).args(["-f", "mirror-db.kdl", "build", "--out", out]));
        assert_eq!(code, 1, "{err}");
        assert!(err.contains("(in env \"dev\")"), "{err}");
        assert!(err.contains("(in env \"prod\")"), "{err}");
        assert!(err.contains("does not compile; nothing was built"), "{err}");
    }
    assert_eq!(
        snapshot_tree(&dir.join("out")),
        before,
        "the previous tree is intact and no temporary folder is left"
    );
    assert!(!dir.join("fresh").exists(), "no output folder is made");
}

/// Secret masking hides exactly the secret values: every case of tests/fixtures/diff/masking.txt
/// (passwords, keys, a URI's password, a connection string's password; and what only looks like
/// one: `password_encryption`, references, key names, comments, a URI's port and database) as a
/// reviewer sees it, held to golden/diff/secret_masking.snap.
#[test]
fn secret_masking_hides_exactly_the_secrets() {
    let cases =
        std::fs::read_to_string(common::repo().join("tests/fixtures/diff/masking.txt")).unwrap();
    let mut text = String::new();
    for line in cases.lines() {
        let masked = pgtopo::diff::text::mask_secrets(line);
        text.push_str(&format!("  {line}\n→ {masked}\n"));
    }
    snapshot("secret_masking", &text);
}

/// pgtopo never emits a secret, so masking changes no line of any file of the committed tree:
/// whatever it hid there would be a line the reviewer cannot see as it is.
#[test]
fn secret_masking_changes_no_line_pgtopo_writes() {
    let mut changed = Vec::new();
    for (p, text) in common::text_files(&common::repo().join("out")) {
        for line in text.lines() {
            let masked = pgtopo::diff::text::mask_secrets(line);
            if masked != line {
                changed.push(format!("{}: {line}\n  → {masked}", p.display()));
            }
        }
    }
    assert!(changed.is_empty(), "{}", changed.join("\n"));
}
