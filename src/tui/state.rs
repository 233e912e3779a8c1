//! Everything the explorer shows, as plain data. Only [`update`](super::update::update)
//! changes it; views only read it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::audience::Why;
use crate::model::{
    Identifier, JournalEntry, Link, Millis, Profile, ProfileId, StoredEvent, Violation,
};
use crate::query::SplitPreview;
use crate::query::health::{HealthReport, ScanProgress};
use crate::query::search::SearchResults;
use crate::query::timeline::{Phase, TimelineFilter, phases};
use crate::query::touchpoints::{Touchpoint, touchpoints};
use crate::resolve::MergePreview;

use super::audiences::{AudiencesView, MembersView};

/// How many events a profile load asks for.
pub const TIMELINE_LIMIT: usize = 5_000;
/// How many latest items each touchpoint keeps.
pub const TOUCHPOINT_ITEMS: usize = 3;

/// A loaded profile with everything its tabs show, derived once when it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileData {
    pub profile: Profile,
    /// Newest first.
    pub events: Vec<StoredEvent>,
    pub phases: Vec<Phase>,
    pub conversion: Option<u64>,
    pub links: Vec<Link>,
    pub violations: Vec<Violation>,
    /// The other profiles now holding identifiers this profile's events were refused (a
    /// device shared with another known person, say), by identifier.
    pub holders: BTreeMap<Identifier, ProfileId>,
    /// Oldest first.
    pub journal: Vec<JournalEntry>,
    pub touchpoints: Vec<Touchpoint>,
    /// Graph nodes: the profile's identifiers, then any other identifier named by a link.
    pub nodes: Vec<Identifier>,
    /// The audiences the profile is in (by name, each with why), or why they could not
    /// be read.
    pub audiences: Result<Vec<(String, Why)>, String>,
}

impl ProfileData {
    /// How many events were loaded and how many the profile has, when only the newest
    /// [`TIMELINE_LIMIT`] of them were loaded.
    pub fn partial(&self) -> Option<(usize, u64)> {
        let loaded = self.events.len();
        ((loaded as u64) < self.profile.event_count).then_some((loaded, self.profile.event_count))
    }

    /// Derives the tabs' data from what the store returned.
    pub fn new(
        profile: Profile,
        events: Vec<StoredEvent>,
        links: Vec<Link>,
        violations: Vec<Violation>,
        holders: BTreeMap<Identifier, ProfileId>,
        journal: Vec<JournalEntry>,
        audiences: Result<Vec<(String, Why)>, String>,
    ) -> ProfileData {
        let phases = phases(&events);
        let conversion = crate::query::timeline::conversion_point(&events);
        let touchpoints = touchpoints(&events, TOUCHPOINT_ITEMS);
        let mut nodes = profile.sorted_identifiers();
        for link in &links {
            for id in [&link.from, &link.to] {
                if !nodes.contains(id) {
                    nodes.push(id.clone());
                }
            }
        }
        ProfileData {
            profile,
            events,
            phases,
            conversion,
            links,
            violations,
            holders,
            journal,
            touchpoints,
            nodes,
            audiences,
        }
    }
}

/// The top-level screens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Screen {
    /// Search: where every way back (Esc) ends.
    #[default]
    Find,
    Profile,
    Health,
    Audiences,
}

/// The profile tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    Overview,
    Timeline,
    Touchpoints,
    Graph,
    History,
}

impl Tab {
    pub const ALL: [Tab; 5] = [
        Tab::Overview,
        Tab::Timeline,
        Tab::Touchpoints,
        Tab::Graph,
        Tab::History,
    ];

    pub fn title(self) -> &'static str {
        match self {
            Tab::Overview => "Overview",
            Tab::Timeline => "Timeline",
            Tab::Touchpoints => "Touchpoints",
            Tab::Graph => "Identity graph",
            Tab::History => "History",
        }
    }

    pub fn index(self) -> usize {
        Tab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// A cursor in a list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    pub selected: usize,
}

impl Cursor {
    /// Moves by `delta` within `len` rows (clamped).
    pub fn step(&mut self, delta: isize, len: usize) {
        if len == 0 {
            self.selected = 0;
            return;
        }
        let next = self.selected as isize + delta;
        self.selected = next.clamp(0, len as isize - 1) as usize;
    }

    pub fn clamp(&mut self, len: usize) {
        self.selected = self.selected.min(len.saturating_sub(1));
    }
}

/// The search screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Find {
    pub query: String,
    /// Keys go to the search box.
    pub editing: bool,
    pub results: SearchResults,
    pub cursor: Cursor,
    /// Generation of the latest query sent.
    pub issued: u64,
    /// Generation of the query whose results are shown.
    pub shown: u64,
    /// Generation of the query in flight (until its complete results arrive).
    pub pending: Option<u64>,
    /// The last edit was a paste: an exact identifier match opens its profile at once.
    pub pasted: bool,
}

