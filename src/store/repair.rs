//! Manual repair of a space: merge, split (pinned), undo; every action journaled.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use anyhow::{Context, bail};

use crate::model::time::now;
use crate::model::{
    Event, Identifier, JournalAction, JournalEntry, Link, LinkRule, PinMark, Profile, ProfileId,
    ProfileIdentifier, Provenance, StoredEvent,
};
use crate::query::{GraphRead, GraphRepair, OpOutcome, SplitPreview};
use crate::resolve::{MergePreview, preview_merge};

use super::audience::Touched;
use super::bundle::PlainEvent;
use super::codec::encode;
use super::ingest::{Absorbed, MergeUndo, Origins, UndoData, os_user, put_journal, put_link};
use super::keys;
use super::owners::OwnerChanges;
use super::space::{Counters, SpaceStore};

/// What a merge, split or undo writes: its batch, and the owner changes whose buckets go
/// into it when it is committed.
#[derive(Default)]
struct Writes {
    batch: sled::Batch,
    owners: OwnerChanges,
}

/// An event of a profile with the timeline cluster and bundle it is filed under.
struct Filed {
    cluster: u64,
    bundle: u64,
    event: StoredEvent,
}

/// Which events came with an absorbed profile, when its merge is undone: those filed under
/// its clusters, and none filed elsewhere before the merge (`first_later_seq`). A plain
/// split has none.
#[derive(Default)]
struct MergedPart<'a> {
    clusters: &'a [u64],
    first_later_seq: u64,
}

/// The result of splitting a profile in memory, before it is written.
struct SplitResult {
    staying: Profile,
    moved: Profile,
    moved_events: Vec<Filed>,
    staying_events: Vec<Filed>,
}

impl SplitResult {
    /// Records both sides of the split for audience re-evaluation.
    fn touch(&self, touched: &mut Touched) {
        let events = |filed: &[Filed]| filed.iter().map(|f| f.event.clone()).collect();
        touched.update(self.staying.clone(), events(&self.staying_events));
        touched.update(self.moved.clone(), events(&self.moved_events));
    }
}

impl SpaceStore {
    fn require_profile(&self, id: ProfileId) -> anyhow::Result<Profile> {
        self.load_profile(id)?
            .with_context(|| format!("no profile {id} in space {}", self.name))
    }

    /// The events of a profile some audience looks at, as stored (before the batch).
    fn profile_events(&self, profile: &Profile) -> anyhow::Result<Vec<StoredEvent>> {
        self.audience_events(&profile.clusters)
    }

    /// Every event of a profile with its cluster, oldest first.
    fn filed_events(&self, profile: &Profile) -> anyhow::Result<Vec<Filed>> {
        let mut out = Vec::new();
        for cluster in &profile.clusters {
            out.extend(self.filed_in(*cluster)?);
        }
        out.sort_by_key(|f| (f.event.time, f.event.seq));
        Ok(out)
    }

    /// Every event filed under a cluster, with its bundle.
    fn filed_in(&self, cluster: u64) -> anyhow::Result<Vec<Filed>> {
        let mut out = Vec::new();
        for bundle in self.cluster_bundles(cluster)? {
            out.extend(bundle.events.into_iter().map(|event| Filed {
                cluster,
                bundle: bundle.first_seq,
                event,
            }));
        }
        Ok(out)
    }

