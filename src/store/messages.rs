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

/// The most messageIds room is made for up front (about 512 MB).
const MAX_RESERVED: u64 = 1 << 25;

/// The messageIds (hashed) of every event a space holds: those read from the store in one
/// sorted array, found through a table of where each run of hashes sharing their top bits
/// starts (16 bytes a messageId, where a hash set takes 19 to 39 as it fills), and
/// those remembered since in a hash set.
#[derive(Default)]
pub(super) struct MessageSet {
    stored: Vec<u128>,
    /// How many top bits of a hash [`MessageSet::starts`] goes by.
    bits: u32,
    /// Where the hashes of each top-bits value start in `stored`, and the end.
    starts: Vec<u32>,
    recent: FxHashSet<u128>,
}

impl MessageSet {
    /// Reads every `D` record of a space that holds about `events` events (its counters
    /// say; room for them is made at once) and sorts them.
    pub(super) fn load(tree: &sled::Tree, events: u64) -> anyhow::Result<MessageSet> {
        let mut stored = Vec::new();
        // Counters damaged into a huge number must not reserve gigabytes: past the bound
        // (or when the room cannot be had), the array grows as it goes.
        let room = usize::try_from(events.min(MAX_RESERVED)).unwrap_or(0);
        let _ = stored.try_reserve_exact(room);
        for item in tree.scan_prefix([keys::tag::MESSAGE]) {
            let (key, value) = item?;
            let hashes = read_record(&value).map_err(|e| {
                anyhow::anyhow!(
                    "messageId list {}: {e}; run idgraph check --repair",
                    keys::u64_at(&key, 1).unwrap_or_default()
                )
            })?;
            stored.extend(hashes);
        }
        stored.sort_unstable();
        stored.dedup();
        // About eight hashes per top-bits value: a lookup reads the table, then one or
        // two cache lines of hashes.
        let bits = (stored.len() / 8).max(1).ilog2().min(24);
        let mut starts = Vec::with_capacity((1 << bits) + 1);
        let mut at = 0;
        for top in 0..=(1usize << bits) {
            while stored
                .get(at)
                .is_some_and(|&hash| top_bits(hash, bits) < top)
            {
                at += 1;
            }
            starts.push(u32::try_from(at).unwrap_or(u32::MAX));
        }
        Ok(MessageSet {
            stored,
            bits,
            starts,
            recent: FxHashSet::default(),
        })
    }

    /// Whether a messageId is held.
    pub(super) fn contains(&self, hash: u128) -> bool {
        if self.recent.contains(&hash) {
            return true;
        }
        let top = top_bits(hash, self.bits);
        match (self.starts.get(top), self.starts.get(top + 1)) {
            (Some(&start), Some(&end)) => self
                .stored
                .get(start as usize..end as usize)
                .is_some_and(|run| run.binary_search(&hash).is_ok()),
            _ => false,
        }
    }

    /// Remembers the messageIds of an applied batch.
    pub(super) fn extend(&mut self, hashes: &[u128]) {
        self.recent.extend(hashes.iter().copied());
    }
}

/// The top `bits` bits of a hash.
fn top_bits(hash: u128, bits: u32) -> usize {
    hash.checked_shr(128 - bits).unwrap_or(0) as usize
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

    #[test]
    fn a_large_set_finds_what_it_loaded_and_what_came_since_only() {
        let dir = tempfile::tempdir().unwrap();
        let tree = sled::open(dir.path()).unwrap().open_tree("t").unwrap();
        let id = |n: u32| message_hash(&format!("m-{n}"));
        let mut batch = sled::Batch::default();
        for first in (0..20_000).step_by(500) {
            let hashes: Vec<u128> = (first..first + 500).map(id).collect();
            put_batch(&mut batch, u64::from(first) + 1, &hashes);
        }
        // A batch listed twice (as a repair may leave it) is counted once.
        put_batch(&mut batch, 30_000, &[id(7), id(8)]);
        tree.apply_batch(batch).unwrap();
        let mut set = MessageSet::load(&tree, 20_000).unwrap();
        assert_eq!(set.stored.len(), 20_000);
        assert!(set.bits > 8, "{} bits", set.bits);
        assert!((0..20_000).all(|n| set.contains(id(n))));
        assert!(!(20_000..40_000).any(|n| set.contains(id(n))));
        assert!(!set.contains(0) && !set.contains(u128::MAX));
        set.extend(&[id(20_000)]);
        assert!(set.contains(id(20_000)) && !set.contains(id(20_001)));
        let empty = MessageSet::default();
        assert!(!empty.contains(id(1)));
    }
}
