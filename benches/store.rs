//! Throughput of the store's atomic batch apply: generated demo journeys resolved and written
//! into a real sled store in a temp directory, one batch of 4,096 events at a time.
//!
//! Run with `cargo bench --bench store`.

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

use idgraph::config::Config;
use idgraph::demo::{Generator, Settings};
use idgraph::ingest::{SourcedEvent, route_event};
use idgraph::model::Event;
use idgraph::store::Store;

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

criterion_group!(benches, store_apply);
criterion_main!(benches);
