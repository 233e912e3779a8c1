//! Search latency over one million synthetic profiles: a person types a query one key at a
//! time and every keystroke must give the ranked top 50 (target: median <= 20 ms, p99 <= 60 ms).

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use idgraph::model::{Identifier, Profile, ProfileId};
use idgraph::query::search::{IndexCache, SearchEngine, SearchIndex};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

const PROFILES: u64 = 1_000_000;
const LIMIT: usize = 50;

const FIRST: [&str; 40] = [
    "Ana", "Bruno", "Carla", "Diego", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Luis", "Maya", "Nora", "Omar", "Paula", "Quentin", "Rosa", "Sven", "Tara", "Umar", "Vera",
    "Wim", "Xenia", "Yusuf", "Zoe", "Aiko", "Bea", "Chen", "Dara", "Emil", "Fatima", "Goran",
    "Hana", "Ivan", "Jade", "Kofi", "Lena", "Mateo", "Nadia",
];
const LAST: [&str; 40] = [
    "Silva", "Okafor", "Novak", "Garcia", "Kowalski", "Haddad", "Larsen", "Moreau", "Rossi",
    "Schmidt", "Tanaka", "Nguyen", "Petrov", "Costa", "Mensah", "Fischer", "Ivanova", "Jensen",
    "Khan", "Lopez", "Müller", "Nakamura", "Olsen", "Park", "Quinn", "Reyes", "Sato", "Torres",
    "Ueda", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Abbott", "Baker", "Cruz", "Dubois",
    "Evans", "Ferreira",
];
const DOMAINS: [&str; 8] = [
    "gmail.com",
    "outlook.com",
    "yahoo.com",
    "acme.io",
    "proton.me",
    "icloud.com",
    "web.de",
    "corp.example",
];

fn synthetic_profiles() -> Vec<Profile> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (1..=PROFILES)
        .map(|n| {
            let first = FIRST[rng.random_range(0..FIRST.len())];
            let last = LAST[rng.random_range(0..LAST.len())];
            let domain = DOMAINS[rng.random_range(0..DOMAINS.len())];
            let mut p = Profile::new(ProfileId(n), n as i64);
            let email = format!(
                "{}.{}{}@{domain}",
                first.to_lowercase(),
                last.to_lowercase(),
                n % 997
            );
            p.add_identifier(&Identifier::new("email", email), 0, "web");
            p.add_identifier(&Identifier::new("user_id", format!("u-{n}")), 0, "web");
            for _ in 0..rng.random_range(1..=3) {
                let anon = format!(
                    "{:08x}-{:04x}-4{:03x}",
                    rng.random::<u32>(),
                    rng.random::<u16>(),
                    rng.random::<u16>() & 0xfff
                );
                p.add_identifier(&Identifier::new("anonymous_id", anon), 0, "web");
            }
            if rng.random_bool(0.5) {
                let phone = format!(
                    "+{}{:09}",
                    rng.random_range(1..99),
                    rng.random_range(0..1_000_000_000u32)
                );
                p.add_identifier(&Identifier::new("phone", phone), 0, "ios");
            }
            if rng.random_bool(0.4) {
                let device = format!("{:016X}", rng.random::<u64>());
                p.add_identifier(&Identifier::new("ios.id", device), 0, "ios");
            }
            p.record_event(
                n as i64,
                n,
                json!({ "name": format!("{first} {last}") })
                    .as_object()
                    .unwrap(),
            );
            p
        })
        .collect()
}

/// What support agents and marketers type.
const TYPED: [&str; 12] = [
    "ana.silva",
    "nadia okafor",
    "u-4242",
    "+4915",
    "mueller",
    "zhang@gmail",
    "hugo moreau",
    "4fa3",
    "tara.khan",
    "lopez12",
    "emil",
    "jade@acme",
];

