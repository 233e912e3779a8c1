//! Batch ingest: resolve events against a working set prefetched from sled, then write
//! everything that changed in one atomic sled batch.

use rayon::prelude::*;
use std::ops::Range;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::ingest::{SourcedEvent, SubmitOutcome};
use crate::model::{
    EventLink, Identifier, JournalAction, JournalEntry, Link, Millis, Profile, ProfileId,
    Provenance, StoredEvent, Violation,
};
use crate::resolve::{
    Attribution, Decision, EventFacts, GraphView, Plan, WorkingGraph, decide, extract_identifiers,
    previous_id_type,
};

use super::bundle::PlainEvent;
use super::codec::encode;
use super::event_codec::TrainedDictionary;
use super::keys;
use super::messages::{self, MessageSet, message_hash};
use super::owners::OwnerChanges;
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
    /// What each absorbed profile held at merge time (written before
    /// [`UndoData::MergeBefore`]; read as a merge with no events filed before it).
    MergeOf { absorbed: Vec<Absorbed> },
    /// What each absorbed profile held at merge time, and the first event seq the merge
    /// did not see: events filed before it stay where they were filed when it is undone.
    MergeBefore {
        absorbed: Vec<Absorbed>,
        first_later_seq: u64,
    },
    /// As [`UndoData::MergeBefore`], with the merge count of each absorbed profile (in
    /// the same order), which undoing the merge gives back.
    MergeCounted {
        absorbed: Vec<Absorbed>,
        merge_counts: Vec<u32>,
        first_later_seq: u64,
    },
    /// A split: which identifiers stayed, and under which cluster each moved event was
    /// filed before (cluster, seqs), so that undoing it files them back there.
    SplitFrom {
        staying: Vec<Identifier>,
        origins: Origins,
    },
}

/// Where a split found the events it moved: each cluster of origin with their seqs.
pub(super) type Origins = Vec<(u64, Vec<u64>)>;

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

/// What undoing a merge gives back: the absorbed profiles, their merge counts (empty when
/// the merge's undo data does not say: they then get none back), and the first seq the
/// merge did not see (0 when the undo data does not say).
#[derive(Debug, Default)]
pub(super) struct MergeUndo {
    pub absorbed: Vec<Absorbed>,
    pub merge_counts: Vec<u32>,
    pub first_later_seq: u64,
}

impl UndoData {
    /// The undo data of a merge absorbing `absorbed`, before the event `first_later_seq`.
    pub(super) fn merge(absorbed: &[&Profile], first_later_seq: u64) -> UndoData {
        UndoData::MergeCounted {
            absorbed: absorbed.iter().map(|p| Absorbed::of(p)).collect(),
            merge_counts: absorbed.iter().map(|p| p.merge_count).collect(),
            first_later_seq,
        }
    }

    /// What undoing a split needs, if this is a split's undo data: the identifiers that
    /// stayed, and where the moved events were filed (none when the data does not say).
    pub(super) fn split_undo(self) -> Option<(Vec<Identifier>, Origins)> {
        match self {
            UndoData::SplitFrom { staying, origins } => Some((staying, origins)),
            UndoData::Split { staying } => Some((staying, Vec::new())),
            _ => None,
        }
    }

    /// What undoing a merge needs, if this is a merge's undo data.
    pub(super) fn merge_undo(self) -> Option<MergeUndo> {
        match self {
            UndoData::MergeCounted {
                absorbed,
                merge_counts,
                first_later_seq,
            } => Some(MergeUndo {
                absorbed,
                merge_counts,
                first_later_seq,
            }),
            UndoData::MergeBefore {
                absorbed,
                first_later_seq,
            } => Some(MergeUndo {
                absorbed,
                merge_counts: Vec::new(),
                first_later_seq,
            }),
            UndoData::MergeOf { absorbed } => Some(MergeUndo {
                absorbed,
                merge_counts: Vec::new(),
                first_later_seq: 0,
            }),
            UndoData::Merge { absorbed } => Some(MergeUndo {
                absorbed: absorbed
                    .into_iter()
                    .map(|(profile, identifiers)| Absorbed {
                        profile,
                        identifiers,
                        clusters: Vec::new(),
                    })
                    .collect(),
                merge_counts: Vec::new(),
                first_later_seq: 0,
            }),
            UndoData::Split { .. } | UndoData::SplitFrom { .. } | UndoData::None => None,
        }
    }
}

