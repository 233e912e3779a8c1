//! The Audiences screen: every audience with its description and member count; Enter
//! lists an audience's members (profiles with their key identifiers and why they are in),
//! Enter on a member opens the profile. Its state, the pure update steps (called from
//! [`update`](super::update)), and the member loading the store worker does.
//!
//! Shown data is kept current without refetching on a timer: a live update or a repair
//! reloads what is on screen (one load at a time: a change during a load reloads once it
//! answers) and marks the rest stale, reloaded when shown again.

use crate::audience::Why;
use crate::model::{Identifier, Millis, Profile, ProfileId};
use crate::query::{AudienceSummary, SpaceAccess};

use super::action::Action;
use super::state::{Cursor, Screen, State};
use super::update::{Effect, go_back, go_to, identifier_rank, open_profile};
use super::worker::Request;

/// Most members one member list loads (the list says how many there are in all).
pub const MEMBERS_LIMIT: usize = 5_000;
/// Key identifiers shown for each member.
pub const KEY_IDENTIFIERS: usize = 3;

/// A member as the member list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// The member profile.
    pub profile: ProfileId,
    /// Its display name, when it has one.
    pub name: Option<String>,
    /// Its key identifiers: user id, email and phone before the others, at most
    /// [`KEY_IDENTIFIERS`].
    pub identifiers: Vec<Identifier>,
    /// How many identifiers it holds in all.
    pub identifier_count: usize,
    /// Why it is a member.
    pub why: Why,
}

/// The members of one audience at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberList {
    /// The audience.
    pub audience: String,
    /// Members in all (`rows` holds at most [`MEMBERS_LIMIT`] of them, by profile id).
    pub total: usize,
    /// The members loaded.
    pub rows: Vec<MemberRow>,
}

/// Data loaded from the store for a list on screen, with its cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loaded<T> {
    /// The latest answer.
    pub data: Option<T>,
    /// Generation of the load in flight.
    pub pending: Option<u64>,
    /// Why the latest load failed.
    pub error: Option<String>,
    /// The space changed since `data` was loaded: load again when shown (or when the
    /// pending load answers).
    pub stale: bool,
    /// The selected row.
    pub cursor: Cursor,
}

impl<T> Default for Loaded<T> {
    fn default() -> Self {
        Loaded {
            data: None,
            pending: None,
            error: None,
            stale: false,
            cursor: Cursor::default(),
        }
    }
}

impl<T> Loaded<T> {
    /// Starts a load with `generation`; `false` (and marked stale) when one is in flight.
    fn start(&mut self, generation: u64) -> bool {
        if self.pending.is_some() {
            self.stale = true;
            return false;
        }
        self.pending = Some(generation);
        self.stale = false;
        self.error = None;
        true
    }

    /// Takes an answer to the load in flight; `false` for any other (stale) answer.
    fn answer(&mut self, generation: u64, result: Result<T, String>) -> bool {
        if self.pending != Some(generation) {
            return false;
        }
        self.pending = None;
        match result {
            Ok(data) => {
                self.data = Some(data);
                self.error = None;
            }
            Err(e) => self.error = Some(e),
        }
        true
    }

    /// Whether it should be loaded before it is shown.
    fn wanted(&self) -> bool {
        self.pending.is_none() && (self.data.is_none() || self.stale)
    }
}

/// One audience's members, opened from the audience list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MembersView {
    /// The audience.
    pub audience: String,
    /// Its description.
    pub description: String,
    /// Its members.
    pub members: Loaded<MemberList>,
}

impl MembersView {
    /// Which member list this is and its selected row, without the members (for the way
    /// back: they are loaded again when it is shown).
    pub fn place(&self) -> MembersView {
        MembersView {
            audience: self.audience.clone(),
            description: self.description.clone(),
            members: Loaded {
                cursor: self.members.cursor,
                ..Loaded::default()
            },
        }
    }
}

/// The Audiences screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AudiencesView {
    /// Every audience with its member count.
    pub list: Loaded<Vec<AudienceSummary>>,
    /// The member list on screen, if one is open.
    pub members: Option<MembersView>,
}

impl AudiencesView {
    /// Whether a load is in flight.
    pub fn busy(&self) -> bool {
        self.list.pending.is_some()
            || self
                .members
                .as_ref()
                .is_some_and(|m| m.members.pending.is_some())
    }

    /// The selected row of the list on screen.
    pub fn selected(&self) -> usize {
        match &self.members {
            Some(m) => m.members.cursor.selected,
            None => self.list.cursor.selected,
        }
    }

    /// The cursor of the list on screen and its length.
    pub fn cursor(&mut self) -> (&mut Cursor, usize) {
        match &mut self.members {
            Some(m) => {
                let len = m.members.data.as_ref().map_or(0, |d| d.rows.len());
                (&mut m.members.cursor, len)
            }
            None => {
                let len = self.list.data.as_ref().map_or(0, Vec::len);
                (&mut self.list.cursor, len)
            }
        }
    }
}

fn load_list(state: &mut State) -> Vec<Effect> {
    let generation = state.generation();
    if !state.audiences.list.start(generation) {
        return Vec::new();
    }
    vec![Effect::Store(Request::LoadAudiences {
        generation,
        now: state.now,
    })]
}

fn load_members(state: &mut State) -> Vec<Effect> {
    let generation = state.generation();
    let now = state.now;
    let Some(view) = &mut state.audiences.members else {
        return Vec::new();
    };
    if !view.members.start(generation) {
        return Vec::new();
    }
    vec![Effect::Store(Request::LoadMembers {
        generation,
        audience: view.audience.clone(),
        now,
    })]
}

