//! Views of the resolved model for people rather than programs: `graph` (a picture of the
//! topology) and `explain` (how to connect and what survives what). Pure functions, like emitters.

pub mod explain;
pub mod graph;