/// An event resolution placed: which event of the group, under which cluster, with the
/// seq, time, identifiers and links it is stored with. Its record is built once the whole
/// batch is resolved, on both cores.
struct Placed {
    index: usize,
    seq: u64,
    time: Millis,
    identifiers: Vec<Identifier>,
    links: Vec<EventLink>,
}

/// What happened to each part of an ingested list: the list is consecutive parts (one per
/// request a writer gathered), each reported as if it had been ingested alone.
struct Tally {
    parts: Vec<Range<usize>>,
    outcomes: Vec<SubmitOutcome>,
}

impl Tally {
    /// Outcomes for consecutive parts of these lengths, which must add up to `total`.
    fn new(lengths: &[usize], total: usize) -> anyhow::Result<Tally> {
        let mut parts = Vec::with_capacity(lengths.len());
        let mut start = 0;
        for length in lengths {
            parts.push(start..start + length);
            start += length;
        }
        anyhow::ensure!(
            start == total,
            "parts of {start} events given for {total} events"
        );
        Ok(Tally {
            outcomes: vec![SubmitOutcome::default(); parts.len()],
            parts,
        })
    }

    /// The outcome of the part holding event `index`, and the event's index in that part.
    fn of(&mut self, index: usize) -> (&mut SubmitOutcome, usize) {
        let part = self.parts.partition_point(|range| range.end <= index);
        (&mut self.outcomes[part], index - self.parts[part].start)
    }
}

/// The one outcome of an ingest given a single part.
fn whole(outcomes: Vec<SubmitOutcome>) -> SubmitOutcome {
    outcomes.into_iter().next().unwrap_or_default()
}

/// A resolved group: what the writer's state becomes with it, and what storing it takes.
struct Resolved {
    filing: Filing,
    next: Counters,
    outcomes: Vec<SubmitOutcome>,
    message_hashes: Vec<u128>,
    graph: WorkingGraph,
}

/// What storing a resolved group still takes once resolution is done: its events' records
/// (unless already sealed), the messageId list, audience standings and counters. A
/// pipelined ingest does this on the writing thread, after the previous group is written.
struct Filing {
    /// What resolution changed: profiles, links, violations, journal entries.
    batch: sled::Batch,
    /// The owners it changed: their buckets are read and rewritten once the previous
    /// group is written.
    owners: OwnerChanges,
    records: Records,
    /// The space's counters before and after the group.
    before: Counters,
    after: Counters,
    message_hashes: Vec<u128>,
    /// The profiles the group changed (for the change feed) and removed.
    changed_ids: Vec<ProfileId>,
    removed: Vec<ProfileId>,
    /// The profiles it changed, as it left them, each with whether its traits or clusters
    /// may have changed too, when the space keeps audiences.
    changed: Vec<(Profile, bool)>,
    now: Millis,
}

/// A group's events: where resolution placed them, or already as records.
enum Records {
    Placed(FxHashMap<u64, Vec<Placed>>),
    Sealed(Sealed),
}

/// A group's events as records: their bundles, the dictionary trained on them (if any),
/// and, per cluster, the stored events audiences look at (when the space keeps audiences).
struct Sealed {
    bundles: Vec<(Vec<u8>, Vec<u8>)>,
    trained: Option<TrainedDictionary>,
    fresh: FxHashMap<u64, Vec<StoredEvent>>,
}

/// What writing a resolved group takes: its batch, and for the change feed the profiles it
/// changed and removed and the event count after it.
pub(super) struct BatchWrite {
    batch: sled::Batch,
    changed: Vec<ProfileId>,
    removed: Vec<ProfileId>,
    events: u64,
}

