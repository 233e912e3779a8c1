//! Store integrity on real stores: `idgraph check [--repair]` passes after ingest and every
//! kind of manual repair; each kind of damage is reported on its own line and repaired so
//! that the export is what it was; `backup` then `restore` into a fresh store gives the same
//! profiles and journal.

mod common;

use common::Workspace;
use idgraph::model::{Profile, ProfileId, StoredEvent};
use idgraph::store::{bundle, decode, encode, keys};
use predicates::prelude::*;
use serde_json::{Value, json};

fn journey() -> Vec<Value> {
    vec![
        json!({"type":"page","anonymousId":"anon-1","messageId":"m1","timestamp":"2025-01-01T10:00:00Z","name":"Home"}),
        json!({"type":"identify","anonymousId":"anon-1","userId":"u1","messageId":"m2","timestamp":"2025-01-01T10:05:00Z","traits":{"email":"Ana@Acme.io","name":"Ana Lima"}}),
        json!({"type":"screen","anonymousId":"ios-anon","messageId":"m3","timestamp":"2025-01-02T10:05:00Z","name":"Cart","context":{"device":{"id":"DEV1","type":"ios"}}}),
        json!({"type":"identify","anonymousId":"ios-anon","userId":"u1","messageId":"m4","timestamp":"2025-01-02T10:06:00Z","context":{"device":{"id":"DEV1","type":"ios"}},"traits":{"plan":"pro"}}),
        json!({"type":"identify","anonymousId":"anon-2","userId":"u2","messageId":"m5","timestamp":"2025-01-03T10:06:00Z","traits":{"email":"bob@acme.io","name":"Bob"}}),
        json!({"type":"track","event":"Signed Up","userId":"undefined","anonymousId":"anon-3","messageId":"m6","timestamp":"2025-01-04T10:06:00Z"}),
        json!({"type":"identify","userId":"u3","messageId":"m7","timestamp":"2025-01-05T10:06:00Z","traits":{"name":"Cy","plan":null}}),
    ]
}

/// A store with automatic and manual merges, a split and undos.
fn repaired_store() -> Workspace {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    ws.ok(&[
        "merge",
        "user_id:u2",
        "anonymous_id:anon-3",
        "--reason",
        "same",
    ]);
    ws.ok(&[
        "merge",
        "user_id:u1",
        "user_id:u3",
        "--reason",
        "same",
        "--force",
    ]);
    ws.ok(&[
        "split",
        "ios.id:DEV1",
        "anonymous_id:ios-anon",
        "--reason",
        "shared iPad",
    ]);
    let later = ws.file(
        "later.jsonl",
        &[
            json!({"type":"identify","anonymousId":"ios-anon","messageId":"m8","timestamp":"2025-02-01T00:00:00Z","traits":{"name":"Ipad"}}),
            json!({"type":"track","event":"Opened","anonymousId":"ios-anon","userId":"u1","messageId":"m9","timestamp":"2025-02-02T00:00:00Z"}),
        ],
    );
    ws.ok(&["ingest", later.to_str().unwrap()]);
    ws.ok(&["undo", "--reason", "wrong split"]);
    let log = ws.ok(&["log", "--json"]);
    let auto = log
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["user"] == "idgraph")
        .expect("an automatic merge");
    ws.ok(&["undo", &auto["op"].to_string(), "--reason", "undo auto"]);
    ws
}

