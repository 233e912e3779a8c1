//! An event as kept in the store: its original JSON plus what resolution derived from it.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::event::{CallType, Event, scalar_text};
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

/// `context.app.name` as text.
pub(super) fn app_name(context: Option<&Map<String, Value>>) -> Option<String> {
    let app = context?.get("app")?;
    app.as_object()?.get("name").and_then(scalar_text)
}

/// A short description of the device a context names: `MODEL (ID…)`, or the browser family
/// its user agent names.
pub(super) fn device_label(context: Option<&Map<String, Value>>) -> Option<String> {
    let device = context
        .and_then(|c| c.get("device"))
        .and_then(Value::as_object);
    let part = |key: &str| device.and_then(|d| d.get(key)).and_then(scalar_text);
    match (part("type"), part("model"), part("id")) {
        (None, None, None) => context
            .and_then(|c| c.get("userAgent"))
            .and_then(scalar_text)
            .map(|ua| browser_family(&ua).to_string()),
        (t, m, id) => {
            let mut parts: Vec<String> = Vec::new();
            if let Some(m) = m.or(t) {
                parts.push(m);
            }
            if let Some(id) = id {
                let short: String = id.chars().take(8).collect();
                parts.push(format!("({short})"));
            }
            Some(parts.join(" "))
        }
    }
}

fn browser_family(user_agent: &str) -> &'static str {
    let platform = if user_agent.contains("iPhone") || user_agent.contains("iPad") {
        "iOS"
    } else if user_agent.contains("Android") {
        "Android"
    } else if user_agent.contains("Mac OS") {
        "macOS"
    } else if user_agent.contains("Windows") {
        "Windows"
    } else if user_agent.contains("Linux") {
        "Linux"
    } else {
        ""
    };
    let browser = if user_agent.contains("Edg/") {
        "Edge"
    } else if user_agent.contains("Firefox/") {
        "Firefox"
    } else if user_agent.contains("Chrome/") {
        "Chrome"
    } else if user_agent.contains("Safari/") {
        "Safari"
    } else {
        "Browser"
    };
    match (browser, platform) {
        ("Chrome", "macOS") => "Chrome on macOS",
        ("Chrome", "Windows") => "Chrome on Windows",
        ("Chrome", "Android") => "Chrome on Android",
        ("Chrome", "Linux") => "Chrome on Linux",
        ("Safari", "iOS") => "Safari on iOS",
        ("Safari", "macOS") => "Safari on macOS",
        ("Firefox", "Windows") => "Firefox on Windows",
        ("Firefox", "macOS") => "Firefox on macOS",
        ("Firefox", "Linux") => "Firefox on Linux",
        ("Edge", _) => "Edge",
        ("Chrome", _) => "Chrome",
        ("Safari", _) => "Safari",
        ("Firefox", _) => "Firefox",
        _ => "Browser",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn describes_devices_and_browsers() {
        let e = Event::from_json(json!({"type":"screen","userId":"u","name":"Cart",
            "context":{"app":{"name":"Shop","version":"2.1"},
            "device":{"type":"ios","model":"iPhone15,2","id":"ABCDEF123456"}}}))
        .unwrap();
        let s = StoredEvent::from_event(&e, 1, 0, "ios", "ios", vec![]);
        assert_eq!(s.device.as_deref(), Some("iPhone15,2 (ABCDEF12)"));
        assert_eq!(s.app.as_deref(), Some("Shop"));
        assert_eq!(s.label, "screen Cart");
        let w = Event::from_json(json!({"type":"page","anonymousId":"a","context":{"userAgent":
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15"}}))
        .unwrap();
        let s = StoredEvent::from_event(&w, 2, 0, "web", "web", vec![]);
        assert_eq!(s.device.as_deref(), Some("Safari on macOS"));
        assert_eq!(s.app, None);
        // Read from a line as `idgraph ingest` reads it (only the fields it uses parsed).
        let line = r#"{"type":"page","anonymousId":"a","messageId":"m","context":{"app":{"name":"Web"},"userAgent":"Mozilla/5.0 (Windows NT 10.0) Chrome/120.0 Safari/537.36"}}"#;
        let read = Event::from_line(line, &crate::model::ReadFields::default()).unwrap();
        assert_eq!(
            (read.app.as_deref(), read.device.as_deref()),
            (Some("Web"), Some("Chrome on Windows"))
        );
    }
}
