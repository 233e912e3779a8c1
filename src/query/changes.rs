//! The change feed of a space: a version that moves with every applied batch (ingest,
//! merge, split, undo) and a bounded, in-memory log of the profiles each batch changed or
//! removed, so a reader (the live explorer) can catch up cheaply instead of re-reading the
//! whole space.

use std::collections::{BTreeMap, VecDeque};

use crate::model::ProfileId;

/// Profile ids the log keeps before it forgets its oldest batches.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// What changed in a space after a version of its change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    /// The feed's current version: ask from this one next time.
    pub version: u64,
    /// Events stored in the space as of `version` (0 when the store does not count them).
    pub events: u64,
    /// Which profiles changed.
    pub profiles: ChangedProfiles,
}

/// The profiles a stretch of the change feed touched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangedProfiles {
    /// Exactly these (each sorted, no id in both lists).
    Listed {
        /// Created or changed profiles.
        changed: Vec<ProfileId>,
        /// Profiles that no longer exist (merged away).
        removed: Vec<ProfileId>,
    },
    /// The feed does not reach back to the version asked for: re-read everything.
    Unknown,
}

impl Changes {
    /// Nothing changed since `version`.
    pub fn none(version: u64, events: u64) -> Changes {
        Changes {
            version,
            events,
            profiles: ChangedProfiles::Listed {
                changed: Vec::new(),
                removed: Vec::new(),
            },
        }
    }
}

/// One applied batch.
#[derive(Debug, Clone)]
struct Batch {
    version: u64,
    changed: Vec<ProfileId>,
    removed: Vec<ProfileId>,
}

/// The in-memory log behind a change feed. Versions count batches recorded since the log
/// was created (they restart with the process); the log keeps at most `capacity` profile
/// ids and forgets its oldest batches beyond that.
#[derive(Debug, Clone)]
pub struct ChangeLog {
    version: u64,
    /// The oldest version the log can still answer from.
    floor: u64,
    events: u64,
    batches: VecDeque<Batch>,
    held: usize,
    capacity: usize,
}

impl ChangeLog {
    /// An empty log at version 0, for a space holding `events` events.
    pub fn new(events: u64) -> ChangeLog {
        ChangeLog::with_capacity(events, DEFAULT_CAPACITY)
    }

    /// An empty log that keeps at most `capacity` profile ids.
    pub fn with_capacity(events: u64, capacity: usize) -> ChangeLog {
        ChangeLog {
            version: 0,
            floor: 0,
            events,
            batches: VecDeque::new(),
            held: 0,
            capacity,
        }
    }

    /// The current version.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Records one applied batch: the profiles it changed and removed, and the space's
    /// event count after it. Returns the new version.
    pub fn record(&mut self, changed: Vec<ProfileId>, removed: Vec<ProfileId>, events: u64) -> u64 {
        self.version += 1;
        self.events = events;
        self.held += changed.len() + removed.len();
        self.batches.push_back(Batch {
            version: self.version,
            changed,
            removed,
        });
        while self.held > self.capacity {
            let Some(oldest) = self.batches.pop_front() else {
                break;
            };
            self.held -= oldest.changed.len() + oldest.removed.len();
            self.floor = oldest.version;
        }
        self.version
    }

    /// What changed after `version`. A version older than the log remembers, or one it never
    /// issued (newer than the current one, e.g. from before a restart, or `u64::MAX` to learn
    /// the current version), answers [`ChangedProfiles::Unknown`].
    pub fn since(&self, version: u64) -> Changes {
        if version < self.floor || version > self.version {
            return Changes {
                version: self.version,
                events: self.events,
                profiles: ChangedProfiles::Unknown,
            };
        }
        // Later batches win: a profile removed by a merge may come back with an undo.
        let mut last: BTreeMap<ProfileId, bool> = BTreeMap::new();
        for batch in self.batches.iter().filter(|b| b.version > version) {
            for id in &batch.changed {
                last.insert(*id, false);
            }
            for id in &batch.removed {
                last.insert(*id, true);
            }
        }
        let (removed, changed): (Vec<_>, Vec<_>) = last.into_iter().partition(|(_, gone)| *gone);
        Changes {
            version: self.version,
            events: self.events,
            profiles: ChangedProfiles::Listed {
                changed: changed.into_iter().map(|(id, _)| id).collect(),
                removed: removed.into_iter().map(|(id, _)| id).collect(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: &[u64]) -> Vec<ProfileId> {
        n.iter().copied().map(ProfileId).collect()
    }

    fn listed(changes: &Changes) -> (Vec<ProfileId>, Vec<ProfileId>) {
        match &changes.profiles {
            ChangedProfiles::Listed { changed, removed } => (changed.clone(), removed.clone()),
            ChangedProfiles::Unknown => panic!("expected a list, got {changes:?}"),
        }
    }

    #[test]
    fn lists_what_changed_after_a_version_later_batches_winning() {
        let mut log = ChangeLog::new(10);
        assert_eq!(log.since(0), Changes::none(0, 10));
        assert_eq!(log.record(ids(&[1, 2]), vec![], 12), 1);
        assert_eq!(log.record(ids(&[1]), ids(&[2]), 13), 2);
        assert_eq!(log.record(ids(&[2, 3]), vec![], 13), 3);
        let all = log.since(0);
        assert_eq!((all.version, all.events), (3, 13));
        assert_eq!(listed(&all), (ids(&[1, 2, 3]), vec![]));
        assert_eq!(listed(&log.since(1)), (ids(&[1, 2, 3]), vec![]));
        let mut log2 = log.clone();
        log2.record(vec![], ids(&[3]), 13);
        assert_eq!(listed(&log2.since(3)), (vec![], ids(&[3])));
        assert_eq!(listed(&log.since(3)), (vec![], vec![]));
    }

    #[test]
    fn forgets_old_batches_beyond_its_capacity_and_unknown_versions_ask_for_a_rescan() {
        let mut log = ChangeLog::with_capacity(0, 3);
        log.record(ids(&[1, 2]), vec![], 2);
        log.record(ids(&[3]), vec![], 3);
        assert_eq!(listed(&log.since(0)).0, ids(&[1, 2, 3]));
        log.record(ids(&[4]), vec![], 4);
        assert_eq!(log.since(0).profiles, ChangedProfiles::Unknown);
        assert_eq!(listed(&log.since(1)).0, ids(&[3, 4]));
        // A batch larger than the whole log is forgotten at once.
        log.record(ids(&[5, 6, 7, 8]), vec![], 8);
        assert_eq!(log.since(3).profiles, ChangedProfiles::Unknown);
        assert_eq!(listed(&log.since(4)), (vec![], vec![]));
        let future = log.since(u64::MAX);
        assert_eq!((future.version, future.events), (4, 8));
        assert_eq!(future.profiles, ChangedProfiles::Unknown);
    }
}
