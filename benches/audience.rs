//! Cost of audiences: pure evaluation of the seed audiences per profile, bulk ingest and
//! per-event ingest with membership maintenance on and off, and a full rebuild after a
//! definition change. Prints wall and CPU time (user + system of the whole process, from
//! /proc/self/stat) because the benchmark machine may be shared.
//!
//! Ingest is measured in alternating rounds (audiences off, on, off, on, ...) and the
//! fastest round of each is reported, since load from other processes only slows runs down.
//!
//! Run with `cargo bench --bench audience` (IDGRAPH_BENCH_PEOPLE sets the population,
//! default 10000, about 7 events each; IDGRAPH_BENCH_ROUNDS the rounds, default 3).

use std::time::Instant;

use serde_json::{Value, json};

use idgraph::audience::Journey;
use idgraph::config::Config;
use idgraph::ingest::SourcedEvent;
use idgraph::model::time::{DAY, format_time, parse_time_str};
use idgraph::model::{Event, Millis, derive_channel};
use idgraph::query::{AudienceRead, GraphRead};
use idgraph::store::Store;

const HOUR: Millis = 3_600_000;
/// Events per ingest call in bulk mode, as `idgraph ingest` reads them.
const CHUNK: usize = 4096;
/// People whose events are ingested one per call in the per-event measurement.
const SINGLE_PEOPLE: usize = 2000;

/// A small deterministic PRNG (splitmix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn now() -> Millis {
    parse_time_str("2025-03-31T12:00:00Z").unwrap_or_default()
}

