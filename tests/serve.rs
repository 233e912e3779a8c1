//! `idgraph serve` on the real store: acknowledged events survive a shutdown mid-load, and
//! what it stored is noted for the search index file.

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Workspace, ids_of};
use serde_json::{Value, json};

/// Starts `idgraph serve` on an ephemeral port and returns the child and its address.
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
        let line = lines
            .next()
            .expect("server printed its address")
            .expect("read");
        if let Some(rest) = line.split("serving http://").nth(1) {
            break rest.split_whitespace().next().expect("address").to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    (child, addr)
}

fn post(addr: &str, body: &Value) -> Result<Value, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut response = agent
        .post(&format!("http://{addr}/v1/batch"))
        .header("Authorization", "Basic V0s6")
        .send_json(body)
        .map_err(|e| e.to_string())?;
    if response.status() != 200 {
        return Err(format!("status {}", response.status()));
    }
    response
        .body_mut()
        .read_json::<Value>()
        .map_err(|e| e.to_string())
}

/// Stops the server as a service manager does (SIGTERM) and checks it ended cleanly.
fn stop(server: &mut Child) {
    Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status()
        .expect("kill");
    let status = server.wait().expect("server exits");
    assert!(status.success(), "server exit {status:?}");
}

fn web_source(ws: &Workspace) -> std::path::PathBuf {
    ws.write(
        "config.toml",
        "[sources.web]\nwrite_key = \"WK\"\nspace = \"default\"\nchannel = \"web\"\n",
    )
}

#[test]
fn every_acknowledged_event_is_in_the_store_after_a_shutdown_mid_load() {
    let ws = Workspace::new();
    let config = web_source(&ws);
    let (mut server, addr) = start_server(&ws, &config);
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let started = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let addr = addr.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                for batch in 0.. {
                    let users: Vec<String> = (0..50).map(|i| format!("c{client}-b{batch}-u{i}")).collect();
                    let items: Vec<Value> = users
                        .iter()
                        .map(|u| json!({"type":"identify","userId":u,"messageId":format!("m-{u}"),"traits":{"plan":"pro"}}))
                        .collect();
                    match post(&addr, &json!({"batch": items})) {
                        Ok(reply) if reply["stored"] == 50 => acknowledged.lock().unwrap().extend(users),
                        Ok(reply) => panic!("unexpected reply {reply}"),
                        Err(_) => break,
                    }
                    if started.elapsed() > Duration::from_secs(30) {
                        break;
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 2_000 && started.elapsed() < Duration::from_secs(20)
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    stop(&mut server);
    for client in clients {
        client.join().expect("client");
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 2_000,
        "load ran: {}",
        acknowledged.len()
    );
    let stored: BTreeSet<String> = ws
        .export("default")
        .iter()
        .flat_map(ids_of)
        .filter_map(|id| id.strip_prefix("user_id:").map(str::to_string))
        .collect();
    let lost: Vec<&String> = acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged events lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
}

/// What the server stored is noted beside the search index file when it stops, leaving the
/// file as it is: the next search sees the new people and saves the file current (that it
/// catches the file up rather than building it is tested with the writer).
#[cfg(unix)]
#[test]
fn a_stopped_server_notes_its_changes_for_the_search_index_file() {
    use std::os::unix::fs::MetadataExt;
    let ws = Workspace::new();
    let config = web_source(&ws);
    let person = |user: &str, name: &str| json!({"type":"identify","userId":user,"messageId":user,"traits":{"name":name}});
    let first = ws.file("first.jsonl", &[person("u1", "Ana Lima")]);
    ws.ok(&["ingest", first.to_str().unwrap()]);
    assert!(ws.ok(&["search", "ana"]).contains("Ana Lima"));
    let path = ws.store().join("idgraph-search-64656661756c74.idx");
    let notes = path.with_extension("changes");
    let saved = std::fs::metadata(&path).unwrap().ino();
    let (mut server, addr) = start_server(&ws, &config);
    let reply = post(&addr, &json!({"batch": [person("u2", "Zelda Quist")]})).unwrap();
    assert_eq!(reply["stored"], 1, "{reply}");
    stop(&mut server);
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), saved);
    let note: Value = serde_json::from_str(&std::fs::read_to_string(&notes).unwrap()).unwrap();
    assert_eq!(note["profiles"].as_array().map(Vec::len), Some(1), "{note}");
    let found: Value =
        serde_json::from_str(ws.ok(&["search", "zelda"]).lines().next().unwrap()).unwrap();
    assert_eq!(found["name"], "Zelda Quist");
    assert!(!notes.exists(), "saved current, the notes are done with");
}
