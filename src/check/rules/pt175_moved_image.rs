//! PT175 moved-image (warning)
//!
//! What: a declared `postgres image=` is not a versioned tag of a repository that bitnami moved:
//! `bitnami/<name>:<tag>` (or `docker.io/bitnami/<name>:<tag>`) while the kubernetes or compose
//! target runs it as written.
//! Why: since August 2025 Docker Hub's `bitnami/` repositories no longer serve versioned tags;
//! every existing tag was copied, frozen, to `bitnamilegacy/<name>`. A pod or container that
//! names the old reference never starts (ErrImagePull), although the topology compiles and every
//! schema accepts it. The Helm target is not affected: its values already point the charts at
//! `bitnamilegacy`.
//! Example: `postgres version=15 image="bitnami/postgresql-repmgr:15"` with `targets "compose"`.

use crate::catalog::moved_bitnami;
use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::Target;

pub const RULE: Rule = Rule {
    code: codes::PT175,
    run,
};

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    // The targets that put the declared image into a pod or a container as it is written.
    let Some(t) = [Target::Kubernetes, Target::Compose]
        .into_iter()
        .find_map(|t| cx.topo.target(t))
    else {
        return;
    };
    for c in &cx.topo.clusters {
        let img = &c.postgres.image;
        if !c.postgres.image_declared {
            continue;
        }
        let Some(new) = moved_bitnami(&img.value) else {
            continue;
        };
        out.push(
            Diagnostic::warning(
                codes::PT175,
                format!(
                    "image \"{}\" of cluster \"{}\" no longer pulls: Docker Hub's bitnami repositories stopped serving versioned tags in August 2025",
                    img.value, c.name
                ),
            )
            .with_span(img.span, "a moved repository")
            .with_related(t.span, "target that runs the image as written")
            .with_help(format!(
                "use `image=\"{new}\"`, the same tag where bitnami keeps it (frozen, without updates), or another image"
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::catalog::moved_bitnami;

    #[test]
    fn moved_references() {
        let moved = |s: &str| moved_bitnami(s);
        assert_eq!(
            moved("bitnami/postgresql-repmgr:15").as_deref(),
            Some("bitnamilegacy/postgresql-repmgr:15")
        );
        assert_eq!(
            moved("docker.io/bitnami/pgpool:4.6.2").as_deref(),
            Some("bitnamilegacy/pgpool:4.6.2")
        );
        // Not versioned tags, or not bitnami's Docker Hub repositories.
        assert_eq!(moved("bitnami/postgresql-repmgr"), None);
        assert_eq!(moved("bitnami/kubectl:latest"), None);
        assert_eq!(moved("bitnamilegacy/pgpool:4.6.2"), None);
        assert_eq!(moved("registry.example.com/bitnami/pgpool:4.6.2"), None);
        assert_eq!(moved("bitnami/pgpool@sha256:abc"), None);
        assert_eq!(moved("postgres:16"), None);
    }
}
