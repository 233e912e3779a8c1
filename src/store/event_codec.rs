//! Stored events, compressed. Segment payloads repeat the same keys and much the same
//! values, so once a space holds a thousand events a zstd dictionary is trained on them and
//! stored in the space (`M` + `event-dictionary`, written in the same atomic batch as the
//! first events it compresses); every later event bundle is stored compressed with it.
//!
//! A bundle record (see `bundle`) is either version 1 (the format byte, then the plain
//! bundle) or version 2: `[2][dictionary id, u32 big-endian][zstd frame of the plain bundle
//! after its format byte]`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use zstd::bulk::{Compressor, Decompressor};

use crate::model::StoredEvent;

use super::bundle::{bodies, decode_plain};
use super::codec::{CodecError, FORMAT_VERSION, decode, encode};
use super::keys;

/// The version byte of a compressed event record (the newest event record version).
pub(super) const COMPRESSED: u8 = 2;

/// Bytes before the zstd frame of a compressed record.
const HEADER: usize = 5;

/// The meta record holding the space's dictionary.
pub(super) const DICTIONARY_META: &str = "event-dictionary";

/// Events a space must hold (stored or in the batch) before a dictionary is trained (a
/// thousand typical events already give the full ratio).
const TRAIN_AFTER_EVENTS: usize = 1_000;

/// Most events sampled for training (more adds training time, not ratio).
const TRAINING_SAMPLES: usize = 2_000;

/// Dictionary size in bytes.
const DICTIONARY_BYTES: usize = 64 * 1024;

/// zstd level: 3 compresses a typical event in about 5 µs.
const LEVEL: i32 = 3;

/// Largest bundle a record may expand to (bundles are cut at 8 MiB of plain bytes; one
/// event of up to 1 MiB of JSON with its fields stays well inside this).
const MAX_EVENT_BYTES: u64 = 64 << 20;

/// The dictionary record.
#[derive(Serialize, Deserialize)]
struct StoredDictionary {
    id: u32,
    bytes: Vec<u8>,
}

/// A trained dictionary with pools of compression contexts (creating one costs ~30 µs,
/// more than compressing an event).
pub(super) struct EventDictionary {
    id: u32,
    bytes: Vec<u8>,
    compressors: Mutex<Vec<Compressor<'static>>>,
    decompressors: Mutex<Vec<Decompressor<'static>>>,
}

impl EventDictionary {
    fn new(id: u32, bytes: Vec<u8>) -> EventDictionary {
        EventDictionary {
            id,
            bytes,
            compressors: Mutex::new(Vec::new()),
            decompressors: Mutex::new(Vec::new()),
        }
    }

    /// The record that stores this dictionary.
    fn record(&self) -> Vec<u8> {
        encode(&StoredDictionary {
            id: self.id,
            bytes: self.bytes.clone(),
        })
    }

    fn compress(&self, plain: &[u8]) -> std::io::Result<Vec<u8>> {
        let pooled = self.compressors.lock().ok().and_then(|mut p| p.pop());
        let mut compressor = match pooled {
            Some(c) => c,
            None => Compressor::with_dictionary(LEVEL, &self.bytes)?,
        };
        let mut out = Vec::with_capacity(HEADER + plain.len() / 3);
        out.push(COMPRESSED);
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&compressor.compress(plain)?);
        if let Ok(mut pool) = self.compressors.lock() {
            pool.push(compressor);
        }
        Ok(out)
    }

    fn decompress(&self, frame: &[u8]) -> Result<Vec<u8>, CodecError> {
        let size = match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(size)) if size <= MAX_EVENT_BYTES => size as usize,
            _ => return Err(CodecError::Compressed("bad zstd frame header".into())),
        };
        let pooled = self.decompressors.lock().ok().and_then(|mut p| p.pop());
        let mut decompressor = match pooled {
            Some(d) => d,
            None => Decompressor::with_dictionary(&self.bytes)
                .map_err(|e| CodecError::Compressed(e.to_string()))?,
        };
        let result = decompressor.decompress(frame, size);
        if let Ok(mut pool) = self.decompressors.lock() {
            pool.push(decompressor);
        }
        result.map_err(|e| CodecError::Compressed(e.to_string()))
    }
}

/// A dictionary trained for a batch: stored with the batch, installed once it is applied.
pub(super) struct TrainedDictionary(Arc<EventDictionary>);

/// A space's event encoding: its dictionary, once trained.
pub(super) struct EventCodec {
    dictionary: RwLock<Option<Arc<EventDictionary>>>,
    /// Events the space (with the batch) must hold before training is tried again after a
    /// training that failed (too few distinct samples).
    retry_at: AtomicU64,
}

impl EventCodec {
    /// Reads the space's dictionary record, if any.
    pub(super) fn load(tree: &sled::Tree) -> anyhow::Result<EventCodec> {
        let dictionary = match tree.get(keys::meta(DICTIONARY_META))? {
            Some(bytes) => Some(Arc::new(read_dictionary(&bytes)?)),
            None => None,
        };
        Ok(EventCodec {
            dictionary: RwLock::new(dictionary),
            ..EventCodec::empty()
        })
    }

