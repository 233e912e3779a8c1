//! Store properties on a real sled directory: idempotent re-ingest, exact undo, pinned splits.

mod common;

use std::sync::Arc;

use idgraph::ingest::{SourcedEvent, SubmitOutcome};
use idgraph::model::{Event, Identifier, ProfileId};
use idgraph::query::export::export_line;
use idgraph::query::search::{IndexKeeper, SearchEngine, SearchIndex, load_or_build};
use idgraph::query::{AudienceRead, GraphRead, GraphRepair};
use idgraph::store::{SpaceStore, Store};
use idgraph::tui::worker::{Reply, Request, SpaceHandle, StoreWorker};
use proptest::prelude::*;
use serde_json::{Value, json};

fn sourced(v: Value) -> SourcedEvent {
    SourcedEvent {
        event: Event::from_json(v).expect("valid event"),
        source: "test".into(),
        channel: "web".into(),
    }
}

fn export(space: &SpaceStore) -> Vec<Value> {
    let mut out = Vec::new();
    space
        .for_each_profile(&mut |p| {
            out.push(export_line(space.space(), p));
            true
        })
        .unwrap();
    out
}

/// An identifier written as `type:value`.
fn id(text: &str) -> Identifier {
    Identifier::parse(text).expect("identifier")
}

/// A timestamp `minute` minutes into 2025.
/// Every audience's members at a few times around the generated events, by name.
fn audience_members(space: &SpaceStore) -> Vec<(String, i64, Vec<idgraph::model::ProfileId>)> {
    let mut out = Vec::new();
    for name in space.audiences().names() {
        for minute in [0, 600, 1_000, 5_000, 30_000] {
            let now = minute_millis(minute);
            let members = space.audience_members(name, now).expect("members");
            out.push((
                name.to_string(),
                minute,
                members.into_iter().map(|m| m.profile).collect(),
            ));
        }
    }
    out
}

/// `minute` minutes after 2025-01-01T00:00:00Z, in epoch milliseconds.
fn minute_millis(minute: i64) -> i64 {
    1_735_689_600_000 + minute * 60_000
}

fn at(minute: i64) -> String {
    idgraph::model::time::format_time(minute_millis(minute))
}

/// A store in a temporary directory and its default space (drop them in reverse order).
fn fresh_space() -> (tempfile::TempDir, Store, Arc<SpaceStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    (dir, store, space)
}

/// Ingests events written as JSON, in one batch.
fn ingest(space: &SpaceStore, events: impl IntoIterator<Item = Value>) -> SubmitOutcome {
    let batch: Vec<SourcedEvent> = events.into_iter().map(sourced).collect();
    space.ingest(&batch, 0).unwrap()
}

/// `check` finds every invariant holding.
fn assert_consistent(space: &SpaceStore) {
    let check = space.check().unwrap();
    assert!(check.problems.is_empty(), "{:?}", check.problems);
}

/// Events drawn from small pools so that identifiers collide often.
fn event_strategy() -> impl Strategy<Value = Value> {
    (
        0..6u32,
        proptest::option::of(0..4u32),
        proptest::option::of(0..6u32),
        proptest::option::of(0..4u32),
        proptest::option::of(0..3u32),
        0..1000i64,
        prop::sample::select(vec!["identify", "track", "page"]),
        proptest::option::of(prop::sample::select(vec!["free", "pro", "team"])),
    )
        .prop_map(|(m, user, anon, email, device, minute, kind, plan)| {
            // Some tracks are sign-outs, which release the device's ids; some put people in
            // or out of the default audiences.
            let name = ["Signed Out", "Product Added", "Order Completed", "Clicked"][minute as usize % 4];
            let mut e = json!({
                "type": kind, "messageId": format!("m{m}-{user:?}-{anon:?}-{email:?}-{device:?}-{minute}"),
                "timestamp": format!("2025-01-01T00:00:00Z"), "event": name,
            });
            e["timestamp"] = json!(at(minute));
            if let Some(u) = user {
                e["userId"] = json!(format!("u{u}"));
            }
            if anon.is_some() || user.is_none() {
                e["anonymousId"] = json!(format!("a{}", anon.unwrap_or(9)));
            }
            let mut traits = serde_json::Map::new();
            if let Some(x) = email {
                traits.insert("email".into(), json!(format!("p{x}@acme.io")));
            }
            if let Some(p) = plan {
                traits.insert("plan".into(), json!(p));
            }
            e["traits"] = Value::Object(traits);
            if let Some(d) = device {
                e["context"] = json!({"device": {"id": format!("D{d}"), "type": "ios"}});
            }
            e
        })
}