fn check(ws: &Workspace, args: &[&str]) -> (i32, String) {
    let out = ws.idgraph().arg("check").args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

fn tree(ws: &Workspace) -> (sled::Db, sled::Tree) {
    let db = sled::open(ws.store()).unwrap();
    let tree = db.open_tree("space:default").unwrap();
    (db, tree)
}

#[test]
fn a_store_after_ingest_merges_splits_and_undos_passes() {
    let ws = repaired_store();
    let (code, out) = check(&ws, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every invariant holds"), "{out}");
    let (code, out) = check(&ws, &["--json"]);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["ok"], true);
    assert_eq!(report["spaces"][0]["space"], "default");
    assert!(report["spaces"][0]["records"]["events"].as_u64().unwrap() >= 9);
}

/// A space's counters (`M` "counters"), as the store encodes them.
#[derive(serde::Serialize, serde::Deserialize)]
struct Counters {
    next_seq: u64,
    next_profile: u64,
    next_link: u64,
    next_op: u64,
    profiles: u64,
    events: u64,
}

/// The chain `why` gives between two identifiers: (from, to, rule, message_id) per step.
fn why_chain(ws: &Workspace, a: &str, b: &str) -> Vec<[String; 4]> {
    let why: Value = serde_json::from_str(&ws.ok(&["why", a, b, "--json"])).unwrap();
    why["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| ["from", "to", "rule", "message_id"].map(|k| step[k].to_string()))
        .collect()
}

#[test]
fn links_are_kept_with_their_events_and_links_kept_apart_by_earlier_builds_still_count() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let chain = why_chain(&ws, "ios.id:DEV1", "email:ana@acme.io");
    assert!(chain.len() >= 2, "{chain:?}");
    let report = |ws: &Workspace| -> Value {
        let (code, out) = check(ws, &["--json"]);
        assert_eq!(code, 0, "{out}");
        serde_json::from_str(&out).unwrap()
    };
    let links = report(&ws)["spaces"][0]["records"]["links"]
        .as_u64()
        .unwrap();
    assert!(links >= 4, "{links} links");

    // No record of their own: the links are inside the event bundles. Rewrite the store as
    // builds before this one left it: each link an `A` record, the events without them.
    let (db, tree) = tree(&ws);
    assert_eq!(tree.scan_prefix([keys::tag::ADJACENCY]).count(), 0);
    let mut moved = 0;
    for item in tree.scan_prefix([keys::tag::TIMELINE]) {
        let (key, value) = item.unwrap();
        let mut events = bundle::decode_plain(&value).unwrap();
        for event in &mut events {
            for link in event.made_links() {
                moved += 1;
                tree.insert(keys::adjacency(&link.to, moved), encode(&link))
                    .unwrap();
            }
            event.links.clear();
        }
        tree.insert(key, bundle::encode_plain(&events)).unwrap();
    }
    let mut counters: Counters =
        decode(&tree.get(keys::meta("counters")).unwrap().unwrap()).unwrap();
    counters.next_link = moved + 1;
    tree.insert(keys::meta("counters"), encode(&counters))
        .unwrap();
    db.flush().unwrap();
    drop((tree, db));
    assert_eq!(moved, links);

    assert_eq!(why_chain(&ws, "ios.id:DEV1", "email:ana@acme.io"), chain);
    assert_eq!(report(&ws)["spaces"][0]["records"]["links"], links);
}

#[test]
fn an_empty_store_passes() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.store()).unwrap();
    ws.idgraph()
        .arg("check")
        .assert()
        .success()
        .stdout(predicate::str::contains("checked 0 spaces"));
}

/// Damages the store with `damage`, expects `check` to name it, `--repair` to fix it, and
/// the export to be what it was.
fn damage_is_found_and_repaired(damage: impl FnOnce(&sled::Tree), expected: &[&str]) {
    let ws = repaired_store();
    let before = ws.export("default");
    {
        let (db, tree) = tree(&ws);
        damage(&tree);
        db.flush().unwrap();
    }
    let (code, out) = check(&ws, &[]);
    assert_eq!(code, 1, "check must fail: {out}");
    for text in expected {
        assert!(out.contains(text), "expected {text:?} in:\n{out}");
    }
    assert!(
        out.lines()
            .all(|l| l.starts_with("default: ") || l.starts_with("checked ")),
        "{out}"
    );
    let (code, out) = check(&ws, &["--repair"]);
    assert_eq!(code, 0, "repair must fix it: {out}");
    assert!(out.contains("repaired: "), "{out}");
    assert_eq!(check(&ws, &[]).0, 0);
    let after = ws.export("default");
    let strip = |lines: Vec<Value>| -> Vec<Value> {
        let mut lines: Vec<Value> = lines
            .into_iter()
            .map(|mut l| {
                l.as_object_mut().unwrap().remove("profile_id");
                l
            })
            .collect();
        lines.sort_by_key(|l| l.to_string());
        lines
    };
    assert_eq!(strip(after), strip(before));
}

fn first_key(tree: &sled::Tree, tag: u8) -> (sled::IVec, sled::IVec) {
    tree.scan_prefix([tag]).next().unwrap().unwrap()
}

#[test]
fn a_lost_owner_bucket_is_rebuilt() {
    damage_is_found_and_repaired(
        |tree| {
            let (key, _) = first_key(tree, keys::tag::OWNERS);
            tree.remove(key).unwrap();
        },
        &["default: problem: identifier: ", "has no owner entry"],
    );
}

#[test]
fn owners_filed_in_the_wrong_bucket_are_filed_again() {
    damage_is_found_and_repaired(
        |tree| {
            let (key, value) = first_key(tree, keys::tag::OWNERS);
            let bucket = keys::bucket_from_key(&key).unwrap();
            let free = (1..)
                .map(|step| keys::owner_bucket(bucket.wrapping_add(step) % (1 << 18)))
                .find(|k| tree.get(k).unwrap().is_none())
                .unwrap();
            tree.remove(&key).unwrap();
            tree.insert(free, value).unwrap();
        },
        &["is filed in the wrong owner bucket", "has no owner entry"],
    );
}

