//! PT163 unknown-role (error)
//!
//! What: a `member-of=` or an `hba` rule's `user=` names a role that nothing creates: not a
//! declared `role`, not a database `owner` (created with its database), not one of PostgreSQL's
//! predefined roles (`pg_*`), not `postgres` or a role pgtopo creates itself, and not `all`.
//! Why: the bootstrap's `GRANT missing TO app` fails and stops the bootstrap, and a pg_hba.conf row
//! for a role that does not exist never matches: usually a typo, or a `role` that was removed.
//! Example: `role "app" login=#true member-of="readers"` with no `role "readers"`.

use std::collections::HashSet;

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::model::{credentials, Cluster, Spanned};
use crate::plan::access;

pub const RULE: Rule = Rule {
    code: codes::PT163,
    run,
};

/// The roles that exist once the cluster is bootstrapped.
fn known(c: &Cluster) -> HashSet<String> {
    let mut k: HashSet<String> = access::bootstrap_roles(c)
        .into_iter()
        .map(|r| r.name)
        .collect();
    k.extend(["all", "postgres", credentials::REPLICATION_USER].map(str::to_owned));
    k
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    for c in &cx.topo.clusters {
        if c.roles.is_empty() && c.hba.is_none() {
            continue;
        }
        let k = known(c);
        let mut check = |name: &Spanned<String>, what: &str| {
            // PostgreSQL's predefined roles (pg_monitor, pg_read_all_data, …) always exist.
            if k.contains(&name.value) || name.value.starts_with("pg_") {
                return;
            }
            out.push(
                Diagnostic::error(
                    codes::PT163,
                    format!(
                        "cluster \"{}\": {what} names the role \"{}\", which nothing creates",
                        c.name, name.value
                    ),
                )
                .with_span(name.span, "no such role")
                .with_help(format!(
                    "declare `role \"{}\"` (login=#true if it logs in), or name a declared role, a database owner or a predefined pg_* role",
                    name.value
                )),
            );
        };
        for r in &c.roles {
            for m in &r.member_of {
                check(m, &format!("role \"{}\" member-of", r.name));
            }
        }
        if let Some(h) = &c.hba {
            for rule in &h.rules {
                check(&rule.user, "an `hba` rule");
            }
        }
    }
}