/// Mostly [`event_strategy`], sometimes an event whose every identifier is junk (it cannot be
/// attributed).
fn event_or_junk() -> impl Strategy<Value = Value> {
    prop_oneof![
        8 => event_strategy(),
        1 => (0..3u32).prop_map(|n| json!({"type": "page", "userId": "undefined",
            "anonymousId": "null", "messageId": format!("junk{n}")})),
    ]
}

/// Lengths of the consecutive parts that cutting `len` items at `cuts` (taken modulo
/// `len + 1`) makes; empty parts included.
fn part_lengths(len: usize, cuts: Vec<usize>) -> Vec<usize> {
    let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (len + 1)).collect();
    cuts.sort_unstable();
    cuts.push(len);
    let mut start = 0;
    cuts.into_iter()
        .map(|cut| {
            let length = cut - start;
            start = cut;
            length
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn reingesting_any_event_set_changes_nothing(events in prop::collection::vec(event_strategy(), 1..40), seed in any::<u64>()) {
        let (_dir, _store, space) = fresh_space();
        let batch: Vec<SourcedEvent> = events.iter().cloned().map(sourced).collect();
        space.ingest(&batch, 0).unwrap();
        let check = space.check().unwrap();
        prop_assert!(check.problems.is_empty(), "{:?}", check.problems);
        let before = export(&space);
        let mut shuffled = batch.clone();
        let len = shuffled.len();
        for i in 0..len {
            shuffled.swap(i, (seed as usize).wrapping_mul(31).wrapping_add(i * 7) % len);
        }
        let outcome = space.ingest(&shuffled, 0).unwrap();
        prop_assert_eq!(outcome.stored, 0);
        prop_assert_eq!(export(&space), before);
    }

    #[test]
    fn pipelined_groups_store_what_written_groups_store(events in prop::collection::vec(event_strategy(), 1..60), group in 1..7usize) {
        let batch: Vec<SourcedEvent> = events.iter().cloned().map(sourced).collect();
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let written = common::open_store(dirs[0].path());
        let pipelined = common::open_store(dirs[1].path());
        let (a, b) = (written.space("default").unwrap(), pipelined.space("default").unwrap());
        for chunk in batch.chunks(group) {
            let one = a.ingest(chunk, 0).unwrap();
            let other = b.ingest_pipelined(chunk.to_vec(), 0).unwrap();
            prop_assert_eq!((one.stored, one.duplicates, one.merges), (other.stored, other.duplicates, other.merges));
        }
        b.settle().unwrap();
        prop_assert_eq!(export(&b), export(&a));
        prop_assert_eq!(audience_members(&b), audience_members(&a));
        let check = b.check().unwrap();
        prop_assert!(check.problems.is_empty(), "{:?}", check.problems);
        for profile in export(&a) {
            let id = idgraph::model::ProfileId(profile["profile_id"].as_str().unwrap().trim_start_matches('p').parse().unwrap());
            prop_assert_eq!(a.timeline(id, usize::MAX).unwrap(), b.timeline(id, usize::MAX).unwrap());
            prop_assert_eq!(a.links(id).unwrap(), b.links(id).unwrap());
            prop_assert_eq!(
                b.timeline_and_links(id, 2).unwrap(),
                (b.timeline(id, 2).unwrap(), b.links(id).unwrap())
            );
        }
    }

    #[test]
    fn parts_ingested_in_one_batch_are_reported_as_if_ingested_alone(events in prop::collection::vec(event_or_junk(), 1..60), cuts in prop::collection::vec(0..60usize, 0..5)) {
        let batch: Vec<SourcedEvent> = events.iter().cloned().map(sourced).collect();
        let parts = part_lengths(batch.len(), cuts);
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let alone = common::open_store(dirs[0].path());
        let grouped = common::open_store(dirs[1].path());
        let (a, b) = (alone.space("default").unwrap(), grouped.space("default").unwrap());
        let mut expected = Vec::new();
        let mut start = 0;
        for length in &parts {
            expected.push(a.ingest(&batch[start..start + length], 0).unwrap());
            start += length;
        }
        prop_assert_eq!(b.ingest_parts(&batch, &parts, 0).unwrap(), expected);
        prop_assert_eq!(export(&b), export(&a));
        assert_consistent(&b);
        for profile in export(&a) {
            let id = idgraph::model::ProfileId(profile["profile_id"].as_str().unwrap().trim_start_matches('p').parse().unwrap());
            prop_assert_eq!(a.timeline(id, usize::MAX).unwrap(), b.timeline(id, usize::MAX).unwrap());
        }
    }

    #[test]
    fn undo_of_a_manual_merge_or_split_restores_the_export(events in prop::collection::vec(event_strategy(), 2..40), pick in any::<prop::sample::Index>(), split_first in any::<bool>()) {
        let (_dir, _store, space) = fresh_space();
        let batch: Vec<SourcedEvent> = events.iter().cloned().map(sourced).collect();
        space.ingest(&batch, 0).unwrap();
        let before = export(&space);
        let mut profiles = Vec::new();
        space.for_each_profile(&mut |p| { profiles.push(p.clone()); true }).unwrap();
        if split_first {
            let splittable: Vec<_> = profiles.iter().filter(|p| p.identifiers.len() > 1).collect();
            prop_assume!(!splittable.is_empty());
            let profile = pick.get(&splittable);
            let moving: Vec<Identifier> = vec![profile.identifiers[pick.index(profile.identifiers.len())].id.clone()];
            let op = space.split(profile.id, &moving, "test").unwrap().entry.op;
            prop_assert_ne!(export(&space), before.clone());
            space.undo(op, "test").unwrap();
        } else {
            prop_assume!(profiles.len() > 1);
            let a = pick.get(&profiles).id;
            let b = profiles.iter().find(|p| p.id != a).unwrap().id;
            let op = space.merge(a, b, "test", true).unwrap().entry.op;
            prop_assert_eq!(export(&space).len(), before.len() - 1);
            space.undo(op, "test").unwrap();
        }
        prop_assert_eq!(export(&space), before);
    }

    #[test]
    fn undoing_a_merge_after_a_split_of_it_was_undone_restores_the_export_and_merge_counts(events in prop::collection::vec(event_strategy(), 2..40), pick in any::<prop::sample::Index>(), moving in any::<prop::sample::Index>()) {
        let (_dir, _store, space) = fresh_space();
        let batch: Vec<SourcedEvent> = events.iter().cloned().map(sourced).collect();
        space.ingest(&batch, 0).unwrap();
        let before = export(&space);
        let merge_counts_before = merge_counts(&space);
        let mut profiles = Vec::new();
        space.for_each_profile(&mut |p| { profiles.push(p.clone()); true }).unwrap();
        prop_assume!(profiles.len() > 1);
        let a = pick.get(&profiles).id;
        let b = profiles.iter().find(|p| p.id != a).unwrap().id;
        let merge = space.merge(a, b, "test", true).unwrap().entry.op;
        let merged = space.find_profile(&a.to_string()).or_else(|_| space.find_profile(&b.to_string())).unwrap();
        let id = moving.get(&merged.identifiers).id.clone();
        let split = space.split(merged.id, std::slice::from_ref(&id), "test").unwrap().entry.op;
        space.undo(split, "test").unwrap();
        space.undo(merge, "test").unwrap();
        prop_assert_eq!(export(&space), before);
        prop_assert_eq!(merge_counts(&space), merge_counts_before);
        assert_consistent(&space);
    }

    #[test]
    fn events_after_a_split_do_not_re_merge_it(events in prop::collection::vec(event_strategy(), 2..30), later in prop::collection::vec(event_strategy(), 1..30), pick in any::<prop::sample::Index>()) {
        let (_dir, _store, space) = fresh_space();
        ingest(&space, events.iter().cloned());
        let mut profiles = Vec::new();
        space.for_each_profile(&mut |p| { if p.identifiers.len() > 1 { profiles.push(p.clone()); } true }).unwrap();
        prop_assume!(!profiles.is_empty());
        let profile = pick.get(&profiles);
        let moved = profile.identifiers[0].id.clone();
        let stayed = profile.identifiers[1].id.clone();
        space.split(profile.id, std::slice::from_ref(&moved), "test").unwrap();
        let later: Vec<SourcedEvent> = later.into_iter().map(|mut e| {
            e["messageId"] = json!(format!("later-{}", e["messageId"].as_str().unwrap_or("")));
            sourced(e)
        }).collect();
        space.ingest(&later, 0).unwrap();
        // A later sign-out may release either identifier (no owner then); owned, they
        // never share a profile again.
        if let (Some(a), Some(b)) = (space.owner(&moved).unwrap(), space.owner(&stayed).unwrap()) {
            prop_assert_ne!(a, b);
        }
    }
}

/// Each profile's merge count, by profile id.
fn merge_counts(space: &SpaceStore) -> Vec<(ProfileId, u32)> {
    let mut out = Vec::new();
    space
        .for_each_profile(&mut |p| {
            out.push((p.id, p.merge_count));
            true
        })
        .unwrap();
    out.sort();
    out
}

/// The search index kept beside the store is read back only while the space is as it was
/// when the index was saved: an ingest or a merge makes the next open build it again, and
/// a reopened store (the next run) reads back the one saved last.
#[test]
fn the_search_index_file_is_used_only_while_the_space_is_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let person = |user: &str, name: &str| json!({"type":"identify","userId":user,"messageId":user,"traits":{"name":name}});
    {
        let store = common::open_store(dir.path());
        let space = store.space("default").unwrap();
        ingest(&space, [person("u1", "Ana Silva")]);
        let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
        keep.expect("a store keeps its index").save(&index).unwrap();
        let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
        assert!(keep.is_none(), "read back from the file");
        assert_eq!(index.profile_count(), 1);
        ingest(&space, [person("u2", "Nadia Okafor")]);
        let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
        assert_eq!(index.profile_count(), 2, "built again after the ingest");
        keep.expect("built").save(&index).unwrap();
        let (a, b) = (
            space.owner(&id("user_id:u1")).unwrap().unwrap(),
            space.owner(&id("user_id:u2")).unwrap().unwrap(),
        );
        space.merge(a, b, "same person", true).unwrap();
        let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
        assert_eq!(index.profile_count(), 1, "built again after the merge");
        keep.expect("built").save(&index).unwrap();
        store.flush().unwrap();
    }
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
    assert!(keep.is_none(), "the next run reads the file back");
    assert_eq!(index.profile_count(), 1);
    let mut engine = SearchEngine::new(Arc::new(index));
    assert_eq!(engine.search("nadia", 5).hits.len(), 1);
}

