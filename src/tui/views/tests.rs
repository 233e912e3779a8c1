//! Screen snapshots of every view and popup, at 80x24 and 160x48, on the fixture with a
//! fixed clock.

use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::{Ctx, HitMap, render};
use crate::model::ProfileId;
use crate::query::health::{Finding, Severity};
use crate::tui::action::Action;
use crate::tui::harness::{Harness, fresh_state, test_settings};
use crate::tui::keymap::Keymap;
use crate::tui::state::{Settings, State};
use crate::tui::theme::Theme;
use crate::tui::update::Msg;

fn draw(state: &State, width: u16, height: u16) -> Terminal<TestBackend> {
    let theme = Theme::named("dark", true).unwrap();
    let keymap = Keymap::defaults();
    let ctx = Ctx {
        theme: &theme,
        keymap: &keymap,
    };
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    let mut hits = HitMap::default();
    terminal
        .draw(|frame| render(frame, state, &ctx, &mut hits))
        .unwrap();
    terminal
}

fn snap(state: &State, name: &str) {
    for (w, h) in [(80, 24), (160, 48)] {
        let terminal = draw(state, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), terminal.backend());
    }
}

fn open(query: &str) -> Harness {
    let mut h = Harness::new();
    h.type_text(query).act(Action::Open);
    h
}

#[test]
fn first_frame_before_the_store_opens() {
    let state = fresh_state(test_settings());
    snap(&state, "loading");
}

/// A store another process holds: the whole reason shows, wrapped, with the keys to try
/// again or quit.
#[test]
fn a_store_in_use_says_why_in_full_and_what_to_do() {
    let mut state = fresh_state(test_settings());
    let error = crate::store::OpenError::InUse("/home/ana/.local/share/idgraph/store".into());
    crate::tui::update::update(
        &mut state,
        Msg::Reply(crate::tui::worker::Reply::OpenFailed {
            space: "default".into(),
            error: error.to_string(),
        }),
    );
    snap(&state, "store_in_use");
    let text = draw(&state, 80, 24).backend().to_string();
    let words: Vec<&str> = text
        .lines()
        .skip(4)
        .flat_map(|l| l.trim_matches(|c| c == '"' || c == '│').split_whitespace())
        .collect();
    let said = words.join(" ");
    assert!(said.contains(&error.to_string()), "{text}");
    assert!(said.contains("Press r to try again, q to quit."), "{text}");
}

#[test]
fn find_screens() {
    let mut h = Harness::new();
    snap(&h.state, "find_recent");
    h.type_text("ana");
    snap(&h.state, "find_ana");
    h.act(Action::ClearInput).type_text("zzzz");
    snap(&h.state, "find_nothing");
    // Words in any order, matched in different texts of a profile: each text is shown.
    h.act(Action::ClearInput).type_text("school carla");
    snap(&h.state, "find_words");
}

#[test]
fn a_profile_loaded_in_part_says_so_on_the_timeline_and_touchpoints() {
    let mut h = open("ana silva");
    let loaded = h.edit_profile_data(|data| {
        let loaded = data.events.len();
        data.profile.event_count = loaded as u64 + 100;
        loaded
    });
    let screen = |h: &Harness| format!("{}", draw(&h.state, 160, 48).backend());
    let text = screen(&h);
    assert!(
        text.contains(&format!("· newest {loaded} events")),
        "{text}"
    );
    h.act(Action::TabTimeline);
    let text = screen(&h);
    assert!(
        text.contains(&format!("(the newest of {})", loaded + 100)),
        "{text}"
    );
    h.act(Action::TabTouchpoints);
    let text = screen(&h);
    assert!(
        text.contains(&format!(
            "counted over the newest {loaded} of {}",
            loaded + 100
        )),
        "{text}"
    );
}

#[test]
fn profile_tabs() {
    let mut h = open("ana silva");
    snap(&h.state, "overview");
    h.act(Action::TabTimeline);
    snap(&h.state, "timeline");
    // A common 120-column terminal still shows each event's app and device.
    insta::assert_snapshot!("timeline_120x30", draw(&h.state, 120, 30).backend());
    h.act(Action::Filter).act(Action::Right);
    snap(&h.state, "timeline_filter_popup");
    h.act(Action::Back);
    snap(&h.state, "timeline_filtered");
    h.act(Action::ClearFilter)
        .act(Action::Down)
        .act(Action::Down)
        .act(Action::Open);
    snap(&h.state, "event_json");
    h.act(Action::Back).act(Action::TabTouchpoints);
    snap(&h.state, "touchpoints");
    h.act(Action::TabGraph);
    snap(&h.state, "graph");
    // Why is the iOS anonymous id in the same profile as the work email?
    h.act(Action::Top)
        .act(Action::Mark)
        .act(Action::Bottom)
        .act(Action::Up)
        .act(Action::Mark);
    snap(&h.state, "graph_why");
    h.act(Action::TabHistory);
    snap(&h.state, "history");
}

