//! One-line summaries of what an event says (its properties, traits or group), read from the
//! original JSON for the rows on screen.

use serde_json::Value;

use crate::model::{CallType, StoredEvent};

use super::text::{clean, fit, redact_json};

/// Most fields a summary lists.
const MAX_FIELDS: usize = 6;
/// Widest value a summary quotes, in display columns.
const MAX_VALUE_COLUMNS: usize = 40;

/// `key=value` pairs of what the event carries: a track, page or screen's properties, an
/// identify's traits (else its `context.traits`), a group's id and traits, an alias's
/// previous id. Nested objects are left out and arrays counted; with `redact`, personal
/// values are masked as everywhere else. Empty when the event carries none (or its JSON
/// cannot be read).
pub fn event_summary(event: &StoredEvent, redact: bool) -> String {
    let Ok(mut json) = serde_json::from_str::<Value>(&event.raw_json) else {
        return String::new();
    };
    if redact {
        redact_json(&mut json);
    }
    let mut fields = Vec::new();
    match event.call {
        CallType::Track | CallType::Page | CallType::Screen => {
            push_fields(&mut fields, json.get("properties"));
        }
        CallType::Identify => {
            let traits = json.get("traits").filter(|t| t.is_object());
            push_fields(&mut fields, traits.or(json.pointer("/context/traits")));
        }
        CallType::Group => {
            push_field(&mut fields, "groupId", json.get("groupId"));
            push_fields(&mut fields, json.get("traits"));
        }
        CallType::Alias => push_field(&mut fields, "previousId", json.get("previousId")),
    }
    fields.join(" ")
}

fn push_fields(fields: &mut Vec<String>, map: Option<&Value>) {
    for (key, value) in map.and_then(Value::as_object).into_iter().flatten() {
        if fields.len() == MAX_FIELDS {
            return;
        }
        push_field(fields, key, Some(value));
    }
}

fn push_field(fields: &mut Vec<String>, key: &str, value: Option<&Value>) {
    let shown = match value {
        Some(Value::String(s)) if !s.is_empty() => fit(&clean(s), MAX_VALUE_COLUMNS),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Array(items)) if !items.is_empty() => format!("[{}]", items.len()),
        _ => return,
    };
    fields.push(format!("{}={shown}", clean(key)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(call: CallType, json: Value) -> StoredEvent {
        StoredEvent {
            seq: 1,
            message_id: "m".into(),
            call,
            time: 0,
            received_at: 0,
            source: "s".into(),
            channel: "web".into(),
            app: None,
            device: None,
            label: "x".into(),
            identifiers: Vec::new(),
            raw_json: json.to_string(),
            links: Vec::new(),
        }
    }

    #[test]
    fn a_track_lists_its_scalar_properties_and_counts_arrays() {
        let order = event(
            CallType::Track,
            json!({"type": "track", "event": "Order Completed", "properties": {
                "order_id": "BB1", "total": 39.96, "gift": false, "coupon": "",
                "address": {"city": "Lisbon"}, "products": [{"sku": "a"}, {"sku": "b"}],
                "note": null}}),
        );
        assert_eq!(
            event_summary(&order, false),
            "order_id=BB1 total=39.96 gift=false products=[2]"
        );
    }

    #[test]
    fn identify_group_and_alias_say_what_they_set() {
        let identify = event(
            CallType::Identify,
            json!({"type": "identify", "traits": {"email": "ana@acme.io", "plan": "pro"}}),
        );
        assert_eq!(
            event_summary(&identify, false),
            "email=ana@acme.io plan=pro"
        );
        assert_eq!(
            event_summary(&identify, true),
            "email=a***@a***.io plan=pro",
            "redacted like every other view"
        );
        let group = event(
            CallType::Group,
            json!({"type": "group", "groupId": "g1", "traits": {"name": "Acme"}}),
        );
        assert_eq!(event_summary(&group, false), "groupId=g1 name=Acme");
        let mobile = event(
            CallType::Identify,
            json!({"type": "identify", "context": {"traits": {"plan": "free"}}}),
        );
        assert_eq!(event_summary(&mobile, false), "plan=free");
        let alias = event(
            CallType::Alias,
            json!({"type": "alias", "previousId": "old", "userId": "new"}),
        );
        assert_eq!(event_summary(&alias, false), "previousId=old");
    }

    #[test]
    fn long_values_are_clipped_escapes_cleaned_and_fields_capped() {
        let page = event(
            CallType::Page,
            json!({"type": "page", "properties": {
                "url": format!("https://acme.io/{}", "a".repeat(80)), "title": "A\u{1b}[31mB",
                "c": 1, "d": 2, "e": 3, "f": 4, "g": 5}}),
        );
        let summary = event_summary(&page, false);
        assert!(summary.starts_with(&format!("url=https://acme.io/{}…", "a".repeat(23))));
        assert!(summary.contains("title=A␛[31mB"), "{summary}");
        assert!(summary.ends_with("f=4"), "six fields at most: {summary}");
    }

    #[test]
    fn unreadable_or_bare_events_have_no_summary() {
        let mut broken = event(CallType::Track, json!({}));
        broken.raw_json = "{not json".into();
        assert_eq!(event_summary(&broken, false), "");
        let bare = event(CallType::Screen, json!({"type": "screen", "name": "Home"}));
        assert_eq!(event_summary(&bare, false), "");
    }
}