    /// A codec with no dictionary (for a space whose dictionary record is unreadable:
    /// `check` reports it and its events).
    pub(super) fn empty() -> EventCodec {
        EventCodec {
            dictionary: RwLock::new(None),
            retry_at: AtomicU64::new(TRAIN_AFTER_EVENTS as u64),
        }
    }

    /// Whether the space has its dictionary (it never changes once it has one).
    pub(super) fn has_dictionary(&self) -> bool {
        self.current().is_some()
    }

    fn current(&self) -> Option<Arc<EventDictionary>> {
        self.dictionary.read().ok().and_then(|d| d.clone())
    }

    /// Decodes every event of a bundle record of either version.
    pub(super) fn decode_bundle(&self, bytes: &[u8]) -> Result<Vec<StoredEvent>, CodecError> {
        self.with_plain(bytes, decode_plain)
    }

    /// Runs `read` on the plain (version 1) form of a bundle record.
    pub(super) fn with_plain<T>(
        &self,
        bytes: &[u8],
        read: impl FnOnce(&[u8]) -> Result<T, CodecError>,
    ) -> Result<T, CodecError> {
        if bytes.first() != Some(&COMPRESSED) {
            return read(bytes);
        }
        let id = bytes
            .get(1..HEADER)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(u32::from_be_bytes)
            .ok_or(CodecError::Compressed("truncated header".into()))?;
        let dictionary = self
            .current()
            .filter(|d| d.id == id)
            .ok_or(CodecError::Dictionary(id))?;
        let mut plain = vec![FORMAT_VERSION];
        plain.extend(dictionary.decompress(&bytes[HEADER..])?);
        read(&plain)
    }

    /// Encodes a plain bundle record for storage: compressed when a dictionary is at hand
    /// (`trained` for this batch, else the space's).
    pub(super) fn seal(&self, trained: Option<&TrainedDictionary>, plain: Vec<u8>) -> Vec<u8> {
        let dictionary = match trained {
            Some(TrainedDictionary(d)) => Some(d.clone()),
            None => self.current(),
        };
        match dictionary {
            Some(d) => match plain.get(1..).map(|body| d.compress(body)) {
                Some(Ok(compressed)) => compressed,
                // Compression of an in-memory buffer only fails on allocation trouble; the
                // plain record is just as valid.
                _ => plain,
            },
            None => plain,
        }
    }

    /// Trains a dictionary when the space has none and enough events to learn from: the
    /// batch's own events (their plain bytes), topped up with events of plain bundles read
    /// from `tree`. Its record is added to `batch`; install it with [`EventCodec::install`]
    /// once the batch is applied.
    pub(super) fn train_if_due(
        &self,
        tree: &sled::Tree,
        stored_events: u64,
        batch_records: &[&[u8]],
        batch: &mut sled::Batch,
    ) -> anyhow::Result<Option<TrainedDictionary>> {
        let total = stored_events + batch_records.len() as u64;
        if self.current().is_some() || total < self.retry_at.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let mut samples: Vec<&[u8]> = batch_records
            .iter()
            .take(TRAINING_SAMPLES)
            .copied()
            .collect();
        let mut from_tree = Vec::new();
        if samples.len() < TRAINING_SAMPLES {
            let mut found = 0;
            for item in tree.scan_prefix([keys::tag::TIMELINE]) {
                let (_, value) = item?;
                if value.first() == Some(&FORMAT_VERSION) {
                    found += bodies(&value).map_or(0, |b| b.len());
                    from_tree.push(value);
                }
                if samples.len() + found >= TRAINING_SAMPLES {
                    break;
                }
            }
        }
        for value in &from_tree {
            samples.extend(bodies(value).unwrap_or_default());
        }
        match zstd::dict::from_samples(&samples, DICTIONARY_BYTES) {
            Ok(bytes) => {
                let dictionary = EventDictionary::new(1, bytes);
                batch.insert(keys::meta(DICTIONARY_META), dictionary.record());
                Ok(Some(TrainedDictionary(Arc::new(dictionary))))
            }
            Err(error) => {
                tracing::debug!(%error, samples = samples.len(), "event dictionary not trained yet");
                self.retry_at
                    .store(total.saturating_mul(2), Ordering::Relaxed);
                Ok(None)
            }
        }
    }

    /// Makes a trained dictionary the space's, after the batch storing it was applied.
    pub(super) fn install(&self, trained: TrainedDictionary) {
        if let Ok(mut current) = self.dictionary.write() {
            *current = Some(trained.0);
        }
    }
}