/// The Overview's Traits panel keeps last seen and the counts in view however short it
/// is: the traits give way, the last row saying how many more there are.
#[test]
fn the_traits_panel_keeps_last_seen_and_counts_in_view() {
    let h = open("ana silva");
    let p = &h.state.profile_data().unwrap().profile;
    let last_seen = crate::tui::text::short_time(p.last_seen);
    let events = format!(
        "{} · {}",
        p.event_count,
        crate::tui::text::count(p.merge_count as u64, "merge")
    );
    let traits = p.trait_map().len();
    let text = draw(&h.state, 80, 24).backend().to_string();
    let panel: Vec<&str> = text.lines().skip(4).take(5).collect();
    assert!(panel[0].contains("name      Ana Silva"), "{text}");
    assert!(
        panel[2].contains(&format!("+{} more (C copies all)", traits - 2)),
        "{text}"
    );
    assert!(
        panel[3].contains(&format!("last seen {last_seen}")),
        "{text}"
    );
    assert!(panel[4].contains(&format!("events    {events}")), "{text}");
    // With room for everything, everything is listed as before.
    let text = draw(&h.state, 160, 48).backend().to_string();
    for row in ["space     default", "merges    0", "channels  "] {
        assert!(text.contains(row), "{row}: {text}");
    }
    assert!(!text.contains("copies all"), "{text}");
}

/// At 80 columns the Timeline still says on which app and device each event happened: the
/// label column gives way (ending in `…`), not the app and device columns.
#[test]
fn a_narrow_timeline_keeps_app_and_device() {
    let mut h = open("ana silva");
    h.act(Action::TabTimeline);
    let text = draw(&h.state, 80, 24).backend().to_string();
    let row = |time: &str| {
        let found = text.lines().find(|l| l.contains(time));
        found
            .unwrap_or_else(|| panic!("{time}: {text}"))
            .to_string()
    };
    let ios = row("2024-03-04 20:10");
    assert!(
        ios.contains("ios       Shop iOS     iPhone15,2 … Logged In"),
        "{ios}"
    );
    let blog = row("2024-03-01 09:15");
    assert!(
        blog.contains("Shop Web     Chrome on m… page Blog: Moving to L…"),
        "{blog}"
    );
}

#[test]
fn support_sees_the_complaint_before_marketing_asks_for_a_review() {
    let mut h = open("bruno");
    h.act(Action::TabTouchpoints);
    snap(&h.state, "touchpoints_complaint");
}

#[test]
fn bad_merge_graph_and_health() {
    let mut h = open("carla");
    h.act(Action::TabGraph);
    snap(&h.state, "graph_violations");
    h.act(Action::Health);
    snap(&h.state, "health");
    // A store with more suspicious profiles than the scan keeps says how many there are.
    let report = h.state.health.report.as_mut().expect("scanned");
    report.suspicious = 500;
    let listed = report.items.len();
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(
        text.contains(&format!(
            "Suspicious profiles (500): the {listed} most suspicious"
        )),
        "{text}"
    );
    // Profiles where the rules held (junk blocked) follow the suspicious ones, and the title
    // says how many there are.
    let report = h.state.health.report.as_mut().expect("scanned");
    let mut routine = report.items[0].clone();
    routine.severity = Severity::Routine;
    routine.findings = vec![Finding::JunkBlocked { count: 3 }];
    report.items.push(routine);
    report.routine = 40;
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(
        text.contains("most suspicious · then 40 profiles where the rules held"),
        "{text}"
    );
    assert!(text.contains("routine p3"), "{text}");
}

