//! The `keepalived` target: one `keepalived.conf` per balancer host, at
//! `<env-or-base>/<balancer-host>/keepalived.conf` (see docs/targets/vm.md).
//!
//! Every host starts in `state BACKUP` with `nopreempt`: the host with the highest priority wins
//! the first election, and a host that comes back later does not take the VIP back (which would
//! cut every client connection a second time). VRRP runs unicast, because most clouds drop
//! multicast. The VRRP password is never written here: the `authentication` block is included
//! from a separately provisioned file.

use serde::Serialize;

use crate::bundle::Bundle;
use crate::diag::Diagnostic;
use crate::emit::haproxy::{host_by_address, hosts_of};
use crate::emit::text;
use crate::emit::vm_common::stdout_for;
use crate::emit::{Options, Program};
use crate::model::{Balancer, BalancerHost, Cluster, Topology};

/// Where the VRRP authentication block of a cluster's instance is provisioned.
pub fn auth_file(cluster: &str) -> String {
    format!("/etc/keepalived/{cluster}.auth.conf")
}

/// The keepalived target: each model's files depend on that model alone.
pub static EMIT: crate::emit::Emitter = crate::emit::Emitter {
    target: crate::model::Target::Keepalived,
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

fn render(t: &Topology) -> Result<Vec<(String, String, String)>, Vec<Diagnostic>> {
    let mut files = Vec::new();
    for (host, parts) in hosts_of(t) {
        let with_vip: Vec<_> = parts
            .into_iter()
            .filter(|(_, b, _)| b.vip.is_some())
            .collect();
        if with_vip.is_empty() {
            continue;
        }
        files.push((
            host.clone(),
            "keepalived.conf".to_owned(),
            conf(&host, &with_vip),
        ));
    }
    Ok(files)
}

/// One VRRP instance of a host: a cluster's VIP, as the template writes it.
#[derive(Serialize)]
struct Instance<'a> {
    cluster: &'a str,
    check_port: u16,
    interface: &'a str,
    router_id: i64,
    priority: u32,
    advert_int: u32,
    address: &'a str,
    peers: Vec<&'a str>,
    auth_file: String,
    vip: &'a str,
}

#[derive(Serialize)]
struct Conf<'a> {
    host: &'a str,
    instances: Vec<Instance<'a>>,
}

fn conf(host: &str, parts: &[(&Cluster, &Balancer, &BalancerHost)]) -> String {
    let instances: Vec<Instance> = parts
        .iter()
        .map(|(c, b, h)| {
            let vip = b.vip.as_ref().expect("filtered on vip");
            Instance {
                cluster: &c.name,
                check_port: b.listens.first().map_or(0, |l| l.port.value),
                interface: &vip.interface.value,
                router_id: vip.router_id.value,
                priority: h.priority.value,
                advert_int: vip.advert_int.value,
                address: &h.address.value,
                peers: b
                    .hosts
                    .iter()
                    .filter(|x| x.name != h.name)
                    .map(|x| x.address.value.as_str())
                    .collect(),
                auth_file: auth_file(&c.name),
                vip: &vip.address.value,
            }
        })
        .collect();
    text::render("keepalived.conf", Conf { host, instances })
}
