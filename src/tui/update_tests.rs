use super::*;
use crate::model::Identifier;
use crate::query::GraphRepair;
use crate::tui::harness::{Harness, fresh_state, test_settings};

fn fresh() -> State {
    fresh_state(test_settings())
}

fn profile_open(h: &mut Harness, query: &str) {
    h.type_text(query).act(Action::Open);
    assert_eq!(h.state.screen, Screen::Profile, "{query}");
    assert!(h.state.profile_data().is_some());
}

#[test]
fn init_opens_the_space_and_asks_for_recent_profiles() {
    let mut state = fresh();
    let effects = init(&mut state);
    assert_eq!(
        effects[0],
        Effect::Store(Request::OpenSpace {
            space: "default".into()
        })
    );
    assert!(matches!(&effects[1], Effect::Search { query, .. } if query.is_empty()));
    assert!(state.busy());
    assert!(state.typing());
}

#[test]
fn typing_searches_and_stale_results_are_dropped() {
    let mut state = fresh();
    init(&mut state);
    let first = update(&mut state, Msg::Insert('a'));
    let second = update(&mut state, Msg::Insert('n'));
    let (
        Effect::Search { generation: g1, .. },
        Effect::Search {
            generation: g2,
            query,
            ..
        },
    ) = (&first[0], &second[0])
    else {
        panic!("searches expected");
    };
    assert_eq!(query, "an");
    let stale = crate::query::search::SearchResults {
        query: "a".into(),
        complete: true,
        matched: 9,
        ..Default::default()
    };
    update(
        &mut state,
        Msg::Search(SearchUpdate {
            generation: *g1,
            results: stale,
            elapsed: Default::default(),
        }),
    );
    assert_eq!(
        state.find.results.matched, 0,
        "stale results must be dropped"
    );
    assert_eq!(state.find.pending, Some(*g2));
    update(&mut state, Msg::Backspace);
    assert_eq!(state.find.query, "a");
}

#[test]
fn search_flow_opens_the_ranked_profile() {
    let mut h = Harness::new();
    assert_eq!(h.state.store, StoreStatus::Ready { profiles: 5 });
    assert_eq!(
        h.state.find.results.hits.len(),
        5,
        "recent profiles before typing"
    );
    h.type_text("bruno");
    assert_eq!(h.state.find.results.hits[0].profile, ProfileId(2));
    h.act(Action::Open);
    assert_eq!(h.state.screen, Screen::Profile);
    assert_eq!(h.state.profile_data().unwrap().profile.id, ProfileId(2));
    h.act(Action::Back);
    assert_eq!(h.state.screen, Screen::Find);
    assert!(!h.state.find.editing);
    h.act(Action::Search);
    assert!(h.state.find.editing);
}

#[test]
fn slash_in_the_empty_search_box_is_the_search_key_not_text() {
    let mut h = Harness::new();
    h.send(Msg::Insert('/')).type_text("bruno");
    assert_eq!(h.state.find.query, "bruno");
    h.send(Msg::Insert('/'));
    assert_eq!(h.state.find.query, "bruno/");
}

#[test]
fn pasting_an_exact_identifier_jumps_to_its_profile() {
    let mut h = Harness::new();
    h.send(Msg::Paste("user_id:u-2001\n".into()));
    assert_eq!(h.state.screen, Screen::Profile);
    assert_eq!(h.state.profile.as_ref().unwrap().id, ProfileId(3));
}

#[test]
fn next_and_previous_match_walk_the_results() {
    let mut h = Harness::new();
    h.type_text("ana");
    let order: Vec<ProfileId> = h
        .state
        .find
        .results
        .hits
        .iter()
        .map(|h| h.profile)
        .collect();
    assert!(order.len() >= 2);
    h.act(Action::Open);
    h.act(Action::NextMatch);
    assert_eq!(h.state.profile.as_ref().unwrap().id, order[1]);
    h.act(Action::PrevMatch);
    assert_eq!(h.state.profile.as_ref().unwrap().id, order[0]);
}

#[test]
fn a_click_selects_a_result_and_a_click_on_the_selected_one_opens_it() {
    let mut h = Harness::new();
    h.type_text("ana");
    let second = h.state.find.results.hits[1].profile;
    h.send(Msg::Click(Target::Row(1)));
    assert_eq!(
        (h.state.screen, h.state.find.cursor.selected),
        (Screen::Find, 1)
    );
    h.send(Msg::Click(Target::Row(1)));
    assert_eq!(h.state.screen, Screen::Profile);
    assert_eq!(h.state.profile.as_ref().unwrap().id, second);
}

