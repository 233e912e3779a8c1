//! The store-backed [`Sink`]: a writer thread applies submitted groups in arrival order, and a
//! flusher thread makes them durable and acknowledges them only after the store has flushed
//! them to disk. The two overlap: while one flush runs, the writer applies the next groups,
//! and the next flush covers every group applied meanwhile (group commit).

use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender, unbounded};
use tokio::sync::oneshot;

use crate::model::time::now;
use crate::store::Store;

use super::{Sink, SinkError, SourcedEvent, SubmitOutcome};

/// Most events applied in one group before its requests are handed to the flusher.
const MAX_EVENTS_PER_GROUP: usize = 50_000;

type Reply = oneshot::Sender<Result<SubmitOutcome, SinkError>>;

struct Request {
    space: String,
    events: Vec<SourcedEvent>,
    reply: Reply,
}

/// A request applied to the store (or refused by it), waiting for a flush before its answer.
struct Applied {
    reply: Reply,
    result: Result<SubmitOutcome, SinkError>,
    /// The request's events, freed by the flusher: the writer thread is the bottleneck.
    events: Vec<SourcedEvent>,
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

/// Starts the writer and flusher threads over a store.
pub fn start_writer(store: Arc<Store>) -> (StoreSink, WriterHandle) {
    let (sender, receiver) = unbounded();
    let thread = thread::Builder::new()
        .name("idgraph-writer".into())
        .spawn(move || run_writer(store, &receiver))
        .ok();
    (StoreSink { sender }, WriterHandle { thread })
}

fn run_writer(store: Arc<Store>, receiver: &Receiver<Request>) {
    let (to_flusher, flusher_receiver) = unbounded::<Vec<Applied>>();
    let flusher = {
        let store = Arc::clone(&store);
        thread::Builder::new()
            .name("idgraph-flusher".into())
            .spawn(move || run_flusher(&store, &flusher_receiver))
    };
    let flusher = match flusher {
        Ok(flusher) => flusher,
        Err(error) => {
            // Without a flusher nothing can be acknowledged: stop, so that every submit
            // answers "shutting down" (as when the writer thread itself cannot start).
            tracing::error!(%error, "cannot start the flusher thread");
            return;
        }
    };
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        let mut events = group[0].events.len();
        while events < MAX_EVENTS_PER_GROUP {
            match receiver.try_recv() {
                Ok(request) => {
                    events += request.events.len();
                    group.push(request);
                }
                Err(_) => break,
            }
        }
        let received = now();
        let applied: Vec<Applied> = group
            .into_iter()
            .map(|request| Applied {
                result: store
                    .space(&request.space)
                    .and_then(|space| space.ingest(&request.events, received))
                    .map_err(|e| SinkError::Store(format!("{e:#}"))),
                reply: request.reply,
                events: request.events,
            })
            .collect();
        if to_flusher.send(applied).is_err() {
            // The flusher died (it panicked): its unanswered requests were dropped, so their
            // clients see the sink shut down and retry; later requests get the same.
            break;
        }
    }
    drop(to_flusher);
    let _ = flusher.join();
}

/// Flushes whatever the writer has applied and answers those requests: everything applied
/// before a flush starts is on disk when it returns.
fn run_flusher(store: &Store, receiver: &Receiver<Vec<Applied>>) {
    while let Ok(first) = receiver.recv() {
        let mut pending = first;
        while let Ok(more) = receiver.try_recv() {
            pending.extend(more);
        }
        let flushed = store
            .flush()
            .map_err(|e| SinkError::Store(format!("{e:#}")));
        for Applied {
            reply,
            result,
            events,
        } in pending
        {
            let answer = match (&flushed, result) {
                (Err(e), _) => Err(e.clone()),
                (Ok(()), result) => result,
            };
            let _ = reply.send(answer);
            drop(events);
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
