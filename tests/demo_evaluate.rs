//! Evaluation metrics: hand-computed scenarios and invariants against brute-force pair counts.

use idgraph::demo::{ResolvedProfile, Truth, TruthRecord, Unlinkable, evaluate};
use idgraph::model::Identifier;
use proptest::prelude::*;

/// Truth: person A has a1 a2 a3, B has b1 b2, C has c1.
fn truth() -> Truth {
    let record = |id: &str, person: &str| TruthRecord {
        message_id: id.into(),
        person: person.into(),
        space: None,
        fragment: None,
        unlinkable: None,
    };
    Truth::from_records([
        record("a1", "A"),
        record("a2", "A"),
        record("a3", "A"),
        record("b1", "B"),
        record("b2", "B"),
        record("c1", "C"),
    ])
    .unwrap()
}

fn profile(id: &str, events: &[&str], identifiers: &[&str]) -> ResolvedProfile {
    ResolvedProfile {
        profile_id: id.into(),
        identifiers: identifiers
            .iter()
            .map(|i| Identifier::parse(i).unwrap())
            .collect(),
        message_ids: events.iter().map(|e| e.to_string()).collect(),
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn perfect_profiles_score_one() {
    let report = evaluate(
        [
            profile("p1", &["a1", "a2", "a3"], &["user_id:a"]),
            profile("p2", &["b2", "b1"], &["user_id:b"]),
            profile("p3", &["c1"], &["anonymous_id:c"]),
        ],
        &truth(),
    );
    assert_eq!(
        (report.precision, report.recall, report.f1),
        (1.0, 1.0, 1.0)
    );
    assert_eq!(
        (
            report.predicted_pairs,
            report.true_pairs,
            report.correct_pairs
        ),
        (4, 4, 4)
    );
    assert_eq!((report.over_merged_people, report.split_people), (0, 0));
    assert_eq!((report.profiles, report.events, report.people), (3, 6, 3));
    assert!(report.worst_over_merges.is_empty() && report.worst_splits.is_empty());
    assert_eq!(report.ceiling.recall, 1.0);
}

#[test]
fn an_over_merge_lowers_precision_only() {
    let report = evaluate(
        [
            profile(
                "p1",
                &["a1", "a2", "a3", "b1", "b2"],
                &[
                    "anonymous_id:shared",
                    "email:b@x.io",
                    "user_id:a",
                    "user_id:b",
                ],
            ),
            profile("p2", &["c1"], &[]),
        ],
        &truth(),
    );
    // 10 pairs in p1, of which 3 (A) + 1 (B) are right; 4 true pairs, all found.
    assert_eq!(
        (
            report.predicted_pairs,
            report.correct_pairs,
            report.true_pairs
        ),
        (10, 4, 4)
    );
    assert!(close(report.precision, 0.4));
    assert!(close(report.recall, 1.0));
    assert!(close(report.f1, 2.0 * 0.4 / 1.4));
    assert_eq!(
        (
            report.over_merged_people,
            report.over_merged_profiles,
            report.split_people
        ),
        (2, 1, 0)
    );
    let worst = &report.worst_over_merges[0];
    assert_eq!(
        (worst.profile_id.as_str(), worst.events, worst.wrong_pairs),
        ("p1", 5, 6)
    );
    let people: Vec<_> = worst
        .people
        .iter()
        .map(|p| (p.person.as_str(), p.events))
        .collect();
    assert_eq!(people, vec![("A", 3), ("B", 2)]);
    let shown: Vec<String> = worst.identifiers.iter().map(ToString::to_string).collect();
    assert_eq!(
        shown,
        vec![
            "user_id:a",
            "user_id:b",
            "email:b@x.io",
            "anonymous_id:shared"
        ]
    );
    let text = report.to_string();
    assert!(text.contains("precision 0.4000  recall 1.0000"), "{text}");
    assert!(
        text.contains("p1: 5 events of 2 people (A 3, B 2), 6 wrong pairs"),
        "{text}"
    );
}

#[test]
fn a_split_lowers_recall_only() {
    let report = evaluate(
        [
            profile("p1", &["a1", "a2"], &["user_id:a", "email:a@x.io"]),
            profile("p2", &["a3"], &["anonymous_id:lost"]),
            profile("p3", &["b1", "b2"], &["user_id:b"]),
            profile("p4", &["c1"], &[]),
        ],
        &truth(),
    );
    assert_eq!(
        (
            report.predicted_pairs,
            report.correct_pairs,
            report.true_pairs
        ),
        (2, 2, 4)
    );
    assert!(close(report.precision, 1.0));
    assert!(close(report.recall, 0.5));
    assert!(close(report.f1, 2.0 / 3.0));
    assert_eq!((report.over_merged_people, report.split_people), (0, 1));
    let split = &report.worst_splits[0];
    assert_eq!(
        (split.person.as_str(), split.events, split.missed_pairs),
        ("A", 3, 2)
    );
    let parts: Vec<_> = split
        .parts
        .iter()
        .map(|p| (p.profile_id.as_str(), p.events))
        .collect();
    assert_eq!(parts, vec![("p1", 2), ("p2", 1)]);
    assert_eq!(
        split.parts[1].identifiers[0].to_string(),
        "anonymous_id:lost"
    );
    let text = report.to_string();
    assert!(
        text.contains("A: 3 events in 2 profiles, 2 missed pairs"),
        "{text}"
    );
    assert!(text.contains("p2 (1 events): anonymous_id:lost"), "{text}");
}

#[test]
fn examples_show_at_most_ten_people_or_profiles() {
    // One profile with 12 people (one event each), and person A split over 12 profiles.
    let record = |id: String, person: String| TruthRecord {
        message_id: id,
        person,
        space: None,
        fragment: None,
        unlinkable: None,
    };
    let mut records: Vec<TruthRecord> = (0..12)
        .map(|i| record(format!("m{i}"), format!("P{i:02}")))
        .collect();
    records.extend((0..12).map(|i| record(format!("a{i}"), "A".into())));
    let truth = Truth::from_records(records).unwrap();
    let merged: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    let mut profiles = vec![ResolvedProfile {
        profile_id: "big".into(),
        identifiers: vec![],
        message_ids: merged,
    }];
    profiles.extend((0..12).map(|i| ResolvedProfile {
        profile_id: format!("s{i:02}"),
        identifiers: vec![],
        message_ids: vec![format!("a{i}")],
    }));
    let report = evaluate(profiles, &truth);
    let over = &report.worst_over_merges[0];
    assert_eq!(
        (over.people.len(), over.people_count, over.wrong_pairs),
        (10, 12, 66)
    );
    let split = &report.worst_splits[0];
    assert_eq!(
        (split.parts.len(), split.profile_count, split.missed_pairs),
        (10, 12, 66)
    );
    let text = report.to_string();
    assert!(text.contains("12 events of 12 people (P00 1,"), "{text}");
    assert!(text.contains("+2 more), 66 wrong pairs"), "{text}");
    assert!(text.contains("+2 more profiles"), "{text}");
}

#[test]
fn mixed_mistakes_and_bookkeeping() {
    // p1 = {a1 a2 b1}, p2 = {a3 b2}: 3 + 1 predicted pairs, only a1-a2 right.
    let report = evaluate(
        [
            profile("p1", &["a1", "a2", "b1"], &[]),
            profile("p2", &["a3", "b2"], &[]),
            profile("p3", &["c1"], &[]),
        ],
        &truth(),
    );
    assert_eq!((report.predicted_pairs, report.correct_pairs), (4, 1));
    assert!(close(report.precision, 0.25) && close(report.recall, 0.25) && close(report.f1, 0.25));
    assert_eq!(
        (
            report.over_merged_people,
            report.over_merged_profiles,
            report.split_people
        ),
        (2, 2, 2)
    );

    // Unknown, repeated and missing events are counted and handled.
    let report = evaluate(
        [
            profile("p1", &["a1", "a2", "x9"], &[]),
            profile("p2", &["a2", "b1", "b2"], &[]),
        ],
        &truth(),
    );
    assert_eq!(
        (
            report.unknown_events,
            report.repeated_events,
            report.missing_events
        ),
        (1, 1, 2)
    );
    assert_eq!(
        (
            report.predicted_pairs,
            report.correct_pairs,
            report.true_pairs
        ),
        (2, 2, 4)
    );
    assert!(close(report.recall, 0.5));
    assert_eq!(report.split_people, 0, "missing events are not splits");
}

#[test]
fn report_carries_the_recall_ceiling() {
    let record = |id: &str, fragment: Option<&str>| TruthRecord {
        message_id: id.into(),
        person: "A".into(),
        space: None,
        fragment: fragment.map(Into::into),
        unlinkable: fragment.map(|_| Unlinkable::DeviceNeverLoggedIn),
    };
    let truth = Truth::from_records([
        record("1", None),
        record("2", None),
        record("3", Some("A/f1")),
    ])
    .unwrap();
    let report = evaluate(
        [profile("p1", &["1", "2"], &[]), profile("p2", &["3"], &[])],
        &truth,
    );
    // Rules can link 1-2 but never 3: the split is the best possible.
    assert!(close(report.ceiling.recall, 1.0 / 3.0));
    assert!(close(report.recall, report.ceiling.recall));
    assert_eq!(report.ceiling.unrecoverable_people, 1);
    assert!(
        report
            .to_string()
            .contains("device_never_logged_in: 1 people, 1 events")
    );
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["ceiling"]["by_reason"]["device_never_logged_in"]["events"],
        1
    );
}

#[test]
fn avoidable_splits_are_the_linkable_events_apart_and_close_the_gap_to_the_ceiling() {
    // A: 1 2 3 linkable, 4 a fragment no rule can link. B: 5 6 linkable.
    let record = |id: &str, person: &str, fragment: Option<&str>| TruthRecord {
        message_id: id.into(),
        person: person.into(),
        space: None,
        fragment: fragment.map(Into::into),
        unlinkable: fragment.map(|_| Unlinkable::NeverSignedUp),
    };
    let truth = Truth::from_records([
        record("1", "A", None),
        record("2", "A", None),
        record("3", "A", None),
        record("4", "A", Some("A/f1")),
        record("5", "B", None),
        record("6", "B", None),
    ])
    .unwrap();
    // 3 lands apart from 1 2 (avoidable), 4 apart (unavoidable), B is whole.
    let report = evaluate(
        [
            profile("p1", &["1", "2"], &["user_id:a"]),
            profile("p2", &["3"], &["anonymous_id:x"]),
            profile("p3", &["4"], &[]),
            profile("p4", &["5", "6"], &[]),
        ],
        &truth,
    );
    assert_eq!(report.split_people, 1);
    assert_eq!(
        (report.avoidable_split_people, report.avoidable_missed_pairs),
        (1, 2)
    );
    // The ceiling's linkable pairs (1-2 1-3 2-3 5-6) less the avoidable misses are the
    // correct pairs: recall reaches the ceiling once avoidable splits are gone.
    assert_eq!(report.correct_pairs + report.avoidable_missed_pairs, 4);
    let split = &report.worst_avoidable_splits[0];
    assert_eq!(
        (split.person.as_str(), split.events, split.missed_pairs),
        ("A", 3, 2)
    );
    let parts: Vec<_> = split
        .parts
        .iter()
        .map(|p| (p.profile_id.as_str(), p.events))
        .collect();
    assert_eq!(parts, vec![("p1", 2), ("p2", 1)]);
    let text = report.to_string();
    assert!(
        text.contains("1 split people, 1 of them with linkable events apart (2 missed pairs"),
        "{text}"
    );
    assert!(text.contains("worst avoidable splits"), "{text}");

    // Only the unavoidable split: nothing avoidable is reported.
    let report = evaluate(
        [
            profile("p1", &["1", "2", "3"], &[]),
            profile("p3", &["4"], &[]),
            profile("p4", &["5", "6"], &[]),
        ],
        &truth,
    );
    assert_eq!((report.split_people, report.avoidable_split_people), (1, 0));
    assert!(report.worst_avoidable_splits.is_empty());
    assert!(!report.to_string().contains("worst avoidable splits"));
}

/// Events as (person, profile) pairs.
fn scenario(assignment: &[(u8, u8)]) -> (Truth, Vec<ResolvedProfile>) {
    let truth =
        Truth::from_records(
            assignment
                .iter()
                .enumerate()
                .map(|(i, &(person, _))| TruthRecord {
                    message_id: format!("m{i}"),
                    person: format!("person-{person}"),
                    space: None,
                    fragment: None,
                    unlinkable: None,
                }),
        )
        .unwrap();
    let mut profiles: Vec<ResolvedProfile> = Vec::new();
    for (i, &(_, p)) in assignment.iter().enumerate() {
        let id = format!("p{p}");
        match profiles.iter_mut().find(|x| x.profile_id == id) {
            Some(profile) => profile.message_ids.push(format!("m{i}")),
            None => profiles.push(ResolvedProfile {
                profile_id: id,
                identifiers: vec![],
                message_ids: vec![format!("m{i}")],
            }),
        }
    }
    (truth, profiles)
}

proptest! {
    #[test]
    fn metrics_match_brute_force_pairs(assignment in prop::collection::vec((0u8..6, 0u8..6), 1..40)) {
        let (truth, profiles) = scenario(&assignment);
        let report = evaluate(profiles, &truth);
        let (mut predicted, mut actual, mut correct) = (0u64, 0u64, 0u64);
        for i in 0..assignment.len() {
            for j in i + 1..assignment.len() {
                let same_profile = assignment[i].1 == assignment[j].1;
                let same_person = assignment[i].0 == assignment[j].0;
                predicted += u64::from(same_profile);
                actual += u64::from(same_person);
                correct += u64::from(same_profile && same_person);
            }
        }
        prop_assert_eq!((report.predicted_pairs, report.true_pairs, report.correct_pairs), (predicted, actual, correct));
        for value in [report.precision, report.recall, report.f1] {
            prop_assert!((0.0..=1.0).contains(&value));
        }
        prop_assert!(report.f1 <= report.precision.max(report.recall) + 1e-12);
    }

    #[test]
    fn singletons_are_precise_and_one_profile_recalls_all(people in prop::collection::vec(0u8..5, 1..30)) {
        let singletons: Vec<(u8, u8)> = people.iter().enumerate().map(|(i, &p)| (p, i as u8)).collect();
        let (truth, profiles) = scenario(&singletons);
        let report = evaluate(profiles, &truth);
        prop_assert_eq!(report.precision, 1.0);
        prop_assert_eq!(report.over_merged_people, 0);
        let together: Vec<(u8, u8)> = people.iter().map(|&p| (p, 0)).collect();
        let (truth, profiles) = scenario(&together);
        let report = evaluate(profiles, &truth);
        prop_assert_eq!(report.recall, 1.0);
        prop_assert_eq!(report.split_people, 0);
        let exact: Vec<(u8, u8)> = people.iter().map(|&p| (p, p)).collect();
        let (truth, profiles) = scenario(&exact);
        let report = evaluate(profiles, &truth);
        prop_assert_eq!((report.precision, report.recall), (1.0, 1.0));
    }
}
