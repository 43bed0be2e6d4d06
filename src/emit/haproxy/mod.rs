//! The `haproxy` target: one `haproxy.cfg` per balancer host, at
//! `<env-or-base>/<balancer-host>/haproxy.cfg` (see docs/targets/vm.md).
//!
//! Role-aware health checks: HTTP checks (`/primary`, `/replica`, …) decide which servers take
//! traffic. With Patroni they ask each node's REST API; other managers have no such API, so each
//! database node runs pgtopo's health endpoint (emitted by the hosts target), which answers the
//! same paths on the same port by asking its local PostgreSQL over the Unix socket. Either way
//! the balancer hosts hold no database password and need no pg_hba row of their own.

use std::fmt::Write as _;

use crate::bundle::Bundle;
use crate::diag::{codes, Diagnostic};
use serde::Serialize;

use crate::emit::text;
use crate::emit::vm_common::{client_port, host_port, node_address, stdout_for};
use crate::emit::{Options, Program};
use crate::model::{
    Balancer, BalancerHost, Cluster, FailoverManager, Listen, ListenTarget, Node, Topology,
};

/// Connections are closed by haproxy after this much silence in either direction. Long analytic
/// queries can run for many minutes without sending a byte, so this is far above haproxy's usual
/// web-oriented values; TCP keepalives (`option clitcpka`/`srvtcpka`) still detect dead peers.
pub const TIMEOUT_IDLE: &str = "30m";

/// The haproxy target: each model's files depend on that model alone.
pub static EMIT: crate::emit::Emitter = crate::emit::Emitter {
    target: crate::model::Target::Haproxy,
    stdout,
    tree: crate::emit::Tree::PerModel(render_model),
};

fn render_model(
    _: &Program,
    t: &Topology,
    out: &mut dyn FnMut(Bundle),
) -> Result<(), Vec<Diagnostic>> {
    out(model_piece(t)?);
    Ok(())
}

/// The files of one model (the base or an env).
pub fn model_piece(t: &Topology) -> Result<Bundle, Vec<Diagnostic>> {
    crate::emit::vm_common::model_piece(t, render)
}

pub fn stdout(p: &Program, env: Option<&str>, opts: &Options) -> Result<String, Vec<Diagnostic>> {
    stdout_for(p, env, opts, "balancer host", render, host_by_address)
}

/// `--host` may also name a balancer host by its address.
pub(crate) fn host_by_address(t: &Topology, h: &str) -> Option<String> {
    t.clusters
        .iter()
        .flat_map(|c| &c.balancers)
        .flat_map(|b| &b.hosts)
        .find(|x| x.address.value == h)
        .map(|x| x.name.clone())
}

/// One balancer host as declared in one cluster's balancer.
pub(crate) type HostPart<'a> = (&'a Cluster, &'a Balancer, &'a BalancerHost);

/// Every (cluster, balancer, host) of a model, grouped by host name in declaration order: a host
/// named in two clusters' balancers gets one haproxy.cfg with both clusters' listens.
pub(crate) fn hosts_of(t: &Topology) -> Vec<(String, Vec<HostPart<'_>>)> {
    let mut out: Vec<(String, Vec<HostPart<'_>>)> = Vec::new();
    for c in &t.clusters {
        for b in &c.balancers {
            for h in &b.hosts {
                match out.iter_mut().find(|(n, _)| *n == h.name) {
                    Some((_, v)) => v.push((c, b, h)),
                    None => out.push((h.name.clone(), vec![(c, b, h)])),
                }
            }
        }
    }
    out
}

fn render(t: &Topology) -> Result<Vec<(String, String, String)>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for (host, parts) in hosts_of(t) {
        let cfg = haproxy_cfg(&host, &parts, &mut errors);
        files.push((host.clone(), "haproxy.cfg".to_owned(), cfg));
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(errors)
    }
}

/// The health check of a listen or of its fallback backend: the HTTP path that answers 200
/// exactly when a node fits the role (Patroni's REST API, or pgtopo's health endpoint).
#[derive(Serialize)]
struct Check {
    path: String,
}

#[derive(Serialize)]
struct Fallback {
    role: &'static str,
    check: Check,
    /// The backup servers of the listen, tracking the backend's.
    backups: Vec<String>,
    /// The backend's servers, only checked.
    servers: Vec<String>,
}

/// One section after `defaults`: the stats page, or a listen.
#[derive(Serialize, Default)]
struct Section {
    /// The stats page's bind address, for the stats section.
    stats: Option<String>,
    name: String,
    port: u16,
    check: Option<Check>,
    servers: Vec<String>,
    fallback: Option<Fallback>,
}

#[derive(Serialize)]
struct Cfg<'a> {
    host: &'a str,
    idle: &'static str,
    sections: Vec<Section>,
}

