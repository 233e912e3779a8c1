//! `idgraph audience` on the real binary: listing, members as JSON lines, explanations,
//! membership following resolution, and config errors with file positions.

mod common;

use common::Workspace;
use predicates::prelude::*;
use serde_json::{Value, json};

const NOW: &str = "2025-03-10T12:00:00Z";

fn devices() -> Vec<Value> {
    let phone = json!({"id":"IPHONE-1","type":"ios"});
    let pixel = json!({"id":"PIXEL-1","type":"android"});
    vec![
        json!({"type":"track","event":"Product Added","anonymousId":"ios-anon-1","messageId":"m-cart",
            "timestamp":"2025-03-09T10:00:00Z","context":{"device":phone}}),
        json!({"type":"track","event":"Order Completed","anonymousId":"and-anon-1","messageId":"m-order",
            "timestamp":"2025-03-09T11:00:00Z","context":{"device":pixel}}),
        json!({"type":"identify","userId":"u-bob","messageId":"b1","timestamp":"2025-03-01T09:00:00Z",
            "traits":{"email":"bob@acme.io","name":"Bob Stone"}}),
        json!({"type":"track","event":"Order Completed","userId":"u-bob","messageId":"b2","timestamp":"2025-03-05T09:00:00Z"}),
        json!({"type":"track","event":"Complaint Logged","anonymousId":"zd-77","messageId":"b3","timestamp":"2025-03-06T09:04:00Z",
            "context":{"channel":"support","traits":{"email":"bob@acme.io"}}}),
    ]
}

fn sign_ins() -> Vec<Value> {
    vec![
        json!({"type":"identify","userId":"u-ana","anonymousId":"ios-anon-1","messageId":"m-id-1",
            "timestamp":"2025-03-09T12:00:00Z","context":{"device":{"id":"IPHONE-1","type":"ios"}}}),
        json!({"type":"identify","userId":"u-ana","anonymousId":"and-anon-1","messageId":"m-id-2",
            "timestamp":"2025-03-09T12:05:00Z","context":{"device":{"id":"PIXEL-1","type":"android"}}}),
    ]
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

fn ids(line: &Value) -> Vec<String> {
    common::ids_of(line)
}

#[test]
fn members_follow_resolution_of_the_two_devices() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &devices());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let out = ws.ok(&["audience", "abandoned_cart", "--json", "--now", NOW]);
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["audience"], "abandoned_cart");
    assert_eq!(lines[0]["space"], "default");
    assert_eq!(
        ids(&lines[0]),
        ["anonymous_id:ios-anon-1", "ios.id:IPHONE-1"]
    );
    assert_eq!(lines[0]["why"]["member"], true);
    assert_eq!(
        lines[0]["why"]["reasons"][0]["events"][0]["message_id"],
        "m-cart"
    );

    let more = ws.file("sign-ins.jsonl", &sign_ins());
    ws.ok(&["ingest", more.to_str().unwrap()]);
    let out = ws.ok(&["audience", "abandoned_cart", "--json", "--now", NOW]);
    assert_eq!(out, "", "resolved: the cart was checked out on Android");
    let human = ws.ok(&["audience", "abandoned_cart", "--now", NOW]);
    assert!(
        human.starts_with(
            "abandoned_cart: 0 members in space default as of 2025-03-10T12:00:00.000Z"
        ),
        "{human}"
    );
    let review = json_lines(&ws.ok(&["audience", "review_request", "--json", "--now", NOW]));
    assert_eq!(review.len(), 1);
    assert!(ids(&review[0]).contains(&"user_id:u-ana".to_string()));
}

#[test]
fn list_counts_members_and_explain_says_why_not() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &devices());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let list = json_lines(&ws.ok(&["audience", "--list", "--json", "--now", NOW]));
    let counts: Vec<(String, u64)> = list
        .iter()
        .map(|l| {
            (
                l["audience"].as_str().unwrap().to_string(),
                l["members"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        counts,
        [
            ("abandoned_cart".to_string(), 1),
            ("review_request".to_string(), 1)
        ]
    );
    let human = ws.ok(&["audiences", "--now", NOW]);
    assert!(human.contains("abandoned_cart"), "{human}");
    assert!(human.contains("1 member "), "{human}");

    let explained = ws.ok(&[
        "audience",
        "review_request",
        "--explain",
        "email:bob@acme.io",
        "--now",
        NOW,
    ]);
    assert!(
        explained.contains("is not in review_request"),
        "{explained}"
    );
    assert!(explained.contains("- not did \"Complaint Logged\" on support within 30d: Complaint Logged 2025-03-06T09:04:00.000Z on support (b3)"), "{explained}");
    let as_json: Value = serde_json::from_str(&ws.ok(&[
        "audience",
        "review_request",
        "--explain",
        "user_id:u-bob",
        "--json",
        "--now",
        NOW,
    ]))
    .unwrap();
    assert_eq!(as_json["why"]["member"], false);

    // Without --now the wall clock decides: these March 2025 events are long out of window.
    let today = json_lines(&ws.ok(&["audience", "--json"]));
    assert!(today.iter().all(|l| l["members"] == 0), "{today:?}");
}

#[test]
fn unknown_audiences_and_bad_conditions_fail_clearly() {
    let ws = Workspace::new();
    ws.idgraph()
        .args(["audience", "vip"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "unknown audience 'vip' (configured: abandoned_cart, review_request)",
        ));
    ws.idgraph()
        .args(["audience", "vip", "--now", "yesterday"])
        .assert()
        .code(2);
    let config = ws.write(
        "config.toml",
        "[audiences.vip]\ndescription = \"big spenders\"\ncondition = '''\ntrait ltv > 1000\n  and did \"Order Completed\" within 30 days\n'''\n",
    );
    ws.idgraph()
        .arg("--config")
        .arg(&config)
        .args(["audience", "--list"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "config {}: [audiences.vip] condition, line 5, column 36: expected a duration after 'within' (e.g. 7d, 12h, 30m), found '30'",
            config.display()
        )));
}

#[test]
fn custom_audiences_from_the_config_file() {
    let ws = Workspace::new();
    let config = ws.write(
        "config.toml",
        "[audiences.complainers]\ndescription = \"complained to support\"\ncondition = 'did \"Complaint Logged\" on support'\n[audiences.abandoned_cart]\nenabled = false\n",
    );
    let file = ws.file("e.jsonl", &devices());
    let with_config = |args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        ws.ok(&all)
    };
    with_config(&["ingest", file.to_str().unwrap()]);
    let list = json_lines(&with_config(&["audience", "--json", "--now", NOW]));
    let names: Vec<&str> = list
        .iter()
        .map(|l| l["audience"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["complainers", "review_request"]);
    let members = json_lines(&with_config(&["audience", "complainers", "--json"]));
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["traits"]["name"], "Bob Stone");
}
