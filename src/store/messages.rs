//! Deduplication by messageId. Each batch stores the 128-bit hashes (xxh3) of its events'
//! messageIds in one record, `D` + the batch's first seq; a space's writer reads them into
//! a set on its first batch and checks every arriving event against it in memory, instead
//! of a sled lookup and a sled record per event. (Two distinct messageIds share a hash with
//! odds around 10^-25 at ten million events.)
//!
//! Record: the format byte, then the hashes as 16-byte big-endian numbers.

use rustc_hash::FxHashSet;

use super::codec::{CodecError, FORMAT_VERSION};
use super::keys;

/// The hash a messageId is remembered by.
pub fn message_hash(message_id: &str) -> u128 {
    xxhash_rust::xxh3::xxh3_128(message_id.as_bytes())
}

/// The record listing a batch's messageId hashes.
pub(super) fn record(hashes: &[u128]) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + 16 * hashes.len());
    out.push(FORMAT_VERSION);
    for hash in hashes {
        out.extend_from_slice(&hash.to_be_bytes());
    }
    out
}

/// The hashes in a record.
pub(super) fn read_record(bytes: &[u8]) -> Result<Vec<u128>, CodecError> {
    match bytes.split_first() {
        None => Err(CodecError::Empty),
        Some((&FORMAT_VERSION, rest)) if rest.len() % 16 == 0 => Ok(rest
            .chunks_exact(16)
            .filter_map(|c| <[u8; 16]>::try_from(c).ok())
            .map(u128::from_be_bytes)
            .collect()),
        Some((&FORMAT_VERSION, _)) => Err(CodecError::Bundle("messageId list cut short")),
        Some((&other, _)) => Err(CodecError::Version(other)),
    }
}

/// The most messageIds room is made for up front (a set of about 1.1 GB).
const MAX_RESERVED: u64 = 1 << 25;

/// The messageIds (hashed) of every event a space holds.
#[derive(Default)]
pub(super) struct MessageSet(FxHashSet<u128>);

impl MessageSet {
    /// Reads every `D` record of a space that holds about `events` events (its counters
    /// say): room for them is made at once, as growing the set by doubling would rehash it
    /// each time and hold the old table beside the new (about 290 MB at 15M events).
    pub(super) fn load(tree: &sled::Tree, events: u64) -> anyhow::Result<MessageSet> {
        let mut set = FxHashSet::default();
        // Counters damaged into a huge number must not reserve gigabytes: past the bound
        // (or when the room cannot be had), the set grows as it goes.
        let room = usize::try_from(events.min(MAX_RESERVED)).unwrap_or(0);
        let _ = set.try_reserve(room);
        for item in tree.scan_prefix([keys::tag::MESSAGE]) {
            let (key, value) = item?;
            let hashes = read_record(&value).map_err(|e| {
                anyhow::anyhow!(
                    "messageId list {}: {e}; run idgraph check --repair",
                    keys::u64_at(&key, 1).unwrap_or_default()
                )
            })?;
            set.extend(hashes);
        }
        Ok(MessageSet(set))
    }

    /// Whether a messageId is held.
    pub(super) fn contains(&self, hash: u128) -> bool {
        self.0.contains(&hash)
    }

    /// Remembers the messageIds of an applied batch.
    pub(super) fn extend(&mut self, hashes: &[u128]) {
        self.0.extend(hashes.iter().copied());
    }
}

/// Adds a batch's messageId record (none for a batch that stored nothing).
pub(super) fn put_batch(batch: &mut sled::Batch, first_seq: u64, hashes: &[u128]) {
    if !hashes.is_empty() {
        batch.insert(keys::messages(first_seq), record(hashes));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_an_error() {
        let hashes = [message_hash("m-1"), message_hash("m-2"), 0, u128::MAX];
        assert_ne!(hashes[0], hashes[1]);
        let bytes = record(&hashes);
        assert_eq!(read_record(&bytes).unwrap(), hashes);
        assert!(read_record(&bytes[..bytes.len() - 1]).is_err());
        assert!(read_record(&[]).is_err());
        let mut newer = bytes.clone();
        newer[0] = 9;
        assert!(matches!(read_record(&newer), Err(CodecError::Version(9))));
        assert_eq!(read_record(&record(&[])).unwrap(), Vec::<u128>::new());
    }

    #[test]
    fn a_set_loads_every_batch_record() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sled::open(dir.path()).unwrap().open_tree("t").unwrap();
        let mut batch = sled::Batch::default();
        put_batch(&mut batch, 1, &[message_hash("a"), message_hash("b")]);
        put_batch(&mut batch, 3, &[message_hash("c")]);
        put_batch(&mut batch, 4, &[]);
        tree.apply_batch(batch).unwrap();
        assert_eq!(tree.scan_prefix([keys::tag::MESSAGE]).count(), 2);
        let set = MessageSet::load(&tree, 3).unwrap();
        for id in ["a", "b", "c"] {
            assert!(set.contains(message_hash(id)), "{id}");
        }
        assert!(!set.contains(message_hash("d")));
    }
}