fn haproxy_cfg(
    host: &str,
    parts: &[(&Cluster, &Balancer, &BalancerHost)],
    errors: &mut Vec<Diagnostic>,
) -> String {
    let mut sections = Vec::new();
    let mut stats_done = false;
    for (c, b, h) in parts {
        if let (Some(st), false) = (&b.stats, stats_done) {
            stats_done = true;
            sections.push(Section {
                stats: Some(host_port(&h.address.value, st.port.value)),
                ..Section::default()
            });
        }
        for l in &b.listens {
            if c.nodes.iter().any(|n| n.host.is_none()) {
                // PT131 reports this at lint time; the emitter refuses rather than drop servers.
                errors.push(Diagnostic::error(
                    codes::PT131,
                    format!(
                        "cluster \"{}\" has nodes without `host`: the haproxy target cannot route to them",
                        c.name
                    ),
                ));
                continue;
            }
            sections.push(listen_section(c, l));
        }
    }
    let cfg = Cfg {
        host,
        idle: TIMEOUT_IDLE,
        sections,
    };
    text::render("haproxy.cfg", &cfg)
}

/// The HTTP path that answers 200 exactly when a node fits `target`: Patroni's REST API, whose
/// paths pgtopo's health endpoint answers too (without Patroni it cannot tell a synchronous
/// standby from an asynchronous one, so `/sync` and `/async` accept any streaming standby and the
/// listen's server list tells them apart: `plan::endpoints::listen_candidates`; nor does it read
/// `?lag=`, which only Patroni can measure against the primary: PT138).
fn check_path(target: ListenTarget, l: &Listen) -> String {
    match target {
        ListenTarget::Primary => "/primary".to_owned(),
        ListenTarget::Replicas => match &l.max_lag {
            Some(lag) => format!("/replica?lag={}", lag.value),
            None => "/replica".to_owned(),
        },
        ListenTarget::Sync => "/sync".to_owned(),
        ListenTarget::Async => "/async".to_owned(),
        ListenTarget::Any => "/health".to_owned(),
    }
}

fn check(target: ListenTarget, l: &Listen) -> Check {
    Check {
        path: check_path(target, l),
    }
}

/// A `server` line: checked on the node's health port (Patroni's REST API, or pgtopo's health
/// endpoint, both on the node's `patroni-port`), or with `extra` instead.
fn server_line(c: &Cluster, n: &Node, suffix: &str, extra: &str) -> String {
    let addr = node_address(n).unwrap_or_default();
    let mut line = format!(
        "server {}{suffix} {}",
        n.name,
        host_port(addr, client_port(c, n))
    );
    if extra.is_empty() {
        let _ = write!(line, " check port {}", n.patroni_port.value);
        // With `tls` Patroni's REST API serves HTTPS. The check only reads a member's role (GET,
        // which needs no password), and the CA lives on the database hosts, so the certificate
        // is not verified here. pgtopo's health endpoint serves plain HTTP: it tells only a
        // node's role, which haproxy's own traffic reveals anyway.
        if c.failover.manager.value == FailoverManager::Patroni && c.tls.is_some() {
            line.push_str(" check-ssl verify none");
        }
    } else {
        line.push(' ');
        line.push_str(extra);
    }
    line
}

