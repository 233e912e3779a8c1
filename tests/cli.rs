//! The command-line contract, on the real binary with a temp store.

mod common;

use common::{Workspace, ids_of};
use predicates::prelude::*;
use serde_json::{Value, json};

fn journey() -> Vec<Value> {
    vec![
        json!({"type":"page","anonymousId":"anon-1","messageId":"m1","timestamp":"2025-01-01T10:00:00Z","name":"Home"}),
        json!({"type":"identify","anonymousId":"anon-1","userId":"u1","messageId":"m2","timestamp":"2025-01-01T10:05:00Z","traits":{"email":"Ana@Acme.io","name":"Ana Lima"}}),
        json!({"type":"screen","anonymousId":"ios-anon","messageId":"m3","timestamp":"2025-01-02T10:05:00Z","name":"Cart","context":{"device":{"id":"DEV1","type":"ios"}}}),
        json!({"type":"identify","anonymousId":"ios-anon","userId":"u1","messageId":"m4","timestamp":"2025-01-02T10:06:00Z","context":{"device":{"id":"DEV1","type":"ios"}}}),
        json!({"type":"identify","anonymousId":"anon-1","userId":"u2","messageId":"m5","timestamp":"2025-01-03T10:06:00Z","traits":{"email":"bob@acme.io"}}),
    ]
}

#[test]
fn ingest_reports_bad_lines_with_numbers_and_keeps_the_rest() {
    let ws = Workspace::new();
    let mut text: String = journey().iter().map(|l| format!("{l}\n")).collect();
    text.insert_str(0, "{\"type\":\"track\",\"event\":\"x\"}\nnot json\n");
    let file = ws.write("events.jsonl", &text);
    ws.idgraph()
        .args(["ingest", "--json"])
        .arg(&file)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "events.jsonl:1: event has neither userId nor anonymousId",
        ))
        .stderr(predicate::str::contains("events.jsonl:2: invalid JSON"))
        .stdout(
            predicate::str::contains("\"stored\":5")
                .and(predicate::str::contains("\"rejected\":2")),
        );
    let export = ws.export("default");
    assert_eq!(export.len(), 2);
}

#[test]
fn export_has_the_documented_fields_and_profiles() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let export = ws.export("default");
    let ana = &export[0];
    for field in [
        "space",
        "profile_id",
        "identifiers",
        "traits",
        "event_count",
    ] {
        assert!(ana.get(field).is_some(), "missing {field}");
    }
    assert_eq!(ana["space"], "default");
    assert_eq!(
        ids_of(ana),
        [
            "anonymous_id:anon-1",
            "anonymous_id:ios-anon",
            "email:ana@acme.io",
            "ios.id:DEV1",
            "user_id:u1"
        ]
    );
    assert_eq!(ana["event_count"], 4);
    assert_eq!(ana["traits"]["name"], "Ana Lima");
    assert_eq!(ids_of(&export[1]), ["email:bob@acme.io", "user_id:u2"]);
}

#[test]
fn reingesting_the_same_file_changes_nothing() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let before = ws.export("default");
    let out = ws.ok(&["ingest", "--json", file.to_str().unwrap()]);
    let summary: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(summary["stored"], 0);
    assert_eq!(summary["duplicates"], 5);
    assert_eq!(ws.export("default"), before);
}

#[test]
fn reads_gzip_and_stdin() {
    let ws = Workspace::new();
    let path = ws.path().join("e.jsonl.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).unwrap(),
        flate2::Compression::fast(),
    );
    for line in &journey()[..2] {
        std::io::Write::write_all(&mut gz, format!("{line}\n").as_bytes()).unwrap();
    }
    gz.finish().unwrap();
    ws.ok(&["ingest", path.to_str().unwrap()]);
    let rest: String = journey()[2..].iter().map(|l| format!("{l}\n")).collect();
    ws.idgraph()
        .args(["ingest", "-"])
        .write_stdin(rest)
        .assert()
        .success();
    assert_eq!(ws.export("default").len(), 2);
}

