//! `idgraph demo` moves the generated journeys so they end now: both seed audiences have
//! members today, and the two seed examples show the exclusions they are about (the cart
//! checked out on the other phone, the complaint before the review request).

mod common;

use std::io::{BufRead, BufReader};

use common::Workspace;
use flate2::read::GzDecoder;
use serde_json::Value;

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// The demo's generated events, as written into the demo store's directory.
fn demo_events(ws: &Workspace) -> Vec<Value> {
    let file = std::fs::File::open(ws.store().join("demo-events.jsonl.gz")).expect("events");
    BufReader::new(GzDecoder::new(file))
        .lines()
        .map(|l| serde_json::from_str(&l.expect("line")).expect("json"))
        .collect()
}

fn time_of(event: &Value) -> i64 {
    idgraph::model::time::parse_time_str(event["timestamp"].as_str().expect("timestamp"))
        .expect("time")
}

/// `audience NAME --explain REF --json`: the why of one profile.
fn explain(ws: &Workspace, config: &str, audience: &str, reference: &str) -> Value {
    let out = ws.ok(&[
        "--config",
        config,
        "audience",
        audience,
        "--explain",
        reference,
        "--json",
    ]);
    json_lines(&out).remove(0)["why"].clone()
}

fn reason<'a>(why: &'a Value, clause: &str) -> &'a Value {
    why["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .find(|r| r["clause"].as_str().is_some_and(|c| c.contains(clause)))
        .unwrap_or_else(|| panic!("no clause {clause:?} in {why}"))
}

#[test]
fn the_demo_store_has_members_in_both_seed_audiences_now() {
    let ws = Workspace::new();
    let started = idgraph::model::time::now();
    ws.ok(&["demo", "--no-explore", "--people", "400", "--seed", "7"]);
    let config = ws.store().join("demo-config.toml");
    let config = config.to_str().expect("utf-8 path");

    let events = demo_events(&ws);
    let latest = events.iter().map(time_of).max().expect("events");
    assert!(
        latest <= idgraph::model::time::now(),
        "nothing in the future"
    );
    assert!(
        latest > started - 3_600_000,
        "the journeys run up to now (latest event {latest}, started {started})"
    );

    let counts: Vec<(String, u64)> =
        json_lines(&ws.ok(&["--config", config, "audience", "--json"]))
            .iter()
            .map(|l| {
                (
                    l["audience"].as_str().unwrap_or_default().to_string(),
                    l["members"].as_u64().unwrap_or(0),
                )
            })
            .collect();
    for audience in ["abandoned_cart", "review_request"] {
        let members = counts.iter().find(|(n, _)| n == audience).map(|(_, m)| *m);
        assert!(members > Some(0), "{audience} is empty: {counts:?}");
    }

    // A cart filled on the iPhone and checked out on Android: not an abandoned cart.
    let handoff = events
        .iter()
        .filter(|e| e["event"] == "Cart Viewed")
        .find_map(|viewed| {
            let user = viewed["userId"].as_str()?;
            let cart = &viewed["properties"]["cart_id"];
            events
                .iter()
                .any(|e| e["event"] == "Order Completed" && e["properties"]["cart_id"] == *cart)
                .then(|| format!("user_id:{user}"))
        })
        .expect("a cart handoff checked out by now");
    let why = explain(&ws, config, "abandoned_cart", &handoff);
    assert_eq!(why["member"], false, "{why}");
    let added = reason(&why, "\"Product Added\"");
    assert_eq!(added["satisfied"], true, "{why}");
    assert!(
        added["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["channel"] == "ios"),
        "{why}"
    );
    let ordered = reason(&why, "\"Order Completed\"");
    assert_eq!(
        (&ordered["negated"], &ordered["holds"]),
        (&Value::Bool(true), &Value::Bool(true))
    );
    assert!(
        ordered["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["channel"] == "android"),
        "{why}"
    );

    // An order, then a complaint to support: no review request.
    let complaint = events
        .iter()
        .find(|e| e["event"] == "Complaint Logged" && e["properties"]["severity"] == "high")
        .expect("the complaint before a review request");
    let desk_id = complaint["anonymousId"].as_str().expect("desk id");
    let why = explain(
        &ws,
        config,
        "review_request",
        &format!("anonymous_id:{desk_id}"),
    );
    assert_eq!(why["member"], false, "{why}");
    assert_eq!(
        reason(&why, "\"Order Completed\"")["satisfied"],
        true,
        "{why}"
    );
    let complained = reason(&why, "\"Complaint Logged\"");
    assert_eq!(complained["holds"], true, "{why}");
    assert_eq!(complained["events"][0]["channel"], "support", "{why}");
}
