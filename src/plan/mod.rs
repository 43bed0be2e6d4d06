//! Phase 3 of the pipeline, between the model and the emitters: the **stack plan**. For each
//! cluster it is the one resolved description of the PostgreSQL stack that every target packages:
//! server parameters with their ownership ([`params`]), roles, databases and pg_hba rows
//! ([`access`]), pooler settings ([`pooler`]), Patroni's settings ([`patroni`]) and where clients connect
//! ([`endpoints`]); the images and
//! ports come from [`crate::catalog`]. A target decides only packaging (a ConfigMap, a mounted
//! file, a chart value, a host file), so a setting, an hba row, a pooler option or an image pin
//! has exactly one place in the source, and `explain`, `graph` and `diff` read the same facts.
//!
//! Pure functions of the resolved model, like every phase before `cli`.

pub mod access;
pub mod backup;
pub mod capabilities;
pub mod delta;
pub mod endpoints;
pub mod params;
pub mod patroni;
pub mod pooler;
