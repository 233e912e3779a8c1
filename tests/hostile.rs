//! Hostile input on the CLI (`idgraph ingest`) and the server (`POST /v1/batch`): each bad
//! line or item is answered with one clear line (CLI) or a 4xx JSON body (server), the good
//! ones still go in, the store stays consistent, and nothing printed for people carries raw
//! control characters.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Workspace, ids_of};
use serde_json::{Value, json};

const ESC: &str = "\u{1b}";

fn good(n: usize) -> Value {
    json!({"type":"identify","userId":format!("good-{n}"),"messageId":format!("good-{n}"),
        "timestamp":"2025-01-01T00:00:00Z","traits":{"plan":"pro"}})
}

fn stored_users(ws: &Workspace) -> Vec<String> {
    let mut users: Vec<String> = ws
        .export("default")
        .iter()
        .flat_map(ids_of)
        .filter_map(|id| id.strip_prefix("user_id:").map(str::to_string))
        .collect();
    users.sort();
    users
}

/// Ingests `bad` between two good lines; returns (exit code, stderr).
fn ingest_between_good_lines(ws: &Workspace, name: &str, bad: &[u8]) -> (i32, String) {
    let mut bytes = format!("{}\n", good(1)).into_bytes();
    bytes.extend_from_slice(bad);
    bytes.extend_from_slice(format!("\n{}\n", good(2)).as_bytes());
    let path = ws.path().join(name);
    std::fs::write(&path, bytes).unwrap();
    let out = ws.idgraph().arg("ingest").arg(&path).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    (out.status.code().unwrap_or(-1), stderr)
}

fn assert_one_clear_line(stderr: &str, file: &str, expected: &str) {
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("idgraph: "))
        .collect();
    assert_eq!(errors.len(), 1, "one error line expected:\n{stderr}");
    assert!(errors[0].contains(&format!("{file}:2: ")), "{stderr}");
    assert!(
        errors[0].contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
    assert!(!stderr.contains(ESC), "raw ESC on stderr");
    assert!(
        errors[0].len() < 600,
        "error line too long: {} bytes",
        errors[0].len()
    );
}

