//! Shared fixtures: an in-memory sink, an in-memory graph, a real server on an ephemeral
//! port, and a blocking HTTP client.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use flate2::Compression;
use flate2::write::GzEncoder;
use idgraph::config::Config;
use idgraph::ingest::http::{ServerState, SharedReader, SpaceReaders, serve};
use idgraph::ingest::{Sink, SinkError, SourcedEvent, SubmitOutcome};
use idgraph::model::{Identifier, JournalEntry, Link, Profile, ProfileId, StoredEvent, Violation};
use idgraph::query::GraphRead;
use serde_json::Value;

/// Settings with two sources in two spaces.
pub const CONFIG: &str = r#"
[sources.web]
write_key = "KEY_WEB"
space = "shop"
channel = "web"

[sources.support]
write_key = "KEY_SUPPORT"
space = "helpdesk"
channel = "support"

[sources.wire]
write_key = "WRITE_KEY_TEST"
space = "wire"

[server]
read_token = "READ_TOKEN"
"#;

#[derive(Default)]
struct SinkInner {
    events: BTreeMap<String, Vec<SourcedEvent>>,
    seen: HashSet<(String, String)>,
    fail: Option<SinkError>,
    delay: Option<Duration>,
}

/// Keeps submitted events per space, skipping messageIds already seen in the space.
#[derive(Clone, Default)]
pub struct MemorySink {
    inner: Arc<Mutex<SinkInner>>,
}

impl MemorySink {
    /// Every event stored in a space, in arrival order.
    pub fn events(&self, space: &str) -> Vec<SourcedEvent> {
        let inner = self.inner.lock().unwrap();
        inner.events.get(space).cloned().unwrap_or_default()
    }

    /// Number of events stored across spaces.
    pub fn total(&self) -> usize {
        let inner = self.inner.lock().unwrap();
        inner.events.values().map(Vec::len).sum()
    }

    /// Makes every later submit fail with `error`.
    pub fn fail_with(&self, error: SinkError) {
        self.inner.lock().unwrap().fail = Some(error);
    }

    /// Makes every later submit take `delay` before storing.
    pub fn delay(&self, delay: Duration) {
        self.inner.lock().unwrap().delay = Some(delay);
    }
}

impl Sink for MemorySink {
    fn submit(
        &self,
        space: String,
        events: Vec<SourcedEvent>,
    ) -> impl Future<Output = Result<SubmitOutcome, SinkError>> + Send {
        let inner = Arc::clone(&self.inner);
        async move {
            let delay = inner.lock().unwrap().delay;
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            let mut inner = inner.lock().unwrap();
            if let Some(error) = &inner.fail {
                return Err(error.clone());
            }
            let mut outcome = SubmitOutcome::default();
            for event in events {
                let key = (space.clone(), event.event.message_id.clone());
                if inner.seen.insert(key) {
                    inner.events.entry(space.clone()).or_default().push(event);
                    outcome.stored += 1;
                } else {
                    outcome.duplicates += 1;
                }
            }
            Ok(outcome)
        }
    }
}

/// A read-only graph of one space, held in memory.
pub struct MemoryGraph {
    pub space: String,
    pub profiles: Vec<Profile>,
    pub events: HashMap<ProfileId, Vec<StoredEvent>>,
}

impl MemoryGraph {
    fn find(&self, id: ProfileId) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.id == id)
    }
}

impl GraphRead for MemoryGraph {
    fn space(&self) -> &str {
        &self.space
    }
    fn profile_count(&self) -> anyhow::Result<u64> {
        Ok(self.profiles.len() as u64)
    }
    fn for_each_profile(&self, visit: &mut dyn FnMut(&Profile) -> bool) -> anyhow::Result<()> {
        for p in &self.profiles {
            if !visit(p) {
                break;
            }
        }
        Ok(())
    }
    fn profile(&self, id: ProfileId) -> anyhow::Result<Option<Profile>> {
        Ok(self.find(id).cloned())
    }
    fn owner(&self, id: &Identifier) -> anyhow::Result<Option<ProfileId>> {
        Ok(self.profiles.iter().find(|p| p.has(id)).map(|p| p.id))
    }
    fn timeline(&self, id: ProfileId, limit: usize) -> anyhow::Result<Vec<StoredEvent>> {
        let mut events = self.events.get(&id).cloned().unwrap_or_default();
        events.sort_by_key(|e| std::cmp::Reverse(e.time));
        events.truncate(limit);
        Ok(events)
    }
    fn links(&self, _id: ProfileId) -> anyhow::Result<Vec<Link>> {
        Ok(Vec::new())
    }
    fn violations(&self, _id: ProfileId) -> anyhow::Result<Vec<Violation>> {
        Ok(Vec::new())
    }
    fn for_each_violation(
        &self,
        _visit: &mut dyn FnMut(u64, Violation) -> bool,
    ) -> anyhow::Result<()> {
        Ok(())
    }
    fn journal_for(&self, _id: ProfileId) -> anyhow::Result<Vec<JournalEntry>> {
        Ok(Vec::new())
    }
    fn journal(&self) -> anyhow::Result<Vec<JournalEntry>> {
        Ok(Vec::new())
    }
}

/// Readers for a set of in-memory graphs, by space name.
pub fn readers(graphs: Vec<MemoryGraph>) -> impl SpaceReaders {
    let by_space: HashMap<String, SharedReader> = graphs
        .into_iter()
        .map(|g| (g.space.clone(), Arc::new(g) as SharedReader))
        .collect();
    move |space: &str| by_space.get(space).cloned()
}

/// A real server on 127.0.0.1, on its own runtime; stopped (gracefully) on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server with the given settings text, sink and readers.
    pub fn start(config: &str, sink: MemorySink, readers: impl SpaceReaders) -> TestServer {
        let config = Arc::new(Config::from_toml_str(config, "test config").unwrap());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let state = ServerState::new(config, sink, readers);
                let shutdown = async move {
                    let _ = stop_rx.await;
                };
                serve(listener, state, shutdown).await.unwrap();
            });
        });
        let addr = addr_rx.recv().unwrap();
        TestServer {
            addr,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Starts a server on [`CONFIG`] with no spaces to read.
    pub fn tracking(sink: MemorySink) -> TestServer {
        TestServer::start(CONFIG, sink, readers(Vec::new()))
    }

    /// The URL of a path on this server.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Begins a graceful shutdown and waits until the server has returned.
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            thread.join().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A client that returns 4xx/5xx responses instead of failing on them.
pub fn agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build(),
    )
}

/// A status and a JSON body.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// A response header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn reply(mut response: ureq::http::Response<ureq::Body>) -> Reply {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let text = response.body_mut().read_to_string().unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply {
        status,
        body,
        headers,
    }
}

/// POSTs raw bytes with headers.
pub fn post(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut request = agent().post(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(request.send(body).unwrap())
}

/// POSTs JSON with a write key in Basic auth.
pub fn post_json(url: &str, key: &str, body: &Value) -> Reply {
    let auth = basic(key);
    post(
        url,
        &[
            ("Content-Type", "application/json"),
            ("Authorization", &auth),
        ],
        body.to_string().as_bytes(),
    )
}

/// GETs a URL with headers.
pub fn get(url: &str, headers: &[(&str, &str)]) -> Reply {
    let mut request = agent().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    reply(request.call().unwrap())
}

/// `Basic base64(user:)`.
pub fn basic(user: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:"))
    )
}

/// gzip-compresses bytes.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}
