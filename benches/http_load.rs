//! Load generator for `idgraph serve`: posts batches of events over loopback from several
//! keep-alive connections for a fixed time, then reports events/s, request latency
//! percentiles and the number of acknowledged events.
//!
//! ```text
//! # in-process server with an in-memory counting sink (checks that every acknowledged
//! # event reached the sink):
//! cargo bench --bench http_load -- --duration 60 --connections 8
//! # the real server on a fresh temporary store: starts `idgraph serve`, measures its CPU,
//! # stops it with SIGTERM, then opens the store and checks that every acknowledged
//! # messageId is in it:
//! cargo build --release --locked
//! cargo bench --bench http_load -- --server-bin target/release/idgraph --duration 60
//! # against a running server (the write key must belong to a configured source):
//! cargo bench --bench http_load -- --url http://127.0.0.1:8088 --write-key KEY --duration 60
//! ```

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use clap::Parser;
use idgraph::config::Config;
use idgraph::ingest::http::{ServerState, SharedReader, serve};
use idgraph::ingest::{Sink, SinkError, SourcedEvent, SubmitOutcome};
use idgraph::query::GraphRead;
use idgraph::store::Store;
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
    /// A running server's base URL; without it (and without --server-bin) an in-process
    /// server with an in-memory sink is started
    #[arg(long, conflicts_with = "server_bin")]
    url: Option<String>,
    /// An `idgraph` binary to run as `idgraph serve` on a fresh temporary store; after the
    /// load it is stopped with SIGTERM and every acknowledged messageId is looked up in the
    /// store
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,
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
    /// The messageIds the server acknowledged as stored (200, not listed as unresolvable),
    /// kept when `keep_ids` is set.
    acknowledged_ids: Vec<String>,
    duplicates: u64,
    failed_requests: u64,
    statuses: Vec<u16>,
}

/// A batch request body and the messageIds in it, in batch order.
fn batch_body(client: usize, request: u64, size: usize) -> (Vec<u8>, Vec<String>) {
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
    let ids = items
        .iter()
        .map(|item| item["messageId"].as_str().unwrap_or_default().to_string())
        .collect();
    let body = json!({
        "batch": items,
        "context": {"library": {"name": "idgraph-load", "version": "1"}},
        "sentAt": idgraph::model::time::format_time(idgraph::model::time::now()),
    })
    .to_string()
    .into_bytes();
    (body, ids)
}

fn run_client(
    client: usize,
    url: String,
    auth: String,
    batch: usize,
    keep_ids: bool,
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
        let (body, ids) = batch_body(client, request, batch);
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
                    if keep_ids {
                        let unresolvable: HashSet<u64> = reply["unresolvable"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|u| u["index"].as_u64())
                            .collect();
                        stats.acknowledged_ids.extend(
                            ids.into_iter()
                                .enumerate()
                                .filter(|(i, _)| !unresolvable.contains(&(*i as u64)))
                                .map(|(_, id)| id),
                        );
                    }
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

/// `idgraph serve` started by the bench on a temporary store.
struct SpawnedServer {
    child: Child,
    /// Keeps the store directory until the check is done.
    dir: tempfile::TempDir,
    config: String,
}

impl SpawnedServer {
    /// Starts `bin serve` on a fresh store with one source keyed `write_key`; returns it and
    /// its base URL.
    fn start(bin: &Path, write_key: &str) -> (SpawnedServer, String) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = load_config(write_key);
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, &config).expect("write the config");
        let mut child = Command::new(bin)
            .arg("--store")
            .arg(dir.path().join("store"))
            .arg("--config")
            .arg(&config_path)
            .args(["serve", "--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = match lines.next() {
                Some(Ok(line)) => line,
                _ => panic!("{} exited before serving", bin.display()),
            };
            if let Some(rest) = line.split("serving http://").nth(1) {
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_string();
            }
        };
        // The server logs every request: keep reading so it never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        (
            SpawnedServer { child, dir, config },
            format!("http://{addr}"),
        )
    }

    /// CPU seconds (user + system) the server has used so far.
    fn cpu_seconds(&self) -> f64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        // Fields after the command name (which may hold spaces) start at field 3.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let ticks: f64 = [11, 12] // utime, stime (fields 14 and 15)
            .iter()
            .filter_map(|&i| fields.get(i).and_then(|f| f.parse::<f64>().ok()))
            .sum();
        // SAFETY: sysconf has no preconditions.
        let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
        ticks / per_second
    }

    /// Stops the server as an operator would (SIGTERM), then opens its store and returns
    /// the messageIds stored in the load space.
    fn stop_and_read(mut self) -> HashSet<String> {
        // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let status = self.child.wait().expect("wait for the server");
        assert!(status.success(), "the server exited with {status}");
        let config = Config::from_toml_str(&self.config, "http_load").expect("load config");
        let store = Store::open(&self.dir.path().join("store"), config).expect("open the store");
        let space = store.space("load").expect("the load space");
        let mut profiles = Vec::new();
        space
            .for_each_profile(&mut |p| {
                profiles.push(p.id);
                true
            })
            .expect("list profiles");
        let mut stored = HashSet::new();
        for id in profiles {
            for event in space.timeline(id, usize::MAX).expect("read a timeline") {
                stored.insert(event.message_id);
            }
        }
        stored
    }
}

