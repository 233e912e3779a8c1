//! Replays the requests captured from real Segment and RudderStack client libraries
//! (`tests/fixtures/wire/*.json`): method, path, headers and body, gzipped when they were.

use std::path::PathBuf;

use idgraph::model::time::parse_time_str;
use idgraph::model::{CallType, Millis};
use serde_json::Value;

use crate::common::{MemorySink, Reply, TestServer, gzip, post};

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wire")
}

/// Every capture, by file name.
fn captures() -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(fixture_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let capture = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            (name, capture)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn capture(name: &str) -> Value {
    captures()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, c)| c)
        .unwrap()
}

/// Sends a capture as the client did: same method, path, headers and (re-encoded) body.
fn replay(server: &TestServer, capture: &Value) -> Reply {
    assert_eq!(capture["method"], "POST");
    let json = serde_json::to_vec(&capture["body"]).unwrap();
    let body = if capture["gzip"] == true {
        gzip(&json)
    } else {
        json
    };
    let headers: Vec<(String, String)> = capture["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(name, _)| {
            !["host", "content-length", "connection", "accept-encoding"]
                .contains(&name.to_ascii_lowercase().as_str())
        })
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_string()))
        .collect();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    post(
        &server.url(capture["path"].as_str().unwrap()),
        &headers,
        &body,
    )
}

fn ms(text: &str) -> Millis {
    parse_time_str(text).unwrap()
}

#[test]
fn every_captured_request_is_accepted_with_its_events() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let all = captures();
    assert_eq!(all.len(), 25);
    for (name, capture) in &all {
        let before = sink.events("wire").len();
        let reply = replay(&server, capture);
        let items = capture["body"]["batch"].as_array().unwrap();
        assert_eq!(reply.status, 200, "{name}: {}", reply.body);
        assert_eq!(reply.body["received"], items.len(), "{name}");
        assert_eq!(reply.body["stored"], items.len(), "{name}");
        let stored = sink.events("wire");
        let new = &stored[before..];
        assert_eq!(new.len(), items.len(), "{name}");
        for (item, sourced) in items.iter().zip(new) {
            let event = &sourced.event;
            assert_eq!(
                event.message_id,
                item["messageId"].as_str().unwrap(),
                "{name}"
            );
            let call = CallType::from_name(item["type"].as_str().unwrap()).unwrap();
            assert_eq!(event.call, call, "{name}");
            assert_eq!(sourced.source, "wire");
            assert_eq!(event.user_id.as_deref(), item["userId"].as_str(), "{name}");
            assert_eq!(
                event.anonymous_id.as_deref(),
                item["anonymousId"].as_str(),
                "{name}"
            );
            assert!(
                event.received_at.is_some() && event.timestamp.is_some(),
                "{name}"
            );
            assert!(event.raw().contains_key("receivedAt"), "{name}");
            assert!(!event.raw().contains_key("writeKey"), "{name}");
            assert_eq!(
                event.raw()["context"]["library"],
                item["context"]["library"],
                "{name}"
            );
        }
    }
    // Nothing leaked into any other space.
    assert_eq!(sink.total(), sink.events("wire").len());
}

#[test]
fn replaying_the_captures_again_only_finds_duplicates() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    for (_, capture) in captures() {
        replay(&server, &capture);
    }
    let stored = sink.total();
    for (name, capture) in captures() {
        let reply = replay(&server, &capture);
        let n = capture["body"]["batch"].as_array().unwrap().len();
        assert_eq!(reply.status, 200, "{name}");
        assert_eq!(reply.body["stored"], 0, "{name}");
        assert_eq!(reply.body["duplicates"], n, "{name}");
    }
    assert_eq!(sink.total(), stored);
}

#[test]
fn segment_python_timestamps_are_corrected_with_the_batch_sent_at() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let capture = capture("segmentpy_track.json");
    assert_eq!(replay(&server, &capture).status, 200);
    let event = &sink.events("wire")[0].event;
    let sent_at = ms(capture["body"]["sentAt"].as_str().unwrap());
    let original = ms("2024-05-01T12:00:00Z");
    assert_eq!(event.original_timestamp, Some(original));
    assert_eq!(
        event.timestamp,
        Some(event.received_at.unwrap() - (sent_at - original))
    );
}

#[test]
fn rudderstack_node_explicit_timestamps_are_kept() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let capture = capture("ruddernode_track.json");
    assert_eq!(
        capture["headers"]["Content-Type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(replay(&server, &capture).status, 200);
    let event = &sink.events("wire")[0].event;
    assert_eq!(event.timestamp, Some(ms("2024-05-01T12:00:00Z")));
    assert_eq!(event.event_name.as_deref(), Some("Order Completed"));
}

#[test]
fn rudderstack_python_identify_traits_come_from_context() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    assert_eq!(
        replay(&server, &capture("rudderpy_gzip_identify.json")).status,
        200
    );
    let event = &sink.events("wire")[0].event;
    assert_eq!(event.call, CallType::Identify);
    assert_eq!(event.profile_traits()["email"], "ada@example.com");
}

#[test]
fn the_segment_python_gzip_batch_of_six() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let reply = replay(&server, &capture("segmentpy_gzip_batch6.json"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["stored"], 6);
    let calls: Vec<CallType> = sink.events("wire").iter().map(|e| e.event.call).collect();
    for call in CallType::ALL {
        assert!(calls.contains(&call), "{call:?} missing from {calls:?}");
    }
}
