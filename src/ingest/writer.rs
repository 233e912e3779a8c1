//! The store-backed [`Sink`]: a writer thread applies submitted groups in arrival order, and a
//! flusher thread makes them durable and acknowledges them only after the store has flushed
//! them to disk. The two overlap: while one flush runs, the writer applies the next groups,
//! and the next flush covers every group applied meanwhile (group commit).

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender, unbounded};
use tokio::sync::oneshot;

use crate::model::Millis;
use crate::model::time::now;
use crate::query::search::IndexKeeper;
use crate::store::Store;

use super::{Sink, SinkError, SourcedEvent, SubmitOutcome};

/// Events gathered into one group (the request that reaches it still joins). A group is one
/// store batch per space: larger groups cost a little less per event, but every request in a
/// group waits for all of it; 500 events take 15-35 ms to apply on the 2-core development
/// machine (with the default audiences, more as profiles grow).
const MAX_EVENTS_PER_GROUP: usize = 500;

type Reply = oneshot::Sender<Result<SubmitOutcome, SinkError>>;

struct Request {
    space: String,
    events: Vec<SourcedEvent>,
    reply: Reply,
}

/// A group's requests for one space, in arrival order, their events moved into one list
/// (each request's events are the next part of it).
struct SpaceGroup {
    space: String,
    replies: Vec<Reply>,
    parts: Vec<usize>,
    events: Vec<SourcedEvent>,
}

/// A space's requests applied to the store in one batch (or refused by it), waiting for a
/// flush before their answers.
struct Applied {
    answers: Vec<(Reply, Result<SubmitOutcome, SinkError>)>,
    /// The requests' events, freed by the flusher: the writer thread is the bottleneck.
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
    let mut keepers = IndexKeepers::default();
    while let Ok(first) = receiver.recv() {
        let group = gather(first, receiver);
        let received = now();
        let applied: Vec<Applied> = by_space(group)
            .into_iter()
            .map(|group| apply(&store, group, received, &mut keepers))
            .collect();
        if to_flusher.send(applied).is_err() {
            // The flusher died (it panicked): its unanswered requests were dropped, so their
            // clients see the sink shut down and retry; later requests get the same.
            break;
        }
    }
    drop(to_flusher);
    let _ = flusher.join();
    note_for_index_files(&store, keepers);
}

/// What the writer changed in each space it wrote to, for the space's search index file.
type IndexKeepers = HashMap<String, IndexKeeper>;

/// Notes beside each space's search index file what the writer changed (once everything is
/// flushed), so the next `explore` or `search` catches the file up instead of building it.
fn note_for_index_files(store: &Store, keepers: IndexKeepers) {
    for (space, keeper) in keepers {
        let noted = store
            .space(&space)
            .and_then(|read| Ok(keeper.note(read.as_ref())?));
        if let Err(error) = noted {
            tracing::warn!(%space, %error, "cannot note the changes for the search index file (the next start builds it again)");
        }
    }
}

/// `first` and the requests queued behind it, up to [`MAX_EVENTS_PER_GROUP`] events.
fn gather(first: Request, receiver: &Receiver<Request>) -> Vec<Request> {
    let mut events = first.events.len();
    let mut group = vec![first];
    while events < MAX_EVENTS_PER_GROUP {
        match receiver.try_recv() {
            Ok(request) => {
                events += request.events.len();
                group.push(request);
            }
            Err(_) => break,
        }
    }
    group
}

/// A group's requests per space (spaces in order of first arrival).
fn by_space(group: Vec<Request>) -> Vec<SpaceGroup> {
    let mut spaces: Vec<SpaceGroup> = Vec::new();
    for request in group {
        let at = match spaces.iter().position(|s| s.space == request.space) {
            Some(at) => at,
            None => {
                spaces.push(SpaceGroup {
                    space: request.space,
                    replies: Vec::new(),
                    parts: Vec::new(),
                    events: Vec::new(),
                });
                spaces.len() - 1
            }
        };
        let space = &mut spaces[at];
        space.replies.push(request.reply);
        space.parts.push(request.events.len());
        space.events.extend(request.events);
    }
    spaces
}

