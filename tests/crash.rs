//! Crash safety: `idgraph ingest` and `idgraph serve` are killed with SIGKILL at random
//! moments while they write; after every kill the store must open, `idgraph check` must
//! pass, and (for serve) every messageId acknowledged with 200 must be stored. Then the same
//! input is sent again to completion: nothing may be duplicated (messageId dedupe), and the
//! profiles must equal those of a clean run.
//!
//! Profile ids may legitimately differ after serve crashes, because concurrent clients
//! retrying after a crash deliver events in another order and profiles are numbered in
//! arrival order; so runs are compared on what identity resolution decides: the partition
//! of identifiers into profiles, each profile's traits and its event count.
//!
//! A third run ingests the realistic generator's messy journeys (`idgraph generate`) and,
//! the order being the same, requires an export identical to a clean run's.
//!
//! The CI run kills each process 3 times on 12,000 events; `scripts/crash-test.sh` runs
//! the full campaign (`IDGRAPH_CRASH_KILLS`, `IDGRAPH_CRASH_EVENTS`, `IDGRAPH_CRASH_SEED`).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Workspace;
use serde_json::{Value, json};

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Customer journeys: anonymous visits on 1-3 devices, sign-up (identify with email and
/// traits), then known activity with trait changes. People share no identifier, so the
/// right partition does not depend on the order events arrive in. Each person's events are
/// in time order; people are interleaved at random. Returns events grouped by person.
fn journeys(events: usize, seed: u64) -> Vec<Vec<Value>> {
    let mut rng = Rng(seed | 1);
    let mut people = Vec::new();
    let mut total = 0;
    let mut person = 0;
    let base = 1_735_689_600_000_i64; // 2025-01-01
    while total < events {
        let devices = 1 + rng.below(3) as usize;
        let mut out = Vec::new();
        let mut t = base + person as i64 * 7_919;
        let mut tick = |rng: &mut Rng| {
            t += 1_000 + rng.below(60_000) as i64;
            idgraph::model::time::format_time(t)
        };
        let user = format!("u{person}");
        let anon = |d: usize| format!("anon-{person}-{d}");
        for d in 0..devices {
            for k in 0..1 + rng.below(3) {
                out.push(json!({"type":"page","anonymousId":anon(d),"name":format!("Page {k}"),
                    "messageId":format!("m-{person}-{}", out.len()),"timestamp":tick(&mut rng),
                    "context":{"device":{"id":format!("dev-{person}-{d}"),"type":if d == 0 {"ios"} else {"android"}}}}));
            }
            out.push(
                json!({"type":"identify","anonymousId":anon(d),"userId":user,
                "messageId":format!("m-{person}-{}", out.len()),"timestamp":tick(&mut rng),
                "traits":{"email":format!("p{person}@example.io"),"name":format!("Person {person}"),
                    "plan":(["free","pro","team"][rng.below(3) as usize]),"device_count":d + 1}}),
            );
        }
        for _ in 0..rng.below(6) {
            out.push(
                json!({"type":"track","event":"Order Completed","userId":user,
                "messageId":format!("m-{person}-{}", out.len()),"timestamp":tick(&mut rng),
                "properties":{"total":rng.below(10_000) as f64 / 100.0}}),
            );
        }
        total += out.len();
        people.push(out);
        person += 1;
    }
    people
}

/// Interleaves people's events at random, keeping each person's order.
fn interleave(people: &[Vec<Value>], seed: u64) -> Vec<Value> {
    let mut rng = Rng(seed.wrapping_mul(31) | 1);
    let mut cursors: Vec<(usize, usize)> = (0..people.len()).map(|p| (p, 0)).collect();
    let mut out = Vec::new();
    while !cursors.is_empty() {
        let pick = rng.below(cursors.len() as u64) as usize;
        let (person, at) = cursors[pick];
        out.push(people[person][at].clone());
        if at + 1 == people[person].len() {
            cursors.swap_remove(pick);
        } else {
            cursors[pick].1 += 1;
        }
    }
    out
}

/// The export with profile ids left out, sorted: what resolution decided.
fn partition(ws: &Workspace) -> Vec<String> {
    let mut lines: Vec<String> = ws
        .export("default")
        .into_iter()
        .map(|mut l| {
            l.as_object_mut().expect("object").remove("profile_id");
            l.to_string()
        })
        .collect();
    lines.sort();
    lines
}

/// [`check_passes`] after a kill: a process killed before it created the store leaves none,
/// which holds no events (the reading commands refuse a missing store rather than create one).
fn check_after_kill(ws: &Workspace, after: &str) -> u64 {
    if ws.store().exists() {
        check_passes(ws, after)
    } else {
        0
    }
}

/// `idgraph check --json`: asserts it passes; returns the number of stored events.
fn check_passes(ws: &Workspace, after: &str) -> u64 {
    let out = ws
        .idgraph()
        .args(["check", "--json"])
        .output()
        .expect("check");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "check failed {after}: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_str(&text).expect("check json");
    report["spaces"]
        .as_array()
        .expect("spaces")
        .iter()
        .map(|s| s["records"]["events"].as_u64().unwrap_or(0))
        .sum()
}

/// Every stored messageId, read from a backup.
fn stored_message_ids(ws: &Workspace) -> BTreeSet<String> {
    let file = ws.path().join("ids.jsonl");
    ws.ok(&["backup", file.to_str().expect("path")]);
    let text = std::fs::read_to_string(&file).expect("backup");
    text.lines()
        .skip(1)
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|l| l["event"]["messageId"].as_str().map(str::to_string))
        .collect()
}

