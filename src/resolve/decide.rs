//! The resolution decision for one event's identifiers.

use crate::config::Rules;
use crate::model::identifier::USER_ID;
use crate::model::{Identifier, LinkRule, Profile, ProfileId, ViolationReason};

use super::extract::Extraction;
use super::limits::union_conflict;
use super::{Decision, EventFacts, GraphView, Plan};

/// Decides how an event joins the graph: find every profile sharing an identifier; none →
/// new profile, one → attach, several → merge into the oldest if the union keeps every
/// limit and pin, else drop the event's lowest-priority identifier and search again.
/// Merge caps stop merging but never attribution.
pub fn decide(
    extraction: Extraction,
    facts: EventFacts<'_>,
    rules: &Rules,
    graph: &impl GraphView,
) -> Decision {
    let mut violations = extraction.blocked;
    let mut ids = extraction.identifiers;
    ids.sort_by(|a, b| {
        rules
            .priority_key(&a.kind)
            .cmp(&rules.priority_key(&b.kind))
    });
    if ids.is_empty() {
        return Decision::Unresolvable { violations };
    }
    let (owners, profiles) = loop {
        let owners: Vec<Option<ProfileId>> = ids.iter().map(|id| graph.profile_of(id)).collect();
        let profiles = candidate_profiles(&owners, graph);
        let new_ids: Vec<Identifier> = ids
            .iter()
            .zip(&owners)
            .filter(|(_, owner)| owner.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        match union_conflict(&profiles, &new_ids, facts.time, rules) {
            Some(reason) if ids.len() > 1 => {
                let dropped = ids.pop().expect("more than one identifier");
                violations.push((dropped, reason));
            }
            _ => break (owners, profiles),
        }
    };
    let target = profiles.first().copied();
    let mut plan = Plan {
        target: target.map(|p| p.id),
        absorb: Vec::new(),
        identifiers: Vec::new(),
        new_identifiers: Vec::new(),
        links: Vec::new(),
        violations,
        released: Vec::new(),
    };
    let absorbed = match target {
        Some(target) => merge_within_caps(target, &profiles[1..], &ids, &owners, rules, &mut plan),
        None => Vec::new(),
    };
    let in_target = |owner: &Option<ProfileId>| match (owner, target) {
        (Some(owner), Some(t)) => *owner == t.id || absorbed.contains(owner),
        _ => false,
    };
    let mut held = target.map_or(0, |t| t.identifiers.len())
        + profiles
            .iter()
            .filter(|p| absorbed.contains(&p.id))
            .map(|p| p.identifiers.len())
            .sum::<usize>();
    for (id, owner) in ids.iter().zip(&owners) {
        if in_target(owner) {
            plan.identifiers.push(id.clone());
        } else if owner.is_none() {
            if held >= rules.max_identifiers as usize {
                plan.violations.push((
                    id.clone(),
                    ViolationReason::MergeCap {
                        detail: format!("profile holds {} identifiers", rules.max_identifiers),
                    },
                ));
            } else {
                held += 1;
                plan.identifiers.push(id.clone());
                plan.new_identifiers.push(id.clone());
            }
        }
    }
    plan.absorb = absorbed.clone();
    plan.links = links(
        &ids,
        &owners,
        target.map(|t| t.id),
        &absorbed,
        &plan,
        facts.alias,
    );
    if let Some(event) = facts.sign_out {
        release_on_sign_out(&mut plan, graph, event, rules);
    }
    Decision::Apply(plan)
}

/// A signed-in user signing out: the event's device identifiers leave the profile, so the
/// next person on the device does not land in it. An anonymous sign-out releases nothing,
/// and identifiers a split pinned stay where the split put them.
fn release_on_sign_out(plan: &mut Plan, graph: &impl GraphView, event: &str, rules: &Rules) {
    if !plan.identifiers.iter().any(|id| id.kind == USER_ID) {
        return;
    }
    let pinned = |id: &Identifier| {
        graph
            .profile_of(id)
            .and_then(|owner| graph.profile(owner))
            .and_then(|holder| holder.identifier(id))
            .is_some_and(|held| !held.pins.is_empty())
    };
    for id in &plan.identifiers {
        if rules.released_on_sign_out(&id.kind) && !pinned(id) {
            plan.released.push(id.clone());
            plan.violations.push((
                id.clone(),
                ViolationReason::SignedOut {
                    event: event.to_string(),
                },
            ));
        }
    }
}

/// The distinct profiles holding any of the identifiers, oldest first.
fn candidate_profiles<'g>(
    owners: &[Option<ProfileId>],
    graph: &'g impl GraphView,
) -> Vec<&'g Profile> {
    let mut profiles: Vec<&Profile> = Vec::new();
    for owner in owners.iter().flatten() {
        if profiles.iter().any(|p| p.id == *owner) {
            continue;
        }
        if let Some(profile) = graph.profile(*owner) {
            profiles.push(profile);
        }
    }
    profiles.sort_by_key(|p| (p.created_at, p.id));
    profiles
}

/// The other profiles the target may absorb under the merge caps; the rest stay apart, and
/// the event's identifiers that would have linked them are recorded as violations.
fn merge_within_caps(
    target: &Profile,
    others: &[&Profile],
    ids: &[Identifier],
    owners: &[Option<ProfileId>],
    rules: &Rules,
    plan: &mut Plan,
) -> Vec<ProfileId> {
    let mut merges = target.merge_count;
    let mut held = target.identifiers.len();
    let mut absorbed = Vec::new();
    for other in others {
        let after_merges = merges + other.merge_count + 1;
        let after_held = held + other.identifiers.len();
        if after_merges > rules.max_merges || after_held > rules.max_identifiers as usize {
            let detail = if after_merges > rules.max_merges {
                format!("{} merges per profile", rules.max_merges)
            } else {
                format!("{} identifiers per profile", rules.max_identifiers)
            };
            for (id, _) in ids
                .iter()
                .zip(owners)
                .filter(|(_, o)| **o == Some(other.id))
            {
                plan.violations.push((
                    id.clone(),
                    ViolationReason::MergeCap {
                        detail: detail.clone(),
                    },
                ));
            }
            continue;
        }
        merges = after_merges;
        held = after_held;
        absorbed.push(other.id);
    }
    absorbed
}

/// The links an event adds: from its anchor (highest-priority identifier in the target, or
/// the first identifier of a new profile) to the best identifier of each absorbed profile,
/// and to each new identifier.
fn links(
    ids: &[Identifier],
    owners: &[Option<ProfileId>],
    target: Option<ProfileId>,
    absorbed: &[ProfileId],
    plan: &Plan,
    alias: bool,
) -> Vec<(Identifier, Identifier, LinkRule)> {
    let anchor = match target {
        Some(t) => ids
            .iter()
            .zip(owners)
            .find(|(_, o)| **o == Some(t))
            .map(|(id, _)| id),
        None => plan.new_identifiers.first(),
    };
    let Some(anchor) = anchor else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for profile in absorbed {
        if let Some((id, _)) = ids.iter().zip(owners).find(|(_, o)| **o == Some(*profile)) {
            let rule = if alias {
                LinkRule::Alias
            } else {
                LinkRule::Merge
            };
            out.push((anchor.clone(), id.clone(), rule));
        }
    }
    for id in &plan.new_identifiers {
        if id != anchor {
            let rule = if alias {
                LinkRule::Alias
            } else {
                LinkRule::SameEvent
            };
            out.push((anchor.clone(), id.clone(), rule));
        }
    }
    out
}