/// Loads what the screen shows that is missing or stale.
pub(super) fn shown(state: &mut State) -> Vec<Effect> {
    let mut effects = Vec::new();
    if state.audiences.list.wanted() {
        effects.extend(load_list(state));
    }
    if state
        .audiences
        .members
        .as_ref()
        .is_some_and(|m| m.members.wanted())
    {
        effects.extend(load_members(state));
    }
    effects
}

/// The audiences key: the audience list (a member list open before is closed).
pub(super) fn open(state: &mut State) -> Vec<Effect> {
    go_to(state, Screen::Audiences);
    state.audiences.members = None;
    shown(state)
}

/// Reloads what is on screen (the reload key).
pub(super) fn reload(state: &mut State) -> Vec<Effect> {
    let mut effects = load_list(state);
    effects.extend(load_members(state));
    effects
}

/// The space changed (a live update, a merge, split or undo): reloads what is on screen,
/// marks the rest stale.
pub(super) fn changed(state: &mut State) -> Vec<Effect> {
    if state.screen == Screen::Audiences {
        return reload(state);
    }
    let audiences = &mut state.audiences;
    audiences.list.stale |= audiences.list.data.is_some();
    if let Some(m) = &mut audiences.members {
        m.members.stale |= m.members.data.is_some();
    }
    Vec::new()
}

/// Esc: from a member list back to the audience list, from there along the way back.
pub(super) fn back(state: &mut State) -> Vec<Effect> {
    if state.audiences.members.take().is_none() {
        return go_back(state);
    }
    shown(state)
}

/// Shows the screen again as it was left, on the audience list or on the member list
/// `members` (the one still open if it is that audience's, else loaded again).
pub(super) fn restore(state: &mut State, members: Option<MembersView>) -> Vec<Effect> {
    state.screen = Screen::Audiences;
    let open = state.audiences.members.as_ref().map(|m| &m.audience);
    if open != members.as_ref().map(|m| &m.audience) {
        state.audiences.members = members;
    }
    shown(state)
}

/// The screen's own actions: Enter opens an audience's members, or a member's profile.
pub(super) fn act(state: &mut State, action: Action) -> Vec<Effect> {
    if action != Action::Open {
        return Vec::new();
    }
    if let Some(view) = &state.audiences.members {
        let member = view
            .members
            .data
            .as_ref()
            .and_then(|d| d.rows.get(view.members.cursor.selected))
            .map(|r| r.profile);
        return match member {
            Some(id) => open_profile(state, id),
            None => Vec::new(),
        };
    }
    let list = &state.audiences.list;
    let Some(chosen) = list.data.as_ref().and_then(|l| l.get(list.cursor.selected)) else {
        return Vec::new();
    };
    state.audiences.members = Some(MembersView {
        audience: chosen.name.clone(),
        description: chosen.description.clone(),
        members: Loaded::default(),
    });
    load_members(state)
}

/// The audience list arrived.
pub(super) fn on_list(
    state: &mut State,
    generation: u64,
    result: Result<Vec<AudienceSummary>, String>,
) -> Vec<Effect> {
    let list = &mut state.audiences.list;
    if !list.answer(generation, result) {
        return Vec::new();
    }
    let len = list.data.as_ref().map_or(0, Vec::len);
    list.cursor.clamp(len);
    if list.stale && state.screen == Screen::Audiences {
        return load_list(state);
    }
    Vec::new()
}

/// A member list arrived: the selection stays on its profile while the list changes.
pub(super) fn on_members(
    state: &mut State,
    generation: u64,
    result: Result<MemberList, String>,
) -> Vec<Effect> {
    let Some(view) = &mut state.audiences.members else {
        return Vec::new();
    };
    let loaded = &mut view.members;
    let selected = loaded
        .data
        .as_ref()
        .and_then(|d| d.rows.get(loaded.cursor.selected))
        .map(|r| r.profile);
    if !loaded.answer(generation, result) {
        return Vec::new();
    }
    let rows = loaded.data.as_ref().map_or(&[][..], |d| &d.rows);
    if let Some(row) = selected.and_then(|id| rows.iter().position(|r| r.profile == id)) {
        loaded.cursor.selected = row;
    }
    loaded.cursor.clamp(rows.len());
    if loaded.stale && state.screen == Screen::Audiences {
        return load_members(state);
    }
    Vec::new()
}

/// A profile's key identifiers: user id, email and phone before the others, by value.
pub fn key_identifiers(profile: &Profile, n: usize) -> Vec<Identifier> {
    let mut ids = profile.sorted_identifiers();
    ids.sort_by_key(|id| identifier_rank(&id.kind));
    ids.truncate(n);
    ids
}

/// Loads the members of an audience with what the member list shows of each (for the
/// store worker).
pub fn member_list(
    store: &dyn SpaceAccess,
    audience: &str,
    now: Millis,
) -> anyhow::Result<MemberList> {
    let members = store.audience_members(audience, now)?;
    let total = members.len();
    let mut rows = Vec::with_capacity(total.min(MEMBERS_LIMIT));
    for member in members.into_iter().take(MEMBERS_LIMIT) {
        // A member merged away between the two reads is left out.
        let Some(profile) = store.profile(member.profile)? else {
            continue;
        };
        rows.push(MemberRow {
            profile: member.profile,
            name: profile.display_name(),
            identifiers: key_identifiers(&profile, KEY_IDENTIFIERS),
            identifier_count: profile.identifiers.len(),
            why: member.why,
        });
    }
    Ok(MemberList {
        audience: audience.to_string(),
        total,
        rows,
    })
}
