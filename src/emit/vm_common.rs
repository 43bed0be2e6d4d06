//! Helpers shared by the VM targets (haproxy, keepalived, hosts): the folder layout, the choice of
//! the host that `build --host` prints, and the facts about a database node that more than one
//! target needs (where clients reach it, where Patroni answers).
//!
//! Layout, identical for the three targets: `<env-or-base>/<machine>/<file>`, where the first folder
//! is `base` for the base model and the env's name otherwise, and `<machine>` is a balancer host's
//! name (haproxy, keepalived) or a database node's name (hosts). Node names, not addresses, key the
//! database folders because several nodes may share one address (a loopback test cluster).

use std::fmt::Write as _;

use crate::bundle::Bundle;
use crate::diag::{codes, Diagnostic};
use crate::emit::{Options, Program};
use crate::model::{Cluster, Node, Pooler, PoolerKind, PoolerTarget, Topology};

/// The first folder of a model's files: `base` or the env's name.
pub fn env_dir(t: &Topology) -> &str {
    t.env.as_deref().unwrap_or("base")
}

/// The PgBouncer that runs beside every database host (`target="local"`), if the cluster has one.
pub fn local_pgbouncer(c: &Cluster) -> Option<&Pooler> {
    c.poolers
        .iter()
        .find(|p| p.target.value == PoolerTarget::Local && p.kind.value == PoolerKind::Pgbouncer)
}

/// The address clients (and so haproxy) use for a node: its VM host. `None` for nodes without one.
pub fn node_address(n: &Node) -> Option<&str> {
    n.host.as_ref().map(|h| h.value.as_str())
}

/// The port haproxy sends a node's traffic to: the local PgBouncer when there is one (seed 004's
/// chain clients → VIP → haproxy → PgBouncer → PostgreSQL), else PostgreSQL itself.
pub fn client_port(c: &Cluster, n: &Node) -> u16 {
    local_pgbouncer(c).map_or(n.port.value, |p| n.local_pooler_port(p).value)
}

/// Formats `host:port`, bracketing IPv6 addresses.
pub fn host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The `ADDR/PREFIX` a single address is matched with in pg_hba.conf.
pub fn single_host_cidr(host: &str) -> String {
    if host.contains('/') {
        host.to_owned()
    } else if host.contains(':') {
        format!("{host}/128")
    } else {
        format!("{host}/32")
    }
}

/// The files of one model under `<env-or-base>/<machine>/`; its errors name its env.
pub fn model_piece(
    t: &Topology,
    render: impl Fn(&Topology) -> Result<Vec<(String, String, String)>, Vec<Diagnostic>>,
) -> Result<Bundle, Vec<Diagnostic>> {
    match render(t) {
        Ok(files) => {
            let mut b = Bundle::new();
            for (machine, file, contents) in files {
                b.add(format!("{}/{machine}/{file}", env_dir(t)), contents);
            }
            Ok(b)
        }
        Err(mut d) => {
            for x in &mut d {
                x.env = t.env.clone();
            }
            Err(d)
        }
    }
}

/// What `build [ENV] --target T [--host NAME]` prints for per-machine targets: every file of the
/// chosen machine (the first when `--host` is absent). One file is printed as is; several are
/// printed one after another, each after a `# ==> path <==` comment line (every file these
/// targets write accepts `#` comments).
pub fn stdout_for(
    p: &Program,
    env: Option<&str>,
    opts: &Options,
    what: &str,
    render: impl Fn(&Topology) -> Result<Vec<(String, String, String)>, Vec<Diagnostic>>,
    aliases: impl Fn(&Topology, &str) -> Option<String>,
) -> Result<String, Vec<Diagnostic>> {
    let t = p.model(env)?;
    let files = render(t)?;
    let Some(first) = files.first().map(|f| f.0.clone()) else {
        // Say what is missing, not only that nothing came out: the machines of these targets
        // are the nodes with a `host=` and the balancers' `host` entries.
        let (missing, help) = match what {
            "database node" => (
                "no database node declares `host=`, so the hosts target has no machine to print",
                "give the nodes that run on VMs an address: `node \"db1\" role=\"primary\" host=\"10.0.0.11\"`",
            ),
            _ => (
                "no balancer declares a `host`, so there is no balancer host to print",
                "add the machines that run the balancer: `host \"lb1\" address=\"10.0.0.21\"` inside `balancer`",
            ),
        };
        return Err(vec![
            Diagnostic::error(codes::PT130, missing).with_help(help)
        ]);
    };
    let machine = match &opts.host {
        None => first,
        Some(h) => match files.iter().find(|f| &f.0 == h) {
            Some(f) => f.0.clone(),
            None => match aliases(t, h) {
                Some(m) if files.iter().any(|f| f.0 == m) => m,
                _ => {
                    let mut names: Vec<&str> = files.iter().map(|f| f.0.as_str()).collect();
                    names.dedup();
                    return Err(vec![Diagnostic::error(
                        codes::PT130,
                        format!("no {what} named \"{h}\""),
                    )
                    .with_help(format!("choose one of: {}", names.join(", ")))]);
                }
            },
        },
    };
    let mine: Vec<&(String, String, String)> = files.iter().filter(|f| f.0 == machine).collect();
    if let [one] = mine.as_slice() {
        return Ok(one.2.clone());
    }
    let mut out = String::new();
    for (i, (m, file, contents)) in mine.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "# ==> {}/{m}/{file} <==", env_dir(t));
        out.push_str(contents);
    }
    Ok(out)
}
