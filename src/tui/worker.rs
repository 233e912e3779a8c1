//! The store worker: the only thread that touches the store. It opens the space in the
//! background, builds the search index, and answers requests over channels. Every reply
//! carries the generation of its request so the explorer can drop stale ones.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::config::Rules;
use crate::model::{Identifier, ProfileId};
use crate::query::health::{HealthReport, scan_health};
use crate::query::search::SearchIndex;
use crate::query::{GraphRepair, OpOutcome, SplitPreview};
use crate::resolve::MergePreview;

use super::state::{ProfileData, TIMELINE_LIMIT};

/// A store handle for one space.
pub type SpaceHandle = Box<dyn GraphRepair + Send>;

/// How many suspicious profiles the health view lists.
pub const HEALTH_LIMIT: usize = 200;

/// What the explorer asks of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Open a space (closing the current one) and index it.
    OpenSpace {
        space: String,
    },
    LoadProfile {
        generation: u64,
        id: ProfileId,
    },
    LoadHealth {
        generation: u64,
    },
    PreviewMerge {
        generation: u64,
        a: ProfileId,
        b: ProfileId,
    },
    Merge {
        generation: u64,
        a: ProfileId,
        b: ProfileId,
        reason: String,
        force: bool,
    },
    PreviewSplit {
        generation: u64,
        from: ProfileId,
        moving: Vec<Identifier>,
    },
    Split {
        generation: u64,
        from: ProfileId,
        moving: Vec<Identifier>,
        reason: String,
    },
    Undo {
        generation: u64,
        op: u64,
        reason: String,
    },
}

impl Request {
    fn reads_only(&self) -> bool {
        matches!(
            self,
            Request::LoadProfile { .. }
                | Request::PreviewMerge { .. }
                | Request::PreviewSplit { .. }
        )
    }
}

/// What the store answered. Errors are one-line texts.
#[derive(Debug, Clone)]
pub enum Reply {
    Opened {
        space: String,
        profiles: u64,
    },
    OpenFailed {
        space: String,
        error: String,
    },
    /// A (re)built search index for `space`.
    Index {
        space: String,
        index: Arc<SearchIndex>,
    },
    Profile {
        generation: u64,
        id: ProfileId,
        result: Result<Arc<ProfileData>, String>,
    },
    Health {
        generation: u64,
        result: Result<HealthReport, String>,
    },
    MergePreview {
        generation: u64,
        result: Result<MergePreview, String>,
    },
    SplitPreview {
        generation: u64,
        result: Result<SplitPreview, String>,
    },
    /// A merge, split or undo finished.
    Done {
        generation: u64,
        result: Result<OpOutcome, String>,
    },
}

fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}").replace('\n', " ")
}

/// The worker's state: the open space and its index.
pub struct StoreSession {
    space: Option<String>,
    store: Option<SpaceHandle>,
    index: Option<Arc<SearchIndex>>,
    rules: Option<Rules>,
}

impl StoreSession {
    /// No space open yet; `rules` (when known) let health flag junk values held.
    pub fn new(rules: Option<Rules>) -> StoreSession {
        StoreSession {
            space: None,
            store: None,
            index: None,
            rules,
        }
    }

