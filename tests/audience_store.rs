//! The two seed audiences end to end on a real sled store: membership follows identity
//! resolution, manual merge, split and undo, and time; stored standings always equal a
//! fresh evaluation.

mod common;

use idgraph::config::Config;
use idgraph::ingest::SourcedEvent;
use idgraph::model::time::{DAY, parse_time_str};
use idgraph::model::{Event, Identifier, Millis, ProfileId, derive_channel};
use idgraph::query::{AudienceRead, GraphRead, GraphRepair};
use idgraph::store::{SpaceStore, Store};
use proptest::prelude::*;
use serde_json::{Value, json};

fn at(text: &str) -> Millis {
    parse_time_str(text).expect("time")
}

/// The fixed "now" of these tests.
fn now() -> Millis {
    at("2025-03-10T12:00:00Z")
}

fn sourced(v: Value) -> SourcedEvent {
    let event = Event::from_json(v).expect("valid event");
    let source = event.path_str("context.app.name").unwrap_or("test".into());
    let channel = derive_channel(&event);
    SourcedEvent {
        event,
        source,
        channel,
    }
}

fn iphone(message: &str, time: &str, call: Value) -> Value {
    let mut v = json!({"anonymousId":"ios-anon-1","messageId":message,"timestamp":time,
        "context":{"app":{"name":"Acme iOS"},"device":{"id":"IPHONE-1","type":"ios","model":"iPhone15,2"}}});
    merge(&mut v, call);
    v
}

fn android(message: &str, time: &str, call: Value) -> Value {
    let mut v = json!({"anonymousId":"and-anon-1","messageId":message,"timestamp":time,
        "context":{"app":{"name":"Acme Android"},"device":{"id":"PIXEL-1","type":"android","model":"Pixel 8"}}});
    merge(&mut v, call);
    v
}

fn merge(target: &mut Value, extra: Value) {
    if let (Some(t), Value::Object(e)) = (target.as_object_mut(), extra) {
        t.extend(e);
    }
}

fn track(name: &str) -> Value {
    json!({"type":"track","event":name})
}

fn identify(user: &str) -> Value {
    json!({"type":"identify","userId":user})
}

fn cart_on_iphone_checkout_on_android() -> Vec<Value> {
    vec![
        iphone("m-cart", "2025-03-09T10:00:00Z", track("Product Added")),
        android("m-order", "2025-03-09T11:00:00Z", track("Order Completed")),
    ]
}

fn ingest(space: &SpaceStore, events: Vec<Value>) {
    let batch: Vec<SourcedEvent> = events.into_iter().map(sourced).collect();
    space.ingest(&batch, now()).expect("ingest");
}

fn owner(space: &SpaceStore, id: &str) -> ProfileId {
    space
        .owner(&Identifier::parse(id).expect("identifier"))
        .expect("read")
        .expect("owned")
}

fn members(space: &SpaceStore, audience: &str, at: Millis) -> Vec<ProfileId> {
    space
        .audience_members(audience, at)
        .expect("members")
        .into_iter()
        .map(|m| m.profile)
        .collect()
}

/// Stored standings agree with a fresh evaluation of every profile, from both directions.
fn assert_consistent(space: &SpaceStore, at: Millis) {
    let mut profiles = Vec::new();
    space
        .for_each_profile(&mut |p| {
            profiles.push(p.id);
            true
        })
        .expect("profiles");
    for audience in space.audiences().names() {
        let stored = members(space, audience, at);
        for id in &profiles {
            let live = space
                .audience_standing(audience, *id, at)
                .expect("standing");
            assert_eq!(stored.contains(id), live.member, "{audience} {id} at {at}");
            let of: Vec<String> = space
                .audiences_of(*id, at)
                .expect("audiences of")
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            assert_eq!(
                of.iter().any(|n| n == audience),
                live.member,
                "{audience} {id}"
            );
        }
        assert!(
            stored.iter().all(|id| profiles.contains(id)),
            "{audience}: {stored:?}"
        );
    }
}

/// `idgraph check` finds nothing wrong, audience records included.
fn assert_checks(store: &Store) {
    let check = store
        .space_for_check("default")
        .expect("space")
        .check()
        .expect("check");
    assert!(check.is_ok(), "{:#?}", check.problems);
}

