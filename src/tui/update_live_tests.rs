//! The live explorer: what the store worker's change feed does to the state (new people
//! become findable, the open profile reloads or follows a merge, stale updates are dropped).

use super::*;
use crate::model::Identifier;
use crate::query::GraphRepair;
use crate::tui::harness::{Harness, fresh_state, test_settings};
use crate::tui::state::Settings;
use crate::tui::worker::LiveUpdate;

fn live_update(changed: &[u64], removed: &[u64], new_events: u64) -> Msg {
    Msg::Reply(Reply::Live {
        space: "default".into(),
        update: LiveUpdate {
            new_events,
            changed: changed.iter().copied().map(ProfileId).collect(),
            removed: removed.iter().copied().map(ProfileId).collect(),
            everything: false,
        },
    })
}

fn opened(id: u64) -> State {
    let mut state = fresh_state(Settings {
        live: Some("127.0.0.1:8088".into()),
        ..test_settings()
    });
    state.profile = Some(ProfileView::new(ProfileId(id)));
    state.screen = Screen::Profile;
    state
}

#[test]
fn a_new_person_arriving_becomes_findable_and_counts_as_a_new_event() {
    let mut h = Harness::new();
    h.type_text("zoe.new");
    assert!(h.state.find.results.hits.is_empty());
    let id = h.fixture("default").arrive(
        None,
        "2024-03-20T11:00:00Z",
        "Signed Up",
        &["user_id:u-9001", "email:zoe.new@example.com"],
    );
    h.poll();
    assert_eq!(h.state.find.results.hits[0].profile, id);
    assert_eq!(h.state.new_events, 1);
    assert_eq!(h.state.store, StoreStatus::Ready { profiles: 6 });
    assert_eq!(h.state.index.map(|(profiles, _)| profiles), Some(6));
    // Nothing new: the next poll is quiet.
    let effects = h.effects.len();
    h.poll();
    assert_eq!(h.effects.len(), effects);
}

#[test]
fn the_open_profile_reloads_when_its_events_arrive_keeping_the_selected_event() {
    let mut h = Harness::new();
    h.type_text("ana silva")
        .act(Action::Open)
        .act(Action::TabTimeline);
    h.act(Action::Down).act(Action::Down);
    let data = h.state.profile_data().unwrap().clone();
    let view = h.state.profile.as_ref().unwrap();
    let selected = data.events[view.timeline.rows[view.timeline.cursor.selected]].seq;
    let before = data.events.len();
    h.fixture("default").arrive(
        Some(1),
        "2024-03-20T11:30:00Z",
        "Order Completed",
        &["user_id:u-1001"],
    );
    h.poll();
    let data = h.state.profile_data().unwrap();
    assert_eq!(data.events.len(), before + 1);
    assert_eq!(data.events[0].label, "Order Completed");
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(
        data.events[view.timeline.rows[view.timeline.cursor.selected]].seq, selected,
        "the selection stays on its event"
    );
    assert_eq!(view.tab, Tab::Timeline);
}

#[test]
fn an_open_profile_merged_away_is_followed_to_its_survivor() {
    let mut h = Harness::new();
    h.type_text("ana s.").act(Action::Open);
    assert_eq!(h.state.profile.as_ref().unwrap().id, ProfileId(4));
    // Another writer (the HTTP server) merges it while the explorer watches.
    h.fixture("default")
        .merge(ProfileId(1), ProfileId(4), "same person", true)
        .unwrap();
    h.poll();
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.id, ProfileId(1));
    let data = view.data.as_ref().unwrap();
    assert!(
        data.profile
            .has(&Identifier::new("email", "ana.silva@gmail.com"))
    );
    assert_eq!(
        h.state.notice.as_ref().unwrap().text,
        "p4 was merged into p1: showing p1"
    );
}

#[test]
fn only_changes_to_the_open_profile_reload_it() {
    let mut state = opened(3);
    assert!(update(&mut state, live_update(&[1, 2], &[], 4)).is_empty());
    assert_eq!(state.new_events, 4);
    let effects = update(&mut state, live_update(&[3], &[], 5));
    let [Effect::Store(Request::LoadProfile { generation, id, .. })] = effects.as_slice() else {
        panic!("a reload expected: {effects:?}");
    };
    assert_eq!(*id, ProfileId(3));
    assert_eq!(state.profile.as_ref().unwrap().pending, Some(*generation));
}

