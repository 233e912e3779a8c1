//! One space's tree, its counters and the gate that keeps readers from seeing half a batch.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;

use anyhow::Context;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::audience::AudienceSet;
use crate::config::Rules;
use crate::model::{Profile, ProfileId};
use crate::query::{ChangeLog, Changes};
use crate::resolve::WorkingGraph;

use super::codec::{decode, encode};
use super::event_codec::EventCodec;
use super::keys;
use super::messages::MessageSet;
use super::owner_filter::OwnerFilter;
use super::owners;
use super::relevant_events::RelevantEvents;

/// Counters of a space, written with every batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Counters {
    pub next_seq: u64,
    pub next_profile: u64,
    pub next_link: u64,
    pub next_op: u64,
    pub profiles: u64,
    pub events: u64,
}

impl Counters {
    /// The counters of a space that holds nothing yet.
    pub(super) fn initial() -> Counters {
        Counters {
            next_seq: 1,
            next_profile: 1,
            next_link: 1,
            next_op: 1,
            ..Counters::default()
        }
    }
}

const COUNTERS: &str = "counters";

/// The meta record holding a random value every batch writes anew: with the counters, it
/// stamps the state of the space (see [`SpaceStore::write_stamp`]).
const WRITTEN: &str = "written";

/// The meta record naming the layout of a space's events.
const LAYOUT: &str = "layout";

/// The layout this build writes and reads: events in bundles per cluster and batch,
/// messageIds in a hashed list per batch (layout 1 had a record of each per event), owners
/// in buckets (layout 2 had a record per identifier).
const LAYOUT_VERSION: u8 = 3;

/// The layout whose owner records this build moves into buckets when it opens the space.
const LAYOUT_OWNER_RECORDS: u8 = 2;

/// Brings a space laid out as an earlier build wrote it to this build's layout where it
/// can (owners of layout 2 move into buckets), and refuses it where it cannot.
pub(super) fn prepare_layout(name: &str, tree: &sled::Tree) -> anyhow::Result<()> {
    match tree.get(keys::meta(LAYOUT))? {
        Some(value) if value.as_ref() == [LAYOUT_VERSION] => {
            // What a move into buckets cut short left behind.
            owners::remove_unbucketed_owners(tree)
        }
        Some(value) if value.as_ref() == [LAYOUT_OWNER_RECORDS] => {
            tracing::info!(space = name, "moving identifier owners into buckets");
            owners::move_owners_into_buckets(tree, |batch| {
                batch.insert(keys::meta(LAYOUT), &[LAYOUT_VERSION][..]);
            })?;
            owners::remove_unbucketed_owners(tree)
        }
        Some(value) => anyhow::bail!(
            "space {name} was written by a newer idgraph (layout {}); use that build, or its `idgraph backup` and this build's `idgraph restore`",
            value.first().copied().unwrap_or_default()
        ),
        None if tree.scan_prefix([keys::tag::TIMELINE]).next().is_some()
            || tree.scan_prefix([keys::tag::MESSAGE]).next().is_some() =>
        {
            anyhow::bail!(
                "space {name} keeps one record per event, as idgraph builds before event bundles did; make a backup with that build (`idgraph backup FILE`) and `idgraph restore FILE` it into a new store with this one"
            )
        }
        None => Ok(()),
    }
}

/// A pipelined ingest between two groups: the previous group's write, still running, and
/// the working graph it left (its changes, which the store may not hold yet).
#[derive(Default)]
pub(super) struct Pipeline {
    pub writing: Option<JoinHandle<anyhow::Result<()>>>,
    pub graph: Option<WorkingGraph>,
}

/// The owner filter of a space as its tree is now.
fn owner_filter_of(tree: &sled::Tree) -> OwnerFilter {
    // A tree that cannot be read is taken as holding owners: the filter then never answers.
    OwnerFilter::new(tree.scan_prefix([keys::tag::OWNERS]).next().is_some())
}

