//! The export shape of a profile: one JSON object per profile, as DESIGN.md documents.

use serde_json::{Value, json};

use crate::model::Profile;

/// `{"space","profile_id","identifiers":[{"type","value"}],"traits",“event_count”}`.
pub fn export_line(space: &str, profile: &Profile) -> Value {
    json!({
        "space": space,
        "profile_id": profile.id.to_string(),
        "identifiers": profile.sorted_identifiers(),
        "traits": profile.trait_map(),
        "event_count": profile.event_count,
    })
}
