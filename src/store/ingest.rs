//! Batch ingest: resolve events against a working set prefetched from sled, then write
//! everything that changed in one atomic sled batch.

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::ingest::{SourcedEvent, SubmitOutcome};
use crate::model::{
    Identifier, JournalAction, JournalEntry, Link, Millis, ProfileId, Provenance, StoredEvent,
    Violation,
};
use crate::resolve::{
    Attribution, Decision, EventFacts, GraphView, Plan, WorkingGraph, decide, extract_identifiers,
    previous_id_type,
};

use super::bundle::PlainEvent;
use super::codec::encode;
use super::keys;
use super::messages::{self, MessageSet, message_hash};
use super::space::{Counters, SpaceStore};

/// What undoing an entry needs that the entry itself does not say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum UndoData {
    /// The identifiers each absorbed profile held at merge time (written by idgraph 0.1
    /// before [`UndoData::MergeOf`]; read as absorbed profiles without clusters).
    Merge {
        absorbed: Vec<(ProfileId, Vec<Identifier>)>,
    },
    /// A split: which identifiers stayed.
    Split { staying: Vec<Identifier> },
    /// Nothing beyond the entry.
    None,
    /// What each absorbed profile held at merge time.
    MergeOf { absorbed: Vec<Absorbed> },
}

/// A profile as a merge absorbed it: undoing the merge gives it back its identifiers and
/// the events filed under its clusters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Absorbed {
    pub profile: ProfileId,
    pub identifiers: Vec<Identifier>,
    pub clusters: Vec<u64>,
}

impl Absorbed {
    /// What undoing a merge of `profile` needs.
    pub(super) fn of(profile: &crate::model::Profile) -> Absorbed {
        Absorbed {
            profile: profile.id,
            identifiers: profile.sorted_identifiers(),
            clusters: profile.clusters.clone(),
        }
    }
}

impl UndoData {
    /// The absorbed profiles of a merge's undo data, if it is one.
    pub(super) fn absorbed(self) -> Option<Vec<Absorbed>> {
        match self {
            UndoData::MergeOf { absorbed } => Some(absorbed),
            UndoData::Merge { absorbed } => Some(
                absorbed
                    .into_iter()
                    .map(|(profile, identifiers)| Absorbed {
                        profile,
                        identifiers,
                        clusters: Vec::new(),
                    })
                    .collect(),
            ),
            UndoData::Split { .. } | UndoData::None => None,
        }
    }
}

/// A batch's events in plain form by the cluster they are filed under, bundled and sealed
/// (compressed) once the whole batch is known: the first batches of a space train its
/// dictionary. Also the hashes of their messageIds.
#[derive(Default)]
struct FiledEvents {
    by_cluster: FxHashMap<u64, Vec<PlainEvent>>,
    message_hashes: Vec<u128>,
}

/// The OS user running idgraph.
pub(super) fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "unknown".to_string())
}

/// Adds a journal entry, its history index entries and undo data to a batch.
pub(super) fn put_journal(batch: &mut sled::Batch, entry: &JournalEntry, undo: &UndoData) {
    batch.insert(keys::journal(entry.op), encode(entry));
    batch.insert(keys::undo(entry.op), encode(undo));
    for profile in &entry.profiles {
        batch.insert(keys::history(*profile, entry.op), &[][..]);
    }
}

/// Adds a link to a batch, filed under the identifier it attached (`to`).
pub(super) fn put_link(batch: &mut sled::Batch, id: u64, link: &Link) {
    batch.insert(keys::adjacency(&link.to, id), encode(link));
}

/// Writes back what changed in the working graph.
pub(super) fn put_changes(batch: &mut sled::Batch, graph: &WorkingGraph) {
    for profile in graph.changed_profiles() {
        batch.insert(keys::profile(profile.id), encode(profile));
    }
    for id in graph.removed_profiles() {
        batch.remove(keys::profile(id));
    }
    for (id, owner) in graph.changed_owners() {
        match owner {
            Some(owner) => batch.insert(keys::identifier(id), &owner.0.to_be_bytes()[..]),
            None => batch.remove(keys::identifier(id)),
        }
    }
    for (cluster, owner) in graph.moved_clusters() {
        batch.insert(keys::cluster(cluster), &owner.0.to_be_bytes()[..]);
    }
}

