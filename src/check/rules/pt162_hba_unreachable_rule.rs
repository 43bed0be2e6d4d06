//! PT162 hba-unreachable-rule (warning)
//!
//! What: an `hba` rule that an earlier rule of the same block already decides for every
//! connection it could match: the earlier rule names the same database (or `all`), the same role
//! (or `all`) and an address range that contains the later one's. pg_hba.conf stops at the first
//! matching row, so the later rule is never used: an `allow` that shadows a later `reject` lets
//! in what the `reject` was written to keep out, and a later `allow` under an earlier `reject`
//! never lets anyone in.
//! Why: first match wins, so the order of the rules is the policy; a rule that can never match is
//! a policy that reads one way and acts another.
//! Example: `allow address="10.0.0.0/8"` then `reject user="intern" address="10.1.0.0/16"`.
//! A certificate rule (`method="cert"`, TLS connections only) does not shadow a later password
//! rule, which still decides the connections without TLS.

use std::net::IpAddr;

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{HbaAction, HbaMethod, HbaRule};

pub const RULE: Rule = Rule {
    code: codes::PT162,
    run,
};

/// An address range as (is IPv6, network bits, prefix length); `all` is `None`.
type Range = Option<(bool, u128, u32)>;

fn range(s: &str) -> Option<Range> {
    if s == "all" {
        return Some(None);
    }
    let (addr, len) = s.split_once('/')?;
    let ip: IpAddr = addr.parse().ok()?;
    let len: u32 = len.parse().ok()?;
    let (v6, bits, width) = match ip {
        IpAddr::V4(a) => (false, u128::from(u32::from(a)), 32),
        IpAddr::V6(a) => (true, u128::from(a), 128),
    };
    if len > width {
        return None;
    }
    let mask = if len == 0 {
        0
    } else {
        (!0u128 >> (128 - width)) & !((1u128 << (width - len)) - 1)
    };
    Some(Some((v6, bits & mask, len)))
}

/// Whether range `a` contains range `b`.
fn contains(a: Range, b: Range) -> bool {
    match (a, b) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some((v6a, na, la)), Some((v6b, nb, lb))) => {
            let width = if v6a { 128 } else { 32 };
            v6a == v6b && la <= lb && {
                let mask = if la == 0 {
                    0
                } else {
                    (!0u128 >> (128 - width)) & !((1u128 << (width - la)) - 1)
                };
                nb & mask == na
            }
        }
    }
}

fn covers(a: &HbaRule, b: &HbaRule) -> bool {
    let name = |x: &str, y: &str| x == "all" || x == y;
    // A certificate row matches TLS connections only: a later password row still decides the
    // others.
    if a.method.value == HbaMethod::Cert && b.method.value != HbaMethod::Cert {
        return false;
    }
    let (Some(ra), Some(rb)) = (range(&a.address.value), range(&b.address.value)) else {
        return false;
    };
    name(&a.database.value, &b.database.value)
        && name(&a.user.value, &b.user.value)
        && contains(ra, rb)
}

fn word(a: HbaAction) -> &'static str {
    match a {
        HbaAction::Allow => "allow",
        HbaAction::Reject => "reject",
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        let Some(h) = &c.hba else { continue };
        for (j, later) in h.rules.iter().enumerate() {
            // The first earlier rule that decides every connection the later one could match.
            let Some(first) = h.rules[..j].iter().find(|e| covers(e, later)) else {
                continue;
            };
            let effect = match (first.action, later.action) {
                (HbaAction::Allow, HbaAction::Reject) => {
                    "the connections it would refuse are let in by the earlier `allow`"
                }
                (HbaAction::Reject, HbaAction::Allow) => {
                    "the connections it would let in are refused by the earlier `reject`"
                }
                _ => "the earlier rule already decides every connection it could match",
            };
            out.push(
                Diagnostic::warning(
                    codes::PT162,
                    format!(
                        "cluster \"{}\": this `{}` rule can never match: {effect}",
                        c.name,
                        word(later.action)
                    ),
                )
                .with_span(later.span, "never reached")
                .with_related(first.span, "decides first (first match wins)")
                .with_help(
                    "put the narrower rule before the wider one, or remove the rule that never matches",
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_narrower_ranges_of_their_family() {
        let r = |s| range(s).unwrap();
        assert!(contains(r("10.0.0.0/8"), r("10.1.0.0/16")));
        assert!(!contains(r("10.1.0.0/16"), r("10.0.0.0/8")));
        assert!(!contains(r("10.0.0.0/8"), r("11.0.0.0/16")));
        assert!(contains(r("0.0.0.0/0"), r("192.168.1.7/32")));
        assert!(!contains(r("0.0.0.0/0"), r("fc00::/7")));
        assert!(contains(r("all"), r("fc00::/7")));
        assert!(!contains(r("10.0.0.0/8"), r("all")));
        assert!(contains(r("fc00::/7"), r("fd12::/64")));
        // Host bits below the prefix do not count, as in pg_hba.conf.
        assert!(contains(r("10.0.0.1/8"), r("10.9.9.9/32")));
    }
}
