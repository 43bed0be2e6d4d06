//! The kubernetes target checked by its real consumers: `kubectl kustomize` builds the base and
//! every overlay of every topology that declares the target, the result equals `pgtopo build ENV`
//! document for document (in the same order), and `kubernetes-validate --strict` accepts every
//! document for Kubernetes 1.33. Invariants no schema checks are asserted on the built documents.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use pgtopo::emit::{self, Options, Program};
use pgtopo::model::Target;
use serde::Deserialize;
use serde_json::Value;

fn kube_programs() -> Vec<(String, Program)> {
    let v: Vec<(String, Program)> = common::topologies()
        .into_iter()
        .map(|(n, p)| (n, common::program(&p)))
        .filter(|(_, p)| p.base.has_target(Target::Kubernetes))
        .collect();
    assert!(
        v.iter().any(|(n, _)| n == "mirror-db") && v.iter().any(|(n, _)| n == "bitnami-ha"),
        "mirror-db and bitnami-ha declare the kubernetes target"
    );
    let mut v = v;
    // A fixture that exercises the overlay cases the shipped topologies do not reach.
    let edges = common::repo().join("tests/fixtures/kubernetes/overlay-edges.kdl");
    v.push(("overlay-edges".to_owned(), common::program(&edges)));
    // An env that changes what another cluster restores from.
    let restore = common::repo().join("tests/fixtures/kubernetes/restore-env.kdl");
    v.push(("restore-env".to_owned(), common::program(&restore)));
    v
}

fn parse_docs(text: &str) -> Vec<Value> {
    serde_yaml::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).expect("valid YAML document"))
        .filter(|v| !v.is_null())
        .collect()
}

fn write_tree(name: &str, p: &Program) -> std::path::PathBuf {
    let dir = common::temp_dir(&format!("k8s-{name}"));
    let bundle = emit::files(Target::Kubernetes, p).expect("kubernetes target renders");
    for (path, text) in bundle.iter() {
        let f = dir.join(path);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, text).unwrap();
    }
    dir
}

/// (label, kustomize dir, env) for the base and every env.
fn builds(p: &Program) -> Vec<(String, String, Option<String>)> {
    let mut v = vec![("base".to_owned(), "base".to_owned(), None)];
    for e in &p.envs {
        let n = e.env.clone().unwrap();
        v.push((n.clone(), format!("overlays/{n}"), Some(n)));
    }
    v
}

fn kustomize(dir: &Path) -> String {
    let (ok, out) = common::run(Command::new("kubectl").arg("kustomize").arg(dir));
    assert!(ok, "kubectl kustomize {} failed:\n{out}", dir.display());
    out
}

#[test]
fn stdout_equals_kubectl_kustomize_of_the_written_tree() {
    if !common::have_tool("kubectl") {
        return;
    }
    for (name, p) in kube_programs() {
        let dir = write_tree(&name, &p);
        for (label, sub, env) in builds(&p) {
            let built_text = kustomize(&dir.join(&sub));
            let printed_text =
                emit::stdout(Target::Kubernetes, &p, env.as_deref(), &Options::default()).unwrap();
            let built = parse_docs(&built_text);
            let printed = parse_docs(&printed_text);
            assert!(!printed.is_empty(), "{name} {label}: nothing printed");
            if built != printed {
                let b: Vec<String> = built
                    .iter()
                    .map(|d| serde_json::to_string_pretty(d).unwrap())
                    .collect();
                let q: Vec<String> = printed
                    .iter()
                    .map(|d| serde_json::to_string_pretty(d).unwrap())
                    .collect();
                let diff = similar::TextDiff::from_lines(&b.join("\n---\n"), &q.join("\n---\n"))
                    .unified_diff()
                    .header("kubectl kustomize", "pgtopo build")
                    .to_string();
                panic!(
                    "{name} {label}: pgtopo build differs from kubectl kustomize {sub}:\n{diff}"
                );
            }
            // Beyond equal documents, the bytes match too (same key order, quoting and block
            // style), so a `diff` of the two is empty.
            if built_text != printed_text {
                let diff = similar::TextDiff::from_lines(&built_text, &printed_text)
                    .unified_diff()
                    .header("kubectl kustomize", "pgtopo build")
                    .to_string();
                panic!("{name} {label}: same documents, different text:\n{diff}");
            }
        }
    }
}