#[test]
fn reading_commands_say_there_is_no_store_and_create_none() {
    let ws = Workspace::new();
    for args in [
        &["show", "email:ana@acme.io"][..],
        &["export"],
        &["why", "user_id:u1", "email:ana@acme.io"],
        &["search", "ana"],
        &["log"],
        &["health"],
    ] {
        ws.idgraph()
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "no store at {}",
                ws.store().display()
            )));
        assert!(!ws.store().exists(), "{args:?} created a store");
    }
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    assert_eq!(ws.export("default").len(), 2);
}

#[test]
fn the_explorer_without_a_terminal_says_what_it_needs() {
    let ws = Workspace::new();
    for args in [&["explore"][..], &["demo"]] {
        ws.idgraph()
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(
                "idgraph: error: the explorer needs a terminal",
            ));
    }
    assert!(
        !ws.store().exists(),
        "the demo built nothing it cannot show"
    );
}

#[test]
fn a_mistyped_space_is_said_and_not_created() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    for args in [
        &["export"][..],
        &["show", "user_id:u1"],
        &["log"],
        &["health"],
    ] {
        ws.idgraph()
            .args(["--space", "defualt"])
            .args(args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(format!(
                "no space 'defualt' in {} (spaces: default)",
                ws.store().display()
            )));
    }
    let check = ws.ok(&["check"]);
    assert!(check.contains("checked 1 space:"), "{check}");
}

#[test]
fn a_directory_holding_other_files_is_no_store_and_is_left_untouched() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let project = ws.store();
    std::fs::create_dir_all(project.join("bin")).unwrap();
    std::fs::write(project.join("notes.txt"), "hi\n").unwrap();
    std::fs::write(project.join("bin/tool.sh"), "#!/bin/sh\n").unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    std::fs::set_permissions(
        project.join("bin/tool.sh"),
        PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let modes_before = [
        mode(&project),
        mode(&project.join("notes.txt")),
        mode(&project.join("bin/tool.sh")),
    ];
    let file = ws.file("e.jsonl", &journey());
    ws.idgraph()
        .args(["ingest", file.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "{} is not an idgraph store and is not empty",
            project.display()
        )));
    ws.idgraph()
        .arg("health")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(format!(
            "{} is not an idgraph store",
            project.display()
        )));
    let modes_after = [
        mode(&project),
        mode(&project.join("notes.txt")),
        mode(&project.join("bin/tool.sh")),
    ];
    assert_eq!(modes_after, modes_before, "permissions changed");
    let mut entries: Vec<String> = std::fs::read_dir(&project)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    entries.sort();
    assert_eq!(entries, ["bin", "notes.txt"], "files were added");
    // Emptied, the directory takes a store, whose own files are private.
    std::fs::remove_dir_all(project.join("bin")).unwrap();
    std::fs::remove_file(project.join("notes.txt")).unwrap();
    ws.ok(&["ingest", file.to_str().unwrap()]);
    assert_eq!(mode(&project.join("db")), 0o600);
    assert_eq!(mode(&project), 0o700);
}