    /// Answers one request (health scans go through [`StoreSession::health`]).
    pub fn handle(
        &mut self,
        request: Request,
        opener: &mut dyn FnMut(&str) -> anyhow::Result<SpaceHandle>,
        emit: &mut dyn FnMut(Reply),
    ) {
        match request {
            Request::OpenSpace { space } => {
                self.store = None;
                self.index = None;
                self.space = Some(space.clone());
                match opener(&space) {
                    Ok(store) => {
                        let profiles = store.profile_count().unwrap_or(0);
                        emit(Reply::Opened {
                            space: space.clone(),
                            profiles,
                        });
                        match SearchIndex::build(store.as_ref()) {
                            Ok(index) => {
                                let index = Arc::new(index);
                                self.index = Some(Arc::clone(&index));
                                emit(Reply::Index { space, index });
                            }
                            Err(e) => emit(Reply::OpenFailed {
                                space,
                                error: format!("cannot index the space: {}", one_line(&e)),
                            }),
                        }
                        self.store = Some(store);
                    }
                    Err(e) => emit(Reply::OpenFailed {
                        space,
                        error: one_line(&e),
                    }),
                }
            }
            Request::LoadHealth { generation } => {
                if let Some(reply) = self.health(generation, &mut || Interleave::Continue) {
                    emit(reply);
                }
            }
            request => {
                let Some(store) = self.store.as_deref() else {
                    emit(not_open(request));
                    return;
                };
                let changed = matches!(
                    request,
                    Request::Merge { .. } | Request::Split { .. } | Request::Undo { .. }
                );
                let reply = answer(store, request);
                let index = match &reply {
                    Reply::Done {
                        result: Ok(outcome),
                        ..
                    } if changed => self.patch_index(store, outcome),
                    _ => None,
                };
                emit(reply);
                if let Some(index) = index {
                    if let Reply::Index { index: i, .. } = &index {
                        self.index = Some(Arc::clone(i));
                    }
                    emit(index);
                }
            }
        }
    }

    /// Scans the space's health; `interleave` is called between steps and may stop it
    /// (`None` is returned then).
    pub fn health(
        &self,
        generation: u64,
        interleave: &mut dyn FnMut() -> Interleave,
    ) -> Option<Reply> {
        let Some(store) = self.store.as_deref() else {
            return Some(not_open(Request::LoadHealth { generation }));
        };
        let mut stop = || interleave() == Interleave::Stop;
        match scan_health(store, self.rules.as_ref(), HEALTH_LIMIT, &mut stop) {
            Ok(Some(report)) => Some(Reply::Health {
                generation,
                result: Ok(report),
            }),
            Ok(None) => None,
            Err(e) => Some(Reply::Health {
                generation,
                result: Err(one_line(&e)),
            }),
        }
    }

    /// Re-indexes the profiles an operation touched.
    fn patch_index(&self, store: &dyn GraphRepair, outcome: &OpOutcome) -> Option<Reply> {
        let index = self.index.as_ref()?;
        let mut changed = Vec::new();
        let mut removed = Vec::new();
        for id in &outcome.entry.profiles {
            match store.profile(*id) {
                Ok(Some(p)) => changed.push(p),
                Ok(None) => removed.push(*id),
                Err(_) => return None,
            }
        }
        Some(Reply::Index {
            space: self.space.clone()?,
            index: Arc::new(index.patched(&changed, &removed)),
        })
    }

    /// Answers a read request directly (used while a long scan is running).
    fn answer_read(&self, request: Request) -> Reply {
        match self.store.as_deref() {
            Some(store) => answer(store, request),
            None => not_open(request),
        }
    }
}

fn not_open(request: Request) -> Reply {
    let error = "the store is not open".to_string();
    match request {
        Request::LoadProfile { generation, id } => Reply::Profile {
            generation,
            id,
            result: Err(error),
        },
        Request::LoadHealth { generation } => Reply::Health {
            generation,
            result: Err(error),
        },
        Request::PreviewMerge { generation, .. } => Reply::MergePreview {
            generation,
            result: Err(error),
        },
        Request::PreviewSplit { generation, .. } => Reply::SplitPreview {
            generation,
            result: Err(error),
        },
        Request::Merge { generation, .. }
        | Request::Split { generation, .. }
        | Request::Undo { generation, .. } => Reply::Done {
            generation,
            result: Err(error),
        },
        Request::OpenSpace { space } => Reply::OpenFailed { space, error },
    }
}

/// Loads everything the profile tabs show.
pub fn load_profile(store: &dyn GraphRepair, id: ProfileId) -> anyhow::Result<ProfileData> {
    let profile = store
        .profile(id)?
        .ok_or_else(|| anyhow::anyhow!("profile {id} no longer exists (merged or split away?)"))?;
    Ok(ProfileData::new(
        profile,
        store.timeline(id, TIMELINE_LIMIT)?,
        store.links(id)?,
        store.violations(id)?,
        store.journal_for(id)?,
    ))
}

