//! `idgraph demo`: creates (once) a demo store of generated journeys and opens the explorer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;

use crate::config::Config;
use crate::demo::{Settings, demo_sources, sources_toml, write_files};
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

const READY_MARKER: &str = "idgraph-demo-ready";

/// Builds the demo store if needed, prints where it is, opens the explorer.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let dir = match &globals.store_flag {
        Some(dir) => dir.clone(),
        None => demo_dir()?,
    };
    let config_path = dir.join("demo-config.toml");
    let config_text = sources_toml(&demo_sources());
    let config = Config::from_toml_str(&config_text, "<demo config>")?;
    if !dir.join(READY_MARKER).exists() {
        build(&args, globals, &dir, &config)?;
        std::fs::write(&config_path, &config_text)
            .with_context(|| format!("cannot write {}", config_path.display()))?;
        std::fs::write(dir.join(READY_MARKER), "")
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
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let events = dir.join("demo-events.jsonl.gz");
    let truth = dir.join("demo-truth.jsonl");
    write_files(settings, &events, Some(&truth), &mut |_| {})?;
    let store = Store::open(dir, config.clone())?;
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
