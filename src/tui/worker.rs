//! The store worker: the only thread that touches the store. It opens the space in the
//! background, builds the search index, and answers requests over channels. Every reply
//! carries the generation of its request so the explorer can drop stale ones.
//!
//! Audience reads (the Audiences screen, a profile's audiences) are evaluated at the `now`
//! each request carries: the explorer's clock.
//!
//! Between requests it polls the space's change feed (every [`POLL_INTERVAL`], and right
//! after each merge, split or undo): the profiles that changed are re-indexed and the
//! explorer is told which, so events arriving over HTTP show up while it runs.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::config::Rules;
use crate::model::{Identifier, Millis, ProfileId};
use crate::query::health::{HealthReport, ScanProgress, scan_health};
use crate::query::search::{IndexCache, Patched, SearchIndex, load_or_build};
use crate::query::{AudienceSummary, Changes, OpOutcome, SpaceAccess, SplitPreview};
use crate::resolve::MergePreview;

use super::audiences::{MemberList, member_list};
use super::state::{ProfileData, TIMELINE_LIMIT};

/// A store handle for one space: its graph, repairs and audiences.
pub type SpaceHandle = Box<dyn SpaceAccess + Send>;

/// How often a long health scan reports its progress.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(200);

/// How many suspicious profiles the health view lists.
pub const HEALTH_LIMIT: usize = 200;

/// How often the worker asks the store what changed (a slow poll, one that re-indexed a
/// large space, waits twice its own time instead).
pub const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// What the explorer asks of the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// Open a space (closing the current one) and index it.
    OpenSpace {
        space: String,
    },
    /// Load a profile with everything its tabs show (its audiences as of `now`).
    LoadProfile {
        generation: u64,
        id: ProfileId,
        now: Millis,
    },
    /// Load a profile; if it no longer exists (merged away), load the one now holding `via`.
    FollowProfile {
        generation: u64,
        id: ProfileId,
        via: Identifier,
        now: Millis,
    },
    LoadHealth {
        generation: u64,
    },
    /// Every audience with its member count as of `now`.
    LoadAudiences {
        generation: u64,
        now: Millis,
    },
    /// The members of one audience as of `now`.
    LoadMembers {
        generation: u64,
        audience: String,
        now: Millis,
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
                | Request::FollowProfile { .. }
                | Request::LoadAudiences { .. }
                | Request::LoadMembers { .. }
                | Request::PreviewMerge { .. }
                | Request::PreviewSplit { .. }
        )
    }

    fn writes(&self) -> bool {
        matches!(
            self,
            Request::Merge { .. } | Request::Split { .. } | Request::Undo { .. }
        )
    }
}

