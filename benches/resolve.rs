//! Throughput of the pure resolution: `resolve` + `WorkingGraph::apply` over a realistic mix
//! of Segment events (anonymous browsing, sign-up, several devices per person, shared
//! devices, junk ids), all in memory.
//!
//! Run with `cargo bench --bench resolve`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::{Value, json};

use idgraph::config::{Config, DEFAULT_SPACE, Rules};
use idgraph::model::time::{DAY, format_time};
use idgraph::model::{Event, ProfileId};
use idgraph::resolve::{Attribution, Decision, WorkingGraph, resolve};

const PEOPLE: u64 = 20_000;
const BASE: i64 = 1_709_510_400_000;
const MINUTE: i64 = 60_000;

/// A small deterministic PRNG (splitmix64), so every run benchmarks the same stream.
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

/// About five events per person: anonymous views on each of one to three devices, a login
/// (identify with email on the first device), known activity; 2% of logins happen on a
/// device another person used (shared devices), 1% of events carry junk user ids.
fn journeys() -> Vec<Value> {
    let mut rng = Rng(7);
    let mut events: Vec<(i64, Value)> = Vec::new();
    let platforms = ["web", "ios", "android"];
    for person in 0..PEOPLE {
        let user = format!("user-{person}");
        let email = format!("person{person}@mail{}.io", person % 97);
        let devices = 1 + rng.below(3) as usize;
        let mut time = BASE + rng.below(60) as i64 * DAY + rng.below(1440) as i64 * MINUTE;
        for device in 0..devices {
            let platform = platforms[(device + person as usize) % 3];
            let mut anon = format!("anon-{person}-{device}");
            if rng.chance(2) {
                // Logs in on someone else's device (logout without reset).
                anon = format!("anon-{}-0", rng.below(PEOPLE));
            }
            let context = match platform {
                "web" => {
                    json!({"userAgent": "Mozilla/5.0 (Macintosh) Chrome/120.0", "page": {"path": "/"}})
                }
                os => json!({"device": {"id": format!("{os}-dev-{person}-{device}"), "type": os,
                    "advertisingId": format!("ad-{person}-{device}"), "adTrackingEnabled": true}}),
            };
            let call = if platform == "web" { "page" } else { "screen" };
            for _ in 0..1 + rng.below(2) {
                time += rng.below(30) as i64 * MINUTE;
                events.push((
                    time,
                    json!({"type": call, "name": "Home", "anonymousId": anon,
                    "context": context, "timestamp": format_time(time)}),
                ));
            }
            time += rng.below(60) as i64 * MINUTE;
            let user_id = if rng.chance(1) {
                "undefined".to_string()
            } else {
                user.clone()
            };
            let plan = ["free", "pro", "team"][rng.below(3) as usize];
            let login = if device == 0 {
                json!({"type": "identify", "userId": user_id, "anonymousId": anon, "context": context,
                    "traits": {"email": email, "name": format!("Person {person}"),
                               "plan": plan},
                    "timestamp": format_time(time)})
            } else {
                json!({"type": "track", "event": "Signed In", "userId": user_id, "anonymousId": anon,
                    "context": context, "timestamp": format_time(time)})
            };
            events.push((time, login));
            for _ in 0..rng.below(2) {
                time += rng.below(3 * 1440) as i64 * MINUTE;
                events.push((time, json!({"type": "track", "event": "Order Completed", "userId": user,
                    "anonymousId": anon, "context": context, "properties": {"total": rng.below(200)},
                    "timestamp": format_time(time)})));
            }
        }
    }
    // Arrival roughly in time order, as a live stream.
    events.sort_by_key(|(t, _)| *t);
    events
        .into_iter()
        .enumerate()
        .map(|(i, (_, mut e))| {
            e["messageId"] = json!(format!("msg-{i}"));
            e
        })
        .collect()
}

/// Resolves and applies every event into a fresh working graph.
fn ingest(events: &[Event], rules: &Rules) -> WorkingGraph {
    let mut graph = WorkingGraph::new();
    let mut next = 0u64;
    let mut next_id = || {
        next += 1;
        ProfileId(next)
    };
    for (seq, event) in events.iter().enumerate() {
        if let Decision::Apply(plan) = resolve(event, rules, &graph, BASE) {
            let traits = event.profile_traits();
            let attribution = Attribution {
                seq: seq as u64,
                time: event.time().unwrap_or(BASE),
                source: "bench",
                message_id: &event.message_id,
                traits: &traits,
            };
            graph.apply(&plan, &attribution, &mut next_id);
        }
    }
    graph
}

fn bench_resolve(c: &mut Criterion) {
    let rules = Config::defaults().rules_for(DEFAULT_SPACE).unwrap();
    let json = journeys();
    let events: Vec<Event> = json
        .iter()
        .map(|v| Event::from_json(v.clone()).unwrap())
        .collect();
    let lines: Vec<String> = json.iter().map(Value::to_string).collect();
    let profiles = ingest(&events, &rules).len();
    eprintln!(
        "resolve bench: {} events from {PEOPLE} people -> {profiles} profiles",
        events.len()
    );

    let mut group = c.benchmark_group("resolve");
    group.sample_size(10);
    group.throughput(Throughput::Elements(events.len() as u64));
    // The graph is dropped outside the timing: a live store keeps it.
    group.bench_function("resolve_apply_mixed", |b| {
        b.iter_with_large_drop(|| ingest(black_box(&events), &rules))
    });
    group.bench_function("parse_resolve_apply_mixed", |b| {
        b.iter_with_large_drop(|| {
            let parsed: Vec<Event> = lines
                .iter()
                .map(|l| Event::from_json(serde_json::from_str(l).unwrap()).unwrap())
                .collect();
            (ingest(&parsed, &rules), parsed)
        })
    });
    group.bench_function("duplicates_only", |b| {
        // Re-delivery of a whole stream: every event is a duplicate.
        let mut graph = WorkingGraph::new();
        for e in &events {
            graph.load_seen(e.message_id.clone());
        }
        b.iter(|| {
            events
                .iter()
                .filter(|e| matches!(resolve(e, &rules, &graph, BASE), Decision::Duplicate))
                .count()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_resolve);
criterion_main!(benches);
