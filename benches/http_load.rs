//! Load generator for `idgraph serve`: posts batches of events over loopback from several
//! keep-alive connections for a fixed time, then reports events/s, request latency
//! percentiles and the number of acknowledged events.
//!
//! ```text
//! # in-process server with an in-memory counting sink (checks that every acknowledged
//! # event reached the sink):
//! cargo bench --bench http_load -- --duration 60 --connections 8
//! # against a running server (the write key must belong to a configured source):
//! cargo bench --bench http_load -- --url http://127.0.0.1:8088 --write-key KEY --duration 60
//! ```

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Parser;
use idgraph::config::Config;
use idgraph::ingest::http::{ServerState, SharedReader, serve};
use idgraph::ingest::{Sink, SinkError, SourcedEvent, SubmitOutcome};
use serde_json::{Value, json};

/// Load generator for the tracking API.
#[derive(Debug, Parser)]
struct Args {
    /// Seconds to run
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Concurrent keep-alive connections (one client thread each)
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Events per batch
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// A running server's base URL; without it an in-process server with an in-memory
    /// sink is started
    #[arg(long)]
    url: Option<String>,
    /// The write key to send
    #[arg(long, default_value = "LOAD_WRITE_KEY")]
    write_key: String,
    /// Worker threads of the in-process server
    #[arg(long, default_value_t = 2)]
    server_threads: usize,
    /// Passed by `cargo bench`; ignored
    #[arg(long, hide = true)]
    bench: bool,
}

/// Counts events per messageId, like a store that skips duplicates.
#[derive(Clone, Default)]
struct CountingSink {
    seen: Arc<Mutex<HashSet<String>>>,
}

impl Sink for CountingSink {
    fn submit(
        &self,
        _space: String,
        events: Vec<SourcedEvent>,
    ) -> impl Future<Output = Result<SubmitOutcome, SinkError>> + Send {
        let seen = Arc::clone(&self.seen);
        async move {
            let mut seen = seen
                .lock()
                .map_err(|_| SinkError::Store("poisoned".into()))?;
            let mut outcome = SubmitOutcome::default();
            for e in events {
                if seen.insert(e.event.message_id) {
                    outcome.stored += 1;
                } else {
                    outcome.duplicates += 1;
                }
            }
            Ok(outcome)
        }
    }
}

/// What one client thread saw.
#[derive(Default)]
struct ClientStats {
    latencies_us: Vec<u64>,
    acknowledged: u64,
    duplicates: u64,
    failed_requests: u64,
    statuses: Vec<u16>,
}

fn batch_body(client: usize, request: u64, size: usize) -> Vec<u8> {
    let items: Vec<Value> = (0..size)
        .map(|i| {
            let n = (request as usize * size + i) % 20_000;
            let message_id = format!("load-{client}-{request}-{i}");
            let anonymous = format!("anon-{client}-{n}");
            match i % 4 {
                0 => json!({"type": "identify", "messageId": message_id, "userId": format!("user-{n}"),
                    "anonymousId": anonymous, "traits": {"email": format!("user{n}@acme.io"), "plan": "pro"},
                    "timestamp": "2024-05-01T12:00:00.000Z"}),
                1 => json!({"type": "track", "messageId": message_id, "anonymousId": anonymous,
                    "event": "Product Viewed", "properties": {"sku": format!("sku-{i}"), "price": 19.5},
                    "context": {"device": {"id": format!("dev-{n}"), "type": "ios"}},
                    "timestamp": "2024-05-01T12:00:01.000Z"}),
                2 => json!({"type": "page", "messageId": message_id, "anonymousId": anonymous,
                    "name": "Pricing", "properties": {"url": "https://acme.io/pricing"},
                    "timestamp": "2024-05-01T12:00:02.000Z"}),
                _ => json!({"type": "track", "messageId": message_id, "userId": format!("user-{n}"),
                    "event": "Order Completed", "properties": {"revenue": 42, "currency": "EUR"},
                    "timestamp": "2024-05-01T12:00:03.000Z"}),
            }
        })
        .collect();
    json!({
        "batch": items,
        "context": {"library": {"name": "idgraph-load", "version": "1"}},
        "sentAt": idgraph::model::time::format_time(idgraph::model::time::now()),
    })
    .to_string()
    .into_bytes()
}

