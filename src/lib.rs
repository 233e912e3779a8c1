//! idgraph: identity resolution of customer event streams into unified profiles.

pub mod cli;
pub mod config;
pub mod demo;
pub mod model;