#[test]
fn a_notice_stays_until_the_next_thing_the_user_does() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::Copy);
    assert!(
        h.state
            .notice
            .as_ref()
            .is_some_and(|n| n.text.starts_with("copied"))
    );
    h.send(Msg::Tick);
    assert!(h.state.notice.is_some(), "the clock does not clear it");
    h.act(Action::Down);
    assert_eq!(h.state.notice, None);
}

#[test]
fn tabs_switch_by_number_and_cycle() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    let tab = |h: &Harness| h.state.profile.as_ref().unwrap().tab;
    h.act(Action::TabGraph);
    assert_eq!(tab(&h), Tab::Graph);
    h.act(Action::NextTab);
    assert_eq!(tab(&h), Tab::History);
    h.act(Action::NextTab);
    assert_eq!(tab(&h), Tab::Overview);
    h.act(Action::PrevTab);
    assert_eq!(tab(&h), Tab::History);
    h.send(Msg::Click(Target::Tab(Tab::Timeline)));
    assert_eq!(tab(&h), Tab::Timeline);
    assert_eq!(key_contexts(&h.state)[0], KeyContext::Timeline);
}

#[test]
fn timeline_filters_and_event_popup() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::TabTimeline);
    let all = h.state.profile.as_ref().unwrap().timeline.rows.len();
    assert_eq!(all, 13);
    h.act(Action::Filter);
    assert!(matches!(h.state.modal, Some(Modal::Filter { .. })));
    h.act(Action::Right); // channel: android
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.timeline.filter.channel.as_deref(), Some("android"));
    assert_eq!(view.timeline.rows.len(), 2);
    h.act(Action::Down)
        .act(Action::Down)
        .act(Action::Down)
        .act(Action::Right); // type: the first seen on android
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.timeline.filter.call, Some(CallType::Track));
    assert_eq!(view.timeline.rows.len(), 1);
    h.act(Action::ClearFilter).act(Action::Back);
    assert_eq!(h.state.profile.as_ref().unwrap().timeline.rows.len(), all);
    h.act(Action::Bottom).act(Action::Open);
    let Some(Modal::Event { json, .. }) = &h.state.modal else {
        panic!("event popup expected");
    };
    assert!(json.contains("\"anonymousId\": \"a-web-5f1c\""), "{json}");
    h.act(Action::Down).act(Action::Back);
    assert!(h.state.modal.is_none());
}

/// With a channel chosen, the filter offers only the apps and devices seen on that channel
/// (it offered every device of the profile, and one of another channel emptied the
/// timeline); no value offered leaves the timeline empty.
#[test]
fn the_filter_offers_only_apps_and_devices_seen_on_the_chosen_channel() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::TabTimeline).act(Action::Filter);
    // Every value a row offers, in turn, with how many events each leaves.
    let offered = |h: &mut Harness| {
        let mut seen = Vec::new();
        loop {
            h.act(Action::Right);
            let view = h.state.profile.as_ref().unwrap();
            let filter = &view.timeline.filter;
            let Some(value) = filter.app.clone().or(filter.device.clone()) else {
                return seen;
            };
            seen.push((value, view.timeline.rows.len()));
        }
    };
    h.act(Action::Right).act(Action::Right); // channel: ios
    let channel = h
        .state
        .profile
        .as_ref()
        .unwrap()
        .timeline
        .filter
        .channel
        .clone();
    assert_eq!(channel.as_deref(), Some("ios"));
    h.act(Action::Down);
    assert_eq!(offered(&mut h), [("Shop iOS".to_string(), 3)]);
    h.act(Action::Down);
    assert_eq!(offered(&mut h), [("iPhone15,2 (IOS-7F3A)".to_string(), 3)]);
}

