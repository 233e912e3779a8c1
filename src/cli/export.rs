//! `idgraph export`: every profile of the space, one JSON object per line.

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use crate::query::GraphRead;
use crate::query::export::export_line;

use super::Globals;

/// Arguments of `idgraph export`.
#[derive(Debug, clap::Args)]
pub struct Args {}

/// Prints every profile as an export line.
pub fn run(_args: Args, globals: &Globals) -> anyhow::Result<ExitCode> {
    let store = globals.open_existing_store_for_browsing()?;
    let space = globals.existing_space(&store)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut result = Ok(());
    space.for_each_profile(&mut |profile| {
        result = writeln!(out, "{}", export_line(space.space(), profile));
        result.is_ok()
    })?;
    if let Err(e) = result {
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            return Err(e.into());
        }
    }
    let _ = out.flush();
    Ok(ExitCode::SUCCESS)
}
