//! The audience condition language: parse errors with positions, every operator, time
//! windows (relative to now and to another event), and/or/not, and the why of each outcome.

use idgraph::audience::{Condition, Journey, Why};
use idgraph::model::time::{DAY, parse_time_str};
use idgraph::model::{Event, Millis, Profile, ProfileId, StoredEvent, derive_channel};
use serde_json::{Value, json};

fn at(text: &str) -> Millis {
    parse_time_str(text).expect("time")
}

/// The fixed "now" of these tests.
fn now() -> Millis {
    at("2025-03-10T12:00:00Z")
}

fn event(seq: u64, v: Value) -> StoredEvent {
    let e = Event::from_json(v).expect("event");
    let source = e.path_str("context.app.name").unwrap_or("test".into());
    StoredEvent::from_event(
        &e,
        seq,
        e.time().expect("time"),
        &source,
        &derive_channel(&e),
        vec![],
    )
}

fn track(seq: u64, name: &str, time: &str, extra: Value) -> StoredEvent {
    let mut v = json!({"type":"track","event":name,"userId":"u1","messageId":format!("m{seq}"),"timestamp":time});
    if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
        obj.extend(more);
    }
    event(seq, v)
}

fn profile(traits: Value) -> Profile {
    let mut p = Profile::new(ProfileId(1), at("2025-01-01T00:00:00Z"));
    if let Value::Object(t) = traits {
        p.apply_traits(at("2025-01-02T00:00:00Z"), 1, &t);
    }
    p
}

fn eval(condition: &str, p: &Profile, events: &[StoredEvent], now: Millis) -> Why {
    let c = Condition::parse(condition).unwrap_or_else(|e| panic!("{condition}: {e}"));
    c.evaluate(&Journey::new(p, events), now)
}

fn member(condition: &str, events: &[StoredEvent]) -> bool {
    eval(condition, &profile(json!({})), events, now()).member
}

fn parse_error(condition: &str) -> (usize, usize, String) {
    let err = Condition::parse(condition).expect_err(condition);
    let (line, column) = err.line_col(condition);
    (line, column, err.message)
}

#[test]
fn parse_errors_say_where_and_what_was_expected() {
    let cases: [(&str, (usize, usize), &str); 12] = [
        ("", (1, 1), "the condition is empty"),
        ("did", (1, 4), "expected an event: a quoted event name"),
        ("did Purchased", (1, 5), "found 'Purchased'"),
        (
            "did \"A\" within",
            (1, 15),
            "expected a duration after 'within'",
        ),
        (
            "did \"A\" within 7 days",
            (1, 16),
            "expected a duration after 'within'",
        ),
        (
            "did \"A\"\nand did \"B\" after cart",
            (2, 19),
            "unknown event name 'cart'",
        ),
        ("did \"A\" and (did \"B\"", (1, 21), "expected ')' to close"),
        (
            "not did \"A\" as a",
            (1, 16),
            "cannot be used on a negated 'did'",
        ),
        (
            "did not \"B\" after it",
            (1, 19),
            "'it' refers to no earlier event",
        ),
        ("trait plan ~ 1", (1, 12), "unexpected character '~'"),
        ("trait plan = ", (1, 14), "expected a value"),
        (
            "did \"A\" on web on ios",
            (1, 16),
            "this filter is already given",
        ),
    ];
    for (condition, (line, column), message) in cases {
        let (l, c, m) = parse_error(condition);
        assert_eq!((l, c), (line, column), "{condition:?}: {m}");
        assert!(m.contains(message), "{condition:?}: {m}");
    }
    let (_, _, m) = parse_error("did \"A\" as x and did \"B\" as x");
    assert!(m.contains("'x' is already used"), "{m}");
    let (_, _, m) = parse_error("did \"A\" before \"yesterday\"");
    assert!(m.contains("is not a date"), "{m}");
    let (_, _, m) = parse_error("trait vip > true");
    assert!(m.contains("only be compared with = or !="), "{m}");
    let (_, _, m) = parse_error("did \"A\" as and");
    assert!(m.contains("'and' is a keyword"), "{m}");
}

