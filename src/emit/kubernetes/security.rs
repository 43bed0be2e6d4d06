//! Deliberate exceptions to the security review (checkov), written as `checkov.io/skipN`
//! annotations on the workload objects, each with its one-line reason.
//!
//! The exceptions are derived from each object's actual pod spec, so an annotation appears only
//! where the finding really applies, and a change that removes the cause removes the annotation.
//! Reasons stay short: kustomize folds values longer than a line, which would break the byte
//! equality of `pgtopo build` and `kubectl kustomize`; docs/targets/kubernetes.md gives each in full.

use serde_json::{json, Value};

/// The exceptions that apply to one object, as (check id, reason).
fn exceptions(obj: &Value) -> Vec<(&'static str, String)> {
    let Some(pod) = obj
        .pointer("/spec/template/spec")
        .or_else(|| obj.pointer("/spec/jobTemplate/spec/template/spec"))
    else {
        return Vec::new();
    };
    let containers: Vec<&Value> = pod["containers"].as_array().into_iter().flatten().collect();
    let all: Vec<&Value> = containers
        .iter()
        .copied()
        .chain(pod["initContainers"].as_array().into_iter().flatten())
        .collect();
    let mut out = Vec::new();
    out.push(("CKV_K8S_43", "pinned by tag, no registry access".to_owned()));
    out.push(("CKV_K8S_15", "pinned tags, IfNotPresent".to_owned()));
    let secret_env = all.iter().any(|c| {
        c["env"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e.pointer("/valueFrom/secretKeyRef").is_some())
            || c["envFrom"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e.get("secretRef").is_some())
    });
    if secret_env {
        out.push(("CKV_K8S_35", "images read creds from env vars".to_owned()));
    }
    if let Some(uid) = pod
        .pointer("/securityContext/runAsUser")
        .and_then(Value::as_i64)
    {
        if uid < 10000 {
            out.push(("CKV_K8S_40", format!("runs as the image uid {uid}")));
        }
    }
    // Kubernetes mounts the token unless the pod spec says otherwise.
    if pod["automountServiceAccountToken"] != json!(false) {
        // The backup Jobs' account may exec into the primary's pgBackRest sidecar.
        let backup = pod["serviceAccountName"]
            .as_str()
            .is_some_and(|a| a.ends_with("-backup"));
        let reason = if backup {
            "backup execs into the primary"
        } else {
            "labeler patches its pod label"
        };
        out.push(("CKV_K8S_38", reason.to_owned()));
    }
    let unprobed: Vec<&str> = containers
        .iter()
        .filter(|c| c.get("livenessProbe").is_none() || c.get("readinessProbe").is_none())
        .filter_map(|c| c["name"].as_str())
        .collect();
    // A Job's container runs to completion and serves nothing, so probes do not apply to it.
    if !unprobed.is_empty() && !matches!(obj["kind"].as_str(), Some("Job" | "CronJob")) {
        let reason = format!("sidecar {} serves no port", unprobed.join(" "));
        out.push(("CKV_K8S_8", reason.clone()));
        out.push(("CKV_K8S_9", reason));
    }
    out
}

/// Adds the annotations to every Deployment, StatefulSet, Job and CronJob in `objs`.
pub fn annotate(objs: &mut [super::objects::Obj]) {
    for o in objs.iter_mut() {
        if !matches!(
            o.value["kind"].as_str(),
            Some("Deployment" | "StatefulSet" | "Job" | "CronJob")
        ) {
            continue;
        }
        let ex = exceptions(&o.value);
        if ex.is_empty() {
            continue;
        }
        let meta = o.value["metadata"]
            .as_object_mut()
            .expect("objects have metadata");
        let ann = meta.entry("annotations").or_insert_with(|| json!({}));
        for (i, (id, reason)) in ex.into_iter().enumerate() {
            ann[format!("checkov.io/skip{}", i + 1)] = json!(format!("{id}={reason}"));
        }
    }
}
