//! The pure heart of the explorer: `update(state, msg) -> effects`. No I/O happens here;
//! effects are data the app loop carries out (store requests, searches, clipboard, quit).

use std::sync::Arc;

use serde_json::json;

use crate::model::{CallType, Identifier, ProfileId};
use crate::query::health::Finding;
use crate::query::search::{DEFAULT_LIMIT, SearchUpdate};
use crate::query::timeline::facets;

use super::action::Action;
use super::audiences;
use super::keymap::KeyContext;
use super::state::{
    BACK_LIMIT, BACK_LOADED, ConfirmAction, Cursor, FilterField, GraphFocus, GraphView, MergeFlow,
    Modal, Notice, Place, ProfileData, ProfileView, Screen, SplitFlow, SplitStage, State,
    StoreStatus, Tab, ViewAnchors,
};
use super::text::{clean, mask};
use super::worker::{LiveUpdate, Reply, Request};

/// Something that happened: a key's action, typed text, a worker's answer, time passing.
#[derive(Debug, Clone)]
pub enum Msg {
    Action(Action),
    /// A character typed into the focused text field.
    Insert(char),
    /// Backspace in the focused text field.
    Backspace,
    /// Bracketed paste.
    Paste(String),
    Reply(Reply),
    Search(SearchUpdate),
    /// The spinner's clock.
    Tick,
    /// A mouse click on something the last frame drew.
    Click(Target),
    /// Mouse wheel: negative up, positive down.
    Scroll(i8),
}

impl Msg {
    /// Whether the message is something the user did (a key, a paste, the mouse), as
    /// opposed to the store answering or the clock ticking.
    fn is_input(&self) -> bool {
        !matches!(self, Msg::Reply(_) | Msg::Search(_) | Msg::Tick)
    }
}

impl From<Action> for Msg {
    fn from(action: Action) -> Msg {
        Msg::Action(action)
    }
}

/// What a click can hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Tab(Tab),
    /// Row `n` of the list in focus.
    Row(usize),
    /// Row `n` of a list out of focus (the identity graph tab's other list): focuses that
    /// list and selects the row.
    OtherRow(usize),
}

/// Work for the app loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Ask the store worker (load profile, health, previews, merge, split, undo, switch space).
    Store(Request),
    /// Ask the search worker.
    Search {
        generation: u64,
        query: String,
        limit: usize,
    },
    /// Put text on the clipboard (OSC 52).
    Copy {
        text: String,
    },
    Quit,
}

/// The effects that start a session: open the space and list recent profiles.
pub fn init(state: &mut State) -> Vec<Effect> {
    let mut effects = vec![Effect::Store(Request::OpenSpace {
        space: state.space.clone(),
    })];
    effects.extend(search_find(state));
    effects
}

/// The contexts whose bindings apply now, most specific first.
pub fn key_contexts(state: &State) -> Vec<KeyContext> {
    use KeyContext::*;
    match &state.modal {
        Some(Modal::Help { .. }) => vec![Popup, Navigation],
        Some(Modal::Event { .. }) => vec![Event, Popup, Navigation],
        Some(Modal::Spaces { .. }) => vec![Spaces, Popup, Navigation],
        Some(Modal::Filter { .. }) => vec![Filter, Popup, Navigation],
        Some(Modal::Merge(MergeFlow::Pick { .. })) => vec![Pick],
        Some(Modal::Merge(MergeFlow::Preview { .. })) | Some(Modal::Undo { .. }) => vec![Form],
        Some(Modal::Split(flow)) => match flow.stage {
            SplitStage::Mark { .. } => vec![Split, Navigation],
            SplitStage::Preview { .. } => vec![Form],
        },
        Some(Modal::Confirm(_)) => vec![Confirm],
        None => match state.screen {
            Screen::Find if state.find.editing => vec![Input],
            Screen::Find if matches!(state.store, StoreStatus::Failed(_)) => {
                vec![Unavailable, Global]
            }
            Screen::Find => vec![Find, Navigation, Global],
            Screen::Health => vec![Health, Navigation, Global],
            Screen::Audiences => vec![Audiences, Navigation, Global],
            Screen::Profile => {
                let tab = state.profile.as_ref().map_or(Tab::Overview, |p| p.tab);
                let specific = match tab {
                    Tab::Timeline => Some(Timeline),
                    Tab::Touchpoints => Some(Touchpoints),
                    Tab::Graph => Some(Graph),
                    Tab::History => Some(History),
                    Tab::Overview => None,
                };
                specific
                    .into_iter()
                    .chain([Profile, Navigation, Global])
                    .collect()
            }
        },
    }
}

/// Whether the command bar offers `action` now: every action bound in the active contexts,
/// except the identity graph tab's switch to a violations list the profile does not have.
pub fn offered(state: &State, action: Action) -> bool {
    action != Action::SwitchList || has_violations(state)
}

/// Whether the open profile has violations (the identity graph tab lists them apart).
fn has_violations(state: &State) -> bool {
    state
        .profile_data()
        .is_some_and(|data| !data.violations.is_empty())
}

/// Applies one message; returns the effects to carry out.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    // A notice stays until the user does something next (it was never cleared before).
    if msg.is_input() {
        state.notice = None;
    }
    match msg {
        Msg::Action(action) => act(state, action),
        // `/` is the search key: pressed in the empty search box it only keeps the focus there.
        Msg::Insert('/')
            if state.modal.is_none()
                && state.screen == Screen::Find
                && state.find.editing
                && state.find.query.is_empty() =>
        {
            Vec::new()
        }
        Msg::Insert(c) => edit(state, |text| text.push(c)),
        Msg::Backspace => edit(state, |text| {
            text.pop();
        }),
        Msg::Paste(text) => {
            let line: String = clean(text.trim()).replace(['\n', '\r'], " ");
            let effects = edit(state, |t| t.push_str(&line));
            if state.modal.is_none() && state.screen == Screen::Find {
                state.find.pasted = true;
            }
            effects
        }
        Msg::Reply(reply) => on_reply(state, reply),
        Msg::Search(update) => on_search(state, update),
        Msg::Tick => {
            if state.busy() {
                state.tick = state.tick.wrapping_add(1);
            }
            Vec::new()
        }
        Msg::Click(target) => click(state, target),
        Msg::Scroll(delta) => {
            let action = if delta < 0 { Action::Up } else { Action::Down };
            let mut effects = Vec::new();
            for _ in 0..3 {
                effects.extend(act(state, action));
            }
            effects
        }
    }
}

fn notice(state: &mut State, text: impl Into<String>) {
    state.notice = Some(Notice {
        text: text.into(),
        error: false,
    });
}

fn error(state: &mut State, text: impl Into<String>) {
    state.notice = Some(Notice {
        text: text.into(),
        error: true,
    });
}

