//! Unified profiles and their pure state transitions (attach an event, absorb another profile).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::identifier::Identifier;
use super::time::Millis;

/// A profile's id within its space; displayed as `p<number>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProfileId(pub u64);

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

impl FromStr for ProfileId {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.strip_prefix('p')
            .and_then(|n| n.parse().ok())
            .map(ProfileId)
            .ok_or_else(|| format!("'{s}' is not a profile id (expected p<number>, e.g. p12)"))
    }
}

/// Marks an identifier as one side of a pinned split: identifiers on opposite sides of
/// the same pin must never share a profile again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PinMark {
    /// The journal operation that created the pin.
    pub op: u64,
    /// Which side of the split (0 = stayed, 1 = moved out).
    pub side: u8,
}

/// An identifier as held by a profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileIdentifier {
    pub id: Identifier,
    /// Event time at which the identifier joined this profile (used by windowed limits).
    pub first_seen: Millis,
    /// Event time of the latest event carrying it.
    pub last_seen: Millis,
    /// The source of the event that brought it.
    pub source: String,
    /// Pinned splits this identifier takes part in.
    pub pins: Vec<PinMark>,
}

/// One trait with the time of the event that set it; `value_json` `null` marks a removal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraitEntry {
    /// The JSON text of the value (`null` = removed).
    pub value_json: String,
    pub time: Millis,
    /// Ingest sequence of the setting event: breaks ties between equal times.
    pub seq: u64,
}

impl TraitEntry {
    fn newer_than(&self, other: &TraitEntry) -> bool {
        (self.time, self.seq) > (other.time, other.seq)
    }
}

/// A unified customer profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub id: ProfileId,
    /// Event time of the earliest event: the older profile survives a merge.
    pub created_at: Millis,
    pub last_seen: Millis,
    pub event_count: u64,
    /// How many merges this profile has absorbed (checked against the merge cap).
    pub merge_count: u32,
    /// Identifiers dropped from this profile's events (blocked, limits, caps, pins).
    pub violation_count: u32,
    pub identifiers: Vec<ProfileIdentifier>,
    pub traits: BTreeMap<String, TraitEntry>,
    /// Timeline clusters whose events belong to this profile (see the store's timeline index).
    pub clusters: Vec<u64>,
}

impl Profile {
    /// A new empty profile created by an event at `time`.
    pub fn new(id: ProfileId, time: Millis) -> Profile {
        Profile {
            id,
            created_at: time,
            last_seen: time,
            event_count: 0,
            merge_count: 0,
            violation_count: 0,
            identifiers: Vec::new(),
            traits: BTreeMap::new(),
            clusters: vec![id.0],
        }
    }

    /// Stops holding an identifier (the events it came with stay).
    pub fn remove_identifier(&mut self, id: &Identifier) {
        self.identifiers.retain(|held| &held.id != id);
    }

    /// Whether the profile holds this identifier.
    pub fn has(&self, id: &Identifier) -> bool {
        self.identifiers.iter().any(|p| &p.id == id)
    }

    /// The held entry for an identifier.
    pub fn identifier(&self, id: &Identifier) -> Option<&ProfileIdentifier> {
        self.identifiers.iter().find(|p| &p.id == id)
    }

    /// Whether this profile is older than `other` (earlier first event; lower id on ties).
    pub fn is_older_than(&self, other: &Profile) -> bool {
        (self.created_at, self.id) < (other.created_at, other.id)
    }

    /// Adds an identifier first seen at `time` from `source`, or refreshes its last-seen time.
    pub fn add_identifier(&mut self, id: &Identifier, time: Millis, source: &str) {
        if let Some(held) = self.identifiers.iter_mut().find(|p| &p.id == id) {
            held.last_seen = held.last_seen.max(time);
            held.first_seen = held.first_seen.min(time);
        } else {
            self.identifiers.push(ProfileIdentifier {
                id: id.clone(),
                first_seen: time,
                last_seen: time,
                source: source.to_string(),
                pins: Vec::new(),
            });
        }
    }

    /// Counts one more event at `time` and applies its traits (newest wins by event time).
    /// The first event of a profile that had none (one a split left only identifiers) sets
    /// its first and last seen: a profile's times are those of its events.
    pub fn record_event(&mut self, time: Millis, seq: u64, traits: &Map<String, Value>) {
        if self.event_count == 0 {
            (self.created_at, self.last_seen) = (time, time);
        }
        self.event_count += 1;
        self.created_at = self.created_at.min(time);
        self.last_seen = self.last_seen.max(time);
        self.apply_traits(time, seq, traits);
    }

    /// Applies traits set at `time`: newer values win, `null` removes, `""` sets empty.
    pub fn apply_traits(&mut self, time: Millis, seq: u64, traits: &Map<String, Value>) {
        for (key, value) in traits {
            let entry = TraitEntry {
                value_json: value.to_string(),
                time,
                seq,
            };
            match self.traits.get(key) {
                Some(current) if !entry.newer_than(current) => {}
                _ => {
                    self.traits.insert(key.clone(), entry);
                }
            }
        }
    }