/// Runs a write as the command line does, noting what it changed for the index file.
fn noted<T>(space: &SpaceStore, write: impl FnOnce() -> anyhow::Result<T>) -> T {
    let keeper = IndexKeeper::before(space);
    let written = write().unwrap();
    keeper.note(space).unwrap();
    written
}

/// A merge, split or undo made on the command line notes what it changed beside the index
/// file, so the explorer's next start catches the file up instead of building the index;
/// once a write goes unnoted, the file is stale for good (the index is built anew).
#[test]
fn repairs_outside_the_explorer_let_the_next_start_catch_the_index_file_up() {
    let (_dir, _store, space) = fresh_space();
    let person = |user: &str, name: &str| {
        json!({"type":"identify","userId":user,"messageId":user,
        "traits":{"name":name,"email":format!("{user}@acme.io")}})
    };
    ingest(
        &space,
        [person("u1", "Ana Silva"), person("u2", "Nadia Okafor")],
    );
    let reads_back = || {
        let mut built = false;
        let (index, _) = load_or_build(space.as_ref(), &mut || built = true).unwrap();
        (!built).then_some(index)
    };
    let nadia = |index: SearchIndex| {
        let hits = SearchEngine::new(Arc::new(index)).search("nadia", 5).hits;
        hits.iter().map(|hit| hit.profile).collect::<Vec<_>>()
    };
    let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
    keep.expect("built").save(&index).unwrap();
    let (a, b) = (
        space.owner(&id("user_id:u1")).unwrap().unwrap(),
        space.owner(&id("user_id:u2")).unwrap().unwrap(),
    );
    let merge = noted(&space, || space.merge(a, b, "same person", true))
        .entry
        .op;
    let index = reads_back().expect("caught up with the merge");
    assert_eq!(index.profile_count(), 1);
    assert_eq!(nadia(index), vec![a]);
    noted(&space, || space.undo(merge, "not the same"));
    let index = reads_back().expect("caught up with the undo");
    assert_eq!(nadia(index), vec![b]);
    noted(&space, || {
        space.split(b, &[id("email:u2@acme.io")], "again")
    });
    assert_eq!(
        reads_back()
            .expect("caught up with the split")
            .profile_count(),
        3
    );
    let (index, keep) = load_or_build(space.as_ref(), &mut || panic!("caught up")).unwrap();
    keep.expect("a caught-up index is to be saved")
        .save(&index)
        .unwrap();
    let (_, keep) = load_or_build(space.as_ref(), &mut || panic!("read back")).unwrap();
    assert!(keep.is_none(), "current again");
    // A write left unnoted makes the file stale for good: later writes note nothing, and
    // notes that lead nowhere are removed.
    let notes = space
        .index_cache()
        .unwrap()
        .path()
        .with_extension("changes");
    let merge = noted(&space, || space.merge(a, b, "same person", true))
        .entry
        .op;
    assert!(notes.exists());
    space.undo(merge, "not the same").unwrap();
    noted(&space, || space.merge(a, b, "same person", true));
    assert!(!notes.exists(), "stale: nothing to note");
    assert!(reads_back().is_none(), "built again");
}