fn search_find(state: &mut State) -> Vec<Effect> {
    let generation = state.generation();
    state.find.issued = generation;
    state.find.pending = Some(generation);
    vec![Effect::Search {
        generation,
        query: state.find.query.clone(),
        limit: DEFAULT_LIMIT,
    }]
}

/// Edits the focused text field; search fields search again.
fn edit(state: &mut State, change: impl FnOnce(&mut String)) -> Vec<Effect> {
    match &mut state.modal {
        Some(Modal::Merge(MergeFlow::Pick { query, .. })) => {
            change(query);
            let query = query.clone();
            search_merge_pick(state, query)
        }
        Some(Modal::Merge(MergeFlow::Preview { reason, hint, .. }))
        | Some(Modal::Undo { reason, hint, .. })
        | Some(Modal::Split(SplitFlow {
            stage: SplitStage::Preview { reason, hint, .. },
            ..
        })) => {
            change(reason);
            *hint = None;
            Vec::new()
        }
        Some(_) => Vec::new(),
        None if state.screen == Screen::Find && state.find.editing => {
            change(&mut state.find.query);
            state.find.pasted = false;
            state.find.cursor = Cursor::default();
            search_find(state)
        }
        None => Vec::new(),
    }
}

fn search_merge_pick(state: &mut State, query: String) -> Vec<Effect> {
    let generation = state.generation();
    if let Some(Modal::Merge(MergeFlow::Pick {
        issued, pending, ..
    })) = &mut state.modal
    {
        *issued = generation;
        *pending = Some(generation);
    }
    vec![Effect::Search {
        generation,
        query,
        limit: DEFAULT_LIMIT,
    }]
}

/// The place shown now, as the way back restores it (none on search, where it ends).
fn here(state: &State) -> Option<Place> {
    match state.screen {
        Screen::Find => None,
        Screen::Profile => state.profile.clone().map(|v| Place::Profile(Box::new(v))),
        Screen::Health => Some(Place::Health),
        Screen::Audiences => Some(Place::Audiences(
            state.audiences.members.as_ref().map(|m| m.place()),
        )),
    }
}

/// Puts the place shown now on the way back, before another is shown. Profiles further
/// back than the latest [`BACK_LOADED`] let go of their loaded data.
fn leave(state: &mut State) {
    if let Some(place) = here(state) {
        state.back.push(place);
        if state.back.len() > BACK_LIMIT {
            state.back.remove(0);
        }
        let profiles = state.back.iter_mut().rev().filter_map(|place| match place {
            Place::Profile(view) => Some(view),
            _ => None,
        });
        for view in profiles.skip(BACK_LOADED) {
            let_go(view);
        }
    }
}

/// Lets go of a view's loaded data (and the timeline rows derived from it), keeping what
/// restores the view when it loads again.
fn let_go(view: &mut ProfileView) {
    if view.data.is_some() {
        view.anchors = anchors(view);
        view.data = None;
        view.timeline.rows = Vec::new();
    }
}

/// What a reload restores of a view: taken from its data, or kept when it let go of it.
fn anchors(view: &ProfileView) -> Option<ViewAnchors> {
    let Some(data) = &view.data else {
        return view.anchors.clone();
    };
    let node = |row: usize| data.nodes.get(row).cloned();
    Some(ViewAnchors {
        profile: data.profile.id,
        follow: overview_identifier(data, 0).cloned(),
        event: view
            .timeline
            .rows
            .get(view.timeline.cursor.selected)
            .and_then(|&i| data.events.get(i))
            .map(|e| e.seq),
        graph_selected: node(view.graph.cursor.selected),
        graph_marked: view.graph.marked.iter().filter_map(|&m| node(m)).collect(),
    })
}

/// Shows `next`, opened from the screen shown now, so that Esc on `next` comes back here.
pub(super) fn go_to(state: &mut State, next: Screen) {
    if next != state.screen {
        leave(state);
        state.screen = next;
    }
}

/// Esc: back to the place the one shown was opened from, as it was left (a profile is
/// reloaded, following it if it was merged away meanwhile); search when none is left.
pub(super) fn go_back(state: &mut State) -> Vec<Effect> {
    match state.back.pop() {
        None => {
            state.screen = Screen::Find;
            Vec::new()
        }
        Some(Place::Profile(view)) => {
            state.profile = Some(*view);
            state.screen = Screen::Profile;
            reload_profile(state, true)
        }
        Some(Place::Health) => {
            state.screen = Screen::Health;
            health_shown(state)
        }
        Some(Place::Audiences(members)) => audiences::restore(state, members),
    }
}

/// Opens a profile: Esc returns to the place it was opened from. On a profile (the next
/// search match) it takes the open one's place and tab.
pub(super) fn open_profile(state: &mut State, id: ProfileId) -> Vec<Effect> {
    let generation = state.generation();
    let mut view = ProfileView::new(id);
    if state.screen == Screen::Profile {
        if let Some(open) = &state.profile {
            view.tab = open.tab;
        }
    } else {
        leave(state);
    }
    view.pending = Some(generation);
    state.profile = Some(view);
    state.screen = Screen::Profile;
    state.modal = None;
    vec![Effect::Store(Request::LoadProfile {
        generation,
        id,
        now: state.now,
    })]
}

/// The modal showing an event's original JSON.
fn event_modal(e: &crate::model::StoredEvent, redact: bool) -> Modal {
    Modal::Event {
        title: format!("{} · {}", e.message_id, super::text::short_time(e.time)),
        json: event_json(&e.raw_json, redact),
        scroll: 0,
    }
}

/// Asks for the open profile again. With `follow`, a profile that no longer exists (merged
/// away, or split off and the split undone) is followed to the one now holding its first
/// identifier.
fn reload_profile(state: &mut State, follow: bool) -> Vec<Effect> {
    let generation = state.generation();
    let now = state.now;
    let Some(view) = &mut state.profile else {
        return Vec::new();
    };
    let via = anchors(view)
        .and_then(|anchors| anchors.follow)
        .filter(|_| follow);
    view.pending = Some(generation);
    let id = view.id;
    let request = match via {
        Some(via) => Request::FollowProfile {
            generation,
            id,
            via,
            now,
        },
        None => Request::LoadProfile {
            generation,
            id,
            now,
        },
    };
    vec![Effect::Store(request)]
}

/// Loads the health report for the Health screen unless it is there or on its way.
fn health_shown(state: &mut State) -> Vec<Effect> {
    if state.health.report.is_none() && state.health.pending.is_none() {
        load_health(state)
    } else {
        Vec::new()
    }
}

fn load_health(state: &mut State) -> Vec<Effect> {
    let generation = state.generation();
    state.health.pending = Some(generation);
    state.health.progress = None;
    state.health.error = None;
    vec![Effect::Store(Request::LoadHealth { generation })]
}