    /// Splits `profile` in memory: `moving` identifiers and the events only they explain go
    /// to a new profile `into`; traits and counts of both sides are rebuilt from their events.
    /// An event is explained by the identifiers it carries that the profile holds (not by
    /// those a sign-out released or an earlier split took elsewhere). When a merge is undone,
    /// `merged` says which events came with the absorbed profile.
    fn split_in_memory(
        &self,
        profile: &Profile,
        moving: &[Identifier],
        into: ProfileId,
        exclude: &BTreeSet<u64>,
        merged: MergedPart,
    ) -> anyhow::Result<SplitResult> {
        let moving_set: BTreeSet<&Identifier> = moving.iter().collect();
        for id in moving {
            if !profile.has(id) {
                bail!("{id} is not in profile {}", profile.id);
            }
        }
        if moving.is_empty() {
            bail!("choose at least one identifier to split out");
        }
        if profile
            .identifiers
            .iter()
            .all(|h| moving_set.contains(&h.id))
        {
            bail!(
                "cannot split out every identifier of {}: at least one must stay",
                profile.id
            );
        }
        let (moved_events, staying_events): (Vec<Filed>, Vec<Filed>) = self
            .filed_events(profile)?
            .into_iter()
            .filter(|f| !exclude.contains(&f.event.seq))
            .partition(|f| {
                if merged.clusters.contains(&f.cluster) {
                    return true;
                }
                if f.event.seq < merged.first_later_seq {
                    // Filed before the merge, outside what it absorbed: it stays.
                    return false;
                }
                let held: Vec<&Identifier> = f
                    .event
                    .identifiers
                    .iter()
                    .filter(|i| profile.has(i))
                    .collect();
                !held.is_empty() && held.iter().all(|i| moving_set.contains(i))
            });
        let (moved_ids, staying_ids): (Vec<ProfileIdentifier>, Vec<ProfileIdentifier>) = profile
            .identifiers
            .iter()
            .cloned()
            .partition(|h| moving_set.contains(&h.id));
        let moved_violations = self.count_violations(&moved_events)?;
        let staying_clusters: Vec<u64> = profile
            .clusters
            .iter()
            .copied()
            .filter(|c| *c != into.0)
            .collect();
        let mut staying = rebuild(profile.id, staying_ids, &staying_events, staying_clusters)?;
        staying.merge_count = profile.merge_count;
        staying.violation_count = profile.violation_count.saturating_sub(moved_violations);
        let mut moved = rebuild(into, moved_ids, &moved_events, vec![into.0])?;
        moved.violation_count = moved_violations;
        Ok(SplitResult {
            staying,
            moved,
            moved_events,
            staying_events,
        })
    }

    fn count_violations(&self, events: &[Filed]) -> anyhow::Result<u32> {
        let mut n = 0_u32;
        for filed in events {
            let mut prefix = keys::violation_prefix(filed.cluster);
            prefix.extend_from_slice(&filed.event.seq.to_be_bytes());
            n += self.tree.scan_prefix(prefix).count() as u32;
        }
        Ok(n)
    }

    /// Writes a split into a batch: profiles, owners, re-filed events and violations. The
    /// moved events are bundled under the new profile's cluster. A staying event keeps its
    /// links, so those it made between identifiers that move are recorded apart, filed under
    /// the identifier they attached, where the moved profile finds them.
    fn put_split(
        &self,
        writes: &mut Writes,
        next: &mut Counters,
        split: &SplitResult,
    ) -> anyhow::Result<()> {
        for held in &split.moved.identifiers {
            writes.owners.set(&held.id, split.moved.id);
        }
        let batch = &mut writes.batch;
        for link in split
            .staying_events
            .iter()
            .flat_map(|f| f.event.made_links())
        {
            if split.moved.has(&link.from) && split.moved.has(&link.to) {
                put_link(batch, next.next_link, &link);
                next.next_link += 1;
            }
        }
        let moves: Vec<(&Filed, u64)> = split
            .moved_events
            .iter()
            .map(|f| (f, split.moved.id.0))
            .collect();
        self.put_refiled(batch, &moves)?;
        batch.remove(keys::cluster(split.moved.id.0));
        batch.insert(keys::profile(split.staying.id), encode(&split.staying));
        batch.insert(keys::profile(split.moved.id), encode(&split.moved));
        Ok(())
    }

