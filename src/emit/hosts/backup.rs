//! pgBackRest on VM hosts: `pgbackrest.conf` beside every node of a cluster with a backup
//! repository (and on the repository host, when the repository has one), the systemd service and
//! timer of each schedule, the one-time `pgbackrest-setup.sh` (stanza-create, check, first full
//! backup), and `restore.sh` on the nodes of a cluster declared with `restore from=`.
//!
//! Where the backups run: on the repository host when there is one (pgBackRest reaches the
//! nodes over SSH and backs up from the primary); otherwise on every node, where the service
//! backs up only while that node is the primary, so the schedule survives a failover.

use std::fmt::Write as _;

use crate::emit::text;
use crate::model::{BackupTool, Cluster, FailoverManager, Node, RepositoryKind, Target, Topology};
use crate::plan::backup::{self, Cron, Instance};

/// The files of one machine, as (file name, contents).
pub type Files = Vec<(String, String)>;

/// The data directory of a node without Patroni: the Debian package's cluster `main`.
pub fn debian_data_dir(c: &Cluster) -> String {
    format!("/var/lib/postgresql/{}/main", c.postgres.version.value)
}

/// Whether the cluster's backups run through pgBackRest on this target.
fn runs_pgbackrest(c: &Cluster) -> bool {
    backup::tool(c, Target::Hosts) == Some(BackupTool::Pgbackrest)
}

/// The repository host of the cluster's repository, when it has one.
fn repo_host(c: &Cluster) -> Option<&str> {
    let r = c.backup.as_ref()?.repository()?;
    (r.kind.value == RepositoryKind::Posix)
        .then(|| r.host.as_ref().map(|h| h.value.as_str()))
        .flatten()
}

/// The files a node gets for its own cluster's backups (`data_dir` is where its PostgreSQL
/// keeps its data) and for the restore it starts from.
pub fn node_files(t: &Topology, c: &Cluster, n: &Node, data_dir: &str) -> Files {
    let mut v = Files::new();
    if runs_pgbackrest(c) {
        let me = [Instance {
            host: None,
            data_dir: data_dir.to_owned(),
            port: n.port.value,
        }];
        v.push((
            "pgbackrest.conf".into(),
            backup::pgbackrest_conf(c, c, &me, false),
        ));
        if repo_host(c).is_none() {
            v.push(("pgbackrest-setup.sh".into(), setup_script(c, false)));
            v.push(("pgbackrest-backup.sh".into(), node_backup_script(c, n)));
            v.extend(units(
                c,
                "postgres",
                "/bin/sh /etc/pgbackrest/pgbackrest-backup.sh",
            ));
        }
    }
    // A standby cluster reads the WAL its source no longer streams from the source's repository
    // (Patroni's `standby_cluster.restore_command`): it needs the source's stanza.
    let follows = c.replica_of.as_ref().and_then(|r| t.cluster(&r.value));
    if let (Some(src), false) = (follows.filter(|s| runs_pgbackrest(s)), runs_pgbackrest(c)) {
        let me = [Instance {
            host: None,
            data_dir: data_dir.to_owned(),
            port: n.port.value,
        }];
        v.push((
            "pgbackrest.conf".into(),
            backup::pgbackrest_conf(c, src, &me, false),
        ));
    }
    if let Some(src) = backup::restore_source(t, c) {
        if runs_pgbackrest(src) {
            let me = [Instance {
                host: None,
                data_dir: data_dir.to_owned(),
                port: n.port.value,
            }];
            // The restored node reads the source's repository, under the source's stanza; it
            // does not write to it (the restored cluster archives nowhere unless it declares its
            // own backup, whose stanza is its own name).
            if !runs_pgbackrest(c) {
                v.push((
                    "pgbackrest.conf".into(),
                    backup::pgbackrest_conf(c, src, &me, false),
                ));
            }
            v.push(("restore.sh".into(), restore_script(c, src, data_dir)));
        }
    }
    v
}

/// The repository host's machine folder and files, when the cluster's repository has a host.
pub fn repo_host_files(c: &Cluster, data_dir: impl Fn(&Node) -> String) -> Option<(String, Files)> {
    if !runs_pgbackrest(c) {
        return None;
    }
    let host = repo_host(c)?;
    let instances: Vec<Instance> = c
        .nodes
        .iter()
        .filter_map(|n| {
            Some(Instance {
                host: Some(n.host.as_ref()?.value.clone()),
                data_dir: data_dir(n),
                port: n.port.value,
            })
        })
        .collect();
    let mut v: Files = vec![
        (
            "pgbackrest.conf".into(),
            backup::pgbackrest_conf(c, c, &instances, true),
        ),
        ("pgbackrest-setup.sh".into(), setup_script(c, true)),
    ];
    v.extend(units(
        c,
        "pgbackrest",
        &format!("/usr/bin/pgbackrest --stanza={}", backup::stanza(c)),
    ));
    Some((format!("backup-{host}"), v))
}