/// One cluster's events of a batch: their plain bytes, and the stored events audiences
/// look at (when the space keeps audiences).
struct ClusterEvents {
    cluster: u64,
    plain: Vec<PlainEvent>,
    fresh: Vec<StoredEvent>,
}

/// The OS user running idgraph: the login the environment names (`USER`, `LOGNAME`),
/// else the account database's name of the process's user.
pub(super) fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| whoami::username().ok())
        .unwrap_or_else(|| "unknown".to_string())
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

impl SpaceStore {
    /// Writes back what changed in the working graph: all but the owners, which it returns.
    fn put_changes(batch: &mut sled::Batch, graph: &WorkingGraph) -> OwnerChanges {
        for profile in graph.changed_profiles() {
            batch.insert(keys::profile(profile.id), encode(profile));
        }
        for id in graph.removed_profiles() {
            batch.remove(keys::profile(id));
        }
        for (cluster, owner) in graph.moved_clusters() {
            batch.insert(keys::cluster(cluster), &owner.0.to_be_bytes()[..]);
        }
        let mut owners = OwnerChanges::default();
        for (id, owner) in graph.changed_owners() {
            match owner {
                Some(owner) => owners.set(id, owner),
                None => owners.remove(id),
            }
        }
        owners
    }

    /// Resolves and stores a group of events atomically. Duplicates (by messageId, within
    /// the space or the group) are skipped; events left with no usable identifier are
    /// reported, not stored. Returns once the batch is in the store.
    pub fn ingest(&self, events: &[SourcedEvent], now: Millis) -> anyhow::Result<SubmitOutcome> {
        self.ingest_parts(events, &[events.len()], now).map(whole)
    }

    /// [`SpaceStore::ingest`] of events that are consecutive parts of these lengths (say, one
    /// per request): stored in one batch, but reported per part as if each part had been
    /// ingested alone after the ones before it (unresolvable indices count from the part's
    /// start; an event repeating an earlier part's messageId is that part's duplicate).
    pub fn ingest_parts(
        &self,
        events: &[SourcedEvent],
        parts: &[usize],
        now: Millis,
    ) -> anyhow::Result<Vec<SubmitOutcome>> {
        let mut counters = self.lock_writer()?;
        let mut messages = self.message_set(&counters)?;
        let seen = messages.get_or_insert_with(MessageSet::default);
        let resolved = self.resolve(&counters, seen, WorkingGraph::new(), events, parts, now)?;
        self.file_and_apply(resolved.filing, events)?;
        seen.extend(&resolved.message_hashes);
        *counters = resolved.next;
        Ok(resolved.outcomes)
    }

    /// [`SpaceStore::ingest`] for bulk loads: resolves this group while the previous one is
    /// still being stored (on the other core), and returns before this one is stored in
    /// turn. Resolution reads through the working graph the previous group left, so it sees
    /// that group's changes whether or not sled holds them yet; once that group is written,
    /// the graph keeps only this group's changes. The records of the events are built on
    /// both cores while the previous group is written (on the writing thread, after it,
    /// until the space has its dictionary); audience standings, which read the stored
    /// timelines, are evaluated on the writing thread once the previous group is written.
    /// Errors of a write show on the next call or on [`SpaceStore::settle`], which every
    /// other writer (and [`super::Store::flush`]) goes through first.
    pub fn ingest_pipelined(
        self: &Arc<Self>,
        events: Vec<SourcedEvent>,
        now: Millis,
    ) -> anyhow::Result<SubmitOutcome> {
        let mut counters = self.lock_writer_only()?;
        let graph = match self.lock_pipeline().graph.take() {
            Some(mut graph) => {
                graph.start_next_batch();
                graph
            }
            None => WorkingGraph::new(),
        };
        let mut messages = self.message_set(&counters)?;
        let seen = messages.get_or_insert_with(MessageSet::default);
        let resolved = self.resolve(&counters, seen, graph, &events, &[events.len()], now)?;
        let mut filing = resolved.filing;
        // Once the space has its dictionary, a group's records need nothing the previous
        // group writes: they are built while that group is being written.
        filing.records = match filing.records {
            Records::Placed(placed) if self.events.has_dictionary() => {
                let stored = filing.before.events;
                Records::Sealed(self.seal(&events, placed, stored, &mut filing.batch)?)
            }
            records => records,
        };
        let mut pipeline = self.lock_pipeline();
        self.join_writing(&mut pipeline, &mut counters)?;
        seen.extend(&resolved.message_hashes);
        *counters = resolved.next;
        let space = Arc::clone(self);
        pipeline.writing = Some(std::thread::spawn(move || {
            let result = space.file_and_apply(filing, &events);
            // Freeing thousands of parsed JSON trees takes a good part of a group's time.
            rayon::spawn(move || drop(events));
            result
        }));
        // The store now holds everything but this group: the rest of the graph would only
        // be a cache, and a growing one costs more memory than the reads it saves.
        let mut graph = resolved.graph;
        graph.keep_only_changes();
        pipeline.graph = Some(graph);
        Ok(whole(resolved.outcomes))
    }

