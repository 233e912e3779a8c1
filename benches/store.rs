//! The store on a real sled directory: throughput of the atomic batch apply (generated demo
//! journeys resolved and written one batch of 4,096 events at a time), and how long the
//! explorer takes to load a profile with 10,000 events (target: 30 ms).
//!
//! Run with `cargo bench --bench store`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use idgraph::config::Config;
use idgraph::demo::{Generator, Settings};
use idgraph::ingest::{SourcedEvent, route_event};
use idgraph::model::{Event, Identifier};
use idgraph::query::GraphRead;
use idgraph::store::Store;
use idgraph::tui::worker::load_profile;

const BATCH: usize = 4096;

/// The first `n` events of a seeded demo data set, routed as `idgraph ingest` would.
fn events(n: usize) -> Vec<SourcedEvent> {
    let config = Config::defaults();
    let generator = Generator::new(Settings::new(2_000, 11)).expect("valid settings");
    generator
        .filter_map(|delivery| serde_json::from_str(&delivery.json).ok())
        .filter_map(|value| Event::from_json(value).ok())
        .take(n)
        .map(|event| {
            let routing = route_event(&event, &config, "default", None, None);
            SourcedEvent {
                event,
                source: routing.source,
                channel: routing.channel,
            }
        })
        .collect()
}

fn store_apply(c: &mut Criterion) {
    let batches: Vec<Vec<SourcedEvent>> =
        events(BATCH * 4).chunks(BATCH).map(<[_]>::to_vec).collect();
    let mut group = c.benchmark_group("store");
    group.sample_size(10);
    group.throughput(Throughput::Elements((BATCH * batches.len()) as u64));
    group.bench_function("ingest_batches_of_4096_into_fresh_store", |b| {
        b.iter_batched(
            || tempfile::tempdir().expect("temp dir"),
            |dir| {
                let store = Store::open(dir.path(), Config::defaults()).expect("open store");
                let space = store.space("default").expect("space");
                for batch in &batches {
                    space.ingest(batch, 0).expect("ingest");
                }
                dir
            },
            BatchSize::PerIteration,
        );
    });
    group.finish();
}

/// One heavy user: `n` track events under one userId across two anonymous ids.
fn heavy_user(n: usize) -> Vec<SourcedEvent> {
    (0..n)
        .map(|i| {
            let json = serde_json::json!({
                "type": "track", "event": "Product Viewed", "messageId": format!("heavy-{i}"),
                "userId": "heavy-user-1", "anonymousId": format!("heavy-anon-{}", i % 2),
                "timestamp": format!("2025-06-{:02}T{:02}:{:02}:00Z", 1 + i % 28, i % 24, i % 60),
                "properties": {"sku": format!("SKU-{}", i % 300), "price": i % 90},
                "context": {"library": {"name": "analytics.js", "version": "4.1.0"},
                            "page": {"path": format!("/products/{}", i % 300)}},
            });
            SourcedEvent {
                event: Event::from_json(json).expect("valid event"),
                source: "website".into(),
                channel: "web".into(),
            }
        })
        .collect()
}

fn profile_open(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), Config::defaults()).expect("open store");
    let space = store.space("default").expect("space");
    for batch in heavy_user(10_000).chunks(BATCH) {
        space.ingest(batch, 0).expect("ingest");
    }
    let id = space
        .owner(&Identifier::new("user_id", "heavy-user-1"))
        .expect("read")
        .expect("heavy profile");
    let mut group = c.benchmark_group("explorer");
    group.sample_size(20);
    group.bench_function("open_profile_with_10k_events", |b| {
        b.iter(|| load_profile(&*space, id, 0).expect("load"));
    });
    group.bench_function("timeline_of_10k_events", |b| {
        b.iter(|| space.timeline(id, usize::MAX).expect("timeline"));
    });
    group.finish();
}

criterion_group!(benches, store_apply, profile_open);
criterion_main!(benches);