#[test]
fn show_prints_one_profile_and_fails_clearly_when_unknown() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let out = ws.ok(&["show", "email: ANA@acme.io", "--json"]);
    let profile: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(profile["profile_id"], "p1");
    assert_eq!(profile["name"], "Ana Lima");
    assert_eq!(profile["recent_events"].as_array().unwrap().len(), 4);
    let human = ws.ok(&["show", "user_id:u1"]);
    assert!(
        human.contains("Ana Lima") && human.contains("ios.id") && human.contains("screen Cart"),
        "{human}"
    );
    ws.idgraph()
        .args(["show", "email:nobody@acme.io"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::is_match(
                "^idgraph: error: no profile holds email:nobody@acme.io in space default\n$",
            )
            .unwrap(),
        );
    ws.idgraph()
        .args(["show", "garbage"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("TYPE:VALUE"));
    ws.idgraph()
        .args(["show", "p999"])
        .assert()
        .code(1)
        .stderr("idgraph: error: no profile p999 in space default\n");
    ws.ok(&["merge", "p1", "p3", "--reason", "same", "--force"]);
    ws.idgraph()
        .args(["show", "p3"])
        .assert()
        .code(1)
        .stderr("idgraph: error: no profile p3 in space default (merged into p1 by #2)\n");
}

#[test]
fn why_shows_the_chain_of_events_and_rules() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let out = ws.ok(&["why", "ios.id:DEV1", "email:ana@acme.io", "--json"]);
    let why: Value = serde_json::from_str(&out).unwrap();
    let chain = why["chain"].as_array().unwrap();
    assert_eq!(chain.first().unwrap()["from"], "ios.id:DEV1");
    assert_eq!(chain.last().unwrap()["to"], "email:ana@acme.io");
    assert!(
        chain
            .iter()
            .any(|s| s["rule"] == "merge" && s["message_id"] == "m4")
    );
    ws.idgraph()
        .args(["why", "user_id:u1", "user_id:u2"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("are not linked"));
}

#[test]
fn merge_needs_a_reason_and_force_for_conflicts_and_undo_restores() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let before = ws.export("default");
    ws.idgraph()
        .args(["merge", "user_id:u1", "user_id:u2"])
        .assert()
        .code(2);
    let preview = ws.ok(&["merge", "user_id:u1", "user_id:u2", "--dry-run", "--json"]);
    let preview: Value = serde_json::from_str(&preview).unwrap();
    assert_eq!(preview["survivor"], "p1");
    assert!(
        preview["conflicts"][0]
            .as_str()
            .unwrap()
            .contains("user_id")
    );
    assert_eq!(ws.export("default"), before, "dry run changes nothing");
    ws.idgraph()
        .args([
            "merge",
            "user_id:u1",
            "user_id:u2",
            "--reason",
            "same person",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--force"));
    ws.ok(&[
        "merge",
        "user_id:u1",
        "user_id:u2",
        "--reason",
        "same person",
        "--force",
    ]);
    assert_eq!(ws.export("default").len(), 1);
    let log = ws.ok(&["log", "--manual", "--json"]);
    let entry: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(entry["reason"], "same person");
    assert!(entry["summary"].as_str().unwrap().contains("forced merge"));
    ws.ok(&["undo"]);
    assert_eq!(ws.export("default"), before);
    ws.idgraph().arg("undo").assert().code(1).stderr(
        "idgraph: error: nothing to undo: every manual merge and split is undone already\n",
    );
}

#[test]
fn the_journal_names_the_os_user_even_without_user_in_the_environment() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    ws.idgraph()
        .env_remove("USER")
        .env_remove("LOGNAME")
        .args([
            "merge",
            "user_id:u1",
            "user_id:u2",
            "--reason",
            "same",
            "--force",
        ])
        .assert()
        .success();
    let account = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let account = String::from_utf8(account.stdout).unwrap();
    let log = ws.ok(&["log", "--manual", "--json"]);
    let entry: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(entry["user"], account.trim());
}

#[test]
fn search_prints_json_lines_a_table_on_request_and_says_when_nothing_matches() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let out = ws.ok(&["search", "ana", "lima"]);
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(first["profile_id"], "p1");
    assert_eq!(first["name"], "Ana Lima");
    assert!(first["score"].as_i64().unwrap() > 0, "{first}");
    assert_eq!(
        first["also_matched"],
        json!([]),
        "one text holds both words"
    );
    // Words in another order and from two texts of the profile: both texts are listed.
    let out = ws.ok(&["search", "lima", "acme"]);
    assert_eq!(out.lines().count(), 1, "{out}");
    let across: Value = serde_json::from_str(&out).unwrap();
    let mut texts = vec![across["matched"].clone()];
    texts.extend(across["also_matched"].as_array().unwrap().iter().cloned());
    texts.sort_by_key(Value::to_string);
    assert_eq!(texts, [json!("email:ana@acme.io"), json!("name:Ana Lima")]);
    let exact: Value = serde_json::from_str(&ws.ok(&["search", "user_id:u2"])).unwrap();
    assert_eq!(
        (exact["exact"].clone(), exact["score"].clone()),
        (json!(true), Value::Null)
    );
    let table = ws.ok(&["search", "user_id:u2", "--table"]);
    assert!(
        table.starts_with(&format!("{}\t", exact["profile_id"].as_str().unwrap()))
            && table.trim_end().ends_with("\texact"),
        "{table}"
    );
    ws.idgraph()
        .args(["search", "zzzzqqq"])
        .assert()
        .code(1)
        .stdout("")
        .stderr("idgraph: no profile matches 'zzzzqqq'\n");
}

