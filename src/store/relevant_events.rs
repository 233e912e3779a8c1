//! The events audiences look at, per timeline cluster, kept in memory for the writer.
//!
//! Re-evaluating a profile's audience standings needs every event of its clusters that some
//! audience looks at. Reading them from the tree means scanning and decompressing the
//! profile's whole timeline, each time it receives a relevant event: quadratic in the
//! profile's history. The writer keeps the clusters it evaluated lately here instead, adds
//! each applied batch's events to them, and forgets everything when a repair refiles events.
//! Only the writer (under the space's writer lock) reads or fills it, so what it holds is
//! always what the tree held after the latest batch.

use std::sync::{Arc, Mutex, MutexGuard};

use rustc_hash::FxHashMap;

use crate::model::StoredEvent;

/// Memory the kept events may take (estimated); past it, the least recently used clusters go.
const BUDGET_BYTES: usize = 64 * 1024 * 1024;

/// The relevant events of recently evaluated clusters, in tree order.
pub(super) struct RelevantEvents {
    inner: Mutex<Kept>,
    budget: usize,
    /// Whether the events' JSON is kept (only `where` tests read it).
    with_json: bool,
}

#[derive(Default)]
struct Kept {
    clusters: FxHashMap<u64, Cluster>,
    bytes: usize,
    /// Bumped on every use: the clusters used longest ago are dropped first.
    clock: u64,
}

struct Cluster {
    events: Arc<Vec<StoredEvent>>,
    bytes: usize,
    used: u64,
}

impl RelevantEvents {
    /// An empty store of the default size; the events' JSON is kept only `with_json`
    /// (some audience tests a value in it).
    pub fn new(with_json: bool) -> RelevantEvents {
        RelevantEvents::with_budget(BUDGET_BYTES, with_json)
    }

    fn with_budget(budget: usize, with_json: bool) -> RelevantEvents {
        RelevantEvents {
            inner: Mutex::default(),
            budget,
            with_json,
        }
    }

