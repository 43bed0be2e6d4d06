//! PT182 backup-repository
//!
//! What: an object-store repository (`"s3"`, `"gcs"`, `"azure"`) names its bucket, and on the
//! Kubernetes and Helm targets the Secret its keys come from (`credentials-secret=`); an S3
//! repository names its region or endpoint; an Azure one on the Helm target its storage
//! account's URL (`endpoint=`). A `"posix"` repository names its `path`.
//! Why: the backup tool refuses to start without them, so the first archived WAL segment
//! fails, and a primary whose archiving fails keeps every WAL segment until its disk is full.
//! Example: `repository "s3" bucket="b"` on `targets "kubernetes"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{RepositoryKind, Target};

pub const RULE: Rule = Rule {
    code: codes::PT182,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let helm = cx.topo.has_target(Target::Helm);
    let k8s = cx.topo.has_target(Target::Kubernetes) || helm;
    for c in &cx.topo.clusters {
        for r in c.backup.iter().flat_map(|b| &b.repositories) {
            let kind = r.kind.value;
            let mut missing = Vec::new();
            match kind {
                RepositoryKind::Posix => {
                    if r.path.is_none() {
                        missing.push(("path", "path=\"/var/lib/pgbackrest\""));
                    }
                }
                _ => {
                    if r.bucket.is_none() {
                        missing.push(("bucket", "bucket=\"my-backups\""));
                    }
                    if kind == RepositoryKind::S3 && r.region.is_none() && r.endpoint.is_none() {
                        missing.push(("region", "region=\"eu-west-1\""));
                    }
                    // barman-cloud (CloudNativePG) names an Azure container by the storage
                    // account's URL, which only `endpoint=` can say.
                    if helm && kind == RepositoryKind::Azure && r.endpoint.is_none() {
                        missing.push((
                            "endpoint",
                            "endpoint=\"https://ACCOUNT.blob.core.windows.net\" (the storage account's URL, for CloudNativePG)",
                        ));
                    }
                    if k8s && r.credentials_secret.is_none() {
                        missing.push(("credentials-secret", "credentials-secret=\"backup-keys\""));
                    }
                }
            }
            // The repository host names a machine (and its folder under hosts/): an address or
            // a host name, nothing that could be read as a path.
            if let Some(h) = &r.host {
                let ok = !h.value.is_empty()
                    && h.value
                        .chars()
                        .all(|ch| ch.is_ascii_alphanumeric() || ".-:".contains(ch))
                    && !h.value.contains("..");
                if !ok {
                    out.push(
                        Diagnostic::error(
                            codes::PT182,
                            format!(
                                "the repository host \"{}\" of cluster \"{}\" is not an address or a host name",
                                h.value, c.name
                            ),
                        )
                        .with_span(h.span, "not a host")
                        .with_help("write the repository host's address, e.g. host=\"10.0.1.40\""),
                    );
                }
            }
            for (what, example) in missing {
                out.push(
                    Diagnostic::error(
                        codes::PT182,
                        format!(
                            "the {kind} repository of cluster \"{}\" does not say its {what}",
                            c.name
                        ),
                    )
                    .with_span(r.span, format!("no {what}"))
                    .with_help(format!("add {example}")),
                );
            }
        }
    }
}
