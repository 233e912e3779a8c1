//! The store-backed [`Sink`]: one writer thread applies submitted groups in arrival order
//! and acknowledges them only after the store has flushed them to disk (group commit: all
//! groups waiting at that moment share one flush).

use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender, unbounded};
use tokio::sync::oneshot;

use crate::model::time::now;
use crate::store::Store;

use super::{Sink, SinkError, SourcedEvent, SubmitOutcome};

/// Most events applied between two flushes.
const MAX_EVENTS_PER_COMMIT: usize = 50_000;

struct Request {
    space: String,
    events: Vec<SourcedEvent>,
    reply: oneshot::Sender<Result<SubmitOutcome, SinkError>>,
}

/// A cloneable handle that submits events to the writer thread.
#[derive(Clone)]
pub struct StoreSink {
    sender: Sender<Request>,
}

/// The writer thread; joining it waits until every accepted request is answered.
pub struct WriterHandle {
    thread: Option<thread::JoinHandle<()>>,
}

impl WriterHandle {
    /// Waits for the writer to finish (after every [`StoreSink`] clone is dropped).
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Starts the writer thread over a store.
pub fn start_writer(store: Arc<Store>) -> (StoreSink, WriterHandle) {
    let (sender, receiver) = unbounded();
    let thread = thread::Builder::new()
        .name("idgraph-writer".into())
        .spawn(move || run_writer(&store, &receiver))
        .ok();
    (StoreSink { sender }, WriterHandle { thread })
}

fn run_writer(store: &Store, receiver: &Receiver<Request>) {
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        let mut events = group[0].events.len();
        while events < MAX_EVENTS_PER_COMMIT {
            match receiver.try_recv() {
                Ok(request) => {
                    events += request.events.len();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        let received = now();
        let results: Vec<Result<SubmitOutcome, SinkError>> = group
            .iter()
            .map(|r| {
                store
                    .space(&r.space)
                    .and_then(|space| space.ingest(&r.events, received))
                    .map_err(|e| SinkError::Store(format!("{e:#}")))
            })
            .collect();
        let flushed = store
            .flush()
            .map_err(|e| SinkError::Store(format!("{e:#}")));
        for (request, result) in group.into_iter().zip(results) {
            let answer = match (&flushed, result) {
                (Err(e), _) => Err(e.clone()),
                (Ok(()), result) => result,
            };
            let _ = request.reply.send(answer);
        }
    }
}

impl Sink for StoreSink {
    async fn submit(
        &self,
        space: String,
        events: Vec<SourcedEvent>,
    ) -> Result<SubmitOutcome, SinkError> {
        let (reply, answer) = oneshot::channel();
        self.sender
            .send(Request {
                space,
                events,
                reply,
            })
            .map_err(|_| SinkError::ShuttingDown)?;
        answer.await.map_err(|_| SinkError::ShuttingDown)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::model::Event;
    use crate::query::GraphRead;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn acknowledged_events_are_in_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), Config::defaults()).unwrap());
        let (sink, writer) = start_writer(store.clone());
        let mut tasks = Vec::new();
        for i in 0..20 {
            let sink = sink.clone();
            tasks.push(tokio::spawn(async move {
                let event = Event::from_json(serde_json::json!({"type":"identify","userId":format!("u{i}"),"messageId":format!("m{i}")})).unwrap();
                let sourced = SourcedEvent { event, source: "t".into(), channel: "web".into() };
                sink.submit("default".into(), vec![sourced.clone(), sourced]).await
            }));
        }
        for task in tasks {
            let outcome = task.await.unwrap().unwrap();
            assert_eq!((outcome.stored, outcome.duplicates), (1, 1));
        }
        drop(sink);
        writer.join();
        assert_eq!(store.space("default").unwrap().profile_count().unwrap(), 20);
    }
}
