//! Reading the store for people: the read/repair interface, the change feed, fuzzy
//! search, timelines,
//! touchpoints, graph health, why two identifiers are linked, and audience membership.

pub mod audience;
pub mod changes;
pub mod export;
pub mod health;
pub mod search;
pub mod source;
pub mod timeline;
pub mod touchpoints;
pub mod why;

pub use audience::{AudienceRead, AudienceSummary, Member, SpaceAccess};
pub use changes::{ChangeLog, ChangedProfiles, Changes};
pub use source::{GraphRead, GraphRepair, OpOutcome, SplitPreview};