    /// Files events under other clusters (each to the cluster paired with it), with their
    /// violations. The bundles they leave keep the others (under their new smallest seq).
    fn put_refiled(&self, batch: &mut sled::Batch, moves: &[(&Filed, u64)]) -> anyhow::Result<()> {
        let moving: HashSet<u64> = moves.iter().map(|(f, _)| f.event.seq).collect();
        let left: BTreeSet<(u64, u64)> = moves.iter().map(|(f, _)| (f.cluster, f.bundle)).collect();
        for (cluster, first_seq) in &left {
            let key = keys::timeline(*cluster, *first_seq);
            let value = self.tree.get(&key)?.with_context(|| {
                format!("space {}: event bundle {first_seq} vanished", self.name)
            })?;
            let staying: Vec<PlainEvent> = self
                .events
                .decode_bundle(&value)?
                .iter()
                .filter(|e| !moving.contains(&e.seq))
                .map(PlainEvent::of)
                .collect();
            batch.remove(key);
            if !staying.is_empty() {
                self.put_bundles(batch, *cluster, staying);
            }
        }
        let mut arriving: BTreeMap<u64, Vec<PlainEvent>> = BTreeMap::new();
        for (filed, to) in moves {
            arriving
                .entry(*to)
                .or_default()
                .push(PlainEvent::of(&filed.event));
            let seq = filed.event.seq;
            let mut prefix = keys::violation_prefix(filed.cluster);
            prefix.extend_from_slice(&seq.to_be_bytes());
            for item in self.tree.scan_prefix(prefix) {
                let (key, value) = item?;
                let index = u16::from_be_bytes([key[17], key[18]]);
                batch.remove(key);
                batch.insert(keys::violation(*to, seq, index), value);
            }
        }
        for (cluster, events) in arriving {
            self.put_bundles(batch, cluster, events);
        }
        Ok(())
    }

    /// Applies a repair's writes, flushes them and records the profiles they touched in
    /// the change feed.
    fn commit(
        &self,
        writes: Writes,
        counters: &mut Counters,
        next: Counters,
        touched: &[ProfileId],
    ) -> anyhow::Result<()> {
        let Writes { mut batch, owners } = writes;
        self.put_owners(&mut batch, owners)?;
        SpaceStore::put_counters(&mut batch, &next);
        super::backup::put_op_position(&mut batch, &next);
        // Splits and undos refile events between clusters.
        self.relevant.forget();
        {
            let _gate = self.write_gate();
            self.tree.apply_batch(batch)?;
            // Under the gate: no reader sees the batch without its changes in the feed.
            self.record_touched(touched.iter().copied(), next.events);
        }
        self.tree.flush()?;
        *counters = next;
        Ok(())
    }

    fn journal_entry(
        &self,
        op: u64,
        reason: &str,
        action: JournalAction,
        profiles: Vec<ProfileId>,
    ) -> JournalEntry {
        JournalEntry {
            op,
            at: now(),
            user: os_user(),
            reason: reason.to_string(),
            action,
            profiles,
            undone_by: None,
        }
    }

    /// Merges `absorbed` into `survivor` in a batch (no rule checks here).
    fn put_merge(writes: &mut Writes, survivor: &Profile, absorbed: &Profile, result: &Profile) {
        for held in &absorbed.identifiers {
            writes.owners.set(&held.id, survivor.id);
        }
        let batch = &mut writes.batch;
        for cluster in &absorbed.clusters {
            batch.insert(keys::cluster(*cluster), &survivor.id.0.to_be_bytes()[..]);
        }
        batch.remove(keys::profile(absorbed.id));
        batch.insert(keys::profile(result.id), encode(result));
    }
}

/// Rebuilds a profile's counts and traits from its events (oldest first).
fn rebuild(
    id: ProfileId,
    identifiers: Vec<ProfileIdentifier>,
    events: &[Filed],
    clusters: Vec<u64>,
) -> anyhow::Result<Profile> {
    let first = events.first().map_or(0, |f| f.event.time);
    let mut profile = Profile::new(id, first);
    profile.identifiers = identifiers;
    profile.clusters = clusters;
    for filed in events {
        let e = &filed.event;
        let traits = match serde_json::from_str(&e.raw_json)
            .ok()
            .and_then(|v| Event::from_json(v).ok())
        {
            Some(event) => event.profile_traits(),
            None => serde_json::Map::new(),
        };
        profile.record_event(e.time, e.seq, &traits);
    }
    if events.is_empty() {
        profile.created_at = profile
            .identifiers
            .iter()
            .map(|h| h.first_seen)
            .min()
            .unwrap_or(0);
        profile.last_seen = profile
            .identifiers
            .iter()
            .map(|h| h.last_seen)
            .max()
            .unwrap_or(0);
    }
    Ok(profile)
}