#[test]
fn every_built_document_passes_kubernetes_validate_strict() {
    if !common::have_tool("kubectl") || !common::have_tool("kubernetes-validate") {
        return;
    }
    for (name, p) in kube_programs() {
        let dir = write_tree(&name, &p);
        for (label, sub, env) in builds(&p) {
            // Both what kustomize built and what `pgtopo build` prints: the latter is read by
            // `kubectl apply` with a YAML 1.1 parser, as kubernetes-validate (PyYAML) reads it.
            let printed =
                emit::stdout(Target::Kubernetes, &p, env.as_deref(), &Options::default()).unwrap();
            validate(
                &name,
                &dir,
                &format!("{label}-kustomize"),
                &kustomize(&dir.join(&sub)),
            );
            validate(&name, &dir, &format!("{label}-stdout"), &printed);
        }
    }
}

fn validate(name: &str, dir: &Path, label: &str, out: &str) {
    // One file per document, exactly as printed, so that a failure names the object and
    // nothing is re-serialised on the way.
    let raw: Vec<&str> = out.split("\n---\n").collect();
    let docs = parse_docs(out);
    assert_eq!(raw.len(), docs.len(), "{name} {label}: document split");
    let vdir = dir.join(format!("validate-{label}"));
    std::fs::create_dir_all(&vdir).unwrap();
    let mut paths = Vec::new();
    for (i, (d, text)) in docs.iter().zip(&raw).enumerate() {
        let f = vdir.join(format!(
            "{i:03}-{}-{}.yaml",
            d["kind"].as_str().unwrap(),
            d["metadata"]["name"].as_str().unwrap()
        ));
        std::fs::write(&f, text).unwrap();
        paths.push(f);
    }
    let (ok, text) = common::run(
        Command::new("kubernetes-validate")
            .args(["--strict", "-k", "1.33.0", "--no-warn"])
            .args(&paths),
    );
    assert!(
        ok,
        "{name} {label}: kubernetes-validate --strict failed:\n{text}"
    );
    let passed = text
        .lines()
        .filter(|l| l.starts_with("INFO") && l.contains("passed"))
        .count();
    assert_eq!(
        passed,
        docs.len(),
        "{name} {label}: not every document was validated:\n{text}"
    );
}

fn labels_match(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| labels.get(k) == Some(v)))
}