#[test]
fn merge_preview_needs_a_reason_and_can_be_cancelled() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::Merge);
    let Some(Modal::Merge(MergeFlow::Pick { results, .. })) = &h.state.modal else {
        panic!("merge picker expected");
    };
    assert!(
        results.hits.iter().all(|hit| hit.profile != ProfileId(1)),
        "own profile hidden"
    );
    assert_eq!(
        results.hits[0].profile,
        ProfileId(4),
        "the duplicate ranks first"
    );
    h.act(Action::Open);
    let Some(Modal::Merge(MergeFlow::Preview {
        preview: Some(p), ..
    })) = &h.state.modal
    else {
        panic!("preview expected: {:?}", h.state.modal);
    };
    assert!(p.conflicts.is_empty());
    h.act(Action::Confirm);
    assert!(matches!(
        &h.state.modal,
        Some(Modal::Merge(MergeFlow::Preview { hint: Some(_), .. }))
    ));
    h.type_text("same person, personal email");
    h.act(Action::Confirm);
    assert!(matches!(
        &h.state.modal,
        Some(Modal::Confirm(ConfirmAction::Merge { .. }))
    ));
    h.act(Action::Back);
    assert!(h.state.modal.is_none());
    assert_eq!(h.state.notice.as_ref().unwrap().text, "cancelled");
}

#[test]
fn merge_confirmed_reloads_and_reindexes() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::Merge)
        .act(Action::Open)
        .type_text("same person")
        .act(Action::Confirm)
        .act(Action::Confirm);
    assert_eq!(h.state.op_pending, None);
    let data = h.state.profile_data().unwrap();
    assert_eq!(data.profile.id, ProfileId(1));
    assert!(
        data.profile
            .has(&Identifier::new("email", "ana.silva@gmail.com"))
    );
    assert!(
        h.state
            .notice
            .as_ref()
            .unwrap()
            .text
            .contains("merge p1 <- p4")
    );
    assert_eq!(h.state.index.map(|(profiles, _)| profiles), Some(4));
}

#[test]
fn merge_with_conflicts_requires_force() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::Merge)
        .act(Action::ClearInput)
        .type_text("carla")
        .act(Action::Open);
    let Some(Modal::Merge(MergeFlow::Preview {
        preview: Some(p), ..
    })) = &h.state.modal
    else {
        panic!("preview expected");
    };
    assert!(!p.conflicts.is_empty());
    h.type_text("shared tablet, same family")
        .act(Action::Confirm);
    let Some(Modal::Merge(MergeFlow::Preview {
        hint: Some(hint), ..
    })) = &h.state.modal
    else {
        panic!("hint expected");
    };
    assert!(hint.contains("force"));
    h.act(Action::ToggleForce).act(Action::Confirm);
    let Some(Modal::Confirm(ConfirmAction::Merge { force, .. })) = &h.state.modal else {
        panic!("confirm expected");
    };
    assert!(force);
    h.act(Action::Confirm);
    assert!(
        h.state
            .notice
            .as_ref()
            .unwrap()
            .text
            .contains("forced merge")
    );
}

/// The rows of the open split form listing these identifier values.
fn split_rows<const N: usize>(h: &Harness, values: [&str; N]) -> [usize; N] {
    let Some(Modal::Split(flow)) = &h.state.modal else {
        panic!("split expected: {:?}", h.state.modal);
    };
    values.map(|value| {
        flow.identifiers
            .iter()
            .position(|i| i.value == value)
            .unwrap_or_else(|| panic!("{value} is not in the split form"))
    })
}

#[test]
fn split_marks_previews_and_confirms_with_reason() {
    let mut h = Harness::new();
    profile_open(&mut h, "carla");
    h.act(Action::Split);
    let [kid, anon] = split_rows(&h, ["kid.novak@school.example.net", "a-ipad-002"]);
    h.act(Action::Open);
    assert!(matches!(
        &h.state.modal,
        Some(Modal::Split(SplitFlow {
            stage: SplitStage::Mark { hint: Some(_) },
            ..
        }))
    ));
    for target in [anon, kid] {
        h.send(Msg::Click(Target::Row(target))).act(Action::Mark);
    }
    h.act(Action::Open);
    let Some(Modal::Split(SplitFlow {
        stage: SplitStage::Preview {
            preview: Some(p), ..
        },
        ..
    })) = &h.state.modal
    else {
        panic!("split preview expected: {:?}", h.state.modal);
    };
    assert_eq!(p.moving.len(), 2);
    h.type_text("kid's own account").act(Action::Confirm);
    assert!(matches!(
        &h.state.modal,
        Some(Modal::Confirm(ConfirmAction::Split { .. }))
    ));
    h.act(Action::Confirm);
    assert!(
        h.state
            .notice
            .as_ref()
            .unwrap()
            .text
            .contains("split p3 -> p6")
    );
    assert_eq!(h.state.profile_data().unwrap().profile.identifiers.len(), 7);
}

