//! `check` and `check --repair` on the audience records (`X` members, `Y` standings, `Z`
//! expiries): a store with members passes; each kind of damage is reported as an
//! `audience` problem and repaired so that the members are what they were.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use idgraph::audience::Why;
use idgraph::ingest::SourcedEvent;
use idgraph::model::time::parse_time_str;
use idgraph::model::{Event, Identifier, Millis, ProfileId, derive_channel};
use idgraph::query::{AudienceRead, GraphRead};
use idgraph::store::check::SpaceCheck;
use idgraph::store::{decode, encode, keys};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The fixed "now" of these tests.
fn now() -> Millis {
    parse_time_str("2025-03-10T12:00:00Z").expect("time")
}

/// A stored standing (`Y`), as the store encodes it.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Standing {
    member: bool,
    evaluated_at: Millis,
    valid_until: Option<Millis>,
}

/// The audience bookkeeping (`M` "audiences"), as the store encodes it.
#[derive(Debug, Serialize, Deserialize)]
struct Meta {
    clock: Option<Millis>,
    definitions: BTreeMap<String, String>,
}

fn journeys() -> Vec<Value> {
    let phone = json!({"id":"IPHONE-1","type":"ios"});
    let pixel = json!({"id":"PIXEL-1","type":"android"});
    vec![
        // An abandoned cart on an iPhone (its window ends: a standing that expires).
        json!({"type":"track","event":"Product Added","anonymousId":"ios-anon-1","messageId":"m-cart",
            "timestamp":"2025-03-09T10:00:00Z","context":{"device":phone}}),
        // An order on another phone: a review request is due.
        json!({"type":"track","event":"Order Completed","anonymousId":"and-anon-1","messageId":"m-order",
            "timestamp":"2025-03-09T11:00:00Z","context":{"device":pixel}}),
        // Bob ordered and complained: not a member, until the windows move.
        json!({"type":"identify","userId":"u-bob","messageId":"b1","timestamp":"2025-03-01T09:00:00Z",
            "traits":{"email":"bob@acme.io"}}),
        json!({"type":"track","event":"Order Completed","userId":"u-bob","messageId":"b2","timestamp":"2025-03-05T09:00:00Z"}),
        json!({"type":"track","event":"Complaint Logged","anonymousId":"zd-77","messageId":"b3","timestamp":"2025-03-06T09:04:00Z",
            "context":{"channel":"support","traits":{"email":"bob@acme.io"}}}),
        // Cara only signed up.
        json!({"type":"identify","userId":"u-cara","messageId":"c1","timestamp":"2025-03-01T09:00:00Z"}),
    ]
}

/// Every audience's members at `now()`, by name.
fn members(dir: &Path) -> Vec<(String, Vec<ProfileId>)> {
    let store = common::open_store(dir);
    let space = store.space("default").expect("space");
    space
        .audiences()
        .names()
        .into_iter()
        .map(|name| {
            let ids = space
                .audience_members(name, now())
                .expect("members")
                .into_iter()
                .map(|m| m.profile)
                .collect();
            (name.to_string(), ids)
        })
        .collect()
}

fn owner(dir: &Path, id: &str) -> ProfileId {
    let store = common::open_store(dir);
    let space = store.space("default").expect("space");
    space
        .owner(&Identifier::parse(id).expect("identifier"))
        .expect("read")
        .expect("owned")
}

/// A store holding members, an expiring non-member standing and a plain non-member.
fn built() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = common::open_store(dir.path());
    let space = store.space("default").expect("space");
    let batch: Vec<SourcedEvent> = journeys()
        .into_iter()
        .map(|v| {
            let event = Event::from_json(v).expect("event");
            let channel = derive_channel(&event);
            SourcedEvent {
                event,
                source: "test".into(),
                channel,
            }
        })
        .collect();
    space.ingest(&batch, now()).expect("ingest");
    dir
}

fn check(dir: &Path) -> SpaceCheck {
    let store = common::open_store(dir);
    let space = store.space_for_check("default").expect("space");
    space.check().expect("check")
}

/// Changes the space's tree directly (the store closed).
fn damage(dir: &Path, change: impl FnOnce(&sled::Tree)) {
    let db = sled::open(dir).expect("sled");
    let tree = db.open_tree("space:default").expect("tree");
    change(&tree);
    db.flush().expect("flush");
}

fn first(tree: &sled::Tree, tag: u8) -> (sled::IVec, sled::IVec) {
    tree.scan_prefix([tag])
        .next()
        .expect("a record")
        .expect("read")
}

fn messages(check: &SpaceCheck) -> Vec<String> {
    check
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.code, p.message))
        .collect()
}