#[test]
fn cli_rejects_each_hostile_line_clearly_and_keeps_the_good_ones() {
    let ten_mb = "x".repeat(10 * 1024 * 1024);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "utf8.jsonl",
            b"{\"type\":\"page\",\"userId\":\"\xff\xfe\"}".to_vec(),
            "not valid UTF-8",
        ),
        (
            "deep.jsonl",
            format!("{}{}", "[".repeat(200_000), "]".repeat(200_000)).into_bytes(),
            "nested deeper than 128 levels",
        ),
        (
            "deep-object.jsonl",
            format!(
                "{{\"type\":\"page\",\"userId\":\"u\",\"properties\":{}1{}}}",
                "{\"a\":".repeat(5_000),
                "}".repeat(5_000)
            )
            .into_bytes(),
            "nested deeper than 128 levels",
        ),
        (
            "huge-line.jsonl",
            format!("{{\"type\":\"page\",\"userId\":\"u\",\"name\":\"{ten_mb}\"}}").into_bytes(),
            "the limit is 1048576 bytes",
        ),
        (
            "huge-number.jsonl",
            b"{\"type\":\"page\",\"userId\":1e400}".to_vec(),
            "invalid JSON: number out of range",
        ),
        (
            "inexact-id.jsonl",
            b"{\"type\":\"page\",\"userId\":123456789012345678901234567890}".to_vec(),
            "send it as a string",
        ),
        (
            "two-to-the-70.jsonl",
            b"{\"type\":\"page\",\"userId\":1180591620717411303424}".to_vec(),
            "\"userId\" must be a string or a whole number of at most 64 bits",
        ),
        (
            "long-id.jsonl",
            format!(
                "{{\"type\":\"page\",\"userId\":\"{}\"}}",
                "i".repeat(100 * 1024)
            )
            .into_bytes(),
            "identifier is 102400 bytes; the limit is 1024",
        ),
        (
            "escape-type.jsonl",
            b"{\"type\":\"\\u001b[2J\\u001b]0;pwned\\u0007\",\"userId\":\"u\"}".to_vec(),
            "unknown event type \"\\u{1b}[2J\\u{1b}]0;pwned\\u{7}\"",
        ),
        (
            "raw-control.jsonl",
            format!("{{\"type\":\"page\",\"userId\":\"u{ESC}\"}}").into_bytes(),
            "invalid JSON: control character",
        ),
        (
            "old.jsonl",
            b"{\"type\":\"page\",\"userId\":\"u\",\"timestamp\":\"0001-01-01T00:00:00Z\"}".to_vec(),
            "\"timestamp\" 0001-01-01T00:00:00.000Z is out of range",
        ),
        (
            "future.jsonl",
            b"{\"type\":\"page\",\"userId\":\"u\",\"timestamp\":\"2999-01-01T00:00:00Z\"}".to_vec(),
            "is out of range",
        ),
        (
            "huge-epoch.jsonl",
            b"{\"type\":\"page\",\"userId\":\"u\",\"timestamp\":99999999999999999999}".to_vec(),
            "\"timestamp\" is not a valid time: 1e+20",
        ),
        (
            "far-future-epoch.jsonl",
            b"{\"type\":\"page\",\"userId\":\"u\",\"timestamp\":1000000000000000}".to_vec(),
            "\"timestamp\" 1000000000000000 is out of range",
        ),
        (
            "negative-epoch.jsonl",
            b"{\"type\":\"page\",\"userId\":\"u\",\"originalTimestamp\":-86400000}".to_vec(),
            "\"originalTimestamp\" 1969-12-31T00:00:00.000Z is out of range",
        ),
    ];
    for (file, bad, expected) in cases {
        let ws = Workspace::new();
        let (code, stderr) = ingest_between_good_lines(&ws, file, &bad);
        assert_eq!(code, 1, "{file}: {stderr}");
        assert_one_clear_line(&stderr, file, expected);
        assert_eq!(stored_users(&ws), ["good-1", "good-2"], "{file}");
        ws.ok(&["check"]);
    }
}

#[test]
fn over_long_identifiers_next_to_good_ones_are_recorded_as_violations() {
    let ws = Workspace::new();
    let long = "v".repeat(100 * 1024);
    let file = ws.file(
        "e.jsonl",
        &[
            json!({"type":"identify","userId":"u1","anonymousId":long,"messageId":"m1",
            "timestamp":"2025-01-01T00:00:00Z","traits":{"email":format!("{long}@x.io")}}),
        ],
    );
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let show: Value = serde_json::from_str(&ws.ok(&["show", "user_id:u1", "--json"])).unwrap();
    assert_eq!(ids_of(&show), ["user_id:u1"]);
    let violations = show["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 2);
    for v in violations {
        assert!(
            v["reason"].as_str().unwrap().contains("the limit is 1024"),
            "{v}"
        );
        assert!(
            v["identifier"].as_str().unwrap().len() < 100,
            "quoted short: {v}"
        );
    }
    ws.ok(&["check"]);
}

/// Numeric ids: whole numbers of up to 64 bits are kept digit for digit (2^53 + 1 would
/// round as a double); larger ones are refused (userId) or recorded as violations (traits),
/// never stored rounded.
#[test]
fn cli_keeps_numeric_ids_exact_and_never_stores_them_rounded() {
    let ws = Workspace::new();
    let lines = [
        r#"{"type":"identify","userId":9007199254740993,"anonymousId":-9223372036854775808,"messageId":"n1","timestamp":"2025-01-01T00:00:00Z","traits":{"score":0.30000000000000004,"big":1180591620717411303424,"tiny":2.225073858507201e-308}}"#,
        r#"{"type":"identify","userId":18446744073709551615,"messageId":"n2","timestamp":"2025-01-01T00:00:00Z","traits":{"phone":1180591620717411303425}}"#,
        r#"{"type":"page","userId":1180591620717411303424,"messageId":"n3","timestamp":"2025-01-01T00:00:00Z"}"#,
    ];
    let path = ws.write("numbers.jsonl", &(lines.join("\n") + "\n"));
    let out = ws.idgraph().arg("ingest").arg(&path).output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("numbers.jsonl:3: ") && stderr.contains("send it as a string"),
        "{stderr}"
    );
    assert_numeric_ids_exact(&ws);
}