#[test]
fn cart_on_iphone_checkout_on_android_leaves_abandoned_cart_once_resolved() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    ingest(&space, cart_on_iphone_checkout_on_android());
    let phone = owner(&space, "ios.id:IPHONE-1");
    let pixel = owner(&space, "android.id:PIXEL-1");
    assert_ne!(phone, pixel, "two unresolved devices");
    assert_eq!(members(&space, "abandoned_cart", now()), [phone]);
    let why = &space.audience_members("abandoned_cart", now()).unwrap()[0].why;
    assert_eq!(why.reasons[0].events[0].message_id, "m-cart");
    assert_eq!(why.reasons[0].events[0].channel, "ios");
    assert!(why.reasons[1].negated && !why.reasons[1].holds);
    assert_consistent(&space, now());

    // The same user signs in on the iPhone: still two profiles, still abandoned.
    ingest(
        &space,
        vec![iphone("m-id-1", "2025-03-09T12:00:00Z", identify("u-ana"))],
    );
    assert_eq!(members(&space, "abandoned_cart", now()), [phone]);
    // ... and on the Android phone: resolution joins the devices, the cart was checked out.
    ingest(
        &space,
        vec![android("m-id-2", "2025-03-09T12:05:00Z", identify("u-ana"))],
    );
    let ana = owner(&space, "user_id:u-ana");
    assert_eq!(owner(&space, "android.id:PIXEL-1"), ana);
    assert_eq!(owner(&space, "ios.id:IPHONE-1"), ana);
    assert!(members(&space, "abandoned_cart", now()).is_empty());
    let why = space
        .audience_standing("abandoned_cart", ana, now())
        .unwrap();
    assert!(!why.member);
    assert_eq!(why.reasons[1].events[0].message_id, "m-order");
    assert_eq!(why.reasons[1].events[0].channel, "android");
    let of: Vec<String> = space
        .audiences_of(ana, now())
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(of, ["review_request"]);
    assert_consistent(&space, now());
}

#[test]
fn resolution_within_one_batch_is_seen_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    let mut events = cart_on_iphone_checkout_on_android();
    events.push(iphone("m-id-1", "2025-03-09T12:00:00Z", identify("u-ana")));
    events.push(android("m-id-2", "2025-03-09T12:05:00Z", identify("u-ana")));
    ingest(&space, events);
    assert!(members(&space, "abandoned_cart", now()).is_empty());
    assert_eq!(
        members(&space, "review_request", now()),
        [owner(&space, "user_id:u-ana")]
    );
    assert_consistent(&space, now());
}

fn complaint_journeys() -> Vec<Value> {
    vec![
        json!({"type":"identify","userId":"u-bob","messageId":"b1","timestamp":"2025-03-01T09:00:00Z",
            "traits":{"email":"bob@acme.io","name":"Bob"},"context":{"device":{"type":"ios","id":"BOB-PHONE"}}}),
        json!({"type":"track","event":"Order Completed","userId":"u-bob","messageId":"b2","timestamp":"2025-03-05T09:00:00Z",
            "context":{"device":{"type":"ios","id":"BOB-PHONE"}}}),
        json!({"type":"track","event":"Ticket Created","anonymousId":"zd-77","messageId":"b3","timestamp":"2025-03-06T09:00:00Z",
            "context":{"channel":"support","traits":{"email":"Bob@Acme.io"}}}),
        json!({"type":"track","event":"Complaint Logged","anonymousId":"zd-77","messageId":"b4","timestamp":"2025-03-06T09:04:00Z",
            "properties":{"category":"damaged items"},"context":{"channel":"support","traits":{"email":"bob@acme.io"}}}),
        json!({"type":"identify","userId":"u-cara","messageId":"c1","timestamp":"2025-03-01T09:00:00Z","traits":{"email":"cara@acme.io"}}),
        json!({"type":"track","event":"Order Completed","userId":"u-cara","messageId":"c2","timestamp":"2025-03-05T10:00:00Z",
            "context":{"device":{"type":"android","id":"CARA-PHONE"}}}),
    ]
}

