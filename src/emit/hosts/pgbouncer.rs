//! `pgbouncer.ini` for a `target="local"` PgBouncer beside a database node: the stack plan's
//! PgBouncer, listening on the node's address and sending every database to the PostgreSQL
//! beside it.

use crate::emit::text;
use crate::emit::vm_common::local_pgbouncer;
use crate::model::{Cluster, Node};
use crate::plan::pooler::{self, PgBouncerPlace};

/// Where the PgBouncer user list (SCRAM secrets, never plain passwords) is provisioned.
pub const AUTH_FILE: &str = "/etc/pgbouncer/userlist.txt";

pub fn ini(c: &Cluster, n: &Node) -> Option<String> {
    let p = local_pgbouncer(c)?;
    let host = n.host.as_ref()?.value.as_str();
    let ini = pooler::pgbouncer(
        c,
        p,
        PgBouncerPlace {
            title: format!(
                "pgbouncer.ini beside node \"{}\" of cluster \"{}\"",
                n.name, c.name
            ),
            auth_note: "Passwords are not here: the auth_file holds the auth_user's password alone, provisioned separately (docs/targets/vm.md).",
            servers: host.to_owned(),
            server_port: n.port.value,
            listen_addr: host.to_owned(),
            listen_port: n.local_pooler_port(p).value,
            auth_file: AUTH_FILE,
        },
    );
    Some(text::render("pgbouncer.ini", &ini))
}
