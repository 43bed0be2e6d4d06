//! PT118 vip-outside-subnet
//!
//! What: a `vip "ADDR/PREFIX"` is a valid IPv4 address with prefix (error) that is not a host's own
//! address (error), and lies inside the subnet of at least one balancer host's address (warning:
//! keepalived will add an address of another subnet, and a routed setup can make it work, but
//! usually the hosts were not patched along with the VIP).
//! Why: keepalived adds the VIP to the host's interface; outside the hosts' subnet nothing routes to
//! it (and the same address on a host makes the VIP fight the host).
//! Example: `vip "10.1.0.100/24"` with hosts at 10.0.0.21 and 10.0.0.22.

use std::net::Ipv4Addr;

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT118,
    run,
};

pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (addr, prefix) = s.split_once('/')?;
    let prefix: u8 = prefix.parse().ok()?;
    (prefix <= 32).then_some(())?;
    Some((addr.parse().ok()?, prefix))
}

fn mask(prefix: u8) -> u32 {
    if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(prefix))
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        for b in &c.balancers {
            let Some(v) = &b.vip else { continue };
            let Some((vip, prefix)) = parse_cidr(&v.address.value) else {
                out.push(
                    Diagnostic::error(
                        codes::PT118,
                        format!(
                            "vip \"{}\" is not an IPv4 address with a prefix",
                            v.address.value
                        ),
                    )
                    .with_span(v.address.span, "expected ADDR/PREFIX")
                    .with_help("write the VIP as keepalived expects it, e.g. \"10.0.0.100/24\""),
                );
                continue;
            };
            let m = mask(prefix);
            let addrs: Vec<Ipv4Addr> = b
                .hosts
                .iter()
                .filter_map(|h| h.address.value.parse().ok())
                .collect();
            if let Some(h) = b
                .hosts
                .iter()
                .find(|h| h.address.value.parse::<Ipv4Addr>().ok() == Some(vip))
            {
                out.push(
                    Diagnostic::error(
                        codes::PT118,
                        format!("vip {vip} is the address of host \"{}\"", h.name),
                    )
                    .with_span(v.address.span, "same as a host address")
                    .with_related(h.address.span, "host address")
                    .with_help("pick an unused address in the hosts' subnet for the VIP"),
                );
            } else if !addrs.is_empty()
                && !addrs
                    .iter()
                    .any(|a| u32::from(*a) & m == u32::from(vip) & m)
            {
                out.push(
                    Diagnostic::warning(
                        codes::PT118,
                        format!(
                            "vip {} is outside every balancer host's subnet",
                            v.address.value
                        ),
                    )
                    .with_span(
                        v.address.span,
                        format!("no host in {}/{prefix}", Ipv4Addr::from(u32::from(vip) & m)),
                    )
                    .with_help(
                        "use an address in the balancer hosts' subnet, or fix the prefix length",
                    ),
                );
            }
        }
    }
}