/// A server marks each of its groups and reads the change feed only every so often; its
/// note still lists every profile its groups changed.
#[test]
fn a_server_that_marks_its_groups_notes_every_profile_they_changed() {
    let (_dir, _store, space) = fresh_space();
    let person = |n: usize| json!({"type":"identify","userId":format!("u{n}"),"messageId":format!("m{n}"),"traits":{"name":format!("Person{n}")}});
    ingest(&space, [person(0)]);
    let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
    keep.expect("built").save(&index).unwrap();
    let mut keeper = IndexKeeper::before(space.as_ref());
    for n in 1..=100 {
        ingest(&space, [person(n)]);
        keeper.mark(space.as_ref());
    }
    keeper.note(space.as_ref()).unwrap();
    let (index, _) = load_or_build(space.as_ref(), &mut || panic!("caught up")).unwrap();
    assert_eq!(index.profile_count(), 101);
    let mut engine = SearchEngine::new(Arc::new(index));
    for n in [1, 32, 33, 64, 100] {
        let hits = engine.search(&format!("person{n}"), 1).hits;
        let owner = space.owner(&id(&format!("user_id:u{n}"))).unwrap();
        assert_eq!(hits.first().map(|hit| hit.profile), owner, "person{n}");
    }
}

/// An explorer running beside a server saves the index file while the server still writes
/// (when the user quits): the server's note then leads from the state the file was saved at,
/// one its writes left. Saved at a state its writes did not leave, the file gets no note, and
/// the next start builds the index rather than trust it.
#[test]
fn a_server_notes_from_the_state_an_explorer_beside_it_saved_the_file_at() {
    for saved_between_writes in [true, false] {
        let (_dir, _store, space) = fresh_space();
        let person = |user: &str, name: &str| json!({"type":"identify","userId":user,"messageId":user,"traits":{"name":name}});
        ingest(&space, [person("u1", "Ana Silva")]);
        let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
        keep.expect("built").save(&index).unwrap();
        let mut keeper = IndexKeeper::before(space.as_ref());
        ingest(&space, [person("u2", "Nadia Okafor")]);
        keeper.gather(space.as_ref());
        if !saved_between_writes {
            ingest(&space, [person("u3", "Lee Chen")]);
        }
        // The explorer saves the index of the space as it is now.
        let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
        keep.expect("stale: built").save(&index).unwrap();
        ingest(&space, [person("u4", "Zelda Quist")]);
        keeper.gather(space.as_ref());
        keeper.note(space.as_ref()).unwrap();
        let mut built = false;
        let (index, _) = load_or_build(space.as_ref(), &mut || built = true).unwrap();
        assert_eq!(built, !saved_between_writes);
        let hits = SearchEngine::new(Arc::new(index)).search("zelda", 5).hits;
        let zelda = space.owner(&id("user_id:u4")).unwrap();
        assert_eq!(hits.first().map(|hit| hit.profile), zelda);
    }
}

