//! `idgraph demo` makes its store once per idgraph build: a store made by another build
//! (other rules or journeys) is made again in the default place, and only warned about
//! where the user pointed `--store`.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

/// The real binary with HOME in `home` (the demo store goes under its data directory).
fn idgraph(home: &Path) -> Command {
    let mut cmd = Command::cargo_bin("idgraph").expect("binary");
    cmd.env_remove("IDGRAPH_CONFIG")
        .env_remove("IDGRAPH_STORE")
        .env_remove("IDGRAPH_SPACE")
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"));
    cmd
}

fn demo(cmd: &mut Command) -> String {
    let out = cmd
        .args(["demo", "--no-explore", "--people", "60", "--seed", "3"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "demo failed: {stderr}");
    stderr
}

fn marker(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("idgraph-demo-ready")).expect("marker")
}

fn default_demo_dir(home: &Path) -> PathBuf {
    home.join("data").join("idgraph").join("demo")
}

#[test]
fn a_demo_store_made_by_another_build_is_made_again() {
    let home = tempfile::tempdir().unwrap();
    let dir = default_demo_dir(home.path());
    let first = demo(&mut idgraph(home.path()));
    assert!(first.contains("generating 60 people"), "{first}");
    let made_by = marker(&dir);
    assert!(made_by.starts_with("idgraph "), "{made_by}");

    let again = demo(&mut idgraph(home.path()));
    assert!(!again.contains("generating"), "made once: {again}");

    // An older build wrote an empty marker; its store holds something this build would not.
    std::fs::write(dir.join("idgraph-demo-ready"), "").unwrap();
    std::fs::write(dir.join("left-over"), "old").unwrap();
    let rebuilt = demo(&mut idgraph(home.path()));
    assert!(
        rebuilt.contains("made by another idgraph build") && rebuilt.contains("generating"),
        "{rebuilt}"
    );
    assert_eq!(marker(&dir), made_by);
    assert!(!dir.join("left-over").exists(), "the old store is gone");
}

#[test]
fn a_stale_demo_store_the_user_chose_is_only_warned_about() {
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("mine");
    let with_store = || {
        let mut cmd = idgraph(home.path());
        cmd.arg("--store").arg(&dir);
        cmd
    };
    demo(&mut with_store());
    std::fs::write(dir.join("idgraph-demo-ready"), "idgraph 0.0.1\n").unwrap();
    let warned = demo(&mut with_store());
    assert!(
        warned.contains("warning") && warned.contains("delete it to make it again"),
        "{warned}"
    );
    assert!(!warned.contains("generating"), "{warned}");
    assert_eq!(marker(&dir), "idgraph 0.0.1\n", "left as it was");
}
