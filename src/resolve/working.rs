//! An in-memory working set of one space's graph: resolution reads it, plans are applied
//! to it, and the store flushes what changed. Pure: no I/O.

use rustc_hash::{FxHashMap, FxHashSet};
use serde_json::{Map, Value};

use crate::model::{Identifier, Millis, Profile, ProfileId};

use super::{GraphView, Plan};

/// The facts of the event being applied.
#[derive(Debug, Clone, Copy)]
pub struct Attribution<'a> {
    /// Ingest sequence number of the event (unique per space, increasing).
    pub seq: u64,
    pub time: Millis,
    pub source: &'a str,
    pub message_id: &'a str,
    /// Traits the event sets on the profile.
    pub traits: &'a Map<String, Value>,
}

/// Profiles and identifier owners loaded (or created) so far, and what changed.
#[derive(Debug, Default, Clone)]
pub struct WorkingGraph {
    profiles: FxHashMap<ProfileId, Profile>,
    /// `None`: known to have no owner (released by a sign-out in this working set).
    owners: FxHashMap<Identifier, Option<ProfileId>>,
    seen: FxHashSet<String>,
    changed_profiles: FxHashSet<ProfileId>,
    removed_profiles: FxHashSet<ProfileId>,
    changed_owners: FxHashSet<Identifier>,
    moved_clusters: FxHashMap<u64, ProfileId>,
    /// Changed profiles whose traits or timeline clusters may have changed too (created,
    /// merged into, given traits): audience evaluation reads those besides the events.
    reshaped: FxHashSet<ProfileId>,
}

impl GraphView for WorkingGraph {
    fn profile_of(&self, id: &Identifier) -> Option<ProfileId> {
        self.owners.get(id).copied().flatten()
    }

    fn profile(&self, id: ProfileId) -> Option<&Profile> {
        self.profiles.get(&id)
    }

    fn message_seen(&self, message_id: &str) -> bool {
        self.seen.contains(message_id)
    }
}

impl WorkingGraph {
    /// An empty working set.
    pub fn new() -> WorkingGraph {
        WorkingGraph::default()
    }

    /// Whether the owner of an identifier is known here.
    pub fn knows_owner(&self, id: &Identifier) -> bool {
        self.owners.contains_key(id)
    }

    /// Whether a profile is loaded.
    pub fn has_profile(&self, id: ProfileId) -> bool {
        self.profiles.contains_key(&id)
    }

    /// Whether a profile was merged away in this working set.
    pub fn was_removed(&self, id: ProfileId) -> bool {
        self.removed_profiles.contains(&id)
    }

    /// Loads an identifier's owner read from the store.
    pub fn load_owner(&mut self, id: Identifier, owner: ProfileId) {
        self.owners.entry(id).or_insert(Some(owner));
    }

    /// Loads a profile read from the store.
    pub fn load_profile(&mut self, profile: Profile) {
        self.profiles.entry(profile.id).or_insert(profile);
    }

    /// Records a messageId known to be stored.
    pub fn load_seen(&mut self, message_id: String) {
        self.seen.insert(message_id);
    }

    /// Applies a plan for one event and returns the profile that now holds it.
    pub fn apply(
        &mut self,
        plan: &Plan,
        at: &Attribution<'_>,
        next_profile_id: &mut impl FnMut() -> ProfileId,
    ) -> ProfileId {
        let target_id = match plan.target {
            Some(id) => id,
            None => {
                let id = next_profile_id();
                self.profiles.insert(id, Profile::new(id, at.time));
                id
            }
        };
        for absorbed_id in &plan.absorb {
            let Some(absorbed) = self.profiles.remove(absorbed_id) else {
                continue;
            };
            for held in &absorbed.identifiers {
                self.owners.insert(held.id.clone(), Some(target_id));
                self.changed_owners.insert(held.id.clone());
            }
            for cluster in &absorbed.clusters {
                self.moved_clusters.insert(*cluster, target_id);
            }
            self.removed_profiles.insert(*absorbed_id);
            self.changed_profiles.remove(absorbed_id);
            if let Some(target) = self.profiles.get_mut(&target_id) {
                target.absorb(absorbed);
            }
        }
        if let Some(target) = self.profiles.get_mut(&target_id) {
            for id in &plan.identifiers {
                target.add_identifier(id, at.time, at.source);
            }
            target.record_event(at.time, at.seq, at.traits);
            target.violation_count += u32::try_from(plan.violations.len()).unwrap_or(u32::MAX);
            for id in &plan.released {
                target.remove_identifier(id);
            }
        }
        for id in &plan.new_identifiers {
            self.owners.insert(id.clone(), Some(target_id));
            self.changed_owners.insert(id.clone());
        }
        for id in &plan.released {
            self.owners.insert(id.clone(), None);
            self.changed_owners.insert(id.clone());
        }
        self.changed_profiles.insert(target_id);
        if plan.target.is_none() || !plan.absorb.is_empty() || !at.traits.is_empty() {
            self.reshaped.insert(target_id);
        }
        self.seen.insert(at.message_id.to_string());
        target_id
    }