/// Settings with one source writing into the space `load`.
fn load_config(write_key: &str) -> String {
    format!("[sources.load]\nwrite_key = \"{write_key}\"\nspace = \"load\"\nchannel = \"web\"\n")
}

fn main() {
    let args = Args::parse();
    let sink = CountingSink::default();
    let mut server = None;
    let mut spawned = None;
    let base = match (&args.url, &args.server_bin) {
        (Some(url), _) => url.trim_end_matches('/').to_string(),
        (None, Some(bin)) => {
            let (child, base) = SpawnedServer::start(bin, &args.write_key);
            spawned = Some(child);
            base
        }
        (None, None) => {
            let config = Config::from_toml_str(&load_config(&args.write_key), "http_load")
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
    let target = if spawned.is_some() {
        format!("{base} (idgraph serve on a fresh store)")
    } else if args.url.is_some() {
        base.clone()
    } else {
        format!("{base} (in-process, in-memory sink)")
    };
    println!(
        "http_load: {} connections, batches of {}, {} s, against {target}",
        args.connections, args.batch, args.duration,
    );

    let keep_ids = spawned.is_some();
    let cpu_before = spawned.as_ref().map(SpawnedServer::cpu_seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..args.connections)
        .map(|client| {
            let (url, auth, stop) = (url.clone(), auth.clone(), Arc::clone(&stop));
            let batch = args.batch;
            std::thread::spawn(move || run_client(client, url, auth, batch, keep_ids, stop))
        })
        .collect();
    std::thread::sleep(Duration::from_secs(args.duration));
    stop.store(true, Ordering::Relaxed);
    let mut total = ClientStats::default();
    for client in clients {
        let stats = client.join().expect("client thread");
        total.latencies_us.extend(stats.latencies_us);
        total.acknowledged += stats.acknowledged;
        total.acknowledged_ids.extend(stats.acknowledged_ids);
        total.duplicates += stats.duplicates;
        total.failed_requests += stats.failed_requests;
        total.statuses.extend(stats.statuses);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = match (&spawned, cpu_before) {
        (Some(server), Some(before)) => Some(server.cpu_seconds() - before),
        _ => None,
    };
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
    if let Some(cpu) = cpu {
        println!(
            "server CPU: {cpu:.1} s over {elapsed:.1} s = {:.0} % of one core",
            100.0 * cpu / elapsed
        );
    }
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
    if let Some(server) = spawned {
        let stopping = Instant::now();
        let stored = server.stop_and_read();
        let lost: Vec<&String> = total
            .acknowledged_ids
            .iter()
            .filter(|id| !stored.contains(*id))
            .collect();
        println!(
            "store holds {} events (server stopped and store read in {:.1} s); \
             acknowledged {}: lost {}{}",
            stored.len(),
            stopping.elapsed().as_secs_f64(),
            total.acknowledged_ids.len(),
            lost.len(),
            lost.first()
                .map(|id| format!(", e.g. {id}"))
                .unwrap_or_default()
        );
        if !lost.is_empty() {
            std::process::exit(1);
        }
    }
}
