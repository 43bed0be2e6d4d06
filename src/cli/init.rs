//! `pgtopo init`: write a new, lint-clean topology from a few flags.

use clap::ValueEnum;

use pgtopo::driver::compile;

use super::{Ctx, Exit};

#[derive(clap::Args)]
pub struct Args {
    /// Cluster name.
    #[arg(long, default_value = "main")]
    name: String,
    /// Database nodes, the first one the primary.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    nodes: u32,
    /// How many standbys are synchronous (ANY n of them must confirm each commit).
    #[arg(long, default_value_t = 1)]
    sync: u32,
    /// What to build.
    #[arg(long, value_enum, default_value_t = InitTarget::Kubernetes)]
    target: InitTarget,
    /// Failover manager (default: patroni on VMs, pg_auto_failover on Kubernetes, none on Compose).
    #[arg(long)]
    failover: Option<String>,
    /// PostgreSQL major version.
    #[arg(long, default_value_t = 17)]
    version: u32,
    /// Print the topology instead of writing the file.
    #[arg(long)]
    stdout: bool,
}

#[derive(Clone, Copy, PartialEq, ValueEnum)]
enum InitTarget {
    Kubernetes,
    Helm,
    Compose,
    /// haproxy + keepalived in front of VMs (with the hosts' configs).
    Vm,
}

/// The name `init` gives the topology: the file's stem (`orders.kdl` → `orders`), which is what
/// names the outputs without a `topology` line anyway; but for the default `pgtopo.kdl`, or a stem
/// that is not a valid name, the cluster's name, so that the outputs are not all called `pgtopo`.
fn topology_name(path: &std::path::Path, cluster: &str) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if stem != "pgtopo" && pgtopo::check::valid_name(&stem) {
        stem
    } else {
        cluster.to_owned()
    }
}

