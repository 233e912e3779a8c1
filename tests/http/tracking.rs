//! The tracking API against a real server: call types, encodings, auth, limits, errors.

use std::time::{Duration, Instant};

use idgraph::ingest::SinkError;
use idgraph::model::CallType;
use idgraph::model::time::parse_time_str;
use serde_json::{Value, json};

use crate::common::{MemorySink, TestServer, basic, gzip, post, post_json};

fn message(call: &str, n: usize) -> Value {
    let mut m =
        json!({"type": call, "userId": format!("u{n}"), "messageId": format!("{call}-{n}")});
    match call {
        "track" => m["event"] = json!("Order Completed"),
        "alias" => m["previousId"] = json!(format!("anon-{n}")),
        "group" => m["groupId"] = json!("g1"),
        "identify" => m["traits"] = json!({"email": "ana@acme.io"}),
        "page" | "screen" => m["name"] = json!("Home"),
        _ => {}
    }
    m
}

#[test]
fn every_single_call_endpoint_implies_its_type() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    for call in CallType::ALL {
        let mut body = message(call.as_str(), 1);
        body.as_object_mut().unwrap().remove("type");
        let reply = post_json(
            &server.url(&format!("/v1/{}", call.as_str())),
            "KEY_WEB",
            &body,
        );
        assert_eq!(reply.status, 200, "{call:?}: {}", reply.body);
        assert_eq!(
            reply.body,
            json!({"success": true, "received": 1, "stored": 1, "duplicates": 0,
                   "rejected": [], "unresolvable": []})
        );
    }
    let events = sink.events("shop");
    let calls: Vec<CallType> = events.iter().map(|e| e.event.call).collect();
    assert_eq!(calls, CallType::ALL.to_vec());
    for e in &events {
        assert_eq!(e.source, "web");
        assert_eq!(e.channel, "web");
        assert!(e.event.received_at.is_some());
        assert!(e.event.timestamp.is_some());
    }
}

#[test]
fn single_call_with_a_conflicting_type_is_refused() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let reply = post_json(&server.url("/v1/track"), "KEY_WEB", &message("identify", 1));
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "type_mismatch");
    assert_eq!(sink.total(), 0);
}

#[test]
fn batch_of_every_type_with_the_key_in_the_body() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let batch: Vec<Value> = CallType::ALL
        .iter()
        .enumerate()
        .map(|(n, c)| message(c.as_str(), n))
        .collect();
    let body = json!({"batch": batch, "writeKey": "KEY_SUPPORT"});
    let reply = post(&server.url("/v1/batch"), &[], body.to_string().as_bytes());
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["stored"], 6);
    let events = sink.events("helpdesk");
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(|e| e.channel == "support"));
    assert!(
        events
            .iter()
            .all(|e| !e.event.raw().contains_key("writeKey"))
    );
}

#[test]
fn gzip_bodies_with_json_or_form_labels() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    for (n, content_type) in ["application/json", "application/x-www-form-urlencoded"]
        .into_iter()
        .enumerate()
    {
        let body = json!({"batch": [message("track", n), message("page", n)]});
        let packed = gzip(body.to_string().as_bytes());
        let auth = basic("KEY_WEB");
        let reply = post(
            &server.url("/v1/batch"),
            &[
                ("Content-Type", content_type),
                ("Content-Encoding", "gzip"),
                ("Authorization", &auth),
            ],
            &packed,
        );
        assert_eq!(reply.status, 200, "{content_type}: {}", reply.body);
        assert_eq!(reply.body["stored"], 2);
    }
    assert_eq!(sink.events("shop").len(), 4);
}