/// The store after the three events of the numeric-id tests: two profiles with their exact
/// ids, the 2^70 + 1 phone a violation, nothing rounded anywhere; float traits read back
/// bit for bit (they used to come back one unit off, and `check` then found the profile's
/// traits differing from its own events).
fn assert_numeric_ids_exact(ws: &Workspace) {
    let export = ws.export("default");
    let traits = &export
        .iter()
        .find(|p| ids_of(p).contains(&"user_id:9007199254740993".to_string()))
        .expect("profile of 2^53 + 1")["traits"];
    assert_eq!(traits["score"].as_f64(), Some(0.1 + 0.2), "{traits}");
    assert_eq!(traits["big"].as_f64(), Some(2_f64.powi(70)), "{traits}");
    assert_eq!(
        traits["tiny"].as_f64(),
        Some(2.225073858507201e-308),
        "{traits}"
    );
    let mut ids: Vec<String> = ws.export("default").iter().flat_map(ids_of).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "anonymous_id:-9223372036854775808",
            "user_id:18446744073709551615",
            "user_id:9007199254740993"
        ]
    );
    let show: Value =
        serde_json::from_str(&ws.ok(&["show", "user_id:18446744073709551615", "--json"])).unwrap();
    let violations = show["violations"].as_array().unwrap();
    assert_eq!(violations.len(), 1, "{show}");
    assert_eq!(violations[0]["identifier"], "phone:1.1805916207174113e+21");
    assert!(
        violations[0]["reason"]
            .as_str()
            .unwrap()
            .contains("send it as a string"),
        "{show}"
    );
    let export = ws.ok(&["export"]);
    assert!(!export.contains("9007199254740992"), "rounded: {export}");
    ws.ok(&["check"]);
}

#[test]
fn control_characters_are_stored_as_is_and_never_printed_raw() {
    let ws = Workspace::new();
    let evil = format!("{ESC}[31mEvil{ESC}]0;title\u{7}\u{9b}2J\r\n\u{202e}gnp.exe");
    let file = ws.file(
        "e.jsonl",
        &[
            json!({"type":"identify","userId":"u1","anonymousId":format!("a{ESC}[1m"),
                "messageId":format!("m{ESC}[1"),"timestamp":"2025-01-01T00:00:00Z",
                "traits":{"name":evil, (format!("k{ESC}[4m")): "v"}}),
            json!({"type":"track","event":evil,"anonymousId":format!("a{ESC}[1m"),
                "messageId":"m2","timestamp":"2025-01-02T00:00:00Z",
                "context":{"device":{"id":format!("d{ESC}"),"type":"ios","model":evil}}}),
            json!({"type":"identify","userId":"u1","anonymousId":"plain","messageId":format!("m3{ESC}"),
                "timestamp":"2025-01-03T00:00:00Z"}),
        ],
    );
    ws.ok(&["ingest", file.to_str().unwrap()]);
    // Stored exactly: the JSON export carries the characters, escaped by JSON.
    let export = ws.export("default");
    assert_eq!(export[0]["traits"]["name"], evil);
    let raw_export = ws.ok(&["export"]);
    assert!(!raw_export.contains(ESC));
    let merge_file = ws.file(
        "m.jsonl",
        &[json!({"type":"identify","userId":"u2","messageId":"m4","timestamp":"2025-01-04T00:00:00Z"}),
          json!({"type":"alias","userId":"u2","previousId":"x","anonymousId":"plain","messageId":format!("m5{ESC}[2J"),"timestamp":"2025-01-05T00:00:00Z"})],
    );
    ws.ok(&["ingest", merge_file.to_str().unwrap()]);
    let outputs = [
        ws.ok(&["show", "user_id:u1"]),
        ws.ok(&["show", &format!("anonymous_id:a{ESC}[1m")]),
        ws.ok(&["log"]),
        ws.ok(&["why", "user_id:u1", &format!("anonymous_id:a{ESC}[1m")]),
        ws.ok(&["check"]),
    ];
    for out in &outputs {
        for c in out.chars() {
            assert!(
                c == '\n' || !(c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
                "raw control {c:?} in:\n{out}"
            );
        }
    }
    assert!(outputs[0].contains("\\u{1b}[31mEvil"), "{}", outputs[0]);
    let err = ws
        .idgraph()
        .args(["show", &format!("user_id:nobody{ESC}[2J")])
        .output()
        .unwrap();
    let stderr = String::from_utf8(err.stderr).unwrap();
    assert!(
        !stderr.contains(ESC) && stderr.contains("\\u{1b}[2J"),
        "{stderr}"
    );
}

#[test]
fn empty_files_are_reported_and_change_nothing() {
    let ws = Workspace::new();
    let empty_gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default())
        .finish()
        .unwrap();
    for (name, bytes) in [
        ("empty.jsonl", &b""[..]),
        ("blank.jsonl", b"\n  \n\n"),
        ("empty.jsonl.gz", &empty_gzip),
    ] {
        let path = ws.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let out = ws.idgraph().arg("ingest").arg(&path).output().unwrap();
        assert!(out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains(&format!("{name} holds no events")),
            "{stderr}"
        );
    }
    assert!(ws.export("default").is_empty());
}