    /// An event as kept: without its links (no audience reads them), and without its JSON
    /// unless some audience reads it.
    fn slim(&self, mut event: StoredEvent) -> StoredEvent {
        event.links = Vec::new();
        if !self.with_json {
            event.raw_json = String::new();
        }
        event
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        // A panic elsewhere cannot leave the map half-updated in a way that matters: every
        // method finishes its change before returning.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The kept events of a cluster, if it is kept.
    pub fn get(&self, cluster: u64) -> Option<Arc<Vec<StoredEvent>>> {
        let mut kept = self.kept();
        kept.clock += 1;
        let clock = kept.clock;
        let entry = kept.clusters.get_mut(&cluster)?;
        entry.used = clock;
        Some(Arc::clone(&entry.events))
    }

    /// Keeps a cluster's events as read from the tree, and returns them as kept.
    pub fn keep(&self, cluster: u64, events: Vec<StoredEvent>) -> Arc<Vec<StoredEvent>> {
        let events = Arc::new(events.into_iter().map(|e| self.slim(e)).collect::<Vec<_>>());
        let bytes = events.iter().map(estimated_bytes).sum();
        if bytes > self.budget / 4 {
            return events;
        }
        let mut kept = self.kept();
        kept.clock += 1;
        let used = kept.clock;
        if let Some(old) = kept.clusters.insert(
            cluster,
            Cluster {
                events: Arc::clone(&events),
                bytes,
                used,
            },
        ) {
            kept.bytes -= old.bytes;
        }
        kept.bytes += bytes;
        self.evict(&mut kept);
        events
    }

    /// Adds an applied batch's relevant events to the clusters kept (in seq order, after
    /// what they hold: a batch's seqs follow every stored one).
    pub fn append(&self, fresh: &FxHashMap<u64, Vec<StoredEvent>>) {
        let mut kept = self.kept();
        let mut added = 0;
        for (cluster, events) in fresh {
            if let Some(entry) = kept.clusters.get_mut(cluster) {
                let events: Vec<StoredEvent> =
                    events.iter().map(|e| self.slim(e.clone())).collect();
                let bytes: usize = events.iter().map(estimated_bytes).sum();
                Arc::make_mut(&mut entry.events).extend(events);
                entry.bytes += bytes;
                added += bytes;
            }
        }
        kept.bytes += added;
        self.evict(&mut kept);
    }

    /// Forgets every cluster (events were refiled, or a write failed).
    pub fn forget(&self) {
        let mut kept = self.kept();
        kept.clusters.clear();
        kept.bytes = 0;
    }

    /// Drops the clusters used longest ago until the kept events take at most three
    /// quarters of the budget (so that eviction runs once in many additions).
    fn evict(&self, kept: &mut Kept) {
        if kept.bytes <= self.budget {
            return;
        }
        let mut by_use: Vec<(u64, u64)> = kept
            .clusters
            .iter()
            .map(|(cluster, entry)| (entry.used, *cluster))
            .collect();
        by_use.sort_unstable();
        for (_, cluster) in by_use {
            if kept.bytes <= self.budget / 4 * 3 {
                break;
            }
            if let Some(entry) = kept.clusters.remove(&cluster) {
                kept.bytes -= entry.bytes;
            }
        }
    }
}

/// About how much memory a kept event takes.
fn estimated_bytes(event: &StoredEvent) -> usize {
    let identifiers: usize = event
        .identifiers
        .iter()
        .map(|id| std::mem::size_of_val(id) + id.kind.len() + id.value.len())
        .sum();
    std::mem::size_of::<StoredEvent>()
        + event.message_id.len()
        + event.source.len()
        + event.channel.len()
        + event.app.as_ref().map_or(0, String::len)
        + event.device.as_ref().map_or(0, String::len)
        + event.label.len()
        + event.raw_json.len()
        + identifiers
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CallType;

    fn event(seq: u64, json_bytes: usize) -> StoredEvent {
        StoredEvent {
            seq,
            message_id: format!("m{seq}"),
            call: CallType::Track,
            time: seq as i64,
            received_at: seq as i64,
            source: "web".into(),
            channel: "web".into(),
            app: None,
            device: None,
            label: "Order Completed".into(),
            identifiers: Vec::new(),
            raw_json: "x".repeat(json_bytes),
            links: Vec::new(),
        }
    }

    fn seqs(events: &[StoredEvent]) -> Vec<u64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn appends_reach_only_kept_clusters_and_forget_drops_all() {
        let kept = RelevantEvents::new(true);
        kept.keep(1, vec![event(1, 10)]);
        let fresh: FxHashMap<u64, Vec<StoredEvent>> =
            [(1, vec![event(5, 10)]), (2, vec![event(6, 10)])]
                .into_iter()
                .collect();
        kept.append(&fresh);
        assert_eq!(seqs(&kept.get(1).unwrap()), [1, 5]);
        assert!(kept.get(2).is_none(), "a cluster never read stays unknown");
        kept.forget();
        assert!(kept.get(1).is_none());
    }

    #[test]
    fn the_clusters_used_longest_ago_go_first() {
        let one = estimated_bytes(&event(0, 1000));
        let kept = RelevantEvents::with_budget(one * 4, true);
        kept.keep(1, vec![event(1, 1000)]);
        kept.keep(2, vec![event(2, 1000)]);
        kept.keep(3, vec![event(3, 1000)]);
        kept.keep(4, vec![event(4, 1000)]);
        assert!(kept.get(1).is_some(), "within budget, all stay");
        kept.keep(5, vec![event(5, 1000)]);
        // Over budget: down to three quarters, oldest use first (2 and 3; 1 was just read).
        assert!(kept.get(2).is_none() && kept.get(3).is_none());
        assert!(kept.get(1).is_some() && kept.get(4).is_some() && kept.get(5).is_some());
        // A cluster larger than a quarter of the budget is never kept.
        kept.keep(6, vec![event(6, 1000), event(7, 1000)]);
        assert!(kept.get(6).is_none());
    }

    #[test]
    fn the_json_is_kept_only_when_some_audience_reads_it() {
        let fresh: FxHashMap<u64, Vec<StoredEvent>> =
            [(1, vec![event(2, 10)])].into_iter().collect();
        for with_json in [false, true] {
            let kept = RelevantEvents::new(with_json);
            let returned = kept.keep(1, vec![event(1, 10)]);
            kept.append(&fresh);
            let json: Vec<String> = kept
                .get(1)
                .unwrap()
                .iter()
                .map(|e| e.raw_json.clone())
                .collect();
            let expected = if with_json {
                "x".repeat(10)
            } else {
                String::new()
            };
            assert_eq!(json, [expected.clone(), expected.clone()]);
            assert_eq!(
                returned[0].raw_json, expected,
                "what evaluation gets is what is kept"
            );
        }
    }
}