fn act(state: &mut State, action: Action) -> Vec<Effect> {
    if action == Action::Quit {
        state.quit = true;
        return vec![Effect::Quit];
    }
    if state.modal.is_some() {
        return act_modal(state, action);
    }
    match action {
        Action::Help => {
            state.modal = Some(Modal::Help { scroll: 0 });
            Vec::new()
        }
        Action::Search => {
            // Search is where the way back ends: it starts again from here.
            state.screen = Screen::Find;
            state.back.clear();
            state.find.editing = true;
            Vec::new()
        }
        Action::Health => {
            go_to(state, Screen::Health);
            health_shown(state)
        }
        Action::Audiences => audiences::open(state),
        Action::SwitchSpace => {
            let selected = state
                .spaces
                .iter()
                .position(|s| *s == state.space)
                .unwrap_or(0);
            state.modal = Some(Modal::Spaces {
                cursor: Cursor { selected },
            });
            Vec::new()
        }
        Action::Back => match state.screen {
            Screen::Find => {
                state.find.editing = false;
                Vec::new()
            }
            Screen::Audiences => audiences::back(state),
            Screen::Health | Screen::Profile => go_back(state),
        },
        Action::ClearInput if state.screen == Screen::Find && state.find.editing => {
            edit(state, String::clear)
        }
        Action::Refresh => match state.screen {
            Screen::Profile => reload_profile(state, true),
            Screen::Health => load_health(state),
            Screen::Audiences => audiences::reload(state),
            Screen::Find => match state.store {
                StoreStatus::Failed(_) => open_space(state),
                _ => search_find(state),
            },
        },
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => {
            move_cursor(state, action);
            Vec::new()
        }
        _ => match state.screen {
            Screen::Find => act_find(state, action),
            Screen::Health => act_health(state, action),
            Screen::Audiences => audiences::act(state, action),
            Screen::Profile => act_profile(state, action),
        },
    }
}

/// The step a navigation action makes in a list of `len` rows.
fn step_of(action: Action, half_page: usize, len: usize, selected: usize) -> isize {
    match action {
        Action::Up => -1,
        Action::Down => 1,
        Action::PageUp => -(half_page as isize),
        Action::PageDown => half_page as isize,
        Action::Top => -(selected as isize),
        Action::Bottom => len as isize,
        _ => 0,
    }
}

fn move_cursor(state: &mut State, action: Action) {
    let half = state.half_page.max(1);
    let (cursor, len) = match state.screen {
        Screen::Find => (&mut state.find.cursor, state.find.results.hits.len()),
        Screen::Health => {
            let len = state.health.report.as_ref().map_or(0, |r| r.items.len());
            (&mut state.health.cursor, len)
        }
        Screen::Audiences => state.audiences.cursor(),
        Screen::Profile => {
            let Some(view) = &mut state.profile else {
                return;
            };
            let data = view.data.clone();
            let len_of = |f: fn(&ProfileData) -> usize| data.as_deref().map_or(0, f);
            match view.tab {
                Tab::Overview => (&mut view.overview, len_of(|d| d.profile.identifiers.len())),
                Tab::Timeline => (&mut view.timeline.cursor, view.timeline.rows.len()),
                Tab::Touchpoints => (&mut view.touchpoints, len_of(|d| d.touchpoints.len())),
                Tab::Graph => match view.graph.focus {
                    GraphFocus::Identifiers => (&mut view.graph.cursor, len_of(|d| d.nodes.len())),
                    GraphFocus::Violations => {
                        (&mut view.graph.violations, len_of(|d| d.violations.len()))
                    }
                },
                Tab::History => (&mut view.history, len_of(|d| d.journal.len())),
            }
        }
    };
    let delta = step_of(action, half, len, cursor.selected);
    cursor.step(delta, len);
}

