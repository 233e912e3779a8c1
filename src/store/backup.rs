//! Portable backups: a versioned JSON-lines file from which a store can be rebuilt after sled
//! trouble or a change of format.
//!
//! The first line is a header:
//! `{"format":"idgraph-backup","format_version":1,"idgraph_version":"…","created_at":"…",
//! "spaces":[{"name":"default","events":N,"journal":M,"profiles":P}]}`.
//! Then, space by space, in the order they happened:
//! - one line per stored event, in ingest order:
//!   `{"space","seq","source","channel","time","event":{…the original JSON…}}`;
//! - one line per journal entry: `{"space","position","journal":{…the entry…}}`, where
//!   `position` is the number of events stored before it happened.
//!
//! Restore replays the events through resolution in their original order (so profile ids,
//! merges, violations and links come out as they were) and re-applies the manual merges,
//! splits and undos at their positions; automatic merges are re-made by resolution. Each
//! restored journal entry then gets its original time and user back.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ingest::SourcedEvent;
use crate::model::time::{format_time, now};
use crate::model::{Event, JournalAction, JournalEntry, StoredEvent};
use crate::query::{GraphRead, GraphRepair};

use super::Store;
use super::codec::{decode, encode};
use super::keys::{self, tag};
use super::space::{Counters, SpaceStore};

/// The `format` of the header line.
pub const BACKUP_FORMAT: &str = "idgraph-backup";

/// The backup format version this build writes and reads.
pub const BACKUP_VERSION: u32 = 1;

/// Events replayed per resolution batch during a restore.
const RESTORE_BATCH: usize = 4096;

/// The meta record prefix holding, per journal op, how many events were stored before it.
const OP_POSITION: &str = "op-position:";

/// Records, with a manual operation's batch, how many events were stored before it (the
/// op is the last one `next` allocated), so a restore re-applies it at the same point.
pub(super) fn put_op_position(batch: &mut sled::Batch, next: &Counters) {
    let op = next.next_op.saturating_sub(1);
    batch.insert(op_position_key(op), &next.next_seq.to_be_bytes()[..]);
}

fn op_position_key(op: u64) -> Vec<u8> {
    let mut key = keys::meta(OP_POSITION);
    key.extend_from_slice(&op.to_be_bytes());
    key
}

/// The header line of a backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHeader {
    /// Always [`BACKUP_FORMAT`].
    pub format: String,
    /// The backup format version ([`BACKUP_VERSION`] when written by this build).
    pub format_version: u32,
    /// The idgraph version that wrote it.
    pub idgraph_version: String,
    /// When it was written (RFC 3339).
    pub created_at: String,
    /// The spaces it holds, in the order they follow.
    pub spaces: Vec<SpaceSummary>,
}

/// What a backup holds of one space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpaceSummary {
    /// The space name.
    pub name: String,
    /// Events stored in it.
    pub events: u64,
    /// Journal entries.
    pub journal: u64,
    /// Profiles when the backup was written (for comparison after a restore).
    pub profiles: u64,
}

/// One event line.
#[derive(Debug, Serialize, Deserialize)]
struct EventLine {
    space: String,
    seq: u64,
    source: String,
    channel: String,
    time: i64,
    event: Value,
}

/// One journal line.
#[derive(Debug, Serialize, Deserialize)]
struct JournalLine {
    space: String,
    position: u64,
    journal: JournalEntry,
}

/// A line after the header.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Line {
    Event(EventLine),
    Journal(JournalLine),
}

/// What a restore did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RestoreSummary {
    /// Events stored again.
    pub events: u64,
    /// Manual operations re-applied.
    pub manual_ops: u64,
    /// Journal entries whose original time and user were restored.
    pub journal: u64,
    /// Lines or operations that could not be restored, one message each.
    pub errors: Vec<String>,
}

impl Store {
    /// Writes a backup of every stored space to `out`; returns its header.
    pub fn backup(&self, out: &mut dyn Write) -> anyhow::Result<BackupHeader> {
        let names = self.stored_space_names();
        let mut plans = Vec::new();
        for name in &names {
            let space = self.space(name)?;
            plans.push(space.backup_plan()?);
        }
        let header = BackupHeader {
            format: BACKUP_FORMAT.to_string(),
            format_version: BACKUP_VERSION,
            idgraph_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: format_time(now()),
            spaces: plans.iter().map(|p| p.summary.clone()).collect(),
        };
        writeln!(out, "{}", serde_json::to_string(&header)?)?;
        for (name, plan) in names.iter().zip(plans) {
            self.space(name)?.write_backup(plan, out)?;
        }
        out.flush()?;
        Ok(header)
    }