fn listen_section(c: &Cluster, l: &Listen) -> Section {
    let name = format!("{}_{}", c.name, l.name);
    let check_of_target = check(l.target.value, l);
    let servers = crate::plan::endpoints::listen_candidates(c, l.target.value)
        .into_iter()
        .map(|n| server_line(c, n, "", ""))
        .collect();
    // A server's check belongs to its section, so the fallback servers copy the state of servers
    // checked for the fallback role in a separate, traffic-less backend (`track`).
    let fallback = l.fallback.as_ref().map(|fb| {
        let nodes = crate::plan::endpoints::listen_candidates(c, fb.value);
        Fallback {
            role: fb.value.as_str(),
            backups: nodes
                .iter()
                .map(|n| {
                    server_line(
                        c,
                        n,
                        "_fallback",
                        &format!("backup track {name}_fallback/{}", n.name),
                    )
                })
                .collect(),
            check: check(fb.value, l),
            servers: nodes.iter().map(|n| server_line(c, n, "", "")).collect(),
        }
    });
    Section {
        stats: None,
        port: l.port.value,
        check: Some(check_of_target),
        servers,
        fallback,
        name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The servers of `listen <cluster>_<name>` in a haproxy.cfg, in order (its fallback servers
    /// carry a `_fallback` suffix).
    fn servers(cfg: &str, listen: &str) -> Vec<String> {
        let head = format!("listen c_{listen}\n");
        let section = &cfg[cfg.find(&head).unwrap_or_else(|| panic!("{cfg}"))..];
        let end = ["\nlisten ", "\nbackend "]
            .iter()
            .filter_map(|next| section.find(next))
            .min()
            .unwrap_or(section.len());
        section[..end]
            .lines()
            .filter_map(|l| l.trim().strip_prefix("server "))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    }

    /// A cluster of one primary, two sync and one async node under `manager`, with a listen for
    /// every role-checked target; its haproxy.cfg.
    fn cfg(manager: &str, synchronous: bool) -> String {
        let failover = match manager {
            "patroni" => "failover \"patroni\" { dcs \"etcd\" { endpoint \"10.0.0.9:2379\"; }; }",
            "pg_auto_failover" => "failover \"pg_auto_failover\"",
            "repmgr" => "failover \"repmgr\"",
            _ => "failover \"none\"",
        };
        let (sync_role, replication) = if synchronous {
            (
                "sync",
                "replication { synchronous method=\"any\" count=1; }",
            )
        } else {
            ("async", "")
        };
        let src = format!(
            r#"targets "haproxy"
cluster "c" {{
    postgres version=16
    credentials env-file="/etc/pgtopo/c.env"
    {failover}
    {replication}
    node "a" role="primary" host="10.0.0.1"
    node "b" role="{sync_role}" host="10.0.0.2"
    node "d" role="{sync_role}" host="10.0.0.4"
    node "e" role="async" host="10.0.0.5"
    balancer "haproxy" {{
        host "lb1" address="10.0.0.20"
        listen "rw" port=5000 target="primary"
        listen "ro" port=5001 target="replicas"
        listen "sy" port=5002 target="sync" fallback="primary"
        listen "as" port=5003 target="async"
    }}
}}
"#
        );
        let mut c = crate::driver::compile(&src);
        let p = c.program("t").unwrap_or_else(|| {
            panic!("{manager}: {:#?}", c.diagnostics);
        });
        stdout(&p, None, &Options::default()).unwrap()
    }

    /// Patroni picks the synchronous standbys at run time among the nodes without `nosync` (the
    /// old primary too, once it is a standby again), and any standby may be asynchronous.
    #[test]
    fn patroni_listens_list_every_node_that_can_take_the_role() {
        let cfg = cfg("patroni", true);
        assert_eq!(servers(&cfg, "sy")[..3], ["a", "b", "d"], "{cfg}");
        assert_eq!(
            servers(&cfg, "sy").len(),
            3 + 4,
            "then every fallback server: {cfg}"
        );
        assert_eq!(servers(&cfg, "as"), ["a", "b", "d", "e"], "{cfg}");
        assert_eq!(servers(&cfg, "ro"), ["a", "b", "d", "e"], "{cfg}");
        assert_eq!(servers(&cfg, "rw"), ["a", "b", "d", "e"], "{cfg}");
        assert!(cfg.contains("option httpchk GET /sync"), "{cfg}");
    }

    /// pg_auto_failover puts every quorum node (all but the async ones) in `ANY n (…)`: they are
    /// the synchronous candidates, and only the async nodes are ever asynchronous standbys.
    #[test]
    fn pg_auto_failover_listens_follow_the_replication_quorum() {
        let cfg = cfg("pg_auto_failover", true);
        assert_eq!(servers(&cfg, "sy")[..3], ["a", "b", "d"], "{cfg}");
        assert_eq!(
            servers(&cfg, "sy").len(),
            3 + 4,
            "then every fallback server: {cfg}"
        );
        assert_eq!(servers(&cfg, "as"), ["e"], "{cfg}");
    }

    /// Without a manager that chooses, `synchronous_standby_names` is the fixed list of declared
    /// sync nodes: they alone are ever synchronous, and every other node asynchronous once it is a
    /// standby (the old primary too). The health endpoint accepts any streaming standby for `/sync`
    /// and `/async`; the list decides.
    #[test]
    fn fixed_synchronous_names_decide_the_sync_and_async_listens() {
        for manager in ["repmgr", "none"] {
            let cfg = cfg(manager, true);
            assert_eq!(servers(&cfg, "sy")[..2], ["b", "d"], "{manager}: {cfg}");
            assert_eq!(servers(&cfg, "sy")[2], "a_fallback", "{manager}: {cfg}");
            assert_eq!(servers(&cfg, "as"), ["a", "e"], "{manager}: {cfg}");
            assert!(cfg.contains("option httpchk GET /sync"), "{cfg}");
            assert!(
                cfg.contains("server b 10.0.0.2:5432 check port 8008"),
                "{cfg}"
            );
            assert!(!cfg.contains("external-check"), "{cfg}");
        }
    }

    /// Without synchronous replication every standby is asynchronous.
    #[test]
    fn without_synchronous_replication_every_node_may_be_async() {
        for manager in ["patroni", "repmgr"] {
            let cfg = cfg(manager, false);
            assert_eq!(
                servers(&cfg, "as"),
                ["a", "b", "d", "e"],
                "{manager}: {cfg}"
            );
        }
    }
}