#[test]
fn a_load_in_flight_already_sees_the_change() {
    let mut state = opened(3);
    state.profile.as_mut().unwrap().pending = Some(7);
    assert!(update(&mut state, live_update(&[3], &[], 1)).is_empty());
    assert!(update(&mut state, live_update(&[], &[3], 1)).is_empty());
    assert_eq!(state.profile.as_ref().unwrap().pending, Some(7));
}

#[test]
fn a_removed_profile_without_data_is_reloaded_and_the_error_shown() {
    let mut state = opened(3);
    let effects = update(&mut state, live_update(&[], &[3], 0));
    assert!(matches!(
        effects.as_slice(),
        [Effect::Store(Request::LoadProfile {
            id: ProfileId(3),
            ..
        })]
    ));
}

#[test]
fn updates_from_another_space_are_dropped() {
    let mut state = opened(3);
    state.space = "eu-shop".into();
    assert!(update(&mut state, live_update(&[3], &[], 9)).is_empty());
    assert_eq!(state.new_events, 0);
}

#[test]
fn the_find_selection_stays_on_its_profile_while_the_list_reranks() {
    let mut h = Harness::new();
    h.act(Action::Back).act(Action::Down);
    let selected = h.state.find.results.hits[1].profile;
    h.fixture("default").arrive(
        None,
        "2024-03-20T11:45:00Z",
        "Signed Up",
        &["user_id:u-9002"],
    );
    h.poll();
    let hits = &h.state.find.results.hits;
    assert_eq!(hits.len(), 6);
    assert_eq!(hits[h.state.find.cursor.selected].profile, selected);
}

/// The graph tab's "why" marks and selection are on identifiers: a reload that lists the
/// nodes in another order (here p4 merged into the open p1 by another writer) keeps them on
/// the same identifiers.
#[test]
fn graph_marks_and_selection_stay_on_their_identifiers_across_a_reload() {
    let mut h = Harness::new();
    h.type_text("ana silva")
        .act(Action::Open)
        .act(Action::TabGraph)
        .act(Action::Down)
        .act(Action::Mark)
        .act(Action::Down)
        .act(Action::Mark);
    let named = |h: &Harness| {
        let view = h.state.profile.as_ref().unwrap();
        let nodes = &view.data.as_ref().unwrap().nodes;
        let marked: Vec<Identifier> = view
            .graph
            .marked
            .iter()
            .map(|&m| nodes[m].clone())
            .collect();
        (nodes[view.graph.cursor.selected].clone(), marked)
    };
    let before = named(&h);
    h.fixture("default")
        .merge(ProfileId(1), ProfileId(4), "same person", true)
        .unwrap();
    h.poll();
    let data = h.state.profile_data().unwrap();
    assert!(
        data.profile
            .has(&Identifier::new("anonymous_id", "a-and-2b7e"))
    );
    assert_eq!(named(&h), before);
}

/// A mark whose identifier left the profile (split away) is dropped, not moved to
/// another identifier.
#[test]
fn a_graph_mark_on_an_identifier_that_left_is_dropped() {
    let ids = |names: &[&str]| -> Vec<Identifier> {
        names.iter().map(|n| Identifier::new("email", *n)).collect()
    };
    let old = ids(&["a", "b", "c"]);
    let new = ids(&["a", "c"]);
    let mut graph = crate::tui::state::GraphView {
        cursor: Cursor { selected: 2 },
        marked: vec![1, 2],
        ..Default::default()
    };
    let anchors = ViewAnchors {
        profile: ProfileId(1),
        follow: None,
        event: None,
        graph_selected: Some(old[2].clone()),
        graph_marked: vec![old[1].clone(), old[2].clone()],
    };
    keep_graph_rows(&mut graph, Some(&anchors), &new);
    assert_eq!(graph.marked, vec![1]);
    assert_eq!(graph.cursor.selected, 1);
}