/// The owners in a space's buckets: (identifier entry, owner), sorted. A bucket is a format
/// byte, then per identifier its entry's length (u32), the entry and the owner (u64).
fn bucketed_owners(tree: &sled::Tree) -> Vec<(Vec<u8>, u64)> {
    let mut owners = Vec::new();
    for item in tree.scan_prefix([keys::tag::OWNERS]) {
        let (_, value) = item.unwrap();
        assert_eq!(value[0], 1, "bucket format");
        let mut rest = &value[1..];
        while !rest.is_empty() {
            let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let owner = u64::from_be_bytes(rest[4 + len..12 + len].try_into().unwrap());
            owners.push((rest[4..4 + len].to_vec(), owner));
            rest = &rest[12 + len..];
        }
    }
    owners.sort();
    owners
}

#[test]
fn a_space_keeping_a_record_per_owner_moves_them_into_buckets_when_opened() {
    let ws = repaired_store();
    let before = ws.export("default");
    let owners = {
        let (db, tree) = tree(&ws);
        let owners = bucketed_owners(&tree);
        assert!(owners.len() >= 8, "{owners:?}");
        let mut batch = sled::Batch::default();
        for item in tree.scan_prefix([keys::tag::OWNERS]) {
            batch.remove(item.unwrap().0);
        }
        for (entry, owner) in &owners {
            let mut key = vec![keys::tag::IDENTIFIER];
            key.extend_from_slice(entry);
            batch.insert(key, &owner.to_be_bytes()[..]);
        }
        batch.insert(keys::meta("layout"), &[2u8][..]);
        tree.apply_batch(batch).unwrap();
        db.flush().unwrap();
        owners
    };
    let (code, out) = check(&ws, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("every invariant holds"), "{out}");
    assert_eq!(ws.export("default"), before);
    let shown = ws.ok(&["show", "email:ana@acme.io"]);
    assert!(shown.starts_with("p1 "), "{shown}");
    assert!(shown.contains("\n  user_id          u1 "), "{shown}");
    let (_db, tree) = tree(&ws);
    assert_eq!(bucketed_owners(&tree), owners);
    assert_eq!(tree.scan_prefix([keys::tag::IDENTIFIER]).count(), 0);
    assert_eq!(
        tree.get(keys::meta("layout")).unwrap().unwrap().as_ref(),
        [3]
    );
}

#[test]
fn a_lost_message_list_is_rebuilt() {
    damage_is_found_and_repaired(
        |tree| {
            let (key, _) = first_key(tree, keys::tag::MESSAGE);
            tree.remove(key).unwrap();
            let ghost = [1u8; 17];
            tree.insert(keys::messages(999), &ghost[..]).unwrap();
        },
        &[
            "stored events are missing from the messageId lists (seq 1, ",
            "messageId list D(999) names 1 events that are not stored",
        ],
    );
}

#[test]
fn a_bundle_filed_under_the_wrong_seq_is_filed_again() {
    damage_is_found_and_repaired(
        |tree| {
            let (key, value) = first_key(tree, keys::tag::TIMELINE);
            let (cluster, _) = keys::timeline_entry(&key).unwrap();
            tree.remove(&key).unwrap();
            tree.insert(keys::timeline(cluster, 0), value).unwrap();
        },
        &["event bundle 0 of cluster 1 holds seqs from 1"],
    );
}

#[test]
fn wrong_profile_counts_and_traits_are_recomputed() {
    damage_is_found_and_repaired(
        |tree| {
            let (key, value) = first_key(tree, keys::tag::PROFILE);
            let mut profile: Profile = decode(&value).unwrap();
            profile.event_count += 7;
            profile.violation_count += 1;
            profile.traits.clear();
            tree.insert(key, encode(&profile)).unwrap();
        },
        &["event count", "traits differ", "violation count"],
    );
}

#[test]
fn an_unreadable_profile_is_rebuilt_from_its_identifiers_clusters_and_events() {
    damage_is_found_and_repaired(
        |tree| {
            tree.insert(keys::profile(ProfileId(1)), &b"\x01garbage"[..])
                .unwrap();
        },
        &["profile p1: record does not decode"],
    );
}