#[test]
fn unknown_or_missing_keys_are_refused() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let body = json!({"batch": [message("track", 1)]});
    let reply = post_json(&server.url("/v1/batch"), "NOPE", &body);
    assert_eq!(reply.status, 401);
    assert_eq!(reply.body["error"]["code"], "authentication_error");
    assert!(reply.header("www-authenticate").is_some());

    let in_body = json!({"batch": [message("track", 1)], "writeKey": "NOPE"});
    let reply = post(
        &server.url("/v1/batch"),
        &[],
        in_body.to_string().as_bytes(),
    );
    assert_eq!(reply.status, 401);

    let reply = post(&server.url("/v1/batch"), &[], body.to_string().as_bytes());
    assert_eq!(reply.status, 401);
    assert!(
        reply.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("write key")
    );

    let reply = post(
        &server.url("/v1/track"),
        &[("Authorization", "Bearer KEY_WEB")],
        message("track", 1).to_string().as_bytes(),
    );
    assert_eq!(reply.status, 401);
    assert_eq!(sink.total(), 0);
}

#[test]
fn a_key_writes_only_into_its_own_space() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    // The header key (web -> shop) wins over the body's and the items' write keys.
    let mut item = message("track", 1);
    item["writeKey"] = json!("KEY_SUPPORT");
    let body = json!({"batch": [item], "writeKey": "KEY_SUPPORT"});
    let reply = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    // A single call naming another key in its body still goes to the header key's space.
    let mut single = message("identify", 2);
    single["writeKey"] = json!("KEY_SUPPORT");
    let reply = post_json(&server.url("/v1/identify"), "KEY_WEB", &single);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(sink.events("shop").len(), 2);
    assert!(sink.events("helpdesk").is_empty());
    assert!(sink.events("shop").iter().all(|e| e.source == "web"));
}

#[test]
fn batch_context_and_integrations_merge_into_items() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let mut own = message("track", 2);
    own["context"] = json!({"library": {"name": "own"}});
    let body = json!({
        "batch": [message("track", 1), own],
        "context": {"library": {"name": "batch-lib", "version": "9"}, "ip": "203.0.113.1"},
        "integrations": {"All": false}
    });
    let reply = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let events = sink.events("shop");
    assert_eq!(
        events[0].event.raw()["context"]["library"]["name"],
        "batch-lib"
    );
    assert_eq!(events[0].event.raw()["integrations"], json!({"All": false}));
    assert_eq!(
        events[1].event.raw()["context"]["library"],
        json!({"name": "own", "version": "9"})
    );
    assert_eq!(events[1].event.raw()["context"]["ip"], "203.0.113.1");
}

#[test]
fn message_size_limit_rejects_only_that_item() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let mut big = message("track", 2);
    big["properties"] = json!({"blob": "x".repeat(33 * 1024)});
    let body = json!({"batch": [message("track", 1), big, message("track", 3)]});
    let reply = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert_eq!(reply.body["stored"], 2);
    assert_eq!(reply.body["rejected"][0]["index"], 1);
    assert_eq!(reply.body["rejected"][0]["code"], "message_too_large");
    assert_eq!(sink.events("shop").len(), 2);

    // On a single-call endpoint the body is the message.
    let mut single = message("track", 4);
    single["properties"] = json!({"blob": "x".repeat(33 * 1024)});
    let reply = post_json(&server.url("/v1/track"), "KEY_WEB", &single);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "payload_too_large");
    assert_eq!(sink.events("shop").len(), 2);
}

#[test]
fn batch_byte_limit() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let items: Vec<Value> = (0..20)
        .map(|n| {
            let mut m = message("track", n);
            m["properties"] = json!({"blob": "y".repeat(30 * 1024)});
            m
        })
        .collect();
    let body = json!({"batch": items});
    assert!(body.to_string().len() > 500 * 1024);
    let reply = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "payload_too_large");
    assert_eq!(sink.total(), 0);
}

#[test]
fn batch_count_limit() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let items: Vec<Value> = (0..2501)
        .map(|n| json!({"type": "page", "userId": n}))
        .collect();
    let reply = post_json(
        &server.url("/v1/batch"),
        "KEY_WEB",
        &json!({"batch": items}),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "too_many_messages");
    assert_eq!(sink.total(), 0);

    let items: Vec<Value> = (0..2500)
        .map(|n| json!({"type": "page", "userId": n}))
        .collect();
    let reply = post_json(
        &server.url("/v1/batch"),
        "KEY_WEB",
        &json!({"batch": items}),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["stored"], 2500);
}