/// Kills a child process when dropped (a failing test must not leave a server running).
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn kill_9(child: &mut Child) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
}

/// The clean run: the export every crashed run must end with.
fn clean_run(events: &[Value]) -> (Vec<String>, Duration) {
    let ws = Workspace::new();
    let file = ws.file("events.jsonl", events);
    let started = Instant::now();
    ws.ok(&["ingest", file.to_str().expect("path")]);
    let took = started.elapsed();
    (partition(&ws), took)
}

/// Finishes an ingest-crash store: the same ingest to completion, then the comparison.
fn finish_ingest(ws: &Workspace, file: &std::path::Path, data: &[Value], clean: &[String]) {
    ws.ok(&["ingest", file.to_str().expect("path")]);
    let stored = check_passes(ws, "after the final ingest");
    assert_eq!(
        stored,
        data.len() as u64,
        "every event once, none duplicated"
    );
    assert_eq!(partition(ws), clean, "same profiles as a clean run");
}

fn crash_ingest(kills: u64, events: usize, seed: u64) {
    let data = interleave(&journeys(events, seed), seed);
    let (clean, took) = clean_run(&data);
    let mut rng = Rng(seed ^ 0x9e37_79b9_7f4a_7c15);
    let mut ws = Workspace::new();
    let mut file = ws.file("events.jsonl", &data);
    let mut stores = 1;
    let mut checks = 0;
    let mut progress = Vec::new();
    let mut stored = 0_u64;
    for kill in 0..kills {
        if stored == data.len() as u64 {
            // This store is complete: finish it and crash a fresh one.
            finish_ingest(&ws, &file, &data, &clean);
            checks += 1;
            ws = Workspace::new();
            file = ws.file("events.jsonl", &data);
            stores += 1;
            stored = 0;
        }
        // Kill somewhere within a clean run's time: a re-run first reads and skips what
        // is stored, then resolves the rest (a kill after it finished completes the store).
        let window = 30 + took.as_millis() as u64;
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("idgraph"))
            .env("HOME", ws.path())
            .env("XDG_CONFIG_HOME", ws.path().join("config"))
            .env_remove("IDGRAPH_CONFIG")
            .env_remove("IDGRAPH_SPACE")
            .arg("--store")
            .arg(ws.store())
            .arg("ingest")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ingest");
        std::thread::sleep(Duration::from_millis(rng.below(window)));
        kill_9(&mut child);
        let now_stored = check_after_kill(&ws, &format!("after ingest kill {}", kill + 1));
        checks += 1;
        assert!(now_stored >= stored, "stored events never go back");
        assert!(now_stored <= data.len() as u64);
        stored = now_stored;
        progress.push(stored);
    }
    finish_ingest(&ws, &file, &data, &clean);
    checks += 1;
    eprintln!(
        "crash-ingest: {kills} kills of ingest over {} events (clean run {:.2}s) in {stores} store(s); {checks} checks passed; events stored at each kill {progress:?}; every store ended with {} events, 0 lost, 0 duplicated, export equal to the clean run",
        data.len(),
        took.as_secs_f64(),
        data.len()
    );
}