fn best_identifier(profile: &Profile, rules: &crate::config::Rules) -> Option<Identifier> {
    profile
        .identifiers
        .iter()
        .map(|h| &h.id)
        .min_by(|a, b| {
            rules
                .priority_key(&a.kind)
                .cmp(&rules.priority_key(&b.kind))
                .then(a.cmp(b))
        })
        .cloned()
}

fn require_reason(reason: &str) -> anyhow::Result<()> {
    if reason.trim().is_empty() {
        bail!("a reason is required (--reason TEXT): the journal records why");
    }
    Ok(())
}

impl GraphRepair for SpaceStore {
    fn preview_merge(&self, a: ProfileId, b: ProfileId) -> anyhow::Result<MergePreview> {
        let _gate = self.read_gate();
        if a == b {
            bail!("{a} and {b} are the same profile");
        }
        let (pa, pb) = (self.require_profile(a)?, self.require_profile(b)?);
        Ok(preview_merge(&pa, &pb, &self.rules, now()))
    }

    fn merge(
        &self,
        a: ProfileId,
        b: ProfileId,
        reason: &str,
        force: bool,
    ) -> anyhow::Result<OpOutcome> {
        require_reason(reason)?;
        let mut counters = self.lock_writer()?;
        let mut next = *counters;
        if a == b {
            bail!("{a} and {b} are the same profile");
        }
        let (pa, pb) = (self.require_profile(a)?, self.require_profile(b)?);
        let preview = preview_merge(&pa, &pb, &self.rules, now());
        let overrides: Vec<String> = preview.conflicts.iter().map(ToString::to_string).collect();
        if !overrides.is_empty() && !force {
            bail!(
                "merging {a} and {b} would break: {}; use --force to override (the journal records it)",
                overrides.join("; ")
            );
        }
        let (survivor, absorbed) = if preview.survivor == pa.id {
            (&pa, &pb)
        } else {
            (&pb, &pa)
        };
        let op = next.next_op;
        next.next_op += 1;
        next.profiles = next.profiles.saturating_sub(1);
        let mut writes = Writes::default();
        SpaceStore::put_merge(&mut writes, survivor, absorbed, &preview.result);
        let mut touched = Touched::default();
        touched.update(
            preview.result.clone(),
            self.profile_events(&preview.result)?,
        );
        touched.remove(absorbed.id);
        self.put_touched(&mut writes.batch, touched)?;
        if let (Some(from), Some(to)) = (
            best_identifier(survivor, &self.rules),
            best_identifier(absorbed, &self.rules),
        ) {
            let link = Link {
                from,
                to,
                rule: LinkRule::ManualMerge,
                provenance: Provenance {
                    message_id: format!("op-{op}"),
                    source: "manual".to_string(),
                    time: now(),
                    op: Some(op),
                },
            };
            put_link(&mut writes.batch, next.next_link, &link);
            next.next_link += 1;
        }
        let entry = self.journal_entry(
            op,
            reason,
            JournalAction::Merge {
                survivor: survivor.id,
                absorbed: absorbed.id,
                overrides,
            },
            vec![survivor.id, absorbed.id],
        );
        let undo = UndoData::merge(&[absorbed], next.next_seq);
        put_journal(&mut writes.batch, &entry, &undo);
        self.commit(writes, &mut counters, next, &entry.profiles)?;
        Ok(OpOutcome { entry })
    }