/// Reads a dictionary record.
pub(super) fn read_dictionary(bytes: &[u8]) -> Result<EventDictionary, CodecError> {
    let stored: StoredDictionary = decode(bytes)?;
    Ok(EventDictionary::new(stored.id, stored.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Event;
    use crate::store::bundle::{PlainEvent, plain_record};
    use crate::store::codec::encode_into;

    fn event(i: usize) -> StoredEvent {
        let json = serde_json::json!({
            "type": "track", "event": format!("Viewed {}", i % 7), "userId": format!("u{}", i % 50),
            "anonymousId": format!("anon-{i:08x}"), "messageId": format!("m-{i}"),
            "timestamp": "2025-03-01T10:00:00Z",
            "context": {"library": {"name": "analytics.js", "version": "4.1.0"},
                        "page": {"path": format!("/products/{}", i % 31), "title": "Shop"}},
            "properties": {"price": i % 90, "currency": "EUR", "sku": format!("SKU-{}", i % 13)},
        });
        let event = Event::from_json(json).unwrap();
        StoredEvent::from_event(&event, i as u64, 1, "web", "web", Vec::new())
    }

    fn tree() -> (tempfile::TempDir, sled::Tree) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path()).unwrap();
        let tree = db.open_tree("t").unwrap();
        (dir, tree)
    }

    /// The plain bundle record of some test events.
    fn bundle(seqs: &[usize]) -> Vec<u8> {
        let plain: Vec<PlainEvent> = seqs.iter().map(|i| PlainEvent::of(&event(*i))).collect();
        plain_record(&plain)
    }

    fn events(seqs: &[usize]) -> Vec<StoredEvent> {
        seqs.iter().map(|i| event(*i)).collect()
    }

    #[test]
    fn a_dictionary_is_trained_once_enough_events_are_seen_and_read_back_after_reopening() {
        let (_dir, tree) = tree();
        let codec = EventCodec::load(&tree).unwrap();
        let bodies: Vec<Vec<u8>> = (0..TRAIN_AFTER_EVENTS)
            .map(|i| encode_into(&event(i), Vec::new()))
            .collect();
        let samples: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let mut batch = sled::Batch::default();
        assert!(
            codec
                .train_if_due(&tree, 0, &samples[..10], &mut batch)
                .unwrap()
                .is_none()
        );

        let mut batch = sled::Batch::default();
        let trained = codec.train_if_due(&tree, 10, &samples, &mut batch).unwrap();
        let plain = bundle(&[3, 4, 5]);
        let sealed = codec.seal(trained.as_ref(), plain.clone());
        assert_eq!(sealed[0], COMPRESSED);
        assert!(
            sealed.len() * 4 < plain.len(),
            "{} vs {}",
            sealed.len(),
            plain.len()
        );
        // Not readable before the batch holding the dictionary is applied and installed.
        assert!(matches!(
            codec.decode_bundle(&sealed),
            Err(CodecError::Dictionary(1))
        ));
        tree.apply_batch(batch).unwrap();
        codec.install(trained.unwrap());
        assert_eq!(codec.decode_bundle(&sealed).unwrap(), events(&[3, 4, 5]));
        // Plain records stay readable.
        assert_eq!(codec.decode_bundle(&bundle(&[7])).unwrap(), events(&[7]));
        // Once installed, bundles are sealed with it and no second dictionary is trained.
        assert_eq!(codec.seal(None, bundle(&[4]))[0], COMPRESSED);
        let mut batch = sled::Batch::default();
        assert!(
            codec
                .train_if_due(&tree, 5_000, &samples, &mut batch)
                .unwrap()
                .is_none()
        );

        let reopened = EventCodec::load(&tree).unwrap();
        assert_eq!(reopened.decode_bundle(&sealed).unwrap(), events(&[3, 4, 5]));
    }

    #[test]
    fn a_dictionary_is_trained_from_plain_bundles_already_stored() {
        let (_dir, tree) = tree();
        let codec = EventCodec::load(&tree).unwrap();
        let stored: Vec<usize> = (0..TRAIN_AFTER_EVENTS).collect();
        tree.insert(keys::timeline(1, 0), bundle(&stored)).unwrap();
        let mut batch = sled::Batch::default();
        let trained = codec.train_if_due(&tree, TRAIN_AFTER_EVENTS as u64, &[], &mut batch);
        assert!(trained.unwrap().is_some());
    }

    #[test]
    fn damaged_compressed_records_are_errors_not_panics() {
        let (_dir, tree) = tree();
        let codec = EventCodec::load(&tree).unwrap();
        let bodies: Vec<Vec<u8>> = (0..TRAIN_AFTER_EVENTS)
            .map(|i| encode_into(&event(i), Vec::new()))
            .collect();
        let samples: Vec<&[u8]> = bodies.iter().map(Vec::as_slice).collect();
        let mut batch = sled::Batch::default();
        let trained = codec
            .train_if_due(&tree, 0, &samples, &mut batch)
            .unwrap()
            .unwrap();
        codec.install(trained);
        let sealed = codec.seal(None, bundle(&[0, 1]));
        for cut in [1, 3, HEADER, HEADER + 4, sealed.len() - 1] {
            assert!(codec.decode_bundle(&sealed[..cut]).is_err(), "cut at {cut}");
        }
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xff;
        assert!(codec.decode_bundle(&flipped).is_err());
        let mut other_dictionary = sealed.clone();
        other_dictionary[4] = 7;
        assert!(matches!(
            codec.decode_bundle(&other_dictionary),
            Err(CodecError::Dictionary(7))
        ));
        assert!(EventCodec::empty().decode_bundle(&sealed).is_err());
    }
}