#[test]
fn internal_invariants_hold_for_every_env() {
    for (name, p) in kube_programs() {
        for (label, _, env) in builds(&p) {
            let docs = parse_docs(
                &emit::stdout(Target::Kubernetes, &p, env.as_deref(), &Options::default()).unwrap(),
            );
            let at = |what: &str| format!("{name} {label}: {what}");
            let workloads: Vec<&Value> = docs
                .iter()
                .filter(|d| matches!(d["kind"].as_str(), Some("StatefulSet" | "Deployment")))
                .collect();
            let names_of = |kind: &str| -> BTreeSet<String> {
                docs.iter()
                    .filter(|d| d["kind"] == kind)
                    .map(|d| d["metadata"]["name"].as_str().unwrap().to_owned())
                    .collect()
            };
            let config_maps = names_of("ConfigMap");
            let secrets: BTreeSet<String> = env
                .as_deref()
                .map_or(&p.base, |e| p.get(Some(e)).unwrap())
                .clusters
                .iter()
                .flat_map(|c| {
                    // A backup repository's keys come from the Secret it names.
                    let repos = c.backup.iter().flat_map(|b| &b.repositories);
                    std::iter::once(c.credentials.secret.value.clone()).chain(
                        repos
                            .filter_map(|r| r.credentials_secret.as_ref().map(|s| s.value.clone())),
                    )
                })
                .collect();

            // Every Service selects the pods of some workload, and its target ports are named
            // container ports of those pods.
            for s in docs.iter().filter(|d| d["kind"] == "Service") {
                let sel = &s["spec"]["selector"];
                let w = workloads
                    .iter()
                    .find(|w| {
                        let tl = &w["spec"]["template"]["metadata"]["labels"];
                        // The role label is set at run time by the labeler, so it is left out.
                        let mut sel = sel.clone();
                        sel.as_object_mut().unwrap().remove("pgtopo.io/role");
                        labels_match(&sel, tl)
                            && w["metadata"]["namespace"] == s["metadata"]["namespace"]
                    })
                    .unwrap_or_else(|| {
                        panic!(
                            "{}",
                            at(&format!(
                                "Service {} selects no pods",
                                s["metadata"]["name"]
                            ))
                        )
                    });
                let ports: BTreeSet<&str> = w["spec"]["template"]["spec"]["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .flat_map(|c| c["ports"].as_array().into_iter().flatten())
                    .map(|p| p["name"].as_str().expect("container ports are named"))
                    .collect();
                for sp in s["spec"]["ports"].as_array().unwrap() {
                    let t = sp["targetPort"].as_str().expect("target ports are names");
                    assert!(
                        ports.contains(t),
                        "{}",
                        at(&format!("Service port {t} is not a container port"))
                    );
                    assert!(sp["name"].is_string(), "{}", at("Service ports are named"));
                }
            }
            // Workload selectors match their own templates.
            for w in &workloads {
                assert!(
                    labels_match(
                        &w["spec"]["selector"]["matchLabels"],
                        &w["spec"]["template"]["metadata"]["labels"]
                    ),
                    "{}",
                    at("workload selector does not match its template")
                );
            }
            // A PDB leaves room for a drain: minAvailable below the replica count.
            for pdb in docs.iter().filter(|d| d["kind"] == "PodDisruptionBudget") {
                let w = workloads
                    .iter()
                    .find(|w| {
                        labels_match(
                            &pdb["spec"]["selector"]["matchLabels"],
                            &w["spec"]["template"]["metadata"]["labels"],
                        )
                    })
                    .unwrap_or_else(|| panic!("{}", at("PDB selects no workload")));
                let replicas = w["spec"]["replicas"].as_i64().unwrap();
                if let Some(m) = pdb["spec"]["minAvailable"].as_i64() {
                    assert!(
                        m < replicas,
                        "{}",
                        at("PDB minAvailable is not below the replicas")
                    );
                } else {
                    assert!(pdb["spec"]["maxUnavailable"].as_i64().unwrap() >= 1);
                }
            }
            // Every ConfigMap and Secret a pod refers to is emitted or is the user's credentials
            // Secret; every container has requests and limits and a pinned image.
            for w in &workloads {
                let spec = &w["spec"]["template"]["spec"];
                for v in spec["volumes"].as_array().into_iter().flatten() {
                    if let Some(cm) = v["configMap"]["name"].as_str() {
                        assert!(
                            config_maps.contains(cm),
                            "{}",
                            at(&format!("ConfigMap {cm} is not emitted"))
                        );
                    }
                    // The one Secret mounted as files is the cluster's `tls` certificate.
                    assert!(
                        v["secret"].is_null() || v["name"] == "tls",
                        "{}",
                        at("secrets are only read through secretKeyRef")
                    );
                }
                let containers = spec["containers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .chain(spec["initContainers"].as_array().into_iter().flatten());
                for c in containers {
                    for e in c["env"].as_array().into_iter().flatten() {
                        // A value made only of `$(VAR)` references to other variables (which
                        // come from the Secret) holds no password either.
                        let references_only = e["value"].as_str().is_some_and(|v| {
                            v.split(',').all(|r| {
                                r.starts_with("$(") && r.ends_with(')') && !r[2..].contains('(')
                            })
                        });
                        assert!(
                            !e["name"].as_str().unwrap().contains("PASSWORD")
                                || e["value"].is_null()
                                || references_only,
                            "{}",
                            at("a password variable has a literal value")
                        );
                        if let Some(s) = e["valueFrom"]["secretKeyRef"]["name"].as_str() {
                            assert!(
                                secrets.contains(s),
                                "{}",
                                at(&format!("Secret {s} is not the credentials Secret"))
                            );
                        }
                    }
                    for k in ["requests", "limits"] {
                        for r in ["cpu", "memory"] {
                            assert!(
                                c["resources"][k][r].is_string(),
                                "{}",
                                at(&format!("container {} has no {k}.{r}", c["name"]))
                            );
                        }
                    }
                    let img = c["image"].as_str().unwrap();
                    let last = img.rsplit('/').next().unwrap();
                    assert!(
                        last.contains(':') && !last.ends_with(":latest"),
                        "{}",
                        at(&format!("image {img} is not pinned"))
                    );
                    // Versioned tags under docker.io/bitnami/ no longer pull (August 2025).
                    assert!(
                        !img.starts_with("bitnami/") && !img.starts_with("docker.io/bitnami/"),
                        "{}",
                        at(&format!("image {img} is a tag Docker Hub no longer serves"))
                    );
                    // Each image runs as its own user: Spilo's postgres is uid 101 (gid 103), not
                    // the official image's 999, whose uid cannot write Spilo's paths.
                    if last.starts_with("spilo") {
                        let psc = &spec["securityContext"];
                        assert_eq!(
                            (psc["runAsUser"].as_i64(), psc["fsGroup"].as_i64()),
                            (Some(101), Some(103)),
                            "{}",
                            at(&format!("{img} runs as its postgres user"))
                        );
                    }
                    let sc = &c["securityContext"];
                    assert_eq!(
                        sc["allowPrivilegeEscalation"],
                        false,
                        "{}",
                        at("privilege escalation")
                    );
                    assert_eq!(
                        sc["capabilities"]["drop"][0],
                        "ALL",
                        "{}",
                        at("capabilities")
                    );
                }
            }
            let text = serde_json::to_string(&docs).unwrap();
            assert!(!text.contains(" trust"), "{}", at("trust authentication"));
        }
    }
}

/// Patroni's own validator accepts the patroni.yml of a Patroni cluster (Kubernetes DCS), with the
/// per-node tags start.sh appends and the variables the pod sets.
#[test]
fn patroni_validates_the_generated_configuration() {
    if !common::have_tool("patroni") {
        return;
    }
    let edges =
        common::program(&common::repo().join("tests/fixtures/kubernetes/overlay-edges.kdl"));
    let docs =
        parse_docs(&emit::stdout(Target::Kubernetes, &edges, None, &Options::default()).unwrap());
    let dir = common::temp_dir("k8s-patroni");
    // A declared image built on the official one, and the pinned Spilo (no image declared).
    for cluster in ["pat", "spilo"] {
        validate_patroni_yml(&docs, &dir, cluster);
    }
}

fn validate_patroni_yml(docs: &[Value], dir: &Path, cluster: &str) {
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == format!("{cluster}-config"))
        .unwrap_or_else(|| panic!("the Patroni cluster {cluster} has a ConfigMap"));
    let yml = cm["data"]["patroni.yml"]
        .as_str()
        .expect("patroni.yml is emitted");
    let file = dir.join(format!("{cluster}-patroni.yml"));
    std::fs::write(
        &file,
        format!("{yml}tags:\n  nosync: false\n  nofailover: false\n  failover_priority: 50\n"),
    )
    .unwrap();
    let (ok, out) = common::run(
        Command::new("patroni")
            .arg("--validate-config")
            .arg(&file)
            .env("PATRONI_NAME", format!("{cluster}-0"))
            .env("PATRONI_POSTGRESQL_CONNECT_ADDRESS", "10.1.2.3:5432")
            .env("PATRONI_RESTAPI_CONNECT_ADDRESS", "10.1.2.3:8008")
            .env("PATRONI_KUBERNETES_NAMESPACE", "apps")
            .env("PATRONI_KUBERNETES_POD_IP", "10.1.2.3")
            .env("PATRONI_SUPERUSER_PASSWORD", "validator-only")
            .env("PATRONI_REPLICATION_PASSWORD", "validator-only")
            .env("PATRONI_REWIND_PASSWORD", "validator-only"),
    );
    assert!(
        ok,
        "patroni --validate-config rejected {cluster}-config's patroni.yml:\n{out}\n{yml}"
    );
}

/// Every script a ConfigMap carries parses in the shell its shebang names (`bash -n`/`sh -n`).
#[test]
fn every_configmap_script_parses() {
    if !common::have_tool("bash") {
        return;
    }
    let mut checked = 0;
    for (name, p) in kube_programs() {
        let dir = common::temp_dir(&format!("k8s-scripts-{name}"));
        for (label, _, env) in builds(&p) {
            let docs = parse_docs(
                &emit::stdout(Target::Kubernetes, &p, env.as_deref(), &Options::default()).unwrap(),
            );
            for cm in docs.iter().filter(|d| d["kind"] == "ConfigMap") {
                for (key, text) in cm["data"].as_object().unwrap() {
                    if !key.ends_with(".sh") {
                        continue;
                    }
                    let text = text.as_str().unwrap();
                    let shell = if text.starts_with("#!/bin/bash") {
                        "bash"
                    } else {
                        "sh"
                    };
                    let f = dir.join(format!(
                        "{label}-{}-{key}",
                        cm["metadata"]["name"].as_str().unwrap()
                    ));
                    std::fs::write(&f, text).unwrap();
                    let (ok, out) = common::run(Command::new(shell).arg("-n").arg(&f));
                    assert!(ok, "{name} {label}: {key} does not parse:\n{out}\n{text}");
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 0, "no script was checked");
}
