//! The Helm target proven by the charts themselves: every values file pgtopo writes is rendered by
//! `helm template` (Helm 3 and Helm 4, installed by tests/install-validators.sh) with the charts'
//! own sources in `../shared/reference/helm/charts/`, for the base and every env of every topology
//! with the helm target (and tests/fixtures/helm/, which reaches what the examples do not), with
//! `-f values.yaml -f values-<env>.yaml` exactly as each release's README says. Then:
//! - no rendered document has a duplicate key, and YAML 1.1 (kubectl) and YAML 1.2 readers agree
//!   on every one;
//! - built-in kinds pass `kubernetes-validate --strict` for Kubernetes 1.33, and custom resources
//!   (CloudNativePG's Cluster and Pooler, prometheus-operator's PodMonitor, …) their CRD's schema
//!   with every unknown field rejected;
//! - the topology's facts hold in the rendered objects (replicas, synchronous standbys, resources,
//!   storage, poolers, image major, parameters, labels, the standby cluster's source) and every
//!   key the pods read from the release's Secret is listed in its README;
//! - every value pgtopo writes changes the rendered output when it is perturbed, or makes the chart
//!   refuse the values: a value the chart ignores would be a promise the release does not keep.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use pgtopo::bundle::Bundle;
use pgtopo::emit::helm::{cluster_values, values};
use pgtopo::emit::Program;
use pgtopo::model::{Cluster, HelmChart, PoolerTarget, SyncMethod, Target, Topology};
use serde_json::{json, Value as Json};
use serde_yaml::Value;

/// Both Helm majors users run, as installed by tests/install-validators.sh.
const HELMS: &[&str] = &["helm3", "helm4"];
/// The Kubernetes version the charts are rendered for and validated against (as the kubernetes
/// target's tests do).
const KUBE_VERSION: &str = "1.33.0";

fn chart_dir(chart: HelmChart) -> PathBuf {
    common::reference(match chart {
        HelmChart::BitnamiPostgresqlHa => "helm/charts/postgresql-ha",
        HelmChart::BitnamiPostgresql => "helm/charts/postgresql",
        HelmChart::Cnpg => "helm/charts/cluster",
    })
}

/// Every topology with the helm target, and the fixture that exercises every value the target can
/// write.
fn helm_programs() -> Vec<(String, Program)> {
    let mut v: Vec<(String, Program)> = common::topologies()
        .into_iter()
        .map(|(n, p)| (n, common::program(&p)))
        .filter(|(_, p)| p.base.has_target(Target::Helm))
        .collect();
    assert!(
        v.iter().any(|(n, _)| n == "mirror-db") && v.iter().any(|(n, _)| n == "bitnami-ha"),
        "mirror-db and bitnami-ha declare the helm target"
    );
    let fixtures = common::repo().join("tests/fixtures/helm");
    let mut extra: Vec<PathBuf> = std::fs::read_dir(&fixtures)
        .expect("tests/fixtures/helm exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "kdl"))
        .collect();
    extra.sort();
    for path in extra {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        v.push((name, common::program(&path)));
    }
    // An env that changes the repository another release restores from (the fixture
    // kubernetes_validate reads too): that release's env values must follow.
    let restore = common::repo().join("tests/fixtures/kubernetes/restore-env.kdl");
    v.push(("restore-env".to_owned(), common::program(&restore)));
    v
}

fn have_helms() -> bool {
    // Both are checked (not short-circuited) so that a missing one is named.
    let found: Vec<bool> = HELMS.iter().map(|h| common::have_tool(h)).collect();
    found.iter().all(|f| *f)
}

/// One release in one model (the base or an env), with the values files Helm reads for it.
struct Case<'p> {
    /// `topology env release`, for messages.
    label: String,
    topology: &'p str,
    model: &'p Topology,
    cluster: &'p Cluster,
    files: Vec<PathBuf>,
    bundle: &'p Bundle,
}

/// Writes the helm files of every program, and lists a case per release and model.
fn cases<'p>(programs: &'p [(String, Program)], bundles: &'p [Bundle]) -> Vec<Case<'p>> {
    let mut v = Vec::new();
    for ((name, p), bundle) in programs.iter().zip(bundles) {
        let dir = common::temp_dir(&format!("helm-render-{name}"));
        for (path, text) in bundle.iter() {
            let f = dir.join(path);
            std::fs::create_dir_all(f.parent().unwrap()).unwrap();
            std::fs::write(f, text).unwrap();
        }
        for t in p.all() {
            for c in &t.clusters {
                let mut files = vec![dir.join(format!("{}/values.yaml", c.name))];
                if let Some(env) = &t.env {
                    files.push(dir.join(format!("{}/values-{env}.yaml", c.name)));
                }
                for f in &files {
                    assert!(f.exists(), "{name}: {} was not written", f.display());
                }
                v.push(Case {
                    label: format!("{name} {} {}", t.env.as_deref().unwrap_or("base"), c.name),
                    topology: name,
                    model: t,
                    cluster: c,
                    files,
                    bundle,
                });
            }
        }
    }
    v
}

fn bundles(programs: &[(String, Program)]) -> Vec<Bundle> {
    programs
        .iter()
        .map(|(_, p)| pgtopo::emit::helm::files(p).expect("the helm target renders"))
        .collect()
}

