//! Pooler settings: one PgBouncer configuration per pooler, the same on every target except for
//! where it listens and where its servers are, which the target's packaging decides.

use serde::Serialize;

use crate::model::{credentials, Cluster, Pooler};
use crate::plan::access;

/// Where a PgBouncer runs and what it reaches, as its target places it.
pub struct PgBouncerPlace {
    /// The first comment line, naming what this PgBouncer is.
    pub title: String,
    /// A second comment line on how its auth_file is provisioned.
    pub auth_note: &'static str,
    /// The server (or comma-separated servers: PgBouncer 1.17+ spreads new server connections
    /// over them) every database name goes to.
    pub servers: String,
    pub server_port: u16,
    pub listen_addr: String,
    pub listen_port: u16,
    pub auth_file: &'static str,
}

/// Everything pgbouncer.ini holds, typed; rendered by the `pgbouncer.ini` template.
#[derive(Serialize)]
pub struct PgBouncerIni {
    pub title: String,
    pub auth_note: &'static str,
    pub servers: String,
    pub server_port: u16,
    pub listen_addr: String,
    pub listen_port: u16,
    pub auth_file: &'static str,
    /// The role PgBouncer logs in as to look up other roles' secrets (`auth_query`): not the
    /// superuser, a role that may only call the lookup function (plan::access::service_roles).
    pub auth_user: &'static str,
    pub auth_query: String,
    pub admin_user: &'static str,
    pub pool_mode: &'static str,
    pub default_pool_size: u32,
    pub reserve_pool_size: u32,
    pub max_client_conn: u32,
}

/// The one PgBouncer configuration of pooler `p`, placed by its target.
pub fn pgbouncer(_c: &Cluster, p: &Pooler, at: PgBouncerPlace) -> PgBouncerIni {
    PgBouncerIni {
        title: at.title,
        auth_note: at.auth_note,
        servers: at.servers,
        server_port: at.server_port,
        listen_addr: at.listen_addr,
        listen_port: at.listen_port,
        auth_file: at.auth_file,
        auth_user: credentials::POOLER_AUTH_USER,
        auth_query: access::pooler_auth_query(),
        admin_user: "postgres",
        pool_mode: p.mode.value.as_str(),
        default_pool_size: p.pool.size.value,
        reserve_pool_size: p.pool.reserve.value,
        max_client_conn: p.pool.max_client_conn.value,
    }
}
