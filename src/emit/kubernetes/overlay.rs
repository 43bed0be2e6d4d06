//! Derives `overlays/<env>/` from the base objects and the env's objects.
//!
//! kustomize applies, in this order: patches, then the namespace, labels, replicas and images
//! transformers. So the overlay is computed backwards: the env objects are first stripped of what
//! the transformers will add (giving the "patched base"), and the remaining differences from the
//! base become exact JSON6902 patches. Objects only in the env are added as resources; objects only
//! in the base are removed with a `$patch: delete` patch. The kubernetes validation test proves the
//! result equals `pgtopo build ENV` for every env of every topology.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use indexmap::{Equivalent, IndexMap};
use serde_json::{json, Map, Value};

use super::{str_at, to_yaml, to_yaml_docs, Obj};

const KUSTOMIZE_API: &str = "kustomize.config.k8s.io/v1beta1";

pub fn kustomization_base<'a>(files: impl Iterator<Item = &'a str>) -> String {
    let resources: Vec<&str> = files.collect();
    to_yaml(&json!({
        "apiVersion": KUSTOMIZE_API,
        "kind": "Kustomization",
        "resources": resources,
    }))
}

/// The base's objects with what every env's overlay asks of them, worked out once per build
/// rather than once per env: their namespace, their images and where each identity is, which
/// every env would otherwise read again from every base object.
pub struct BaseObjects {
    pub objs: Vec<Obj>,
    namespace: Option<String>,
    /// `images(o)` of every object, in order.
    images: Vec<Vec<(String, String)>>,
    /// Each image name the base uses, with every reference it uses it by.
    image_uses: BTreeMap<String, BTreeSet<String>>,
    /// The index of the object with each identity (the last one, should two share it).
    by_key: IndexMap<(String, String, String), usize>,
    /// For each object, `by_key` of its identity.
    identity: Vec<usize>,
    /// Each cluster's objects, as an env that leaves the cluster unchanged keeps them.
    by_cluster: HashMap<String, ClusterObjects>,
}

/// What one cluster's base objects bring to the overlay of an env that leaves the cluster as it
/// is, gathered once per build: an env then reads a summary per unchanged cluster instead of
/// every object of the cluster, so that its overlay costs what it changes.
struct ClusterObjects {
    /// The objects' indices, in ascending order.
    objects: Vec<usize>,
    /// The namespaces of its namespaced objects.
    namespaces: BTreeSet<String>,
    /// The labels (key and value) that every one of its objects carries.
    labels: Map<String, Value>,
    /// Each image name its objects use, with the references they use it by.
    images: BTreeMap<String, BTreeSet<String>>,
}

impl BaseObjects {
    /// The base's objects, each with the cluster that made it (`owners`, in the same order;
    /// `None` for objects no one cluster made, such as Namespaces).
    pub fn new(objs: Vec<Obj>, owners: Vec<Option<String>>) -> Self {
        let by_key: IndexMap<_, _> = objs
            .iter()
            .enumerate()
            .map(|(i, o)| {
                let (a, k, n) = key(&o.value);
                ((a.to_owned(), k.to_owned(), n.to_owned()), i)
            })
            .collect();
        let identity = objs
            .iter()
            .map(|o| by_key[&KeyRef(key(&o.value))])
            .collect();
        let images: Vec<_> = objs.iter().map(|o| images(&o.value)).collect();
        let mut image_uses: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (_, img) in images.iter().flatten() {
            image_uses
                .entry(split_image(img).0.to_owned())
                .or_default()
                .insert(img.clone());
        }
        let mut by_cluster: HashMap<String, ClusterObjects> = HashMap::new();
        for (i, o) in owners.into_iter().enumerate() {
            let Some(c) = o else { continue };
            let v = &objs[i].value;
            let labels = pointer(v, "/metadata/labels").and_then(Value::as_object);
            let summary = by_cluster.entry(c).or_insert_with(|| ClusterObjects {
                objects: Vec::new(),
                namespaces: BTreeSet::new(),
                labels: labels.cloned().unwrap_or_default(),
                images: BTreeMap::new(),
            });
            summary.objects.push(i);
            if !is_cluster_scoped(v) {
                summary
                    .namespaces
                    .insert(str_at(v, &["metadata", "namespace"]).to_owned());
            }
            summary
                .labels
                .retain(|k, x| labels.and_then(|l| l.get(k)) == Some(x));
            for (_, img) in &images[i] {
                summary
                    .images
                    .entry(split_image(img).0.to_owned())
                    .or_default()
                    .insert(img.clone());
            }
        }
        BaseObjects {
            namespace: only_namespace(&objs),
            images,
            image_uses,
            by_key,
            identity,
            by_cluster,
            objs,
        }
    }

    /// The base object with the identity `k`.
    fn find(&self, k: Key) -> Option<usize> {
        self.by_key.get(&KeyRef(k)).copied()
    }
}

/// An object's identity: apiVersion, kind and name, borrowed from the object.
type Key<'a> = (&'a str, &'a str, &'a str);