#[test]
fn a_duplicate_event_is_removed() {
    damage_is_found_and_repaired(
        |tree| {
            let (key, value) = first_key(tree, keys::tag::TIMELINE);
            let mut event: StoredEvent = bundle::decode_plain(&value).unwrap().remove(0);
            let (cluster, _) = keys::timeline_entry(&key).unwrap();
            event.seq = 500;
            tree.insert(keys::timeline(cluster, 500), bundle::encode_plain(&[event]))
                .unwrap();
        },
        &["is stored twice", "a duplicate"],
    );
}

#[test]
fn broken_counters_are_rebuilt() {
    damage_is_found_and_repaired(
        |tree| {
            tree.insert(keys::meta("counters"), &b"\x01\xff"[..])
                .unwrap();
        },
        &["record Mcounters does not decode"],
    );
}

#[test]
fn missing_history_and_undo_data_are_rebuilt() {
    damage_is_found_and_repaired(
        |tree| {
            let (key, _) = first_key(tree, keys::tag::HISTORY);
            tree.remove(key).unwrap();
            tree.insert(keys::history(ProfileId(77), 9_999), &[][..])
                .unwrap();
        },
        &["history lacks it", "history of p77 names #9999"],
    );
}

#[test]
fn records_of_a_newer_format_are_never_repaired() {
    let ws = repaired_store();
    {
        let (db, tree) = tree(&ws);
        let (key, value) = first_key(&tree, keys::tag::JOURNAL);
        let mut newer = value.to_vec();
        newer[0] = 9;
        tree.insert(key, newer).unwrap();
        db.flush().unwrap();
    }
    let (code, out) = check(&ws, &[]);
    assert_eq!(code, 1);
    assert!(out.contains("unknown format version 9"), "{out}");
    ws.idgraph()
        .args(["check", "--repair"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("newer idgraph (format version 9)"));
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn backup_then_restore_into_a_fresh_store_gives_the_same_store() {
    let ws = repaired_store();
    let other = ws.file(
        "other.jsonl",
        &[json!({"type":"identify","userId":"o1","messageId":"m1","timestamp":"2025-03-01T00:00:00Z","traits":{"tier":"gold"}})],
    );
    ws.ok(&["--space", "other", "ingest", other.to_str().unwrap()]);
    for name in ["backup.jsonl", "backup.jsonl.gz"] {
        let file = ws.path().join(name);
        ws.idgraph()
            .args(["backup"])
            .arg(&file)
            .assert()
            .success()
            .stderr(predicate::str::contains("backed up 2 spaces, 10 events"));
        assert_eq!(mode(&file), 0o600, "{name} is private");
        let fresh = Workspace::new();
        fresh
            .idgraph()
            .arg("restore")
            .arg(&file)
            .assert()
            .success()
            .stderr(predicate::str::contains(
                "restored 10 events, re-applied 5 manual operations",
            ));
        for space in ["default", "other"] {
            assert_eq!(
                fresh.export(space),
                ws.export(space),
                "{name}: space {space}"
            );
            assert_eq!(
                fresh.ok(&["--space", space, "log", "--json"]),
                ws.ok(&["--space", space, "log", "--json"]),
                "{name}: journal of {space}"
            );
        }
        assert_eq!(
            fresh.ok(&["show", "user_id:u1", "--json"]),
            ws.ok(&["show", "user_id:u1", "--json"])
        );
        assert_eq!(check(&fresh, &[]).0, 0);
        fresh
            .idgraph()
            .arg("restore")
            .arg(&file)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("restore needs an empty store"));
    }
    let text = std::fs::read_to_string(ws.path().join("backup.jsonl")).unwrap();
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(header["format"], "idgraph-backup");
    assert_eq!(header["format_version"], 1);
    assert_eq!(header["spaces"][0]["name"], "default");
    let events: Vec<Value> = text
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l.get("event").is_some())
        .collect();
    assert_eq!(events[0]["event"]["messageId"], "m1");
    assert_eq!(events[0]["seq"], 1);
    assert!(events[0]["channel"].is_string() && events[0]["source"].is_string());
}

#[test]
fn restore_refuses_what_is_not_a_backup() {
    let ws = Workspace::new();
    let file = ws.write("not.jsonl", "{\"type\":\"page\"}\n");
    ws.idgraph()
        .arg("restore")
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not an idgraph backup"));
    let newer = ws.write(
        "newer.jsonl",
        "{\"format\":\"idgraph-backup\",\"format_version\":7,\"idgraph_version\":\"9.0.0\",\"created_at\":\"x\",\"spaces\":[]}\n",
    );
    ws.idgraph()
        .arg("restore")
        .arg(&newer)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("format version 7"));
}

/// Every file and directory under `dir`, with its permission bits.
fn modes_under(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, u32)>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        out.push((path.clone(), mode(&path)));
        if path.is_dir() {
            modes_under(&path, out);
        }
    }
}

