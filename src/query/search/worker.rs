//! The search worker: one thread owning the engine. Every query carries a generation
//! number; a newer query cancels the scan of an older one, partial snapshots of long scans
//! are sent as they come, and the caller drops replies whose generation is stale.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::engine::{SearchEngine, SearchResults};
use super::index::SearchIndex;

/// Results (partial or complete) of the query with generation `generation`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchUpdate {
    pub generation: u64,
    pub results: SearchResults,
    /// Time from receiving the query to these results.
    pub elapsed: Duration,
}

enum Command {
    Index(Arc<SearchIndex>),
    Query {
        generation: u64,
        text: String,
        limit: usize,
    },
}

/// Handle to the search thread; dropping it stops the thread.
#[derive(Debug)]
pub struct SearchWorker {
    commands: Option<Sender<Command>>,
    latest: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl SearchWorker {
    /// Starts the worker; results go to `updates`.
    pub fn spawn(updates: Sender<SearchUpdate>) -> SearchWorker {
        let (tx, rx) = crossbeam_channel::unbounded();
        let latest = Arc::new(AtomicU64::new(0));
        let shared = Arc::clone(&latest);
        let thread = std::thread::Builder::new()
            .name("idgraph-search".into())
            .spawn(move || run(&rx, &updates, &shared))
            .expect("cannot start the search thread");
        SearchWorker {
            commands: Some(tx),
            latest,
            thread: Some(thread),
        }
    }

    /// Replaces the index; the latest query (if any) is answered again on it.
    pub fn set_index(&self, index: Arc<SearchIndex>) {
        self.send(Command::Index(index));
    }

    /// Asks for the best `limit` profiles for `text`; cancels any older query.
    pub fn query(&self, generation: u64, text: &str, limit: usize) {
        self.latest.store(generation, Ordering::SeqCst);
        self.send(Command::Query {
            generation,
            text: text.to_string(),
            limit,
        });
    }

    fn send(&self, command: Command) {
        if let Some(tx) = &self.commands {
            // The thread only ends when this handle drops; a send error cannot happen before.
            let _ = tx.send(command);
        }
    }
}

impl Drop for SearchWorker {
    fn drop(&mut self) {
        self.latest.store(u64::MAX, Ordering::SeqCst);
        self.commands.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(commands: &Receiver<Command>, updates: &Sender<SearchUpdate>, latest: &AtomicU64) {
    let mut engine: Option<SearchEngine> = None;
    let mut last: Option<(u64, String, usize)> = None;
    while let Ok(first) = commands.recv() {
        let mut rerun = false;
        for command in std::iter::once(first).chain(commands.try_iter()) {
            match command {
                Command::Index(index) => {
                    engine = Some(SearchEngine::new(index));
                    rerun = true;
                }
                Command::Query {
                    generation,
                    text,
                    limit,
                } => {
                    last = Some((generation, text, limit));
                    rerun = true;
                }
            }
        }
        let (Some(engine), Some((generation, text, limit)), true) = (engine.as_mut(), &last, rerun)
        else {
            continue;
        };
        let generation = *generation;
        if latest.load(Ordering::SeqCst) != generation {
            continue;
        }
        let started = Instant::now();
        let cancelled = || latest.load(Ordering::SeqCst) != generation;
        let mut snapshot = |results: SearchResults| {
            let _ = updates.send(SearchUpdate {
                generation,
                results,
                elapsed: started.elapsed(),
            });
        };
        if let Some(results) = engine.search_with(text, *limit, &cancelled, &mut snapshot) {
            let update = SearchUpdate {
                generation,
                results,
                elapsed: started.elapsed(),
            };
            if updates.send(update).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Identifier, Profile, ProfileId};

    #[test]
    fn answers_the_latest_query_once_an_index_arrives() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let worker = SearchWorker::spawn(tx);
        worker.query(1, "ana", 10);
        worker.query(2, "bo", 10);
        let mut a = Profile::new(ProfileId(1), 0);
        a.add_identifier(&Identifier::new("email", "ana@x.io"), 0, "web");
        let mut b = Profile::new(ProfileId(2), 0);
        b.add_identifier(&Identifier::new("email", "bo@x.io"), 0, "web");
        worker.set_index(Arc::new(SearchIndex::from_profiles("s", [&a, &b])));
        let update = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(update.generation, 2);
        assert_eq!(update.results.hits[0].profile, ProfileId(2));
        worker.query(3, "ana", 10);
        let update = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(update.generation, 3);
        assert_eq!(update.results.hits[0].profile, ProfileId(1));
        drop(worker);
    }
}
