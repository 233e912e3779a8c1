//! The audiences flow, key → action → new state: the Audiences screen, a member list, a
//! member's profile and back; stale answers dropped; what a live update or a repair does
//! to audience data on screen and off it; the Overview's audiences.

use super::*;
use crate::tui::audiences::{AudiencesView, MemberList};
use crate::tui::fixture::NOW;
use crate::tui::harness::{Harness, fresh_state, test_settings};
use crate::tui::keymap::{Chord, Keymap, Resolved};

fn counts(state: &State) -> Vec<(String, usize)> {
    state
        .audiences
        .list
        .data
        .as_ref()
        .expect("audiences loaded")
        .iter()
        .map(|a| (a.name.clone(), a.members))
        .collect()
}

fn member_ids(state: &State) -> Vec<u64> {
    state
        .audiences
        .members
        .as_ref()
        .and_then(|m| m.members.data.as_ref())
        .expect("members loaded")
        .rows
        .iter()
        .map(|r| r.profile.0)
        .collect()
}

fn store_requests(effects: &[Effect]) -> Vec<&Request> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Store(r) => Some(r),
            _ => None,
        })
        .collect()
}

#[test]
fn a_key_on_the_main_screen_opens_the_audiences_view() {
    let keymap = Keymap::defaults();
    let mut h = Harness::new();
    h.act(Action::Back);
    let key = Chord::parse("A").unwrap();
    assert_eq!(
        keymap.resolve(&key_contexts(&h.state), &[], key),
        Resolved::Action(Action::Audiences)
    );
    h.act(Action::Audiences);
    assert_eq!(h.state.screen, Screen::Audiences);
    assert_eq!(
        key_contexts(&h.state),
        vec![
            KeyContext::Audiences,
            KeyContext::Navigation,
            KeyContext::Global
        ]
    );
    assert_eq!(
        keymap.resolve(&key_contexts(&h.state), &[], Chord::parse("enter").unwrap()),
        Resolved::Action(Action::Open)
    );
    assert!(
        h.effects
            .iter()
            .any(|e| matches!(e, Effect::Store(Request::LoadAudiences { now: NOW, .. }))),
        "asked the store as of the explorer's clock: {:?}",
        h.effects
    );
    assert_eq!(
        counts(&h.state),
        vec![
            ("mobile_app_users".to_string(), 2),
            ("recent_buyers".to_string(), 2),
            ("review_request".to_string(), 1),
        ]
    );
    assert!(!h.state.busy());
}

#[test]
fn enter_lists_the_members_and_opens_a_members_profile_esc_walks_back() {
    let mut h = Harness::new();
    h.act(Action::Audiences).act(Action::Down).act(Action::Open);
    let view = h
        .state
        .audiences
        .members
        .as_ref()
        .expect("member list open");
    assert_eq!(view.audience, "recent_buyers");
    assert_eq!(member_ids(&h.state), vec![1, 2]);
    let ana = &view.members.data.as_ref().unwrap().rows[0];
    assert_eq!(ana.name.as_deref(), Some("Ana Silva"));
    assert_eq!(
        ana.identifiers
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "user_id:u-1001",
            "email:ana.silva@acme.io",
            "phone:+351912345678"
        ]
    );
    assert_eq!(ana.identifier_count, 7);
    assert_eq!(ana.why.reasons[0].events[0].label, "Order Completed");

    h.act(Action::Down).act(Action::Open);
    assert_eq!(h.state.screen, Screen::Profile);
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.id, ProfileId(2));
    assert!(
        matches!(h.state.back.last(), Some(Place::Audiences(Some(m))) if m.audience == "recent_buyers"),
        "{:?}",
        h.state.back
    );
    assert_eq!(h.state.profile_data().unwrap().profile.id, ProfileId(2));

    h.act(Action::Back);
    assert_eq!(h.state.screen, Screen::Audiences);
    assert_eq!(h.state.audiences.selected(), 1, "still on Bruno");
    h.act(Action::Back);
    assert!(h.state.audiences.members.is_none());
    assert_eq!(h.state.audiences.selected(), 1, "still on recent_buyers");
    h.act(Action::Back);
    assert_eq!(h.state.screen, Screen::Find);
}

#[test]
fn an_empty_audience_opens_an_empty_member_list() {
    let mut h = Harness::new();
    h.act(Action::SwitchSpace)
        .act(Action::Down)
        .act(Action::Open);
    h.act(Action::Back).act(Action::Audiences).act(Action::Open);
    assert_eq!(member_ids(&h.state), Vec::<u64>::new());
    let effects = h.effects.len();
    h.act(Action::Open);
    assert_eq!(h.effects.len(), effects, "no member, nothing to open");
    assert_eq!(h.state.screen, Screen::Audiences);
}

