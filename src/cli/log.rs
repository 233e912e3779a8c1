//! `idgraph log`: the journal of merges, splits and undos.

use std::process::ExitCode;

use crate::model::time::format_time;
use crate::query::GraphRead;

use super::Globals;
use super::printable::say;
use super::repair::entry_json;

/// Arguments of `idgraph log`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only entries touching this profile (identifier TYPE:VALUE or profile id)
    #[arg(long)]
    pub profile: Option<String>,
    /// Leave out automatic merges
    #[arg(long)]
    pub manual: bool,
    /// Print JSON lines
    #[arg(long)]
    pub json: bool,
}

/// Prints the journal, oldest first.
pub fn run(args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_existing_store()?;
    let space = globals.existing_space(&store)?;
    let entries = match &args.profile {
        Some(reference) => space.journal_for(space.find_profile(reference)?.id)?,
        None => space.journal()?,
    };
    for entry in entries {
        if args.manual && entry.user == "idgraph" {
            continue;
        }
        if args.json {
            println!("{}", entry_json(&entry));
        } else {
            let undone = entry
                .undone_by
                .map(|by| format!(" [undone by #{by}]"))
                .unwrap_or_default();
            say(&format!(
                "#{:<6} {}  {:<10} {}{undone}  -- {}",
                entry.op,
                format_time(entry.at),
                entry.user,
                entry.summary(),
                entry.reason
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}