/// One space: an isolated identity graph in its own sled tree.
pub struct SpaceStore {
    pub(super) name: String,
    pub(super) tree: sled::Tree,
    pub(super) rules: Rules,
    /// The audiences whose membership this space keeps current.
    pub(super) audiences: Arc<AudienceSet>,
    /// How events are stored (compressed once the space has a dictionary).
    pub(super) events: EventCodec,
    gate: RwLock<()>,
    writer: Mutex<Counters>,
    /// The messageIds the space holds, read on the first batch (taken with the writer lock).
    messages: Mutex<Option<MessageSet>>,
    /// A pipelined ingest's group still being written (taken with the writer lock).
    pipeline: Mutex<Pipeline>,
    /// The change feed; its own lock, so polling never waits for a batch being resolved.
    changes: Mutex<ChangeLog>,
    /// Which identifiers may have an owner record (see [`SpaceStore::put_owners`]).
    owners: Mutex<OwnerFilter>,
    /// The events audiences look at, of the clusters the writer evaluated lately.
    pub(super) relevant: RelevantEvents,
    /// Where the space's search index is kept between runs (none for a check's store).
    pub(super) index_file: Option<PathBuf>,
}

impl SpaceStore {
    pub(super) fn open(
        name: &str,
        tree: sled::Tree,
        rules: Rules,
        audiences: Arc<AudienceSet>,
    ) -> anyhow::Result<SpaceStore> {
        prepare_layout(name, &tree)?;
        let counters = match tree.get(keys::meta(COUNTERS))? {
            Some(bytes) => decode(&bytes).with_context(|| format!("space {name}: counters"))?,
            None => Counters::initial(),
        };
        let events =
            EventCodec::load(&tree).with_context(|| format!("space {name}: event dictionary"))?;
        let owners = Mutex::new(owner_filter_of(&tree));
        let relevant = RelevantEvents::new(audiences.reads_event_json());
        Ok(SpaceStore {
            name: name.to_string(),
            tree,
            rules,
            audiences,
            events,
            gate: RwLock::new(()),
            writer: Mutex::new(counters),
            messages: Mutex::new(None),
            pipeline: Mutex::new(Pipeline::default()),
            changes: Mutex::new(ChangeLog::new(counters.events)),
            owners,
            relevant,
            index_file: None,
        })
    }

    /// Opens a space for `idgraph check`: counters that do not decode are reported by the
    /// check and rebuilt by repair, so here they start from their initial values.
    pub(super) fn open_for_check(
        name: &str,
        tree: sled::Tree,
        rules: Rules,
        audiences: Arc<AudienceSet>,
    ) -> SpaceStore {
        match SpaceStore::open(name, tree.clone(), rules.clone(), audiences.clone()) {
            Ok(space) => space,
            Err(_) => SpaceStore {
                relevant: RelevantEvents::new(audiences.reads_event_json()),
                name: name.to_string(),
                owners: Mutex::new(owner_filter_of(&tree)),
                events: EventCodec::load(&tree).unwrap_or_else(|_| EventCodec::empty()),
                tree,
                rules,
                audiences,
                gate: RwLock::new(()),
                writer: Mutex::new(Counters::initial()),
                messages: Mutex::new(None),
                pipeline: Mutex::new(Pipeline::default()),
                changes: Mutex::new(ChangeLog::new(0)),
                index_file: None,
            },
        }
    }

    /// A stamp of the space's state as applied so far: it changes with every batch written
    /// (ingest, merge, split, undo, repair), also by builds that wrote no [`WRITTEN`] record
    /// (their counters move), and differs between two stores that happen to hold as much.
    pub(super) fn write_stamp(&self) -> anyhow::Result<u64> {
        let mut hash = xxhash_rust::xxh3::Xxh3::new();
        for name in [COUNTERS, WRITTEN] {
            let value = self.tree.get(keys::meta(name))?;
            hash.update(&[u8::from(value.is_some())]);
            hash.update(value.as_deref().unwrap_or_default());
        }
        Ok(hash.digest())
    }

    /// The space's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The resolution rules of this space.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The audiences whose membership this space keeps.
    pub fn audiences(&self) -> &AudienceSet {
        &self.audiences
    }

    /// Number of stored events.
    pub fn event_count(&self) -> u64 {
        self.counters().map(|c| c.events).unwrap_or(0)
    }

    /// The counters as the writer has them (a pipelined group being written included).
    pub(super) fn counters(&self) -> anyhow::Result<Counters> {
        Ok(*self.lock_writer_only()?)
    }

