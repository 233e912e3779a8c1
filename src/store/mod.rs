//! The sled store: one tree per space (fully isolated graphs), keys in `keys`, records in
//! `codec`, atomic batch ingest in `ingest`, reads in `read`, manual repair in `repair`,
//! audience membership in `audience`.

mod audience;
mod audience_read;
pub mod backup;
pub mod bundle;
pub mod check;
mod check_audience;
mod codec;
mod event_codec;
mod ingest;
pub mod keys;
mod messages;
mod owner_filter;
mod owners;
mod read;
mod relevant_events;
mod repair;
mod space;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;

use crate::config::Config;

pub use codec::{CodecError, FORMAT_VERSION, decode, encode};
pub use space::SpaceStore;

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process has the store open.
    #[error(
        "store {0} is in use by another idgraph process (sled admits one process per store; use `idgraph explore --listen` to view live data while serving)"
    )]
    InUse(PathBuf),
    /// The directory holds files, but no store: idgraph leaves it alone.
    #[error("{0} is not an idgraph store and is not empty: give --store a new or empty directory")]
    NotAStore(PathBuf),
    /// Anything else.
    #[error("cannot open store {path}: {message}")]
    Other { path: PathBuf, message: String },
}

/// An open store: a sled database holding one tree per space.
pub struct Store {
    db: sled::Db,
    dir: PathBuf,
    config: Config,
    spaces: Mutex<HashMap<String, Arc<SpaceStore>>>,
}

const SPACE_TREE_PREFIX: &str = "space:";

/// sled's page cache when a store ingests: identifier lookups and profiles stay hot.
const INGEST_CACHE_BYTES: u64 = 256 * 1024 * 1024;

/// sled's page cache when a store is browsed (the explorer; `search`, `export` and `health`,
/// which read the whole space once): reads touch a few profiles at a time, and the scan
/// that builds the search index would otherwise fill the whole cache
/// (about 190 MB more resident memory on a store of 1M profiles). sled counts the nodes'
/// bytes on disk, and holds nearly as much again in memory: at 1M profiles, 8 MiB instead
/// of 32 keeps the build's peak 20 MB lower, and the 10,000-event profile opens as fast.
const BROWSE_CACHE_BYTES: u64 = 8 * 1024 * 1024;

impl Store {
    /// Opens (creating if needed) the store in `dir`, readable by the owner only.
    pub fn open(dir: &Path, config: Config) -> Result<Store, OpenError> {
        Store::open_with_cache(dir, config, INGEST_CACHE_BYTES)
    }

    /// Opens the store for browsing: as [`Store::open`], with a smaller page cache.
    pub fn open_for_browsing(dir: &Path, config: Config) -> Result<Store, OpenError> {
        Store::open_with_cache(dir, config, BROWSE_CACHE_BYTES)
    }

