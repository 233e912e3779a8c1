//! `idgraph demo`: creates (once per idgraph build) a demo store of generated journeys and
//! opens the explorer.

use std::hash::Hasher;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use rustc_hash::FxHasher;

use crate::config::{Config, DEFAULT_CONFIG};
use crate::demo::{Generator, Settings, demo_sources, sources_toml, write_dataset, write_files};
use crate::store::Store;

use super::{Globals, explore, ingest};

/// Arguments of `idgraph demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// People to generate (only when the demo store is first created)
    #[arg(long, default_value_t = 3000)]
    pub people: u64,
    /// Seed of the generator (same seed, same data)
    #[arg(long, default_value_t = 2025)]
    pub seed: u64,
    /// Build the demo store and print where it is, without opening the explorer
    #[arg(long)]
    pub no_explore: bool,
    #[command(flatten)]
    pub explore: explore::Args,
}

/// Written once the demo store is complete; holds [`demo_identity`].
const READY_MARKER: &str = "idgraph-demo-ready";

/// Builds the demo store if needed, prints where it is, opens the explorer.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    if !args.no_explore
        && let Err(error) = crate::tui::require_terminal()
    {
        anyhow::bail!(
            "{error}; `idgraph demo --no-explore` builds the demo store without opening it"
        );
    }
    let dir = match &globals.store_flag {
        Some(dir) => dir.clone(),
        None => demo_dir()?,
    };
    let config_path = dir.join("demo-config.toml");
    let config_text = sources_toml(&demo_sources());
    let config = Config::from_toml_str(&config_text, "<demo config>")?;
    let identity = demo_identity()?;
    let marker = dir.join(READY_MARKER);
    let needs_build = match std::fs::read_to_string(&marker) {
        Ok(made_by) if made_by == identity => false,
        Ok(_) if globals.store_flag.is_none() => {
            eprintln!(
                "idgraph: the demo store at {} was made by another idgraph build (other rules or journeys): making it again",
                dir.display()
            );
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove the old demo store {}", dir.display()))?;
            true
        }
        Ok(_) => {
            eprintln!(
                "idgraph: warning: the demo store at {} was made by another idgraph build (other rules or journeys); delete it to make it again",
                dir.display()
            );
            false
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", marker.display())),
    };
    if needs_build {
        build(&args, globals, &dir, &config)?;
        std::fs::write(&config_path, &config_text)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        std::fs::write(&marker, &identity)
            .with_context(|| format!("cannot write into {}", dir.display()))?;
    }
    eprintln!(
        "idgraph: demo store {} (use it with: idgraph --store {} --config {} ...)",
        dir.display(),
        dir.display(),
        config_path.display()
    );
    if args.no_explore {
        return Ok(ExitCode::SUCCESS);
    }
    let globals = Globals {
        store_dir: dir.clone(),
        config: config.clone(),
        config_path: Some(config_path),
        ..globals.clone()
    };
    explore::explore_store(&args.explore, &globals, &dir, &config)
}

/// What a demo store made by this build records: the version, and fingerprints of the
/// default rules and of the journeys the generator makes (the bundled demo settings, a few
/// milliseconds to generate), so that a build with other rules or journeys makes it again.
fn demo_identity() -> anyhow::Result<String> {
    let mut journeys = Fingerprint(FxHasher::default());
    write_dataset(
        &mut Generator::new(Settings::demo())?,
        &mut journeys,
        None,
        &mut |_| {},
    )?;
    let mut rules = FxHasher::default();
    rules.write(DEFAULT_CONFIG.as_bytes());
    Ok(format!(
        "idgraph {} rules {:016x} journeys {:016x}\n",
        env!("CARGO_PKG_VERSION"),
        rules.finish(),
        journeys.0.finish()
    ))
}

/// A writer that only hashes what it is given.
struct Fingerprint(FxHasher);

impl Write for Fingerprint {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.write(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn demo_dir() -> anyhow::Result<PathBuf> {
    let dirs = directories::ProjectDirs::from("", "", "idgraph")
        .context("no home directory: pass --store DIR")?;
    Ok(dirs.data_dir().join("demo"))
}

fn build(args: &Args, globals: &Globals, dir: &Path, config: &Config) -> anyhow::Result<()> {
    eprintln!(
        "idgraph: generating {} people (seed {}) into a demo store at {}",
        args.people,
        args.seed,
        dir.display()
    );
    let mut settings = Settings::demo();
    settings.people = args.people;
    settings.seed = args.seed;
    // Journeys end now, so audiences with windows relative to now have members today.
    settings.ends_at = Some(crate::model::time::now());
    // The store first: it refuses a directory holding other files.
    let store = Store::open(dir, config.clone())?;
    let events = dir.join("demo-events.jsonl.gz");
    let truth = dir.join("demo-truth.jsonl");
    write_files(settings, &events, Some(&truth), &mut |_| {})?;
    let demo_globals = Globals {
        store_dir: dir.to_path_buf(),
        config: config.clone(),
        ..globals.clone()
    };
    let summary = ingest::ingest_paths(&store, &demo_globals, None, &[events], false)?;
    eprintln!(
        "idgraph: ingested {} events in {:.1}s ({} merges; {} events whose every id was junk were left out, as a buggy client would make them)",
        summary.stored, summary.seconds, summary.merges, summary.rejected
    );
    Ok(())
}