/// Damages the store, expects check to name it as audience problems, repair to fix it,
/// and the members to be what they were.
fn found_and_repaired(change: impl FnOnce(&sled::Tree), expected: &[&str]) {
    let dir = built();
    let before = members(dir.path());
    damage(dir.path(), change);
    let found = check(dir.path());
    let lines = messages(&found);
    assert!(!found.is_ok(), "check must fail");
    for text in expected {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("audience: ") && l.contains(text)),
            "expected {text:?} in {lines:#?}"
        );
    }
    let store = common::open_store(dir.path());
    let repair = store
        .space_for_check("default")
        .expect("space")
        .repair()
        .expect("repair");
    assert!(
        repair.actions.iter().any(|a| a.contains("audience")),
        "{:#?}",
        repair.actions
    );
    drop(store);
    let after = check(dir.path());
    assert!(after.is_ok(), "{:#?}", messages(&after));
    assert_eq!(members(dir.path()), before);
}

#[test]
fn a_store_with_members_passes_and_counts_its_audience_records() {
    let dir = built();
    let members = members(dir.path());
    assert_eq!(
        members,
        [
            (
                "abandoned_cart".to_string(),
                vec![owner(dir.path(), "ios.id:IPHONE-1")]
            ),
            (
                "review_request".to_string(),
                vec![owner(dir.path(), "android.id:PIXEL-1")]
            ),
        ]
    );
    let check = check(dir.path());
    assert!(check.is_ok(), "{:#?}", messages(&check));
    // Two members (X and Y each), their expiries, Bob's expiring standing and its expiry.
    assert!(check.records.audiences >= 6, "{:?}", check.records);
    assert_eq!(check.records.other, 0);
}

#[test]
fn a_lost_member_record_is_rebuilt() {
    found_and_repaired(
        |tree| {
            let (key, _) = first(tree, keys::tag::AUDIENCE_MEMBER);
            tree.remove(key).unwrap();
        },
        &["has a member standing but no member record"],
    );
}

#[test]
fn a_lost_expiry_is_filed_again() {
    found_and_repaired(
        |tree| {
            let (key, _) = first(tree, keys::tag::AUDIENCE_EXPIRY);
            tree.remove(key).unwrap();
        },
        &["has a standing that expires but is not filed for re-evaluation"],
    );
}

#[test]
fn a_membership_no_fresh_evaluation_gives_is_taken_back() {
    let dir = built();
    let cara = owner(dir.path(), "user_id:u-cara");
    drop(dir);
    found_and_repaired(
        |tree| {
            // Cara claimed as an abandoned cart, with records that agree with each other.
            let (_, value) = first(tree, keys::tag::AUDIENCE_MEMBER);
            let mut why: Why = decode(&value).unwrap();
            why.valid_until = None;
            let standing = Standing {
                member: true,
                evaluated_at: why.evaluated_at,
                valid_until: None,
            };
            tree.insert(keys::audience_member("abandoned_cart", cara), encode(&why))
                .unwrap();
            tree.insert(
                keys::profile_audience(cara, "abandoned_cart"),
                encode(&standing),
            )
            .unwrap();
        },
        &["is stored as a member but is a non-member (fresh evaluation at 2025-03-10T12:00:00"],
    );
}

#[test]
fn records_of_missing_profiles_and_audiences_are_removed() {
    found_and_repaired(
        |tree| {
            let (_, value) = first(tree, keys::tag::AUDIENCE_MEMBER);
            tree.insert(
                keys::audience_member("abandoned_cart", ProfileId(999)),
                value.clone(),
            )
            .unwrap();
            tree.insert(
                keys::audience_member("retired_audience", ProfileId(1)),
                value,
            )
            .unwrap();
        },
        &[
            "member record X(abandoned_cart, p999) names p999, which does not exist",
            "names audience retired_audience, which is not configured",
        ],
    );
}

#[test]
fn undecodable_records_are_removed_and_their_pair_rebuilt() {
    found_and_repaired(
        |tree| {
            let (key, _) = first(tree, keys::tag::PROFILE_AUDIENCE);
            tree.insert(key, &b"\x01\xff\xff"[..]).unwrap();
            tree.insert([keys::tag::AUDIENCE_EXPIRY, 0, 9], &[][..])
                .unwrap();
        },
        &["does not decode", "has a member record but no standing"],
    );
}

#[test]
fn standings_whose_window_passed_are_consistently_expired() {
    let dir = built();
    // The audience clock moves five days on without a refresh: the cart's standing
    // expired, which reads and the next refresh re-evaluate.
    damage(dir.path(), |tree| {
        let key = keys::meta("audiences");
        let mut meta: Meta = decode(&tree.get(&key).unwrap().unwrap()).unwrap();
        meta.clock = meta.clock.map(|c| c + 5 * 86_400_000);
        tree.insert(key, encode(&meta)).unwrap();
    });
    let check = check(dir.path());
    assert!(check.is_ok(), "{:#?}", messages(&check));
}
