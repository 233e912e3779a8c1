//! Turning the JSON items of a request into events: the call type implied by the endpoint,
//! batch-level `context` / `integrations` / `sentAt` merged into each item (item fields
//! win), the per-message size limit, spec validation, `receivedAt`, and the clock-skew
//! correction of `timestamp`. Everything here is pure.

use serde_json::{Map, Value};

use crate::model::event::check_time_bounds;
use crate::model::time::format_time;
use crate::model::{CallType, Event, EventError, Millis};

use super::decode::json_kind;
use super::error::ApiError;
use super::limits::{Limits, check_message_size};

/// Why one message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// A stable code, e.g. `missing_identity`, `message_too_large`.
    pub code: &'static str,
    /// What is wrong, in words.
    pub message: String,
}

impl Rejection {
    fn new(code: &'static str, message: impl Into<String>) -> Rejection {
        Rejection {
            code,
            message: message.into(),
        }
    }
}

impl From<EventError> for Rejection {
    fn from(error: EventError) -> Rejection {
        let code = match &error {
            EventError::NotObject => "not_an_object",
            EventError::MissingType => "missing_type",
            EventError::UnknownType(_) => "unknown_type",
            EventError::NoIdentity => "missing_identity",
            EventError::AliasWithoutPreviousId => "missing_previous_id",
            EventError::TrackWithoutName => "missing_event_name",
            EventError::BadTime { .. } => "invalid_time",
            EventError::BadField { .. } => "invalid_field",
            EventError::TimeOutOfRange { .. } => "time_out_of_range",
        };
        Rejection::new(code, error.to_string())
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        ApiError::bad_request(rejection.code, rejection.message)
    }
}

/// Batch-level fields that apply to every item of the batch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BatchDefaults {
    /// The batch's `context`.
    pub context: Option<Map<String, Value>>,
    /// The batch's `integrations`.
    pub integrations: Option<Map<String, Value>>,
    /// The batch's `sentAt` (the client's clock when it sent the request).
    pub sent_at: Option<Value>,
}

impl BatchDefaults {
    /// Reads the defaults from a batch body; `context` and `integrations` must be objects.
    pub fn from_body(body: &Map<String, Value>) -> Result<BatchDefaults, ApiError> {
        let object = |field: &str| -> Result<Option<Map<String, Value>>, ApiError> {
            match body.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::Object(map)) => Ok(Some(map.clone())),
                Some(other) => Err(ApiError::bad_request(
                    "invalid_batch",
                    format!(
                        "the batch's \"{field}\" must be an object, not {}",
                        json_kind(other)
                    ),
                )),
            }
        };
        Ok(BatchDefaults {
            context: object("context")?,
            integrations: object("integrations")?,
            sent_at: body.get("sentAt").filter(|v| !v.is_null()).cloned(),
        })
    }
}

/// Lays `defaults` under `target`: keys missing in `target` are added, objects present in
/// both are merged recursively, and any other value already in `target` wins.
pub fn merge_missing(target: &mut Map<String, Value>, defaults: &Map<String, Value>) {
    for (key, default) in defaults {
        match target.get_mut(key) {
            None => {
                target.insert(key.clone(), default.clone());
            }
            Some(Value::Null) => {
                target.insert(key.clone(), default.clone());
            }
            Some(Value::Object(inner)) => {
                if let Value::Object(default_inner) = default {
                    merge_missing(inner, default_inner);
                }
            }
            Some(_) => {}
        }
    }
}

/// Merges the batch's `context`, `integrations` and `sentAt` into one item (item fields win).
pub fn merge_batch_defaults(item: &mut Map<String, Value>, defaults: &BatchDefaults) {
    for (field, default) in [
        ("context", &defaults.context),
        ("integrations", &defaults.integrations),
    ] {
        let Some(default) = default else { continue };
        match item.get_mut(field) {
            None | Some(Value::Null) => {
                item.insert(field.to_string(), Value::Object(default.clone()));
            }
            Some(Value::Object(own)) => merge_missing(own, default),
            Some(_) => {}
        }
    }
    if let Some(sent_at) = &defaults.sent_at {
        if item.get("sentAt").is_none_or(Value::is_null) {
            item.insert("sentAt".into(), sent_at.clone());
        }
    }
}

