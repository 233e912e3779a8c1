//! `idgraph generate`: files, summary line, exit codes.

use assert_cmd::Command;
use predicates::prelude::*;

fn idgraph(dir: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("idgraph").unwrap();
    cmd.env("IDGRAPH_STORE", dir.join("store"))
        .env_remove("IDGRAPH_CONFIG");
    cmd
}

#[test]
fn writes_events_truth_and_sources_with_a_one_line_summary() {
    let dir = tempfile::tempdir().unwrap();
    let (events, truth, sources) = (
        dir.path().join("e.jsonl"),
        dir.path().join("t.jsonl.gz"),
        dir.path().join("s.toml"),
    );
    let output = idgraph(dir.path())
        .args(["generate", "--people", "40", "--seed", "9", "--second-space", "--json"])
        .arg("--out")
        .arg(&events)
        .arg("--truth")
        .arg(&truth)
        .arg("--sources")
        .arg(&sources)
        .assert()
        .success()
        .stderr(predicate::str::is_match(r"^idgraph: generated \d+ events \(\d+ lines with duplicates\) of 40 people into .* \(\d+ bytes\)").unwrap())
        .get_output()
        .clone();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let stats: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(stats["people"], 40);
    let lines = std::fs::read_to_string(&events).unwrap().lines().count() as u64;
    assert_eq!(stats["deliveries"].as_u64(), Some(lines));
    assert!(
        std::fs::read(&truth).unwrap().starts_with(&[0x1f, 0x8b]),
        "gzip"
    );
    let config =
        idgraph::config::Config::from_toml_str(&std::fs::read_to_string(&sources).unwrap(), "s")
            .unwrap();
    assert_eq!(
        config.source_by_name("recipes_ios").unwrap().config.space,
        "recipes"
    );
}

#[test]
fn bad_rates_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        ["--trouble-rate", "0.5"],
        ["--late-rate", "2"],
        ["--anonymous-rate", "x"],
    ] {
        idgraph(dir.path())
            .args(["generate", "--out"])
            .arg(dir.path().join("e.jsonl"))
            .args(args)
            .assert()
            .code(2);
    }
    idgraph(dir.path())
        .args(["generate", "--demo", "--people", "5", "--out", "x"])
        .assert()
        .code(2);
}

#[test]
fn unwritable_output_is_a_runtime_error_on_one_line() {
    let dir = tempfile::tempdir().unwrap();
    idgraph(dir.path())
        .args(["generate", "--people", "3", "--out"])
        .arg(dir.path().join("missing/dir/e.jsonl"))
        .assert()
        .code(1)
        .stderr(
            predicate::str::starts_with("idgraph: error: cannot create")
                .and(predicate::str::ends_with("\n")),
        );
}