impl SpaceStore {
    /// Resolves and stores a group of events atomically. Duplicates (by messageId, within
    /// the space or the group) are skipped; events left with no usable identifier are
    /// reported, not stored.
    pub fn ingest(&self, events: &[SourcedEvent], now: Millis) -> anyhow::Result<SubmitOutcome> {
        let mut counters = self.lock_writer()?;
        let mut messages = self.message_set()?;
        let seen = messages.get_or_insert_with(MessageSet::default);
        let mut next = *counters;
        let mut graph = WorkingGraph::new();
        let mut batch = sled::Batch::default();
        let mut outcome = SubmitOutcome::default();
        let keep_audiences = !self.audiences.is_empty();
        let mut fresh: FxHashMap<u64, Vec<StoredEvent>> = FxHashMap::default();
        let mut timeline = FiledEvents::default();
        for (index, sourced) in events.iter().enumerate() {
            let event = &sourced.event;
            let hash = message_hash(&event.message_id);
            if graph.message_seen(&event.message_id) || seen.contains(hash) {
                graph.load_seen(event.message_id.clone());
                outcome.duplicates += 1;
                continue;
            }
            let extraction = extract_identifiers(event, &self.rules, |previous| {
                let id = Identifier::new(crate::model::identifier::USER_ID, previous);
                if graph.knows_owner(&id) {
                    previous_id_type(&graph, previous)
                } else if self.load_owner(&id).ok().flatten().is_some() {
                    crate::model::identifier::USER_ID
                } else {
                    crate::model::identifier::ANONYMOUS_ID
                }
            });
            for id in &extraction.identifiers {
                self.prefetch(&mut graph, id)?;
            }
            let facts = EventFacts::of(event, &self.rules, now);
            let time = facts.time;
            let plan = match decide(extraction, facts, &self.rules, &graph) {
                Decision::Apply(plan) => plan,
                Decision::Duplicate => {
                    outcome.duplicates += 1;
                    continue;
                }
                Decision::Unresolvable { violations } => {
                    let ids: Vec<String> = violations
                        .iter()
                        .map(|(id, reason)| format!("{id} ({reason})"))
                        .collect();
                    outcome
                        .unresolvable
                        .push((index, format!("no usable identifier: {}", ids.join(", "))));
                    continue;
                }
            };
            let (target, stored) =
                self.apply_plan(&mut graph, &mut batch, &mut next, sourced, &plan, time, now);
            timeline
                .by_cluster
                .entry(target.0)
                .or_default()
                .push(PlainEvent::of(&stored));
            timeline.message_hashes.push(hash);
            if keep_audiences && self.audiences.looks_at(stored.call, &stored.label) {
                fresh.entry(target.0).or_default().push(stored);
            }
            outcome.stored += 1;
            if !plan.absorb.is_empty() {
                outcome.merges += plan.absorb.len();
            }
        }
        put_changes(&mut batch, &graph);
        let samples: Vec<&[u8]> = timeline
            .by_cluster
            .values()
            .flatten()
            .map(|e| e.bytes.as_slice())
            .collect();
        let trained =
            self.events
                .train_if_due(&self.tree, counters.events, &samples, &mut batch)?;
        for (cluster, events) in timeline.by_cluster {
            self.put_bundles(&mut batch, trained.as_ref(), cluster, events);
        }
        messages::put_batch(&mut batch, counters.next_seq, &timeline.message_hashes);
        if keep_audiences {
            self.put_batch_standings(&mut batch, &graph, &fresh, now)?;
        }
        SpaceStore::put_counters(&mut batch, &next);
        {
            let _gate = self.write_gate();
            self.tree.apply_batch(batch)?;
            // Under the gate: no reader sees the batch's compressed events before the
            // dictionary they need.
            if let Some(trained) = trained {
                self.events.install(trained);
            }
        }
        seen.extend(&timeline.message_hashes);
        *counters = next;
        let touched: Vec<ProfileId> = graph
            .changed_profiles()
            .map(|p| p.id)
            .chain(graph.removed_profiles())
            .collect();
        if !touched.is_empty() {
            self.record_changes(touched, next.events);
        }
        Ok(outcome)
    }