fn run_client(
    client: usize,
    url: String,
    auth: String,
    batch: usize,
    stop: Arc<AtomicBool>,
) -> ClientStats {
    let agent = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build(),
    );
    let mut stats = ClientStats::default();
    let mut request = 0u64;
    while !stop.load(Ordering::Relaxed) {
        let body = batch_body(client, request, batch);
        request += 1;
        let started = Instant::now();
        let result = agent
            .post(&url)
            .header("Authorization", &auth)
            .header("Content-Type", "application/json")
            .send(&body[..]);
        match result {
            Ok(mut response) => {
                let status = response.status().as_u16();
                let text = response.body_mut().read_to_string().unwrap_or_default();
                stats
                    .latencies_us
                    .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX));
                if status == 200 {
                    let reply: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
                    stats.acknowledged += reply["stored"].as_u64().unwrap_or(0);
                    stats.duplicates += reply["duplicates"].as_u64().unwrap_or(0);
                } else {
                    stats.failed_requests += 1;
                    stats.statuses.push(status);
                }
            }
            Err(_) => stats.failed_requests += 1,
        }
    }
    stats
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)] as f64 / 1000.0
}

fn main() {
    let args = Args::parse();
    let sink = CountingSink::default();
    let mut server = None;
    let base = match &args.url {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => {
            let config = Config::from_toml_str(
                &format!(
                    "[sources.load]\nwrite_key = \"{}\"\nspace = \"load\"\nchannel = \"web\"\n",
                    args.write_key
                ),
                "http_load",
            )
            .expect("valid load config");
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(args.server_threads)
                .enable_all()
                .build()
                .expect("tokio runtime");
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind 127.0.0.1");
            let addr = listener.local_addr().expect("local address");
            let no_reads = |_: &str| -> Option<SharedReader> { None };
            let state = ServerState::new(Arc::new(config), sink.clone(), no_reads);
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let handle = runtime.spawn(serve(listener, state, async move {
                let _ = stop_rx.await;
            }));
            server = Some((runtime, handle, stop_tx));
            format!("http://{addr}")
        }
    };
    let url = format!("{base}/v1/batch");
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{}:", args.write_key))
    );
    println!(
        "http_load: {} connections, batches of {}, {} s, against {}",
        args.connections,
        args.batch,
        args.duration,
        if args.url.is_some() {
            base.clone()
        } else {
            format!("{base} (in-process, in-memory sink)")
        }
    );

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..args.connections)
        .map(|client| {
            let (url, auth, stop) = (url.clone(), auth.clone(), Arc::clone(&stop));
            let batch = args.batch;
            std::thread::spawn(move || run_client(client, url, auth, batch, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.duration));
    stop.store(true, Ordering::Relaxed);
    let mut total = ClientStats::default();
    for client in clients {
        let stats = client.join().expect("client thread");
        total.latencies_us.extend(stats.latencies_us);
        total.acknowledged += stats.acknowledged;
        total.duplicates += stats.duplicates;
        total.failed_requests += stats.failed_requests;
        total.statuses.extend(stats.statuses);
    }
    let elapsed = started.elapsed().as_secs_f64();
    total.latencies_us.sort_unstable();
    let requests = total.latencies_us.len();
    println!(
        "requests: {requests} answered, {} failed{}",
        total.failed_requests,
        if total.statuses.is_empty() {
            String::new()
        } else {
            format!(" (statuses {:?})", {
                let mut s = total.statuses.clone();
                s.sort_unstable();
                s.dedup();
                s
            })
        }
    );
    println!(
        "events acknowledged: {} ({:.0} events/s over {elapsed:.1} s), duplicates: {}",
        total.acknowledged,
        total.acknowledged as f64 / elapsed,
        total.duplicates
    );
    println!(
        "latency per batch: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&total.latencies_us, 50.0),
        percentile(&total.latencies_us, 90.0),
        percentile(&total.latencies_us, 99.0),
        percentile(&total.latencies_us, 100.0)
    );
    if let Some((runtime, handle, stop_tx)) = server {
        let _ = stop_tx.send(());
        if let Ok(Err(error)) = runtime.block_on(handle) {
            eprintln!("http_load: server error: {error}");
        }
        let stored = sink.seen.lock().map(|s| s.len() as u64).unwrap_or(0);
        let verdict = if stored >= total.acknowledged {
            "no acknowledged event lost"
        } else {
            "ACKNOWLEDGED EVENTS LOST"
        };
        println!(
            "sink holds {stored} events; acknowledged {}: {verdict}",
            total.acknowledged
        );
        if stored < total.acknowledged {
            std::process::exit(1);
        }
    }
}
