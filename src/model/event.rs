//! Segment-spec events: the six call types with their documented fields.
//!
//! The original JSON object is kept untouched in [`Event::raw`] so users can always see
//! exactly what arrived; the typed fields are read from it once. Events read from a line
//! of text keep that text instead, and of the object only the fields ingest reads (see
//! [`ReadFields`]), so storing them does not write the JSON out again. The one exception
//! is a top-level `writeKey`: a credential, kept apart in [`Event::write_key`] for routing
//! and left out of the JSON (cut out of the text, byte for byte otherwise).

use std::borrow::Cow;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::device::{app_name, device_label};
use super::json_cut::cut_members;
use super::read_fields::{ReadFields, WRITE_KEY};
use super::time::{DAY, Millis, format_time, parse_time, time_value};

/// The six Segment call types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum CallType {
    Identify,
    Track,
    Page,
    Screen,
    Group,
    Alias,
}

impl CallType {
    /// Every call type, in spec order.
    pub const ALL: [CallType; 6] = [
        CallType::Identify,
        CallType::Track,
        CallType::Page,
        CallType::Screen,
        CallType::Group,
        CallType::Alias,
    ];

    /// The lower-case name used on the wire (`identify`, `track`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Identify => "identify",
            CallType::Track => "track",
            CallType::Page => "page",
            CallType::Screen => "screen",
            CallType::Group => "group",
            CallType::Alias => "alias",
        }
    }

    /// Reads a wire name; `None` for anything that is not a Segment call type.
    pub fn from_name(name: &str) -> Option<CallType> {
        CallType::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

/// Why a JSON value is not an acceptable event.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EventError {
    #[error("event is not a JSON object")]
    NotObject,
    #[error("event has no \"type\"")]
    MissingType,
    #[error("unknown event type \"{0}\" (expected identify, track, page, screen, group or alias)")]
    UnknownType(String),
    #[error("event has neither userId nor anonymousId")]
    NoIdentity,
    #[error("alias event has no previousId")]
    AliasWithoutPreviousId,
    #[error("track event has no \"event\" name")]
    TrackWithoutName,
    #[error("\"{field}\" is not a valid time: {value}")]
    BadTime { field: &'static str, value: String },
    #[error("\"{field}\" must be {expected}")]
    BadField {
        field: &'static str,
        expected: &'static str,
    },
    #[error(
        "\"{field}\" {value} is out of range: event times must lie between 1970-01-01T00:00:00Z and one day after receipt"
    )]
    TimeOutOfRange { field: &'static str, value: String },
}

/// Earliest event time accepted: 1970-01-01T00:00:00Z. Earlier times are junk defaults
/// (`0001-01-01`, negative epochs) that would sort before every real event.
pub const EARLIEST_TIME: Millis = 0;

/// How far past its receipt an event's time may lie: one day (time zone mistakes); further
/// would let a wrong clock win every newest-wins trait for months.
pub const MAX_FUTURE: Millis = DAY;

/// Checks that the time resolution will use for an event (see [`Event::time`]) lies within
/// [`EARLIEST_TIME`] and `received_at` + [`MAX_FUTURE`]. Events out of range are rejected
/// (the rest of their batch or file still goes in).
pub fn check_time_bounds(event: &Event, received_at: Millis) -> Result<(), EventError> {
    let Some((field, time)) = event.time_source() else {
        return Ok(());
    };
    if time < EARLIEST_TIME || time > received_at.saturating_add(MAX_FUTURE) {
        return Err(EventError::TimeOutOfRange {
            field,
            value: format_time(time),
        });
    }
    Ok(())
}

