//! An event as kept in the store: its original JSON plus what resolution derived from it.

use serde::{Deserialize, Serialize};

use super::event::{CallType, Event};
use super::graph::{Link, LinkRule, Provenance};
use super::identifier::Identifier;
use super::time::Millis;

/// A link an event made between two of its identifiers (indices into the event's
/// `identifiers`); the event itself is its provenance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventLink {
    pub from: u16,
    pub to: u16,
    pub rule: LinkRule,
}

impl EventLink {
    /// The link between two of an event's identifiers, numbered by their place among them;
    /// `None` when they do not hold both (or too many to number).
    pub fn between(
        identifiers: &[Identifier],
        from: &Identifier,
        to: &Identifier,
        rule: LinkRule,
    ) -> Option<EventLink> {
        let index = |id: &Identifier| {
            let at = identifiers.iter().position(|held| held == id)?;
            u16::try_from(at).ok()
        };
        Some(EventLink {
            from: index(from)?,
            to: index(to)?,
            rule,
        })
    }
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Ingest sequence number, unique and increasing within a space.
    pub seq: u64,
    pub message_id: String,
    pub call: CallType,
    /// Event time (timestamp, else originalTimestamp, receivedAt, sentAt).
    pub time: Millis,
    /// When idgraph received it.
    pub received_at: Millis,
    /// Source (app/tool) name.
    pub source: String,
    /// Channel (web, ios, android, support, sales, marketing, ...).
    pub channel: String,
    /// `context.app.name`, when sent.
    pub app: Option<String>,
    /// Device description: `ios.id:…`/`android.id:…`/`device_id:…` or the user agent family.
    pub device: Option<String>,
    /// A short label: track event name, page/screen name, or call type.
    pub label: String,
    /// The identifiers that attributed this event to its profile.
    pub identifiers: Vec<Identifier>,
    /// The original JSON text.
    pub raw_json: String,
    /// The links the event made. A bundle stores them after the event's other fields (see
    /// `store::bundle`), so events stored before links moved into them read as making none.
    #[serde(skip)]
    pub links: Vec<EventLink>,
}

impl StoredEvent {
    /// Builds the stored record of an event.
    pub fn from_event(
        event: &Event,
        seq: u64,
        time: Millis,
        source: &str,
        channel: &str,
        identifiers: Vec<Identifier>,
    ) -> StoredEvent {
        StoredEvent {
            seq,
            message_id: event.message_id.clone(),
            call: event.call,
            time,
            received_at: event.received_at.unwrap_or(time),
            source: source.to_string(),
            channel: channel.to_string(),
            app: event.app.clone(),
            device: event.device.clone(),
            label: event.label(),
            identifiers,
            raw_json: event.raw_json(),
            links: Vec::new(),
        }
    }

    /// The links the event made, with the event as their provenance.
    pub fn made_links(&self) -> impl Iterator<Item = Link> + '_ {
        self.links.iter().filter_map(|link| {
            Some(Link {
                from: self.identifiers.get(usize::from(link.from))?.clone(),
                to: self.identifiers.get(usize::from(link.to))?.clone(),
                rule: link.rule,
                provenance: Provenance {
                    message_id: self.message_id.clone(),
                    source: self.source.clone(),
                    time: self.time,
                    op: None,
                },
            })
        })
    }

    /// Whether the event carried a user id (a known, signed-up person).
    pub fn is_known(&self) -> bool {
        self.identifiers
            .iter()
            .any(|i| i.kind == super::identifier::USER_ID)
    }

    /// Whether the event carried both an anonymous id and a user id (a conversion point).
    pub fn links_anonymous_to_known(&self) -> bool {
        self.is_known()
            && self
                .identifiers
                .iter()
                .any(|i| i.kind == super::identifier::ANONYMOUS_ID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keeps_the_app_device_and_label_the_event_was_read_with() {
        let e = Event::from_json(json!({"type":"track","event":"Order Completed",
            "anonymousId":"a","context":{"app":{"name":"Recipes"},"device":{"type":"android"}}}))
        .unwrap();
        let s = StoredEvent::from_event(&e, 1, 0, "android", "android", vec![]);
        assert_eq!(
            (s.app.as_deref(), s.device.as_deref(), s.label.as_str()),
            (Some("Recipes"), Some("android"), "Order Completed")
        );
    }
}