/// The topology text for these flags. Addresses on VMs come from 192.0.2.0/24 (TEST-NET-1, reserved
/// for documentation), so a generated file never points at a real network by accident.
fn topology(a: &Args, name: &str) -> Result<String, String> {
    if a.sync >= a.nodes {
        return Err(format!(
            "--sync {} needs at least {} nodes (one primary plus the sync standbys)",
            a.sync,
            a.sync + 1
        ));
    }
    let failover = a.failover.clone().unwrap_or_else(|| {
        match a.target {
            InitTarget::Vm => "patroni",
            InitTarget::Kubernetes => "pg_auto_failover",
            // CloudNativePG (the Helm default for these) promotes standbys itself.
            InitTarget::Helm => "none",
            InitTarget::Compose => "none",
        }
        .to_owned()
    });
    let n = &a.name;
    let mut s = String::new();
    let targets = match a.target {
        InitTarget::Kubernetes => "\"kubernetes\"",
        InitTarget::Helm => "\"helm\"",
        InitTarget::Compose => "\"compose\"",
        InitTarget::Vm => "\"haproxy\" \"keepalived\"",
    };
    s.push_str(&format!("// {n}: written by `pgtopo init`; see docs/language.md for every setting.\n\n// Names the outputs: `pgtopo build --out out/` writes out/{name}/.\ntopology \"{name}\"\ntargets {targets}\n\ncluster \"{n}\" {{\n"));
    s.push_str(&format!("    postgres version={}\n", a.version));
    match a.target {
        InitTarget::Kubernetes => s.push_str(&format!(
            "    namespace \"{n}\"\n    credentials secret=\"{n}-credentials\"\n"
        )),
        // CloudNativePG promotes standbys and creates its credential Secrets itself.
        InitTarget::Helm => s.push_str(&format!(
            "    namespace \"{n}\"\n    // CloudNativePG promotes standbys and creates its own credential Secrets.\n"
        )),
        InitTarget::Compose => s.push_str("    credentials env-file=\".env\"\n"),
        InitTarget::Vm => s.push_str(&format!(
            "    credentials env-file=\"/etc/pgtopo/{n}.env\"\n"
        )),
    }
    s.push('\n');
    if failover == "patroni" {
        s.push_str("    failover \"patroni\" {\n        dcs \"etcd\" {\n            endpoint \"192.0.2.31:2379\"\n            endpoint \"192.0.2.32:2379\"\n            endpoint \"192.0.2.33:2379\"\n        }\n    }\n");
    } else {
        s.push_str(&format!("    failover \"{failover}\"\n"));
    }
    s.push_str("    replication {\n");
    if a.sync > 0 {
        s.push_str(&format!(
            "        synchronous method=\"any\" count={}\n",
            a.sync
        ));
    }
    s.push_str("        slots #true\n    }\n\n");
    for i in 0..a.nodes {
        // CloudNativePG chooses its synchronous standbys among all of them, so on Helm every
        // standby is in the synchronous set and `count` says how many must confirm.
        let in_sync_set = if a.target == InitTarget::Helm {
            a.sync > 0
        } else {
            i <= a.sync
        };
        let role = if i == 0 {
            "primary"
        } else if in_sync_set {
            "sync"
        } else {
            "async"
        };
        let extra = match a.target {
            InitTarget::Vm => format!(" host=\"192.0.2.{}\"", 11 + i),
            InitTarget::Compose => format!(" port={}", 5432 + i),
            _ => String::new(),
        };
        s.push_str(&format!("    node \"{n}-{i}\" role=\"{role}\"{extra}\n"));
    }
    s.push('\n');
    match a.target {
        InitTarget::Vm => s.push_str("    pooler \"pgbouncer\" kind=\"pgbouncer\" target=\"local\" port=6432 mode=\"transaction\" {\n        pool size=20 reserve=5 max-client-conn=1000\n    }\n\n    balancer \"haproxy\" {\n        host \"lb1\" address=\"192.0.2.21\" priority=150\n        host \"lb2\" address=\"192.0.2.22\" priority=100\n        listen \"rw\" port=5000 target=\"primary\"\n        listen \"ro\" port=5001 target=\"replicas\" fallback=\"primary\"\n        stats port=7000\n        vip \"192.0.2.100/24\" interface=\"eth0\" router-id=51\n    }\n"),
        _ => {
            s.push_str("    resources {\n        requests cpu=\"250m\" memory=\"512Mi\"\n        limits cpu=\"1\" memory=\"1Gi\"\n    }\n    storage size=\"10Gi\"\n");
            if a.target == InitTarget::Kubernetes && a.nodes > 1 {
                s.push_str("    pdb min-available=1\n");
            }
            // CloudNativePG's poolers listen on 5432.
            let port = if a.target == InitTarget::Helm { 5432 } else { 6432 };
            s.push_str(&format!("\n    pooler \"pgbouncer\" kind=\"pgbouncer\" target=\"primary\" port={port} mode=\"transaction\" {{\n        pool size=20 reserve=5 max-client-conn=200\n    }}\n"));
        }
    }
    s.push_str("}\n");
    Ok(s)
}

pub fn run(ctx: &Ctx, args: &Args) -> Exit {
    let path = ctx.topology_path().path;
    let text = match topology(args, &topology_name(&path, &args.name)) {
        Ok(t) => t,
        Err(msg) => {
            eprintln!("pgtopo init: {msg}");
            return Exit::Usage;
        }
    };
    // The promise of init is a lint-clean file; hold it to that before writing anything.
    let c = compile(&text);
    if c.has_errors() {
        eprintln!("pgtopo init: these flags give a topology that does not lint clean:");
        eprint!(
            "{}",
            pgtopo::diag::render_human(
                &c.diagnostics,
                "(pgtopo init)",
                &std::sync::Arc::new(text),
                ctx.color
            )
        );
        return Exit::Usage;
    }
    if args.stdout {
        return super::write_stdout(ctx, &text)
            .err()
            .unwrap_or(Exit::Success);
    }
    if path.exists() {
        eprintln!(
            "pgtopo init: {} exists; not overwriting it (use --stdout, or -f NEW.kdl)",
            path.display()
        );
        return Exit::Usage;
    }
    match std::fs::write(&path, text) {
        Ok(()) => {
            eprintln!(
                "wrote {}; next: pgtopo -f {} lint",
                path.display(),
                path.display()
            );
            Exit::Success
        }
        Err(e) => ctx.io_error(&path, "written", &e),
    }
}