#[test]
fn undo_from_history() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::Merge)
        .act(Action::Open)
        .type_text("dup")
        .act(Action::Confirm)
        .act(Action::Confirm);
    h.act(Action::TabHistory)
        .act(Action::Bottom)
        .act(Action::Undo);
    let Some(Modal::Undo { entry, .. }) = &h.state.modal else {
        panic!("undo form expected");
    };
    assert_eq!(entry.op, 2);
    h.act(Action::Confirm);
    assert!(matches!(
        &h.state.modal,
        Some(Modal::Undo { hint: Some(_), .. })
    ));
    h.type_text("not the same person")
        .act(Action::Confirm)
        .act(Action::Confirm);
    assert!(h.state.notice.as_ref().unwrap().text.contains("undo #2"));
    assert!(
        !h.state
            .profile_data()
            .unwrap()
            .profile
            .has(&Identifier::new("email", "ana.silva@gmail.com"))
    );
    // The undone entry cannot be undone twice.
    h.act(Action::Top).act(Action::Down).act(Action::Undo);
    assert!(h.state.modal.is_none());
    assert!(h.state.notice.as_ref().unwrap().error);
}

#[test]
fn space_switch_isolates_everything() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana");
    h.act(Action::SwitchSpace)
        .act(Action::Down)
        .act(Action::Open);
    assert_eq!(h.state.space, "eu-shop");
    assert!(h.state.profile.is_none());
    assert_eq!(h.state.store, StoreStatus::Ready { profiles: 1 });
    h.type_text("ana");
    assert!(
        h.state.find.results.hits.is_empty(),
        "no profile of another space leaks"
    );
    h.act(Action::ClearInput).type_text("farid");
    assert_eq!(h.state.find.results.hits.len(), 1);
}

#[test]
fn stale_replies_from_an_old_space_are_dropped() {
    let mut state = fresh();
    state.space = "eu-shop".into();
    update(
        &mut state,
        Msg::Reply(Reply::Opened {
            space: "default".into(),
            profiles: 9,
        }),
    );
    assert_eq!(state.store, StoreStatus::Opening);
}

/// A store another process holds: keys are commands, not search text; r tries to open it
/// again (and it opens once the other process has let go), q quits.
#[test]
fn a_store_in_use_can_be_tried_again_or_left() {
    let mut state = fresh();
    init(&mut state);
    let in_use = |state: &mut State| {
        let error = crate::store::OpenError::InUse("/data/idgraph".into()).to_string();
        update(
            state,
            Msg::Reply(Reply::OpenFailed {
                space: "default".into(),
                error: error.clone(),
            }),
        );
        assert_eq!(state.store, StoreStatus::Failed(error));
    };
    let press = |state: &State, key: &str| {
        let chord = crate::tui::keymap::Chord::parse(key).unwrap();
        match crate::tui::keymap::Keymap::defaults().resolve(&key_contexts(state), &[], chord) {
            crate::tui::keymap::Resolved::Action(action) => action,
            other => panic!("{key}: {other:?}"),
        }
    };
    in_use(&mut state);
    assert!(!state.typing());
    assert_eq!(key_contexts(&state)[0], KeyContext::Unavailable);
    let retry = press(&state, "r");
    let effects = update(&mut state, Msg::Action(retry));
    assert_eq!(
        effects[0],
        Effect::Store(Request::OpenSpace {
            space: "default".into()
        })
    );
    assert_eq!(state.store, StoreStatus::Opening);
    update(
        &mut state,
        Msg::Reply(Reply::Opened {
            space: "default".into(),
            profiles: 5,
        }),
    );
    assert_eq!(state.store, StoreStatus::Ready { profiles: 5 });
    in_use(&mut state);
    let quit = press(&state, "q");
    assert_eq!(update(&mut state, Msg::Action(quit)), vec![Effect::Quit]);
}

#[test]
fn help_opens_scrolls_and_closes() {
    let mut h = Harness::new();
    h.act(Action::Back).act(Action::Help);
    assert_eq!(h.state.modal, Some(Modal::Help { scroll: 0 }));
    assert_eq!(key_contexts(&h.state)[0], KeyContext::Popup);
    h.act(Action::Down).act(Action::Down);
    assert_eq!(h.state.modal, Some(Modal::Help { scroll: 2 }));
    h.act(Action::Back);
    assert!(h.state.modal.is_none());
}