#[test]
fn a_support_complaint_keeps_the_review_request_away() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    ingest(&space, complaint_journeys());
    let bob = owner(&space, "user_id:u-bob");
    let cara = owner(&space, "user_id:u-cara");
    assert_eq!(
        owner(&space, "anonymous_id:zd-77"),
        bob,
        "support desk joins by e-mail"
    );
    assert_eq!(members(&space, "review_request", now()), [cara]);
    let why = space
        .audience_standing("review_request", bob, now())
        .unwrap();
    assert!(!why.member);
    let excluding = why.reasons.iter().find(|r| !r.satisfied()).unwrap();
    assert_eq!(excluding.events[0].message_id, "b4");
    assert_eq!(excluding.events[0].channel, "support");
    assert!(excluding.clause.contains("Complaint Logged"));
    // Once the review request went out for Cara's order, she is not asked again.
    ingest(
        &space,
        vec![
            json!({"type":"track","event":"Review Request Sent","userId":"u-cara","messageId":"c3",
            "timestamp":"2025-03-07T10:00:00Z","context":{"channel":"marketing"}}),
        ],
    );
    assert!(members(&space, "review_request", now()).is_empty());
    assert_consistent(&space, now());
}

#[test]
fn time_moves_membership_without_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    // A cart added 30 minutes before now is not abandoned yet; it is an hour later.
    ingest(
        &space,
        vec![iphone(
            "m-cart",
            "2025-03-10T11:30:00Z",
            track("Product Added"),
        )],
    );
    let phone = owner(&space, "ios.id:IPHONE-1");
    assert!(members(&space, "abandoned_cart", now()).is_empty());
    let later = now() + 3_600_000;
    assert_eq!(members(&space, "abandoned_cart", later), [phone]);
    assert_consistent(&space, later);
    // Three days after the cart it is too old; persisting the refresh changes nothing seen.
    let much_later = at("2025-03-13T11:30:00Z") + 1;
    assert!(members(&space, "abandoned_cart", much_later).is_empty());
    assert_eq!(space.refresh_audiences(later).unwrap(), 1);
    assert_eq!(members(&space, "abandoned_cart", later), [phone]);
    assert_eq!(
        space.audiences_of(phone, later).unwrap()[0].1.valid_until,
        Some(at("2025-03-13T11:30:00Z") + 1)
    );
    assert!(members(&space, "abandoned_cart", much_later).is_empty());
    assert_consistent(&space, much_later);
    // Asking about the past (before the audience clock) evaluates on the fly.
    assert!(members(&space, "abandoned_cart", now()).is_empty());
    assert_eq!(members(&space, "abandoned_cart", now() - DAY).len(), 0);
}

#[test]
fn membership_follows_manual_merge_split_and_undo() {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    ingest(&space, cart_on_iphone_checkout_on_android());
    let phone = owner(&space, "ios.id:IPHONE-1");
    let pixel = owner(&space, "android.id:PIXEL-1");
    assert_eq!(members(&space, "abandoned_cart", now()), [phone]);

    let merge = space.merge(phone, pixel, "same person", false).unwrap();
    let merged = owner(&space, "ios.id:IPHONE-1");
    assert!(members(&space, "abandoned_cart", now()).is_empty());
    assert_eq!(members(&space, "review_request", now()), [merged]);
    assert_consistent(&space, now());

    space.undo(merge.entry.op, "not the same").unwrap();
    let phone = owner(&space, "ios.id:IPHONE-1");
    assert_ne!(phone, owner(&space, "android.id:PIXEL-1"));
    assert_eq!(members(&space, "abandoned_cart", now()), [phone]);
    assert_consistent(&space, now());

    // Resolve them through a shared user id, then split the Android device back out.
    ingest(
        &space,
        vec![
            iphone("m-id-1", "2025-03-09T12:00:00Z", identify("u-ana")),
            android("m-id-2", "2025-03-09T12:05:00Z", identify("u-ana")),
        ],
    );
    let ana = owner(&space, "user_id:u-ana");
    assert!(members(&space, "abandoned_cart", now()).is_empty());
    let moving = [
        Identifier::parse("android.id:PIXEL-1").unwrap(),
        Identifier::parse("anonymous_id:and-anon-1").unwrap(),
    ];
    let split = space.split(ana, &moving, "shared tablet").unwrap();
    let pixel = owner(&space, "android.id:PIXEL-1");
    assert_ne!(pixel, ana);
    assert_eq!(members(&space, "abandoned_cart", now()), [ana]);
    assert_eq!(members(&space, "review_request", now()), [pixel]);
    assert_consistent(&space, now());
    // Later events are evaluated on what the split left each profile (not on what an
    // ingest before the split read of their timelines).
    ingest(
        &space,
        vec![
            iphone("m-after-1", "2025-03-09T12:10:00Z", identify("u-ana")),
            android("m-after-2", "2025-03-09T12:11:00Z", track("Product Viewed")),
        ],
    );
    assert_eq!(members(&space, "abandoned_cart", now()), [ana]);
    assert_eq!(members(&space, "review_request", now()), [pixel]);
    assert_consistent(&space, now());

    space.undo(split.entry.op, "it was her").unwrap();
    assert!(members(&space, "abandoned_cart", now()).is_empty());
    assert_eq!(
        members(&space, "review_request", now()),
        [owner(&space, "user_id:u-ana")]
    );
    assert_consistent(&space, now());
}

