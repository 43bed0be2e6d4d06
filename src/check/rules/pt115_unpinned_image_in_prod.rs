//! PT115 unpinned-image-in-prod (warning)
//!
//! What: in an env whose name contains "prod", the cluster image has an explicit tag other than
//! `latest` (or a digest).
//! Why: `latest` or no tag means a node restart can silently pull a different PostgreSQL build than
//! its standbys run; production wants the same bytes on every node until someone changes them.
//! Example: `env "prod" { cluster "db" { postgres image="postgres" } }`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};

pub const RULE: Rule = Rule {
    code: codes::PT115,
    run,
};

/// The tag of an image reference, `None` when untagged. A digest (`@sha256:…`) counts as pinned.
fn tag(image: &str) -> Option<&str> {
    if let Some((_, digest)) = image.split_once('@') {
        return Some(digest);
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    last.split_once(':').map(|(_, t)| t)
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    let Some(env) = &cx.topo.env else { return };
    if !env.to_ascii_lowercase().contains("prod") {
        return;
    }
    for c in &cx.topo.clusters {
        let img = &c.postgres.image;
        let problem = match tag(&img.value) {
            None => "has no tag",
            Some("latest") => "is tagged latest",
            Some(_) => continue,
        };
        out.push(
            Diagnostic::warning(
                codes::PT115,
                format!("image \"{}\" {problem} in env \"{env}\"", img.value),
            )
            .with_span(img.span, "not pinned")
            .with_help("pin a version in this env, e.g. `postgres image=\"postgres:16.4\"`"),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags() {
        assert_eq!(super::tag("postgres"), None);
        assert_eq!(super::tag("postgres:15"), Some("15"));
        assert_eq!(super::tag("registry:5000/postgres"), None);
        assert_eq!(super::tag("registry:5000/postgres:latest"), Some("latest"));
        assert_eq!(super::tag("postgres@sha256:abc"), Some("sha256:abc"));
    }
}