/// The profile header never ends in a cut word: on a short line the least important parts
/// give way whole (the counts first, the violations last) and a closing … says some did (at
/// 80 columns it used to end in "· 2 violati").
#[test]
fn the_profile_header_gives_way_part_by_part() {
    let header = |h: &Harness, width: u16| {
        let text = draw(&h.state, width, 24).backend().to_string();
        let line = text.lines().nth(1).unwrap_or_default();
        line.trim_matches('"').trim_end().to_string()
    };
    let carla = open("carla");
    let full = header(&carla, 200);
    assert_eq!(
        full,
        " Carla Novak p3 · 9 identifiers · 6 events · 0 merges · seen 19d ago · 2 violations · 1 junk value blocked"
    );
    assert_eq!(
        header(&carla, 80),
        " Carla Novak p3 · seen 19d ago · 2 violations · 1 junk value blocked …"
    );
    assert_eq!(header(&carla, 40), " Carla Novak p3 · 2 violations …");
    let whole: Vec<&str> = full.split(" · ").collect();
    for width in 20..=120 {
        let shown = header(&carla, width);
        let parts: Vec<&str> = shown.trim_end_matches(" …").split(" · ").collect();
        assert_eq!(parts[0], whole[0], "{width}: {shown}");
        assert!(
            parts.iter().all(|part| whole.contains(part)),
            "{width}: {shown}"
        );
        assert_eq!(shown.ends_with(" …"), shown != full, "{width}: {shown}");
    }
    let mut ana = open("ana silva");
    assert_eq!(
        header(&ana, 80),
        " Ana Silva p1 · 7 identifiers · 13 events · 0 merges · seen 4d ago"
    );
    // While it reloads it says so, before the counts.
    ana.state.profile.as_mut().unwrap().pending = Some(9);
    assert_eq!(
        header(&ana, 60),
        " Ana Silva p1 · 7 identifiers · seen 4d ago (reloading) …"
    );
}

/// The violations have a list of their own under the graph: it says which of how many is
/// selected, `v` gives it the keys and it scrolls to the last of 29, and a reason too long
/// for its line wraps at a word boundary instead of being cut mid-word.
#[test]
fn violations_scroll_and_wrap_their_reasons() {
    let mut h = open("carla");
    h.act(Action::TabGraph);
    h.edit_profile_data(|data| {
        let fixture = data.violations.clone();
        data.violations = fixture.iter().cycle().take(29).cloned().collect();
        data.violations[28].identifier = crate::model::Identifier::new(
            "ios.push_token",
            "b209f26f2b1efdd50995853e9578cdbda216c75fe01431a0c8af5dd84b2641f2",
        );
    });
    let text = draw(&h.state, 80, 24).backend().to_string();
    assert!(
        text.contains("Violations (29) · 1/29 · v selects"),
        "{text}"
    );
    h.press("v").act(Action::Bottom);
    snap(&h.state, "graph_violations_scrolled");
    for (w, hh) in [(80, 24), (200, 50)] {
        let text = draw(&h.state, w, hh).backend().to_string();
        assert!(text.contains("29/29"), "{text}");
        let reason = "limit of 1 user_id per profile (ever) would be exceeded";
        let shown: Vec<&str> = text
            .lines()
            .skip_while(|l| !l.contains("ios.push_token:"))
            .take_while(|l| !l.contains("event m-"))
            .flat_map(|l| l.trim_matches(|c| c == '"' || c == '│').split_whitespace())
            .skip(1)
            .collect();
        assert_eq!(shown.join(" "), reason, "{w}x{hh}: {text}");
    }
}

/// Sign-out releases are routine: the header counts only the violations that need a look,
/// and the junk values blocked apart (Health says what the two refusals are: other user ids);
/// the Identity graph tab lists them all and says how many are releases.
#[test]
fn the_header_does_not_count_sign_out_releases_as_violations() {
    let mut h = open("carla");
    let header = |state: &State| {
        let text = draw(state, 160, 48).backend().to_string();
        text.lines().nth(1).unwrap_or_default().to_string()
    };
    let counts = "· 2 violations · 1 junk value blocked";
    assert!(header(&h.state).contains(counts), "{}", header(&h.state));
    h.act(Action::Health);
    let health = draw(&h.state, 160, 48).backend().to_string();
    let row = health
        .lines()
        .find(|l| l.contains("Carla"))
        .unwrap_or_default();
    assert!(
        row.contains("2 other user_ids refused;") && row.contains("1 junk value blocked"),
        "{row}"
    );
    assert!(!row.contains("violation"), "{row}");
    h.act(Action::Back).act(Action::TabGraph);
    h.edit_profile_data(|data| {
        let mut released = data.violations[0].clone();
        released.reason = crate::model::ViolationReason::SignedOut {
            event: "Signed Out".into(),
        };
        data.violations.push(released);
    });
    assert!(header(&h.state).contains(counts), "{}", header(&h.state));
    let graph = draw(&h.state, 160, 48).backend().to_string();
    assert!(
        graph.contains("Violations (4, 1 sign-out release)"),
        "{graph}"
    );
    h.edit_profile_data(|data| {
        data.violations.drain(..3);
    });
    let only_released = header(&h.state);
    assert!(!only_released.contains("violation"), "{only_released}");
}