    /// Loads an identifier's owner and the owner's profile into the working set.
    fn prefetch(&self, graph: &mut WorkingGraph, id: &Identifier) -> anyhow::Result<()> {
        if graph.knows_owner(id) {
            return Ok(());
        }
        let Some(owner) = self.load_owner(id)? else {
            return Ok(());
        };
        graph.load_owner(id.clone(), owner);
        if !graph.has_profile(owner) && !graph.was_removed(owner) {
            match self.load_profile(owner)? {
                Some(profile) => graph.load_profile(profile),
                None => anyhow::bail!(
                    "space {}: identifier {id} points at missing profile {owner}; run idgraph check --repair",
                    self.name
                ),
            }
        }
        Ok(())
    }

    /// Applies one event's plan to the working graph and the batch (all but the event
    /// record itself); returns the profile (and timeline cluster) that received it and its
    /// stored record.
    #[allow(clippy::too_many_arguments)]
    fn apply_plan(
        &self,
        graph: &mut WorkingGraph,
        batch: &mut sled::Batch,
        next: &mut Counters,
        sourced: &SourcedEvent,
        plan: &Plan,
        time: Millis,
        now: Millis,
    ) -> (ProfileId, StoredEvent) {
        let event = &sourced.event;
        let seq = next.next_seq;
        next.next_seq += 1;
        next.events += 1;
        let absorbed_before: Vec<Absorbed> = plan
            .absorb
            .iter()
            .filter_map(|id| graph.profile(*id))
            .map(Absorbed::of)
            .collect();
        let traits = event.profile_traits();
        let attribution = Attribution {
            seq,
            time,
            source: &sourced.source,
            message_id: &event.message_id,
            traits: &traits,
        };
        let created = plan.target.is_none();
        let target = graph.apply(plan, &attribution, &mut || {
            let id = ProfileId(next.next_profile);
            next.next_profile += 1;
            id
        });
        if created {
            next.profiles += 1;
        }
        next.profiles = next.profiles.saturating_sub(plan.absorb.len() as u64);
        let stored = StoredEvent::from_event(
            event,
            seq,
            time,
            &sourced.source,
            &sourced.channel,
            plan.identifiers.clone(),
        );
        let provenance = Provenance {
            message_id: event.message_id.clone(),
            source: sourced.source.clone(),
            time,
            op: None,
        };
        for (from, to, rule) in &plan.links {
            let link = Link {
                from: from.clone(),
                to: to.clone(),
                rule: *rule,
                provenance: provenance.clone(),
            };
            put_link(batch, next.next_link, &link);
            next.next_link += 1;
        }
        for (index, (identifier, reason)) in plan.violations.iter().enumerate() {
            let violation = Violation {
                identifier: identifier.clone(),
                reason: reason.clone(),
                provenance: provenance.clone(),
            };
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            batch.insert(keys::violation(target.0, seq, index), encode(&violation));
        }
        if !plan.absorb.is_empty() {
            let op = next.next_op;
            next.next_op += 1;
            let mut profiles = vec![target];
            profiles.extend(&plan.absorb);
            let entry = JournalEntry {
                op,
                at: now,
                user: "idgraph".to_string(),
                reason: format!(
                    "{} event {} carried identifiers of {} profiles",
                    event.call.as_str(),
                    event.message_id,
                    plan.absorb.len() + 1
                ),
                action: JournalAction::AutoMerge {
                    survivor: target,
                    absorbed: plan.absorb.clone(),
                    message_id: event.message_id.clone(),
                },
                profiles,
                undone_by: None,
            };
            put_journal(
                batch,
                &entry,
                &UndoData::MergeOf {
                    absorbed: absorbed_before,
                },
            );
        }
        (target, stored)
    }
}