#[test]
fn health_lists_the_bad_merge_first_and_opens_it() {
    let mut h = Harness::new();
    h.act(Action::Back).act(Action::Health);
    let report = h.state.health.report.as_ref().unwrap();
    assert_eq!(report.items[0].profile, ProfileId(3));
    h.act(Action::Open);
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.id, ProfileId(3));
    // It refused other user ids: the violations list shows why, with the keys on it.
    assert_eq!(view.tab, Tab::Graph);
    assert_eq!(view.graph.focus, GraphFocus::Violations);
    h.act(Action::Back);
    assert_eq!(h.state.screen, Screen::Health);
}

/// Health opens a profile where its finding shows.
#[test]
fn health_opens_each_finding_where_it_shows() {
    use crate::model::Identifier;
    use crate::query::health::Finding;
    let junk = Finding::JunkHeld {
        identifier: Identifier::new("email", "test@test.com"),
        rule: "junk".into(),
    };
    let cases = [
        (
            vec![junk.clone(), Finding::UserIdsHeld { count: 2 }],
            (Tab::Graph, false),
        ),
        (vec![Finding::ForcedMerge { op: 4 }], (Tab::History, false)),
        (
            vec![Finding::HoldsSharedIdentifiers {
                with: vec![ProfileId(9)],
            }],
            (Tab::Graph, false),
        ),
        (
            vec![junk.clone(), Finding::UserIdsRefused { count: 1 }],
            (Tab::Graph, true),
        ),
        (
            vec![Finding::SharedWithKnown {
                identifiers: 2,
                events: 3,
            }],
            (Tab::Graph, true),
        ),
        (vec![junk], (Tab::Overview, false)),
        (
            vec![Finding::Outsized {
                kind: "ios.id".into(),
                count: 9,
                usual: 1,
            }],
            (Tab::Overview, false),
        ),
        (vec![Finding::JunkBlocked { count: 3 }], (Tab::Graph, true)),
    ];
    for (findings, place) in cases {
        assert_eq!(where_to_look(&findings), place, "{findings:?}");
    }
}

/// Two people's user ids forced into one profile rank above the shared iPad, whose other
/// user ids the limit refused; Health says which ids a profile holds and which it refused.
#[test]
fn health_ranks_a_forced_merge_of_two_user_ids_above_a_shared_device() {
    let mut h = Harness::new();
    let entry = h
        .fixture("default")
        .merge(ProfileId(1), ProfileId(2), "same household", true)
        .unwrap()
        .entry;
    let crate::model::JournalAction::Merge { survivor, .. } = entry.action else {
        panic!("a merge expected: {entry:?}");
    };
    h.act(Action::Back).act(Action::Health);
    let report = h.state.health.report.as_ref().unwrap();
    let texts = |id: ProfileId| -> Vec<String> {
        let item = report.items.iter().find(|i| i.profile == id).unwrap();
        item.findings.iter().map(ToString::to_string).collect()
    };
    assert_eq!(report.items[0].profile, survivor, "{:?}", report.items);
    assert_eq!(
        texts(survivor),
        [
            "holds 2 user_ids".to_string(),
            format!("forced merge #{}", entry.op)
        ]
    );
    let ipad = texts(ProfileId(3));
    assert!(
        ipad.contains(&"2 other user_ids refused".to_string()),
        "{ipad:?}"
    );
    assert!(ipad.iter().all(|t| !t.contains("attempted")), "{ipad:?}");
}

/// Health and Audiences opened from a profile go back to that profile, not to search.
#[test]
fn esc_from_health_or_audiences_returns_to_the_open_profile() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    for screen in [Action::Health, Action::Audiences] {
        h.act(screen).act(Action::Back);
        assert_eq!(h.state.screen, Screen::Profile, "{screen:?}");
        assert_eq!(h.state.profile.as_ref().unwrap().id, ProfileId(1));
    }
    h.act(Action::Back);
    assert_eq!(h.state.screen, Screen::Find);
}

/// The screen shown and, on a profile, which one.
fn place(h: &Harness) -> (Screen, Option<ProfileId>) {
    let id = (h.state.screen == Screen::Profile)
        .then(|| h.state.profile.as_ref().map(|p| p.id))
        .flatten();
    (h.state.screen, id)
}