#[test]
fn merge_flow_screens() {
    let mut h = open("ana silva");
    h.act(Action::Merge);
    snap(&h.state, "merge_pick");
    h.act(Action::Open).type_text("same person");
    snap(&h.state, "merge_preview");
    h.act(Action::Confirm);
    snap(&h.state, "merge_confirm");
    h.act(Action::Confirm)
        .act(Action::TabHistory)
        .act(Action::Bottom);
    snap(&h.state, "history_after_merge");
    h.act(Action::Undo).type_text("wrong person");
    snap(&h.state, "undo_form");

    let mut h = open("ana silva");
    h.act(Action::Merge)
        .act(Action::ClearInput)
        .type_text("carla")
        .act(Action::Open)
        .type_text("family tablet");
    h.act(Action::Confirm).act(Action::ToggleForce);
    snap(&h.state, "merge_preview_conflicts");
}

#[test]
fn split_flow_screens() {
    let mut h = open("carla");
    h.act(Action::Split)
        .act(Action::Down)
        .act(Action::Mark)
        .act(Action::Down)
        .act(Action::Down)
        .act(Action::Down)
        .act(Action::Mark);
    snap(&h.state, "split_mark");
    h.act(Action::Open).type_text("kid's own account");
    snap(&h.state, "split_preview");
    h.act(Action::Confirm);
    snap(&h.state, "split_confirm");
}

#[test]
fn popups() {
    let mut h = Harness::new();
    h.act(Action::Back).act(Action::Help);
    snap(&h.state, "help");
    h.act(Action::Back).act(Action::SwitchSpace);
    snap(&h.state, "spaces");
    h.act(Action::Down).act(Action::Open);
    snap(&h.state, "switched_space");
}

/// The command bar of a popup offers only keys that work in that popup.
#[test]
fn popup_command_bars_show_only_their_own_keys() {
    let bar = |h: &Harness| {
        let text = draw(&h.state, 160, 48).backend().to_string();
        text.lines().last().unwrap_or_default().to_string()
    };
    let filter_keys = ["previous value", "next value", "clear all"];
    let mut h = Harness::new();
    h.act(Action::Back).act(Action::Help);
    let help = bar(&h);
    assert!(help.contains("esc  close"), "{help}");
    assert!(filter_keys.iter().all(|k| !help.contains(k)), "{help}");

    let mut h = open("ana silva");
    h.act(Action::TabTimeline).act(Action::Open);
    let event = bar(&h);
    assert!(event.contains("c  copy JSON"), "{event}");
    assert!(filter_keys.iter().all(|k| !event.contains(k)), "{event}");

    h.act(Action::Back).act(Action::Filter);
    let filter = bar(&h);
    assert!(filter_keys.iter().all(|k| filter.contains(k)), "{filter}");
    assert!(!filter.contains("copy"), "{filter}");
}

#[test]
fn redaction_masks_personal_data_everywhere() {
    let mut h = Harness::with(Settings {
        redact: true,
        mouse: true,
        live: None,
    });
    h.type_text("ana");
    snap(&h.state, "redacted_find");
    h.act(Action::Open);
    snap(&h.state, "redacted_overview");
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(!text.contains("ana.silva@acme.io"));
    assert!(!text.contains("Ana Silva"));
    // Event summaries (the sign-up's traits) are masked too.
    for tab in [Action::TabTouchpoints, Action::TabTimeline] {
        h.act(tab);
        let text = draw(&h.state, 160, 48).backend().to_string();
        assert!(text.contains("name=A** S**** email=a***@a***"), "{text}");
        assert!(!text.contains("ana.silva@acme.io"), "{text}");
        assert!(!text.contains("Ana Silva"), "{text}");
    }
    h.act(Action::Bottom)
        .act(Action::Up)
        .act(Action::Up)
        .act(Action::Up)
        .act(Action::Up)
        .act(Action::Open);
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(text.contains("\"email\": \"a***@a***.io\""), "{text}");
}