#[test]
fn keywords_are_case_insensitive_and_comments_ignored() {
    let events = [track(
        1,
        "Order Completed",
        "2025-03-09T00:00:00Z",
        json!({}),
    )];
    assert!(member(
        "DID \"Order Completed\" WITHIN 7d # recent buyers\nAND NOT did \"Refund\"",
        &events
    ));
    let a = Condition::parse("did \"A\"   within 7d # x\n and trait a exists").unwrap();
    let b = Condition::parse("did \"A\" within 7d and trait a exists").unwrap();
    assert_eq!(a.fingerprint(), b.fingerprint());
}

#[test]
fn events_match_by_name_call_type_channel_source_device_and_properties() {
    let events = [
        track(
            1,
            "Order Completed",
            "2025-03-01T00:00:00Z",
            json!({
                "properties": {"total": 120.5, "currency": "EUR", "coupon": "SPRING", "tags": ["gift", "express"]},
                "context": {"app": {"name": "Acme iOS"}, "device": {"type": "ios", "id": "D1"}}
            }),
        ),
        event(
            2,
            json!({"type":"screen","name":"Cart","userId":"u1","messageId":"m2","timestamp":"2025-03-02T00:00:00Z","context":{"device":{"type":"android"}}}),
        ),
        event(
            3,
            json!({"type":"page","name":"Pricing","anonymousId":"a","messageId":"m3","timestamp":"2025-03-03T00:00:00Z","context":{"channel":"browser"}}),
        ),
        track(
            4,
            "Complaint Logged",
            "2025-03-04T00:00:00Z",
            json!({"context": {"channel": "support"}}),
        ),
    ];
    let yes = [
        "did \"Order Completed\"",
        "did any",
        "did track",
        "did screen \"Cart\"",
        "did page \"Pricing\" on web",
        "did screen on android",
        "did \"Order Completed\" on IOS from \"acme ios\" device ios",
        "did \"Complaint Logged\" on support",
        "did \"Order Completed\" where properties.total > 100",
        "did \"Order Completed\" where properties.total >= 120.5, properties.total <= 120.5",
        "did \"Order Completed\" where properties.total < 121",
        "did \"Order Completed\" where properties.currency = \"EUR\"",
        "did \"Order Completed\" where properties.currency == 'EUR'",
        "did \"Order Completed\" where properties.currency != \"USD\"",
        "did \"Order Completed\" where properties.coupon contains \"SPR\"",
        "did \"Order Completed\" where properties.tags contains \"gift\"",
        "did \"Order Completed\" where properties.coupon exists",
        "did \"Order Completed\" where context.device.id = \"D1\"",
    ];
    for condition in yes {
        assert!(member(condition, &events), "{condition} should match");
    }
    let no = [
        "did \"order completed\"",
        "did \"Cart\"",
        "did page \"Cart\"",
        "did identify",
        "did \"Order Completed\" on android",
        "did \"Complaint Logged\" on marketing",
        "did \"Order Completed\" from web",
        "did \"Order Completed\" device android",
        "did \"Order Completed\" where properties.total > 200",
        "did \"Order Completed\" where properties.total = \"120.5\"",
        "did \"Order Completed\" where properties.currency != \"EUR\"",
        "did \"Order Completed\" where properties.missing != \"EUR\"",
        "did \"Order Completed\" where properties.tags contains \"cheap\"",
        "did \"Order Completed\" where properties.refund exists",
    ];
    for condition in no {
        assert!(!member(condition, &events), "{condition} should not match");
    }
}

