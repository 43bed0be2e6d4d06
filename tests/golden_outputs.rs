//! The golden tree of emitted files is the committed `out/`: for every topology in `topologies/`,
//! `pgtopo build --out` must write exactly `out/<topology>/`, byte for byte — every file of every
//! target, base and every env, and the `.pgtopo/manifest` and `.pgtopo/topology.kdl` that `diff`
//! reads. A file that differs fails with its unified diff; a file in `out/` that is no longer
//! emitted, or an emitted file that `out/` lacks, fails too. (golden/ keeps only the snapshots of
//! what is not a build: lint diagnostics, diff, explain and graph.)
//!
//! To update `out/` after a reviewed change, either
//! `PGTOPO_UPDATE_OUT=1 cargo test --test golden_outputs` (which also removes what no build
//! writes any more) or the README's
//! `for f in topologies/*.kdl; do cargo run -q -- -f "$f" build --out out/; done`;
//! then review `git diff out/` like code.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const UPDATE: &str = "PGTOPO_UPDATE_OUT=1 cargo test --test golden_outputs";

/// The longest diff shown for one file: beyond it the message would bury the other files.
const DIFF_LINES: usize = 120;

/// Every file below `root` (none when it does not exist yet), as in [`common::tree`].
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    if !root.exists() {
        return BTreeMap::new();
    }
    common::tree(root)
}

/// `pgtopo -f topologies/<name>.kdl build --out DIR`, run from the repository; panics with its
/// report when it fails.
fn build_out(name: &str, dir: &Path) {
    let (ok, report) = common::run(
        Command::new(env!("CARGO_BIN_EXE_pgtopo"))
            .current_dir(common::repo())
            .env_remove("PGTOPO_FILE")
            .env("NO_COLOR", "1")
            .args(["-f", &format!("topologies/{name}.kdl"), "build", "--out"])
            .arg(dir),
    );
    assert!(ok, "{name}: `build --out` failed:\n{report}");
}

/// The unified diff of the committed file against the built one, cut at [`DIFF_LINES`] lines.
fn unified(path: &str, committed: &[u8], built: &[u8]) -> String {
    let (old, new) = (
        String::from_utf8_lossy(committed),
        String::from_utf8_lossy(built),
    );
    let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("a/{path} (committed)"),
            &format!("b/{path} (built)"),
        )
        .to_string();
    let lines: Vec<&str> = diff.lines().collect();
    if lines.len() <= DIFF_LINES {
        return diff;
    }
    format!(
        "{}\n… {} more line(s) of this diff\n",
        lines[..DIFF_LINES].join("\n"),
        lines.len() - DIFF_LINES
    )
}

/// What differs between the committed tree `out/<name>/` and a fresh build of it: one entry per
/// file, readable on its own.
fn differences(name: &str, committed: &Path, built: &Path) -> Vec<String> {
    let (old, new) = (tree(committed), tree(built));
    let mut found = Vec::new();
    for (rel, bytes) in &new {
        let path = format!("out/{name}/{rel}");
        match old.get(rel) {
            None => found.push(format!("{path}: emitted, but missing from out/\n")),
            Some(o) if o != bytes => found.push(unified(&path, o, bytes)),
            Some(_) => {}
        }
    }
    for rel in old.keys().filter(|rel| !new.contains_key(*rel)) {
        found.push(format!(
            "out/{name}/{rel}: stale, in out/ but no longer emitted (delete it)\n"
        ));
    }
    found
}

#[test]
fn committed_out_is_what_build_out_writes() {
    let update = std::env::var("PGTOPO_UPDATE_OUT").is_ok_and(|v| v == "1");
    let out = common::repo().join("out");
    let scratch = common::temp_dir("golden-out");
    let topologies = common::topologies();
    assert!(!topologies.is_empty(), "topologies/ holds no topology");
    let mut problems = Vec::new();
    let mut files = 0;
    for (name, _) in &topologies {
        build_out(name, &scratch);
        let built = scratch.join(name);
        files += tree(&built).len();
        let found = differences(name, &out.join(name), &built);
        if found.is_empty() {
            continue;
        }
        if update {
            // A fresh tree, so that files no build writes any more go too: the build itself
            // keeps files it did not write.
            let committed = out.join(name);
            if committed.exists() {
                std::fs::remove_dir_all(&committed).unwrap();
            }
            build_out(name, &out);
            eprintln!("updated out/{name}/ ({} file(s) changed)", found.len());
        } else {
            problems.extend(found);
        }
    }
    // A folder of out/ whose topology is gone.
    let known: Vec<&str> = topologies.iter().map(|(n, _)| n.as_str()).collect();
    let mut orphans: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !known.contains(&p.file_name().unwrap().to_string_lossy().as_ref()))
        .collect();
    orphans.sort();
    for p in orphans {
        let shown = p
            .strip_prefix(common::repo())
            .unwrap()
            .display()
            .to_string();
        if update {
            if p.is_dir() {
                std::fs::remove_dir_all(&p).unwrap();
            } else {
                std::fs::remove_file(&p).unwrap();
            }
            eprintln!("removed {shown}: no topology in topologies/ builds it");
        } else {
            problems.push(format!(
                "{shown}: stale, no topology in topologies/ builds it (delete it)\n"
            ));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(files > 0, "no file was emitted at all");
    assert!(
        problems.is_empty(),
        "the committed out/ is not what `pgtopo build --out` writes ({} problem(s)):\n\n{}\n\
         If the change is intended, regenerate out/ with\n    {UPDATE}\n\
         (or: for f in topologies/*.kdl; do cargo run -q -- -f \"$f\" build --out out/; done)\n\
         and review `git diff out/` like code.",
        problems.len(),
        problems.join("\n")
    );
}