/// The first search keeps the index beside the store (the owner's alone); the next ones
/// read it back, until the store changes: a person ingested since is found at once.
#[test]
fn search_keeps_its_index_and_never_answers_from_a_stale_one() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    assert!(ws.ok(&["search", "ana", "lima"]).contains("Ana Lima"));
    let kept: Vec<_> = std::fs::read_dir(ws.store())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("idgraph-search-")
        })
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = kept[0].metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    assert!(ws.ok(&["search", "ana", "lima"]).contains("Ana Lima"));
    let later = ws.file(
        "later.jsonl",
        &[json!({"type":"identify","userId":"u9","messageId":"later-1","traits":{"name":"Zelda Quist"}})],
    );
    ws.ok(&["ingest", later.to_str().unwrap()]);
    let found: Value = serde_json::from_str(ws.ok(&["search", "zelda"]).trim()).unwrap();
    assert_eq!(found["name"], "Zelda Quist");
}

/// A merge, its undo and an ingest on the command line leave the index file as it is and
/// note which profiles they changed beside it; the next search sees each change and saves
/// the file current again (catching up from the notes is tested in tests/store.rs).
#[cfg(unix)]
#[test]
fn command_line_writes_note_their_changes_for_the_index_file() {
    use std::os::unix::fs::MetadataExt;
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let later = ws.file(
        "later.jsonl",
        &[json!({"type":"identify","userId":"u9","messageId":"later-1","traits":{"name":"Zelda Quist"}})],
    );
    let search = |query: &str| -> Value {
        serde_json::from_str(ws.ok(&["search", query]).lines().next().unwrap()).unwrap()
    };
    let bob = search("bob")["profile_id"].clone();
    assert_ne!(bob, "p1");
    let path = ws.store().join("idgraph-search-64656661756c74.idx");
    let notes = path.with_extension("changes");
    let inode = || std::fs::metadata(&path).unwrap().ino();
    let writes: [(Vec<&str>, &str, &str, Value); 3] = [
        (
            vec!["merge", "p1", "p3", "--reason", "same", "--force"],
            "bob",
            "profile_id",
            json!("p1"),
        ),
        (
            vec!["undo", "--reason", "not the same"],
            "bob",
            "profile_id",
            bob,
        ),
        (
            vec!["ingest", later.to_str().unwrap()],
            "zelda",
            "name",
            json!("Zelda Quist"),
        ),
    ];
    for (args, query, field, expected) in writes {
        let saved = inode();
        ws.ok(&args);
        assert_eq!(inode(), saved, "{args:?} leaves the file as it is");
        let note: Value = serde_json::from_str(&std::fs::read_to_string(&notes).unwrap()).unwrap();
        assert!(
            !note["profiles"].as_array().unwrap().is_empty(),
            "{args:?}: {note}"
        );
        assert_eq!(search(query)[field], expected, "{args:?}");
        assert!(
            !notes.exists(),
            "{args:?}: saved current, the notes are done with"
        );
        assert_ne!(inode(), saved);
    }
}

