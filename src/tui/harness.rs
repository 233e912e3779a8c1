//! Drives `update` synchronously against the in-memory fixture: every effect is carried out
//! at once (store requests through the same `StoreSession` the worker thread uses, searches
//! through the same engine), so tests can walk whole flows and snapshot the screens.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::query::search::{SearchEngine, SearchUpdate};

use super::action::Action;
use super::fixture::{Fixture, NOW};
use super::keymap::{Chord, Keymap, Resolved};
use super::state::{ProfileData, Settings, State};
use super::update::{Effect, Msg, init, key_contexts, update};
use super::worker::{Reply, StoreSession};

/// The settings tests start from: nothing redacted, mouse on, no live server.
pub fn test_settings() -> Settings {
    Settings {
        redact: false,
        mouse: true,
        live: None,
    }
}

/// A state on the `default` space before the store has opened (no effects run).
pub fn fresh_state(settings: Settings) -> State {
    State::new(vec!["default".into()], "default".into(), settings, NOW)
}

pub struct Harness {
    pub state: State,
    session: StoreSession,
    /// The fixture spaces opened so far (tests make events [`Fixture::arrive`] in them).
    fixtures: HashMap<String, Arc<Fixture>>,
    engine: Option<SearchEngine>,
    pub copied: Vec<String>,
    pub effects: Vec<Effect>,
}

impl Harness {
    /// A session on the fixture's `default` space, started and settled.
    pub fn new() -> Harness {
        Harness::with(test_settings())
    }

    pub fn with(settings: Settings) -> Harness {
        let state = State::new(
            vec!["default".into(), "eu-shop".into()],
            "default".into(),
            settings,
            NOW,
        );
        let mut h = Harness {
            state,
            session: StoreSession::new(crate::config::Config::defaults().rules_for("default").ok()),
            fixtures: HashMap::new(),
            engine: None,
            copied: Vec::new(),
            effects: Vec::new(),
        };
        let effects = init(&mut h.state);
        h.run(effects);
        h
    }

    /// Sends a message and carries out every effect it leads to.
    pub fn send(&mut self, msg: impl Into<Msg>) -> &mut Harness {
        let effects = update(&mut self.state, msg.into());
        self.run(effects);
        self
    }

    pub fn act(&mut self, action: Action) -> &mut Harness {
        self.send(action)
    }

    /// Changes the open profile's loaded data in place, as if the store had sent it so
    /// (for data the fixture does not hold); returns what `edit` does.
    pub fn edit_profile_data<T>(&mut self, edit: impl FnOnce(&mut ProfileData) -> T) -> T {
        let view = self.state.profile.as_mut().expect("a profile is open");
        let data = view.data.as_mut().expect("its data is loaded");
        edit(Arc::make_mut(data))
    }

    /// Presses a key (like `c`, `enter`) as the app does: resolved through the default
    /// keymap in the contexts active now; an unbound key does nothing.
    pub fn press(&mut self, key: &str) -> &mut Harness {
        let chord = Chord::parse(key).expect("a key name");
        match Keymap::defaults().resolve(&key_contexts(&self.state), &[], chord) {
            Resolved::Action(action) => self.act(action),
            Resolved::Pending | Resolved::Unbound => self,
        }
    }

    pub fn type_text(&mut self, text: &str) -> &mut Harness {
        for c in text.chars() {
            self.send(Msg::Insert(c));
        }
        self
    }

    /// Carries out effects and everything they lead to (for a test that looks at the
    /// state between an update and its effects).
    pub fn run(&mut self, effects: Vec<Effect>) {
        let mut queue: VecDeque<Effect> = effects.into();
        while let Some(effect) = queue.pop_front() {
            self.effects.push(effect.clone());
            let mut msgs: Vec<Msg> = Vec::new();
            match effect {
                Effect::Store(request) => {
                    let mut replies = Vec::new();
                    let fixtures = &mut self.fixtures;
                    let mut opener = |space: &str| -> anyhow::Result<crate::tui::SpaceHandle> {
                        let fixture = fixtures
                            .entry(space.to_string())
                            .or_insert_with(|| Arc::new(Fixture::space(space)));
                        Ok(Box::new(Arc::clone(fixture)))
                    };
                    self.session
                        .handle(request, &mut opener, &mut |r| replies.push(r));
                    msgs.extend(self.deliver(replies));
                }
                Effect::Search {
                    generation, query, ..
                } => {
                    if self.engine.is_some() {
                        msgs.push(self.search(generation, &query));
                    }
                }
                Effect::Copy { text } => self.copied.push(text),
                Effect::Quit => {}
            }
            for msg in msgs {
                queue.extend(update(&mut self.state, msg));
            }
        }
    }

    /// The fixture behind an opened space.
    pub fn fixture(&self, space: &str) -> Arc<Fixture> {
        Arc::clone(&self.fixtures[space])
    }

    /// One poll of the store worker's change feed, with everything it leads to.
    pub fn poll(&mut self) -> &mut Harness {
        let mut replies = Vec::new();
        self.session.poll(&mut |r| replies.push(r));
        let msgs = self.deliver(replies);
        let mut effects = Vec::new();
        for msg in msgs {
            effects.extend(update(&mut self.state, msg));
        }
        self.run(effects);
        self
    }

    /// Turns store replies into messages, as the app loop does (a new index re-runs the
    /// latest query).
    fn deliver(&mut self, replies: Vec<Reply>) -> Vec<Msg> {
        let mut msgs = Vec::new();
        for reply in replies {
            if let Reply::Index { index, .. } = &reply {
                self.engine = Some(SearchEngine::new(Arc::clone(index)).with_threads(1));
                if let Some((generation, query)) = self.latest_query() {
                    msgs.push(Msg::Reply(reply));
                    msgs.push(self.search(generation, &query));
                    continue;
                }
            }
            msgs.push(Msg::Reply(reply));
        }
        msgs
    }

    fn latest_query(&self) -> Option<(u64, String)> {
        self.effects.iter().rev().find_map(|e| match e {
            Effect::Search {
                generation, query, ..
            } => Some((*generation, query.clone())),
            _ => None,
        })
    }

    fn search(&mut self, generation: u64, query: &str) -> Msg {
        let engine = self.engine.as_mut().expect("index ready");
        Msg::Search(SearchUpdate {
            generation,
            results: engine.search(query, crate::query::search::DEFAULT_LIMIT),
            elapsed: std::time::Duration::ZERO,
        })
    }
}
