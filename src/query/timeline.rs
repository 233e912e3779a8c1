//! Timelines: the anonymous-to-known journey, filters, and activity per channel.

use std::collections::BTreeSet;

use crate::model::{CallType, Millis, StoredEvent, time::DAY};

/// Where an event sits in the anonymous-to-known journey.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before sign-up, carrying no user id.
    Anonymous,
    /// The first event carrying both an anonymous id and a user id.
    Conversion,
    /// Everything else.
    Known,
}

/// The conversion point: the earliest event (by time, then sequence) that carries both an
/// anonymous id and a user id. Returns its `seq`.
pub fn conversion_point(events: &[StoredEvent]) -> Option<u64> {
    events
        .iter()
        .filter(|e| e.links_anonymous_to_known())
        .min_by_key(|e| (e.time, e.seq))
        .map(|e| e.seq)
}

/// The phase of every event, in the order given.
pub fn phases(events: &[StoredEvent]) -> Vec<Phase> {
    let conversion = conversion_point(events);
    let conversion_at = conversion
        .and_then(|seq| events.iter().find(|e| e.seq == seq))
        .map(|e| (e.time, e.seq));
    events
        .iter()
        .map(|e| match conversion_at {
            Some(_) if Some(e.seq) == conversion => Phase::Conversion,
            Some(at) if (e.time, e.seq) < at && !e.is_known() => Phase::Anonymous,
            None if !e.is_known() => Phase::Anonymous,
            _ => Phase::Known,
        })
        .collect()
}

/// A timeline filter: each set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineFilter {
    pub channel: Option<String>,
    pub app: Option<String>,
    pub device: Option<String>,
    pub call: Option<CallType>,
}

impl TimelineFilter {
    /// Whether the event passes.
    pub fn matches(&self, e: &StoredEvent) -> bool {
        self.channel.as_ref().is_none_or(|c| *c == e.channel)
            && self.app.as_ref().is_none_or(|a| Some(a) == e.app.as_ref())
            && self
                .device
                .as_ref()
                .is_none_or(|d| Some(d) == e.device.as_ref())
            && self.call.is_none_or(|c| c == e.call)
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        *self == TimelineFilter::default()
    }

    /// `channel=web app=Shop` style description.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(c) = &self.channel {
            parts.push(format!("channel={c}"));
        }
        if let Some(a) = &self.app {
            parts.push(format!("app={a}"));
        }
        if let Some(d) = &self.device {
            parts.push(format!("device={d}"));
        }
        if let Some(c) = self.call {
            parts.push(format!("type={}", c.as_str()));
        }
        parts.join(" ")
    }
}

/// The values a timeline filter offers, for the filter menu.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub channels: Vec<String>,
    pub apps: Vec<String>,
    pub devices: Vec<String>,
    pub calls: Vec<CallType>,
}

/// The values each field of `filter` can take, sorted: those of the events passing its
/// other fields, so that whatever is chosen some event passes (with a channel chosen, only
/// the apps and devices seen on that channel are offered).
pub fn facets(events: &[StoredEvent], filter: &TimelineFilter) -> Facets {
    let passing = |clear: fn(&mut TimelineFilter)| {
        let mut others = filter.clone();
        clear(&mut others);
        events.iter().filter(move |e| others.matches(e))
    };
    let channels: BTreeSet<&String> = passing(|f| f.channel = None).map(|e| &e.channel).collect();
    let apps: BTreeSet<&String> = passing(|f| f.app = None)
        .filter_map(|e| e.app.as_ref())
        .collect();
    let devices: BTreeSet<&String> = passing(|f| f.device = None)
        .filter_map(|e| e.device.as_ref())
        .collect();
    let calls: BTreeSet<CallType> = passing(|f| f.call = None).map(|e| e.call).collect();
    Facets {
        channels: channels.into_iter().cloned().collect(),
        apps: apps.into_iter().cloned().collect(),
        devices: devices.into_iter().cloned().collect(),
        calls: calls.into_iter().collect(),
    }
}

/// Events per bucket for one channel: `buckets` buckets of `bucket_ms` each, ending at `end`
/// (the newest bucket last). Events outside the range are ignored.
pub fn activity(
    events: &[StoredEvent],
    channel: &str,
    end: Millis,
    buckets: usize,
    bucket_ms: Millis,
) -> Vec<u64> {
    let mut counts = vec![0; buckets];
    let start = end - bucket_ms * buckets as Millis;
    for e in events.iter().filter(|e| e.channel == channel) {
        if e.time >= start && e.time < end {
            let i = ((e.time - start) / bucket_ms) as usize;
            counts[i.min(buckets - 1)] += 1;
        }
    }
    counts
}