/// When the index cannot be kept, search still answers and says why on one line.
#[test]
fn search_answers_and_says_so_when_it_cannot_keep_its_index() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    // A directory where the file would go: it can be neither read nor replaced.
    let blocked = ws.store().join("idgraph-search-64656661756c74.idx");
    std::fs::create_dir_all(blocked.join("in-the-way")).unwrap();
    let out = ws
        .idgraph()
        .args(["search", "ana", "lima"])
        .assert()
        .success();
    let output = out.get_output();
    assert!(String::from_utf8_lossy(&output.stdout).contains("Ana Lima"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("idgraph: cannot keep the search index at ")
            && stderr
                .trim_end()
                .ends_with("(the next search builds it again)")
            && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn split_moves_identifiers_with_their_events_and_stays_split() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let before = ws.export("default");
    let preview = ws.ok(&[
        "split",
        "ios.id:DEV1",
        "anonymous_id:ios-anon",
        "--dry-run",
        "--json",
    ]);
    let preview: Value = serde_json::from_str(&preview).unwrap();
    assert_eq!(preview["moving_events"].as_array().unwrap().len(), 1);
    ws.ok(&[
        "split",
        "ios.id:DEV1",
        "anonymous_id:ios-anon",
        "--reason",
        "shared iPad",
    ]);
    let after = ws.export("default");
    assert_eq!(after.len(), 3);
    let split_out = after
        .iter()
        .find(|p| ids_of(p).contains(&"ios.id:DEV1".to_string()))
        .unwrap();
    assert_eq!(ids_of(split_out), ["anonymous_id:ios-anon", "ios.id:DEV1"]);
    assert_eq!(split_out["event_count"], 1);
    let later = ws.file(
        "later.jsonl",
        &[json!({"type":"track","event":"Opened","anonymousId":"ios-anon","userId":"u1","messageId":"m9",
            "timestamp":"2025-02-01T00:00:00Z","context":{"device":{"id":"DEV1","type":"ios"}}})],
    );
    ws.ok(&["ingest", later.to_str().unwrap()]);
    assert_eq!(
        ws.export("default").len(),
        3,
        "a later event must not silently re-merge the split"
    );
    let undo_target = ws.ok(&["log", "--manual", "--json"]);
    let op = serde_json::from_str::<Value>(undo_target.lines().next().unwrap()).unwrap()["op"]
        .as_u64()
        .unwrap();
    ws.ok(&["undo", &op.to_string(), "--reason", "was right after all"]);
    let restored = ws.export("default");
    assert_eq!(restored.len(), 2);
    assert_eq!(ids_of(&restored[0]), ids_of(&before[0]));
}

#[test]
fn spaces_are_isolated() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["--space", "shop", "ingest", file.to_str().unwrap()]);
    assert_eq!(ws.export("shop").len(), 2);
    assert!(ws.export("default").is_empty());
    ws.idgraph().args(["show", "user_id:u1"]).assert().code(1);
    ws.ok(&["--space", "shop", "show", "user_id:u1"]);
}

#[test]
fn configured_sources_route_events_to_their_space_and_channel() {
    let ws = Workspace::new();
    let config = ws.write(
        "config.toml",
        "[sources.desk]\nwrite_key = \"DESK\"\nspace = \"support\"\nchannel = \"support\"\n",
    );
    let file = ws.file(
        "e.jsonl",
        &[json!({"type":"track","event":"Complaint Logged","userId":"u1","writeKey":"DESK","messageId":"s1","timestamp":"2025-01-01T00:00:00Z"})],
    );
    ws.idgraph()
        .arg("--config")
        .arg(&config)
        .arg("ingest")
        .arg(&file)
        .assert()
        .success();
    let out = ws
        .idgraph()
        .arg("--config")
        .arg(&config)
        .args(["--space", "support", "show", "user_id:u1", "--json"])
        .output()
        .unwrap();
    let profile: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(profile["recent_events"][0]["channel"], "support");
    assert_eq!(profile["recent_events"][0]["source"], "desk");
}