    fn open_with_cache(dir: &Path, config: Config, cache_bytes: u64) -> Result<Store, OpenError> {
        let other = |message: String| OpenError::Other {
            path: dir.to_path_buf(),
            message,
        };
        if !Store::exists(dir) && holds_other_files(dir) {
            return Err(OpenError::NotAStore(dir.to_path_buf()));
        }
        create_private_dir(dir).map_err(|e| other(e.to_string()))?;
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| {
                let text = e.to_string();
                if text.contains("could not acquire lock") {
                    OpenError::InUse(dir.to_path_buf())
                } else {
                    other(text)
                }
            })?;
        restrict_permissions(dir);
        Ok(Store {
            db,
            dir: dir.to_path_buf(),
            config,
            spaces: Mutex::new(HashMap::new()),
        })
    }

    /// Whether `dir` holds a store (sled's configuration and database files).
    fn exists(dir: &Path) -> bool {
        STORE_FILES.iter().all(|name| dir.join(name).is_file())
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The settings the store was opened with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A space, opened on first use.
    pub fn space(&self, name: &str) -> anyhow::Result<Arc<SpaceStore>> {
        let mut spaces = self
            .spaces
            .lock()
            .map_err(|_| anyhow::anyhow!("space registry lock poisoned"))?;
        if let Some(space) = spaces.get(name) {
            return Ok(space.clone());
        }
        let rules = self
            .config
            .rules_for(name)
            .map_err(|e| anyhow::anyhow!("space {name}: {e}"))?;
        let tree_name = format!("{SPACE_TREE_PREFIX}{name}");
        let is_new = !self
            .db
            .tree_names()
            .iter()
            .any(|n| n.as_ref() == tree_name.as_bytes());
        let tree = self
            .db
            .open_tree(&tree_name)
            .with_context(|| format!("opening space {name}"))?;
        if is_new {
            remember_space(&self.dir, name);
        }
        let mut space = SpaceStore::open(name, tree, rules, self.config.audiences().clone())?;
        space.index_file = Some(index_file(&self.dir, name));
        let space = Arc::new(space);
        space
            .sync_audiences()
            .with_context(|| format!("space {name}: rebuilding audience membership"))?;
        spaces.insert(name.to_string(), space.clone());
        Ok(space)
    }

    /// Names of the spaces that hold data, plus those named in the config.
    pub fn space_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .db
            .tree_names()
            .iter()
            .filter_map(|n| std::str::from_utf8(n).ok())
            .filter_map(|n| n.strip_prefix(SPACE_TREE_PREFIX))
            .map(str::to_string)
            .collect();
        names.extend(self.config.space_names());
        names.extend(known_spaces(&self.dir));
        names.sort();
        names.dedup();
        names
    }

    /// Writes everything to disk (pipelined ingests finish writing first).
    pub fn flush(&self) -> anyhow::Result<()> {
        self.settle()?;
        self.db.flush().context("flushing the store")?;
        Ok(())
    }

    /// Waits until every open space has written what it ingested.
    fn settle(&self) -> anyhow::Result<()> {
        let spaces: Vec<Arc<SpaceStore>> = match self.spaces.lock() {
            Ok(spaces) => spaces.values().cloned().collect(),
            Err(poisoned) => poisoned.into_inner().values().cloned().collect(),
        };
        for space in spaces {
            space.settle()?;
        }
        Ok(())
    }

    /// Bytes the store takes on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

impl Drop for Store {
    fn drop(&mut self) {
        // A pipelined group still being written finishes before sled is closed.
        if let Err(error) = self.settle() {
            tracing::error!(%error, "writing the last ingested events");
        }
    }
}

/// File beside the sled files listing the spaces that hold data, one per line, so the
/// explorer can offer them before the store has finished opening.
const SPACES_FILE: &str = "idgraph-spaces";

/// The spaces a store directory holds data for (empty when unknown).
pub fn known_spaces(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join(SPACES_FILE))
        .map(|text| {
            text.lines()
                .map(str::to_string)
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// The file beside the sled files where a space's search index is kept between runs (the
/// space's name in hex, as names may hold any character).
fn index_file(dir: &Path, space: &str) -> PathBuf {
    let hex: String = space.bytes().map(|b| format!("{b:02x}")).collect();
    dir.join(format!("idgraph-search-{hex}.idx"))
}

fn remember_space(dir: &Path, name: &str) {
    let mut names = known_spaces(dir);
    if !names.iter().any(|n| n == name) {
        names.push(name.to_string());
        names.sort();
        let _ = std::fs::write(dir.join(SPACES_FILE), names.join("\n") + "\n");
        restrict_permissions(dir);
    }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    // Every file this process creates from now on (sled's snapshots and blobs written while
    // the store is open, backups) is readable by the owner only.
    #[cfg(unix)]
    // SAFETY: umask only sets the process file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// The files sled keeps a store in; a directory holding both holds a store.
const STORE_FILES: [&str; 2] = ["conf", "db"];

/// Whether a directory exists and holds anything but idgraph's own files (`idgraph-*`:
/// logs, the demo's marker), which may be written before the store is created.
fn holds_other_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().any(|entry| {
            !entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.starts_with("idgraph-"))
        })
    })
}

/// Whether an entry of a store directory is one of the store's own (sled's files, its
/// snapshots and blobs, the list of spaces), which [`restrict_permissions`] may change.
fn is_store_entry(name: &str) -> bool {
    STORE_FILES.contains(&name)
        || name == "blobs"
        || name == SPACES_FILE
        || name.starts_with("snap.")
}

/// Makes the store's own files readable by the owner only (the directory already is);
/// anything else in the directory keeps its permissions.
fn restrict_permissions(dir: &Path) {
    #[cfg(unix)]
    {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry.file_name().to_str().is_some_and(is_store_entry) {
                make_private(&entry.path());
            }
        }
    }
}

/// Makes a file, or a directory and everything in it, readable by the owner only.
#[cfg(unix)]
fn make_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o700 } else { 0o600 };
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    if let Ok(entries) = std::fs::read_dir(path) {
        for entry in entries.flatten() {
            make_private(&entry.path());
        }
    }
}