/// One Segment-spec event with its typed fields read out of the original JSON.
#[derive(Clone, Debug)]
pub struct Event {
    pub call: CallType,
    /// The client's `messageId`; generated from the content when missing.
    pub message_id: String,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub previous_id: Option<String>,
    pub group_id: Option<String>,
    /// `event` of a track call.
    pub event_name: Option<String>,
    /// `name` of a page or screen call.
    pub page_name: Option<String>,
    pub timestamp: Option<Millis>,
    pub original_timestamp: Option<Millis>,
    pub sent_at: Option<Millis>,
    pub received_at: Option<Millis>,
    /// `context.app.name`, when sent.
    pub app: Option<String>,
    /// The device `context` describes: `context.device` model (else type) and the start of
    /// its id, else the browser family of `context.userAgent`. Read with the event, while
    /// its JSON is at hand.
    pub device: Option<String>,
    /// The top-level `writeKey` when it was a string: it names the event's source, and is
    /// not part of the JSON kept.
    write_key: Option<String>,
    /// The original JSON object, exactly as received (plus server-set fields such as
    /// `receivedAt`, less `writeKey`); only the fields ingest reads while `partial`.
    raw: Map<String, Value>,
    /// The text `raw` was read from, while nothing has changed `raw` since.
    text: Option<Box<str>>,
    /// `raw` holds only what [`ReadFields`] kept of `text`.
    partial: bool,
}

/// Events are equal when their whole JSON and write key are.
impl PartialEq for Event {
    fn eq(&self, other: &Event) -> bool {
        self.write_key == other.write_key && self.whole_raw() == other.whole_raw()
    }
}

impl Event {
    /// Reads an event from a parsed JSON value, checking the fields the spec requires.
    pub fn from_json(value: Value) -> Result<Event, EventError> {
        match value {
            Value::Object(map) => Event::from_map(map),
            _ => Err(EventError::NotObject),
        }
    }

    /// Reads an event from one line of JSON text, keeping the text, less any top-level
    /// `writeKey` member, as the event's original JSON and parsing of it only what `fields`
    /// names. An event without a `messageId` is read whole: its generated id is written
    /// into its JSON.
    pub fn from_line(text: &str, fields: &ReadFields) -> Result<Event, LineError> {
        let read = fields.read(text)?.ok_or(EventError::NotObject)?;
        let kept = match read.fields.get("messageId") {
            None | Some(Value::Null) => None,
            Some(_) if read.write_keys.is_empty() => Some(text.into()),
            Some(_) => cut_members(text, &read.write_keys).map(String::into_boxed_str),
        };
        // Read whole without a messageId, or (never for ranges the read gave) when the
        // write key could not be cut out of the text.
        let Some(kept) = kept else {
            let Value::Object(whole) = serde_json::from_str(text)? else {
                return Err(EventError::NotObject.into());
            };
            return Ok(Event::from_map(whole)?);
        };
        let mut event = Event::from_map(read.fields)?;
        event.text = Some(kept);
        event.partial = true;
        Ok(event)
    }

    /// Reads an event from a JSON object. A top-level `writeKey` is taken out of it (see
    /// [`Event::write_key`]).
    pub fn from_map(mut raw: Map<String, Value>) -> Result<Event, EventError> {
        let call = match raw.get("type") {
            None | Some(Value::Null) => return Err(EventError::MissingType),
            Some(Value::String(name)) => CallType::from_name(&name.to_ascii_lowercase())
                .ok_or_else(|| EventError::UnknownType(name.clone()))?,
            Some(other) => return Err(EventError::UnknownType(other.to_string())),
        };
        let user_id = id_field(&raw, "userId")?;
        let anonymous_id = id_field(&raw, "anonymousId")?;
        if user_id.is_none() && anonymous_id.is_none() {
            return Err(EventError::NoIdentity);
        }
        let previous_id = id_field(&raw, "previousId")?;
        if call == CallType::Alias && previous_id.is_none() {
            return Err(EventError::AliasWithoutPreviousId);
        }
        let event_name = text_field(&raw, "event")?;
        if call == CallType::Track && event_name.is_none() {
            return Err(EventError::TrackWithoutName);
        }
        let message_id = match id_field(&raw, "messageId")? {
            Some(id) => id,
            None => {
                // Written into the JSON, so the stored event reads back with the same id
                // after server-set fields (receivedAt, timestamp) change its content. It is
                // taken from the event as it arrived, write key included, as it always was:
                // a file ingested before is still recognised.
                let id = content_message_id(&raw);
                raw.insert("messageId".into(), Value::String(id.clone()));
                id
            }
        };
        // The write key is a credential, not event data: it is never stored.
        let write_key = match raw.shift_remove(WRITE_KEY) {
            Some(Value::String(key)) => Some(key),
            _ => None,
        };
        let context = raw.get("context").and_then(Value::as_object);
        let (app, device) = (app_name(context), device_label(context));
        Ok(Event {
            call,
            message_id,
            user_id,
            anonymous_id,
            previous_id,
            group_id: id_field(&raw, "groupId")?,
            event_name,
            page_name: text_field(&raw, "name")?,
            timestamp: time_field(&raw, "timestamp")?,
            original_timestamp: time_field(&raw, "originalTimestamp")?,
            sent_at: time_field(&raw, "sentAt")?,
            received_at: time_field(&raw, "receivedAt")?,
            app,
            device,
            write_key,
            raw,
            text: None,
            partial: false,
        })
    }

