//! The README's commands, run exactly as printed against the files they name (issue 28). Every
//! line of every ```sh block of README.md is parsed out of the README (so the page cannot drift
//! from what is run), and run with the `pgtopo` binary, from a scratch copy of the repository's
//! topologies and tour file: `cd` changes the folder as the shell would, `cargo run -q --` is the
//! binary, `;` separates commands, and of a pipeline the pgtopo stage runs (what it feeds,
//! `kubectl apply`, needs a cluster). `bash tests/run.sh` is this suite itself and is not run from
//! inside it. The scratch copy is a git repository whose previous commit holds the tour with a
//! smaller prod volume, so that `diff prod --against git:HEAD~1` has a revision to compare with.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(common::repo().join("README.md")).unwrap()
}

/// The fenced code blocks of a Markdown text: (info string, contents).
fn blocks(md: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    for line in md.lines() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => open = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

/// The tour's topology is a real file: the README shows docs/tour/pgtopo.kdl as it is.
#[test]
fn the_tour_shows_docs_tour_pgtopo_kdl() {
    let md = readme();
    let tour = md
        .split("## 30-second tour")
        .nth(1)
        .expect("README.md has a 30-second tour");
    let kdl = blocks(tour)
        .into_iter()
        .find(|(info, _)| info == "kdl")
        .expect("the tour shows a topology")
        .1;
    let file = std::fs::read_to_string(common::repo().join("docs/tour/pgtopo.kdl")).unwrap();
    assert_eq!(kdl, file, "the tour's snippet is docs/tour/pgtopo.kdl");
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=pgtopo tests",
            "-c",
            "user.email=tests@pgtopo.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .expect("git runs");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A scratch copy of what the README's commands read: topologies/ and docs/tour/pgtopo.kdl, in a
/// git repository whose HEAD~1 has the tour with a 100Gi prod volume.
fn scratch() -> PathBuf {
    let root = common::temp_dir("readme");
    let repo = common::repo();
    std::fs::create_dir_all(root.join("topologies")).unwrap();
    for e in std::fs::read_dir(repo.join("topologies")).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, root.join("topologies").join(p.file_name().unwrap())).unwrap();
    }
    let tour_dir = root.join("docs/tour");
    std::fs::create_dir_all(&tour_dir).unwrap();
    let tour = std::fs::read_to_string(repo.join("docs/tour/pgtopo.kdl")).unwrap();
    let before = tour.replacen("size=\"200Gi\"", "size=\"100Gi\"", 1);
    assert_ne!(before, tour, "the tour's prod volume is 200Gi");
    git(&root, &["init", "-q"]);
    std::fs::write(tour_dir.join("pgtopo.kdl"), before).unwrap();
    git(&root, &["add", "."]);
    git(&root, &["commit", "-q", "-m", "a smaller prod volume"]);
    std::fs::write(tour_dir.join("pgtopo.kdl"), &tour).unwrap();
    git(
        &root,
        &["commit", "-q", "-am", "the tour as the README shows it"],
    );
    root
}

/// What one README command did.
struct Ran {
    line: String,
    code: i32,
    stdout: String,
    stderr: String,
}

#[test]
fn every_readme_command_runs_as_printed() {
    let md = readme();
    let root = scratch();
    let mut cwd = root.clone();
    let mut ran: Vec<Ran> = Vec::new();
    let mut skipped = Vec::new();
    for (info, body) in blocks(&md) {
        if info != "sh" {
            continue;
        }
        for line in body.lines() {
            // A comment starts at a `#` after blanks; the commands hold none of their own.
            let command_text = match line.find("  #") {
                Some(i) => &line[..i],
                None => line,
            };
            for command in command_text.split(';') {
                let stage = command.split('|').next().unwrap().trim();
                if stage.is_empty() {
                    continue;
                }
                assert!(
                    !stage.contains(['"', '\'', '$', '`', '*']),
                    "`{stage}`: this test splits commands on blanks only"
                );
                let words: Vec<&str> = stage.split_whitespace().collect();
                let args: &[&str] = match words.as_slice() {
                    ["cd", dir] => {
                        cwd = cwd.join(dir);
                        assert!(cwd.is_dir(), "`{stage}`: no folder {}", cwd.display());
                        continue;
                    }
                    ["bash", "tests/run.sh"] => {
                        skipped.push(stage.to_owned());
                        continue;
                    }
                    ["cargo", "run", "-q", "--", rest @ ..] => rest,
                    ["pgtopo", rest @ ..] => rest,
                    _ => panic!("`{stage}`: not a command this test knows how to run"),
                };
                let o = Command::new(env!("CARGO_BIN_EXE_pgtopo"))
                    .current_dir(&cwd)
                    .env_remove("PGTOPO_FILE")
                    .env("NO_COLOR", "1")
                    .args(args)
                    .output()
                    .unwrap();
                ran.push(Ran {
                    line: stage.to_owned(),
                    code: o.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
                });
            }
        }
    }
    assert_eq!(skipped, ["bash tests/run.sh"]);
    assert!(ran.len() >= 12, "{} commands", ran.len());
    for r in &ran {
        // A diff against an older revision finds the change it was made to show (exit 1);
        // every other command succeeds.
        let want = if r.line.contains("diff") && r.line.contains("--against git:") {
            1
        } else {
            0
        };
        assert_eq!(
            r.code, want,
            "`{}` exited {}:\n{}{}",
            r.line, r.code, r.stdout, r.stderr
        );
        assert!(!r.stderr.contains("panicked"), "`{}`: {}", r.line, r.stderr);
    }
    let find = |prefix: &str| {
        ran.iter()
            .find(|r| r.line.starts_with(prefix))
            .unwrap_or_else(|| panic!("the README runs `{prefix}…`"))
    };
    // What the commands print on stderr is shown and explained on the page: the first command
    // of the set-up and the tour's `build dev` count the warnings they leave out.
    for r in [
        find("cargo run -q -- -f topologies/mirror-db.kdl build dev"),
        find("pgtopo build dev"),
    ] {
        assert!(!r.stdout.is_empty(), "`{}` prints manifests", r.line);
        for l in r.stderr.lines().filter(|l| !l.trim().is_empty()) {
            assert!(
                md.contains(l),
                "`{}` prints a line the README does not show:\n{l}",
                r.line
            );
        }
    }
    // Every finding a command prints (its code heads the diagnostic) is explained by the README,
    // by code.
    let lint = find("pgtopo lint");
    assert!(lint.stdout.contains("warning(s)"), "{}", lint.stdout);
    for r in &ran {
        for code in r
            .stdout
            .lines()
            .chain(r.stderr.lines())
            .filter(|l| l.len() == 5 && l.starts_with("PT"))
        {
            assert!(
                md.contains(code),
                "`{}` reports {code}, which the README does not explain",
                r.line
            );
        }
    }
    let against = find("pgtopo diff prod --against");
    assert!(
        against.stdout.contains("Semantic changes (env prod)")
            && against.stdout.contains("storage"),
        "{}",
        against.stdout
    );
    assert!(root.join("docs/tour/out/mirror-db/kubernetes").is_dir());
    assert!(root.join("docs/tour/new.kdl").is_file());
}