/// The timeline tab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineView {
    pub filter: TimelineFilter,
    /// Indices into `events` passing the filter.
    pub rows: Vec<usize>,
    pub cursor: Cursor,
}

/// Which list of the identity graph tab the keys move.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GraphFocus {
    #[default]
    Identifiers,
    Violations,
}

/// The identity graph tab.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GraphView {
    /// Selected node (index into `nodes`).
    pub cursor: Cursor,
    /// Nodes marked for "why" (at most two).
    pub marked: Vec<usize>,
    /// The list the keys move.
    pub focus: GraphFocus,
    /// Selected violation (index into `violations`).
    pub violations: Cursor,
}

/// An open profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileView {
    pub id: ProfileId,
    pub data: Option<Arc<ProfileData>>,
    /// What restores the view once its data loads again, kept instead of the data by a
    /// place far back on the way back (see [`BACK_LOADED`]).
    pub anchors: Option<ViewAnchors>,
    pub pending: Option<u64>,
    pub error: Option<String>,
    pub tab: Tab,
    pub overview: Cursor,
    pub timeline: TimelineView,
    pub touchpoints: Cursor,
    pub graph: GraphView,
    pub history: Cursor,
}

impl ProfileView {
    pub fn new(id: ProfileId) -> ProfileView {
        ProfileView {
            id,
            data: None,
            anchors: None,
            pending: None,
            error: None,
            tab: Tab::Overview,
            overview: Cursor::default(),
            timeline: TimelineView::default(),
            touchpoints: Cursor::default(),
            graph: GraphView::default(),
            history: Cursor::default(),
        }
    }
}

/// What a profile view keeps of its data for a reload to restore it as it was: the
/// identifier to follow the profile by if it was merged away, the selected event, and the
/// identity graph's selected and marked identifiers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewAnchors {
    /// The profile the data was of (an event is only looked for in the same profile).
    pub profile: ProfileId,
    pub follow: Option<Identifier>,
    /// The `seq` of the event selected on the timeline.
    pub event: Option<u64>,
    pub graph_selected: Option<Identifier>,
    pub graph_marked: Vec<Identifier>,
}

/// The health screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HealthView {
    pub report: Option<HealthReport>,
    pub pending: Option<u64>,
    /// How far the pending scan is, once it has said.
    pub progress: Option<ScanProgress>,
    pub error: Option<String>,
    pub cursor: Cursor,
}

/// A screen left for another, as Esc brings it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A profile as it was shown (tab, selections); reloaded when returned to. Its loaded
    /// data is let go once it is further back than [`BACK_LOADED`] profiles.
    Profile(Box<ProfileView>),
    Health,
    /// The audience list, or (with its selected row) one audience's member list.
    Audiences(Option<MembersView>),
}

/// The most places the way back keeps (the oldest are forgotten first).
pub const BACK_LIMIT: usize = 50;

/// The most profiles on the way back that keep their loaded data (events and all), to be
/// shown at once when returned to while they reload. Older ones keep their
/// [`ViewAnchors`] only: they show as loading until the reload arrives.
pub const BACK_LOADED: usize = 3;

/// Merge: pick the other profile, then preview and give a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MergeFlow {
    Pick {
        query: String,
        results: SearchResults,
        cursor: Cursor,
        issued: u64,
        pending: Option<u64>,
    },
    Preview {
        other: ProfileId,
        preview: Option<MergePreview>,
        error: Option<String>,
        pending: Option<u64>,
        reason: String,
        force: bool,
        scroll: u16,
        /// Why the form cannot go on yet (shown under the reason).
        hint: Option<String>,
    },
}

/// Split: mark identifiers, then preview and give a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitFlow {
    pub from: ProfileId,
    pub identifiers: Vec<Identifier>,
    pub marked: BTreeSet<usize>,
    pub cursor: Cursor,
    pub stage: SplitStage,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitStage {
    Mark {
        hint: Option<String>,
    },
    Preview {
        preview: Option<SplitPreview>,
        error: Option<String>,
        pending: Option<u64>,
        reason: String,
        scroll: u16,
        hint: Option<String>,
    },
}

/// A destructive action waiting for a yes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfirmAction {
    Merge {
        survivor: ProfileId,
        absorbed: ProfileId,
        reason: String,
        force: bool,
        conflicts: Vec<String>,
    },
    Split {
        from: ProfileId,
        moving: Vec<Identifier>,
        reason: String,
        moving_events: usize,
    },
    Undo {
        op: u64,
        summary: String,
        reason: String,
    },
}