fn answer(store: &dyn GraphRepair, request: Request) -> Reply {
    let err = |e: anyhow::Error| one_line(&e);
    match request {
        Request::LoadProfile { generation, id } => Reply::Profile {
            generation,
            id,
            result: load_profile(store, id).map(Arc::new).map_err(err),
        },
        Request::PreviewMerge { generation, a, b } => Reply::MergePreview {
            generation,
            result: store.preview_merge(a, b).map_err(err),
        },
        Request::Merge {
            generation,
            a,
            b,
            reason,
            force,
        } => Reply::Done {
            generation,
            result: store.merge(a, b, &reason, force).map_err(err),
        },
        Request::PreviewSplit {
            generation,
            from,
            moving,
        } => Reply::SplitPreview {
            generation,
            result: store.preview_split(from, &moving).map_err(err),
        },
        Request::Split {
            generation,
            from,
            moving,
            reason,
        } => Reply::Done {
            generation,
            result: store.split(from, &moving, &reason).map_err(err),
        },
        Request::Undo {
            generation,
            op,
            reason,
        } => Reply::Done {
            generation,
            result: store.undo(op, &reason).map_err(err),
        },
        Request::LoadHealth { generation } => Reply::Health {
            generation,
            result: Err("health scans run through StoreSession::handle".into()),
        },
        Request::OpenSpace { space } => Reply::OpenFailed {
            space,
            error: "spaces open through StoreSession::handle".into(),
        },
    }
}

/// What a long scan should do after checking for new requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interleave {
    Continue,
    Stop,
}

/// Handle to the store thread; dropping it stops the thread once its current request ends.
pub struct StoreWorker {
    requests: Option<Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl StoreWorker {
    /// Starts the worker. `opener` is called on the worker thread with a space name, first
    /// for the initial space (so the first frame never waits for the store), then on every
    /// space switch. Replies go to `replies`.
    pub fn spawn<O>(opener: O, rules: Option<Rules>, replies: Sender<Reply>) -> StoreWorker
    where
        O: FnMut(&str) -> anyhow::Result<SpaceHandle> + Send + 'static,
    {
        let (tx, rx) = crossbeam_channel::unbounded();
        let thread = std::thread::Builder::new()
            .name("idgraph-store".into())
            .spawn(move || run(opener, rules, &rx, &replies))
            .expect("cannot start the store thread");
        StoreWorker {
            requests: Some(tx),
            thread: Some(thread),
        }
    }

    /// Queues a request.
    pub fn send(&self, request: Request) {
        if let Some(tx) = &self.requests {
            let _ = tx.send(request);
        }
    }
}

impl Drop for StoreWorker {
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The worker loop. While a health scan runs, read requests that arrive are answered
/// between its steps; a space switch or a newer scan stops it; writes wait for it to end.
fn run<O>(
    mut opener: O,
    rules: Option<Rules>,
    requests: &Receiver<Request>,
    replies: &Sender<Reply>,
) where
    O: FnMut(&str) -> anyhow::Result<SpaceHandle>,
{
    let mut session = StoreSession::new(rules);
    let mut deferred: VecDeque<Request> = VecDeque::new();
    loop {
        let request = match deferred.pop_front() {
            Some(r) => r,
            None => match requests.recv() {
                Ok(r) => r,
                Err(_) => return,
            },
        };
        if let Request::LoadHealth { generation } = request {
            let session = &session;
            let mut interleave = || {
                let mut stop = Interleave::Continue;
                for r in requests.try_iter() {
                    match r {
                        Request::OpenSpace { .. } | Request::LoadHealth { .. } => {
                            stop = Interleave::Stop;
                            deferred.push_back(r);
                        }
                        r if r.reads_only() => {
                            let _ = replies.send(session.answer_read(r));
                        }
                        r => deferred.push_back(r),
                    }
                }
                stop
            };
            if let Some(reply) = session.health(generation, &mut interleave) {
                let _ = replies.send(reply);
            }
        } else {
            session.handle(request, &mut opener, &mut |reply| {
                let _ = replies.send(reply);
            });
        }
    }
}