    fn preview_split(
        &self,
        from: ProfileId,
        moving: &[Identifier],
    ) -> anyhow::Result<SplitPreview> {
        let _gate = self.read_gate();
        let profile = self.require_profile(from)?;
        let split = self.split_in_memory(
            &profile,
            moving,
            ProfileId(0),
            &BTreeSet::new(),
            MergedPart::default(),
        )?;
        let mut moving_events: Vec<StoredEvent> =
            split.moved_events.into_iter().map(|f| f.event).collect();
        moving_events.reverse();
        Ok(SplitPreview {
            from,
            moving: split.moved.sorted_identifiers(),
            staying: split.staying.sorted_identifiers(),
            moving_events,
            staying_events: split.staying.event_count,
        })
    }

    fn split(
        &self,
        from: ProfileId,
        moving: &[Identifier],
        reason: &str,
    ) -> anyhow::Result<OpOutcome> {
        require_reason(reason)?;
        let mut counters = self.lock_writer()?;
        let mut next = *counters;
        let profile = self.require_profile(from)?;
        let op = next.next_op;
        next.next_op += 1;
        let into = ProfileId(next.next_profile);
        next.next_profile += 1;
        next.profiles += 1;
        let mut split = self.split_in_memory(
            &profile,
            moving,
            into,
            &BTreeSet::new(),
            MergedPart::default(),
        )?;
        pin(&mut split, op);
        let mut writes = Writes::default();
        self.put_split(&mut writes, &mut next, &split)?;
        let mut touched = Touched::default();
        split.touch(&mut touched);
        self.put_touched(&mut writes.batch, touched)?;
        let entry = self.journal_entry(
            op,
            reason,
            JournalAction::Split {
                from,
                into,
                identifiers: split.moved.sorted_identifiers(),
                moved_events: split.moved.event_count,
            },
            vec![from, into],
        );
        let mut origins: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for filed in &split.moved_events {
            origins
                .entry(filed.cluster)
                .or_default()
                .push(filed.event.seq);
        }
        let undo = UndoData::SplitFrom {
            staying: split.staying.sorted_identifiers(),
            origins: origins.into_iter().collect(),
        };
        put_journal(&mut writes.batch, &entry, &undo);
        self.commit(writes, &mut counters, next, &entry.profiles)?;
        Ok(OpOutcome { entry })
    }

    fn undo(&self, op: u64, reason: &str) -> anyhow::Result<OpOutcome> {
        require_reason(reason)?;
        let mut counters = self.lock_writer()?;
        let mut next = *counters;
        let mut original: JournalEntry = self
            .get(&keys::journal(op))?
            .with_context(|| format!("no journal entry #{op} in space {}", self.name))?;
        if let Some(by) = original.undone_by {
            bail!("#{op} was already undone by #{by}");
        }
        let undo_data: UndoData = self.get(&keys::undo(op))?.unwrap_or(UndoData::None);
        let undo_op = next.next_op;
        next.next_op += 1;
        let mut writes = Writes::default();
        let mut audience_work = Touched::default();
        let touched = match (&original.action, undo_data) {
            (
                JournalAction::Merge { .. } | JournalAction::AutoMerge { .. },
                data @ (UndoData::Merge { .. }
                | UndoData::MergeOf { .. }
                | UndoData::MergeBefore { .. }
                | UndoData::MergeCounted { .. }),
            ) => {
                let merge = data.merge_undo().unwrap_or_default();
                let pin_op =
                    matches!(original.action, JournalAction::AutoMerge { .. }).then_some(undo_op);
                self.undo_merge(&mut writes, &mut next, &merge, pin_op, &mut audience_work)?
            }
            (
                JournalAction::Split {
                    from,
                    into,
                    identifiers,
                    ..
                },
                data @ (UndoData::Split { .. } | UndoData::SplitFrom { .. }),
            ) => {
                let (staying, origins) = data.split_undo().unwrap_or_default();
                self.undo_split(
                    &mut writes,
                    &mut next,
                    op,
                    (*from, *into),
                    (identifiers, &staying),
                    &origins,
                    &mut audience_work,
                )?
            }
            (JournalAction::Undo { .. }, _) => {
                bail!("#{op} is itself an undo; it cannot be undone")
            }
            _ => bail!("#{op} has no undo data"),
        };
        self.put_touched(&mut writes.batch, audience_work)?;
        original.undone_by = Some(undo_op);
        writes.batch.insert(keys::journal(op), encode(&original));
        let entry = self.journal_entry(undo_op, reason, JournalAction::Undo { op }, touched);
        put_journal(&mut writes.batch, &entry, &UndoData::None);
        self.commit(writes, &mut counters, next, &entry.profiles)?;
        Ok(OpOutcome { entry })
    }
}

