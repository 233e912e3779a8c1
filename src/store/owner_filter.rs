//! Which identifiers a space may hold an owner record for, so that looking up one it
//! certainly does not hold skips sled. Most identifiers of a bulk load are new, and a sled
//! read waits while a batch is being applied: during a pipelined ingest such a miss cost
//! more than resolving the event.

use std::hash::{Hash, Hasher};

use rustc_hash::{FxHashSet, FxHasher};

use crate::model::Identifier;

/// Identifiers tracked before the filter gives up (about 100 MB of hashes); lookups then go
/// to sled again.
const MAX_TRACKED: usize = 8 << 20;

/// Hashes of every identifier whose owner record was written since the space was opened
/// without any owner records. While it is complete, an identifier whose hash it lacks has no
/// owner record. Every owner record written must be noted here before its batch is applied.
#[derive(Debug)]
pub(super) struct OwnerFilter {
    /// `None` once the filter cannot tell: the space held owners at open, or too many.
    hashes: Option<FxHashSet<u64>>,
}

impl OwnerFilter {
    /// A filter for a space that does (`false`: does not) hold owner records already.
    pub(super) fn new(holds_owners: bool) -> OwnerFilter {
        OwnerFilter {
            hashes: (!holds_owners).then(FxHashSet::default),
        }
    }

    /// Whether `id` certainly has no owner record.
    pub(super) fn certainly_absent(&self, id: &Identifier) -> bool {
        self.hashes
            .as_ref()
            .is_some_and(|hashes| !hashes.contains(&hash(id)))
    }

    /// Notes that an owner record of `id` is being written.
    pub(super) fn note(&mut self, id: &Identifier) {
        if let Some(hashes) = &mut self.hashes {
            if hashes.len() >= MAX_TRACKED {
                self.hashes = None;
            } else {
                hashes.insert(hash(id));
            }
        }
    }
}

fn hash(id: &Identifier) -> u64 {
    let mut hasher = FxHasher::default();
    id.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_absence_only_of_a_space_that_started_without_owners() {
        let email = Identifier::new("email", "ana@x.io");
        let user = Identifier::new("user_id", "u1");
        let mut fresh = OwnerFilter::new(false);
        assert!(fresh.certainly_absent(&email));
        fresh.note(&email);
        assert!(!fresh.certainly_absent(&email));
        assert!(fresh.certainly_absent(&user));
        assert!(fresh.certainly_absent(&Identifier::new("user_id", "ana@x.io")));

        let mut held = OwnerFilter::new(true);
        held.note(&email);
        assert!(!held.certainly_absent(&user), "a space held owners at open");
    }
}
