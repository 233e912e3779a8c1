//! Identifier extraction from Segment-spec events, with normalisation and blocking.

use serde_json::Value;

use crate::config::Rules;
use crate::model::identifier::{
    ANONYMOUS_ID, EMAIL, MAX_IDENTIFIER_BYTES, MAX_IDENTIFIER_TYPE_BYTES, PHONE, USER_ID, clip,
    normalize_value,
};
use crate::model::{CallType, Event, Identifier, ViolationReason};

/// Why a numeric identifier that is not a whole number of at most 64 bits is blocked.
const INEXACT_NUMBER: &str =
    "a number that is not a whole number of at most 64 bits loses digits: send it as a string";

/// The identifiers of one event: the usable ones, in extraction order, and the blocked ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extraction {
    pub identifiers: Vec<Identifier>,
    pub blocked: Vec<(Identifier, ViolationReason)>,
}

impl Extraction {
    /// Pushes an identifier found as a JSON value: strings as they are, whole numbers of at
    /// most 64 bits and booleans as text. Other numbers (fractions, integers past 64 bits)
    /// reach us as f64, which has dropped digits (2^70 + 1 reads as 1.1805916207174113e+21),
    /// so they are blocked rather than stored rounded. Other values are ignored.
    fn push_value(&mut self, rules: &Rules, kind: &str, value: &Value) {
        match value {
            Value::String(s) => self.push(rules, kind, s),
            Value::Bool(b) => self.push(rules, kind, &b.to_string()),
            Value::Number(n) if n.is_i64() || n.is_u64() => self.push(rules, kind, &n.to_string()),
            Value::Number(n) => {
                let id = Identifier::new(clip(kind, 64), clip(&n.to_string(), 64));
                let rule = INEXACT_NUMBER.to_string();
                if !self.blocked.iter().any(|(b, _)| *b == id) {
                    self.blocked.push((id, ViolationReason::Blocked { rule }));
                }
            }
            _ => {}
        }
    }

    fn push(&mut self, rules: &Rules, kind: &str, raw: &str) {
        let value = normalize_value(kind, raw);
        if kind.len() > MAX_IDENTIFIER_TYPE_BYTES || value.len() > MAX_IDENTIFIER_BYTES {
            self.push_oversized(kind, &value);
            return;
        }
        let id = Identifier::new(kind, value);
        if self.identifiers.contains(&id) || self.blocked.iter().any(|(b, _)| *b == id) {
            return;
        }
        match rules.blocked_by(kind, &id.value) {
            Some(rule) => self.blocked.push((id, ViolationReason::Blocked { rule })),
            None => self.identifiers.push(id),
        }
    }

    /// Records an over-long type or value as blocked, quoting only its start.
    fn push_oversized(&mut self, kind: &str, value: &str) {
        let id = Identifier::new(clip(kind, 64), clip(value, 64));
        let rule = if kind.len() > MAX_IDENTIFIER_TYPE_BYTES {
            format!(
                "identifier type is {} bytes; the limit is {MAX_IDENTIFIER_TYPE_BYTES}",
                kind.len()
            )
        } else {
            format!(
                "identifier is {} bytes; the limit is {MAX_IDENTIFIER_BYTES}",
                value.len()
            )
        };
        if !self.blocked.iter().any(|(b, _)| *b == id) {
            self.blocked.push((id, ViolationReason::Blocked { rule }));
        }
    }
}

