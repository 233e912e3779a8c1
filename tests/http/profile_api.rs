//! Profile API reads against a real server and an in-memory graph.

use std::collections::HashMap;

use idgraph::model::{Event, Identifier, Profile, ProfileId, StoredEvent};
use serde_json::json;

use crate::common::{CONFIG, MemoryGraph, MemorySink, TestServer, basic, get, post, readers};

const PROFILES: &str = "/v1/spaces/shop/collections/users/profiles";

fn graph() -> MemoryGraph {
    let mut p = Profile::new(ProfileId(1), 1_000);
    for (kind, value, at) in [
        ("user_id", "u1", 1_000),
        ("email", "ana@acme.io", 2_000),
        ("phone", "+15550100", 3_000),
        ("anonymous_id", "a1", 500),
    ] {
        p.add_identifier(&Identifier::new(kind, value), at, "web");
    }
    let traits = json!({"name": "Ana", "plan": "pro", "removed": null});
    p.record_event(1_000, 1, traits.as_object().unwrap());
    let events = (0..3)
        .map(|n| {
            let e = Event::from_json(json!({"type": "track", "event": format!("Step {n}"),
                "userId": "u1", "messageId": format!("m{n}"), "properties": {"n": n}}))
            .unwrap();
            StoredEvent::from_event(
                &e,
                n,
                10_000 + n as i64,
                "web",
                "web",
                vec![Identifier::new("user_id", "u1")],
            )
        })
        .collect();
    MemoryGraph {
        space: "shop".into(),
        profiles: vec![p],
        events: HashMap::from([(ProfileId(1), events)]),
    }
}

fn server() -> TestServer {
    TestServer::start(CONFIG, MemorySink::default(), readers(vec![graph()]))
}

fn bearer() -> (&'static str, &'static str) {
    ("Authorization", "Bearer READ_TOKEN")
}

#[test]
fn traits_in_segment_shape() {
    let server = server();
    let reply = get(
        &server.url(&format!("{PROFILES}/user_id:u1/traits")),
        &[bearer()],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        reply.body,
        json!({"traits": {"name": "Ana", "plan": "pro"},
               "cursor": {"url": format!("{PROFILES}/user_id:u1/traits"), "has_more": false,
                          "next": "", "limit": 10}})
    );
    let reply = get(
        &server.url(&format!(
            "{PROFILES}/user_id:u1/traits?limit=1&include=plan,name"
        )),
        &[bearer()],
    );
    assert_eq!(reply.body["traits"], json!({"name": "Ana"}));
    assert_eq!(reply.body["cursor"]["has_more"], true);
    let next = reply.body["cursor"]["next"].as_str().unwrap().to_string();
    let reply = get(
        &server.url(&format!(
            "{PROFILES}/user_id:u1/traits?limit=1&include=plan,name&next={next}"
        )),
        &[bearer()],
    );
    assert_eq!(reply.body["traits"], json!({"plan": "pro"}));
}

#[test]
fn external_ids_in_segment_shape() {
    let server = server();
    // Emails are looked up normalised; `+` is sent as %2B.
    for id in ["email:Ana@Acme.IO", "phone:%2B15550100", "anonymous_id:a1"] {
        let reply = get(
            &server.url(&format!("{PROFILES}/{id}/external_ids")),
            &[bearer()],
        );
        assert_eq!(reply.status, 200, "{id}: {}", reply.body);
        let data = reply.body["data"].as_array().unwrap();
        assert_eq!(data.len(), 4);
        assert_eq!(
            data[1],
            json!({"id": "ana@acme.io", "type": "email", "source_id": "web", "collection": "users",
                   "created_at": "1970-01-01T00:00:02.000Z", "encoding": "none"})
        );
    }
}

