//! pgtopo: one KDL topology of a PostgreSQL HA stack in, every artifact that runs it out.
//!
//! The crate is a pipeline, one module per phase (see ARCHITECTURE.md):
//! [`syntax`] → [`model`] → [`plan`] → [`check`] → [`emit`] → [`bundle`]; the binary's `cli` is the only
//! place that touches files or decides exit codes.

#![forbid(unsafe_code)]

pub mod bundle;
pub mod catalog;
pub mod check;
pub mod diag;
pub mod diff;
pub mod driver;
pub mod emit;
pub mod model;
pub mod plan;
pub mod syntax;
pub mod synth;
pub mod views;
