//! The backup files pgtopo emits, checked by the programs that consume them: every
//! `pgbackrest.conf` (VM hosts, Compose, and the Kubernetes ConfigMaps' `pgbackrest.conf` key) is
//! read by pgBackRest 2.45 with no "invalid option" warning and no error, every systemd service
//! and timer passes `systemd-analyze verify`, and every Compose backup crontab is installed by
//! Debian's own `crontab`, the program the backup service runs it with. The live proof that they
//! back up and restore is tests/live_backup.rs.

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

/// Every `pgbackrest.conf` key of a ConfigMap the Kubernetes target writes (the base's objects
/// and the overlays' patches), as (label, contents): the file the sidecar mounts at
/// /etc/pgtopo/pgbackrest.conf.
fn kubernetes_pgbackrest_confs() -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, path) in common::topologies() {
        let p: Program = common::program(&path);
        if !p.build_targets().contains(&Target::Kubernetes) {
            continue;
        }
        let b = emit::files(Target::Kubernetes, &p).unwrap_or_else(|d| panic!("{name}: {d:#?}"));
        for (file, contents) in b.iter() {
            if !file.ends_with(".yaml") {
                continue;
            }
            for doc in serde_yaml::Deserializer::from_str(contents) {
                let v = <serde_yaml::Value as serde::Deserialize>::deserialize(doc)
                    .unwrap_or_else(|e| panic!("{name}/kubernetes/{file}: {e}"));
                if v["kind"].as_str() != Some("ConfigMap") {
                    continue;
                }
                if let Some(conf) = v["data"]["pgbackrest.conf"].as_str() {
                    let cm = v["metadata"]["name"].as_str().unwrap_or("?");
                    out.push((
                        format!("{name}/kubernetes/{file} (ConfigMap {cm})"),
                        conf.to_owned(),
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
    let mut confs = emitted(|f| f == "pgbackrest.conf");
    assert!(
        confs.len() >= 5,
        "the backup topologies emit pgbackrest.conf: {}",
        confs.len()
    );
    let kube = kubernetes_pgbackrest_confs();
    assert!(
        kube.iter()
            .any(|(l, _)| l.starts_with("orders-backup/kubernetes/base/")),
        "orders-backup's Kubernetes base carries pgbackrest.conf in a ConfigMap: {:?}",
        kube.iter().map(|(l, _)| l).collect::<Vec<_>>()
    );
    confs.extend(
        kube.into_iter()
            .map(|(label, conf)| (label, "pgbackrest.conf".to_owned(), conf)),
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

/// Every crontab the Compose backup service installs (`crontab -u postgres /etc/pgtopo/crontab`
/// in the image's Debian cron) is accepted by Debian's own `crontab`, which parses every entry
/// and refuses a file with a bad one ("errors in crontab file, can't install"). Debian's cron has
/// no dry-run option (cronie's `crontab -T` is not in it), so the file is installed for real, in
/// a private mount namespace whose /var/spool/cron/crontabs is a test folder: the machine's own
/// crontabs are never touched.
#[test]
fn every_compose_backup_crontab_is_installed_by_debians_crontab() {
    let tabs = emitted(|f| f == "crontab");
    assert!(
        tabs.iter()
            .any(|(l, _, _)| l.starts_with("lab-backup/compose/")),
        "lab-backup's Compose backup service has a crontab: {:?}",
        tabs.iter().map(|(l, _, _)| l).collect::<Vec<_>>()
    );
    if !common::have_tool("crontab") || !common::have_tool("unshare") {
        return;
    }
    if !common::is_root() {
        if common::tools_required() {
            panic!("the crontab check needs root (a private mount namespace)");
        }
        eprintln!(
            "SKIPPED: the crontab check needs root (a private mount namespace); it did not run"
        );
        return;
    }
    let dir = common::temp_dir("crontab");
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    // The spool folder as Debian's cron package makes it.
    let (ok, out) = common::run(Command::new("chgrp").arg("crontab").arg(&spool));
    assert!(ok, "chgrp crontab: {out}");
    std::fs::set_permissions(&spool, std::os::unix::fs::PermissionsExt::from_mode(0o1730)).unwrap();
    let install = |file: &Path| {
        common::run(
            Command::new("unshare")
                .args(["--mount", "--propagation", "private", "sh", "-c"])
                .arg(
                    "mount --bind \"$1\" /var/spool/cron/crontabs && crontab -u postgres \"$2\" \
                     && crontab -u postgres -l",
                )
                .arg("sh")
                .arg(&spool)
                .arg(file),
        )
    };
    for (label, _, tab) in &tabs {
        let file = dir.join("crontab");
        std::fs::write(&file, tab).unwrap();
        let (ok, out) = install(&file);
        assert!(
            ok,
            "{label}: Debian's crontab refuses it:\n{out}\n--- file ---\n{tab}"
        );
        for line in tab
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            assert!(
                out.lines().any(|l| l == line),
                "{label}: the installed crontab lacks `{line}`:\n{out}"
            );
        }
    }
    // The check can fail: a day-of-week out of range is refused.
    let file = dir.join("crontab");
    std::fs::write(
        &file,
        "0 3 * * 8 pgbackrest --stanza=x --type=full backup\n",
    )
    .unwrap();
    let (ok, out) = install(&file);
    assert!(!ok && out.contains("errors in crontab file"), "{out}");
}
