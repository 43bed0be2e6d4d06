//! The `kubernetes` target: a Kustomize tree (`base/` plus `overlays/<env>/`) and, on stdout, the
//! fully built manifests of one env (what `kubectl kustomize overlays/<env>` prints).
//!
//! Objects are built with k8s-openapi types (objects.rs) for the base model and for every env
//! model; an overlay is then derived as the difference between the two object lists
//! (overlay.rs), using kustomize's own transformers where they express the change exactly.

mod config;
pub mod names;
mod objects;
mod overlay;
mod security;

use serde_json::Value;

use crate::bundle::Bundle;
use crate::diag::Diagnostic;
use crate::emit::{yaml, Options, Program};
use crate::model::Topology;

pub use objects::Obj;
pub use overlay::BaseObjects;

/// The objects of one model, sorted the way `kubectl kustomize` prints them.
pub fn objects(p: &Program, env: Option<&str>) -> Result<Vec<Obj>, Vec<Diagnostic>> {
    Ok(sorted(objects::build(p.model(env)?, &p.name)))
}

/// The workload Jobs (and their script ConfigMaps) of one model, sorted like [`objects`].
pub fn workload_objects(p: &Program, env: Option<&str>) -> Result<Vec<Obj>, Vec<Diagnostic>> {
    Ok(sorted(objects::workloads::build(p.model(env)?, &p.name)))
}

fn sorted(mut objs: Vec<Obj>) -> Vec<Obj> {
    sort_like_kustomize(&mut objs);
    objs
}

/// `workloads/<base|env>/` of one model: a kustomization of its own, referenced by no other one,
/// so that applying `base/` or an overlay never starts a data load; `kubectl apply -k
/// workloads/<env>` does, on purpose.
fn workload_files(b: &mut Bundle, t: &Topology, program: &str) {
    let dir = t.env.as_deref().unwrap_or("base");
    let objs = sorted(objects::workloads::build(t, program));
    if objs.is_empty() {
        return;
    }
    let mut by_file: std::collections::BTreeMap<&str, Vec<&Value>> = Default::default();
    for o in &objs {
        by_file.entry(o.file.as_str()).or_default().push(&o.value);
    }
    for (file, docs) in &by_file {
        b.add(
            format!("workloads/{dir}/{file}"),
            to_yaml_docs(docs.iter().copied()),
        );
    }
    b.add(
        format!("workloads/{dir}/kustomization.yaml"),
        overlay::kustomization_base(by_file.keys().copied()),
    );
}

/// The kubernetes target: the base's objects, and each env's overlay derived from them.
pub static EMIT: crate::emit::Emitter = crate::emit::Emitter {
    target: crate::model::Target::Kubernetes,
    stdout,
    tree: crate::emit::Tree::FromBase(start),
};

fn start<'p>(p: &'p Program, out: &mut dyn FnMut(Bundle)) -> Box<dyn crate::emit::TargetTree + 'p> {
    let (base, b) = base_piece(p);
    out(b);
    Box::new(Tree { p, base })
}

/// The kubernetes tree after the base: the base's objects, from which each env's overlay is
/// derived.
struct Tree<'p> {
    p: &'p Program,
    base: BaseObjects,
}

impl crate::emit::TargetTree for Tree<'_> {
    fn env(
        &self,
        t: &Topology,
        out: &mut dyn FnMut(Bundle),
    ) -> (crate::emit::EnvNote, Vec<Diagnostic>) {
        out(env_piece(self.p, &self.base, t));
        (None, Vec::new())
    }
}

/// The base's files (`base/` and its workloads), and its objects, from which every env's
/// overlay is derived.
pub fn base_piece(p: &Program) -> (BaseObjects, Bundle) {
    let mut b = Bundle::new();
    let mut tagged = objects::build_tagged(&p.base, &p.name);
    tagged.sort_by_cached_key(|(_, o)| sort_key(&o.value));
    let (owners, base): (Vec<Option<String>>, Vec<Obj>) = tagged.into_iter().unzip();
    let mut by_file: std::collections::BTreeMap<&str, Vec<&Value>> = Default::default();
    for o in &base {
        by_file.entry(o.file.as_str()).or_default().push(&o.value);
    }
    for (file, docs) in &by_file {
        b.add(format!("base/{file}"), to_yaml_docs(docs.iter().copied()));
    }
    let k = overlay::kustomization_base(by_file.keys().copied());
    b.add("base/kustomization.yaml", k);
    workload_files(&mut b, &p.base, &p.name);
    (BaseObjects::new(base, owners), b)
}