/// A borrowed identity, to look up an owned one without copying its strings: it hashes as the
/// owned tuple does (a tuple hashes its fields in order, and a `String` as its `str`).
#[derive(Hash)]
struct KeyRef<'a>(Key<'a>);

impl Equivalent<(String, String, String)> for KeyRef<'_> {
    fn equivalent(&self, k: &(String, String, String)) -> bool {
        let (a, b, c) = self.0;
        a == k.0 && b == k.1 && c == k.2
    }
}

fn key(v: &Value) -> Key<'_> {
    (
        str_at(v, &["apiVersion"]),
        str_at(v, &["kind"]),
        str_at(v, &["metadata", "name"]),
    )
}

fn is_cluster_scoped(v: &Value) -> bool {
    str_at(v, &["kind"]) == "Namespace"
}

/// The value of one of an object's labels.
fn label<'v>(v: &'v Value, k: &str) -> Option<&'v Value> {
    v.get("metadata")?.get("labels")?.get(k)
}

/// The single namespace every namespaced object lives in, if there is one.
fn only_namespace(objs: &[Obj]) -> Option<String> {
    let set: BTreeSet<&str> = objs
        .iter()
        .filter(|o| !is_cluster_scoped(&o.value))
        .map(|o| str_at(&o.value, &["metadata", "namespace"]))
        .collect();
    (set.len() == 1).then(|| set.into_iter().next().unwrap().to_owned())
}

/// Splits an image reference into its name and its tag or digest part.
fn split_image(image: &str) -> (&str, Option<(&str, &str)>) {
    if let Some((n, d)) = image.split_once('@') {
        return (n, Some(("digest", d)));
    }
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) => (
            &image[..slash + i],
            Some(("newTag", &image[slash + i + 1..])),
        ),
        None => (image, None),
    }
}

/// Paths of every container list in a workload object.
const CONTAINER_LISTS: &[&str] = &[
    "/spec/template/spec/containers",
    "/spec/template/spec/initContainers",
];

fn images(v: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for list in CONTAINER_LISTS {
        if let Some(cs) = pointer(v, list).and_then(Value::as_array) {
            for (i, c) in cs.iter().enumerate() {
                if let Some(img) = c.get("image").and_then(Value::as_str) {
                    out.push((format!("{list}/{i}/image"), img.to_owned()));
                }
            }
        }
    }
    out
}

/// The places where kustomize's `labels` transformer (with `includeTemplates`) writes labels.
fn label_paths(v: &Value) -> Vec<String> {
    let mut out = vec!["/metadata/labels".to_owned()];
    if pointer(v, "/spec/template/metadata").is_some() {
        out.push("/spec/template/metadata/labels".to_owned());
    }
    if let Some(vcts) = pointer(v, "/spec/volumeClaimTemplates").and_then(Value::as_array) {
        for i in 0..vcts.len() {
            out.push(format!("/spec/volumeClaimTemplates/{i}/metadata/labels"));
        }
    }
    out
}

fn escape(seg: &str) -> String {
    seg.replace('~', "~0").replace('/', "~1")
}

/// The member name a JSON pointer segment stands for (the inverse of [`escape`]).
fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

/// `Value::pointer`, without its two new Strings for every segment (serde_json unescapes each
/// segment into fresh Strings): a segment is unescaped only if it holds a `~`. Overlays look up
/// paths in every object of every env, several times each; with serde_json's, the lookups and
/// their Strings were a tenth of `build --out` of containers 100 × 10 × 50.
fn pointer<'v>(v: &'v Value, ptr: &str) -> Option<&'v Value> {
    segments(ptr)?.try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get(&*seg),
        Value::Array(a) => index(&seg).and_then(|i| a.get(i)),
        _ => None,
    })
}

/// `Value::pointer_mut` the same way as [`pointer`].
fn pointer_mut<'v>(v: &'v mut Value, ptr: &str) -> Option<&'v mut Value> {
    segments(ptr)?.try_fold(v, |cur, seg| match cur {
        Value::Object(m) => m.get_mut(&*seg),
        Value::Array(a) => index(&seg).and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

/// The member names or indexes a JSON pointer walks, as serde_json reads a pointer: `""` is the
/// whole value (no segments), anything else must start with `/`. A segment is unescaped into a
/// new String only if it holds a `~`.
fn segments(ptr: &str) -> Option<impl Iterator<Item = Cow<'_, str>>> {
    let rest = match ptr {
        "" => None,
        _ => Some(ptr.strip_prefix('/')?),
    };
    Some(rest.into_iter().flat_map(|r| r.split('/')).map(|seg| {
        if seg.contains('~') {
            Cow::Owned(unescape(seg))
        } else {
            Cow::Borrowed(seg)
        }
    }))
}

/// An array index as serde_json's pointers read one: digits, without a sign or a leading zero.
fn index(seg: &str) -> Option<usize> {
    if seg.starts_with('+') || (seg.starts_with('0') && seg.len() != 1) {
        return None;
    }
    seg.parse().ok()
}

/// JSON6902 operations that turn `a` into `b`.
fn diff(a: &Value, b: &Value, path: &str, ops: &mut Vec<Value>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                match y.get(k) {
                    // Most of an env's object equals the base's: compare before building paths.
                    Some(vb) if va == vb => {}
                    None => {
                        ops.push(json!({"op": "remove", "path": format!("{path}/{}", escape(k))}))
                    }
                    Some(vb) => diff(va, vb, &format!("{path}/{}", escape(k)), ops),
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) {
                    let p = format!("{path}/{}", escape(k));
                    ops.push(json!({"op": "add", "path": p, "value": vb}));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (va, vb)) in x.iter().zip(y).enumerate() {
                if va != vb {
                    diff(va, vb, &format!("{path}/{i}"), ops);
                }
            }
        }
        _ if a == b => {}
        _ => ops.push(json!({"op": "replace", "path": path, "value": b})),
    }
}

