//! Command-line parsing (clap) and dispatch; each command lives in its own module.

mod args;
mod audience;
mod backup;
mod check;
mod config_cmd;
mod demo;
mod evaluate;
mod explore;
mod export;
mod generate;
mod health;
mod ingest;
mod log;
mod logging;
mod memory;
pub mod printable;
mod repair;
pub mod search;
pub mod serve;
mod show;
mod why;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, DEFAULT_SPACE};
use crate::store::{SpaceStore, Store};

/// idgraph resolves customer events from many apps, devices and channels into unified
/// profiles, keeps them in a local store, and lets you explore and repair them.
#[derive(Debug, Parser)]
#[command(name = "idgraph", version, about, max_term_width = 100)]
pub struct Cli {
    /// The store directory [default: the user data directory's idgraph/store]
    #[arg(long, global = true, env = "IDGRAPH_STORE", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// The settings file [default: the user config directory's idgraph/config.toml, if present]
    #[arg(long, global = true, env = "IDGRAPH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The space (isolated identity graph) to work in
    #[arg(long, global = true, env = "IDGRAPH_SPACE", default_value = DEFAULT_SPACE, value_name = "NAME", value_parser = args::not_blank)]
    pub space: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// The terminal UI on the store (the default command)
    Explore(explore::Args),
    /// Generate demo data into a demo store (once) and open the explorer on it
    Demo(demo::Args),
    /// Print the default settings file, or the settings in effect
    Config(config_cmd::Args),
    /// Read Segment-spec JSON lines into the store
    Ingest(ingest::Args),
    /// Print every profile, one JSON object per line
    Export(export::Args),
    /// Show one profile: identifiers, traits, recent events, violations
    Show(show::Args),
    /// Explain why two identifiers share a profile: the chain of events and rules
    Why(why::Args),
    /// Merge two profiles by hand (--dry-run previews)
    Merge(repair::MergeArgs),
    /// Move identifiers (and the events only they explain) into a new profile
    Split(repair::SplitArgs),
    /// Revert a merge or split from the journal
    Undo(repair::UndoArgs),
    /// The journal of merges, splits and undos
    Log(log::Args),
    /// Graph health: profile sizes and suspicious profiles
    Health(health::Args),
    /// Audiences: every audience with its member count, the members of one, or why a
    /// profile is or is not in it
    #[command(visible_alias = "audiences")]
    Audience(audience::Args),
    /// Segment-compatible HTTP tracking API and Profile API reads
    Serve(serve::Args),
    /// Verify every store invariant; --repair rebuilds the derived records
    Check(check::Args),
    /// Write every space (events in order, journal) to a portable file (.gz compresses)
    Backup(backup::BackupArgs),
    /// Rebuild an empty store from a backup file
    Restore(backup::RestoreArgs),
    /// Generate realistic, messy demo events (many devices, apps and channels) with the
    /// true person behind every event
    Generate(generate::Args),
    /// The explorer's fuzzy search, top matches as JSON lines (or a table: --table)
    Search(search::Args),
    /// Score the space's profiles against ground truth (pairwise precision/recall/F1)
    Evaluate(evaluate::Args),
}

/// What every command needs: where the store is, the settings, the space.
#[derive(Debug, Clone)]
pub struct Globals {
    pub store_dir: PathBuf,
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub space: String,
    /// The store directory given on the command line (or environment), if any.
    pub store_flag: Option<PathBuf>,
}

impl Globals {
    fn from_cli(cli: &Cli) -> anyhow::Result<Globals> {
        let dirs = directories::ProjectDirs::from("", "", "idgraph");
        let config_path = cli.config.clone().or_else(|| {
            dirs.as_ref()
                .map(|d| d.config_dir().join("config.toml"))
                .filter(|p| p.exists())
        });
        let config = match &config_path {
            Some(path) => Config::load(path)?,
            None => Config::defaults(),
        };
        let store_dir = match &cli.store {
            Some(dir) => dir.clone(),
            None => dirs
                .map(|d| d.data_dir().join("store"))
                .context("no home directory: pass --store DIR")?,
        };
        Ok(Globals {
            store_dir,
            config,
            config_path,
            space: cli.space.clone(),
            store_flag: cli.store.clone(),
        })
    }
}

impl Globals {
    /// Opens the store with these settings, creating it if needed (commands that put events
    /// in).
    pub fn open_store(&self) -> anyhow::Result<Store> {
        Ok(Store::open(&self.store_dir, self.config.clone())?)
    }

    /// Opens a store that exists: commands that read or repair one do not create an empty
    /// store where a mistyped `--store` points, they say there is none.
    pub fn open_existing_store(&self) -> anyhow::Result<Store> {
        self.ensure_store_exists()?;
        self.open_store()
    }

