//! Graph health: which profiles look like bad merges, and why.

use std::collections::BTreeSet;
use std::fmt;

use crate::config::Rules;
use crate::model::identifier::USER_ID;
use crate::model::{Identifier, Profile, ProfileId, Violation, ViolationCounts};
use crate::query::GraphRead;
use crate::words;

/// Something suspicious about one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Far more identifiers than a typical profile.
    ManyIdentifiers { count: usize, typical: usize },
    /// Several user ids met this profile (held or refused by the limit).
    SeveralUserIds { count: usize },
    /// Identifiers were dropped from its events.
    Violations { count: usize },
    /// It holds a value the current rules call junk.
    JunkHeld {
        identifier: Identifier,
        rule: String,
    },
    /// Junk values arrived on its events and were blocked.
    JunkBlocked { count: usize },
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::ManyIdentifiers { count, typical } => {
                write!(
                    f,
                    "{} (typical {typical})",
                    words::count(*count as u64, "identifier")
                )
            }
            Finding::SeveralUserIds { count } => {
                write!(f, "{} attempted", words::count(*count as u64, "user_id"))
            }
            Finding::Violations { count } => {
                write!(f, "{}", words::count(*count as u64, "violation"))
            }
            Finding::JunkHeld { identifier, rule } => write!(f, "holds junk {identifier} ({rule})"),
            Finding::JunkBlocked { count } => {
                write!(f, "{} blocked", words::count(*count as u64, "junk value"))
            }
        }
    }
}

/// A suspicious profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthItem {
    pub profile: ProfileId,
    pub name: Option<String>,
    pub identifiers: usize,
    pub events: u64,
    /// Higher is more suspicious.
    pub score: u64,
    pub findings: Vec<Finding>,
}

/// The health of a space.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthReport {
    pub profiles: u64,
    /// Median identifiers per profile.
    pub typical_identifiers: usize,
    /// Profiles by identifier count: (`1`, `2-3`, `4-7`, `8-15`, `16+`) and how many.
    pub distribution: Vec<(String, u64)>,
    /// The most suspicious profiles, most suspicious first.
    pub items: Vec<HealthItem>,
    /// How many profiles are suspicious (more than `items` holds when the scan's limit cut
    /// the list).
    pub suspicious: usize,
}

struct Summary {
    id: ProfileId,
    name: Option<String>,
    identifiers: usize,
    events: u64,
    user_ids: BTreeSet<String>,
    junk: Vec<(Identifier, String)>,
}

/// Scans every profile (and its violations) and keeps the `limit` most suspicious.
/// `stop` is called every few hundred profiles; returning true abandons the scan (`Ok(None)`).
pub fn scan_health<R: GraphRead + ?Sized>(
    read: &R,
    rules: Option<&Rules>,
    limit: usize,
    stop: &mut dyn FnMut() -> bool,
) -> anyhow::Result<Option<HealthReport>> {
    let mut summaries = Vec::new();
    let mut stopped = false;
    read.for_each_profile(&mut |p| {
        if summaries.len() % 512 == 511 && stop() {
            stopped = true;
            return false;
        }
        summaries.push(summarize(p, rules));
        true
    })?;
    if stopped {
        return Ok(None);
    }
    let mut counts: Vec<usize> = summaries.iter().map(|s| s.identifiers).collect();
    counts.sort_unstable();
    let typical = counts.get(counts.len() / 2).copied().unwrap_or(0);
    let threshold = (typical * 3).max(8);
    let mut distribution = vec![0u64; 5];
    for &c in &counts {
        let bucket = match c {
            0..=1 => 0,
            2..=3 => 1,
            4..=7 => 2,
            8..=15 => 3,
            _ => 4,
        };
        distribution[bucket] += 1;
    }
    let mut items = Vec::new();
    for (i, s) in summaries.into_iter().enumerate() {
        if i % 256 == 255 && stop() {
            return Ok(None);
        }
        let violations = read.violations(s.id)?;
        if let Some(item) = judge(s, &violations, typical, threshold) {
            items.push(item);
        }
    }
    items.sort_by(|a, b| b.score.cmp(&a.score).then(a.profile.cmp(&b.profile)));
    let suspicious = items.len();
    items.truncate(limit);
    let labels = ["1", "2-3", "4-7", "8-15", "16+"];
    Ok(Some(HealthReport {
        profiles: counts.len() as u64,
        typical_identifiers: typical,
        distribution: labels
            .iter()
            .map(|l| l.to_string())
            .zip(distribution)
            .collect(),
        items,
        suspicious,
    }))
}