/// A systemd service and timer per schedule (full, incremental): `exec` is the command the
/// service runs, followed by `--type=full` or `--type=incr` and `backup`.
fn units(c: &Cluster, user: &str, exec: &str) -> Files {
    let Some(s) = c.backup.as_ref().and_then(|b| b.schedule.as_ref()) else {
        return Files::new();
    };
    let env = env_file_line(c);
    let mut v = Files::new();
    for (kind, label, cron) in [
        ("full", "full", &s.full),
        ("incr", "incremental", &s.incremental),
    ] {
        let Some(cron) = cron else { continue };
        // PT181 keeps a schedule that does not parse out of a build.
        let Ok(parsed) = Cron::parse(&cron.value) else {
            continue;
        };
        let unit = format!("pgbackrest-{}-{kind}", c.name);
        let args = if exec.ends_with(".sh") {
            format!("{exec} {kind}")
        } else {
            format!("{exec} --type={kind} backup")
        };
        v.push((
            format!("{unit}.service"),
            format!(
                "# Generated by pgtopo: the {label} backup of cluster \"{}\". Install under\n\
                 # /etc/systemd/system/ with {unit}.timer, then `systemctl enable --now {unit}.timer`.\n\
                 [Unit]\n\
                 Description=pgBackRest {label} backup of cluster {}\n\
                 Wants=network-online.target\n\
                 After=network-online.target\n\
                 \n\
                 [Service]\n\
                 Type=oneshot\n\
                 User={user}\n\
                 {env}\
                 ExecStart={args}\n",
                c.name, c.name
            ),
        ));
        let mut cal = String::new();
        for e in parsed.on_calendar() {
            let _ = writeln!(cal, "OnCalendar={e}");
        }
        v.push((
            format!("{unit}.timer"),
            format!(
                "# Generated by pgtopo: when the {label} backup of cluster \"{}\" runs (cron \"{}\").\n\
                 [Unit]\n\
                 Description=pgBackRest {label} backup of cluster {} ({})\n\
                 \n\
                 [Timer]\n\
                 {cal}\
                 # A run missed while the machine was off starts at the next boot.\n\
                 Persistent=true\n\
                 \n\
                 [Install]\n\
                 WantedBy=timers.target\n",
                c.name, cron.value, c.name, cron.value
            ),
        ));
    }
    v
}

/// `EnvironmentFile=` for an object store's keys (variables of the cluster's env file).
fn env_file_line(c: &Cluster) -> String {
    if backup::repo_key_vars(c).is_empty() {
        String::new()
    } else {
        format!("EnvironmentFile={}\n", super::env_file_path(c))
    }
}

/// The object store's keys the scripts export (none for a posix repository), and the env file
/// they come from: every script's template includes "pgbackrest-keys", which reads both.
fn keys(c: &Cluster) -> minijinja::Value {
    minijinja::context! {
        keys => backup::repo_key_vars(c).to_vec(),
        env_file => super::env_file_path(c),
    }
}

/// Creates the stanza and checks that WAL archiving reaches the repository, then takes the first
/// full backup when there is none. Idempotent: stanza-create and check may run again.
fn setup_script(c: &Cluster, on_repo_host: bool) -> String {
    let who = if on_repo_host {
        "the repository host, as the pgbackrest user"
    } else {
        "the primary, as the postgres user, once PostgreSQL is up"
    };
    text::render(
        "pgbackrest-setup.sh",
        minijinja::context! {
            cluster => &c.name,
            who,
            stanza => backup::stanza(c),
            ..keys(c)
        },
    )
}

/// The node-local backup: runs only while this node is the primary (pgBackRest backs up from
/// the primary; the timers on the standbys find nothing to do until a failover makes one of
/// them the primary).
fn node_backup_script(c: &Cluster, n: &Node) -> String {
    text::render(
        "pgbackrest-backup.sh",
        minijinja::context! {
            cluster => &c.name,
            port => n.port.value,
            stanza => backup::stanza(c),
            ..keys(c)
        },
    )
}

/// Restores `c`'s data directory from `src`'s backups: to `restore time=` when declared (then
/// promoted), else to the end of the archived WAL. Patroni runs it as the cluster's bootstrap
/// method (with `--datadir=`); without Patroni, run it as postgres on the new primary before
/// PostgreSQL's first start, with an empty data directory.
fn restore_script(c: &Cluster, src: &Cluster, data_dir: &str) -> String {
    let target = c
        .restore
        .as_ref()
        .and_then(|r| r.time.as_ref())
        .map(|t| backup::target_time(&t.value));
    let how = if c.failover.manager.value == FailoverManager::Patroni {
        "Patroni runs it as its bootstrap method."
    } else {
        "Run it as postgres on the new primary, with an empty data directory, before PostgreSQL's first start."
    };
    text::render(
        "restore.sh",
        minijinja::context! {
            cluster => &c.name,
            source => &src.name,
            stanza => backup::stanza(src),
            how,
            data_dir,
            target,
            ..keys(src)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_local_schedule_gets_a_service_and_a_timer_per_kind() {
        let src = r#"targets "hosts"
cluster "m" {
    postgres version=16
    node "a" role="primary" host="10.0.0.1"
    backup {
        repository "posix" path="/var/lib/pgbackrest"
        schedule full="30 2 * * 0" incremental="30 2 * * 1-6"
        retention full=2
    }
}
"#;
        let p = crate::driver::compile(src).program("t").unwrap();
        let c = &p.base.clusters[0];
        let files = node_files(&p.base, c, &c.nodes[0], "/d");
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "pgbackrest.conf",
                "pgbackrest-setup.sh",
                "pgbackrest-backup.sh",
                "pgbackrest-m-full.service",
                "pgbackrest-m-full.timer",
                "pgbackrest-m-incr.service",
                "pgbackrest-m-incr.timer",
            ]
        );
        let timer = &files[4].1;
        assert!(timer.contains("OnCalendar=Sun *-*-* 02:30:00\n"), "{timer}");
        let conf = &files[0].1;
        assert!(
            conf.contains("repo1-path=/var/lib/pgbackrest\nrepo1-retention-full=2\n"),
            "{conf}"
        );
        assert!(conf.contains("[m]\npg1-path=/d\npg1-port=5432\n"), "{conf}");
    }
}