/// The explorer saves the index that live changes patched when it stops, stamped so that
/// the next start reads it back, with the changes its last poll had not seen too; also when
/// the index it opened with was built (and is still being saved in the background).
#[test]
fn the_explorer_keeps_the_index_it_patched_for_the_next_start() {
    for file_at_open in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let person = |user: &str, name: &str| json!({"type":"identify","userId":user,"messageId":user,"traits":{"name":name}});
        let store = Arc::new(common::open_store(dir.path()));
        let space = store.space("default").unwrap();
        ingest(&space, [person("u1", "Ana Silva")]);
        if file_at_open {
            let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
            keep.expect("built").save(&index).unwrap();
        }
        let (replies_to, replies) = crossbeam_channel::unbounded();
        let opened = Arc::clone(&store);
        let opener =
            move |name: &str| -> anyhow::Result<SpaceHandle> { Ok(Box::new(opened.space(name)?)) };
        let worker = StoreWorker::spawn(opener, None, replies_to);
        let wait_for = |wanted: fn(&Reply) -> bool| loop {
            let reply = replies
                .recv_timeout(std::time::Duration::from_secs(10))
                .expect("a reply");
            if wanted(&reply) {
                break;
            }
        };
        worker.send(Request::OpenSpace {
            space: "default".into(),
        });
        wait_for(|r| matches!(r, Reply::Index { .. }));
        ingest(&space, [person("u2", "Nadia Okafor")]);
        wait_for(|r| matches!(r, Reply::Live { .. }));
        ingest(&space, [person("u3", "Zoe Park")]);
        drop(worker);
        let (index, keep) = load_or_build(space.as_ref(), &mut || {}).unwrap();
        assert!(
            keep.is_none(),
            "read back from the file the explorer kept ({file_at_open})"
        );
        assert_eq!(index.profile_count(), 3);
        let mut engine = SearchEngine::new(Arc::new(index));
        assert_eq!(engine.search("zoe park", 5).hits.len(), 1);
    }
}