/// One env's files: `overlays/<env>/`, derived from the base's objects, and its workloads.
pub fn env_piece(p: &Program, base: &BaseObjects, t: &Topology) -> Bundle {
    let name = t.env.as_deref().unwrap_or_default();
    // The env's objects are built a cluster at a time and dropped as soon as the overlay has
    // what it needs of them, so an env of many clusters never holds them all at once.
    // A cluster the env leaves exactly as the base has it is neither built nor compared again:
    // its objects are the base's, which the overlay keeps as they are.
    let unchanged = crate::plan::delta::unchanged_clusters(&p.base, t);
    let skip = |c: &crate::model::Cluster| unchanged.contains(c.name.as_str());
    let feed = |chunk: &mut dyn FnMut(Vec<Obj>)| objects::build_chunks(t, &p.name, &skip, chunk);
    let left_alone: Vec<&str> = unchanged.iter().copied().collect();
    let mut namespaces = t.clusters.iter().map(|c| c.namespace.value.as_str());
    let first = namespaces.next();
    let expected = first.filter(|ns| namespaces.all(|n| n == *ns));
    let files = overlay::derive(base, expected, &feed, &left_alone).unwrap_or_else(|found| {
        overlay::derive(base, found.as_deref(), &feed, &left_alone)
            .expect("the objects' own namespace")
    });
    let mut b = Bundle::new();
    for (path, text) in files {
        b.add(format!("overlays/{name}/{path}"), text);
    }
    workload_files(&mut b, t, &p.name);
    b
}

pub fn stdout(p: &Program, env: Option<&str>, opts: &Options) -> Result<String, Vec<Diagnostic>> {
    let mut objs = objects(p, env)?;
    if opts.with_workloads {
        objs.extend(workload_objects(p, env)?);
        sort_like_kustomize(&mut objs);
    }
    Ok(to_yaml_docs(objs.iter().map(|o| &o.value)))
}

/// Multi-document YAML, `---` between documents, as kustomize prints it.
pub(crate) fn to_yaml_docs<'a>(docs: impl Iterator<Item = &'a Value>) -> String {
    let mut out = String::new();
    for (i, d) in docs.enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        yaml::write(d, &mut out);
    }
    out
}

pub(crate) fn to_yaml<T: serde::Serialize + ?Sized>(v: &T) -> String {
    yaml::to_string(&serde_json::to_value(v).expect("values serialize"))
}

/// kustomize's default ("legacy") output order: a fixed kind order, then any other kind by
/// group/version/kind, then namespace and name.
const KIND_ORDER: &[&str] = &[
    "Namespace",
    "ResourceQuota",
    "StorageClass",
    "CustomResourceDefinition",
    "ServiceAccount",
    "PodSecurityPolicy",
    "Role",
    "ClusterRole",
    "RoleBinding",
    "ClusterRoleBinding",
    "ConfigMap",
    "Secret",
    "Endpoints",
    "Service",
    "LimitRange",
    "PriorityClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "Deployment",
    "StatefulSet",
    "CronJob",
    "PodDisruptionBudget",
];
const KIND_LAST: &[&str] = &[
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
];

pub(crate) fn str_at<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    let mut cur = v;
    for p in path {
        cur = match cur.get(p) {
            Some(x) => x,
            None => return "",
        };
    }
    cur.as_str().unwrap_or("")
}

pub(super) fn sort_key(v: &Value) -> (usize, String, String, String) {
    let kind = str_at(v, &["kind"]);
    let rank = if let Some(i) = KIND_ORDER.iter().position(|k| *k == kind) {
        i
    } else if let Some(i) = KIND_LAST.iter().position(|k| *k == kind) {
        KIND_ORDER.len() + 1 + i
    } else {
        KIND_ORDER.len()
    };
    let gvk = if rank == KIND_ORDER.len() {
        format!("{}/{}", str_at(v, &["apiVersion"]), kind)
    } else {
        String::new()
    };
    (
        rank,
        gvk,
        str_at(v, &["metadata", "namespace"]).to_owned(),
        str_at(v, &["metadata", "name"]).to_owned(),
    )
}

fn sort_like_kustomize(objs: &mut [Obj]) {
    // The key allocates; compute it once per object, not once per comparison.
    objs.sort_by_cached_key(|o| sort_key(&o.value));
}