/// No cell of any screen showing the profile whose traits and events carry escape
/// sequences (the find list, every tab, the event JSON) holds a control character.
#[test]
fn escape_sequences_never_reach_the_terminal() {
    let assert_clean = |state: &State, screen: &str| {
        for (w, hh) in [(80, 24), (160, 48)] {
            let terminal = draw(state, w, hh);
            for cell in terminal.backend().buffer().content() {
                assert!(
                    !cell.symbol().chars().any(char::is_control),
                    "{screen} {w}x{hh}: control character drawn: {:?}",
                    cell.symbol()
                );
            }
        }
    };
    let mut h = Harness::new();
    h.type_text("eve");
    let found = draw(&h.state, 160, 48).backend().to_string();
    assert!(found.contains("Eve ␛[31mRed"), "{found}");
    assert_clean(&h.state, "find");
    h.act(Action::ClearInput);
    h.send(Msg::Paste("user_id:u-1005".into()));
    assert_eq!(h.state.profile.as_ref().unwrap().id, ProfileId(5));
    snap(&h.state, "escapes_overview");
    assert_clean(&h.state, "overview");
    for (tab, screen) in [
        (Action::TabTouchpoints, "touchpoints"),
        (Action::TabGraph, "graph"),
        (Action::TabHistory, "history"),
        (Action::TabTimeline, "timeline"),
    ] {
        h.act(tab);
        assert_clean(&h.state, screen);
    }
    h.act(Action::Open);
    snap(&h.state, "escapes_event");
    assert_clean(&h.state, "event");
}

#[test]
fn mouse_hits_tabs_and_rows() {
    let h = open("ana silva");
    let theme = Theme::named("dark", true).unwrap();
    let keymap = Keymap::defaults();
    let ctx = Ctx {
        theme: &theme,
        keymap: &keymap,
    };
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    let mut hits = HitMap::default();
    terminal
        .draw(|frame| render(frame, &h.state, &ctx, &mut hits))
        .unwrap();
    let (rect, tab) = hits.tabs[1];
    assert_eq!(
        hits.at(rect.x + 1, rect.y),
        Some(crate::tui::update::Target::Tab(tab))
    );
    let (rect, row) = hits.rows[2];
    assert_eq!(
        hits.at(rect.x + 3, rect.y),
        Some(crate::tui::update::Target::Row(row))
    );
    assert!(hits.viewport > 5);
}

#[test]
fn live_status_counts_new_events() {
    let mut h = Harness::with(Settings {
        redact: false,
        mouse: true,
        live: Some("127.0.0.1:8088".into()),
    });
    let fixture = h.fixture("default");
    fixture.arrive(
        None,
        "2024-03-20T11:00:00Z",
        "Signed Up",
        &["user_id:u-9001", "email:zoe.new@example.com"],
    );
    fixture.arrive(
        Some(1),
        "2024-03-20T11:30:00Z",
        "Order Completed",
        &["user_id:u-1001"],
    );
    h.poll();
    snap(&h.state, "live_find");
}

/// At 80 columns in live mode a notice is readable whole: the live indicator gives way,
/// its address first, then the rest of the line; one too long for any room ends in `…`.
#[test]
fn a_notice_gets_the_status_line_before_the_live_indicator() {
    let mut h = Harness::with(Settings {
        redact: false,
        mouse: true,
        live: Some("127.0.0.1:8088".into()),
    });
    let fixture = h.fixture("default");
    for (at, name) in [("2024-03-20T11:00:00Z", "A"), ("2024-03-20T11:30:00Z", "B")] {
        fixture.arrive(Some(1), at, name, &["user_id:u-1001"]);
    }
    h.poll()
        .type_text("ana silva")
        .act(Action::Open)
        .act(Action::Copy);
    let status = |state: &State, width: u16| {
        let text = draw(state, width, 24).backend().to_string();
        text.lines()
            .next()
            .unwrap_or_default()
            .trim_matches('"')
            .to_string()
    };
    assert_eq!(
        status(&h.state, 160).trim_end(),
        " idgraph space default · 5 profiles · live 127.0.0.1:8088 · 2 new events │ copied user_id:u-1001"
    );
    assert_eq!(
        status(&h.state, 81),
        " idgraph space default · 5 profiles · live · 2 new events │ copied user_id:u-1001"
    );
    assert_eq!(
        status(&h.state, 80).trim_end(),
        " idgraph space default · 5 profiles · live +2 │ copied user_id:u-1001"
    );
    h.state.notice.as_mut().unwrap().text = "failed: merging p1 and p4 broke a rule".into();
    assert_eq!(
        status(&h.state, 80).trim_end(),
        " idgraph space default · live +2 │ failed: merging p1 and p4 broke a rule"
    );
    h.state.notice.as_mut().unwrap().text = "x".repeat(100);
    let cut = status(&h.state, 80);
    assert!(
        cut.starts_with(" idgraph space default · live +2 │ xxx"),
        "{cut}"
    );
    assert!(cut.ends_with("x…"), "{cut}");
}

