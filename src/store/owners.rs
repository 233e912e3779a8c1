//! Identifier → owner records, kept in buckets by the identifier's hash. sled keeps a
//! page-table entry in memory for every node of at most 16 records, however small they
//! are: at about five identifiers a person, one record per identifier was half the records
//! of a space and about 120 MB of the explorer's memory at 1M profiles. With 2^18 buckets,
//! a space of 1M profiles keeps about 20 identifiers (about 1 KB) in a bucket.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Context;
use rustc_hash::FxHashMap;

use crate::model::{Identifier, ProfileId};

use super::keys::{self, tag};
use super::space::SpaceStore;

/// How many bits of an identifier's hash pick its bucket.
const BUCKET_BITS: u32 = 18;

/// The first byte of every bucket record.
const BUCKET_FORMAT: u8 = 1;

/// Buckets written per batch when a layout 2 space's owners move into buckets.
const BUCKETS_PER_BATCH: usize = 10_000;

/// Layout 2 owner records removed per batch once they are in buckets.
const REMOVALS_PER_BATCH: usize = 100_000;

/// An identifier as buckets file it: its entry bytes and their hash.
#[derive(Debug)]
pub(super) struct Hashed {
    pub hash: u64,
    pub entry: Vec<u8>,
}

impl Hashed {
    /// The entry and hash of `id`.
    pub(super) fn of(id: &Identifier) -> Hashed {
        Hashed::of_entry(keys::identifier_entry(id))
    }

    fn of_entry(entry: Vec<u8>) -> Hashed {
        Hashed {
            hash: entry_hash(&entry),
            entry,
        }
    }

    /// The bucket the identifier is filed in.
    pub(super) fn bucket(&self) -> u32 {
        bucket_of_hash(self.hash)
    }
}

/// The hash of an identifier's entry bytes.
fn entry_hash(entry: &[u8]) -> u64 {
    xxhash_rust::xxh3::xxh3_64(entry)
}

/// The bucket of an identifier hash.
pub(super) fn bucket_of_hash(hash: u64) -> u32 {
    (hash >> (64 - BUCKET_BITS)) as u32
}

/// A bucket record that does not decode.
#[derive(Debug, thiserror::Error)]
#[error("owner bucket does not decode")]
pub(super) struct MalformedBucket;

/// The identifiers of one bucket with their owners, sorted by entry.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Bucket {
    entries: Vec<(Vec<u8>, u64)>,
}

impl Bucket {
    /// Reads a bucket record.
    pub(super) fn decode(bytes: &[u8]) -> Result<Bucket, MalformedBucket> {
        let entries = walk(bytes)?
            .map(|entry| entry.map(|(id, owner)| (id.to_vec(), owner)))
            .collect::<Result<Vec<_>, _>>()?;
        if !entries.is_sorted_by(|a, b| a.0 < b.0) {
            return Err(MalformedBucket);
        }
        Ok(Bucket { entries })
    }

    /// The bucket record.
    pub(super) fn encode(&self) -> Vec<u8> {
        let size: usize = self.entries.iter().map(|(e, _)| 12 + e.len()).sum();
        let mut out = Vec::with_capacity(1 + size);
        out.push(BUCKET_FORMAT);
        for (entry, owner) in &self.entries {
            // An entry is an identifier: far shorter than 4 GB.
            out.extend_from_slice(&(entry.len() as u32).to_be_bytes());
            out.extend_from_slice(entry);
            out.extend_from_slice(&owner.to_be_bytes());
        }
        out
    }

    /// Sets (or with `None` removes) an identifier's owner.
    pub(super) fn set(&mut self, entry: Vec<u8>, owner: Option<u64>) {
        match (self.entries.binary_search_by(|(e, _)| e.cmp(&entry)), owner) {
            (Ok(at), Some(owner)) => self.entries[at].1 = owner,
            (Ok(at), None) => {
                self.entries.remove(at);
            }
            (Err(at), Some(owner)) => self.entries.insert(at, (entry, owner)),
            (Err(_), None) => {}
        }
    }

