//! idgraph: identity resolution of customer event streams into unified profiles.

pub mod model;
