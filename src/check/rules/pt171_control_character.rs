//! PT171 control-character
//!
//! What: no string value in the topology holds a control character (a newline, a carriage
//! return, a tab, NUL, …); node and property names cannot hold them anyway.
//! Why: values become lines of config files (postgresql.conf, pgbouncer.ini, haproxy.cfg,
//! keepalived.conf) and words of shell scripts. A newline in a host address or an image name
//! would start a new directive in the file it lands in: `host="10.0.0.1\nadmin_users = x"` would
//! add a PgBouncer admin. The emitters' template formatter refuses such a value again, as a last
//! line of defence; this rule reports it where it was written.
//! Example: `node "db1" role="primary" host="10.0.0.1\nlisten_addr = *"`.

use crate::check::{Context, Rule};
use crate::diag::{codes, Diagnostic};
use crate::syntax::{Node, Value};

pub const RULE: Rule = Rule {
    code: codes::PT171,
    run,
};

fn walk(nodes: &[Node], out: &mut Vec<Diagnostic>) {
    for n in nodes {
        for e in n.args.iter().chain(n.props.values()) {
            if let Value::String(s) = &e.value {
                if let Some(c) = s.chars().find(|c| c.is_control()) {
                    out.push(
                        Diagnostic::error(
                            codes::PT171,
                            format!("a value of `{}` holds the control character {c:?}", n.name),
                        )
                        .with_span(e.span, "written into config files as is")
                        .with_help("remove the control character (escapes such as \\n count too)"),
                    );
                }
            }
        }
        walk(&n.children, out);
    }
}

fn run(cx: &Context, out: &mut Vec<Diagnostic>) {
    // The syntax tree is the same for the base and every env; report it once, with the base.
    if cx.topo.env.is_none() {
        walk(&cx.doc.nodes, out);
    }
}