    /// The identifiers (as entries) and their owners.
    pub(super) fn entries(&self) -> impl Iterator<Item = (&[u8], u64)> {
        self.entries.iter().map(|(e, owner)| (e.as_slice(), *owner))
    }

    /// Whether the bucket holds no identifier.
    pub(super) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds the bucket to a batch (or its removal, when empty).
    fn put(&self, batch: &mut sled::Batch, bucket: u32) {
        if self.is_empty() {
            batch.remove(keys::owner_bucket(bucket));
        } else {
            batch.insert(keys::owner_bucket(bucket), self.encode());
        }
    }
}

/// The entries of a bucket record, in order, each read when reached.
fn walk(bytes: &[u8]) -> Result<impl Iterator<Item = EntryRead<'_>>, MalformedBucket> {
    let Some((&BUCKET_FORMAT, mut rest)) = bytes.split_first() else {
        return Err(MalformedBucket);
    };
    Ok(std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let entry = read_entry(rest);
        rest = match &entry {
            Ok((id, _)) => &rest[4 + id.len() + 8..],
            Err(_) => &[],
        };
        Some(entry)
    }))
}

type EntryRead<'a> = Result<(&'a [u8], u64), MalformedBucket>;

fn read_entry(bytes: &[u8]) -> EntryRead<'_> {
    let len = bytes
        .get(..4)
        .and_then(|b| b.try_into().ok())
        .map(u32::from_be_bytes)
        .ok_or(MalformedBucket)? as usize;
    let id = bytes.get(4..4 + len).ok_or(MalformedBucket)?;
    let owner = keys::u64_at(bytes, 4 + len).ok_or(MalformedBucket)?;
    Ok((id, owner))
}

/// One identifier's owner in a bucket record, read without decoding the rest.
fn find_owner(bytes: &[u8], entry: &[u8]) -> Result<Option<u64>, MalformedBucket> {
    for read in walk(bytes)? {
        let (id, owner) = read?;
        if id == entry {
            return Ok(Some(owner));
        }
    }
    Ok(None)
}

/// The owner changes of one batch, gathered so that each bucket they touch is read and
/// rewritten once.
#[derive(Debug, Default)]
pub(super) struct OwnerChanges {
    by_bucket: BTreeMap<u32, Vec<(Hashed, Option<u64>)>>,
}

impl OwnerChanges {
    /// `id` is now owned by `owner`.
    pub(super) fn set(&mut self, id: &Identifier, owner: ProfileId) {
        self.push(Hashed::of(id), Some(owner.0));
    }

    /// `id` has no owner any more.
    pub(super) fn remove(&mut self, id: &Identifier) {
        self.push(Hashed::of(id), None);
    }

    fn push(&mut self, hashed: Hashed, owner: Option<u64>) {
        self.by_bucket
            .entry(hashed.bucket())
            .or_default()
            .push((hashed, owner));
    }
}

impl SpaceStore {
    /// The stored owner of an identifier.
    pub(super) fn load_owner(&self, id: &Identifier) -> anyhow::Result<Option<ProfileId>> {
        let hashed = Hashed::of(id);
        if self.owner_filter().certainly_absent(hashed.hash) {
            return Ok(None);
        }
        let Some(bytes) = self.tree.get(keys::owner_bucket(hashed.bucket()))? else {
            return Ok(None);
        };
        let owner = find_owner(&bytes, &hashed.entry)
            .with_context(|| self.bucket_context(hashed.bucket()))?;
        Ok(owner.map(ProfileId))
    }