/// Esc from `h` until search, with each place it passes.
fn way_back(h: &mut Harness) -> Vec<(Screen, Option<ProfileId>)> {
    let mut way = Vec::new();
    while h.state.screen != Screen::Find && way.len() < 20 {
        h.act(Action::Back);
        way.push(place(h));
    }
    way
}

/// However screens are opened from one another, Esc walks back through each screen and
/// profile visited, the latest first, and ends at search.
#[test]
fn esc_walks_back_through_every_place_visited() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    // Profile -> Health -> Profile of the bad merge -> Health again -> Audiences.
    h.act(Action::Health).act(Action::Open);
    assert_eq!(h.state.profile.as_ref().unwrap().id, ProfileId(3));
    h.act(Action::Health).act(Action::Audiences);
    assert_eq!(
        way_back(&mut h),
        vec![
            (Screen::Health, None),
            (Screen::Profile, Some(ProfileId(3))),
            (Screen::Health, None),
            (Screen::Profile, Some(ProfileId(1))),
            (Screen::Find, None),
        ]
    );
}

/// Health → a profile → Audiences → a member's profile: Esc comes back to the member list,
/// the audience list, the profile in the middle (on the tab it was left on), Health, then
/// search (the middle profile used to be skipped: one "return to" slot).
#[test]
fn esc_returns_through_a_chain_of_profiles_in_order() {
    let mut h = Harness::new();
    h.act(Action::Back).act(Action::Health).act(Action::Open);
    assert_eq!(place(&h), (Screen::Profile, Some(ProfileId(3))));
    h.act(Action::TabGraph)
        .act(Action::Audiences)
        .act(Action::Down)
        .act(Action::Open)
        .act(Action::Down)
        .act(Action::Open);
    assert_eq!(place(&h), (Screen::Profile, Some(ProfileId(2))));
    h.act(Action::Back);
    assert_eq!(place(&h), (Screen::Audiences, None));
    let members = h
        .state
        .audiences
        .members
        .as_ref()
        .map(|m| m.audience.as_str());
    assert_eq!(members, Some("recent_buyers"));
    h.act(Action::Back);
    assert!(h.state.audiences.members.is_none());
    h.act(Action::Back);
    assert_eq!(place(&h), (Screen::Profile, Some(ProfileId(3))));
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.tab, Tab::Graph);
    assert!(view.data.is_some() && view.error.is_none());
    assert_eq!(
        way_back(&mut h),
        vec![(Screen::Health, None), (Screen::Find, None)]
    );
}

/// Only the latest BACK_LOADED profiles on the way back keep their loaded data. An older one
/// shows as loading when returned to (followed by its first identifier, like any other),
/// then comes back on the tab, graph cursor and marks and timeline event it was left with.
#[test]
fn profiles_far_back_let_go_of_their_data_and_reload_as_they_were() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::TabTimeline)
        .act(Action::Down)
        .act(Action::Down);
    h.act(Action::TabGraph)
        .act(Action::Mark)
        .act(Action::Down)
        .act(Action::Down)
        .act(Action::Mark)
        .act(Action::Down);
    let (left, event, selected, marked) = {
        let view = h.state.profile.as_ref().unwrap();
        let data = view.data.as_ref().unwrap();
        let node = |row: usize| data.nodes[row].clone();
        let event = data.events[view.timeline.rows[view.timeline.cursor.selected]].seq;
        let marked: Vec<Identifier> = view.graph.marked.iter().map(|&m| node(m)).collect();
        assert_eq!(marked.len(), 2);
        (
            Arc::downgrade(data),
            event,
            node(view.graph.cursor.selected),
            marked,
        )
    };
    // Health, and a profile from it, until Ana is BACK_LOADED profiles back and one more.
    for _ in 0..=BACK_LOADED {
        h.act(Action::Health).act(Action::Open);
    }
    let loaded: Vec<bool> = h
        .state
        .back
        .iter()
        .filter_map(|place| match place {
            Place::Profile(view) => Some(view.data.is_some()),
            _ => None,
        })
        .collect();
    assert_eq!(loaded.len(), BACK_LOADED + 1);
    assert!(!loaded[0] && loaded[1..].iter().all(|&l| l), "{loaded:?}");
    assert!(left.upgrade().is_none(), "Ana's loaded data is still held");

    while h.state.back.len() > 1 {
        h.act(Action::Back);
    }
    let effects = update(&mut h.state, Action::Back.into());
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!((h.state.screen, view.id), (Screen::Profile, ProfileId(1)));
    assert!(view.data.is_none() && view.pending.is_some());
    assert!(
        matches!(&effects[..], [Effect::Store(Request::FollowProfile { .. })]),
        "{effects:?}"
    );
    h.run(effects);
    let view = h.state.profile.as_ref().unwrap();
    let data = view.data.as_ref().unwrap();
    assert_eq!(view.tab, Tab::Graph);
    assert_eq!(data.nodes[view.graph.cursor.selected], selected);
    let marks: Vec<&Identifier> = view.graph.marked.iter().map(|&m| &data.nodes[m]).collect();
    assert_eq!(marks, marked.iter().collect::<Vec<_>>());
    let row = view.timeline.rows[view.timeline.cursor.selected];
    assert_eq!(data.events[row].seq, event);
    assert!(view.anchors.is_none());
}