#[test]
fn stale_replies_are_dropped_and_a_reload_during_a_load_waits_for_it() {
    let mut state = fresh_state(test_settings());
    let effects = update(&mut state, Msg::Action(Action::Audiences));
    let [Request::LoadAudiences { generation, now }] = store_requests(&effects)[..] else {
        panic!("one audience load expected: {effects:?}");
    };
    let (first, now) = (*generation, *now);
    assert_eq!(now, NOW);
    assert!(state.audiences.busy());
    // r while the load is in flight sends nothing yet.
    assert!(update(&mut state, Msg::Action(Action::Refresh)).is_empty());
    let reply = |generation, members| {
        Msg::Reply(Reply::Audiences {
            generation,
            result: Ok(vec![crate::query::AudienceSummary {
                name: "a".into(),
                description: "d".into(),
                members,
            }]),
        })
    };
    assert!(update(&mut state, reply(first + 100, 9)).is_empty());
    assert!(state.audiences.list.data.is_none(), "stale answer dropped");
    let effects = update(&mut state, reply(first, 1));
    assert_eq!(counts(&state), vec![("a".to_string(), 1)]);
    let [Request::LoadAudiences { generation, .. }] = store_requests(&effects)[..] else {
        panic!("the reload asked for during the load goes out now: {effects:?}");
    };
    let second = *generation;
    assert!(update(&mut state, reply(first, 5)).is_empty());
    assert_eq!(counts(&state), vec![("a".to_string(), 1)]);
    assert!(update(&mut state, reply(second, 2)).is_empty());
    assert_eq!(counts(&state), vec![("a".to_string(), 2)]);
    assert!(!state.audiences.busy());
    let failed = Msg::Reply(Reply::Members {
        generation: second,
        result: Err::<MemberList, _>("x".into()),
    });
    assert!(update(&mut state, failed).is_empty());
    assert!(state.audiences.members.is_none());
}

#[test]
fn a_live_update_reloads_audiences_on_screen_and_marks_them_stale_elsewhere() {
    let mut h = Harness::new();
    h.act(Action::Audiences).act(Action::Down).act(Action::Open);
    assert_eq!(member_ids(&h.state), vec![1, 2]);
    let zoe = h.fixture("default").arrive(
        None,
        "2024-03-19T10:00:00Z",
        "Order Completed",
        &["user_id:u-9001"],
    );
    h.poll();
    assert_eq!(member_ids(&h.state), vec![1, 2, zoe.0]);
    assert_eq!(counts(&h.state)[1], ("recent_buyers".to_string(), 3));

    h.act(Action::Back).act(Action::Back);
    assert_eq!(h.state.screen, Screen::Find);
    h.fixture("default").arrive(
        Some(4),
        "2024-03-19T11:00:00Z",
        "Order Completed",
        &["anonymous_id:a-and-2b7e"],
    );
    let before = h.effects.len();
    h.poll();
    assert!(
        !h.effects[before..]
            .iter()
            .any(|e| matches!(e, Effect::Store(Request::LoadAudiences { .. }))),
        "nothing reloads off screen"
    );
    assert!(h.state.audiences.list.stale);
    h.act(Action::Audiences);
    assert!(!h.state.audiences.list.stale);
    assert_eq!(counts(&h.state)[1], ("recent_buyers".to_string(), 4));
}

#[test]
fn a_merge_moves_membership_and_the_audiences_follow() {
    let mut h = Harness::new();
    h.act(Action::Audiences).act(Action::Open);
    assert_eq!(member_ids(&h.state), vec![1, 4], "mobile_app_users");
    // Ana's profile, merged with her Android duplicate.
    h.act(Action::Open);
    assert_eq!(h.state.profile.as_ref().unwrap().id, ProfileId(1));
    h.act(Action::Merge)
        .act(Action::Open)
        .type_text("same person")
        .act(Action::Confirm)
        .act(Action::Confirm);
    assert!(h.state.audiences.list.stale);
    let names: Vec<&str> = h
        .state
        .profile_data()
        .unwrap()
        .audiences
        .as_ref()
        .unwrap()
        .iter()
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(
        names,
        ["mobile_app_users", "recent_buyers", "review_request"]
    );
    h.act(Action::Back);
    assert_eq!(h.state.screen, Screen::Audiences);
    assert_eq!(member_ids(&h.state), vec![1]);
    assert_eq!(counts(&h.state)[0], ("mobile_app_users".to_string(), 1));
    // Undo gives the duplicate back its membership.
    h.act(Action::Open)
        .act(Action::TabHistory)
        .act(Action::Bottom);
    h.act(Action::Undo)
        .type_text("two people after all")
        .act(Action::Confirm)
        .act(Action::Confirm);
    h.act(Action::Back);
    assert_eq!(member_ids(&h.state), vec![1, 4]);
}

#[test]
fn the_overview_carries_the_audiences_of_the_profile_and_why() {
    let mut h = Harness::new();
    h.type_text("bruno").act(Action::Open);
    let data = h.state.profile_data().unwrap();
    let audiences = data.audiences.as_ref().unwrap();
    assert_eq!(audiences.len(), 1);
    let (name, why) = &audiences[0];
    assert_eq!(name, "recent_buyers");
    assert!(why.member);
    assert_eq!(why.evaluated_at, NOW);
    assert_eq!(why.reasons[0].events[0].time, data.events[2].time);
    assert!(h.effects.iter().any(|e| matches!(
        e,
        Effect::Store(Request::LoadProfile {
            id: ProfileId(2),
            now: NOW,
            ..
        })
    )));
    // Carla's family tablet is left out of the app users by her plan.
    h.act(Action::Search)
        .act(Action::ClearInput)
        .type_text("carla")
        .act(Action::Open);
    let data = h.state.profile_data().unwrap();
    assert_eq!(data.audiences, Ok(Vec::new()));
}

#[test]
fn switching_space_forgets_the_audiences() {
    let mut h = Harness::new();
    h.act(Action::Audiences).act(Action::Open);
    assert!(h.state.audiences.members.is_some());
    h.act(Action::SwitchSpace)
        .act(Action::Down)
        .act(Action::Open);
    assert_eq!(h.state.space, "eu-shop");
    assert_eq!(h.state.audiences, AudiencesView::default());
    h.act(Action::Back).act(Action::Audiences);
    assert_eq!(counts(&h.state)[0], ("mobile_app_users".to_string(), 0));
}