#[test]
fn gzip_bomb_is_stopped_at_the_limit() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    // 64 MB of whitespace inside a valid JSON object compresses to about 64 KB.
    let mut text = b"{\"batch\":[".to_vec();
    text.extend(std::iter::repeat_n(b' ', 64 * 1024 * 1024));
    text.extend(b"]}");
    let bomb = gzip(&text);
    drop(text);
    assert!(bomb.len() < 500 * 1024);
    let auth = basic("KEY_WEB");
    let started = Instant::now();
    let reply = post(
        &server.url("/v1/batch"),
        &[("Content-Encoding", "gzip"), ("Authorization", &auth)],
        &bomb,
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "payload_too_large");
    assert!(started.elapsed() < Duration::from_secs(5));
    // A compressed body larger than any decodable batch is refused unread.
    let noise: Vec<u8> = (0..700_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let reply = post(
        &server.url("/v1/batch"),
        &[("Authorization", &auth)],
        &gzip(&noise),
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "payload_too_large");
}

#[test]
fn invalid_bodies_are_named() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let auth = basic("KEY_WEB");
    let headers = [("Authorization", auth.as_str())];
    let cases: [(&[u8], &str); 5] = [
        (b"{\"batch\": [", "invalid_json"),
        (b"", "invalid_json"),
        (b"[1,2]", "invalid_json"),
        (b"{\"batch\": {}}", "invalid_batch"),
        (b"{\"batch\": [], \"context\": 3}", "invalid_batch"),
    ];
    for (body, code) in cases {
        let reply = post(&server.url("/v1/batch"), &headers, body);
        assert_eq!(reply.status, 400, "{:?}", String::from_utf8_lossy(body));
        assert_eq!(reply.body["success"], false);
        assert_eq!(reply.body["error"]["code"], code, "{}", reply.body);
        assert!(!reply.body["error"]["message"].as_str().unwrap().is_empty());
    }
    let reply = post(
        &server.url("/v1/batch"),
        &[
            ("Authorization", auth.as_str()),
            ("Content-Encoding", "gzip"),
        ],
        b"{\"batch\": []}",
    );
    assert_eq!(reply.body["error"]["code"], "invalid_gzip");
    let reply = post(
        &server.url("/v1/batch"),
        &[("Authorization", auth.as_str()), ("Content-Encoding", "br")],
        b"{}",
    );
    assert_eq!(reply.status, 415);
    assert_eq!(reply.body["error"]["code"], "unsupported_encoding");
    let reply = post(&server.url("/v1/identify"), &headers, b"{\"traits\":{}}");
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "missing_identity");
    assert_eq!(sink.total(), 0);
}

#[test]
fn mixed_batches_store_the_good_items_and_list_the_bad() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let body = json!({"batch": [
        message("track", 1),
        {"type": "track", "event": "No Identity", "userId": null, "anonymousId": null},
        {"userId": "u9", "event": "No Type"},
        "not an object",
        message("identify", 4),
    ]});
    let reply = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["success"], false);
    assert_eq!(reply.body["received"], 5);
    assert_eq!(reply.body["stored"], 2);
    assert_eq!(reply.body["error"]["code"], "invalid_messages");
    let rejected: Vec<(u64, &str)> = reply.body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (1, "missing_identity"),
            (2, "missing_type"),
            (3, "not_an_object")
        ]
    );
    assert_eq!(sink.events("shop").len(), 2);
}

#[test]
fn duplicates_are_reported() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let body = json!({"batch": [message("track", 1), message("page", 2)]});
    let first = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(first.body["stored"], 2);
    let again = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(again.status, 200);
    assert_eq!(again.body["stored"], 0);
    assert_eq!(again.body["duplicates"], 2);
    assert_eq!(sink.events("shop").len(), 2);
}

