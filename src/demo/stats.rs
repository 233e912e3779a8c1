//! Counts of what the generator produced, per journey and trouble kind, so tests and people
//! can check rates.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::truth::Unlinkable;

/// What one generation run produced.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct GenerationStats {
    /// People generated.
    pub people: u64,
    /// Units generated: single people and two-person households.
    pub units: u64,
    /// Distinct events (messageIds).
    pub events: u64,
    /// Lines written: events plus duplicate deliveries.
    pub deliveries: u64,
    /// Extra deliveries of an already delivered event (same messageId, same JSON).
    pub duplicates: u64,
    /// Events that arrive after events that were sent after them.
    pub late: u64,
    /// Journey kinds, in people.
    pub journeys: JourneyStats,
    /// Trouble cases: households for the two-person cases, people for the others.
    pub trouble: TroubleStats,
    /// Events deterministic rules cannot link to the rest of their person, by reason.
    pub unlinkable: BTreeMap<Unlinkable, UnlinkableCount>,
    /// Distinct events per source name.
    pub events_by_source: BTreeMap<String, u64>,
}

/// People per journey kind.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JourneyStats {
    /// Signed up (identify with userId and e-mail after anonymous browsing).
    pub signed_up: u64,
    /// Never signed up: anonymous events only.
    pub anonymous_only: u64,
    /// Signed up and used two devices.
    pub multi_device: u64,
    /// Three to five devices and many sessions.
    pub heavy_users: u64,
    /// Also used the companion recipes app.
    pub companion_app: u64,
    /// Browsed on a device they never logged in on.
    pub orphan_device: u64,
    /// Opened support tickets.
    pub support: u64,
    /// Were touched by sales.
    pub sales: u64,
    /// Received marketing e-mail.
    pub marketing: u64,
    /// Filled a cart on the iPhone and checked out on Android.
    pub cart_handoff: u64,
    /// Complained to support shortly before a review request e-mail.
    pub complaint_before_review: u64,
}

/// Trouble cases generated.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TroubleStats {
    /// Households: logout without anonymousId reset, then another person's login.
    pub logout_without_reset: u64,
    /// Households sharing a family iPad.
    pub family_ipad: u64,
    /// Households of two colleagues sharing a team e-mail.
    pub shared_team_email: u64,
    /// People whose web client sends junk ids.
    pub junk_ids: u64,
    /// People whose e-mail arrives in other case or with whitespace.
    pub email_variants: u64,
    /// People who changed e-mail.
    pub email_change: u64,
}

/// People and events cut off from the rest of their person for one reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnlinkableCount {
    pub people: u64,
    pub events: u64,
}