/// What the change feed reported since the previous poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveUpdate {
    /// Events stored in the space since the explorer opened it.
    pub new_events: u64,
    /// Profiles created or changed.
    pub changed: Vec<ProfileId>,
    /// Profiles that no longer exist (merged away).
    pub removed: Vec<ProfileId>,
    /// The feed could not list them (too much changed): any profile may have.
    pub everything: bool,
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
    /// A loaded profile; `id` is the one asked for (a followed profile's data may hold
    /// another).
    Profile {
        generation: u64,
        id: ProfileId,
        result: Result<Arc<ProfileData>, String>,
    },
    /// The space changed (its new index, if any, was sent just before).
    Live {
        space: String,
        update: LiveUpdate,
    },
    Health {
        generation: u64,
        result: Result<HealthReport, String>,
    },
    /// How far the health scan `generation` is.
    HealthProgress {
        generation: u64,
        progress: ScanProgress,
    },
    /// Every audience with its member count.
    Audiences {
        generation: u64,
        result: Result<Vec<AudienceSummary>, String>,
    },
    /// One audience's members.
    Members {
        generation: u64,
        result: Result<MemberList, String>,
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

/// Where the worker stands in the open space's change feed.
#[derive(Debug, Clone, Copy)]
struct Feed {
    version: u64,
    /// Events the space held when it was opened.
    events_at_open: u64,
}

/// The worker's state: the open space, its index and its place in the change feed.
pub struct StoreSession {
    space: Option<String>,
    store: Option<SpaceHandle>,
    index: Option<Arc<SearchIndex>>,
    rules: Option<Rules>,
    feed: Option<Feed>,
    /// The index holds changes its file lacks (see [`StoreSession::keep_index`]).
    unsaved: bool,
    /// Index files being saved in the background.
    saving: Vec<JoinHandle<()>>,
}

impl StoreSession {
    /// No space open yet; `rules` (when known) let health flag junk values held.
    pub fn new(rules: Option<Rules>) -> StoreSession {
        StoreSession {
            space: None,
            store: None,
            index: None,
            rules,
            feed: None,
            unsaved: false,
            saving: Vec::new(),
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
                if let Some(index) = self.keep_index() {
                    // The space left behind is saved aside: the next one opens meanwhile.
                    self.save_in_background(index);
                }
                self.store = None;
                self.index = None;
                self.feed = None;
                self.space = Some(space.clone());
                match opener(&space) {
                    Ok(store) => {
                        let profiles = store.profile_count().unwrap_or(0);
                        emit(Reply::Opened {
                            space: space.clone(),
                            profiles,
                        });
                        // The feed's place is taken before indexing: what changes meanwhile
                        // is indexed again by the first poll.
                        self.feed = store.changes_since(u64::MAX).ok().map(|c| Feed {
                            version: c.version,
                            events_at_open: c.events,
                        });
                        let indexing = Instant::now();
                        let mut built = false;
                        match load_or_build(store.as_ref(), &mut || built = true) {
                            Ok((index, keep)) => {
                                tracing::info!(
                                    profiles = index.profile_count(),
                                    texts = index.entry_count(),
                                    mb = index.heap_bytes() >> 20,
                                    ms = indexing.elapsed().as_millis() as u64,
                                    built,
                                    caught_up = keep.is_some() && !built,
                                    "search index ready"
                                );
                                let index = Arc::new(index);
                                self.index = Some(Arc::clone(&index));
                                emit(Reply::Index {
                                    space,
                                    index: Arc::clone(&index),
                                });
                                if let Some(cache) = keep {
                                    // Off this thread: the file of a large space takes a
                                    // moment to write, and requests should not wait for it.
                                    self.save_in_background((cache, index));
                                }
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
                if let Some(reply) = self.health(generation, &mut |_| Interleave::Continue) {
                    emit(reply);
                }
            }
            request => {
                let Some(store) = self.store.as_deref() else {
                    emit(not_open(request));
                    return;
                };
                let writes = request.writes();
                emit(answer(store, request));
                if writes {
                    // The repair is in the feed now: index it at once.
                    self.poll(emit);
                }
            }
        }
    }

    /// Asks the store what changed since the last poll; re-indexes the changed profiles
    /// (everything when the feed cannot list them) and reports them. Quiet when nothing
    /// changed, no space is open or the store cannot answer (the next poll tries again).
    pub fn poll(&mut self, emit: &mut dyn FnMut(Reply)) {
        let (Some(store), Some(feed)) = (self.store.as_deref(), self.feed.as_ref()) else {
            return;
        };
        if let Ok(changes) = store.changes_since(feed.version) {
            self.take_changes(changes, emit);
        }
    }

    /// Re-indexes what `changes` (from the feed's place on) list and reports them; `false`
    /// when the store could not answer (the index is left as it was).
    fn take_changes(&mut self, changes: Changes, emit: &mut dyn FnMut(Reply)) -> bool {
        let (Some(store), Some(index), Some(feed), Some(space)) = (
            self.store.as_deref(),
            self.index.as_ref(),
            self.feed.as_mut(),
            self.space.as_ref(),
        ) else {
            return false;
        };
        if changes.version == feed.version {
            return true;
        }
        let (index, changed, removed, everything) =
            match index.patched_from(store, changes.profiles) {
                Ok(Some(Patched {
                    index,
                    changed,
                    removed,
                })) => (index, changed, removed, false),
                Ok(None) => match SearchIndex::build(store) {
                    Ok(index) => (index, Vec::new(), Vec::new(), true),
                    Err(_) => return false,
                },
                Err(_) => return false,
            };
        feed.version = changes.version;
        let update = LiveUpdate {
            new_events: changes.events.saturating_sub(feed.events_at_open),
            changed,
            removed,
            everything,
        };
        let index = Arc::new(index);
        self.index = Some(Arc::clone(&index));
        self.unsaved = true;
        let space = space.clone();
        emit(Reply::Index {
            space: space.clone(),
            index,
        });
        emit(Reply::Live { space, update });
        true
    }

    /// The open space's index brought up to date, with the cache to save it in, when live
    /// changes or repairs patched it since it was read or saved (or are still to patch it,
    /// when the last poll came before them): saved, the next start reads it instead of
    /// indexing the space again. The changes are read at the same moment as the stamp the
    /// cache names, so the file never claims a state it lacks.
    pub fn keep_index(&mut self) -> Option<(IndexCache, Arc<SearchIndex>)> {
        let version = self.feed.as_ref()?.version;
        let (cache, changes) = self.store.as_deref()?.index_cache_after(version)?;
        if !self.take_changes(changes, &mut |_| {}) || !self.unsaved {
            return None;
        }
        let index = Arc::clone(self.index.as_ref()?);
        self.unsaved = false;
        Some((cache, index))
    }

    /// [`save_index`] on a thread of its own.
    fn save_in_background(&mut self, kept: (IndexCache, Arc<SearchIndex>)) {
        self.saving.retain(|save| !save.is_finished());
        let save = std::thread::Builder::new()
            .name("idgraph-keep-index".into())
            .spawn(move || save_index(kept));
        self.saving.extend(save.ok());
    }

    /// Before the explorer's process ends: waits for the saves under way, then saves the
    /// open space's index if live changes patched it (last, so that its newer state is what
    /// the file holds).
    pub fn finish(&mut self) {
        for save in self.saving.drain(..) {
            let _ = save.join();
        }
        if let Some(kept) = self.keep_index() {
            save_index(kept);
        }
    }

    /// Scans the space's health; `interleave` is told the progress between steps and may
    /// stop it (`None` is returned then).
    pub fn health(
        &self,
        generation: u64,
        interleave: &mut dyn FnMut(ScanProgress) -> Interleave,
    ) -> Option<Reply> {
        let Some(store) = self.store.as_deref() else {
            return Some(not_open(Request::LoadHealth { generation }));
        };
        let mut stop = |progress| interleave(progress) == Interleave::Stop;
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
        Request::LoadProfile { generation, id, .. }
        | Request::FollowProfile { generation, id, .. } => Reply::Profile {
            generation,
            id,
            result: Err(error),
        },
        Request::LoadHealth { generation } => Reply::Health {
            generation,
            result: Err(error),
        },
        Request::LoadAudiences { generation, .. } => Reply::Audiences {
            generation,
            result: Err(error),
        },
        Request::LoadMembers { generation, .. } => Reply::Members {
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

/// Loads everything the profile tabs show; its audiences as of `now` (a failure to read
/// them is shown in their place, not as a failed load).
pub fn load_profile(
    store: &dyn SpaceAccess,
    id: ProfileId,
    now: Millis,
) -> anyhow::Result<ProfileData> {
    let started = Instant::now();
    let profile = store
        .profile(id)?
        .ok_or_else(|| anyhow::anyhow!("profile {id} no longer exists (merged or split away?)"))?;
    let (timeline, links) = store.timeline_and_links(id, TIMELINE_LIMIT)?;
    let violations = store.violations(id)?;
    // One owner lookup per identifier, however many of its violations there are.
    let refused: BTreeSet<&Identifier> = violations.iter().map(|v| &v.identifier).collect();
    let mut holders = BTreeMap::new();
    for identifier in refused {
        if let Some(holder) = store.owner(identifier)?
            && holder != id
        {
            holders.insert(identifier.clone(), holder);
        }
    }
    let data = ProfileData::new(
        profile,
        timeline,
        links,
        violations,
        holders,
        store.journal_for(id)?,
        store.audiences_of(id, now).map_err(|e| one_line(&e)),
    );
    tracing::info!(
        profile = id.0,
        events = data.events.len(),
        ms = started.elapsed().as_millis() as u64,
        "profile loaded"
    );
    Ok(data)
}

/// Loads a profile, or the one now holding `via` when it no longer exists.
pub fn follow_profile(
    store: &dyn SpaceAccess,
    id: ProfileId,
    via: &Identifier,
    now: Millis,
) -> anyhow::Result<ProfileData> {
    if store.profile(id)?.is_some() {
        return load_profile(store, id, now);
    }
    match store.owner(via)? {
        Some(owner) => load_profile(store, owner, now),
        None => anyhow::bail!("profile {id} no longer exists and no profile holds {via}"),
    }
}

fn answer(store: &dyn SpaceAccess, request: Request) -> Reply {
    let err = |e: anyhow::Error| one_line(&e);
    match request {
        Request::LoadProfile {
            generation,
            id,
            now,
        } => Reply::Profile {
            generation,
            id,
            result: load_profile(store, id, now).map(Arc::new).map_err(err),
        },
        Request::FollowProfile {
            generation,
            id,
            via,
            now,
        } => Reply::Profile {
            generation,
            id,
            result: follow_profile(store, id, &via, now)
                .map(Arc::new)
                .map_err(err),
        },
        Request::LoadAudiences { generation, now } => Reply::Audiences {
            generation,
            result: store.audience_summaries(now).map_err(err),
        },
        Request::LoadMembers {
            generation,
            audience,
            now,
        } => Reply::Members {
            generation,
            result: member_list(store, &audience, now).map_err(err),
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

/// Saves a space's search index in its file, logging a failure (the next start indexes
/// the space again).
fn save_index((cache, index): (IndexCache, Arc<SearchIndex>)) {
    let started = Instant::now();
    match cache.save(&index) {
        Ok(()) => tracing::info!(
            path = %cache.path().display(),
            ms = started.elapsed().as_millis() as u64,
            "search index kept"
        ),
        Err(error) => tracing::warn!(
            path = %cache.path().display(),
            %error,
            "cannot keep the search index"
        ),
    }
}

/// Handle to the store thread; dropping it stops the thread once its current request ends
/// (and the open space's index is saved, when live changes patched it).
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
/// When no request comes for a poll interval, it polls the change feed.
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
    let mut next_poll = Instant::now() + POLL_INTERVAL;
    let mut send = |reply| {
        let _ = replies.send(reply);
    };
    loop {
        let request = match deferred.pop_front() {
            Some(r) => Some(r),
            None => match requests.recv_deadline(next_poll) {
                Ok(r) => Some(r),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    session.finish();
                    return;
                }
            },
        };
        match request {
            Some(Request::LoadHealth { generation }) => {
                let session = &session;
                let mut next_progress = Instant::now() + PROGRESS_INTERVAL;
                let mut interleave = |progress| {
                    if Instant::now() >= next_progress {
                        next_progress = Instant::now() + PROGRESS_INTERVAL;
                        let _ = replies.send(Reply::HealthProgress {
                            generation,
                            progress,
                        });
                    }
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
                    send(reply);
                }
            }
            Some(request) => session.handle(request, &mut opener, &mut send),
            None => {}
        }
        if Instant::now() >= next_poll {
            let started = Instant::now();
            session.poll(&mut send);
            next_poll = Instant::now() + POLL_INTERVAL.max(started.elapsed() * 2);
        }
    }
}