#[test]
fn calls_without_a_message_id_are_each_a_message_of_their_own() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let body = json!({"userId": "d2", "event": "Tapped"});
    for _ in 0..2 {
        let answer = post_json(&server.url("/v1/track"), "KEY_WEB", &body);
        assert_eq!(
            (answer.status, answer.body["stored"].clone()),
            (200, json!(1))
        );
    }
    let ids: Vec<String> = sink
        .events("shop")
        .iter()
        .map(|e| e.event.message_id.clone())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(ids.iter().all(|id| id.starts_with("idgraph-")), "{ids:?}");
}

#[test]
fn timestamps_are_corrected_for_clock_skew() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    // The client's clock runs two hours ahead; it sent the call 30 s after making it.
    let body = json!({"type": "track", "event": "Signed Up", "userId": "u1",
        "timestamp": "2030-01-01T10:00:00.000Z", "sentAt": "2030-01-01T10:00:30.000Z"});
    let reply = post_json(&server.url("/v1/track"), "KEY_WEB", &body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let event = &sink.events("shop")[0].event;
    let received = event.received_at.unwrap();
    assert_eq!(event.timestamp, Some(received - 30_000));
    assert_eq!(
        event.original_timestamp,
        parse_time_str("2030-01-01T10:00:00Z")
    );
    assert_eq!(event.raw()["originalTimestamp"], "2030-01-01T10:00:00.000Z");

    // In a batch, the batch's sentAt applies.
    let body = json!({"sentAt": "2030-01-01T10:01:00.000Z", "batch": [
        {"type": "page", "anonymousId": "a1", "messageId": "p1",
         "originalTimestamp": "2030-01-01T10:00:00.000Z"}]});
    post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    let event = &sink.events("shop")[1].event;
    assert_eq!(event.timestamp, Some(event.received_at.unwrap() - 60_000));
}

#[test]
fn store_failures_are_retryable() {
    let sink = MemorySink::default();
    let server = TestServer::tracking(sink.clone());
    let body = json!({"batch": [message("track", 1)]});
    sink.fail_with(SinkError::ShuttingDown);
    let reply = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), Some("5"));
    sink.fail_with(SinkError::Store("disk full".into()));
    let reply = post_json(&server.url("/v1/batch"), "KEY_WEB", &body);
    assert_eq!(reply.status, 500);
    assert_eq!(reply.body["error"]["code"], "internal_error");
    assert!(!reply.body.to_string().contains("disk full"));
}

#[test]
fn unknown_routes_answer_json() {
    let server = TestServer::tracking(MemorySink::default());
    let reply = post_json(&server.url("/v2/nothing"), "KEY_WEB", &json!({}));
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["error"]["code"], "not_found");
    let reply = crate::common::get(&server.url("/v1/batch"), &[]);
    assert_eq!(reply.status, 405);
}

/// A method a tracking route does not take is answered 405 with the JSON error body of every
/// other error, naming the method to use (as the `Allow` header does).
#[test]
fn wrong_methods_answer_json_naming_the_allowed_one() {
    let server = TestServer::tracking(MemorySink::default());
    for path in ["/v1/track", "/v1/batch"] {
        let reply = crate::common::get(&server.url(path), &[]);
        assert_eq!(reply.status, 405, "{path}");
        assert_eq!(
            reply.body,
            json!({"success": false, "error": {
                "code": "method_not_allowed",
                "message": format!("{path} does not take GET; use POST"),
            }}),
            "{path}"
        );
        assert_eq!(reply.header("allow"), Some("POST"), "{path}");
    }
}

#[test]
fn shutdown_finishes_requests_in_flight() {
    let sink = MemorySink::default();
    sink.delay(Duration::from_millis(600));
    let mut server = TestServer::tracking(sink.clone());
    let url = server.url("/v1/batch");
    let client = std::thread::spawn(move || {
        post_json(&url, "KEY_WEB", &json!({"batch": [message("track", 1)]}))
    });
    std::thread::sleep(Duration::from_millis(200));
    server.stop();
    let reply = client.join().unwrap();
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(sink.events("shop").len(), 1);
    // No new connections after shutdown.
    let refused = ureq::post(&server.url("/v1/batch")).send("{}");
    assert!(refused.is_err());
}
