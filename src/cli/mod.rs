//! Command-line parsing (clap) and dispatch; each command lives in its own module.

mod config_cmd;
mod generate;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::config::{Config, DEFAULT_SPACE};

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
    #[arg(long, global = true, env = "IDGRAPH_SPACE", default_value = DEFAULT_SPACE, value_name = "NAME")]
    pub space: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the default settings file, or the settings in effect
    Config(config_cmd::Args),
    /// Generate realistic, messy demo events (many devices, apps and channels) with the
    /// true person behind every event
    Generate(generate::Args),
}

/// What every command needs: where the store is, the settings, the space.
#[derive(Debug, Clone)]
pub struct Globals {
    pub store_dir: PathBuf,
    pub config: Config,
    pub config_path: Option<PathBuf>,
    pub space: String,
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
        if cli.space.trim().is_empty() {
            anyhow::bail!("--space must not be empty");
        }
        Ok(Globals {
            store_dir,
            config,
            config_path,
            space: cli.space.clone(),
        })
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let globals = Globals::from_cli(&cli)?;
    match cli.command {
        Some(Command::Config(args)) => config_cmd::run(args, &globals),
        Some(Command::Generate(args)) => generate::run(args, &globals),
        None => anyhow::bail!("no command given; see idgraph --help"),
    }
}

/// An error and its causes on one line.
pub fn one_line(error: &anyhow::Error) -> String {
    format!("{error:#}").replace('\n', " ")
}