/// Per person: an iPhone and an Android phone with their own anonymous ids, screens,
/// carts on one and (half the time) checkout on the other, sign-ins that link the devices
/// (70% each), and support complaints (10%), over the 30 days before now; sorted by time.
fn journeys(people: u64, salt: &str) -> Vec<SourcedEvent> {
    let mut rng = Rng(11);
    let mut out: Vec<(Millis, Value)> = Vec::new();
    for p in 0..people {
        let mut t = now() - 30 * DAY + rng.below(28 * 24) as i64 * HOUR;
        let device = |n: u64| {
            let kind = if n == 0 { "ios" } else { "android" };
            json!({"anonymousId": format!("a-{p}-{n}"),
                "context": {"device": {"id": format!("{kind}-{p}"), "type": kind}}})
        };
        let mut push = |t: Millis, base: Value, call: Value| {
            let mut v = base;
            if let (Some(o), Value::Object(c)) = (v.as_object_mut(), call) {
                o.extend(c);
            }
            v["timestamp"] = json!(format_time(t));
            v["messageId"] = json!(format!("{salt}-{p}-{}", out.len()));
            out.push((t, v));
        };
        for screen in ["Home", "Search", "Product"] {
            t += rng.below(20) as i64 * 60_000;
            push(t, device(0), json!({"type":"screen","name":screen}));
        }
        push(
            t,
            device(0),
            json!({"type":"track","event":"Product Added"}),
        );
        if rng.chance(70) {
            push(
                t + HOUR,
                device(0),
                json!({"type":"identify","userId":format!("u-{p}"),
                "traits":{"email":format!("p{p}@mail.io")}}),
            );
        }
        if rng.chance(70) {
            push(
                t + 2 * HOUR,
                device(1),
                json!({"type":"identify","userId":format!("u-{p}")}),
            );
        }
        push(
            t + 2 * HOUR,
            device(1),
            json!({"type":"screen","name":"Cart"}),
        );
        if rng.chance(50) {
            push(
                t + 3 * HOUR,
                device(1),
                json!({"type":"track","event":"Order Completed"}),
            );
        }
        if rng.chance(10) {
            let desk = json!({"anonymousId": format!("zd-{p}"),
                "context": {"channel": "support", "traits": {"email": format!("p{p}@mail.io")}}});
            push(
                t + DAY,
                desk.clone(),
                json!({"type":"track","event":"Ticket Created"}),
            );
            push(
                t + DAY + 60_000,
                desk,
                json!({"type":"track","event":"Complaint Logged"}),
            );
        }
        if rng.chance(30) {
            push(
                t + 2 * DAY,
                device(1),
                json!({"type":"track","event":"Product Added"}),
            );
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out.into_iter()
        .filter_map(|(_, v)| Event::from_json(v).ok())
        .map(|event| {
            let channel = derive_channel(&event);
            SourcedEvent {
                event,
                source: "bench".into(),
                channel,
            }
        })
        .collect()
}

/// CPU seconds (user + system) used by this process so far.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line; clock ticks are 1/100 s on Linux.
    (ticks(11) + ticks(12)) / 100.0
}

/// Wall and CPU seconds of one measurement.
#[derive(Clone, Copy)]
struct Cost {
    wall: f64,
    cpu: f64,
}

/// Runs `work` and measures it.
fn measure<T>(work: impl FnOnce() -> T) -> (T, Cost) {
    let (wall, cpu) = (Instant::now(), cpu_seconds());
    let out = work();
    let cost = Cost {
        wall: wall.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu,
    };
    (out, cost)
}

/// Prints a cost with per-item figures.
fn report(label: &str, items: usize, cost: Cost) {
    println!(
        "{label:<58} wall {:>7.2} s  cpu {:>7.2} s  {:>8.1} us/item wall  {:>8.1} us/item cpu  ({items} items)",
        cost.wall,
        cost.cpu,
        cost.wall * 1e6 / items.max(1) as f64,
        cost.cpu * 1e6 / items.max(1) as f64,
    );
}

/// Runs `work`, printing its cost.
fn timed<T>(label: &str, items: usize, work: impl FnOnce() -> T) -> T {
    let (out, cost) = measure(work);
    report(label, items, cost);
    out
}

/// The fastest of several measurements (wall and CPU minimised separately).
fn fastest(costs: &[Cost]) -> Cost {
    Cost {
        wall: costs.iter().map(|c| c.wall).fold(f64::INFINITY, f64::min),
        cpu: costs.iter().map(|c| c.cpu).fold(f64::INFINITY, f64::min),
    }
}

fn config(audiences: bool, review_window: &str) -> Config {
    let text = if audiences {
        format!(
            "[audiences.review_request]\ncondition = '''\ndid \"Order Completed\" within {review_window}\nand not did \"Complaint Logged\" on support within 30d\nand not did \"Review Request Sent\" after it\n'''\n"
        )
    } else {
        "[audiences.abandoned_cart]\nenabled = false\n[audiences.review_request]\nenabled = false\n"
            .to_string()
    };
    Config::from_toml_str(&text, "bench").unwrap_or_else(|e| panic!("bench config: {e}"))
}

/// Bulk-ingests `events` into a new store, then `singles` one event per call; returns the
/// two costs.
fn ingest_round(
    dir: &std::path::Path,
    events: &[SourcedEvent],
    singles: &[SourcedEvent],
    audiences: bool,
) -> (Cost, Cost) {
    let store = Store::open(dir, config(audiences, "14d")).unwrap_or_else(|e| panic!("{e}"));
    let space = store.space("default").unwrap_or_else(|e| panic!("{e}"));
    let ((), bulk) = measure(|| {
        for chunk in events.chunks(CHUNK) {
            space.ingest(chunk, now()).unwrap_or_else(|e| panic!("{e}"));
        }
        store.flush().unwrap_or_else(|e| panic!("{e}"));
    });
    let ((), single) = measure(|| {
        for event in singles {
            space
                .ingest(std::slice::from_ref(event), now())
                .unwrap_or_else(|e| panic!("{e}"));
        }
        store.flush().unwrap_or_else(|e| panic!("{e}"));
    });
    (bulk, single)
}

fn main() {
    let people: u64 = std::env::var("IDGRAPH_BENCH_PEOPLE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let rounds: usize = std::env::var("IDGRAPH_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let events = journeys(people, "bulk");
    let singles = journeys(SINGLE_PEOPLE as u64, "single");
    println!(
        "{people} people, {} events; then {} events one per ingest call; {rounds} rounds",
        events.len(),
        singles.len()
    );
    let mut costs: [Vec<(Cost, Cost)>; 2] = [Vec::new(), Vec::new()];
    let mut last_on = None;
    for _ in 0..rounds {
        for audiences in [false, true] {
            let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
            costs[usize::from(audiences)].push(ingest_round(
                dir.path(),
                &events,
                &singles,
                audiences,
            ));
            if audiences {
                last_on = Some(dir);
            }
        }
    }
    for (audiences, runs) in costs.iter().enumerate() {
        let state = if audiences == 1 { "on " } else { "off" };
        let bulk: Vec<Cost> = runs.iter().map(|r| r.0).collect();
        let single: Vec<Cost> = runs.iter().map(|r| r.1).collect();
        report(
            &format!("bulk ingest, {CHUNK}-event batches, audiences {state}"),
            events.len(),
            fastest(&bulk),
        );
        report(
            &format!("single-event batches (HTTP-like), audiences {state}"),
            singles.len(),
            fastest(&single),
        );
    }
    let Some(on) = last_on else {
        return;
    };
    let store = Store::open(on.path(), config(true, "14d")).unwrap_or_else(|e| panic!("{e}"));
    let space = store.space("default").unwrap_or_else(|e| panic!("{e}"));
    let mut journeys_in_memory = Vec::new();
    space
        .for_each_profile(&mut |p| {
            journeys_in_memory.push(p.clone());
            true
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let loaded: Vec<_> = journeys_in_memory
        .into_iter()
        .map(|p| {
            let events = space.timeline(p.id, usize::MAX).unwrap_or_default();
            (p, events)
        })
        .collect();
    let profiles = loaded.len();
    let audiences = space.audiences().clone();
    let members = timed(
        "pure evaluation of the audiences, per profile",
        profiles,
        || {
            loaded
                .iter()
                .filter(|(p, events)| {
                    audiences
                        .evaluate(&Journey::new(p, events), now())
                        .iter()
                        .any(|(_, why)| why.member)
                })
                .count()
        },
    );
    println!("  {members} of {profiles} profiles are in some audience");
    // A read at a time before the audience clock re-evaluates from the stored events: the
    // work an ingest batch does for each profile it touched, before writing.
    let ids: Vec<_> = loaded.iter().map(|(p, _)| p.id).collect();
    timed(
        "re-evaluate one touched profile from the store",
        profiles,
        || {
            ids.iter()
                .filter_map(|id| space.audiences_of(*id, now() - 1).ok())
                .count()
        },
    );
    let counts = timed("read member lists (stored standings)", profiles, || {
        space.audience_summaries(now()).unwrap_or_default()
    });
    for c in counts {
        println!("  {}: {} members", c.name, c.members);
    }
    drop(space);
    drop(store);
    let store = Store::open(on.path(), config(true, "10d")).unwrap_or_else(|e| panic!("{e}"));
    timed(
        "full rebuild after a definition change, per profile",
        profiles,
        || store.space("default").unwrap_or_else(|e| panic!("{e}")),
    );
}