/// A device two known people use: the second one's profile records the device's
/// anonymousId as refused (the user id limit), and the explorer's profile data names the
/// profile that holds it, so an engineer can go there.
#[test]
fn the_explorer_names_the_profile_holding_an_identifier_this_one_was_refused() {
    let (_dir, _store, space) = fresh_space();
    ingest(
        &space,
        [
            json!({"type":"identify","userId":"a","anonymousId":"dev1","messageId":"m1"}),
            json!({"type":"identify","userId":"b","anonymousId":"dev1","messageId":"m2"}),
        ],
    );
    let a = space.owner(&id("user_id:a")).unwrap().unwrap();
    let b = space.owner(&id("user_id:b")).unwrap().unwrap();
    assert_ne!(a, b);
    let data = idgraph::tui::worker::load_profile(space.as_ref(), b, 0).unwrap();
    assert_eq!(data.violations.len(), 1, "{:?}", data.violations);
    assert_eq!(
        data.holders.into_iter().collect::<Vec<_>>(),
        [(id("anonymous_id:dev1"), a)]
    );
    let data = idgraph::tui::worker::load_profile(space.as_ref(), a, 0).unwrap();
    assert!(data.holders.is_empty(), "{:?}", data.holders);
}

/// A previousId is typed by what the space knows when its alias event comes, events before
/// it in the same group included: grouped or one by one, the same profiles come out.
#[test]
fn a_previous_id_is_typed_by_the_events_before_it_in_its_group() {
    let events = [
        json!({"type": "identify", "userId": "u1", "anonymousId": "a1", "messageId": "m1", "timestamp": at(0)}),
        json!({"type": "alias", "userId": "u2", "previousId": "u1", "messageId": "m2", "timestamp": at(1)}),
        json!({"type": "alias", "userId": "u3", "previousId": "a7", "messageId": "m3", "timestamp": at(2)}),
    ];
    let config =
        idgraph::config::Config::from_toml_str("[identity]\nalias_merges = true\n", "test")
            .unwrap();
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let grouped = Store::open(dirs[0].path(), config.clone()).unwrap();
    let alone = Store::open(dirs[1].path(), config).unwrap();
    let (grouped, alone) = (
        grouped.space("default").unwrap(),
        alone.space("default").unwrap(),
    );
    ingest(&grouped, events.clone());
    for event in events {
        ingest(&alone, [event]);
    }
    assert_eq!(export(&grouped), export(&alone));
    // u1 is a known userId by the time of the alias: linking it to u2 would put two userIds
    // in one profile, so the link is refused rather than made to an anonymousId "u1".
    assert_eq!(grouped.owner(&id("anonymous_id:u1")).unwrap(), None);
    let (u1, u2) = (
        grouped.owner(&id("user_id:u1")).unwrap(),
        grouped.owner(&id("user_id:u2")).unwrap(),
    );
    assert!(u1.is_some() && u2.is_some() && u1 != u2, "{u1:?} {u2:?}");
    // A previousId nobody knows is an anonymousId.
    assert_eq!(
        grouped.owner(&id("anonymous_id:a7")).unwrap(),
        grouped.owner(&id("user_id:u3")).unwrap()
    );
    assert_consistent(&grouped);
}