/// A write key is a credential: it picks the source, and nothing that shows or keeps the
/// event afterwards holds it (whatever its place in the line or its spacing, with or
/// without a messageId); a `writeKey` inside the event's properties is data and stays.
#[test]
fn the_write_key_routes_an_event_and_is_never_stored() {
    let ws = Workspace::new();
    let config = ws.write(
        "config.toml",
        "[sources.desk]\nwrite_key = \"DESK-SECRET\"\nspace = \"support\"\nchannel = \"support\"\n",
    );
    let lines = [
        r#"{"writeKey":"DESK-SECRET","type":"identify","userId":"u1","messageId":"s1","timestamp":"2025-01-01T00:00:00Z","traits":{"email":"ana@acme.io"}}"#,
        r#"{"type":"track", "writeKey" : "DESK-SECRET" ,"event":"Complaint Logged","userId":"u1","messageId":"s2","timestamp":"2025-01-02T00:00:00Z","properties":{"writeKey":"form-field"}}"#,
        r#"{"type":"track","event":"Ticket Closed","userId":"u1","timestamp":"2025-01-03T00:00:00Z","writeKey":"DESK-SECRET"}"#,
    ];
    let file = ws.write("e.jsonl", &(lines.join("\n") + "\n"));
    let with_config = |args: &[&str]| {
        let out = ws
            .idgraph()
            .arg("--config")
            .arg(&config)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {:?}", out);
        String::from_utf8(out.stdout).unwrap()
    };
    with_config(&["ingest", file.to_str().unwrap()]);
    let show = with_config(&["--space", "support", "show", "user_id:u1", "--json"]);
    let profile: Value = serde_json::from_str(&show).unwrap();
    assert_eq!(profile["event_count"], 3);
    assert_eq!(profile["recent_events"][0]["source"], "desk");
    let backup = ws.path().join("backup.jsonl");
    with_config(&["backup", backup.to_str().unwrap()]);
    let kept = std::fs::read_to_string(&backup).unwrap();
    let export = with_config(&["--space", "support", "export"]);
    for (what, text) in [("show", &show), ("export", &export), ("backup", &kept)] {
        assert!(!text.contains("DESK-SECRET"), "{what}: {text}");
    }
    let events: Vec<Value> = kept
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).unwrap())
        .filter(|line| line.get("seq").is_some())
        .map(|line| line["event"].clone())
        .collect();
    assert_eq!(events.len(), 3);
    assert!(events.iter().all(|e| e.get("writeKey").is_none()));
    assert_eq!(events[1]["properties"]["writeKey"], "form-field");
}

#[test]
fn a_store_in_use_by_another_process_says_so() {
    let ws = Workspace::new();
    let store =
        idgraph::store::Store::open(&ws.store(), idgraph::config::Config::defaults()).unwrap();
    ws.idgraph()
        .arg("export")
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "is in use by another idgraph process",
        ));
    drop(store);
    ws.ok(&["export"]);
}

#[test]
fn store_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let mode = std::fs::metadata(ws.store()).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "store dir mode {mode:o}");
    for entry in std::fs::read_dir(ws.store()).unwrap().flatten() {
        let mode = entry.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{} mode {mode:o}", entry.path().display());
    }
}

#[test]
fn usage_errors_exit_2_and_config_default_is_the_asset() {
    let ws = Workspace::new();
    ws.idgraph().arg("frobnicate").assert().code(2);
    ws.idgraph().arg("ingest").assert().code(2);
    let printed = ws.ok(&["config", "--default"]);
    assert_eq!(printed, idgraph::config::DEFAULT_CONFIG);
    let bad = ws.write("bad.toml", "[identity]\nmax_merges = \"lots\"\n");
    ws.idgraph()
        .arg("--config")
        .arg(&bad)
        .arg("export")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.toml").and(predicate::str::contains("max_merges")));
}