/// The next search match takes the open profile's place: Esc does not walk through every
/// match seen. `/` starts the way back afresh.
#[test]
fn next_match_and_search_do_not_lengthen_the_way_back() {
    let mut h = Harness::new();
    h.type_text("ana").act(Action::Open);
    h.act(Action::NextMatch);
    assert_eq!(way_back(&mut h), vec![(Screen::Find, None)]);
    h.act(Action::Open).act(Action::Health).act(Action::Search);
    assert!(h.state.back.is_empty());
}

#[test]
fn graph_marks_two_nodes_for_why() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::TabGraph)
        .act(Action::Mark)
        .act(Action::Down)
        .act(Action::Mark)
        .act(Action::Down)
        .act(Action::Mark);
    assert_eq!(h.state.profile.as_ref().unwrap().graph.marked, vec![1, 2]);
    h.act(Action::ClearMarks);
    assert!(h.state.profile.as_ref().unwrap().graph.marked.is_empty());
}

/// On the Identity graph tab `v` gives the keys (and the wheel) to the violations list and
/// back; c copies the selected violation's identifier; a click on the other list's row
/// moves the focus there.
#[test]
fn the_violations_list_takes_the_keys_in_turn_with_the_identifiers() {
    let mut h = Harness::new();
    profile_open(&mut h, "carla");
    h.act(Action::TabGraph).press("v");
    let graph = |h: &Harness| h.state.profile.as_ref().unwrap().graph.clone();
    assert_eq!(graph(&h).focus, GraphFocus::Violations);
    assert_eq!(key_contexts(&h.state)[0], KeyContext::Graph);
    h.act(Action::Down);
    assert_eq!(
        (graph(&h).violations.selected, graph(&h).cursor.selected),
        (1, 0)
    );
    h.act(Action::Bottom).act(Action::Copy);
    let violations = &h.state.profile_data().unwrap().violations;
    assert_eq!(graph(&h).violations.selected, violations.len() - 1);
    assert_eq!(
        h.copied.last(),
        Some(&violations[violations.len() - 1].identifier.to_string())
    );
    h.send(Msg::Scroll(-1));
    assert_eq!(graph(&h).violations.selected, 0);
    h.act(Action::Mark);
    assert!(graph(&h).marked.is_empty(), "marks are for identifiers");
    h.press("v").act(Action::Down);
    assert_eq!(graph(&h).focus, GraphFocus::Identifiers);
    assert_eq!(
        (graph(&h).violations.selected, graph(&h).cursor.selected),
        (0, 1)
    );
    h.send(Msg::Click(Target::OtherRow(2)));
    assert_eq!(graph(&h).focus, GraphFocus::Violations);
    assert_eq!(graph(&h).violations.selected, 2);
}

/// A profile without violations keeps the keys on its identifiers, and says why.
#[test]
fn no_violations_no_violations_list() {
    let mut h = Harness::new();
    profile_open(&mut h, "bruno");
    h.act(Action::TabGraph).press("v");
    assert_eq!(
        h.state.profile.as_ref().unwrap().graph.focus,
        GraphFocus::Identifiers
    );
    assert!(
        h.state
            .notice
            .as_ref()
            .unwrap()
            .text
            .contains("no violations")
    );
}