#[test]
fn audiences_view_and_members() {
    let mut h = Harness::new();
    h.act(Action::Back).act(Action::Audiences);
    snap(&h.state, "audiences");
    h.act(Action::Open);
    snap(&h.state, "audience_members");
}

#[test]
fn overview_shows_the_audiences_and_why() {
    let h = open("bruno");
    snap(&h.state, "overview_audiences");
}

/// Profile ids of any length keep a space before the name (p4148 once ran into it).
#[test]
fn id_columns_fit_the_longest_id() {
    use crate::model::ProfileId;
    assert_eq!(super::id_column([ProfileId(3)]), 6);
    assert_eq!(super::id_column([ProfileId(3), ProfileId(41_480)]), 7);
    assert_eq!(super::id_column([ProfileId(1_000_000)]), 9);
    assert_eq!(super::cell(&ProfileId(41_480).to_string(), 7), "p41480 ");
}

/// A long matched text is cut with an ellipsis so the "N ids · ago" tail keeps its room and a
/// gap before it, in the search list (wide and narrow) and the merge picker that shares it.
#[test]
fn long_matches_leave_room_for_the_tail() {
    let token = format!("52a98{}ef7397", "0".repeat(90));
    let lengthen = |hits: &mut Vec<crate::query::search::SearchHit>| {
        hits[0].kind = "ios.push_token".into();
        hits[0].text = token.clone();
    };
    let row_of = |state: &State, width: u16| {
        let text = draw(state, width, 24).backend().to_string();
        let row = text.lines().find(|l| l.contains("ios.push_token:"));
        row.unwrap_or_else(|| panic!("{text}")).to_string()
    };
    let mut h = Harness::new();
    h.type_text("ana");
    lengthen(&mut h.state.find.results.hits);
    let identifiers = h.state.find.results.hits[0].identifiers;
    for (width, tail) in [
        (120, format!("… {identifiers} ids · ")),
        (80, format!("… {identifiers} ids ")),
    ] {
        let row = row_of(&h.state, width);
        assert!(row.contains("ios.push_token:52a98"), "{row}");
        assert!(row.contains(&tail), "{width}: {row}");
    }
    h.act(Action::Open).act(Action::Merge);
    let Some(crate::tui::state::Modal::Merge(crate::tui::state::MergeFlow::Pick {
        results, ..
    })) = &mut h.state.modal
    else {
        panic!("merge picker expected");
    };
    lengthen(&mut results.hits);
    let identifiers = results.hits[0].identifiers;
    let row = row_of(&h.state, 140);
    assert!(row.contains(&format!("… {identifiers} ids · ")), "{row}");
}

/// The merge preview and the split marking list size the type column to the longest type,
/// so `android.push_token` keeps a space before its value.
#[test]
fn long_identifier_types_keep_a_gap_before_the_value() {
    use crate::tui::state::{MergeFlow, Modal, SplitStage};
    let long = "android.push_token";
    let mut h = open("carla");
    h.act(Action::Split);
    let Some(Modal::Split(flow)) = &mut h.state.modal else {
        panic!("split expected");
    };
    assert!(matches!(flow.stage, SplitStage::Mark { .. }));
    flow.identifiers[1].kind = long.into();
    let value = flow.identifiers[1].value.clone();
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(text.contains(&format!("{long} {value}")), "{text}");

    let mut h = open("ana silva");
    h.act(Action::Merge).act(Action::Open);
    let Some(Modal::Merge(MergeFlow::Preview {
        preview: Some(preview),
        ..
    })) = &mut h.state.modal
    else {
        panic!("merge preview expected");
    };
    let held = &mut preview.result.identifiers[0].id;
    held.kind = long.into();
    let value = held.value.clone();
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(text.contains(&format!("{long} {value}")), "{text}");
}