#[test]
fn events_newest_first_with_paging() {
    let server = server();
    let url = server.url(&format!("{PROFILES}/user_id:u1/events?limit=2"));
    let reply = get(&url, &[bearer()]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let names: Vec<&str> = reply.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Step 2", "Step 1"]);
    assert_eq!(reply.body["data"][0]["message_id"], "m2");
    assert_eq!(reply.body["data"][0]["source_id"], "web");
    assert_eq!(reply.body["data"][0]["properties"], json!({"n": 2}));
    assert_eq!(reply.body["cursor"]["has_more"], true);
    let reply = get(&format!("{url}&next=2"), &[bearer()]);
    assert_eq!(reply.body["data"].as_array().unwrap().len(), 1);
    assert_eq!(reply.body["cursor"]["has_more"], false);
}

#[test]
fn events_filtered_by_name_page_through_the_matches() {
    let server = server();
    let names = |reply: &crate::common::Reply| -> Vec<String> {
        reply.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_string())
            .collect()
    };
    let url = server.url(&format!(
        "{PROFILES}/user_id:u1/events?include=Step%200,Step%202&limit=1"
    ));
    let reply = get(&url, &[bearer()]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(names(&reply), ["Step 2"]);
    assert_eq!(reply.body["cursor"]["has_more"], true);
    let next = reply.body["cursor"]["next"].as_str().unwrap().to_string();
    let reply = get(&format!("{url}&next={next}"), &[bearer()]);
    assert_eq!(names(&reply), ["Step 0"]);
    assert_eq!(reply.body["cursor"]["has_more"], false);

    let url = server.url(&format!("{PROFILES}/user_id:u1/events?exclude=Step%201"));
    assert_eq!(names(&get(&url, &[bearer()])), ["Step 2", "Step 0"]);
    let url = server.url(&format!("{PROFILES}/user_id:u1/traits?exclude=plan"));
    let reply = get(&url, &[bearer()]);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "invalid_request_error");
}

#[test]
fn unknown_profiles_and_spaces_are_404() {
    let server = server();
    let reply = get(
        &server.url(&format!("{PROFILES}/user_id:nobody/traits")),
        &[bearer()],
    );
    assert_eq!(reply.status, 404);
    assert_eq!(
        reply.body["error"],
        json!({"code": "not_found", "message": "Profile was not found."})
    );
    let reply = get(
        &server.url("/v1/spaces/elsewhere/collections/users/profiles/user_id:u1/events"),
        &[bearer()],
    );
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["error"]["message"], "Space was not found.");
    let reply = get(&server.url(&format!("{PROFILES}/u1/traits")), &[bearer()]);
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "validation_error");
    let reply = get(
        &server.url(&format!("{PROFILES}/user_id:u1/events?limit=500")),
        &[bearer()],
    );
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"]["code"], "invalid_request_error");
}

/// The Profile API only reads: a POST is answered 405 with the JSON error body of every
/// other error, naming GET.
#[test]
fn posts_to_profile_reads_answer_json_naming_get() {
    let server = server();
    let path = format!("{PROFILES}/user_id:u1/traits");
    let reply = post(&server.url(&path), &[bearer()], b"{}");
    assert_eq!(reply.status, 405);
    assert_eq!(reply.body["success"], false);
    assert_eq!(reply.body["error"]["code"], "method_not_allowed");
    assert_eq!(
        reply.body["error"]["message"],
        format!("{path} does not take POST; use GET or HEAD")
    );
    assert_eq!(reply.header("allow"), Some("GET,HEAD"));
}

#[test]
fn reads_need_the_read_token() {
    let server = server();
    let url = server.url(&format!("{PROFILES}/user_id:u1/traits"));
    assert_eq!(get(&url, &[]).status, 401);
    assert_eq!(get(&url, &[("Authorization", "Bearer nope")]).status, 401);
    // A write key does not read.
    let write = basic("KEY_WEB");
    assert_eq!(get(&url, &[("Authorization", write.as_str())]).status, 401);
    let read = basic("READ_TOKEN");
    assert_eq!(get(&url, &[("Authorization", read.as_str())]).status, 200);
    assert_eq!(get(&url, &[bearer()]).status, 200);
}

#[test]
fn reads_are_disabled_without_a_token() {
    let config = CONFIG.replace("read_token = \"READ_TOKEN\"", "read_token = \"\"");
    let server = TestServer::start(&config, MemorySink::default(), readers(vec![graph()]));
    let reply = get(
        &server.url(&format!("{PROFILES}/user_id:u1/traits")),
        &[bearer()],
    );
    assert_eq!(reply.status, 403);
    assert_eq!(reply.body["error"]["code"], "reads_disabled");
}