/// Extracts every identifier of an event as DESIGN.md lists them: userId, anonymousId,
/// email (traits on identify, context.traits on any call), device ids typed by device type,
/// advertising id when tracking is enabled, push token, phone, `context.externalIds`, and the
/// keys promoted in config. With `alias_merges`, an alias's previousId is extracted too, typed
/// by `previous_id_type`.
pub fn extract_identifiers(
    event: &Event,
    rules: &Rules,
    previous_id_type: impl Fn(&str) -> &'static str,
) -> Extraction {
    let mut out = Extraction::default();
    if let Some(user) = &event.user_id {
        out.push(rules, USER_ID, user);
    }
    if let Some(anon) = &event.anonymous_id {
        out.push(rules, ANONYMOUS_ID, anon);
    }
    if event.call == CallType::Alias && rules.alias_merges {
        if let Some(previous) = &event.previous_id {
            let kind = previous_id_type(previous.trim());
            out.push(rules, kind, previous);
        }
    }
    let traits = if event.call == CallType::Identify {
        event.traits()
    } else {
        None
    };
    for key in [EMAIL, PHONE] {
        for map in [traits, event.context_traits()].into_iter().flatten() {
            if let Some(value) = map.get(key) {
                out.push_value(rules, key, value);
            }
        }
    }
    extract_device(event, rules, &mut out);
    if let Some(Value::Array(external)) = event.path("context.externalIds") {
        for item in external {
            let collection = item.get("collection").and_then(Value::as_str);
            if collection.is_some_and(|c| c != "users") {
                continue;
            }
            let kind = item.get("type").and_then(Value::as_str).map(str::trim);
            if let (Some(kind), Some(id)) = (kind, item.get("id")) {
                if !kind.is_empty() {
                    let kind = if kind.eq_ignore_ascii_case("email") {
                        EMAIL
                    } else {
                        kind
                    };
                    out.push_value(rules, kind, id);
                }
            }
        }
    }
    for rule in &rules.promote {
        match event.path(&rule.path) {
            Some(Value::Array(items)) => {
                for item in items {
                    out.push_value(rules, &rule.kind, item);
                }
            }
            Some(value) => out.push_value(rules, &rule.kind, value),
            None => {}
        }
    }
    out
}