    /// When the event happened: `timestamp`, else `originalTimestamp`, else `receivedAt`,
    /// else `sentAt`. `None` when the event carries no time at all.
    pub fn time(&self) -> Option<Millis> {
        self.time_source().map(|(_, time)| time)
    }

    /// The field [`Event::time`] reads, with its value.
    pub fn time_source(&self) -> Option<(&'static str, Millis)> {
        [
            ("timestamp", self.timestamp),
            ("originalTimestamp", self.original_timestamp),
            ("receivedAt", self.received_at),
            ("sentAt", self.sent_at),
        ]
        .into_iter()
        .find_map(|(field, time)| time.map(|t| (field, t)))
    }

    /// Sets `receivedAt` (both the typed field and the raw JSON) to `at`.
    pub fn set_received_at(&mut self, at: Millis) {
        self.received_at = Some(at);
        self.raw_mut().insert("receivedAt".into(), time_value(at));
    }

    /// Sets the corrected `timestamp` (typed field and raw JSON).
    pub fn set_timestamp(&mut self, at: Millis) {
        self.timestamp = Some(at);
        self.raw_mut().insert("timestamp".into(), time_value(at));
    }

    /// The `writeKey` the event carried (a string), which names its source. It is not part
    /// of the event's JSON: a write key is a credential, and is never stored.
    pub fn write_key(&self) -> Option<&str> {
        self.write_key.as_deref()
    }