#[test]
fn changed_definitions_rebuild_membership_when_the_store_is_reopened() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = common::open_store(dir.path());
        let space = store.space("default").unwrap();
        ingest(&space, complaint_journeys());
        assert_eq!(members(&space, "review_request", now()).len(), 1);
        store.flush().unwrap();
    }
    let config = Config::from_toml_str(
        "[audiences.review_request]\ncondition = 'did \"Order Completed\"'\n[audiences.abandoned_cart]\nenabled = false\n[audiences.complained]\ncondition = 'did \"Complaint Logged\" on support'\n",
        "test.toml",
    )
    .unwrap();
    {
        let store = Store::open(dir.path(), config).unwrap();
        let space = store.space("default").unwrap();
        assert_eq!(space.audiences().names(), ["complained", "review_request"]);
        assert_eq!(members(&space, "review_request", now()).len(), 2);
        assert_eq!(
            members(&space, "complained", now()),
            [owner(&space, "user_id:u-bob")]
        );
        assert!(space.audience_members("abandoned_cart", now()).is_err());
        assert_consistent(&space, now());
        store.flush().unwrap();
    }
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    assert_eq!(members(&space, "review_request", now()).len(), 1);
    assert_consistent(&space, now());
}

/// Events for two people on two devices each, with carts, orders and complaints at
/// random times around now, so that resolution, windows and exclusions all interact.
fn event_strategy() -> impl Strategy<Value = Value> {
    let names = prop::sample::select(vec![
        "Product Added",
        "Order Completed",
        "Complaint Logged",
        "Review Request Sent",
        "identify",
    ]);
    (
        0..4u32,
        names,
        -20 * 24..2 * 24i64,
        any::<bool>(),
        0..1000u32,
    )
        .prop_map(|(device, name, hours, known, salt)| {
            let time = idgraph::model::time::format_time(now() + hours * 3_600_000);
            let person = device / 2;
            let mut v = if name == "identify" {
                json!({"type":"identify"})
            } else {
                json!({"type":"track","event":name})
            };
            v["messageId"] = json!(format!("{device}-{name}-{hours}-{salt}"));
            v["timestamp"] = json!(time);
            v["anonymousId"] = json!(format!("anon-{device}"));
            let kind = if device % 2 == 0 { "ios" } else { "android" };
            v["context"] = json!({"device":{"id":format!("DEV-{device}"),"type":kind}});
            if name == "Complaint Logged" {
                v["context"]["channel"] = json!("support");
            }
            if known || name == "identify" {
                v["userId"] = json!(format!("user-{person}"));
            }
            v
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, ..ProptestConfig::default() })]

    #[test]
    fn stored_membership_always_equals_a_fresh_evaluation(
        batches in prop::collection::vec(prop::collection::vec(event_strategy(), 1..8), 1..4),
        after_repair in prop::collection::vec(event_strategy(), 1..5),
        after_undo in prop::collection::vec(event_strategy(), 1..5),
        repair in 0..3u8,
        pick in any::<prop::sample::Index>(),
        hours_later in 0..100i64,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let store = common::open_store(dir.path());
        let space = store.space("default").unwrap();
        for batch in batches {
            ingest(&space, batch);
            assert_consistent(&space, now());
            assert_checks(&store);
        }
        let mut profiles = Vec::new();
        space.for_each_profile(&mut |p| { profiles.push(p.clone()); true }).unwrap();
        let op = match repair {
            0 if profiles.len() > 1 => {
                let a = pick.get(&profiles).id;
                let b = profiles.iter().find(|p| p.id != a).unwrap().id;
                Some(space.merge(a, b, "test", true).unwrap().entry.op)
            }
            1 => {
                let splittable: Vec<_> = profiles.iter().filter(|p| p.identifiers.len() > 1).collect();
                if splittable.is_empty() {
                    None
                } else {
                    let p = pick.get(&splittable);
                    let moving = vec![p.identifiers[pick.index(p.identifiers.len())].id.clone()];
                    Some(space.split(p.id, &moving, "test").unwrap().entry.op)
                }
            }
            _ => None,
        };
        assert_consistent(&space, now());
        assert_checks(&store);
        ingest(&space, after_repair);
        assert_consistent(&space, now());
        assert_checks(&store);
        if let Some(op) = op {
            space.undo(op, "test").unwrap();
            assert_consistent(&space, now());
            assert_checks(&store);
            ingest(&space, after_undo);
            assert_consistent(&space, now());
            assert_checks(&store);
        }
        let later = now() + hours_later * 3_600_000;
        assert_consistent(&space, later);
        space.refresh_audiences(later).unwrap();
        assert_consistent(&space, later);
        assert_checks(&store);
    }
}