fn act_find(state: &mut State, action: Action) -> Vec<Effect> {
    match action {
        Action::Open => {
            let hit = state
                .find
                .results
                .hits
                .get(state.find.cursor.selected)
                .map(|h| h.profile);
            match hit {
                Some(id) => {
                    state.find.editing = false;
                    open_profile(state, id)
                }
                None => Vec::new(),
            }
        }
        Action::NextMatch => {
            move_cursor(state, Action::Down);
            Vec::new()
        }
        Action::PrevMatch => {
            move_cursor(state, Action::Up);
            Vec::new()
        }
        Action::Copy => match state.find.results.hits.get(state.find.cursor.selected) {
            Some(hit) => {
                let text = hit.matched();
                copy(state, text)
            }
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn act_health(state: &mut State, action: Action) -> Vec<Effect> {
    let selected = state
        .health
        .report
        .as_ref()
        .and_then(|r| r.items.get(state.health.cursor.selected))
        .map(|i| (i.profile, where_to_look(&i.findings)));
    match (action, selected) {
        (Action::Open, Some((id, (tab, violations)))) => {
            let effects = open_profile(state, id);
            if let Some(view) = &mut state.profile {
                view.tab = tab;
                if violations {
                    view.graph.focus = GraphFocus::Violations;
                }
            }
            effects
        }
        (Action::Copy, Some((id, _))) => copy(state, id.to_string()),
        _ => Vec::new(),
    }
}

/// Where a profile Health lists shows what Health found: the tab, and whether the Identity
/// graph's violations list should have the keys. Several user ids held, or identifiers
/// another known person's events brought: the graph (mark two for why); a forced merge:
/// History (undo is there); refusals and blocked junk: the violations; outsized or holding
/// junk: the Overview's identifiers.
pub(super) fn where_to_look(findings: &[Finding]) -> (Tab, bool) {
    let has = |wanted: fn(&Finding) -> bool| findings.iter().any(wanted);
    if has(|f| {
        matches!(
            f,
            Finding::UserIdsHeld { .. } | Finding::HoldsSharedIdentifiers { .. }
        )
    }) {
        (Tab::Graph, false)
    } else if has(|f| matches!(f, Finding::ForcedMerge { .. })) {
        (Tab::History, false)
    } else if has(|f| {
        matches!(
            f,
            Finding::UserIdsRefused { .. }
                | Finding::SharedWithKnown { .. }
                | Finding::Violations { .. }
        )
    }) {
        (Tab::Graph, true)
    } else if has(|f| matches!(f, Finding::Outsized { .. } | Finding::JunkHeld { .. })) {
        (Tab::Overview, false)
    } else {
        (Tab::Graph, true)
    }
}

fn copy(state: &mut State, text: String) -> Vec<Effect> {
    let shown = if state.settings.redact {
        "(redacted)".to_string()
    } else {
        super::text::fit(&clean(&text), 60)
    };
    notice(state, format!("copied {shown}"));
    vec![Effect::Copy { text }]
}

fn set_tab(state: &mut State, tab: Tab) {
    if let Some(view) = &mut state.profile {
        view.tab = tab;
    }
}

fn act_profile(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(view) = &state.profile else {
        return Vec::new();
    };
    let tab = view.tab;
    let data = view.data.clone();
    match action {
        Action::NextTab | Action::PrevTab => {
            let i = tab.index() as isize + if action == Action::NextTab { 1 } else { -1 };
            set_tab(
                state,
                Tab::ALL[i.rem_euclid(Tab::ALL.len() as isize) as usize],
            );
            Vec::new()
        }
        Action::TabOverview => tab_to(state, Tab::Overview),
        Action::TabTimeline => tab_to(state, Tab::Timeline),
        Action::TabTouchpoints => tab_to(state, Tab::Touchpoints),
        Action::TabGraph => tab_to(state, Tab::Graph),
        Action::TabHistory => tab_to(state, Tab::History),
        Action::NextMatch | Action::PrevMatch => {
            let hits = &state.find.results.hits;
            let at = hits.iter().position(|h| h.profile == view.id);
            let next = match (at, action) {
                (Some(i), Action::NextMatch) => hits.get(i + 1),
                (Some(i), _) => i.checked_sub(1).and_then(|j| hits.get(j)),
                (None, _) => hits.first(),
            };
            match next.map(|h| h.profile) {
                Some(id) => {
                    if let Some(i) = state.find.results.hits.iter().position(|h| h.profile == id) {
                        state.find.cursor.selected = i;
                    }
                    open_profile(state, id)
                }
                None => {
                    notice(state, "no more search matches");
                    Vec::new()
                }
            }
        }
        Action::Merge => {
            let Some(data) = data else {
                return Vec::new();
            };
            // Start from the first word of the name: duplicates often differ in the rest.
            let query = data
                .profile
                .display_name()
                .and_then(|n| n.split_whitespace().next().map(str::to_string))
                .unwrap_or_default();
            state.modal = Some(Modal::Merge(MergeFlow::Pick {
                query: query.clone(),
                results: Default::default(),
                cursor: Cursor::default(),
                issued: 0,
                pending: None,
            }));
            search_merge_pick(state, query)
        }
        Action::Split => {
            let Some(data) = data else {
                return Vec::new();
            };
            if data.profile.identifiers.len() < 2 {
                error(state, "a profile with one identifier cannot be split");
                return Vec::new();
            }
            state.modal = Some(Modal::Split(SplitFlow {
                from: data.profile.id,
                identifiers: data.profile.sorted_identifiers(),
                marked: Default::default(),
                cursor: Cursor::default(),
                stage: SplitStage::Mark { hint: None },
            }));
            Vec::new()
        }
        Action::Undo if tab == Tab::History => {
            let Some(entry) = data
                .as_ref()
                .and_then(|d| d.journal.get(view.history.selected))
                .cloned()
            else {
                return Vec::new();
            };
            if entry.undoable() {
                state.modal = Some(Modal::Undo {
                    entry,
                    reason: String::new(),
                    hint: None,
                });
            } else if let Some(by) = entry.undone_by {
                error(state, format!("#{} was already undone by #{by}", entry.op));
            } else {
                error(
                    state,
                    format!(
                        "#{} is an undo; undo the original entry again instead",
                        entry.op
                    ),
                );
            }
            Vec::new()
        }
        Action::Copy => {
            let Some(data) = data else {
                return Vec::new();
            };
            let text = match tab {
                Tab::Overview => {
                    overview_identifier(&data, view.overview.selected).map(|i| i.to_string())
                }
                Tab::Graph => match view.graph.focus {
                    GraphFocus::Identifiers => data
                        .nodes
                        .get(view.graph.cursor.selected)
                        .map(ToString::to_string),
                    GraphFocus::Violations => data
                        .violations
                        .get(view.graph.violations.selected)
                        .map(|v| v.identifier.to_string()),
                },
                Tab::Timeline => view
                    .timeline
                    .rows
                    .get(view.timeline.cursor.selected)
                    .and_then(|&i| data.events.get(i))
                    .map(|e| e.raw_json.clone()),
                Tab::Touchpoints => data
                    .touchpoints
                    .get(view.touchpoints.selected)
                    .map(|t| t.channel.clone()),
                Tab::History => data.journal.get(view.history.selected).map(|e| e.summary()),
            };
            match text {
                Some(text) => copy(state, text),
                None => Vec::new(),
            }
        }
        Action::CopyJson => match data {
            Some(data) => {
                let space = state.space.clone();
                copy(state, profile_json(&space, &data))
            }
            None => Vec::new(),
        },
        Action::Open if tab == Tab::Timeline => {
            let event = data.as_ref().and_then(|d| {
                view.timeline
                    .rows
                    .get(view.timeline.cursor.selected)
                    .and_then(|&i| d.events.get(i))
            });
            if let Some(e) = event {
                state.modal = Some(event_modal(e, state.settings.redact));
            }
            Vec::new()
        }
        Action::Open if tab == Tab::Graph && view.graph.focus == GraphFocus::Violations => {
            let Some(v) = data
                .as_ref()
                .and_then(|d| d.violations.get(view.graph.violations.selected))
            else {
                return Vec::new();
            };
            if let Some(&holder) = data.as_ref().and_then(|d| d.holders.get(&v.identifier)) {
                // The other profile, with this one a step back.
                leave(state);
                return open_profile(state, holder);
            }
            let event = data.as_ref().and_then(|d| {
                d.events
                    .iter()
                    .find(|e| e.message_id == v.provenance.message_id)
            });
            match event {
                Some(e) => state.modal = Some(event_modal(e, state.settings.redact)),
                None => notice(
                    state,
                    format!(
                        "no other profile holds {}, and its event is older than the events loaded",
                        v.identifier.kind
                    ),
                ),
            }
            Vec::new()
        }
        Action::SwitchList if tab == Tab::Graph => {
            let has_violations = has_violations(state);
            if !has_violations {
                notice(state, "no violations on this profile");
            }
            if let Some(view) = &mut state.profile {
                view.graph.focus = match view.graph.focus {
                    GraphFocus::Identifiers if has_violations => GraphFocus::Violations,
                    _ => GraphFocus::Identifiers,
                };
            }
            Vec::new()
        }
        Action::Open | Action::Mark
            if tab == Tab::Graph && view.graph.focus == GraphFocus::Identifiers =>
        {
            if let Some(view) = &mut state.profile {
                let i = view.graph.cursor.selected;
                if let Some(at) = view.graph.marked.iter().position(|&m| m == i) {
                    view.graph.marked.remove(at);
                } else {
                    if view.graph.marked.len() == 2 {
                        view.graph.marked.remove(0);
                    }
                    view.graph.marked.push(i);
                }
            }
            Vec::new()
        }
        Action::ClearMarks => {
            if let Some(view) = &mut state.profile {
                view.graph.marked.clear();
            }
            Vec::new()
        }
        Action::Filter if tab == Tab::Timeline => {
            state.modal = Some(Modal::Filter {
                cursor: Cursor::default(),
            });
            Vec::new()
        }
        Action::ClearFilter if tab == Tab::Timeline => {
            if let Some(view) = &mut state.profile {
                view.timeline.filter = Default::default();
            }
            refilter(state);
            Vec::new()
        }
        _ => Vec::new(),
    }
}

fn tab_to(state: &mut State, tab: Tab) -> Vec<Effect> {
    set_tab(state, tab);
    Vec::new()
}

/// The identifier on row `row` of the overview (grouped by type, as shown).
pub fn overview_identifier(data: &ProfileData, row: usize) -> Option<&crate::model::Identifier> {
    overview_order(data)
        .get(row)
        .map(|&i| &data.profile.identifiers[i].id)
}

/// Where identifiers of a type are listed: user id, email, phone, the others, then
/// anonymous ids.
pub fn identifier_rank(kind: &str) -> u8 {
    match kind {
        "user_id" => 0,
        "email" => 1,
        "phone" => 2,
        "anonymous_id" => 4,
        _ => 3,
    }
}

/// The overview's identifier order: by type priority then value.
pub fn overview_order(data: &ProfileData) -> Vec<usize> {
    let rank = identifier_rank;
    let ids = &data.profile.identifiers;
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by(|&a, &b| {
        (rank(&ids[a].id.kind), &ids[a].id.kind, &ids[a].id.value).cmp(&(
            rank(&ids[b].id.kind),
            &ids[b].id.kind,
            &ids[b].id.value,
        ))
    });
    order
}

/// The export line of a profile (`{"space","profile_id","identifiers","traits","event_count"}`).
pub fn profile_json(space: &str, data: &ProfileData) -> String {
    json!({
        "space": space,
        "profile_id": data.profile.id.to_string(),
        "identifiers": data.profile.sorted_identifiers(),
        "traits": data.profile.trait_map(),
        "event_count": data.profile.event_count,
    })
    .to_string()
}

/// An event's JSON pretty-printed (escapes stay escaped), optionally redacted.
pub fn event_json(raw: &str, redact: bool) -> String {
    match serde_json::from_str::<serde_json::Value>(raw) {
        Ok(mut value) => {
            if redact {
                super::text::redact_json(&mut value);
            }
            serde_json::to_string_pretty(&value).unwrap_or_else(|_| raw.to_string())
        }
        Err(_) => clean(raw).into_owned(),
    }
}

fn refilter(state: &mut State) {
    let Some(view) = &mut state.profile else {
        return;
    };
    let Some(data) = &view.data else {
        view.timeline.rows.clear();
        return;
    };
    let filter = &view.timeline.filter;
    view.timeline.rows = data
        .events
        .iter()
        .enumerate()
        .filter(|(_, e)| filter.matches(e))
        .map(|(i, _)| i)
        .collect();
    view.timeline.cursor.clamp(view.timeline.rows.len());
}

fn act_modal(state: &mut State, action: Action) -> Vec<Effect> {
    let Some(modal) = state.modal.take() else {
        return Vec::new();
    };
    let half = state.half_page.max(1) as isize;
    let scroll_by = |scroll: &mut u16, action: Action| {
        let delta: isize = match action {
            Action::Up => -1,
            Action::Down => 1,
            Action::PageUp => -half,
            Action::PageDown => half,
            Action::Top => -(*scroll as isize),
            Action::Bottom => 10_000,
            _ => 0,
        };
        *scroll = (*scroll as isize + delta).clamp(0, 10_000) as u16;
    };
    match modal {
        Modal::Help { mut scroll } => match action {
            Action::Back | Action::Help | Action::Open => Vec::new(),
            a => {
                scroll_by(&mut scroll, a);
                state.modal = Some(Modal::Help { scroll });
                Vec::new()
            }
        },
        Modal::Event {
            title,
            json,
            mut scroll,
        } => match action {
            Action::Back | Action::Open => Vec::new(),
            Action::Copy => {
                state.modal = Some(Modal::Event {
                    title,
                    json: json.clone(),
                    scroll,
                });
                copy(state, json)
            }
            a => {
                scroll_by(&mut scroll, a);
                state.modal = Some(Modal::Event {
                    title,
                    json,
                    scroll,
                });
                Vec::new()
            }
        },
        Modal::Spaces { mut cursor } => match action {
            Action::Back => Vec::new(),
            Action::Open => {
                let space = state.spaces[cursor.selected.min(state.spaces.len() - 1)].clone();
                switch_space(state, space)
            }
            a => {
                let len = state.spaces.len();
                cursor.step(step_of(a, 1, len, cursor.selected), len);
                state.modal = Some(Modal::Spaces { cursor });
                Vec::new()
            }
        },
        Modal::Filter { mut cursor } => {
            match action {
                Action::Back | Action::Open => return Vec::new(),
                Action::Left | Action::Right => cycle_filter(
                    state,
                    FilterField::ALL[cursor.selected],
                    action == Action::Right,
                ),
                Action::ClearFilter => {
                    if let Some(view) = &mut state.profile {
                        view.timeline.filter = Default::default();
                    }
                    refilter(state);
                }
                a => cursor.step(
                    step_of(a, 1, FilterField::ALL.len(), cursor.selected),
                    FilterField::ALL.len(),
                ),
            }
            state.modal = Some(Modal::Filter { cursor });
            Vec::new()
        }
        Modal::Merge(flow) => act_merge(state, flow, action),
        Modal::Split(flow) => act_split(state, flow, action),
        Modal::Undo { entry, reason, .. } => match action {
            Action::Back => Vec::new(),
            Action::Confirm | Action::Open => {
                if reason.trim().is_empty() {
                    state.modal = Some(Modal::Undo {
                        entry,
                        reason,
                        hint: Some("type a reason first".into()),
                    });
                } else {
                    state.modal = Some(Modal::Confirm(ConfirmAction::Undo {
                        op: entry.op,
                        summary: entry.summary(),
                        reason: reason.trim().to_string(),
                    }));
                }
                Vec::new()
            }
            Action::ClearInput => {
                state.modal = Some(Modal::Undo {
                    entry,
                    reason: String::new(),
                    hint: None,
                });
                Vec::new()
            }
            _ => {
                state.modal = Some(Modal::Undo {
                    entry,
                    reason,
                    hint: None,
                });
                Vec::new()
            }
        },
        Modal::Confirm(confirm) => match action {
            Action::Confirm => run_confirmed(state, confirm),
            Action::Back => {
                notice(state, "cancelled");
                Vec::new()
            }
            _ => {
                state.modal = Some(Modal::Confirm(confirm));
                Vec::new()
            }
        },
    }
}

fn switch_space(state: &mut State, space: String) -> Vec<Effect> {
    if space == state.space && !matches!(state.store, StoreStatus::Failed(_)) {
        return Vec::new();
    }
    state.space = space.clone();
    notice(state, format!("switched to space {space}"));
    open_space(state)
}

/// Opens the space afresh (switched to, or tried again after it could not be opened):
/// nothing shown of it before stays.
fn open_space(state: &mut State) -> Vec<Effect> {
    state.store = StoreStatus::Opening;
    state.new_events = 0;
    state.index = None;
    state.profile = None;
    state.health = Default::default();
    state.audiences = Default::default();
    state.screen = Screen::Find;
    state.back.clear();
    state.find.results = Default::default();
    state.find.cursor = Cursor::default();
    state.find.editing = true;
    let mut effects = vec![Effect::Store(Request::OpenSpace {
        space: state.space.clone(),
    })];
    effects.extend(search_find(state));
    effects
}

fn cycle_filter(state: &mut State, field: FilterField, forward: bool) {
    let Some(view) = &mut state.profile else {
        return;
    };
    let Some(data) = &view.data else {
        return;
    };
    // Only values some event has with the other fields' choices: none leaves it empty.
    let f = facets(&data.events, &view.timeline.filter);
    let values: Vec<String> = match field {
        FilterField::Channel => f.channels,
        FilterField::App => f.apps,
        FilterField::Device => f.devices,
        FilterField::Type => f.calls.iter().map(|c| c.as_str().to_string()).collect(),
    };
    let filter = &mut view.timeline.filter;
    let current = match field {
        FilterField::Channel => filter.channel.clone(),
        FilterField::App => filter.app.clone(),
        FilterField::Device => filter.device.clone(),
        FilterField::Type => filter.call.map(|c| c.as_str().to_string()),
    };
    // Positions: 0 = any, 1.. = values.
    let at = current
        .and_then(|c| values.iter().position(|v| *v == c))
        .map_or(0, |i| i + 1);
    let n = values.len() + 1;
    let next = if forward {
        (at + 1) % n
    } else {
        (at + n - 1) % n
    };
    let chosen = next.checked_sub(1).map(|i| values[i].clone());
    match field {
        FilterField::Channel => filter.channel = chosen,
        FilterField::App => filter.app = chosen,
        FilterField::Device => filter.device = chosen,
        FilterField::Type => filter.call = chosen.as_deref().and_then(CallType::from_name),
    }
    refilter(state);
}

fn act_merge(state: &mut State, flow: MergeFlow, action: Action) -> Vec<Effect> {
    let current = state.profile.as_ref().map(|p| p.id);
    match flow {
        MergeFlow::Pick {
            query,
            results,
            mut cursor,
            issued,
            pending,
        } => match action {
            Action::Back => Vec::new(),
            Action::ClearInput => {
                state.modal = Some(Modal::Merge(MergeFlow::Pick {
                    query: String::new(),
                    results,
                    cursor: Cursor::default(),
                    issued,
                    pending,
                }));
                search_merge_pick(state, String::new())
            }
            Action::Open | Action::Confirm => {
                let (Some(other), Some(me)) = (
                    results.hits.get(cursor.selected).map(|h| h.profile),
                    current,
                ) else {
                    state.modal = Some(Modal::Merge(MergeFlow::Pick {
                        query,
                        results,
                        cursor,
                        issued,
                        pending,
                    }));
                    return Vec::new();
                };
                let generation = state.generation();
                state.modal = Some(Modal::Merge(MergeFlow::Preview {
                    other,
                    preview: None,
                    error: None,
                    pending: Some(generation),
                    reason: String::new(),
                    force: false,
                    scroll: 0,
                    hint: None,
                }));
                vec![Effect::Store(Request::PreviewMerge {
                    generation,
                    a: me,
                    b: other,
                })]
            }
            a => {
                let len = results.hits.len();
                cursor.step(step_of(a, state.half_page, len, cursor.selected), len);
                state.modal = Some(Modal::Merge(MergeFlow::Pick {
                    query,
                    results,
                    cursor,
                    issued,
                    pending,
                }));
                Vec::new()
            }
        },
        MergeFlow::Preview {
            other,
            preview,
            error: err,
            pending,
            reason,
            mut force,
            mut scroll,
            hint,
        } => {
            let mut hint = hint;
            let mut reason = reason;
            match action {
                Action::Back => return Vec::new(),
                Action::ToggleForce => {
                    force = !force;
                    hint = None;
                }
                Action::ClearInput => reason.clear(),
                Action::Confirm | Action::Open => match &preview {
                    None => hint = Some("wait for the preview".into()),
                    Some(_) if reason.trim().is_empty() => {
                        hint = Some("type a reason first".into())
                    }
                    Some(p) if !p.conflicts.is_empty() && !force => {
                        hint = Some("the merge breaks rules: press ctrl-f to force it".into());
                    }
                    Some(p) => {
                        state.modal = Some(Modal::Confirm(ConfirmAction::Merge {
                            survivor: p.survivor,
                            absorbed: p.absorbed,
                            reason: reason.trim().to_string(),
                            force: force && !p.conflicts.is_empty(),
                            conflicts: p.conflicts.iter().map(ToString::to_string).collect(),
                        }));
                        return Vec::new();
                    }
                },
                Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                    let delta = step_of(action, state.half_page, 0, 0);
                    scroll = (scroll as isize + delta).clamp(0, 10_000) as u16;
                }
                _ => {}
            }
            state.modal = Some(Modal::Merge(MergeFlow::Preview {
                other,
                preview,
                error: err,
                pending,
                reason,
                force,
                scroll,
                hint,
            }));
            Vec::new()
        }
    }
}

fn act_split(state: &mut State, mut flow: SplitFlow, action: Action) -> Vec<Effect> {
    match &mut flow.stage {
        SplitStage::Mark { hint } => match action {
            Action::Back => return Vec::new(),
            Action::Mark => {
                let i = flow.cursor.selected;
                if !flow.marked.remove(&i) {
                    flow.marked.insert(i);
                }
                *hint = None;
            }
            Action::Open | Action::Confirm => {
                if flow.marked.is_empty() {
                    *hint = Some("mark the identifiers to move out with space".into());
                } else if flow.marked.len() == flow.identifiers.len() {
                    *hint = Some("at least one identifier must stay".into());
                } else {
                    let generation = state.generation();
                    let moving: Vec<_> = flow
                        .marked
                        .iter()
                        .map(|&i| flow.identifiers[i].clone())
                        .collect();
                    flow.stage = SplitStage::Preview {
                        preview: None,
                        error: None,
                        pending: Some(generation),
                        reason: String::new(),
                        scroll: 0,
                        hint: None,
                    };
                    let from = flow.from;
                    state.modal = Some(Modal::Split(flow));
                    return vec![Effect::Store(Request::PreviewSplit {
                        generation,
                        from,
                        moving,
                    })];
                }
            }
            a => {
                let len = flow.identifiers.len();
                flow.cursor
                    .step(step_of(a, state.half_page, len, flow.cursor.selected), len);
            }
        },
        SplitStage::Preview {
            preview,
            reason,
            scroll,
            hint,
            ..
        } => match action {
            Action::Back => {
                flow.stage = SplitStage::Mark { hint: None };
            }
            Action::ClearInput => reason.clear(),
            Action::Confirm | Action::Open => match preview {
                None => *hint = Some("wait for the preview".into()),
                Some(_) if reason.trim().is_empty() => *hint = Some("type a reason first".into()),
                Some(p) => {
                    state.modal = Some(Modal::Confirm(ConfirmAction::Split {
                        from: p.from,
                        moving: p.moving.clone(),
                        reason: reason.trim().to_string(),
                        moving_events: p.moving_events.len(),
                    }));
                    return Vec::new();
                }
            },
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                let delta = step_of(action, state.half_page, 0, 0);
                *scroll = (*scroll as isize + delta).clamp(0, 10_000) as u16;
            }
            _ => {}
        },
    }
    state.modal = Some(Modal::Split(flow));
    Vec::new()
}

fn run_confirmed(state: &mut State, confirm: ConfirmAction) -> Vec<Effect> {
    let generation = state.generation();
    state.op_pending = Some(generation);
    let (request, doing) = match confirm {
        ConfirmAction::Merge {
            survivor,
            absorbed,
            reason,
            force,
            ..
        } => (
            Request::Merge {
                generation,
                a: survivor,
                b: absorbed,
                reason,
                force,
            },
            format!("merging {absorbed} into {survivor}…"),
        ),
        ConfirmAction::Split {
            from,
            moving,
            reason,
            ..
        } => (
            Request::Split {
                generation,
                from,
                moving,
                reason,
            },
            format!("splitting {from}…"),
        ),
        ConfirmAction::Undo { op, reason, .. } => (
            Request::Undo {
                generation,
                op,
                reason,
            },
            format!("undoing #{op}…"),
        ),
    };
    notice(state, doing);
    vec![Effect::Store(request)]
}

fn click(state: &mut State, target: Target) -> Vec<Effect> {
    match target {
        Target::Tab(tab) => {
            if state.modal.is_none() && state.screen == Screen::Profile {
                set_tab(state, tab);
            }
            Vec::new()
        }
        Target::Row(row) => {
            match &mut state.modal {
                Some(Modal::Spaces { cursor }) => {
                    cursor.selected = row.min(state.spaces.len().saturating_sub(1))
                }
                Some(Modal::Merge(MergeFlow::Pick {
                    cursor, results, ..
                })) => {
                    cursor.selected = row.min(results.hits.len().saturating_sub(1));
                }
                Some(Modal::Split(flow)) => {
                    flow.cursor.selected = row.min(flow.identifiers.len().saturating_sub(1))
                }
                Some(_) => {}
                None => {
                    if row == current_cursor(state) {
                        // A click on the selected row (the second click of a double
                        // click) opens it, as enter does.
                        return act(state, Action::Open);
                    }
                    select_row(state, row);
                    if state.screen == Screen::Find {
                        state.find.editing = false;
                    }
                }
            }
            Vec::new()
        }
        Target::OtherRow(row) => {
            if state.modal.is_none() && state.screen == Screen::Profile {
                act_profile(state, Action::SwitchList);
                select_row(state, row);
            }
            Vec::new()
        }
    }
}

/// Moves the cursor of the list in focus to `row`.
fn select_row(state: &mut State, row: usize) {
    let delta = row as isize - current_cursor(state) as isize;
    let action = if delta < 0 { Action::Up } else { Action::Down };
    for _ in 0..delta.unsigned_abs() {
        move_cursor(state, action);
    }
}

fn current_cursor(state: &State) -> usize {
    match state.screen {
        Screen::Find => state.find.cursor.selected,
        Screen::Health => state.health.cursor.selected,
        Screen::Audiences => state.audiences.selected(),
        Screen::Profile => state.profile.as_ref().map_or(0, |v| match v.tab {
            Tab::Overview => v.overview.selected,
            Tab::Timeline => v.timeline.cursor.selected,
            Tab::Touchpoints => v.touchpoints.selected,
            Tab::Graph => match v.graph.focus {
                GraphFocus::Identifiers => v.graph.cursor.selected,
                GraphFocus::Violations => v.graph.violations.selected,
            },
            Tab::History => v.history.selected,
        }),
    }
}

fn on_search(state: &mut State, update: SearchUpdate) -> Vec<Effect> {
    let SearchUpdate {
        generation,
        mut results,
        ..
    } = update;
    if generation == state.find.issued {
        let complete = results.complete;
        let exact = results.exact;
        // The same query answered again (on a newer index): the selection stays on its
        // profile while the list re-ranks.
        let keep = (state.find.shown == generation)
            .then(|| state.find.results.hits.get(state.find.cursor.selected))
            .flatten()
            .map(|h| h.profile);
        state.find.results = results;
        state.find.shown = generation;
        if let Some(row) =
            keep.and_then(|id| state.find.results.hits.iter().position(|h| h.profile == id))
        {
            state.find.cursor.selected = row;
        }
        state.find.cursor.clamp(state.find.results.hits.len());
        if complete {
            state.find.pending = None;
        }
        if complete && state.find.pasted && state.screen == Screen::Find && state.modal.is_none() {
            state.find.pasted = false;
            if let Some(id) = exact {
                state.find.editing = false;
                return open_profile(state, id);
            }
        }
        return Vec::new();
    }
    let current = state.profile.as_ref().map(|p| p.id);
    if let Some(Modal::Merge(MergeFlow::Pick {
        results: shown,
        cursor,
        issued,
        pending,
        ..
    })) = &mut state.modal
        && *issued == generation
    {
        results.hits.retain(|h| Some(h.profile) != current);
        if results.complete {
            *pending = None;
        }
        *shown = results;
        cursor.clamp(shown.hits.len());
    }
    Vec::new()
}

fn on_reply(state: &mut State, reply: Reply) -> Vec<Effect> {
    match reply {
        Reply::Opened { space, profiles } => {
            if space == state.space {
                state.store = StoreStatus::Ready { profiles };
            }
            Vec::new()
        }
        Reply::OpenFailed { space, error: e } => {
            if space == state.space {
                state.store = StoreStatus::Failed(e.clone());
                state.find.pending = None;
                // Keys are commands now (try again, quit): there is nothing to search.
                state.find.editing = false;
                error(state, format!("cannot open space {space}: {e}"));
            }
            Vec::new()
        }
        Reply::Index { space, index } => {
            if space == state.space {
                state.index = Some((index.profile_count(), index.entry_count()));
                if let StoreStatus::Ready { profiles } = &mut state.store {
                    *profiles = index.profile_count() as u64;
                }
            }
            Vec::new()
        }
        Reply::Profile {
            generation,
            id,
            result,
        } => {
            let Some(view) = &mut state.profile else {
                return Vec::new();
            };
            if view.pending != Some(generation) || view.id != id {
                return Vec::new();
            }
            view.pending = None;
            match result {
                Ok(data) => {
                    let followed = (data.profile.id != id).then_some(data.profile.id);
                    if let Some(to) = followed {
                        view.id = to;
                    }
                    let anchors = anchors(view);
                    // A reload keeps the selected event selected while new ones arrive above.
                    let selected_seq = anchors
                        .as_ref()
                        .filter(|old| old.profile == data.profile.id)
                        .and_then(|old| old.event);
                    view.error = None;
                    view.overview.clamp(data.profile.identifiers.len());
                    view.touchpoints.clamp(data.touchpoints.len());
                    keep_graph_rows(&mut view.graph, anchors.as_ref(), &data.nodes);
                    keep_violation_row(&mut view.graph, data.violations.len());
                    view.history.clamp(data.journal.len());
                    view.data = Some(data);
                    view.anchors = None;
                    refilter(state);
                    if let (Some(seq), Some(view)) = (selected_seq, &mut state.profile)
                        && let Some(data) = &view.data
                        && let Some(row) = view
                            .timeline
                            .rows
                            .iter()
                            .position(|&i| data.events.get(i).is_some_and(|e| e.seq == seq))
                    {
                        view.timeline.cursor.selected = row;
                    }
                    if let Some(to) = followed {
                        notice(state, format!("{id} was merged into {to}: showing {to}"));
                    }
                }
                Err(e) if view.data.is_none() => {
                    // Nothing to show (a stale search match, say): back where it was opened.
                    error(state, e);
                    state.profile = None;
                    return if state.screen == Screen::Profile {
                        go_back(state)
                    } else {
                        Vec::new()
                    };
                }
                Err(e) => {
                    view.error = Some(e.clone());
                    error(state, e);
                }
            }
            Vec::new()
        }
        Reply::Live { space, update } => {
            if space != state.space {
                return Vec::new();
            }
            state.new_events = update.new_events;
            let mut effects = follow_live(state, &update);
            effects.extend(audiences::changed(state));
            effects
        }
        Reply::Audiences { generation, result } => audiences::on_list(state, generation, result),
        Reply::Members { generation, result } => audiences::on_members(state, generation, result),
        Reply::HealthProgress {
            generation,
            progress,
        } => {
            if state.health.pending == Some(generation) {
                state.health.progress = Some(progress);
            }
            Vec::new()
        }
        Reply::Health { generation, result } => {
            if state.health.pending != Some(generation) {
                return Vec::new();
            }
            state.health.pending = None;
            state.health.progress = None;
            match result {
                Ok(report) => {
                    state.health.cursor.clamp(report.items.len());
                    state.health.report = Some(report);
                }
                Err(e) => state.health.error = Some(e),
            }
            Vec::new()
        }
        Reply::MergePreview { generation, result } => {
            if let Some(Modal::Merge(MergeFlow::Preview {
                preview,
                error: err,
                pending,
                ..
            })) = &mut state.modal
                && *pending == Some(generation)
            {
                *pending = None;
                match result {
                    Ok(p) => *preview = Some(p),
                    Err(e) => *err = Some(e),
                }
            }
            Vec::new()
        }
        Reply::SplitPreview { generation, result } => {
            if let Some(Modal::Split(SplitFlow {
                stage:
                    SplitStage::Preview {
                        preview,
                        error: err,
                        pending,
                        ..
                    },
                ..
            })) = &mut state.modal
                && *pending == Some(generation)
            {
                *pending = None;
                match result {
                    Ok(p) => *preview = Some(p),
                    Err(e) => *err = Some(e),
                }
            }
            Vec::new()
        }
        Reply::Done { generation, result } => {
            if state.op_pending != Some(generation) {
                return Vec::new();
            }
            state.op_pending = None;
            match result {
                Ok(outcome) => {
                    let entry = outcome.entry;
                    notice(
                        state,
                        format!("done: #{} {} — {}", entry.op, entry.summary(), entry.reason),
                    );
                    state.health.report = None;
                    // Profiles merged away or split off leave the search results stale.
                    let mut effects = search_find(state);
                    if state.screen == Screen::Health {
                        effects.extend(load_health(state));
                    }
                    // Follow the person: a merged-away profile lives on in the survivor (known
                    // here, so the done notice stays); any other profile gone (split off, and
                    // the split undone) in the one now holding its identifiers.
                    if let crate::model::JournalAction::Merge {
                        survivor, absorbed, ..
                    } = &entry.action
                        && let Some(view) = &mut state.profile
                        && view.id == *absorbed
                    {
                        view.id = *survivor;
                    }
                    effects.extend(reload_profile(state, true));
                    effects.extend(audiences::changed(state));
                    effects
                }
                Err(e) => {
                    error(state, format!("failed: {e}"));
                    Vec::new()
                }
            }
        }
    }
}

/// Keeps the graph tab's selected row and "why" marks on their identifiers when the
/// profile reloads and its nodes are listed in another order; marks whose identifier left
/// the profile are dropped.
fn keep_graph_rows(graph: &mut GraphView, old: Option<&ViewAnchors>, new: &[Identifier]) {
    let row = |id: &Identifier| new.iter().position(|n| n == id);
    if let Some(row) = old
        .and_then(|old| old.graph_selected.as_ref())
        .and_then(row)
    {
        graph.cursor.selected = row;
    }
    graph.cursor.clamp(new.len());
    graph.marked = old.map_or_else(Vec::new, |old| {
        old.graph_marked.iter().filter_map(row).collect()
    });
}

/// Keeps the graph tab's violation selection within the reloaded profile's violations,
/// back on the identifiers when none is left.
fn keep_violation_row(graph: &mut GraphView, violations: usize) {
    graph.violations.clamp(violations);
    if violations == 0 {
        graph.focus = GraphFocus::Identifiers;
    }
}

/// Keeps the open profile current while the space changes: reloads it when it changed,
/// follows its identifiers when it was merged away (or the feed could not say).
fn follow_live(state: &mut State, update: &LiveUpdate) -> Vec<Effect> {
    let Some(view) = &state.profile else {
        return Vec::new();
    };
    // A load in flight is answered after the poll that sent this update: it sees the change.
    if view.pending.is_some() {
        return Vec::new();
    }
    let removed = update.removed.contains(&view.id);
    if !(removed || update.everything || update.changed.contains(&view.id)) {
        return Vec::new();
    }
    reload_profile(state, removed || update.everything)
}

/// A personal value as shown: masked when redacting.
pub fn shown(state: &State, kind: &str, value: &str) -> String {
    if state.settings.redact && super::text::is_personal(kind) {
        mask(kind, value)
    } else {
        clean(value).into_owned()
    }
}

/// The profile's display name as shown.
pub fn shown_name(state: &State, data: &Arc<ProfileData>) -> Option<String> {
    data.profile
        .display_name()
        .map(|n| shown(state, "name", &n))
}

#[cfg(test)]
#[path = "update_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "update_live_tests.rs"]
mod live_tests;

#[cfg(test)]
#[path = "update_audience_tests.rs"]
mod audience_tests;