    /// Absorbs `other` into this profile: identifiers, counts, traits (newest wins), clusters.
    pub fn absorb(&mut self, other: Profile) {
        for held in other.identifiers {
            if let Some(mine) = self.identifiers.iter_mut().find(|p| p.id == held.id) {
                mine.first_seen = mine.first_seen.min(held.first_seen);
                mine.last_seen = mine.last_seen.max(held.last_seen);
                for pin in held.pins {
                    if !mine.pins.contains(&pin) {
                        mine.pins.push(pin);
                    }
                }
            } else {
                self.identifiers.push(held);
            }
        }
        for (key, entry) in other.traits {
            match self.traits.get(&key) {
                Some(current) if !entry.newer_than(current) => {}
                _ => {
                    self.traits.insert(key, entry);
                }
            }
        }
        // Times of a profile without events (a split left it identifiers only) give way to
        // those of one with events.
        if self.event_count == 0 && other.event_count > 0 {
            (self.created_at, self.last_seen) = (other.created_at, other.last_seen);
        } else if other.event_count > 0 || self.event_count == 0 {
            self.created_at = self.created_at.min(other.created_at);
            self.last_seen = self.last_seen.max(other.last_seen);
        }
        self.event_count += other.event_count;
        self.merge_count += other.merge_count + 1;
        self.violation_count += other.violation_count;
        self.clusters.extend(other.clusters);
    }

    /// The live traits (removals left out) as JSON.
    pub fn trait_map(&self) -> Map<String, Value> {
        self.traits
            .iter()
            .filter_map(|(k, e)| {
                let value: Value = serde_json::from_str(&e.value_json).ok()?;
                (!value.is_null()).then(|| (k.clone(), value))
            })
            .collect()
    }

    /// A trait's value; `None` when unset or null.
    pub fn trait_value(&self, key: &str) -> Option<Value> {
        let entry = self.traits.get(key)?;
        match serde_json::from_str::<Value>(&entry.value_json).ok()? {
            Value::Null => None,
            value => Some(value),
        }
    }

    /// A trait rendered as display text (strings without quotes).
    pub fn trait_text(&self, key: &str) -> Option<String> {
        self.trait_value(key).map(value_text)
    }

    /// A display name from the traits: `name`, else first + last name, else `None`.
    pub fn display_name(&self) -> Option<String> {
        if let Some(name) = self.trait_text("name").filter(|n| !n.trim().is_empty()) {
            return Some(name);
        }
        let first = self
            .trait_text("firstName")
            .or_else(|| self.trait_text("first_name"));
        let last = self
            .trait_text("lastName")
            .or_else(|| self.trait_text("last_name"));
        match (first, last) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (Some(f), None) => Some(f),
            (None, Some(l)) => Some(l),
            (None, None) => None,
        }
    }

    /// Identifiers sorted by type then value (the export order).
    pub fn sorted_identifiers(&self) -> Vec<Identifier> {
        let mut ids: Vec<Identifier> = self.identifiers.iter().map(|p| p.id.clone()).collect();
        ids.sort();
        ids
    }
}

/// A JSON value as display text: a string without quotes, anything else as JSON.
pub fn value_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn traits(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn newest_trait_wins_by_event_time_not_arrival() {
        let mut p = Profile::new(ProfileId(1), 100);
        p.record_event(200, 1, &traits(json!({"plan": "pro"})));
        p.record_event(150, 2, &traits(json!({"plan": "free"})));
        assert_eq!(p.trait_text("plan").as_deref(), Some("pro"));
    }

    #[test]
    fn null_removes_and_empty_string_sets_empty() {
        let mut p = Profile::new(ProfileId(1), 100);
        p.record_event(100, 1, &traits(json!({"a": "x", "b": "y"})));
        p.record_event(200, 2, &traits(json!({"a": null, "b": ""})));
        let t = p.trait_map();
        assert!(!t.contains_key("a"));
        assert_eq!(t["b"], "");
    }

    #[test]
    fn absorb_keeps_newest_traits_and_sums_counts() {
        let mut old = Profile::new(ProfileId(1), 100);
        old.record_event(100, 1, &traits(json!({"plan": "free", "name": "Ana"})));
        let mut young = Profile::new(ProfileId(2), 300);
        young.add_identifier(&Identifier::new("email", "a@x.io"), 300, "web");
        young.record_event(300, 2, &traits(json!({"plan": "pro"})));
        old.absorb(young);
        assert_eq!(old.event_count, 2);
        assert_eq!(old.merge_count, 1);
        assert_eq!(old.trait_text("plan").as_deref(), Some("pro"));
        assert_eq!(old.display_name().as_deref(), Some("Ana"));
        assert_eq!(old.clusters, vec![1, 2]);
        assert!(old.has(&Identifier::new("email", "a@x.io")));
    }

    /// Found by tests/audience_store.rs (split, then an event for the part split off): a
    /// profile a split left without events keeps its identifiers' times until it gets
    /// events; from then on its times are its events' span, also when merged.
    #[test]
    fn times_of_a_profile_without_events_give_way_to_events() {
        let mut split_off = Profile::new(ProfileId(2), 500);
        split_off.record_event(300, 7, &Map::new());
        assert_eq!((split_off.created_at, split_off.last_seen), (300, 300));

        let mut empty = Profile::new(ProfileId(3), 900);
        let mut with_events = Profile::new(ProfileId(1), 100);
        with_events.record_event(100, 1, &Map::new());
        with_events.absorb(empty.clone());
        assert_eq!((with_events.created_at, with_events.last_seen), (100, 100));
        empty.absorb(with_events);
        assert_eq!((empty.created_at, empty.last_seen), (100, 100));
    }

    #[test]
    fn profile_ids_round_trip() {
        assert_eq!("p12".parse::<ProfileId>().unwrap(), ProfileId(12));
        assert_eq!(ProfileId(12).to_string(), "p12");
        assert!("12".parse::<ProfileId>().is_err());
    }
}
