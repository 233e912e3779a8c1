//! Graph health: which profiles look like bad merges, and why.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::config::Rules;
use crate::model::identifier::USER_ID;
use crate::model::{Identifier, JournalAction, Profile, ProfileId, Violation, ViolationCounts};
use crate::query::GraphRead;
use crate::words;

/// Something suspicious about one profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// It holds several user ids: known people merged into one profile.
    UserIdsHeld { count: usize },
    /// A person merged it past the rules (journal op `op`, not undone).
    ForcedMerge { op: u64 },
    /// Far more identifiers than a typical profile.
    ManyIdentifiers { count: usize, typical: usize },
    /// It holds a value the current rules call junk.
    JunkHeld {
        identifier: Identifier,
        rule: String,
    },
    /// Other user ids arrived on its events and the limit refused them (a shared device).
    UserIdsRefused { count: usize },
    /// Identifiers were dropped from its events.
    Violations { count: usize },
    /// Junk values arrived on its events and were blocked.
    JunkBlocked { count: usize },
}

/// How much a finding calls for a look; Health ranks profiles by their most severe
/// finding first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The rules held: identifiers were refused or junk blocked.
    Routine,
    /// Looks like a bad merge: far too many identifiers, or a junk value held.
    Suspect,
    /// Known people in one profile: several user ids held, or a merge forced past the rules.
    Serious,
}

impl Severity {
    /// A word for it: `serious`, `suspect`, `routine`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Serious => "serious",
            Severity::Suspect => "suspect",
            Severity::Routine => "routine",
        }
    }
}