/// Ingests a space's requests in one store call; each reply gets its own request's outcome,
/// or the store's error. `keepers` gathers what it changed.
fn apply(
    store: &Store,
    group: SpaceGroup,
    received: Millis,
    keepers: &mut IndexKeepers,
) -> Applied {
    let result = store
        .space(&group.space)
        .and_then(|space| {
            let keeper = keepers
                .entry(group.space.clone())
                .or_insert_with(|| IndexKeeper::before(space.as_ref()));
            let outcomes = space.ingest_parts(&group.events, &group.parts, received);
            keeper.mark(space.as_ref());
            outcomes
        })
        .map_err(|e| SinkError::Store(format!("{e:#}")));
    let answers = match result {
        Ok(outcomes) => group
            .replies
            .into_iter()
            .zip(outcomes.into_iter().map(Ok))
            .collect(),
        Err(error) => group
            .replies
            .into_iter()
            .map(|reply| (reply, Err(error.clone())))
            .collect(),
    };
    Applied {
        answers,
        events: group.events,
    }
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
        for Applied { answers, events } in pending {
            for (reply, result) in answers {
                let answer = match (&flushed, result) {
                    (Err(e), _) => Err(e.clone()),
                    (Ok(()), result) => result,
                };
                let _ = reply.send(answer);
            }
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

    fn sourced(json: serde_json::Value) -> SourcedEvent {
        SourcedEvent {
            event: Event::from_json(json).unwrap(),
            source: "t".into(),
            channel: "web".into(),
        }
    }

    /// An identify of `user` with messageId `message`.
    fn identify(user: &str, message: &str) -> SourcedEvent {
        sourced(serde_json::json!({"type":"identify","userId":user,"messageId":message}))
    }

    /// Queues the requests before the writer starts, so that they form one group, runs the
    /// writer until they are answered and returns the answers in request order.
    fn one_group(
        store: Arc<Store>,
        requests: Vec<(&str, Vec<SourcedEvent>)>,
    ) -> Vec<Result<SubmitOutcome, SinkError>> {
        let (sender, receiver) = unbounded();
        let answers: Vec<_> = requests
            .into_iter()
            .map(|(space, events)| {
                let (reply, answer) = oneshot::channel();
                let space = space.to_string();
                sender
                    .send(Request {
                        space,
                        events,
                        reply,
                    })
                    .unwrap();
                answer
            })
            .collect();
        drop(sender);
        run_writer(store, &receiver);
        answers
            .into_iter()
            .map(|answer| answer.blocking_recv().unwrap())
            .collect()
    }

    #[test]
    fn requests_of_one_group_are_one_batch_answered_each_as_if_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), Config::defaults()).unwrap());
        let space = store.space("default").unwrap();
        let before = space.changes_since(0).unwrap().version;
        let junk = sourced(
            serde_json::json!({"type":"page","userId":"undefined","anonymousId":"null","messageId":"junk"}),
        );
        let answers = one_group(
            store.clone(),
            vec![
                ("default", vec![identify("u1", "m1"), identify("u2", "m2")]),
                (
                    "default",
                    vec![identify("u1", "m1"), junk, identify("u1", "m3")],
                ),
            ],
        );
        let first = answers[0].clone().unwrap();
        assert_eq!((first.stored, first.duplicates), (2, 0));
        assert!(first.unresolvable.is_empty(), "{first:?}");
        let second = answers[1].clone().unwrap();
        assert_eq!((second.stored, second.duplicates), (1, 1), "{second:?}");
        let unresolvable: Vec<usize> = second.unresolvable.iter().map(|(i, _)| *i).collect();
        assert_eq!(unresolvable, [1], "indices count within the request");
        assert_eq!(
            space.changes_since(before).unwrap().version,
            before + 1,
            "both requests in one store batch"
        );
        assert_eq!(space.event_count(), 3);
    }

    #[test]
    fn merges_are_counted_for_the_request_whose_event_merged() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), Config::defaults()).unwrap());
        let join = sourced(
            serde_json::json!({"type":"identify","userId":"u1","anonymousId":"a1","messageId":"m3"}),
        );
        let visit = sourced(serde_json::json!({"type":"page","anonymousId":"a1","messageId":"m2"}));
        let answers = one_group(
            store,
            vec![
                ("default", vec![identify("u1", "m1"), visit]),
                ("default", vec![join]),
            ],
        );
        let merges: Vec<usize> = answers.iter().map(|a| a.clone().unwrap().merges).collect();
        assert_eq!(merges, [0, 1]);
    }

    #[test]
    fn spaces_of_one_group_stay_isolated_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        {
            // A space this build refuses to open: written with a newer event layout.
            let db = sled::open(dir.path()).unwrap();
            let tree = db.open_tree("space:newer").unwrap();
            tree.insert(crate::store::keys::meta("layout"), &[99u8][..])
                .unwrap();
            db.flush().unwrap();
        }
        let store = Arc::new(Store::open(dir.path(), Config::defaults()).unwrap());
        let answers = one_group(
            store.clone(),
            vec![
                ("a", vec![identify("u1", "m1")]),
                ("newer", vec![identify("u1", "m1")]),
                ("b", vec![identify("u1", "m1")]),
                ("newer", vec![identify("u2", "m2")]),
                ("a", vec![identify("u1", "m1"), identify("u2", "m2")]),
            ],
        );
        let outcome = |i: usize| {
            let outcome: SubmitOutcome = answers[i].clone().unwrap();
            (outcome.stored, outcome.duplicates)
        };
        assert_eq!(
            [outcome(0), outcome(2), outcome(4)],
            [(1, 0), (1, 0), (1, 1)]
        );
        for i in [1, 3] {
            assert!(
                matches!(&answers[i], Err(SinkError::Store(e)) if e.contains("newer idgraph")),
                "{:?}",
                answers[i]
            );
        }
        assert_eq!(store.space("a").unwrap().event_count(), 2);
        assert_eq!(store.space("b").unwrap().event_count(), 1);
    }

    /// A server's writes, many groups of them, are noted once when it stops, beside a
    /// current index file: the next start catches the file up instead of building it.
    #[test]
    fn the_writer_notes_what_it_changed_for_the_index_file_when_it_stops() {
        use crate::query::search::{SearchEngine, load_or_build};
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), Config::defaults()).unwrap());
        let space = store.space("default").unwrap();
        space.ingest(&[identify("u0", "m0")], 0).unwrap();
        let (index, cache) = load_or_build(space.as_ref(), &mut || {}).unwrap();
        cache.expect("built").save(&index).unwrap();
        let request = |from: usize| -> Vec<SourcedEvent> {
            (from..from + MAX_EVENTS_PER_GROUP)
                .map(|i| sourced(serde_json::json!({"type":"identify","userId":format!("u{i}"),"messageId":format!("m{i}"),"traits":{"name":format!("Person{i}")}})))
                .collect()
        };
        let requests = vec![("default", request(1)), ("default", request(501))];
        let answers = one_group(store.clone(), requests);
        assert!(answers.iter().all(Result::is_ok), "{answers:?}");
        assert!(
            space.changes_since(0).unwrap().version >= 3,
            "two groups, after the first ingest"
        );
        let notes = dir.path().join("idgraph-search-64656661756c74.changes");
        let lines = std::fs::read_to_string(&notes).unwrap();
        assert_eq!(lines.lines().count(), 1, "one note for the whole run");
        let (index, cache) = load_or_build(space.as_ref(), &mut || panic!("caught up")).unwrap();
        assert!(cache.is_some(), "to be saved current");
        assert_eq!(index.profile_count(), 1001);
        let hits = SearchEngine::new(Arc::new(index))
            .search("person777", 5)
            .hits;
        let u777 = space
            .owner(&crate::model::Identifier::new("user_id", "u777"))
            .unwrap();
        assert_eq!(hits.first().map(|hit| hit.profile), u777);
    }

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