#[test]
fn copy_identifier_and_profile_json() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::Copy).act(Action::CopyJson);
    assert_eq!(h.copied[0], "user_id:u-1001");
    let v: serde_json::Value = serde_json::from_str(&h.copied[1]).unwrap();
    assert_eq!(v["profile_id"], "p1");
    assert_eq!(v["space"], "default");
}

/// The event JSON popup's `c` copies the JSON it shows, with the usual notice, and the
/// popup stays open.
#[test]
fn c_in_the_event_popup_copies_the_event_json() {
    let mut h = Harness::new();
    profile_open(&mut h, "ana silva");
    h.act(Action::TabTimeline)
        .act(Action::Down)
        .act(Action::Open);
    let Some(Modal::Event { json, .. }) = h.state.modal.clone() else {
        panic!("event popup expected");
    };
    h.press("c");
    assert_eq!(h.copied, vec![json]);
    let notice = h.state.notice.as_ref().unwrap();
    assert!(notice.text.starts_with("copied {"), "{notice:?}");
    assert!(matches!(h.state.modal, Some(Modal::Event { .. })));
}

#[test]
fn quit_from_anywhere() {
    let mut state = fresh();
    assert_eq!(
        update(&mut state, Msg::Action(Action::Quit)),
        vec![Effect::Quit]
    );
    assert!(state.quit);
}

/// Undoing a split from the split-off profile's History puts its identifiers back where
/// they came from: the explorer follows them there instead of keeping a stale copy of a
/// profile that no longer exists.
#[test]
fn undoing_a_split_from_the_split_off_profile_follows_its_identifiers() {
    let mut h = Harness::new();
    profile_open(&mut h, "carla");
    h.act(Action::Split);
    let [kid] = split_rows(&h, ["kid.novak@school.example.net"]);
    h.send(Msg::Click(Target::Row(kid)))
        .act(Action::Mark)
        .act(Action::Open)
        .type_text("kid's own account")
        .act(Action::Confirm)
        .act(Action::Confirm);
    h.act(Action::Search)
        .act(Action::ClearInput)
        .type_text("kid.novak")
        .act(Action::Open);
    assert_eq!(h.state.profile.as_ref().unwrap().id, ProfileId(6));
    h.act(Action::TabHistory)
        .act(Action::Bottom)
        .act(Action::Undo)
        .type_text("same account after all")
        .act(Action::Confirm)
        .act(Action::Confirm);
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.id, ProfileId(3));
    assert_eq!(view.error, None);
    assert!(
        h.state
            .profile_data()
            .unwrap()
            .profile
            .has(&Identifier::new("email", "kid.novak@school.example.net"))
    );
}

/// A merge leaves no stale match behind: back in Find the merged-away profile is gone.
#[test]
fn search_results_follow_a_merge() {
    let mut h = Harness::new();
    let listed = |h: &Harness| -> Vec<ProfileId> {
        h.state
            .find
            .results
            .hits
            .iter()
            .map(|hit| hit.profile)
            .collect()
    };
    profile_open(&mut h, "ana");
    assert!(listed(&h).contains(&ProfileId(4)), "{:?}", listed(&h));
    h.act(Action::Merge)
        .act(Action::Open)
        .type_text("same person")
        .act(Action::Confirm)
        .act(Action::Confirm);
    h.act(Action::Back);
    assert_eq!(h.state.screen, Screen::Find);
    assert!(!listed(&h).contains(&ProfileId(4)), "{:?}", listed(&h));
}

/// Opening a match whose profile no longer exists (merged away by another writer since
/// the search) keeps the Find screen, with the reason as a notice.
#[test]
fn opening_a_profile_that_no_longer_exists_stays_in_find() {
    let mut h = Harness::new();
    h.act(Action::Back);
    let row = h
        .state
        .find
        .results
        .hits
        .iter()
        .position(|hit| hit.profile == ProfileId(4))
        .unwrap();
    h.fixture("default")
        .merge(ProfileId(1), ProfileId(4), "same person", true)
        .unwrap();
    h.send(Msg::Click(Target::Row(row))).act(Action::Open);
    assert_eq!(h.state.screen, Screen::Find);
    assert_eq!(h.state.profile, None);
    let notice = h.state.notice.as_ref().unwrap();
    assert!(notice.error && notice.text.contains("p4"), "{notice:?}");
}
