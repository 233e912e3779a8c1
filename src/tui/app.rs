//! The explorer loop, generic over the ratatui backend: it reads input, runs `update`,
//! carries out effects by messaging the store and search workers, and redraws only when
//! something changed. It never waits on the store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};
use ratatui::Terminal;
use ratatui::backend::Backend;
use ratatui::crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::config::Rules;
use crate::model::Millis;
use crate::query::search::{IndexBuilder, SearchUpdate, SearchWorker};

use super::keymap::{Chord, KeyContext, KeyReader, Keymap, Resolved};
use super::state::{Settings, State};
use super::theme::Theme;
use super::update::{Effect, Msg, init, key_contexts, update};
use super::views::{Ctx, HitMap, render};
use super::worker::{Reply, Request, SpaceHandle, StoreWorker};

/// Input from the terminal (or a test).
#[derive(Debug, Clone)]
pub enum Input {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Paste(String),
    Resize,
    /// SIGTERM/SIGHUP: leave cleanly.
    Terminate,
}

/// Where the explorer's "now" comes from: relative times and audience windows use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// The wall clock, read before every message.
    Wall,
    /// A fixed instant (tests, replays).
    Fixed(Millis),
}

impl Clock {
    /// The current instant of this clock.
    pub fn now(self) -> Millis {
        match self {
            Clock::Wall => crate::model::time::now(),
            Clock::Fixed(at) => at,
        }
    }
}

/// A running explorer: state, keys, looks and the two workers.
pub struct App {
    pub state: State,
    clock: Clock,
    keymap: Keymap,
    theme: Theme,
    reader: KeyReader,
    hits: HitMap,
    store: StoreWorker,
    store_replies: Receiver<Reply>,
    search: SearchWorker,
    search_updates: Receiver<SearchUpdate>,
    dirty: bool,
    /// When the session started, and whether a frame has been drawn since (for the log).
    started: Instant,
    drawn: bool,
}

/// What the app needs to start.
pub struct AppSetup {
    pub spaces: Vec<String>,
    pub space: String,
    pub settings: Settings,
    pub keymap: Keymap,
    pub theme: Theme,
    pub rules: Option<Rules>,
    pub clock: Clock,
}

impl App {
    /// Starts the workers (the store opens in the background) and the session.
    pub fn start<O>(setup: AppSetup, opener: O) -> App
    where
        O: FnMut(&str) -> anyhow::Result<SpaceHandle> + Send + 'static,
    {
        let (store_tx, store_replies) = crossbeam_channel::unbounded();
        let (search_tx, search_updates) = crossbeam_channel::unbounded();
        let mut app = App {
            state: State::new(setup.spaces, setup.space, setup.settings, setup.clock.now()),
            clock: setup.clock,
            keymap: setup.keymap,
            theme: setup.theme,
            reader: KeyReader::default(),
            hits: HitMap::default(),
            store: StoreWorker::spawn(opener, setup.rules, store_tx),
            store_replies,
            search: SearchWorker::spawn(search_tx),
            search_updates,
            dirty: true,
            started: Instant::now(),
            drawn: false,
        };
        let effects = init(&mut app.state);
        app.apply(effects, &mut |_| {});
        app
    }

    /// Runs until the user quits or `inputs` closes. `copy` puts text on the clipboard.
    pub fn run<B: Backend>(
        &mut self,
        terminal: &mut Terminal<B>,
        inputs: &Receiver<Input>,
        copy: &mut dyn FnMut(&str),
    ) -> anyhow::Result<()>
    where
        B::Error: Send + Sync + 'static,
    {
        while !self.state.quit {
            self.draw(terminal)?;
            let timeout = if self.state.busy() {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(3600)
            };
            select! {
                recv(inputs) -> input => match input {
                    Ok(input) => {
                        self.input(input, copy);
                        // Take the whole burst before drawing again.
                        while let Ok(more) = inputs.try_recv() {
                            self.input(more, copy);
                        }
                    }
                    Err(_) => break,
                },
                recv(self.store_replies) -> reply => {
                    if let Ok(reply) = reply {
                        self.reply(reply, copy);
                    }
                }
                recv(self.search_updates) -> found => {
                    if let Ok(found) = found {
                        self.message(Msg::Search(found), copy);
                    }
                }
                default(timeout) => self.message(Msg::Tick, copy),
            }
        }
        Ok(())
    }

