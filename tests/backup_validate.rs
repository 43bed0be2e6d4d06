//! The backup files pgtopo emits, checked by the programs that consume them: every
//! `pgbackrest.conf` (VM hosts and Compose) is read by pgBackRest 2.45 with no "invalid option"
//! warning and no error, and every systemd service and timer passes `systemd-analyze verify`.
//! The live proof that they back up and restore is tests/live_backup.rs.

mod common;

use std::path::Path;
use std::process::Command;

use pgtopo::emit::{self, Program};
use pgtopo::model::Target;

/// (label, path, contents) of every emitted file whose name satisfies `want`, across every
/// topology and the targets that write backup files.
fn emitted(want: impl Fn(&str) -> bool) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (name, path) in common::topologies() {
        let p: Program = common::program(&path);
        for target in p.build_targets() {
            if !matches!(target, Target::Hosts | Target::Compose) {
                continue;
            }
            let b = emit::files(target, &p).unwrap_or_else(|d| panic!("{name}: {d:#?}"));
            for (file, contents) in b.iter() {
                let base = file.rsplit('/').next().unwrap_or(file);
                if want(base) {
                    out.push((
                        format!("{name}/{target}/{file}"),
                        base.to_owned(),
                        contents.to_owned(),
                    ));
                }
            }
        }
    }
    out
}

/// The stanza a `pgbackrest.conf` configures: its last section.
fn stanza(conf: &str) -> &str {
    conf.lines()
        .filter_map(|l| l.strip_prefix('[').and_then(|l| l.strip_suffix(']')))
        .next_back()
        .expect("a stanza section")
}

#[test]
fn every_pgbackrest_conf_passes_pgbackrests_option_check() {
    let confs = emitted(|f| f == "pgbackrest.conf");
    assert!(
        confs.len() >= 5,
        "the backup topologies emit pgbackrest.conf: {}",
        confs.len()
    );
    if !common::have_tool("pgbackrest") {
        return;
    }
    let dir = common::temp_dir("pgbackrest-conf");
    common::open_up(&dir);
    // `help COMMAND` loads the configuration (and warns about every option it does not know, or
    // that does not belong in its section) without reaching any host or repository.
    for (label, _, conf) in &confs {
        let file = dir.join("pgbackrest.conf");
        std::fs::write(&file, conf).unwrap();
        common::open_up(&dir);
        for command in ["backup", "archive-push", "restore", "stanza-create"] {
            let (ok, out) = common::run(
                common::runuser_nobody()
                    .arg("pgbackrest")
                    .arg(format!("--config={}", file.display()))
                    .arg(format!("--stanza={}", stanza(conf)))
                    .args(["--log-level-console=warn", "help", command]),
            );
            assert!(ok, "{label}: pgbackrest help {command} failed:\n{out}");
            assert!(
                !out.contains("WARN") && !out.contains("ERROR"),
                "{label}: pgBackRest does not accept every option (help {command}):\n{out}\n--- file ---\n{conf}"
            );
        }
    }
    // The check can fail: an option pgBackRest does not know is reported.
    let file = dir.join("pgbackrest.conf");
    std::fs::write(&file, format!("{}repo1-bogus=1\n", confs[0].2)).unwrap();
    let (_, out) = common::run(
        common::runuser_nobody()
            .arg("pgbackrest")
            .arg(format!("--config={}", file.display()))
            .arg(format!("--stanza={}", stanza(&confs[0].2)))
            .args(["--log-level-console=warn", "help", "backup"]),
    );
    assert!(out.contains("invalid option"), "{out}");
}

#[test]
fn every_systemd_unit_passes_systemd_analyze_verify() {
    let units = emitted(|f| f.ends_with(".service") || f.ends_with(".timer"));
    assert!(
        units.len() >= 4,
        "the backup topologies emit units: {}",
        units.len()
    );
    if !common::have_tool("systemd-analyze") || !common::have_tool("pgbackrest") {
        return;
    }
    // Each unit with its pair (a timer needs its service), in a folder of its own.
    let mut by_dir: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for (label, base, contents) in units {
        let dir = label
            .rsplit_once('/')
            .map_or(String::new(), |(d, _)| d.to_owned());
        by_dir.entry(dir).or_default().push((base, contents));
    }
    for (label, files) in &by_dir {
        let dir = common::temp_dir("units");
        for (name, contents) in files {
            std::fs::write(dir.join(name), contents).unwrap();
        }
        let mut cmd = Command::new("systemd-analyze");
        cmd.arg("verify").current_dir(&dir);
        for (name, _) in files {
            cmd.arg(Path::new(".").join(name));
        }
        let (ok, out) = common::run(&mut cmd);
        assert!(
            ok && out.trim().is_empty(),
            "{label}: systemd-analyze verify:\n{out}"
        );
        for (name, contents) in files.iter().filter(|(n, _)| n.ends_with(".timer")) {
            for spec in contents
                .lines()
                .filter_map(|l| l.strip_prefix("OnCalendar="))
            {
                let (ok, out) =
                    common::run(Command::new("systemd-analyze").args(["calendar", spec]));
                assert!(ok, "{label}/{name}: {spec}: {out}");
            }
        }
    }
}
