//! Helm values as plain YAML trees: small builders, the env diff (`values-<env>.yaml` holds only
//! what differs from `values.yaml`) and the merge Helm performs when it reads several `-f` files.

use serde_yaml::{Mapping, Value};

/// An ordered mapping built from `(key, value)` pairs; keys keep the order written, so the emitted
/// YAML reads in the order the chart documents its values.
pub fn map<I, K>(pairs: I) -> Value
where
    I: IntoIterator<Item = (K, Value)>,
    K: Into<String>,
{
    let mut m = Mapping::new();
    for (k, v) in pairs {
        m.insert(Value::String(k.into()), v);
    }
    Value::Mapping(m)
}

pub fn s(v: impl Into<String>) -> Value {
    Value::String(v.into())
}

pub fn int(v: impl Into<i64>) -> Value {
    Value::Number(v.into().into())
}

pub fn b(v: bool) -> Value {
    Value::Bool(v)
}

/// Sets `value` at the dotted `path` inside `root`, creating the intermediate mappings. Used by the
/// chart builders so that every key path is written once, in full, as the chart documents it.
pub fn set(root: &mut Value, path: &str, value: Value) {
    let mut cur = root;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        if !cur.is_mapping() {
            *cur = Value::Mapping(Mapping::new());
        }
        let m = cur.as_mapping_mut().expect("just made a mapping");
        let key = Value::String((*part).to_owned());
        if i == parts.len() - 1 {
            m.insert(key, value);
            return;
        }
        if !m.contains_key(&key) {
            m.insert(key.clone(), Value::Mapping(Mapping::new()));
        }
        cur = m.get_mut(&key).expect("inserted above");
    }
}

/// What an env file must hold so that Helm's merge of `base` then the result gives `env`: keys whose
/// value changed or that are new, recursively for mappings; a list or scalar that differs is
/// replaced whole (Helm never merges lists); a key the env no longer has is set to `null`, which is
/// how Helm deletes a key coming from an earlier values file. Returns an empty mapping when the env
/// equals the base.
pub fn diff(base: &Value, env: &Value) -> Value {
    match (base, env) {
        (Value::Mapping(bm), Value::Mapping(em)) => {
            let mut out = Mapping::new();
            for (k, ev) in em {
                match bm.get(k) {
                    None => {
                        out.insert(k.clone(), ev.clone());
                    }
                    Some(bv) if bv == ev => {}
                    Some(bv) if bv.is_mapping() && ev.is_mapping() => {
                        out.insert(k.clone(), diff(bv, ev));
                    }
                    Some(_) => {
                        out.insert(k.clone(), ev.clone());
                    }
                }
            }
            for k in bm.keys() {
                if !em.contains_key(k) {
                    out.insert(k.clone(), Value::Null);
                }
            }
            Value::Mapping(out)
        }
        _ => env.clone(),
    }
}

/// Helm's coalescing of a later values file onto an earlier one: mappings merge key by key, `null`
/// deletes a key, anything else replaces. The inverse of [`diff`]: `merge(b, diff(b, e)) == e`.
pub fn merge(base: &Value, over: &Value) -> Value {
    match (base, over) {
        (Value::Mapping(bm), Value::Mapping(om)) => {
            let mut out = bm.clone();
            for (k, ov) in om {
                if ov.is_null() {
                    out.remove(k);
                    continue;
                }
                let merged = match bm.get(k) {
                    Some(bv) if bv.is_mapping() && ov.is_mapping() => merge(bv, ov),
                    _ => ov.clone(),
                };
                out.insert(k.clone(), merged);
            }
            Value::Mapping(out)
        }
        _ => over.clone(),
    }
}

/// The YAML text of a values tree, written by the shared writer: Helm reads values files as
/// YAML 1.1, where an unquoted `on`, `off`, `yes` or `y` is a boolean (helm/helm#5497), and
/// serde_yaml, a YAML 1.2 writer, left them unquoted: a CloudNativePG parameter such as
/// `synchronous_commit: on` reached the chart as the boolean `true`, not the string the
/// chart's `parameters` map holds.
pub fn to_yaml(v: &Value) -> String {
    crate::emit::yaml::to_string(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn y(s: &str) -> Value {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn diff_holds_only_the_differences_and_merges_back() {
        let base = y("a: 1\nb: {c: 2, d: 3}\nl: [1, 2]\ngone: x\nsame: {k: v}\n");
        let env = y("a: 1\nb: {c: 2, d: 4, e: 5}\nl: [1]\nsame: {k: v}\nnew: {n: 1}\n");
        let d = diff(&base, &env);
        assert_eq!(d, y("b: {d: 4, e: 5}\nl: [1]\nnew: {n: 1}\ngone: null\n"));
        assert_eq!(merge(&base, &d), env);
    }

    #[test]
    fn equal_values_give_an_empty_diff() {
        let base = y("a: {b: [1, {c: 2}]}\n");
        let d = diff(&base, &base);
        assert_eq!(d, Value::Mapping(Mapping::new()));
        assert_eq!(merge(&base, &d), base);
    }

    #[test]
    fn a_nested_key_removed_by_the_env_becomes_null() {
        let base = y("p: {resources: {limits: {cpu: 1}}, size: 1Gi}\n");
        let env = y("p: {size: 2Gi}\n");
        let d = diff(&base, &env);
        assert_eq!(d, y("p: {size: 2Gi, resources: null}\n"));
        assert_eq!(merge(&base, &d), env);
    }

    #[test]
    fn set_builds_dotted_paths() {
        let mut v = Value::Mapping(Mapping::new());
        set(&mut v, "a.b.c", int(1));
        set(&mut v, "a.d", s("x"));
        assert_eq!(v, y("a: {b: {c: 1}, d: x}\n"));
    }
}