/// Which timeline filter field a filter-menu row edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterField {
    Channel,
    App,
    Device,
    Type,
}

impl FilterField {
    pub const ALL: [FilterField; 4] = [
        FilterField::Channel,
        FilterField::App,
        FilterField::Device,
        FilterField::Type,
    ];

    pub fn title(self) -> &'static str {
        match self {
            FilterField::Channel => "channel",
            FilterField::App => "app",
            FilterField::Device => "device",
            FilterField::Type => "type",
        }
    }
}

/// A popup over the screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help {
        scroll: u16,
    },
    /// An event's original JSON.
    Event {
        title: String,
        json: String,
        scroll: u16,
    },
    Spaces {
        cursor: Cursor,
    },
    Filter {
        cursor: Cursor,
    },
    Merge(MergeFlow),
    Split(SplitFlow),
    Undo {
        entry: JournalEntry,
        reason: String,
        hint: Option<String>,
    },
    Confirm(ConfirmAction),
}

/// Where the store stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreStatus {
    Opening,
    Ready { profiles: u64 },
    Failed(String),
}

/// A line for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

/// Fixed settings of a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub redact: bool,
    pub mouse: bool,
    /// The address the in-process HTTP server listens on (`explore --listen`).
    pub live: Option<String>,
}

/// The whole explorer state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    /// The clock used for relative times (fixed in tests).
    pub now: Millis,
    pub settings: Settings,
    pub spaces: Vec<String>,
    pub space: String,
    pub store: StoreStatus,
    /// Events stored in the space since it was opened (arriving over HTTP while live).
    pub new_events: u64,
    /// Profiles and texts indexed, once the index is ready.
    pub index: Option<(usize, usize)>,
    pub screen: Screen,
    /// The way back: the places left for the one shown, the latest last. Esc returns to
    /// them in turn, then to search.
    pub back: Vec<Place>,
    pub find: Find,
    pub profile: Option<ProfileView>,
    pub health: HealthView,
    pub audiences: AudiencesView,
    pub modal: Option<Modal>,
    pub notice: Option<Notice>,
    /// Generation of the repair operation in flight.
    pub op_pending: Option<u64>,
    pub next_generation: u64,
    /// Spinner frame.
    pub tick: usize,
    /// Rows in a half page (set from the last layout).
    pub half_page: usize,
    pub quit: bool,
}

impl State {
    /// The state before anything has loaded.
    pub fn new(spaces: Vec<String>, space: String, settings: Settings, now: Millis) -> State {
        let mut spaces = spaces;
        if !spaces.contains(&space) {
            spaces.push(space.clone());
        }
        spaces.sort();
        State {
            now,
            settings,
            spaces,
            space,
            store: StoreStatus::Opening,
            new_events: 0,
            index: None,
            screen: Screen::Find,
            back: Vec::new(),
            find: Find {
                editing: true,
                ..Find::default()
            },
            profile: None,
            health: HealthView::default(),
            audiences: AudiencesView::default(),
            modal: None,
            notice: None,
            op_pending: None,
            next_generation: 1,
            tick: 0,
            half_page: 10,
            quit: false,
        }
    }

    /// A fresh generation number for a request.
    pub fn generation(&mut self) -> u64 {
        let g = self.next_generation;
        self.next_generation += 1;
        g
    }

    /// Whether anything is loading (the spinner turns).
    pub fn busy(&self) -> bool {
        matches!(self.store, StoreStatus::Opening)
            || (self.index.is_none() && !matches!(self.store, StoreStatus::Failed(_)))
            || self.find.pending.is_some()
            || self.profile.as_ref().is_some_and(|p| p.pending.is_some())
            || self.health.pending.is_some()
            || self.audiences.busy()
            || self.op_pending.is_some()
            || match &self.modal {
                Some(Modal::Merge(MergeFlow::Pick { pending, .. })) => pending.is_some(),
                Some(Modal::Merge(MergeFlow::Preview { pending, .. })) => pending.is_some(),
                Some(Modal::Split(SplitFlow {
                    stage: SplitStage::Preview { pending, .. },
                    ..
                })) => pending.is_some(),
                _ => false,
            }
    }

    /// The loaded data of the open profile.
    pub fn profile_data(&self) -> Option<&Arc<ProfileData>> {
        self.profile.as_ref().and_then(|p| p.data.as_ref())
    }

    /// Whether keys go to a text field.
    pub fn typing(&self) -> bool {
        match &self.modal {
            Some(Modal::Merge(_)) | Some(Modal::Undo { .. }) => true,
            Some(Modal::Split(SplitFlow {
                stage: SplitStage::Preview { .. },
                ..
            })) => true,
            Some(_) => false,
            None => self.screen == Screen::Find && self.find.editing,
        }
    }
}