/// Starts `idgraph serve` on an ephemeral port.
fn start_server(ws: &Workspace, config: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("idgraph"))
        .arg("--store")
        .arg(ws.store())
        .arg("--config")
        .arg(config)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
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

/// POSTs a batch; `true` when the server answered 200 with every item stored or known.
fn post_batch(agent: &ureq::Agent, addr: &str, items: &[Value]) -> bool {
    let response = agent
        .post(&format!("http://{addr}/v1/batch"))
        .header("Authorization", "Basic V0s6")
        .send_json(json!({"batch": items}));
    match response {
        Ok(mut r) if r.status() == 200 => {
            let reply: Value = r.body_mut().read_json().unwrap_or(Value::Null);
            let accounted =
                reply["stored"].as_u64().unwrap_or(0) + reply["duplicates"].as_u64().unwrap_or(0);
            assert_eq!(
                accounted,
                items.len() as u64,
                "200 accounts for every item: {reply}"
            );
            true
        }
        Ok(r) => {
            let status = r.status().as_u16();
            assert!(
                status >= 500,
                "only retryable failures expected, got {status}"
            );
            false
        }
        Err(_) => false,
    }
}

fn crash_serve(kills: u64, events: usize, seed: u64) {
    const CLIENTS: usize = 4;
    const BATCH: usize = 50;
    let people = journeys(events, seed);
    let all: Vec<Value> = people.iter().flatten().cloned().collect();
    let (clean, _) = clean_run(&interleave(&people, seed));
    let ws = Workspace::new();
    let config = ws.write(
        "config.toml",
        "[sources.web]\nwrite_key = \"WK\"\nspace = \"default\"\nchannel = \"web\"\n",
    );
    let (server, addr) = start_server(&ws, &config);
    let mut server = Reaper(server);
    let addr = Arc::new(Mutex::new(addr));
    let acknowledged: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let started = Instant::now();
    // Each client owns whole people, so each person's events keep their order.
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let mine: Vec<Value> = interleave(
                &people
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % CLIENTS == client)
                    .map(|(_, p)| p.clone())
                    .collect::<Vec<_>>(),
                seed + client as u64,
            );
            let addr = addr.clone();
            let acknowledged = acknowledged.clone();
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(20)))
                    .build()
                    .into();
                for items in mine.chunks(BATCH) {
                    loop {
                        let target = addr.lock().expect("addr").clone();
                        if post_batch(&agent, &target, items) {
                            let mut acked = acknowledged.lock().expect("acked");
                            for item in items {
                                acked.insert(item["messageId"].as_str().expect("id").to_string());
                            }
                            break;
                        }
                        assert!(started.elapsed() < Duration::from_secs(1_800), "gave up");
                        std::thread::sleep(Duration::from_millis(20));
                    }
                }
            })
        })
        .collect();
    let mut rng = Rng(seed ^ 0x5851_f42d_4c95_7f2d);
    let mut figures = Vec::new();
    for kill in 0..kills {
        std::thread::sleep(Duration::from_millis(100 + rng.below(600)));
        kill_9(&mut server.0);
        let acked_before_kill = acknowledged.lock().expect("acked").clone();
        let after = format!("after serve kill {}", kill + 1);
        check_after_kill(&ws, &after);
        let stored = stored_message_ids(&ws);
        let lost: Vec<&String> = acked_before_kill.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "{after}: {} acknowledged events lost, e.g. {:?}",
            lost.len(),
            lost.first()
        );
        figures.push((acked_before_kill.len(), stored.len()));
        let (next, next_addr) = start_server(&ws, &config);
        server = Reaper(next);
        *addr.lock().expect("addr") = next_addr;
    }
    for client in clients {
        client.join().expect("client");
    }
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .expect("kill");
    server.0.wait().expect("server exits");
    let stored_events = check_passes(&ws, "after the final serve run");
    assert_eq!(
        stored_events,
        all.len() as u64,
        "every event once, none duplicated"
    );
    let acked = acknowledged.lock().expect("acked").clone();
    assert_eq!(acked.len(), all.len());
    assert_eq!(stored_message_ids(&ws), acked);
    assert_eq!(
        partition(&ws),
        clean,
        "same partition, traits and counts as a clean run"
    );
    eprintln!(
        "crash-serve: {kills} kills of serve under {CLIENTS} clients over {} events; {} stores checked; (acknowledged, stored) at each kill {figures:?}; final {stored_events} events, 0 acknowledged lost, 0 duplicated, partition equal",
        all.len(),
        kills + 1
    );
}