#[test]
fn files_sled_creates_while_the_store_is_open_are_private_too() {
    let ws = Workspace::new();
    std::fs::create_dir(ws.store()).unwrap();
    ws.ok(&["check"]);
    // A value this large is kept by sled as a separate blob file, created mid-run.
    let big = json!({"type":"identify","userId":"u-big","messageId":"big",
        "timestamp":"2025-01-01T00:00:00Z","traits":{"notes":"n".repeat(700_000)}});
    let file = ws.file("big.jsonl", &[big]);
    ws.ok(&["ingest", file.to_str().unwrap()]);
    // Looked at before any later open could fix modes up.
    let mut modes = Vec::new();
    modes_under(&ws.store(), &mut modes);
    let backup = ws.path().join("b.jsonl.gz");
    ws.ok(&["backup", backup.to_str().unwrap()]);
    assert!(
        modes
            .iter()
            .any(|(p, _)| p.to_string_lossy().contains("blobs/")),
        "expected a blob file: {modes:?}"
    );
    for (path, mode) in modes.iter().chain([(backup.clone(), mode(&backup))].iter()) {
        assert_eq!(mode & 0o077, 0, "{} has mode {mode:o}", path.display());
    }
}

/// Regression of the first fuzzing finding: events sent without a messageId get one made
/// from their content; after a restore, ingesting the same file again must still find
/// them duplicates.
#[test]
fn events_without_message_ids_stay_deduplicated_across_backup_and_restore() {
    let ws = Workspace::new();
    let lines = [
        json!({"type":"alias","userId":"u2","previousId":"a9"}),
        json!({"type":"page","anonymousId":"a1","name":"Home"}),
        json!({"type":"identify","userId":"u2","anonymousId":"a1","traits":{"plan":"pro"}}),
    ];
    let file = ws.file("e.jsonl", &lines);
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let backup = ws.path().join("b.jsonl");
    ws.ok(&["backup", backup.to_str().unwrap()]);
    let fresh = Workspace::new();
    fresh.ok(&["restore", backup.to_str().unwrap()]);
    let out = fresh.ok(&["ingest", "--json", file.to_str().unwrap()]);
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["duplicates"], 3, "{summary}");
    assert_eq!(fresh.export("default"), ws.export("default"));
    assert_eq!(check(&fresh, &[]).0, 0);
}

/// A store holding the demo data: enough events for a dictionary, so events are compressed.
fn compressed_store() -> Workspace {
    let ws = Workspace::new();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/demo/events.jsonl");
    // The demo data holds junk-id events on purpose: rejected lines make the exit 1.
    ws.idgraph().args(["ingest", demo]).assert().code(1);
    ws
}

#[test]
fn events_are_stored_compressed_once_a_space_has_enough_and_still_check_and_restore() {
    let ws = compressed_store();
    {
        let (_db, tree) = tree(&ws);
        assert!(tree.get(keys::meta("event-dictionary")).unwrap().is_some());
        let versions: Vec<u8> = tree
            .scan_prefix([keys::tag::TIMELINE])
            .map(|item| item.unwrap().1[0])
            .collect();
        assert!(versions.len() > 100, "{} bundles", versions.len());
        assert!(versions.iter().all(|v| *v == 2), "every bundle compressed");
    }
    let (code, out) = check(&ws, &[]);
    assert_eq!(code, 0, "{out}");
    let backup = ws.path().join("backup.jsonl");
    ws.idgraph().arg("backup").arg(&backup).assert().success();
    let fresh = Workspace::new();
    fresh
        .idgraph()
        .arg("restore")
        .arg(&backup)
        .assert()
        .success();
    assert_eq!(fresh.export("default"), ws.export("default"));
    let show = |w: &Workspace| {
        let shown: Value =
            serde_json::from_str(&w.ok(&["show", "email:mozellheller8857@gmail.com", "--json"]))
                .unwrap();
        shown
    };
    assert_eq!(show(&fresh), show(&ws));
}

#[test]
fn a_damaged_event_dictionary_is_reported_and_never_repaired_away() {
    let ws = compressed_store();
    {
        let (db, tree) = tree(&ws);
        tree.insert(keys::meta("event-dictionary"), &[1u8, 0xff, 0xff][..])
            .unwrap();
        db.flush().unwrap();
    }
    ws.idgraph()
        .args(["export"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("event dictionary"));
    let (code, out) = check(&ws, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("event-dictionary does not decode"), "{out}");
    ws.idgraph()
        .args(["check", "--repair"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "the event dictionary does not decode",
        ));
}
