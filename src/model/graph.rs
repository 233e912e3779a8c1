//! Provenance of the identity graph: links between identifiers and recorded violations.

use serde::{Deserialize, Serialize};

use super::identifier::Identifier;
use super::time::Millis;

/// Why two identifiers are linked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkRule {
    /// Both identifiers arrived on the same event.
    SameEvent,
    /// The event carried identifiers of two existing profiles, which were merged.
    Merge,
    /// An `alias` call linked previousId to userId (`alias_merges = true`).
    Alias,
    /// A person merged the profiles by hand.
    ManualMerge,
}

impl LinkRule {
    /// A short explanation of the rule, for the "why" view.
    pub fn explain(self) -> &'static str {
        match self {
            LinkRule::SameEvent => "both identifiers arrived on the same event",
            LinkRule::Merge => {
                "the event carried identifiers of two profiles, merged within every limit"
            }
            LinkRule::Alias => "alias call linked previousId to userId (alias_merges = true)",
            LinkRule::ManualMerge => "merged by hand",
        }
    }

    /// The rule's name as stored and printed.
    pub fn name(self) -> &'static str {
        match self {
            LinkRule::SameEvent => "same_event",
            LinkRule::Merge => "merge",
            LinkRule::Alias => "alias",
            LinkRule::ManualMerge => "manual_merge",
        }
    }
}

/// Where a link or violation came from: the event (or manual operation) and its source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    pub message_id: String,
    pub source: String,
    pub time: Millis,
    /// The journal operation, for manual actions.
    pub op: Option<u64>,
}

/// A link between two identifiers, with the event and rule that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Link {
    pub from: Identifier,
    pub to: Identifier,
    pub rule: LinkRule,
    pub provenance: Provenance,
}

/// Why an identifier was not added to a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ViolationReason {
    /// The value is junk (blocked value or pattern).
    Blocked { rule: String },
    /// Adding it would exceed the per-type limit.
    Limit {
        identifier_type: String,
        max: u32,
        window: String,
    },
    /// Merging would exceed the merge cap of the profile.
    MergeCap { detail: String },
    /// A pinned split keeps these identifiers apart.
    Pinned { op: u64 },
    /// Released from the profile when its user signed out with this event (a device's ids
    /// may pass to the next person using it).
    SignedOut { event: String },
}

impl ViolationReason {
    /// Whether this is routine rather than a sign of trouble: signing out releases a
    /// device's ids every day; the other reasons are what an engineer looks into.
    pub fn is_routine(&self) -> bool {
        matches!(self, ViolationReason::SignedOut { .. })
    }

    /// Whether this is one to look into: neither routine nor a junk value blocked.
    pub fn is_problem(&self) -> bool {
        !self.is_routine() && !matches!(self, ViolationReason::Blocked { .. })
    }
}

impl std::fmt::Display for ViolationReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ViolationReason::Blocked { rule } => write!(f, "{rule}"),
            ViolationReason::Limit {
                identifier_type,
                max,
                window,
            } => write!(
                f,
                "limit of {max} {identifier_type} per profile ({window}) would be exceeded"
            ),
            ViolationReason::MergeCap { detail } => write!(f, "merge cap reached: {detail}"),
            ViolationReason::Pinned { op } => write!(f, "kept apart by split #{op}"),
            ViolationReason::SignedOut { event } => {
                write!(f, "released when the user signed out ({event})")
            }
        }
    }
}

/// A profile's violations counted the way every view shows them (Health, the profile
/// header, the Identity graph tab).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ViolationCounts {
    /// The ones to look into.
    pub problems: usize,
    /// Junk values blocked.
    pub blocked: usize,
    /// Routine sign-out releases.
    pub released: usize,
}

impl ViolationCounts {
    /// Counts `violations` by kind.
    pub fn of(violations: &[Violation]) -> ViolationCounts {
        let mut counts = ViolationCounts::default();
        for v in violations {
            if v.reason.is_problem() {
                counts.problems += 1;
            } else if v.reason.is_routine() {
                counts.released += 1;
            } else {
                counts.blocked += 1;
            }
        }
        counts
    }
}

/// An identifier dropped from an event, with the reason. Never silently lost.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    pub identifier: Identifier,
    pub reason: ViolationReason,
    pub provenance: Provenance,
}