    /// The event's JSON object; of an event read by [`Event::from_line`], only the fields
    /// its [`ReadFields`] named (the rest is in [`Event::raw_json`]).
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The event's whole JSON object.
    pub fn whole_raw(&self) -> Cow<'_, Map<String, Value>> {
        match (&self.text, self.partial) {
            (Some(text), true) => match serde_json::from_str(text) {
                Ok(Value::Object(whole)) => Cow::Owned(whole),
                _ => Cow::Borrowed(&self.raw),
            },
            _ => Cow::Borrowed(&self.raw),
        }
    }

    /// The event's whole JSON object, to change: the text it was read from is no longer
    /// kept. Typed fields (ids, times, app, device) are not re-read; whoever changes a field
    /// they come from sets both.
    pub fn raw_mut(&mut self) -> &mut Map<String, Value> {
        if self.partial {
            self.raw = self.whole_raw().into_owned();
            self.partial = false;
        }
        self.text = None;
        &mut self.raw
    }

    /// `traits` for identify/group calls (empty object otherwise).
    pub fn traits(&self) -> Option<&Map<String, Value>> {
        self.raw.get("traits").and_then(Value::as_object)
    }

    /// `context.traits`, where several clients put identify traits.
    pub fn context_traits(&self) -> Option<&Map<String, Value>> {
        self.context()
            .and_then(|c| c.get("traits"))
            .and_then(Value::as_object)
    }

    /// The traits this event sets on a profile: `context.traits` overlaid by `traits`
    /// (identify calls only; other calls do not change profile traits).
    pub fn profile_traits(&self) -> Map<String, Value> {
        let mut out = Map::new();
        if self.call != CallType::Identify {
            return out;
        }
        for source in [self.context_traits(), self.traits()].into_iter().flatten() {
            for (k, v) in source {
                out.insert(k.clone(), v.clone());
            }
        }
        out
    }

    /// `properties` of track/page/screen calls.
    pub fn properties(&self) -> Option<&Map<String, Value>> {
        self.raw.get("properties").and_then(Value::as_object)
    }

    /// The `context` object.
    pub fn context(&self) -> Option<&Map<String, Value>> {
        self.raw.get("context").and_then(Value::as_object)
    }

    /// A value at a dotted path inside the event, e.g. `context.device.type`.
    pub fn path(&self, dotted: &str) -> Option<&Value> {
        let mut parts = dotted.split('.');
        let mut current = self.raw.get(parts.next()?)?;
        for part in parts {
            current = current.as_object()?.get(part)?;
        }
        Some(current)
    }

    /// A string at a dotted path (numbers are rendered as text).
    pub fn path_str(&self, dotted: &str) -> Option<String> {
        self.path(dotted).and_then(scalar_text)
    }

    /// A short human label: the track event name, the page/screen name, or the call type.
    pub fn label(&self) -> String {
        match self.call {
            CallType::Track => self.event_name.clone().unwrap_or_default(),
            CallType::Page | CallType::Screen => match &self.page_name {
                Some(name) => format!("{} {}", self.call.as_str(), name),
                None => self.call.as_str().to_string(),
            },
            CallType::Group => match &self.group_id {
                Some(g) => format!("group {g}"),
                None => "group".into(),
            },
            CallType::Alias => "alias".into(),
            CallType::Identify => "identify".into(),
        }
    }

    /// The original JSON text of the event: the text it was read from when kept.
    pub fn raw_json(&self) -> String {
        match &self.text {
            Some(text) => text.to_string(),
            None => serde_json::to_string(&self.raw).unwrap_or_default(),
        }
    }
}

/// Why a line of text is not an acceptable event.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("invalid JSON: {}", json_reason(.0))]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Event(#[from] EventError),
}

/// A JSON error without its position (a line number is reported by whoever read the line).
fn json_reason(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let reason = text.split(" at line").next().unwrap_or(&text);
    if reason == "recursion limit exceeded" {
        "nested deeper than 128 levels".to_string()
    } else {
        reason.to_string()
    }
}

/// Renders a JSON scalar as identifier text: strings as-is, numbers and booleans as text.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn id_field(raw: &Map<String, Value>, field: &'static str) -> Result<Option<String>, EventError> {
    match raw.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Ok(Some(n.to_string())),
        Some(Value::Number(_)) => Err(EventError::BadField {
            field,
            expected: "a string or a whole number of at most 64 bits (a fraction or a larger number loses digits: send it as a string)",
        }),
        Some(_) => Err(EventError::BadField {
            field,
            expected: "a string or a number",
        }),
    }
}

fn text_field(raw: &Map<String, Value>, field: &'static str) -> Result<Option<String>, EventError> {
    match raw.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(EventError::BadField {
            field,
            expected: "a string",
        }),
    }
}

fn time_field(raw: &Map<String, Value>, field: &'static str) -> Result<Option<Millis>, EventError> {
    match raw.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => parse_time(value)
            .map(Some)
            .ok_or_else(|| EventError::BadTime {
                field,
                value: truncate(&value.to_string(), 60),
            }),
    }
}

fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}...")
    }
}