/// Long messageIds are shortened in the middle so each link's rule, source and time show
/// on a 120- or 140-column terminal (the "why" chain and a violation's provenance alike).
#[test]
fn link_provenance_keeps_source_and_time_with_long_message_ids() {
    let mut h = open("carla");
    h.act(Action::TabGraph)
        .act(Action::Top)
        .act(Action::Mark)
        .act(Action::Down)
        .act(Action::Mark);
    let provenance: Vec<String> = h.edit_profile_data(|data| {
        let long = |i: usize| format!("msg-{i}-{}-tail{i}", "7f3e9a2c".repeat(8));
        for (i, l) in data.links.iter_mut().enumerate() {
            l.provenance.message_id = long(i);
        }
        for (i, v) in data.violations.iter_mut().enumerate() {
            v.provenance.message_id = long(100 + i);
        }
        data.links
            .iter()
            .map(|l| &l.provenance)
            .chain(data.violations.iter().map(|v| &v.provenance))
            .map(|p| format!("· {} · {}", p.source, crate::tui::text::short_time(p.time)))
            .collect()
    });
    insta::assert_snapshot!(
        "graph_why_long_ids_120x30",
        draw(&h.state, 120, 30).backend()
    );
    for width in [120, 140] {
        let text = draw(&h.state, width, 60).backend().to_string();
        let shown: Vec<&str> = text.lines().filter(|l| l.contains("event msg-")).collect();
        assert!(shown.len() >= 2, "{text}");
        for line in shown {
            assert!(line.contains("-tail"), "{width}: {line}");
            assert!(
                provenance.iter().any(|p| line.contains(p.as_str())),
                "{width}: {line}"
            );
        }
    }
}

/// A count of one reads in the singular everywhere on screen (heading, rows, header, tabs).
#[test]
fn a_count_of_one_is_singular() {
    let mut h = Harness::new();
    h.type_text("u-1005");
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(text.contains("1 matching profile "), "{text}");
    assert!(text.contains(" 1 id · "), "{text}");
    h.act(Action::Open).act(Action::TabTimeline);
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(
        text.contains("· 1 identifier · 1 event · 0 merges ·"),
        "{text}"
    );
    assert!(text.contains("Timeline · 1 of 1 event "), "{text}");
    for plural_of_one in ["1 matching profiles", "1 ids", "1 identifiers", "1 events"] {
        assert!(!text.contains(plural_of_one), "{plural_of_one}: {text}");
    }
}

/// History rows size the op column to the widest op (a space before the date however long
/// it is) and shorten the summary, not "undone by", to fit 120 columns.
#[test]
fn history_rows_keep_long_ops_apart_and_undone_by_visible() {
    let mut h = open("ana silva");
    h.act(Action::Merge)
        .act(Action::Open)
        .type_text("same person")
        .act(Action::Confirm)
        .act(Action::Confirm)
        .act(Action::TabHistory);
    h.edit_profile_data(|data| {
        let entry = data.journal.last_mut().unwrap();
        entry.op = 1520;
        entry.undone_by = Some(1521);
        entry.action = crate::model::JournalAction::Merge {
            survivor: ProfileId(1),
            absorbed: ProfileId(4),
            overrides: vec!["a long rule name that fills the row".into(); 3],
        };
    });
    let text = draw(&h.state, 120, 30).backend().to_string();
    let row = text.lines().find(|l| l.contains("#1520")).unwrap();
    assert!(row.contains("#1520 "), "{row}");
    assert!(row.contains("undone by #1521"), "{row}");
}

/// The merge picker's command bar says what its keys do there: enter picks the partner,
/// esc cancels the merge (not "open match", "leave search box").
#[test]
fn the_merge_picker_bar_describes_picking_a_partner() {
    let mut h = open("ana silva");
    h.act(Action::Merge);
    let text = draw(&h.state, 160, 48).backend().to_string();
    let bar = text.lines().last().unwrap_or_default();
    assert!(bar.contains("enter  merge with this one"), "{bar}");
    assert!(bar.contains("esc  cancel merge"), "{bar}");
    assert!(
        !bar.contains("open match") && !bar.contains("search box"),
        "{bar}"
    );
}

/// However many keys a screen has, the command bar keeps "? help" (at 120 columns the
/// profile's keys used to push it off the end).
#[test]
fn the_command_bar_always_offers_help() {
    let mut h = open("ana silva");
    for tab in [Action::TabOverview, Action::TabTimeline, Action::TabGraph] {
        h.act(tab);
        for width in [80, 120, 160] {
            let text = draw(&h.state, width, 30).backend().to_string();
            let bar = text.lines().last().unwrap_or_default();
            assert!(bar.contains("?  help "), "{tab:?} {width}: {bar}");
        }
    }
}