    /// Draws a frame if anything changed since the last one.
    pub fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> anyhow::Result<()>
    where
        B::Error: Send + Sync + 'static,
    {
        if !self.dirty {
            return Ok(());
        }
        let ctx = Ctx {
            theme: &self.theme,
            keymap: &self.keymap,
        };
        let state = &self.state;
        let hits = &mut self.hits;
        terminal.draw(|frame| render(frame, state, &ctx, hits))?;
        if !self.drawn {
            self.drawn = true;
            tracing::info!(
                after_ms = self.started.elapsed().as_millis() as u64,
                "first frame drawn"
            );
        }
        self.state.half_page = (self.hits.viewport / 2).max(1);
        self.dirty = false;
        Ok(())
    }

    fn reply(&mut self, reply: Reply, copy: &mut dyn FnMut(&str)) {
        if let Reply::Index { space, index } = &reply
            && *space == self.state.space
        {
            self.search.set_index(Arc::clone(index));
        }
        self.message(Msg::Reply(reply), copy);
    }

    fn message(&mut self, msg: Msg, copy: &mut dyn FnMut(&str)) {
        let before_tick = self.state.tick;
        let is_tick = matches!(msg, Msg::Tick);
        self.state.now = self.clock.now();
        let effects = update(&mut self.state, msg);
        if !is_tick || self.state.tick != before_tick {
            self.dirty = true;
        }
        self.apply(effects, copy);
    }

    fn apply(&mut self, effects: Vec<Effect>, copy: &mut dyn FnMut(&str)) {
        for effect in effects {
            match effect {
                Effect::Store(request) => {
                    if let Request::OpenSpace { space } = &request {
                        // Until the new space is indexed, nothing from the old one may show.
                        self.search
                            .set_index(Arc::new(IndexBuilder::new(space).finish()));
                    }
                    self.store.send(request);
                }
                Effect::Search {
                    generation,
                    query,
                    limit,
                } => self.search.query(generation, &query, limit),
                Effect::Copy { text } => copy(&text),
                Effect::Quit => self.state.quit = true,
            }
        }
    }

    /// Handles one input event.
    pub fn input(&mut self, input: Input, copy: &mut dyn FnMut(&str)) {
        match input {
            Input::Key(key) if key.kind != KeyEventKind::Release => {
                if let Some(msg) = self.key(key) {
                    self.message(msg, copy);
                }
            }
            Input::Key(_) => {}
            Input::Mouse(mouse) => {
                if !self.state.settings.mouse {
                    return;
                }
                let msg = match mouse.kind {
                    MouseEventKind::ScrollUp => Some(Msg::Scroll(-1)),
                    MouseEventKind::ScrollDown => Some(Msg::Scroll(1)),
                    MouseEventKind::Down(MouseButton::Left) => {
                        self.hits.at(mouse.column, mouse.row).map(Msg::Click)
                    }
                    _ => None,
                };
                if let Some(msg) = msg {
                    self.message(msg, copy);
                }
            }
            Input::Paste(text) => self.message(Msg::Paste(text), copy),
            Input::Resize => self.dirty = true,
            Input::Terminate => {
                self.state.quit = true;
            }
        }
    }