/// Words in another order than the text's, or from different texts of one profile.
const TYPED_WORDS: [&str; 6] = [
    "okafor nadia",
    "moreau hugo",
    "gmail zhang",
    "silva ana",
    "khan proton",
    "emil web.de",
];

fn keystroke_latencies(engine: &mut SearchEngine, typed: &[&str]) -> Vec<(Duration, String)> {
    let mut times = Vec::new();
    for word in typed {
        let mut typed = String::new();
        for c in word.chars() {
            typed.push(c);
            // Latency = until the final ranking reaches the UI: the worker sends it as a
            // snapshot as soon as it is final, while the scan goes on counting matches.
            let start = Instant::now();
            let mut ranked_at = None;
            let results = engine.search_with(&typed, LIMIT, &|| false, &mut |s| {
                if s.complete && ranked_at.is_none() {
                    ranked_at = Some(start.elapsed());
                }
            });
            times.push((ranked_at.unwrap_or_else(|| start.elapsed()), typed.clone()));
            std::hint::black_box(results);
        }
        // Clearing the box and starting a new word.
        engine.search("", LIMIT);
    }
    times
}

fn report(what: &str, times: &mut [(Duration, String)]) {
    times.sort();
    let pick = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize].0;
    eprintln!(
        "search keystrokes ({what}) over {PROFILES} profiles: n={} median={:?} p90={:?} p99={:?} max={:?}",
        times.len(),
        pick(0.5),
        pick(0.9),
        pick(0.99),
        times[times.len() - 1].0
    );
    let slowest: Vec<String> = times
        .iter()
        .rev()
        .take(8)
        .map(|(t, q)| format!("{q:?} {t:?}"))
        .collect();
    eprintln!("slowest keystrokes: {}", slowest.join(", "));
}

fn bench(c: &mut Criterion) {
    let start = Instant::now();
    let profiles = synthetic_profiles();
    let index = Arc::new(SearchIndex::from_profiles("bench", &profiles));
    // What a live explorer re-indexes after a batch: a hundred profiles changed.
    let changed: Vec<Profile> = profiles.iter().step_by(10_000).take(100).cloned().collect();
    drop(profiles);
    eprintln!(
        "built index of {} profiles / {} texts in {:?}",
        index.profile_count(),
        index.entry_count(),
        start.elapsed()
    );
    let mut engine = SearchEngine::new(Arc::clone(&index));
    let (mut times, mut word_times) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        times.extend(keystroke_latencies(&mut engine, &TYPED));
        word_times.extend(keystroke_latencies(&mut engine, &TYPED_WORDS));
    }
    report("queries as typed", &mut times);
    report("words in any order", &mut word_times);

    let mut group = c.benchmark_group("search");
    group.sample_size(10);
    for word in ["ana.silva", "u-4242", "zhang@gmail", "okafor nadia"] {
        group.bench_with_input(BenchmarkId::new("type_word", word), word, |b, word| {
            b.iter(|| {
                let mut typed = String::new();
                for ch in word.chars() {
                    typed.push(ch);
                    std::hint::black_box(engine.search(&typed, LIMIT));
                }
                engine.search("", LIMIT);
            });
        });
    }
    for query in ["a", "ana", "silva", "u-42", "silva ana"] {
        group.bench_with_input(BenchmarkId::new("fresh_query", query), query, |b, query| {
            b.iter(|| {
                engine.search("", LIMIT);
                std::hint::black_box(engine.search(query, LIMIT))
            });
        });
    }
    group.bench_function("patch_100_profiles", |b| {
        b.iter(|| std::hint::black_box(index.patched(&changed, &[])));
    });
    // What quitting the explorer after live changes costs, and opening the space again.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let cache = IndexCache::new(dir.path().join("bench.idx"), 1);
    group.bench_function("save_index_file", |b| {
        b.iter(|| cache.save(&index).expect("save the index"));
    });
    group.bench_function("load_index_file", |b| {
        b.iter(|| std::hint::black_box(cache.load().expect("read the index back")));
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