/// Corrects `timestamp` for the client's clock skew, as Segment documents it:
/// `timestamp = receivedAt - (sentAt - originalTimestamp)`.
///
/// - The client's time of the call is `originalTimestamp`, else `timestamp` (Segment's
///   libraries send the call time as `timestamp`; it is then kept as `originalTimestamp`).
/// - Without `sentAt` there is nothing to correct against: that time is kept as is.
/// - Without any time, `timestamp` is `receivedAt`.
/// - When an event carries both `timestamp` and a different `originalTimestamp`, the
///   caller set `timestamp` explicitly (RudderStack's libraries stamp `originalTimestamp`
///   themselves and keep a caller-given `timestamp` apart, e.g. to import history): it is
///   kept unchanged, as RudderStack does.
/// - A correction that would leave the representable time range keeps the client's time.
pub fn correct_timestamp(event: &mut Event, received_at: Millis) {
    let client_time = match (event.timestamp, event.original_timestamp) {
        (Some(timestamp), Some(original)) if timestamp != original => return,
        (timestamp, original) => original.or(timestamp),
    };
    let Some(client_time) = client_time else {
        event.set_timestamp(received_at);
        return;
    };
    if !representable(client_time) {
        // Epoch milliseconds beyond years ±9999: left exactly as sent.
        return;
    }
    if event.original_timestamp.is_none() {
        event.original_timestamp = Some(client_time);
        event.raw_mut().insert(
            "originalTimestamp".into(),
            Value::String(format_time(client_time)),
        );
    }
    let corrected = event
        .sent_at
        .and_then(|sent| sent.checked_sub(client_time))
        .and_then(|skewed_delay| received_at.checked_sub(skewed_delay))
        .filter(|ms| representable(*ms))
        .unwrap_or(client_time);
    event.set_timestamp(corrected);
}

/// Whether a time can be written as an RFC 3339 text.
fn representable(ms: Millis) -> bool {
    jiff::Timestamp::from_millisecond(ms).is_ok()
}

/// Turns one JSON item into an event: size limit, implied call type (single-call endpoints),
/// batch defaults, spec validation (which takes out `writeKey`), `receivedAt` and the
/// clock-skew correction.
pub fn prepare_event(
    item: Value,
    implied: Option<CallType>,
    defaults: &BatchDefaults,
    limits: &Limits,
    received_at: Millis,
) -> Result<Event, Rejection> {
    check_message_size(&item, limits).map_err(|m| Rejection::new("message_too_large", m))?;
    let mut map = match item {
        Value::Object(map) => map,
        other => {
            return Err(Rejection::new(
                "not_an_object",
                format!(
                    "the message must be a JSON object, not {}",
                    json_kind(&other)
                ),
            ));
        }
    };
    if let Some(call) = implied {
        match map.get("type") {
            None | Some(Value::Null) => {
                map.insert("type".into(), Value::String(call.as_str().into()));
            }
            Some(Value::String(name)) if name.eq_ignore_ascii_case(call.as_str()) => {}
            Some(other) => {
                return Err(Rejection::new(
                    "type_mismatch",
                    format!(
                        "\"type\" is {other} but this endpoint takes {} calls",
                        call.as_str()
                    ),
                ));
            }
        }
    }
    merge_batch_defaults(&mut map, defaults);
    if matches!(map.get("messageId"), None | Some(Value::Null)) {
        // As Segment's API does: every call received is a message of its own. (A file
        // read by `idgraph ingest` gets an id from its content instead, so that reading
        // it again adds nothing.)
        map.insert("messageId".into(), Value::String(received_message_id()));
    }
    let mut event = Event::from_map(map)?;
    event.set_received_at(received_at);
    correct_timestamp(&mut event, received_at);
    check_time_bounds(&event, received_at)?;
    Ok(event)
}

