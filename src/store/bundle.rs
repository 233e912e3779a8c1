//! Event bundles. A batch files each event under the timeline cluster of the profile that
//! received it, and all of one cluster's events from one batch become a single sled record,
//! a *bundle*, keyed `T` + cluster + the smallest seq it holds (so keys stay unique when a
//! split re-files events). sled charges about as much per record as for kilobytes of value,
//! so a record per person per batch instead of one per event is most of ingest speed.
//!
//! A bundle's plain record is the format byte, then `[count: u32 LE]` and per event
//! `[length: u32 LE][postcard bytes of the StoredEvent]`, so a reader can look at one event's
//! leading fields without decoding the others; stored compressed once the space has a
//! dictionary (see `event_codec`). When the event made links, the postcard bytes of its
//! [`EventLink`]s follow its own within the same length: the links cost no record of their
//! own, and a reader that wants only the event (or a build from before) stops before them.

use crate::model::{EventLink, StoredEvent};

use super::codec::{CodecError, FORMAT_VERSION, encode_into};
use super::event_codec::TrainedDictionary;
use super::keys;
use super::space::SpaceStore;

/// Most events in one bundle.
const MAX_EVENTS: usize = 4096;

/// Most plain bytes in one bundle (bundles are read whole; a bigger one is started).
const MAX_BYTES: usize = 8 << 20;

/// One event's plain bytes, ready to bundle.
pub(super) struct PlainEvent {
    pub seq: u64,
    pub bytes: Vec<u8>,
}

impl PlainEvent {
    /// The plain bytes of a stored event.
    pub(super) fn of(event: &StoredEvent) -> PlainEvent {
        // The original JSON is most of an event; the other fields rarely take 256 bytes.
        let room = event.raw_json.len() + 256;
        let mut bytes = encode_into(event, Vec::with_capacity(room));
        if !event.links.is_empty() {
            bytes = encode_into(&event.links, bytes);
        }
        PlainEvent {
            seq: event.seq,
            bytes,
        }
    }
}

/// An event's plain bytes read back, with the links stored after it.
pub(super) fn decode_event(body: &[u8]) -> Result<StoredEvent, CodecError> {
    let (mut event, links): (StoredEvent, &[u8]) = postcard::take_from_bytes(body)?;
    if !links.is_empty() {
        let links: Vec<EventLink> = postcard::from_bytes(links)?;
        let held = event.identifiers.len();
        if links
            .iter()
            .any(|l| usize::from(l.from) >= held || usize::from(l.to) >= held)
        {
            return Err(CodecError::Bundle(
                "a link to an identifier the event does not hold",
            ));
        }
        event.links = links;
    }
    Ok(event)
}

/// A stored bundle: the smallest seq its key names, and its events.
pub(super) struct Bundle {
    pub first_seq: u64,
    pub events: Vec<StoredEvent>,
}

/// A bundle record in plain form (what a space stores before it has a dictionary).
pub fn encode_plain(events: &[StoredEvent]) -> Vec<u8> {
    let plain: Vec<PlainEvent> = events.iter().map(PlainEvent::of).collect();
    plain_record(&plain)
}

/// The events of a plain bundle record (see [`encode_plain`]).
pub fn decode_plain(record: &[u8]) -> Result<Vec<StoredEvent>, CodecError> {
    match record.first() {
        Some(&FORMAT_VERSION) => bodies(record)?.into_iter().map(decode_event).collect(),
        Some(&other) => Err(CodecError::Version(other)),
        None => Err(CodecError::Empty),
    }
}