    /// Takes the writer lock (one writer at a time per space), once a pipelined ingest's
    /// last group is written: the store then holds everything the writer knows.
    pub(super) fn lock_writer(&self) -> anyhow::Result<MutexGuard<'_, Counters>> {
        let mut counters = self.lock_writer_only()?;
        let mut pipeline = self.lock_pipeline();
        pipeline.graph = None;
        self.join_writing(&mut pipeline, &mut counters)?;
        Ok(counters)
    }

    /// Takes the writer lock as it is.
    pub(super) fn lock_writer_only(&self) -> anyhow::Result<MutexGuard<'_, Counters>> {
        self.writer
            .lock()
            .map_err(|_| anyhow::anyhow!("space {}: writer lock poisoned", self.name))
    }

    /// The pipelined ingest's state; take it after the writer lock.
    pub(super) fn lock_pipeline(&self) -> MutexGuard<'_, Pipeline> {
        self.pipeline.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for the group a pipelined ingest is writing. When that write failed, the
    /// writer's state (counters, messageIds, carried graph) ran ahead of the store: it is
    /// read back from the store and the error returned.
    pub(super) fn join_writing(
        &self,
        pipeline: &mut Pipeline,
        counters: &mut Counters,
    ) -> anyhow::Result<()> {
        let Some(writing) = pipeline.writing.take() else {
            return Ok(());
        };
        let result = writing
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the store writer thread panicked")));
        if let Err(error) = result {
            pipeline.graph = None;
            self.forget_messages();
            *counters = match self.tree.get(keys::meta(COUNTERS))? {
                Some(bytes) => decode(&bytes)?,
                None => Counters::initial(),
            };
            return Err(error.context(format!("space {}: writing a batch", self.name)));
        }
        Ok(())
    }

    /// Waits until everything ingested is written (see [`SpaceStore::ingest_pipelined`]).
    /// Takes the writer lock only when a write is running, so a flusher never waits for a
    /// group being resolved.
    pub fn settle(&self) -> anyhow::Result<()> {
        if self.lock_pipeline().writing.is_none() {
            return Ok(());
        }
        self.lock_writer().map(|_| ())
    }

    /// The space's messageIds, read from the store on first use; `None` after
    /// [`SpaceStore::forget_messages`] until used again. Call with the writer lock held, and
    /// its `counters`.
    pub(super) fn message_set(
        &self,
        counters: &Counters,
    ) -> anyhow::Result<MutexGuard<'_, Option<MessageSet>>> {
        let mut set = self
            .messages
            .lock()
            .map_err(|_| anyhow::anyhow!("space {}: messageId set lock poisoned", self.name))?;
        if set.is_none() {
            *set = Some(
                MessageSet::load(&self.tree, counters.events)
                    .with_context(|| format!("space {}", self.name))?,
            );
        }
        Ok(set)
    }

    /// Drops the in-memory messageId set after its records were rewritten.
    pub(super) fn forget_messages(&self) {
        *self.messages.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Records an applied batch in the change feed: `touched` profiles that still exist
    /// count as changed, the others as removed. Call after the batch is applied, with the
    /// writer lock held (so batches are recorded in the order they were applied) and the
    /// write gate still held (so a reader never sees a batch before its changes are listed).
    pub(super) fn record_touched(&self, touched: impl IntoIterator<Item = ProfileId>, events: u64) {
        let (changed, removed): (Vec<ProfileId>, Vec<ProfileId>) = touched
            .into_iter()
            .partition(|id| self.tree.contains_key(keys::profile(*id)).unwrap_or(true));
        self.record_changes(changed, removed, events);
    }

    /// Records an applied batch in the change feed, with what it changed and removed (see
    /// [`SpaceStore::record_touched`]).
    pub(super) fn record_changes(
        &self,
        changed: Vec<ProfileId>,
        removed: Vec<ProfileId>,
        events: u64,
    ) {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(changed, removed, events);
    }

    /// What changed after `version` of the change feed.
    pub(super) fn changes_after(&self, version: u64) -> Changes {
        self.changes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .since(version)
    }

    /// Readers hold this while reading so they never see half a batch.
    pub(super) fn read_gate(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Writers hold this while applying a batch.
    pub(super) fn write_gate(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds the counters to a batch.
    pub(super) fn put_counters(batch: &mut sled::Batch, counters: &Counters) {
        batch.insert(keys::meta(COUNTERS), encode(counters));
        batch.insert(
            keys::meta(WRITTEN),
            &rand::random::<u64>().to_le_bytes()[..],
        );
        batch.insert(keys::meta(LAYOUT), &[LAYOUT_VERSION][..]);
    }

    /// Reads and decodes one record.
    pub(super) fn get<T: DeserializeOwned>(&self, key: &[u8]) -> anyhow::Result<Option<T>> {
        match self.tree.get(key)? {
            Some(bytes) => Ok(Some(decode(&bytes).with_context(|| {
                format!(
                    "space {}: record {}",
                    self.name,
                    String::from_utf8_lossy(&key[..1])
                )
            })?)),
            None => Ok(None),
        }
    }

    /// The stored profile with this id.
    pub(super) fn load_profile(&self, id: ProfileId) -> anyhow::Result<Option<Profile>> {
        self.get(&keys::profile(id))
    }

    /// The filter of identifiers the space may hold owners for (see
    /// [`SpaceStore::put_owners`]).
    pub(super) fn owner_filter(&self) -> MutexGuard<'_, OwnerFilter> {
        self.owners.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Identifier;

    #[test]
    fn spaces_of_another_layout_are_refused_with_the_way_out() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sled::open(dir.path()).unwrap().open_tree("t").unwrap();
        assert!(prepare_layout("s", &tree).is_ok(), "an empty space is new");
        let mut per_event_key = keys::timeline(1, 2);
        per_event_key.extend_from_slice(&3_u64.to_be_bytes());
        tree.insert(per_event_key, &[1u8][..]).unwrap();
        let error = prepare_layout("s", &tree).unwrap_err().to_string();
        assert!(error.contains("one record per event"), "{error}");
        assert!(error.contains("idgraph restore"), "{error}");
        let mut batch = sled::Batch::default();
        SpaceStore::put_counters(&mut batch, &Counters::default());
        tree.apply_batch(batch).unwrap();
        assert!(prepare_layout("s", &tree).is_ok());
        tree.insert(keys::meta(LAYOUT), &[LAYOUT_VERSION + 1][..])
            .unwrap();
        let error = prepare_layout("s", &tree).unwrap_err().to_string();
        assert!(error.contains("newer idgraph (layout 4)"), "{error}");
    }

    /// Layout 2 owner records (an unreadable one with owner 0).
    fn owner_records(tree: &sled::Tree) -> Vec<(Vec<u8>, u64)> {
        tree.scan_prefix([keys::tag::IDENTIFIER])
            .map(|item| {
                let (key, value) = item.unwrap();
                (key[1..].to_vec(), keys::u64_at(&value, 0).unwrap_or(0))
            })
            .collect()
    }

    fn bucketed_owners(tree: &sled::Tree) -> Vec<(Vec<u8>, u64)> {
        let mut all: Vec<(Vec<u8>, u64)> = owners::scan_buckets(tree)
            .flat_map(|item| item.unwrap().1.unwrap())
            .map(|(id, owner)| (keys::identifier_entry(&id), owner))
            .collect();
        all.sort();
        all
    }

    #[test]
    fn owners_of_layout_2_move_into_buckets_once() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sled::open(dir.path()).unwrap().open_tree("t").unwrap();
        let mut batch = sled::Batch::default();
        for n in 0..25_000_u64 {
            let id = Identifier::new(
                if n % 2 == 0 { "email" } else { "user_id" },
                format!("v{n}"),
            );
            let mut key = vec![keys::tag::IDENTIFIER];
            key.extend_from_slice(&keys::identifier_entry(&id));
            batch.insert(key, &(n / 3).to_be_bytes()[..]);
        }
        batch.insert(vec![keys::tag::IDENTIFIER, 0], &b"x"[..]);
        batch.insert(keys::meta(LAYOUT), &[LAYOUT_OWNER_RECORDS][..]);
        tree.apply_batch(batch).unwrap();
        let mut before = owner_records(&tree);
        before.retain(|(entry, _)| entry.len() > 1);
        before.sort();

        prepare_layout("s", &tree).unwrap();
        assert_eq!(bucketed_owners(&tree), before);
        assert!(owner_records(&tree).is_empty());
        assert_eq!(
            tree.get(keys::meta(LAYOUT)).unwrap().unwrap().as_ref(),
            [LAYOUT_VERSION]
        );
        let buckets = tree.scan_prefix([keys::tag::OWNERS]).count();
        assert!((20_000..25_000).contains(&buckets), "{buckets} buckets");

        // A move cut short after the layout switched leaves owner records behind: the
        // next open removes them, and the buckets stay as they are.
        tree.insert(
            [keys::tag::IDENTIFIER, 0, 1, b'x', b'y'],
            &7_u64.to_be_bytes()[..],
        )
        .unwrap();
        prepare_layout("s", &tree).unwrap();
        assert!(owner_records(&tree).is_empty());
        assert_eq!(bucketed_owners(&tree), before);
    }
}