    /// Adds the buckets `changes` touch, as the changes leave them, to a batch. Every owner
    /// record is written through here or [`SpaceStore::put_rebuilt_owners`], so that lookups of
    /// identifiers the space certainly does not hold can skip sled.
    pub(super) fn put_owners(
        &self,
        batch: &mut sled::Batch,
        changes: OwnerChanges,
    ) -> anyhow::Result<()> {
        for (bucket, changes) in changes.by_bucket {
            let mut contents = if self.owner_filter().certainly_empty(bucket) {
                Bucket::default()
            } else {
                match self.tree.get(keys::owner_bucket(bucket))? {
                    Some(bytes) => {
                        Bucket::decode(&bytes).with_context(|| self.bucket_context(bucket))?
                    }
                    None => Bucket::default(),
                }
            };
            let mut filter = self.owner_filter();
            for (hashed, owner) in changes {
                if owner.is_some() {
                    filter.note(hashed.hash);
                }
                contents.set(hashed.entry, owner);
            }
            drop(filter);
            contents.put(batch, bucket);
        }
        Ok(())
    }

    /// Rewrites, from `owners` alone (every identifier's owner, as a repair rebuilds them),
    /// each bucket that holds one of the `changed` identifiers.
    pub(super) fn put_rebuilt_owners<'a>(
        &self,
        batch: &mut sled::Batch,
        owners: &HashMap<&Identifier, u64>,
        changed: impl IntoIterator<Item = &'a Identifier>,
    ) {
        let rewritten: BTreeSet<u32> = changed
            .into_iter()
            .map(|id| Hashed::of(id).bucket())
            .collect();
        let mut buckets: BTreeMap<u32, Bucket> =
            rewritten.iter().map(|b| (*b, Bucket::default())).collect();
        let mut filter = self.owner_filter();
        for (id, owner) in owners {
            let hashed = Hashed::of(id);
            if let Some(bucket) = buckets.get_mut(&hashed.bucket()) {
                filter.note(hashed.hash);
                bucket.set(hashed.entry, Some(*owner));
            }
        }
        drop(filter);
        for (number, bucket) in buckets {
            bucket.put(batch, number);
        }
    }

    fn bucket_context(&self, bucket: u32) -> String {
        format!(
            "space {}: owner bucket {bucket} does not decode; run idgraph check --repair",
            self.name
        )
    }
}

/// A bucket record as a check reads it: its key, and its identifiers with their owners or
/// why it is unreadable.
pub(super) type ScannedBucket = (sled::IVec, Result<Vec<(Identifier, u64)>, String>);

/// Every bucket record, for a check.
pub(super) fn scan_buckets(
    tree: &sled::Tree,
) -> impl Iterator<Item = anyhow::Result<ScannedBucket>> {
    tree.scan_prefix([tag::OWNERS]).map(|item| {
        let (key, value) = item?;
        let contents = read_bucket(&key, &value);
        Ok((key, contents))
    })
}

fn read_bucket(key: &[u8], value: &[u8]) -> Result<Vec<(Identifier, u64)>, String> {
    let number = keys::bucket_from_key(key).ok_or("malformed owner bucket key")?;
    let bucket = Bucket::decode(value).map_err(|e| e.to_string())?;
    bucket
        .entries()
        .map(|(entry, owner)| {
            let id = keys::identifier_from_entry(entry).ok_or("malformed identifier entry")?;
            if bucket_of_hash(entry_hash(entry)) != number {
                return Err(format!("{id} is filed in the wrong owner bucket"));
            }
            Ok((id, owner))
        })
        .collect()
}