fn set_ptr(v: &mut Value, ptr: &str, new: Option<Value>) {
    let (parent, last) = ptr.rsplit_once('/').expect("pointer has a parent");
    let last = unescape(last);
    if let Some(Value::Object(m)) = pointer_mut(v, parent) {
        match new {
            Some(n) => {
                m.insert(last, n);
            }
            None => {
                m.remove(&last);
            }
        }
        if m.is_empty() {
            // An emptied label map is dropped, as the base would not have it either.
            let (pp, pl) = parent.rsplit_once('/').unwrap_or(("", ""));
            if let Some(Value::Object(pm)) = pointer_mut(v, pp) {
                pm.remove(pl);
            }
        }
    } else if let Some(n) = new {
        if let Some(Value::Array(a)) = pointer_mut(v, parent) {
            if let Ok(i) = last.parse::<usize>() {
                a[i] = n;
            }
        }
    }
}

/// What the overlay's transformers will do to an env object, to be taken out of its patch: the
/// labels they add, the images they rewrite and whether the replicas transformer sets its count.
struct Undo<'a> {
    delta: &'a Map<String, Value>,
    image_rewrite: &'a BTreeMap<String, String>,
    /// The env object's images: (JSON pointer, reference).
    images: &'a [(String, String)],
    /// The env object's label maps that the labels transformer writes ([`label_paths`]).
    labels_at: &'a [String],
    replicas: bool,
}

/// One value that undoing the transformers sets back to the base object's (`None`: the base has
/// none there): a rewritten image or the replica count. (Labels are set back map by map.)
struct Edit<'b> {
    path: &'b str,
    new: Option<&'b Value>,
}

/// Whether `path` is `at` or inside it.
fn within(path: &str, at: &str) -> bool {
    path.strip_prefix(at)
        .is_some_and(|r| r.is_empty() || r.starts_with('/'))
}

/// Whether `path` is strictly inside `at`.
fn strictly_within(path: &str, at: &str) -> bool {
    path.strip_prefix(at).is_some_and(|r| r.starts_with('/'))
}

fn op_path(op: &Value) -> &str {
    op["path"].as_str().unwrap_or_default()
}

/// `diff` of two places that may be missing.
fn diff_opt(a: Option<&Value>, b: Option<&Value>, path: &str, ops: &mut Vec<Value>) {
    match (a, b) {
        (None, None) => {}
        (None, Some(b)) => ops.push(json!({"op": "add", "path": path, "value": b})),
        (Some(_), None) => ops.push(json!({"op": "remove", "path": path})),
        (Some(a), Some(b)) => diff(a, b, path, ops),
    }
}