#[test]
fn health_flags_forced_merges() {
    let ws = Workspace::new();
    let file = ws.file("e.jsonl", &journey());
    ws.ok(&["ingest", file.to_str().unwrap()]);
    ws.ok(&[
        "merge",
        "user_id:u1",
        "user_id:u2",
        "--reason",
        "test",
        "--force",
    ]);
    let report: Value = serde_json::from_str(&ws.ok(&["health", "--json"])).unwrap();
    assert_eq!(report["profiles"], 1);
    let top = &report["suspicious"][0];
    assert_eq!(top["profile_id"], "p1");
    assert_eq!(
        top["findings"][0],
        json!({"kind": "user_ids_held", "count": 2, "text": "holds 2 user_ids"})
    );
    let forced = &top["findings"][1];
    assert_eq!(forced["kind"], "forced_merge", "{top}");
    let op = forced["op"].as_u64().unwrap();
    assert_eq!(forced["text"], format!("forced merge #{op}"));
}

/// Three devices each shared by two known people make three suspicious profiles; junk
/// blocked is the rules at work, counted apart and summed up by value and source.
#[test]
fn health_lists_shared_devices_and_sums_up_junk_apart() {
    let ws = Workspace::new();
    let mut events: Vec<Value> = (0..6)
        .map(|i| {
            json!({"type":"identify","userId":format!("u{i}"),"anonymousId":format!("dev{}", i / 2),
                "messageId":format!("m{i}")})
        })
        .collect();
    for (i, source) in ["web", "web", "crm"].iter().enumerate() {
        events.push(
            json!({"type":"identify","userId":format!("j{i}"),"messageId":format!("j{i}"),
            "traits":{"email":"test@test.com"},"context":{"library":{"name":source}}}),
        );
    }
    let file = ws.file("shared.jsonl", &events);
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let report: Value = serde_json::from_str(&ws.ok(&["health", "--json", "--top", "2"])).unwrap();
    assert_eq!(report["suspicious"].as_array().unwrap().len(), 2);
    // Both sides of each device: the profile holding it, and the one whose events brought it
    // with another user id.
    assert_eq!(report["suspicious_profiles"], 6);
    assert_eq!(report["routine_profiles"], 3);
    let (holder, refusing) = (&report["suspicious"][0], &report["suspicious"][1]);
    let refusing_id = refusing["profile_id"].as_str().unwrap();
    assert_eq!(
        holder["findings"],
        json!([{"kind": "holds_shared_identifiers", "with": [refusing_id],
            "text": format!("holds identifiers that came with another user_id ({refusing_id})")}])
    );
    assert_eq!(
        refusing["findings"],
        json!([{"kind": "shared_with_known", "identifiers": 1, "events": 1,
            "text": "shares 1 identifier with another user_id (1 event)"}])
    );
    assert_eq!(
        report["junk_blocked"][0]["identifier"],
        "email:test@test.com"
    );
    assert_eq!(report["junk_blocked"][0]["times"], 3);
    assert_eq!(report["junk_blocked"][0]["profiles"], 3);
    let text = ws.ok(&["health", "--top", "2"]);
    for expected in [
        "suspicious profiles: 6 (the 2 most suspicious below; --top N shows more):",
        "3 more profiles where the rules held: junk values blocked on their events",
        "  email:test@test.com  3 times in 3 profiles from ",
    ] {
        assert!(text.contains(expected), "{expected}\n{text}");
    }
}

#[test]
fn a_closed_stdout_ends_quietly_without_a_panic() {
    use std::io::{BufRead, BufReader};
    let ws = Workspace::new();
    let people: Vec<Value> = (0..3000)
        .map(|i| json!({"type":"identify","userId":format!("u{i}"),"messageId":format!("m{i}")}))
        .collect();
    let file = ws.file("many.jsonl", &people);
    ws.ok(&["ingest", file.to_str().unwrap()]);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("idgraph"))
        .arg("--store")
        .arg(ws.store())
        .arg("export")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.contains("profile_id"));
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