/// Marks both sides of a split with a pin so later events do not silently re-merge them.
fn pin(split: &mut SplitResult, op: u64) {
    for held in &mut split.staying.identifiers {
        held.pins.push(PinMark { op, side: 0 });
    }
    for held in &mut split.moved.identifiers {
        held.pins.push(PinMark { op, side: 1 });
    }
}

impl SpaceStore {
    /// Splits each absorbed profile's identifiers, and the events filed under its clusters,
    /// back out, under its old id when free.
    fn undo_merge(
        &self,
        writes: &mut Writes,
        next: &mut Counters,
        merge: &MergeUndo,
        pin_op: Option<u64>,
        audience_work: &mut Touched,
    ) -> anyhow::Result<Vec<ProfileId>> {
        let mut touched = Vec::new();
        let mut current: Option<Profile> = None;
        let mut moved_seqs = BTreeSet::new();
        for (index, absorbed) in merge.absorbed.iter().enumerate() {
            let Absorbed {
                profile: old_id,
                identifiers: ids,
                clusters,
            } = absorbed;
            let Some(first) = ids.first() else { continue };
            // The profile holding what was absorbed now: through any identifier still held
            // (a sign-out may have released some since).
            let mut holder = None;
            for id in ids {
                holder = self.load_owner(id)?;
                if holder.is_some() {
                    break;
                }
            }
            let holder = holder.with_context(|| {
                format!(
                    "{first} and the other identifiers p{} brought are no longer in any profile",
                    old_id.0
                )
            })?;
            let profile = match current.take() {
                Some(p) if p.id == holder => p,
                _ => self.require_profile(holder)?,
            };
            let moving: Vec<Identifier> = ids.iter().filter(|i| profile.has(i)).cloned().collect();
            let into = if self.load_profile(*old_id)?.is_none() && *old_id != holder {
                *old_id
            } else {
                let id = ProfileId(next.next_profile);
                next.next_profile += 1;
                id
            };
            let mut split = self.split_in_memory(
                &profile,
                &moving,
                into,
                &moved_seqs,
                MergedPart {
                    clusters,
                    first_later_seq: merge.first_later_seq,
                },
            )?;
            moved_seqs.extend(split.moved_events.iter().map(|f| f.event.seq));
            if let Some(op) = pin_op {
                pin(&mut split, op);
            }
            split.moved.merge_count = merge.merge_counts.get(index).copied().unwrap_or(0);
            split.staying.merge_count = split
                .staying
                .merge_count
                .saturating_sub(1 + split.moved.merge_count);
            self.put_split(writes, next, &split)?;
            split.touch(audience_work);
            next.profiles += 1;
            touched.push(split.moved.id);
            if !touched.contains(&split.staying.id) {
                touched.insert(0, split.staying.id);
            }
            current = Some(split.staying);
        }
        Ok(touched)
    }

