//! Audience reads: who is in an audience and why, and which audiences a profile is in.

use crate::audience::Why;
use crate::model::{Millis, ProfileId};

/// An audience with its member count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceSummary {
    pub name: String,
    pub description: String,
    /// Members at the time asked about.
    pub members: usize,
}

/// One member of an audience and why they are in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub profile: ProfileId,
    pub why: Why,
}

/// Audience membership of one space, as of a given time (`now`: pass the wall clock, or a
/// fixed time to replay). Answers are exact at `now` whatever the stored state: memberships
/// whose time window has moved are re-evaluated on the fly.
pub trait AudienceRead {
    /// Every configured audience with its member count, by name.
    fn audience_summaries(&self, now: Millis) -> anyhow::Result<Vec<AudienceSummary>>;
    /// The members of an audience, by profile id, each with why.
    fn audience_members(&self, audience: &str, now: Millis) -> anyhow::Result<Vec<Member>>;
    /// The audiences a profile is in, by name, each with why.
    fn audiences_of(&self, profile: ProfileId, now: Millis) -> anyhow::Result<Vec<(String, Why)>>;
    /// One audience evaluated on one profile, member or not: for "why is she not in it?".
    fn audience_standing(
        &self,
        audience: &str,
        profile: ProfileId,
        now: Millis,
    ) -> anyhow::Result<Why>;
}
