//! Reading the store for people: the read/repair interface, fuzzy search, timelines,
//! touchpoints, graph health.

pub mod search;
pub mod source;

pub use source::{GraphRead, GraphRepair, OpOutcome, SplitPreview};