/// A stable message id for events that arrive without one: a hash of the JSON content,
/// so re-ingesting the same line is still recognised as a duplicate.
fn content_message_id(raw: &Map<String, Value>) -> String {
    let text = serde_json::to_string(raw).unwrap_or_default();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("content-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn reads_a_track_call() {
        let e = Event::from_json(json!({
            "type": "track", "event": "Order Completed", "userId": 42,
            "anonymousId": "a-1", "messageId": "m1",
            "timestamp": "2024-03-01T10:00:00.000Z",
            "properties": {"total": 12.5}
        }))
        .unwrap();
        assert_eq!(e.call, CallType::Track);
        assert_eq!(e.user_id.as_deref(), Some("42"));
        assert_eq!(e.label(), "Order Completed");
        assert_eq!(e.time(), Some(1_709_287_200_000));
    }

    #[test]
    fn explicit_nulls_count_as_absent() {
        let e =
            Event::from_json(json!({"type":"identify","userId":null,"anonymousId":"a"})).unwrap();
        assert_eq!(e.user_id, None);
        assert!(e.message_id.starts_with("content-"));
    }

    #[test]
    fn rejects_events_without_identity_or_type() {
        assert_eq!(
            Event::from_json(json!({"type":"track","event":"x"})),
            Err(EventError::NoIdentity)
        );
        assert_eq!(
            Event::from_json(json!({"userId":"u"})),
            Err(EventError::MissingType)
        );
        assert!(matches!(
            Event::from_json(json!({"type":"boom","userId":"u"})),
            Err(EventError::UnknownType(_))
        ));
        assert_eq!(
            Event::from_json(json!({"type":"alias","userId":"u"})),
            Err(EventError::AliasWithoutPreviousId)
        );
        assert_eq!(Event::from_json(json!([1])), Err(EventError::NotObject));
    }

    #[test]
    fn inexact_numeric_ids_are_refused() {
        let e = Event::from_json(json!({"type":"page","userId":18446744073709551615_u64})).unwrap();
        assert_eq!(e.user_id.as_deref(), Some("18446744073709551615"));
        let big: Value =
            serde_json::from_str(r#"{"type":"page","userId":123456789012345678901234567890}"#)
                .unwrap();
        let err = Event::from_json(big).unwrap_err();
        assert!(err.to_string().contains("send it as a string"), "{err}");
        assert!(Event::from_json(json!({"type":"page","anonymousId":1.5})).is_err());
    }

    #[test]
    fn times_out_of_range_are_named() {
        let received = 1_700_000_000_000;
        let at = |ts: Value| {
            let e = Event::from_json(json!({"type":"page","userId":"u","timestamp":ts})).unwrap();
            check_time_bounds(&e, received)
        };
        assert!(at(json!("2023-11-14T00:00:00Z")).is_ok());
        assert!(at(json!("1970-01-01T00:00:00Z")).is_ok());
        let old = at(json!("0001-01-01T00:00:00Z")).unwrap_err().to_string();
        assert!(
            old.contains("\"timestamp\" 0001-01-01T00:00:00.000Z is out of range"),
            "{old}"
        );
        assert!(at(json!(received + DAY + 1)).is_err());
        assert!(at(json!(received + DAY)).is_ok());
        let e = Event::from_json(json!({"type":"page","userId":"u"})).unwrap();
        assert!(check_time_bounds(&e, received).is_ok());
    }

    #[test]
    fn bad_times_are_named() {
        let err = Event::from_json(json!({"type":"page","userId":"u","timestamp":"yesterday"}))
            .unwrap_err();
        assert!(err.to_string().contains("timestamp"));
    }

    #[test]
    fn profile_traits_overlay_context_traits() {
        let e = Event::from_json(json!({"type":"identify","userId":"u",
            "context":{"traits":{"email":"a@x.io","plan":"free"}},
            "traits":{"plan":"pro"}}))
        .unwrap();
        let t = e.profile_traits();
        assert_eq!(t["plan"], "pro");
        assert_eq!(t["email"], "a@x.io");
    }

    #[test]
    fn a_line_is_stored_as_it_was_read_until_the_event_changes() {
        let line = r#"{"userId": "u", "type": "page",  "messageId": "m1", "n": 1.50}"#;
        let mut e = Event::from_line(line, &ReadFields::default()).unwrap();
        assert_eq!(e.raw_json(), line);
        assert_eq!(e.whole_raw()["n"], 1.5);
        e.set_received_at(1_700_000_000_000);
        let stored: Value = serde_json::from_str(&e.raw_json()).unwrap();
        assert_eq!(stored["receivedAt"], "2023-11-14T22:13:20.000Z");
        assert_eq!(stored["userId"], "u");

        // Without a messageId the generated one is written into the JSON.
        let line = r#"{"type":"page","userId":"u"}"#;
        let e = Event::from_line(line, &ReadFields::default()).unwrap();
        let stored: Value = serde_json::from_str(&e.raw_json()).unwrap();
        assert_eq!(stored["messageId"].as_str(), Some(e.message_id.as_str()));
    }

    #[test]
    fn the_write_key_is_cut_out_of_the_line_and_kept_for_routing() {
        let cases = [
            (
                r#"{"writeKey":"k","type":"page","userId":"u","messageId":"m"}"#,
                r#"{"type":"page","userId":"u","messageId":"m"}"#,
            ),
            (
                r#"{"type":"page","writeKey":"k","userId":"u","messageId":"m"}"#,
                r#"{"type":"page","userId":"u","messageId":"m"}"#,
            ),
            (
                r#"{"type":"page","userId":"u","messageId":"m","writeKey":"k"}"#,
                r#"{"type":"page","userId":"u","messageId":"m"}"#,
            ),
            (
                "{ \"type\" : \"page\" ,\t\"writeKey\"\t:  \"k\" ,\n\"userId\":\"u\",  \"messageId\":\"m\" }",
                "{ \"type\" : \"page\" ,\n\"userId\":\"u\",  \"messageId\":\"m\" }",
            ),
            // Any spelling of the key is the same key to every JSON reader.
            (
                r#"{"type":"page","write\u004bey":"k","userId":"u","messageId":"m"}"#,
                r#"{"type":"page","userId":"u","messageId":"m"}"#,
            ),
            // Repeated: the last one counts, none is kept.
            (
                r#"{"writeKey":"j","type":"page","writeKey":"k","userId":"u","messageId":"m"}"#,
                r#"{"type":"page","userId":"u","messageId":"m"}"#,
            ),
            // Inside properties, or spelled otherwise, it is event data and stays.
            (
                r#"{"type":"page","userId":"u","messageId":"m","properties":{"writeKey":"p"},"writekey":1,"writeKey":"k"}"#,
                r#"{"type":"page","userId":"u","messageId":"m","properties":{"writeKey":"p"},"writekey":1}"#,
            ),
        ];
        for (line, stored) in cases {
            let e = Event::from_line(line, &ReadFields::default()).unwrap();
            assert_eq!(e.raw_json(), stored, "{line}");
            assert_eq!(e.write_key(), Some("k"), "{line}");
            assert!(!e.raw().contains_key("writeKey"), "{line}");
            let whole = Event::from_json(serde_json::from_str(line).unwrap()).unwrap();
            assert_eq!(e, whole, "{line}");
            assert!(!whole.raw_json().contains(r#""writeKey":"k""#), "{line}");
        }
    }

    #[test]
    fn a_write_key_that_is_no_string_routes_nothing_and_is_not_stored_either() {
        let line = r#"{"type":"page","userId":"u","messageId":"m","writeKey":{"k":[1]}}"#;
        let e = Event::from_line(line, &ReadFields::default()).unwrap();
        assert_eq!(
            e.raw_json(),
            r#"{"type":"page","userId":"u","messageId":"m"}"#
        );
        assert_eq!(e.write_key(), None);
        // As deep as in a full parse: nested past the limit inside the write key is refused.
        let deep = format!(
            r#"{{"type":"page","userId":"u","messageId":"m","writeKey":{}{}}}"#,
            "[".repeat(127),
            "]".repeat(127)
        );
        assert!(serde_json::from_str::<Value>(&deep).is_err());
        assert!(Event::from_line(&deep, &ReadFields::default()).is_err());
        let fits = deep.replacen('[', "", 1).replacen(']', "", 1);
        assert!(serde_json::from_str::<Value>(&fits).is_ok());
        assert!(Event::from_line(&fits, &ReadFields::default()).is_ok());
    }

    #[test]
    fn an_event_read_whole_leaves_its_write_key_out_too() {
        let line = r#"{"type":"page","userId":"u","writeKey":"k"}"#;
        let mut e = Event::from_line(line, &ReadFields::default()).unwrap();
        assert_eq!(e.write_key(), Some("k"));
        assert!(!e.raw().contains_key("writeKey"));
        // The id generated from the content is the one generated before write keys were
        // left out, so a file ingested then is still recognised.
        let arrived: Map<String, Value> = serde_json::from_str(line).unwrap();
        assert_eq!(e.message_id, content_message_id(&arrived));
        e.set_received_at(1_700_000_000_000);
        let stored = e.raw_json();
        assert!(!stored.contains("writeKey"), "{stored}");
        let again = Event::from_line(&stored, &ReadFields::default()).unwrap();
        assert_eq!(again.message_id, e.message_id);
        assert_eq!(again.write_key(), None);
        let from_map = Event::from_json(serde_json::from_str(line).unwrap()).unwrap();
        assert!(!from_map.raw().contains_key("writeKey"));
        assert_eq!(from_map.write_key(), Some("k"));
    }

    /// Found by fuzzing (fuzz/artifacts/event_parser/crash-852a0d8a…): an event without a
    /// messageId read back from its stored JSON, after receivedAt was set, got another
    /// content id, so a restore or a re-ingest after restore would duplicate it.
    #[test]
    fn generated_message_ids_survive_the_stored_json() {
        let line = br#"{"type": "alias", "userId": "u2", "previousId": "a9"}"#;
        let value: Value = serde_json::from_slice(line).unwrap();
        let mut e = Event::from_json(value.clone()).unwrap();
        e.set_received_at(1_700_000_000_000);
        e.set_timestamp(1_700_000_000_000);
        let stored: Value = serde_json::from_str(&e.raw_json()).unwrap();
        assert_eq!(Event::from_json(stored).unwrap().message_id, e.message_id);
        assert_eq!(Event::from_json(value).unwrap().message_id, e.message_id);
    }

    /// serde_json's default float parsing can be one unit off (2^70 came back as
    /// 1.1805916207174112e21), so a trait read back from the stored JSON differed from the
    /// one ingested and `check` reported the profile; with `float_roundtrip` it is exact.
    #[test]
    fn floats_read_back_exactly_from_the_stored_json() {
        let line = r#"{"type":"identify","userId":"u","traits":{"big":1180591620717411303424,
            "score":0.30000000000000004,"tiny":2.225073858507201e-308}}"#;
        let e = Event::from_json(serde_json::from_str(line).unwrap()).unwrap();
        let traits = e.traits().unwrap();
        assert_eq!(traits["big"].as_f64(), Some(2_f64.powi(70)));
        assert_eq!(traits["score"].as_f64(), Some(0.1 + 0.2));
        assert_eq!(traits["tiny"].as_f64(), Some(2.225073858507201e-308));
        let again = Event::from_json(serde_json::from_str(&e.raw_json()).unwrap()).unwrap();
        assert_eq!(again.raw(), e.raw());
    }

    /// Found by fuzzing (fuzz/artifacts/event_parser/crash-0415cec6…): a time past year
    /// 9999 set as receivedAt was written as the text "351844674407330", and the stored
    /// JSON no longer read back as an event.
    #[test]
    fn times_past_year_9999_survive_the_stored_json() {
        let line = br#"{"type": "track", "event": "Ordered", "userId": 43, "originalTimestamp":351844674407330}"#;
        let mut e = Event::from_json(serde_json::from_slice(line).unwrap()).unwrap();
        let time = e.time().unwrap();
        e.set_received_at(time);
        e.set_timestamp(time);
        let again = Event::from_json(serde_json::from_str(&e.raw_json()).unwrap()).unwrap();
        assert_eq!(again.raw(), e.raw());
        assert_eq!(
            (again.received_at, again.timestamp),
            (Some(time), Some(time))
        );
    }

    #[test]
    fn content_ids_are_stable() {
        let a = Event::from_json(json!({"type":"page","userId":"u"})).unwrap();
        let b = Event::from_json(json!({"type":"page","userId":"u"})).unwrap();
        assert_eq!(a.message_id, b.message_id);
    }

    /// Whitespace between the tokens of an object's text.
    fn space() -> impl Strategy<Value = String> {
        "[ \t\r\n]{0,2}"
    }

    /// A JSON value a few levels deep; its objects may hold `writeKey` members.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            "[a-z\"\\\\ é\u{1}]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::vec(("writeKey|[a-z\"\\\\é]{0,3}", inner), 0..4)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// A top-level member: the key as written (a `writeKey` spelled with or without
    /// escapes, or another key that is none of the fields an event requires), its value,
    /// and the whitespace around the colon.
    fn member() -> impl Strategy<Value = (String, Value, String, String)> {
        let key = prop_oneof![
            Just(r#""writeKey""#.to_string()),
            Just(r#""write\u004bey""#.to_string()),
            Just(r#""\u0077riteKey""#.to_string()),
            "writekey|WriteKey|[a-z\"\\\\é]{0,3}"
                .prop_map(|key| serde_json::to_string(&key).unwrap()),
        ];
        (key, json_value(), space(), space())
    }

    proptest! {
        /// An event line with top-level `writeKey` members anywhere, spaced any way, is
        /// stored as its original object less `writeKey`, every member kept written as it
        /// was, and the write key read is the one a full parse sees.
        #[test]
        fn the_stored_line_is_the_object_less_its_write_key(
            members in prop::collection::vec(member(), 0..6),
            required_at in prop::collection::vec(0_usize..8, 3),
            pretty in any::<bool>(),
            spaces in prop::collection::vec(space(), 8),
        ) {
            let mut members: Vec<(String, String)> = members
                .into_iter()
                .map(|(key, value, before, after)| {
                    let value = if pretty {
                        serde_json::to_string_pretty(&value).unwrap()
                    } else {
                        value.to_string()
                    };
                    (key.clone(), format!("{key}{before}:{after}{value}"))
                })
                .collect();
            for (field, at) in ["type", "userId", "messageId"].into_iter().zip(&required_at) {
                let key = format!(r#""{field}""#);
                let text = format!(r#"{key}:"page""#);
                members.insert(at % (members.len() + 1), (key, text));
            }
            let mut line = format!("{}{{{}", spaces[0], spaces[1]);
            for (i, (_, text)) in members.iter().enumerate() {
                if i > 0 {
                    line.push_str(&spaces[2 + i % 3]);
                    line.push(',');
                    line.push_str(&spaces[5 + i % 3]);
                }
                line.push_str(text);
            }
            line.push_str(&spaces[1]);
            line.push('}');

            let e = Event::from_line(&line, &ReadFields::default()).unwrap();
            let stored = e.raw_json();
            let mut expected: Map<String, Value> = serde_json::from_str(&line).unwrap();
            let write_key = expected.shift_remove("writeKey");
            prop_assert_eq!(serde_json::from_str::<Value>(&stored).unwrap(), Value::Object(expected));
            prop_assert_eq!(e.write_key(), write_key.as_ref().and_then(Value::as_str));
            let mut rest = stored.as_str();
            for (key, text) in &members {
                if serde_json::from_str::<String>(key).unwrap() != "writeKey" {
                    let at = rest.find(text.as_str());
                    prop_assert!(at.is_some(), "{} not kept in {}", text, stored);
                    rest = &rest[at.unwrap_or_default() + text.len()..];
                }
            }
        }
    }
}