impl Undo<'_> {
    /// The single values the undoing sets (images, replicas), in the order it sets them.
    fn edits<'b>(&'b self, b: &'b Value) -> Vec<Edit<'b>> {
        let mut out = Vec::new();
        for (path, img) in self.images {
            if self.image_rewrite.contains_key(split_image(img).0) {
                if let Some(orig) = pointer(b, path) {
                    out.push(Edit {
                        path,
                        new: Some(orig),
                    });
                }
            }
        }
        if self.replicas {
            out.push(Edit {
                path: "/spec/replicas",
                new: pointer(b, "/spec/replicas"),
            });
        }
        out
    }

    /// Sets the transformer's labels of the label map `x` back to the base's map `base`; `None`
    /// once the map is empty, as the base would not have it either.
    fn labels_back(&self, x: &mut Option<Value>, base: Option<&Value>) {
        for (k, _) in self.delta {
            let Some(Value::Object(m)) = x else { return };
            match base.and_then(|b| b.get(k)) {
                Some(v) => m.insert(k.clone(), v.clone()),
                None => m.remove(k),
            };
            if m.is_empty() {
                *x = None;
            }
        }
    }

    /// The patch: what turns the base object `b` into the env object with the transformers'
    /// work undone, from `ops` (what turns `b` into the env object, from [`diff`]). Only the
    /// places the operations touch are rebuilt (a label map, or the value an operation adds),
    /// not the object, which every env object would otherwise be copied and compared again for
    /// (docs/performance.md). Where the base has an empty label map that the env leaves
    /// as it is, the patch keeps it rather than removing it: the labels transformer fills it
    /// either way.
    fn patch(&self, b: &Value, ops: &[Value]) -> Vec<Value> {
        let edits = self.edits(b);
        let labels = if self.delta.is_empty() {
            &[][..]
        } else {
            self.labels_at
        };
        if edits.is_empty() && labels.is_empty() {
            return ops.to_vec();
        }
        let mut out = Vec::with_capacity(ops.len());
        let mut i = 0;
        while i < ops.len() {
            let q = op_path(&ops[i]);
            // Operations inside a label map the transformer writes: the env's map is rebuilt
            // from the base's, its labels set back, and compared again.
            if let Some(a) = labels.iter().find(|a| within(q, a)) {
                let j = i + ops[i..]
                    .iter()
                    .take_while(|op| within(op_path(op), a))
                    .count();
                let base = pointer(b, a);
                let mut x = base.cloned();
                for op in &ops[i..j] {
                    let rel = &op_path(op)[a.len()..];
                    if rel.is_empty() {
                        x = op.get("value").cloned();
                    } else if let Some(x) = &mut x {
                        apply_one(x, op, rel);
                    }
                }
                self.labels_back(&mut x, base);
                diff_opt(base, x.as_ref(), a, &mut out);
                i = j;
                continue;
            }
            if edits.iter().any(|e| e.path == q) {
                // A value the transformer sets: the base's stays.
            } else if labels.iter().any(|a| strictly_within(a, q))
                || edits.iter().any(|e| strictly_within(e.path, q))
            {
                // An operation that adds or replaces a value holding places the transformers
                // write: its value with them set back.
                let mut x = ops[i].get("value").cloned();
                if let Some(x) = &mut x {
                    for a in labels.iter().filter(|a| strictly_within(a, q)) {
                        for (k, _) in self.delta {
                            let path = format!("{}/{}", &a[q.len()..], escape(k));
                            set_ptr(x, &path, pointer(b, &format!("{a}/{}", escape(k))).cloned());
                        }
                    }
                    for e in edits.iter().filter(|e| strictly_within(e.path, q)) {
                        set_ptr(x, &e.path[q.len()..], e.new.cloned());
                    }
                }
                diff_opt(pointer(b, q), x.as_ref(), q, &mut out);
            } else {
                out.push(ops[i].clone());
            }
            i += 1;
        }
        out
    }

    /// The patch as it is defined: a copy of the env object `u` with the transformers' work
    /// undone, compared with the base object. [`Undo::patch`] computes the same without the
    /// copy; debug builds (every test) check that it does.
    fn patch_of_a_copy(&self, b: &Value, u: &Value) -> Vec<Value> {
        let mut x = u.clone();
        for p in label_paths(&x) {
            for (kk, _) in self.delta {
                let prev = pointer(b, &format!("{p}/{}", escape(kk))).cloned();
                if pointer(&x, &p).is_some() {
                    set_ptr(&mut x, &format!("{p}/{}", escape(kk)), prev);
                }
            }
        }
        for (path, img) in self.images {
            if self.image_rewrite.contains_key(split_image(img).0) {
                if let Some(orig) = pointer(b, path) {
                    set_ptr(&mut x, path, Some(orig.clone()));
                }
            }
        }
        if self.replicas {
            set_ptr(
                &mut x,
                "/spec/replicas",
                pointer(b, "/spec/replicas").cloned(),
            );
        }
        let mut ops = Vec::new();
        diff(b, &x, "", &mut ops);
        ops
    }
}

/// Applies operations made by `diff` (add and remove of object members, replace anywhere).
fn apply(v: &mut Value, ops: &[Value]) {
    for op in ops {
        apply_one(v, op, op_path(op));
    }
}

/// Applies one operation made by `diff`, at `path` (its own, or the part of it inside `v`).
fn apply_one(v: &mut Value, op: &Value, path: &str) {
    let value = op.get("value").cloned();
    match (op["op"].as_str(), path) {
        (Some("replace"), "") => *v = value.unwrap_or_default(),
        (Some("replace"), _) => {
            if let Some(x) = pointer_mut(v, path) {
                *x = value.unwrap_or_default();
            }
        }
        _ => {
            let (parent, last) = path.rsplit_once('/').expect("pointer has a parent");
            let last = unescape(last);
            if let Some(Value::Object(m)) = pointer_mut(v, parent) {
                match value {
                    Some(n) => m.insert(last, n),
                    None => m.remove(&last),
                };
            }
        }
    }
}

fn file_stem(v: &Value) -> String {
    let (_, kind, name) = key(v);
    format!("{}-{name}", kind.to_ascii_lowercase())
}

/// What the overlay needs of one env object, once its namespace change is undone: enough to
/// derive its patch without the object itself, so that an env's objects can be dropped a cluster
/// at a time.
struct EnvObj {
    /// Where kustomize prints it ([`super::sort_key`]).
    sort: (usize, String, String, String),
    /// The base object of the same identity, or none: then the object is added as it is.
    base: Result<Paired, Value>,
}

/// An env object that the base has too.
struct Paired {
    /// Index into the base's objects.
    base: usize,
    /// The operations that turn the base object into this one.
    ops: Vec<Value>,
    /// Its images: (JSON pointer, reference).
    images: Vec<(String, String)>,
    /// Its label maps that the labels transformer writes.
    labels_at: Vec<String>,
    /// The replica count of a Deployment or StatefulSet whose count differs from the base's.
    replicas: Option<(String, Value)>,
}