    /// Replaces a profile wholesale (manual repair) and marks it changed.
    pub fn put_profile(&mut self, profile: Profile) {
        for held in &profile.identifiers {
            self.owners.insert(held.id.clone(), Some(profile.id));
            self.changed_owners.insert(held.id.clone());
        }
        self.removed_profiles.remove(&profile.id);
        self.changed_profiles.insert(profile.id);
        self.reshaped.insert(profile.id);
        self.profiles.insert(profile.id, profile);
    }

    /// Profiles created or changed, to write back.
    pub fn changed_profiles(&self) -> impl Iterator<Item = &Profile> {
        self.changed_profiles
            .iter()
            .filter_map(|id| self.profiles.get(id))
    }

    /// Whether a changed profile's traits or timeline clusters may have changed too (what
    /// else it got: events, identifiers).
    pub fn traits_or_clusters_changed(&self, id: ProfileId) -> bool {
        self.reshaped.contains(&id)
    }

    /// Profiles merged away, to delete.
    pub fn removed_profiles(&self) -> impl Iterator<Item = ProfileId> + '_ {
        self.removed_profiles.iter().copied()
    }

    /// Identifier owners that changed, to write back (`None`: the identifier was released
    /// and no profile holds it now).
    pub fn changed_owners(&self) -> impl Iterator<Item = (&Identifier, Option<ProfileId>)> {
        self.changed_owners
            .iter()
            .filter_map(|id| self.owners.get(id).map(|owner| (id, *owner)))
    }

    /// Timeline clusters that now belong to another profile.
    pub fn moved_clusters(&self) -> impl Iterator<Item = (u64, ProfileId)> + '_ {
        self.moved_clusters.iter().map(|(c, p)| (*c, *p))
    }

    /// Forgets what changed (after a flush), keeping the loaded state as a cache.
    pub fn mark_flushed(&mut self) {
        self.changed_profiles.clear();
        self.removed_profiles.clear();
        self.changed_owners.clear();
        self.moved_clusters.clear();
        self.reshaped.clear();
    }

    /// Starts the next batch on what this one left: its state stays loaded (the store may
    /// not hold it yet), what changed and the messageIds seen are forgotten.
    pub fn start_next_batch(&mut self) {
        self.mark_flushed();
        self.seen.clear();
    }

    /// Forgets what was only loaded, keeping what this batch changed (which the store may
    /// not hold yet).
    pub fn keep_only_changes(&mut self) {
        let changed = &self.changed_profiles;
        self.profiles.retain(|id, _| changed.contains(id));
        let changed = &self.changed_owners;
        self.owners.retain(|id, _| changed.contains(id));
    }

    /// Number of profiles held.
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// Every profile held, for tests and small in-memory graphs.
    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeping_only_changes_forgets_what_was_merely_loaded() {
        let mut graph = WorkingGraph::new();
        let loaded = Identifier::new("email", "a@x.io");
        graph.load_owner(loaded.clone(), ProfileId(1));
        graph.load_profile(Profile::new(ProfileId(1), 0));
        let fresh = Identifier::new("user_id", "u2");
        let plan = Plan {
            target: None,
            absorb: Vec::new(),
            identifiers: vec![fresh.clone()],
            new_identifiers: vec![fresh.clone()],
            links: Vec::new(),
            violations: Vec::new(),
            released: Vec::new(),
        };
        let traits = Map::new();
        let at = Attribution {
            seq: 1,
            time: 0,
            source: "web",
            message_id: "m1",
            traits: &traits,
        };
        let created = graph.apply(&plan, &at, &mut || ProfileId(2));
        graph.keep_only_changes();
        assert!(graph.has_profile(created) && graph.knows_owner(&fresh));
        assert_eq!(graph.profile_of(&fresh), Some(created));
        assert!(!graph.has_profile(ProfileId(1)) && !graph.knows_owner(&loaded));
        assert_eq!(
            graph.changed_profiles().count(),
            1,
            "changes stay to be written"
        );
    }
}