/// A long health scan says how far it is; progress of an older scan is dropped, and a
/// finished scan leaves no figure behind.
#[test]
fn a_long_health_scan_shows_how_far_it_is() {
    use crate::query::health::ScanProgress;
    use crate::tui::worker::Reply;
    let mut h = open("carla");
    h.act(Action::Back);
    h.state.screen = crate::tui::state::Screen::Health;
    h.state.health = Default::default();
    h.state.health.pending = Some(7);
    let progress = |generation, done| {
        Msg::Reply(Reply::HealthProgress {
            generation,
            progress: ScanProgress { done, total: 200 },
        })
    };
    h.send(progress(6, 150));
    assert_eq!(h.state.health.progress, None, "an older scan's progress");
    h.send(progress(7, 84));
    let text = draw(&h.state, 80, 24).backend().to_string();
    assert!(
        text.contains("Scanning every profile and its violations… 42%"),
        "{text}"
    );
    h.act(Action::Refresh);
    assert_eq!(h.state.health.progress, None);
}

/// A refused identifier that another profile holds says which one, and Enter on it opens
/// that profile on the same tab (Esc comes back); on one no other profile holds, Enter shows
/// the event that carried it.
#[test]
fn a_violation_leads_to_the_profile_holding_its_identifier_or_to_its_event() {
    let mut h = open("carla");
    h.act(Action::TabGraph);
    h.edit_profile_data(|data| {
        let refused = data.violations[0].identifier.clone();
        data.holders.insert(refused, ProfileId(1));
    });
    h.press("v");
    let text = draw(&h.state, 160, 48).backend().to_string();
    assert!(text.contains("· now held by p1"), "{text}");
    assert!(
        text.contains("enter: the profile holding it, or its event"),
        "{text}"
    );
    h.act(Action::Open);
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.id, ProfileId(1));
    assert_eq!(view.tab, crate::tui::state::Tab::Graph);
    h.act(Action::Back);
    let view = h.state.profile.as_ref().unwrap();
    assert_eq!(view.id, ProfileId(3), "Esc comes back");
    // The second violation's identifier is held by no other profile: its event opens.
    let mut h = open("carla");
    h.act(Action::TabGraph)
        .press("v")
        .act(Action::Down)
        .act(Action::Open);
    assert!(
        matches!(&h.state.modal, Some(crate::tui::state::Modal::Event { title, .. }) if title.starts_with("m-023")),
        "{:?}",
        h.state.modal
    );
}

/// On the Identity graph tab, `v` (to the violations list) is offered only when the
/// profile has violations: offered on every profile, it pushed "m merge with…" off the bar
/// at 80 columns.
#[test]
fn the_graph_tab_offers_v_only_on_a_profile_with_violations() {
    let bar = |query: &str| {
        let mut h = open(query);
        h.act(Action::TabGraph);
        let text = draw(&h.state, 80, 24).backend().to_string();
        text.lines().last().unwrap_or_default().to_string()
    };
    let clean = bar("ana silva");
    assert!(clean.contains("m  merge with…"), "{clean}");
    assert!(!clean.contains(" v "), "{clean}");
    let carla = bar("carla");
    assert!(carla.contains("v  identifiers/violations"), "{carla}");
}

/// c copies what the tab's rows are, and the command bar says so (on Touchpoints it used to
/// say "copy identifier" while copying the channel).
#[test]
fn the_command_bar_says_what_c_copies_on_each_tab() {
    let mut h = open("ana silva");
    for (tab, says) in [
        (Action::TabOverview, "c  copy identifier"),
        (Action::TabTimeline, "c  copy event JSON"),
        (Action::TabTouchpoints, "c  copy channel"),
        (Action::TabGraph, "c  copy identifier"),
        (Action::TabHistory, "c  copy entry summary"),
    ] {
        h.act(tab);
        let text = draw(&h.state, 200, 30).backend().to_string();
        let bar = text.lines().last().unwrap_or_default();
        assert!(bar.contains(says), "{tab:?}: {bar}");
        assert_eq!(bar.matches(" c ").count(), 1, "{tab:?}: {bar}");
    }
    h.act(Action::TabTouchpoints).act(Action::Copy);
    let channel = &h.state.profile_data().unwrap().touchpoints[0].channel;
    assert_eq!(h.copied.last(), Some(channel));
}
