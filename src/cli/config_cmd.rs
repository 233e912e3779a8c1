//! `idgraph config`: print the default settings file or where settings come from.

use std::process::ExitCode;

use crate::config::DEFAULT_CONFIG;

use super::Globals;

/// Arguments of `idgraph config`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print the default settings file (every rule, commented) to start from
    #[arg(long)]
    pub default: bool,
}

/// Prints the default config, or which file and store are in use.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    if args.default {
        print!("{DEFAULT_CONFIG}");
    } else {
        match &globals.config_path {
            Some(path) => println!("config: {}", path.display()),
            None => println!("config: built-in defaults (see idgraph config --default)"),
        }
        println!("store:  {}", globals.store_dir.display());
        println!("space:  {}", globals.space);
        println!("spaces: {}", globals.config.space_names().join(", "));
    }
    Ok(ExitCode::SUCCESS)
}
