//! Audience reads of a space: stored standings, with expired ones re-evaluated on the fly,
//! or every profile evaluated when asked about a time before the audience clock.

use std::collections::BTreeMap;

use anyhow::Context;

use crate::audience::{Audience, AudienceSet, Journey, Why};
use crate::model::{Millis, Profile, ProfileId};
use crate::query::{AudienceRead, Member};

use super::audience::Standing;
use super::codec::decode;
use super::keys::{self, tag};
use super::space::SpaceStore;

impl SpaceStore {
    fn audience(&self, name: &str) -> anyhow::Result<&Audience> {
        self.audiences
            .get(name)
            .ok_or_else(|| self.audiences.unknown(name))
    }

    /// Whether stored standings can answer for `now`: computed with the configured
    /// definitions, at or before `now`.
    fn stored_standings_hold(&self, now: Millis) -> anyhow::Result<bool> {
        let meta = self.audience_meta()?;
        Ok(meta.definitions == self.audience_definitions()
            && meta.clock.is_none_or(|clock| clock <= now))
    }

    /// Evaluates audiences (all, or one) on a profile from its stored events.
    fn evaluate_profile(
        &self,
        profile: &Profile,
        only: Option<&Audience>,
        now: Millis,
    ) -> anyhow::Result<Vec<(String, Why)>> {
        let events = self.audience_events(&profile.clusters)?;
        let journey = Journey::new(profile, &events);
        Ok(match only {
            Some(a) => vec![(a.name.clone(), a.condition.evaluate(&journey, now))],
            None => self.audiences.evaluate(&journey, now),
        })
    }

    /// Every member of an audience, evaluating every profile (no stored standing used).
    fn evaluate_members(&self, audience: &Audience, now: Millis) -> anyhow::Result<Vec<Member>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix([tag::PROFILE]) {
            let (_, value) = item?;
            let profile: Profile = decode(&value)?;
            for (_, why) in self.evaluate_profile(&profile, Some(audience), now)? {
                if why.member {
                    out.push(Member {
                        profile: profile.id,
                        why,
                    });
                }
            }
        }
        Ok(out)
    }
}

impl AudienceRead for SpaceStore {
    fn configured_audiences(&self) -> &AudienceSet {
        &self.audiences
    }

    fn audience_members(&self, audience: &str, now: Millis) -> anyhow::Result<Vec<Member>> {
        let audience = self.audience(audience)?;
        let _gate = self.read_gate();
        if !self.stored_standings_hold(now)? {
            return self.evaluate_members(audience, now);
        }
        let mut members = BTreeMap::new();
        for item in self
            .tree
            .scan_prefix(keys::audience_member_prefix(&audience.name))
        {
            let (key, value) = item?;
            let why: Why = decode(&value)?;
            if let Some(id) = keys::trailing_profile(&key) {
                members.insert(id, why);
            }
        }
        for id in self.expired_profiles(&audience.name, now)? {
            members.remove(&id);
            if let Some(profile) = self.load_profile(id)? {
                for (_, why) in self.evaluate_profile(&profile, Some(audience), now)? {
                    if why.member {
                        members.insert(id, why);
                    }
                }
            }
        }
        Ok(members
            .into_iter()
            .map(|(profile, why)| Member { profile, why })
            .collect())
    }

    fn audiences_of(&self, profile: ProfileId, now: Millis) -> anyhow::Result<Vec<(String, Why)>> {
        let _gate = self.read_gate();
        let Some(loaded) = self.load_profile(profile)? else {
            return Ok(Vec::new());
        };
        let live = || -> anyhow::Result<Vec<(String, Why)>> {
            Ok(self
                .evaluate_profile(&loaded, None, now)?
                .into_iter()
                .filter(|(_, why)| why.member)
                .collect())
        };
        if !self.stored_standings_hold(now)? {
            return live();
        }
        let mut out = Vec::new();
        for item in self
            .tree
            .scan_prefix(keys::profile_audience_prefix(profile))
        {
            let (key, value) = item?;
            let standing: Standing = decode(&value)?;
            if standing.valid_until.is_some_and(|until| until <= now) {
                return live();
            }
            let Some(name) = keys::audience_of_profile_key(&key) else {
                continue;
            };
            if standing.member {
                let why: Why = self
                    .get(&keys::audience_member(name, profile))?
                    .with_context(|| format!("{profile} is in {name} but its why is missing"))?;
                out.push((name.to_string(), why));
            }
        }
        Ok(out)
    }

    fn audience_standing(
        &self,
        audience: &str,
        profile: ProfileId,
        now: Millis,
    ) -> anyhow::Result<Why> {
        let audience = self.audience(audience)?;
        let _gate = self.read_gate();
        let loaded = self
            .load_profile(profile)?
            .with_context(|| format!("no profile {profile} in space {}", self.name))?;
        self.evaluate_profile(&loaded, Some(audience), now)?
            .pop()
            .map(|(_, why)| why)
            .context("audience evaluation returned nothing")
    }
}
