//! PT137 vrrp-collision (warning)
//!
//! What: two VRRP groups (the `vip` of a balancer) that can run at the same time do not share a
//! VIP address, and do not share a `router-id` on one network (the VIP's subnet). Two groups are
//! the balancers of two clusters, or the same cluster's balancer in the base and in an env that
//! patches it (other hosts, another VIP or router id). An env that leaves the balancer as the base
//! has it is the same group, not a second one.
//! Why: VRRP tells groups apart by their virtual router id on a network. Two keepalived groups
//! with one router id on one network read each other's adverts as their own group's, with the
//! wrong address list: they log errors, and each may hold or drop the VIP at the other's adverts.
//! Two groups with one VIP both answer ARP for the address, and clients reach either balancer.
//! A staging env that moves to new balancer hosts but keeps production's VIP or router id does
//! exactly that, and nothing else in the topology says so.
//! Example: `env "staging" { cluster "db" { balancer "haproxy" { vip "10.0.0.200/24"
//! router-id=51 } } }` where the base's vip is `10.0.0.100/24 router-id=51`.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::pt118_vip_outside_subnet::parse_cidr;
use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic, Span};
use crate::model::{self, Topology};
use crate::syntax::Node;

pub const RULE: Rule = Rule {
    code: codes::PT137,
    run,
};

/// One VRRP group as one model declares it.
struct Group<'a> {
    /// "the base" or `env "staging"`.
    model: String,
    cluster: &'a str,
    /// What tells two declarations of one group apart from two groups: the cluster, the
    /// balancer hosts' addresses, the VIP and the router id.
    identity: (&'a str, Vec<&'a str>, Ipv4Addr, u8, i64),
    address_span: Span,
    router_id_span: Span,
    /// The env's name in its `env` line, for a group of an env.
    env_span: Option<Span>,
}

impl Group<'_> {
    fn who(&self) -> String {
        format!("{} (cluster \"{}\")", self.model, self.cluster)
    }
}

fn groups<'a>(model: String, env_span: Option<Span>, topo: &'a Topology, out: &mut Vec<Group<'a>>) {
    for c in &topo.clusters {
        for b in &c.balancers {
            let Some(v) = &b.vip else { continue };
            // A VIP that is not ADDR/PREFIX is PT118's error.
            let Some((ip, prefix)) = parse_cidr(&v.address.value) else {
                continue;
            };
            let mut hosts: Vec<&str> = b.hosts.iter().map(|h| h.address.value.as_str()).collect();
            hosts.sort_unstable();
            out.push(Group {
                model: model.clone(),
                cluster: &c.name,
                identity: (&c.name, hosts, ip, prefix, v.router_id.value),
                address_span: v.address.span,
                router_id_span: v.router_id.span,
                env_span,
            });
        }
    }
}

/// Whether an env block changes a balancer: only then can its VRRP groups differ from the base's.
fn patches_balancer(n: &Node) -> bool {
    n.children
        .iter()
        .any(|c| c.name == "balancer" || patches_balancer(c))
}

fn network(ip: Ipv4Addr, prefix: u8) -> u32 {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    };
    u32::from(ip) & mask
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    // The rule compares models, so it runs once, with the base; every env's findings would repeat
    // the same comparison.
    if cx.topo.env.is_some() {
        return;
    }
    let mut all = Vec::new();
    groups("the base".to_owned(), None, cx.topo, &mut all);
    if all.is_empty() {
        return;
    }
    // The envs that patch a balancer, resolved again: most envs leave the balancers alone and
    // cost nothing here.
    let envs: Vec<(String, Span, Topology)> = model::env::env_nodes(cx.doc)
        .filter(|e| patches_balancer(e))
        .filter_map(|e| {
            let name = e.first_arg_str()?;
            let (topo, _) = model::resolve(cx.doc, Some(name)).ok()?;
            Some((format!("env \"{name}\""), e.args[0].span, topo))
        })
        .collect();
    for (label, span, topo) in &envs {
        groups(label.clone(), Some(*span), topo, &mut all);
    }

    // Each distinct group once per VIP address and once per (network, router id): a later group
    // that meets an earlier, different one is reported.
    let mut by_address: HashMap<Ipv4Addr, Vec<usize>> = HashMap::new();
    let mut by_router_id: HashMap<(u32, u8, i64), Vec<usize>> = HashMap::new();
    for (i, g) in all.iter().enumerate() {
        let (_, _, ip, prefix, rid) = g.identity;
        let seen = by_address.entry(ip).or_default();
        let other = seen
            .iter()
            .map(|&j| &all[j])
            .find(|o| o.identity != g.identity);
        if let Some(o) = other {
            let d = Diagnostic::warning(
                codes::PT137,
                format!("{} and {} both use the VIP {ip}", o.who(), g.who()),
            )
            .with_help(
                "two VRRP groups with one address both claim it on the network; give each env that runs beside another (and each cluster) its own VIP",
            );
            out.push(place(d, o, g, o.address_span, g.address_span, "VIP"));
        }
        if !seen.iter().any(|&j| all[j].identity == g.identity) {
            seen.push(i);
        }
        let key = (network(ip, prefix), prefix, rid);
        let seen = by_router_id.entry(key).or_default();
        // Groups with one VIP were reported above; here, two addresses on one network.
        let other = seen
            .iter()
            .map(|&j| &all[j])
            .find(|o| o.identity != g.identity && o.identity.2 != ip);
        if let Some(o) = other {
            let net = Ipv4Addr::from(key.0);
            let d = Diagnostic::warning(
                codes::PT137,
                format!(
                    "{} and {} both use VRRP router-id={rid} on {net}/{prefix}",
                    o.who(),
                    g.who()
                ),
            )
            .with_help(format!(
                "VRRP tells the groups of one network apart by router id; give one of the vips another one (1–255), e.g. router-id={}",
                if rid >= 255 { rid - 1 } else { rid + 1 }
            ));
            out.push(place(
                d,
                o,
                g,
                o.router_id_span,
                g.router_id_span,
                "router id",
            ));
        }
        if !seen.iter().any(|&j| all[j].identity == g.identity) {
            seen.push(i);
        }
    }
}

/// Points a finding at the later group's value and at the earlier one's. An env that inherits the
/// value has no line of its own for it: the finding then points at the base's line, which both
/// use, and at the env's name.
fn place(
    d: Diagnostic,
    earlier: &Group,
    later: &Group,
    first: Span,
    second: Span,
    what: &str,
) -> Diagnostic {
    if first != second {
        return d
            .with_span(second, format!("also the {what} of {}", earlier.model))
            .with_related(first, format!("the {what} of {}", earlier.model));
    }
    let d = d.with_span(
        second,
        format!("the {what} of {} and {}", earlier.model, later.model),
    );
    match later.env_span {
        Some(env) => d.with_related(
            env,
            format!("this env changes the balancer but keeps the {what}"),
        ),
        None => d,
    }
}
