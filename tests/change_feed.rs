//! The store's change feed on a real sled directory: every applied batch (ingest, merge,
//! split, undo) moves the version and names the profiles it changed or removed.

use idgraph::config::Config;
use idgraph::ingest::SourcedEvent;
use idgraph::model::{Event, Identifier, ProfileId};
use idgraph::query::{ChangedProfiles, Changes, GraphRead, GraphRepair};
use idgraph::store::Store;
use serde_json::{Value, json};

fn sourced(v: Value) -> SourcedEvent {
    SourcedEvent {
        event: Event::from_json(v).expect("valid event"),
        source: "test".into(),
        channel: "web".into(),
    }
}

fn listed(changes: &Changes) -> (Vec<u64>, Vec<u64>) {
    match &changes.profiles {
        ChangedProfiles::Listed { changed, removed } => (
            changed.iter().map(|p| p.0).collect(),
            removed.iter().map(|p| p.0).collect(),
        ),
        ChangedProfiles::Unknown => panic!("expected a list: {changes:?}"),
    }
}

#[test]
fn ingest_merge_split_and_undo_move_the_feed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), Config::defaults()).unwrap();
    let space = store.space("default").unwrap();
    let start = space.changes_since(u64::MAX).unwrap();
    assert_eq!(start.profiles, ChangedProfiles::Unknown);
    let v0 = start.version;

    let events = [
        json!({"type":"track","event":"Viewed","anonymousId":"a1","messageId":"m1"}),
        json!({"type":"identify","userId":"u2","messageId":"m2","traits":{"email":"bo@x.io"}}),
    ];
    let batch: Vec<_> = events.into_iter().map(sourced).collect();
    space.ingest(&batch, 1_700_000_000_000).unwrap();
    let after_ingest = space.changes_since(v0).unwrap();
    assert_eq!(after_ingest.version, v0 + 1);
    assert_eq!(after_ingest.events, 2);
    assert_eq!(listed(&after_ingest), (vec![1, 2], vec![]));

    // Duplicates apply nothing new: the feed stays where it was.
    space.ingest(&batch, 1_700_000_000_000).unwrap();
    assert_eq!(
        space.changes_since(v0 + 1).unwrap(),
        Changes::none(v0 + 1, 2)
    );

    // An event joining both: the newer profile is merged away automatically.
    let join =
        sourced(json!({"type":"identify","userId":"u2","anonymousId":"a1","messageId":"m3"}));
    space.ingest(&[join], 1_700_000_000_000).unwrap();
    let merged = space.changes_since(v0 + 1).unwrap();
    assert_eq!(listed(&merged), (vec![1], vec![2]));
    assert_eq!(merged.events, 3);

    let undone = space
        .undo(space.journal().unwrap()[0].op, "not the same person")
        .unwrap();
    let after_undo = space.changes_since(merged.version).unwrap();
    let (changed, removed) = listed(&after_undo);
    assert!(removed.is_empty(), "{after_undo:?}");
    assert_eq!(
        changed,
        undone
            .entry
            .profiles
            .iter()
            .map(|p| p.0)
            .collect::<Vec<_>>()
    );

    let owner = |id: &str| {
        space
            .owner(&Identifier::parse(id).unwrap())
            .unwrap()
            .unwrap()
    };
    let (a, b) = (owner("anonymous_id:a1"), owner("user_id:u2"));
    assert_ne!(a, b);
    space.merge(a, b, "same person after all", true).unwrap();
    let after_merge = space.changes_since(after_undo.version).unwrap();
    assert_eq!(after_merge.version, after_undo.version + 1);
    let survivor = owner("user_id:u2");
    let absorbed = if survivor == a { b } else { a };
    assert_eq!(listed(&after_merge), (vec![survivor.0], vec![absorbed.0]));

    let split = space
        .split(
            survivor,
            &[Identifier::parse("anonymous_id:a1").unwrap()],
            "shared laptop",
        )
        .unwrap();
    let after_split = space.changes_since(after_merge.version).unwrap();
    let mut expected: Vec<u64> = split.entry.profiles.iter().map(|p| p.0).collect();
    expected.sort();
    assert_eq!(listed(&after_split), (expected, vec![]));

    // From the start: everything still listed, the absorbed id back as a split-out profile
    // or still removed, never both.
    let (changed, removed) = listed(&space.changes_since(v0).unwrap());
    assert!(changed.iter().all(|id| !removed.contains(id)));
    assert!(space.profile(ProfileId(changed[0])).unwrap().is_some());
}