    /// Resolves a group of events (consecutive parts of the given lengths, reported each on
    /// its own) against `graph` (empty, or what the previous group left).
    fn resolve(
        &self,
        counters: &Counters,
        seen: &MessageSet,
        mut graph: WorkingGraph,
        events: &[SourcedEvent],
        parts: &[usize],
        now: Millis,
    ) -> anyhow::Result<Resolved> {
        let mut next = *counters;
        let mut batch = sled::Batch::default();
        let mut tally = Tally::new(parts, events.len())?;
        let mut placed: FxHashMap<u64, Vec<Placed>> = FxHashMap::default();
        let mut message_hashes = Vec::new();
        for (index, sourced) in events.iter().enumerate() {
            let event = &sourced.event;
            let hash = message_hash(&event.message_id);
            let (outcome, index_in_part) = tally.of(index);
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
                    outcome.unresolvable.push((
                        index_in_part,
                        format!("no usable identifier: {}", ids.join(", ")),
                    ));
                    continue;
                }
            };
            let (target, seq, links) =
                self.apply_plan(&mut graph, &mut batch, &mut next, sourced, &plan, time, now);
            placed.entry(target.0).or_default().push(Placed {
                index,
                seq,
                time,
                identifiers: plan.identifiers,
                links,
            });
            message_hashes.push(hash);
            outcome.stored += 1;
            if !plan.absorb.is_empty() {
                outcome.merges += plan.absorb.len();
            }
        }
        let owners = SpaceStore::put_changes(&mut batch, &graph);
        let changed = if self.audiences.is_empty() {
            Vec::new()
        } else {
            graph
                .changed_profiles()
                .map(|p| (p.clone(), graph.traits_or_clusters_changed(p.id)))
                .collect()
        };
        let removed: Vec<ProfileId> = graph.removed_profiles().collect();
        let changed_ids = graph.changed_profiles().map(|p| p.id).collect();
        Ok(Resolved {
            filing: Filing {
                batch,
                owners,
                records: Records::Placed(placed),
                before: *counters,
                after: next,
                message_hashes: message_hashes.clone(),
                changed_ids,
                removed,
                changed,
                now,
            },
            next,
            outcomes: tally.outcomes,
            message_hashes,
            graph,
        })
    }

    /// Stores a resolved group: builds its events' records (on both cores) unless they are
    /// sealed already, its messageId list, audience standings and counters into its batch,
    /// and writes it.
    fn file_and_apply(&self, filing: Filing, events: &[SourcedEvent]) -> anyhow::Result<()> {
        let Filing {
            mut batch,
            owners,
            records,
            before,
            after,
            message_hashes,
            changed_ids,
            removed,
            changed,
            now,
        } = filing;
        let sealed = match records {
            Records::Placed(placed) => self.seal(events, placed, before.events, &mut batch)?,
            Records::Sealed(sealed) => sealed,
        };
        self.put_owners(&mut batch, owners)?;
        for (key, record) in sealed.bundles {
            batch.insert(key, record);
        }
        messages::put_batch(&mut batch, before.next_seq, &message_hashes);
        if !self.audiences.is_empty() {
            self.put_batch_standings(&mut batch, &changed, &removed, &sealed.fresh, now)?;
        }
        SpaceStore::put_counters(&mut batch, &after);
        let write = BatchWrite {
            batch,
            changed: changed_ids,
            removed,
            events: after.events,
        };
        match self.apply_prepared(write, sealed.trained) {
            Ok(()) => {
                self.relevant.append(&sealed.fresh);
                Ok(())
            }
            Err(error) => {
                // The kept events may now hold more than the tree does.
                self.relevant.forget();
                Err(error)
            }
        }
    }

    /// Builds the records of a group's placed events (on both cores), training the space's
    /// dictionary on them when it is due (its record goes into `batch`). `stored` is the
    /// number of events the space held before the group.
    fn seal(
        &self,
        events: &[SourcedEvent],
        placed: FxHashMap<u64, Vec<Placed>>,
        stored: u64,
        batch: &mut sled::Batch,
    ) -> anyhow::Result<Sealed> {
        let filed = self.build_records(events, placed);
        let samples: Vec<&[u8]> = filed
            .iter()
            .flat_map(|c| c.plain.iter().map(|e| e.bytes.as_slice()))
            .collect();
        let trained = self
            .events
            .train_if_due(&self.tree, stored, &samples, batch)?;
        let bundles: Vec<Vec<(Vec<u8>, Vec<u8>)>> = filed
            .par_iter()
            .map(|c| self.bundle_records(trained.as_ref(), c.cluster, &c.plain))
            .collect();
        let fresh = filed
            .into_iter()
            .filter(|c| !c.fresh.is_empty())
            .map(|c| (c.cluster, c.fresh))
            .collect();
        Ok(Sealed {
            bundles: bundles.into_iter().flatten().collect(),
            trained,
            fresh,
        })
    }

    /// Writes a prepared batch (installing the dictionary it trained, if any) and records
    /// the profiles it touched in the change feed.
    fn apply_prepared(
        &self,
        write: BatchWrite,
        trained: Option<TrainedDictionary>,
    ) -> anyhow::Result<()> {
        let _gate = self.write_gate();
        self.tree.apply_batch(write.batch)?;
        // Under the gate: no reader sees the batch's compressed events before the
        // dictionary they need, nor the batch without its changes in the feed.
        if let Some(trained) = trained {
            self.events.install(trained);
        }
        if !write.changed.is_empty() || !write.removed.is_empty() {
            self.record_changes(write.changed, write.removed, write.events);
        }
        Ok(())
    }

    /// The stored form of a batch's placed events, per cluster, built on both cores.
    fn build_records(
        &self,
        events: &[SourcedEvent],
        placed: FxHashMap<u64, Vec<Placed>>,
    ) -> Vec<ClusterEvents> {
        let keep_audiences = !self.audiences.is_empty();
        placed
            .into_par_iter()
            .map(|(cluster, placed)| {
                let mut out = ClusterEvents {
                    cluster,
                    plain: Vec::with_capacity(placed.len()),
                    fresh: Vec::new(),
                };
                for p in placed {
                    let sourced = &events[p.index];
                    let mut stored = StoredEvent::from_event(
                        &sourced.event,
                        p.seq,
                        p.time,
                        &sourced.source,
                        &sourced.channel,
                        p.identifiers,
                    );
                    stored.links = p.links;
                    out.plain.push(PlainEvent::of(&stored));
                    if keep_audiences && self.audiences.looks_at(stored.call, &stored.label) {
                        out.fresh.push(stored);
                    }
                }
                out
            })
            .collect()
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
    /// record itself); returns the profile (and timeline cluster) that received it, the
    /// event's seq, and the links to store with the event.
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
    ) -> (ProfileId, u64, Vec<EventLink>) {
        let event = &sourced.event;
        let seq = next.next_seq;
        next.next_seq += 1;
        next.events += 1;
        let undo_merge = (!plan.absorb.is_empty()).then(|| {
            let absorbed: Vec<&Profile> = plan
                .absorb
                .iter()
                .filter_map(|id| graph.profile(*id))
                .collect();
            UndoData::merge(&absorbed, seq)
        });
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
        let provenance = Provenance {
            message_id: event.message_id.clone(),
            source: sourced.source.clone(),
            time,
            op: None,
        };
        let mut links = Vec::with_capacity(plan.links.len());
        for (from, to, rule) in &plan.links {
            // Resolution links only identifiers the event keeps; a record of its own is
            // the way to keep any other.
            match EventLink::between(&plan.identifiers, from, to, *rule) {
                Some(link) => links.push(link),
                None => {
                    let link = Link {
                        from: from.clone(),
                        to: to.clone(),
                        rule: *rule,
                        provenance: provenance.clone(),
                    };
                    put_link(batch, next.next_link, &link);
                    next.next_link += 1;
                }
            }
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
        if let Some(undo) = undo_merge {
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
            put_journal(batch, &entry, &undo);
        }
        (target, seq, links)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;
    use crate::query::GraphRead;

    fn sourced(json: serde_json::Value) -> SourcedEvent {
        SourcedEvent {
            event: Event::from_json(json).unwrap(),
            source: "web".into(),
            channel: "web".into(),
        }
    }

    /// Two groups where the second only resolves right if it sees the first's changes:
    /// the login merges the anonymous visitor, then the same device signs in elsewhere.
    fn groups() -> [Vec<SourcedEvent>; 2] {
        [
            vec![
                sourced(serde_json::json!({"type":"page","anonymousId":"a1","messageId":"m1"})),
                sourced(
                    serde_json::json!({"type":"identify","anonymousId":"a1","userId":"u1","messageId":"m2"}),
                ),
            ],
            vec![
                sourced(
                    serde_json::json!({"type":"track","event":"Bought","anonymousId":"a1","messageId":"m3"}),
                ),
                sourced(
                    serde_json::json!({"type":"identify","userId":"u1","traits":{"email":"x@acme.io"},"messageId":"m4"}),
                ),
                sourced(serde_json::json!({"type":"page","anonymousId":"a1","messageId":"m1"})),
            ],
        ]
    }

    #[test]
    fn a_group_resolved_on_the_graph_the_previous_left_needs_no_write_in_between() {
        let dir = tempfile::tempdir().unwrap();
        let store =
            super::super::Store::open(dir.path(), crate::config::Config::defaults()).unwrap();
        let space = store.space("default").unwrap();
        let [first, second] = groups();
        let counters = space.counters().unwrap();
        let seen = MessageSet::default();
        let one = space
            .resolve(
                &counters,
                &seen,
                WorkingGraph::new(),
                &first,
                &[first.len()],
                0,
            )
            .unwrap();
        let mut seen_after = MessageSet::default();
        seen_after.extend(&one.message_hashes);
        let mut carried = one.graph.clone();
        carried.start_next_batch();
        // Nothing of the first group is written yet: only the carried graph knows it.
        let two = space
            .resolve(&one.next, &seen_after, carried, &second, &[second.len()], 0)
            .unwrap();
        assert_eq!((two.outcomes[0].stored, two.outcomes[0].duplicates), (2, 1));
        assert_eq!(
            two.outcomes[0].merges, 0,
            "a1 and u1 are already one profile"
        );
        space.file_and_apply(one.filing, &first).unwrap();
        space.file_and_apply(two.filing, &second).unwrap();
        let profiles: Vec<_> = {
            let mut out = Vec::new();
            space
                .for_each_profile(&mut |p| {
                    out.push(p.clone());
                    true
                })
                .unwrap();
            out
        };
        assert_eq!(profiles.len(), 1);
        assert_eq!(profiles[0].event_count, 4);
        assert_eq!(space.timeline(profiles[0].id, 10).unwrap().len(), 4);
    }
}
