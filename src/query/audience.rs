//! Audience reads: who is in an audience and why, and which audiences a profile is in.

use crate::audience::{AudienceSet, Why};
use crate::model::{Millis, ProfileId};

use super::source::GraphRepair;

/// An audience with its member count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudienceSummary {
    /// The audience's name (its `[audiences.NAME]` section).
    pub name: String,
    /// What it is for, as configured.
    pub description: String,
    /// Members at the time asked about.
    pub members: usize,
}

/// One member of an audience and why they are in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member profile.
    pub profile: ProfileId,
    /// The clauses and events that made it a member.
    pub why: Why,
}

/// Audience membership of one space, as of a given time (`now`: pass the wall clock, or a
/// fixed time to replay). Answers are exact at `now` whatever the stored state: memberships
/// whose time window has moved are re-evaluated on the fly.
pub trait AudienceRead {
    /// The audiences configured for the space.
    fn configured_audiences(&self) -> &AudienceSet;
    /// Every configured audience with its member count, by name.
    fn audience_summaries(&self, now: Millis) -> anyhow::Result<Vec<AudienceSummary>> {
        self.configured_audiences()
            .iter()
            .map(|a| {
                Ok(AudienceSummary {
                    name: a.name.clone(),
                    description: a.description.clone(),
                    members: self.audience_members(&a.name, now)?.len(),
                })
            })
            .collect()
    }
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

/// A space the explorer can read, repair and ask about audiences: what its store worker
/// holds. Every type that is both is one.
pub trait SpaceAccess: GraphRepair + AudienceRead {}

impl<T: GraphRepair + AudienceRead + ?Sized> SpaceAccess for T {}

impl<T: AudienceRead + ?Sized> AudienceRead for std::sync::Arc<T> {
    fn configured_audiences(&self) -> &AudienceSet {
        (**self).configured_audiences()
    }
    fn audience_members(&self, audience: &str, now: Millis) -> anyhow::Result<Vec<Member>> {
        (**self).audience_members(audience, now)
    }
    fn audiences_of(&self, profile: ProfileId, now: Millis) -> anyhow::Result<Vec<(String, Why)>> {
        (**self).audiences_of(profile, now)
    }
    fn audience_standing(
        &self,
        audience: &str,
        profile: ProfileId,
        now: Millis,
    ) -> anyhow::Result<Why> {
        (**self).audience_standing(audience, profile, now)
    }
}
