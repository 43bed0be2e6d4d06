//! The text configs people read and edit (pgbouncer.ini, haproxy.cfg, keepalived.conf, start
//! scripts) are minijinja templates under `src/emit/templates/`, rendered from typed values.
//!
//! Two rules make a hostile value impossible to smuggle into a config: every value printed with
//! `{{ … }}` must be free of control characters (a newline would start a new directive; PT171
//! rejects such values in the topology, and the formatter refuses them again here), and a value
//! that lands in a shell script goes through the `sh` filter, which single-quotes it.

use std::sync::OnceLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior};

/// Every template, by name, compiled into the binary.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "compose-pgbouncer-entrypoint.sh",
        include_str!("templates/compose-pgbouncer-entrypoint.sh.j2"),
    ),
    ("pgbouncer.ini", include_str!("templates/pgbouncer.ini.j2")),
    (
        "keepalived.conf",
        include_str!("templates/keepalived.conf.j2"),
    ),
    ("haproxy.cfg", include_str!("templates/haproxy.cfg.j2")),
    ("haproxy-check", include_str!("templates/haproxy-check.j2")),
    (
        "pgbackrest-keys",
        include_str!("templates/pgbackrest-keys.j2"),
    ),
    (
        "pgbackrest-first-backup",
        include_str!("templates/pgbackrest-first-backup.j2"),
    ),
    (
        "pgbackrest-setup.sh",
        include_str!("templates/pgbackrest-setup.sh.j2"),
    ),
    (
        "pgbackrest-backup.sh",
        include_str!("templates/pgbackrest-backup.sh.j2"),
    ),
    (
        "pgbackrest-service.sh",
        include_str!("templates/pgbackrest-service.sh.j2"),
    ),
    ("restore.sh", include_str!("templates/restore.sh.j2")),
    (
        "psql-passwords",
        include_str!("templates/psql-passwords.j2"),
    ),
    ("bootstrap.sh", include_str!("templates/bootstrap.sh.j2")),
    (
        "hosts-bootstrap.sh",
        include_str!("templates/hosts-bootstrap.sh.j2"),
    ),
    (
        "patroni-rest-env",
        include_str!("templates/patroni-rest-env.j2"),
    ),
    (
        "patroni-run.sh",
        include_str!("templates/patroni-run.sh.j2"),
    ),
    (
        "patroni-apply.sh",
        include_str!("templates/patroni-apply.sh.j2"),
    ),
    (
        "node-entrypoint.sh",
        include_str!("templates/node-entrypoint.sh.j2"),
    ),
    (
        "compose-init.sh",
        include_str!("templates/compose-init.sh.j2"),
    ),
    (
        "compose-crontab",
        include_str!("templates/compose-crontab.j2"),
    ),
    (
        "workload-load.sql",
        include_str!("templates/workload-load.sql.j2"),
    ),
    (
        "workload-verify.sh",
        include_str!("templates/workload-verify.sh.j2"),
    ),
    (
        "workload-run.sh",
        include_str!("templates/workload-run.sh.j2"),
    ),
    (
        "pgtopo-health.sh",
        include_str!("templates/pgtopo-health.sh.j2"),
    ),
    (
        "k8s-node-table",
        include_str!("templates/k8s-node-table.j2"),
    ),
    ("k8s-start.sh", include_str!("templates/k8s-start.sh.j2")),
    (
        "k8s-labeler.sh",
        include_str!("templates/k8s-labeler.sh.j2"),
    ),
    (
        "k8s-pgbouncer-auth.sh",
        include_str!("templates/k8s-pgbouncer-auth.sh.j2"),
    ),
    (
        "k8s-src-pgbackrest",
        include_str!("templates/k8s-src-pgbackrest.j2"),
    ),
    (
        "k8s-pgbackrest-sidecar.sh",
        include_str!("templates/k8s-pgbackrest-sidecar.sh.j2"),
    ),
    (
        "k8s-pgbackrest-exec.sh",
        include_str!("templates/k8s-pgbackrest-exec.sh.j2"),
    ),
    (
        "k8s-pgbackrest-restore.sh",
        include_str!("templates/k8s-pgbackrest-restore.sh.j2"),
    ),
    (
        "k8s-wal-get.sh",
        include_str!("templates/k8s-wal-get.sh.j2"),
    ),
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_syntax(
            SyntaxConfig::builder()
                .trim_blocks(true)
                .lstrip_blocks(true)
                .keep_trailing_newline(true)
                .build()
                .expect("the default delimiters are valid"),
        );
        // A misspelt variable is an error, not an empty string in the output.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_formatter(|out, _state, value| {
            // A string is checked and written as it is; only other values are formatted first
            // (a String per `{{ … }}` of every rendered file otherwise).
            let owned;
            let text = match value.as_str() {
                Some(s) => s,
                None => {
                    owned = value.to_string();
                    &owned
                }
            };
            if text.chars().any(char::is_control) {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("refusing to write a value with a control character: {text:?}"),
                ));
            }
            out.write_str(text).map_err(Error::from)
        });
        env.add_filter("sh", shell_quote);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|e| panic!("template {name} does not compile: {e}"));
        }
        env
    })
}

/// A value as one shell word: single-quoted, with each `'` closed, escaped and reopened.
fn shell_quote(v: Value) -> String {
    let s = v.to_string();
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@,+%".contains(c))
    {
        return s;
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Renders template `name` with `ctx`. The values come from a model that passed every check
/// (PT160 names, PT171 control characters), so a failure here is a pgtopo bug, reported as such.
pub fn render<S: serde::Serialize>(name: &str, ctx: S) -> String {
    let t = env()
        .get_template(name)
        .unwrap_or_else(|e| panic!("pgtopo bug: no template {name}: {e}"));
    t.render(Value::from(minijinja::value::Serde(&ctx)))
        .unwrap_or_else(|e| panic!("pgtopo bug: template {name} failed: {e:#}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quoting_keeps_a_value_one_word() {
        assert_eq!(shell_quote(Value::from("plain-1.2")), "plain-1.2");
        assert_eq!(shell_quote(Value::from("a b")), "'a b'");
        assert_eq!(shell_quote(Value::from("it's")), r"'it'\''s'");
        assert_eq!(shell_quote(Value::from("$(rm -rf /)")), "'$(rm -rf /)'");
        assert_eq!(shell_quote(Value::from("")), "''");
    }

    #[test]
    fn a_value_with_a_newline_is_refused() {
        let e = env()
            .render_str(
                "x = {{ v }}\n",
                minijinja::context! { v => "1\nadmin_users = x" },
            )
            .unwrap_err();
        assert!(e.to_string().contains("control character"), "{e}");
    }
}