/// `helm template` of one release, or the chart's complaint.
fn helm_template(helm: &str, c: &Cluster, files: &[PathBuf]) -> Result<String, String> {
    let mut cmd = Command::new(helm);
    cmd.args(["template", &c.name])
        .arg(chart_dir(c.helm.chart.value))
        .args(["--namespace", &c.namespace.value])
        .args(["--kube-version", KUBE_VERSION]);
    for f in files {
        cmd.arg("-f").arg(f);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {helm}: {e}"));
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).expect("helm prints UTF-8"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `helm install --dry-run=client`: renders the chart's NOTES too, which `helm template` skips.
fn helm_install_dry_run(helm: &str, c: &Cluster, files: &[PathBuf]) -> Result<(), String> {
    let mut cmd = Command::new(helm);
    cmd.args(["install", &c.name])
        .arg(chart_dir(c.helm.chart.value))
        .args(["--namespace", &c.namespace.value, "--dry-run=client"]);
    for f in files {
        cmd.arg("-f").arg(f);
    }
    let (ok, out) = common::run(&mut cmd);
    if ok {
        Ok(())
    } else {
        Err(out)
    }
}

/// One rendered object: the template it came from, its text as Helm printed it, and its value.
struct Doc {
    source: String,
    text: String,
    value: Json,
}

impl Doc {
    fn kind(&self) -> &str {
        self.value["kind"].as_str().unwrap_or("")
    }
    fn name(&self) -> &str {
        self.value["metadata"]["name"].as_str().unwrap_or("")
    }
    fn api_version(&self) -> &str {
        self.value["apiVersion"].as_str().unwrap_or("")
    }
}

/// Splits Helm's output into documents. serde_yaml refuses a mapping with a duplicate key, which
/// Kubernetes' own decoder would either reject or silently resolve to the last one.
fn documents(out: &str) -> Result<Vec<Doc>, String> {
    let mut chunks: Vec<String> = vec![String::new()];
    for line in out.lines() {
        if line == "---" {
            chunks.push(String::new());
        } else {
            let last = chunks.last_mut().unwrap();
            last.push_str(line);
            last.push('\n');
        }
    }
    let mut docs = Vec::new();
    for text in chunks {
        let source = text
            .lines()
            .find_map(|l| l.strip_prefix("# Source: "))
            .unwrap_or("?")
            .to_owned();
        let yaml: Value = serde_yaml::from_str(&text)
            .map_err(|e| format!("{source}: not one valid YAML document: {e}"))?;
        if yaml.is_null() {
            continue;
        }
        let value = serde_json::to_value(&yaml).map_err(|e| format!("{source}: {e}"))?;
        docs.push(Doc {
            source,
            text,
            value,
        });
    }
    Ok(docs)
}

/// Whether an apiVersion belongs to Kubernetes itself (so kubernetes-validate knows the kind).
fn built_in(api_version: &str) -> bool {
    match api_version.split_once('/') {
        None => true,
        Some((group, _)) => !group.contains('.') || group.ends_with(".k8s.io"),
    }
}

/// The CRD schemas of `../shared/reference/helm/charts/crds`, made strict: every object that lists
/// its properties rejects any other (the API server prunes unknown fields silently, which is how a
/// misspelt key would vanish), by `apiVersion/kind`.
fn crd_validators() -> BTreeMap<String, jsonschema::Validator> {
    let dir = common::reference("helm/charts/crds");
    // The ScheduledBackup and Database schemas, which the shared reference lacks, made the same
    // way from the same operator release (tests/fixtures/crds/README.md).
    let more = common::repo().join("tests/fixtures/crds");
    let mut v = BTreeMap::new();
    let files = std::fs::read_dir(&dir)
        .expect("the CRD schemas are readable")
        .chain(std::fs::read_dir(&more).expect("tests/fixtures/crds is readable"));
    for e in files {
        let path = e.unwrap().path();
        if path.extension().is_none_or(|x| x != "json") {
            continue;
        }
        let crd: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut schema = crd["schema"].clone();
        strict(&mut schema);
        let key = format!(
            "{}/{}/{}",
            crd["group"].as_str().unwrap(),
            crd["version"].as_str().unwrap(),
            crd["kind"].as_str().unwrap()
        );
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("{}: schema does not compile: {e}", path.display()));
        v.insert(key, validator);
    }
    assert!(
        v.contains_key("postgresql.cnpg.io/v1/Cluster")
            && v.contains_key("postgresql.cnpg.io/v1/Pooler")
            && v.contains_key("postgresql.cnpg.io/v1/ScheduledBackup")
            && v.contains_key("postgresql.cnpg.io/v1/Database")
            && v.contains_key("monitoring.coreos.com/v1/PodMonitor"),
        "the CRD schemas of CloudNativePG and prometheus-operator are in {}",
        dir.display()
    );
    v
}

/// Adds `additionalProperties: false` to every object schema that lists properties and does not
/// say what else it keeps (`x-kubernetes-preserve-unknown-fields`), recursively.
fn strict(schema: &mut Json) {
    let Some(o) = schema.as_object_mut() else {
        return;
    };
    let preserves = o
        .get("x-kubernetes-preserve-unknown-fields")
        .is_some_and(|x| x == true);
    if o.contains_key("properties") && !o.contains_key("additionalProperties") && !preserves {
        o.insert("additionalProperties".into(), Json::Bool(false));
    }
    for (k, v) in o.iter_mut() {
        match k.as_str() {
            "properties" | "patternProperties" => {
                for (_, p) in v.as_object_mut().into_iter().flatten() {
                    strict(p);
                }
            }
            "items" | "additionalProperties" | "not" => strict(v),
            "anyOf" | "allOf" | "oneOf" => {
                for s in v.as_array_mut().into_iter().flatten() {
                    strict(s);
                }
            }
            _ => {}
        }
    }
}

/// Removes every null-valued field, recursively.
fn prune_nulls(v: &mut Json) {
    match v {
        Json::Object(o) => {
            o.retain(|_, x| !x.is_null());
            o.values_mut().for_each(prune_nulls);
        }
        Json::Array(a) => a.iter_mut().for_each(prune_nulls),
        _ => {}
    }
}

/// A DNS-1123 subdomain (object names) or label (`label == true`).
fn dns1123(s: &str, label: bool) -> bool {
    let max = if label { 63 } else { 253 };
    let part_ok = |p: &str| {
        !p.is_empty()
            && p.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !p.starts_with('-')
            && !p.ends_with('-')
    };
    s.len() <= max
        && if label {
            part_ok(s)
        } else {
            s.split('.').all(part_ok)
        }
}

/// A label value: empty, or at most 63 characters of alphanumerics, `-`, `_`, `.` between
/// alphanumerics.
fn label_value(v: &str) -> bool {
    let alnum = |c: char| c.is_ascii_alphanumeric();
    v.is_empty()
        || (v.len() <= 63
            && v.starts_with(alnum)
            && v.ends_with(alnum)
            && v.chars().all(|c| alnum(c) || "-_.".contains(c)))
}

/// A label key: an optional DNS subdomain prefix and `/`, then a name like a label value.
fn label_key(k: &str) -> bool {
    let (prefix, name) = match k.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(|p| dns1123(p, false)) && !name.is_empty() && label_value(name)
}

/// What the API server checks of a custom resource's metadata (its CRD schema says only
/// `type: object`): the name, the namespace and the labels.
fn metadata_problems(doc: &Doc) -> Vec<String> {
    let mut v = Vec::new();
    let m = &doc.value["metadata"];
    if !dns1123(doc.name(), false) {
        v.push(format!(
            "metadata.name {:?} is not a DNS-1123 subdomain",
            doc.name()
        ));
    }
    if let Some(ns) = m["namespace"].as_str() {
        if !dns1123(ns, true) {
            v.push(format!("metadata.namespace {ns:?} is not a DNS-1123 label"));
        }
    }
    for (k, val) in m["labels"].as_object().into_iter().flatten() {
        match val.as_str() {
            Some(s) if label_key(k) && label_value(s) => {}
            _ => v.push(format!("label {k}={val} is not a valid label")),
        }
    }
    for k in m.as_object().into_iter().flatten().map(|(k, _)| k) {
        if !["name", "namespace", "labels", "annotations"].contains(&k.as_str()) {
            v.push(format!("metadata.{k} is not expected from a chart"));
        }
    }
    v
}

/// Reads documents the way kubectl does (YAML 1.1, here PyYAML from kubernetes-validate's own
/// environment): `on`, `yes`, `0755` and friends mean something else there than to a YAML 1.2
/// reader. Returns each document as JSON, in order.
fn yaml11(files: &[PathBuf]) -> Vec<Json> {
    let kv = which("kubernetes-validate");
    let python = std::fs::canonicalize(&kv)
        .unwrap_or(kv)
        .parent()
        .unwrap()
        .join("python");
    // A plain scalar that looks like a timestamp (a restore's `targetTime:
    // 2026-12-01T10:00:00Z`) stays a string, as Kubernetes' YAML reader (go-yaml v2 into an
    // interface) keeps it; PyYAML would make it a datetime that is not JSON.
    let script = "import sys, json, yaml\n\
                  class L(yaml.SafeLoader): pass\n\
                  L.add_constructor('tag:yaml.org,2002:timestamp', L.construct_yaml_str)\n\
                  for f in sys.argv[1:]:\n    \
                  print(json.dumps(yaml.load(open(f), Loader=L), sort_keys=True))\n";
    let out = Command::new(&python)
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "PyYAML could not read the rendered documents:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn which(tool: &str) -> PathBuf {
    let (ok, out) = common::run(
        Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}")),
    );
    assert!(ok, "{tool} is not on PATH");
    PathBuf::from(out.trim())
}

// ---- facts -------------------------------------------------------------------------------------

fn find<'d>(docs: &'d [Doc], kind: &str, name: &str) -> Option<&'d Doc> {
    docs.iter().find(|d| d.kind() == kind && d.name() == name)
}

/// The container `name` of a pod template holder (StatefulSet, Deployment).
fn container<'d>(doc: &'d Doc, name: &str) -> Option<&'d Json> {
    doc.value["spec"]["template"]["spec"]["containers"]
        .as_array()?
        .iter()
        .find(|c| c["name"] == name)
}

fn env_var<'d>(container: &'d Json, name: &str) -> Option<&'d str> {
    container["env"]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)?["value"]
        .as_str()
}

/// The value a container's process sees for `name`: the kubelet keeps the last definition of a
/// variable, so a later one (a chart's `extraEnvVars`) replaces an earlier one.
fn effective_env<'d>(container: &'d Json, name: &str) -> Option<&'d Json> {
    container["env"]
        .as_array()?
        .iter()
        .rev()
        .find(|e| e["name"] == name)
}

/// With `monitoring`, a bitnami chart runs its exporter container on the declared port, logging
/// in as pgtopo's role ([`exporter_login_fact`]).
fn metrics_facts(v: &mut Vec<String>, sts: &Doc, c: &Cluster) {
    let Some(m) = &c.monitoring else {
        return;
    };
    match container(sts, "metrics") {
        Some(ctr) => {
            expect(
                v,
                "metrics port",
                &ctr["ports"][0]["containerPort"],
                &json!(m.exporter_port.value),
            );
            exporter_login_fact(v, sts, ctr, c);
        }
        None => v.push("monitoring is declared but no metrics container runs".into()),
    }
}