#[test]
fn reopening_the_store_keeps_everything_and_ids_keep_counting() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = common::open_store(dir.path());
        let space = store.space("default").unwrap();
        space
            .ingest(&[sourced(json!({"type":"identify","userId":"u1","messageId":"x1","traits":{"email":"a@acme.io"}}))], 0)
            .unwrap();
        store.flush().unwrap();
    }
    let store = common::open_store(dir.path());
    let space = store.space("default").unwrap();
    assert_eq!(export(&space).len(), 1);
    ingest(
        &space,
        [json!({"type":"identify","userId":"u2","messageId":"x2"})],
    );
    let ids: Vec<Value> = export(&space)
        .iter()
        .map(|p| p["profile_id"].clone())
        .collect();
    assert_eq!(ids, [json!("p1"), json!("p2")]);
    assert_eq!(space.profile_count().unwrap(), 2);
    assert_eq!(space.event_count(), 2);
}

#[test]
fn timelines_read_newest_first_across_merged_clusters() {
    let (_dir, _store, space) = fresh_space();
    let events = [
        json!({"type":"page","anonymousId":"a1","messageId":"1","timestamp":"2025-01-01T00:00:00Z"}),
        json!({"type":"page","anonymousId":"a2","messageId":"2","timestamp":"2025-01-03T00:00:00Z"}),
        json!({"type":"page","anonymousId":"a1","messageId":"3","timestamp":"2025-01-05T00:00:00Z"}),
        json!({"type":"identify","anonymousId":"a2","userId":"u","messageId":"4","timestamp":"2025-01-02T00:00:00Z"}),
        json!({"type":"identify","anonymousId":"a1","userId":"u","messageId":"5","timestamp":"2025-01-04T00:00:00Z"}),
    ];
    space.ingest(&events.map(sourced), 0).unwrap();
    let owner = space
        .owner(&Identifier::parse("user_id:u").unwrap())
        .unwrap()
        .unwrap();
    let timeline = space.timeline(owner, 10).unwrap();
    let ids: Vec<&str> = timeline.iter().map(|e| e.message_id.as_str()).collect();
    assert_eq!(ids, ["3", "5", "2", "4", "1"]);
    assert_eq!(space.timeline(owner, 2).unwrap().len(), 2);
    assert_eq!(
        space.journal_for(owner).unwrap().len(),
        1,
        "event 5 merged the a1 and a2 profiles"
    );
}

#[test]
fn a_sign_out_releases_the_device_but_not_what_a_split_pinned() {
    let (_dir, _store, space) = fresh_space();
    let device = json!({"device": {"id": "IPAD", "type": "ios"}});
    ingest(
        &space,
        [
            json!({"type": "identify", "userId": "alice", "anonymousId": "a1",
            "context": device, "messageId": "m1", "timestamp": at(0)}),
            json!({"type": "track", "event": "Signed Out", "userId": "alice",
            "anonymousId": "a1", "context": device, "messageId": "m2", "timestamp": at(1)}),
        ],
    );
    // Released: no profile holds the browser's or device's ids, and check agrees.
    assert_eq!(space.owner(&id("anonymous_id:a1")).unwrap(), None);
    assert_eq!(space.owner(&id("ios.id:IPAD")).unwrap(), None);
    assert_consistent(&space);

    // Bob logs in on the device; an engineer splits the device off Bob's profile.
    ingest(
        &space,
        [
            json!({"type": "identify", "userId": "bob", "anonymousId": "a2",
            "context": device, "messageId": "m3", "timestamp": at(10)}),
        ],
    );
    let bob = space.owner(&id("user_id:bob")).unwrap().unwrap();
    assert_eq!(space.owner(&id("ios.id:IPAD")).unwrap(), Some(bob));
    space
        .split(bob, &[id("ios.id:IPAD")], "device is the family's")
        .unwrap();
    let pinned_at = space.owner(&id("ios.id:IPAD")).unwrap();
    // Bob signs out on the device: what the split pinned (both sides) stays where it is.
    ingest(
        &space,
        [
            json!({"type": "track", "event": "Signed Out", "userId": "bob",
            "anonymousId": "a2", "context": device, "messageId": "m4", "timestamp": at(20)}),
        ],
    );
    assert_eq!(space.owner(&id("ios.id:IPAD")).unwrap(), pinned_at);
    assert_eq!(space.owner(&id("anonymous_id:a2")).unwrap(), Some(bob));
    assert_consistent(&space);
}