/// Runs `idgraph ingest FILE` to completion; lines the generator made junk on purpose may
/// be rejected (exit 1), anything else must succeed.
fn ingest_to_completion(ws: &Workspace, file: &std::path::Path) {
    let out = ws
        .idgraph()
        .arg("ingest")
        .arg(file)
        .output()
        .expect("ingest");
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "ingest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The realistic generator's messy journeys (shared devices, junk ids, duplicates): ingest
/// is killed at random moments; since the file is replayed in the same order, the final
/// export must equal a clean run's exactly, profile ids included.
fn crash_ingest_generated(kills: u64, people: u64, seed: u64) {
    let clean = Workspace::new();
    let file = clean.path().join("generated.jsonl");
    clean.ok(&[
        "generate",
        "--people",
        &people.to_string(),
        "--seed",
        &seed.to_string(),
        "--out",
        file.to_str().expect("path"),
    ]);
    let started = Instant::now();
    ingest_to_completion(&clean, &file);
    let took = started.elapsed();
    let expected = clean.export("default");
    let events = check_passes(&clean, "after the clean run");
    let mut rng = Rng(seed ^ 0x2545_f491_4f6c_dd1d);
    let finish = |ws: &Workspace| {
        ingest_to_completion(ws, &file);
        assert_eq!(
            check_passes(ws, "after the final ingest"),
            events,
            "no event lost or duplicated"
        );
        assert_eq!(
            ws.export("default"),
            expected,
            "identical to the clean run, ids included"
        );
    };
    let mut ws = Workspace::new();
    let mut stores = 1;
    let mut checks = 0;
    let mut progress = Vec::new();
    for kill in 0..kills {
        if progress.last() == Some(&events) {
            // This store is complete (later kills would only interrupt a re-read): finish
            // it and crash a fresh one.
            finish(&ws);
            checks += 1;
            ws = Workspace::new();
            stores += 1;
        }
        let mut child = Command::new(assert_cmd::cargo::cargo_bin("idgraph"))
            .env("HOME", ws.path())
            .env("XDG_CONFIG_HOME", ws.path().join("config"))
            .env_remove("IDGRAPH_CONFIG")
            .env_remove("IDGRAPH_SPACE")
            .arg("--store")
            .arg(ws.store())
            .arg("ingest")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start ingest");
        std::thread::sleep(Duration::from_millis(
            rng.below(30 + took.as_millis() as u64),
        ));
        kill_9(&mut child);
        progress.push(check_after_kill(
            &ws,
            &format!("after generated-ingest kill {}", kill + 1),
        ));
        checks += 1;
    }
    finish(&ws);
    checks += 1;
    eprintln!(
        "crash-generated: {kills} kills of ingest over {events} stored events from {people} generated people (clean run {:.2}s) in {stores} store(s); {checks} checks passed; events stored at each kill {progress:?}; every store ended with {events} events, 0 lost, 0 duplicated, export identical to the clean run",
        took.as_secs_f64()
    );
}

#[test]
fn ingest_of_generated_journeys_survives_kill_9() {
    let kills = env_number("IDGRAPH_CRASH_KILLS", 3);
    let people = env_number("IDGRAPH_CRASH_EVENTS", 12_000) / 20;
    let seed = env_number("IDGRAPH_CRASH_SEED", 7);
    crash_ingest_generated(kills, people, seed);
}

#[test]
fn ingest_survives_kill_9_at_random_moments() {
    let kills = env_number("IDGRAPH_CRASH_KILLS", 3);
    let events = env_number("IDGRAPH_CRASH_EVENTS", 12_000) as usize;
    let seed = env_number("IDGRAPH_CRASH_SEED", 7);
    crash_ingest(kills, events, seed);
}

#[test]
fn serve_survives_kill_9_under_load() {
    let kills = env_number("IDGRAPH_CRASH_KILLS", 3);
    let events = env_number("IDGRAPH_CRASH_EVENTS", 12_000) as usize;
    let seed = env_number("IDGRAPH_CRASH_SEED", 7);
    crash_serve(kills, events, seed);
}