fn summarize(p: &Profile, rules: Option<&Rules>) -> Summary {
    let user_ids = p
        .identifiers
        .iter()
        .filter(|i| i.id.kind == USER_ID)
        .map(|i| i.id.value.clone())
        .collect();
    let junk = rules
        .map(|r| {
            p.identifiers
                .iter()
                .filter_map(|i| {
                    r.blocked_by(&i.id.kind, &i.id.value)
                        .map(|rule| (i.id.clone(), rule))
                })
                .collect()
        })
        .unwrap_or_default();
    Summary {
        id: p.id,
        name: p.display_name(),
        identifiers: p.identifiers.len(),
        events: p.event_count,
        user_ids,
        junk,
    }
}

fn judge(
    mut s: Summary,
    violations: &[Violation],
    typical: usize,
    threshold: usize,
) -> Option<HealthItem> {
    let mut score = 0u64;
    let mut findings = Vec::new();
    if s.identifiers > threshold {
        score += 10 + 2 * (s.identifiers - threshold) as u64;
        findings.push(Finding::ManyIdentifiers {
            count: s.identifiers,
            typical,
        });
    }
    for v in violations {
        if v.reason.is_problem() && v.identifier.kind == USER_ID {
            s.user_ids.insert(v.identifier.value.clone());
        }
    }
    let counts = ViolationCounts::of(violations);
    if s.user_ids.len() > 1 {
        score += 30 * (s.user_ids.len() - 1) as u64;
        findings.push(Finding::SeveralUserIds {
            count: s.user_ids.len(),
        });
    }
    if counts.problems > 0 {
        score += (counts.problems as u64).min(50) * 3;
        findings.push(Finding::Violations {
            count: counts.problems,
        });
    }
    for (identifier, rule) in s.junk {
        score += 20;
        findings.push(Finding::JunkHeld { identifier, rule });
    }
    if counts.blocked > 0 {
        score += (counts.blocked as u64).min(50);
        findings.push(Finding::JunkBlocked {
            count: counts.blocked,
        });
    }
    (score > 0).then_some(HealthItem {
        profile: s.id,
        name: s.name,
        identifiers: s.identifiers,
        events: s.events,
        score,
        findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Provenance, ViolationReason};

    fn summary(id: u64, identifiers: usize) -> Summary {
        Summary {
            id: ProfileId(id),
            name: None,
            identifiers,
            events: 1,
            user_ids: BTreeSet::from(["u1".to_string()]),
            junk: Vec::new(),
        }
    }

    fn violation(id: &str, reason: ViolationReason) -> Violation {
        Violation {
            identifier: Identifier::parse(id).unwrap(),
            reason,
            provenance: Provenance {
                message_id: "m".into(),
                source: "web".into(),
                time: 0,
                op: None,
            },
        }
    }

    #[test]
    fn healthy_profiles_are_not_listed() {
        assert!(judge(summary(1, 3), &[], 3, 9).is_none());
        let signed_out = ViolationReason::SignedOut {
            event: "Signed Out".into(),
        };
        let released = [
            violation("anonymous_id:a1", signed_out.clone()),
            violation("ios.id:D1", signed_out),
        ];
        assert!(
            judge(summary(1, 3), &released, 3, 9).is_none(),
            "a sign-out is routine"
        );
    }

    #[test]
    fn flags_outsized_profiles_and_user_id_conflicts() {
        let big = judge(summary(1, 30), &[], 3, 9).unwrap();
        assert_eq!(
            big.findings,
            vec![Finding::ManyIdentifiers {
                count: 30,
                typical: 3
            }]
        );
        let limit = ViolationReason::Limit {
            identifier_type: "user_id".into(),
            max: 1,
            window: "ever".into(),
        };
        let v = [
            violation("user_id:u2", limit.clone()),
            violation("user_id:u3", limit),
        ];
        let conflicted = judge(summary(2, 3), &v, 3, 9).unwrap();
        assert!(
            conflicted
                .findings
                .contains(&Finding::SeveralUserIds { count: 3 })
        );
        assert!(conflicted.score > big.score);
        let junk = [violation(
            "email:test@test.com",
            ViolationReason::Blocked { rule: "x".into() },
        )];
        let j = judge(summary(3, 2), &junk, 3, 9).unwrap();
        assert_eq!(j.findings, vec![Finding::JunkBlocked { count: 1 }]);
        assert_eq!(
            Finding::SeveralUserIds { count: 3 }.to_string(),
            "3 user_ids attempted"
        );
    }
}
