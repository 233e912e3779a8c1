//! Checks whether a union of profiles (plus new identifiers) stays within the rules.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::Rules;
use crate::model::{Identifier, Millis, Profile, ViolationReason};

/// The first rule a union would break, if any: a per-type limit (counted in its window
/// around `time`) or a pinned split. Breaches that one part already had on its own (for
/// example after a forced manual merge or a tightened limit) do not count.
pub fn union_conflict(
    parts: &[&Profile],
    new_ids: &[Identifier],
    time: Millis,
    rules: &Rules,
) -> Option<ViolationReason> {
    if parts.len() <= 1 && new_ids.is_empty() {
        // One profile as it is: whatever it breaks, it breaks on its own. This is the event
        // of a known visitor, most of all events, so the counting below is skipped.
        return None;
    }
    let mut union_counts: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut part_max: BTreeMap<&str, usize> = BTreeMap::new();
    for part in parts {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for held in &part.identifiers {
            let kind = held.id.kind.as_str();
            if in_window(rules, kind, held.first_seen, time) {
                union_counts.entry(kind).or_default().insert(&held.id.value);
                *counts.entry(kind).or_default() += 1;
            }
        }
        for (kind, n) in counts {
            let max = part_max.entry(kind).or_default();
            *max = (*max).max(n);
        }
    }
    for id in new_ids {
        union_counts.entry(&id.kind).or_default().insert(&id.value);
    }
    for (kind, values) in &union_counts {
        let limit = rules.limit(kind);
        let before = part_max.get(kind).copied().unwrap_or(0);
        if values.len() > limit.max as usize && values.len() > before {
            return Some(ViolationReason::Limit {
                identifier_type: kind.to_string(),
                max: limit.max,
                window: limit.window.name().to_string(),
            });
        }
    }
    pin_conflict(parts).map(|op| ViolationReason::Pinned { op })
}

/// A pinned split whose two sides would meet in the union (and did not already share a part).
fn pin_conflict(parts: &[&Profile]) -> Option<u64> {
    let mut sides: BTreeMap<u64, [bool; 2]> = BTreeMap::new();
    for part in parts {
        let mut own: BTreeMap<u64, [bool; 2]> = BTreeMap::new();
        for pin in part.identifiers.iter().flat_map(|h| &h.pins) {
            own.entry(pin.op).or_default()[usize::from(pin.side.min(1))] = true;
        }
        for (op, seen) in own {
            if seen == [true, true] {
                continue;
            }
            let all = sides.entry(op).or_default();
            all[0] |= seen[0];
            all[1] |= seen[1];
        }
    }
    sides
        .into_iter()
        .find(|(_, seen)| *seen == [true, true])
        .map(|(op, _)| op)
}

/// Whether a value first seen at `first_seen` counts against a windowed limit for an event
/// at `time`: it does when the two are less than one window apart, on either side. Looking
/// both ways keeps late-arriving events honest: a value first seen long *after* the event
/// (an out-of-order or replayed older event) is not in the event's window, and the outcome
/// is the same whichever of the two events arrives first.
fn in_window(rules: &Rules, kind: &str, first_seen: Millis, time: Millis) -> bool {
    match rules.limit(kind).window.millis() {
        None => true,
        Some(span) => first_seen.abs_diff(time) < span.unsigned_abs(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DEFAULT_SPACE};
    use crate::model::{PinMark, ProfileId};

    fn profile(id: u64, ids: &[&str]) -> Profile {
        let mut p = Profile::new(ProfileId(id), 0);
        for text in ids {
            p.add_identifier(&Identifier::parse(text).unwrap(), 0, "t");
        }
        p
    }

    fn rules() -> Rules {
        Config::defaults().rules_for(DEFAULT_SPACE).unwrap()
    }

    #[test]
    fn two_user_ids_conflict() {
        let a = profile(1, &["user_id:u1"]);
        let b = profile(2, &["user_id:u2"]);
        let reason = union_conflict(&[&a, &b], &[], 0, &rules()).unwrap();
        assert!(
            matches!(reason, ViolationReason::Limit { ref identifier_type, max: 1, .. } if identifier_type == "user_id")
        );
        assert_eq!(
            union_conflict(
                &[&a],
                &[Identifier::parse("email:x@y.io").unwrap()],
                0,
                &rules()
            ),
            None
        );
    }

    #[test]
    fn existing_excess_is_not_a_new_conflict() {
        let forced = profile(1, &["user_id:u1", "user_id:u2"]);
        assert_eq!(union_conflict(&[&forced], &[], 0, &rules()), None);
        let other = profile(2, &["user_id:u3"]);
        assert!(union_conflict(&[&forced, &other], &[], 0, &rules()).is_some());
    }

    #[test]
    fn pins_keep_sides_apart() {
        let mut a = profile(1, &["anonymous_id:a"]);
        let mut b = profile(2, &["email:b@x.io"]);
        a.identifiers[0].pins.push(PinMark { op: 7, side: 0 });
        b.identifiers[0].pins.push(PinMark { op: 7, side: 1 });
        assert_eq!(
            union_conflict(&[&a, &b], &[], 0, &rules()),
            Some(ViolationReason::Pinned { op: 7 })
        );
    }

    #[test]
    fn windowed_limits_count_only_recent_values() {
        let config = Config::from_toml_str(
            "[identity.types.email]\nlimit = 1\nwindow = \"weekly\"\n",
            "t",
        )
        .unwrap();
        let rules = config.rules_for(DEFAULT_SPACE).unwrap();
        let day = crate::model::time::DAY;
        let mut p = Profile::new(ProfileId(1), 0);
        p.add_identifier(&Identifier::parse("email:old@x.io").unwrap(), 0, "t");
        let new = [Identifier::parse("email:new@x.io").unwrap()];
        assert!(union_conflict(&[&p], &new, 3 * day, &rules).is_some());
        assert_eq!(union_conflict(&[&p], &new, 8 * day, &rules), None);
        // A value first seen long after the event is not in the event's window either.
        assert!(union_conflict(&[&p], &new, -3 * day, &rules).is_some());
        assert_eq!(union_conflict(&[&p], &new, -8 * day, &rules), None);
    }
}