    /// Merges the split-out identifiers back into the profile they left, removing the pin,
    /// and files the events the split moved back under the clusters they came from
    /// (`origins`: cluster, seqs), so the profile is filed as before the split (an earlier
    /// merge's undo finds the events it absorbed where it left them). `sides` are the
    /// (from, into) profiles of the split, `ids` its (moved, staying) identifiers.
    #[allow(clippy::too_many_arguments)]
    fn undo_split(
        &self,
        writes: &mut Writes,
        next: &mut Counters,
        op: u64,
        sides: (ProfileId, ProfileId),
        ids: (&[Identifier], &[Identifier]),
        origins: &Origins,
        audience_work: &mut Touched,
    ) -> anyhow::Result<Vec<ProfileId>> {
        let ((from, into), (moved, staying)) = (sides, ids);
        let owner = |ids: &[Identifier], fallback: ProfileId| -> anyhow::Result<ProfileId> {
            for id in ids {
                if let Some(p) = self.load_owner(id)? {
                    return Ok(p);
                }
            }
            Ok(fallback)
        };
        let survivor_id = owner(staying, from)?;
        let absorbed_id = owner(moved, into)?;
        if survivor_id == absorbed_id {
            bail!("the two sides of split #{op} are already in one profile ({survivor_id})");
        }
        let survivor = self.require_profile(survivor_id)?;
        let absorbed = self.require_profile(absorbed_id)?;
        let mut result = survivor.clone();
        result.absorb(absorbed.clone());
        result.merge_count = survivor.merge_count + absorbed.merge_count;
        for held in &mut result.identifiers {
            held.pins.retain(|p| p.op != op);
        }
        let emptied = self.put_filed_back(&mut writes.batch, into.0, origins, &result.clusters)?;
        if emptied {
            result.clusters.retain(|c| *c != into.0);
        }
        SpaceStore::put_merge(writes, &survivor, &absorbed, &result);
        if emptied {
            writes.batch.remove(keys::cluster(into.0));
        }
        audience_work.update(result.clone(), self.profile_events(&result)?);
        audience_work.remove(absorbed_id);
        next.profiles = next.profiles.saturating_sub(1);
        Ok(vec![survivor_id, absorbed_id])
    }

    /// Files the events of `cluster` that `origins` lists (cluster, seqs) back under their
    /// cluster of origin, when the profile still has it (`clusters`). Says whether that
    /// emptied `cluster`.
    fn put_filed_back(
        &self,
        batch: &mut sled::Batch,
        cluster: u64,
        origins: &Origins,
        clusters: &[u64],
    ) -> anyhow::Result<bool> {
        let back: HashMap<u64, u64> = origins
            .iter()
            .filter(|(origin, _)| *origin != cluster && clusters.contains(origin))
            .flat_map(|(origin, seqs)| seqs.iter().map(|seq| (*seq, *origin)))
            .collect();
        if back.is_empty() || !clusters.contains(&cluster) {
            return Ok(false);
        }
        let filed = self.filed_in(cluster)?;
        let moves: Vec<(&Filed, u64)> = filed
            .iter()
            .filter_map(|f| back.get(&f.event.seq).map(|origin| (f, *origin)))
            .collect();
        self.put_refiled(batch, &moves)?;
        Ok(!moves.is_empty() && moves.len() == filed.len())
    }

    /// The profile holding an identifier, or the profile named by `p<N>`.
    pub fn find_profile(&self, reference: &str) -> anyhow::Result<Profile> {
        if let Ok(id) = reference.parse::<ProfileId>() {
            if let Some(profile) = self.profile(id)? {
                return Ok(profile);
            }
            let merge = self
                .journal_for(id)?
                .into_iter()
                .rev()
                .filter(|entry| entry.undone_by.is_none())
                .find_map(|entry| match &entry.action {
                    JournalAction::AutoMerge {
                        survivor, absorbed, ..
                    } if absorbed.contains(&id) => Some((*survivor, entry.op)),
                    JournalAction::Merge {
                        survivor, absorbed, ..
                    } if *absorbed == id => Some((*survivor, entry.op)),
                    _ => None,
                });
            match merge {
                Some((survivor, op)) => bail!(
                    "no profile {id} in space {} (merged into {survivor} by #{op})",
                    self.name
                ),
                None => bail!("no profile {id} in space {}", self.name),
            }
        }
        let id = Identifier::parse(reference)?;
        let owner = self
            .owner(&id)?
            .with_context(|| format!("no profile holds {id} in space {}", self.name))?;
        self.profile(owner)?.with_context(|| {
            format!("{id} points at missing profile {owner}; run idgraph check --repair")
        })
    }
}