/// A store whose only audience is `name` (the default ones switched off).
fn store_with_only(dir: &std::path::Path, name: &str, condition: &str) -> Store {
    let config = Config::from_toml_str(
        &format!(
            "[audiences.abandoned_cart]\nenabled = false\n[audiences.review_request]\nenabled = false\n\
             [audiences.{name}]\ncondition = '{condition}'\n"
        ),
        "test.toml",
    )
    .unwrap();
    Store::open(dir, config).unwrap()
}

/// A batch re-evaluates a profile only when it may change what a condition reads: a merge
/// (other clusters, so other events) or a trait; a page view changes nothing.
#[test]
fn merges_and_traits_re_evaluate_a_profile_without_new_relevant_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_only(
        dir.path(),
        "pro_buyers",
        r#"trait plan = "pro" and did "Order Completed""#,
    );
    let space = store.space("default").unwrap();
    let page = || json!({"type": "page", "name": "Home"});
    ingest(
        &space,
        vec![
            iphone(
                "m-1",
                "2025-03-09T10:00:00Z",
                json!({"type": "identify", "userId": "u-ana", "traits": {"plan": "pro"}}),
            ),
            android("m-2", "2025-03-09T10:05:00Z", track("Order Completed")),
        ],
    );
    assert!(members(&space, "pro_buyers", now()).is_empty());
    ingest(&space, vec![iphone("m-3", "2025-03-09T10:10:00Z", page())]);
    assert!(members(&space, "pro_buyers", now()).is_empty());
    assert_consistent(&space, now());

    // A page view signed in on the Android phone merges its order into her profile.
    let mut signed_in = page();
    signed_in["userId"] = json!("u-ana");
    ingest(
        &space,
        vec![android("m-4", "2025-03-09T10:15:00Z", signed_in)],
    );
    let ana = owner(&space, "user_id:u-ana");
    assert_eq!(owner(&space, "android.id:PIXEL-1"), ana);
    assert_eq!(members(&space, "pro_buyers", now()), [ana]);
    assert_consistent(&space, now());

    // Only a trait changes.
    ingest(
        &space,
        vec![iphone(
            "m-5",
            "2025-03-09T10:20:00Z",
            json!({"type": "identify", "userId": "u-ana", "traits": {"plan": "free"}}),
        )],
    );
    assert!(members(&space, "pro_buyers", now()).is_empty());
    assert_consistent(&space, now());
}

/// A `where` test reads the events' JSON: the events the writer keeps between batches keep
/// it then, so a later batch re-evaluates on the same facts the first one saw.
#[test]
fn a_where_test_sees_earlier_batches_events_whole() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with_only(
        dir.path(),
        "big_spenders",
        r#"did "Order Completed" where properties.total > 100"#,
    );
    let space = store.space("default").unwrap();
    let order = |total: u32| {
        let mut order = track("Order Completed");
        order["userId"] = json!("u-ana");
        order["properties"] = json!({ "total": total });
        order
    };
    ingest(
        &space,
        vec![iphone("m-1", "2025-03-09T10:00:00Z", order(150))],
    );
    let ana = owner(&space, "user_id:u-ana");
    assert_eq!(members(&space, "big_spenders", now()), [ana]);
    // The small order re-evaluates her on the big one kept from the first batch.
    ingest(
        &space,
        vec![iphone("m-2", "2025-03-09T11:00:00Z", order(20))],
    );
    assert_eq!(members(&space, "big_spenders", now()), [ana]);
    assert_consistent(&space, now());
}