/// Hands an env's objects, chunk by chunk, to the function it is given (may be called twice).
pub type Feed<'f> = dyn Fn(&mut dyn FnMut(Vec<Obj>)) + 'f;

/// Every file of `overlays/<env>/`, relative to that folder, from the env's objects, which `feed`
/// hands over in chunks (each chunk's objects are dropped before the next is built; only what
/// [`EnvObj`] keeps stays).
///
/// kustomize's namespace transformer is undone on every object before it is compared, and
/// whether there is one depends on every object: `namespace` is the env's namespace as the
/// caller expects it (the one namespace of its clusters, if they share one). When the objects
/// disagree, the answer is `Err` with the namespace they do have, for a second pass.
pub fn derive(
    prepared: &BaseObjects,
    namespace: Option<&str>,
    feed: &Feed,
    unchanged: &[&str],
) -> Result<Vec<(String, String)>, Option<String>> {
    let base = &prepared.objs[..];
    // Namespace: one transformer when both sides live in a single namespace each.
    let ns_change = match (&prepared.namespace, namespace) {
        (Some(b), Some(e)) if b != e => Some((b.clone(), e.to_owned())),
        _ => None,
    };
    // Undo the namespace transformer on an env object: it renames the Namespace object, moves every
    // namespaced object and rewrites ServiceAccount subjects of role bindings.
    let un_ns = |v: &mut Value| {
        let Some((b, e)) = &ns_change else { return };
        if is_cluster_scoped(v) {
            if str_at(v, &["metadata", "name"]) == e {
                v["metadata"]["name"] = json!(b);
            }
        } else {
            v["metadata"]["namespace"] = json!(b);
        }
        if let Some(subjects) = v.get_mut("subjects").and_then(Value::as_array_mut) {
            for s in subjects {
                if s.get("namespace").and_then(Value::as_str) == Some(e) {
                    s["namespace"] = json!(b);
                }
            }
        }
    };
    let mut env = Vec::new();
    // The base objects that an env object has, by index: the others are deleted.
    let mut kept = vec![false; base.len()];
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    // Labels: the pairs that every env object gained (same key, same value) go to the labels
    // transformer, provided every env object carries them. Worked out as the objects come:
    // `gained` is what every pair so far gained, `carried` what every object so far carries.
    let mut gained: Option<Map<String, Value>> = None;
    let mut carried: Option<Map<String, Value>> = None;
    // The objects of the clusters the env leaves as they are (`unchanged`): kept, in their
    // namespaces, carrying their labels and having gained none. Read from each cluster's
    // summary, not from each object.
    let unchanged: Vec<&ClusterObjects> = unchanged
        .iter()
        .filter_map(|c| prepared.by_cluster.get(*c))
        .collect();
    for summary in &unchanged {
        for &i in &summary.objects {
            kept[i] = true;
        }
        namespaces.extend(summary.namespaces.iter().cloned());
        match &mut carried {
            None => carried = Some(summary.labels.clone()),
            Some(c) => c.retain(|k, v| summary.labels.get(k) == Some(v)),
        }
        gained = Some(Map::new());
    }
    feed(&mut |chunk| {
        for o in chunk {
            if !is_cluster_scoped(&o.value) {
                let ns = str_at(&o.value, &["metadata", "namespace"]);
                if !namespaces.contains(ns) {
                    namespaces.insert(ns.to_owned());
                }
            }
            let sort = super::sort_key(&o.value);
            let labels = pointer(&o.value, "/metadata/labels").and_then(Value::as_object);
            match &mut carried {
                None => carried = Some(labels.cloned().unwrap_or_default()),
                Some(c) => c.retain(|k, v| labels.and_then(|l| l.get(k)) == Some(v)),
            }
            // Copied only when there is a namespace change to undo.
            let mut copy = None;
            if ns_change.is_some() {
                let mut v = o.value.clone();
                un_ns(&mut v);
                copy = Some(v);
            }
            let u = copy.as_ref().unwrap_or(&o.value);
            let (_, kind, name) = key(u);
            let base = match prepared.find(key(u)) {
                Some(i) => {
                    kept[i] = true;
                    let b = &base[i].value;
                    // Borrowed lookups, not copies of both label maps: this runs for every
                    // object of every env.
                    let gains =
                        |k: &str, v: &Value| label(u, k) == Some(v) && label(b, k) != Some(v);
                    match &mut gained {
                        None => {
                            let all = labels.into_iter().flatten();
                            gained = Some(
                                all.filter(|(k, v)| gains(k, v))
                                    .map(|(k, v)| (k.clone(), v.clone()))
                                    .collect(),
                            );
                        }
                        Some(g) => g.retain(|k, v| gains(k, v)),
                    }
                    let mut ops = Vec::new();
                    diff(b, u, "", &mut ops);
                    debug_assert!(
                        {
                            let mut x = b.clone();
                            apply(&mut x, &ops);
                            &x == u
                        },
                        "the operations rebuild {}",
                        file_stem(u)
                    );
                    let replicas = (matches!(kind, "Deployment" | "StatefulSet")
                        && pointer(u, "/spec/replicas") != pointer(b, "/spec/replicas"))
                    .then(|| {
                        let count = pointer(u, "/spec/replicas").cloned().unwrap_or_default();
                        (name.to_owned(), count)
                    });
                    Ok(Paired {
                        base: i,
                        ops,
                        images: images(u),
                        labels_at: label_paths(u)
                            .into_iter()
                            .filter(|p| pointer(u, p).is_some())
                            .collect(),
                        replicas,
                    })
                }
                None => Err(o.value),
            };
            env.push(EnvObj { sort, base });
        }
    });
    let found = (namespaces.len() == 1).then(|| namespaces.into_iter().next().unwrap());
    if found.as_deref() != namespace {
        return Err(found);
    }
    env.sort_by(|a, b| a.sort.cmp(&b.sort));
    let pairs: Vec<(&Value, &Paired)> = env
        .iter()
        .filter_map(|o| o.base.as_ref().ok())
        .map(|p| (&base[p.base].value, p))
        .collect();

    let mut files = Vec::new();
    let mut k = Map::new();
    k.insert("apiVersion".into(), json!(KUSTOMIZE_API));
    k.insert("kind".into(), json!("Kustomization"));
    let mut resources = vec![json!("../../base")];
    if let Some((_, e)) = &ns_change {
        k.insert("namespace".into(), json!(e));
    }

    // The pairs every object gained, if every object carries them (the intersections do not
    // depend on the order the objects came in).
    let mut delta = gained.unwrap_or_default();
    let carried = carried.unwrap_or_default();
    if !delta.iter().all(|(k, v)| carried.get(k) == Some(v)) {
        delta.clear();
    }
    if !delta.is_empty() {
        k.insert(
            "labels".into(),
            json!([{"pairs": delta, "includeTemplates": true}]),
        );
    }

    // Images: an image name whose every use changes to the same new reference.
    let mut image_map: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // An unchanged object keeps every image it has.
    for summary in &unchanged {
        for (name, imgs) in &summary.images {
            image_map
                .entry(name.clone())
                .or_default()
                .extend(imgs.iter().cloned());
        }
    }
    for (_, p) in &pairs {
        for (path, img) in &prepared.images[p.base] {
            let (name, _) = split_image(img);
            let new = p
                .images
                .iter()
                .find(|(q, _)| q == path)
                .map(|(_, i)| i.clone())
                .unwrap_or_default();
            image_map.entry(name.to_owned()).or_default().insert(new);
        }
    }
    let mut image_entries = Vec::new();
    let mut image_rewrite: BTreeMap<String, String> = BTreeMap::new();
    for (name, news) in &image_map {
        if news.len() != 1 {
            continue;
        }
        let new = news.iter().next().unwrap();
        let (nn, tag) = split_image(new);
        // Every use of the name in the base is already `new` (`BaseObjects`, once per build:
        // asking every base object again for each image name was most of an overlay's time on
        // topologies with many clusters).
        let unchanged = prepared
            .image_uses
            .get(name)
            .is_none_or(|uses| uses.iter().all(|i| i == new));
        if unchanged || new.is_empty() {
            continue;
        }
        let mut e = Map::new();
        e.insert("name".into(), json!(name));
        if nn != name {
            e.insert("newName".into(), json!(nn));
        }
        if let Some((field, t)) = tag {
            e.insert(field.into(), json!(t));
        }
        image_entries.push(Value::Object(e));
        image_rewrite.insert(name.clone(), new.clone());
    }
    if !image_entries.is_empty() {
        k.insert("images".into(), json!(image_entries));
    }

    // The patch of every pair: its operations minus what the transformers do, and replica
    // changes on the way.
    let mut replicas = Vec::new();
    let mut patches = Vec::new();
    for (b, p) in &pairs {
        if let Some((name, count)) = &p.replicas {
            replicas.push(json!({"name": name, "count": count}));
        }
        let undo = Undo {
            delta: &delta,
            image_rewrite: &image_rewrite,
            images: &p.images,
            labels_at: &p.labels_at,
            replicas: p.replicas.is_some(),
        };
        let ops = undo.patch(b, &p.ops);
        debug_assert_eq!(
            ops,
            {
                let mut u = (*b).clone();
                apply(&mut u, &p.ops);
                undo.patch_of_a_copy(b, &u)
            },
            "the patch of {}",
            file_stem(b)
        );
        if ops.is_empty() {
            continue;
        }
        let stem = file_stem(b);
        let path = format!("patches/{stem}.yaml");
        files.push((path.clone(), to_yaml(&ops)));
        patches.push(json!({"path": path, "target": target(b)}));
    }

    // Objects that only the base has are deleted; objects that only the env has are added.
    for (o, &same) in base.iter().zip(&prepared.identity) {
        if !kept[same] {
            let mut m = Map::new();
            m.insert("apiVersion".into(), o.value["apiVersion"].clone());
            m.insert("kind".into(), o.value["kind"].clone());
            let mut md = Map::new();
            md.insert("name".into(), o.value["metadata"]["name"].clone());
            if let Some(ns) = o.value["metadata"].get("namespace") {
                md.insert("namespace".into(), ns.clone());
            }
            m.insert("metadata".into(), Value::Object(md));
            m.insert("$patch".into(), json!("delete"));
            let path = format!("patches/delete-{}.yaml", file_stem(&o.value));
            files.push((path.clone(), to_yaml(&Value::Object(m))));
            patches.push(json!({"path": path}));
        }
    }
    let added: Vec<&Value> = env.iter().filter_map(|o| o.base.as_ref().err()).collect();
    if !added.is_empty() {
        files.push(("added.yaml".to_owned(), to_yaml_docs(added.into_iter())));
        resources.push(json!("added.yaml"));
    }
    k.insert("resources".into(), Value::Array(resources));
    if !replicas.is_empty() {
        k.insert("replicas".into(), Value::Array(replicas));
    }
    if !patches.is_empty() {
        k.insert("patches".into(), Value::Array(patches));
    }
    files.push(("kustomization.yaml".to_owned(), to_yaml(&Value::Object(k))));
    Ok(files)
}

