//! PT150 helm-sync-replication (warning)
//!
//! What: with the helm target, the chart's synchronous replication matches the topology's sync
//! roles. bitnami/postgresql-ha has one switch (`postgresql.syncReplication`) that makes every
//! standby synchronous (`replicaCount - 1` of them); CloudNativePG takes `{method, number}` and
//! picks the synchronous standbys among all standbys, never among named ones.
//! Why: the number of standbys a commit waits for is the durability (and the availability) the
//! topology was reviewed for; the values pgtopo emits are the closest the chart allows, and this
//! says what differs.
//! Example: `failover "repmgr"` with `node "b" role="sync"` and `node "c" role="async"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::emit::helm::{bitnami_ha, cnpg};
use crate::model::{Cluster, HelmChart, SyncMethod, Target};

pub const RULE: Rule = Rule {
    code: codes::PT150,
    run,
};

fn method(m: SyncMethod) -> &'static str {
    match m {
        SyncMethod::Any => "ANY",
        SyncMethod::First => "FIRST",
    }
}

fn asked(c: &Cluster) -> String {
    c.synchronous_standby_names()
        .map_or_else(|| "no synchronous standby".to_owned(), |s| format!("`{s}`"))
}

fn check(c: &Cluster) -> Option<String> {
    let standbys = c.standbys().count();
    let sync_nodes = c.sync_nodes().count();
    match c.helm.chart.value {
        HelmChart::BitnamiPostgresqlHa => {
            if !bitnami_ha::sync_replication(c) {
                return None;
            }
            let sync = c.replication.synchronous.as_ref()?;
            let m = method(sync.method.value);
            let n = standbys;
            if sync.count.value as usize == n && sync_nodes == n {
                return None;
            }
            Some(format!(
                "bitnami/postgresql-ha makes all {n} standbys of cluster \"{}\" synchronous ({m} {n} of every standby); the `node` roles and `synchronous` ask for {}",
                c.name,
                asked(c)
            ))
        }
        HelmChart::Cnpg => {
            let (m, number) = cnpg::synchronous(c)?;
            if sync_nodes == standbys {
                return None;
            }
            Some(format!(
                "CloudNativePG picks the {} {number} synchronous standby(s) of cluster \"{}\" among all {standbys} standbys; the `node` roles and `synchronous` ask for {}",
                method(m),
                c.name,
                asked(c)
            ))
        }
        HelmChart::BitnamiPostgresql => None,
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    if !cx.topo.has_target(Target::Helm) {
        return;
    }
    for c in &cx.topo.clusters {
        let Some(msg) = check(c) else { continue };
        let span = c
            .replication
            .synchronous
            .as_ref()
            .map_or(c.name_span, |s| s.span);
        out.push(
            Diagnostic::warning(codes::PT150, msg)
                .with_span(span, "not expressible by the chart")
                .with_help(match c.helm.chart.value {
                    HelmChart::Cnpg => "make every standby `sync`, or accept that any standby may be the synchronous one",
                    _ => "make every standby `sync` with count = standbys, or none, or use `helm chart=\"cnpg\"`",
                }),
        );
    }
}