/// A bucket width that spreads `first..=last` over `buckets` whole days (at least one day).
pub fn bucket_width(first: Millis, last: Millis, buckets: usize) -> Millis {
    let span = (last - first).max(DAY);
    let per = span / buckets.max(1) as Millis + 1;
    (per + DAY - 1) / DAY * DAY
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::Identifier;

    pub(crate) fn ev(seq: u64, time: Millis, channel: &str, ids: &[&str]) -> StoredEvent {
        StoredEvent {
            seq,
            message_id: format!("m{seq}"),
            call: CallType::Track,
            time,
            received_at: time,
            source: channel.into(),
            channel: channel.into(),
            app: None,
            device: None,
            label: format!("event {seq}"),
            identifiers: ids.iter().map(|i| Identifier::parse(i).unwrap()).collect(),
            raw_json: "{}".into(),
            links: Vec::new(),
        }
    }

    #[test]
    fn marks_the_journey_before_and_at_sign_up() {
        let events = vec![
            ev(4, 400, "web", &["user_id:u1"]),
            ev(3, 300, "web", &["anonymous_id:a", "user_id:u1"]),
            ev(2, 200, "ios", &["anonymous_id:b"]),
            ev(1, 100, "web", &["anonymous_id:a"]),
            ev(5, 500, "web", &["anonymous_id:c"]),
        ];
        assert_eq!(conversion_point(&events), Some(3));
        assert_eq!(
            phases(&events),
            vec![
                Phase::Known,
                Phase::Conversion,
                Phase::Anonymous,
                Phase::Anonymous,
                Phase::Known
            ]
        );
        assert!(phases(&events[3..4]).iter().all(|p| *p == Phase::Anonymous));
    }

    #[test]
    fn filters_and_facets() {
        let mut a = ev(1, 100, "web", &["user_id:u"]);
        a.app = Some("Shop".into());
        let b = ev(2, 200, "support", &["user_id:u"]);
        let f = facets(&[a.clone(), b.clone()], &TimelineFilter::default());
        assert_eq!(f.channels, vec!["support", "web"]);
        assert_eq!(f.apps, vec!["Shop"]);
        let filter = TimelineFilter {
            channel: Some("web".into()),
            ..TimelineFilter::default()
        };
        assert!(filter.matches(&a) && !filter.matches(&b));
        assert_eq!(filter.describe(), "channel=web");
    }

    /// With a channel chosen only its apps and devices are offered, and the channels
    /// offered are those of the chosen device: no choice leaves the timeline empty.
    #[test]
    fn facets_offer_only_values_some_event_has_with_the_other_choices() {
        let on = |seq, channel: &str, app: &str, device: &str| {
            let mut e = ev(seq, seq as Millis, channel, &[]);
            e.app = Some(app.into());
            e.device = Some(device.into());
            e
        };
        let events = [
            on(1, "ios", "Shop iOS", "iPhone"),
            on(2, "android", "Shop Android", "Pixel"),
            on(3, "web", "Shop Web", "Chrome"),
        ];
        let android = TimelineFilter {
            channel: Some("android".into()),
            ..TimelineFilter::default()
        };
        let f = facets(&events, &android);
        assert_eq!(
            (f.apps, f.devices),
            (vec!["Shop Android".to_string()], vec!["Pixel".to_string()])
        );
        assert_eq!(
            f.channels,
            vec!["android", "ios", "web"],
            "the channel itself may change"
        );
        let iphone = TimelineFilter {
            device: Some("iPhone".into()),
            ..TimelineFilter::default()
        };
        assert_eq!(facets(&events, &iphone).channels, vec!["ios"]);
    }

    #[test]
    fn buckets_activity_per_channel() {
        let events = vec![
            ev(1, 0, "web", &[]),
            ev(2, DAY, "web", &[]),
            ev(3, DAY + 5, "web", &[]),
            ev(4, DAY, "ios", &[]),
        ];
        assert_eq!(activity(&events, "web", 3 * DAY, 3, DAY), vec![1, 2, 0]);
        assert_eq!(bucket_width(0, 10 * DAY, 5), 3 * DAY);
    }
}