/// The plain record of a bundle.
pub(super) fn plain_record(events: &[PlainEvent]) -> Vec<u8> {
    let size: usize = events.iter().map(|e| e.bytes.len() + 4).sum();
    let mut out = Vec::with_capacity(5 + size);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&(events.len() as u32).to_le_bytes());
    for event in events {
        out.extend_from_slice(&(event.bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(&event.bytes);
    }
    out
}

/// The events' plain bytes in a plain bundle record (after its format byte).
pub(super) fn bodies(plain: &[u8]) -> Result<Vec<&[u8]>, CodecError> {
    let truncated = CodecError::Bundle("truncated");
    let read_u32 = |at: usize| -> Result<usize, CodecError> {
        plain
            .get(at..at + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map(|b| u32::from_le_bytes(b) as usize)
            .ok_or(CodecError::Bundle("truncated"))
    };
    let count = read_u32(1)?;
    let mut at = 5;
    let mut out = Vec::with_capacity(count.min(MAX_EVENTS));
    for _ in 0..count {
        let len = read_u32(at)?;
        let body = plain
            .get(at + 4..at + 4 + len)
            .ok_or(CodecError::Bundle("truncated"))?;
        out.push(body);
        at += 4 + len;
    }
    if at != plain.len() {
        return Err(truncated);
    }
    Ok(out)
}

/// Splits events (in seq order) into bundles within the size limits.
fn chunks(events: &[PlainEvent]) -> Vec<&[PlainEvent]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, event) in events.iter().enumerate() {
        if i > start && (i - start == MAX_EVENTS || bytes + event.bytes.len() > MAX_BYTES) {
            out.push(&events[start..i]);
            start = i;
            bytes = 0;
        }
        bytes += event.bytes.len() + 4;
    }
    if start < events.len() {
        out.push(&events[start..]);
    }
    out
}

impl SpaceStore {
    /// The bundles filed under one cluster.
    pub(super) fn cluster_bundles(&self, cluster: u64) -> anyhow::Result<Vec<Bundle>> {
        let mut out = Vec::new();
        for item in self.tree.scan_prefix(keys::timeline_prefix(cluster)) {
            let (key, value) = item?;
            let first_seq = keys::timeline_entry(&key).map_or(0, |(_, seq)| seq);
            let events = self.events.decode_bundle(&value).map_err(|e| {
                anyhow::anyhow!(
                    "space {}: event bundle {first_seq} of cluster {cluster}: {e}",
                    self.name
                )
            })?;
            out.push(Bundle { first_seq, events });
        }
        Ok(out)
    }

    /// Every event filed under the clusters, in no particular order.
    pub(super) fn cluster_events(&self, clusters: &[u64]) -> anyhow::Result<Vec<StoredEvent>> {
        let mut out = Vec::new();
        for cluster in clusters {
            for bundle in self.cluster_bundles(*cluster)? {
                out.extend(bundle.events);
            }
        }
        Ok(out)
    }

    /// Files events under a cluster: bundles (by seq, within the size limits) added to the
    /// batch, compressed with the space's dictionary.
    pub(super) fn put_bundles(
        &self,
        batch: &mut sled::Batch,
        cluster: u64,
        mut events: Vec<PlainEvent>,
    ) {
        events.sort_unstable_by_key(|e| e.seq);
        for (key, record) in self.bundle_records(None, cluster, &events) {
            batch.insert(key, record);
        }
    }

