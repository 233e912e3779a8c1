//! idgraph: identity resolution of customer event streams into unified profiles.

pub mod audience;
pub mod cli;
pub mod config;
pub mod demo;
pub mod ingest;
pub mod model;
pub mod query;
pub mod resolve;
pub mod store;
pub mod tui;
pub mod words;