/// A messageId for a call received without one: random, so two identical calls are two
/// messages.
fn received_message_id() -> String {
    format!("idgraph-{:032x}", rand::random::<u128>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::time::parse_time_str;
    use serde_json::json;

    fn limits() -> Limits {
        Limits::from_config(&Config::defaults().server)
    }

    fn ms(text: &str) -> Millis {
        parse_time_str(text).unwrap()
    }

    fn object(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn batch_context_merges_under_item_fields() {
        let body = object(json!({
            "batch": [],
            "context": {"library": {"name": "lib", "version": "1"}, "ip": "1.2.3.4"},
            "integrations": {"All": false},
            "sentAt": "2024-01-01T00:00:00Z"
        }));
        let defaults = BatchDefaults::from_body(&body).unwrap();
        let mut item = object(json!({
            "type": "track",
            "context": {"library": {"name": "mine"}, "device": {"id": "d1"}},
            "integrations": null
        }));
        merge_batch_defaults(&mut item, &defaults);
        assert_eq!(
            item["context"],
            json!({"library": {"name": "mine", "version": "1"}, "device": {"id": "d1"}, "ip": "1.2.3.4"})
        );
        assert_eq!(item["integrations"], json!({"All": false}));
        assert_eq!(item["sentAt"], "2024-01-01T00:00:00Z");

        let mut own = object(json!({"sentAt": "2025-01-01T00:00:00Z", "context": "odd"}));
        merge_batch_defaults(&mut own, &defaults);
        assert_eq!(own["sentAt"], "2025-01-01T00:00:00Z");
        assert_eq!(own["context"], "odd");
    }

    #[test]
    fn batch_context_must_be_an_object() {
        let err = BatchDefaults::from_body(&object(json!({"context": [1]}))).unwrap_err();
        assert_eq!(err.code, "invalid_batch");
        assert!(err.message.contains("context"));
        assert_eq!(
            BatchDefaults::from_body(&object(json!({"context": null}))).unwrap(),
            BatchDefaults::default()
        );
    }

    fn event(v: Value) -> Event {
        Event::from_json(v).unwrap()
    }

    #[test]
    fn skew_uses_original_timestamp() {
        // The client clock is 10 minutes fast: it sent at 12:10 (its time) an event it
        // recorded at 12:05 (its time); the server received it at 12:00:01.
        let mut e = event(json!({"type": "page", "anonymousId": "a",
            "originalTimestamp": "2024-05-01T12:05:00Z", "sentAt": "2024-05-01T12:10:00Z"}));
        let received = ms("2024-05-01T12:00:01Z");
        correct_timestamp(&mut e, received);
        assert_eq!(e.timestamp, Some(ms("2024-05-01T11:55:01Z")));
        assert_eq!(e.raw()["timestamp"], "2024-05-01T11:55:01.000Z");
        assert_eq!(e.original_timestamp, Some(ms("2024-05-01T12:05:00Z")));
    }

    #[test]
    fn skew_uses_timestamp_as_the_original_when_alone() {
        let mut e = event(json!({"type": "page", "anonymousId": "a",
            "timestamp": "2024-05-01T12:00:00Z", "sentAt": "2024-05-01T12:00:30Z"}));
        let received = ms("2024-05-01T12:00:10Z");
        correct_timestamp(&mut e, received);
        assert_eq!(e.timestamp, Some(ms("2024-05-01T11:59:40Z")));
        assert_eq!(e.original_timestamp, Some(ms("2024-05-01T12:00:00Z")));
        assert_eq!(e.raw()["originalTimestamp"], "2024-05-01T12:00:00.000Z");
    }

    #[test]
    fn skew_needs_sent_at() {
        let mut e = event(json!({"type": "page", "anonymousId": "a",
            "timestamp": "2024-05-01T12:00:00Z"}));
        correct_timestamp(&mut e, ms("2025-01-01T00:00:00Z"));
        assert_eq!(e.timestamp, Some(ms("2024-05-01T12:00:00Z")));

        let mut bare = event(json!({"type": "page", "anonymousId": "a"}));
        correct_timestamp(&mut bare, ms("2025-01-01T00:00:00Z"));
        assert_eq!(bare.timestamp, Some(ms("2025-01-01T00:00:00Z")));
        assert_eq!(bare.original_timestamp, None);
    }

    #[test]
    fn explicit_timestamp_next_to_original_is_kept() {
        let mut e = event(json!({"type": "track", "event": "x", "userId": "u",
            "timestamp": "2024-05-01T12:00:00.000Z",
            "originalTimestamp": "2026-11-22T20:41:21.162Z",
            "sentAt": "2026-11-22T20:41:21.162Z"}));
        correct_timestamp(&mut e, ms("2026-11-22T20:41:22Z"));
        assert_eq!(e.timestamp, Some(ms("2024-05-01T12:00:00Z")));
    }

    #[test]
    fn skew_outside_the_time_range_keeps_the_client_time() {
        // sentAt as epoch milliseconds 30,000 years ahead: the correction is not a time.
        let mut e = event(json!({"type": "page", "anonymousId": "a",
            "timestamp": "2024-01-01T00:00:00Z", "sentAt": 1_000_000_000_000_000_i64}));
        correct_timestamp(&mut e, ms("2024-01-01T00:00:00Z"));
        assert_eq!(e.timestamp, Some(ms("2024-01-01T00:00:00Z")));
        let mut far = event(json!({"type": "page", "anonymousId": "a",
            "timestamp": 1_000_000_000_000_000_i64, "sentAt": "2024-01-01T00:00:00Z"}));
        correct_timestamp(&mut far, 0);
        assert_eq!(far.raw()["timestamp"], 1_000_000_000_000_000_i64);
    }

    #[test]
    fn prepare_implies_the_type_and_checks_it() {
        let l = limits();
        let d = BatchDefaults::default();
        let e = prepare_event(
            json!({"userId": "u", "event": "Signed Up"}),
            Some(CallType::Track),
            &d,
            &l,
            1000,
        )
        .unwrap();
        assert_eq!(e.call, CallType::Track);
        assert_eq!(e.received_at, Some(1000));
        assert_eq!(e.timestamp, Some(1000));
        let err = prepare_event(
            json!({"type": "identify", "userId": "u"}),
            Some(CallType::Track),
            &d,
            &l,
            0,
        )
        .unwrap_err();
        assert_eq!(err.code, "type_mismatch");
        let e = prepare_event(
            json!({"type": "Track", "userId": "u", "event": "e", "writeKey": "K"}),
            Some(CallType::Track),
            &d,
            &l,
            0,
        )
        .unwrap();
        assert!(!e.raw().contains_key("writeKey"));
    }

    #[test]
    fn prepare_names_each_problem() {
        let l = limits();
        let d = BatchDefaults::default();
        let code = |v: Value| prepare_event(v, None, &d, &l, 0).unwrap_err().code;
        assert_eq!(
            code(json!({"type": "track", "event": "x"})),
            "missing_identity"
        );
        assert_eq!(code(json!({"userId": "u"})), "missing_type");
        assert_eq!(code(json!({"type": "nope", "userId": "u"})), "unknown_type");
        assert_eq!(
            code(json!({"type": "track", "userId": "u"})),
            "missing_event_name"
        );
        assert_eq!(
            code(json!({"type": "alias", "userId": "u"})),
            "missing_previous_id"
        );
        assert_eq!(
            code(json!({"type": "page", "userId": "u", "sentAt": "soon"})),
            "invalid_time"
        );
        assert_eq!(
            code(json!({"type": "page", "userId": {"a": 1}})),
            "invalid_field"
        );
        assert_eq!(code(json!("text")), "not_an_object");
        let big = json!({"type": "page", "userId": "u", "properties": {"x": "y".repeat(40_000)}});
        assert_eq!(code(big), "message_too_large");
    }
}