#[test]
fn a_merge_can_be_undone_after_a_sign_out_released_part_of_what_it_absorbed() {
    let (_dir, _store, space) = fresh_space();
    let device = json!({"device": {"id": "IPAD", "type": "ios"}});
    space
        .ingest(
            &[
                sourced(
                    json!({"type": "identify", "userId": "alice", "anonymousId": "a1",
                    "messageId": "m1", "timestamp": at(0)}),
                ),
                sourced(
                    json!({"type": "screen", "name": "Home", "anonymousId": "a2",
                    "context": device, "messageId": "m2", "timestamp": at(1)}),
                ),
                // Alice logs in on the iPad: the anonymous profile merges into hers.
                sourced(
                    json!({"type": "identify", "userId": "alice", "anonymousId": "a2",
                    "context": device, "messageId": "m3", "timestamp": at(2)}),
                ),
                // Signing out from the web view releases a2 (the iPad's id stays).
                sourced(
                    json!({"type": "track", "event": "Signed Out", "userId": "alice",
                    "anonymousId": "a2", "messageId": "m4", "timestamp": at(3)}),
                ),
            ],
            0,
        )
        .unwrap();
    assert_eq!(space.owner(&id("anonymous_id:a2")).unwrap(), None);
    let alice = space.owner(&id("user_id:alice")).unwrap().unwrap();
    assert_eq!(space.owner(&id("ios.id:IPAD")).unwrap(), Some(alice));
    let merge = space
        .journal()
        .unwrap()
        .into_iter()
        .find(|e| matches!(e.action, idgraph::model::JournalAction::AutoMerge { .. }))
        .expect("the auto-merge");

    space.undo(merge.op, "wrong iPad").unwrap();
    let ipad = space.owner(&id("ios.id:IPAD")).unwrap().expect("held");
    assert_ne!(ipad, alice, "the iPad's profile is apart again");
    let exported = export(&space);
    let ipad_profile = exported
        .iter()
        .find(|p| p["profile_id"] == json!(ipad.to_string()))
        .expect("exported");
    assert_eq!(ipad_profile["event_count"], 1, "with its own screen event");
    assert_consistent(&space);
}

#[test]
fn a_split_keeps_the_links_between_what_it_moves_when_their_event_stays() {
    let (_dir, _store, space) = fresh_space();
    ingest(
        &space,
        [
            json!({"type": "identify", "userId": "u1", "anonymousId": "a1",
            "traits": {"email": "e@x.io"}, "messageId": "m1", "timestamp": at(0)}),
            json!({"type": "track", "event": "Bought", "userId": "u1", "messageId": "m2",
            "timestamp": at(1)}),
        ],
    );
    let linked = |profile: ProfileId| -> Vec<(String, String, String)> {
        space
            .links(profile)
            .unwrap()
            .into_iter()
            .map(|l| {
                (
                    l.from.to_string(),
                    l.to.to_string(),
                    l.provenance.message_id,
                )
            })
            .collect()
    };
    let u1_a1 = (
        "user_id:u1".to_string(),
        "anonymous_id:a1".to_string(),
        "m1".to_string(),
    );
    let before = space.owner(&id("user_id:u1")).unwrap().unwrap();
    assert!(linked(before).contains(&u1_a1), "{:?}", linked(before));

    // m1 also carried the email, which stays: m1 stays, yet u1 and a1 are still linked by it.
    let split = space
        .split(
            before,
            &[id("user_id:u1"), id("anonymous_id:a1")],
            "two people",
        )
        .unwrap();
    let moved = space.owner(&id("user_id:u1")).unwrap().unwrap();
    assert_ne!(moved, before);
    assert_eq!(linked(moved), vec![u1_a1.clone()]);
    assert_consistent(&space);

    space.undo(split.entry.op, "one person after all").unwrap();
    let links = linked(space.owner(&id("user_id:u1")).unwrap().unwrap());
    assert_eq!(
        links.iter().filter(|l| **l == u1_a1).count(),
        1,
        "{links:?}"
    );
    assert_consistent(&space);
}