impl Finding {
    /// How severe the finding is.
    pub fn severity(&self) -> Severity {
        match self {
            Finding::UserIdsHeld { .. } | Finding::ForcedMerge { .. } => Severity::Serious,
            Finding::ManyIdentifiers { .. } | Finding::JunkHeld { .. } => Severity::Suspect,
            Finding::UserIdsRefused { .. }
            | Finding::Violations { .. }
            | Finding::JunkBlocked { .. } => Severity::Routine,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::UserIdsHeld { count } => {
                write!(f, "holds {}", words::count(*count as u64, "user_id"))
            }
            Finding::ForcedMerge { op } => write!(f, "forced merge #{op}"),
            Finding::ManyIdentifiers { count, typical } => {
                write!(
                    f,
                    "{} (typical {typical})",
                    words::count(*count as u64, "identifier")
                )
            }
            Finding::JunkHeld { identifier, rule } => write!(f, "holds junk {identifier} ({rule})"),
            Finding::UserIdsRefused { count } => {
                write!(
                    f,
                    "{} refused",
                    words::count(*count as u64, "other user_id")
                )
            }
            Finding::Violations { count } => {
                write!(f, "{}", words::count(*count as u64, "violation"))
            }
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
    /// Its most severe finding's severity.
    pub severity: Severity,
    /// Higher is more suspicious: a profile with a more severe finding always scores
    /// higher than one whose findings are all milder, however many they are.
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
    // Merges forced past the rules and not undone, by the profile that survived them.
    let mut forced: BTreeMap<ProfileId, Vec<u64>> = BTreeMap::new();
    for entry in read.journal()? {
        if let JournalAction::Merge {
            survivor,
            overrides,
            ..
        } = &entry.action
            && !overrides.is_empty()
            && entry.undone_by.is_none()
        {
            forced.entry(*survivor).or_default().push(entry.op);
        }
    }
    let mut items = Vec::new();
    for (i, s) in summaries.into_iter().enumerate() {
        if i % 256 == 255 && stop() {
            return Ok(None);
        }
        let violations = read.violations(s.id)?;
        let forced = forced.get(&s.id).map_or(&[][..], Vec::as_slice);
        if let Some(item) = judge(s, &violations, forced, typical, threshold) {
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

/// Points where each severity's scores start: a finding of one severity outranks any sum
/// of milder ones.
const BAND: u64 = 1_000;

fn judge(
    s: Summary,
    violations: &[Violation],
    forced: &[u64],
    typical: usize,
    threshold: usize,
) -> Option<HealthItem> {
    // Each finding with the points it adds within its severity.
    let mut found: Vec<(Finding, u64)> = Vec::new();
    let held = s.user_ids.len();
    if held > 1 {
        found.push((Finding::UserIdsHeld { count: held }, 30 * (held - 1) as u64));
    }
    found.extend(forced.iter().map(|&op| (Finding::ForcedMerge { op }, 30)));
    if s.identifiers > threshold {
        found.push((
            Finding::ManyIdentifiers {
                count: s.identifiers,
                typical,
            },
            10 + 2 * (s.identifiers - threshold) as u64,
        ));
    }
    for (identifier, rule) in s.junk {
        found.push((Finding::JunkHeld { identifier, rule }, 20));
    }
    let refused: BTreeSet<&str> = violations
        .iter()
        .filter(|v| v.reason.is_problem() && v.identifier.kind == USER_ID)
        .map(|v| v.identifier.value.as_str())
        .filter(|value| !s.user_ids.contains(*value))
        .collect();
    if !refused.is_empty() {
        let count = refused.len();
        found.push((Finding::UserIdsRefused { count }, 10 * count as u64));
    }
    let counts = ViolationCounts::of(violations);
    if counts.problems > 0 {
        found.push((
            Finding::Violations {
                count: counts.problems,
            },
            (counts.problems as u64).min(50) * 3,
        ));
    }
    if counts.blocked > 0 {
        found.push((
            Finding::JunkBlocked {
                count: counts.blocked,
            },
            (counts.blocked as u64).min(50),
        ));
    }
    let severity = found.iter().map(|(f, _)| f.severity()).max()?;
    let points: u64 = found.iter().map(|(_, points)| points).sum();
    Some(HealthItem {
        profile: s.id,
        name: s.name,
        identifiers: s.identifiers,
        events: s.events,
        severity,
        score: severity as u64 * BAND + points.min(BAND - 1),
        findings: found.into_iter().map(|(f, _)| f).collect(),
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
        assert!(judge(summary(1, 3), &[], &[], 3, 9).is_none());
        let signed_out = ViolationReason::SignedOut {
            event: "Signed Out".into(),
        };
        let released = [
            violation("anonymous_id:a1", signed_out.clone()),
            violation("ios.id:D1", signed_out),
        ];
        assert!(
            judge(summary(1, 3), &released, &[], 3, 9).is_none(),
            "a sign-out is routine"
        );
    }

    fn user_id_limit() -> ViolationReason {
        ViolationReason::Limit {
            identifier_type: "user_id".into(),
            max: 1,
            window: "ever".into(),
        }
    }

    #[test]
    fn flags_outsized_profiles_and_refused_user_ids() {
        let big = judge(summary(1, 30), &[], &[], 3, 9).unwrap();
        assert_eq!(
            big.findings,
            vec![Finding::ManyIdentifiers {
                count: 30,
                typical: 3
            }]
        );
        let v = [
            violation("user_id:u2", user_id_limit()),
            violation("user_id:u3", user_id_limit()),
            violation("user_id:u3", user_id_limit()),
        ];
        let shared = judge(summary(2, 3), &v, &[], 3, 9).unwrap();
        assert_eq!(
            shared.findings,
            vec![
                Finding::UserIdsRefused { count: 2 },
                Finding::Violations { count: 3 }
            ]
        );
        assert_eq!(
            Finding::UserIdsRefused { count: 2 }.to_string(),
            "2 other user_ids refused"
        );
        assert!(
            big.score > shared.score,
            "an outsized profile may be a bad merge; refusals are the rules at work"
        );
        let junk = [violation(
            "email:test@test.com",
            ViolationReason::Blocked { rule: "x".into() },
        )];
        let j = judge(summary(3, 2), &junk, &[], 3, 9).unwrap();
        assert_eq!(j.findings, vec![Finding::JunkBlocked { count: 1 }]);
    }

    /// A shared iPad's many routine refusals rank below a profile holding two people's user
    /// ids after a forced merge, and each reads for what it is: held, refused, forced.
    #[test]
    fn user_ids_held_and_forced_merges_outrank_routine_limit_hits() {
        let ipad: Vec<Violation> = (0..24)
            .map(|i| violation(&format!("user_id:kid{}", i % 3), user_id_limit()))
            .collect();
        let shared = judge(summary(1, 4), &ipad, &[], 4, 12).unwrap();
        let mut two = summary(2, 4);
        two.user_ids.insert("u2".into());
        let merged = judge(two, &[], &[7], 4, 12).unwrap();
        assert_eq!(
            merged.findings,
            vec![
                Finding::UserIdsHeld { count: 2 },
                Finding::ForcedMerge { op: 7 }
            ]
        );
        assert!(merged.score > shared.score, "{merged:?} {shared:?}");
        let text: Vec<String> = merged.findings.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["holds 2 user_ids", "forced merge #7"]);
        let forced_only = judge(summary(3, 4), &[], &[9], 4, 12).unwrap();
        assert!(forced_only.score > shared.score);
    }
}