#[test]
fn trait_tests_cover_every_operator() {
    let p = profile(json!({
        "plan": "pro", "ltv": 250, "vip": true, "email": "ana@acme.io",
        "tags": ["beta"], "address": {"city": "Lisbon"}, "gone": null, "since": "2024-05-01"
    }));
    let yes = [
        "trait plan = \"pro\"",
        "trait plan != \"free\"",
        "trait ltv > 100",
        "trait ltv < 300",
        "trait ltv >= 250",
        "trait ltv <= 250",
        "trait vip = true",
        "trait vip != false",
        "trait email contains \"@acme.io\"",
        "trait tags contains \"beta\"",
        "trait email exists",
        "trait address.city = \"Lisbon\"",
        "trait since < \"2025-01-01\"",
        "not trait gone exists",
        "not trait phone exists",
        "trait \"plan\" = \"pro\"",
    ];
    for condition in yes {
        assert!(eval(condition, &p, &[], now()).member, "{condition}");
    }
    let no = [
        "trait plan = \"Pro\"",
        "trait ltv > 250",
        "trait ltv = \"250\"",
        "trait phone != \"x\"",
        "trait vip = false",
        "trait address.zip exists",
        "trait email contains \"gmail\"",
    ];
    for condition in no {
        assert!(!eval(condition, &p, &[], now()).member, "{condition}");
    }
    let why = eval("trait plan = \"pro\"", &p, &[], now());
    assert_eq!(why.reasons[0].traits[0].key, "plan");
    assert_eq!(
        why.reasons[0].traits[0].value_json.as_deref(),
        Some("\"pro\"")
    );
    assert_eq!(why.valid_until, None, "traits do not change with time");
}

#[test]
fn and_or_not_and_parentheses() {
    let events = [
        track(1, "A", "2025-03-01T00:00:00Z", json!({})),
        track(2, "B", "2025-03-02T00:00:00Z", json!({})),
    ];
    assert!(member("did \"A\" and did \"B\"", &events));
    assert!(!member("did \"A\" and did \"C\"", &events));
    assert!(member("did \"C\" or did \"B\"", &events));
    assert!(!member("did \"C\" or did \"D\"", &events));
    assert!(member("not did \"C\"", &events));
    assert!(member("did not \"C\"", &events));
    assert!(!member("not not did \"C\"", &events));
    // `and` binds tighter than `or`.
    assert!(member("did \"C\" and did \"D\" or did \"A\"", &events));
    assert!(!member("did \"C\" and (did \"D\" or did \"A\")", &events));
    assert!(member(
        "not (did \"C\" or did \"D\") and did \"B\"",
        &events
    ));
}

#[test]
fn windows_relative_to_now() {
    let events = [track(1, "A", "2025-03-08T12:00:00Z", json!({}))];
    let t = at("2025-03-08T12:00:00Z");
    assert!(member("did \"A\" within 2d", &events));
    assert!(member("did \"A\" within 48h", &events));
    assert!(!member("did \"A\" within 47h", &events));
    assert!(member("did \"A\" before 1d ago", &events));
    assert!(!member("did \"A\" before 2d ago", &events));
    assert!(member("did \"A\" after \"2025-03-08\"", &events));
    assert!(!member(
        "did \"A\" before \"2025-03-08T12:00:00Z\"",
        &events
    ));
    // The window is inclusive at both ends and never covers the future.
    let p = profile(json!({}));
    assert!(eval("did \"A\" within 1d", &p, &events, t + DAY).member);
    assert!(!eval("did \"A\" within 1d", &p, &events, t + DAY + 1).member);
    assert!(!eval("did \"A\" within 1d", &p, &events, t - 1).member);
    assert!(eval("did \"A\" within 1d", &p, &events, t).member);
}

#[test]
fn windows_relative_to_another_event() {
    let events = [
        track(1, "Product Added", "2025-03-01T10:00:00Z", json!({})),
        track(2, "Order Completed", "2025-03-01T11:00:00Z", json!({})),
        track(3, "Product Added", "2025-03-05T10:00:00Z", json!({})),
    ];
    // Some Product Added with no Order Completed after it: the one of March 5.
    let abandoned = "did \"Product Added\" and not did \"Order Completed\" after it";
    let why = eval(abandoned, &profile(json!({})), &events, now());
    assert!(why.member);
    assert_eq!(why.reasons[0].events[0].message_id, "m3");
    assert_eq!(why.reasons[0].matched, 2);
    assert!(why.reasons[1].negated && !why.reasons[1].holds);
    // Named events and bounded windows.
    assert!(member(
        "did \"Product Added\" as cart and did \"Order Completed\" within 2h after cart",
        &events
    ));
    assert!(!member(
        "did \"Product Added\" as cart and did \"Order Completed\" within 30m after cart",
        &events
    ));
    assert!(member(
        "did \"Order Completed\" as order and did \"Product Added\" within 1h before order",
        &events
    ));
    assert!(member(
        "did \"Order Completed\" and did \"Product Added\" before it",
        &events
    ));
    assert!(!member(
        "did \"Product Added\" within 1d and did \"Order Completed\" after it",
        &events[..2]
    ));
    // `it` reaches the nearest earlier positive did of an enclosing chain.
    assert!(member(
        "did \"Order Completed\" and (did \"Refund\" or did \"Product Added\" after it)",
        &events
    ));
}