    /// Rebuilds an empty store from a backup read from `input`.
    pub fn restore(&self, input: &mut dyn BufRead) -> anyhow::Result<RestoreSummary> {
        let mut lines = input.lines();
        let first = lines.next().context("the backup is empty")??;
        let header: BackupHeader = serde_json::from_str(&first)
            .ok()
            .filter(|h: &BackupHeader| h.format == BACKUP_FORMAT)
            .context("not an idgraph backup: the first line is no backup header")?;
        if header.format_version > BACKUP_VERSION {
            bail!(
                "the backup has format version {} (written by idgraph {}); this build reads version {BACKUP_VERSION}",
                header.format_version,
                header.idgraph_version
            );
        }
        for space in &header.spaces {
            if self.stored_space_names().contains(&space.name) {
                let store = self.space(&space.name)?;
                if store.event_count() > 0 || !store.journal()?.is_empty() {
                    bail!(
                        "restore needs an empty store: space {} already holds {} events",
                        space.name,
                        store.event_count()
                    );
                }
            }
        }
        let mut summary = RestoreSummary::default();
        let mut pending: BTreeMap<String, Vec<SourcedEvent>> = BTreeMap::new();
        let mut originals: Vec<(String, JournalEntry)> = Vec::new();
        for (index, line) in lines.enumerate() {
            let number = index + 2;
            let line = line.with_context(|| format!("reading backup line {number}"))?;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Line>(&line) {
                Ok(Line::Event(e)) => {
                    let space = e.space.clone();
                    match sourced(e) {
                        Ok(event) => {
                            let batch = pending.entry(space.clone()).or_default();
                            batch.push(event);
                            if batch.len() >= RESTORE_BATCH {
                                let events = std::mem::take(batch);
                                self.replay(&space, &events, &mut summary)?;
                            }
                        }
                        Err(message) => summary.errors.push(format!("line {number}: {message}")),
                    }
                }
                Ok(Line::Journal(j)) => {
                    if is_manual(&j.journal.action) {
                        if let Some(events) = pending.get_mut(&j.space) {
                            let events = std::mem::take(events);
                            self.replay(&j.space, &events, &mut summary)?;
                        }
                        match self.space(&j.space)?.reapply(&j.journal) {
                            Ok(()) => summary.manual_ops += 1,
                            Err(e) => summary.errors.push(format!(
                                "line {number}: journal #{} ({}) could not be re-applied: {e:#}",
                                j.journal.op,
                                j.journal.summary()
                            )),
                        }
                    }
                    originals.push((j.space, j.journal));
                }
                Err(e) => summary
                    .errors
                    .push(format!("line {number}: not a backup line: {e}")),
            }
        }
        for (space, events) in std::mem::take(&mut pending) {
            self.replay(&space, &events, &mut summary)?;
        }
        for (space, original) in &originals {
            match self.space(space)?.restore_journal_entry(original)? {
                true => summary.journal += 1,
                false => summary.errors.push(format!(
                    "space {space}: journal #{} ({}) did not come out the same after replay",
                    original.op,
                    original.summary()
                )),
            }
        }
        self.flush()?;
        Ok(summary)
    }

    fn replay(
        &self,
        space: &str,
        events: &[SourcedEvent],
        summary: &mut RestoreSummary,
    ) -> anyhow::Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        let outcome = self.space(space)?.ingest(events, now())?;
        summary.events += outcome.stored as u64;
        for (index, reason) in outcome.unresolvable {
            summary.errors.push(format!(
                "space {space}: event {} is no longer resolvable: {reason}",
                events[index].event.message_id
            ));
        }
        Ok(())
    }
}

fn is_manual(action: &JournalAction) -> bool {
    !matches!(action, JournalAction::AutoMerge { .. })
}

/// The event of a backup line, ready for resolution.
fn sourced(line: EventLine) -> Result<SourcedEvent, String> {
    let mut event = Event::from_json(line.event)
        .map_err(|e| format!("event seq {} does not read back: {e}", line.seq))?;
    if event.time().is_none() {
        event.set_received_at(line.time);
    }
    Ok(SourcedEvent {
        event,
        source: line.source,
        channel: line.channel,
    })
}

/// What to write of one space, in order.
struct BackupPlan {
    summary: SpaceSummary,
    /// Every event's seq with the bundle (an index into `bundles`) holding it, by seq.
    events: Vec<(u64, usize)>,
    /// Keys of the event bundles.
    bundles: Vec<Vec<u8>>,
    /// Journal entries with their positions, in op order.
    journal: Vec<(u64, JournalEntry)>,
}

