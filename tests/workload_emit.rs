//! Workload Jobs on the kubernetes target: never in the default stream, printed with
//! `--with-workloads`, written under `workloads/<base|env>/` where `kubectl kustomize` builds exactly
//! what `pgtopo build --with-workloads` prints for them, and schema-valid.

mod common;

use std::process::Command;

use pgtopo::emit::{self, Options};
use pgtopo::model::Target;

fn program() -> pgtopo::emit::Program {
    common::program(&common::repo().join("topologies/bitnami-ha.kdl"))
}

#[test]
fn jobs_are_only_in_the_stream_when_asked_for() {
    let p = program();
    for env in [None, Some("minikube")] {
        let plain = emit::stdout(Target::Kubernetes, &p, env, &Options::default()).unwrap();
        assert!(!plain.contains("kind: Job"), "{env:?}: a Job by surprise");
        let opts = Options {
            with_workloads: true,
            ..Default::default()
        };
        let with = emit::stdout(Target::Kubernetes, &p, env, &opts).unwrap();
        assert_eq!(with.matches("kind: Job\n").count(), 1, "{env:?}");
        // The verification reaches every pod directly and the standby cluster's primary.
        for node in [
            "- pg-0.pg-ha-headless:5432",
            "- pg-1.pg-ha-headless:5432",
            "- pg-2.pg-ha-headless:5432",
            "- pg-standalone-primary:5432",
        ] {
            assert!(with.contains(node), "{env:?}: {node} is not verified");
        }
        assert!(
            with.contains("value: pg-ha-pgpool:5432"),
            "loads through the pooler"
        );
        assert!(with.contains("total bigint := 100000;"));
    }
}

#[test]
fn workload_trees_build_to_the_printed_jobs_and_validate() {
    if !common::have_tool("kubectl") {
        if common::tools_required() {
            panic!("kubectl is not installed");
        }
        eprintln!("SKIPPED: kubectl is missing");
        return;
    }
    let p = program();
    let dir = common::temp_dir("workload-emit");
    let bundle = emit::files(Target::Kubernetes, &p).unwrap();
    for (path, text) in bundle.iter() {
        let f = dir.join(path);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    // No other kustomization refers to the workloads folder.
    for (path, text) in bundle.iter() {
        if path.ends_with("kustomization.yaml") && !path.starts_with("workloads/") {
            assert!(!text.contains("workloads"), "{path} includes the workloads");
        }
    }
    let opts = Options {
        with_workloads: true,
        ..Default::default()
    };
    let mut models = vec![("base".to_owned(), None)];
    models.extend(
        p.envs
            .iter()
            .map(|e| (e.env.clone().unwrap(), e.env.clone())),
    );
    for (sub, env) in models {
        let (ok, built) = common::run(
            Command::new("kubectl")
                .arg("kustomize")
                .arg(dir.join("workloads").join(&sub)),
        );
        assert!(ok, "kubectl kustomize workloads/{sub}: {built}");
        let printed = emit::stdout(Target::Kubernetes, &p, env.as_deref(), &opts).unwrap();
        let jobs: Vec<&str> = printed
            .split("---\n")
            .filter(|d| {
                d.contains("\nkind: Job\n")
                    || (d.contains("\nkind: ConfigMap\n") && d.contains("pgtopo.io/workload:"))
            })
            .collect();
        assert_eq!(built, jobs.join("---\n"), "workloads/{sub}");
        if common::have_tool("kubernetes-validate") {
            let f = dir.join(format!("validate-{sub}.yaml"));
            std::fs::write(&f, &built).unwrap();
            let (ok, text) = common::run(
                Command::new("kubernetes-validate")
                    .args(["--strict", "-k", "1.33.0", "--no-warn"])
                    .arg(&f),
            );
            assert!(ok, "workloads/{sub}: kubernetes-validate --strict: {text}");
            assert_eq!(text.matches("passed").count(), 2, "{text}");
        } else if common::tools_required() {
            panic!("kubernetes-validate is not installed");
        }
    }
}