#[test]
fn why_names_the_excluding_event_and_the_context() {
    let events = [
        track(1, "Order Completed", "2025-03-01T10:00:00Z", json!({})),
        track(
            2,
            "Complaint Logged",
            "2025-03-02T10:00:00Z",
            json!({"context":{"channel":"support"}}),
        ),
    ];
    let review =
        "did \"Order Completed\" within 14d and not did \"Complaint Logged\" on support within 30d";
    let why = eval(review, &profile(json!({})), &events, now());
    assert!(!why.member);
    assert_eq!(why.reasons.len(), 2);
    assert!(why.reasons[0].satisfied());
    assert_eq!(why.reasons[0].events[0].message_id, "m1");
    assert!(!why.reasons[1].satisfied());
    assert_eq!(
        why.reasons[1].clause,
        "did \"Complaint Logged\" on support within 30d"
    );
    assert_eq!(why.reasons[1].events[0].message_id, "m2");
    assert_eq!(why.reasons[1].events[0].channel, "support");
    let lines = why.lines();
    assert!(
        lines[1].starts_with("- not did \"Complaint Logged\""),
        "{lines:?}"
    );
    let json = why.to_json();
    assert_eq!(
        json["reasons"][1]["events"][0]["time"],
        "2025-03-02T10:00:00.000Z"
    );
}

#[test]
fn validity_is_the_next_window_edge() {
    let events = [
        track(1, "A", "2025-03-08T12:00:00Z", json!({})),
        track(2, "A", "2025-03-20T00:00:00Z", json!({})),
    ];
    let p = profile(json!({}));
    // Covered until 2025-03-10T12:00 + 1ms; the future event enters on 2025-03-20.
    let why = eval("did \"A\" within 2d", &p, &events, now());
    assert!(why.member);
    assert_eq!(why.valid_until, Some(at("2025-03-10T12:00:00Z") + 1));
    let later = eval("did \"A\" within 2d", &p, &events, now() + 1);
    assert!(!later.member);
    assert_eq!(later.valid_until, Some(at("2025-03-20T00:00:00Z")));
    let older = eval("did \"A\" before 3d ago", &p, &events, now());
    assert!(!older.member);
    assert_eq!(older.valid_until, Some(at("2025-03-11T12:00:00Z") + 1));
    assert_eq!(
        eval("did \"A\" after \"2025-01-01\"", &p, &events, now()).valid_until,
        None
    );
}

#[test]
fn conditions_say_which_events_they_look_at() {
    use idgraph::model::CallType;
    let c =
        Condition::parse("did \"Order Completed\" and not did screen \"Cart\" and trait a exists")
            .unwrap();
    assert!(c.looks_at(CallType::Track, "Order Completed"));
    assert!(c.looks_at(CallType::Screen, "screen Cart"));
    assert!(!c.looks_at(CallType::Screen, "screen Home"));
    assert!(!c.looks_at(CallType::Track, "Product Added"));
    assert!(!c.looks_at(CallType::Identify, "identify"));
    let any = Condition::parse("did identify or did any").unwrap();
    assert!(any.looks_at(CallType::Page, "page"));
    // Only a `where` test reads the events' JSON.
    assert!(!c.reads_event_json() && !any.reads_event_json());
    let priced = Condition::parse("did \"Order Completed\" on web where properties.total > 100");
    assert!(priced.unwrap().reads_event_json());
}
