//! Helpers shared by the integration tests: temp stores, the real binary, event files.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;

/// A temp directory holding a store and input files.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new() -> Workspace {
        Workspace {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn store(&self) -> PathBuf {
        self.dir.path().join("store")
    }

    /// The real binary with `--store` set and no user config.
    pub fn idgraph(&self) -> Command {
        let mut cmd = Command::cargo_bin("idgraph").expect("binary");
        cmd.env_remove("IDGRAPH_CONFIG")
            .env_remove("IDGRAPH_SPACE")
            .env("HOME", self.dir.path())
            .env("XDG_CONFIG_HOME", self.dir.path().join("config"))
            .arg("--store")
            .arg(self.store());
        cmd
    }

    /// Writes lines to a file in the workspace and returns its path.
    pub fn file(&self, name: &str, lines: &[Value]) -> PathBuf {
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        self.write(name, &text)
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write file");
        path
    }

    /// Runs `idgraph ARGS` and returns stdout, asserting success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.idgraph().args(args).output().expect("run");
        assert!(
            out.status.success(),
            "idgraph {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf8")
    }

    /// `idgraph export` parsed, sorted by profile id.
    pub fn export(&self, space: &str) -> Vec<Value> {
        let text = self.ok(&["--space", space, "export"]);
        let mut lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        lines.sort_by_key(|v| v["profile_id"].as_str().unwrap_or_default().to_string());
        lines
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Identifiers of an export line as `type:value` strings.
pub fn ids_of(line: &Value) -> Vec<String> {
    line["identifiers"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .map(|i| {
                    format!(
                        "{}:{}",
                        i["type"].as_str().unwrap_or(""),
                        i["value"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Opens a store in this process, waiting while sled still holds the lock of a handle this
/// process just dropped (its background threads let go of the lock file a moment later).
pub fn open_store(dir: &Path) -> idgraph::store::Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match idgraph::store::Store::open(dir, idgraph::config::Config::defaults()) {
            Err(idgraph::store::OpenError::InUse(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            result => return result.expect("store"),
        }
    }
}