/// Files a layout 2 space's owner records (one per identifier) into buckets, then applies
/// `finish` (the new layout) once every bucket is written. The old records stay until
/// [`remove_unbucketed_owners`]: a move cut short starts again from them.
pub(super) fn move_owners_into_buckets(
    tree: &sled::Tree,
    finish: impl FnOnce(&mut sled::Batch),
) -> anyhow::Result<()> {
    let mut buckets: FxHashMap<u32, Bucket> = FxHashMap::default();
    let mut unreadable = 0_u64;
    for item in tree.scan_prefix([tag::IDENTIFIER]) {
        let (key, value) = item?;
        match (key.get(1..), keys::u64_at(&value, 0)) {
            (Some(entry), Some(owner)) => {
                let hashed = Hashed::of_entry(entry.to_vec());
                buckets
                    .entry(hashed.bucket())
                    .or_default()
                    .set(hashed.entry, Some(owner));
            }
            _ => unreadable += 1,
        }
    }
    if unreadable > 0 {
        tracing::warn!(
            unreadable,
            "owner records that do not decode were left out; idgraph check --repair rebuilds them"
        );
    }
    let mut buckets: Vec<(u32, Bucket)> = buckets.into_iter().collect();
    buckets.sort_unstable_by_key(|(number, _)| *number);
    for chunk in buckets.chunks(BUCKETS_PER_BATCH) {
        let mut batch = sled::Batch::default();
        for (number, bucket) in chunk {
            bucket.put(&mut batch, *number);
        }
        tree.apply_batch(batch)?;
    }
    let mut batch = sled::Batch::default();
    finish(&mut batch);
    tree.apply_batch(batch)?;
    Ok(())
}

/// Removes the layout 2 owner records that [`move_owners_into_buckets`] left behind.
pub(super) fn remove_unbucketed_owners(tree: &sled::Tree) -> anyhow::Result<()> {
    loop {
        let mut batch = sled::Batch::default();
        let mut removed = 0;
        for item in tree.scan_prefix([tag::IDENTIFIER]).take(REMOVALS_PER_BATCH) {
            batch.remove(item?.0);
            removed += 1;
        }
        if removed == 0 {
            return Ok(());
        }
        tree.apply_batch(batch)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(kind: &str, value: &str) -> Vec<u8> {
        keys::identifier_entry(&Identifier::new(kind, value))
    }

    #[test]
    fn a_bucket_keeps_its_entries_sorted_and_reads_back() {
        let mut bucket = Bucket::default();
        bucket.set(entry("user_id", "u2"), Some(2));
        bucket.set(entry("email", "a@x.io"), Some(1));
        bucket.set(entry("user_id", "u1"), Some(3));
        bucket.set(entry("user_id", "u2"), Some(4));
        bucket.set(entry("phone", "+1"), None);
        let bytes = bucket.encode();
        let read = Bucket::decode(&bytes).unwrap();
        assert_eq!(read, bucket);
        let owners: Vec<u64> = read.entries().map(|(_, owner)| owner).collect();
        assert_eq!(owners, [1, 3, 4], "email sorts first, u2 was set again");
        assert_eq!(
            find_owner(&bytes, &entry("user_id", "u2")).unwrap(),
            Some(4)
        );
        assert_eq!(find_owner(&bytes, &entry("user_id", "u3")).unwrap(), None);
        bucket.set(entry("user_id", "u1"), None);
        bucket.set(entry("user_id", "u2"), None);
        bucket.set(entry("email", "a@x.io"), None);
        assert!(bucket.is_empty());
    }

    #[test]
    fn damaged_buckets_are_refused() {
        let mut bucket = Bucket::default();
        bucket.set(entry("email", "a@x.io"), Some(1));
        let bytes = bucket.encode();
        assert!(
            Bucket::decode(&bytes[..bytes.len() - 1]).is_err(),
            "cut short"
        );
        assert!(find_owner(&bytes[..bytes.len() - 1], &entry("email", "a@x.io")).is_err());
        assert!(Bucket::decode(&[]).is_err(), "no format byte");
        assert!(
            Bucket::decode(&[BUCKET_FORMAT + 1]).is_err(),
            "another format"
        );
        let mut twice = bytes.clone();
        twice.extend_from_slice(&bytes[1..]);
        assert!(Bucket::decode(&twice).is_err(), "an entry twice");
    }

    #[test]
    fn identifiers_spread_over_the_buckets() {
        let buckets: BTreeSet<u32> = (0..10_000)
            .map(|n| Hashed::of(&Identifier::new("user_id", format!("u{n}"))).bucket())
            .collect();
        assert!(buckets.len() > 9_500, "{} distinct buckets", buckets.len());
        assert!(buckets.iter().all(|b| *b < 1 << BUCKET_BITS));
    }
}