/// The bitnami charts' exporter logs in as pgtopo's `pg_monitor` role with its password from the
/// cluster's Secret, never as the chart's user: as the container sees its environment, and as
/// postgres_exporter reads it (a non-empty password file before a password). A standby cluster
/// has its source's roles and is left as the chart makes it.
fn exporter_login_fact(v: &mut Vec<String>, sts: &Doc, ctr: &Json, c: &Cluster) {
    use pgtopo::model::credentials::{EXPORTER_PASSWORD_KEY, EXPORTER_USER};
    if c.is_standby_cluster() {
        return;
    }
    let user = effective_env(ctr, "DATA_SOURCE_USER").and_then(|e| e["value"].as_str());
    if user != Some(EXPORTER_USER) {
        v.push(format!(
            "the exporter logs in as {user:?}, not {EXPORTER_USER}"
        ));
    }
    let secret = c.credentials.secret.value.as_str();
    let file = effective_env(ctr, "DATA_SOURCE_PASS_FILE")
        .and_then(|e| e["value"].as_str())
        .filter(|f| !f.is_empty());
    let ok = match file {
        // A file: mounted from the Secret's exporter key.
        Some(f) => {
            let (dir, name) = f.rsplit_once('/').unwrap_or(("", f));
            let volumes = sts.value["spec"]["template"]["spec"]["volumes"].as_array();
            ctr["volumeMounts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|m| m["mountPath"].as_str().map(|p| p.trim_end_matches('/')) == Some(dir))
                .filter_map(|m| volumes?.iter().find(|vol| vol["name"] == m["name"]))
                .any(|vol| {
                    let sec = &vol["secret"];
                    sec["secretName"] == secret
                        && match sec["items"].as_array() {
                            None => name == EXPORTER_PASSWORD_KEY,
                            Some(items) => items
                                .iter()
                                .any(|i| i["key"] == EXPORTER_PASSWORD_KEY && i["path"] == name),
                        }
                })
        }
        None => {
            let r = effective_env(ctr, "DATA_SOURCE_PASS").map(|e| &e["valueFrom"]["secretKeyRef"]);
            r.is_some_and(|r| r["name"] == secret && r["key"] == EXPORTER_PASSWORD_KEY)
        }
    };
    if !ok {
        v.push(format!(
            "the exporter's password is not key {EXPORTER_PASSWORD_KEY} of Secret {secret}"
        ));
    }
}

/// The model's resources as Kubernetes writes them, for comparison with a rendered container's.
fn resources_json(r: &pgtopo::model::Resources) -> Option<Json> {
    pgtopo::emit::helm::charts::resources(r).map(|v| serde_json::to_value(v).unwrap())
}

/// The major version in an image tag (`16`, `16.4`, `17.6.0-debian-12-r4`).
fn image_major(image: &str) -> Option<u32> {
    let tag = pgtopo::emit::helm::charts::image_tag(image)?;
    tag.split(['.', '-']).next()?.parse().ok()
}

/// Checks `want` against `got`, pushing a readable problem when they differ.
fn expect(problems: &mut Vec<String>, what: &str, got: &Json, want: &Json) {
    if got != want {
        problems.push(format!("{what}: rendered {got}, the topology says {want}"));
    }
}

/// The facts of one release, in the documents its chart rendered by `helm`. `all` holds every release of the
/// same model rendered by the same Helm, by release name, for the standby cluster's source.
fn facts(helm: &str, case: &Case, docs: &[Doc], all: &BTreeMap<String, Vec<Doc>>) -> Vec<String> {
    let c = case.cluster;
    let mut v = Vec::new();
    let ns = &c.namespace.value;
    for d in docs {
        if let Some(got) = d.value["metadata"]["namespace"].as_str() {
            if got != ns {
                v.push(format!(
                    "{} {}: namespace {got}, not {ns}",
                    d.kind(),
                    d.name()
                ));
            }
        }
        // User labels reach every object the release creates (the chart's own test Job aside).
        if d.source.contains("/tests/") {
            continue;
        }
        for (k, val) in c.user_labels() {
            // A key the chart sets itself stays the chart's (PT154); the YAML reader above has
            // already refused it twice in one mapping.
            if pgtopo::emit::helm::charts::chart_owns_label(c.helm.chart.value, k) {
                continue;
            }
            if d.value["metadata"]["labels"][k] != val {
                v.push(format!(
                    "{} {}: label {k}={val} is missing",
                    d.kind(),
                    d.name()
                ));
            }
        }
    }
    match c.helm.chart.value {
        HelmChart::BitnamiPostgresqlHa => bitnami_ha_facts(case, docs, &mut v),
        HelmChart::BitnamiPostgresql => bitnami_pg_facts(case, docs, all, &mut v),
        HelmChart::Cnpg => {
            cnpg_facts(case, docs, &mut v);
            cnpg_backup_facts(case, docs, all, &mut v);
        }
    }
    if c.helm.chart.value != HelmChart::Cnpg {
        secret_keys_in_readme(case, docs, &mut v);
        // Versioned tags under docker.io/bitnami/ no longer pull (moved to bitnamilegacy in
        // August 2025): every image the release runs must come from where it still does.
        for d in docs {
            let pod = &d.value["spec"]["template"]["spec"];
            for ctr in pod["containers"]
                .as_array()
                .into_iter()
                .chain(pod["initContainers"].as_array())
                .flatten()
            {
                let image = ctr["image"].as_str().unwrap_or("");
                if image.starts_with("docker.io/bitnami/") || image.starts_with("bitnami/") {
                    v.push(format!(
                        "{} {} runs {image}, a tag docker.io/bitnami no longer serves",
                        d.kind(),
                        d.name()
                    ));
                }
            }
        }
        // What `helm install` adds to `helm template`: the chart's NOTES, where the bitnami charts
        // refuse substituted images unless every one is a bitnamilegacy one. (Helm 3's client-side
        // dry run still asks a cluster for its version; Helm 4's does not.)
        if helm == "helm4" {
            if let Err(e) = helm_install_dry_run(helm, c, &case.files) {
                v.push(format!("helm install --dry-run=client fails:\n{e}"));
            }
        }
    }
    v
}

/// A StatefulSet's volume claim size and class.
fn claim_facts(v: &mut Vec<String>, sts: &Doc, c: &Cluster) {
    let claim = &sts.value["spec"]["volumeClaimTemplates"][0]["spec"];
    expect(
        v,
        &format!("{} storage", sts.name()),
        &claim["resources"]["requests"]["storage"],
        &json!(c.storage.size.value),
    );
    expect(
        v,
        &format!("{} storage class", sts.name()),
        &claim["storageClassName"],
        &c.storage
            .class
            .as_ref()
            .map_or(Json::Null, |s| json!(s.value)),
    );
}

fn image_fact(v: &mut Vec<String>, what: &str, ctr: &Json, c: &Cluster) {
    let image = ctr["image"].as_str().unwrap_or("");
    if image_major(image) != Some(c.postgres.version.value) {
        v.push(format!(
            "{what}: image {image} is not PostgreSQL {}",
            c.postgres.version.value
        ));
    }
}

fn pdb_fact(v: &mut Vec<String>, docs: &[Doc], name: &str, c: &Cluster) {
    if let Some(pdb) = &c.pdb {
        match find(docs, "PodDisruptionBudget", name) {
            Some(d) => expect(
                v,
                &format!("PodDisruptionBudget {name} minAvailable"),
                &d.value["spec"]["minAvailable"],
                &json!(pdb.min_available.value),
            ),
            None => v.push(format!("no PodDisruptionBudget {name}")),
        }
    }
}

fn bitnami_ha_facts(case: &Case, docs: &[Doc], v: &mut Vec<String>) {
    let c = case.cluster;
    let sts_name = format!("{}-postgresql", c.name);
    let Some(sts) = find(docs, "StatefulSet", &sts_name) else {
        v.push(format!("no StatefulSet {sts_name}"));
        return;
    };
    expect(
        v,
        "postgresql replicas",
        &sts.value["spec"]["replicas"],
        &json!(c.nodes.len()),
    );
    let Some(pg) = container(sts, "postgresql") else {
        v.push("no postgresql container".into());
        return;
    };
    image_fact(v, "postgresql", pg, c);
    // The chart makes every standby synchronous when syncReplication is on (PT150 says so).
    let sync = c.replication.synchronous.is_some() && c.sync_nodes().next().is_some();
    let standbys = c.nodes.len() - 1;
    expect(
        v,
        "POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS",
        &json!(env_var(pg, "POSTGRESQL_NUM_SYNCHRONOUS_REPLICAS")),
        &if sync {
            json!(standbys.to_string())
        } else {
            Json::Null
        },
    );
    if let Some(s) = c.replication.synchronous.as_ref().filter(|_| sync) {
        let mode = match s.method.value {
            SyncMethod::Any => "ANY",
            SyncMethod::First => "FIRST",
        };
        expect(
            v,
            "POSTGRESQL_SYNCHRONOUS_REPLICAS_MODE",
            &json!(env_var(pg, "POSTGRESQL_SYNCHRONOUS_REPLICAS_MODE")),
            &json!(mode),
        );
    }
    if let Some(db) = c.databases.first() {
        expect(
            v,
            "POSTGRES_DB",
            &json!(env_var(pg, "POSTGRES_DB")),
            &json!(db.name),
        );
    }
    expect(
        v,
        "postgresql resources",
        &pg["resources"],
        &resources_json(&c.resources).unwrap_or(pg["resources"].clone()),
    );
    claim_facts(v, sts, c);
    extended_conf_fact(
        v,
        docs,
        &format!("{}-postgresql-extended-configuration", c.name),
        c,
    );
    pdb_fact(v, docs, &sts_name, c);
    access_facts(docs, sts, v, c);
    metrics_facts(v, sts, c);
    // The pooler: the chart's one Pgpool-II Deployment and its Service.
    let pooler = pgtopo::emit::helm::bitnami_ha::rendered_pooler(c);
    let dep_name = format!("{}-pgpool", c.name);
    let Some(dep) = find(docs, "Deployment", &dep_name) else {
        v.push(format!("no Deployment {dep_name}"));
        return;
    };
    pgpool_users_fact(dep, v, c);
    pool_hba_fact(docs, dep, v, c);
    if let Some(p) = pooler {
        expect(
            v,
            "pgpool replicas",
            &dep.value["spec"]["replicas"],
            &json!(p.replicas.value),
        );
        let ctr = container(dep, "pgpool").cloned().unwrap_or_default();
        expect(
            v,
            "PGPOOL_NUM_INIT_CHILDREN",
            &json!(env_var(&ctr, "PGPOOL_NUM_INIT_CHILDREN")),
            &json!(p.pool.max_client_conn.value.to_string()),
        );
        expect(
            v,
            "PGPOOL_MAX_POOL",
            &json!(env_var(&ctr, "PGPOOL_MAX_POOL")),
            &json!(p.pool.size.value.to_string()),
        );
        if let Some(r) = resources_json(&p.resources) {
            expect(v, "pgpool resources", &ctr["resources"], &r);
        }
        if c.tls.as_ref().is_some_and(|t| t.secret.is_some()) {
            expect(
                v,
                "PGPOOL_ENABLE_TLS",
                &json!(env_var(&ctr, "PGPOOL_ENABLE_TLS")),
                &json!("yes"),
            );
        }
        match find(docs, "Service", &dep_name) {
            Some(s) => expect(
                v,
                "pgpool Service port",
                &s.value["spec"]["ports"][0]["port"],
                &json!(p.port.value),
            ),
            None => v.push(format!("no Service {dep_name}")),
        }
    }
}

/// Every login role reaches the database through Pgpool-II, which logs clients in against its own
/// password file: the chart's user, or a custom user whose password Kubernetes expands from a
/// variable set earlier from the cluster's Secret.
fn pgpool_users_fact(dep: &Doc, v: &mut Vec<String>, c: &Cluster) {
    let Some(ctr) = container(dep, "pgpool") else {
        v.push("no pgpool container".into());
        return;
    };
    let env: Vec<&Json> = ctr["env"].as_array().into_iter().flatten().collect();
    let users: Vec<&str> =
        env_var(ctr, "PGPOOL_POSTGRES_CUSTOM_USERS").map_or(Vec::new(), |u| u.split(',').collect());
    let passwords: Vec<&str> = env_var(ctr, "PGPOOL_POSTGRES_CUSTOM_PASSWORDS")
        .map_or(Vec::new(), |p| p.split(',').collect());
    if users.len() != passwords.len() {
        v.push(format!(
            "Pgpool-II has {} custom users and {} passwords",
            users.len(),
            passwords.len()
        ));
    }
    let pos = |name: &str| env.iter().position(|e| e["name"] == name);
    let custom_at = pos("PGPOOL_POSTGRES_CUSTOM_PASSWORDS").unwrap_or(0);
    for p in &passwords {
        let var = p
            .strip_prefix("$(")
            .and_then(|p| p.strip_suffix(')'))
            .unwrap_or("");
        match pos(var) {
            Some(i)
                if i < custom_at
                    && env[i]["valueFrom"]["secretKeyRef"]["name"]
                        == c.credentials.secret.value.as_str() => {}
            _ => v.push(format!(
                "Pgpool-II's custom password {p} is no Secret-sourced variable defined before it"
            )),
        }
    }
    let chart_user = pgtopo::emit::helm::bitnami_ha::username(c);
    for r in pgtopo::plan::access::login_roles(c) {
        if r.login
            && r.password
            && !r.replication
            && r.name != chart_user
            && !users.contains(&r.name.as_str())
        {
            v.push(format!(
                "role {} cannot log in through Pgpool-II: not among its users",
                r.name
            ));
        }
    }
}

/// Pgpool-II applies the cluster's client rules itself (it sees its clients' addresses): the
/// pool_hba.conf it reads holds the plan's local and loopback rows, then the `hba` rules as
/// written (the pod network's rows without a block), and nothing open to every address.
fn pool_hba_fact(docs: &[Doc], dep: &Doc, v: &mut Vec<String>, c: &Cluster) {
    use pgtopo::plan::access;
    let Some(ctr) = container(dep, "pgpool") else {
        return;
    };
    let path = env_var(ctr, "PGPOOL_USER_HBA_FILE").unwrap_or("");
    let Some((dir, file)) = path.rsplit_once('/') else {
        v.push("Pgpool-II reads no pool_hba.conf of the release (PGPOOL_USER_HBA_FILE)".into());
        return;
    };
    let volumes = dep.value["spec"]["template"]["spec"]["volumes"].as_array();
    let text = ctr["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["mountPath"].as_str().map(|p| p.trim_end_matches('/')) == Some(dir))
        .filter_map(|m| {
            volumes?.iter().find(|vol| vol["name"] == m["name"])?["configMap"]["name"].as_str()
        })
        .find_map(|cm| find(docs, "ConfigMap", cm)?.value["data"][file].as_str());
    let Some(text) = text else {
        v.push(format!(
            "no ConfigMap is mounted where Pgpool-II reads {path}"
        ));
        return;
    };
    let net = access::Network::Pods;
    let run = pgtopo::emit::helm::bitnami_access::components(c);
    let mut want: Vec<String> = access::own_rows(c, &net, run)
        .iter()
        .filter(|r| {
            (r.kind == "local" && r.method != "peer")
                || r.address.starts_with("127.")
                || r.address.starts_with("::1/")
        })
        .map(|r| r.line())
        .collect();
    let clients = access::rule_rows(c).unwrap_or_else(|| access::client_rows(c, &net));
    want.extend(
        clients
            .iter()
            .filter(|r| r.method != "cert")
            .map(|r| r.line()),
    );
    let lines = hba_lines(text);
    if lines != want {
        v.push(format!(
            "Pgpool-II's pool_hba.conf holds {lines:#?}, the rules say {want:#?}"
        ));
    }
}

/// The text of the ConfigMap that volume `vol` of the pod holds, with the folder the postgresql
/// container mounts it at, when it does.
fn mounted_config_map<'d>(
    docs: &'d [Doc],
    sts: &Doc,
    pg: &Json,
    vol: &Json,
) -> Option<(&'d Doc, String)> {
    let cm = vol["configMap"]["name"].as_str()?;
    let mount = pg["volumeMounts"]
        .as_array()?
        .iter()
        .find(|m| m["name"] == vol["name"])?;
    let doc = find(docs, "ConfigMap", cm)?;
    let _ = sts;
    Some((
        doc,
        mount["mountPath"]
            .as_str()?
            .trim_end_matches('/')
            .to_owned(),
    ))
}

/// The rows of a pg_hba.conf text, with single spaces and no comments.
fn hba_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

/// The access the cluster declares, in what a bitnami chart rendered: the init script in
/// /docker-entrypoint-initdb.d creates every role and database of the stack plan's bootstrap
/// (limits, memberships, extensions) with every password it reads set from the cluster's Secret;
/// the pg_hba.conf the container mounts holds pgtopo's rows for the pod network (repmgr's
/// included), Pgpool-II's own logins and every client row, and nothing open to every address;
/// with `tls secret=` the Secret is mounted, TLS is on and the CA checks client certificates.
fn access_facts(docs: &[Doc], sts: &Doc, v: &mut Vec<String>, c: &Cluster) {
    use pgtopo::plan::access;
    let Some(pg) = container(sts, "postgresql") else {
        return;
    };
    let volumes: Vec<&Json> = sts.value["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let mounted: Vec<(&Doc, String)> = volumes
        .iter()
        .filter_map(|vol| mounted_config_map(docs, sts, pg, vol))
        .collect();
    let file = |dir: &str, key: &str| {
        mounted
            .iter()
            .filter(|(_, m)| m == dir)
            .find_map(|(d, _)| d.value["data"][key].as_str().map(str::to_owned))
    };

    // The roles and databases: the init script.
    let init = mounted
        .iter()
        .filter(|(_, m)| m == "/docker-entrypoint-initdb.d")
        .flat_map(|(d, _)| d.value["data"].as_object().into_iter().flatten())
        .filter_map(|(_, t)| t.as_str())
        .collect::<String>();
    let bootstraps = pgtopo::emit::helm::bitnami_access::bootstraps(c);
    if !bootstraps {
        if !init.is_empty() {
            v.push("a standby cluster runs an init script".into());
        }
    } else if init.is_empty() {
        v.push("no init script is mounted at /docker-entrypoint-initdb.d".into());
    } else {
        // The roles of the components the release runs, and no other (the charts run their
        // own Pgpool-II, whose checks log in as the chart's roles).
        let run = pgtopo::emit::helm::bitnami_access::components(c);
        let roles = access::bootstrap_roles_for(c, run);
        for r in access::bootstrap_roles(c) {
            let created = format!(
                "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{}')",
                r.name
            );
            if !roles.contains(&r) && init.contains(&created) {
                v.push(format!(
                    "the init script creates role {}, which no part of the release uses",
                    r.name
                ));
            }
        }
        for r in roles {
            let want = format!(
                "WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{}')",
                r.name
            );
            if !init.contains(&want) {
                v.push(format!("the init script does not create role {}", r.name));
            }
            if r.connection_limit >= 0 && c.role(&r.name).is_some() {
                let want = format!("ALTER ROLE \"{}\" WITH", r.name);
                let limit = format!("CONNECTION LIMIT {};", r.connection_limit);
                if !init
                    .lines()
                    .any(|l| l.starts_with(&want) && l.ends_with(&limit))
                {
                    v.push(format!(
                        "the init script does not set role {}'s {limit}",
                        r.name
                    ));
                }
            }
            for m in &r.member_of {
                if !init.contains(&format!("GRANT \"{m}\" TO \"{}\";", r.name)) {
                    v.push(format!("the init script does not grant {m} to {}", r.name));
                }
            }
        }
        for d in &c.databases {
            let owner = d.owner.as_ref().map_or(String::new(), |o| {
                format!(" OWNER %I', '{}', '{}')", d.name, o.value)
            });
            let want = format!(
                "WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '{}')",
                d.name
            );
            if !init.contains(&want) || !init.contains(&owner) {
                v.push(format!(
                    "the init script does not create database {} as declared",
                    d.name
                ));
            }
            if let Some(l) = &d.connection_limit {
                if !init.contains(&format!(
                    "ALTER DATABASE \"{}\" CONNECTION LIMIT {};",
                    d.name, l.value
                )) {
                    v.push(format!(
                        "the init script does not set database {}'s limit",
                        d.name
                    ));
                }
            }
            for e in d
                .extensions
                .iter()
                .filter(|e| access::is_extension(&e.value))
            {
                if !init.contains(&format!("CREATE EXTENSION IF NOT EXISTS \"{}\";", e.value)) {
                    v.push(format!(
                        "the init script does not create extension {} in {}",
                        e.value, d.name
                    ));
                }
            }
        }
        // Every password the script reads is in the container's environment, from the Secret.
        let secret = &c.credentials.secret.value;
        for part in init.split("${").skip(1) {
            let Some((var, _)) = part.split_once(":?") else {
                continue;
            };
            if !var.starts_with("PGTOPO_") {
                continue;
            }
            let set = pg["env"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|e| e["name"] == var);
            match set.map(|e| &e["valueFrom"]["secretKeyRef"]) {
                Some(r) if r["name"] == secret.as_str() && r["key"].is_string() => {}
                _ => v.push(format!(
                    "the init script reads {var}, which no key of Secret {secret} sets"
                )),
            }
        }
    }
    if let Some(libs) = access::preload_libraries(c) {
        let got = env_var(pg, "POSTGRESQL_SHARED_PRELOAD_LIBRARIES").unwrap_or("");
        if !got.ends_with(&libs) {
            v.push(format!(
                "shared_preload_libraries is {got:?}, without {libs}"
            ));
        }
    }

    // The client rules: the mounted pg_hba.conf.
    let dir = match c.helm.chart.value {
        HelmChart::BitnamiPostgresqlHa => "/bitnami/repmgr/conf",
        _ => "/bitnami/postgresql/conf",
    };
    match file(dir, "pg_hba.conf") {
        None => v.push(format!("no pg_hba.conf is mounted at {dir}")),
        Some(text) => {
            let lines = hba_lines(&text);
            let net = access::Network::Pods;
            let run = pgtopo::emit::helm::bitnami_access::components(c);
            let mut want: Vec<access::HbaRow> = access::own_rows(c, &net, run);
            if c.helm.chart.value == HelmChart::BitnamiPostgresqlHa {
                let logins = pgtopo::emit::helm::bitnami_ha::pgpool_logins(c);
                let logins: Vec<(&str, &str)> = logins
                    .iter()
                    .map(|(d, u)| (d.as_str(), u.as_str()))
                    .collect();
                want.extend(access::component_rows(c, &net, &logins));
            }
            want.extend(access::client_rows(c, &net));
            let want: Vec<String> = want.iter().map(|r| r.line()).collect();
            if lines != want {
                v.push(format!(
                    "pg_hba.conf holds {lines:#?}, the stack plan says {want:#?}"
                ));
            }
            if lines.iter().any(|l| {
                (l.contains(" 0.0.0.0/0 ") || l.contains(" ::/0 ")) && !l.ends_with(" reject")
            }) {
                v.push("pg_hba.conf lets every address in".into());
            }
        }
    }

    // The server certificate.
    let Some(secret) = c.tls.as_ref().and_then(|t| t.secret.as_ref()) else {
        return;
    };
    if !volumes
        .iter()
        .any(|vol| vol["secret"]["secretName"] == secret.value.as_str())
    {
        v.push(format!("the TLS Secret {} is not mounted", secret.value));
    }
    expect(
        v,
        "POSTGRESQL_ENABLE_TLS",
        &json!(env_var(pg, "POSTGRESQL_ENABLE_TLS")),
        &json!("yes"),
    );
    let conf = mounted
        .iter()
        .flat_map(|(d, _)| d.value["data"].as_object().into_iter().flatten())
        .filter_map(|(_, t)| t.as_str())
        .collect::<String>();
    if !conf.contains("ssl_ca_file = '/opt/bitnami/postgresql/certs/ca.crt'") {
        v.push("no mounted configuration sets ssl_ca_file to the Secret's CA".into());
    }
}

/// The cluster's parameters reach PostgreSQL through the chart's extended configuration.
fn extended_conf_fact(v: &mut Vec<String>, docs: &[Doc], cm: &str, c: &Cluster) {
    if c.parameters.is_empty() {
        return;
    }
    let Some(d) = docs
        .iter()
        .find(|d| d.kind() == "ConfigMap" && d.name() == cm)
    else {
        v.push(format!(
            "parameters are declared but there is no ConfigMap {cm}"
        ));
        return;
    };
    let text = d.value["data"]
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(_, x)| x.as_str())
        .collect::<String>();
    for (k, p) in &c.parameters {
        let line = format!("{k} = {}", p.to_conf());
        if !text.lines().any(|l| l.trim() == line) {
            v.push(format!("ConfigMap {cm} lacks `{line}`"));
        }
    }
}

fn bitnami_pg_facts(
    case: &Case,
    docs: &[Doc],
    all: &BTreeMap<String, Vec<Doc>>,
    v: &mut Vec<String>,
) {
    let c = case.cluster;
    let Some(sts) = find(docs, "StatefulSet", &c.name) else {
        v.push(format!("no StatefulSet {}", c.name));
        return;
    };
    expect(v, "replicas", &sts.value["spec"]["replicas"], &json!(1));
    let Some(pg) = container(sts, "postgresql") else {
        v.push("no postgresql container".into());
        return;
    };
    image_fact(v, "postgresql", pg, c);
    if let Some(r) = resources_json(&c.resources) {
        expect(v, "postgresql resources", &pg["resources"], &r);
    }
    claim_facts(v, sts, c);
    extended_conf_fact(v, docs, &format!("{}-extended-configuration", c.name), c);
    pdb_fact(v, docs, &c.name, c);
    access_facts(docs, sts, v, c);
    metrics_facts(v, sts, c);
    // A standby cluster streams from a Service its source's release really creates, on the port
    // that Service really listens on.
    let Some(source) = c.replica_of.as_ref() else {
        return;
    };
    expect(
        v,
        "POSTGRES_REPLICATION_MODE",
        &json!(env_var(pg, "POSTGRES_REPLICATION_MODE")),
        &json!("slave"),
    );
    let host = env_var(pg, "POSTGRES_MASTER_HOST").unwrap_or("");
    let port = env_var(pg, "POSTGRES_MASTER_PORT_NUMBER").unwrap_or("");
    let Some(src_docs) = all.get(&source.value) else {
        v.push(format!(
            "the source release {} was not rendered",
            source.value
        ));
        return;
    };
    let mut parts = host.splitn(3, '.');
    let (svc, svc_ns) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    match find(src_docs, "Service", svc) {
        Some(s) if s.value["metadata"]["namespace"] == svc_ns => {
            let ports: Vec<String> = s.value["spec"]["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| p["port"].to_string())
                .collect();
            if !ports.contains(&port.to_owned()) {
                v.push(format!(
                    "the standby streams from {host}:{port}, but Service {svc} of release {} listens on {ports:?}",
                    source.value
                ));
            }
        }
        _ => v.push(format!(
            "the standby streams from {host}, which release {} does not create",
            source.value
        )),
    }
}

fn cnpg_facts(case: &Case, docs: &[Doc], v: &mut Vec<String>) {
    let c = case.cluster;
    let copy = pgtopo::emit::helm::cnpg::is_copy(case.model, c);
    let Some(cl) = find(docs, "Cluster", &c.name) else {
        v.push(format!("no Cluster {}", c.name));
        return;
    };
    let spec = &cl.value["spec"];
    expect(v, "instances", &spec["instances"], &json!(c.nodes.len()));
    let image = spec["imageName"].as_str().unwrap_or("");
    if image_major(image) != Some(c.postgres.version.value) {
        v.push(format!(
            "image {image} is not PostgreSQL {}",
            c.postgres.version.value
        ));
    }
    expect(
        v,
        "storage size",
        &spec["storage"]["size"],
        &json!(c.storage.size.value),
    );
    expect(
        v,
        "storage class",
        &spec["storage"]["storageClass"],
        &c.storage
            .class
            .as_ref()
            .map_or(Json::Null, |s| json!(s.value)),
    );
    if let Some(r) = resources_json(&c.resources) {
        expect(v, "resources", &spec["resources"], &r);
    }
    let sync = pgtopo::emit::helm::cnpg::synchronous(c)
        .map(|(m, n)| json!({"method": m.as_str(), "number": n}));
    expect(
        v,
        "synchronous",
        &spec["postgresql"]["synchronous"],
        &sync.unwrap_or(Json::Null),
    );
    for (k, p) in &c.parameters {
        // The operator's fixed parameters are left out (PT154): the webhook would refuse them.
        let fixed = pgtopo::emit::helm::charts::CNPG_FIXED_PARAMETERS.contains(&k.as_str());
        expect(
            v,
            &format!("parameter {k}"),
            &spec["postgresql"]["parameters"][k],
            &if fixed {
                Json::Null
            } else {
                json!(p.to_plain())
            },
        );
    }
    // The chart's own PDBs stay on whether or not the topology writes `pdb` (the kubernetes
    // target's default is maxUnavailable 1 too); `pdb` only turns the value on explicitly.
    expect(v, "enablePDB", &spec["enablePDB"], &json!(true));
    database_facts(case, docs, spec, v);
    // The operator drops a managed extension (pg_stat_statements, pgaudit) from every database
    // unless a parameter of its namespace is set: a declared one keeps one.
    for (ext, _, _) in pgtopo::emit::helm::cnpg::CNPG_MANAGED_EXTENSIONS {
        let declared = c
            .databases
            .iter()
            .any(|d| d.extensions.iter().any(|e| e.value == *ext));
        let prefix = format!("{ext}.");
        let kept = spec["postgresql"]["parameters"]
            .as_object()
            .is_some_and(|p| p.keys().any(|k| k.starts_with(&prefix)));
        if declared && !kept {
            v.push(format!(
                "extension {ext} is declared but no {prefix}* parameter is set: the operator would drop it"
            ));
        }
    }
    // Every Secret a managed role reads its password from is one the README tells the reader to
    // create: without it the operator creates neither the role nor the databases it owns.
    let readme = case
        .bundle
        .get(&format!("{}/README.md", c.name))
        .expect("every release has a README");
    for r in spec["managed"]["roles"].as_array().into_iter().flatten() {
        if let Some(secret) = r["passwordSecret"]["name"].as_str() {
            if !readme.contains(&format!(
                "- `{secret}`: role `{}`",
                r["name"].as_str().unwrap_or("")
            )) {
                v.push(format!(
                    "role {} reads its password from Secret {secret}, which the README does not list",
                    r["name"]
                ));
            }
        }
    }
    if let Some(db) = c.databases.first().filter(|_| !copy) {
        expect(
            v,
            "initdb database",
            &spec["bootstrap"]["initdb"]["database"],
            &json!(db.name),
        );
        if let Some(o) = &db.owner {
            expect(
                v,
                "initdb owner",
                &spec["bootstrap"]["initdb"]["owner"],
                &json!(o.value),
            );
        }
    }
    let monitored = c.monitoring.is_some();
    let podmon = format!("{}-cluster-podmonitor", c.name);
    if find(docs, "PodMonitor", &podmon).is_some() != monitored {
        v.push(format!(
            "PodMonitor {podmon} rendered: {}, monitoring declared: {monitored}",
            !monitored
        ));
    }
    let poolers: Vec<_> = c
        .poolers
        .iter()
        .filter(|p| p.target.value != PoolerTarget::Local)
        .collect();
    let rendered = docs.iter().filter(|d| d.kind() == "Pooler").count();
    if rendered != poolers.len() {
        v.push(format!(
            "{rendered} Poolers rendered, {} declared",
            poolers.len()
        ));
    }
    for p in poolers {
        let name = format!("{}-pooler-{}", c.name, p.name);
        let Some(d) = find(docs, "Pooler", &name) else {
            v.push(format!("no Pooler {name}"));
            continue;
        };
        let s = &d.value["spec"];
        expect(
            v,
            &format!("{name} instances"),
            &s["instances"],
            &json!(p.replicas.value),
        );
        expect(
            v,
            &format!("{name} type"),
            &s["type"],
            &json!(pgtopo::emit::helm::cnpg::pooler_type(p)),
        );
        expect(
            v,
            &format!("{name} poolMode"),
            &s["pgbouncer"]["poolMode"],
            &json!(p.mode.value.as_str()),
        );
        let params = &s["pgbouncer"]["parameters"];
        expect(
            v,
            &format!("{name} default_pool_size"),
            &params["default_pool_size"],
            &json!(p.pool.size.value.to_string()),
        );
        expect(
            v,
            &format!("{name} reserve_pool_size"),
            &params["reserve_pool_size"],
            &json!(p.pool.reserve.value.to_string()),
        );
        expect(
            v,
            &format!("{name} max_client_conn"),
            &params["max_client_conn"],
            &json!(p.pool.max_client_conn.value.to_string()),
        );
        if let Some(r) = resources_json(&p.resources) {
            expect(
                v,
                &format!("{name} resources"),
                &s["template"]["spec"]["containers"][0]["resources"],
                &r,
            );
        }
        let pm = format!("{name}-podmonitor");
        if find(docs, "PodMonitor", &pm).is_some() != monitored {
            v.push(format!(
                "PodMonitor {pm} rendered: {}, monitoring declared: {monitored}",
                !monitored
            ));
        }
    }
}

/// What the operator's CEL rules refuse in a Database, which the JSON Schema validator does not
/// run (tests/fixtures/crds/README.md): a reserved `spec.name`.
fn database_cel_problems(doc: &Doc) -> Vec<String> {
    let name = doc.value["spec"]["name"].as_str().unwrap_or("");
    if pgtopo::emit::helm::cnpg::CNPG_RESERVED_DATABASES.contains(&name) {
        vec![format!("spec.name {name:?} is reserved by CloudNativePG")]
    } else {
        Vec::new()
    }
}

/// Every database of a cluster that initdb starts is a Database object of that Cluster, named
/// as the chart names it, with the declared name, owner, connection limit and extensions (those
/// `CREATE EXTENSION` applies to), `ensure: present` and `databaseReclaimPolicy: retain`; its
/// owner is a managed role, initdb's owner or the superuser. A copy (restore, replica cluster)
/// has no Database object: its databases are its source's.
fn database_facts(case: &Case, docs: &[Doc], spec: &Json, v: &mut Vec<String>) {
    use pgtopo::emit::helm::cnpg;
    let c = case.cluster;
    let rendered: Vec<&Doc> = docs.iter().filter(|d| d.kind() == "Database").collect();
    let expected: Vec<_> = if cnpg::is_copy(case.model, c) {
        Vec::new()
    } else {
        c.databases
            .iter()
            .filter(|d| cnpg::database_refused(c, &d.name).is_none())
            .collect()
    };
    if rendered.len() != expected.len() {
        v.push(format!(
            "{} Database objects rendered, {} expected",
            rendered.len(),
            expected.len()
        ));
    }
    let initdb = &spec["bootstrap"]["initdb"];
    let mut owners: Vec<Json> = spec["managed"]["roles"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| r["name"].clone())
        .collect();
    owners.push(json!("postgres"));
    // initdb's owner, which the operator defaults to the database's name.
    if initdb["owner"].is_string() {
        owners.push(initdb["owner"].clone());
    } else if initdb["database"].is_string() {
        owners.push(initdb["database"].clone());
    }
    for d in expected {
        let name = cnpg::database_object(c, &d.name);
        let Some(doc) = find(docs, "Database", &name) else {
            v.push(format!("no Database {name}"));
            continue;
        };
        let s = &doc.value["spec"];
        let what = |k: &str| format!("Database {name} {k}");
        expect(v, &what("name"), &s["name"], &json!(d.name));
        expect(v, &what("cluster"), &s["cluster"]["name"], &json!(c.name));
        expect(
            v,
            &what("owner"),
            &s["owner"],
            &json!(cnpg::database_owner(c, d)),
        );
        if let Some(o) = &d.owner {
            expect(v, &what("declared owner"), &s["owner"], &json!(o.value));
        }
        if !owners.contains(&s["owner"]) {
            v.push(format!(
                "Database {name} is owned by {}, which is neither a managed role, initdb's owner nor the superuser",
                s["owner"]
            ));
        }
        expect(
            v,
            &what("connectionLimit"),
            &s["connectionLimit"],
            &d.connection_limit
                .as_ref()
                .map_or(Json::Null, |l| json!(l.value)),
        );
        let exts: Vec<Json> = d
            .extensions
            .iter()
            .filter(|e| pgtopo::plan::access::is_extension(&e.value))
            .map(|e| json!({"name": e.value, "ensure": "present"}))
            .collect();
        expect(
            v,
            &what("extensions"),
            &s["extensions"],
            &if exts.is_empty() {
                Json::Null
            } else {
                json!(exts)
            },
        );
        expect(v, &what("ensure"), &s["ensure"], &json!("present"));
        expect(
            v,
            &what("databaseReclaimPolicy"),
            &s["databaseReclaimPolicy"],
            &json!("retain"),
        );
    }
}

/// The object store a Cluster writes its backups to (`spec.backup.barmanObjectStore`), or
/// `Null`.
fn rendered_store(docs: &[Doc], name: &str) -> Json {
    find(docs, "Cluster", name).map_or(Json::Null, |d| {
        d.value["spec"]["backup"]["barmanObjectStore"].clone()
    })
}

/// Backups, restores and replica clusters: the Cluster archives into the repository's bucket and
/// prefix with the keys of the named Secret, one ScheduledBackup per schedule fires when the
/// topology's cron does, the retention is the documented window; a restored cluster reads the
/// object store its source's rendered Cluster writes (under the source's server name), to the
/// declared time; a replica cluster streams from its source's `-rw` Service with the source's
/// certificates and reads the source's object store.
fn cnpg_backup_facts(
    case: &Case,
    docs: &[Doc],
    all: &BTreeMap<String, Vec<Doc>>,
    v: &mut Vec<String>,
) {
    use pgtopo::emit::helm::cnpg_backup;
    use pgtopo::plan::backup;
    let c = case.cluster;
    let t = case.model;
    let Some(cl) = find(docs, "Cluster", &c.name) else {
        return;
    };
    let spec = &cl.value["spec"];
    let schedules: Vec<&Doc> = docs
        .iter()
        .filter(|d| d.kind() == "ScheduledBackup")
        .collect();
    if cnpg_backup::backs_up(c) {
        let b = c.backup.as_ref().unwrap();
        let r = b.repository().unwrap();
        let store = &spec["backup"]["barmanObjectStore"];
        if r.kind.value == pgtopo::model::RepositoryKind::S3 {
            // The prefix is the bucket's folder, with or without its leading `/`.
            let path = r
                .path
                .as_ref()
                .map_or(String::new(), |p| format!("/{}", p.value.trim_matches('/')));
            expect(
                v,
                "backup destinationPath",
                &store["destinationPath"],
                &json!(format!("s3://{}{path}", r.bucket.as_ref().unwrap().value)),
            );
            if let Some(secret) = &r.credentials_secret {
                expect(
                    v,
                    "backup credentials Secret",
                    &store["s3Credentials"]["accessKeyId"]["name"],
                    &json!(secret.value),
                );
            }
        }
        expect(
            v,
            "retentionPolicy",
            &spec["backup"]["retentionPolicy"],
            &backup::retention_window_days(b).map_or(Json::Null, |d| json!(format!("{d}d"))),
        );
        let want: Vec<String> = b
            .schedule
            .as_ref()
            .and_then(|s| s.full.as_ref())
            .map(|f| backup::Cron::parse(&f.value).unwrap().six_fields())
            .into_iter()
            .collect();
        let got: Vec<String> = schedules
            .iter()
            .map(|d| {
                d.value["spec"]["schedule"]
                    .as_str()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        if got != want {
            v.push(format!(
                "ScheduledBackups fire at {got:?}, the topology says {want:?}"
            ));
        }
        for d in &schedules {
            expect(
                v,
                &format!("ScheduledBackup {} cluster", d.name()),
                &d.value["spec"]["cluster"]["name"],
                &json!(c.name),
            );
        }
    } else {
        expect(v, "backup", &spec["backup"], &Json::Null);
        if !schedules.is_empty() {
            v.push("ScheduledBackups rendered for a cluster that does not back up".into());
        }
    }
    let external = |name: &Json| {
        spec["externalClusters"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|x| &x["name"] == name)
            .cloned()
            .unwrap_or(Json::Null)
    };
    if let Some(src) = cnpg_backup::restore_source(t, c) {
        let recovery = &spec["bootstrap"]["recovery"];
        let ext = external(&recovery["source"]);
        expect(
            v,
            "recovery serverName",
            &ext["barmanObjectStore"]["serverName"],
            &json!(src.name),
        );
        let mut read = ext["barmanObjectStore"].clone();
        if let Some(o) = read.as_object_mut() {
            o.remove("serverName");
        }
        let mut written = rendered_store(&all[&src.name], &src.name);
        if let Some(o) = written.as_object_mut() {
            o.remove("wal");
            o.remove("data");
        }
        expect(v, "the object store restored from", &read, &written);
        expect(
            v,
            "recovery targetTime",
            &recovery["recoveryTarget"]["targetTime"],
            &c.restore
                .as_ref()
                .and_then(|r| r.time.as_ref())
                .map_or(Json::Null, |t| json!(t.value)),
        );
    } else {
        expect(
            v,
            "bootstrap.recovery",
            &spec["bootstrap"]["recovery"],
            &if c.is_standby_cluster() {
                spec["bootstrap"]["recovery"].clone()
            } else {
                Json::Null
            },
        );
    }
    if let Some(src) = cnpg_backup::replica_source(t, c) {
        expect(
            v,
            "replica enabled",
            &spec["replica"]["enabled"],
            &json!(true),
        );
        let ext = external(&spec["replica"]["source"]);
        expect(
            v,
            "replica streams from",
            &ext["connectionParameters"]["host"],
            &json!(format!("{}-rw.{}.svc", src.name, src.namespace.value)),
        );
        expect(
            v,
            "replica client certificate",
            &ext["sslCert"]["name"],
            &json!(format!("{}-replication", src.name)),
        );
        if cnpg_backup::backs_up(src) {
            expect(
                v,
                "replica serverName",
                &ext["barmanObjectStore"]["serverName"],
                &json!(src.name),
            );
            expect(
                v,
                "the object store the replica reads",
                &ext["barmanObjectStore"]["destinationPath"],
                &rendered_store(&all[&src.name], &src.name)["destinationPath"],
            );
        }
    } else {
        expect(v, "replica", &spec["replica"], &Json::Null);
    }
}

/// Every key the release's pods read from its Secret (environment references, and the keys of
/// Secret volumes, listed or picked by `subPath`) is one the README tells the user to create.
fn secret_keys_in_readme(case: &Case, docs: &[Doc], v: &mut Vec<String>) {
    let c = case.cluster;
    let secret = &c.credentials.secret.value;
    let readme = case
        .bundle
        .get(&format!("{}/README.md", c.name))
        .expect("every release has a README");
    let mut keys = BTreeSet::new();
    for d in docs {
        let pod = &d.value["spec"]["template"]["spec"];
        let mut secret_volumes = BTreeSet::new();
        for vol in pod["volumes"].as_array().into_iter().flatten() {
            if vol["secret"]["secretName"] == secret.as_str() {
                match vol["secret"]["items"].as_array() {
                    Some(items) => keys.extend(items.iter().filter_map(|i| i["key"].as_str())),
                    None => {
                        secret_volumes.insert(vol["name"].as_str().unwrap_or(""));
                    }
                }
            }
        }
        for ctr in pod["containers"]
            .as_array()
            .into_iter()
            .chain(pod["initContainers"].as_array())
            .flatten()
        {
            for e in ctr["env"].as_array().into_iter().flatten() {
                let r = &e["valueFrom"]["secretKeyRef"];
                if r["name"] == secret.as_str() {
                    keys.extend(r["key"].as_str());
                }
            }
            for m in ctr["volumeMounts"].as_array().into_iter().flatten() {
                if !secret_volumes.contains(m["name"].as_str().unwrap_or("")) {
                    continue;
                }
                if let Some(k) = m["subPath"].as_str() {
                    keys.insert(k);
                    continue;
                }
                // A whole Secret mounted as a folder: the container reads the files its
                // environment names (`*_FILE=/mount/path/<key>`).
                let dir = m["mountPath"].as_str().unwrap_or("").trim_end_matches('/');
                let read: Vec<&str> = ctr["env"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["value"].as_str()?.strip_prefix(dir)?.strip_prefix('/'))
                    .collect();
                if read.is_empty() {
                    v.push(format!(
                        "{} {} container {} mounts all of Secret {secret} at {dir} and names none of its files",
                        d.kind(),
                        d.name(),
                        ctr["name"]
                    ));
                }
                keys.extend(read);
            }
        }
    }
    if keys.is_empty() {
        v.push(format!("no pod reads Secret {secret}"));
    }
    for k in keys {
        if !readme.contains(&format!("- `{k}`")) {
            v.push(format!(
                "pods read key `{k}` of Secret {secret}, which the README does not list"
            ));
        }
    }
}

// ---- the tests ---------------------------------------------------------------------------------

#[test]
fn every_release_renders_valid_objects_with_the_topology_facts_under_helm_3_and_4() {
    if !have_helms() || !common::have_tool("kubernetes-validate") {
        return;
    }
    let programs = helm_programs();
    let bundles = bundles(&programs);
    let cases = cases(&programs, &bundles);
    let crds = crd_validators();
    let vdir = common::temp_dir("helm-render-validate");
    let mut problems = Vec::new();
    // Built-in objects are validated in one kubernetes-validate run at the end; a document Helm 3
    // and Helm 4 render alike is validated once.
    let mut builtin: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut custom: Vec<String> = Vec::new();
    let mut rendered = 0;
    let mut files = 0;
    for helm in HELMS {
        // (topology, env) -> release -> documents, for the standby clusters' sources.
        let mut by_model: BTreeMap<(String, Option<String>), BTreeMap<String, Vec<Doc>>> =
            BTreeMap::new();
        let mut written = Vec::new();
        let mut in_order = Vec::new();
        for case in &cases {
            let out = match helm_template(helm, case.cluster, &case.files) {
                Ok(out) => out,
                Err(e) => {
                    problems.push(format!("{helm} {}: helm template failed:\n{e}", case.label));
                    continue;
                }
            };
            rendered += 1;
            let docs = match documents(&out) {
                Ok(d) => d,
                Err(e) => {
                    problems.push(format!("{helm} {}: {e}", case.label));
                    continue;
                }
            };
            assert!(!docs.is_empty(), "{helm} {}: nothing rendered", case.label);
            for d in &docs {
                let file = vdir.join(format!("{files:04}.yaml"));
                files += 1;
                std::fs::write(&file, &d.text).unwrap();
                written.push(file.clone());
                if built_in(d.api_version()) {
                    builtin.entry(d.text.clone()).or_insert(file);
                }
            }
            in_order.push((case, docs));
        }
        // From here on every document is what kubectl reads (YAML 1.1: `0755` is octal, an
        // unquoted `on` a boolean), not what a YAML 1.2 reader makes of it.
        let mut read = yaml11(&written).into_iter();
        for (case, mut docs) in in_order {
            for d in docs.iter_mut() {
                d.value = read.next().expect("PyYAML read every document");
            }
            by_model
                .entry((case.topology.to_owned(), case.model.env.clone()))
                .or_default()
                .insert(case.cluster.name.clone(), docs);
        }
        for case in &cases {
            let model = &by_model[&(case.topology.to_owned(), case.model.env.clone())];
            let Some(docs) = model.get(&case.cluster.name) else {
                continue;
            };
            for f in facts(helm, case, docs, model) {
                problems.push(format!("{helm} {}: {f}", case.label));
            }
            // Custom resources against their CRD.
            for d in docs.iter().filter(|d| !built_in(d.api_version())) {
                let what = format!("{helm} {} {} {}", case.label, d.kind(), d.name());
                let key = format!("{}/{}", d.api_version(), d.kind());
                custom.push(key.clone());
                problems.extend(
                    metadata_problems(d)
                        .into_iter()
                        .map(|m| format!("{what}: {m}")),
                );
                // The API server prunes a null field the schema does not declare nullable (no
                // field of these CRDs is) before it validates: `initdb:` with nothing under it
                // is no field at all.
                let mut value = d.value.clone();
                prune_nulls(&mut value);
                if d.kind() == "Database" {
                    problems.extend(
                        database_cel_problems(d)
                            .into_iter()
                            .map(|m| format!("{what}: {m}")),
                    );
                }
                match crds.get(&key) {
                    None => problems.push(format!("{what}: no CRD schema for {key}")),
                    Some(v) => problems.extend(
                        v.iter_errors(&value)
                            .map(|e| format!("{what}: {key} schema: {}: {e}", e.instance_path)),
                    ),
                }
            }
        }
    }
    assert!(rendered >= 2 * 12, "only {rendered} renders");
    assert!(
        custom.iter().any(|k| k.ends_with("/Pooler"))
            && custom.iter().any(|k| k.ends_with("/PodMonitor"))
            && custom.iter().any(|k| k == "postgresql.cnpg.io/v1/Database"),
        "the renders include Poolers, PodMonitors and Databases"
    );

    // Built-in kinds, one kubernetes-validate run.
    let paths: Vec<&PathBuf> = builtin.values().collect();
    let (ok, text) = common::run(
        Command::new("kubernetes-validate")
            .args(["--strict", "-k", KUBE_VERSION, "--no-warn"])
            .args(&paths),
    );
    if !ok {
        problems.push(format!("kubernetes-validate --strict failed:\n{text}"));
    }
    let passed = text
        .lines()
        .filter(|l| l.starts_with("INFO") && l.contains("passed"))
        .count();
    if passed != paths.len() {
        problems.push(format!(
            "kubernetes-validate passed {passed} of {} documents:\n{text}",
            paths.len()
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problems in the rendered releases:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Values of the same type that a chart reading `v` must render differently from it, at least one
/// of them: a number one more and one less (a chart may compare it with a threshold), the other
/// choice of an enumeration, or a name with a letter added.
fn perturb(v: &Value) -> Vec<Value> {
    match v {
        Value::Bool(b) => vec![Value::Bool(!b)],
        Value::Number(n) => match n.as_i64() {
            Some(i) => vec![Value::Number((i + 1).into()), Value::Number((i - 1).into())],
            None => vec![],
        },
        Value::String(s) => {
            // The other choice of the charts' enumerations.
            let alternatives = [
                ("soft", "hard"),
                ("hard", "soft"),
                ("standalone", "replication"),
                ("ANY", "FIRST"),
                ("FIRST", "ANY"),
                ("any", "first"),
                ("first", "any"),
                ("rw", "ro"),
                ("ro", "rw"),
                ("session", "transaction"),
                ("transaction", "session"),
                ("statement", "session"),
                ("preferred", "required"),
                ("none", "small"),
                ("postgresql", "postgis"),
                ("kubernetes.io/hostname", "topology.kubernetes.io/zone"),
            ];
            if let Some((_, alt)) = alternatives.iter().find(|(a, _)| a == s) {
                return vec![Value::String((*alt).to_owned())];
            }
            // A number, possibly with a unit (`10Gi`, `250m`, `128MB`, `0.9`).
            let digits: String = s.chars().take_while(|c| c.is_ascii_digit()).collect();
            if let Ok(n) = digits.parse::<u64>() {
                let unit = &s[digits.len()..];
                let mut v = vec![Value::String(format!("{}{unit}", n + 1))];
                if n > 0 {
                    v.push(Value::String(format!("{}{unit}", n - 1)));
                }
                return v;
            }
            vec![Value::String(format!("{s}x"))]
        }
        _ => vec![],
    }
}

/// Every scalar leaf of a values tree, as (path for messages, path of keys/indices).
fn leaves(v: &Value, path: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match v {
        Value::Mapping(m) => {
            for (k, x) in m {
                path.push(k.clone());
                leaves(x, path, out);
                path.pop();
            }
        }
        Value::Sequence(s) => {
            for (i, x) in s.iter().enumerate() {
                path.push(Value::Number((i as u64).into()));
                leaves(x, path, out);
                path.pop();
            }
        }
        _ => out.push(path.clone()),
    }
}

fn leaf_mut<'v>(v: &'v mut Value, path: &[Value]) -> &'v mut Value {
    path.iter().fold(v, |cur, k| match k {
        Value::Number(i) => &mut cur.as_sequence_mut().unwrap()[i.as_u64().unwrap() as usize],
        k => cur.as_mapping_mut().unwrap().get_mut(k).unwrap(),
    })
}

fn dotted(path: &[Value]) -> String {
    path.iter()
        .map(|k| match k {
            Value::Number(i) => format!("[{i}]"),
            Value::String(s) => format!(".{s}"),
            other => format!(".{other:?}"),
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}

#[test]
fn every_value_pgtopo_writes_changes_what_the_chart_renders() {
    let helm = "helm4";
    if !common::have_tool(helm) {
        return;
    }
    let programs = helm_programs();
    let bundles = bundles(&programs);
    let cases = cases(&programs, &bundles);
    let dir = common::temp_dir("helm-render-perturb");
    let mut problems = Vec::new();
    let mut perturbed = 0;
    for (i, case) in cases.iter().enumerate() {
        let values = cluster_values(case.model, case.cluster);
        let merged = dir.join(format!("{i}-merged.yaml"));
        std::fs::write(&merged, values::to_yaml(&values)).unwrap();
        let reference = helm_template(helm, case.cluster, &case.files)
            .unwrap_or_else(|e| panic!("{}: helm template failed:\n{e}", case.label));
        // Helm reads the two files as pgtopo merges them (`build ENV --target helm` prints the
        // merged values), and renders the same release twice alike.
        let again = helm_template(helm, case.cluster, std::slice::from_ref(&merged))
            .unwrap_or_else(|e| {
                panic!(
                    "{}: helm template of the merged values failed:\n{e}",
                    case.label
                )
            });
        assert_eq!(
            reference, again,
            "{}: Helm's merge of values.yaml and the env file differs from pgtopo's merged values",
            case.label
        );
        let mut paths = Vec::new();
        leaves(&values, &mut Vec::new(), &mut paths);
        for path in paths {
            let mut read = false;
            for new in perturb(leaf_mut(&mut values.clone(), &path)) {
                let mut changed = values.clone();
                *leaf_mut(&mut changed, &path) = new;
                let file = dir.join(format!("{i}-perturbed.yaml"));
                std::fs::write(&file, values::to_yaml(&changed)).unwrap();
                perturbed += 1;
                // A render error is the chart reading the value too (it refuses the new one).
                if helm_template(helm, case.cluster, &[file]).is_ok_and(|out| out == reference) {
                    continue;
                }
                read = true;
                break;
            }
            if !read {
                problems.push(format!(
                    "{}: {} is ignored by the chart (changing it changes nothing)",
                    case.label,
                    dotted(&path)
                ));
            }
        }
    }
    assert!(perturbed >= 100, "only {perturbed} values were perturbed");
    assert!(
        problems.is_empty(),
        "values the charts ignore:\n{}",
        problems.join("\n")
    );
}

/// The checks above can fail: a duplicate key, an unknown field of a custom resource, a bad label
/// and a YAML 1.1 boolean are all caught.
#[test]
fn the_render_checks_catch_wrong_documents() {
    let dup = "---\n# Source: x/templates/a.yaml\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  labels:\n    app.kubernetes.io/part-of: x\n    app.kubernetes.io/part-of: y\n";
    let err = documents(dup).err().expect("a duplicate key is refused");
    assert!(err.contains("duplicate"), "{err}");

    let crds = crd_validators();
    let pooler: Json = serde_yaml::from_str(
        "apiVersion: postgresql.cnpg.io/v1\nkind: Pooler\nmetadata: {name: p}\nspec:\n  cluster: {name: c}\n  instances: 1\n  type: rw\n  pgbouncer: {poolMode: session, paramters: {}}\n",
    )
    .unwrap();
    let errors: Vec<String> = crds["postgresql.cnpg.io/v1/Pooler"]
        .iter_errors(&pooler)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.iter().any(|e| e.contains("paramters")), "{errors:?}");
    // A Database with a misspelt field, a limit of the wrong type and no owner, and one the
    // operator's CEL rules refuse for its reserved name.
    let database: Json = serde_yaml::from_str(
        "apiVersion: postgresql.cnpg.io/v1\nkind: Database\nmetadata: {name: c-d}\nspec:\n  cluster: {name: c}\n  name: d\n  connectionLimit: \"0\"\n  extensions: [{name: hstore, ensur: present}]\n",
    )
    .unwrap();
    let errors: Vec<String> = crds["postgresql.cnpg.io/v1/Database"]
        .iter_errors(&database)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.iter().any(|e| e.contains("ensur")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("owner")), "{errors:?}");
    assert!(errors.iter().any(|e| e.contains("\"0\"")), "{errors:?}");
    let reserved = documents(
        "apiVersion: postgresql.cnpg.io/v1\nkind: Database\nmetadata: {name: c-postgres}\nspec: {cluster: {name: c}, name: postgres, owner: app}\n",
    )
    .unwrap();
    assert_eq!(database_cel_problems(&reserved[0]).len(), 1);

    let docs = documents(
        "apiVersion: v1\nkind: X\nmetadata:\n  name: Bad_Name\n  labels:\n    a/b/c: x\n",
    )
    .unwrap();
    assert_eq!(
        metadata_problems(&docs[0]).len(),
        2,
        "{:?}",
        metadata_problems(&docs[0])
    );

    if common::have_tool("kubernetes-validate") {
        let dir = common::temp_dir("helm-render-yaml11");
        let f = dir.join("a.yaml");
        std::fs::write(&f, "a: on\nb: \"on\"\n").unwrap();
        assert_eq!(yaml11(&[f]), vec![json!({"a": true, "b": "on"})]);
    }
    // A release that kept the image's own pg_hba.conf (every address, md5), ran no init script and
    // mounted no certificate breaks each access fact.
    let p = common::program(&common::repo().join("tests/fixtures/helm/access.kdl"));
    let ledger = p.base.cluster("ledger").expect("the fixture has ledger");
    let docs = documents(
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: ledger}\nspec:\n  template:\n    spec:\n      containers:\n      - name: postgresql\n        volumeMounts: [{name: cfg, mountPath: /bitnami/postgresql/conf}]\n      volumes: [{name: cfg, configMap: {name: ledger-configuration}}]\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ledger-configuration}\ndata:\n  pg_hba.conf: \"host all all 0.0.0.0/0 md5\\n\"\n",
    )
    .unwrap();
    let mut problems = Vec::new();
    access_facts(&docs, &docs[0], &mut problems, ledger);
    for want in [
        "no init script",
        "pg_hba.conf holds",
        "lets every address in",
        "TLS Secret ledger-tls is not mounted",
        "POSTGRESQL_ENABLE_TLS",
        "ssl_ca_file",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(want)),
            "no problem says {want:?}: {problems:#?}"
        );
    }

    let s = |x: &str| Value::String(x.into());
    assert_eq!(perturb(&s("10Gi")), vec![s("11Gi"), s("9Gi")]);
    assert_eq!(perturb(&s("0.9")), vec![s("1.9")]);
    assert_eq!(perturb(&s("rw")), vec![s("ro")]);
}
