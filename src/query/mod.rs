//! Reading the store for people: the read/repair interface, fuzzy search, timelines,
//! touchpoints, graph health, audience membership.

pub mod audience;
pub mod export;
pub mod health;
pub mod source;
pub mod why;

pub use audience::{AudienceRead, AudienceSummary, Member};
pub use source::{GraphRead, GraphRepair, OpOutcome, SplitPreview};
