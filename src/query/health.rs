//! Graph health: profile size distribution and suspicious profiles (likely bad merges).

use serde::Serialize;

use crate::model::identifier::USER_ID;
use crate::model::{Profile, ProfileId, ViolationReason};

use super::GraphRead;

/// Profiles with more identifiers than this are outsized.
pub const OUTSIZED_IDENTIFIERS: usize = 25;
/// Profiles with at least this many violations are flagged.
pub const MANY_VIOLATIONS: u32 = 5;

/// A profile that deserves an engineer's look, with the reasons.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Suspicious {
    #[serde(serialize_with = "as_text")]
    pub profile_id: ProfileId,
    pub name: Option<String>,
    pub score: u32,
    pub identifiers: usize,
    pub user_ids: usize,
    pub violations: u32,
    pub reasons: Vec<String>,
}

/// The health report of a space.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HealthReport {
    pub space: String,
    pub profiles: u64,
    /// (bucket of identifier counts, number of profiles).
    pub size_distribution: Vec<(String, u64)>,
    pub largest_profile: usize,
    pub suspicious: Vec<Suspicious>,
}

const BUCKETS: [(usize, usize, &str); 8] = [
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 5, "3-5"),
    (6, 10, "6-10"),
    (11, 25, "11-25"),
    (26, 50, "26-50"),
    (51, 100, "51-100"),
    (101, usize::MAX, ">100"),
];

/// Scores one profile from what it holds (no store reads).
fn score_profile(profile: &Profile) -> Option<Suspicious> {
    let identifiers = profile.identifiers.len();
    let user_ids = profile
        .identifiers
        .iter()
        .filter(|h| h.id.kind == USER_ID)
        .count();
    let mut reasons = Vec::new();
    let mut score = 0;
    if identifiers > OUTSIZED_IDENTIFIERS {
        reasons.push(format!("{identifiers} identifiers (outsized)"));
        score += 10 + (identifiers / 10) as u32;
    }
    if user_ids > 1 {
        reasons.push(format!("{user_ids} user ids in one profile"));
        score += 30 * user_ids as u32;
    }
    if profile.violation_count >= MANY_VIOLATIONS {
        reasons.push(format!("{} violations", profile.violation_count));
        score += profile.violation_count.min(100);
    }
    if profile.merge_count >= 10 {
        reasons.push(format!("{} merges", profile.merge_count));
        score += profile.merge_count.min(100) / 2;
    }
    (score > 0 || profile.violation_count > 0).then(|| Suspicious {
        profile_id: profile.id,
        name: profile.display_name(),
        score,
        identifiers,
        user_ids,
        violations: profile.violation_count,
        reasons,
    })
}

/// Adds what the profile's violations say: other user ids attempted, junk values.
fn add_violation_reasons(read: &dyn GraphRead, item: &mut Suspicious) -> anyhow::Result<()> {
    let violations = read.violations(item.profile_id)?;
    let attempted = violations
        .iter()
        .filter(|v| {
            v.identifier.kind == USER_ID && !matches!(v.reason, ViolationReason::Blocked { .. })
        })
        .count();
    let junk = violations
        .iter()
        .filter(|v| matches!(v.reason, ViolationReason::Blocked { .. }))
        .count();
    if attempted > 0 {
        item.reasons
            .push(format!("{attempted} other user ids attempted"));
        item.score += 20 * attempted.min(10) as u32;
    }
    if junk > 0 {
        item.reasons.push(format!("{junk} junk values blocked"));
        item.score += junk.min(20) as u32;
    }
    Ok(())
}

fn as_text<S: serde::Serializer>(id: &ProfileId, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(id)
}

/// Computes the health report, keeping the `top` most suspicious profiles.
pub fn health(read: &dyn GraphRead, top: usize) -> anyhow::Result<HealthReport> {
    let mut counts = [0_u64; BUCKETS.len()];
    let mut profiles = 0;
    let mut largest = 0;
    let mut candidates = Vec::new();
    read.for_each_profile(&mut |profile| {
        profiles += 1;
        let n = profile.identifiers.len();
        largest = largest.max(n);
        if let Some(i) = BUCKETS.iter().position(|(lo, hi, _)| n >= *lo && n <= *hi) {
            counts[i] += 1;
        }
        if let Some(item) = score_profile(profile) {
            candidates.push(item);
        }
        true
    })?;
    for item in &mut candidates {
        add_violation_reasons(read, item)?;
    }
    candidates.retain(|c| c.score > 0);
    candidates.sort_by(|a, b| b.score.cmp(&a.score).then(a.profile_id.cmp(&b.profile_id)));
    candidates.truncate(top);
    Ok(HealthReport {
        space: read.space().to_string(),
        profiles,
        size_distribution: BUCKETS
            .iter()
            .zip(counts)
            .map(|((_, _, label), n)| (label.to_string(), n))
            .collect(),
        largest_profile: largest,
        suspicious: candidates,
    })
}