/// The selector of a JSON6902 patch: the object as it is in the base (patches run before the
/// namespace transformer).
fn target(v: &Value) -> Value {
    let api = str_at(v, &["apiVersion"]);
    let (group, version) = api.split_once('/').unwrap_or(("", api));
    let mut t = Map::new();
    if !group.is_empty() {
        t.insert("group".into(), json!(group));
    }
    t.insert("version".into(), json!(version));
    t.insert("kind".into(), v["kind"].clone());
    t.insert("name".into(), v["metadata"]["name"].clone());
    if let Some(ns) = v["metadata"].get("namespace") {
        t.insert("namespace".into(), ns.clone());
    }
    Value::Object(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pointers without Strings find what serde_json's find, escapes and indexes included.
    #[test]
    fn pointers_agree_with_serde_json() {
        let mut v = json!({
            "a": {"b/c": {"d~e": 1}, "": 2, "l": [10, 11, {"x": 3}]},
            "0": "zero",
        });
        for ptr in [
            "",
            "/",
            "/a",
            "/a/b~1c",
            "/a/b~1c/d~0e",
            "/a/b/c",
            "/a/",
            "/a/l/0",
            "/a/l/2/x",
            "/a/l/01",
            "/a/l/+1",
            "/a/l/3",
            "/a/l/-",
            "/0",
            "a",
            "/a/l/0/x",
            "/missing",
        ] {
            assert_eq!(pointer(&v, ptr), v.pointer(ptr), "{ptr:?}");
            let expected = v.clone().pointer_mut(ptr).map(|x| x.clone());
            assert_eq!(
                pointer_mut(&mut v, ptr).map(|x| x.clone()),
                expected,
                "{ptr:?}"
            );
        }
    }

    #[test]
    fn images_split() {
        assert_eq!(split_image("a/b:1"), ("a/b", Some(("newTag", "1"))));
        assert_eq!(split_image("reg:5000/b"), ("reg:5000/b", None));
        assert_eq!(
            split_image("b@sha256:x"),
            ("b", Some(("digest", "sha256:x")))
        );
    }

    #[test]
    fn diff_ops() {
        let mut ops = Vec::new();
        diff(
            &json!({"a": 1, "b": {"c/d": 2}, "e": [1, 2]}),
            &json!({"a": 2, "b": {}, "e": [1], "f": true}),
            "",
            &mut ops,
        );
        assert_eq!(
            ops,
            vec![
                json!({"op": "replace", "path": "/a", "value": 2}),
                json!({"op": "remove", "path": "/b/c~1d"}),
                json!({"op": "replace", "path": "/e", "value": [1]}),
                json!({"op": "add", "path": "/f", "value": true}),
            ]
        );
        // Members only one side has, between members both have; a change deep in an array of
        // the same length; and the pointer it is called with in front of every path.
        let mut ops = Vec::new();
        let a = json!({"a": 1, "c": {"x": [1, {"y": 2}], "z": 0}, "e": 5});
        let b = json!({"b": 0, "c": {"x": [1, {"y": 3}], "z": 0}, "d": 1, "e": 5, "f~": 2});
        diff(&a, &b, "/spec", &mut ops);
        assert_eq!(
            ops,
            vec![
                json!({"op": "remove", "path": "/spec/a"}),
                json!({"op": "replace", "path": "/spec/c/x/1/y", "value": 3}),
                json!({"op": "add", "path": "/spec/b", "value": 0}),
                json!({"op": "add", "path": "/spec/d", "value": 1}),
                json!({"op": "add", "path": "/spec/f~0", "value": 2}),
            ]
        );
        // The operations rebuild `b` where the pointer says it is.
        let mut x = json!({ "spec": a });
        apply(&mut x, &ops);
        assert_eq!(x, json!({ "spec": b }));
    }

    /// The patch of an env object `u` against the base object `b`, computed from their
    /// operations, and checked against its definition (a copy of `u` with the work undone).
    fn patch_of(b: &Value, u: &Value, rewrite: &BTreeMap<String, String>) -> Vec<Value> {
        let delta: Map<String, Value> = [("environment".to_owned(), json!("e0"))]
            .into_iter()
            .collect();
        let images = images(u);
        let labels_at: Vec<String> = label_paths(u)
            .into_iter()
            .filter(|p| pointer(u, p).is_some())
            .collect();
        let undo = Undo {
            delta: &delta,
            image_rewrite: rewrite,
            images: &images,
            labels_at: &labels_at,
            replicas: pointer(u, "/spec/replicas") != pointer(b, "/spec/replicas"),
        };
        let mut ops = Vec::new();
        diff(b, u, "", &mut ops);
        let patch = undo.patch(b, &ops);
        assert_eq!(patch, undo.patch_of_a_copy(b, u), "{b} -> {u}");
        patch
    }

    #[test]
    fn undo_takes_the_transformers_work_out_of_the_patch() {
        let none = BTreeMap::new();
        let cm = |labels: Value, x: i64| {
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "c", "labels": labels}, "data": {"x": x}})
        };
        // Only the data differs once the label is taken out.
        let (b, u) = (
            cm(json!({"a": "1"}), 1),
            cm(json!({"a": "1", "environment": "e0"}), 2),
        );
        assert_eq!(
            patch_of(&b, &u, &none),
            vec![json!({"op": "replace", "path": "/data/x", "value": 2})]
        );
        // Undoing the label leaves the env's map empty while the base has one.
        let (b, u) = (
            cm(json!({"a": "1"}), 1),
            cm(json!({"environment": "e0"}), 1),
        );
        assert_eq!(
            patch_of(&b, &u, &none),
            vec![json!({"op": "remove", "path": "/metadata/labels"})]
        );
        // The base has no label map: the env's is added without the transformer's label.
        let mut b = cm(json!({}), 1);
        b["metadata"].as_object_mut().unwrap().remove("labels");
        let u = cm(json!({"b": "2", "environment": "e0"}), 1);
        assert_eq!(
            patch_of(&b, &u, &none),
            vec![json!({"op": "add", "path": "/metadata/labels", "value": {"b": "2"}})]
        );
    }

    /// Operations that add or replace a whole value holding places the transformers write (a
    /// pod template, a container list of another length) get those places set back inside
    /// their value; a replica count and a rewritten image that change alone leave no operation.
    #[test]
    fn undo_reaches_inside_added_values() {
        let rewrite: BTreeMap<String, String> = [("pg".to_owned(), "pg:17".to_owned())]
            .into_iter()
            .collect();
        let sts = |replicas: i64, containers: Value, template_labels: Option<Value>| {
            let mut v = json!({"apiVersion": "apps/v1", "kind": "StatefulSet",
                "metadata": {"name": "s", "labels": {"a": "1"}},
                "spec": {"replicas": replicas, "template": {"metadata": {},
                    "spec": {"containers": containers}}}});
            if let Some(l) = template_labels {
                v["spec"]["template"]["metadata"]["labels"] = l;
            }
            v
        };
        let b = sts(2, json!([{"name": "pg", "image": "pg:16"}]), None);
        // Replicas and image change alone; the template gains a label map with the
        // transformer's label and one of its own.
        let u = sts(
            3,
            json!([{"name": "pg", "image": "pg:17"}]),
            Some(json!({"environment": "e0", "tier": "db"})),
        );
        assert_eq!(
            patch_of(&b, &u, &rewrite),
            vec![
                json!({"op": "add", "path": "/spec/template/metadata/labels",
                        "value": {"tier": "db"}})
            ]
        );
        // A second container: the list is replaced, with the first one's image set back.
        let u = sts(
            2,
            json!([{"name": "pg", "image": "pg:17"}, {"name": "x", "image": "pg:17"}]),
            None,
        );
        assert_eq!(
            patch_of(&b, &u, &rewrite),
            vec![
                json!({"op": "replace", "path": "/spec/template/spec/containers",
                        "value": [{"name": "pg", "image": "pg:16"},
                                  {"name": "x", "image": "pg:17"}]})
            ]
        );
    }

    /// The namespace the caller expects is checked against the objects: a wrong guess is
    /// answered with the namespace they live in, and a second pass with it is exact.
    #[test]
    fn derive_checks_the_expected_namespace() {
        let cm = |ns: &str| Obj {
            file: "c.yaml".into(),
            value: json!({"apiVersion": "v1", "kind": "ConfigMap",
                          "metadata": {"name": "c", "namespace": ns}, "data": {"x": "1"}}),
        };
        let base = BaseObjects::new(vec![cm("a")], vec![None]);
        let feed = |chunk: &mut dyn FnMut(Vec<Obj>)| chunk(vec![cm("b")]);
        assert_eq!(derive(&base, None, &feed, &[]), Err(Some("b".to_owned())));
        let files = derive(&base, Some("b"), &feed, &[]).expect("the objects' namespace");
        assert_eq!(files.len(), 1, "no patch: only the namespace moves");
        assert!(files[0].1.contains("namespace: b"), "{}", files[0].1);
    }
}