    /// [`Globals::open_existing_store`] with the explorer's small page cache, for a command
    /// that reads the whole space once (`search` building its index, `export`, `health`):
    /// a large cache only fills up (at 1M profiles, `export` peaks at 0.29-0.33 GB with the
    /// small cache and 0.52 GB with the ingest's, in the same time).
    pub fn open_existing_store_for_browsing(&self) -> anyhow::Result<Store> {
        self.ensure_store_exists()?;
        Ok(Store::open_for_browsing(
            &self.store_dir,
            self.config.clone(),
        )?)
    }

    fn ensure_store_exists(&self) -> anyhow::Result<()> {
        let dir = &self.store_dir;
        anyhow::ensure!(
            dir.exists(),
            "no store at {} (`idgraph ingest` creates one)",
            dir.display()
        );
        Ok(())
    }

    /// The space to read or repair, in an open store: a name neither configured nor in
    /// the store is a mistyped `--space`, which is said, not made into a new space.
    pub fn existing_space(&self, store: &Store) -> anyhow::Result<Arc<SpaceStore>> {
        let names = store.space_names();
        anyhow::ensure!(
            names.contains(&self.space),
            "no space '{}' in {} (spaces: {})",
            self.space,
            store.dir().display(),
            names.join(", ")
        );
        store.space(&self.space)
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let prints_to_stdout = !matches!(
        cli.command,
        None | Some(Command::Explore(_) | Command::Demo(_) | Command::Serve(_))
    );
    if prints_to_stdout {
        exit_quietly_on_closed_stdout();
    }
    let globals = Globals::from_cli(&cli)?;
    match cli.command {
        Some(Command::Config(args)) => config_cmd::run(args, &globals),
        Some(Command::Ingest(args)) => ingest::run(args, &globals),
        Some(Command::Export(args)) => export::run(args, &globals),
        Some(Command::Show(args)) => show::run(args, &globals),
        Some(Command::Why(args)) => why::run(args, &globals),
        Some(Command::Merge(args)) => repair::merge(args, &globals),
        Some(Command::Split(args)) => repair::split(args, &globals),
        Some(Command::Undo(args)) => repair::undo(args, &globals),
        Some(Command::Log(args)) => log::run(args, &globals),
        Some(Command::Health(args)) => health::run(args, &globals),
        Some(Command::Audience(args)) => audience::run(args, &globals),
        Some(Command::Serve(args)) => serve_store(&args, &globals),
        Some(Command::Check(args)) => check::run(args, &globals),
        Some(Command::Backup(args)) => backup::backup(args, &globals),
        Some(Command::Restore(args)) => backup::restore(args, &globals),
        Some(Command::Explore(args)) => explore::run(args, &globals),
        None => explore::run(explore::Args::default(), &globals),
        Some(Command::Demo(args)) => demo::run(args, &globals),
        Some(Command::Evaluate(args)) => evaluate::run(args, &globals),
        Some(Command::Search(args)) => {
            // Like the explorer, it reads sled's page table and then the whole index (or
            // every profile, to build it).
            memory::return_freed_memory_at_once();
            let store = globals.open_existing_store_for_browsing()?;
            let space = globals.existing_space(&store)?;
            let stdout = std::io::stdout();
            let found = search::run_search(
                space.as_ref(),
                &args.query_text(),
                args.limit,
                args.table,
                &mut stdout.lock(),
            )?;
            if found == 0 {
                eprintln!(
                    "{}",
                    printable::printable(&format!(
                        "idgraph: no profile matches '{}'",
                        args.query_text()
                    ))
                );
                return Ok(ExitCode::from(1));
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(Command::Generate(args)) => generate::run(args, &globals),
    }
}

/// Runs the HTTP server over the store: events through the group-commit writer, Profile
/// API reads from the spaces that exist.
fn serve_store(args: &serve::Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    logging::to_stderr("info");
    let store = std::sync::Arc::new(globals.open_store()?);
    let (sink, writer) = crate::ingest::writer::start_writer(store.clone());
    let readers = store_readers(store.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(serve::run(args, globals, sink, readers));
    drop(runtime);
    writer.join();
    store.flush()?;
    result
}

/// Profile API readers backed by the store: only spaces that exist are readable.
pub fn store_readers(store: std::sync::Arc<Store>) -> impl crate::ingest::http::SpaceReaders {
    move |space: &str| -> Option<crate::ingest::http::SharedReader> {
        if !store.space_names().iter().any(|s| s == space) {
            return None;
        }
        let reader: crate::ingest::http::SharedReader = store.space(space).ok()?;
        Some(reader)
    }
}

/// Lets a command that prints to stdout end quietly when its reader goes away
/// (`idgraph export | head`), as Unix tools do, instead of failing on a closed pipe. Only for
/// commands without sockets: a server must see EPIPE as an error, never be killed by it.
fn exit_quietly_on_closed_stdout() {
    // SAFETY: restoring the default disposition of SIGPIPE has no preconditions.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

pub use args::one_line_usage_error;

/// An error and its causes on one line, safe to print on a terminal.
pub fn one_line(error: &anyhow::Error) -> String {
    printable::printable(&format!("{error:#}").replace('\n', " ")).into_owned()
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