    /// The keys and records of the bundles filing `events` (in seq order) under a cluster,
    /// compressed with `trained` or the space's dictionary.
    pub(super) fn bundle_records(
        &self,
        trained: Option<&TrainedDictionary>,
        cluster: u64,
        events: &[PlainEvent],
    ) -> Vec<(Vec<u8>, Vec<u8>)> {
        chunks(events)
            .into_iter()
            .map(|chunk| {
                let record = self.events.seal(trained, plain_record(chunk));
                (keys::timeline(cluster, chunk[0].seq), record)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Identifier, LinkRule};
    use crate::store::codec::decode_body;

    /// An event holding two identifiers, linked when `linked`.
    fn linking_event(linked: bool) -> StoredEvent {
        let json = serde_json::json!({"type":"identify","userId":"u1","anonymousId":"a1","messageId":"m1"});
        let event = crate::model::Event::from_json(json).unwrap();
        let ids = vec![
            Identifier::new("user_id", "u1"),
            Identifier::new("anonymous_id", "a1"),
        ];
        let mut stored = StoredEvent::from_event(&event, 7, 1_000, "web", "web", ids);
        if linked {
            stored.links = vec![EventLink {
                from: 0,
                to: 1,
                rule: LinkRule::SameEvent,
            }];
        }
        stored
    }

    #[test]
    fn an_events_links_are_kept_after_it_and_read_back_with_it() {
        let linked = linking_event(true);
        let body = PlainEvent::of(&linked).bytes;
        let read = decode_event(&body).unwrap();
        assert_eq!(read, linked);
        let made: Vec<_> = read.made_links().collect();
        assert_eq!(made.len(), 1);
        assert_eq!(
            (made[0].from.to_string(), made[0].to.to_string()),
            ("user_id:u1".into(), "anonymous_id:a1".into())
        );
        assert_eq!(
            (
                made[0].provenance.message_id.as_str(),
                made[0].provenance.source.as_str(),
                made[0].provenance.time
            ),
            ("m1", "web", 1_000)
        );
        // A reader of the event alone (audiences, builds from before) stops before the links.
        let alone: StoredEvent = decode_body(&body).unwrap();
        assert_eq!(alone, linking_event(false));
        // An event stored before links moved into events reads as making none.
        let unlinked = PlainEvent::of(&linking_event(false)).bytes;
        assert!(unlinked.len() < body.len());
        assert_eq!(decode_event(&unlinked).unwrap(), linking_event(false));
        assert_eq!(
            decode_plain(&encode_plain(std::slice::from_ref(&linked))).unwrap(),
            vec![linked]
        );
    }

    #[test]
    fn a_link_to_an_identifier_the_event_does_not_hold_is_refused() {
        let mut event = linking_event(true);
        event.links[0].to = 2;
        let body = PlainEvent::of(&event).bytes;
        assert!(matches!(decode_event(&body), Err(CodecError::Bundle(_))));
        let mut cut = PlainEvent::of(&linking_event(true)).bytes;
        cut.pop();
        assert!(decode_event(&cut).is_err(), "links cut short");
    }

    fn plain(seq: u64, len: usize) -> PlainEvent {
        PlainEvent {
            seq,
            bytes: vec![seq as u8; len],
        }
    }

    #[test]
    fn bodies_read_back_what_was_bundled_and_reject_damage() {
        let events = [plain(1, 3), plain(2, 0), plain(5, 70)];
        let record = plain_record(&events);
        let read = bodies(&record).unwrap();
        assert_eq!(read.len(), 3);
        for (body, event) in read.iter().zip(&events) {
            assert_eq!(*body, event.bytes.as_slice());
        }
        for cut in [0, 1, 4, 6, record.len() - 1] {
            assert!(bodies(&record[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = record.clone();
        longer.push(0);
        assert!(bodies(&longer).is_err());
        let mut huge_count = record.clone();
        huge_count[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(bodies(&huge_count).is_err());
    }

    #[test]
    fn chunks_keep_every_event_once_within_the_limits() {
        let many: Vec<PlainEvent> = (0..MAX_EVENTS as u64 * 2 + 3)
            .map(|s| plain(s, 1))
            .collect();
        let sizes: Vec<usize> = chunks(&many).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [MAX_EVENTS, MAX_EVENTS, 3]);
        let big: Vec<PlainEvent> = (0..5).map(|s| plain(s, MAX_BYTES / 2)).collect();
        let sizes: Vec<usize> = chunks(&big).iter().map(|c| c.len()).collect();
        assert_eq!(sizes, [1, 1, 1, 1, 1]);
        let oversized = [plain(1, MAX_BYTES * 2)];
        assert_eq!(chunks(&oversized).len(), 1);
        assert!(chunks(&[]).is_empty());
    }
}
