//! Which identifiers a space may hold an owner record for, so that looking up one it
//! certainly does not hold skips sled. Most identifiers of a bulk load are new, and a sled
//! read waits while a batch is being applied: during a pipelined ingest such a miss cost
//! more than resolving the event.

use rustc_hash::FxHashSet;

use super::owners::bucket_of_hash;

/// Identifiers tracked before the filter gives up (about 100 MB of hashes); lookups then go
/// to sled again.
const MAX_TRACKED: usize = 8 << 20;

/// The hashes (see [`super::owners::Hashed`]) of every identifier whose owner record was
/// written since the space was opened without any owner records. While it is complete, an
/// identifier whose hash it lacks has no owner record, and a bucket none of its hashes falls
/// in holds nothing. Every owner record written must be noted here before its batch is
/// applied.
#[derive(Debug)]
pub(super) struct OwnerFilter {
    /// `None` once the filter cannot tell: the space held owners at open, or too many.
    noted: Option<Noted>,
}

#[derive(Debug, Default)]
struct Noted {
    hashes: FxHashSet<u64>,
    /// The buckets written, a bit each.
    buckets: Vec<u64>,
}

impl OwnerFilter {
    /// A filter for a space that does (`false`: does not) hold owner records already.
    pub(super) fn new(holds_owners: bool) -> OwnerFilter {
        OwnerFilter {
            noted: (!holds_owners).then(Noted::default),
        }
    }

    /// Whether the identifier of this hash certainly has no owner record.
    pub(super) fn certainly_absent(&self, hash: u64) -> bool {
        self.noted
            .as_ref()
            .is_some_and(|noted| !noted.hashes.contains(&hash))
    }

    /// Whether this bucket certainly holds no identifier.
    pub(super) fn certainly_empty(&self, bucket: u32) -> bool {
        let (word, bit) = (bucket as usize / 64, bucket % 64);
        self.noted.as_ref().is_some_and(|noted| {
            noted
                .buckets
                .get(word)
                .is_none_or(|bits| bits & (1 << bit) == 0)
        })
    }

    /// Notes that an owner record of the identifier of this hash is being written.
    pub(super) fn note(&mut self, hash: u64) {
        let Some(noted) = &mut self.noted else {
            return;
        };
        if noted.hashes.len() >= MAX_TRACKED {
            self.noted = None;
            return;
        }
        noted.hashes.insert(hash);
        let bucket = bucket_of_hash(hash) as usize;
        if noted.buckets.len() <= bucket / 64 {
            noted.buckets.resize(bucket / 64 + 1, 0);
        }
        noted.buckets[bucket / 64] |= 1 << (bucket % 64);
    }
}

#[cfg(test)]
mod tests {
    use super::super::owners::Hashed;
    use super::*;
    use crate::model::Identifier;

    #[test]
    fn knows_absence_only_of_a_space_that_started_without_owners() {
        let email = Hashed::of(&Identifier::new("email", "ana@x.io"));
        let user = Hashed::of(&Identifier::new("user_id", "u1"));
        let mut fresh = OwnerFilter::new(false);
        assert!(fresh.certainly_absent(email.hash));
        assert!(fresh.certainly_empty(email.bucket()));
        fresh.note(email.hash);
        assert!(!fresh.certainly_absent(email.hash));
        assert!(!fresh.certainly_empty(email.bucket()));
        assert!(fresh.certainly_absent(user.hash));
        assert_eq!(
            fresh.certainly_empty(user.bucket()),
            user.bucket() != email.bucket()
        );
        let other_kind = Hashed::of(&Identifier::new("user_id", "ana@x.io"));
        assert!(fresh.certainly_absent(other_kind.hash));

        let mut held = OwnerFilter::new(true);
        held.note(email.hash);
        assert!(
            !held.certainly_absent(user.hash),
            "a space held owners at open"
        );
        assert!(!held.certainly_empty(user.bucket()));
    }
}
