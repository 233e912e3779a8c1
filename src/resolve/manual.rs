//! Preview of a manual merge: the resulting profile and any rules it would break.

use crate::config::Rules;
use crate::model::{Millis, Profile, ProfileId, ViolationReason};

use super::limits::union_conflict;

/// What merging two profiles by hand would give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergePreview {
    /// The older profile, which survives.
    pub survivor: ProfileId,
    /// The profile that would be absorbed.
    pub absorbed: ProfileId,
    /// The merged profile.
    pub result: Profile,
    /// Rules the merge would break (a forced merge records that it overrode them).
    pub conflicts: Vec<ViolationReason>,
}

/// Previews merging `a` and `b` at `time`: the older survives; limits, pins and merge caps
/// are checked as for automatic merges.
pub fn preview_merge(a: &Profile, b: &Profile, rules: &Rules, time: Millis) -> MergePreview {
    let (older, younger) = if a.is_older_than(b) { (a, b) } else { (b, a) };
    let mut conflicts = Vec::new();
    if let Some(reason) = union_conflict(&[older, younger], &[], time, rules) {
        conflicts.push(reason);
    }
    let mut result = older.clone();
    result.absorb(younger.clone());
    if result.merge_count > rules.max_merges {
        conflicts.push(ViolationReason::MergeCap {
            detail: format!("{} merges per profile", rules.max_merges),
        });
    }
    if result.identifiers.len() > rules.max_identifiers as usize {
        conflicts.push(ViolationReason::MergeCap {
            detail: format!("{} identifiers per profile", rules.max_identifiers),
        });
    }
    MergePreview {
        survivor: older.id,
        absorbed: younger.id,
        result,
        conflicts,
    }
}
