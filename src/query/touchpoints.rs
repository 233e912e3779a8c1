//! Touchpoints: what happened on each channel (support, sales, marketing, web, apps...).

use std::collections::BTreeMap;

use crate::model::{Millis, StoredEvent};

/// One channel's contact with a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Touchpoint {
    pub channel: String,
    pub count: u64,
    pub first: Millis,
    pub last: Millis,
    /// The newest events on the channel, newest first.
    pub latest: Vec<StoredEvent>,
}

/// Touchpoints per channel, the most recently contacted channel first; `latest` keeps at
/// most `keep` events each.
pub fn touchpoints(events: &[StoredEvent], keep: usize) -> Vec<Touchpoint> {
    let mut by_channel: BTreeMap<&str, (Touchpoint, Vec<&StoredEvent>)> = BTreeMap::new();
    for e in events {
        let (t, latest) = by_channel.entry(&e.channel).or_insert_with(|| {
            let touchpoint = Touchpoint {
                channel: e.channel.clone(),
                count: 0,
                first: e.time,
                last: e.time,
                latest: Vec::new(),
            };
            (touchpoint, Vec::new())
        });
        t.count += 1;
        t.first = t.first.min(e.time);
        t.last = t.last.max(e.time);
        latest.push(e);
    }
    let mut out: Vec<Touchpoint> = by_channel
        .into_values()
        .map(|(mut t, mut latest)| {
            // Only the kept events are copied: a heavy profile has thousands per channel.
            latest.sort_by_key(|e| std::cmp::Reverse((e.time, e.seq)));
            t.latest = latest.into_iter().take(keep).cloned().collect();
            t
        })
        .collect();
    out.sort_by(|a, b| b.last.cmp(&a.last).then_with(|| a.channel.cmp(&b.channel)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::timeline::tests::ev;

    #[test]
    fn groups_by_channel_newest_first() {
        let events = vec![
            ev(1, 100, "web", &[]),
            ev(2, 300, "support", &[]),
            ev(3, 200, "web", &[]),
            ev(4, 250, "web", &[]),
        ];
        let t = touchpoints(&events, 2);
        assert_eq!(t[0].channel, "support");
        assert_eq!(t[1].channel, "web");
        assert_eq!(t[1].count, 3);
        assert_eq!((t[1].first, t[1].last), (100, 250));
        let seqs: Vec<u64> = t[1].latest.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![4, 3]);
    }
}