/// Starts `idgraph serve` on an ephemeral port.
fn start_server(ws: &Workspace, config: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("idgraph"))
        .arg("--store")
        .arg(ws.store())
        .arg("--config")
        .arg(config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("start server");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("server address").expect("read");
        if let Some(rest) = line.split("serving http://").nth(1) {
            break rest.split_whitespace().next().expect("address").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

/// Kills a child process when dropped (a failing test must not leave a server running).
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// POSTs raw bytes to /v1/batch; returns the status and the JSON body (`Null` when the
/// server closed the connection before answering).
fn post_raw(addr: &str, body: &[u8]) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let response = agent
        .post(&format!("http://{addr}/v1/batch"))
        .header("Authorization", "Basic V0s6")
        .header("Content-Type", "application/json")
        .send(body);
    match response {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let text = r.body_mut().read_to_string().unwrap_or_default();
            (status, serde_json::from_str(&text).unwrap_or(Value::Null))
        }
        Err(e) => panic!("request failed: {e}"),
    }
}

fn batch(items: &[Value]) -> Vec<u8> {
    json!({"batch": items}).to_string().into_bytes()
}

#[test]
fn server_answers_hostile_bodies_with_4xx_json_and_keeps_the_good_items() {
    let ws = Workspace::new();
    let config = ws.write(
        "config.toml",
        "[sources.web]\nwrite_key = \"WK\"\nspace = \"default\"\nchannel = \"web\"\n",
    );
    let (server, addr) = start_server(&ws, &config);
    let mut server = Reaper(server);
    let now = idgraph::model::time::format_time(idgraph::model::time::now());
    let ok_item = |n: usize| json!({"type":"identify","userId":format!("good-{n}"),"messageId":format!("good-{n}"),"timestamp":now});
    let expect_error = |body: Vec<u8>, code: &str| {
        let (status, reply) = post_raw(&addr, &body);
        assert!((400..500).contains(&status), "{code}: status {status}");
        assert_eq!(reply["success"], false, "{code}: {reply}");
        assert_eq!(reply["error"]["code"], code, "{reply}");
        assert!(!reply.to_string().contains(ESC));
    };
    let mut invalid_utf8 = br#"{"batch":[{"type":"page","userId":""#.to_vec();
    invalid_utf8.extend_from_slice(b"\xff\"}]}");
    expect_error(invalid_utf8, "invalid_json");
    expect_error(
        format!(
            "{{\"batch\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        )
        .into_bytes(),
        "invalid_json",
    );
    expect_error(Vec::new(), "invalid_json");
    expect_error(
        format!(
            "{{\"batch\":[{{\"type\":\"page\",\"userId\":\"u\",\"name\":\"{}\"}}]}}",
            "x".repeat(10 * 1024 * 1024)
        )
        .into_bytes(),
        "payload_too_large",
    );
    expect_error(
        b"{\"batch\":[{\"type\":\"page\",\"userId\":1e400}]}".to_vec(),
        "invalid_json",
    );
    // 10 MB gzipped to a few KB (the decoder stops one byte past the limit).
    let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    packed
        .write_all(
            format!(
                "{{\"batch\":[{{\"type\":\"page\",\"userId\":\"u\",\"name\":\"{}\"}}]}}",
                "x".repeat(10 * 1024 * 1024)
            )
            .as_bytes(),
        )
        .unwrap();
    let packed = packed.finish().unwrap();
    assert!(packed.len() < 100 * 1024, "{} bytes", packed.len());
    expect_error(packed, "payload_too_large");

    // Item by item: the bad ones are rejected with a code, the good ones stored.
    let items = vec![
        ok_item(1),
        serde_json::from_str(r#"{"type":"page","userId":123456789012345678901234567890}"#).unwrap(),
        json!({"type":"page","userId":"i".repeat(100 * 1024)}),
        json!({"type":"page","userId":"u","timestamp":"0001-01-01T00:00:00Z"}),
        json!({"type":"page","userId":"u","timestamp":"2999-01-01T00:00:00Z"}),
        json!({"type":format!("{ESC}[2J"),"userId":"u"}),
        serde_json::from_str(r#"{"type":"page","userId":1180591620717411303424}"#).unwrap(),
        json!({"type":"page","userId":"u","originalTimestamp":-86_400_000}),
        json!({"type":"page","userId":"u","timestamp":99_999_999_999_999_999_999.0}),
        json!({"type":"page","userId":"u","timestamp":1_000_000_000_000_000_i64}),
        json!({"type":"identify","userId":"good-2","messageId":"good-2","timestamp":now,
            "traits":{"name":format!("{ESC}[31mEvil\u{7}")}}),
    ];
    let (status, reply) = post_raw(&addr, &batch(&items));
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["stored"], 2, "{reply}");
    let codes: Vec<&str> = reply["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "invalid_field",
            "message_too_large",
            "time_out_of_range",
            "time_out_of_range",
            "unknown_type",
            "invalid_field",
            "time_out_of_range",
            "invalid_time",
            "time_out_of_range"
        ]
    );
    let (status, reply) = post_raw(&addr, &batch(&[]));
    assert_eq!((status, &reply["received"]), (200, &json!(0)));

    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    server.0.wait().unwrap();
    assert_eq!(stored_users(&ws), ["good-1", "good-2"]);
    let export = ws.export("default");
    assert_eq!(export[1]["traits"]["name"], format!("{ESC}[31mEvil\u{7}"));
    ws.ok(&["check"]);
    let _ = std::io::stdout().flush();
}

#[test]
fn server_keeps_numeric_ids_exact_and_never_stores_them_rounded() {
    let ws = Workspace::new();
    let config = ws.write(
        "config.toml",
        "[sources.web]\nwrite_key = \"WK\"\nspace = \"default\"\nchannel = \"web\"\n",
    );
    let (server, addr) = start_server(&ws, &config);
    let mut server = Reaper(server);
    let body = br#"{"batch":[
        {"type":"identify","userId":9007199254740993,"anonymousId":-9223372036854775808,"messageId":"n1","timestamp":"2025-01-01T00:00:00Z","traits":{"score":0.30000000000000004,"big":1180591620717411303424,"tiny":2.225073858507201e-308}},
        {"type":"identify","userId":18446744073709551615,"messageId":"n2","timestamp":"2025-01-01T00:00:00Z","traits":{"phone":1180591620717411303425}},
        {"type":"page","userId":1180591620717411303424,"messageId":"n3","timestamp":"2025-01-01T00:00:00Z"}]}"#;
    let (status, reply) = post_raw(&addr, body);
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["stored"], 2, "{reply}");
    assert_eq!(reply["rejected"][0]["code"], "invalid_field", "{reply}");
    assert!(
        reply["rejected"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("send it as a string"),
        "{reply}"
    );
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    server.0.wait().unwrap();
    assert_numeric_ids_exact(&ws);
}