    /// Turns a key into a message: text for focused fields, else a keymap action.
    fn key(&mut self, key: KeyEvent) -> Option<Msg> {
        let contexts = key_contexts(&self.state);
        let typing = matches!(contexts.first(), Some(KeyContext::Input | KeyContext::Form));
        let chord = Chord::from_event(&key);
        match self.reader.feed(&self.keymap, &contexts, chord) {
            Resolved::Action(action) => Some(Msg::Action(action)),
            Resolved::Pending => None,
            Resolved::Unbound if typing => {
                let plain = !key
                    .modifiers
                    .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
                match key.code {
                    KeyCode::Char(c) if plain => Some(Msg::Insert(c)),
                    KeyCode::Backspace => Some(Msg::Backspace),
                    _ => None,
                }
            }
            Resolved::Unbound => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::fixture::{Fixture, NOW};
    use ratatui::backend::TestBackend;

    fn key(c: char) -> Input {
        Input::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
    }

    fn setup() -> AppSetup {
        AppSetup {
            spaces: vec!["default".into(), "eu-shop".into()],
            space: "default".into(),
            settings: Settings {
                redact: false,
                mouse: true,
                live: None,
            },
            keymap: Keymap::defaults(),
            theme: Theme::named("dark", true).unwrap(),
            rules: None,
            clock: Clock::Fixed(NOW),
        }
    }

    /// Pumps worker replies until `done` holds (or a few seconds pass).
    fn settle(app: &mut App, terminal: &mut Terminal<TestBackend>, done: impl Fn(&App) -> bool) {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !done(app) && std::time::Instant::now() < deadline {
            select! {
                recv(app.store_replies) -> r => { if let Ok(r) = r { app.reply(r, &mut |_| {}); } }
                recv(app.search_updates) -> u => { if let Ok(u) = u { app.message(Msg::Search(u), &mut |_| {}); } }
                default(Duration::from_millis(50)) => {}
            }
            app.draw(terminal).unwrap();
        }
        assert!(done(app), "timed out");
    }

    #[test]
    fn first_frame_is_drawn_while_the_store_is_still_opening() {
        let (gate_tx, gate_rx) = crossbeam_channel::bounded::<()>(0);
        let opener = move |space: &str| {
            let _ = gate_rx.recv_timeout(Duration::from_secs(5));
            Fixture::open(space)
        };
        let mut app = App::start(setup(), opener);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        app.draw(&mut terminal).unwrap();
        assert!(terminal.backend().to_string().contains("opening store"));
        gate_tx.send(()).unwrap();
        settle(&mut app, &mut terminal, |a| a.state.index.is_some());
    }

    #[test]
    fn keys_drive_the_real_workers_end_to_end() {
        let mut app = App::start(setup(), Fixture::open);
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
        settle(&mut app, &mut terminal, |a| a.state.index.is_some());
        let mut copied = Vec::new();
        for c in "bruno".chars() {
            app.input(key(c), &mut |t| copied.push(t.to_string()));
        }
        settle(&mut app, &mut terminal, |a| {
            a.state
                .find
                .results
                .hits
                .first()
                .is_some_and(|h| h.profile.0 == 2)
        });
        app.input(
            Input::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
            &mut |_| {},
        );
        settle(&mut app, &mut terminal, |a| {
            a.state.profile_data().is_some()
        });
        app.input(key('3'), &mut |_| {});
        app.draw(&mut terminal).unwrap();
        let screen = terminal.backend().to_string();
        assert!(
            screen.contains("Complaint: refund not received"),
            "{screen}"
        );
        app.input(key('C'), &mut |t| copied.push(t.to_string()));
        assert!(copied.last().unwrap().contains("\"profile_id\":\"p2\""));
        // g g is a sequence; q quits.
        app.input(key('g'), &mut |_| {});
        app.input(key('g'), &mut |_| {});
        app.input(key('q'), &mut |_| {});
        assert!(app.state.quit);
    }

    #[test]
    fn the_worker_polls_the_change_feed_between_requests() {
        let fixture = Arc::new(Fixture::space("default"));
        let shared = Arc::clone(&fixture);
        let opener =
            move |_: &str| -> anyhow::Result<SpaceHandle> { Ok(Box::new(Arc::clone(&shared))) };
        let mut app = App::start(setup(), opener);
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).unwrap();
        for c in "zoe.new".chars() {
            app.input(key(c), &mut |_| {});
        }
        settle(&mut app, &mut terminal, |a| {
            a.state.index.is_some() && a.state.find.pending.is_none()
        });
        assert!(app.state.find.results.hits.is_empty());
        let id = fixture.arrive(
            None,
            "2024-03-20T11:00:00Z",
            "Signed Up",
            &["email:zoe.new@example.com"],
        );
        // The worker sends the new index before the live update: wait for both.
        settle(&mut app, &mut terminal, |a| {
            a.state.find.results.hits.first().map(|h| h.profile) == Some(id)
                && a.state.new_events == 1
        });
    }

    #[test]
    fn mouse_can_be_turned_off() {
        let mut s = setup();
        s.settings.mouse = false;
        let mut app = App::start(s, Fixture::open);
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
        settle(&mut app, &mut terminal, |a| {
            a.state.find.results.hits.len() == 5
        });
        let scroll = MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 5,
            row: 5,
            modifiers: KeyModifiers::NONE,
        };
        app.input(Input::Mouse(scroll), &mut |_| {});
        assert_eq!(app.state.find.cursor.selected, 0);
    }
}