fn extract_device(event: &Event, rules: &Rules, out: &mut Extraction) {
    let Some(device) = event.path("context.device").and_then(Value::as_object) else {
        return;
    };
    let platform = device
        .get("type")
        .and_then(Value::as_str)
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| t == "ios" || t == "android");
    let typed = |suffix: &str, fallback: &str| match &platform {
        Some(p) => format!("{p}.{suffix}"),
        None => fallback.to_string(),
    };
    if let Some(id) = device.get("id") {
        out.push_value(rules, &typed("id", "device_id"), id);
    }
    let tracking = device.get("adTrackingEnabled").and_then(Value::as_bool) == Some(true);
    if tracking {
        if let Some(ad) = device.get("advertisingId") {
            out.push_value(rules, &typed("idfa", "advertising_id"), ad);
        }
    }
    if let Some(token) = device.get("token") {
        out.push_value(rules, &typed("push_token", "push_token"), token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DEFAULT_SPACE};
    use serde_json::json;

    fn extract(v: Value) -> Extraction {
        let rules = Config::defaults().rules_for(DEFAULT_SPACE).unwrap();
        extract_identifiers(&Event::from_json(v).unwrap(), &rules, |_| USER_ID)
    }

    fn ids(e: &Extraction) -> Vec<String> {
        e.identifiers.iter().map(|i| i.to_string()).collect()
    }

    #[test]
    fn extracts_every_documented_identifier() {
        let e = extract(json!({
            "type": "identify", "userId": " u1 ", "anonymousId": "a1",
            "traits": {"email": " Ana@Acme.IO ", "phone": "+4915112345678"},
            "context": {
                "traits": {"email": "ana@acme.io"},
                "device": {"id": "D1", "type": "ios", "advertisingId": "IDFA1",
                           "adTrackingEnabled": true, "token": "tok"},
                "externalIds": [
                    {"id": "cus_1", "type": "stripe_id", "collection": "users"},
                    {"id": "x", "type": "other", "collection": "accounts"}
                ]
            }
        }));
        assert_eq!(
            ids(&e),
            [
                "user_id:u1",
                "anonymous_id:a1",
                "email:ana@acme.io",
                "phone:+4915112345678",
                "ios.id:D1",
                "ios.idfa:IDFA1",
                "ios.push_token:tok",
                "stripe_id:cus_1"
            ]
        );
        assert!(e.blocked.is_empty());
    }

    #[test]
    fn advertising_id_needs_tracking_enabled_and_untyped_devices_are_generic() {
        let e = extract(json!({"type": "track", "event": "x", "userId": "u1",
            "context": {"device": {"id": "D1", "advertisingId": "A", "adTrackingEnabled": false}}}));
        assert_eq!(ids(&e), ["user_id:u1", "device_id:D1"]);
    }

    #[test]
    fn traits_email_counts_only_on_identify() {
        let e = extract(json!({"type": "group", "groupId": "g", "userId": "u1",
            "traits": {"email": "team@acme.io"}}));
        assert_eq!(ids(&e), ["user_id:u1"]);
    }

    #[test]
    fn junk_is_blocked_with_its_rule() {
        let e = extract(
            json!({"type": "identify", "userId": "undefined", "anonymousId": "a1",
            "traits": {"email": "test@test.com"}}),
        );
        assert_eq!(ids(&e), ["anonymous_id:a1"]);
        assert_eq!(e.blocked.len(), 2);
        assert_eq!(e.blocked[0].0.to_string(), "user_id:undefined");
    }

    #[test]
    fn over_long_identifiers_are_blocked_and_quoted_short() {
        let long = "x".repeat(MAX_IDENTIFIER_BYTES + 1);
        let e = extract(
            json!({"type": "identify", "userId": long, "anonymousId": "a1",
            "context": {"externalIds": [{"id": "1", "type": "t".repeat(200), "collection": "users"}]}}),
        );
        assert_eq!(ids(&e), ["anonymous_id:a1"]);
        assert_eq!(e.blocked.len(), 2);
        assert!(e.blocked[0].0.value.len() < 80);
        assert!(
            e.blocked[0].1.to_string().contains("1025 bytes"),
            "{}",
            e.blocked[0].1
        );
        assert!(
            e.blocked[1]
                .1
                .to_string()
                .contains("identifier type is 200 bytes")
        );
        let fits = "y".repeat(MAX_IDENTIFIER_BYTES);
        let e = extract(json!({"type": "page", "userId": fits}));
        assert_eq!(e.identifiers.len(), 1);
    }

    #[test]
    fn promoted_keys_become_identifiers() {
        let config = Config::from_toml_str(
            "[[identity.promote]]\npath = \"properties.loyalty\"\ntype = \"loyalty_id\"\n",
            "t",
        )
        .unwrap();
        let rules = config.rules_for(DEFAULT_SPACE).unwrap();
        let event = Event::from_json(json!({"type": "track", "event": "x", "anonymousId": "a",
            "properties": {"loyalty": 991}}))
        .unwrap();
        let e = extract_identifiers(&event, &rules, |_| USER_ID);
        assert_eq!(ids(&e), ["anonymous_id:a", "loyalty_id:991"]);
    }

    /// Numbers past 64 bits arrive as f64 with digits dropped: they must never become a
    /// rounded identifier (two people would share it), only a violation.
    #[test]
    fn numeric_identifiers_are_exact_or_blocked() {
        let config = Config::from_toml_str(
            "[[identity.promote]]\npath = \"properties.loyalty\"\ntype = \"loyalty_id\"\n",
            "t",
        )
        .unwrap();
        let rules = config.rules_for(DEFAULT_SPACE).unwrap();
        let line = r#"{"type":"identify","userId":9007199254740993,"anonymousId":-9223372036854775808,
            "traits":{"phone":1180591620717411303425,"email":18446744073709551615},
            "properties":{"loyalty":[1180591620717411303424,1.5,true]},
            "context":{"device":{"id":36893488147419103233,"type":"ios","token":12345678901234567890},
                "externalIds":[{"id":1e300,"type":"crm","collection":"users"}]}}"#;
        let event = Event::from_json(serde_json::from_str(line).unwrap()).unwrap();
        let e = extract_identifiers(&event, &rules, |_| USER_ID);
        assert_eq!(
            ids(&e),
            [
                "user_id:9007199254740993",
                "anonymous_id:-9223372036854775808",
                "email:18446744073709551615",
                "ios.push_token:12345678901234567890",
                "loyalty_id:true"
            ]
        );
        let blocked: Vec<String> = e.blocked.iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(
            blocked,
            [
                "phone:1.1805916207174113e+21",
                "ios.id:3.6893488147419103e+19",
                "crm:1e+300",
                "loyalty_id:1.1805916207174113e+21",
                "loyalty_id:1.5"
            ]
        );
        for (_, reason) in &e.blocked {
            assert_eq!(reason.to_string(), INEXACT_NUMBER);
        }
    }

    #[test]
    fn alias_previous_id_only_with_alias_merges() {
        let alias = json!({"type": "alias", "userId": "u2", "previousId": "a9"});
        assert_eq!(ids(&extract(alias.clone())), ["user_id:u2"]);
        let config = Config::from_toml_str("[identity]\nalias_merges = true\n", "t").unwrap();
        let rules = config.rules_for(DEFAULT_SPACE).unwrap();
        let e = extract_identifiers(&Event::from_json(alias).unwrap(), &rules, |_| ANONYMOUS_ID);
        assert_eq!(ids(&e), ["user_id:u2", "anonymous_id:a9"]);
    }
}