impl SpaceStore {
    fn backup_plan(&self) -> anyhow::Result<BackupPlan> {
        let _gate = self.read_gate();
        let mut entries: Vec<JournalEntry> = Vec::new();
        for item in self.tree.scan_prefix([tag::JOURNAL]) {
            let (_, value) = item?;
            entries.push(
                decode(&value).with_context(|| format!("space {}: journal entry", self.name))?,
            );
        }
        // The event that made each automatic merge: its seq is the merge's position.
        let mut merge_seqs: HashMap<&str, u64> = entries
            .iter()
            .filter_map(|entry| match &entry.action {
                JournalAction::AutoMerge { message_id, .. } => Some((message_id.as_str(), 0)),
                _ => None,
            })
            .collect();
        let mut events: Vec<(u64, usize)> = Vec::new();
        let mut bundles = Vec::new();
        for item in self.tree.scan_prefix([tag::TIMELINE]) {
            let (key, value) = item?;
            let held = self
                .events
                .decode_bundle(&value)
                .with_context(|| format!("space {}: event bundle", self.name))?;
            for event in held {
                if let Some(seq) = merge_seqs.get_mut(event.message_id.as_str()) {
                    *seq = event.seq;
                }
                events.push((event.seq, bundles.len()));
            }
            bundles.push(key.to_vec());
        }
        events.sort_unstable();
        let mut journal = Vec::new();
        let mut position = 0_u64;
        for entry in &entries {
            position = match &entry.action {
                JournalAction::AutoMerge { message_id, .. } => merge_seqs
                    .get(message_id.as_str())
                    .map_or(position, |seq| (*seq).max(position)),
                _ => match self.tree.get(op_position_key(entry.op))? {
                    Some(bytes) => keys::u64_at(&bytes, 0)
                        .map_or(position, |next_seq| next_seq.saturating_sub(1)),
                    // Stores written before positions were recorded: right after the
                    // event of the latest automatic merge journaled before it.
                    None => position,
                },
            };
            journal.push((position, entry.clone()));
        }
        let profiles = self.profile_count()?;
        Ok(BackupPlan {
            summary: SpaceSummary {
                name: self.name.clone(),
                events: events.len() as u64,
                journal: journal.len() as u64,
                profiles,
            },
            events,
            bundles,
            journal,
        })
    }

    /// Writes the space's events and journal entries, each entry right after the last event
    /// stored before it. Bundles are decoded when their first event is due and dropped once
    /// their last is written (one batch's bundles hold neighbouring seqs).
    fn write_backup(&self, plan: BackupPlan, out: &mut dyn Write) -> anyhow::Result<()> {
        let mut journal = plan.journal.into_iter().peekable();
        let mut write_journal = |upto: u64, out: &mut dyn Write| -> anyhow::Result<()> {
            while let Some((position, entry)) = journal.next_if(|(p, _)| *p <= upto) {
                let line = JournalLine {
                    space: self.name.clone(),
                    position,
                    journal: entry,
                };
                writeln!(out, "{}", serde_json::to_string(&line)?)?;
            }
            Ok(())
        };
        write_journal(0, out)?;
        let mut open: HashMap<usize, HashMap<u64, StoredEvent>> = HashMap::new();
        for (seq, bundle) in plan.events {
            let held = match open.entry(bundle) {
                Entry::Occupied(held) => held.into_mut(),
                Entry::Vacant(slot) => {
                    let value = self.tree.get(&plan.bundles[bundle])?.with_context(|| {
                        format!(
                            "space {}: the bundle of event seq {seq} vanished",
                            self.name
                        )
                    })?;
                    let events = self
                        .events
                        .decode_bundle(&value)
                        .with_context(|| format!("space {}: event seq {seq}", self.name))?;
                    slot.insert(events.into_iter().map(|e| (e.seq, e)).collect())
                }
            };
            let stored = held
                .remove(&seq)
                .with_context(|| format!("space {}: event seq {seq} vanished", self.name))?;
            if held.is_empty() {
                open.remove(&bundle);
            }
            let event: Value = serde_json::from_str(&stored.raw_json)
                .with_context(|| format!("space {}: event seq {seq} JSON", self.name))?;
            let line = EventLine {
                space: self.name.clone(),
                seq,
                source: stored.source,
                channel: stored.channel,
                time: stored.time,
                event,
            };
            writeln!(out, "{}", serde_json::to_string(&line)?)?;
            write_journal(seq, out)?;
        }
        write_journal(u64::MAX, out)?;
        Ok(())
    }

    /// Re-applies a manual journal entry through the same repair operations a person uses.
    fn reapply(&self, entry: &JournalEntry) -> anyhow::Result<()> {
        match &entry.action {
            JournalAction::Merge {
                survivor,
                absorbed,
                overrides,
            } => self.merge(*survivor, *absorbed, &entry.reason, !overrides.is_empty())?,
            JournalAction::Split {
                from, identifiers, ..
            } => self.split(*from, identifiers, &entry.reason)?,
            JournalAction::Undo { op } => self.undo(*op, &entry.reason)?,
            JournalAction::AutoMerge { .. } => return Ok(()),
        };
        Ok(())
    }

    /// Gives the replayed journal entry with the original's op its original time and user,
    /// when it did the same thing; `false` when replay produced something else.
    fn restore_journal_entry(&self, original: &JournalEntry) -> anyhow::Result<bool> {
        let _counters = self.lock_writer()?;
        let key = keys::journal(original.op);
        let Some(bytes) = self.tree.get(&key)? else {
            return Ok(false);
        };
        let mut replayed: JournalEntry = decode(&bytes)?;
        if replayed.action != original.action || replayed.profiles != original.profiles {
            return Ok(false);
        }
        replayed.at = original.at;
        replayed.user = original.user.clone();
        replayed.reason = original.reason.clone();
        let _gate = self.write_gate();
        self.tree.insert(key, encode(&replayed))?;
        Ok(true)
    }
}
